/**
 * A `node:net`/`node:tls`-compatible socket over a denossl connection, so that npm packages
 * (HTTP agents, WebSocket and database clients) and `node:http` servers can ride it:
 * {@link TlsSocket}, {@link toNodeSocket}, {@link connectTlsSocket}, {@link feedHttpServer}
 * and, for agents, {@link createConnection}.
 *
 * @module
 */

import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import type { EventEmitter } from "node:events";
import {
  connectTls,
  type ConnectTlsOptions,
  type TlsClientOptions,
  type TlsConnection,
  type TlsListener,
} from "./tls.ts";
import type { ConnectionBase } from "./connection.ts";
import { ClosedError, SysCallError } from "../errors/ssl_error.ts";
import { authorizationOf, nodeCertificate, type PeerCertificate } from "./_node_facts.ts";

export type { PeerCertificate } from "./_node_facts.ts";

/** Bytes asked of the connection per read, as Node's own socket reads. */
const READ_SIZE = 64 * 1024;

/**
 * Options of {@link TlsSocket}.
 *
 * @example
 * ```ts
 * import type { TlsSocketOptions } from "@denossl/denossl/node";
 * const options: TlsSocketOptions = { allowHalfOpen: true };
 * ```
 */
export interface TlsSocketOptions {
  /**
   * Keep the writable side open after the peer ended its side, as `net.Socket`'s option (a
   * `node:http` server wants it). Otherwise the socket ends its side too (close_notify and
   * a half-close) once the peer's data is read. @default {false}
   */
  allowHalfOpen?: boolean;
}

/** The negotiated cipher, as Node's `getCipher()` gives it. */
export interface CipherInfo {
  /** OpenSSL's name of the cipher, for example `"TLS_AES_256_GCM_SHA384"`. */
  name: string;
  /** The protocol version it first appeared in, for example `"TLSv1/SSLv3"` or `"TLSv1.3"`. */
  version: string;
}

function isUnexpectedEof(e: unknown): boolean {
  return e instanceof SysCallError && e.code === "UNEXPECTED_EOF";
}

/** Calls a transport method through the connection's passthrough, when the transport has it. */
function callTransport(conn: ConnectionBase, name: string, ...args: unknown[]): void {
  const fn = (conn as unknown as Record<string, unknown>)[name];
  if (typeof fn === "function") fn(...args);
}

/**
 * A `node:tls` `TLSSocket`-like `Duplex` over a denossl {@link Connection}: what npm packages
 * expect of a socket. Reads pull from the connection only while the stream wants data, and
 * `write()` returns false once 16 KiB wait for the connection, then emits `'drain'`, so a
 * slow peer holds back the writer instead of filling memory. `end()` sends close_notify and
 * half-closes TCP; `destroy()` closes at once.
 *
 * Events, as Node's: `'connect'`, `'ready'` and `'secureConnect'` when a client's handshake
 * is done, `'secure'` on a server's; `'timeout'` after {@link setTimeout}'s idle time;
 * `'error'` with denossl's typed errors (`VerificationError`, `SSLError`, `SysCallError` with
 * `code` `"ECONNRESET"` ...). A peer that closes TCP without close_notify ends the stream,
 * as Node's `tls` does; HTTP's own framing catches a truncated message.
 *
 * @example Serve `node:http` over denossl connections
 * ```ts
 * import http from "node:http";
 * import { listenTls, TestCA } from "@denossl/denossl";
 * import { connectTlsSocket, toNodeSocket } from "@denossl/denossl/node";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
 * const server = http.createServer((_req, res) => res.end("hello over denossl"));
 * (async () => {
 *   for await (const conn of listener) server.emit("connection", toNodeSocket(conn));
 * })();
 * const socket = connectTlsSocket({
 *   hostname: "127.0.0.1",
 *   serverName: "localhost",
 *   port: listener.addr.port,
 *   caCerts: [ca.certPEM],
 * });
 * socket.end("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
 * let text = "";
 * for await (const chunk of socket) text += chunk;
 * console.log(text.endsWith("hello over denossl")); // true
 * listener.close();
 * server.close();
 * ```
 */
