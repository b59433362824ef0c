/**
 * Deno-shaped helpers: `connectTls`, `startTls`, `acceptTls` (the
 * server-side `startTls` Deno lacks) and `listenTls`, with the option names
 * of Deno's built-ins plus what Deno does not offer. Moving from
 * `Deno.connectTls` to denossl is an import change.
 *
 * Secure by default: the peer's certificate is verified against the system
 * trust store (plus `caCerts`), the host name is checked, and TLS 1.2 is the
 * minimum. Every way to turn that off has "unsafe" in its name.
 *
 * @module
 */

import { Context, TLS_CLIENT_METHOD, TLS_SERVER_METHOD } from "./context.ts";
import { Connection } from "./connection.ts";
import type { HandshakeInfo } from "./connection.ts";
import type { Transport } from "./transport.ts";
import {
  TLS1_1_VERSION,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS1_VERSION,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_NONE,
  VERIFY_PEER,
} from "../ffi/constants.ts";
import { NO_OVERLAPPING_PROTOCOLS } from "./_negotiation.ts";

/** A protocol version: a name as Node spells it, or a `*_VERSION` constant. */
export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3" | number;

/**
 * Options shared by every helper.
 *
 * @example
 * ```ts ignore
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
  /** ALPN protocols, most preferred first. */
  alpnProtocols?: string[];
  /** Lowest protocol version. @default {"TLSv1.2"} */
  minVersion?: TlsVersion;
  /** Highest protocol version. @default {"TLSv1.3"} */
  maxVersion?: TlsVersion;
  /** TLS 1.2 cipher list (OpenSSL syntax). */
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
  /** Milliseconds the handshake may take before the connection is closed. */
  handshakeTimeout?: number;
  /**
   * Allows `minVersion` below TLS 1.2 (TLS 1.0/1.1, security level 0), and a
   * `ciphers` string that lowers the security level (`@SECLEVEL=0`). @default {false}
   */
  unsafelyAllowLegacyProtocols?: boolean;
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
 * @example
 * ```ts ignore
 * const opts: TlsClientOptions = { hostname: "example.com", caCerts: [pem] };
 * ```
 */
export interface TlsClientOptions extends TlsCommonOptions {
  /** The host name to verify the certificate against, and to send as SNI. */
  hostname?: string;
  /** The SNI name and name to verify, when it differs from `hostname`. */
  serverName?: string;
  /** PEM certificate (chain) to present when the server asks for one. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Skip the host name check, as Deno's option of that name. @default {false} */
  unsafelyDisableHostnameVerification?: boolean;
  /** Skip all certificate verification. @default {false} */
  unsafelyDisableVerification?: boolean;
}

/**
 * Options of {@link connectTls}: Deno's `ConnectTlsOptions` plus denossl's.
 *
 * @example
 * ```ts ignore
 * const conn = await connectTls({ hostname: "example.com", port: 443 } satisfies ConnectTlsOptions);
 * ```
 */
export interface ConnectTlsOptions extends TlsClientOptions {
  /** The port. */
  port: number;
}

/**
 * Options for a server (`acceptTls`, `listenTls`).
 *
 * @example
 * ```ts ignore
 * const opts: TlsServerOptions = { cert, key, requireClientCert: true, caCerts: [clientCa] };
 * ```
 */
export interface TlsServerOptions extends TlsCommonOptions {
  /** PEM certificate, optionally followed by its chain. */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** Ask clients for a certificate, verify it if sent. @default {false} */
  requestClientCert?: boolean;
  /** Require a verified client certificate. @default {false} */
  requireClientCert?: boolean;
}

/**
 * Options of {@link listenTls}: Deno's `ListenTlsOptions` plus denossl's.
 *
 * @example
 * ```ts ignore
 * const listener = listenTls({ port: 8443, cert, key } satisfies ListenTlsOptions);
 * ```
 */
