/**
 * `Connection`: OpenSSL's `SSL`, with pyOpenSSL's synchronous API.
 *
 * @module
 */

import { native, opensslVersion } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { cstr, readCString, toBytes } from "../ffi/memory.ts";
import {
  BIO_set_mem_eof_return,
  SENT_SHUTDOWN,
  SSL_ERROR_WANT_READ,
  SSL_ERROR_WANT_WRITE,
  SSL_ERROR_ZERO_RETURN,
  SSL_set_read_ahead,
  SSL_set_tlsext_host_name,
  TLSEXT_NAMETYPE_host_name,
  VERIFY_NONE,
} from "../ffi/constants.ts";
import { ClosedError, WantReadError } from "../errors/ssl_error.ts";
import {
  callbackErrorPending,
  clearErrors,
  sslErrorFromQueue,
  takeCallbackError,
  throwCallbackError,
} from "../errors/queue.ts";
import { raiseSSLError, sslError } from "../errors/raise.ts";
import { X509 } from "../crypto/x509.ts";
import { Context } from "./context.ts";
import { inCallback, registerOwner, unregisterOwner } from "./_registry.ts";
import { releaseHandle, trackHandle } from "../ffi/_handles.ts";
import { verifyTrampoline } from "./_verify.ts";
import type { VerifyCallback } from "./_verify.ts";
import { closeAfterWrites, toPipe, transportError } from "./transport.ts";
import type { FdTransport, Pipe, Transport } from "./transport.ts";
import {
  closeNativeFd,
  closeNativeTransport,
  type NativeEndpoint,
  resolveNative,
  shutdownWrite,
} from "./_native.ts";
import { reactor } from "../ffi/reactor.ts";
import {
  closeDirect,
  DIRECT_AFTER_BYTES,
  DIRECT_AFTER_FLUSHES,
  directFlush,
  isDenoTcpConn,
  openDirect,
} from "./_direct.ts";
import type { DirectWriter } from "./_direct.ts";
import { RELEASE_IDLE, waitBegins, waitEnds } from "./_idle.ts";
import type { X509Name } from "../crypto/name.ts";
import type { Session } from "./session.ts";
import * as negotiation from "./_negotiation.ts";
import * as keys from "./_keys.ts";
import * as dtls from "./_dtls.ts";
import * as hostname from "./_hostname.ts";

/** `MSG_PEEK`: with {@link Connection.recv}, read without consuming. */
export const MSG_PEEK = 2;

/** `SSL_READING`, as `SSL_want` reports it. */
const SSL_READING = 3;
/** `SSL_WRITING`, as `SSL_want` reports it. */
const SSL_WRITING = 2;

/** How a connection's ciphertext moves: see {@link ConnectionBase.transportMode}. */
export type TransportMode = "memory" | "stream" | "native";

/**
 * Options of the {@link Connection} constructor.
 *
 * @example
 * ```ts ignore
 * const conn = new Connection(ctx, tcp, { native: true });
 * ```
 */
export interface ConnectionOptions {
  /**
   * Native mode on a `Deno.TcpConn` / `Deno.UnixConn`: OpenSSL reads and
   * writes the socket itself (its descriptor found by matching
   * `getsockname`/`getpeername` against `localAddr`/`remoteAddr`). Falls back
   * to stream mode when the descriptor cannot be found.
   */
  native?: boolean;
}

const registry = new FinalizationRegistry<bigint>((address) => {
  unregisterOwner(address);
  const ptr = Deno.UnsafePointer.create(address);
  if (ptr) native().ssl.SSL_free(ptr);
  releaseHandle("SSL", address);
});

// Native mode's duplicate descriptor, closed when a connection is collected unclosed.
const fdRegistry = new FinalizationRegistry<NativeEndpoint>((endpoint) => {
  if (endpoint.fd >= 0) reactor().cancel(endpoint.fd, new ClosedError("Connection"));
  closeNativeFd(endpoint);
});

/** A settled promise, shared (a flush with nothing left to wait for returns it). */
const RESOLVED: Promise<void> = Promise.resolve();
/**
 * The `size_t` that SSL_read_ex/SSL_write_ex report through. Every SSL call
 * runs on the JS thread and the count is read right after the call returns
 * (OpenSSL writes it last, after any callback), so one serves every connection.
 */
const COUNT = new BigUint64Array(1);

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
export class ConnectionBase<T extends Transport = Transport> {
  #ssl: Deno.PointerObject | null;
  /** The `SSL*`'s address: the key it is registered under. */
  #addr = 0n;
  #context: Context;
  #rbio: Deno.PointerObject | null = null;
  #wbio: Deno.PointerObject | null = null;
  #verifyCallback: VerifyCallback<Connection<Transport>> | null;
  /** The `size_t` out-parameter of SSL_read_ex/SSL_write_ex: shared, read right after each call. */
  readonly #count = COUNT;
  // ---- async engine state (stream transports) ----
  readonly #transport: T;
  #pipe: Pipe | null = null;
  #inBuf: Uint8Array<ArrayBuffer> | null = null;
  #fillPromise: Promise<void> | null = null;
  /** The transport read in flight into a read() caller's buffer (see read()). */
  #lentRead: Promise<number | null> | null = null;
  #writeChain: Promise<void> = RESOLVED;
  #writesInFlight = 0;
  #handshakePromise: Promise<HandshakeInfo> | null = null;
  #rejectClosed: ((e: unknown) => void) | null = null;
  /** A failure met while reading ahead (#readMore), thrown by the next read. */
  #readError: unknown = undefined;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #roleSet = false;
  #abortReason: unknown = undefined;
  // ---- native mode: OpenSSL does the socket I/O on our duplicate of the descriptor ----
  #native: NativeEndpoint | null = null;
  // ---- direct writes over a Deno.TcpConn (see _direct.ts) ----
  #directCandidate = false;
  #direct: DirectWriter | null = null;
  #flushes = 0;
  #nativeFallback: string | null = null;

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
    if (!(context instanceof Context)) throw new TypeError("context must be a Context");
    const hasTransport = transport !== null && transport !== undefined;
    const found = !hasTransport ? null : transport instanceof ConnectionBase
      // TLS inside TLS: the outer connection must encrypt these bytes, so it stays a stream.
      ? (options.native === true
        ? { reason: "the transport is a TLS connection, whose descriptor carries its own TLS" }
        : null)
      : resolveNative(transport, options.native === true);
    const endpoint = found !== null && "fd" in found ? found : null;
    const pipe = !hasTransport || endpoint !== null
      ? null
      // A denossl connection settles a pending read when it closes, as Deno's sockets do.
      : toPipe(
        transport as Exclude<Transport, null | FdTransport>,
        transport instanceof ConnectionBase,
      );
    const { ssl: lib, crypto } = native();
    clearErrors();
    const ssl = lib.SSL_new(context._handle);
    if (ssl === null) throw sslErrorFromQueue("SSL_new failed");
    context._markUsed();
    this.#ssl = ssl;
    this.#context = context;
    this.#verifyCallback = context._verifyCallback;
    // The address, once (Deno.UnsafePointer.value is an op call): the finalizer's, the owner
    // map's and the handle count's key, and close()'s.
    const addr = BigInt(Deno.UnsafePointer.value(ssl));
    this.#addr = addr;
    registry.register(this, addr, this);
    registerOwner(addr, this);
    trackHandle("SSL", addr);
    this.#transport = transport;

    if (hasTransport && lib.SSL_is_dtls(ssl) === 1) {
      if (endpoint !== null) closeNativeFd(endpoint);
      this.close();
      throw new TypeError(
        "A DTLS context needs datagrams, not a stream: use new Connection(ctx, null) with " +
          "DtlsConnection, or connectDtls/listenDtls",
      );
    }

    if (endpoint !== null) {
      if (lib.SSL_set_fd(ssl, endpoint.fd) !== 1) {
        closeNativeFd(endpoint);
        this.close();
        throw sslErrorFromQueue("SSL_set_fd failed");
      }
      SSL_set_read_ahead(ssl, 1); // one read() per record or more, not one per header and body
      this.#native = endpoint;
      fdRegistry.register(this, endpoint, endpoint);
      return;
    }
    if (found !== null && "reason" in found) this.#nativeFallback = found.reason;

