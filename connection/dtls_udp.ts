/**
 * DTLS over UDP: {@link connectDtls} and {@link listenDtls} run
 * {@link DtlsConnection}s on sockets from `Deno.listenDatagram`, with the
 * option names of Deno's TLS helpers. Secure by default, as `connectTls`:
 * the server's certificate is verified and its name checked, DTLS 1.2 is the
 * minimum, and a server answers new clients statelessly with a cookie.
 *
 * `Deno.listenDatagram` is unstable in Deno 2: run with `--unstable-net`, or
 * put `"unstable": ["net"]` in deno.json. Nothing here touches it until
 * `connectDtls` or `listenDtls` is called, and a `socket` of your own
 * needs no flag.
 *
 * @module
 */

import { Connection } from "./connection.ts";
import type { Context } from "./context.ts";
import { toBytes } from "../ffi/memory.ts";
import { isIpLiteral } from "../ffi/ip.ts";
import { ClosedError, WantReadError } from "../errors/ssl_error.ts";
import {
  buildContext,
  cachedContext,
  DEFAULT_DTLS_CLIENT_HANDSHAKE_TIMEOUT,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  handshakeDeadline,
  nameClient,
} from "./_defaults.ts";
import * as dtls from "./_dtls.ts";
import { dtlsSpecOf as specOf } from "./_dtls_spec.ts";
import type { PskClientCallback, PskServerCallback } from "./types.ts";
import {
  _abort as abort,
  _checkTransportOptions,
  _onClose as onClose,
  _onEnd as onEnd,
  _setPeerAddress,
  bioReadDatagrams,
  DtlsConnection,
  dtlsPeerAddress,
  type DtlsTransportOptions,
} from "./dtls.ts";

/** Connections waiting for `accept()` before new clients are ignored. */
const DEFAULT_BACKLOG = 128;
/** The largest UDP datagram a receive can return. */
const RECEIVE_BUFFER = 65536;

/**
 * The datagram socket the helpers use: a `Deno.DatagramConn` (UDP) or any
 * object with the same `receive`, `send`, `close` and `addr`, such as a test
 * double that drops datagrams.
 */
