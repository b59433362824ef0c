/**
 * Building and signing X.509 v3 certificates.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { cstr, PointerOut } from "../ffi/memory.ts";
import { clearErrors } from "../errors/queue.ts";
import { cryptoError, timeT } from "./_native.ts";
import { X509Name } from "./name.ts";
import type { X509NameInput } from "./name.ts";
import { PKey } from "./pkey.ts";
import { X509 } from "./x509.ts";
import { X509Req } from "./csr.ts";
import { subjectAltNameValue } from "./_general_names.ts";

/** `NID_basic_constraints`. */
const NID_basic_constraints = 87;
/** `NID_key_usage`. */
const NID_key_usage = 83;
/** `NID_ext_key_usage`. */
const NID_ext_key_usage = 126;
/** `NID_subject_alt_name`. */
const NID_subject_alt_name = 85;
/** `NID_subject_key_identifier`. */
const NID_subject_key_identifier = 82;
/** `NID_authority_key_identifier`. */
const NID_authority_key_identifier = 90;
/** `X509_VERSION_3`: the encoded version of a v3 certificate. */
const X509_VERSION_3 = 2;
/** `sizeof(X509V3_CTX)` is 64 on 64-bit OpenSSL 3.0; room to spare. */
const X509V3_CTX_SIZE = 256;
/** Bytes of a random serial number (RFC 5280 allows up to 20). */
const SERIAL_BYTES = 16;

/** Key usage names the builder accepts (OpenSSL's config names). */
const KEY_USAGES = new Set([
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
]);

/**
 * basicConstraints for {@link CertificateBuilder.basicConstraints}.
 *
 * @example A CA that signs leaves only, and a leaf it signs
 * ```ts
 * import { CertificateBuilder, PKey } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const notBefore = new Date();
 * const notAfter = new Date(Date.now() + 86_400_000);
 * using caKey = PKey.generate({ type: "ec" });
 * using caCert = new CertificateBuilder()
 *   .subject({ O: "Example", CN: "Example CA" })
 *   .validity(notBefore, notAfter)
 *   .publicKey(caKey)
 *   .basicConstraints({ ca: true, pathLength: 0 }) // no intermediate below it
 *   .keyUsage(["keyCertSign", "cRLSign"])
 *   .sign(caKey);
 * using leafKey = PKey.generate({ type: "ec" });
 * using leaf = new CertificateBuilder()
 *   .subject({ CN: "localhost" })
 *   .validity(notBefore, notAfter)
 *   .publicKey(leafKey)
 *   .subjectAltNames({ dns: ["localhost"] })
 *   .basicConstraints({ ca: false })
 *   .keyUsage(["digitalSignature"])
 *   .extendedKeyUsage(["serverAuth"])
 *   .sign(caKey, caCert);
 * assert.equal(caCert.isCA, true);
 * assert.equal(caCert.pathLength, 0);
 * assert.equal(leaf.isCA, false);
 * assert.equal(leaf.issuer.commonName, "Example CA");
 * assert.deepEqual(leaf.extendedKeyUsage, ["serverAuth"]);
 * ```
 */
export interface BasicConstraints {
  /** Whether the subject is a CA. */
  ca: boolean;
  /** Maximum number of intermediates below this CA. */
  pathLength?: number;
  /** Mark the extension critical. @default {true} */
  critical?: boolean;
}

/**
 * Builds a certificate step by step and signs it: subject, issuer, serial,
 * validity, public key, subject alternative names, basic constraints, key
 * usage and extended key usage. Certificates are X.509 v3 with subject and
 * authority key identifiers, signed with SHA-256 (Ed25519 keys sign with no
 * digest, as their algorithm requires).
 *
 * @example A self-signed certificate
 * ```ts
 * import { CertificateBuilder, PKey } from "@denossl/denossl";
 * using key = PKey.generate({ type: "ec" });
 * using cert = new CertificateBuilder()
 *   .subject({ CN: "localhost" })
 *   .validity(new Date(), new Date(Date.now() + 86_400_000))
 *   .publicKey(key)
 *   .subjectAltNames({ dns: ["localhost"], ip: ["127.0.0.1", "::1"] })
 *   .sign(key);
 * console.log(cert.subject.commonName, cert.issuer.commonName); // "localhost" "localhost"
 * ```
 */
