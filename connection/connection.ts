/**
 * `Connection`: OpenSSL's `SSL`, with pyOpenSSL's synchronous API.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { cstr, readCString, toBytes } from "../ffi/memory.ts";
import {
  BIO_set_mem_eof_return,
  SSL_set_tlsext_host_name,
  TLSEXT_NAMETYPE_host_name,
  VERIFY_NONE,
} from "../ffi/constants.ts";
import { ClosedError, WantReadError } from "../errors/ssl_error.ts";
import { clearErrors, sslErrorFromQueue, throwCallbackError } from "../errors/queue.ts";
import { raiseSSLError } from "../errors/raise.ts";
import { X509 } from "../crypto/x509.ts";
import { Context } from "./context.ts";
import { registerOwner, unregisterOwner } from "./_registry.ts";
import { verifyTrampoline } from "./_verify.ts";
import type { VerifyCallback } from "./_verify.ts";

/** `MSG_PEEK`: with {@link Connection.recv}, read without consuming. */
export const MSG_PEEK = 2;

/** `SSL_READING`, as `SSL_want` reports it. */
const SSL_READING = 3;
/** `SSL_WRITING`, as `SSL_want` reports it. */
const SSL_WRITING = 2;

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[?[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\]?)$/;

const registry = new FinalizationRegistry<bigint>((address) => {
  unregisterOwner(address);
  const ptr = Deno.UnsafePointer.create(address);
  if (ptr) native().ssl.SSL_free(ptr);
});

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
export class Connection {
  #ssl: Deno.PointerObject | null;
  #context: Context;
  #rbio: Deno.PointerObject | null = null;
  #wbio: Deno.PointerObject | null = null;
  #verifyCallback: VerifyCallback<Connection> | null;
  readonly #count = new BigUint64Array(1);

  /**
   * Creates a connection from a context.
   *
   * @param context The configuration to use; it can no longer be changed afterwards.
   * @param transport `null` for memory BIOs.
   * @throws {TypeError} When the arguments are of the wrong type.
   * @throws {SSLError} When OpenSSL cannot create the connection.
   */
  constructor(context: Context, transport: null = null) {
    if (!(context instanceof Context)) throw new TypeError("context must be a Context");
    if (transport !== null) {
      throw new TypeError("Only the null (memory BIO) transport is supported yet");
    }
    const { ssl: lib, crypto } = native();
    clearErrors();
    const ssl = lib.SSL_new(context._handle);
    if (ssl === null) throw sslErrorFromQueue("SSL_new failed");
    context._markUsed();
    this.#ssl = ssl;
    this.#context = context;
    this.#verifyCallback = context._verifyCallback;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ssl)), this);
    registerOwner(ssl, this);

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
  }

  /** The `SSL*`, for denossl's own use. Throws when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ssl === null) throw new ClosedError("Connection");
    return this.#ssl;
  }

  /** The verify callback in force (the context's at creation, or this connection's own). Internal. */
  get _verifyCallback(): VerifyCallback<Connection> | null {
    return this.#verifyCallback;
  }

  #memoryBio(which: "read" | "write"): Deno.PointerObject {
    this._handle;
    const bio = which === "read" ? this.#rbio : this.#wbio;
    if (bio === null) throw new TypeError("This connection does not use memory BIOs");
    return bio;
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
  setVerify(mode: number, callback?: VerifyCallback<Connection> | null): void {
    const ssl = this._handle;
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0xf) {
      throw new RangeError("mode must be VERIFY_NONE or a combination of VERIFY_* flags");
    }
    if (callback != null && typeof callback !== "function") {
      throw new TypeError("callback must be a function");
    }
    this.#verifyCallback = callback ?? null;
    native().ssl.SSL_set_verify(ssl, mode, mode === VERIFY_NONE ? null : verifyTrampoline());
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
   * only with `VERIFY_PEER`.
   *
   * @param host A DNS name or an IPv4/IPv6 literal.
   * @throws {TypeError} When `host` is empty or malformed.
   * @example
   * ```ts ignore
   * conn.setVerifyHostname("example.com");
   * conn.setVerifyHostname("127.0.0.1");
   * ```
   */
  setVerifyHostname(host: string): void {
    const ssl = this._handle;
    if (typeof host !== "string" || host.length === 0) {
      throw new TypeError("host must be a non-empty string");
    }
    const { ssl: lib, crypto } = native();
    clearErrors();
    if (IP_LITERAL.test(host)) {
      const ip = host.startsWith("[") ? host.slice(1, -1) : host;
      if (crypto.X509_VERIFY_PARAM_set1_ip_asc(lib.SSL_get0_param(ssl), cstr(ip, "host")) !== 1) {
        throw new TypeError(`Invalid IP address: ${host}`);
      }
    } else if (lib.SSL_set1_host(ssl, cstr(host, "host")) !== 1) {
      throw new TypeError(`Invalid host name: ${host}`);
    }
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
    const ssl = this._handle;
    clearErrors();
    const ret = native().ssl.SSL_do_handshake(ssl);
    if (ret !== 1) raiseSSLError(ssl, ret);
    throwCallbackError();
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
    const ssl = this._handle;
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
    const ssl = this._handle;
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
    const ssl = this._handle;
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

  // ---- lifecycle --------------------------------------------------------------------------

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#ssl === null;
  }

  /**
   * Frees the connection's native state, without sending close_notify (call
   * {@link shutdown} first for a clean close). Idempotent.
   *
   * @example
   * ```ts ignore
   * conn.close();
   * ```
   */
  close(): void {
    const ssl = this.#ssl;
    if (ssl === null) return;
    this.#ssl = null;
    this.#rbio = null;
    this.#wbio = null;
    registry.unregister(this);
    unregisterOwner(ssl);
    native().ssl.SSL_free(ssl);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
