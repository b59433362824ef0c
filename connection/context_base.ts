/**
 * `ContextBase`: the lifecycle and callback half of `Context` (the `SSL_CTX`
 * handle, its freeing, the "configure first" rule, and the JS callbacks the
 * context holds for OpenSSL), and the `*_METHOD` constants. `Context`
 * (context.ts) adds the configuration. Use `Context`.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, toBytes } from "../ffi/memory.ts";
import {
  MODE_ACCEPT_MOVING_WRITE_BUFFER,
  MODE_ENABLE_PARTIAL_WRITE,
  SSL_CTX_set_max_proto_version,
  SSL_CTX_set_min_proto_version,
  SSL_CTX_set_mode,
  TLS1_1_VERSION,
  TLS1_2_VERSION,
  TLS1_VERSION,
  VERIFY_NONE,
} from "../ffi/constants.ts";
import { ClosedError } from "../errors/ssl_error.ts";
import {
  clearErrors,
  recordCallbackError,
  sslErrorFromQueue,
  throwCallbackError,
} from "../errors/queue.ts";
import { X509 } from "../crypto/x509.ts";
import { counted, inCallback, refuseThenable, requireFunction } from "../ffi/callbacks.ts";
import { releaseHandle, trackHandle } from "../ffi/_handles.ts";
import { verifyTrampoline } from "./_verify.ts";
import * as negotiation from "./_negotiation.ts";
import * as selection from "./_selection.ts";
import { forgetSessionStore, setNewSessionCallback } from "./_session_store.ts";
import * as dtls from "./_dtls.ts";
import * as keys from "./_keys.ts";
import type { Connection } from "./connection.ts";
import type {
  AlpnSelectCallback,
  CertificateInput,
  ClientHelloCallback,
  CookieGenerateCallback,
  CookieVerifyCallback,
  InfoCallback,
  KeylogCallback,
  NewSessionCallback,
  OcspClientCallback,
  OcspServerCallback,
  PasswdCallback,
  ServernameCallback,
  VerifyCallback,
} from "./types.ts";
import type { CertCallback, SessionStore } from "./selection.ts";

/** `SSLv23_METHOD` (pyOpenSSL): any TLS version; same as {@link TLS_METHOD}. */
export const SSLv23_METHOD = 3;
/** `TLSv1_METHOD` (pyOpenSSL): TLS 1.0 only. */
export const TLSv1_METHOD = 4;
/** `TLSv1_1_METHOD` (pyOpenSSL): TLS 1.1 only. */
export const TLSv1_1_METHOD = 5;
/** `TLSv1_2_METHOD` (pyOpenSSL): TLS 1.2 only. */
export const TLSv1_2_METHOD = 6;
/** `TLS_METHOD`: client or server, any TLS version OpenSSL allows. */
export const TLS_METHOD = 7;
/** `TLS_SERVER_METHOD`: server only. */
export const TLS_SERVER_METHOD = 8;
/** `TLS_CLIENT_METHOD`: client only. */
export const TLS_CLIENT_METHOD = 9;
/** `DTLS_METHOD`: DTLS client or server. */
export const DTLS_METHOD = 10;
/** `DTLS_SERVER_METHOD`: DTLS server only. */
export const DTLS_SERVER_METHOD = 11;
/** `DTLS_CLIENT_METHOD`: DTLS client only. */
export const DTLS_CLIENT_METHOD = 12;

/**
 * The JS callbacks a context holds for the shared trampolines
 * (`_negotiation.ts`, `_dtls.ts`), which find them through the connection's
 * current context. Internal.
 */
export interface CallbackSlots {
  alpnSelect?: AlpnSelectCallback;
  servername?: ServernameCallback;
  clientHello?: ClientHelloCallback;
  newSession?: NewSessionCallback;
  keylog?: KeylogCallback;
  info?: InfoCallback;
  ocspServer?: OcspServerCallback;
  ocspClient?: OcspClientCallback;
  cookieGenerate?: CookieGenerateCallback;
  cookieVerify?: CookieVerifyCallback;
  cert?: CertCallback;
  sessionStore?: SessionStore;
}

/** `PEM_BUFSIZE`: the room OpenSSL gives a passphrase callback. */
const PEM_BUFSIZE = 1024;

/** `int pem_password_cb(char *buf, int size, int rwflag, void *u)`. */
const PASSWD_CB = { parameters: ["pointer", "i32", "i32", "pointer"], result: "i32" } as const;

