/**
 * Trust stores (OpenSSL's `X509_STORE`) and certificate chain verification
 * outside a handshake.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr } from "../ffi/memory.ts";
import { bareIp } from "../ffi/ip.ts";
import { DEFAULT_HOST_FLAGS } from "../ffi/constants.ts";
import { clearErrors } from "../errors/queue.ts";
import { verifyErrorString } from "../errors/raise.ts";
import { ClosedError, SSLError, VerificationError } from "../errors/ssl_error.ts";
import {
  cryptoError,
  decodeDER,
  inputBytes,
  pemEndOrErrors,
  timeT,
  ulong,
  withInputBio,
} from "./_native.ts";
import { X509 } from "./x509.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";

const registry = handleRegistry("X509_STORE", (ptr) => native().crypto.X509_STORE_free(ptr));

/**
 * Flags for {@link X509Store.setFlags} (`X509_V_FLAG_*`).
 *
 * @example Check revocation of the whole chain
 * ```ts
 * import { X509Store, X509StoreFlags } from "@denossl/denossl";
 * using store = new X509Store();
 * store.setFlags(X509StoreFlags.CRL_CHECK | X509StoreFlags.CRL_CHECK_ALL);
 * ```
 */
export const X509StoreFlags: Readonly<
  Record<
    | "CRL_CHECK"
    | "CRL_CHECK_ALL"
    | "IGNORE_CRITICAL"
    | "X509_STRICT"
    | "ALLOW_PROXY_CERTS"
    | "POLICY_CHECK"
    | "EXPLICIT_POLICY"
    | "INHIBIT_ANY"
    | "INHIBIT_MAP"
    | "CHECK_SS_SIGNATURE"
    | "TRUSTED_FIRST"
    | "PARTIAL_CHAIN"
    | "NO_ALT_CHAINS"
    | "NO_CHECK_TIME",
    number
  >
> = Object.freeze({
  /** Check the leaf against CRLs. */
  CRL_CHECK: 0x4,
  /** Check every certificate of the chain against CRLs. */
  CRL_CHECK_ALL: 0x8,
  /** Ignore unhandled critical extensions. */
  IGNORE_CRITICAL: 0x10,
  /** Strict X.509 checks. */
  X509_STRICT: 0x20,
  /** Allow proxy certificates. */
  ALLOW_PROXY_CERTS: 0x40,
  /** Enable policy checking. */
  POLICY_CHECK: 0x80,
  /** Require an explicit policy. */
  EXPLICIT_POLICY: 0x100,
  /** Inhibit anyPolicy. */
  INHIBIT_ANY: 0x200,
  /** Inhibit policy mapping. */
  INHIBIT_MAP: 0x400,
  /** Check the signature of self-signed roots too. */
  CHECK_SS_SIGNATURE: 0x4000,
  /** Prefer trusted certificates when building the chain. */
  TRUSTED_FIRST: 0x8000,
  /** Accept a chain ending in any trusted certificate, not only a root. */
  PARTIAL_CHAIN: 0x80000,
  /** Do not try alternative chains. */
  NO_ALT_CHAINS: 0x100000,
  /** Do not check validity dates. */
  NO_CHECK_TIME: 0x200000,
});

/**
 * A verification purpose, as `openssl verify -purpose` names them.
 *
 * @example
 * ```ts
 * import type { VerifyPurpose } from "@denossl/denossl";
 * const purpose: VerifyPurpose = "sslserver";
 * ```
 */
export type VerifyPurpose =
  | "sslclient"
  | "sslserver"
  | "nssslserver"
  | "smimesign"
  | "smimeencrypt"
  | "crlsign"
  | "any"
  | "ocsphelper"
  | "timestampsign";

/** Purposes for {@link VerifyOptions.purpose}, with OpenSSL's `X509_PURPOSE_*` ids. */
const PURPOSES: Readonly<Record<VerifyPurpose, number>> = {
  sslclient: 1,
  sslserver: 2,
  nssslserver: 3,
  smimesign: 4,
  smimeencrypt: 5,
  crlsign: 6,
  any: 7,
  ocsphelper: 8,
  timestampsign: 9,
};

/**
 * Options for {@link X509Store.verify}.
 *
 * @example Verify a leaf through its intermediate, for a name and a purpose
 * ```ts
 * import { TestCA, X509Store } from "@denossl/denossl";
 * import type { VerifyOptions } from "@denossl/denossl";
 * using ca = TestCA.create({ intermediate: true });
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using store = new X509Store();
 * store.addCert(ca.cert);
 * const options: VerifyOptions = {
 *   chain: [ca.intermediate!.cert],
 *   hostname: "localhost",
 *   purpose: "sslserver",
 * };
 * for (const c of store.verify(leaf.cert, options)) c.close();
 * ```
 */