    const rbio = crypto.BIO_new(crypto.BIO_s_mem());
    const wbio = crypto.BIO_new(crypto.BIO_s_mem());
    if (rbio === null || wbio === null) {
      if (rbio) crypto.BIO_free(rbio);
      if (wbio) crypto.BIO_free(wbio);
      this.close();
      throw new Error("Out of memory: BIO_new failed");
    }
    lib.SSL_set_bio(ssl, rbio, wbio); // the SSL owns both from here on
    this.#rbio = rbio;
    this.#wbio = wbio;
    this.#pipe = pipe;
    this.#directCandidate = pipe !== null && isDenoTcpConn(transport as object);
  }

  /** The `SSL*`, for denossl's own use. Throws when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ssl === null) throw new ClosedError("Connection");
    return this.#ssl;
  }

  /**
   * The `SSL*`, for a call that drives OpenSSL (handshake, read, write,
   * shutdown). Refused inside a callback: OpenSSL is then in the middle of a
   * call further up the stack, and re-entering it crashes. Internal.
   */
  _drive(): Deno.PointerObject {
    const ssl = this._handle;
    if (inCallback()) {
      throw new TypeError(
        "A TLS handshake, read, write or shutdown cannot run inside a denossl callback: return from the callback first",
      );
    }
    return ssl;
  }

  /**
   * What the idle sweeper calls while this connection waits for its peer
   * (see _idle.ts): frees OpenSSL's record buffers and renews the memory
   * BIOs. Internal.
   */
  [RELEASE_IDLE](): void {
    const ssl = this.#ssl;
    if (ssl === null || inCallback()) return;
    releaseRecordBuffers(ssl);
    if (this.#pipe !== null) this.#renewBios(ssl);
  }

  /** Our duplicate of the socket that flushes now go straight to (see _direct.ts), or -1. Internal, for tests. */
  get _directFd(): number {
    return this.#direct?.fd ?? -1;
  }

  /** The verify callback in force (the context's at creation, or this connection's own). Internal. */
  get _verifyCallback(): VerifyCallback<Connection<Transport>> | null {
    return this.#verifyCallback;
  }

  #memoryBio(which: "read" | "write"): Deno.PointerObject {
    this._handle;
    const bio = which === "read" ? this.#rbio : this.#wbio;
    if (bio === null || this.#pipe !== null) {
      throw new TypeError(
        "This connection's transport moves its ciphertext: bioRead/bioWrite are for memory BIOs",
      );
    }
    return bio;
  }

  /** The transport given to the constructor (null in memory mode). Internal. */
  get _transport(): T {
    return this.#transport;
  }

  /** The objects passthrough lookups resolve on, in order. Internal. */
  get _passthroughTargets(): readonly object[] {
    return this.#pipe?.targets ?? this.#native?.targets ?? [];
  }

  /**
   * How ciphertext moves: `"memory"` (you move it with `bioRead`/`bioWrite`),
   * `"stream"` (the connection pumps its transport through memory BIOs) or
   * `"native"` (OpenSSL reads and writes the socket's descriptor itself).
   *
   * @example
   * ```ts ignore
   * const conn = new Connection(ctx, tcp, { native: true });
   * console.log(conn.transportMode, conn.nativeFallbackReason);
   * ```
   */
  get transportMode(): TransportMode {
    return this.#native !== null ? "native" : this.#pipe === null ? "memory" : "stream";
  }

  /**
   * Why native mode was asked for and not used (the connection then runs in
   * stream mode), or null.
   *
   * @example
   * ```ts ignore
   * if (conn.transportMode !== "native") console.warn(conn.nativeFallbackReason);
   * ```
   */
  get nativeFallbackReason(): string | null {
    return this.#nativeFallback;
  }

  /**
   * The socket descriptor OpenSSL reads and writes in native mode (pyOpenSSL's
   * `fileno()`): denossl's own duplicate of the transport's descriptor.
   *
   * @returns The descriptor.
   * @throws {TypeError} In memory or stream mode, where OpenSSL uses no descriptor.
   * @example
   * ```ts ignore
   * const fd = conn.fileno();
   * ```
   */
  fileno(): number {
    this._handle;
    if (this.#native === null || this.#native.fd < 0) {
      throw new TypeError(`A connection in ${this.transportMode} mode has no descriptor`);
    }
    return this.#native.fd;
  }

  // ---- state ---------------------------------------------------------------------

  /**
   * Makes this the client side (`SSL_set_connect_state`).
   *
   * @example
   * ```ts ignore
   * conn.setConnectState();
   * ```
   */
  setConnectState(): void {
    native().ssl.SSL_set_connect_state(this._handle);
    this.#roleSet = true;
  }

  /**
   * Makes this the server side (`SSL_set_accept_state`).
   *
   * @example
   * ```ts ignore
   * conn.setAcceptState();
   * ```
   */
  setAcceptState(): void {
    native().ssl.SSL_set_accept_state(this._handle);
    this.#roleSet = true;
  }

  /**
   * Whether this is the server side (`SSL_is_server`).
   *
   * @returns True for a server.
   * @example
   * ```ts ignore
   * conn.isServer();
   * ```
   */
  isServer(): boolean {
    return native().ssl.SSL_is_server(this._handle) === 1;
  }

  /**
   * The context in use.
   *
   * @returns The context.
   * @example
   * ```ts ignore
   * conn.getContext();
   * ```
   */
  getContext(): Context {
    this._handle;
    return this.#context;
  }

  /**
   * Switches to another context (`SSL_set_SSL_CTX`), typically in an SNI
   * callback to present another certificate. The certificate, key and
   * verification store switch; settings OpenSSL copied at creation
   * (options, verify mode) stay.
   *
   * @param context The new context; it can no longer be changed afterwards.
   * @example
   * ```ts ignore
   * conn.setContext(otherCtx);
   * ```
   */
  setContext(context: Context): void {
    const ssl = this._handle;
    if (!(context instanceof Context)) throw new TypeError("context must be a Context");
    native().ssl.SSL_set_SSL_CTX(ssl, context._handle);
    context._markUsed();
    this.#context = context;
  }

  /**
   * OpenSSL's description of the handshake state (`SSL_state_string_long`).
   *
   * @returns For example `"SSL negotiation finished successfully"`.
   * @example
   * ```ts ignore
   * conn.getStateString();
   * ```
   */
  getStateString(): string {
    return readCString(native().ssl.SSL_state_string_long(this._handle)) ?? "";
  }

  /**
   * Whether the handshake is complete (`SSL_is_init_finished`).
   *
   * @returns True once the handshake finished.
   * @example
   * ```ts ignore
   * conn.isHandshakeDone();
   * ```
   */
  isHandshakeDone(): boolean {
    return native().ssl.SSL_is_init_finished(this._handle) === 1;
  }

  /**
   * Whether OpenSSL is waiting to read (`SSL_want_read`).
   *
   * @returns True when the last operation wanted more data.
   * @example
   * ```ts ignore
   * conn.wantRead();
   * ```
   */
  wantRead(): boolean {
    return native().ssl.SSL_want(this._handle) === SSL_READING;
  }

  /**
   * Whether OpenSSL is waiting to write (`SSL_want_write`).
   *
   * @returns True when the last operation wanted to flush.
   * @example
   * ```ts ignore
   * conn.wantWrite();
   * ```
   */
  wantWrite(): boolean {
    return native().ssl.SSL_want(this._handle) === SSL_WRITING;
  }

  /**
   * Plaintext bytes buffered and readable without touching the transport (`SSL_pending`).
   *
   * @returns The count.
   * @example
   * ```ts ignore
   * conn.pending();
   * ```
   */
  pending(): number {
    return native().ssl.SSL_pending(this._handle);
  }

  // ---- verification --------------------------------------------------------------------

  /**
   * Sets this connection's verification mode and callback (`SSL_set_verify`),
   * overriding the context's.
   *
   * @param mode `VERIFY_*` bits.
   * @param callback Decides per certificate; a throw fails the handshake and
   *   comes out of the call that drove it.
   * @example
   * ```ts ignore
   * conn.setVerify(VERIFY_PEER, (_c, _cert, _err, _depth, ok) => ok);
   * ```
   */
  setVerify(mode: number, callback?: VerifyCallback<Connection<Transport>> | null): void {
    const ssl = this._handle;
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0xf) {
      throw new RangeError("mode must be VERIFY_NONE or a combination of VERIFY_* flags");
    }
    if (callback != null && typeof callback !== "function") {
      throw new TypeError("callback must be a function");
    }
    this.#verifyCallback = callback ?? null;
    native().ssl.SSL_set_verify(
      ssl,
      mode,
      mode === VERIFY_NONE ? null : verifyTrampoline(callback != null),
    );
  }

  /**
   * The verification mode (`SSL_get_verify_mode`).
   *
   * @returns `VERIFY_*` bits.
   * @example
   * ```ts ignore
   * conn.getVerifyMode();
   * ```
   */
  getVerifyMode(): number {
    return native().ssl.SSL_get_verify_mode(this._handle);
  }

  /**
   * Sets the maximum verification depth for this connection (`SSL_set_verify_depth`).
   *
   * @param depth The depth.
   * @example
   * ```ts ignore
   * conn.setVerifyDepth(2);
   * ```
   */
  setVerifyDepth(depth: number): void {
    const ssl = this._handle;
    if (!Number.isInteger(depth) || depth < 0) {
      throw new RangeError("depth must be a non-negative integer");
    }
    native().ssl.SSL_set_verify_depth(ssl, depth);
  }

  /**
   * Requires the peer's certificate to match a host name or IP address: DNS
   * names through `SSL_set1_host`, IP literals through
   * `X509_VERIFY_PARAM_set1_ip_asc`. A mismatch fails the handshake with a
   * `VerificationError` (code 62 for a name, 64 for an IP). Takes effect
   * only with `VERIFY_PEER`. Names match subject alternative names only (no
   * subject-CN fallback) and no partial wildcard (`f*.example.com`), as in
   * Deno; {@link setHostFlags} changes that. One trailing dot is ignored.
   *
   * @param host A DNS name or an IPv4/IPv6 literal.
   * @throws {TypeError} When `host` is empty or malformed (an empty label, a NUL).
   * @example
   * ```ts ignore
   * conn.setVerifyHostname("example.com");
   * conn.setVerifyHostname("127.0.0.1");
   * ```
   */
  setVerifyHostname(host: string): void {
    hostname.setVerifyHost(this, this._handle, host);
  }

  /**
   * Replaces how {@link setVerifyHostname} matches DNS names
   * (`X509_VERIFY_PARAM_set_hostflags`). The default,
   * `X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS`,
   * is RFC 6125's and Deno's; pass `0` only for a legacy peer whose
   * certificate names its host in the subject CN alone.
   *
   * @param flags `X509_CHECK_FLAG_*` bits.
   * @throws {RangeError} When `flags` has a bit OpenSSL does not define.
   * @example Accept OpenSSL's legacy CN fallback for one connection
   * ```ts ignore
   * conn.setHostFlags(0);
   * conn.setVerifyHostname("legacy.example");
   * ```
   */
  setHostFlags(flags: number): void {
    hostname.setHostFlags(this, this._handle, flags);
  }

  /**
   * Sends a server name (SNI) in the ClientHello (`SSL_set_tlsext_host_name`).
   *
   * @param name The host name.
   * @throws {SSLError} When OpenSSL refuses the name.
   * @example
   * ```ts ignore
   * conn.setTlsextHostName("example.com");
   * ```
   */
  setTlsextHostName(name: string): void {
    const ssl = this._handle;
    clearErrors();
    if (SSL_set_tlsext_host_name(ssl, cstr(name, "name")) !== 1) {
      throw sslErrorFromQueue(`Invalid server name "${name}"`);
    }
  }

  /**
   * The server name (SNI) the client sent, or null (`SSL_get_servername`).
   *
   * @returns The name, or null without SNI.
   * @example
   * ```ts ignore
   * conn.getServername();
   * ```
   */
  getServername(): string | null {
    return readCString(native().ssl.SSL_get_servername(this._handle, TLSEXT_NAMETYPE_host_name));
  }

  /**
   * The peer's certificate, or null (`SSL_get1_peer_certificate`).
   *
   * @returns The certificate; close it when done, or let it be collected.
   * @example
   * ```ts ignore
   * console.log(conn.getPeerCertificate()?.subject.commonName);
   * ```
   */
  getPeerCertificate(): X509 | null {
    const ptr = native().ssl.SSL_get1_peer_certificate(this._handle);
    return ptr === null ? null : X509._wrap(ptr);
  }

  /**
   * The negotiated protocol version's name (`SSL_get_version`).
   *
   * @returns For example `"TLSv1.3"`.
   * @example
   * ```ts ignore
   * conn.getProtocolVersionName();
   * ```
   */
  getProtocolVersionName(): string {
    return readCString(native().ssl.SSL_get_version(this._handle)) ?? "";
  }

  /**
   * The negotiated protocol version (`SSL_version`).
   *
   * @returns A `*_VERSION` constant.
   * @example
   * ```ts ignore
   * conn.getProtocolVersion() === TLS1_3_VERSION;
   * ```
   */
  getProtocolVersion(): number {
    return native().ssl.SSL_version(this._handle);
  }

  /**
   * The negotiated cipher's name, or null before the handshake.
   *
   * @returns For example `"TLS_AES_256_GCM_SHA384"`.
   * @example
   * ```ts ignore
   * conn.getCipherName();
   * ```
   */
  getCipherName(): string | null {
    const { ssl } = native();
    const cipher = ssl.SSL_get_current_cipher(this._handle);
    return cipher === null ? null : readCString(ssl.SSL_CIPHER_get_name(cipher));
  }

  // ---- synchronous I/O -------------------------------------------------------------------

  /**
   * Runs the handshake as far as it can go (`SSL_do_handshake`).
   *
   * @throws {WantReadError} When it needs data from the peer.
   * @throws {VerificationError} When the peer's certificate is refused.
   * @throws {SSLError} On any other failure; what a callback threw, as thrown.
   * @example
   * ```ts ignore
   * conn.doHandshake();
   * ```
   */
  doHandshake(): void {
    const ssl = this._drive();
    clearErrors();
    const ret = native().ssl.SSL_do_handshake(ssl);
    if (ret !== 1) raiseSSLError(ssl, ret);
    throwCallbackError();
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
   * @example Drive two memory-BIO connections to the end of their handshake
   * ```ts
   * import { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER } from "@denossl/denossl";
   * import assert from "node:assert/strict";
   *
   * const ca = TestCA.create();
   * const leaf = ca.issue({ dns: ["localhost"] });
   * using serverCtx = new Context(TLS_METHOD);
   * serverCtx.useCertificate(leaf.certPEM);
   * serverCtx.usePrivateKey(leaf.keyPEM);
   * using clientCtx = new Context(TLS_METHOD);
   * clientCtx.addCaCerts(ca.certPEM);
   * clientCtx.setVerify(VERIFY_PEER);
   * using client = new Connection(clientCtx, null);
   * using server = new Connection(serverCtx, null);
   * client.setVerifyHostname("localhost");
   * client.setConnectState();
   * server.setAcceptState();
   * const wire = new Uint8Array(65536);
   * const pump = (from: Connection, to: Connection): void => {
   *   while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
   * };
   * let done = false;
   * for (let round = 0; round < 10 && !done; round++) {
   *   const clientDone = client.tryHandshake();
   *   pump(client, server);
   *   done = server.tryHandshake() && clientDone;
   *   pump(server, client);
   * }
   * assert.ok(done && client.tryHandshake());
   * ca.close();
   * leaf.close();
   * ```
   */
  tryHandshake(): boolean {
    const ssl = this._drive();
    clearErrors();
    const lib = native().ssl;
    const ret = lib.SSL_do_handshake(ssl);
    if (ret === 1) {
      throwCallbackError();
      return true;
    }
    if (lib.SSL_get_error(ssl, ret) === SSL_ERROR_WANT_READ && !callbackErrorPending()) {
      return false;
    }
    raiseSSLError(ssl, ret);
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
   * @example
   * ```ts ignore
   * const data = conn.recv(16384);
   * ```
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
   * @example
   * ```ts ignore
   * const n = conn.recvInto(buf);
   * ```
   */
  recvInto(buffer: Uint8Array, nbytes?: number, flags = 0): number {
    const ssl = this._drive();
    if (!(buffer instanceof Uint8Array)) throw new TypeError("buffer must be a Uint8Array");
    const n = nbytes ?? buffer.length;
    if (!Number.isInteger(n) || n < 0 || n > buffer.length) {
      throw new RangeError(`nbytes must be an integer from 0 to ${buffer.length}`);
    }
    const lib = native().ssl;
    clearErrors();
    const ret = (flags & MSG_PEEK)
      ? lib.SSL_peek_ex(ssl, buffer, usize(n), this.#count)
      : lib.SSL_read_ex(ssl, buffer, usize(n), this.#count);
    if (ret !== 1) raiseSSLError(ssl, ret);
    throwCallbackError();
    return Number(this.#count[0]);
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
   * @example
   * ```ts ignore
   * const n = conn.send("GET / HTTP/1.0\r\n\r\n");
   * ```
   */
  send(data: string | Uint8Array): number {
    const ssl = this._drive();
    const bytes = toBytes(data);
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("data must be a string or a Uint8Array");
    }
    if (bytes.length === 0) return 0;
    clearErrors();
    const ret = native().ssl.SSL_write_ex(ssl, bytes, usize(bytes.length), this.#count);
    if (ret !== 1) raiseSSLError(ssl, ret);
    throwCallbackError();
    return Number(this.#count[0]);
  }

  /**
   * Writes all the data, record by record. Over memory BIOs nothing blocks,
   * so it always finishes; drain {@link bioRead} afterwards.
   *
   * @param data Bytes or text.
   * @returns The number of bytes written.
   * @example
   * ```ts ignore
   * conn.sendall(new Uint8Array(1 << 20));
   * ```
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
   * @example
   * ```ts ignore
   * if (!conn.shutdown()) { /* wait for the peer's close_notify *\/ }
   * ```
   */
  shutdown(): boolean {
    const ssl = this._drive();
    clearErrors();
    const ret = native().ssl.SSL_shutdown(ssl);
    if (ret < 0) raiseSSLError(ssl, ret);
    throwCallbackError();
    return ret === 1;
  }

  /**
   * The shutdown flags (`SSL_get_shutdown`).
   *
   * @returns `SENT_SHUTDOWN` and/or `RECEIVED_SHUTDOWN` bits.
   * @example
   * ```ts ignore
   * conn.getShutdown() & RECEIVED_SHUTDOWN;
   * ```
   */
  getShutdown(): number {
    return native().ssl.SSL_get_shutdown(this._handle);
  }

  /**
   * Sets the shutdown flags (`SSL_set_shutdown`), for example to skip
   * close_notify on an already broken connection.
   *
   * @param state `SENT_SHUTDOWN` and/or `RECEIVED_SHUTDOWN` bits.
   * @example
   * ```ts ignore
   * conn.setShutdown(SENT_SHUTDOWN | RECEIVED_SHUTDOWN);
   * ```
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
   * @example
   * ```ts ignore
   * peer.bioWrite(conn.bioRead(65536));
   * ```
   */
  bioRead(bufsize: number): Uint8Array {
    const bio = this.#memoryBio("write");
    if (!Number.isInteger(bufsize) || bufsize <= 0) {
      throw new RangeError("bufsize must be a positive integer");
    }
    const { crypto } = native();
    const available = Number(crypto.BIO_ctrl_pending(bio));
    if (available === 0) throw new WantReadError("No ciphertext is waiting to be sent");
    const out = new Uint8Array(Math.min(bufsize, available));
    const n = crypto.BIO_read(bio, out, out.length);
    if (n <= 0) throw new WantReadError("No ciphertext is waiting to be sent");
    return n === out.length ? out : out.slice(0, n);
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
   * @example Move a flight without allocating
   * ```ts ignore
   * const buf = new Uint8Array(65536);
   * const n = conn.bioReadInto(buf);
   * peer.bioWrite(buf.subarray(0, n));
   * ```
   */
  bioReadInto(buffer: Uint8Array, nbytes?: number): number {
    const bio = this.#memoryBio("write");
    if (!(buffer instanceof Uint8Array)) throw new TypeError("buffer must be a Uint8Array");
    const n = nbytes ?? buffer.length;
    if (!Number.isInteger(n) || n <= 0 || n > buffer.length) {
      throw new RangeError(`nbytes must be an integer from 1 to ${buffer.length}`);
    }
    const got = native().crypto.BIO_read(bio, buffer, n);
    if (got <= 0) throw new WantReadError("No ciphertext is waiting to be sent");
    return got;
  }

  /**
   * How many bytes of ciphertext wait to be sent to the peer
   * (`BIO_ctrl_pending` on the outgoing memory BIO). A pump can test this
   * instead of catching {@link WantReadError} from {@link bioRead}, as a C
   * loop does: in Deno, constructing any `Error` costs microseconds.
   *
   * @returns The byte count; 0 when there is nothing to send.
   * @throws {TypeError} When the connection has a transport (not memory mode).
   * @example Move every pending byte without exceptions
   * ```ts ignore
   * const buf = new Uint8Array(65536);
   * while (conn.bioPending() > 0) {
   *   const n = conn.bioReadInto(buf);
   *   peer.bioWrite(buf.subarray(0, n));
   * }
   * ```
   */
  bioPending(): number {
    return Number(native().crypto.BIO_ctrl_pending(this.#memoryBio("write")));
  }

  /**
   * Hands ciphertext received from the peer to OpenSSL.
   *
   * @param data The bytes.
   * @returns How many bytes were taken (all of them).
   * @example
   * ```ts ignore
   * conn.bioWrite(fromPeer);
   * ```
   */
  bioWrite(data: string | Uint8Array): number {
    const bio = this.#memoryBio("read");
    const bytes = toBytes(data);
    if (bytes.length === 0) return 0;
    clearErrors();
    const n = native().crypto.BIO_write(bio, bytes, bytes.length);
    if (n <= 0) throw sslErrorFromQueue("BIO_write failed");
    return n;
  }

  /**
   * Marks the end of the peer's ciphertext: reads past what was written then
   * see end of file instead of "want read". A peer that stopped without
   * close_notify then surfaces as `SysCallError` (errno -1, "Unexpected EOF").
   *
   * @example
   * ```ts ignore
   * conn.bioShutdown();
   * ```
   */
  bioShutdown(): void {
    BIO_set_mem_eof_return(this.#memoryBio("read"), 0);
  }

  // ---- Deno's async face (stream transports) ---------------------------------------------

  #pipeOrThrow(): Pipe | null {
    this._handle;
    if (this.#pipe === null && this.#native === null) {
      throw new TypeError(
        "This connection has no transport (memory mode): use the synchronous methods with bioRead/bioWrite",
      );
    }
    return this.#pipe;
  }

  /** Native mode: waits until the descriptor is ready; rejects when the connection closes. */
  #waitNative(interest: "read" | "write"): Promise<void> {
    const endpoint = this.#native;
    if (endpoint === null || this.#ssl === null) {
      return Promise.reject(new ClosedError("Connection"));
    }
    return reactor().wait(endpoint.fd, interest);
  }

  /** Lets OpenSSL write: flushes the outgoing BIO, or waits for the socket to drain. */
  #drain(): Promise<void> {
    return this.#native !== null ? this.#waitNative("write") : this.#flush();
  }

  /** Moves what OpenSSL wrote into the outgoing BIO to the transport, in order. */
  #flush(): Promise<void> {
    const wbio = this.#wbio;
    const pipe = this.#pipe;
    if (wbio === null || pipe === null) return this.#writeChain;
    const { crypto } = native();
    const pending = Number(crypto.BIO_ctrl_pending(wbio));
    if (pending === 0) return this.#writeChain;
    let bytes: Uint8Array;
    const direct = this.#writesInFlight === 0 ? this.#directWriter(pending) : null;
    if (direct !== null) {
      const rest = directFlush(direct, wbio, pending);
      if (direct.fd < 0) this.#direct = null; // the socket failed: the transport reports it
      if (rest === null) return RESOLVED;
      bytes = rest;
    } else {
      const out = new Uint8Array(pending);
      const n = crypto.BIO_read(wbio, out, pending);
      bytes = n === pending ? out : out.subarray(0, Math.max(0, n));
    }
    // No write in flight: start this one now instead of after a settled promise.
    const write = this.#writesInFlight === 0
      ? pipe.writeAll(bytes)
      : this.#writeChain.then(() => pipe.writeAll(bytes));
    this.#writesInFlight++;
    const chain: Promise<void> = write.then(() => {
      // All out: let this settled promise go (one less object per idle connection).
      if (--this.#writesInFlight === 0 && this.#writeChain === chain) this.#writeChain = RESOLVED;
    }, (e) => {
      this.#writesInFlight--;
      throw e;
    });
    chain.catch(ignore); // callers that await see the error; nobody else must crash on it
    this.#writeChain = chain;
    return chain;
  }

  /**
   * The direct writer, opened once the connection has written enough to pay
   * for finding its descriptor; null while writes go through the transport.
   */
  #directWriter(pending: number): DirectWriter | null {
    if (this.#direct !== null) return this.#direct;
    if (!this.#directCandidate) return null;
    if (++this.#flushes < DIRECT_AFTER_FLUSHES && pending < DIRECT_AFTER_BYTES) return null;
    this.#directCandidate = false; // one attempt
    this.#direct = openDirect(this.#transport as unknown as Deno.TcpConn, this);
    return this.#direct;
  }

  /**
   * Reads once from the transport into the incoming BIO, through the
   * connection's own buffer; at most one transport read is in flight. While
   * read() has one in flight into its caller's buffer (see {@link read}),
   * waits for that one instead: read()'s own continuation, which was there
   * first, lands its bytes before this resolves.
   */
  #fill(): Promise<void> {
    if (this.#native !== null) {
      waitBegins(this);
      return this.#waitNative("read");
    }
    if (this.#fillPromise !== null) return this.#fillPromise;
    if (this.#lentRead !== null) return this.#lentRead.then(ignore, ignore);
    return this.#fillPromise = this.#doFill();
  }

  /**
   * Frees the connection's own read buffer (up to 64 KiB) now, once no
   * transport read can write into it: after the handshake (reads then use the
   * caller's buffer when it is large enough) and at close. Left to the garbage
   * collector, which does not count it, a server under connection churn kept
   * 128 KiB per closed connection pair (2.5 GB after 20,000).
   */
  #releaseInBuf(): void {
    const buf = this.#inBuf;
    if (buf === null || this.#fillPromise !== null) return; // the pending fill releases it
    this.#inBuf = null;
    buf.buffer.transfer(0); // detaches: the backing store is freed
  }

  /**
   * One transport read into the connection's own buffer, then into the
   * incoming BIO, as a single promise: the read's own reaction lands the
   * bytes, and close() rejects it at once through `#rejectClosed` (a
   * transport whose close does not settle its pending read must not hang
   * us; the buffer is ours, freed once that read settles). Nothing else is
   * allocated per wait: this runs once per record a connection waits for.
   */
  #doFill(): Promise<void> {
    let read: Promise<number | null>;
    let buf: Uint8Array;
    try {
      const pipe = this.#pipeOrThrow()!;
      // About to wait for the peer: if the wait lasts, the idle sweeper frees
      // OpenSSL's record buffers (about 33 KiB); see _idle.ts.
      waitBegins(this);
      // Start small, grow (4x) each time the transport fills the buffer: idle
      // connections stay small, busy ones soon read 64 KiB at a time.
      buf = this.#inBuf ??= new Uint8Array(IN_BUFFER_START);
      read = pipe.read(buf);
    } catch (e) {
      this.#fillPromise = null;
      waitEnds(this);
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.#rejectClosed = reject;
      read.then((n) => {
        this.#fillSettled();
        try {
          this.#landRead(buf, n);
          resolve();
        } catch (e) {
          reject(e);
        }
      }, (e) => {
        this.#fillSettled();
        reject(transportError(e));
      });
    });
  }

  /**
   * Swaps empty memory BIOs for new ones: a memory BIO keeps the largest size
   * it ever held (the handshake flights, a bulk burst), about 1.5 KiB per idle
   * connection after a handshake, more after bulk. Only between records, when
   * both are empty.
   */
  #renewBios(ssl: Deno.PointerObject): void {
    const rbio = this.#rbio;
    const wbio = this.#wbio;
    if (rbio === null || wbio === null) return;
    const { ssl: lib, crypto } = native();
    if (Number(crypto.BIO_ctrl_pending(rbio)) !== 0) return;
    if (Number(crypto.BIO_ctrl_pending(wbio)) !== 0) return;
    const r = crypto.BIO_new(crypto.BIO_s_mem());
    const w = crypto.BIO_new(crypto.BIO_s_mem());
    if (r === null || w === null) {
      if (r !== null) crypto.BIO_free(r);
      if (w !== null) crypto.BIO_free(w);
      return; // out of memory: keep the old ones
    }
    lib.SSL_set_bio(ssl, r, w); // frees the old pair
    this.#rbio = r;
    this.#wbio = w;
  }

  #fillSettled(): void {
    waitEnds(this);
    this.#fillPromise = null;
    this.#rejectClosed = null;
    if (this.#ssl === null) this.#releaseInBuf();
  }

  /** Puts `n` bytes read from the transport into the incoming BIO (null: the transport ended). */
  #landRead(buf: Uint8Array, n: number | null): void {
    const rbio = this.#rbio;
    if (rbio === null) throw new ClosedError("Connection");
    if (n === null) {
      BIO_set_mem_eof_return(rbio, 0); // the peer's transport ended: reads now see EOF
      return;
    }
    if (n > 0) native().crypto.BIO_write(rbio, buf, n);
    if (buf === this.#inBuf && n === buf.length && buf.length < IN_BUFFER_SIZE) {
      this.#inBuf = new Uint8Array(Math.min(IN_BUFFER_SIZE, buf.length * 4));
    }
  }

  /**
   * Runs the handshake over the transport if it has not run yet; `read` and
   * `write` call it for you. Concurrent calls share one handshake.
   *
   * @returns Deno's `TlsHandshakeInfo` (`alpnProtocol`) plus the protocol,
   *   cipher and peer certificate.
   * @throws {VerificationError} When the peer's certificate is refused.
   * @throws {SSLError} When the handshake fails; `SysCallError` when the peer vanishes.
   * @example
   * ```ts ignore
   * const info = await conn.handshake();
   * console.log(info.protocol, info.cipher, info.alpnProtocol);
   * ```
   */
  handshake(): Promise<HandshakeInfo> {
    try {
      this.#pipeOrThrow();
      if (!this.#roleSet) {
        throw new TypeError("Call setConnectState() or setAcceptState() before the handshake");
      }
    } catch (e) {
      return Promise.reject(e);
    }
    this.#handshakePromise ??= this.#runHandshake().catch((e) => {
      throw this.#abortReason ?? e;
    });
    return this.#handshakePromise;
  }

  async #runHandshake(): Promise<HandshakeInfo> {
    const lib = native().ssl;
    for (;;) {
      const ssl = this._drive();
      clearErrors();
      const ret = lib.SSL_do_handshake(ssl);
      if (ret === 1) {
        throwCallbackError();
        // Reads from here on go through the caller's buffer when it is large enough.
        this.#releaseInBuf();
        await this.#flush();
        return this.#handshakeInfo();
      }
      const code = lib.SSL_get_error(ssl, ret);
      if (code === SSL_ERROR_WANT_READ) {
        await this.#flush();
        await this.#fill();
        continue;
      }
      if (code === SSL_ERROR_WANT_WRITE) {
        await this.#drain();
        continue;
      }
      const error = sslError(ssl, ret);
      await this.#flush().catch(() => {}); // let the peer see our alert
      throw error;
    }
  }

  #handshakeInfo(): HandshakeInfo {
    const { ssl: lib } = native();
    const ssl = this._handle;
    const data = new BigUint64Array(1);
    const len = new Uint32Array(1);
    lib.SSL_get0_alpn_selected(ssl, data, len);
    const ptr = Deno.UnsafePointer.create(data[0]!);
    const alpnProtocol = ptr === null || len[0] === 0
      ? null
      : new TextDecoder().decode(Deno.UnsafePointerView.getArrayBuffer(ptr, len[0]!));
    return {
      alpnProtocol,
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
   * @example
   * ```ts ignore
   * const buf = new Uint8Array(16384);
   * const n = await conn.read(buf);
   * ```
   */
  async read(p: Uint8Array): Promise<number | null> {
    if (this.#handshakePromise === null || !this.isHandshakeDone()) await this.handshake();
    const lib = native().ssl;
    const count = this.#count;
    for (;;) {
      const ssl = this._drive();
      if (p.length === 0) return 0;
      if (this.#readError !== undefined) {
        const e = this.#readError;
        this.#readError = undefined;
        throw e;
      }
      clearErrors();
      const ret = lib.SSL_read_ex(ssl, p, usize(p.length), count);
      if (ret === 1) {
        throwCallbackError();
        const n = Number(count[0]);
        const total = n < p.length ? this.#readMore(ssl, p, n) : n;
        if (this.#outgoingPending()) this.#flush();
        return total;
      }
      const code = lib.SSL_get_error(ssl, ret);
      if (code === SSL_ERROR_WANT_READ) {
        if (this.#outgoingPending()) this.#flush();
        const pipe = this.#pipe;
        if (
          pipe !== null && pipe.lends && p.length >= IN_BUFFER_START &&
          this.#fillPromise === null && this.#lentRead === null
        ) {
          // Lend p to the transport: its bytes pass through p on their way
          // to the BIO, so an idle connection holds no read buffer of its own
          // and a bulk reader's transport reads are as large as its buffer.
          // Only over a transport whose close settles a pending read
          // (Pipe.lends): close() does not cut this wait short; closing the
          // transport settles it, and only then does read() reject with
          // ClosedError, so nothing writes into p after read() settles.
          const pending = pipe.read(p);
          this.#lentRead = pending;
          waitBegins(this);
          let n: number | null;
          try {
            n = await pending;
          } catch (e) {
            throw this.#ssl === null ? new ClosedError("Connection") : transportError(e);
          } finally {
            this.#lentRead = null;
            waitEnds(this);
          }
          this.#landRead(p, n);
          continue;
        }
        await this.#fill();
        continue;
      }
      if (code === SSL_ERROR_ZERO_RETURN) return null;
      if (code === SSL_ERROR_WANT_WRITE) {
        await this.#drain();
        continue;
      }
      throw sslError(ssl, ret);
    }
  }

  /**
   * After one record, decrypts the records already received into the rest of
   * `p`, as `Deno.Conn.read` returns all it has: a bulk reader makes one call
   * per transport read, not one per 16 KiB record. A failure here is kept
   * for the next `read` (the bytes before it are returned first); a
   * close_notify shows again on the next read by itself.
   *
   * @returns The total now in `p`.
   */
  #readMore(ssl: Deno.PointerObject, p: Uint8Array, n: number): number {
    const rbio = this.#rbio;
    if (rbio === null || this.#pipe === null) return n;
    const { ssl: lib, crypto } = native();
    const count = this.#count;
    let total = n;
    while (total < p.length && Number(crypto.BIO_ctrl_pending(rbio)) > 0) {
      clearErrors();
      const ret = lib.SSL_read_ex(ssl, p.subarray(total), usize(p.length - total), count);
      const thrown = takeCallbackError();
      if (thrown !== undefined) {
        this.#readError = thrown.error;
        if (ret === 1) total += Number(count[0]);
        break;
      }
      if (ret === 1) {
        total += Number(count[0]);
        continue;
      }
      const code = lib.SSL_get_error(ssl, ret);
      if (code !== SSL_ERROR_WANT_READ && code !== SSL_ERROR_ZERO_RETURN) {
        this.#readError = sslError(ssl, ret);
      }
      crypto.ERR_clear_error();
      break;
    }
    return total;
  }

  #outgoingPending(): boolean {
    const wbio = this.#wbio;
    return wbio !== null && Number(native().crypto.BIO_ctrl_pending(wbio)) > 0;
  }

  /**
   * Encrypts and sends all of `p`, as `Deno.Conn.write` does (it resolves once
   * every byte went to the transport). Large writes are sent as records
   * coalesced into transport writes of up to 256 KiB.
   *
   * @param p The bytes.
   * @returns `p.length`.
   * @throws {SSLError} When OpenSSL fails; a transport error as the transport throws it.
   * @example
   * ```ts ignore
   * await conn.write(new TextEncoder().encode("hello"));
   * ```
   */
  async write(p: Uint8Array): Promise<number> {
    if (this.#handshakePromise === null || !this.isHandshakeDone()) await this.handshake();
    const lib = native().ssl;
    const { crypto } = native();
    const count = this.#count;
    let offset = 0;
    while (offset < p.length) {
      const ssl = this._drive();
      clearErrors();
      const rest = offset === 0 ? p : p.subarray(offset);
      const ret = lib.SSL_write_ex(ssl, rest, usize(rest.length), count);
      if (ret === 1) {
        throwCallbackError();
        offset += Number(count[0]);
        const wbio = this.#wbio;
        if (wbio !== null && Number(crypto.BIO_ctrl_pending(wbio)) >= FLUSH_THRESHOLD) {
          await this.#flush();
        }
        continue;
      }
      const code = lib.SSL_get_error(ssl, ret);
      if (code === SSL_ERROR_WANT_READ) {
        await this.#flush();
        await this.#fill();
        continue;
      }
      if (code === SSL_ERROR_WANT_WRITE) {
        await this.#drain();
        continue;
      }
      throw sslError(ssl, ret);
    }
    await this.#flush();
    return p.length;
  }

  /**
   * Sends close_notify, then half-closes the transport (its `closeWrite`,
   * when it has one). The peer's `read` then returns null; this side can
   * still read what the peer sends.
   *
   * @example
   * ```ts ignore
   * await conn.closeWrite();
   * ```
   */
  async closeWrite(): Promise<void> {
    const pipe = this.#pipeOrThrow();
    if (this.#handshakePromise !== null) await this.#handshakePromise;
    const lib = native().ssl;
    for (let tries = 0; (lib.SSL_get_shutdown(this._drive()) & SENT_SHUTDOWN) === 0; tries++) {
      const ssl = this._drive();
      clearErrors();
      const ret = lib.SSL_shutdown(ssl);
      const code = ret < 0 ? lib.SSL_get_error(ssl, ret) : 0;
      native().crypto.ERR_clear_error();
      // Native mode: the socket may be full; wait for it to drain and send the alert.
      if (code === SSL_ERROR_WANT_WRITE && this.#native !== null && tries < 64) {
        await this.#waitNative("write");
        continue;
      }
      break;
    }
    if (pipe !== null) {
      await this.#flush();
      await pipe.closeWrite();
    } else if (this.#native !== null) {
      shutdownWrite(this.#native);
    }
  }

  /**
   * The decrypted bytes as a web stream (Deno's `conn.readable`). Cancelling
   * it closes the connection; it ends at close_notify.
   *
   * @example
   * ```ts ignore
   * for await (const chunk of conn.readable) console.log(chunk.length);
   * ```
   */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#pipeOrThrow();
    this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      type: "bytes",
      autoAllocateChunkSize: READABLE_CHUNK_SIZE,
      pull: async (c) => {
        const controller = c as ReadableByteStreamController;
        const request = controller.byobRequest!;
        const view = request.view as Uint8Array<ArrayBuffer>;
        let n: number | null;
        try {
          n = await this.read(view);
        } catch (e) {
          if (e instanceof ClosedError) {
            controller.close();
            request.respond(0);
            return;
          }
          throw e;
        }
        if (n === null) {
          controller.close();
          request.respond(0);
        } else {
          request.respond(n);
        }
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  /**
   * A web stream that encrypts and sends what is written to it (Deno's
   * `conn.writable`). Closing it sends close_notify and half-closes the
   * transport; aborting it closes the connection.
   *
   * @example
   * ```ts ignore
   * await conn.readable.pipeTo(conn.writable); // echo
   * ```
   */
  get writable(): WritableStream<Uint8Array> {
    this.#pipeOrThrow();
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable;
  }

  /** The transport's local address (an all-zero TCP address when the transport has none). */
  get localAddr(): AddrOf<T> {
    return addrOf(this._passthroughTargets, "localAddr") as AddrOf<T>;
  }

  /** The transport's remote address (an all-zero TCP address when the transport has none). */
  get remoteAddr(): AddrOf<T> {
    return addrOf(this._passthroughTargets, "remoteAddr") as AddrOf<T>;
  }

  /**
   * Lets the transport keep the event loop alive (its `ref()`, when it has one).
   *
   * @example
   * ```ts ignore
   * conn.ref();
   * ```
   */
  ref(): void {
    this._handle;
    callOn(this._passthroughTargets, "ref");
  }

  /**
   * Stops the transport from keeping the event loop alive (its `unref()`).
   *
   * @example
   * ```ts ignore
   * conn.unref();
   * ```
   */
  unref(): void {
    this._handle;
    callOn(this._passthroughTargets, "unref");
  }

  // ---- negotiation and introspection (issue 5) ----

  /**
   * Sets the ALPN protocols this client offers (`SSL_set_alpn_protos`),
   * overriding the context's.
   *
   * @param protos The protocols in preference order.
   * @throws {TypeError} When the list is empty or a protocol is empty or longer than 255 bytes.
   * @throws {SSLError} When OpenSSL refuses the list.
   * @example Offer HTTP/2
   * ```ts ignore
   * conn.setAlpnProtos(["h2", "http/1.1"]);
   * ```
   */
  setAlpnProtos(protos: readonly (string | Uint8Array)[]): void {
    const ssl = this._handle;
    const wire = negotiation.alpnWire(protos);
    clearErrors();
    // 0 means success here; OpenSSL copies the list.
    if (native().ssl.SSL_set_alpn_protos(ssl, wire, wire.length) !== 0) {
      throw sslErrorFromQueue("Could not set ALPN protocols");
    }
  }

  /**
   * The application protocol agreed through ALPN (`SSL_get0_alpn_selected`).
   *
   * @returns The protocol, or null when none was agreed.
   * @example Route by protocol
   * ```ts ignore
   * if (conn.getAlpnProtoNegotiated() === "h2") serveHttp2(conn);
   * ```
   */
  getAlpnProtoNegotiated(): string | null {
    return negotiation.alpnSelected(this._handle);
  }

  /**
   * The session in use (`SSL_get1_session`). On a TLS 1.3 client it becomes
   * resumable only once the server's ticket was read, after the handshake
   * (a `recv`; `doHandshake` does not read past the handshake). Close the
   * connection with `shutdown()` first: OpenSSL marks the session of a
   * connection freed without close_notify as no longer resumable.
   *
   * @returns The session (its own reference: close it or let it be collected), or null.
   * @example Save the session for later
   * ```ts ignore
   * const der = conn.getSession()?.toDER();
   * ```
   */
  getSession(): Session | null {
    return keys.getSession(this._handle);
  }

  /**
   * Sets the session a client tries to resume (`SSL_set_session`), before its
   * handshake. A server that does not know the session (another ticket key,
   * another session ID context, expired) makes a full handshake instead.
   *
   * @param session A session from an earlier connection or from `Session.fromDER`.
   * @throws {TypeError} When `session` is not a `Session`.
   * @throws {ClosedError} When the session was closed.
   * @example Resume a session
   * ```ts ignore
   * conn.setSession(saved);
   * ```
   */
  setSession(session: Session): void {
    keys.setSession(this._handle, session);
  }

  /**
   * Whether the handshake resumed a session (`SSL_session_reused`).
   *
   * @returns True for a resumed session.
   * @example Check resumption
   * ```ts ignore
   * console.log(conn.sessionReused());
   * ```
   */
  sessionReused(): boolean {
    return native().ssl.SSL_session_reused(this._handle) === 1;
  }

  /**
   * Asks the server for a stapled OCSP response (`SSL_set_tlsext_status_type`);
   * without it the OCSP callbacks of both sides do not run. Call before the handshake.
   *
   * @throws {SSLError} When OpenSSL refuses.
   * @example Request a staple
   * ```ts ignore
   * conn.requestOcsp();
   * ```
   */
  requestOcsp(): void {
    keys.requestOcsp(this._handle);
  }

  /**
   * Derives keying material from the session (`SSL_export_keying_material`,
   * RFC 5705 and RFC 8446 §7.5). Both peers get the same bytes.
   *
   * @param label The label, such as `"EXPERIMENTAL-my-protocol"`.
   * @param length How many bytes.
   * @param context An optional context value; none and empty differ on TLS 1.2.
   * @returns The keying material.
   * @throws {RangeError} When `length` is not a positive integer.
   * @throws {SSLError} Before the handshake is done.
   * @example Derive a key
   * ```ts ignore
   * const key = conn.exportKeyingMaterial("EXPERIMENTAL-app", 32, "v1");
   * ```
   */
  exportKeyingMaterial(label: string, length: number, context?: string | Uint8Array): Uint8Array {
    return keys.exportKeyingMaterial(this._handle, label, length, context);
  }

  /**
   * The last Finished message this side sent (`SSL_get_finished`).
   *
   * @returns A copy, or null before the handshake sent one.
   * @example Compare with the peer's
   * ```ts ignore
   * conn.getFinished();
   * ```
   */
  getFinished(): Uint8Array | null {
    return keys.getFinished(this._handle);
  }

  /**
   * The last Finished message the peer sent (`SSL_get_peer_finished`).
   *
   * @returns A copy, or null before one was received.
   * @example Compare with the peer's own
   * ```ts ignore
   * conn.getPeerFinished();
   * ```
   */
  getPeerFinished(): Uint8Array | null {
    return keys.getPeerFinished(this._handle);
  }

  /**
   * The ClientHello random (`SSL_get_client_random`).
   *
   * @returns 32 bytes, or null before the ClientHello.
   * @example Match a key log line
   * ```ts ignore
   * const hex = Array.from(conn.clientRandom()!, (b) => b.toString(16).padStart(2, "0")).join("");
   * ```
   */
  clientRandom(): Uint8Array | null {
    return keys.helloRandom(this._handle, "client");
  }

  /**
   * The ServerHello random (`SSL_get_server_random`).
   *
   * @returns 32 bytes, or null before the ServerHello.
   * @example Read the server random
   * ```ts ignore
   * conn.serverRandom();
   * ```
   */
  serverRandom(): Uint8Array | null {
    return keys.helloRandom(this._handle, "server");
  }

  /**
   * The TLS 1.2 master secret (`SSL_SESSION_get_master_key`); on TLS 1.3,
   * the session's resumption secret.
   *
   * @returns A copy, or null without a session.
   * @example Read the master secret
   * ```ts ignore
   * conn.masterKey()?.length; // 48 on TLS 1.2
   * ```
   */
  masterKey(): Uint8Array | null {
    return keys.masterKey(this._handle);
  }

  /**
   * A channel binding for authentication protocols (SCRAM, GSS-API):
   * `tls-exporter` (RFC 9266, 32 bytes) or `tls-unique` (RFC 5929, the first
   * Finished message; TLS 1.2 only).
   *
   * @param type By default `tls-exporter` on TLS 1.3 and `tls-unique` on TLS 1.2.
   * @returns The binding, or null before the handshake is done.
   * @throws {TypeError} For an unknown type.
   * @throws {RangeError} For `tls-unique` on TLS 1.3.
   * @example Bind SCRAM to the TLS channel
   * ```ts ignore
   * const cb = conn.getChannelBinding("tls-exporter");
   * ```
   */
  getChannelBinding(type?: keys.ChannelBindingType): Uint8Array | null {
    return keys.channelBinding(this._handle, type);
  }

  /**
   * The secret bits of the negotiated cipher (`SSL_CIPHER_get_bits`).
   *
   * @returns For example 256, or null before the handshake.
   * @example Require 256-bit ciphers
   * ```ts ignore
   * if ((conn.getCipherBits() ?? 0) < 256) conn.close();
   * ```
   */
  getCipherBits(): number | null {
    return keys.cipherInfo(this._handle)?.bits ?? null;
  }

  /**
   * The protocol version that introduced the negotiated cipher (`SSL_CIPHER_get_version`).
   *
   * @returns For example `"TLSv1.3"` or `"TLSv1.2"`, or null before the handshake.
   * @example Read the cipher's version
   * ```ts ignore
   * conn.getCipherVersion();
   * ```
   */
  getCipherVersion(): string | null {
    return keys.cipherInfo(this._handle)?.version ?? null;
  }

  /**
   * The cipher suites this connection offers or accepts, in preference order
   * (`SSL_get_cipher_list`), TLS 1.3 suites first.
   *
   * @returns OpenSSL cipher names.
   * @example List the ciphers
   * ```ts ignore
   * console.log(conn.getCipherList().join(":"));
   * ```
   */
  getCipherList(): string[] {
    return keys.cipherList(this._handle);
  }

  /**
   * The key exchange group negotiated (`SSL_get0_group_name` on OpenSSL 3.2+;
   * on 3.0 and 3.1 the NID of `SSL_get_negotiated_group`, named by `OBJ_nid2sn`).
   *
   * @returns For example `"X25519"` or `"prime256v1"`, or null (no handshake, or none used).
   * @example Read the group
   * ```ts ignore
   * conn.getGroupName();
   * ```
   */
  getGroupName(): string | null {
    return keys.groupName(this._handle);
  }

  /**
   * This side's own certificate (`SSL_get_certificate`).
   *
   * @returns The certificate, or null when none is set.
   * @example Print our subject
   * ```ts ignore
   * console.log(conn.getCertificate()?.subject.commonName);
   * ```
   */
  getCertificate(): X509 | null {
    return keys.ownCertificate(this._handle);
  }

  /**
   * The certificates the peer sent (`SSL_get_peer_cert_chain`). As in
   * OpenSSL, a server's view leaves out the client's own certificate;
   * a client's view starts with the server's leaf.
   *
   * @returns The certificates, or null when the peer sent none.
   * @example Print the peer's chain
   * ```ts ignore
   * for (const cert of conn.getPeerCertChain() ?? []) console.log(cert.subject.commonName);
   * ```
   */
  getPeerCertChain(): X509[] | null {
    return keys.certificatesOf(native().ssl.SSL_get_peer_cert_chain(this._handle));
  }

  /**
   * The chain verification built from the peer's leaf to a trust anchor
   * (`SSL_get0_verified_chain`).
   *
   * @returns The certificates, leaf first, or null without verification.
   * @example Print the trust anchor
   * ```ts ignore
   * console.log(conn.getVerifiedChain()?.at(-1)?.subject.commonName);
   * ```
   */
  getVerifiedChain(): X509[] | null {
    return keys.certificatesOf(native().ssl.SSL_get0_verified_chain(this._handle));
  }

  /**
   * The CA names of client certificate requests (`SSL_get_client_CA_list`):
   * on a client, those the server sent; on a server, those it sends.
   *
   * @returns Copies of the names (empty when none).
   * @example Pick a client certificate
   * ```ts ignore
   * const names = conn.getClientCaList().map((n) => n.commonName);
   * ```
   */
  getClientCaList(): X509Name[] {
    return keys.namesOf(native().ssl.SSL_get_client_CA_list(this._handle));
  }

  /**
   * Starts a TLS 1.2 renegotiation (`SSL_renegotiate`); the next
   * `doHandshake()` sends the request. Refused by OpenSSL on TLS 1.3 and
   * under `OP_NO_RENEGOTIATION`.
   *
   * @throws {SSLError} When OpenSSL refuses to renegotiate.
   * @example Renegotiate
   * ```ts ignore
   * conn.renegotiate();
   * conn.doHandshake();
   * ```
   */
  renegotiate(): void {
    keys.renegotiate(this._handle);
  }

  /**
   * Whether a renegotiation is under way (`SSL_renegotiate_pending`).
   *
   * @returns True until it finished.
   * @example Wait for a renegotiation
   * ```ts ignore
   * while (conn.renegotiatePending()) pumpOnce();
   * ```
   */
  renegotiatePending(): boolean {
    return native().ssl.SSL_renegotiate_pending(this._handle) === 1;
  }

  /**
   * How many renegotiations this connection started or accepted
   * (`SSL_total_renegotiations`).
   *
   * @returns The count.
   * @example Count renegotiations
   * ```ts ignore
   * conn.totalRenegotiations();
   * ```
   */
  totalRenegotiations(): number {
    return keys.totalRenegotiations(this._handle);
  }

  /**
   * Schedules a TLS 1.3 key update (`SSL_key_update`), sent with the next
   * write or `doHandshake()`.
   *
   * @param requestPeer Whether the peer must update its sending keys too.
   * @throws {SSLError} When not on TLS 1.3 or the handshake is not done.
   * @example Rotate traffic keys
   * ```ts ignore
   * conn.keyUpdate(true);
   * conn.doHandshake();
   * ```
   */
  keyUpdate(requestPeer = false): void {
    keys.keyUpdate(this._handle, requestPeer);
  }

  /**
   * Asks a TLS 1.3 client for its certificate after the handshake
   * (`SSL_verify_client_post_handshake`); the next `doHandshake()` sends the
   * request. The server needs `VERIFY_PEER | VERIFY_POST_HANDSHAKE` and the
   * client `setPostHandshakeAuth()`.
   *
   * @throws {SSLError} When the client did not offer post-handshake authentication.
   * @example Authenticate a client later
   * ```ts ignore
   * server.verifyClientPostHandshake();
   * server.doHandshake();
   * ```
   */
  verifyClientPostHandshake(): void {
    keys.verifyClientPostHandshake(this._handle);
  }

  /**
   * Lets this client answer TLS 1.3 post-handshake certificate requests
   * (`SSL_set_post_handshake_auth`). Call before the handshake.
   *
   * @param enabled Whether to offer it (default true).
   * @example Offer post-handshake authentication
   * ```ts ignore
   * client.setPostHandshakeAuth();
   * ```
   */
  setPostHandshakeAuth(enabled = true): void {
    native().ssl.SSL_set_post_handshake_auth(this._handle, enabled ? 1 : 0);
  }

  // ---- DTLS (issue 12; glue in _dtls.ts, datagram transport in dtls.ts) ----

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
   * @example Wait for a client that proved its address
   * ```ts ignore
   * server.bioWrite(datagram);
   * try { server.dtlsListen(); } catch (e) { if (!(e instanceof WantReadError)) throw e; }
   * ```
   */
  dtlsListen(): void {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "dtlsListen()");
    if (!this.#roleSet) this.setAcceptState();
    dtls.listen(ssl);
  }

  /**
   * The time left before the DTLS retransmission timer fires
   * (`DTLSv1_get_timeout`). When it reaches 0, call
   * {@link handleDtlsTimeout}.
   *
   * @returns Milliseconds (0 once expired), or null when no timer runs.
   * @throws {TypeError} On a TLS connection.
   * @example Wait for data or the timer
   * ```ts ignore
   * const ms = conn.getDtlsTimeout();
   * if (ms !== null) setTimeout(() => conn.handleDtlsTimeout(), ms);
   * ```
   */
  getDtlsTimeout(): number | null {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "getDtlsTimeout()");
    return dtls.getTimeout(ssl);
  }

  /**
   * Retransmits the last DTLS flight when the timer expired
   * (`DTLSv1_handle_timeout`); each expiry doubles the next timeout.
   *
   * @returns True when it retransmitted (read the datagrams with `bioRead`).
   * @throws {TypeError} On a TLS connection.
   * @throws {SSLError} When OpenSSL gives up after too many retransmissions.
   * @example Retransmit on time
   * ```ts ignore
   * if (conn.getDtlsTimeout() === 0 && conn.handleDtlsTimeout()) send(conn.bioRead(65536));
   * ```
   */
  handleDtlsTimeout(): boolean {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "handleDtlsTimeout()");
    return dtls.handleTimeout(ssl);
  }

  /**
   * Sets the largest datagram (UDP payload, without IP and UDP headers)
   * this DTLS connection sends (`DTLS_set_link_mtu`), and sets
   * `OP_NO_QUERY_MTU` so that OpenSSL keeps it (over memory BIOs it would
   * otherwise fall back to 256 bytes). Handshake messages are cut into
   * records that fit; application data is not cut: keep each `send` within
   * {@link getCleartextMtu}.
   *
   * @param mtu Bytes, from OpenSSL's minimum (256) to 65507.
   * @throws {RangeError} When out of range.
   * @throws {TypeError} On a TLS connection.
   * @example A WebRTC-sized MTU
   * ```ts ignore
   * conn.setCiphertextMtu(1200);
   * ```
   */
  setCiphertextMtu(mtu: number): void {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "setCiphertextMtu()");
    dtls.setLinkMtu(ssl, mtu);
  }

  /**
   * The most plaintext one `send` can carry without the datagram exceeding
   * the MTU (`DTLS_get_data_mtu`): the MTU less the record header and the
   * cipher's overhead.
   *
   * @returns Bytes, or 0 before the handshake chose a cipher.
   * @throws {TypeError} On a TLS connection.
   * @example Size messages to the MTU
   * ```ts ignore
   * const max = conn.getCleartextMtu(); // 1163 for AES-GCM within 1200
   * ```
   */
  getCleartextMtu(): number {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "getCleartextMtu()");
    return dtls.dataMtu(ssl);
  }

  /**
   * Offers (client) or accepts (server) DTLS-SRTP with these profiles
   * (`SSL_set_tlsext_use_srtp`), overriding the context's. Call before the
   * handshake.
   *
   * @param profiles Profile names, most preferred first.
   * @throws {TypeError} When the list is empty.
   * @throws {SSLError} When OpenSSL does not know a profile.
   * @example Offer one profile
   * ```ts ignore
   * conn.setTlsextUseSrtp(["SRTP_AES128_CM_SHA1_80"]);
   * ```
   */
  setTlsextUseSrtp(profiles: string | readonly string[]): void {
    dtls.setConnectionSrtp(this._handle, profiles);
  }

  /**
   * The SRTP protection profile both sides agreed on (`SSL_get_selected_srtp_profile`).
   *
   * @returns For example `"SRTP_AES128_CM_SHA1_80"`, or null when none.
   * @example Check the profile
   * ```ts ignore
   * conn.getSelectedSrtpProfile();
   * ```
   */
  getSelectedSrtpProfile(): string | null {
    return dtls.selectedSrtpProfile(this._handle);
  }

  /**
   * The SRTP master keys and salts of both directions (RFC 5764 §4.2): the
   * keying material exported with the label `EXTRACTOR-dtls_srtp`, cut by
   * the negotiated profile's key and salt lengths. Both peers get the same.
   *
   * @returns The keys and salts, or null when no SRTP profile was negotiated.
   * @throws {SSLError} Before the handshake is done.
   * @example Key an SRTP session
   * ```ts ignore
   * const srtp = conn.exportSrtpKeyingMaterial();
   * if (srtp) startSrtp(srtp.profile, srtp.clientWriteKey, srtp.clientWriteSalt);
   * ```
   */
  exportSrtpKeyingMaterial(): dtls.SrtpKeyingMaterial | null {
    return dtls.srtpKeyingMaterial(this._handle);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#ssl === null;
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
   *
   * @example
   * ```ts ignore
   * conn.close();
   * ```
   */
  close(): void {
    this.#closeNow();
  }

  #closeNow(): Promise<void> {
    const ssl = this.#ssl;
    if (ssl === null) return this.#writeChain.catch(() => {});
    const pipe = this.#pipe;
    const endpoint = this.#native;
    let last: Promise<void> = this.#writeChain;
    if (pipe !== null || endpoint !== null) {
      const lib = native().ssl;
      if (
        lib.SSL_is_init_finished(ssl) === 1 && (lib.SSL_get_shutdown(ssl) & SENT_SHUTDOWN) === 0 &&
        !inCallback()
      ) {
        clearErrors();
        lib.SSL_shutdown(ssl);
        native().crypto.ERR_clear_error();
        last = this.#flush(); // native mode: SSL_shutdown wrote the alert itself (best effort)
      }
    }
    this.#ssl = null;
    this.#rbio = null;
    this.#wbio = null;
    if (this.#direct !== null) {
      closeDirect(this.#direct); // the close_notify above went out already, or is queued on the transport
      this.#direct = null;
    }
    this.#directCandidate = false;
    registry.unregister(this);
    unregisterOwner(this.#addr);
    if (endpoint !== null && endpoint.fd >= 0) {
      // Settle pending waits and deregister before the descriptor goes away.
      reactor().cancel(endpoint.fd, new ClosedError("Connection"));
    }
    const free = (): void => {
      native().ssl.SSL_free(ssl);
      if (endpoint !== null) {
        fdRegistry.unregister(endpoint);
        closeNativeFd(endpoint);
      }
    };
    // Closed from a callback, OpenSSL still runs on this SSL up the stack: free it after that call.
    if (inCallback()) queueMicrotask(free);
    else free();
    releaseHandle("SSL", this.#addr);
    if (endpoint !== null) closeNativeTransport(endpoint);
    waitEnds(this);
    this.#rejectClosed?.(new ClosedError("Connection"));
    this.#releaseInBuf();
    if (pipe === null) return Promise.resolve();
    const done = closeAfterWrites(pipe, this.#writesInFlight > 0 ? last : null);
    this.#writeChain = done;
    return done;
  }

  /**
   * Closes the connection; a handshake under way rejects with `reason` (a
   * handshake timeout, an abort signal's reason) rather than `ClosedError`. Internal.
   *
   * @param reason Why.
   */
  _abort(reason: unknown): void {
    this.#abortReason = reason;
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
   *
   * @example
   * ```ts ignore
   * await using conn = await connectTls({ hostname: "example.com", port: 443 });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#closeNow();
  }
}

/**
 * Whether idle connections may hand OpenSSL's record buffers back
 * (`SSL_free_buffers`): safe from 3.0.14 on, which fixed CVE-2024-4741 (a
 * use after free when a record was still partly buffered). Decided once.
 */
let freeBuffersSafe: boolean | undefined;

function releaseRecordBuffers(ssl: Deno.PointerObject): void {
  if (freeBuffersSafe === undefined) {
    const { major, minor, patch } = opensslVersion();
    freeBuffersSafe = major > 3 || minor > 0 || patch >= 14;
  }
  // Returns 0 (and frees nothing) while a record is partly read or written.
  if (freeBuffersSafe) native().ssl.SSL_free_buffers(ssl);
}

/** For promises whose rejection someone else handles. */
function ignore(): void {}

/** Size of the buffer a connection reads its transport into. */
const IN_BUFFER_SIZE = 64 * 1024;
/** Its starting size: enough for small messages; it grows to 16 KiB, then 64 KiB, when filled. */
const IN_BUFFER_START = 4 * 1024;
/** Outgoing ciphertext queued before `write` flushes it mid-call. */
const FLUSH_THRESHOLD = 256 * 1024;
/** Chunk size of `readable` when the reader brings no buffer. */
const READABLE_CHUNK_SIZE = 16 * 1024;

const ZERO_ADDR: Deno.NetAddr = Object.freeze({ transport: "tcp", hostname: "0.0.0.0", port: 0 });

function addrOf(targets: readonly object[], key: "localAddr" | "remoteAddr"): Deno.Addr {
  for (const t of targets) {
    if (key in t) return (t as Record<string, Deno.Addr>)[key]!;
  }
  return ZERO_ADDR;
}

function callOn(targets: readonly object[], key: "ref" | "unref"): void {
  for (const t of targets) {
    const fn = (t as Record<string, unknown>)[key];
    if (typeof fn === "function") {
      fn.call(t);
      return;
    }
  }
}

/**
 * What `handshake()` resolves to: Deno's `TlsHandshakeInfo` plus what Deno
 * does not tell.
 *
 * @example
 * ```ts ignore
 * const { alpnProtocol, protocol, cipher, peerCertificate } = await conn.handshake();
 * ```
 */
export interface HandshakeInfo extends Deno.TlsHandshakeInfo {
  /** The negotiated protocol version, for example `"TLSv1.3"`. */
  protocol: string;
  /** The negotiated cipher, for example `"TLS_AES_256_GCM_SHA384"`. */
  cipher: string;
  /** The peer's certificate, or null when it sent none. */
  peerCertificate: X509 | null;
}

/** The address type a transport reports (`Deno.NetAddr` when it reports none). */
export type AddrOf<T> = T extends { readonly localAddr: infer A } ? A : Deno.NetAddr;

/** Members of a transport reachable on its connection through passthrough. */
export type TransportMembers<T> = T extends null ? unknown
  : T extends { read(p: Uint8Array): unknown; write(p: Uint8Array): unknown }
    ? Omit<T, keyof ConnectionBase>
  : T extends { fd: number } | { fileno(): number } ? Omit<T, keyof ConnectionBase>
  : T extends { reader: infer R; writer: infer W }
    ? Omit<R, keyof ConnectionBase> & Omit<W, keyof ConnectionBase | keyof R>
  : unknown;

/**
 * A TLS connection over transport `T`: everything of {@link ConnectionBase}
 * plus the transport's own members, reached through passthrough (a lookup
 * that fails on the connection resolves on its transport, as in pyOpenSSL),
 * so `conn.setNoDelay(true)` works on a connection over a `Deno.TcpConn`.
 *
 * @example
 * ```ts ignore
 * const tcp = await Deno.connect({ hostname: "example.com", port: 443 });
 * const conn: Connection<Deno.TcpConn> = new Connection(ctx, tcp);
 * conn.setNoDelay(true);
 * ```
 */
export type Connection<T extends Transport = Transport> = ConnectionBase<T> & TransportMembers<T>;

/**
 * The constructor of {@link Connection}: `new Connection(context, transport)`.
 *
 * @example
 * ```ts ignore
 * const conn = new Connection(ctx, null); // memory BIOs
 * ```
 */
export interface ConnectionConstructor {
  /**
   * Creates a connection.
   *
   * @param context The configuration; it can no longer be changed afterwards.
   * @param transport `null` for memory BIOs, a transport to pump, or a descriptor (native mode).
   * @param options `native: true` for native mode on a `Deno.TcpConn`/`Deno.UnixConn`.
   */
  new <T extends Transport = null>(
    context: Context,
    transport?: T,
    options?: ConnectionOptions,
  ): Connection<T>;
  /** The prototype. */
  readonly prototype: ConnectionBase;
}

/**
 * A TLS connection: see {@link ConnectionBase} for its methods and
 * {@link Connection} (the type) for passthrough.
 */
export const Connection: ConnectionConstructor = ConnectionBase as unknown as ConnectionConstructor;

// Passthrough: a Proxy at the end of the prototype chain, reached only after
// the class's own lookup failed, so the hot path never pays for it.
Object.setPrototypeOf(
  ConnectionBase.prototype,
  new Proxy(Object.create(Object.prototype) as object, {
    get(target, key, receiver): unknown {
      if (key in target || typeof key === "symbol") return Reflect.get(target, key, receiver);
      if (!(receiver instanceof ConnectionBase)) return undefined;
      for (const t of receiver._passthroughTargets) {
        if (key in t) {
          const value = (t as Record<string, unknown>)[key];
          return typeof value === "function" ? value.bind(t) : value;
        }
      }
      return undefined;
    },
    has(target, key): boolean {
      return key in target;
    },
  }),
);