export interface ListenTlsOptions extends TlsServerOptions {
  /** The port; 0 picks a free one. */
  port: number;
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
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

const cache = new Map<string, Context>();
const CACHE_LIMIT = 64;

function cached(key: string, build: () => Context): Context {
  let ctx = cache.get(key);
  if (ctx && !ctx.closed) {
    cache.delete(key);
    cache.set(key, ctx); // most recently used last
    return ctx;
  }
  ctx = build();
  cache.set(key, ctx);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return ctx;
}

function configureCommon(ctx: Context, o: TlsCommonOptions): void {
  const min = versionOf(o.minVersion, TLS1_2_VERSION);
  const max = versionOf(o.maxVersion, 0);
  if (min < TLS1_2_VERSION) {
    if (!o.unsafelyAllowLegacyProtocols) {
      throw new RangeError(
        "TLS versions below 1.2 are insecure: set unsafelyAllowLegacyProtocols: true to allow them",
      );
    }
    ctx.setSecurityLevel(0);
    if (!o.ciphers) ctx.setCipherList("DEFAULT:@SECLEVEL=0");
  }
  ctx.setMinProtoVersion(min);
  if (max) ctx.setMaxProtoVersion(max);
  if (o.ciphers) {
    const level = ctx.getSecurityLevel();
    ctx.setCipherList(o.ciphers);
    // "@SECLEVEL=0" in a cipher string enables NULL (no encryption) and anonymous (no
    // certificate, so no verification) suites: an opt-out that must say "unsafe".
    if (ctx.getSecurityLevel() < level && !o.unsafelyAllowLegacyProtocols) {
      throw new RangeError(
        `The cipher string "${o.ciphers}" lowers the security level, which allows NULL and anonymous suites: set unsafelyAllowLegacyProtocols: true to allow it`,
      );
    }
  }
  if (o.ciphersuites) ctx.setTls13Ciphersuites(o.ciphersuites);
}

function optionsKey(kind: string, o: TlsClientOptions & TlsServerOptions): string {
  return JSON.stringify([
    kind,
    o.caCerts ?? null,
    o.alpnProtocols ?? null,
    o.minVersion ?? null,
    o.maxVersion ?? null,
    o.ciphers ?? null,
    o.ciphersuites ?? null,
    o.cert ?? null,
    o.key ?? null,
    !!o.unsafelyAllowLegacyProtocols,
    !!o.unsafelyDisableVerification,
    !!o.requestClientCert,
    !!o.requireClientCert,
  ]);
}

/**
 * The client context the helpers would build for these options (cached and
 * shared: contexts refuse changes once used, so sharing is safe).
 *
 * @param o Client options.
 * @returns The context.
 */
function clientContext(o: TlsClientOptions): Context {
  if (o.context) return o.context;
  return cached(optionsKey("client", o), () => {
    const ctx = new Context(TLS_CLIENT_METHOD);
    try {
      configureCommon(ctx, o);
      if (!o.unsafelyDisableVerification) {
        ctx.setDefaultVerifyPaths();
        if (o.caCerts?.length) ctx.addCaCerts(o.caCerts);
        ctx.setVerify(VERIFY_PEER);
      }
      if (o.alpnProtocols?.length) ctx.setAlpnProtos(o.alpnProtocols);
      if (o.cert || o.key) {
        if (!o.cert || !o.key) throw new TypeError("cert and key go together");
        ctx.useCertificateChain(o.cert);
        ctx.usePrivateKey(o.key);
        ctx.checkPrivateKey();
      }
      return ctx;
    } catch (e) {
      ctx.close();
      throw e;
    }
  });
}

function serverContext(o: TlsServerOptions): Context {
  if (o.context) return o.context;
  if (!o.cert || !o.key) throw new TypeError("A TLS server needs cert and key (PEM), or a context");
  return cached(optionsKey("server", o), () => {
    const ctx = new Context(TLS_SERVER_METHOD);
    try {
      configureCommon(ctx, o);
      // A server that verifies clients must name its session cache, or OpenSSL fails every
      // resumption attempt ("session id context uninitialized"); one random name per context
      // also keeps sessions from resuming across contexts.
      ctx.setSessionIdContext(crypto.getRandomValues(new Uint8Array(16)));
      ctx.useCertificateChain(o.cert!);
      ctx.usePrivateKey(o.key!);
      ctx.checkPrivateKey();
      if (o.requestClientCert || o.requireClientCert) {
        if (o.caCerts?.length) ctx.addCaCerts(o.caCerts);
        ctx.setVerify(VERIFY_PEER | (o.requireClientCert ? VERIFY_FAIL_IF_NO_PEER_CERT : 0));
      } else {
        ctx.setVerify(VERIFY_NONE);
      }
      const offered = o.alpnProtocols;
      if (offered?.length) {
        ctx.setAlpnSelectCallback((_conn, clientProtocols) =>
          offered.find((p) => clientProtocols.includes(p)) ?? NO_OVERLAPPING_PROTOCOLS
        );
      }
      return ctx;
    } catch (e) {
      ctx.close();
      throw e;
    }
  });
}

/** Runs the handshake, honouring `signal` and `handshakeTimeout`. */
async function handshakeWithin<T extends Transport>(
  conn: Connection<T>,
  o: TlsCommonOptions,
): Promise<HandshakeInfo> {
  const { signal, handshakeTimeout } = o;
  if (!signal && handshakeTimeout === undefined) return conn.handshake();
  signal?.throwIfAborted();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reason: unknown;
  const abort = (): void => {
    reason = signal?.aborted
      ? signal.reason
      : new Deno.errors.TimedOut(`TLS handshake did not finish within ${handshakeTimeout} ms`);
    conn._abort(reason); // the connection's own handshake() rejects with it too
  };
  signal?.addEventListener("abort", abort, { once: true });
  if (handshakeTimeout !== undefined) timer = setTimeout(abort, handshakeTimeout);
  try {
    return await conn.handshake();
  } catch (e) {
    throw reason ?? e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}

function prepareClient<T extends Transport>(conn: Connection<T>, o: TlsClientOptions): void {
  conn.setConnectState();
  const name = o.serverName ?? o.hostname;
  if (name) {
    const isIp = /^[\d.]+$|:/.test(name);
    if (!isIp) conn.setTlsextHostName(name);
    if (!o.unsafelyDisableVerification && !o.unsafelyDisableHostnameVerification) {
      conn.setVerifyHostname(name);
    }
  } else if (
    !o.unsafelyDisableVerification && !o.unsafelyDisableHostnameVerification && !o.context
  ) {
    throw new TypeError(
      "startTls needs hostname (or serverName) to verify the server's name; set unsafelyDisableHostnameVerification to skip the check",
    );
  }
}

/**
 * Connects to a TLS server, as `Deno.connectTls` does, and completes the
 * handshake before resolving, so certificate errors come out of this call.
 *
 * @param options Deno's options plus denossl's.
 * @returns The connection, over a `Deno.TcpConn` (its members pass through).
 * @throws {VerificationError} When the server's certificate is refused.
 * @throws {SSLError} When the handshake fails.
 * @example Print the server's certificate
 * ```ts ignore
 * import { connectTls } from "@denossl/denossl";
 * const conn = await connectTls({ hostname: "example.com", port: 443 });
 * const { protocol, peerCertificate } = await conn.handshake();
 * console.log(protocol, peerCertificate?.subject.commonName);
 * conn.close();
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<TlsConnection> {
  const hostname = options.hostname ?? "127.0.0.1";
  const ctx = clientContext(options);
  options.signal?.throwIfAborted();
  const tcp = await Deno.connect({ hostname, port: options.port });
  let conn: TlsConnection | undefined;
  try {
    conn = new Connection(ctx, tcp, { native: options.native === true });
    prepareClient(conn, { ...options, hostname });
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
 * @param options Deno's options plus denossl's; `hostname` is required
 *   unless host name verification is turned off.
 * @returns The TLS connection.
 * @example Upgrade after a plaintext STARTTLS exchange
 * ```ts ignore
 * const tcp = await Deno.connect({ hostname: "mail.example.com", port: 587 });
 * // ... EHLO / STARTTLS ...
 * const tls = await startTls(tcp, { hostname: "mail.example.com" });
 * ```
 */
export async function startTls<T extends Exclude<Transport, null>>(
  conn: T,
  options: TlsClientOptions = {},
): Promise<Connection<T>> {
  const ctx = clientContext(options);
  const tls = new Connection(ctx, conn, { native: options.native === true });
  try {
    prepareClient(tls, options);
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
 * @example
 * ```ts ignore
 * const plain = await listener.accept();
 * // ... read the plaintext "STARTTLS" command, answer it ...
 * const tls = await acceptTls(plain, { cert, key });
 * ```
 */
export async function acceptTls<T extends Exclude<Transport, null>>(
  conn: T,
  options: TlsServerOptions,
): Promise<Connection<T>> {
  const tls = new Connection(serverContext(options), conn, { native: options.native === true });
  tls.setAcceptState();
  try {
    await handshakeWithin(tls, options);
    return tls;
  } catch (e) {
    await tls[Symbol.asyncDispose]();
    throw e;
  }
}

/**
 * A TLS listener, as `Deno.listenTls` returns: accept connections one by one
 * or iterate them. Each connection's handshake starts as it is accepted and
 * runs in the background; a client whose handshake fails affects only its
 * own connection (its `handshake()`, `read` and `write` reject), never the
 * listener.
 *
 * @example An echo server
 * ```ts ignore
 * const listener = listenTls({ port: 8443, cert, key });
 * for await (const conn of listener) {
 *   conn.readable.pipeTo(conn.writable).catch(() => {});
 * }
 * ```
 */
export class TlsListener implements AsyncIterable<TlsConnection>, AsyncDisposable, Disposable {
  readonly #inner: Deno.TcpListener;
  readonly #options: TlsServerOptions;
  readonly #context: Context;

  /**
   * Wraps a TCP listener. Prefer {@link listenTls}.
   *
   * @param inner The TCP listener; closed with this one.
   * @param options Server options.
   */
  constructor(inner: Deno.TcpListener, options: TlsServerOptions) {
    this.#inner = inner;
    this.#options = options;
    this.#context = serverContext(options);
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#inner.addr;
  }

  /**
   * Waits for the next client.
   *
   * @returns Its connection; await `handshake()` to see its certificate.
   * @example
   * ```ts ignore
   * const conn = await listener.accept();
   * const { peerCertificate } = await conn.handshake();
   * ```
   */
  async accept(): Promise<TlsConnection> {
    const tcp = await this.#inner.accept();
    const conn = new Connection(this.#context, tcp, { native: this.#options.native === true });
    conn.setAcceptState();
    handshakeWithin(conn, this.#options).catch(() => {}); // errors reach the connection's own calls
    return conn;
  }

  /**
   * Stops listening. Accepted connections stay open.
   *
   * @example
   * ```ts ignore
   * listener.close();
   * ```
   */
  close(): void {
    try {
      this.#inner.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  /**
   * Lets the listener keep the event loop alive.
   *
   * @example
   * ```ts ignore
   * listener.ref();
   * ```
   */
  ref(): void {
    this.#inner.ref();
  }

  /**
   * Stops the listener from keeping the event loop alive.
   *
   * @example
   * ```ts ignore
   * listener.unref();
   * ```
   */
  unref(): void {
    this.#inner.unref();
  }

  /**
   * Accepts connections until the listener is closed.
   *
   * @returns The iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<TlsConnection> {
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
 *   versions, ciphers, context).
 * @returns The listener.
 * @throws {TypeError} When neither `cert`/`key` nor `context` is given.
 * @example mTLS: require client certificates from one CA
 * ```ts ignore
 * const listener = listenTls({ port: 8443, cert, key, caCerts: [clientCa], requireClientCert: true });
 * for await (const conn of listener) {
 *   const { peerCertificate } = await conn.handshake();
 *   console.log(peerCertificate?.subject.commonName);
 * }
 * ```
 */
export function listenTls(options: ListenTlsOptions): TlsListener {
  const ctx = serverContext(options); // fail before opening the port
  const inner = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  return new TlsListener(inner, { ...options, context: ctx });
}
