/**
 * X.509 distinguished names (OpenSSL's `X509_NAME`).
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, utf8 } from "../ffi/memory.ts";
import { clearErrors } from "../errors/queue.ts";
import { ClosedError } from "../errors/ssl_error.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";
import { asn1StringToText, bioOutput, cryptoError, objectName, ulong } from "./_native.ts";

/** `ASN1_STRFLGS_ESC_MSB`: escape bytes >= 0x80 as `\\XX` (left out, so text stays UTF-8). */
const ASN1_STRFLGS_ESC_MSB = 0x4;
/** `XN_FLAG_RFC2253` without `ASN1_STRFLGS_ESC_MSB`. */
const XN_FLAG_RFC2253 =
  (0x1 | 0x2 | 0x4 | 0x10 | 0x100 | 0x200 | (1 << 16) | (1 << 20) | (1 << 24)) &
  ~ASN1_STRFLGS_ESC_MSB;
/** `XN_FLAG_ONELINE` without `ASN1_STRFLGS_ESC_MSB`. */
const XN_FLAG_ONELINE = (0x1 | 0x2 | 0x4 | 0x10 | 0x100 | 0x200 | 0x8 | (2 << 16) | (1 << 23)) &
  ~ASN1_STRFLGS_ESC_MSB;
/** `MBSTRING_UTF8`. */
const MBSTRING_UTF8 = 0x1000;

const registry = handleRegistry("X509_NAME", (ptr) => native().crypto.X509_NAME_free(ptr));

/**
 * One attribute of a distinguished name, in the certificate's order.
 *
 * @example The entries of a name
 * ```ts
 * import { X509Name } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using name = X509Name.from({ O: "Example", CN: "localhost" });
 * assert.deepEqual(name.entries[1], { name: "CN", oid: "2.5.4.3", value: "localhost" });
 * ```
 */
export interface X509NameEntry {
  /** OpenSSL's short name (`"CN"`, `"O"`, `"C"`), or the dotted OID when it has none. */
  name: string;
  /** The dotted OID (`"2.5.4.3"`). */
  oid: string;
  /** The value as text. */
  value: string;
}

/**
 * What {@link X509Name.from} accepts: an `X509Name`, an object of short or
 * long attribute names to values (in insertion order), or `[name, value]`
 * pairs.
 */
export type X509NameInput =
  | X509Name
  | Readonly<Record<string, string>>
  | readonly (readonly [string, string])[];

/**
 * A distinguished name: the subject or issuer of a certificate. The object
 * owns its own copy (`X509_NAME_dup`), so it outlives the certificate it
 * came from.
 *
 * @example Read a certificate's subject
 * ```ts
 * import { X509Name } from "@denossl/denossl";
 * using name = X509Name.from({ C: "FR", O: "Example", CN: "example.org" });
 * console.log(name.commonName); // "example.org"
 * console.log(name.toString()); // "CN=example.org,O=Example,C=FR"
 * ```
 */
