/**
 * FFI types of C integer types whose width depends on the platform.
 *
 * C `long` is 64-bit on Linux and macOS and 32-bit on Windows. OpenSSL's
 * `*_ctrl` functions take and return `long`, so their FFI type is chosen per
 * platform. TypeScript sees the 64-bit type; callers pass a `number` through
 * {@link long} and convert results with `Number()`, which is correct for both
 * widths.
 *
 * @module
 */

/** Read through `globalThis` so that importing works where there is no `Deno` (errors stay usable). */
const WINDOWS =
  (globalThis as { Deno?: { build?: { os?: string } } }).Deno?.build?.os === "windows";
/** The FFI type of C `long` on this platform. */
export const LONG = (WINDOWS ? "i32" : "i64") as "i64";
/** The FFI type of C `unsigned long` on this platform. */
export const ULONG = (WINDOWS ? "u32" : "u64") as "u64";

const WIDE_LONG = !WINDOWS;

/**
 * Passes a JS number as a C `long` argument: a bigint where `long` is 64-bit,
 * the number itself where it is 32-bit (Windows).
 *
 * Deno also accepts a plain number for a 64-bit parameter, but only on the
 * slow call path: V8's fast FFI call wants a bigint there, and a number costs
 * about 200-400 ns more per call (measured with Deno 2.9 on `SSL_read_ex`), far
 * more than converting.
 *
 * @param value The value; it must be an integer in C `long` range.
 * @returns The value, as the symbol table's parameter type wants it.
 */
export function long(value: number): bigint {
  return (WIDE_LONG ? BigInt(value) : value) as bigint;
}

/**
 * Passes a JS number as a C `size_t` argument, as a bigint (see {@link long}
 * for why: a number would take FFI's slow path on every call).
 *
 * @param value A non-negative safe integer.
 * @returns The value as a bigint.
 */
export function usize(value: number): bigint {
  return BigInt(value);
}
