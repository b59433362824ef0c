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
import type { Transport } from "./transport.ts";
import type { Session } from "./session.ts";
import {
  cachedContext,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  nameClient,
  resumeAndStaple,
  validateClientNames,
  validateResumeAndStaple,
} from "./_defaults.ts";
import { handshakeWithin, modeOf, specOf } from "./_tls_common.ts";
import type { PskClientCallback, PskServerCallback } from "./types.ts";
import type { SessionStoreOptions } from "./selection.ts";

export { listenTls, type ListenTlsOptions, TlsListener } from "./listener.ts";

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
  /**
   * With `native`: ask OpenSSL to hand the record layer to the kernel
   * (kTLS, Linux). `conn.ktls` says whether it took and, if not, why.
   * @default {false}
   */
  ktls?: boolean;
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

/** A TLS connection over TCP, as the helpers return it. */
export type TlsConnection = Connection<Deno.TcpConn>;

/** The client context for these options: the caller's, or a shared one from the cache. */
function clientContext(o: TlsClientOptions): Context {
  return o.context ?? cachedContext(specOf("tls-client", o));
}

/** The server context for these options: the caller's, or a shared one from the cache. */
function serverContext(o: TlsServerOptions): Context {
  return o.context ?? cachedContext(specOf("tls-server", o));
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
    conn = new Connection(clientContext(options), tcp, modeOf(options));
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
  const tls = new Connection(clientContext(options), conn, modeOf(options));
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
  const tls = new Connection(serverContext(options), conn, modeOf(options));
  tls.setAcceptState();
  try {
    await handshakeWithin(tls, options, DEFAULT_SERVER_HANDSHAKE_TIMEOUT);
    return tls;
  } catch (e) {
    await tls[Symbol.asyncDispose]();
    throw e;
  }
}
