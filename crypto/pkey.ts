/**
 * Public and private keys (OpenSSL's `EVP_PKEY`): generation, PEM and DER in
 * and out, encrypted PKCS#8.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, PointerOut, readCString, utf8 } from "../ffi/memory.ts";
import { clearErrors, drainErrorQueue } from "../errors/queue.ts";
import { ClosedError, SSLError } from "../errors/ssl_error.ts";
import { explain } from "../errors/hints.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";
import {
  bioOutput,
  cryptoError,
  decodeDER,
  encodeDER,
  inputBytes,
  onceOnly,
  withInputBio,
} from "./_native.ts";

const registry = handleRegistry("EVP_PKEY", (ptr) => native().crypto.EVP_PKEY_free(ptr));

/** The empty C string: the passphrase given to OpenSSL when the caller gave none. */
const NO_PASSPHRASE = new Uint8Array(1);
/** A passphrase given as bytes, NUL-terminated for OpenSSL's default callback. */
function bytesCstr(passphrase: Uint8Array): Uint8Array<ArrayBuffer> {
  if (passphrase.includes(0)) throw new TypeError("The passphrase must not contain a NUL byte");
  const out = new Uint8Array(passphrase.length + 1);
  out.set(passphrase);
  return out;
}

/** The cipher {@link PKey.toPEM} uses when given a passphrase but no cipher. */
const DEFAULT_CIPHER = "aes-256-cbc";

/**
 * Key type names, as {@link PKey.type} reports them and
 * {@link PKey.generate} takes them.
 */
export type KeyType = "rsa" | "ec" | "ed25519" | "ed448" | "rsa-pss" | "dsa" | "x25519" | "x448";

/**
 * Options for {@link PKey.generate}.
 */
export type GenerateKeyOptions =
  | {
    /** An elliptic-curve key. */
    type: "ec";
    /** The curve's name (`"P-256"`, `"P-384"`, `"P-521"`, `"prime256v1"`, ...). @default {"P-256"} */
    curve?: string;
  }
  | {
    /** An RSA key. */
    type: "rsa";
    /** The modulus size in bits. @default {2048} */
    bits?: number;
  }
  | {
    /** An Ed25519 key (signs with no separate digest). */
    type: "ed25519";
  };

/**
 * Options for {@link PKey.toPEM}.
 */
export interface KeyPEMOptions {
  /** Encrypt the key with this passphrase (PKCS#8 `ENCRYPTED PRIVATE KEY`). */
  passphrase?: string;
  /** The cipher, by OpenSSL name; only with a passphrase. @default {"aes-256-cbc"} */
  cipher?: string;
}

/**
 * A public or private key.
 *
 * @example Generate a key and write it out
 * ```ts
 * import { PKey } from "@denossl/denossl";
 * using key = PKey.generate({ type: "ec", curve: "P-256" });
 * console.log(key.type, key.bits); // "ec" 256
 * console.log(key.toPEM().startsWith("-----BEGIN PRIVATE KEY-----")); // true
 * ```
 */