export interface DatagramSocket {
  /** Waits for the next datagram; may fill `p` and return a view of it. */
  receive(p?: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  /** Sends one datagram. */
  send(p: Uint8Array, addr: Deno.Addr): Promise<number>;
  /** Closes the socket; a pending `receive` rejects. */
  close(): void;
  /** The local address. */
  readonly addr: Deno.Addr;
}

/** A DTLS version: a name, or a `DTLS*_VERSION` constant. */
export type DtlsVersion = "DTLSv1" | "DTLSv1.2" | number;

/**
 * Options shared by {@link connectDtls} and {@link listenDtls}.
 *
 * @example
 * ```ts
 * import type { DtlsCommonOptions } from "@denossl/denossl";
 * const common: DtlsCommonOptions = { srtpProfiles: ["SRTP_AEAD_AES_128_GCM"], mtu: 1200 };
 * ```
 */
export interface DtlsCommonOptions extends DtlsTransportOptions {
  /** PEM CA certificates trusted to verify the peer (clients: in addition to the system store). */
  caCerts?: string[];
  /** ALPN protocols, most preferred first. */
  alpnProtocols?: string[];
  /** DTLS-SRTP protection profiles to offer or accept (RFC 5764), most preferred first. */
  srtpProfiles?: string[];
  /** Lowest DTLS version. @default {"DTLSv1.2"} */
  minVersion?: DtlsVersion;
  /** Highest DTLS version. @default {"DTLSv1.2"} */
  maxVersion?: DtlsVersion;
  /** DTLS 1.2 cipher list (OpenSSL syntax). */
  ciphers?: string;
  /**
   * Use this context (a DTLS one) as it is, instead of one built from these
   * options; the other options that configure a context are then ignored.
   */
  context?: Context;
  /**
   * A socket to use instead of one opened with `Deno.listenDatagram`. It is
   * closed with the connection (client) or the listener (server).
   */
  socket?: DatagramSocket;
  /** Allows DTLS 1.0 (`minVersion: "DTLSv1"`). @default {false} */
  unsafelyAllowLegacyProtocols?: boolean;
}

/**
 * Options of {@link connectDtls}.
 *
 * @example
 * ```ts
 * import type { ConnectDtlsOptions } from "@denossl/denossl";
 * const options: ConnectDtlsOptions = { hostname: "127.0.0.1", port: 4433, serverName: "localhost" };
 * ```
 *
 * @example A pre-shared key instead of certificates (CoAP over DTLS)
 * ```ts
 * import type { ConnectDtlsOptions } from "@denossl/denossl";
 * const psk = new Uint8Array(32).fill(7); // the device's key, provisioned out of band
 * const options: ConnectDtlsOptions = {
 *   port: 5684,
 *   pskCallback: (_hint) => ({ identity: "device-17", psk }),
 *   handshakeTimeout: 5000, // a wrong key shows as a timeout in DTLS
 * };
 * ```
 */
export interface ConnectDtlsOptions extends DtlsCommonOptions {
  /** The server's address or name; names resolve to their first A (else AAAA) record. @default {"127.0.0.1"} */
  hostname?: string;
  /** The server's port. */
  port: number;
  /** The name to verify the certificate against and send as SNI. @default {hostname} */
  serverName?: string;
  /** PEM certificate (chain) to present when the server asks for one. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Skip the host name check. @default {false} */
  unsafelyDisableHostnameVerification?: boolean;
  /** Skip all certificate verification. @default {false} */
  unsafelyDisableVerification?: boolean;
  /**
   * DTLS-PSK (CoAP, LwM2M), as `connectTls`'s: returns the identity and key
   * for the server's hint, or null. Adds ECDHE-PSK-CHACHA20-POLY1305; plain
   * PSK suites (`"PSK-AES128-CCM8"`, CoAP's) only through `ciphers`. A server
   * that shows a certificate is still verified. A wrong key ends in
   * `handshakeTimeout` (DTLS drops records it cannot decrypt).
   */
  pskCallback?: PskClientCallback;
  /**
   * Milliseconds the handshake may take before it fails with
   * `Deno.errors.TimedOut`; 0 for none. UDP has no connect step that fails
   * by itself, and a wrong pre-shared key draws no alert: without a deadline
   * a server that never answers keeps the client retransmitting until
   * OpenSSL's own limit, minutes later. @default {30000} (pion/dtls's)
   */
  handshakeTimeout?: number;
}

/**
 * Options of {@link listenDtls}.
 *
 * @example
 * ```ts
 * import { type ListenDtlsOptions, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const options: ListenDtlsOptions = { port: 4433, cert: leaf.chainPEM, key: leaf.keyPEM };
 * ```
 *
 * @example A pre-shared key per device, no certificate
 * ```ts
 * import type { ListenDtlsOptions } from "@denossl/denossl";
 * const keys = new Map([["device-17", new Uint8Array(32).fill(7)]]);
 * const options: ListenDtlsOptions = {
 *   port: 5684,
 *   pskCallback: (identity) => keys.get(identity) ?? null, // null refuses the identity
 *   pskIdentityHint: "coap-gateway",
 * };
 * ```
 */
export interface ListenDtlsOptions extends DtlsCommonOptions {
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** The port; 0 picks a free one. */
  port?: number;
  /** PEM certificate, optionally followed by its chain. */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** Ask clients for a certificate, verify it if sent. @default {false} */
  requestClientCert?: boolean;
  /** Require a verified client certificate. @default {false} */
  requireClientCert?: boolean;
  /**
   * DTLS-PSK, as `listenTls`'s: the key of a client's identity, or null to
   * refuse it. Then `cert` and `key` are optional; ECDHE-PSK-CHACHA20-POLY1305
   * joins the suites (plain PSK ones only through `ciphers`).
   */
  pskCallback?: PskServerCallback;
  /** The identity hint sent to PSK clients, as `listenTls`'s. */
  pskIdentityHint?: string;
  /** Connections waiting for `accept()` before new clients are ignored. @default {128} */
  backlog?: number;
  /**
   * The HMAC key of the default cookie (HMAC-SHA256 of the client's
   * address). Give servers that share a port the same key. @default {32 random bytes}
   */
  cookieSecret?: Uint8Array;
}

function listenDatagram(options: Deno.UdpListenOptions & { transport: "udp" }): DatagramSocket {
  const fn = (Deno as { listenDatagram?: typeof Deno.listenDatagram }).listenDatagram;
  if (typeof fn !== "function") {
    throw new Deno.errors.NotSupported(
      'Deno.listenDatagram is not available: run Deno with --unstable-net (or add "unstable": ["net"] to deno.json)',
    );
  }
  return fn(options);
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

async function resolveHost(hostname: string): Promise<string> {
  const host = unbracket(hostname);
  if (isIpLiteral(host)) return host;
  if (host === "localhost") return "127.0.0.1";
  for (const type of ["A", "AAAA"] as const) {
    try {
      const found = await Deno.resolveDns(host, type);
      if (found[0]) return found[0];
    } catch { /* try the next type */ }
  }
  throw new Deno.errors.NotFound(`Could not resolve ${hostname}`);
}

function addrKey(addr: Deno.Addr): string {
  const a = addr as Deno.NetAddr;
  return `${a.hostname.toLowerCase()}|${a.port}`;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}

/**
 * Connects to a DTLS server over UDP and completes the handshake before
 * resolving (so certificate errors come out of this call). Secure by
 * default, as `connectTls`: the server's certificate is verified against the
 * system store plus `caCerts`, its name is checked, and DTLS 1.2 is required.
 * Lost datagrams are recovered by retransmission on OpenSSL's DTLS timer.
 * Needs `--unstable-net` (for `Deno.listenDatagram`) unless `socket` is given.
 *
 * @param options Where to connect and how.
 * @returns The connection; close it when done (it closes its socket).
 * @throws {VerificationError} When the server's certificate is refused.
 * @throws {SSLError} When the handshake fails.
 * @throws {Deno.errors.TimedOut} When `handshakeTimeout` passed.
 * @throws {Deno.errors.NotSupported} Without `--unstable-net`.
 * @see {@link listenDtls} for an example with both ends.
 */
export async function connectDtls(options: ConnectDtlsOptions): Promise<DtlsConnection> {
  const { port } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError("port must be an integer from 1 to 65535");
  }
  const hostname = options.hostname ?? "127.0.0.1";
  const ip = await resolveHost(hostname);
  const remote: Deno.NetAddr = { transport: "udp", hostname: ip, port };

  const ctx = options.context ?? cachedContext(specOf("dtls-client", options));
  let socket: DatagramSocket | null = null;
  let conn: Connection | null = null;
  try {
    socket = options.socket ?? listenDatagram({
      transport: "udp",
      hostname: isLoopback(ip) ? ip : ip.includes(":") ? "::" : "0.0.0.0",
      port: 0,
    });
    conn = new Connection(ctx, null);
    conn.setConnectState();
    nameClient(conn, { ...options, hostname }, "connectDtls");
  } catch (e) {
    conn?.close();
    socket?.close();
    throw e;
  }
  _setPeerAddress(conn, remote);
  const sock = socket;
  let loop: Promise<void> = Promise.resolve();
  let dtlsConn: DtlsConnection;
  try {
    dtlsConn = new DtlsConnection(conn, {
      send: (d) => sock.send(d, remote),
      close: async () => {
        try {
          sock.close();
        } catch { /* already closed */ }
        await loop;
      },
      localAddr: sock.addr,
      remoteAddr: remote,
    }, withDeadline(options, DEFAULT_DTLS_CLIENT_HANDSHAKE_TIMEOUT));
  } catch (e) {
    conn.close();
    sock.close();
    throw e; // an option out of range
  }
  const key = addrKey(remote);
  let ended = false;
  loop = (async () => {
    const buffer = new Uint8Array(RECEIVE_BUFFER);
    for (;;) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await sock.receive(buffer);
      } catch (e) {
        if (!dtlsConn.closed && !ended) abort(dtlsConn, e);
        return;
      }
      if (addrKey(received[1]) === key) dtlsConn.deliver(received[0]);
    }
  })();
  // A session the server ended needs no socket: one left unclosed must not keep the process alive.
  onEnd(dtlsConn, () => {
    if (dtlsConn.closed) return; // close() closes the socket itself, after its close_notify
    ended = true;
    try {
      sock.close();
    } catch { /* already closed */ }
  });
  try {
    await dtlsConn.handshake();
  } catch (e) {
    await dtlsConn[Symbol.asyncDispose]();
    throw e;
  }
  return dtlsConn;
}

