/**
 * FFI types of C integer types whose width depends on the platform.
 *
 * C `long` is 64-bit on Linux and macOS and 32-bit on Windows. OpenSSL's
 * `*_ctrl` functions take and return `long`, so their FFI type is chosen per
 * platform. TypeScript sees the 64-bit type; callers always pass a `number`
 * and convert results with `Number()`, which is correct for both widths.
 *
 * @module
 */

/** The FFI type of C `long` on this platform. */
export const LONG = (Deno.build.os === "windows" ? "i32" : "i64") as "i64";
/** The FFI type of C `unsigned long` on this platform. */
export const ULONG = (Deno.build.os === "windows" ? "u32" : "u64") as "u64";

/**
 * Passes a JS number as a C `long` argument. Deno accepts a number for both
 * `i64` and `i32` parameters at run time; only the 64-bit type declaration
 * asks for a bigint, so this is a type-level conversion with no cost.
 *
 * @param value The value; it must be an integer in C `long` range.
 * @returns The same value, typed for the symbol table.
 */
export function long(value: number): bigint {
  return value as unknown as bigint;
}

/**
 * Passes a JS number as a C `size_t` argument; the same type-level
 * conversion as {@link long} (Deno accepts numbers for `usize` parameters).
 *
 * @param value A non-negative safe integer.
 * @returns The same value, typed for the symbol table.
 */
export function usize(value: number): bigint {
  return value as unknown as bigint;
}
