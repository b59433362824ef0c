/**
 * Deno-shaped helpers: `connectTls`, `startTls`, `acceptTls` (the
 * server-side `startTls` Deno lacks) and `listenTls`, with the option names
 * of Deno's built-ins plus what Deno does not offer. Moving from
 * `Deno.connectTls` to denossl is an import change.
 *
 * Secure by default, at least as strict as Deno's rustls: the peer's
 * certificate is verified against the system trust store (plus `caCerts`),
 * the host name is checked against subject alternative names only (no
 * subject-CN fallback, no partial wildcards), TLS 1.2 is the minimum with
 * ECDHE and AEAD suites only, a server refuses a client whose ALPN protocols
 * it does not speak, and server handshakes have a 10 s deadline. Every way
 * to turn that off has "unsafe" in its name; docs/SECURITY.md has the table.
 *
 * @module
 */

import type { Context } from "./context.ts";
import { Connection } from "./connection.ts";
import type { HandshakeInfo } from "./connection.ts";
import type { Transport } from "./transport.ts";
import type { Session } from "./session.ts";
import type { PskClientCallback, PskServerCallback } from "./types.ts";
import { pskSpec } from "./_psk.ts";
import type { SessionStoreOptions } from "./selection.ts";
import { TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION, TLS1_VERSION } from "../ffi/constants.ts";
import {
  buildContext,
  cachedContext,
  type ContextSpec,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  handshakeDeadline,
  nameClient,
  resumeAndStaple,
  validateClientNames,
  validateResumeAndStaple,
} from "./_defaults.ts";

/** A protocol version: a name as Node spells it, or a `*_VERSION` constant. */
export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3" | number;

/**
 * Options shared by every helper.
 *
 * @example
 * ```ts
 * import type { TlsCommonOptions } from "@denossl/denossl";
 * const common: TlsCommonOptions = { alpnProtocols: ["h2"], minVersion: "TLSv1.3" };
 * ```
 */
export interface TlsCommonOptions {
  /**
   * PEM CA certificates trusted to verify the peer, in addition to the
   * system store for clients (as Deno does); for servers, the CAs that
   * client certificates must chain to.
   */
  caCerts?: string[];
  /**
   * PEM CRLs, as Node's `crl`: every certificate of the peer's chain must be
   * covered by its issuer's CRL here and not revoked (`CRL_CHECK_ALL`).
   */
  crls?: string[];
  /** ALPN protocols, most preferred first. */
  alpnProtocols?: string[];
  /** Lowest protocol version. @default {"TLSv1.2"} */
  minVersion?: TlsVersion;
  /** Highest protocol version. @default {"TLSv1.3"} */
  maxVersion?: TlsVersion;
  /**
   * TLS 1.2 cipher list (OpenSSL syntax), in place of the helpers' own:
   * ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, as rustls.
   */
  ciphers?: string;
  /** TLS 1.3 cipher suites (OpenSSL syntax). */
  ciphersuites?: string;
  /**
   * Use this context as it is, instead of one built from these options; the
   * other options that configure a context are then ignored.
   */
  context?: Context;
  /** Aborts connecting and the handshake. */
  signal?: AbortSignal;
  /**
   * Milliseconds the handshake may take before the connection is closed,
   * `0` for no deadline. Servers (`acceptTls`, `listenTls`) default to
   * 10000 ms, so a client that stalls mid-handshake cannot hold a
   * connection open; clients have no deadline unless given one.
   */
  handshakeTimeout?: number;
  /**
   * Allows `minVersion` below TLS 1.2 (TLS 1.0/1.1, security level 0), and a
   * `ciphers` string that lowers the security level (`@SECLEVEL=0`). @default {false}
   */
  unsafelyAllowLegacyProtocols?: boolean;
  /**
   * Key exchange groups, most preferred first, by OpenSSL's names (`"X25519"`,
   * `"P-256"`, `"P-384"`, `"P-521"`, `"X448"`, `"ffdhe2048"` ...), in place of
   * the helpers' X25519, P-256 and P-384 (rustls's). An unknown name is a
   * `RangeError`.
   */
  groups?: string[];
  /**
   * The passphrase of an encrypted `key` or of `pfx`, or a function that
   * returns it when the key is read (as `Context.setPasswdCb`).
   */
  passphrase?: string | (() => string);
  /**
   * A PKCS#12 bundle (`.p12`/`.pfx`, as `openssl pkcs12 -export` makes it)
   * holding the private key, its certificate and the chain to send, in place
   * of `cert` and `key`, as Node's `pfx`; `passphrase` opens it. Its CA
   * certificates are sent as the chain, not trusted.
   */
  pfx?: Uint8Array;
  /** The format of `key`, as Deno's: PEM only. @default {"pem"} */
  keyFormat?: "pem";
  /**
   * Native mode: OpenSSL reads and writes the TCP socket itself instead of
   * denossl pumping it through memory BIOs. Falls back to stream mode when
   * the socket's descriptor cannot be found (see `transportMode` and
   * `nativeFallbackReason` on the connection). @default {false}
   */
  native?: boolean;
}