export class CertificateBuilder {
  #subject: X509NameInput | undefined;
  #issuer: X509NameInput | undefined;
  #serial: bigint | undefined;
  #notBefore: Date | undefined;
  #notAfter: Date | undefined;
  #publicKey: PKey | undefined;
  #request: X509Req | undefined;
  #extensions: { nid: number; value: string }[] = [];

  /**
   * Starts a certificate from a signing request, as a CA does: checks the
   * request's signature (the requester holds the key), then takes its
   * subject, its public key and, unless told not to, its subject alternative
   * names. Nothing else is copied: basic constraints, key usages and other
   * extensions are the CA's to set, so a request asking for `CA:TRUE` gives
   * a CA certificate only if {@link CertificateBuilder.basicConstraints} says so.
   *
   * @param request The request; it must stay open until {@link CertificateBuilder.sign}.
   * @param options `copySubjectAltNames: false` to leave the names out (set your own).
   * @returns A builder with subject, key and names set; add validity and the rest.
   * @throws {SSLError} When the request's signature does not verify.
   *
   * @example Issue a server certificate from a CSR
   * ```ts
   * import { CertificateBuilder, PKey, X509Req } from "@denossl/denossl";
   * import assert from "node:assert/strict";
   * using caKey = PKey.generate({ type: "ec" });
   * using key = PKey.generate({ type: "ec" });
   * using req = X509Req.create({ subject: { CN: "www.example" }, key, subjectAltNames: { dns: ["www.example"] } });
   * using cert = CertificateBuilder.fromRequest(req)
   *   .validity(new Date(), new Date(Date.now() + 86_400_000))
   *   .basicConstraints({ ca: false })
   *   .extendedKeyUsage(["serverAuth"])
   *   .sign(caKey);
   * assert.deepEqual(cert.subjectAltNames, [{ type: "DNS", value: "www.example" }]);
   * ```
   */
  static fromRequest(
    request: X509Req,
    options: { copySubjectAltNames?: boolean } = {},
  ): CertificateBuilder {
    if (!(request instanceof X509Req)) throw new TypeError("fromRequest() takes an X509Req");
    request.verify();
    const builder = new CertificateBuilder();
    builder.#request = request;
    if (options.copySubjectAltNames !== false) {
      const names = request.subjectAltNames;
      const of = (type: string): string[] =>
        names.filter((n) => n.type === type).map((n) => n.value);
      if (names.length > 0) {
        builder.subjectAltNames({
          dns: of("DNS"),
          ip: of("IP"),
          email: of("email"),
          uri: of("URI"),
        });
      }
    }
    return builder;
  }

  /**
   * Sets the subject name.
   *
   * @param name A name or its attributes (`{ CN: "x", O: "y" }` or pairs).
   * @returns This builder.
   */
  subject(name: X509NameInput): this {
    this.#subject = name;
    return this;
  }

  /**
   * Sets the issuer name. Without it, the issuer is the issuer certificate's
   * subject given to {@link CertificateBuilder.sign}, or the subject itself.
   *
   * @param name A name or its attributes.
   * @returns This builder.
   */
  issuer(name: X509NameInput): this {
    this.#issuer = name;
    return this;
  }

  /**
   * Sets the serial number. Without it, a random positive 128-bit serial.
   *
   * @param serial A non-negative integer.
   * @returns This builder.
   * @throws {RangeError} When the serial is negative or not an integer.
   */
  serial(serial: bigint | number): this {
    if (typeof serial === "number" && !Number.isSafeInteger(serial)) {
      throw new RangeError("The serial number must be a safe integer or a bigint");
    }
    const value = BigInt(serial);
    if (value < 0n) throw new RangeError("The serial number must not be negative");
    this.#serial = value;
    return this;
  }

  /**
   * Sets the validity period.
   *
   * @param notBefore The start.
   * @param notAfter The end.
   * @returns This builder.
   * @throws {TypeError} When a date is invalid.
   * @throws {RangeError} When `notAfter` is before `notBefore`.
   */
  validity(notBefore: Date, notAfter: Date): this {
    timeT(notBefore, "notBefore");
    timeT(notAfter, "notAfter");
    if (notAfter.getTime() < notBefore.getTime()) {
      throw new RangeError("notAfter must not be before notBefore");
    }
    this.#notBefore = notBefore;
    this.#notAfter = notAfter;
    return this;
  }