export class TlsSocket extends Duplex {
  #conn: ConnectionBase | null = null;
  readonly #ready: Promise<ConnectionBase>;
  #reading = false;
  #buf: Uint8Array | null = null;
  #timeoutMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last = 0;
  #due = 0;
  #noDelay: boolean | undefined;
  #keepAlive: boolean | undefined;
  #refed = true;
  #authorization: { authorized: boolean; authorizationError: string | null } | null = null;

  /** Always true: this is a TLS socket (Node's `tlsSocket.encrypted`). */
  readonly encrypted = true;
  /** True until the handshake is done, as `net.Socket`'s. */
  connecting = true;
  /** The idle time set by {@link setTimeout}, in ms (undefined before). */
  timeout: number | undefined;
  /** Decrypted bytes received. */
  bytesRead = 0;
  /** Bytes handed to the connection to encrypt and send. */
  bytesWritten = 0;
  /** The ALPN protocol negotiated, or false (Node's `tlsSocket.alpnProtocol`). */
  alpnProtocol: string | false = false;
  /** The SNI name: the one a server was asked for, the one a client sent; false when none. */
  servername: string | false = false;

  /**
   * Wraps a connection. The handshake runs (or is awaited) first; reads and writes wait for
   * it. Prefer {@link toNodeSocket} or {@link connectTlsSocket}.
   *
   * @param conn A denossl connection over a transport, or a promise of one (a socket handed
   *   out before it connects, as `tls.connect` does).
   * @param options Socket options.
   */
  constructor(conn: ConnectionBase | Promise<ConnectionBase>, options: TlsSocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen === true, decodeStrings: true });
    if (!(conn instanceof Promise)) this.#conn = conn;
    this.#ready = Promise.resolve(conn).then(async (c) => {
      this.#conn = c;
      if (this.destroyed) {
        c.close();
        return c;
      }
      await c.handshake();
      return c;
    });
    this.#ready.then((c) => this.#onReady(c), (e) => {
      if (!this.destroyed) this.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  }

  #onReady(conn: ConnectionBase): void {
    if (this.destroyed) return;
    this.connecting = false;
    if (this.#noDelay !== undefined) callTransport(conn, "setNoDelay", this.#noDelay);
    if (this.#keepAlive !== undefined) callTransport(conn, "setKeepAlive", this.#keepAlive);
    if (!this.#refed) conn.unref();
    this.alpnProtocol = conn.getAlpnProtoNegotiated() ?? false;
    this.servername = conn.getServername() ?? false;
    if (conn.isServer()) {
      this.emit("secure");
    } else {
      this.emit("connect");
      this.emit("ready");
      this.emit("secureConnect");
    }
  }

  /** The denossl connection under this socket, once known (for everything Node has no name for). */
  get connection(): ConnectionBase | null {
    return this.#conn;
  }

  /** True until the handshake is done (`net.Socket`'s `pending`). */
  get pending(): boolean {
    return this.connecting;
  }

  // ---- stream internals ----------------------------------------------------------------------

  /** Starts one read of the connection, unless one is under way. Internal (Node's stream API). */
  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    if (this.#conn !== null && !this.connecting) this.#pull(this.#conn);
    else this.#ready.then((c) => this.#pull(c), () => {});
  }

  #pull(conn: ConnectionBase): void {
    const buf = this.#buf ??= new Uint8Array(READ_SIZE);
    conn.read(buf).then((n) => {
      this.#reading = false;
      if (this.destroyed) return;
      if (n === null) {
        this.push(null);
        return;
      }
      this.#touch();
      this.bytesRead += n;
      this.push(Buffer.from(buf.subarray(0, n)));
    }, (e) => {
      this.#reading = false;
      if (this.destroyed) return;
      if (isUnexpectedEof(e)) this.push(null);
      else this.destroy(e);
    });
  }

  /** Encrypts and sends one chunk. Internal (Node's stream API). */
  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(chunk, callback);
  }

  /** Encrypts and sends queued chunks as one write. Internal (Node's stream API). */
  override _writev(
    chunks: { chunk: Uint8Array }[],
    callback: (error?: Error | null) => void,
  ): void {
    if (chunks.length === 1) return this.#send(chunks[0]!.chunk, callback);
    this.#send(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  #send(data: Uint8Array, callback: (error?: Error | null) => void): void {
    const go = (conn: ConnectionBase): void => {
      conn.write(data).then(() => {
        this.bytesWritten += data.length;
        this.#touch();
        callback();
      }, (e) => callback(e));
    };
    if (this.#conn !== null && !this.connecting) go(this.#conn);
    else this.#ready.then(go, (e) => callback(e));
  }

  /** Sends close_notify and half-closes the transport. Internal (Node's stream API). */
  override _final(callback: (error?: Error | null) => void): void {
    this.#ready.then((c) => c.closeWrite()).then(() => callback(), (e) => {
      callback(e instanceof ClosedError || isUnexpectedEof(e) ? null : e);
    });
  }

  /** Closes the connection. Internal (Node's stream API). */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timeoutMs = 0;
    this.#conn?.close();
    callback(error);
  }

  // ---- net.Socket's knobs --------------------------------------------------------------------

  /**
   * Emits `'timeout'` after `ms` without reads or writes, as `net.Socket`'s (the socket is
   * not closed: a listener decides). `0` turns it off.
   *
   * @param ms Idle time in ms.
   * @param callback Added as a one-time `'timeout'` listener (removed when `ms` is 0).
   * @returns This socket.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`setTimeout: ms must be a finite number >= 0: got ${ms}`);
    }
    this.#timeoutMs = ms;
    this.timeout = ms;
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    if (ms > 0) {
      const now = performance.now();
      this.#last = now;
      // node:http sets and clears a timeout per request: keep a timer that fires early enough.
      if (this.#timer !== undefined && this.#due <= now + ms) return this;
      clearTimeout(this.#timer);
      this.#arm(ms);
    }
    return this;
  }

  #arm(delay: number): void {
    this.#due = performance.now() + delay;
    const timer = this.#timer = setTimeout(() => this.#onTimer(), delay);
    Deno.unrefTimer(timer); // as Node's socket timeouts: they never keep a process alive
  }

  #onTimer(): void {
    this.#timer = undefined;
    const ms = this.#timeoutMs;
    if (ms === 0 || this.destroyed) return;
    const idle = performance.now() - this.#last;
    if (idle < ms) return this.#arm(ms - idle);
    this.emit("timeout"); // re-armed by the next read or write
  }

  #touch(): void {
    if (this.#timeoutMs === 0) return;
    this.#last = performance.now();
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  /**
   * Turns Nagle's algorithm off (or on) on the TCP transport, when there is one.
   *
   * @param noDelay True to send small writes at once. @default {true}
   * @returns This socket.
   */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#conn !== null && !this.connecting) callTransport(this.#conn, "setNoDelay", noDelay);
    return this;
  }

  /**
   * Turns TCP keep-alive on or off on the transport, when there is one. Deno sets no initial
   * delay: the system's is used.
   *
   * @param enable Whether to send keep-alive probes. @default {false}
   * @param _initialDelay Ignored (Deno has no knob for it).
   * @returns This socket.
   */
  setKeepAlive(enable = false, _initialDelay?: number): this {
    this.#keepAlive = enable;
    if (this.#conn !== null && !this.connecting) callTransport(this.#conn, "setKeepAlive", enable);
    return this;
  }

  /**
   * Lets the socket keep the event loop alive (the default).
   *
   * @returns This socket.
   */
  ref(): this {
    this.#refed = true;
    if (this.#conn !== null && !this.#conn.closed) this.#conn.ref();
    return this;
  }

  /**
   * Stops the socket from keeping the event loop alive.
   *
   * @returns This socket.
   */
  unref(): this {
    this.#refed = false;
    if (this.#conn !== null && !this.#conn.closed) this.#conn.unref();
    return this;
  }

  /**
   * The local address, as `net.Socket.address()`.
   *
   * @returns Address, family and port, or an empty object before the socket connected.
   */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const a = this.#netAddr("localAddr");
    return a ? { address: a.hostname, family: familyOf(a.hostname), port: a.port } : {};
  }

  /** The peer's IP address, as `net.Socket`'s (undefined before the socket connected). */
  get remoteAddress(): string | undefined {
    return this.#netAddr("remoteAddr")?.hostname;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.#netAddr("remoteAddr")?.port;
  }

  /** `"IPv4"` or `"IPv6"`. */
  get remoteFamily(): string | undefined {
    const a = this.#netAddr("remoteAddr");
    return a ? familyOf(a.hostname) : undefined;
  }

  /** The local IP address. */
  get localAddress(): string | undefined {
    return this.#netAddr("localAddr")?.hostname;
  }

  /** The local port. */
  get localPort(): number | undefined {
    return this.#netAddr("localAddr")?.port;
  }

  /** `"opening"`, `"open"`, `"readOnly"`, `"writeOnly"` or `"closed"`, as `net.Socket`'s. */
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  #netAddr(key: "localAddr" | "remoteAddr"): Deno.NetAddr | undefined {
    const conn = this.#conn;
    if (conn === null || conn.closed) return undefined;
    const a = conn[key] as Deno.Addr;
    return a.transport === "tcp" || a.transport === "udp" ? a : undefined;
  }

  // ---- tls.TLSSocket's facts -----------------------------------------------------------------

  #authorizationFacts(): { authorized: boolean; authorizationError: string | null } {
    if (this.#authorization) return this.#authorization;
    const conn = this.#conn;
    if (conn === null || this.connecting || conn.closed) {
      return { authorized: false, authorizationError: null };
    }
    const cert = conn.getPeerCertificate();
    cert?.close();
    return this.#authorization = authorizationOf(conn, cert !== null);
  }

  /**
   * Whether the peer sent a certificate that verified, as Node's `tlsSocket.authorized`.
   * A refused certificate fails the handshake (as Node's `rejectUnauthorized`), so this is
   * false only when the peer sent none or verification was turned off.
   */
  get authorized(): boolean {
    return this.#authorizationFacts().authorized;
  }

  /** Why the peer is not {@link authorized} (OpenSSL's verification text), or null. */
  get authorizationError(): string | null {
    return this.#authorizationFacts().authorizationError;
  }

  /**
   * The peer's certificate, described as Node's `getPeerCertificate()` does.
   *
   * @returns The description, or an empty object when the peer sent none (as Node).
   */
  getPeerCertificate(): PeerCertificate | Record<string, never> {
    const cert = this.#conn !== null && !this.connecting && !this.#conn.closed
      ? this.#conn.getPeerCertificate()
      : null;
    if (cert === null) return {};
    try {
      return nodeCertificate(cert);
    } finally {
      cert.close();
    }
  }

  /**
   * The negotiated protocol version, as Node's `getProtocol()`.
   *
   * @returns `"TLSv1.3"`, `"TLSv1.2"` ..., or null before the handshake.
   */
  getProtocol(): string | null {
    const conn = this.#conn;
    return conn === null || this.connecting || conn.closed ? null : conn.getProtocolVersionName();
  }

  /**
   * The negotiated cipher, as Node's `getCipher()`.
   *
   * @returns Its name and version, or null before the handshake.
   */
  getCipher(): CipherInfo | null {
    const conn = this.#conn;
    if (conn === null || this.connecting || conn.closed) return null;
    const name = conn.getCipherName();
    return name === null ? null : { name, version: conn.getCipherVersion() ?? "" };
  }

  /**
   * Whether the session was resumed, as Node's `isSessionReused()`.
   *
   * @returns True when an earlier session was resumed.
   */
  isSessionReused(): boolean {
    const conn = this.#conn;
    return conn !== null && !this.connecting && !conn.closed && conn.sessionReused();
  }

  /**
   * Keying material (RFC 5705), with Node's argument order.
   *
   * @param length How many bytes.
   * @param label The label.
   * @param context Optional context bytes.
   * @returns The bytes.
   * @throws {ClosedError} When the socket is not connected.
   */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer {
    const conn = this.#conn;
    if (conn === null || this.connecting) throw new ClosedError("TlsSocket (not connected)");
    return Buffer.from(conn.exportKeyingMaterial(label, length, context));
  }
}