export class X509Name {
  #ptr: Deno.PointerObject | null;
  #entries: readonly X509NameEntry[] | undefined;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
    trackHandle("X509_NAME", ptr);
  }

  /**
   * Wraps an `X509_NAME*`, taking ownership. Internal.
   *
   * @param ptr The pointer; the new object frees it.
   * @returns The name.
   */
  static _wrap(ptr: Deno.PointerObject): X509Name {
    return new X509Name(ptr);
  }

  /**
   * Copies an `X509_NAME*` owned by someone else (`X509_NAME_dup`). Internal.
   *
   * @param ptr The pointer; it is not retained.
   * @returns The name, owning its copy.
   * @throws {SSLError} When the copy fails.
   */
  static _borrow(ptr: Deno.PointerObject): X509Name {
    clearErrors();
    const copy = native().crypto.X509_NAME_dup(ptr);
    if (copy === null) throw cryptoError("Could not copy a distinguished name");
    return new X509Name(copy);
  }

  /**
   * Builds a name from attributes, in the given order. Attribute names are
   * OpenSSL's short or long names (`"CN"`, `"commonName"`, `"O"`, `"C"`, ...)
   * or dotted OIDs.
   *
   * @param input Attributes, or an existing name (copied).
   * @returns A new name.
   * @throws {TypeError} When the input is not one of the accepted shapes.
   * @throws {SSLError} When OpenSSL rejects an attribute (unknown name, bad value).
   *
   * @example Build a name from pairs
   * ```ts
   * import { X509Name } from "@denossl/denossl";
   * using name = X509Name.from([["O", "Example"], ["CN", "a"], ["CN", "b"]]);
   * console.log(name.entries.length); // 3
   * ```
   */
  static from(input: X509NameInput): X509Name {
    if (input instanceof X509Name) return X509Name._borrow(input._handle);
    let pairs: readonly (readonly [string, string])[];
    if (Array.isArray(input)) pairs = input;
    else if (input !== null && typeof input === "object") {
      pairs = Object.entries(input as Record<string, string>);
    } else throw new TypeError("A name must be an X509Name, an object or [name, value] pairs");
    const { crypto } = native();
    const ptr = crypto.X509_NAME_new();
    if (ptr === null) throw new Error("Out of memory: X509_NAME_new failed");
    const name = new X509Name(ptr);
    try {
      for (const pair of pairs) {
        const [field, value] = pair;
        if (typeof field !== "string" || typeof value !== "string") {
          throw new TypeError("Name attributes must be [string, string] pairs");
        }
        const bytes = cstr(value, `Name attribute ${field}`);
        clearErrors();
        if (
          crypto.X509_NAME_add_entry_by_txt(
            ptr,
            cstr(field, "Name attribute"),
            MBSTRING_UTF8,
            bytes,
            bytes.length - 1,
            -1,
            0,
          ) !== 1
        ) {
          throw cryptoError(`Could not add name attribute ${field}`);
        }
      }
    } catch (e) {
      name.close();
      throw e;
    }
    return name;
  }

  /** The `X509_NAME*`, for denossl's own use. Throws {@link ClosedError} when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("X509Name");
    return this.#ptr;
  }

  /**
   * The attributes in certificate order (the order `openssl x509 -subject`
   * shows, the reverse of RFC 2253's).
   *
   * @returns A frozen list.
   * @throws {ClosedError} When closed.
   */
  get entries(): readonly X509NameEntry[] {
    const ptr = this._handle;
    if (this.#entries) return this.#entries;
    const { crypto } = native();
    const count = crypto.X509_NAME_entry_count(ptr);
    const out: X509NameEntry[] = [];
    for (let i = 0; i < count; i++) {
      const entry = crypto.X509_NAME_get_entry(ptr, i);
      if (entry === null) continue;
      const { name, oid } = objectName(crypto.X509_NAME_ENTRY_get_object(entry));
      out.push(
        Object.freeze({
          name,
          oid,
          value: asn1StringToText(crypto.X509_NAME_ENTRY_get_data(entry)),
        }),
      );
    }
    this.#entries = Object.freeze(out);
    return this.#entries;
  }

  /**
   * Values of every attribute with this short name or OID, in order.
   *
   * @param name A short name (`"CN"`, `"OU"`) or dotted OID.
   * @returns The values, possibly none.
   * @throws {ClosedError} When closed.
   */
  get(name: string): string[] {
    return this.entries.filter((e) => e.name === name || e.oid === name).map((e) => e.value);
  }

  /**
   * The first common name (`CN`), or null.
   *
   * @returns The common name.
   * @throws {ClosedError} When closed.
   */
  get commonName(): string | null {
    return this.get("CN")[0] ?? null;
  }

  /**
   * The RFC 2253 string (`"CN=leaf,O=Example,C=FR"`: most specific first),
   * as `openssl x509 -nameopt RFC2253,-esc_msb` prints it (non-ASCII text
   * stays UTF-8 rather than `\\XX` escapes).
   *
   * @returns The string.
   * @throws {ClosedError} When closed.
   */
  get rfc2253(): string {
    return this.#print(XN_FLAG_RFC2253);
  }

  /**
   * OpenSSL's one-line form (`"C = FR, O = Example, CN = leaf"`), as
   * `openssl x509 -nameopt oneline,-esc_msb` prints it.
   *
   * @returns The string.
   * @throws {ClosedError} When closed.
   */
  get oneline(): string {
    return this.#print(XN_FLAG_ONELINE);
  }

  /**
   * OpenSSL's hash of the name (`X509_NAME_hash_ex`), as used for `c_rehash`
   * file names and printed by `openssl x509 -subject_hash`.
   *
   * @returns The hash, an unsigned 32-bit number.
   * @throws {ClosedError} When closed.
   * @throws {SSLError} When hashing fails.
   */
  get hash(): number {
    const ok = new Int32Array(1);
    clearErrors();
    const h = Number(native().crypto.X509_NAME_hash_ex(this._handle, null, null, ok));
    if (ok[0] !== 1) throw cryptoError("Could not hash a distinguished name");
    return h;
  }

  /**
   * Whether two names are equal (`X509_NAME_cmp`).
   *
   * @param other The other name.
   * @returns True when equal.
   * @throws {ClosedError} When either is closed.
   *
   * @example Compare names
   * ```ts
   * import { X509Name } from "@denossl/denossl";
   * using a = X509Name.from({ CN: "x" });
   * using b = X509Name.from({ commonName: "x" });
   * console.log(a.equals(b)); // true
   * ```
   */
  equals(other: X509Name): boolean {
    if (!(other instanceof X509Name)) return false;
    return native().crypto.X509_NAME_cmp(this._handle, other._handle) === 0;
  }

  /**
   * The RFC 2253 string.
   *
   * @returns Same as {@link X509Name.rfc2253}.
   */
  toString(): string {
    return this.#ptr === null ? "[closed X509Name]" : this.rfc2253;
  }

  #print(flags: number): string {
    const ptr = this._handle;
    const { crypto } = native();
    return utf8(
      bioOutput(
        (bio) => crypto.X509_NAME_print_ex(bio, ptr, 0, ulong(flags)) >= 0,
        "Could not print a name",
      ),
    );
  }

  /** Frees the name; idempotent. */
  close(): void {
    if (this.#ptr === null) return;
    registry.unregister(this);
    native().crypto.X509_NAME_free(this.#ptr);
    releaseHandle("X509_NAME", this.#ptr);
    this.#ptr = null;
  }

  /** Same as {@link X509Name.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
