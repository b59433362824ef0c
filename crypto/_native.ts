/**
 * Helpers shared by the `crypto/` classes: PEM and DER in and out of
 * OpenSSL, OpenSSL-allocated strings, times and big numbers. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { bioBytes, PointerOut, readCString, toBytes, utf8 } from "../ffi/memory.ts";
import { clearErrors, drainErrorQueue, sslErrorFromQueue } from "../errors/queue.ts";
import { SSLError } from "../errors/ssl_error.ts";
import type { OpenSSLErrorEntry } from "../errors/ssl_error.ts";

/** `ERR_LIB_PEM`. */
const ERR_LIB_PEM = 9;
/** `PEM_R_NO_START_LINE`. */
const PEM_R_NO_START_LINE = 108;
/** `sizeof(struct tm)` is 56 on glibc and smaller elsewhere; room to spare. */
const TM_SIZE = 64;

/** The buffer a native call is reading, kept reachable until it returns. */
let _pinned: Uint8Array | undefined;
/** The buffers memory BIOs of {@link withInputBio} read, kept reachable while they exist. */
const _inputs: Uint8Array[] = [];

/** A `d2i_*` function: `T *d2i_T(T **a, const unsigned char **in, long len)`. */
type D2I = (a: null, inp: BigUint64Array<ArrayBuffer>, len: bigint) => Deno.PointerValue;
/** An `i2d_*` function: `int i2d_T(const T *a, unsigned char **out)`. */
type I2D = (a: Deno.PointerObject, out: BigUint64Array<ArrayBuffer> | null) => number;

/**
 * Builds an {@link SSLError} from the queue (`sslErrorFromQueue`: what
 * probably happened, and OpenSSL's reasons each said once).
 *
 * @param what What failed ("Could not parse PEM certificate").
 * @returns The error (to throw).
 */
export function cryptoError(what: string): SSLError {
  return sslErrorFromQueue(what);
}

/**
 * The entries of one attempt, where OpenSSL made the same failing attempt
 * twice in one call (the queue is one run of entries, repeated).
 *
 * @param errors The drained entries.
 * @returns The first run when the queue is that run twice, else `errors`.
 */
export function onceOnly(errors: OpenSSLErrorEntry[]): OpenSSLErrorEntry[] {
  const half = errors.length / 2;
  if (half === 0 || !Number.isInteger(half)) return errors;
  for (let i = 0; i < half; i++) if (errors[i]!.code !== errors[i + half]!.code) return errors;
  return errors.slice(0, half);
}

/**
 * Copies input into a fresh, ArrayBuffer-backed byte array.
 *
 * @param data PEM text or bytes.
 * @param what What the input is, for the error message.
 * @returns The bytes.
 * @throws {TypeError} When the input is neither a string nor bytes.
 */
