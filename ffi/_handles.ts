/**
 * Live native handles, counted for leak and double-free tests. Internal: not
 * exported from `mod.ts`.
 *
 * Every class that owns a native reference calls {@link trackHandle} once
 * when it takes the reference and {@link releaseHandle} once when it gives
 * it back, by `close()` or by its finalizer. References are counted per
 * address, since refcounted objects (an `X509` borrowed twice) share one:
 * a release with no reference left at that address is a logic error (a
 * reference given back twice) and is recorded in {@link handleAnomalies}
 * instead of being silently counted.
 *
 * The bookkeeping is one `Map` operation per native object, never per I/O call.
 *
 * @module
 */

/** The kinds of native objects denossl owns. */
export type HandleKind =
  | "SSL_CTX"
  | "SSL"
  | "SSL_SESSION"
  | "X509"
  | "X509_NAME"
  | "EVP_PKEY"
  | "X509_STORE"
  | "X509_REQ";

const KINDS: readonly HandleKind[] = [
  "SSL_CTX",
  "SSL",
  "SSL_SESSION",
  "X509",
  "X509_NAME",
  "EVP_PKEY",
  "X509_STORE",
  "X509_REQ",
];

const live: Record<HandleKind, number> = {
  SSL_CTX: 0,
  SSL: 0,
  SSL_SESSION: 0,
  X509: 0,
  X509_NAME: 0,
  EVP_PKEY: 0,
  X509_STORE: 0,
  X509_REQ: 0,
};

/** References held per kind and address. */
const refs = new Map<HandleKind, Map<bigint, number>>(KINDS.map((k) => [k, new Map()]));
const anomalies: string[] = [];

function key(ptr: Deno.PointerValue | bigint): bigint {
  return typeof ptr === "bigint" ? ptr : BigInt(Deno.UnsafePointer.value(ptr));
}

/**
 * Counts one reference taken by a JS object.
 *
 * @param kind The native type.
 * @param ptr Its address.
 */
export function trackHandle(kind: HandleKind, ptr: Deno.PointerValue | bigint): void {
  const k = key(ptr);
  const map = refs.get(kind)!;
  map.set(k, (map.get(k) ?? 0) + 1);
  live[kind]++;
}

/**
 * Counts one reference given back (by `close()` or a finalizer).
 *
 * @param kind The native type.
 * @param ptr Its address.
 */
export function releaseHandle(kind: HandleKind, ptr: Deno.PointerValue | bigint): void {
  const k = key(ptr);
  const map = refs.get(kind)!;
  const n = map.get(k) ?? 0;
  if (n === 0) {
    if (anomalies.length < 100) {
      anomalies.push(`${kind} 0x${k.toString(16)} released with no reference held`);
    }
    return;
  }
  if (n === 1) map.delete(k);
  else map.set(k, n - 1);
  live[kind]--;
}

/**
 * The number of native references JS objects hold now, per kind.
 *
 * @returns A fresh record.
 */
export function liveHandles(): Record<HandleKind, number> {
  return { ...live };
}

/**
 * The releases that found no reference to give back (each one a double
 * release); empty when the bookkeeping is sound.
 *
 * @returns A copy of the list (at most 100 entries).
 */
export function handleAnomalies(): string[] {
  return [...anomalies];
}

/**
 * The finalization registry of one kind of native object: when an owner a
 * user forgot to close is collected, `free` gets the pointer it was
 * registered with and the handle count is given back. Register each owner
 * with its handle's address and an unregister token; `close()` unregisters
 * before it frees, so nothing is freed twice.
 *
 * @param kind What the registry frees.
 * @param free Frees one object (`X509_free`, `SSL_free`, ...).
 * @returns The registry.
 */
export function handleRegistry(
  kind: HandleKind,
  free: (ptr: Deno.PointerObject, address: bigint) => void,
): FinalizationRegistry<bigint> {
  return new FinalizationRegistry<bigint>((address) => {
    const ptr = Deno.UnsafePointer.create(address);
    if (ptr) free(ptr, address);
    releaseHandle(kind, address);
  });
}