export class PKey {
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
    trackHandle("EVP_PKEY", ptr);
  }

  /**
   * Wraps an `EVP_PKEY*`, taking ownership of one reference. Internal.
   *
   * @param ptr The pointer; the new object frees it.
   * @returns The key.
   */
  static _wrap(ptr: Deno.PointerObject): PKey {
    return new PKey(ptr);
  }

  /**
   * Wraps an `EVP_PKEY*` borrowed from OpenSSL, taking a reference of its own. Internal.
   *
   * @param ptr The pointer; its reference count is raised.
   * @returns The key.
   */
  static _borrow(ptr: Deno.PointerObject): PKey {
    native().crypto.EVP_PKEY_up_ref(ptr);
    return new PKey(ptr);
  }

  /**
   * A new key holding only the public half of an `EVP_PKEY*`. Internal: a
   * certificate or request built in this process holds the very key it was
   * made with, private half included.
   *
   * @param ptr The key; not consumed.
   * @returns The public key.
   */
  static _publicOf(ptr: Deno.PointerObject): PKey {
    const { crypto } = native();
    const der = encodeDER(crypto.i2d_PUBKEY, ptr, "Could not encode the public key");
    return new PKey(decodeDER(crypto.d2i_PUBKEY, der, "Could not decode the public key"));
  }

  /**
   * Generates a new private key.
   *
   * @param options The key type and its size or curve.
   * @returns The key.
   * @throws {TypeError} When the type is not `"ec"`, `"rsa"` or `"ed25519"`.
   * @throws {RangeError} When RSA bits are not an integer from 1024 to 16384.
   * @throws {SSLError} When OpenSSL rejects the parameters (an unknown curve).
   *
   * @example Generate each kind of key
   * ```ts
   * import { PKey } from "@denossl/denossl";
   * using ec = PKey.generate({ type: "ec" });
   * using rsa = PKey.generate({ type: "rsa", bits: 2048 });
   * using ed = PKey.generate({ type: "ed25519" });
   * console.log(ec.curve, rsa.bits, ed.type); // "prime256v1" 2048 "ed25519"
   * ```
   */
  static generate(options: GenerateKeyOptions): PKey {
    const type = options?.type;
    let algorithm: string;
    if (type === "ec") algorithm = "EC";
    else if (type === "rsa") algorithm = "RSA";
    else if (type === "ed25519") algorithm = "ED25519";
    else throw new TypeError(`Unknown key type ${String(type)}: use "ec", "rsa" or "ed25519"`);
    const { crypto } = native();
    clearErrors();
    const ctx = crypto.EVP_PKEY_CTX_new_from_name(null, cstr(algorithm), null);
    if (ctx === null) throw cryptoError(`Could not create a ${type} key generator`);
    try {
      if (crypto.EVP_PKEY_keygen_init(ctx) !== 1) {
        throw cryptoError(`Could not start ${type} key generation`);
      }
      if (options.type === "ec") {
        const curve = options.curve ?? "P-256";
        if (crypto.EVP_PKEY_CTX_set_group_name(ctx, cstr(curve, "curve")) !== 1) {
          throw cryptoError(`Unknown or unsupported elliptic curve ${curve}`);
        }
      } else if (options.type === "rsa") {
        const bits = options.bits ?? 2048;
        if (!Number.isInteger(bits) || bits < 1024 || bits > 16384) {
          throw new RangeError(`RSA key size must be an integer from 1024 to 16384, not ${bits}`);
        }
        if (crypto.EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) !== 1) {
          throw cryptoError(`Could not set the RSA key size to ${bits}`);
        }
      }
      const out = new PointerOut();
      if (crypto.EVP_PKEY_generate(ctx, out.buffer) !== 1) {
        // OpenSSL 3.0 accepts any group name when set and rejects it only here.
        throw cryptoError(
          options.type === "ec"
            ? `Could not generate an EC key on curve ${options.curve ?? "P-256"}`
            : `Could not generate a ${type} key`,
        );
      }
      return new PKey(out.get()!);
    } finally {
      crypto.EVP_PKEY_CTX_free(ctx);
    }
  }

  /**
   * Reads a PEM private key (PKCS#8, encrypted PKCS#8, or the traditional
   * `RSA PRIVATE KEY` / `EC PRIVATE KEY` forms, encrypted or not), or a PEM
   * public key (`PUBLIC KEY`).
   *
   * @param pem The PEM text or bytes.
   * @param passphrase The passphrase of an encrypted key, as text or bytes.
   * @returns The key.
   * @throws {TypeError} When the passphrase holds a NUL byte.
   * @throws {SSLError} When the PEM is not a key, is encrypted and no
   *   passphrase was given, or the passphrase is wrong; the message says which.
   *
   * @example Read back an encrypted key
   * ```ts
   * import { PKey } from "@denossl/denossl";
   * using key = PKey.generate({ type: "ed25519" });
   * const pem = key.toPEM({ passphrase: "s3cret" });
   * using back = PKey.fromPEM(pem, "s3cret");
   * console.log(back.equals(key)); // true
   * ```
   */
  static fromPEM(pem: string | Uint8Array, passphrase?: string | Uint8Array): PKey {
    const bytes = inputBytes(pem, "PEM key");
    if (
      passphrase !== undefined && typeof passphrase !== "string" &&
      !(passphrase instanceof Uint8Array)
    ) {
      throw new TypeError("The passphrase must be a string or a Uint8Array");
    }
    const text = typeof pem === "string" ? pem : utf8(bytes);
    const { crypto } = native();
    if (
      /-----BEGIN PUBLIC KEY-----/.test(text) && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)
    ) {
      clearErrors();
      const ptr = withInputBio(bytes, (bio) => crypto.PEM_read_bio_PUBKEY(bio, null, null, null));
      if (ptr === null) throw cryptoError("Could not parse PEM public key");
      return new PKey(ptr);
    }
    const pass = passphrase === undefined
      ? NO_PASSPHRASE
      : typeof passphrase === "string"
      ? cstr(passphrase, "passphrase")
      : bytesCstr(passphrase);
    clearErrors();
    const ptr = withInputBio(bytes, (bio) => crypto.PEM_read_bio_PrivateKey(bio, null, null, pass));
    if (ptr !== null) return new PKey(ptr);
    // OpenSSL 3 tries its decoder, then its legacy reader on the same block: one failure, twice.
    const errors = onceOnly(drainErrorQueue());
    if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
      throw new SSLError(
        [],
        'Could not parse PEM private key: no "-----BEGIN ... PRIVATE KEY-----" block found',
      );
    }
    if (!/ENCRYPTED/.test(text)) {
      throw new SSLError(errors, explain(errors, "Could not parse PEM private key"));
    }
    if (passphrase === undefined) {
      throw new SSLError(
        errors,
        "Could not decrypt PEM private key: the key is encrypted and no passphrase was given (pass it as the second argument)",
      );
    }
    throw new SSLError(errors, explain(errors, "Could not decrypt PEM private key"));
  }

  /**
   * Reads a DER private key (PKCS#8 or traditional, unencrypted) or, failing
   * that, a DER public key (SubjectPublicKeyInfo).
   *
   * @param der The bytes.
   * @returns The key.
   * @throws {SSLError} When the bytes are neither.
   *
   * @example DER round trip
   * ```ts
   * import { PKey } from "@denossl/denossl";
   * using key = PKey.generate({ type: "ec" });
   * using back = PKey.fromDER(key.toDER());
   * console.log(back.equals(key)); // true
   * ```
   */
  static fromDER(der: Uint8Array): PKey {
    const { crypto } = native();
    try {
      return new PKey(decodeDER(crypto.d2i_AutoPrivateKey, der, "Could not parse DER private key"));
    } catch (e) {
      if (!(e instanceof SSLError) || der.length === 0) throw e;
      try {
        return new PKey(decodeDER(crypto.d2i_PUBKEY, der, "Could not parse DER public key"));
      } catch {
        throw e;
      }
    }
  }

  /** The `EVP_PKEY*`, for denossl's own use. Throws {@link ClosedError} when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("PKey");
    return this.#ptr;
  }

  /**
   * The key type, lower-case: `"rsa"`, `"ec"`, `"ed25519"`, ...
   *
   * @returns The type.
   * @throws {ClosedError} When closed.
   */
  get type(): KeyType {
    const name = readCString(native().crypto.EVP_PKEY_get0_type_name(this._handle)) ?? "unknown";
    return name.toLowerCase() as KeyType;
  }

  /**
   * The key size in bits (`EVP_PKEY_get_bits`): the modulus for RSA, the
   * curve's size for EC, 256 for Ed25519 (OpenSSL 3.0's figure).
   *
   * @returns The size.
   * @throws {ClosedError} When closed.
   */
  get bits(): number {
    return native().crypto.EVP_PKEY_get_bits(this._handle);
  }

  /**
   * The curve of an EC key as OpenSSL names it (`"prime256v1"`), or null.
   *
   * @returns The curve name.
   * @throws {ClosedError} When closed.
   */
  get curve(): string | null {
    const handle = this._handle;
    const buf = new Uint8Array(80);
    const len = new BigUint64Array(1);
    clearErrors();
    if (native().crypto.EVP_PKEY_get_group_name(handle, buf, BigInt(buf.length), len) !== 1) {
      native().crypto.ERR_clear_error();
      return null;
    }
    return utf8(buf.subarray(0, Number(len[0])));
  }

  /**
   * Writes the private key as PKCS#8 PEM, encrypted when a passphrase is given.
   *
   * @param options Passphrase and cipher.
   * @returns `-----BEGIN PRIVATE KEY-----` or `-----BEGIN ENCRYPTED PRIVATE KEY-----` text.
   * @throws {TypeError} When a cipher is given without a passphrase.
   * @throws {SSLError} When the cipher is unknown or the key has no private part.
   * @throws {ClosedError} When closed.
   *
   * @example Encrypt with AES-128
   * ```ts
   * import { PKey } from "@denossl/denossl";
   * using key = PKey.generate({ type: "ec" });
   * const pem = key.toPEM({ passphrase: "pw", cipher: "aes-128-cbc" });
   * console.log(pem.split("\n")[0]); // "-----BEGIN ENCRYPTED PRIVATE KEY-----"
   * ```
   */
  toPEM(options: KeyPEMOptions = {}): string {
    const handle = this._handle;
    const { crypto } = native();
    const { passphrase, cipher } = options;
    if (cipher !== undefined && passphrase === undefined) {
      throw new TypeError("A cipher needs a passphrase to encrypt with");
    }
    let enc: Deno.PointerValue = null;
    let kstr: Uint8Array<ArrayBuffer> | null = null;
    if (passphrase !== undefined) {
      const name = cipher ?? DEFAULT_CIPHER;
      clearErrors();
      enc = crypto.EVP_get_cipherbyname(cstr(name, "cipher"));
      if (enc === null) throw cryptoError(`Unknown cipher ${name}`);
      kstr = cstr(passphrase, "passphrase");
    }
    const klen = kstr ? kstr.length - 1 : 0;
    return utf8(bioOutput(
      (bio) => crypto.PEM_write_bio_PKCS8PrivateKey(bio, handle, enc, kstr, klen, null, null),
      "Could not write the private key as PEM",
    ));
  }

  /**
   * Writes the private key as unencrypted PKCS#8 DER.
   *
   * @returns The DER bytes.
   * @throws {SSLError} When the key has no private part.
   * @throws {ClosedError} When closed.
   */
  toDER(): Uint8Array<ArrayBuffer> {
    const handle = this._handle;
    const { crypto } = native();
    return bioOutput(
      (bio) => crypto.i2d_PKCS8PrivateKey_bio(bio, handle, null, null, 0, null, null),
      "Could not write the private key as DER",
    );
  }

  /**
   * Writes the public key as PEM (`-----BEGIN PUBLIC KEY-----`).
   *
   * @returns The PEM text.
   * @throws {ClosedError} When closed.
   *
   * @example Public key PEM
   * ```ts
   * import { PKey } from "@denossl/denossl";
   * using key = PKey.generate({ type: "ed25519" });
   * using pub = PKey.fromPEM(key.publicKeyPEM());
   * console.log(pub.equals(key)); // true: public components match
   * ```
   */
  publicKeyPEM(): string {
    const handle = this._handle;
    const { crypto } = native();
    return utf8(
      bioOutput(
        (bio) => crypto.PEM_write_bio_PUBKEY(bio, handle),
        "Could not write the public key",
      ),
    );
  }

  /**
   * Writes the public key as DER (SubjectPublicKeyInfo).
   *
   * @returns The DER bytes.
   * @throws {ClosedError} When closed.
   */
  publicKeyDER(): Uint8Array<ArrayBuffer> {
    return encodeDER(native().crypto.i2d_PUBKEY, this._handle, "Could not write the public key");
  }

  /**
   * Whether two keys have the same public components (`EVP_PKEY_eq`): a
   * private key equals its own public half.
   *
   * @param other The other key.
   * @returns True when they match.
   * @throws {ClosedError} When either is closed.
   */
  equals(other: PKey): boolean {
    if (!(other instanceof PKey)) return false;
    const result = native().crypto.EVP_PKEY_eq(this._handle, other._handle);
    if (result !== 1) native().crypto.ERR_clear_error();
    return result === 1;
  }

  /** Frees the key; idempotent. */
  close(): void {
    if (this.#ptr === null) return;
    registry.unregister(this);
    native().crypto.EVP_PKEY_free(this.#ptr);
    releaseHandle("EVP_PKEY", this.#ptr);
    this.#ptr = null;
  }

  /** Same as {@link PKey.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
