/**
 * `Context`: OpenSSL's `SSL_CTX`, with pyOpenSSL's method names in camelCase.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { cstr, toBytes } from "../ffi/memory.ts";
import {
  FILETYPE_ASN1,
  FILETYPE_PEM,
  MODE_ACCEPT_MOVING_WRITE_BUFFER,
  MODE_ENABLE_PARTIAL_WRITE,
  SSL_CTX_add_extra_chain_cert,
  SSL_CTX_clear_mode,
  SSL_CTX_get_max_proto_version,
  SSL_CTX_get_min_proto_version,
  SSL_CTX_get_mode,
  SSL_CTX_set1_groups_list,
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
import { PKey } from "../crypto/pkey.ts";
import { verifyTrampoline } from "./_verify.ts";
import { counted, inCallback, refuseThenable } from "../ffi/callbacks.ts";
import { releaseHandle, trackHandle } from "../ffi/_handles.ts";
import type { Connection } from "./connection.ts";
import type {
  AlpnSelectCallback,
  CertificateInput,
  ClientHelloCallback,
  CookieGenerateCallback,
  CookieVerifyCallback,
  InfoCallback,
  KeyInput,
  KeylogCallback,
  NewSessionCallback,
  OcspClientCallback,
  OcspServerCallback,
  PasswdCallback,
  ServernameCallback,
  VerifyCallback,
} from "./types.ts";
import type { X509Name } from "../crypto/name.ts";
import * as negotiation from "./_negotiation.ts";
import * as keys from "./_keys.ts";
import * as dtls from "./_dtls.ts";

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
}

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

function fileType(type: number): number {
  if (type !== FILETYPE_PEM && type !== FILETYPE_ASN1) {
    throw new RangeError("File type must be FILETYPE_PEM or FILETYPE_ASN1");
  }
  return type;
}

/**
 * Parses a certificate argument.
 *
 * @param cert Object, PEM or DER.
 * @returns The certificate and whether it was made here (and must be closed).
 */
function certificateOf(cert: CertificateInput): { cert: X509; owned: boolean } {
  if (cert instanceof X509) return { cert, owned: false };
  if (typeof cert === "string") return { cert: X509.fromPEM(cert), owned: true };
  if (cert instanceof Uint8Array) return { cert: X509.fromDER(cert), owned: true };
  throw new TypeError("Certificate must be an X509, a PEM string or DER bytes");
}

/**
 * A TLS context: the configuration shared by many connections (certificate,
 * key, trust anchors, verification policy, protocol versions, ciphers,
 * callbacks). Wraps OpenSSL's `SSL_CTX`.
 *
 * Its defaults are OpenSSL's own: no peer verification (`VERIFY_NONE`), no
 * trust anchors, TLS 1.2 and 1.3 at security level 1 (as this OpenSSL build
 * allows; Debian's raises the floor to TLS 1.2 and level 2). denossl adds
 * `MODE_ENABLE_PARTIAL_WRITE` and `MODE_ACCEPT_MOVING_WRITE_BUFFER`. The
 * Deno-shaped helpers (`connectTls`, `listenTls`) build secure contexts for
 * you; a bare `Context` is the low-level tool.
 *
 * **Configure first, then connect.** As in current pyOpenSSL, a context
 * refuses changes once it has made a `Connection`: OpenSSL copies most
 * settings into each connection at creation, so a later change would apply
 * to some connections and not others. Changing a used context throws a
 * `TypeError`; make a new context instead.
 *
 * @example A server context from PEM strings
 * ```ts
 * import { Context, TestCA, TLS_SERVER_METHOD } from "@denossl/denossl";
 * const ca = TestCA.create();
 * const leaf = ca.issue({ dns: ["localhost"] });
 * using ctx = new Context(TLS_SERVER_METHOD);
 * ctx.useCertificate(leaf.certPEM);
 * ctx.usePrivateKey(leaf.keyPEM);
 * ctx.checkPrivateKey();
 * ca.close();
 * leaf.close();
 * ```
 */
export class Context {
  #ctx: Deno.PointerObject | null;
  #used = false;
  #verifyCallback: VerifyCallback<Connection> | null = null;
  readonly #callbacks: CallbackSlots = {};
  #passwd: Deno.UnsafeCallback<typeof PASSWD_CB> | null = null;
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