function familyOf(hostname: string): string {
  return hostname.includes(":") ? "IPv6" : "IPv4";
}

/**
 * Wraps a denossl connection as a `node:net`-compatible socket ({@link TlsSocket}), to hand to
 * an npm package or to a `node:http` server (`server.emit("connection", socket)`).
 *
 * @param conn The connection (its handshake is run or awaited), or a promise of one.
 * @param options Socket options.
 * @returns The socket.
 * @example Hand a connection to a `node:http` server
 * ```ts
 * import http from "node:http";
 * import { listenTls, TestCA } from "@denossl/denossl";
 * import { toNodeSocket } from "@denossl/denossl/node";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using listener = listenTls({ port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
 * const server = http.createServer((_req, res) => res.end("hi"));
 * const accepting = listener.accept().then((conn) => {
 *   server.emit("connection", toNodeSocket(conn, { allowHalfOpen: true }));
 * });
 * listener.close();
 * await accepting.catch(() => {}); // closed before any client came
 * ```
 */
export function toNodeSocket(
  conn: ConnectionBase | Promise<ConnectionBase>,
  options: TlsSocketOptions = {},
): TlsSocket {
  return new TlsSocket(conn, options);
}

/**
 * Connects to a TLS server with denossl and returns the socket at once, as Node's
 * `tls.connect()` does: writes wait for the handshake, `'secureConnect'` tells it is done,
 * and a failure is an `'error'` event.
 *
 * @param options {@link connectTls}'s options (the secure defaults apply).
 * @param onSecureConnect Added as a one-time `'secureConnect'` listener.
 * @returns The socket.
 * @example
 * ```ts ignore
 * import { connectTlsSocket } from "@denossl/denossl/node";
 * const socket = connectTlsSocket({ hostname: "example.com", port: 443 }, () => {
 *   console.log(socket.getProtocol(), socket.authorized);
 *   socket.end();
 * });
 * ```
 */
