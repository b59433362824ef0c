/**
 * The secure defaults of the Deno-shaped helpers (`connectTls`, `startTls`,
 * `acceptTls`, `listenTls`, `connectDtls`, `listenDtls`), in one place: the
 * contexts they build, the one cache those contexts live in, how a client
 * names its server, and the server handshake deadline. Internal; the policy
 * is written down in docs/SECURITY.md.
 *
 * @module
 */

import {
  Context,
  DTLS_CLIENT_METHOD,
  DTLS_SERVER_METHOD,
  TLS_CLIENT_METHOD,
  TLS_SERVER_METHOD,
} from "./context.ts";
import type { Connection } from "./connection.ts";
import {
  DTLS1_2_VERSION,
  OP_NO_COMPRESSION,
  OP_NO_RENEGOTIATION,
  TLS1_2_VERSION,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_NONE,
  VERIFY_PEER,
  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
} from "../ffi/constants.ts";
import { cstr, toBytes } from "../ffi/memory.ts";
import { usize } from "../ffi/ctypes.ts";
import { native } from "../ffi/library.ts";
import { hmacSha256 } from "./_dtls.ts";
import { isIpLiteral } from "../ffi/ip.ts";
import { normalizeHostName } from "./_hostname.ts";
import { Session } from "./session.ts";
import { loadPKCS12 } from "../crypto/pkcs12.ts";
import { configurePsk, HELPER_PSK_CIPHERS, type PskSpec } from "./_psk.ts";
import { addCrls } from "./_store.ts";
import type { SessionStore } from "./selection.ts";

/**
 * TLS 1.2 (and DTLS 1.2) suites of the helpers: forward-secret ECDHE with
 * AEAD only, in rustls's order. TLS 1.3 suites are all AEAD and stay OpenSSL's.
 */
export const HELPER_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** Key exchange groups of the helpers, as rustls's defaults (no finite-field DH). */
export const HELPER_GROUPS = "X25519:P-256:P-384";

/** Milliseconds a server helper gives a client to finish its handshake. */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT = 10_000;

/**
 * Milliseconds `connectDtls` gives its handshake (pion/dtls's default): over UDP no connect step
 * fails by itself, and a wrong pre-shared key draws no alert.
 */
export const DEFAULT_DTLS_CLIENT_HANDSHAKE_TIMEOUT = 30_000;

/** Everything that shapes a helper's context, versions already parsed. */
export interface ContextSpec {
  /** Which side, and whether over datagrams. */
  kind: "tls-client" | "tls-server" | "dtls-client" | "dtls-server";
  /** Lowest version (a `*_VERSION` constant). */
  minVersion: number;
  /** Highest version, or 0 for the highest the library has. */
  maxVersion: number;
  /** Whether versions below the floor and weaker security levels are allowed. */
  unsafelyAllowLegacyProtocols?: boolean | undefined;
  /** OpenSSL cipher string replacing {@link HELPER_CIPHERS}. */
  ciphers?: string | undefined;
  /** TLS 1.3 suites replacing OpenSSL's. */
  ciphersuites?: string | undefined;
  /** PEM CA certificates. */
  caCerts?: string[] | undefined;
  /** ALPN protocols, most preferred first. */
  alpnProtocols?: string[] | undefined;
  /** DTLS-SRTP profiles. */
  srtpProfiles?: string[] | undefined;
  /** PEM certificate chain. */
  cert?: string | undefined;
  /** PEM private key. */
  key?: string | undefined;
  /** The passphrase of `key` or `pfx`, or a function returning it. */
  passphrase?: string | (() => string) | undefined;
  /** A PKCS#12 bundle in place of `cert` and `key`. */
  pfx?: Uint8Array | undefined;
  /** Key exchange groups replacing {@link HELPER_GROUPS}. */
  groups?: string[] | undefined;
  /** Server: the OCSP response to staple, or a function of the server name returning it. */
  ocspResponse?: Uint8Array | ((servername: string | null) => Uint8Array | null) | undefined;
  /** Server: an external session cache. */
  sessionStore?: SessionStore | undefined;
  /** Client: skip certificate verification. */
  unsafelyDisableVerification?: boolean | undefined;
  /** Server: ask for a client certificate. */
  requestClientCert?: boolean | undefined;
  /** Server: require a verified client certificate. */
  requireClientCert?: boolean | undefined;
  /** TLS-PSK: the callback (and a server's identity hint). */
  psk?: PskSpec | undefined;
  /** PEM CRLs the peer's chain is checked against. */
  crls?: string[] | undefined;
}