/** The options with their handshake deadline: `fallback` when unset, none for 0. */
function withDeadline<T extends { handshakeTimeout?: number }>(options: T, fallback: number): T {
  const { handshakeTimeout: _, ...rest } = options;
  const deadline = handshakeDeadline(options.handshakeTimeout, fallback);
  return (deadline === undefined ? rest : { ...rest, handshakeTimeout: deadline }) as T;
}

function serverContext(o: ListenDtlsOptions, secret: Uint8Array): Context {
  const ctx = buildContext(specOf("dtls-server", o));
  try {
    installDefaultCookies(ctx, secret);
    return ctx;
  } catch (e) {
    ctx.close();
    throw e;
  }
}

function cookieFor(secret: Uint8Array, conn: Connection): Uint8Array {
  const peer = dtlsPeerAddress(conn);
  const id = peer ? `${peer.hostname.toLowerCase()}|${peer.port}` : "unknown peer";
  return dtls.hmacSha256(secret, toBytes(id));
}

function installDefaultCookies(ctx: Context, secret: Uint8Array): void {
  ctx.setCookieGenerateCallback((conn) => cookieFor(secret, conn));
  ctx.setCookieVerifyCallback((conn, cookie) => {
    const expected = cookieFor(secret, conn);
    if (cookie.length !== expected.length) return false;
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff |= cookie[i]! ^ expected[i]!;
    return diff === 0;
  });
}

