/**
 * A throwaway certificate authority for tests: a root (and optionally an
 * intermediate) that issues server and client certificates in memory, with
 * no `openssl` command needed.
 *
 * @module
 */

import { ClosedError } from "../errors/ssl_error.ts";
import { CertificateBuilder } from "./builder.ts";
import { PKey } from "./pkey.ts";
import type { X509 } from "./x509.ts";
import type { X509Req } from "./csr.ts";

/** Key types {@link TestCA} issues. */
export type TestKeyType = "ec" | "rsa" | "ed25519";

/** How far back a default `notBefore` lies, to absorb clock skew. */
const SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 86_400_000;

/**
 * Validity options shared by {@link TestCA.create} and {@link TestCA.issue}.
 */
export interface TestValidityOptions {
  /** Start of validity. @default {five minutes ago} */
  notBefore?: Date;
  /** End of validity; overrides `validityDays`. */
  notAfter?: Date;
  /** Days of validity from `notBefore`. @default {30} (3650 for CAs) */
  validityDays?: number;
}

/**
 * Options for {@link TestCA.create}.
 *
 * @example A CA with an intermediate
 * ```ts
 * import { TestCA, X509 } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create({ intermediate: true }); // keyType: "rsa" for RSA keys
 * using leaf = ca.issue({ dns: ["localhost"] });
 * assert.equal(leaf.cert.issuer.commonName, ca.intermediate?.cert.subject.commonName);
 * // chainPEM is what a server sends: the leaf, then the intermediate.
 * const chain = X509.loadChain(leaf.chainPEM);
 * assert.equal(chain.length, 2);
 * for (const c of chain) c.close();
 * ```
 */
export interface TestCAOptions extends TestValidityOptions {
  /** The root's common name. @default {"denossl Test Root CA"} */
  commonName?: string;
  /** Key type of the CA and, by default, of issued certificates. @default {"ec"} (P-256) */
  keyType?: TestKeyType;
  /** Issue through an intermediate CA, included in every `chainPEM`. @default {false} */
  intermediate?: boolean;
  /**
   * Give the intermediate `CA:FALSE` (a broken chain, for negative tests).
   * @default {true}
   */
  intermediateIsCA?: boolean;
}

/**
 * Options for {@link TestCA.issue} and {@link TestCA.issueClient}.
 */
export interface IssueOptions extends TestValidityOptions {
  /** DNS subject alternative names. */
  dns?: readonly string[];
  /** IP subject alternative names (v4 or v6). */
  ip?: readonly string[];
  /** Email subject alternative names. */
  email?: readonly string[];
  /** The subject's common name. @default {the first DNS name, IP, or "localhost"} */
  commonName?: string;
  /** Key type. @default {the CA's} */
  keyType?: TestKeyType;
  /** Extended key usages. @default {["serverAuth"]}, or `["clientAuth"]` for `issueClient` */
  extendedKeyUsage?: readonly string[];
  /** Serial number. @default {random} */
  serial?: bigint;
}

/**
 * Options for {@link TestCA.issueFromRequest}: what the CA decides, beside
 * what the request asks for.
 *
 * @example A client certificate from a request
 * ```ts
 * import type { IssueFromRequestOptions } from "@denossl/denossl";
 * const options: IssueFromRequestOptions = { extendedKeyUsage: ["clientAuth"], validityDays: 7 };
 * ```
 */
export interface IssueFromRequestOptions extends TestValidityOptions {
  /** Extended key usages. @default {["serverAuth"]} */
  extendedKeyUsage?: readonly string[];
  /** Serial number. @default {random} */
  serial?: bigint;
}

/**
 * A certificate with its private key, as objects and PEM. `chainPEM` and
 * `keyPEM` are what `Deno.listenTls({ cert, key })` and
 * `Context.useCertificateChain` / `Context.usePrivateKey` take.
 */
export interface IssuedCertificate {
  /** The certificate. */
  cert: X509;
  /** Its private key. */
  key: PKey;
  /** The certificate as PEM. */
  certPEM: string;
  /** The private key as unencrypted PKCS#8 PEM. */
  keyPEM: string;
  /** The certificate followed by the intermediates (not the root), as PEM. */
  chainPEM: string;
  /** Frees the certificate and key; idempotent. */
  close(): void;
  /** Same as `close()`. */
  [Symbol.dispose](): void;
}