/**
 * Options for a client (`connectTls`, `startTls`).
 *
 * @example Check a name other than the address connected to
 * ```ts
 * import type { TlsClientOptions } from "@denossl/denossl";
 * const opts: TlsClientOptions = { hostname: "192.0.2.1", serverName: "api.example.com" };
 * ```
 */
export interface TlsClientOptions extends TlsCommonOptions {
  /**
   * Where to connect, and the name the certificate must match and the SNI
   * sent, unless `serverName` is given. `startTls` needs it (or
   * `serverName`) to check the server's name.
   */
  hostname?: string;
  /**
   * The name sent as SNI and matched against the certificate instead of
   * `hostname`, as Node's `servername` (connect to an address, check a name).
   * It may not be empty: an empty or missing name is a `TypeError`.
   */
  serverName?: string;
  /** PEM certificate (chain) to present when the server asks for one. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /**
   * A session to resume, from `getSession()` of an earlier connection to the
   * same server (or `Session.fromDER`); `sessionReused()` tells whether the
   * server agreed, else the handshake is a full one. A resumed session is not
   * verified again, so one made for another server name is a `TypeError`.
   */
  session?: Session;
  /**
   * Asks the server to staple its OCSP response (the `status_request`
   * extension), which `getOcspResponse()` gives after the handshake (null
   * when the server stapled none). It is handed over as received, not
   * checked. @default {false}
   */
  requestOcsp?: boolean;
  /** Skip the host name check, as Deno's option of that name. @default {false} */
  unsafelyDisableHostnameVerification?: boolean;
  /**
   * Match host names as OpenSSL does on its own: fall back to the subject CN
   * when the certificate has no DNS name, and accept partial wildcards such
   * as `f*.example.com`. For legacy servers only. @default {false}
   */
  unsafelyAllowLegacyHostNames?: boolean;
  /** Skip all certificate verification. @default {false} */
  unsafelyDisableVerification?: boolean;
  /**
   * TLS-PSK, as Node's: returns the identity and key for the server's hint
   * (TLS 1.2; null in TLS 1.3), or null. Adds ECDHE-PSK-CHACHA20-POLY1305 to
   * the TLS 1.2 suites; a server that shows a certificate is still verified.
   */
  pskCallback?: PskClientCallback;
}

/**
 * Options of {@link connectTls}: Deno's `ConnectTlsOptions` plus denossl's.
 *
 * @example
 * ```ts
 * import type { ConnectTlsOptions } from "@denossl/denossl";
 * const options: ConnectTlsOptions = { hostname: "example.com", port: 443 };
 * ```
 */
export interface ConnectTlsOptions extends TlsClientOptions {
  /** The port. */
  port: number;
  /** Happy Eyeballs (RFC 8305), passed to `Deno.connect`. @default {true} */
  autoSelectFamily?: boolean;
  /** Milliseconds between Happy Eyeballs attempts, passed to `Deno.connect`. @default {250} */
  autoSelectFamilyAttemptDelay?: number;
}

/**
 * Options for a server (`acceptTls`, `listenTls`).
 *
 * @example Require client certificates from one CA
 * ```ts
 * import { TestCA, type TlsServerOptions } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const opts: TlsServerOptions = {
 *   cert: leaf.chainPEM,
 *   key: leaf.keyPEM,
 *   requireClientCert: true,
 *   caCerts: [ca.certPEM],
 * };
 * ```
 */
