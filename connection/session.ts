/**
 * `Session`: OpenSSL's `SSL_SESSION`, the state a client keeps to resume a
 * TLS session (a TLS 1.2 session ID or ticket, a TLS 1.3 ticket).
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long, usize } from "../ffi/ctypes.ts";
import { copyBytes, readCString } from "../ffi/memory.ts";
import { ClosedError } from "../errors/ssl_error.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";

const registry = handleRegistry("SSL_SESSION", (ptr) => native().ssl.SSL_SESSION_free(ptr));

/**
 * A TLS session (`SSL_SESSION`), as `Connection.getSession()` returns it
 * and `Connection.setSession()` takes it. A client that sets the session
 * of an earlier connection before its handshake resumes that session when
 * the server agrees (`Connection.sessionReused()`).
 *
 * A session owns one reference to the native object: {@link close} (or
 * `using`) releases it; a forgotten session is released by the garbage
 * collector. Sessions survive a restart through {@link toDER} and
 * {@link fromDER}; a server made anew resumes them when it has the same
 * ticket keys (`Context.setTicketKeys`) and session ID context. A session
 * whose connection was closed without `shutdown()` is no longer resumable
 * (OpenSSL's rule for connections that may have failed).
 *
 * @example Keep a session across a server restart
 * ```ts
 * import {
 *   Connection,
 *   Context,
 *   Session,
 *   TestCA,
 *   TLS1_3_VERSION,
 *   TLS_METHOD,
 *   WantReadError,
 * } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const serve = (ticketKeys?: Uint8Array): Context => {
 *   const ctx = new Context(TLS_METHOD);
 *   ctx.useCertificate(leaf.cert);
 *   ctx.usePrivateKey(leaf.key);
 *   if (ticketKeys) ctx.setTicketKeys(ticketKeys);
 *   return ctx;
 * };
 * using clientCtx = new Context(TLS_METHOD);
 * const wire = new Uint8Array(65536);
 * const pump = (from: Connection, to: Connection): void => {
 *   while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
 * };
 * const connect = (serverCtx: Context, session?: Session): Connection => {
 *   const client = new Connection(clientCtx, null);
 *   using server = new Connection(serverCtx, null);
 *   if (session) client.setSession(session);
 *   client.setConnectState();
 *   server.setAcceptState();
 *   for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *     client.tryHandshake();
 *     pump(client, server);
 *     server.tryHandshake();
 *     pump(server, client);
 *   }
 *   return client;
 * };
 *
 * using first = serve();
 * using client1 = connect(first);
 * assert.throws(() => client1.recv(1024), WantReadError); // reads the TLS 1.3 tickets
 * client1.shutdown(); // a session of a connection closed without it is not resumable
 * using session = client1.getSession()!;
 * assert.ok(session.isResumable() && session.hasTicket());
 * assert.equal(session.protocolVersion, TLS1_3_VERSION);
 * assert.equal(session.cipherName, client1.getCipherName());
 * const der = session.toDER(); // secrets included: store it as you would a key
 *
 * // Later, in a new process, with a server made anew that has the same ticket keys:
 * using second = serve(first.getTicketKeys());
 * using restored = Session.fromDER(der);
 * using client2 = connect(second, restored);
 * assert.equal(client2.sessionReused(), true);
 * ```
 */