export interface VerifyOptions {
  /** Untrusted intermediates that may complete the chain. */
  chain?: readonly X509[];
  /**
   * Check the leaf against this DNS name or IP address. Names match the
   * subject alternative names only (no subject-CN fallback) and no partial
   * wildcard (`f*.example.com`), as TLS connections check them.
   */
  hostname?: string;
  /** Check the chain is fit for this purpose. */
  purpose?: VerifyPurpose;
  /** Verify as of this moment rather than now (or the store's {@link X509Store.setTime}). */
  time?: Date;
}

/** A store pointer the next `new X509Store()` adopts instead of allocating (see `_borrow`). */
let adopting: Deno.PointerObject | null = null;

/**
 * A set of trusted certificates (and CRLs) to verify chains against.
 *
 * @example Verify a leaf against a test CA
 * ```ts
 * import { TestCA, X509Store } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using store = new X509Store();
 * store.addCert(ca.cert);
 * const chain = store.verify(leaf.cert, { hostname: "localhost", purpose: "sslserver" });
 * console.log(chain.length); // 2: the leaf and the root
 * for (const c of chain) c.close();
 * ```
 *
 * @example The store a Context verifies with in the handshake (CRLs, flags, purpose, time)
 * ```ts
 * import { Connection, Context, TestCA, VERIFY_PEER, X509Store, X509StoreFlags } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create({ intermediate: true });
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context();
 * serverCtx.useCertificateChain(leaf.chainPEM);
 * serverCtx.usePrivateKey(leaf.keyPEM);
 * // Trust the intermediate alone (PARTIAL_CHAIN); store.addCRL(pem) and CRL_CHECK revoke.
 * using store = new X509Store().addCert(ca.intermediate!.cert).setPurpose("sslserver");
 * store.setFlags(X509StoreFlags.PARTIAL_CHAIN);
 * using clientCtx = new Context();
 * clientCtx.setCertStore(store);
 * clientCtx.setVerify(VERIFY_PEER);
 * using live = clientCtx.getCertStore(); // the same store, as pyOpenSSL's get_cert_store
 * assert.equal(live.getFlags(), X509StoreFlags.PARTIAL_CHAIN);
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
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
 * assert.equal(client.getVerifiedChain()?.length, 2); // the leaf and the trusted intermediate
 * ```
 */
export class X509Store {
  #ptr: Deno.PointerObject | null;

  /**
   * Creates an empty store.
   *
   * @throws {SSLError} When OpenSSL cannot allocate it.
   */
  constructor() {
    let ptr = adopting;
    adopting = null;
    if (ptr === null) {
      clearErrors();
      ptr = native().crypto.X509_STORE_new();
      if (ptr === null) throw cryptoError("Could not create a certificate store");
    }
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
    trackHandle("X509_STORE", ptr);
  }

  /**
   * Wraps an `X509_STORE*` borrowed from OpenSSL (an `SSL_CTX`'s), taking a
   * reference of its own. Internal.
   *
   * @param ptr The pointer; its reference count is raised.
   * @returns The store.
   */
  static _borrow(ptr: Deno.PointerObject): X509Store {
    native().crypto.X509_STORE_up_ref(ptr);
    adopting = ptr;
    return new X509Store();
  }

  /** The `X509_STORE*`, for denossl's own use. Throws {@link ClosedError} when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("X509Store");
    return this.#ptr;
  }

  /**
   * Trusts a certificate (the store takes its own reference). Adding the same
   * certificate twice is harmless.
   *
   * @param cert The certificate.
   * @returns This store.
   * @throws {SSLError} When OpenSSL refuses it.
   * @throws {ClosedError} When closed.
   */
  addCert(cert: X509): this {
    if (!(cert instanceof X509)) throw new TypeError("addCert() takes an X509");
    clearErrors();
    if (native().crypto.X509_STORE_add_cert(this._handle, cert._handle) !== 1) {
      throw cryptoError("Could not add the certificate to the store");
    }
    return this;
  }