const registry = new FinalizationRegistry<
  { ctx: bigint; passwd: Deno.UnsafeCallback<typeof PASSWD_CB> | null }
>((held) => {
  const ptr = Deno.UnsafePointer.create(held.ctx);
  if (ptr) {
    if (held.passwd) native().ssl.SSL_CTX_set_default_passwd_cb(ptr, null);
    native().ssl.SSL_CTX_free(ptr);
    releaseHandle("SSL_CTX", held.ctx);
  }
  held.passwd?.close();
});

function methodPointer(method: number): { ptr: Deno.PointerValue; pin: number } {
  if (typeof method !== "number") {
    throw new TypeError("method must be one of the *_METHOD constants");
  }
  const { ssl } = native();
  switch (method) {
    case SSLv23_METHOD:
    case TLS_METHOD:
      return { ptr: ssl.TLS_method(), pin: 0 };
    case TLSv1_METHOD:
      return { ptr: ssl.TLS_method(), pin: TLS1_VERSION };
    case TLSv1_1_METHOD:
      return { ptr: ssl.TLS_method(), pin: TLS1_1_VERSION };
    case TLSv1_2_METHOD:
      return { ptr: ssl.TLS_method(), pin: TLS1_2_VERSION };
    case TLS_SERVER_METHOD:
      return { ptr: ssl.TLS_server_method(), pin: 0 };
    case TLS_CLIENT_METHOD:
      return { ptr: ssl.TLS_client_method(), pin: 0 };
    case DTLS_METHOD:
      return { ptr: ssl.DTLS_method(), pin: 0 };
    case DTLS_SERVER_METHOD:
      return { ptr: ssl.DTLS_server_method(), pin: 0 };
    case DTLS_CLIENT_METHOD:
      return { ptr: ssl.DTLS_client_method(), pin: 0 };
    default:
      throw new RangeError(`Unknown method ${method}: use one of the *_METHOD constants`);
  }
}

/**
 * The lifecycle and callback half of {@link Context}: the `SSL_CTX` handle
 * and its release, the rule that a used context refuses changes, the
 * verification mode and callback, the passphrase callback, and the
 * negotiation, observation and DTLS cookie callbacks, each kept on the
 * object. Make a `Context`, which adds the configuration methods; this base
 * only keeps each file readable.
 *
 * @example Callbacks are set on a Context
 * ```ts
 * import { Context, ContextBase, TLS_SERVER_METHOD } from "@denossl/denossl";
 * using ctx = new Context(TLS_SERVER_METHOD);
 * ctx.setAlpnSelectCallback((_conn, offered) => offered[0] ?? "");
 * console.log(ctx instanceof ContextBase); // true
 * ```
 *
 * @example One server, two names: the SNI, client hello, ALPN and OCSP callbacks
 * ```ts
 * import {
 *   Connection,
 *   Context,
 *   NO_OVERLAPPING_PROTOCOLS,
 *   TestCA,
 *   TLS1_3_VERSION,
 *   TLS_METHOD,
 *   VERIFY_PEER,
 * } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using www = ca.issue({ dns: ["www.example"] });
 * using api = ca.issue({ dns: ["api.example"] });
 * // A real staple is the DER OCSP response the CA's responder signed.
 * const staple = new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x00]);
 * using wwwCtx = new Context(TLS_METHOD);
 * using apiCtx = new Context(TLS_METHOD);
 * for (const [ctx, leaf] of [[wwwCtx, www], [apiCtx, api]] as const) {
 *   ctx.useCertificate(leaf.cert);
 *   ctx.usePrivateKey(leaf.key);
 *   // After an SNI switch, the callbacks of the context switched to answer.
 *   ctx.setAlpnSelectCallback((_conn, offered) =>
 *     offered.includes("h2") ? "h2" : NO_OVERLAPPING_PROTOCOLS
 *   );
 *   ctx.setOcspServerCallback(() => staple);
 * }
 * const offered: string[] = [];
 * wwwCtx.setClientHelloCallback((_conn, hello) => {
 *   offered.push(...hello.alpnProtocols);
 *   return hello.versions.includes(TLS1_3_VERSION); // false refuses the client
 * });
 * wwwCtx.setTlsextServernameCallback((conn) => {
 *   if (conn.getServername() === "api.example") conn.setContext(apiCtx);
 * });
 * using clientCtx = new Context(TLS_METHOD);
 * clientCtx.addCaCerts(ca.cert);
 * clientCtx.setVerify(VERIFY_PEER);
 * let stapled: Uint8Array = new Uint8Array();
 * clientCtx.setOcspClientCallback((_conn, der) => {
 *   stapled = der;
 *   return der.length > 0; // false fails the handshake
 * });
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(wwwCtx, null);
 * client.setTlsextHostName("api.example");
 * client.setAlpnProtos(["h2", "http/1.1"]);
 * client.requestOcsp();
 * client.setConnectState();
 * server.setAcceptState();
 * const wire = new Uint8Array(65536);
 * const pump = (from: Connection, to: Connection): void => {
 *   while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
 * };
 * for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *   client.tryHandshake();
 *   pump(client, server);
 *   server.tryHandshake();
 *   pump(server, client);
 * }
 * assert.deepEqual(offered, ["h2", "http/1.1"]);
 * assert.equal(client.getPeerCertificate()?.subject.commonName, "api.example");
 * assert.equal(client.getAlpnProtoNegotiated(), "h2");
 * assert.deepEqual(stapled, staple);
 * ```
 */
