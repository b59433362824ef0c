/**
 * X.509 certificates (OpenSSL's `X509`): parsing PEM and DER, bundles, and
 * reading every field a user inspects.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, readCString, utf8 } from "../ffi/memory.ts";
import { clearErrors } from "../errors/queue.ts";
import { ClosedError, SSLError } from "../errors/ssl_error.ts";
import {
  asn1IntegerToHex,
  asn1TimeToDate,
  bioOutput,
  colonHex,
  cryptoError,
  decodeDER,
  encodeDER,
  inputBytes,
  objectName,
  pemEndOrErrors,
  ulong,
  withInputBio,
} from "./_native.ts";
import { X509Name } from "./name.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";
import { PKey } from "./pkey.ts";
import { describeExtension, generalNames } from "./_general_names.ts";

const registry = handleRegistry("X509", (ptr) => native().crypto.X509_free(ptr));

/** `NID_subject_alt_name`. */
const NID_subject_alt_name = 85;
/** `NID_ext_key_usage`. */
const NID_ext_key_usage = 126;
/** `EXFLAG_CA`: basicConstraints says CA:TRUE. */
const EXFLAG_CA = 0x10;
/** `EXFLAG_KUSAGE`: a keyUsage extension is present. */
const EXFLAG_KUSAGE = 0x2;
/** `openssl x509 -text`'s name flags in 3.0: `XN_FLAG_ONELINE` (UTF-8 shown as `\\XX` escapes). */
const TEXT_NAME_FLAGS = 0x1 | 0x2 | 0x4 | 0x10 | 0x100 | 0x200 | 0x8 | (2 << 16) | (1 << 23);
/** `EVP_MAX_MD_SIZE`. */
const EVP_MAX_MD_SIZE = 64;

/** Key usage bits (`KU_*`) under their RFC 5280 / OpenSSL config names. */
const KEY_USAGE_BITS: readonly [string, number][] = [
  ["digitalSignature", 0x0080],
  ["nonRepudiation", 0x0040],
  ["keyEncipherment", 0x0020],
  ["dataEncipherment", 0x0010],
  ["keyAgreement", 0x0008],
  ["keyCertSign", 0x0004],
  ["cRLSign", 0x0002],
  ["encipherOnly", 0x0001],
  ["decipherOnly", 0x8000],
];

/**
 * One subject alternative name.
 */
export interface SubjectAltName {
  /** `"DNS"`, `"IP"`, `"email"` or `"URI"`. */
  type: "DNS" | "IP" | "email" | "URI";
  /** The name; IPv4 dotted, IPv6 in RFC 5952 compressed form. */
  value: string;
}

/**
 * One certificate extension.
 *
 * @example Find an extension of a certificate
 * ```ts
 * import { TestCA } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * const ext = ca.cert.extensions.find((e) => e.name === "basicConstraints");
 * assert.deepEqual(ext, {
 *   name: "basicConstraints",
 *   oid: "2.5.29.19",
 *   critical: true,
 *   value: "CA:TRUE",
 * });
 * ```
 */
export interface X509Extension {
  /** OpenSSL's short name (`"subjectAltName"`), or the dotted OID when it has none. */
  name: string;
  /** The dotted OID. */
  oid: string;
  /** Whether the extension is marked critical. */
  critical: boolean;
  /** The value as `openssl x509 -text` prints it (unknown extensions hex-dumped). */
  value: string;
}

/**
 * An X.509 certificate.
 *
 * @example Inspect a certificate
 * ```ts
 * import { TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
 * const cert = leaf.cert;
 * console.log(cert.subject.commonName); // "localhost"
 * console.log(cert.subjectAltNames); // [{ type: "DNS", value: "localhost" }, { type: "IP", value: "127.0.0.1" }]
 * console.log(cert.notAfter > new Date(), cert.isCA); // true false
 * ```
 */