const METHODS = {
  "tls-client": TLS_CLIENT_METHOD,
  "tls-server": TLS_SERVER_METHOD,
  "dtls-client": DTLS_CLIENT_METHOD,
  "dtls-server": DTLS_SERVER_METHOD,
} as const;

/**
 * Builds a context from helper options, owned by the caller.
 *
 * @param spec The options.
 * @returns A new context.
 * @throws {RangeError} When a version or cipher string lowers security without the unsafe option.
 * @throws {TypeError} When a server has no certificate, or `cert` comes without `key`.
 */
export function buildContext(spec: ContextSpec): Context {
  const server = spec.kind.endsWith("server");
  const datagram = spec.kind.startsWith("dtls");
  checkCredentials(spec, server, datagram);
  const groups = spec.groups === undefined ? HELPER_GROUPS : groupList(spec.groups);
  const ctx = new Context(METHODS[spec.kind]);
  try {
    configureVersions(ctx, spec, datagram);
    // rustls has neither renegotiation nor compression (CRIME): say so rather than trust defaults.
    ctx.setOptions(OP_NO_RENEGOTIATION | OP_NO_COMPRESSION);
    try {
      ctx.setGroups(groups);
    } catch (e) {
      throw new RangeError(
        `groups: OpenSSL does not know one of ${
          JSON.stringify(spec.groups)
        } (names such as "X25519", "P-256", "P-384", "ffdhe2048")`,
        { cause: e },
      );
    }
    if (spec.srtpProfiles?.length) ctx.setTlsextUseSrtp(spec.srtpProfiles);
    if (server) configureServer(ctx, spec);
    else configureClient(ctx, spec);
    if (spec.psk) configurePsk(ctx, spec.psk, server);
    if (spec.crls !== undefined) addCrls(ctx._handle, spec.crls);
    return ctx;
  } catch (e) {
    ctx.close();
    throw e;
  }
}

function checkCredentials(spec: ContextSpec, server: boolean, datagram: boolean): void {
  const { pfx, passphrase } = spec;
  if (pfx !== undefined && (!(pfx instanceof Uint8Array) || pfx.length === 0)) {
    throw new TypeError("pfx must be the bytes of a PKCS#12 bundle (a non-empty Uint8Array)");
  }
  if (pfx !== undefined && (spec.cert !== undefined || spec.key !== undefined)) {
    throw new TypeError("pfx holds the certificate and key: give pfx, or cert and key, not both");
  }
  if (
    passphrase !== undefined && typeof passphrase !== "string" && typeof passphrase !== "function"
  ) {
    throw new TypeError("passphrase must be a string or a function returning one");
  }
  if (server && pfx === undefined && (!spec.cert || !spec.key) && (spec.cert || !spec.psk)) {
    throw new TypeError(
      `A ${
        datagram ? "DTLS" : "TLS"
      } server needs cert and key (PEM), pfx, pskCallback, or a context`,
    );
  }
  if (!server && (spec.cert || spec.key) && (!spec.cert || !spec.key)) {
    throw new TypeError("cert and key go together");
  }
}

/** Validates the `groups` option: OpenSSL's list syntax would take ":" or "" silently. */
function groupList(groups: unknown): string {
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new TypeError(
      'groups must be a non-empty array of group names, such as ["X25519", "P-256"]',
    );
  }
  for (const g of groups) {
    if (typeof g !== "string" || !/^[A-Za-z0-9_-]+$/.test(g)) {
      throw new TypeError(`groups: ${JSON.stringify(g)} is not a group name, such as "X25519"`);
    }
  }
  return groups.join(":");
}