export function inputBytes(data: string | Uint8Array, what: string): Uint8Array<ArrayBuffer> {
  if (typeof data !== "string" && !(data instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a string or a Uint8Array`);
  }
  return new Uint8Array(toBytes(data));
}

/**
 * Decodes DER with a `d2i_*` function, keeping the buffer referenced and
 * pointing the `const unsigned char **` at it.
 *
 * @param d2i The decoder.
 * @param der The bytes.
 * @param what The failure message ("Could not parse DER certificate").
 * @returns The new object (owned by the caller).
 * @throws {SSLError} When the bytes do not decode.
 */
export function decodeDER(d2i: D2I, der: Uint8Array, what: string): Deno.PointerObject {
  if (!(der instanceof Uint8Array)) throw new TypeError("DER input must be a Uint8Array");
  if (der.length === 0) throw new SSLError([], `${what}: the input is empty`);
  const buf = new Uint8Array(der);
  const inOut = new PointerOut();
  clearErrors();
  _pinned = buf; // reachable for the whole call, whatever the optimizer does
  try {
    const ptr = d2i(null, inOut.set(Deno.UnsafePointer.of(buf)), long(buf.length));
    if (ptr === null) throw cryptoError(what);
    return ptr;
  } finally {
    _pinned = undefined;
  }
}

/**
 * Encodes with an `i2d_*` function.
 *
 * @param i2d The encoder.
 * @param ptr The object.
 * @param what The failure message.
 * @returns The DER bytes.
 * @throws {SSLError} When encoding fails.
 */
export function encodeDER(
  i2d: I2D,
  ptr: Deno.PointerObject,
  what: string,
): Uint8Array<ArrayBuffer> {
  clearErrors();
  const length = i2d(ptr, null);
  if (length <= 0) throw cryptoError(what);
  const buf = new Uint8Array(length);
  const out = new PointerOut();
  _pinned = buf;
  try {
    const written = i2d(ptr, out.set(Deno.UnsafePointer.of(buf)));
    if (written !== length) throw cryptoError(what);
    return buf;
  } finally {
    _pinned = undefined;
  }
}

/**
 * Runs `write` against a fresh memory BIO and returns what it wrote.
 *
 * @param write Writes to the BIO; returns OpenSSL's result (> 0 is success).
 * @param what The failure message.
 * @returns The bytes written.
 * @throws {SSLError} When `write` reports failure.
 */
export function bioOutput(
  write: (bio: Deno.PointerObject) => number | boolean,
  what: string,
): Uint8Array<ArrayBuffer> {
  const { crypto } = native();
  const bio = crypto.BIO_new(crypto.BIO_s_mem());
  if (bio === null) throw new Error("Out of memory: BIO_new failed");
  try {
    clearErrors();
    const ok = write(bio);
    if (ok === false || (typeof ok === "number" && ok <= 0)) throw cryptoError(what);
    return bioBytes(bio);
  } finally {
    crypto.BIO_free(bio);
  }
}

/**
 * Runs `read` against a read-only memory BIO over `data`.
 *
 * @param data The bytes (kept referenced during `read`).
 * @param read Reads from the BIO.
 * @returns What `read` returned.
 */
export function withInputBio<T>(
  data: Uint8Array<ArrayBuffer>,
  read: (bio: Deno.PointerObject) => T,
): T {
  const { crypto } = native();
  // An empty array would pass as a null pointer, which BIO_new_mem_buf refuses.
  const bio = crypto.BIO_new_mem_buf(data.length > 0 ? data : new Uint8Array(1), data.length);
  if (bio === null) throw new Error("Out of memory: BIO_new_mem_buf failed");
  // BIO_new_mem_buf does not copy: the BIO reads `data` during `read`, which allocates and
  // may collect garbage. Keep `data` reachable from a root until the BIO is gone.
  _inputs.push(data);
  try {
    return read(bio);
  } finally {
    crypto.BIO_free(bio);
    _inputs.pop();
  }
}

/**
 * Whether the queue holds only PEM's "no start line": the normal end of a
 * PEM bundle. Drains the queue.
 *
 * @returns The entries when something else failed, or null at a clean end.
 */
export function pemEndOrErrors(): ReturnType<typeof drainErrorQueue> | null {
  const errors = drainErrorQueue();
  const real = errors.filter((e) =>
    !(e.libraryCode === ERR_LIB_PEM && e.reasonCode === PEM_R_NO_START_LINE)
  );
  return real.length === 0 ? null : errors;
}

/**
 * Frees memory OpenSSL allocated (`OPENSSL_free`).
 *
 * @param ptr The pointer.
 */
function opensslFree(ptr: Deno.PointerValue): void {
  if (ptr !== null) native().crypto.CRYPTO_free(ptr, null, 0);
}

/**
 * Reads and frees a `char *` OpenSSL allocated.
 *
 * @param ptr The string.
 * @returns Its text, or null for a null pointer.
 */
function takeCString(ptr: Deno.PointerValue): string | null {
  if (ptr === null) return null;
  try {
    return readCString(ptr);
  } finally {
    opensslFree(ptr);
  }
}

/**
 * Converts an `ASN1_TIME` to a `Date`.
 *
 * @param time The time.
 * @returns The date (UTC).
 * @throws {SSLError} When the time cannot be read.
 */
export function asn1TimeToDate(time: Deno.PointerValue): Date {
  if (time === null) throw new SSLError([], "The certificate has no validity time");
  const tm = new Int32Array(TM_SIZE / 4);
  clearErrors();
  if (native().crypto.ASN1_TIME_to_tm(time, tm) !== 1) {
    throw cryptoError("Could not read an ASN.1 time");
  }
  // struct tm: sec, min, hour, mday, mon, year (since 1900), ...
  return new Date(Date.UTC(tm[5]! + 1900, tm[4]!, tm[3]!, tm[2]!, tm[1]!, tm[0]!));
}

/**
 * Reads an `ASN1_INTEGER` as upper-case hex (as `openssl x509 -serial` prints it).
 *
 * @param integer The integer.
 * @returns The hex digits, with a leading `-` when negative.
 */
export function asn1IntegerToHex(integer: Deno.PointerValue): string {
  const { crypto } = native();
  clearErrors();
  const bn = crypto.ASN1_INTEGER_to_BN(integer, null);
  if (bn === null) throw cryptoError("Could not read an ASN.1 integer");
  try {
    const hex = takeCString(crypto.BN_bn2hex(bn));
    if (hex === null) throw cryptoError("Could not format an ASN.1 integer");
    return hex;
  } finally {
    crypto.BN_free(bn);
  }
}

/**
 * Reads an `ASN1_STRING` as UTF-8 text.
 *
 * @param str The string.
 * @returns Its text.
 */
export function asn1StringToText(str: Deno.PointerValue): string {
  const { crypto } = native();
  const out = new PointerOut();
  const length = crypto.ASN1_STRING_to_UTF8(out.buffer, str);
  if (length < 0) {
    crypto.ERR_clear_error();
    return "";
  }
  const ptr = out.get();
  if (ptr === null) return "";
  try {
    if (length === 0) return "";
    return utf8(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, length).slice(0)));
  } finally {
    opensslFree(ptr);
  }
}

/**
 * Reads an `ASN1_STRING`'s raw bytes.
 *
 * @param str The string.
 * @returns A copy of its bytes.
 */
export function asn1StringBytes(str: Deno.PointerValue): Uint8Array<ArrayBuffer> {
  const { crypto } = native();
  const length = crypto.ASN1_STRING_length(str);
  const data = crypto.ASN1_STRING_get0_data(str);
  if (data === null || length <= 0) return new Uint8Array(0);
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(data, length).slice(0));
}

/**
 * The short name of an `ASN1_OBJECT`, or its dotted OID when it has none.
 *
 * @param obj The object.
 * @returns Name and OID.
 */
export function objectName(obj: Deno.PointerValue): { name: string; oid: string } {
  const { crypto } = native();
  const buf = new Uint8Array(128);
  const n = crypto.OBJ_obj2txt(buf, buf.length, obj, 1);
  const oid = n > 0 ? utf8(buf.subarray(0, Math.min(n, buf.length - 1))) : "";
  const nid = crypto.OBJ_obj2nid(obj);
  const name = nid !== 0 ? readCString(crypto.OBJ_nid2sn(nid)) ?? oid : oid;
  return { name, oid };
}

/**
 * Formats bytes as upper-case hex pairs joined by colons.
 *
 * @param bytes The bytes.
 * @returns `"AB:CD:..."`.
 */
export function colonHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += ":";
    out += bytes[i]!.toString(16).padStart(2, "0");
  }
  return out.toUpperCase();
}

/**
 * Seconds since the epoch of a date, for `time_t` parameters.
 *
 * @param date The date.
 * @param what What the date is, for the error message.
 * @returns Whole seconds.
 * @throws {TypeError} When the date is invalid.
 */
export function timeT(date: Date, what: string): bigint {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new TypeError(`${what} must be a valid Date`);
  }
  return BigInt(Math.floor(date.getTime() / 1000));
}

/**
 * Passes a JS number as a C `unsigned long` argument, as `long()` in
 * ffi/ctypes.ts does for `long`: a type-level conversion with no cost.
 *
 * @param value A non-negative integer in range.
 * @returns The same value, typed for the symbol table.
 */
export function ulong(value: number): bigint {
  return value as unknown as bigint;
}