/**
 * A DTLS server on one UDP socket: it answers new clients statelessly with a
 * cookie (`DTLSv1_listen`, a HelloVerifyRequest per ClientHello without a
 * valid cookie), makes a {@link DtlsConnection} for each client that echoes
 * one, and routes every later datagram to the connection of its source
 * address. Made by {@link listenDtls}.
 *
 * The connections share the listener's socket: {@link close} stops taking
 * new clients at once; accepted connections go on, and the socket closes
 * once none of them is left going, that is closed or with its session
 * ended (the client's close_notify, a fatal alert, a failed handshake). So a
 * connection nobody closes does not keep the process alive once its client
 * closed it and the listener is closed; it still answers `receive()` with
 * null and its facts (`connection`, certificates) until it is closed.
 */
export class DtlsListener implements AsyncIterable<DtlsConnection>, AsyncDisposable, Disposable {
  readonly #socket: DatagramSocket;
  readonly #context: Context;
  readonly #ownsContext: boolean;
  readonly #options: ListenDtlsOptions;
  readonly #backlog: number;
  readonly #peers = new Map<string, DtlsConnection>();
  /** Peers whose session ended: they no longer need the socket. */
  readonly #ended = new WeakSet<DtlsConnection>();
  #queue: DtlsConnection[] = [];
  #accepting: { resolve: (c: DtlsConnection) => void; reject: (e: unknown) => void }[] = [];
  #listening: Connection | null = null;
  #closed = false;
  #socketClosed = false;
  #error: unknown = null;
  #loop: Promise<void>;