export class X509 {
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
    trackHandle("X509", ptr);
  }

  /**
   * Wraps an `X509*`, taking ownership of one reference. Internal.
   *
   * @param ptr The pointer; the new object frees it.
   * @returns The certificate.
   */
  static _wrap(ptr: Deno.PointerObject): X509 {
    return new X509(ptr);
  }

  /**
   * Wraps an `X509*` borrowed from OpenSSL, taking a reference of its own. Internal.
   *
   * @param ptr The pointer; its reference count is raised.
   * @returns The certificate.
   */
  static _borrow(ptr: Deno.PointerObject): X509 {
    native().crypto.X509_up_ref(ptr);
    return new X509(ptr);
  }

  /**
   * Parses the first certificate of a PEM text.
   *
   * @param pem PEM text or bytes (`-----BEGIN CERTIFICATE-----`).
   * @returns The certificate.
   * @throws {TypeError} When `pem` is neither a string nor bytes.
   * @throws {SSLError} When no certificate can be parsed; the message names
   *   OpenSSL's reason (`no start line`, `bad base64 decode`, ...).
   *
   * @example Parse a PEM certificate
   * ```ts
   * import { TestCA, X509 } from "@denossl/denossl";
   * using ca = TestCA.create();
   * using cert = X509.fromPEM(ca.certPEM);
   * console.log(cert.equals(ca.cert)); // true
   * ```
   */
  static fromPEM(pem: string | Uint8Array): X509 {
    const bytes = inputBytes(pem, "PEM certificate");
    const { crypto } = native();
    clearErrors();
    const ptr = withInputBio(bytes, (bio) => crypto.PEM_read_bio_X509(bio, null, null, null));
    if (ptr === null) throw cryptoError("Could not parse PEM certificate");
    return new X509(ptr);
  }

  /**
   * Parses a DER certificate.
   *
   * @param der The bytes.
   * @returns The certificate.
   * @throws {SSLError} When the bytes are not a certificate (truncated, garbage).
   *
   * @example DER round trip
   * ```ts
   * import { TestCA, X509 } from "@denossl/denossl";
   * using ca = TestCA.create();
   * using back = X509.fromDER(ca.cert.toDER());
   * console.log(back.equals(ca.cert)); // true
   * ```
   */
  static fromDER(der: Uint8Array): X509 {
    return new X509(decodeDER(native().crypto.d2i_X509, der, "Could not parse DER certificate"));
  }

  /**
   * Parses every certificate of a PEM bundle, in order. Other PEM blocks
   * (keys, parameters) between them are skipped.
   *
   * @param pem PEM text or bytes.
   * @returns The certificates (at least one).
   * @throws {SSLError} When the text holds no certificate, or one is corrupt.
   *
   * @example Load a chain
   * ```ts
   * import { TestCA, X509 } from "@denossl/denossl";
   * using ca = TestCA.create({ intermediate: true });
   * using leaf = ca.issue({ dns: ["localhost"] });
   * const chain = X509.loadChain(leaf.chainPEM);
   * console.log(chain.length); // 2: the leaf and the intermediate
   * for (const c of chain) c.close();
   * ```
   */
  static loadChain(pem: string | Uint8Array): X509[] {
    const bytes = inputBytes(pem, "PEM bundle");
    const { crypto } = native();
    const out: X509[] = [];
    clearErrors();
    const failure = withInputBio(bytes, (bio) => {
      for (;;) {
        const ptr = crypto.PEM_read_bio_X509(bio, null, null, null);
        if (ptr === null) return pemEndOrErrors();
        out.push(new X509(ptr));
      }
    });
    if (failure !== null || out.length === 0) {
      for (const c of out) c.close();
      if (failure === null) {
        throw new SSLError([], "Could not parse PEM certificate bundle: no certificate found");
      }
      const reasons = [...new Set(failure.map((e) => `${e.reason} (${e.library})`))];
      throw new SSLError(
        failure,
        `Could not parse PEM certificate bundle (certificate ${out.length + 1}): ${
          reasons.join("; ")
        }`,
      );
    }
    return out;
  }

  /** The `X509*`, for denossl's own use. Throws {@link ClosedError} when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("X509");
    return this.#ptr;
  }

  /**
   * Writes the certificate as PEM.
   *
   * @returns `-----BEGIN CERTIFICATE-----` text ending in a newline.
   * @throws {ClosedError} When closed.
   */
  toPEM(): string {
    const handle = this._handle;
    const { crypto } = native();
    return utf8(
      bioOutput((bio) => crypto.PEM_write_bio_X509(bio, handle), "Could not write PEM certificate"),
    );
  }

  /**
   * Writes the certificate as DER.
   *
   * @returns The DER bytes.
   * @throws {ClosedError} When closed.
   */
  toDER(): Uint8Array<ArrayBuffer> {
    return encodeDER(native().crypto.i2d_X509, this._handle, "Could not write DER certificate");
  }

  /**
   * The subject name (a copy the caller may close).
   *
   * @returns The name.
   * @throws {ClosedError} When closed.
   */
  get subject(): X509Name {
    return X509Name._borrow(this.#name(native().crypto.X509_get_subject_name));
  }

  /**
   * The issuer name (a copy the caller may close).
   *
   * @returns The name.
   * @throws {ClosedError} When closed.
   */
  get issuer(): X509Name {
    return X509Name._borrow(this.#name(native().crypto.X509_get_issuer_name));
  }

  #name(get: (x: Deno.PointerObject) => Deno.PointerValue): Deno.PointerObject {
    const name = get(this._handle);
    if (name === null) throw new SSLError([], "The certificate has no name");
    return name;
  }

  /**
   * The serial number, as a bigint.
   *
   * @returns The serial number.
   * @throws {ClosedError} When closed.
   */
  get serialNumber(): bigint {
    const hex = this.serialNumberHex;
    return hex.startsWith("-") ? -BigInt(`0x${hex.slice(1)}`) : BigInt(`0x${hex}`);
  }

  /**
   * The serial number in upper-case hex, as `openssl x509 -serial` prints it.
   *
   * @returns The hex digits.
   * @throws {ClosedError} When closed.
   */
  get serialNumberHex(): string {
    return asn1IntegerToHex(native().crypto.X509_get0_serialNumber(this._handle));
  }

  /**
   * The X.509 version as printed by `openssl x509 -text` (3 for v3
   * certificates; the encoded value plus one).
   *
   * @returns 1, 2 or 3.
   * @throws {ClosedError} When closed.
   */
  get version(): number {
    return Number(native().crypto.X509_get_version(this._handle)) + 1;
  }

  /**
   * The start of the validity period.
   *
   * @returns The date.
   * @throws {ClosedError} When closed.
   */
  get notBefore(): Date {
    return asn1TimeToDate(native().crypto.X509_get0_notBefore(this._handle));
  }

  /**
   * The end of the validity period.
   *
   * @returns The date.
   * @throws {ClosedError} When closed.
   */
  get notAfter(): Date {
    return asn1TimeToDate(native().crypto.X509_get0_notAfter(this._handle));
  }

  /**
   * Whether the certificate's validity has ended.
   *
   * @param now The moment to judge at. @default {new Date()}
   * @returns True when `notAfter` is before `now`.
   * @throws {ClosedError} When closed.
   */
  hasExpired(now: Date = new Date()): boolean {
    return this.notAfter.getTime() < now.getTime();
  }

  /**
   * The certificate's digest, as `openssl x509 -fingerprint -<digest>` prints it.
   *
   * @param digest A digest name OpenSSL knows (`"sha256"`, `"sha1"`, `"sha512"`, ...).
   * @returns Upper-case hex pairs joined by colons (`"AB:CD:..."`).
   * @throws {TypeError} When the digest is unknown.
   * @throws {ClosedError} When closed.
   *
   * @example Pin a certificate
   * ```ts
   * import { TestCA } from "@denossl/denossl";
   * using ca = TestCA.create();
   * console.log(ca.cert.fingerprint("sha256").length); // 95: 32 bytes as "AB:" pairs
   * ```
   */
  fingerprint(digest: string = "sha256"): string {
    const handle = this._handle;
    const { crypto } = native();
    const md = crypto.EVP_get_digestbyname(cstr(digest, "digest"));
    if (md === null) throw new TypeError(`Unknown digest ${digest}`);
    const out = new Uint8Array(EVP_MAX_MD_SIZE);
    const len = new Uint32Array(1);
    clearErrors();
    if (crypto.X509_digest(handle, md, out, len) !== 1) {
      throw cryptoError(`Could not compute the ${digest} fingerprint`);
    }
    return colonHex(out.subarray(0, len[0]!));
  }

  /**
   * The subject alternative names of kinds DNS, IP, email and URI, in order.
   *
   * @returns The names (empty when the extension is absent).
   * @throws {ClosedError} When closed.
   */
  get subjectAltNames(): SubjectAltName[] {
    const handle = this._handle;
    const { crypto } = native();
    clearErrors();
    const names = crypto.X509_get_ext_d2i(handle, NID_subject_alt_name, null, null);
    crypto.ERR_clear_error();
    if (names === null) return [];
    try {
      return generalNames(names);
    } finally {
      crypto.GENERAL_NAMES_free(names);
    }
  }

  /**
   * Every extension, in certificate order, with its text as `openssl x509
   * -text` prints it.
   *
   * @returns The extensions.
   * @throws {ClosedError} When closed.
   */
  get extensions(): X509Extension[] {
    const handle = this._handle;
    const { crypto } = native();
    const count = crypto.X509_get_ext_count(handle);
    const out: X509Extension[] = [];
    for (let i = 0; i < count; i++) {
      const ext = crypto.X509_get_ext(handle, i);
      if (ext !== null) out.push(describeExtension(ext));
    }
    return out;
  }

  /**
   * Whether basicConstraints says this is a CA (`CA:TRUE`).
   *
   * @returns True for a CA certificate.
   * @throws {ClosedError} When closed.
   */
  get isCA(): boolean {
    return (native().crypto.X509_get_extension_flags(this._handle) & EXFLAG_CA) !== 0;
  }

  /**
   * basicConstraints' path length limit, or null when there is none.
   *
   * @returns The limit.
   * @throws {ClosedError} When closed.
   */
  get pathLength(): number | null {
    const n = Number(native().crypto.X509_get_pathlen(this._handle));
    return n < 0 ? null : n;
  }

  /**
   * The key usages (`"digitalSignature"`, `"keyCertSign"`, ...), or null when
   * the certificate has no keyUsage extension.
   *
   * @returns The usages.
   * @throws {ClosedError} When closed.
   */
  get keyUsage(): string[] | null {
    const handle = this._handle;
    const { crypto } = native();
    if ((crypto.X509_get_extension_flags(handle) & EXFLAG_KUSAGE) === 0) return null;
    const bits = crypto.X509_get_key_usage(handle);
    return KEY_USAGE_BITS.filter(([, bit]) => (bits & bit) !== 0).map(([name]) => name);
  }

  /**
   * The extended key usages by short name (`"serverAuth"`, `"clientAuth"`)
   * or dotted OID, or null when the certificate has no extendedKeyUsage.
   *
   * @returns The usages.
   * @throws {ClosedError} When closed.
   */
  get extendedKeyUsage(): string[] | null {
    const handle = this._handle;
    const { crypto } = native();
    clearErrors();
    const stack = crypto.X509_get_ext_d2i(handle, NID_ext_key_usage, null, null);
    crypto.ERR_clear_error();
    if (stack === null) return null;
    try {
      const out: string[] = [];
      const count = crypto.OPENSSL_sk_num(stack);
      for (let i = 0; i < count; i++) out.push(objectName(crypto.OPENSSL_sk_value(stack, i)).name);
      return out;
    } finally {
      crypto.EXTENDED_KEY_USAGE_free(stack);
    }
  }

  /**
   * The subject's public key (a new object the caller may close).
   *
   * @returns The key.
   * @throws {SSLError} When the key cannot be decoded.
   * @throws {ClosedError} When closed.
   */
  get publicKey(): PKey {
    const handle = this._handle;
    clearErrors();
    const key = native().crypto.X509_get_pubkey(handle);
    if (key === null) throw cryptoError("Could not read the certificate's public key");
    try {
      return PKey._publicOf(key); // a certificate built here holds its private key too
    } finally {
      native().crypto.EVP_PKEY_free(key);
    }
  }

  /**
   * The signature algorithm's long name, as `openssl x509 -text` prints it
   * (`"ecdsa-with-SHA256"`, `"sha256WithRSAEncryption"`, `"ED25519"`).
   *
   * @returns The name.
   * @throws {ClosedError} When closed.
   */
  get signatureAlgorithm(): string {
    const { crypto } = native();
    const nid = crypto.X509_get_signature_nid(this._handle);
    return readCString(crypto.OBJ_nid2ln(nid)) ?? `nid ${nid}`;
  }

  /**
   * The human-readable dump `openssl x509 -noout -text` prints.
   *
   * @returns The text.
   * @throws {ClosedError} When closed.
   */
  toText(): string {
    const handle = this._handle;
    const { crypto } = native();
    return utf8(bioOutput(
      (bio) => crypto.X509_print_ex(bio, handle, ulong(TEXT_NAME_FLAGS), ulong(0)),
      "Could not print the certificate",
    ));
  }

  /**
   * Whether two certificates are the same (`X509_cmp`: same DER encoding).
   *
   * @param other The other certificate.
   * @returns True when equal.
   * @throws {ClosedError} When either is closed.
   */
  equals(other: X509): boolean {
    if (!(other instanceof X509)) return false;
    return native().crypto.X509_cmp(this._handle, other._handle) === 0;
  }

  /** Frees the certificate; idempotent. */
  close(): void {
    if (this.#ptr === null) return;
    registry.unregister(this);
    native().crypto.X509_free(this.#ptr);
    releaseHandle("X509", this.#ptr);
    this.#ptr = null;
  }

  /** Same as {@link X509.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
