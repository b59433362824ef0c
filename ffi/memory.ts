/**
 * Moving bytes and strings across the FFI boundary: C strings, out-parameters,
 * pointers, and draining a BIO into bytes. Internal to denossl.
 *
 * @module
 */

import { native } from "./library.ts";
import { lastErrno, setLastErrno } from "./sys.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a string as a NUL-terminated C string.
 *
 * @param value The string; it must not contain NUL.
 * @param what What the string is, for the error message.
 * @returns The encoded bytes with a trailing NUL.
 * @throws {TypeError} When the string is not a string or contains NUL.
 */
export function cstr(value: string, what = "string"): Uint8Array<ArrayBuffer> {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  if (value.includes("\0")) throw new TypeError(`${what} must not contain a NUL character`);
  const bytes = new Uint8Array(value.length * 3 + 1);
  const { written } = encoder.encodeInto(value, bytes);
  return bytes.subarray(0, written + 1);
}

/**
 * Reads a NUL-terminated C string.
 *
 * @param ptr The pointer, possibly null.
 * @returns The string, or null for a null pointer.
 */
export function readCString(ptr: Deno.PointerValue): string | null {
  return ptr === null ? null : Deno.UnsafePointerView.getCString(ptr);
}

/**
 * Copies `length` bytes starting at `ptr`.
 *
 * @param ptr The pointer.
 * @param length The number of bytes.
 * @returns A fresh copy.
 */
export function copyBytes(ptr: Deno.PointerObject, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  if (length > 0) Deno.UnsafePointerView.copyInto(ptr, out);
  return out;
}

/**
 * Encodes bytes or a string to bytes.
 *
 * @param data Bytes or text.
 * @returns Bytes (the same object when already bytes).
 */
export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * Decodes UTF-8 bytes.
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** A reusable out-parameter slot for a pointer (`T **`). */
export class PointerOut {
  /** The backing storage, passed as a `buffer` argument. */
  readonly buffer: BigUint64Array<ArrayBuffer> = new BigUint64Array(1);
  /**
   * Sets the slot to a pointer value.
   *
   * @param ptr The pointer.
   * @returns The storage, to pass to C.
   */
  set(ptr: Deno.PointerValue): BigUint64Array<ArrayBuffer> {
    this.buffer[0] = BigInt(Deno.UnsafePointer.value(ptr));
    return this.buffer;
  }
  /**
   * Reads the pointer C wrote.
   *
   * @returns The pointer, or null.
   */
  get(): Deno.PointerValue {
    return Deno.UnsafePointer.create(this.buffer[0]!);
  }
}

/**
 * The numeric address of a pointer, usable as a map key.
 *
 * @param ptr The pointer.
 * @returns Its address (0 for null).
 */
export function address(ptr: Deno.PointerValue): bigint {
  return BigInt(Deno.UnsafePointer.value(ptr));
}

/**
 * Reads everything pending in a memory BIO and frees nothing.
 *
 * @param bio The BIO.
 * @returns The bytes it held.
 */
export function bioBytes(bio: Deno.PointerValue): Uint8Array<ArrayBuffer> {
  const { crypto } = native();
  const pending = Number(crypto.BIO_ctrl_pending(bio));
  const out = new Uint8Array(pending);
  let offset = 0;
  while (offset < pending) {
    const n = crypto.BIO_read(bio, out.subarray(offset), pending - offset);
    if (n <= 0) break;
    offset += n;
  }
  return offset === pending ? out : out.slice(0, offset);
}

/**
 * Reads the C `errno` of the calling thread (the one cell of `ffi/sys.ts`).
 *
 * @returns errno, or 0 where it cannot be read.
 */
export function errno(): number {
  return lastErrno();
}

/**
 * Sets the C `errno` of the calling thread (to 0 before an SSL call, so that
 * a value found afterwards belongs to that call).
 *
 * @param value The new errno.
 */
export function setErrno(value: number): void {
  setLastErrno(value);
}