export interface TlsServerOptions extends TlsCommonOptions, SessionStoreOptions {
  /** PEM certificate, optionally followed by its chain. */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** Ask clients for a certificate, verify it if sent. @default {false} */
  requestClientCert?: boolean;
  /** Require a verified client certificate. @default {false} */
  requireClientCert?: boolean;
  /**
   * The OCSP response to staple for clients that ask (`openssl s_client
   * -status`, `requestOcsp`): the DER bytes your CA's responder signed, or a
   * function of the server name the client sent that returns them (null to
   * staple nothing), called per handshake so that a fresh response can be
   * served without a restart.
   */
  ocspResponse?: Uint8Array | ((servername: string | null) => Uint8Array | null);
  /**
   * TLS-PSK, as Node's: the key of a client's identity, or null. Then `cert`
   * and `key` are optional; ECDHE-PSK-CHACHA20-POLY1305 joins the TLS 1.2 suites.
   */
  pskCallback?: PskServerCallback;
  /** The identity hint sent to TLS 1.2 PSK clients, as Node's. */
  pskIdentityHint?: string;
}

/**
 * Options of {@link listenTls}: Deno's `ListenTlsOptions` plus denossl's.
 *
 * @example
 * ```ts
 * import { type ListenTlsOptions, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const options: ListenTlsOptions = { port: 8443, cert: leaf.chainPEM, key: leaf.keyPEM };
 * ```
 */
export interface ListenTlsOptions extends TlsServerOptions {
  /** The port; 0 picks a free one. @default {0} */
  port?: number;
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** The transport, as Deno's: TCP only. @default {"tcp"} */
  transport?: "tcp";
  /** Length of the kernel's queue of connections not yet accepted, passed to `Deno.listen`. */
  tcpBacklog?: number;
  /** Sets `SO_REUSEPORT` (Linux), passed to `Deno.listen`. @default {false} */
  reusePort?: boolean;
}

/** A TLS connection over TCP, as the helpers return it. */
export type TlsConnection = Connection<Deno.TcpConn>;

function versionOf(v: TlsVersion | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === "number") return v;
  const map: Record<string, number> = {
    "TLSv1": TLS1_VERSION,
    "TLSv1.1": TLS1_1_VERSION,
    "TLSv1.2": TLS1_2_VERSION,
    "TLSv1.3": TLS1_3_VERSION,
  };
  const n = map[v];
  if (n === undefined) throw new RangeError(`Unknown TLS version "${v}"`);
  return n;
}

function specOf(
  kind: "tls-client" | "tls-server",
  o: Omit<TlsClientOptions & TlsServerOptions, "pskCallback"> & { pskCallback?: unknown },
): ContextSpec {
  if (o.keyFormat !== undefined && o.keyFormat !== "pem") {
    throw new TypeError(`keyFormat must be "pem": got ${String(o.keyFormat)}`);
  }
  return {
    kind,
    minVersion: versionOf(o.minVersion, TLS1_2_VERSION),
    maxVersion: versionOf(o.maxVersion, 0),
    unsafelyAllowLegacyProtocols: o.unsafelyAllowLegacyProtocols,
    ciphers: o.ciphers,
    ciphersuites: o.ciphersuites,
    caCerts: o.caCerts,
    alpnProtocols: o.alpnProtocols,
    cert: o.cert,
    key: o.key,
    passphrase: o.passphrase,
    pfx: o.pfx,
    groups: o.groups,
    ocspResponse: kind === "tls-server" ? o.ocspResponse : undefined,
    sessionStore: kind === "tls-server" ? o.sessionStore : undefined,
    unsafelyDisableVerification: kind === "tls-client" ? o.unsafelyDisableVerification : false,
    requestClientCert: kind === "tls-server" ? o.requestClientCert : false,
    requireClientCert: kind === "tls-server" ? o.requireClientCert : false,
    psk: pskSpec(kind === "tls-server", o),
    crls: o.crls,
  };
}

/** The client context for these options: the caller's, or a shared one from the cache. */
function clientContext(o: TlsClientOptions): Context {
  return o.context ?? cachedContext(specOf("tls-client", o));
}

/** The server context for these options: the caller's, or a shared one from the cache. */
function serverContext(o: TlsServerOptions): Context {
  return o.context ?? cachedContext(specOf("tls-server", o));
}