  /**
   * Adds certificate revocation lists, checked when the flags ask for it
   * ({@link X509StoreFlags}.CRL_CHECK).
   *
   * @param crl PEM text (one or more `X509 CRL` blocks) or DER bytes.
   * @returns This store.
   * @throws {SSLError} When the CRL cannot be parsed.
   * @throws {ClosedError} When closed.
   */
  addCRL(crl: string | Uint8Array): this {
    const handle = this._handle;
    const { crypto } = native();
    const bytes = inputBytes(crl, "CRL");
    const isPEM = typeof crl === "string" || bytes.indexOf(0x2d) === 0; // "-"
    const add = (ptr: Deno.PointerObject) => {
      const ok = crypto.X509_STORE_add_crl(handle, ptr);
      crypto.X509_CRL_free(ptr);
      if (ok !== 1) throw cryptoError("Could not add the CRL to the store");
    };
    if (!isPEM) {
      add(decodeDER(crypto.d2i_X509_CRL, bytes, "Could not parse DER CRL"));
      return this;
    }
    clearErrors();
    let count = 0;
    const failure = withInputBio(bytes, (bio) => {
      for (;;) {
        const ptr = crypto.PEM_read_bio_X509_CRL(bio, null, null, null);
        if (ptr === null) return pemEndOrErrors();
        add(ptr);
        count++;
      }
    });
    if (failure !== null) {
      throw new SSLError(
        failure,
        `Could not parse PEM CRL: ${failure.map((e) => e.reason).join("; ")}`,
      );
    }
    if (count === 0) throw new SSLError([], "Could not parse PEM CRL: no X509 CRL block found");
    return this;
  }

  /**
   * Loads trusted certificates from a PEM file and/or a hashed directory
   * (`c_rehash` layout).
   *
   * @param file A PEM bundle path, or null.
   * @param directory A directory path, or null.
   * @returns This store.
   * @throws {TypeError} When both are null.
   * @throws {SSLError} When loading fails (missing file, bad PEM).
   * @throws {ClosedError} When closed.
   */
  loadLocations(file: string | null, directory: string | null = null): this {
    if (file === null && directory === null) {
      throw new TypeError("loadLocations() needs a file or a directory");
    }
    clearErrors();
    if (
      native().crypto.X509_STORE_load_locations(
        this._handle,
        file === null ? null : cstr(file, "file"),
        directory === null ? null : cstr(directory, "directory"),
      ) !== 1
    ) {
      throw cryptoError(`Could not load trusted certificates from ${file ?? directory}`);
    }
    return this;
  }

  /**
   * Trusts the system's default certificate locations (OpenSSL's
   * `OPENSSLDIR`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`).
   *
   * @returns This store.
   * @throws {SSLError} When OpenSSL fails.
   * @throws {ClosedError} When closed.
   */
  setDefaultPaths(): this {
    clearErrors();
    if (native().crypto.X509_STORE_set_default_paths(this._handle) !== 1) {
      throw cryptoError("Could not load the default trusted certificate locations");
    }
    return this;
  }

  /**
   * Sets verification flags (added to those already set).
   *
   * @param flags {@link X509StoreFlags} values, OR-ed.
   * @returns This store.
   * @throws {ClosedError} When closed.
   */
  setFlags(flags: number): this {
    if (!Number.isInteger(flags) || flags < 0) {
      throw new RangeError("Flags must be a non-negative integer");
    }
    clearErrors();
    if (native().crypto.X509_STORE_set_flags(this._handle, ulong(flags)) !== 1) {
      throw cryptoError("Could not set the store flags");
    }
    return this;
  }

  /**
   * The verification flags set on this store ({@link X509StoreFlags} bits).
   *
   * @returns The flags.
   * @throws {ClosedError} When closed.
   */
  getFlags(): number {
    const { crypto } = native();
    return Number(crypto.X509_VERIFY_PARAM_get_flags(crypto.X509_STORE_get0_param(this._handle)));
  }

  /**
   * Requires chains verified against this store to be fit for a purpose, as
   * `openssl verify -purpose` does; a context that verifies with this store
   * applies it in the handshake instead of its own default (`sslserver` for
   * a client, `sslclient` for a server).
   *
   * @param purpose The purpose.
   * @returns This store.
   * @throws {TypeError} When the purpose is unknown.
   * @throws {ClosedError} When closed.
   */
  setPurpose(purpose: VerifyPurpose): this {
    const handle = this._handle;
    const id = Object.hasOwn(PURPOSES, purpose) ? PURPOSES[purpose] : undefined;
    if (id === undefined) throw new TypeError(`Unknown purpose ${String(purpose)}`);
    clearErrors();
    if (native().crypto.X509_STORE_set_purpose(handle, id) !== 1) {
      throw cryptoError(`Could not set the purpose ${purpose}`);
    }
    return this;
  }

  /**
   * Verifies as of a fixed moment instead of now.
   *
   * @param time The moment.
   * @returns This store.
   * @throws {TypeError} When the date is invalid.
   * @throws {ClosedError} When closed.
   */
  setTime(time: Date): this {
    const { crypto } = native();
    const param = crypto.X509_STORE_get0_param(this._handle);
    crypto.X509_VERIFY_PARAM_set_time(param, timeT(time, "time"));
    return this;
  }