/** Loads the certificate, its chain and its key: from `pfx`, or from `cert` and `key`. */
function useCredentials(ctx: Context, spec: ContextSpec): void {
  const { passphrase } = spec;
  if (spec.pfx !== undefined) {
    const pass = typeof passphrase === "function" ? passphrase() : passphrase ?? "";
    if (typeof pass !== "string") {
      throw new TypeError("The passphrase function must return a string");
    }
    const { key, cert, ca } = loadPKCS12(spec.pfx, pass);
    try {
      if (!key || !cert) {
        throw new TypeError("The PKCS#12 bundle (pfx) must hold a private key and its certificate");
      }
      ctx.useCertificate(cert);
      for (const c of ca) ctx.addExtraChainCert(c);
      ctx.usePrivateKey(key);
    } finally {
      for (const o of [key, cert, ...ca]) o?.close();
    }
  } else if (spec.cert && spec.key) {
    ctx.useCertificateChain(spec.cert);
    if (typeof passphrase === "function") ctx.setPasswdCb(() => passphrase());
    ctx.usePrivateKey(spec.key, typeof passphrase === "string" ? passphrase : undefined);
  } else return;
  ctx.checkPrivateKey();
}

function configureVersions(ctx: Context, spec: ContextSpec, datagram: boolean): void {
  const floor = datagram ? DTLS1_2_VERSION : TLS1_2_VERSION;
  // DTLS version numbers count down (DTLS 1.2 is 0xfefd, DTLS 1.0 0xfeff).
  const below = datagram ? spec.minVersion > floor : spec.minVersion < floor;
  if (below) {
    if (!spec.unsafelyAllowLegacyProtocols) {
      throw new RangeError(
        datagram
          ? "DTLS 1.0 is insecure: set unsafelyAllowLegacyProtocols: true to allow it"
          : "TLS versions below 1.2 are insecure: set unsafelyAllowLegacyProtocols: true to allow them",
      );
    }
    ctx.setSecurityLevel(0);
  }
  ctx.setMinProtoVersion(spec.minVersion);
  if (spec.maxVersion) ctx.setMaxProtoVersion(spec.maxVersion);
  const level = ctx.getSecurityLevel();
  // Legacy versions have no AEAD suite: they get OpenSSL's whole list when asked for.
  // PSK suites only when PSK is asked for: ECDHE-PSK, forward-secret and AEAD as the rest.
  const helperCiphers = spec.psk ? `${HELPER_CIPHERS}:${HELPER_PSK_CIPHERS}` : HELPER_CIPHERS;
  ctx.setCipherList(spec.ciphers ?? (below ? "DEFAULT:@SECLEVEL=0" : helperCiphers));
  // "@SECLEVEL=0" in a cipher string enables NULL (no encryption) and anonymous (no
  // certificate, so no verification) suites: an opt-out that must say "unsafe".
  if (ctx.getSecurityLevel() < level && !spec.unsafelyAllowLegacyProtocols) {
    throw new RangeError(
      `The cipher string "${spec.ciphers}" lowers the security level, which allows NULL and anonymous suites: set unsafelyAllowLegacyProtocols: true to allow it`,
    );
  }
  if (spec.ciphersuites) ctx.setTls13Ciphersuites(spec.ciphersuites);
}

function configureClient(ctx: Context, spec: ContextSpec): void {
  if (!spec.unsafelyDisableVerification) {
    ctx.setDefaultVerifyPaths();
    if (spec.caCerts?.length) ctx.addCaCerts(spec.caCerts);
    ctx.setVerify(VERIFY_PEER);
  }
  if (spec.alpnProtocols?.length) ctx.setAlpnProtos(spec.alpnProtocols);
  useCredentials(ctx, spec);
}