  /** The handle, after checking that the context may still be changed. */
  #mutable(): Deno.PointerObject {
    const ctx = this._handle;
    if (this.#used) {
      throw new TypeError(
        "Context is already used by a Connection and can no longer be changed: configure it before creating connections",
      );
    }
    return ctx;
  }

  #check(ok: boolean, what: string): void {
    throwCallbackError();
    if (!ok) throw sslErrorFromQueue(what);
  }

  // ---- certificates and keys ------------------------------------------------------

  /**
   * Loads a PEM file holding the certificate followed by its chain
   * (`SSL_CTX_use_certificate_chain_file`).
   *
   * @param path The file.
   * @throws {SSLError} When the file cannot be read or parsed.
   * @example
   * ```ts ignore
   * ctx.useCertificateChainFile("/etc/ssl/server-fullchain.pem");
   * ```
   */
  useCertificateChainFile(path: string): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      native().ssl.SSL_CTX_use_certificate_chain_file(ctx, cstr(path, "path")) === 1,
      `Could not use certificate chain file ${path}`,
    );
  }

  /**
   * Loads the certificate from a file (`SSL_CTX_use_certificate_file`).
   *
   * @param path The file.
   * @param type `FILETYPE_PEM` (default) or `FILETYPE_ASN1`.
   * @throws {SSLError} When the file cannot be read or parsed.
   * @example
   * ```ts ignore
   * ctx.useCertificateFile("server.der", FILETYPE_ASN1);
   * ```
   */
  useCertificateFile(path: string, type: number = FILETYPE_PEM): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      native().ssl.SSL_CTX_use_certificate_file(ctx, cstr(path, "path"), fileType(type)) === 1,
      `Could not use certificate file ${path}`,
    );
  }

  /**
   * Uses a certificate (`SSL_CTX_use_certificate`).
   *
   * @param cert An `X509`, PEM text or DER bytes. A PEM bundle's first
   *   certificate is used; see {@link useCertificateChain} for the rest.
   * @throws {SSLError} When the certificate cannot be parsed or used.
   * @example
   * ```ts ignore
   * ctx.useCertificate(leaf.certPEM);
   * ```
   */
  useCertificate(cert: CertificateInput): void {
    const ctx = this.#mutable();
    const { cert: x509, owned } = certificateOf(cert);
    try {
      clearErrors();
      this.#check(
        native().ssl.SSL_CTX_use_certificate(ctx, x509._handle) === 1,
        "Could not use certificate",
      );
    } finally {
      if (owned) x509.close();
    }
  }

  /**
   * Uses a PEM bundle: the first certificate as the context's own, the rest
   * as its chain. The in-memory form of {@link useCertificateChainFile}.
   *
   * @param pem The leaf followed by its intermediates, or an array of certificates.
   * @throws {SSLError} When the bundle holds no certificate or one cannot be parsed.
   * @example
   * ```ts ignore
   * ctx.useCertificateChain(leaf.chainPEM);
   * ```
   */
  useCertificateChain(pem: string | readonly X509[]): void {
    this.#mutable();
    const certs = typeof pem === "string" ? X509.loadChain(pem) : [...pem];
    const owned = typeof pem === "string";
    try {
      if (certs.length === 0) throw new TypeError("The certificate chain holds no certificate");
      this.useCertificate(certs[0]!);
      for (const extra of certs.slice(1)) this.addExtraChainCert(extra);
    } finally {
      if (owned) { for (const c of certs) c.close(); }
    }
  }

  /**
   * Adds a certificate to the chain sent after the context's own
   * (`SSL_CTX_add_extra_chain_cert`).
   *
   * @param cert An `X509`, PEM text or DER bytes.
   * @throws {SSLError} When OpenSSL refuses it.
   * @example
   * ```ts ignore
   * ctx.addExtraChainCert(intermediatePEM);
   * ```
   */
  addExtraChainCert(cert: CertificateInput): void {
    const ctx = this.#mutable();
    const { cert: x509, owned } = certificateOf(cert);
    try {
      const { crypto } = native();
      const handle = x509._handle;
      crypto.X509_up_ref(handle); // the context takes this reference on success
      clearErrors();
      if (SSL_CTX_add_extra_chain_cert(ctx, handle) !== 1) {
        crypto.X509_free(handle);
        this.#check(false, "Could not add extra chain certificate");
      }
    } finally {
      if (owned) x509.close();
    }
  }

  /**
   * Loads the private key from a file (`SSL_CTX_use_PrivateKey_file`).
   * Encrypted keys ask the callback set with {@link setPasswdCb}.
   *
   * @param path The file.
   * @param type `FILETYPE_PEM` (default) or `FILETYPE_ASN1`.
   * @throws {SSLError} When the file cannot be read, parsed or decrypted.
   * @example
   * ```ts ignore
   * ctx.usePrivateKeyFile("server.key");
   * ```
   */
  usePrivateKeyFile(path: string, type: number = FILETYPE_PEM): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      native().ssl.SSL_CTX_use_PrivateKey_file(ctx, cstr(path, "path"), fileType(type)) === 1,
      `Could not use private key file ${path}`,
    );
  }

  /**
   * Uses a private key (`SSL_CTX_use_PrivateKey`).
   *
   * @param key A `PKey` or PEM text.
   * @param passphrase The passphrase of an encrypted PEM key.
   * @throws {SSLError} When the key cannot be parsed, decrypted or used.
   * @example
   * ```ts ignore
   * ctx.usePrivateKey(leaf.keyPEM);
   * ```
   */
  usePrivateKey(key: KeyInput, passphrase?: string): void {
    const ctx = this.#mutable();
    let pkey: PKey;
    let owned = false;
    if (key instanceof PKey) pkey = key;
    else if (typeof key === "string") {
      pkey = passphrase === undefined ? PKey.fromPEM(key) : PKey.fromPEM(key, passphrase);
      owned = true;
    } else throw new TypeError("Private key must be a PKey or a PEM string");
    try {
      clearErrors();
      this.#check(
        native().ssl.SSL_CTX_use_PrivateKey(ctx, pkey._handle) === 1,
        "Could not use private key",
      );
    } finally {
      if (owned) pkey.close();
    }
  }

  /**
   * Checks that the private key matches the certificate
   * (`SSL_CTX_check_private_key`).
   *
   * @throws {SSLError} When they do not match, or one is missing.
   * @example
   * ```ts ignore
   * ctx.checkPrivateKey();
   * ```
   */
  checkPrivateKey(): void {
    const ctx = this._handle;
    clearErrors();
    this.#check(
      native().ssl.SSL_CTX_check_private_key(ctx) === 1,
      "The private key does not match the certificate",
    );
  }

  /**
   * Sets the passphrase callback for encrypted keys loaded afterwards
   * (`SSL_CTX_set_default_passwd_cb`).
   *
   * @param callback Returns the passphrase; a throw fails the load and comes
   *   out of the method that loaded the key.
   * @param userdata Passed to the callback.
   * @example
   * ```ts ignore
   * ctx.setPasswdCb(() => "secret");
   * ctx.usePrivateKeyFile("encrypted.key");
   * ```
   */
  setPasswdCb(callback: PasswdCallback, userdata?: unknown): void {
    const ctx = this.#mutable();
    if (typeof callback !== "function") throw new TypeError("callback must be a function");
    const cb = new Deno.UnsafeCallback(
      PASSWD_CB,
      counted((buf: Deno.PointerValue, size: number, rwflag: number) => {
        try {
          const answer: unknown = callback(size, rwflag !== 0, userdata);
          refuseThenable(answer, "passphrase", "return the passphrase");
          if (typeof answer !== "string" && !(answer instanceof Uint8Array)) {
            throw new TypeError("The passphrase callback must return a string or a Uint8Array");
          }
          const value = toBytes(answer);
          if (value.length > size) throw new RangeError(`Passphrase is longer than ${size} bytes`);
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
  }

  // ---- verification ----------------------------------------------------------------

  /**
   * Loads trust anchors from a PEM file and/or a hashed directory
   * (`SSL_CTX_load_verify_locations`).
   *
   * @param cafile A PEM file of CA certificates, or null.
   * @param capath A directory of hashed CA certificates, or null.
   * @throws {SSLError} When nothing could be loaded.
   * @example
   * ```ts ignore
   * ctx.loadVerifyLocations("/etc/ssl/certs/ca-certificates.crt");
   * ```
   */
  loadVerifyLocations(cafile: string | null, capath: string | null = null): void {
    const ctx = this.#mutable();
    if (cafile == null && capath == null) throw new TypeError("Give cafile, capath or both");
    clearErrors();
    this.#check(
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
   * @example
   * ```ts ignore
   * ctx.setDefaultVerifyPaths();
   * ```
   */
  setDefaultVerifyPaths(): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
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
   * @example
   * ```ts ignore
   * ctx.addCaCerts(ca.certPEM);
   * ```
   */
  addCaCerts(certs: CertificateInput | readonly CertificateInput[]): void {
    const ctx = this.#mutable();
    const { ssl, crypto } = native();
    const store = ssl.SSL_CTX_get_cert_store(ctx);
    const list = Array.isArray(certs) ? certs : [certs as CertificateInput];
    for (const item of list) {
      const parsed = typeof item === "string" ? X509.loadChain(item) : [certificateOf(item).cert];
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

  /**
   * Sets the verification mode and optional callback (`SSL_CTX_set_verify`).
   * Connections made afterwards inherit both.
   *
   * @param mode `VERIFY_NONE`, or `VERIFY_PEER` with optional
   *   `VERIFY_FAIL_IF_NO_PEER_CERT`, `VERIFY_CLIENT_ONCE`, `VERIFY_POST_HANDSHAKE`.
   * @param callback Decides per certificate; see {@link VerifyCallback}.
   * @example
   * ```ts ignore
   * ctx.setVerify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT);
   * ```
   */
  setVerify(mode: number, callback?: VerifyCallback<Connection> | null): void {
    const ctx = this.#mutable();
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0xf) {
      throw new RangeError("mode must be VERIFY_NONE or a combination of VERIFY_* flags");
    }
    if (callback != null && typeof callback !== "function") {
      throw new TypeError("callback must be a function");
    }
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
   * @example
   * ```ts ignore
   * ctx.setVerifyDepth(4);
   * ```
   */
  setVerifyDepth(depth: number): void {
    const ctx = this.#mutable();
    if (!Number.isInteger(depth) || depth < 0) {
      throw new RangeError("depth must be a non-negative integer");
    }
    native().ssl.SSL_CTX_set_verify_depth(ctx, depth);
  }

  /**
   * The verification mode (`SSL_CTX_get_verify_mode`).
   *
   * @returns `VERIFY_*` bits.
   * @example
   * ```ts ignore
   * console.log(ctx.getVerifyMode() & VERIFY_PEER);
   * ```
   */
  getVerifyMode(): number {
    return native().ssl.SSL_CTX_get_verify_mode(this._handle);
  }

  /**
   * The maximum verification depth (`SSL_CTX_get_verify_depth`).
   *
   * @returns The depth (-1 when unset: OpenSSL's default of 100 applies).
   * @example
   * ```ts ignore
   * console.log(ctx.getVerifyDepth());
   * ```
   */
  getVerifyDepth(): number {
    return native().ssl.SSL_CTX_get_verify_depth(this._handle);
  }

  // ---- protocol ------------------------------------------------------------------------

  /**
   * Sets the lowest protocol version (`SSL_CTX_set_min_proto_version`).
   *
   * @param version A `*_VERSION` constant, or 0 for the lowest supported.
   * @throws {SSLError} When the version is not supported.
   * @example
   * ```ts ignore
   * ctx.setMinProtoVersion(TLS1_2_VERSION);
   * ```
   */
  setMinProtoVersion(version: number): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      SSL_CTX_set_min_proto_version(ctx, version) === 1,
      `Unsupported minimum protocol version 0x${version.toString(16)}`,
    );
  }

  /**
   * Sets the highest protocol version (`SSL_CTX_set_max_proto_version`).
   *
   * @param version A `*_VERSION` constant, or 0 for the highest supported.
   * @throws {SSLError} When the version is not supported.
   * @example
   * ```ts ignore
   * ctx.setMaxProtoVersion(TLS1_2_VERSION);
   * ```
   */
  setMaxProtoVersion(version: number): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      SSL_CTX_set_max_proto_version(ctx, version) === 1,
      `Unsupported maximum protocol version 0x${version.toString(16)}`,
    );
  }

  /**
   * The lowest protocol version set, or 0 when unset.
   *
   * @returns A `*_VERSION` constant or 0.
   * @example
   * ```ts ignore
   * ctx.getMinProtoVersion();
   * ```
   */
  getMinProtoVersion(): number {
    return SSL_CTX_get_min_proto_version(this._handle);
  }

  /**
   * The highest protocol version set, or 0 when unset.
   *
   * @returns A `*_VERSION` constant or 0.
   * @example
   * ```ts ignore
   * ctx.getMaxProtoVersion();
   * ```
   */
  getMaxProtoVersion(): number {
    return SSL_CTX_get_max_proto_version(this._handle);
  }

  /**
   * Sets the TLS 1.2-and-older cipher list (`SSL_CTX_set_cipher_list`).
   *
   * @param ciphers An OpenSSL cipher string, for example `"ECDHE+AESGCM"`.
   * @throws {SSLError} When nothing matches (`no cipher match`).
   * @example
   * ```ts ignore
   * ctx.setCipherList("ECDHE+AESGCM:ECDHE+CHACHA20");
   * ```
   */
  setCipherList(ciphers: string): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      native().ssl.SSL_CTX_set_cipher_list(ctx, cstr(ciphers, "ciphers")) === 1,
      `Invalid cipher list "${ciphers}"`,
    );
  }

  /**
   * Sets the TLS 1.3 cipher suites (`SSL_CTX_set_ciphersuites`).
   *
   * @param suites A colon-separated list, for example `"TLS_AES_128_GCM_SHA256"`.
   * @throws {SSLError} When the list is invalid.
   * @example
   * ```ts ignore
   * ctx.setTls13Ciphersuites("TLS_CHACHA20_POLY1305_SHA256");
   * ```
   */
  setTls13Ciphersuites(suites: string): void {
    const ctx = this.#mutable();
    clearErrors();
    this.#check(
      native().ssl.SSL_CTX_set_ciphersuites(ctx, cstr(suites, "suites")) === 1,
      `Invalid TLS 1.3 cipher suites "${suites}"`,
    );
  }

  /**
   * Sets the key exchange groups (`SSL_CTX_set1_groups_list`).
   *
   * @param groups Names such as `"X25519"`, `"P-256"`, as a list or a colon-separated string.
   * @throws {SSLError} When a group is unknown.
   * @example
   * ```ts ignore
   * ctx.setGroups(["X25519", "P-256"]);
   * ```
   */
  setGroups(groups: string | readonly string[]): void {
    const ctx = this.#mutable();
    const list = typeof groups === "string" ? groups : groups.join(":");
    clearErrors();
    this.#check(
      SSL_CTX_set1_groups_list(ctx, cstr(list, "groups")) === 1,
      `Invalid groups "${list}"`,
    );
  }

  /**
   * Sets the security level 0-5 (`SSL_CTX_set_security_level`).
   *
   * @param level The level.
   * @throws {RangeError} When out of range.
   * @example
   * ```ts ignore
   * ctx.setSecurityLevel(2);
   * ```
   */
  setSecurityLevel(level: number): void {
    const ctx = this.#mutable();
    if (!Number.isInteger(level) || level < 0 || level > 5) {
      throw new RangeError("Security level must be 0 to 5");
    }
    native().ssl.SSL_CTX_set_security_level(ctx, level);
  }

  /**
   * The security level (`SSL_CTX_get_security_level`).
   *
   * @returns 0 to 5.
   * @example
   * ```ts ignore
   * ctx.getSecurityLevel();
   * ```
   */
  getSecurityLevel(): number {
    return native().ssl.SSL_CTX_get_security_level(this._handle);
  }

  /**
   * Sets option bits (`SSL_CTX_set_options`).
   *
   * @param options `OP_*` bits to add.
   * @returns All options now set.
   * @example
   * ```ts ignore
   * ctx.setOptions(OP_NO_TICKET | OP_NO_RENEGOTIATION);
   * ```
   */
  setOptions(options: number): number {
    const ctx = this.#mutable();
    return Number(native().ssl.SSL_CTX_set_options(ctx, BigInt(options)));
  }

  /**
   * Clears option bits (`SSL_CTX_clear_options`).
   *
   * @param options `OP_*` bits to remove.
   * @returns All options now set.
   * @example
   * ```ts ignore
   * ctx.clearOptions(OP_NO_TICKET);
   * ```
   */
  clearOptions(options: number): number {
    const ctx = this.#mutable();
    return Number(native().ssl.SSL_CTX_clear_options(ctx, BigInt(options)));
  }

  /**
   * The option bits (`SSL_CTX_get_options`).
   *
   * @returns `OP_*` bits.
   * @example
   * ```ts ignore
   * const noTickets = (ctx.getOptions() & OP_NO_TICKET) !== 0;
   * ```
   */
  getOptions(): number {
    return Number(native().ssl.SSL_CTX_get_options(this._handle));
  }

  /**
   * Sets mode bits (`SSL_CTX_set_mode`).
   *
   * @param mode `MODE_*` bits to add.
   * @returns All mode bits now set.
   * @example
   * ```ts ignore
   * ctx.setMode(MODE_RELEASE_BUFFERS);
   * ```
   */
  setMode(mode: number): number {
    return SSL_CTX_set_mode(this.#mutable(), mode);
  }

  /**
   * Clears mode bits (`SSL_CTX_clear_mode`).
   *
   * @param mode `MODE_*` bits to remove.
   * @returns All mode bits now set.
   * @example
   * ```ts ignore
   * ctx.clearMode(MODE_RELEASE_BUFFERS);
   * ```
   */
  clearMode(mode: number): number {
    return SSL_CTX_clear_mode(this.#mutable(), mode);
  }

  /**
   * The mode bits (`SSL_CTX_get_mode`).
   *
   * @returns `MODE_*` bits.
   * @example
   * ```ts ignore
   * ctx.getMode();
   * ```
   */
  getMode(): number {
    return SSL_CTX_get_mode(this._handle);
  }

  /**
   * Sets how long sessions stay valid (`SSL_CTX_set_timeout`).
   *
   * @param seconds The timeout.
   * @returns The previous timeout.
   * @example
   * ```ts ignore
   * ctx.setTimeout(3600);
   * ```
   */
  setTimeout(seconds: number): number {
    const ctx = this.#mutable();
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw new RangeError("seconds must be a non-negative integer");
    }
    return Number(native().ssl.SSL_CTX_set_timeout(ctx, long(seconds)));
  }

  /**
   * How long sessions stay valid (`SSL_CTX_get_timeout`).
   *
   * @returns Seconds.
   * @example
   * ```ts ignore
   * ctx.getTimeout(); // 7200 by default for servers
   * ```
   */
  getTimeout(): number {
    return Number(native().ssl.SSL_CTX_get_timeout(this._handle));
  }

  // ---- negotiation and introspection (issue 5) ----

  /**
   * Sets the ALPN protocols a client offers (`SSL_CTX_set_alpn_protos`).
   *
   * @param protos The protocols in preference order, such as `["h2", "http/1.1"]`.
   * @throws {TypeError} When the list is empty or a protocol is empty or longer than 255 bytes.
   * @throws {SSLError} When OpenSSL refuses the list.
   * @example Offer HTTP/2 and HTTP/1.1
   * ```ts ignore
   * clientCtx.setAlpnProtos(["h2", "http/1.1"]);
   * ```
   */
  setAlpnProtos(protos: readonly (string | Uint8Array)[]): void {
    const ctx = this.#mutable();
    const wire = negotiation.alpnWire(protos);
    clearErrors();
    // Unlike most of OpenSSL, 0 means success here. OpenSSL copies the list.
    this.#check(
      native().ssl.SSL_CTX_set_alpn_protos(ctx, wire, wire.length) === 0,
      "Could not set ALPN protocols",
    );
  }

  /**
   * Sets the server's ALPN choice (`SSL_CTX_set_alpn_select_cb`).
   *
   * @param callback Chooses among the offered protocols; see {@link AlpnSelectCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example Choose HTTP/2 when offered
   * ```ts ignore
   * serverCtx.setAlpnSelectCallback((_conn, offered) =>
   *   offered.includes("h2") ? "h2" : NO_OVERLAPPING_PROTOCOLS);
   * ```
   */
  setAlpnSelectCallback(callback: AlpnSelectCallback): void {
    negotiation.setAlpnSelectCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets the server's SNI callback (`SSL_CTX_set_tlsext_servername_callback`).
   * It runs when a client sends a server name; `conn.setContext(other)` in it
   * switches certificate, key, trust store and verification settings.
   *
   * @param callback See {@link ServernameCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example One certificate per name
   * ```ts ignore
   * ctx.setTlsextServernameCallback((conn) => {
   *   const other = contexts.get(conn.getServername() ?? "");
   *   if (other) conn.setContext(other);
   * });
   * ```
   */
  setTlsextServernameCallback(callback: ServernameCallback): void {
    negotiation.setServernameCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets the server's ClientHello inspection callback
   * (`SSL_CTX_set_client_hello_cb`): it sees the offered versions, cipher
   * suites, server name, ALPN protocols and groups before OpenSSL chooses any.
   *
   * @param callback See {@link ClientHelloCallback}; return false to refuse the client.
   * @throws {TypeError} When `callback` is not a function.
   * @example Log what clients offer
   * ```ts ignore
   * ctx.setClientHelloCallback((_conn, hello) => console.log(hello.serverName, hello.cipherNames));
   * ```
   */
  setClientHelloCallback(callback: ClientHelloCallback): void {
    negotiation.setClientHelloCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets the session ID context (`SSL_CTX_set_session_id_context`): a server
   * resumes only sessions made under the same value. Servers that verify
   * clients must set one to resume sessions.
   *
   * @param value Up to 32 bytes, such as the application's name.
   * @throws {RangeError} When longer than 32 bytes.
   * @example Scope sessions to an application
   * ```ts ignore
   * ctx.setSessionIdContext("my-app");
   * ```
   */
  setSessionIdContext(value: string | Uint8Array): void {
    keys.setSessionIdContext(this.#mutable(), value);
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
   * @example Let a client context report its sessions
   * ```ts ignore
   * clientCtx.setSessionCacheMode(SESS_CACHE_CLIENT);
   * ```
   */
  setSessionCacheMode(mode: number): number {
    return keys.setSessionCacheMode(this.#mutable(), mode);
  }

  /**
   * The session cache mode (`SSL_CTX_get_session_cache_mode`).
   *
   * @returns `SESS_CACHE_*` bits.
   * @example Read the cache mode
   * ```ts ignore
   * ctx.getSessionCacheMode() === SESS_CACHE_SERVER; // the default
   * ```
   */
  getSessionCacheMode(): number {
    return keys.getSessionCacheMode(this._handle);
  }

  /**
   * Sets the callback that receives each new session
   * (`SSL_CTX_sess_set_new_cb`). With TLS 1.3 a client's sessions arrive
   * after the handshake, with the server's tickets.
   *
   * @param callback See {@link NewSessionCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example Keep the newest session
   * ```ts ignore
   * clientCtx.setSessionCacheMode(SESS_CACHE_CLIENT);
   * clientCtx.setNewSessionCallback((_conn, session) => { saved?.close(); saved = session; });
   * ```
   */
  setNewSessionCallback(callback: NewSessionCallback): void {
    negotiation.setNewSessionCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets the keys that protect session tickets
   * (`SSL_CTX_set_tlsext_ticket_keys`). Servers given the same keys (and the
   * same session ID context) resume each other's tickets, also after a
   * restart. Keep them secret.
   *
   * @param ticketKeys 80 bytes: key name (16), HMAC secret (32), AES key (32).
   * @throws {RangeError} When not 80 bytes.
   * @example Share ticket keys across servers
   * ```ts ignore
   * ctx.setTicketKeys(crypto.getRandomValues(new Uint8Array(80)));
   * ```
   */
  setTicketKeys(ticketKeys: Uint8Array): void {
    keys.setTicketKeys(this.#mutable(), ticketKeys);
  }

  /**
   * The keys that protect session tickets (`SSL_CTX_get_tlsext_ticket_keys`).
   *
   * @returns 80 bytes.
   * @throws {SSLError} When OpenSSL cannot report them.
   * @example Copy one context's ticket keys to another
   * ```ts ignore
   * other.setTicketKeys(ctx.getTicketKeys());
   * ```
   */
  getTicketKeys(): Uint8Array {
    return keys.getTicketKeys(this._handle);
  }

  /**
   * Sets the key log callback (`SSL_CTX_set_keylog_callback`): NSS key log
   * lines, the `SSLKEYLOGFILE` format Wireshark reads.
   *
   * @param callback See {@link KeylogCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example Collect key log lines
   * ```ts ignore
   * const lines: string[] = [];
   * ctx.setKeylogCallback((_conn, line) => lines.push(line));
   * ```
   */
  setKeylogCallback(callback: KeylogCallback): void {
    negotiation.setKeylogCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets the info callback (`SSL_CTX_set_info_callback`): handshake states
   * and alerts, with `SSL_CB_*` bits in `where`.
   *
   * @param callback See {@link InfoCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example Notice finished handshakes
   * ```ts ignore
   * ctx.setInfoCallback((_conn, where) => {
   *   if (where & SSL_CB_HANDSHAKE_DONE) console.log("handshake done");
   * });
   * ```
   */
  setInfoCallback(callback: InfoCallback): void {
    negotiation.setInfoCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets the server's OCSP stapling callback (`SSL_CTX_set_tlsext_status_cb`):
   * it runs only when a client asked for a staple and returns the DER OCSP
   * response to send.
   *
   * @param callback See {@link OcspServerCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example Staple a response
   * ```ts ignore
   * serverCtx.setOcspServerCallback(() => ocspDer);
   * ```
   */
  setOcspServerCallback(callback: OcspServerCallback): void {
    negotiation.setOcspCallback(this, this.#mutable(), "server", callback);
  }

  /**
   * Sets the client's OCSP check (`SSL_CTX_set_tlsext_status_cb`): it runs on
   * connections that called `requestOcsp()`, with the stapled response.
   *
   * @param callback See {@link OcspClientCallback}; false fails the handshake.
   * @throws {TypeError} When `callback` is not a function.
   * @example Require a stapled response
   * ```ts ignore
   * clientCtx.setOcspClientCallback((_conn, der) => der.length > 0);
   * ```
   */
  setOcspClientCallback(callback: OcspClientCallback): void {
    negotiation.setOcspCallback(this, this.#mutable(), "client", callback);
  }

  /**
   * Sets the CA names a server sends with its certificate request from the
   * certificates of a PEM file (`SSL_load_client_CA_file`). It trusts
   * nothing: see {@link loadVerifyLocations}.
   *
   * @param cafile A PEM file of CA certificates.
   * @throws {SSLError} When the file cannot be read or holds no certificate.
   * @example Advertise the client CA
   * ```ts ignore
   * ctx.loadClientCa("client-ca.pem");
   * ```
   */
  loadClientCa(cafile: string): void {
    keys.loadClientCa(this.#mutable(), cafile);
  }

  /**
   * Adds a certificate's subject to the CA names a server sends
   * (`SSL_CTX_add_client_CA`).
   *
   * @param cert An `X509`, PEM text or DER bytes.
   * @throws {SSLError} When OpenSSL refuses it.
   * @example Advertise one CA
   * ```ts ignore
   * ctx.addClientCa(clientCaPEM);
   * ```
   */
  addClientCa(cert: CertificateInput): void {
    const ctx = this.#mutable();
    const { cert: x509, owned } = certificateOf(cert);
    try {
      keys.addClientCa(ctx, x509);
    } finally {
      if (owned) x509.close();
    }
  }

  /**
   * Replaces the CA names a server sends (`SSL_CTX_set_client_CA_list`).
   *
   * @param names The names; they are copied.
   * @throws {TypeError} When `names` is not an array of `X509Name`.
   * @example Advertise chosen names
   * ```ts ignore
   * ctx.setClientCaList([caCert.subject]);
   * ```
   */
  setClientCaList(names: readonly X509Name[]): void {
    keys.setClientCaList(this.#mutable(), names);
  }

  /**
   * The CA names a server sends (`SSL_CTX_get_client_CA_list`).
   *
   * @returns Copies of the names (empty when none).
   * @example List the advertised names
   * ```ts ignore
   * for (const name of ctx.getClientCaList()) console.log(name.commonName);
   * ```
   */
  getClientCaList(): X509Name[] {
    return keys.namesOf(native().ssl.SSL_CTX_get_client_CA_list(this._handle));
  }

  /**
   * Lets clients made from this context answer TLS 1.3 post-handshake
   * certificate requests (`SSL_CTX_set_post_handshake_auth`).
   *
   * @param enabled Whether to offer it (default true).
   * @example Offer post-handshake authentication
   * ```ts ignore
   * clientCtx.setPostHandshakeAuth();
   * ```
   */
  setPostHandshakeAuth(enabled = true): void {
    native().ssl.SSL_CTX_set_post_handshake_auth(this.#mutable(), enabled ? 1 : 0);
  }

  // ---- DTLS (issue 12; glue in _dtls.ts) ----

  /**
   * Sets how a DTLS server makes the cookie of its HelloVerifyRequest
   * (`SSL_CTX_set_cookie_generate_cb`), used by `Connection.dtlsListen()`
   * and by servers with `OP_COOKIE_EXCHANGE`. Cookies are 1 to 255 bytes
   * (`DTLS1_COOKIE_LENGTH`): a longer one fails the call that drove OpenSSL
   * with a `RangeError`, as does a throw with what was thrown.
   *
   * @param callback See {@link CookieGenerateCallback}.
   * @throws {TypeError} When `callback` is not a function.
   * @example An HMAC of the peer's address
   * ```ts ignore
   * ctx.setCookieGenerateCallback((conn) => hmac(secret, peerOf(conn)));
   * ```
   */
  setCookieGenerateCallback(callback: CookieGenerateCallback): void {
    dtls.setCookieGenerateCallback(this, this.#mutable(), callback);
  }

  /**
   * Sets how a DTLS server checks the cookie a client echoes
   * (`SSL_CTX_set_cookie_verify_cb`).
   *
   * @param callback See {@link CookieVerifyCallback}; false asks the client again.
   * @throws {TypeError} When `callback` is not a function.
   * @example Compare with the cookie the server would make
   * ```ts ignore
   * ctx.setCookieVerifyCallback((conn, cookie) => timingSafeEqual(cookie, hmac(secret, peerOf(conn))));
   * ```
   */
  setCookieVerifyCallback(callback: CookieVerifyCallback): void {
    dtls.setCookieVerifyCallback(this, this.#mutable(), callback);
  }

  /**
   * Offers (client) or accepts (server) the DTLS-SRTP extension with these
   * protection profiles (`SSL_CTX_set_tlsext_use_srtp`, RFC 5764), as WebRTC
   * does. After the handshake, `Connection.getSelectedSrtpProfile()` names
   * the profile agreed and `Connection.exportSrtpKeyingMaterial()` gives the
   * SRTP keys. Ignored on TLS connections.
   *
   * @param profiles Profile names, most preferred first, as an array or a
   *   colon-separated string: `SRTP_AES128_CM_SHA1_80`,
   *   `SRTP_AES128_CM_SHA1_32`, `SRTP_AEAD_AES_128_GCM`, `SRTP_AEAD_AES_256_GCM`
   *   (and, on newer OpenSSL, the ARIA and double-AEAD profiles).
   * @throws {TypeError} When the list is empty.
   * @throws {SSLError} When OpenSSL does not know a profile.
   * @example Offer the WebRTC profiles
   * ```ts ignore
   * ctx.setTlsextUseSrtp(["SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"]);
   * ```
   */
  setTlsextUseSrtp(profiles: string | readonly string[]): void {
    dtls.setContextSrtp(this.#mutable(), profiles);
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#ctx === null;
  }

  /**
   * Releases the context. Connections made from it keep working: each holds
   * its own reference to the native context. Idempotent.
   *
   * @example
   * ```ts ignore
   * ctx.close();
   * ctx.close(); // harmless
   * ```
   */
  close(): void {
    const ctx = this.#ctx;
    if (ctx === null) return;
    this.#ctx = null;
    registry.unregister(this);
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