  /**
   * Verifies a certificate against the store.
   *
   * @param cert The certificate (leaf) to verify.
   * @param options Untrusted intermediates, hostname, purpose, time.
   * @returns The verified chain, leaf first and trust anchor last (new
   *   objects the caller may close).
   * @throws {VerificationError} When verification fails: `verifyCode`
   *   (`X509_V_ERR_*`), `verifyMessage`, `depth` and `certificate` tell why and where.
   * @throws {ClosedError} When the store or a certificate is closed.
   *
   * @example Tell why a chain is rejected
   * ```ts
   * import { TestCA, VerificationError, X509Store } from "@denossl/denossl";
   * using ca = TestCA.create();
   * using leaf = ca.issue({ dns: ["localhost"] });
   * using store = new X509Store().addCert(ca.cert);
   * try {
   *   store.verify(leaf.cert, { hostname: "example.com" });
   * } catch (e) {
   *   if (!(e instanceof VerificationError)) throw e;
   *   console.log(e.verifyCode, e.verifyMessage); // 62 "hostname mismatch"
   * }
   * ```
   */
  verify(cert: X509, options: VerifyOptions = {}): X509[] {
    if (!(cert instanceof X509)) throw new TypeError("verify() takes an X509");
    const handle = this._handle;
    const target = cert._handle;
    const chain = (options.chain ?? []).map((c) => {
      if (!(c instanceof X509)) throw new TypeError("chain must hold X509 objects");
      return c._handle;
    });
    const purpose = options.purpose === undefined ? undefined : PURPOSES[options.purpose];
    if (options.purpose !== undefined && purpose === undefined) {
      throw new TypeError(`Unknown purpose ${options.purpose}`);
    }
    const time = options.time === undefined ? undefined : timeT(options.time, "time");
    const host = options.hostname === undefined ? undefined : cstr(options.hostname, "hostname");

    const { crypto } = native();
    clearErrors();
    const ctx = crypto.X509_STORE_CTX_new();
    if (ctx === null) throw cryptoError("Could not create a verification context");
    let untrusted: Deno.PointerValue = null;
    try {
      if (chain.length > 0) {
        untrusted = crypto.OPENSSL_sk_new_null();
        if (untrusted === null) throw cryptoError("Could not allocate the chain");
        for (const c of chain) {
          if (crypto.OPENSSL_sk_push(untrusted, c) <= 0) {
            throw cryptoError("Could not build the chain");
          }
        }
      }
      if (crypto.X509_STORE_CTX_init(ctx, handle, target, untrusted) !== 1) {
        throw cryptoError("Could not start verification");
      }
      const param = crypto.X509_STORE_CTX_get0_param(ctx);
      if (host) {
        const ip = bareIp(options.hostname!);
        const ok = ip !== null
          ? crypto.X509_VERIFY_PARAM_set1_ip_asc(param, cstr(ip, "hostname"))
          : crypto.X509_VERIFY_PARAM_set1_host(param, host, BigInt(host.length - 1));
        if (ok !== 1) throw cryptoError(`Invalid hostname ${options.hostname}`);
        // As TLS connections check names: no subject-CN fallback, no partial wildcards.
        if (ip === null) crypto.X509_VERIFY_PARAM_set_hostflags(param, DEFAULT_HOST_FLAGS);
      }
      if (purpose !== undefined && crypto.X509_STORE_CTX_set_purpose(ctx, purpose) !== 1) {
        throw cryptoError(`Could not set the purpose ${options.purpose}`);
      }
      if (time !== undefined) crypto.X509_STORE_CTX_set_time(ctx, ulong(0), time);

      const result = crypto.X509_verify_cert(ctx);
      if (result !== 1) {
        const code = crypto.X509_STORE_CTX_get_error(ctx);
        if (result < 0 || code === 0) throw cryptoError("Certificate verification could not run");
        const current = crypto.X509_STORE_CTX_get_current_cert(ctx);
        crypto.ERR_clear_error();
        throw new VerificationError({
          verifyCode: code,
          verifyMessage: verifyErrorString(code),
          depth: crypto.X509_STORE_CTX_get_error_depth(ctx),
          certificate: current === null ? null : X509._borrow(current),
        });
      }
      const verified = crypto.X509_STORE_CTX_get0_chain(ctx);
      const out: X509[] = [];
      const n = verified === null ? 0 : crypto.OPENSSL_sk_num(verified);
      for (let i = 0; i < n; i++) {
        const c = crypto.OPENSSL_sk_value(verified, i);
        if (c !== null) out.push(X509._borrow(c));
      }
      return out;
    } finally {
      crypto.X509_STORE_CTX_free(ctx);
      if (untrusted !== null) crypto.OPENSSL_sk_free(untrusted);
    }
  }

  /** Frees the store (certificates it holds stay alive while referenced); idempotent. */
  close(): void {
    if (this.#ptr === null) return;
    registry.unregister(this);
    native().crypto.X509_STORE_free(this.#ptr);
    releaseHandle("X509_STORE", this.#ptr);
    this.#ptr = null;
  }

  /** Same as {@link X509Store.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