export class ContextBase {
  #ctx: Deno.PointerObject | null;
  #used = false;
  #verifyCallback: VerifyCallback<Connection> | null = null;
  readonly #callbacks: CallbackSlots = {};
  #passwd: Deno.UnsafeCallback<typeof PASSWD_CB> | null = null;
  #passphrase: (() => string | Uint8Array) | null = null;
  #held: { ctx: bigint; passwd: Deno.UnsafeCallback<typeof PASSWD_CB> | null };

  /**
   * Creates a context.
   *
   * @param method One of the `*_METHOD` constants. The legacy pinned methods
   *   (`TLSv1_2_METHOD`, ...) map as pyOpenSSL maps them: `TLS_method` with
   *   the minimum and maximum version set to that version.
   * @throws {TypeError} When `method` is not a number.
   * @throws {RangeError} When `method` is unknown.
   * @throws {SSLError} When OpenSSL cannot create the context.
   */
  constructor(method: number = TLS_METHOD) {
    const { ptr, pin } = methodPointer(method);
    clearErrors();
    const ctx = native().ssl.SSL_CTX_new(ptr);
    if (ctx === null) throw sslErrorFromQueue("SSL_CTX_new failed");
    this.#ctx = ctx;
    this.#held = { ctx: BigInt(Deno.UnsafePointer.value(ctx)), passwd: null };
    registry.register(this, this.#held, this);
    trackHandle("SSL_CTX", ctx);
    SSL_CTX_set_mode(ctx, MODE_ENABLE_PARTIAL_WRITE | MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (pin) {
      SSL_CTX_set_min_proto_version(ctx, pin);
      SSL_CTX_set_max_proto_version(ctx, pin);
    }
  }

  /** The `SSL_CTX*`, for denossl's own use. Throws when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ctx === null) throw new ClosedError("Context");
    return this.#ctx;
  }

  /** The context-level verify callback, for connections made from it. Internal. */
  get _verifyCallback(): VerifyCallback<Connection> | null {
    return this.#verifyCallback;
  }

  /**
   * The context's callback slots, for the trampolines and their installers. Internal.
   *
   * @ignore
   */
  get _callbacks(): CallbackSlots {
    return this.#callbacks;
  }

  /** Marks the context as used by a connection: later changes are refused. Internal. */
  _markUsed(): void {
    this.#used = true;
  }

  /** Whether a connection was made from this context (it then refuses changes). */
  get inUse(): boolean {
    return this.#used;
  }

  /**
   * The handle, after checking that the context may still be changed. Internal.
   *
   * @ignore
   */
  _mutable(): Deno.PointerObject {
    const ctx = this._handle;
    if (this.#used) {
      throw new TypeError(
        "Context is already used by a Connection and can no longer be changed: configure it before creating connections",
      );
    }
    return ctx;
  }

  /**
   * Throws what a callback threw during the call just made, else an
   * {@link SSLError} from the queue when the call failed. Internal.
   *
   * @param ok Whether the call succeeded.
   * @param what What failed, for the message.
   * @ignore
   */
  _check(ok: boolean, what: string): void {
    throwCallbackError();
    if (!ok) throw sslErrorFromQueue(what);
  }

  // ---- passphrase, verification, callbacks ----------------------------------------

  /**
   * Sets the passphrase callback for encrypted keys loaded afterwards
   * (`SSL_CTX_set_default_passwd_cb`).
   *
   * @param callback Returns the passphrase; a throw fails the load and comes
   *   out of the method that loaded the key.
   * @param userdata Passed to the callback.
   * @throws {TypeError} When `callback` is not a function.
   */
  setPasswdCb(callback: PasswdCallback, userdata?: unknown): void {
    const ctx = this._mutable();
    requireFunction(callback);
    const ask = (size: number, rwflag: number): Uint8Array => {
      const answer: unknown = callback(size, rwflag !== 0, userdata);
      refuseThenable(answer, "passphrase", "return the passphrase");
      if (typeof answer !== "string" && !(answer instanceof Uint8Array)) {
        throw new TypeError("The passphrase callback must return a string or a Uint8Array");
      }
      const value = toBytes(answer);
      if (value.length > size) throw new RangeError(`Passphrase is longer than ${size} bytes`);
      return value;
    };
    const cb = new Deno.UnsafeCallback(
      PASSWD_CB,
      counted((buf: Deno.PointerValue, size: number, rwflag: number) => {
        try {
          const value = ask(size, rwflag);
          if (buf === null) return 0;
          new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(buf, size)).set(value);
          return value.length;
        } catch (e) {
          recordCallbackError(e);
          return -1;
        }
      }),
    );
    native().ssl.SSL_CTX_set_default_passwd_cb(ctx, cb.pointer);
    const old = this.#passwd; // it may be running (a callback that replaces itself): close it after
    if (old && inCallback()) queueMicrotask(() => old.close());
    else old?.close();
    this.#passwd = cb;
    this.#held.passwd = cb;
    this.#passphrase = () => ask(PEM_BUFSIZE, 0);
  }

  /**
   * Asks the callback set with {@link setPasswdCb} for a passphrase, as
   * OpenSSL would when it reads an encrypted key. Internal.
   *
   * @returns The passphrase, or undefined when no callback is set.
   * @ignore
   */
  _askPassphrase(): Uint8Array | string | undefined {
    return this.#passphrase?.();
  }

  /**
   * Sets the verification mode and optional callback (`SSL_CTX_set_verify`).
   * Connections made afterwards inherit both.
   *
   * @param mode `VERIFY_NONE`, or `VERIFY_PEER` with optional
   *   `VERIFY_FAIL_IF_NO_PEER_CERT`, `VERIFY_CLIENT_ONCE`, `VERIFY_POST_HANDSHAKE`.
   * @param callback Decides per certificate; see {@link VerifyCallback}.
   * @throws {RangeError} When `mode` is not made of `VERIFY_*` flags.
   * @throws {TypeError} When `callback` is given and is not a function.
   */
  setVerify(mode: number, callback?: VerifyCallback<Connection> | null): void {
    const ctx = this._mutable();
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0xf) {
      throw new RangeError("mode must be VERIFY_NONE or a combination of VERIFY_* flags");
    }
    if (callback != null) requireFunction(callback);
    this.#verifyCallback = callback ?? null;
    native().ssl.SSL_CTX_set_verify(
      ctx,
      mode,
      mode === VERIFY_NONE ? null : verifyTrampoline(callback != null),
    );
  }