export function connectTlsSocket(
  options: ConnectTlsOptions,
  onSecureConnect?: () => void,
): TlsSocket {
  const socket = new TlsSocket(connectTls(options));
  if (onSecureConnect) socket.once("secureConnect", onSecureConnect);
  return socket;
}

/**
 * What a Node agent passes to `createConnection` (the fields read here).
 */
export interface NodeConnectionOptions {
  /** The host to connect to. */
  host?: string | null;
  /** The port. */
  port?: number | string | null;
  /** The name to send as SNI and check, when the agent knows one. */
  servername?: string | null;
}

/**
 * A `createConnection` for `node:https` agents and requests (and npm clients that take
 * one, such as `ws`): each connection is made by denossl with these TLS options, to the
 * host and port the request names. The host name is checked (the request's `servername`,
 * else its host) unless the options say otherwise.
 *
 * @param tls denossl's client options: `caCerts`, `cert`/`key`, `context` (for a custom
 *   verify callback), `alpnProtocols` ...
 * @returns The function to set as an agent's `createConnection`.
 * @example An `https.Agent` whose connections are denossl's
 * ```ts ignore
 * import https from "node:https";
 * import { createConnection } from "@denossl/denossl/node";
 * const agent = new https.Agent({ keepAlive: true });
 * agent.createConnection = createConnection({ caCerts: [Deno.readTextFileSync("ca.pem")] });
 * https.get("https://localhost:8443/", { agent }, (res) => res.pipe(process.stdout));
 * ```
 */
