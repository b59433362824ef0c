/**
 * `Connection`: OpenSSL's `SSL` with pyOpenSSL's synchronous API and Deno's async `Deno.TlsConn`
 * face, composed of an SSL core, a wire (stream or native) and the pump that drives them.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { toBytes } from "../ffi/memory.ts";
import { OK, outcomeError, WANT_READ } from "../errors/raise.ts";
import type { Context } from "./context.ts";
import { ConnectionInfo } from "./info.ts";
import { ConnectionExtras } from "./extras.ts";
import { toPipe } from "./transport.ts";
import type {
  AddrOf,
  ConnectionConstructor,
  ConnectionOptions,
  FdTransport,
  KtlsStatus,
  Transport,
  TransportMembers,
  TransportMode,
} from "./transport.ts";
import { closeNativeFd, resolveNative } from "./_native.ts";
import type { NativeEndpoint } from "./_native.ts";
import { isDenoTcpConn } from "./_direct.ts";
import * as dtls from "./_dtls.ts";
import { SslCore } from "./_core.ts";
import { MemoryBios } from "./_memory.ts";
import { addrOf, callOn, installPassthrough } from "./_passthrough.ts";
import { StreamWire } from "./_stream_wire.ts";
import { NativeWire } from "./_native_wire.ts";
import type { HandshakeInfo } from "./types.ts";
import { ktlsStatus, requestKtls } from "./_ktls.ts";
import { Pump, readableOf, writableOf } from "./_pump.ts";

export type { ConnectionConstructor, HandshakeInfo };

/** `MSG_PEEK`: with {@link Connection.recv}, read without consuming. */
export const MSG_PEEK = 2;

/**
 * A TLS connection (OpenSSL's `SSL`). With a `null` transport it runs over
 * two memory BIOs: you move ciphertext with {@link bioRead} and
 * {@link bioWrite}, exactly as with pyOpenSSL's `Connection(ctx, None)`.
 *
 * The synchronous methods (`doHandshake`, `recv`, `send`, `shutdown`, ...)
 * never wait: when OpenSSL needs more data they throw `WantReadError`, as
 * pyOpenSSL does over a non-blocking socket.
 *
 * @example A handshake in memory
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD, WantReadError } from "@denossl/denossl";
 * const ca = TestCA.create();
 * const leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificate(leaf.certPEM);
 * serverCtx.usePrivateKey(leaf.keyPEM);
 * using clientCtx = new Context(TLS_METHOD);
 * using server = new Connection(serverCtx, null);
 * using client = new Connection(clientCtx, null);
 * server.setAcceptState();
 * client.setConnectState();
 * for (let i = 0; i < 10; i++) {
 *   for (const [from, to] of [[client, server], [server, client]] as const) {
 *     try { from.doHandshake(); } catch (e) { if (!(e instanceof WantReadError)) throw e; }
 *     try { to.bioWrite(from.bioRead(65536)); } catch (e) { if (!(e instanceof WantReadError)) throw e; }
 *   }
 * }
 * client.send("hello");
 * server.bioWrite(client.bioRead(65536));
 * console.log(new TextDecoder().decode(server.recv(1024))); // "hello"
 * ca.close();
 * leaf.close();
 * ```
 */