function configureServer(ctx: Context, spec: ContextSpec): void {
  // A server that verifies clients must name its session cache, or OpenSSL fails every
  // resumption attempt ("session id context uninitialized"); one random name per context
  // also keeps sessions from resuming across contexts.
  ctx.setSessionIdContext(
    spec.sessionStore ? sharedSessionIdContext(spec) : crypto.getRandomValues(new Uint8Array(16)),
  );
  if (spec.sessionStore) ctx.setSessionStore(spec.sessionStore);
  useCredentials(ctx, spec);
  if (spec.ocspResponse !== undefined) staple(ctx, spec.ocspResponse);
  if (spec.requestClientCert || spec.requireClientCert) {
    if (spec.caCerts?.length) ctx.addCaCerts(spec.caCerts);
    ctx.setVerify(VERIFY_PEER | (spec.requireClientCert ? VERIFY_FAIL_IF_NO_PEER_CERT : 0));
  } else {
    ctx.setVerify(VERIFY_NONE);
  }
  const offered = spec.alpnProtocols?.slice();
  if (offered?.length) {
    // RFC 7301 §3.2: no overlap is a fatal no_application_protocol alert (the empty choice).
    ctx.setAlpnSelectCallback((_conn, clientProtocols) =>
      offered.find((p) => clientProtocols.includes(p)) ?? ""
    );
  }
}

/**
 * The session ID context of servers that share a session store: the same in
 * every process serving the same certificate with the same client policy,
 * so that they resume each other's sessions (and only those).
 */
function sharedSessionIdContext(spec: ContextSpec): Uint8Array {
  const text = JSON.stringify([
    spec.cert ?? null,
    keyPart(spec.pfx),
    spec.caCerts ?? null,
    !!spec.requestClientCert,
    !!spec.requireClientCert,
  ]);
  return hmacSha256(toBytes("denossl session id context"), toBytes(text)).subarray(0, 32);
}

function staple(ctx: Context, response: NonNullable<ContextSpec["ocspResponse"]>): void {
  if (response instanceof Uint8Array) {
    if (response.length === 0) throw new TypeError("ocspResponse must not be empty");
    const der = response.slice(); // the caller may reuse its buffer
    ctx.setOcspServerCallback(() => der);
  } else if (typeof response === "function") {
    ctx.setOcspServerCallback((conn) => response(conn.getServername()));
  } else {
    throw new TypeError(
      "ocspResponse must be a DER OCSP response (a Uint8Array) or a function returning one",
    );
  }
}

// ---- the one context cache ----------------------------------------------------------

/**
 * Contexts by a keyed digest of their options: loading the system trust
 * store costs about 100 ms here, far more than a handshake. Shared contexts
 * are safe (they refuse changes once used), and a closed one keeps serving
 * the connections made from it.
 */
const cache = new Map<string, Context>();
const CACHE_LIMIT = 64;
/** Keys the digest, so the map holds no private key text nor a guessable hash of it. */
const cacheSecret = crypto.getRandomValues(new Uint8Array(32));

/** Functions and objects in a cache key are known by identity: a number each, never their source. */
const identities = new WeakMap<object, number>();
let lastIdentity = 0;

function keyPart(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Uint8Array) {
    let hex = "b:";
    for (const b of value) hex += b.toString(16).padStart(2, "0");
    return hex;
  }
  if (typeof value === "function" || (typeof value === "object" && value !== null)) {
    let id = identities.get(value);
    if (id === undefined) identities.set(value, id = ++lastIdentity);
    return `f:${id}`;
  }
  return value;
}