  /**
   * Sets the maximum chain depth to verify (`SSL_CTX_set_verify_depth`).
   *
   * @param depth The depth.
   */
  setVerifyDepth(depth: number): void {
    const ctx = this._mutable();
    if (!Number.isInteger(depth) || depth < 0) {
      throw new RangeError("depth must be a non-negative integer");
    }
    native().ssl.SSL_CTX_set_verify_depth(ctx, depth);
  }

  /**
   * The verification mode (`SSL_CTX_get_verify_mode`).
   *
   * @returns `VERIFY_*` bits.
   */
  getVerifyMode(): number {
    return native().ssl.SSL_CTX_get_verify_mode(this._handle);
  }

  /**
   * The maximum verification depth (`SSL_CTX_get_verify_depth`).
   *
   * @returns The depth (-1 when unset: OpenSSL's default of 100 applies).
   */
  getVerifyDepth(): number {
    return native().ssl.SSL_CTX_get_verify_depth(this._handle);
  }

  /**
   * Sets the server's ALPN choice (`SSL_CTX_set_alpn_select_cb`).
   *
   * @param callback Chooses among the offered protocols; see {@link AlpnSelectCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setAlpnSelectCallback(callback: AlpnSelectCallback): void {
    negotiation.setAlpnSelectCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the server's SNI callback (`SSL_CTX_set_tlsext_servername_callback`).
   * It runs when a client sends a server name; `conn.setContext(other)` in it
   * switches certificate, key, trust store and verification settings.
   *
   * @param callback See {@link ServernameCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setTlsextServernameCallback(callback: ServernameCallback): void {
    selection.setServernameCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the server's ClientHello inspection callback
   * (`SSL_CTX_set_client_hello_cb`): it sees the offered versions, cipher
   * suites, server name, ALPN protocols and groups before OpenSSL chooses any.
   *
   * @param callback See {@link ClientHelloCallback}; return false to refuse the client.
   * @throws {TypeError} When `callback` is not a function.
   */
  setClientHelloCallback(callback: ClientHelloCallback): void {
    selection.setClientHelloCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the callback that receives each new session
   * (`SSL_CTX_sess_set_new_cb`). With TLS 1.3 a client's sessions arrive
   * after the handshake, with the server's tickets.
   *
   * @param callback See {@link NewSessionCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setNewSessionCallback(callback: NewSessionCallback): void {
    setNewSessionCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the key log callback (`SSL_CTX_set_keylog_callback`): NSS key log
   * lines, the `SSLKEYLOGFILE` format Wireshark reads.
   *
   * @param callback See {@link KeylogCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setKeylogCallback(callback: KeylogCallback): void {
    negotiation.setKeylogCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the info callback (`SSL_CTX_set_info_callback`): handshake states
   * and alerts, with `SSL_CB_*` bits in `where`.
   *
   * @param callback See {@link InfoCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setInfoCallback(callback: InfoCallback): void {
    negotiation.setInfoCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the server's OCSP stapling callback (`SSL_CTX_set_tlsext_status_cb`):
   * it runs only when a client asked for a staple and returns the DER OCSP
   * response to send.
   *
   * @param callback See {@link OcspServerCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setOcspServerCallback(callback: OcspServerCallback): void {
    negotiation.setOcspCallback(this, this._mutable(), "server", callback);
  }

  /**
   * Sets the client's OCSP check (`SSL_CTX_set_tlsext_status_cb`): it runs on
   * connections that called `requestOcsp()`, with the stapled response.
   *
   * @param callback See {@link OcspClientCallback}; false fails the handshake.
   * @throws {TypeError} When `callback` is not a function.
   */
  setOcspClientCallback(callback: OcspClientCallback): void {
    negotiation.setOcspCallback(this, this._mutable(), "client", callback);
  }

  /**
   * Sets how a DTLS server makes the cookie of its HelloVerifyRequest
   * (`SSL_CTX_set_cookie_generate_cb`), used by `Connection.dtlsListen()`
   * and by servers with `OP_COOKIE_EXCHANGE`. Cookies are 1 to 255 bytes
   * (`DTLS1_COOKIE_LENGTH`): a longer one fails the call that drove OpenSSL
   * with a `RangeError`, as does a throw with what was thrown.
   *
   * @param callback See {@link CookieGenerateCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setCookieGenerateCallback(callback: CookieGenerateCallback): void {
    dtls.setCookieGenerateCallback(this, this._mutable(), callback);
  }

  /**
   * Sets how a DTLS server checks the cookie a client echoes
   * (`SSL_CTX_set_cookie_verify_cb`).
   *
   * @param callback See {@link CookieVerifyCallback}; false asks the client again.
   * @throws {TypeError} When `callback` is not a function.
   */
  setCookieVerifyCallback(callback: CookieVerifyCallback): void {
    dtls.setCookieVerifyCallback(this, this._mutable(), callback);
  }

  // ---- trust anchors ---------------------------------------------------------------

  /**
   * Loads trust anchors from a PEM file and/or a hashed directory
   * (`SSL_CTX_load_verify_locations`).
   *
   * @param cafile A PEM file of CA certificates, or null.
   * @param capath A directory of hashed CA certificates, or null.
   * @throws {SSLError} When nothing could be loaded.
   */
  loadVerifyLocations(cafile: string | null, capath: string | null = null): void {
    const ctx = this._mutable();
    if (cafile == null && capath == null) throw new TypeError("Give cafile, capath or both");
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_load_verify_locations(
        ctx,
        cafile == null ? null : cstr(cafile, "cafile"),
        capath == null ? null : cstr(capath, "capath"),
      ) === 1,
      `Could not load verify locations ${[cafile, capath].filter(Boolean).join(", ")}`,
    );
  }

  /**
   * Trusts the system's default CA store (`SSL_CTX_set_default_verify_paths`).
   *
   * @throws {SSLError} When OpenSSL fails.
   */
  setDefaultVerifyPaths(): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_set_default_verify_paths(ctx) === 1,
      "Could not set default verify paths",
    );
  }

  /**
   * Trusts the given CA certificates, as Deno's `caCerts` option does.
   *
   * @param certs PEM text (one or many certificates), DER bytes, `X509`
   *   objects, or an array of these.
   * @throws {SSLError} When a certificate cannot be parsed.
   */
  addCaCerts(certs: CertificateInput | readonly CertificateInput[]): void {
    const ctx = this._mutable();
    const { ssl, crypto } = native();
    const store = ssl.SSL_CTX_get_cert_store(ctx);
    const list = Array.isArray(certs) ? certs : [certs as CertificateInput];
    for (const item of list) {
      const parsed = typeof item === "string"
        ? X509.loadChain(item)
        : [keys.certificateOf(item).cert];
      const owned = !(item instanceof X509);
      try {
        if (parsed.length === 0) throw new TypeError("No certificate found in the CA PEM text");
        for (const cert of parsed) {
          clearErrors();
          crypto.X509_STORE_add_cert(store, cert._handle); // duplicates are accepted silently in 3.x
        }
      } finally {
        if (owned) { for (const c of parsed) c.close(); }
      }
    }
  }

  // ---- sessions ------------------------------------------------------------------------

  /**
   * Sets the session ID context (`SSL_CTX_set_session_id_context`): a server
   * resumes only sessions made under the same value. Servers that verify
   * clients must set one to resume sessions.
   *
   * @param value Up to 32 bytes, such as the application's name.
   * @throws {RangeError} When longer than 32 bytes.
   */
  setSessionIdContext(value: string | Uint8Array): void {
    keys.setSessionIdContext(this._mutable(), value);
  }

  /**
   * Sets the session cache mode (`SSL_CTX_set_session_cache_mode`). Servers
   * cache by default (`SESS_CACHE_SERVER`); a client needs
   * `SESS_CACHE_CLIENT` for {@link setNewSessionCallback} to run.
   *
   * Beware: with the internal cache on (`SESS_CACHE_CLIENT` without
   * `SESS_CACHE_NO_INTERNAL_STORE`), closing the context flushes its cache,
   * and OpenSSL then marks every session it held as not resumable, including
   * `Session`s you still hold. To keep sessions past the context, add
   * `SESS_CACHE_NO_INTERNAL_STORE` (the new-session callback still runs).
   *
   * @param mode `SESS_CACHE_*` bits.
   * @returns The previous mode.
   * @throws {RangeError} When `mode` is not made of `SESS_CACHE_*` bits.
   */
  setSessionCacheMode(mode: number): number {
    return keys.setSessionCacheMode(this._mutable(), mode);
  }

  /**
   * The session cache mode (`SSL_CTX_get_session_cache_mode`).
   *
   * @returns `SESS_CACHE_*` bits.
   */
  getSessionCacheMode(): number {
    return keys.getSessionCacheMode(this._handle);
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#ctx === null;
  }

  /**
   * Releases the context. Connections made from it keep working: each holds
   * its own reference to the native context. Idempotent.
   */
  close(): void {
    const ctx = this.#ctx;
    if (ctx === null) return;
    this.#ctx = null;
    registry.unregister(this);
    forgetSessionStore(this, this.#held.ctx);
    const { ssl } = native();
    const passwd = this.#passwd;
    this.#passwd = null;
    const free = (): void => {
      if (passwd) {
        ssl.SSL_CTX_set_default_passwd_cb(ctx, null);
        passwd.close();
      }
      ssl.SSL_CTX_free(ctx);
    };
    // Closed from a callback (its passphrase callback), OpenSSL still runs on this SSL_CTX
    // up the stack: free it after that call.
    if (inCallback()) queueMicrotask(free);
    else free();
    releaseHandle("SSL_CTX", ctx);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
