/**
 * Certificate signing requests (PKCS#10, OpenSSL's `X509_REQ`): creating and
 * signing one, parsing PEM and DER, reading its subject, key, subject
 * alternative names and extensions, and verifying its signature.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { cstr, readCString, utf8 } from "../ffi/memory.ts";
import { clearErrors, drainErrorQueue } from "../errors/queue.ts";
import { ClosedError, SSLError } from "../errors/ssl_error.ts";
import {
  bioOutput,
  cryptoError,
  decodeDER,
  encodeDER,
  inputBytes,
  withInputBio,
} from "./_native.ts";
import { describeExtension, generalNames, subjectAltNameValue } from "./_general_names.ts";
import { X509Name } from "./name.ts";
import type { X509NameInput } from "./name.ts";
import { PKey } from "./pkey.ts";
import type { SubjectAltName, X509Extension } from "./x509.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";

const registry = handleRegistry("X509_REQ", (ptr) => native().crypto.X509_REQ_free(ptr));

/** `X509_REQ_VERSION_1`: the only version PKCS#10 defines (encoded 0). */
const X509_REQ_VERSION_1 = 0;
/** `NID_subject_alt_name`. */
const NID_subject_alt_name = 85;
/** `sizeof(X509V3_CTX)` is 64 on 64-bit OpenSSL 3.0; room to spare. */
const X509V3_CTX_SIZE = 256;
/** Digests a request may be signed with (Ed25519 and Ed448 keys sign with none). */
const DIGESTS = new Set(["sha256", "sha384", "sha512"]);

/**
 * One extension to request, in OpenSSL's configuration syntax (as in an
 * `openssl req -addext` argument): `{ name: "keyUsage", value:
 * "digitalSignature" }`.
 *
 * @example
 * ```ts
 * import type { X509ReqExtension } from "@denossl/denossl";
 * const ext: X509ReqExtension = { name: "extendedKeyUsage", value: "clientAuth" };
 * ```
 */
export interface X509ReqExtension {
  /** The extension's short name (`keyUsage`, `extendedKeyUsage`, `basicConstraints`, ...). */
  name: string;
  /** Its value, as `openssl req -addext name=value` takes it. */
  value: string;
  /** Mark it critical. @default {false} */
  critical?: boolean;
}

/**
 * Options of {@link X509Req.create}.
 *
 * @example
 * ```ts
 * import { PKey, type X509ReqOptions } from "@denossl/denossl";
 * using key = PKey.generate({ type: "ec" });
 * const options: X509ReqOptions = {
 *   subject: { CN: "api.example.com", O: "Example" },
 *   key,
 *   subjectAltNames: { dns: ["api.example.com"] },
 * };
 * ```
 */
export interface X509ReqOptions {
  /** The subject asked for. */
  subject: X509NameInput;
  /** The private key: its public half goes into the request, and it signs the request. */
  key: PKey;
  /** The subject alternative names asked for. */
  subjectAltNames?: {
    dns?: readonly string[];
    ip?: readonly string[];
    email?: readonly string[];
    uri?: readonly string[];
  };
  /** Other extensions asked for. A CA decides which it grants. */
  extensions?: readonly X509ReqExtension[];
  /** The signature's digest; ignored for Ed25519 and Ed448 keys. @default {"sha256"} */
  digest?: "sha256" | "sha384" | "sha512";
}

/**
 * A certificate signing request (CSR, PKCS#10): what a CA needs to issue a
 * certificate, signed with the subject's key to prove it holds it. As
 * pyOpenSSL's `X509Req`, in one step: {@link X509Req.create} builds and signs.
 *
 * @example Make a CSR, send its PEM to a CA, and issue from it
 * ```ts
 * import { PKey, TestCA, X509Req } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using key = PKey.generate({ type: "ec" });
 * using req = X509Req.create({
 *   subject: { CN: "api.example.com" },
 *   key,
 *   subjectAltNames: { dns: ["api.example.com"], ip: ["192.0.2.7"] },
 * });
 * const pem = req.toPEM(); // "-----BEGIN CERTIFICATE REQUEST-----..."
 *
 * // At the CA: parse, check the signature, issue.
 * using ca = TestCA.create();
 * using received = X509Req.fromPEM(pem);
 * received.verify();
 * using cert = ca.issueFromRequest(received);
 * assert.equal(cert.subject.commonName, "api.example.com");
 * assert.deepEqual(cert.subjectAltNames, [
 *   { type: "DNS", value: "api.example.com" },
 *   { type: "IP", value: "192.0.2.7" },
 * ]);
 * assert.equal(cert.publicKey.equals(key), true);
 * ```
 */
