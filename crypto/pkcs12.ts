/**
 * PKCS#12 (`.p12` / `.pfx`) bundles: a private key, its certificate and CA
 * certificates under one passphrase.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, PointerOut } from "../ffi/memory.ts";
import { clearErrors, drainErrorQueue } from "../errors/queue.ts";
import { SSLError } from "../errors/ssl_error.ts";
import { cryptoError, decodeDER, encodeDER } from "./_native.ts";
import { PKey } from "./pkey.ts";
import { X509 } from "./x509.ts";

/** `ERR_LIB_PKCS12`. */
const ERR_LIB_PKCS12 = 35;
/** `PKCS12_R_MAC_ABSENT`: the bundle has no MAC. */
const PKCS12_R_MAC_ABSENT = 108;
/** `PKCS12_DEFAULT_ITER`: key derivation and MAC iterations. */
const PKCS12_DEFAULT_ITER = 2048;

/**
 * The content of a PKCS#12 bundle, from {@link loadPKCS12}.
 */
export interface PKCS12Contents {
  /** The private key, or null when the bundle has none. */
  key: PKey | null;
  /** The certificate matching the key, or null. */
  cert: X509 | null;
  /** The other certificates (CA chain), in bundle order. */
  ca: X509[];
}

/**
 * Options for {@link createPKCS12}.
 */
export interface CreatePKCS12Options {
  /** The private key. */
  key?: PKey;
  /** Its certificate. */
  cert?: X509;
  /** CA certificates to include. */
  ca?: readonly X509[];
  /** The passphrase protecting the bundle (OpenSSL 3 defaults: AES-256-CBC, PBKDF2, SHA-256 MAC). */
  passphrase: string;
  /** The friendly name stored with the key and certificate. */
  friendlyName?: string;
}

/**
 * Opens a PKCS#12 bundle, as made by `openssl pkcs12 -export`.
 *
 * @param data The DER bytes of the bundle.
 * @param passphrase Its passphrase (`""` for none).
 * @returns The key, certificate and CA certificates (new objects the caller closes).
 * @throws {SSLError} When the bytes are not PKCS#12 ("Could not parse PKCS#12
 *   data"), the passphrase is wrong ("Wrong passphrase for the PKCS#12 bundle"),
 *   or the bundle uses algorithms the loaded OpenSSL does not enable (RC2 and
 *   3DES bundles from OpenSSL 1.x need the legacy provider).
 *
 * @example Round trip through PKCS#12
 * ```ts
 * import { createPKCS12, loadPKCS12, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const p12 = createPKCS12({ key: leaf.key, cert: leaf.cert, ca: [ca.cert], passphrase: "pw" });
 * const { key, cert, ca: extra } = loadPKCS12(p12, "pw");
 * console.log(cert?.equals(leaf.cert), key?.equals(leaf.key), extra.length); // true true 1
 * for (const o of [key, cert, ...extra]) o?.close();
 * ```
 */
export function loadPKCS12(data: Uint8Array, passphrase: string): PKCS12Contents {
  if (typeof passphrase !== "string") throw new TypeError("The passphrase must be a string");
  const { crypto } = native();
  const pass = cstr(passphrase, "passphrase");
  const p12 = decodeDER(crypto.d2i_PKCS12, data, "Could not parse PKCS#12 data");
  try {
    clearErrors();
    if (crypto.PKCS12_verify_mac(p12, pass, pass.length - 1) !== 1) {
      const errors = drainErrorQueue();
      // PKCS12_R_MAC_ABSENT: a bundle made with -nomac has nothing to check; parsing decides.
      if (
        !errors.some((e) =>
          e.libraryCode === ERR_LIB_PKCS12 && e.reasonCode === PKCS12_R_MAC_ABSENT
        )
      ) {
        // PKCS12_verify_mac queues nothing for a wrong passphrase: the message says it all.
        throw new SSLError(
          errors,
          "Wrong passphrase for the PKCS#12 bundle: its integrity check (MAC) failed",
        );
      }
    }
    const keyOut = new PointerOut();
    const certOut = new PointerOut();
    const caOut = new PointerOut();
    clearErrors();
    if (crypto.PKCS12_parse(p12, pass, keyOut.buffer, certOut.buffer, caOut.buffer) !== 1) {
      throw cryptoError("Could not decrypt the PKCS#12 bundle");
    }
    const keyPtr = keyOut.get();
    const certPtr = certOut.get();
    const stack = caOut.get();
    const ca: X509[] = [];
    if (stack !== null) {
      const n = crypto.OPENSSL_sk_num(stack);
      // The stack owns one reference per certificate: hand each to an X509, free the stack only.
      for (let i = 0; i < n; i++) {
        const c = crypto.OPENSSL_sk_value(stack, i);
        if (c !== null) ca.push(X509._wrap(c));
      }
      crypto.OPENSSL_sk_free(stack);
    }
    return {
      key: keyPtr === null ? null : PKey._wrap(keyPtr),
      cert: certPtr === null ? null : X509._wrap(certPtr),
      ca,
    };
  } finally {
    crypto.PKCS12_free(p12);
  }
}