function validity(options: TestValidityOptions, defaultDays: number): [Date, Date] {
  const notBefore = options.notBefore ?? new Date(Date.now() - SKEW_MS);
  const days = options.validityDays ?? defaultDays;
  if (!Number.isFinite(days) || days <= 0) throw new RangeError("validityDays must be positive");
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  return [notBefore, notAfter];
}

function generate(type: TestKeyType): PKey {
  if (type === "rsa") return PKey.generate({ type: "rsa", bits: 2048 });
  if (type === "ed25519") return PKey.generate({ type: "ed25519" });
  if (type === "ec") return PKey.generate({ type: "ec", curve: "P-256" });
  throw new TypeError(`Unknown key type ${String(type)}: use "ec", "rsa" or "ed25519"`);
}

function issued(cert: X509, key: PKey, intermediates: string): IssuedCertificate {
  const certPEM = cert.toPEM();
  return {
    cert,
    key,
    certPEM,
    keyPEM: key.toPEM(),
    chainPEM: certPEM + intermediates,
    close(): void {
      cert.close();
      key.close();
    },
    [Symbol.dispose](): void {
      this.close();
    },
  };
}

/**
 * A throwaway certificate authority for tests. Every certificate lives in
 * memory; write the PEM strings out where a file is needed.
 *
 * @example A server certificate Deno's own TLS trusts
 * ```ts
 * import { TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
 * using client = ca.issueClient({ commonName: "alice" });
 * console.log(ca.cert.isCA, leaf.cert.issuer.commonName); // true "denossl Test Root CA"
 * console.log(client.cert.extendedKeyUsage); // ["clientAuth"]
 * ```
 */
export class TestCA {
  #root: IssuedCertificate;
  #intermediate: IssuedCertificate | null;
  #keyType: TestKeyType;
  #closed = false;

  private constructor(
    root: IssuedCertificate,
    intermediate: IssuedCertificate | null,
    keyType: TestKeyType,
  ) {
    this.#root = root;
    this.#intermediate = intermediate;
    this.#keyType = keyType;
  }

  /**
   * Creates a root CA, and an intermediate when asked.
   *
   * @param options Key type, names, validity, intermediate.
   * @returns The CA.
   * @throws {TypeError} When the key type is unknown.
   *
   * @example An intermediate in the chain
   * ```ts
   * import { TestCA } from "@denossl/denossl";
   * using ca = TestCA.create({ intermediate: true, keyType: "ed25519" });
   * console.log(ca.intermediate?.cert.subject.commonName); // "denossl Test Intermediate CA"
   * ```
   */
  static create(options: TestCAOptions = {}): TestCA {
    const keyType = options.keyType ?? "ec";
    const rootKey = generate(keyType);
    const [notBefore, notAfter] = validity(options, 3650);
    const rootCert = new CertificateBuilder()
      .subject({ O: "denossl", CN: options.commonName ?? "denossl Test Root CA" })
      .validity(notBefore, notAfter)
      .basicConstraints({ ca: true })
      .keyUsage(["keyCertSign", "cRLSign", "digitalSignature"])
      .sign(rootKey);
    const root = issued(rootCert, rootKey, "");
    let intermediate: IssuedCertificate | null = null;
    if (options.intermediate) {
      const key = generate(keyType);
      const isCA = options.intermediateIsCA ?? true;
      const cert = new CertificateBuilder()
        .subject({ O: "denossl", CN: "denossl Test Intermediate CA" })
        .validity(notBefore, notAfter)
        .publicKey(key)
        .basicConstraints(isCA ? { ca: true, pathLength: 0 } : { ca: false })
        .keyUsage(["keyCertSign", "cRLSign", "digitalSignature"])
        .sign(rootKey, rootCert);
      intermediate = issued(cert, key, "");
    }
    return new TestCA(root, intermediate, keyType);
  }

  #check(): void {
    if (this.#closed) throw new ClosedError("TestCA");
  }

  /**
   * The root certificate: what clients trust (`caCerts`, `-CAfile`).
   *
   * @returns The certificate.
   */
  get cert(): X509 {
    this.#check();
    return this.#root.cert;
  }

  /**
   * The root's private key.
   *
   * @returns The key.
   */
  get key(): PKey {
    this.#check();
    return this.#root.key;
  }

  /**
   * The root certificate as PEM.
   *
   * @returns The PEM.
   */
  get certPEM(): string {
    this.#check();
    return this.#root.certPEM;
  }