  /**
   * Sets the subject's public key (a private key is fine: only its public
   * half is written). Without it, the signing key's own (self-signed).
   *
   * @param key The key; it must stay open until {@link CertificateBuilder.sign}.
   * @returns This builder.
   */
  publicKey(key: PKey): this {
    if (!(key instanceof PKey)) throw new TypeError("The public key must be a PKey");
    this.#publicKey = key;
    return this;
  }

  /**
   * Adds a subjectAltName extension.
   *
   * @param names DNS names, IP addresses (v4 or v6), email addresses and URIs.
   * @returns This builder.
   * @throws {TypeError} When a name is empty or contains a comma.
   */
  subjectAltNames(
    names: {
      dns?: readonly string[];
      ip?: readonly string[];
      email?: readonly string[];
      uri?: readonly string[];
    },
  ): this {
    this.#extensions.push({ nid: NID_subject_alt_name, value: subjectAltNameValue(names) });
    return this;
  }

  /**
   * Adds a basicConstraints extension.
   *
   * @param constraints CA flag, optional path length, criticality.
   * @returns This builder.
   * @throws {RangeError} When the path length is negative or given for a non-CA.
   */
  basicConstraints(constraints: BasicConstraints): this {
    const { ca, pathLength, critical = true } = constraints;
    let value = `${critical ? "critical," : ""}CA:${ca ? "TRUE" : "FALSE"}`;
    if (pathLength !== undefined) {
      if (!ca || !Number.isInteger(pathLength) || pathLength < 0) {
        throw new RangeError("pathLength must be a non-negative integer, and only for a CA");
      }
      value += `,pathlen:${pathLength}`;
    }
    this.#extensions.push({ nid: NID_basic_constraints, value });
    return this;
  }