/**
 * Makes a PKCS#12 bundle, readable by `openssl pkcs12` and by {@link loadPKCS12}.
 *
 * @param options Key, certificate, CA certificates, passphrase, friendly name.
 * @returns The DER bytes.
 * @throws {TypeError} When neither a key nor a certificate is given.
 * @throws {SSLError} When OpenSSL cannot build it (the key does not match the certificate).
 *
 * @example Write a .p12 file, with its chain and a friendly name
 * ```ts
 * import { createPKCS12, loadPKCS12, TestCA } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create({ intermediate: true });
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const p12 = createPKCS12({
 *   key: leaf.key,
 *   cert: leaf.cert,
 *   ca: [ca.intermediate!.cert, ca.cert],
 *   passphrase: "pw",
 *   friendlyName: "localhost",
 * });
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/server.p12`, p12); // for `openssl pkcs12 -info -in server.p12`
 * const { key, cert, ca: chain } = loadPKCS12(await Deno.readFile(`${dir}/server.p12`), "pw");
 * assert.ok(key?.equals(leaf.key) && cert?.equals(leaf.cert));
 * assert.deepEqual(chain.map((c) => c.subject.commonName), [
 *   "denossl Test Intermediate CA",
 *   "denossl Test Root CA",
 * ]);
 * for (const o of [key, cert, ...chain]) o?.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function createPKCS12(options: CreatePKCS12Options): Uint8Array<ArrayBuffer> {
  const { key, cert, ca = [], passphrase, friendlyName } = options;
  if (typeof passphrase !== "string") throw new TypeError("The passphrase must be a string");
  if (!key && !cert) throw new TypeError("createPKCS12() needs a key or a certificate");
  if (key !== undefined && !(key instanceof PKey)) throw new TypeError("key must be a PKey");
  if (cert !== undefined && !(cert instanceof X509)) throw new TypeError("cert must be an X509");
  const { crypto } = native();
  const handles = ca.map((c) => {
    if (!(c instanceof X509)) throw new TypeError("ca must hold X509 objects");
    return c._handle;
  });
  const keyHandle = key?._handle ?? null;
  const certHandle = cert?._handle ?? null;
  let stack: Deno.PointerValue = null;
  clearErrors();
  try {
    if (handles.length > 0) {
      stack = crypto.OPENSSL_sk_new_null();
      if (stack === null) throw cryptoError("Could not allocate the CA list");
      for (const h of handles) {
        if (crypto.OPENSSL_sk_push(stack, h) <= 0) throw cryptoError("Could not build the CA list");
      }
    }
    const p12 = crypto.PKCS12_create(
      cstr(passphrase, "passphrase"),
      friendlyName === undefined ? null : cstr(friendlyName, "friendlyName"),
      keyHandle,
      certHandle,
      stack,
      0,
      0,
      PKCS12_DEFAULT_ITER,
      PKCS12_DEFAULT_ITER,
      0,
    );
    if (p12 === null) throw cryptoError("Could not create PKCS#12 bundle");
    try {
      return encodeDER(crypto.i2d_PKCS12, p12, "Could not encode PKCS#12 bundle");
    } finally {
      crypto.PKCS12_free(p12);
    }
  } finally {
    if (stack !== null) crypto.OPENSSL_sk_free(stack);
  }
}