/** Runs the handshake, honouring `signal` and `handshakeTimeout` (else `fallback` ms). */
async function handshakeWithin<T extends Transport>(
  conn: Connection<T>,
  o: TlsCommonOptions,
  fallback?: number,
): Promise<HandshakeInfo> {
  const { signal } = o;
  const deadline = handshakeDeadline(o.handshakeTimeout, fallback);
  if (!signal && deadline === undefined) return conn.handshake();
  signal?.throwIfAborted();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reason: unknown;
  const abort = (): void => {
    reason = signal?.aborted
      ? signal.reason
      : new Deno.errors.TimedOut(`TLS handshake did not finish within ${deadline} ms`);
    conn._abort(reason); // closes it: the connection's own handshake() rejects with it too
  };
  signal?.addEventListener("abort", abort, { once: true });
  if (deadline !== undefined) timer = setTimeout(abort, deadline);
  try {
    return await conn.handshake();
  } catch (e) {
    throw reason ?? e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}

function prepareClient<T extends Transport>(
  conn: Connection<T>,
  o: TlsClientOptions,
  helper: string,
): void {
  conn.setConnectState();
  nameClient(conn, o, helper);
  resumeAndStaple(conn, o, helper);
}

/**
 * Connects to a TLS server, as `Deno.connectTls` does, and completes the
 * handshake before resolving, so certificate errors come out of this call.
 *
 * @param options Deno's options plus denossl's. The certificate must match
 *   `serverName` if given, else `hostname` (default `"127.0.0.1"`, as Deno).
 * @returns The connection, over a `Deno.TcpConn` (its members pass through).
 * @throws {TypeError} When `hostname` or `serverName` is given empty.
 * @throws {VerificationError} When the server's certificate is refused.
 * @throws {SSLError} When the handshake fails.
 * @example Print the server's certificate
 * ```ts
 * import { connectTls, listenTls, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * await using listener = listenTls({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   cert: leaf.chainPEM,
 *   key: leaf.keyPEM,
 * });
 * const served = listener.accept().then(async (conn) => {
 *   await conn.handshake();
 *   return conn;
 * });
 * // serverName: the name checked and sent (SNI) when it is not the address connected to.
 * await using conn = await connectTls({
 *   hostname: "127.0.0.1",
 *   serverName: "localhost",
 *   port: listener.addr.port,
 *   caCerts: [ca.certPEM],
 * });
 * const { protocol, peerCertificate } = await conn.handshake();
 * console.log(protocol, peerCertificate?.subject.commonName); // "TLSv1.3 localhost"
 * (await served).close();
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<TlsConnection> {
  // Deno's default; a given hostname must be a real name, never "" quietly unchecked.
  const named = { ...options, hostname: options.hostname ?? "127.0.0.1" };
  validateClientNames(named, "connectTls");
  validateResumeAndStaple(options, "connectTls");
  clientContext(options); // bad options fail before connecting
  options.signal?.throwIfAborted();
  const tcp = await Deno.connect({
    hostname: named.hostname,
    port: options.port,
    ...(options.autoSelectFamily === undefined
      ? {}
      : { autoSelectFamily: options.autoSelectFamily }),
    ...(options.autoSelectFamilyAttemptDelay === undefined
      ? {}
      : { autoSelectFamilyAttemptDelay: options.autoSelectFamilyAttemptDelay }),
  });
  let conn: TlsConnection | undefined;
  try {
    // Asked again: a busy cache may have closed the one above while we connected.
    conn = new Connection(clientContext(options), tcp, { native: options.native === true });
    prepareClient(conn, named, "connectTls");
    await handshakeWithin(conn, options);
    return conn;
  } catch (e) {
    if (conn) await conn[Symbol.asyncDispose]();
    else tcp.close();
    throw e;
  }
}

/**
 * Upgrades a connected transport to TLS as a client, as `Deno.startTls`
 * does, and completes the handshake. The connection takes ownership of the
 * transport.
 *
 * @param conn A `Deno.Conn` or any transport denossl accepts.
 * @param options Deno's options plus denossl's; `hostname` (or
 *   `serverName`) is required unless `unsafelyDisableHostnameVerification`
 *   is set, also with a `context`.
 * @returns The TLS connection.
 * @throws {TypeError} When the name to check is missing or empty; the
 *   transport is then left open.
 * @example Upgrade both ends after a plaintext STARTTLS exchange
 * ```ts
 * import { acceptTls, startTls, TestCA } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const server = (async () => {
 *   const plain = await listener.accept();
 *   // ... read the plaintext "STARTTLS" command, answer it ...
 *   await using tls = await acceptTls(plain, { cert: leaf.chainPEM, key: leaf.keyPEM });
 *   await tls.write(new TextEncoder().encode("secret"));
 * })();
 * const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * // ... send "STARTTLS", read the answer ...
 * await using tls = await startTls(tcp, { hostname: "localhost", caCerts: [ca.certPEM] });
 * const buf = new Uint8Array(16);
 * const n = await tls.read(buf);
 * assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "secret");
 * await server;
 * ```
 */
export async function startTls<T extends Exclude<Transport, null>>(
  conn: T,
  options: TlsClientOptions = {},
): Promise<Connection<T>> {
  validateClientNames(options, "startTls");
  validateResumeAndStaple(options, "startTls");
  const tls = new Connection(clientContext(options), conn, { native: options.native === true });
  try {
    prepareClient(tls, options, "startTls");
    await handshakeWithin(tls, options);
    return tls;
  } catch (e) {
    await tls[Symbol.asyncDispose]();
    throw e;
  }
}

/**
 * Upgrades an accepted plain connection to TLS as the server: the
 * server-side `startTls` that Deno lacks. Completes the handshake.
 *
 * @param conn An accepted `Deno.Conn` or any transport.
 * @param options Server options: `cert` and `key`, or `context`.
 * @returns The TLS connection.
 * @see {@link startTls} for an example with both ends.
 */
export async function acceptTls<T extends Exclude<Transport, null>>(
  conn: T,
  options: TlsServerOptions,
): Promise<Connection<T>> {
  const tls = new Connection(serverContext(options), conn, { native: options.native === true });
  tls.setAcceptState();
  try {
    await handshakeWithin(tls, options, DEFAULT_SERVER_HANDSHAKE_TIMEOUT);
    return tls;
  } catch (e) {
    await tls[Symbol.asyncDispose]();
    throw e;
  }
}

/** Error codes of `accept(2)` that concern one connection, never the listener (Linux man page). */
const PER_CONNECTION_CODES = new Set([
  "ECONNABORTED",
  "ECONNRESET",
  "ENOTCONN",
  "EPROTO",
  "EPERM",
  "ENETDOWN",
  "ENETUNREACH",
  "ENONET",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "ENOPROTOOPT",
  "EOPNOTSUPP",
  "ETIMEDOUT",
]);
/** Error codes of `accept(2)` that mean "out of descriptors or memory, try again later". */
const EXHAUSTION_CODES = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
/** The longest pause between accepts while descriptors are exhausted. */
const MAX_ACCEPT_PAUSE_MS = 100;

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A client that failed between the kernel's accept and ours: skip it. */
function failedBeforeAccept(e: unknown): boolean {
  return e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionAborted || PER_CONNECTION_CODES.has(codeOf(e) ?? "");
}

let adoptContext: (listener: TlsListener, ctx: Context) => void;

/**
 * A TLS listener, as `Deno.listenTls` returns, and assignable to
 * `Deno.TlsListener`: accept connections one by one or iterate them. Each
 * connection's handshake starts as it is accepted and runs in the
 * background, with a deadline (`handshakeTimeout`, 10 s by default) after
 * which the connection is closed; a client whose handshake fails affects
 * only its own connection (its `handshake()`, `read` and `write` reject),
 * never the listener.
 *
 * No client can end the accept loop: a connection reset or aborted before it
 * was accepted is skipped, and when the process runs out of descriptors
 * (EMFILE, ENFILE) `accept()` waits 10 to 100 ms and tries again. Only
 * {@link close} stops it.
 *
 * @example An echo server: each client in its own task, so none holds up the loop
 * ```ts
 * import { connectTls, listenTls, TestCA, type TlsConnection } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
 * const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
 * const echo = async (conn: TlsConnection): Promise<void> => {
 *   await conn.readable.pipeTo(conn.writable).catch(() => {});
 * };
 * const serving = (async () => {
 *   for await (const conn of listener) echo(conn); // not awaited: the loop takes the next client
 * })();
 * await using client = await connectTls({
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 *   caCerts: [ca.certPEM],
 * });
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * await client.read(buf);
 * assert.equal(new TextDecoder().decode(buf), "ping");
 * await client.closeWrite();
 * listener.close();
 * await serving;
 * ```
 */
export class TlsListener implements AsyncIterable<TlsConnection>, AsyncDisposable, Disposable {
  readonly #inner: Deno.TcpListener;
  readonly #options: TlsServerOptions;
  readonly #context: Context;
  #owned: Context | null = null;
  #closed = false;
  #refed = true;

  static {
    adoptContext = (listener, ctx) => listener.#owned = ctx;
  }

  /**
   * Wraps a TCP listener. Prefer {@link listenTls}.
   *
   * @param inner The TCP listener; closed with this one.
   * @param options Server options.
   */
  constructor(inner: Deno.TcpListener, options: TlsServerOptions) {
    handshakeDeadline(options.handshakeTimeout, undefined); // a bad value fails here, not per client
    this.#inner = inner;
    this.#options = options;
    // Its own context, not the cache's: a listener outlives any cache eviction.
    this.#context = options.context ?? (this.#owned = buildContext(specOf("tls-server", options)));
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#inner.addr;
  }

  /**
   * Waits for the next client. Clients that reset before they were accepted
   * are skipped; descriptor exhaustion pauses instead of failing.
   *
   * @returns Its connection; await `handshake()` to see its certificate.
   * @throws {Deno.errors.BadResource} When the listener is closed.
   */
  async accept(): Promise<TlsConnection> {
    let pause = 0;
    for (;;) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await this.#inner.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) throw e;
        if (failedBeforeAccept(e)) continue;
        if (!EXHAUSTION_CODES.has(codeOf(e) ?? "")) throw e;
        // Out of descriptors: give the connections being served time to close some.
        pause = Math.min(MAX_ACCEPT_PAUSE_MS, pause === 0 ? 10 : pause * 2);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          if (!this.#refed) Deno.unrefTimer(timer);
        });
        continue;
      }
      let conn: TlsConnection;
      try {
        conn = new Connection(this.#context, tcp, { native: this.#options.native === true });
        conn.setAcceptState();
      } catch (e) {
        tcp.close();
        throw e;
      }
      // Errors reach the connection's own calls; a missed deadline closes it.
      handshakeWithin(conn, this.#options, DEFAULT_SERVER_HANDSHAKE_TIMEOUT).catch(() => {});
      return conn;
    }
  }

  /**
   * Stops listening. Accepted connections stay open.
   */
  close(): void {
    this.#closed = true;
    try {
      this.#inner.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    this.#owned?.close(); // accepted connections keep their own reference to it
    this.#owned = null;
  }

  /**
   * Lets the listener keep the event loop alive.
   */
  ref(): void {
    this.#refed = true;
    this.#inner.ref();
  }

  /**
   * Stops the listener from keeping the event loop alive.
   */
  unref(): void {
    this.#refed = false;
    this.#inner.unref();
  }

  /**
   * Accepts connections until the listener is closed.
   *
   * @returns The iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<TlsConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        throw e;
      }
    }
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Listens for TLS connections, as `Deno.listenTls` does.
 *
 * @param options Deno's options plus denossl's (client certificate policy,
 *   versions, ciphers, handshake deadline, context).
 * @returns The listener.
 * @throws {TypeError} When neither `cert`/`key`, `pfx` nor `context` is given.
 * @throws {RangeError} When `groups` names a group OpenSSL does not know.
 * @throws {SSLError} When the key cannot be decrypted (wrong or missing `passphrase`).
 */
export function listenTls(options: ListenTlsOptions): TlsListener {
  if (options.transport !== undefined && options.transport !== "tcp") {
    throw new TypeError(`listenTls: transport must be "tcp": got ${String(options.transport)}`);
  }
  // The listener's own context, not the cache's: it must outlive any eviction.
  const owned = options.context ? null : buildContext(specOf("tls-server", options));
  let inner: Deno.TcpListener;
  try {
    handshakeDeadline(options.handshakeTimeout, undefined);
    inner = Deno.listen({
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? 0,
      ...(options.tcpBacklog === undefined ? {} : { tcpBacklog: options.tcpBacklog }),
      ...(options.reusePort === undefined ? {} : { reusePort: options.reusePort }),
    });
  } catch (e) {
    owned?.close();
    throw e;
  }
  const listener = new TlsListener(inner, owned ? { ...options, context: owned } : options);
  if (owned) adoptContext(listener, owned);
  return listener;
}