  /**
   * Serves DTLS on a socket. Prefer {@link listenDtls}.
   *
   * @param socket The socket; closed by the listener.
   * @param options Server options.
   * @throws {TypeError} When neither `cert`/`key` nor `context` is given, or
   *   `context` has no cookie callbacks and is already in use.
   */
  constructor(socket: DatagramSocket, options: ListenDtlsOptions) {
    const secret = options.cookieSecret ?? crypto.getRandomValues(new Uint8Array(32));
    if (!(secret instanceof Uint8Array) || secret.length < 16) {
      throw new TypeError("cookieSecret must be at least 16 bytes");
    }
    _checkTransportOptions(options);
    const backlog = options.backlog ?? DEFAULT_BACKLOG;
    if (!Number.isInteger(backlog) || backlog < 1) {
      throw new RangeError("backlog must be a positive integer");
    }
    if (options.context) {
      if (!dtls.hasCookieCallbacks(options.context)) {
        if (options.context.inUse) {
          throw new TypeError(
            "The context has no cookie callbacks and is already in use: set setCookieGenerateCallback and setCookieVerifyCallback first",
          );
        }
        installDefaultCookies(options.context, secret);
      }
      this.#context = options.context;
      this.#ownsContext = false;
    } else {
      this.#context = serverContext(options, secret);
      this.#ownsContext = true;
    }
    try {
      this.#listening = this.#listeningConnection();
      dtls.requireDtls(this.#listening._handle, "listenDtls");
    } catch (e) {
      this.#listening?.close();
      if (this.#ownsContext) this.#context.close();
      throw e;
    }
    this.#socket = socket;
    // Server helpers give every handshake a deadline, so a stalled client holds nothing for long.
    this.#options = withDeadline(options, DEFAULT_SERVER_HANDSHAKE_TIMEOUT);
    this.#backlog = backlog;
    this.#loop = this.#run();
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#socket.addr as Deno.NetAddr;
  }

  /** How many clients have a connection (accepted or waiting to be). */
  get connectionCount(): number {
    return this.#peers.size;
  }

  async #run(): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER);
    for (;;) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await this.#socket.receive(buffer);
      } catch (e) {
        if (!this.#socketClosed) this.#fail(e);
        return;
      }
      const [datagram, addr] = received;
      if (addr.transport !== "udp") continue;
      const key = addrKey(addr);
      const peer = this.#peers.get(key);
      if (peer) peer.deliver(datagram);
      else if (!this.#closed && this.#queue.length < this.#backlog) {
        try {
          this.#hello(addr, key, datagram);
        } catch (e) {
          this.#error = e; // for example a context closed under the listener
        }
      }
    }
  }