function cacheKey(spec: ContextSpec): string {
  const text = JSON.stringify([
    spec.kind,
    spec.minVersion,
    spec.maxVersion,
    !!spec.unsafelyAllowLegacyProtocols,
    spec.ciphers ?? null,
    spec.ciphersuites ?? null,
    spec.caCerts ?? null,
    spec.alpnProtocols ?? null,
    spec.srtpProfiles ?? null,
    spec.cert ?? null,
    spec.key ?? null,
    keyPart(spec.passphrase),
    keyPart(spec.pfx),
    spec.groups ?? null,
    keyPart(spec.ocspResponse),
    keyPart(spec.sessionStore),
    !!spec.unsafelyDisableVerification,
    !!spec.requestClientCert,
    !!spec.requireClientCert,
    keyPart(spec.psk?.callback),
    spec.psk?.hint ?? null,
    spec.crls ?? null,
  ]);
  let hex = "";
  for (const b of hmacSha256(cacheSecret, toBytes(text))) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * The context for these options, from the cache or built and cached. The
 * least recently used context is closed when the cache is full; take a
 * connection from the returned context before the next `await`.
 *
 * @param spec The options.
 * @returns A shared context: never configure or close it.
 */
export function cachedContext(spec: ContextSpec): Context {
  const key = cacheKey(spec);
  const found = cache.get(key);
  if (found && !found.closed) {
    cache.delete(key);
    cache.set(key, found); // most recently used last
    return found;
  }
  const ctx = buildContext(spec);
  cache.set(key, ctx);
  while (cache.size > CACHE_LIMIT) {
    const [oldest, evicted] = cache.entries().next().value!;
    cache.delete(oldest);
    evicted.close(); // its connections keep their own reference to the native context
  }
  return ctx;
}

/** How many contexts the cache holds, for tests. Internal. */
export function _cachedContextCount(): number {
  return cache.size;
}

// ---- client names and server deadlines -------------------------------------------------

/** The options that say which name a client checks. */
export interface ClientNameOptions {
  /** Where to connect; the name checked unless `serverName` replaces it. */
  hostname?: string | undefined;
  /** The name sent as SNI and checked instead of `hostname`. */
  serverName?: string | undefined;
  /** Skip the name check. */
  unsafelyDisableHostnameVerification?: boolean | undefined;
  /** Skip all verification. */
  unsafelyDisableVerification?: boolean | undefined;
  /** Check names with OpenSSL's legacy flags (CN fallback, partial wildcards). */
  unsafelyAllowLegacyHostNames?: boolean | undefined;
}

/**
 * Checks the naming options before anything is connected.
 *
 * @param o The naming options.
 * @param helper The helper's name, for messages.
 * @returns The name to send and check, or undefined when there is none to check.
 * @throws {TypeError} When a name is empty, or missing while the check is on.
 */
export function validateClientNames(o: ClientNameOptions, helper: string): string | undefined {
  for (const field of ["hostname", "serverName"] as const) {
    const value = o[field];
    if (value !== undefined && (typeof value !== "string" || value.length === 0)) {
      throw new TypeError(
        `${helper}: ${field} must be a non-empty string when given; set unsafelyDisableHostnameVerification: true to connect without checking the server's name`,
      );
    }
  }
  const name = o.serverName ?? o.hostname;
  if (name !== undefined) {
    const bare = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
    if (!isIpLiteral(bare)) normalizeHostName(bare); // malformed names fail before connecting
  }
  if (
    name === undefined && !o.unsafelyDisableVerification && !o.unsafelyDisableHostnameVerification
  ) {
    throw new TypeError(
      `${helper} needs hostname (or serverName) to verify the server's name; set unsafelyDisableHostnameVerification: true to skip the check`,
    );
  }
  return name;
}

/**
 * Sends SNI and sets the name to check on a client connection: `serverName`
 * when given, else `hostname`. An empty name is a TypeError, and so is no
 * name at all unless the check was turned off by name: never a silent skip.
 *
 * @param conn The client connection.
 * @param o The naming options.
 * @param helper The helper's name, for messages.
 * @throws {TypeError} When the name is missing, empty or malformed.
 */
export function nameClient(conn: Connection, o: ClientNameOptions, helper: string): void {
  const name = validateClientNames(o, helper);
  if (name === undefined) return;
  const checks = !o.unsafelyDisableVerification && !o.unsafelyDisableHostnameVerification;
  const bare = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
  // RFC 6066 §3: SNI carries DNS names only, without the trailing dot.
  if (!isIpLiteral(bare)) conn.setTlsextHostName(normalizeHostName(bare));
  if (!checks) return;
  if (o.unsafelyAllowLegacyHostNames) conn.setHostFlags(0);
  conn.setVerifyHostname(bare);
}

/** The per-connection client options beside the name: a session to resume, a staple to ask for. */
export interface ResumeAndStapleOptions {
  /** The session to resume. */
  session?: Session | undefined;
  /** Ask for the server's OCSP staple. */
  requestOcsp?: boolean | undefined;
  /** No name check: a session made for any name may be resumed. */
  unsafelyDisableHostnameVerification?: boolean | undefined;
  /** No verification at all. */
  unsafelyDisableVerification?: boolean | undefined;
}

/**
 * Checks `session` and `requestOcsp` before anything is connected.
 *
 * @param o The options.
 * @param helper The helper's name, for messages.
 * @throws {TypeError} When `session` is not a `Session` or `requestOcsp` not a boolean.
 */
export function validateResumeAndStaple(o: ResumeAndStapleOptions, helper: string): void {
  if (o.session !== undefined && !(o.session instanceof Session)) {
    throw new TypeError(
      `${helper}: session must be a Session, from getSession() or Session.fromDER`,
    );
  }
  if (o.requestOcsp !== undefined && typeof o.requestOcsp !== "boolean") {
    throw new TypeError(`${helper}: requestOcsp must be true or false`);
  }
}

/**
 * Sets the session to resume and asks for the OCSP staple, on a client
 * connection before its handshake.
 *
 * @param conn The client connection.
 * @param o The options.
 * @param helper The helper's name, for messages.
 * @throws {TypeError} When an option has the wrong type.
 */
export function resumeAndStaple(
  conn: Connection,
  o: ResumeAndStapleOptions & ClientNameOptions,
  helper: string,
): void {
  validateResumeAndStaple(o, helper);
  if (o.session !== undefined) {
    // A resumed session is not verified again: one made for another name must not pass.
    const name = o.serverName ?? o.hostname;
    const checks = !o.unsafelyDisableVerification && !o.unsafelyDisableHostnameVerification;
    if (checks && name !== undefined && !sessionFitsName(o.session, name, o)) {
      throw new TypeError(
        `${helper}: session's certificate does not match ${name}: resume a session only with the server name it was made for`,
      );
    }
    conn.setSession(o.session);
  }
  if (o.requestOcsp) conn.requestOcsp();
}

/** Whether the certificate a session was verified with matches `name`, as the handshake would check it. */
function sessionFitsName(session: Session, name: string, o: ClientNameOptions): boolean {
  const { ssl, crypto } = native();
  const peer = ssl.SSL_SESSION_get0_peer(session._handle);
  if (peer === null) return false;
  const flags = o.unsafelyAllowLegacyHostNames
    ? 0
    : X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
  const bare = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
  if (isIpLiteral(bare)) return crypto.X509_check_ip_asc(peer, cstr(bare, "hostname"), flags) === 1;
  const host = cstr(normalizeHostName(bare), "hostname");
  return crypto.X509_check_host(peer, host, usize(host.length - 1), flags, null) === 1;
}

/**
 * A server helper's handshake deadline: the default when unset, none for 0.
 *
 * @param value The `handshakeTimeout` option.
 * @param fallback The deadline when unset (undefined: none).
 * @returns Milliseconds, or undefined for no deadline.
 * @throws {RangeError} When the value is negative or not a number.
 */
export function handshakeDeadline(
  value: number | undefined,
  fallback: number | undefined,
): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0) || value === Infinity) {
    throw new RangeError(
      `handshakeTimeout must be a finite number of ms, 0 for none: got ${value}`,
    );
  }
  return value === 0 ? undefined : value;
}