export class X509Req {
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
    trackHandle("X509_REQ", ptr);
  }

  /**
   * Builds a request and signs it with `options.key`.
   *
   * @param options Subject, key, subject alternative names, extensions, digest.
   * @returns The signed request.
   * @throws {TypeError} When the subject or key is missing, or a name or extension is malformed.
   * @throws {SSLError} When OpenSSL refuses a value (an unknown extension, a bad IP address).
   */
  static create(options: X509ReqOptions): X509Req {
    if (options === null || typeof options !== "object") {
      throw new TypeError("X509Req.create() takes { subject, key, ... }");
    }
    const { key, digest = "sha256" } = options;
    if (!(key instanceof PKey)) throw new TypeError("key must be a PKey (the private key)");
    if (options.subject === undefined) throw new TypeError("The request needs a subject");
    if (!DIGESTS.has(digest)) throw new TypeError(`digest must be sha256, sha384 or sha512`);
    const { crypto } = native();
    const ptr = crypto.X509_REQ_new();
    if (ptr === null) throw new Error("Out of memory: X509_REQ_new failed");
    const req = new X509Req(ptr);
    try {
      clearErrors();
      if (crypto.X509_REQ_set_version(ptr, long(X509_REQ_VERSION_1)) !== 1) {
        throw cryptoError("Could not set the request's version");
      }
      using subject = X509Name.from(options.subject);
      if (crypto.X509_REQ_set_subject_name(ptr, subject._handle) !== 1) {
        throw cryptoError("Could not set the request's subject");
      }
      if (crypto.X509_REQ_set_pubkey(ptr, key._handle) !== 1) {
        throw cryptoError("Could not set the request's public key");
      }
      addExtensions(ptr, requested(options));
      const md = key.type === "ed25519" || key.type === "ed448"
        ? null
        : crypto.EVP_get_digestbyname(cstr(digest));
      clearErrors();
      if (crypto.X509_REQ_sign(ptr, key._handle, md) <= 0) {
        throw cryptoError("Could not sign the request (is key a private key?)");
      }
      return req;
    } catch (e) {
      req.close();
      throw e;
    }
  }

  /**
   * Parses a PEM request (`-----BEGIN CERTIFICATE REQUEST-----`, as
   * `openssl req -new` writes it).
   *
   * @param pem PEM text or bytes.
   * @returns The request.
   * @throws {SSLError} When no request can be parsed.
   */
  static fromPEM(pem: string | Uint8Array): X509Req {
    const bytes = inputBytes(pem, "PEM certificate request");
    const { crypto } = native();
    clearErrors();
    const ptr = withInputBio(bytes, (bio) => crypto.PEM_read_bio_X509_REQ(bio, null, null, null));
    if (ptr === null) throw cryptoError("Could not parse PEM certificate request");
    return new X509Req(ptr);
  }

  /**
   * Parses a DER request.
   *
   * @param der The bytes.
   * @returns The request.
   * @throws {SSLError} When the bytes are not a request.
   */
  static fromDER(der: Uint8Array): X509Req {
    return new X509Req(
      decodeDER(native().crypto.d2i_X509_REQ, der, "Could not parse DER certificate request"),
    );
  }

  /** The `X509_REQ*`, for denossl's own use. Throws {@link ClosedError} when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("X509Req");
    return this.#ptr;
  }

  /**
   * Writes the request as PEM.
   *
   * @returns `-----BEGIN CERTIFICATE REQUEST-----` text ending in a newline.
   */
  toPEM(): string {
    const handle = this._handle;
    const { crypto } = native();
    return utf8(bioOutput(
      (bio) => crypto.PEM_write_bio_X509_REQ(bio, handle),
      "Could not write PEM certificate request",
    ));
  }

  /**
   * Writes the request as DER.
   *
   * @returns The DER bytes.
   */
  toDER(): Uint8Array<ArrayBuffer> {
    return encodeDER(native().crypto.i2d_X509_REQ, this._handle, "Could not write DER request");
  }

  /**
   * The subject asked for (a copy the caller may close).
   *
   * @returns The name.
   */
  get subject(): X509Name {
    const name = native().crypto.X509_REQ_get_subject_name(this._handle);
    if (name === null) throw new SSLError([], "The certificate request has no subject");
    return X509Name._borrow(name);
  }

  /**
   * The subject's public key (a new object the caller may close).
   *
   * @returns The key.
   * @throws {SSLError} When the key cannot be decoded.
   */
  get publicKey(): PKey {
    const handle = this._handle;
    const { crypto } = native();
    clearErrors();
    const key = crypto.X509_REQ_get0_pubkey(handle);
    if (key === null) throw cryptoError("Could not read the request's public key");
    return PKey._publicOf(key);
  }

  /**
   * The subject alternative names asked for (DNS, IP, email, URI), in order.
   *
   * @returns The names (empty when none are asked for).
   */
  get subjectAltNames(): SubjectAltName[] {
    const { crypto } = native();
    return this.#withExtensions((ext) => {
      if (crypto.OBJ_obj2nid(crypto.X509_EXTENSION_get_object(ext)) !== NID_subject_alt_name) {
        return [];
      }
      const names = crypto.X509V3_EXT_d2i(ext);
      if (names === null) throw cryptoError("Could not decode the requested subjectAltName");
      try {
        return generalNames(names);
      } finally {
        crypto.GENERAL_NAMES_free(names);
      }
    });
  }

  /**
   * Every extension asked for, with its text as `openssl req -text` prints it.
   *
   * @returns The extensions.
   */
  get extensions(): X509Extension[] {
    return this.#withExtensions((ext) => [describeExtension(ext)]);
  }

  #withExtensions<T>(each: (ext: Deno.PointerObject) => T[]): T[] {
    const { crypto } = native();
    clearErrors();
    const stack = crypto.X509_REQ_get_extensions(this._handle);
    crypto.ERR_clear_error(); // none asked for is not an error
    if (stack === null) return [];
    const out: T[] = [];
    const count = crypto.OPENSSL_sk_num(stack);
    try {
      for (let i = 0; i < count; i++) {
        const ext = crypto.OPENSSL_sk_value(stack, i);
        if (ext !== null) out.push(...each(ext));
      }
    } finally {
      for (let i = 0; i < count; i++) crypto.X509_EXTENSION_free(crypto.OPENSSL_sk_value(stack, i));
      crypto.OPENSSL_sk_free(stack);
    }
    return out;
  }

  /**
   * The signature algorithm's long name (`"ecdsa-with-SHA256"`, `"ED25519"`).
   *
   * @returns The name.
   */
  get signatureAlgorithm(): string {
    const { crypto } = native();
    const nid = crypto.X509_REQ_get_signature_nid(this._handle);
    return readCString(crypto.OBJ_nid2ln(nid)) ?? `nid ${nid}`;
  }

  /**
   * Checks the request's signature, as `openssl req -verify` does: with its
   * own public key (proof that the requester holds the private key), or with
   * `key` (pyOpenSSL's `verify(pkey)`).
   *
   * @param key The key to check against. @default {the request's own}
   * @throws {SSLError} When the signature does not verify (a tampered or
   *   corrupt request, or another key).
   */
  verify(key?: PKey): void {
    const handle = this._handle;
    if (key !== undefined && !(key instanceof PKey)) throw new TypeError("key must be a PKey");
    using own = key === undefined ? this.publicKey : undefined;
    const { crypto } = native();
    clearErrors();
    const ok = crypto.X509_REQ_verify(handle, (key ?? own!)._handle);
    if (ok !== 1) {
      throw new SSLError(
        drainErrorQueue(),
        `The certificate request's signature does not verify${
          key === undefined ? "" : " with this key"
        }: it was altered, or signed by another key`,
      );
    }
  }

  /** Frees the request; idempotent. */
  close(): void {
    if (this.#ptr === null) return;
    registry.unregister(this);
    native().crypto.X509_REQ_free(this.#ptr);
    releaseHandle("X509_REQ", this.#ptr);
    this.#ptr = null;
  }

  /** Same as {@link X509Req.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The extensions of a new request, in config syntax, SANs first. */
function requested(options: X509ReqOptions): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  if (options.subjectAltNames !== undefined) {
    out.push({ name: "subjectAltName", value: subjectAltNameValue(options.subjectAltNames) });
  }
  for (const ext of options.extensions ?? []) {
    if (
      ext === null || typeof ext !== "object" || typeof ext.name !== "string" ||
      typeof ext.value !== "string" || ext.value === ""
    ) {
      throw new TypeError("Each extension must be { name, value } with non-empty strings");
    }
    out.push({ name: ext.name, value: `${ext.critical ? "critical," : ""}${ext.value}` });
  }
  return out;
}

/** Encodes the extensions into the request's extensionRequest attribute. */
function addExtensions(req: Deno.PointerObject, exts: { name: string; value: string }[]): void {
  if (exts.length === 0) return;
  const { crypto } = native();
  const ctx = new Uint8Array(X509V3_CTX_SIZE); // zeroed: X509V3_set_ctx_nodb
  crypto.X509V3_set_ctx(ctx, null, null, req, null, 0);
  const stack = crypto.OPENSSL_sk_new_null();
  if (stack === null) throw new Error("Out of memory: OPENSSL_sk_new_null failed");
  const made: Deno.PointerObject[] = [];
  try {
    for (const { name, value } of exts) {
      clearErrors();
      const ext = crypto.X509V3_EXT_nconf(null, ctx, cstr(name, "extension name"), cstr(value));
      if (ext === null) throw cryptoError(`Invalid ${name} extension "${value}"`);
      made.push(ext);
      if (crypto.OPENSSL_sk_push(stack, ext) <= 0) throw cryptoError("Could not add an extension");
    }
    clearErrors();
    if (crypto.X509_REQ_add_extensions(req, stack) !== 1) {
      throw cryptoError("Could not add the extensions to the request");
    }
  } finally {
    for (const ext of made) crypto.X509_EXTENSION_free(ext);
    crypto.OPENSSL_sk_free(stack);
  }
}