export class ConnectionBase<T extends Transport = Transport> extends ConnectionExtras {
  readonly #core: SslCore;
  readonly #transport: T;
  /** Memory mode's BIOs (null over a transport: the wire owns the BIOs then). */
  #bios: MemoryBios | null = null;
  /** Over a transport: the async face's loops (null in memory mode). */
  #pump: Pump | null = null;
  #nativeFallback: string | null = null;
  #roleSet = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  /**
   * Creates a connection from a context.
   *
   * @param context The configuration to use; it can no longer be changed afterwards.
   * @param transport `null` for memory BIOs (you move ciphertext with
   *   `bioRead`/`bioWrite`), or a stream transport that the connection pumps
   *   itself: any object with `read(p)`/`write(p)` (a `Deno.Conn`, a
   *   `Deno.TlsConn`, your own), `{ reader, writer }`, or
   *   `{ readable, writable }`; or, for native mode (OpenSSL reads and
   *   writes the socket itself), an object with a numeric `fd` or a
   *   `fileno()` method.
   * @param options `native: true` asks for native mode on a `Deno.TcpConn` or
   *   `Deno.UnixConn`; when it cannot be had the connection falls back to
   *   stream mode and {@link nativeFallbackReason} says why.
   * @throws {TypeError} When the arguments are of the wrong type, or `fd` is
   *   not a stream socket.
   * @throws {RangeError} When `fd` is negative or not an integer.
   * @throws {Deno.errors.BadResource} When `fd` is not an open descriptor.
   * @throws {SSLError} When OpenSSL cannot create the connection.
   */
  constructor(context: Context, transport: T = null as T, options: ConnectionOptions = {}) {
    super(context);
    const hasTransport = transport !== null && transport !== undefined;
    const found = !hasTransport ? null : transport instanceof ConnectionBase
      // TLS inside TLS: the outer connection must encrypt these bytes, so it stays a stream.
      ? (options.native === true
        ? { reason: "the transport is a TLS connection, whose descriptor carries its own TLS" }
        : null)
      : resolveNative(transport, options.native === true);
    const endpoint: NativeEndpoint | null = found !== null && "fd" in found ? found : null;
    let core: SslCore | null = null;
    try {
      const pipe = !hasTransport || endpoint !== null
        ? null
        // A denossl connection settles a pending read when it closes, as Deno's sockets do.
        : toPipe(
          transport as Exclude<Transport, null | FdTransport>,
          transport instanceof ConnectionBase,
        );
      core = new SslCore(context._handle, this);
      context._markUsed();
      if (hasTransport && native().ssl.SSL_is_dtls(core.handle) === 1) {
        throw new TypeError(
          "A DTLS context needs datagrams, not a stream: use new Connection(ctx, null) with " +
            "DtlsConnection, or connectDtls/listenDtls",
        );
      }
      if (endpoint !== null) {
        if (options.ktls === true) requestKtls(core.handle);
        this.#pump = new Pump(core, new NativeWire(core, endpoint, this), this);
      } else if (pipe !== null) {
        const direct = options.directWrites !== false && isDenoTcpConn(transport as object)
          ? transport as Deno.TcpConn
          : null;
        this.#pump = new Pump(core, new StreamWire(core, pipe, this, direct), this);
      } else {
        this.#bios = new MemoryBios(core.handle);
      }
    } catch (e) {
      core?.close();
      if (endpoint !== null && this.#pump === null) closeNativeFd(endpoint);
      throw e;
    }
    this.#core = core!;
    this.#transport = transport;
    if (found !== null && "reason" in found) this.#nativeFallback = found.reason;
  }

  /** The `SSL*`, for denossl's own use. Throws when closed. */
  get _handle(): Deno.PointerObject {
    return this.#core.handle;
  }

  /** @ignore The async face's loops over a transport (null in memory mode), for early data. Internal. */
  get _pump(): Pump | null {
    return this.#pump;
  }

  /** Our duplicate of the socket that flushes now go straight to (see _direct.ts), or -1. Internal, for tests. */
  get _directFd(): number {
    const wire = this.#pump?.wire;
    return wire instanceof StreamWire ? wire.directFd : -1;
  }

  #memory(): MemoryBios {
    this.#core.handle;
    const memory = this.#bios;
    if (memory === null) {
      throw new TypeError(
        "This connection's transport moves its ciphertext: bioRead/bioWrite are for memory BIOs",
      );
    }
    return memory;
  }

  /** The transport given to the constructor (null in memory mode). Internal. */
  get _transport(): T {
    return this.#transport;
  }

  /** The objects passthrough lookups go to (the transport, or the reader then the writer). Internal. */
  get _passthroughTargets(): readonly object[] {
    return this.#pump?.wire.targets ?? [];
  }

  /**
   * How ciphertext moves: `"memory"` (you move it with `bioRead`/`bioWrite`),
   * `"stream"` (pumped to and from the transport) or `"native"` (OpenSSL
   * reads and writes the socket itself).
   */
  get transportMode(): TransportMode {
    const wire = this.#pump?.wire;
    return wire === undefined ? "memory" : wire instanceof NativeWire ? "native" : "stream";
  }

  /** Why native mode was asked for and not used (the connection runs in stream mode), or null. */
  get nativeFallbackReason(): string | null {
    return this.#nativeFallback;
  }