  /**
   * Adds a keyUsage extension.
   *
   * @param usages Names: `digitalSignature`, `nonRepudiation`,
   *   `keyEncipherment`, `dataEncipherment`, `keyAgreement`, `keyCertSign`,
   *   `cRLSign`, `encipherOnly`, `decipherOnly`.
   * @param critical Mark the extension critical. @default {true}
   * @returns This builder.
   * @throws {TypeError} When a usage is unknown.
   */
  keyUsage(usages: readonly string[], critical = true): this {
    for (const u of usages) {
      if (!KEY_USAGES.has(u)) throw new TypeError(`Unknown key usage ${u}`);
    }
    if (usages.length === 0) throw new TypeError("keyUsage needs at least one usage");
    this.#extensions.push({
      nid: NID_key_usage,
      value: `${critical ? "critical," : ""}${usages.join(",")}`,
    });
    return this;
  }

  /**
   * Adds an extendedKeyUsage extension.
   *
   * @param usages Short names (`serverAuth`, `clientAuth`, `codeSigning`,
   *   `emailProtection`, `timeStamping`, `OCSPSigning`) or dotted OIDs.
   * @param critical Mark the extension critical. @default {false}
   * @returns This builder.
   * @throws {TypeError} When a usage is empty or holds a comma.
   */
  extendedKeyUsage(usages: readonly string[], critical = false): this {
    if (usages.length === 0) throw new TypeError("extendedKeyUsage needs at least one usage");
    for (const u of usages) {
      if (typeof u !== "string" || u === "" || /[,\0]/.test(u)) {
        throw new TypeError(`Invalid extended key usage ${String(u)}`);
      }
    }
    this.#extensions.push({
      nid: NID_ext_key_usage,
      value: `${critical ? "critical," : ""}${usages.join(",")}`,
    });
    return this;
  }

  /**
   * Builds and signs the certificate.
   *
   * @param issuerKey The signing key: the issuer's private key, or the
   *   subject's own for a self-signed certificate.
   * @param issuerCert The issuer's certificate; omit for self-signed.
   * @returns The new certificate.
   * @throws {TypeError} When the subject or validity is missing.
   * @throws {SSLError} When OpenSSL rejects a value (a bad IP address, a
   *   key that cannot sign).
   */
  sign(issuerKey: PKey, issuerCert?: X509): X509 {
    if (!(issuerKey instanceof PKey)) throw new TypeError("The signing key must be a PKey");
    if (this.#subject === undefined && this.#request === undefined) {
      throw new TypeError("The certificate needs a subject");
    }
    if (!this.#notBefore || !this.#notAfter) {
      throw new TypeError("The certificate needs a validity");
    }
    const { crypto } = native();
    const x = crypto.X509_new();
    if (x === null) throw new Error("Out of memory: X509_new failed");
    const cert = X509._wrap(x);
    try {
      this.#fill(x, issuerKey, issuerCert);
      return cert;
    } catch (e) {
      cert.close();
      throw e;
    }
  }

  #fill(x: Deno.PointerObject, issuerKey: PKey, issuerCert: X509 | undefined): void {
    const { crypto } = native();
    clearErrors();
    if (crypto.X509_set_version(x, long(X509_VERSION_3)) !== 1) {
      throw cryptoError("Could not set the version");
    }
    this.#setSerial(x);
    using subject = this.#subject === undefined
      ? this.#request!.subject
      : X509Name.from(this.#subject);
    if (crypto.X509_set_subject_name(x, subject._handle) !== 1) {
      throw cryptoError("Could not set the subject");
    }
    let issuerName: X509Name;
    if (this.#issuer !== undefined) issuerName = X509Name.from(this.#issuer);
    else if (issuerCert) issuerName = issuerCert.subject;
    else issuerName = X509Name.from(subject);
    try {
      if (crypto.X509_set_issuer_name(x, issuerName._handle) !== 1) {
        throw cryptoError("Could not set the issuer");
      }
    } finally {
      issuerName.close();
    }
    if (
      crypto.ASN1_TIME_set(crypto.X509_getm_notBefore(x), timeT(this.#notBefore!, "notBefore")) ===
        null ||
      crypto.ASN1_TIME_set(crypto.X509_getm_notAfter(x), timeT(this.#notAfter!, "notAfter")) ===
        null
    ) {
      throw cryptoError("Could not set the validity");
    }
    using requested = this.#publicKey === undefined ? this.#request?.publicKey : undefined;
    const publicKey = this.#publicKey ?? requested ?? issuerKey;
    if (crypto.X509_set_pubkey(x, publicKey._handle) !== 1) {
      throw cryptoError("Could not set the public key");
    }

    const ctx = new Uint8Array(X509V3_CTX_SIZE); // zeroed: X509V3_set_ctx_nodb
    const issuerPtr = issuerCert ? issuerCert._handle : x;
    crypto.X509V3_set_ctx(ctx, issuerPtr, x, null, null, 0);
    const extensions = [
      ...this.#extensions,
      { nid: NID_subject_key_identifier, value: "hash" },
      { nid: NID_authority_key_identifier, value: "keyid:always" },
    ];
    for (const { nid, value } of extensions) {
      clearErrors();
      const ext = crypto.X509V3_EXT_nconf_nid(null, ctx, nid, cstr(value, "extension value"));
      if (ext === null) {
        const name = Deno.UnsafePointerView.getCString(crypto.OBJ_nid2sn(nid)!);
        throw cryptoError(`Invalid ${name} extension "${value}"`);
      }
      const ok = crypto.X509_add_ext(x, ext, -1);
      crypto.X509_EXTENSION_free(ext);
      if (ok !== 1) throw cryptoError("Could not add an extension");
    }

    const type = issuerKey.type;
    const md = type === "ed25519" || type === "ed448" ? null : crypto.EVP_sha256();
    clearErrors();
    if (crypto.X509_sign(x, issuerKey._handle, md) <= 0) {
      throw cryptoError("Could not sign the certificate");
    }
  }

  #setSerial(x: Deno.PointerObject): void {
    const { crypto } = native();
    let serial = this.#serial;
    if (serial === undefined) {
      const bytes = randomBytes(SERIAL_BYTES);
      bytes[0] = bytes[0]! & 0x7f | 0x40; // positive and full length
      serial = BigInt(`0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`);
    }
    const bn = new PointerOut();
    clearErrors();
    if (crypto.BN_hex2bn(bn.buffer, cstr(serial.toString(16))) === 0) {
      throw cryptoError("Could not encode the serial number");
    }
    const ptr = bn.get();
    try {
      if (crypto.BN_to_ASN1_INTEGER(ptr, crypto.X509_get_serialNumber(x)) === null) {
        throw cryptoError("Could not set the serial number");
      }
    } finally {
      crypto.BN_free(ptr);
    }
  }
}

function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