export class Session {
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
    trackHandle("SSL_SESSION", ptr);
  }

  /**
   * Wraps an `SSL_SESSION*`, taking ownership of one reference. Internal.
   *
   * @param ptr The pointer; the new object frees it.
   * @returns The session.
   */
  static _wrap(ptr: Deno.PointerObject): Session {
    return new Session(ptr);
  }

  /**
   * Wraps an `SSL_SESSION*` borrowed from OpenSSL, taking a reference of its own. Internal.
   *
   * @param ptr The pointer; its reference count is raised.
   * @returns The session.
   */
  static _borrow(ptr: Deno.PointerObject): Session {
    native().ssl.SSL_SESSION_up_ref(ptr);
    return new Session(ptr);
  }

  /**
   * Parses a session serialized with {@link toDER} (`d2i_SSL_SESSION`).
   *
   * @param der The DER bytes.
   * @returns The session.
   * @throws {TypeError} When `der` is not a non-empty `Uint8Array`.
   * @throws {SSLError} When the bytes are not a session.
   */
  static fromDER(der: Uint8Array): Session {
    if (!(der instanceof Uint8Array) || der.length === 0) {
      throw new TypeError("der must be a non-empty Uint8Array");
    }
    const copy = new Uint8Array(der); // a stable buffer d2i may read from
    const cursor = new BigUint64Array([
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(copy))),
    ]);
    clearErrors();
    const ptr = native().ssl.d2i_SSL_SESSION(null, cursor, long(copy.length));
    if (ptr === null) throw sslErrorFromQueue("Could not parse DER session");
    return new Session(ptr);
  }

  /** The `SSL_SESSION*`, for denossl's own use. Throws when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("Session");
    return this.#ptr;
  }

  /**
   * Serializes the session (`i2d_SSL_SESSION`), secrets included: store it
   * as you would a key.
   *
   * @returns The DER bytes.
   * @throws {ClosedError} When closed.
   * @throws {SSLError} When OpenSSL cannot encode it.
   */
  toDER(): Uint8Array {
    const ptr = this._handle;
    const { ssl } = native();
    clearErrors();
    const length = ssl.i2d_SSL_SESSION(ptr, null);
    if (length <= 0) throw sslErrorFromQueue("Could not encode session");
    const out = new Uint8Array(length);
    const cursor = new BigUint64Array([
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out))),
    ]);
    const written = ssl.i2d_SSL_SESSION(ptr, cursor);
    if (written !== length) throw sslErrorFromQueue("Could not encode session");
    return out;
  }

  /**
   * The session ID (`SSL_SESSION_get_id`); empty for a TLS 1.3 or ticket
   * session a server did not give an ID.
   *
   * @returns A copy of the ID (up to 32 bytes).
   * @throws {ClosedError} When closed.
   */
  get id(): Uint8Array {
    const length = new Uint32Array(1);
    const ptr = native().ssl.SSL_SESSION_get_id(this._handle, length);
    return ptr === null ? new Uint8Array(0) : copyBytes(ptr, length[0]!);
  }

  /**
   * The protocol version of the session (`SSL_SESSION_get_protocol_version`).
   *
   * @returns A `*_VERSION` constant, such as `TLS1_3_VERSION`.
   * @throws {ClosedError} When closed.
   */
  get protocolVersion(): number {
    return native().ssl.SSL_SESSION_get_protocol_version(this._handle);
  }

  /**
   * The name of the session's cipher (`SSL_SESSION_get0_cipher`), or null.
   *
   * @returns For example `"TLS_AES_256_GCM_SHA384"`.
   * @throws {ClosedError} When closed.
   */
  get cipherName(): string | null {
    const { ssl } = native();
    const cipher = ssl.SSL_SESSION_get0_cipher(this._handle);
    return cipher === null ? null : readCString(ssl.SSL_CIPHER_get_name(cipher));
  }

  /**
   * When the session was established (`SSL_SESSION_get_time`), to the second.
   *
   * @returns The creation time.
   * @throws {ClosedError} When closed.
   */
  get time(): Date {
    return new Date(Number(native().ssl.SSL_SESSION_get_time(this._handle)) * 1000);
  }

  /**
   * How long the session stays valid after {@link time}, in seconds
   * (`SSL_SESSION_get_timeout`).
   *
   * @returns Seconds.
   * @throws {ClosedError} When closed.
   */
  get timeout(): number {
    return Number(native().ssl.SSL_SESSION_get_timeout(this._handle));
  }

  /**
   * Whether a client can resume the session (`SSL_SESSION_is_resumable`):
   * false for a TLS 1.3 session before its ticket arrived.
   *
   * @returns True when resumable.
   * @throws {ClosedError} When closed.
   */
  isResumable(): boolean {
    return native().ssl.SSL_SESSION_is_resumable(this._handle) === 1;
  }

  /**
   * The TLS 1.2 master secret (`SSL_SESSION_get_master_key`); for TLS 1.3
   * this is the resumption secret instead.
   *
   * @returns A copy of the secret.
   * @throws {ClosedError} When closed.
   */
  masterKey(): Uint8Array {
    const ptr = this._handle;
    const { ssl } = native();
    const length = Number(ssl.SSL_SESSION_get_master_key(ptr, null, usize(0)));
    const out = new Uint8Array(length);
    if (length > 0) ssl.SSL_SESSION_get_master_key(ptr, out, usize(length));
    return out;
  }

  // ---- ticket details ---------------------------------------------------------------------

  /**
   * Whether the server gave this session a ticket (`SSL_SESSION_has_ticket`):
   * true for TLS 1.3 sessions and for TLS 1.2 sessions resumed by ticket
   * (RFC 5077), false for a TLS 1.2 session the server keeps by ID.
   *
   * @returns True when the session carries a ticket.
   * @throws {ClosedError} When closed.
   */
  hasTicket(): boolean {
    return native().ssl.SSL_SESSION_has_ticket(this._handle) === 1;
  }

  /**
   * How long the server says its ticket stays usable, in seconds
   * (`SSL_SESSION_get_ticket_lifetime_hint`); 0 without a ticket, or when
   * the server gave no hint.
   *
   * @returns Seconds.
   * @throws {ClosedError} When closed.
   */
  get ticketLifetimeHint(): number {
    return Number(native().ssl.SSL_SESSION_get_ticket_lifetime_hint(this._handle));
  }

  /**
   * How many bytes of TLS 1.3 early data the server lets a client send when
   * resuming this session (`SSL_SESSION_get_max_early_data`); 0 when none.
   *
   * @returns Bytes.
   * @throws {ClosedError} When closed.
   */
  get maxEarlyData(): number {
    return native().ssl.SSL_SESSION_get_max_early_data(this._handle);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#ptr === null;
  }

  /**
   * Releases this object's reference to the session. Connections that use
   * the session keep their own. Idempotent.
   */
  close(): void {
    const ptr = this.#ptr;
    if (ptr === null) return;
    this.#ptr = null;
    registry.unregister(this);
    native().ssl.SSL_SESSION_free(ptr);
    releaseHandle("SSL_SESSION", ptr);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