  /**
   * The root's private key as PEM.
   *
   * @returns The PEM.
   */
  get keyPEM(): string {
    this.#check();
    return this.#root.keyPEM;
  }

  /**
   * The intermediate CA, when created with `intermediate: true`.
   *
   * @returns The intermediate, or null.
   */
  get intermediate(): IssuedCertificate | null {
    this.#check();
    return this.#intermediate;
  }

  /**
   * Issues a server certificate (extendedKeyUsage serverAuth, CA:FALSE),
   * signed by the intermediate when there is one.
   *
   * @param options Names, key type, validity.
   * @returns The certificate, its key and PEM (with `chainPEM` for servers).
   * @throws {ClosedError} When the CA is closed.
   *
   * @example An expired certificate for a negative test
   * ```ts
   * import { TestCA } from "@denossl/denossl";
   * using ca = TestCA.create();
   * using old = ca.issue({
   *   dns: ["localhost"],
   *   notBefore: new Date(Date.now() - 2 * 86_400_000),
   *   notAfter: new Date(Date.now() - 86_400_000),
   * });
   * console.log(old.cert.hasExpired()); // true
   * ```
   */
  issue(options: IssueOptions = {}): IssuedCertificate {
    return this.#issue(options, ["serverAuth"], "localhost");
  }

  /**
   * Issues a client certificate (extendedKeyUsage clientAuth, CA:FALSE).
   *
   * @param options Common name (`"client"` by default), key type, validity.
   * @returns The certificate, its key and PEM.
   * @throws {ClosedError} When the CA is closed.
   */
  issueClient(options: IssueOptions = {}): IssuedCertificate {
    return this.#issue(options, ["clientAuth"], "client");
  }

  /**
   * Issues a certificate from a signing request (CSR), as a CA does: the
   * request's signature is checked, its subject, public key and subject
   * alternative names are taken, and the CA sets the rest (CA:FALSE, key
   * usage, extended key usage, validity): a request asking for `CA:TRUE` or
   * other extensions never gets them from here.
   *
   * @param request The request, from `X509Req.create` or `X509Req.fromPEM` (`openssl req -new`).
   * @param options Validity, extended key usages (`["serverAuth"]` by default), serial.
   * @returns The certificate (the requester holds its key); chain it with
   *   {@link TestCA.intermediate} when there is one.
   * @throws {SSLError} When the request's signature does not verify.
   * @throws {ClosedError} When the CA is closed.
   * @see {@link X509Req} for an example.
   */
  issueFromRequest(request: X509Req, options: IssueFromRequestOptions = {}): X509 {
    this.#check();
    const signer = this.#intermediate ?? this.#root;
    const [notBefore, notAfter] = validity(options, 30);
    const builder = CertificateBuilder.fromRequest(request);
    using key = request.publicKey;
    builder
      .validity(notBefore, notAfter)
      .basicConstraints({ ca: false })
      .keyUsage(key.type === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"])
      .extendedKeyUsage(options.extendedKeyUsage ?? ["serverAuth"]);
    if (options.serial !== undefined) builder.serial(options.serial);
    return builder.sign(signer.key, signer.cert);
  }

  #issue(options: IssueOptions, eku: readonly string[], defaultName: string): IssuedCertificate {
    this.#check();
    const signer = this.#intermediate ?? this.#root;
    const key = generate(options.keyType ?? this.#keyType);
    try {
      const [notBefore, notAfter] = validity(options, 30);
      const commonName = options.commonName ?? options.dns?.[0] ?? options.ip?.[0] ?? defaultName;
      const builder = new CertificateBuilder()
        .subject({ CN: commonName })
        .validity(notBefore, notAfter)
        .publicKey(key)
        .basicConstraints({ ca: false })
        .keyUsage(
          key.type === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"],
        )
        .extendedKeyUsage(options.extendedKeyUsage ?? eku);
      if (options.dns?.length || options.ip?.length || options.email?.length) {
        builder.subjectAltNames({
          dns: options.dns ?? [],
          ip: options.ip ?? [],
          email: options.email ?? [],
        });
      }
      if (options.serial !== undefined) builder.serial(options.serial);
      const cert = builder.sign(signer.key, signer.cert);
      return issued(cert, key, this.#intermediate?.certPEM ?? "");
    } catch (e) {
      key.close();
      throw e;
    }
  }

  /** Frees the CA's certificates and keys (not the ones it issued); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#root.close();
    this.#intermediate?.close();
  }

  /** Same as {@link TestCA.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