  /**
   * Whether the kernel encrypts and decrypts this connection's records
   * (kTLS, asked for with `{ native: true, ktls: true }`), per direction,
   * and if not, why: stream mode, not requested, the kernel's `tls` module
   * missing, or OpenSSL declining the negotiated cipher or version.
   * Meaningful once the handshake is done.
   */
  get ktls(): KtlsStatus {
    return ktlsStatus(this.#core.handle, this.transportMode, this.#nativeFallback);
  }

  /**
   * The descriptor OpenSSL reads and writes, in native mode (our duplicate of
   * the transport's).
   *
   * @returns The descriptor.
   * @throws {TypeError} In memory or stream mode.
   */
  fileno(): number {
    this.#core.handle;
    const wire = this.#pump?.wire;
    const fd = wire instanceof NativeWire ? wire.fd : -1;
    if (fd < 0) throw new TypeError(`A connection in ${this.transportMode} mode has no descriptor`);
    return fd;
  }

  // ---- state -----------------------------------------------------------------------------

  /** Makes this side the client (`SSL_set_connect_state`); call before the handshake. */
  setConnectState(): void {
    native().ssl.SSL_set_connect_state(this.#core.handle);
    this.#roleSet = true;
  }

  /** Makes this side the server (`SSL_set_accept_state`); call before the handshake. */
  setAcceptState(): void {
    native().ssl.SSL_set_accept_state(this.#core.handle);
    this.#roleSet = true;
  }

  // ---- synchronous I/O -------------------------------------------------------------------

  /**
   * Runs the handshake as far as it can go (`SSL_do_handshake`).
   *
   * @throws {WantReadError} When it needs data from the peer.
   * @throws {VerificationError} When the peer's certificate is refused.
   * @throws {SSLError} On any other failure; what a callback threw, as thrown.
   */
  doHandshake(): void {
    const outcome = this.#core.handshake();
    if (outcome !== OK) throw outcomeError(outcome);
  }

  /**
   * Runs the handshake as far as it can go, like {@link doHandshake}, but
   * says "needs data from the peer" by returning `false` instead of throwing
   * `WantReadError`. For loops that move ciphertext between memory BIOs
   * themselves: constructing an `Error` costs microseconds in Deno, several
   * times per handshake. Every other outcome is as in {@link doHandshake}.
   *
   * @returns `true` when the handshake is complete, `false` when it needs
   *   data from the peer (feed it with {@link bioWrite} and call again).
   * @throws {VerificationError} When the peer's certificate is refused.
   * @throws {SSLError} On any other failure; what a callback threw, as thrown.
   * @see {@link ConnectionInfo} for a handshake loop built on it.
   */
  tryHandshake(): boolean {
    const outcome = this.#core.handshake();
    if (outcome === OK) return true;
    if (outcome === WANT_READ) return false;
    throw outcomeError(outcome);
  }

  /**
   * Reads up to `bufsize` bytes of plaintext (`SSL_read_ex`).
   *
   * @param bufsize The most to read.
   * @param flags `MSG_PEEK` to leave the data in place.
   * @returns The bytes read (at least one).
   * @throws {WantReadError} When no data is buffered.
   * @throws {ZeroReturnError} When the peer closed cleanly.
   * @throws {SysCallError} When the peer vanished without close_notify.
   */
  recv(bufsize: number, flags = 0): Uint8Array {
    if (!Number.isInteger(bufsize) || bufsize <= 0) {
      throw new RangeError("bufsize must be a positive integer");
    }
    const buf = new Uint8Array(bufsize);
    const n = this.recvInto(buf, bufsize, flags);
    return n === bufsize ? buf : buf.slice(0, n);
  }

  /**
   * Reads plaintext into a buffer (`SSL_read_ex`).
   *
   * @param buffer Where to put the bytes.
   * @param nbytes The most to read; defaults to the buffer's length.
   * @param flags `MSG_PEEK` to leave the data in place.
   * @returns How many bytes were read.
   * @throws {WantReadError} When no data is buffered.
   * @throws {ZeroReturnError} When the peer closed cleanly.
   */
  recvInto(buffer: Uint8Array, nbytes?: number, flags = 0): number {
    const core = this.#core;
    core.drive();
    if (!(buffer instanceof Uint8Array)) throw new TypeError("buffer must be a Uint8Array");
    const n = nbytes ?? buffer.length;
    if (!Number.isInteger(n) || n < 0 || n > buffer.length) {
      throw new RangeError(`nbytes must be an integer from 0 to ${buffer.length}`);
    }
    const outcome = (flags & MSG_PEEK) ? core.peek(buffer, n) : core.read(buffer, n);
    if (outcome !== OK) throw outcomeError(outcome);
    return core.count;
  }

  /**
   * Writes plaintext (`SSL_write_ex`). Like pyOpenSSL's `send`, it may write
   * only part of the data (one or more records): it returns how much; call
   * again with the rest, or use {@link sendall}.
   *
   * @param data Bytes or text.
   * @returns How many bytes were written.
   * @throws {WantWriteError} When the transport must drain first.
   * @throws {SSLError} On failure.
   */
  send(data: string | Uint8Array): number {
    const core = this.#core;
    core.drive();
    const bytes = toBytes(data);
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("data must be a string or a Uint8Array");
    }
    if (bytes.length === 0) return 0;
    const outcome = core.write(bytes);
    if (outcome !== OK) throw outcomeError(outcome);
    return core.count;
  }

  /**
   * Writes all the data, record by record. Over memory BIOs nothing blocks,
   * so it always finishes; drain {@link bioRead} afterwards.
   *
   * @param data Bytes or text.
   * @returns The number of bytes written.
   */
  sendall(data: string | Uint8Array): number {
    const bytes = toBytes(data);
    let offset = 0;
    while (offset < bytes.length) offset += this.send(bytes.subarray(offset));
    return offset;
  }

  /**
   * Sends close_notify (`SSL_shutdown`).
   *
   * @returns False after the first half (our close_notify sent), true once
   *   the peer's close_notify was also received.
   * @throws {WantReadError} / {@link WantWriteError} When it cannot go on yet.
   */
  shutdown(): boolean {
    const outcome = this.#core.shutdown();
    if (outcome !== OK) throw outcomeError(outcome);
    return this.#core.shutdownComplete;
  }

  /**
   * The shutdown flags (`SSL_get_shutdown`).
   *
   * @returns `SENT_SHUTDOWN` and/or `RECEIVED_SHUTDOWN` bits.
   */
  getShutdown(): number {
    return native().ssl.SSL_get_shutdown(this._handle);
  }

  /**
   * Sets the shutdown flags (`SSL_set_shutdown`), for example to skip
   * close_notify on an already broken connection.
   *
   * @param state `SENT_SHUTDOWN` and/or `RECEIVED_SHUTDOWN` bits.
   */
  setShutdown(state: number): void {
    const ssl = this._handle;
    if (!Number.isInteger(state) || state < 0 || state > 3) {
      throw new RangeError("state must be a combination of SENT_SHUTDOWN and RECEIVED_SHUTDOWN");
    }
    native().ssl.SSL_set_shutdown(ssl, state);
  }

  // ---- memory BIOs ---------------------------------------------------------------------

  /**
   * Takes up to `bufsize` bytes of ciphertext that OpenSSL wants sent to the peer.
   *
   * @param bufsize The most to take.
   * @returns The bytes (at least one).
   * @throws {WantReadError} When there is nothing to send.
   */
  bioRead(bufsize: number): Uint8Array {
    return this.#memory().read(bufsize);
  }

  /**
   * Takes ciphertext that OpenSSL wants sent to the peer into a buffer you
   * own: {@link bioRead} without the allocation, for tight loops.
   *
   * @param buffer Where to put the bytes.
   * @param nbytes The most to take; defaults to the buffer's length.
   * @returns How many bytes were taken (at least one).
   * @throws {WantReadError} When there is nothing to send.
   * @throws {RangeError} When `nbytes` is out of range.
   */
  bioReadInto(buffer: Uint8Array, nbytes?: number): number {
    return this.#memory().readInto(buffer, nbytes);
  }

  /**
   * How many bytes of ciphertext wait to be sent to the peer
   * (`BIO_ctrl_pending` on the outgoing memory BIO). A pump can test this
   * instead of catching {@link WantReadError} from {@link bioRead}, as a C
   * loop does: in Deno, constructing any `Error` costs microseconds.
   *
   * @returns The byte count; 0 when there is nothing to send.
   * @throws {TypeError} When the connection has a transport (not memory mode).
   */
  bioPending(): number {
    return this.#memory().pending();
  }

  /**
   * Hands ciphertext received from the peer to OpenSSL.
   *
   * @param data The bytes.
   * @returns How many bytes were taken (all of them).
   */
  bioWrite(data: string | Uint8Array): number {
    return this.#memory().write(data);
  }

  /**
   * Marks the end of the peer's ciphertext: reads past what was written then
   * see end of file instead of "want read". A peer that stopped without
   * close_notify then surfaces as `SysCallError` (errno -1, "Unexpected EOF").
   */
  bioShutdown(): void {
    this.#memory().shutdown();
  }

  /**
   * Listens statelessly for a DTLS client (`DTLSv1_listen`), as pyOpenSSL's
   * `DTLSv1_listen`: a ClientHello without a valid cookie is answered with a
   * HelloVerifyRequest (read it with `bioRead` and send it back) and leaves
   * no state; once a ClientHello echoes a cookie the verify callback
   * accepts, it returns and `doHandshake()` goes on. The context needs both
   * cookie callbacks. Feed one datagram per call.
   *
   * @throws {WantReadError} When no ClientHello with a valid cookie arrived yet.
   * @throws {TypeError} On a TLS connection.
   * @throws {SSLError} On a fatal error; what a cookie callback threw, as thrown.
   */
  dtlsListen(): void {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "dtlsListen()");
    if (!this.#roleSet) this.setAcceptState();
    dtls.listen(ssl);
  }

  // ---- Deno's async face (over a transport) -----------------------------------------------

  #pumpOrThrow(): Pump {
    this.#core.handle;
    const pump = this.#pump;
    if (pump === null) {
      throw new TypeError(
        "This connection has no transport (memory mode): use the synchronous methods with bioRead/bioWrite",
      );
    }
    return pump;
  }

  /**
   * Runs the handshake over the transport if it has not run yet; `read` and
   * `write` call it for you. Concurrent calls share one handshake. What a
   * callback threw during it rejects it, as thrown.
   *
   * @returns Deno's `TlsHandshakeInfo` (`alpnProtocol`) plus the protocol,
   *   cipher and peer certificate.
   * @throws {VerificationError} When the peer's certificate is refused.
   * @throws {SSLError} When the handshake fails; `SysCallError` when the peer vanishes.
   */
  handshake(): Promise<HandshakeInfo> {
    try {
      return this.#pumpOrThrow().handshake(this.#roleSet);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** What a finished handshake reports (the pump's answer to handshake()). Internal. */
  _handshakeInfo(): HandshakeInfo {
    return {
      alpnProtocol: this.getAlpnProtoNegotiated(),
      protocol: this.getProtocolVersionName(),
      cipher: this.getCipherName() ?? "",
      peerCertificate: this.getPeerCertificate(),
    };
  }

  /**
   * Reads decrypted bytes into `p`, as `Deno.Conn.read` does.
   *
   * @param p Where to put them.
   * @returns The count, or null once the peer closed the TLS session
   *   (close_notify).
   * @throws {SysCallError} When the peer's transport ended without close_notify
   *   (errno -1, "Unexpected EOF"), unless `OP_IGNORE_UNEXPECTED_EOF` is set.
   * @throws {ClosedError} When the connection is closed, also while the read
   *   waits (see {@link close} for when a waiting read settles).
   */
  read(p: Uint8Array): Promise<number | null> {
    try {
      return this.#pumpOrThrow().read(p, this.#roleSet);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Encrypts and sends all of `p`, as `Deno.Conn.write` does (it resolves once
   * every byte went to the transport). Large writes are sent as records
   * coalesced into transport writes of up to 256 KiB.
   *
   * @param p The bytes.
   * @returns `p.length`.
   * @throws {SSLError} When OpenSSL fails; a transport error as the transport throws it.
   */
  write(p: Uint8Array): Promise<number> {
    try {
      return this.#pumpOrThrow().write(p, this.#roleSet);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends close_notify, then half-closes the transport (its `closeWrite`,
   * when it has one). The peer's `read` then returns null; this side can
   * still read what the peer sends.
   */
  closeWrite(): Promise<void> {
    try {
      return this.#pumpOrThrow().closeWrite();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The decrypted bytes as a web stream (Deno's `conn.readable`). Cancelling
   * it closes the connection; it ends at close_notify.
   */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#pumpOrThrow();
    return this.#readable ??= readableOf(this);
  }

  /**
   * A web stream that encrypts and sends what is written to it (Deno's
   * `conn.writable`). Closing it sends close_notify and half-closes the
   * transport; aborting it closes the connection.
   */
  get writable(): WritableStream<Uint8Array> {
    this.#pumpOrThrow();
    return this.#writable ??= writableOf(this);
  }

  /** The transport's local address (an all-zero TCP address when the transport has none). */
  get localAddr(): AddrOf<T> {
    return addrOf(this._passthroughTargets, "localAddr") as AddrOf<T>;
  }

  /** The transport's remote address (an all-zero TCP address when the transport has none). */
  get remoteAddr(): AddrOf<T> {
    return addrOf(this._passthroughTargets, "remoteAddr") as AddrOf<T>;
  }

  /** Lets the transport keep the event loop alive (its `ref()`, when it has one). */
  ref(): void {
    this.#core.handle;
    callOn(this._passthroughTargets, "ref");
  }

  /** Stops the transport from keeping the event loop alive (its `unref()`). */
  unref(): void {
    this.#core.handle;
    callOn(this._passthroughTargets, "unref");
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#core.raw === null;
  }

  /**
   * Closes the connection, as `Deno.Conn.close` does, and frees its native
   * state. In memory mode nothing is sent (call {@link shutdown} first for a
   * clean close). Over a transport, a close_notify is sent when the handshake
   * finished and none was sent yet, then the transport is closed once the
   * queued writes are out, or after 2 s if they are not (a peer that stopped
   * reading), and those writes fail; await {@link Symbol.asyncDispose} to
   * wait for that. A pending `read` rejects with `ClosedError`: at once, or,
   * when it lent its buffer to the transport's read (over Deno's sockets,
   * web streams or another denossl connection), once that read has settled
   * (when the transport closes, or when data arrives first), so that nothing
   * writes into the buffer after `read` settles. Idempotent.
   */
  close(): void {
    this.#closeNow();
  }

  #closeNow(): Promise<void> {
    const core = this.#core;
    const wire = this.#pump?.wire ?? null;
    if (core.raw === null) return wire?.closing() ?? Promise.resolve();
    if (wire === null) {
      this.#bios?.detach();
      core.close();
      return Promise.resolve();
    }
    // Native mode: SSL_shutdown writes the alert to the socket itself (best effort).
    const last = core.closeNotify() ? wire.flush() : wire.closing();
    wire.detach();
    core.close(() => wire.afterFree());
    return wire.close(last);
  }

  /**
   * Closes the connection; a handshake under way rejects with `reason` (a
   * handshake timeout, an abort signal's reason) rather than `ClosedError`. Internal.
   *
   * @param reason Why.
   */
  _abort(reason: unknown): void {
    this.#pump?.abort(reason);
    this.close();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Closes the connection and waits until the final close_notify and any
   * queued writes reached the transport (for at most 2 s) and the transport
   * is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#closeNow();
  }
}

/**
 * A TLS connection over transport `T`: everything of {@link ConnectionBase}
 * plus the transport's own members, reached through passthrough (a lookup
 * that fails on the connection resolves on its transport, as in pyOpenSSL),
 * so `conn.setNoDelay(true)` works on a connection over a `Deno.TcpConn`.
 *
 * @example A transport's own method on the connection
 * ```ts
 * import { Connection, Context, TLS_METHOD } from "@denossl/denossl";
 * using ctx = new Context(TLS_METHOD);
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using conn: Connection<Deno.TcpConn> = new Connection(ctx, tcp);
 * conn.setNoDelay(true); // Deno.TcpConn's method, reached through passthrough
 * ```
 */
export type Connection<T extends Transport = Transport> = ConnectionBase<T> & TransportMembers<T>;

/**
 * A TLS connection: see {@link ConnectionBase} for its methods and
 * {@link Connection} (the type) for passthrough.
 */
export const Connection: ConnectionConstructor = ConnectionBase as unknown as ConnectionConstructor;

installPassthrough(
  ConnectionInfo.prototype,
  (o: unknown): o is ConnectionBase => o instanceof ConnectionBase,
);