  /** A datagram from an unknown address: the stateless cookie exchange. */
  #hello(addr: Deno.NetAddr, key: string, datagram: Uint8Array): void {
    const conn = this.#listening ??= this.#listeningConnection();
    _setPeerAddress(conn, addr);
    let verified = false;
    try {
      conn.bioWrite(datagram);
      conn.dtlsListen();
      verified = true;
    } catch (e) {
      if (!(e instanceof WantReadError)) {
        // A broken ClientHello or a throwing cookie callback: drop it with this connection.
        this.#listening = null;
        conn.close();
        this.#error ??= e;
        return;
      }
    }
    for (const d of bioReadDatagrams(conn)) this.#socket.send(d, addr).catch(() => {});
    if (!verified) return;
    this.#listening = null;
    const socket = this.#socket;
    let dtlsConn: DtlsConnection;
    try {
      dtlsConn = new DtlsConnection(conn, {
        send: (d) => socket.send(d, addr),
        localAddr: socket.addr,
        remoteAddr: addr,
      }, this.#options);
    } catch (e) {
      conn.close();
      this.#error ??= e;
      return;
    }
    this.#peers.set(key, dtlsConn);
    onClose(dtlsConn, () => {
      if (this.#peers.get(key) === dtlsConn) this.#peers.delete(key);
      this.#queue = this.#queue.filter((c) => c !== dtlsConn);
      this.#maybeCloseSocket();
    });
    onEnd(dtlsConn, () => {
      this.#ended.add(dtlsConn);
      this.#maybeCloseSocket();
    });
    dtlsConn.handshake().catch(() => {}); // errors reach the connection's own calls
    const waiter = this.#accepting.shift();
    if (waiter) waiter.resolve(dtlsConn);
    else this.#queue.push(dtlsConn);
  }

  /** A fresh server connection for the stateless cookie exchange. */
  #listeningConnection(): Connection {
    const conn = new Connection(this.#context, null);
    conn.setAcceptState();
    return conn;
  }

  #fail(error: unknown): void {
    this.#error = error;
    this.close();
    for (const c of [...this.#peers.values()]) abort(c, error);
  }

  #maybeCloseSocket(): void {
    if (!this.#closed || this.#socketClosed) return;
    for (const c of this.#peers.values()) if (!this.#ended.has(c)) return;
    this.#socketClosed = true;
    try {
      this.#socket.close();
    } catch { /* already closed */ }
    if (this.#ownsContext) this.#context.close();
  }

  /**
   * Waits for the next client that passed the cookie exchange. Its
   * handshake is already under way: await `handshake()` to see its result.
   *
   * @returns The connection.
   * @throws {ClosedError} When the listener is closed.
   */
  accept(): Promise<DtlsConnection> {
    const next = this.#queue.shift();
    if (next) return Promise.resolve(next);
    if (this.#closed) return Promise.reject(this.#error ?? new ClosedError("DtlsListener"));
    return new Promise((resolve, reject) => this.#accepting.push({ resolve, reject }));
  }

  /**
   * The most recent error met while answering a client (a malformed
   * ClientHello, a throwing cookie callback); such clients are dropped and
   * the listener goes on.
   */
  get lastError(): unknown {
    return this.#error;
  }

  /**
   * Stops taking new clients: pending `accept` calls reject with
   * `ClosedError` and connections not yet accepted are closed. Accepted
   * connections go on; the socket closes when the last of them is closed or
   * its session has ended (see the class doc). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listening?.close();
    this.#listening = null;
    for (const w of this.#accepting.splice(0)) w.reject(new ClosedError("DtlsListener"));
    for (const c of this.#queue.splice(0)) c.close();
    this.#maybeCloseSocket();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes, and waits for the socket's receive loop to end once the socket closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    if (this.#socketClosed) await this.#loop;
  }

  /**
   * The clients, as {@link accept} gives them, until the listener is closed.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<DtlsConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }
}

/**
 * Listens for DTLS clients on a UDP port. Every client must first echo a
 * cookie bound to its address (an HMAC under `cookieSecret`, or your own
 * callbacks on `context`), so a spoofed source address gets one small
 * HelloVerifyRequest and no state. Needs `--unstable-net` (for
 * `Deno.listenDatagram`) unless `socket` is given.
 *
 * @param options Where to listen and how.
 * @returns The listener.
 * @throws {TypeError} When neither `cert`/`key` nor `context` is given.
 * @throws {Deno.errors.NotSupported} Without `--unstable-net`.
 * @example An echo server and a client
 * ```ts
 * import { connectDtls, listenDtls, TestCA } from "@denossl/denossl";
 * const ca = TestCA.create();
 * const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
 * await using listener = listenDtls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
 * const served = (async () => {
 *   await using conn = await listener.accept();
 *   const message = await conn.receive();
 *   if (message) await conn.send(message);
 * })();
 * await using client = await connectDtls({ port: listener.addr.port, caCerts: [ca.certPEM] });
 * await client.send("ping");
 * console.log(new TextDecoder().decode((await client.receive())!)); // "ping"
 * await served;
 * ca.close();
 * leaf.close();
 * ```
 */
export function listenDtls(options: ListenDtlsOptions): DtlsListener {
  const socket = options.socket ?? listenDatagram({
    transport: "udp",
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? 0,
  });
  try {
    return new DtlsListener(socket, options);
  } catch (e) {
    if (!options.socket) socket.close();
    throw e;
  }
}