export function createConnection(
  tls: TlsClientOptions = {},
): (options: NodeConnectionOptions) => TlsSocket {
  return (options) => {
    const port = Number(options.port ?? 443);
    const hostname = tls.hostname ?? options.host ?? "localhost";
    const serverName = tls.serverName ?? (options.servername || undefined);
    return connectTlsSocket({
      ...tls,
      hostname,
      port,
      ...(serverName === undefined ? {} : { serverName }),
    });
  };
}

/**
 * Options of {@link feedHttpServer}.
 *
 * @example
 * ```ts
 * import type { FeedHttpServerOptions } from "@denossl/denossl/node";
 * const options: FeedHttpServerOptions = { onHandshakeError: (e) => console.error(e) };
 * ```
 */
export interface FeedHttpServerOptions {
  /** Told about a client whose handshake failed; it never reaches the server. */
  onHandshakeError?: (error: unknown, remoteAddr: Deno.NetAddr) => void;
}

/**
 * Feeds the connections of a denossl {@link TlsListener} to a `node:http` (or `node:https`,
 * Express, Koa ...) server, as if it listened itself: each client's handshake runs first (a
 * refused client never reaches HTTP), then its {@link TlsSocket} is emitted as the server's
 * `'connection'`. While it feeds, the server counts as listening (`server.listening`), which
 * Deno's `node:http` needs to keep connections alive between requests.
 *
 * @param server The server; it must not `listen()` itself.
 * @param listener Where the connections come from (`listenTls`'s options set the TLS policy).
 * @param options Callbacks.
 * @returns Settles once the listener is closed and every handshake under way has settled.
 * @example
 * ```ts
 * import http from "node:http";
 * import { listenTls, TestCA } from "@denossl/denossl";
 * import { feedHttpServer } from "@denossl/denossl/node";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
 * const server = http.createServer((_req, res) => res.end("hello"));
 * const fed = feedHttpServer(server, listener);
 * using client = Deno.createHttpClient({ caCerts: [ca.certPEM] });
 * const res = await fetch(`https://localhost:${listener.addr.port}/`, { client });
 * console.log(await res.text()); // "hello"
 * listener.close();
 * await fed;
 * server.closeAllConnections();
 * ```
 */
export async function feedHttpServer(
  server: EventEmitter & { listening: boolean },
  listener: TlsListener,
  options: FeedHttpServerOptions = {},
): Promise<void> {
  let feeding = true;
  // Deno's node:http closes a connection after each response when its server is not listening.
  Object.defineProperty(server, "listening", { configurable: true, get: () => feeding });
  const handshakes = new Set<Promise<void>>();
  const admit = (conn: TlsConnection): void => {
    const remoteAddr = conn.remoteAddr;
    const done = conn.handshake().then(() => {
      if (!feeding) return conn.close();
      // Node's http.Server turns Nagle off on its connections (its noDelay option); Deno's does not.
      const socket = new TlsSocket(conn, { allowHalfOpen: true }).setNoDelay(true);
      server.emit("connection", socket);
    }, (e) => {
      conn.close();
      try {
        options.onHandshakeError?.(e, remoteAddr);
      } catch (err) {
        console.error("Error in onHandshakeError:", err);
      }
    }).finally(() => handshakes.delete(done));
    handshakes.add(done);
  };
  try {
    for await (const conn of listener) admit(conn);
  } finally {
    feeding = false;
    await Promise.all(handshakes);
  }
}
