/**
 * Maps native `SSL*` addresses to their JS owners, so that one shared native
 * callback (a trampoline) can find the connection it fires for. Internal.
 *
 * Trampolines are created once, on first use, and live as long as the
 * process: OpenSSL may call them for any connection until that connection's
 * `SSL` is freed, and a single long-lived callback can never be closed while
 * OpenSSL still holds it. An `UnsafeCallback` does not keep the event loop
 * alive unless ref'd, and these are never ref'd.
 *
 * @module
 */

import { address } from "../ffi/memory.ts";

const owners = new Map<bigint, WeakRef<object>>();

/**
 * Registers the JS owner of an `SSL*`.
 *
 * @param ssl The pointer, or its address.
 * @param owner The connection.
 */
export function registerOwner(ssl: Deno.PointerObject | bigint, owner: object): void {
  owners.set(typeof ssl === "bigint" ? ssl : address(ssl), new WeakRef(owner));
}

/**
 * Forgets an `SSL*` (before it is freed).
 *
 * @param ssl The pointer, or its address.
 */
export function unregisterOwner(ssl: Deno.PointerObject | bigint): void {
  owners.delete(typeof ssl === "bigint" ? ssl : address(ssl));
}

/**
 * Finds the JS owner of an `SSL*`.
 *
 * @param ssl The pointer OpenSSL handed to a callback.
 * @returns The owner, or undefined when it is gone.
 */
export function ownerOf<T extends object>(ssl: Deno.PointerValue): T | undefined {
  if (ssl === null) return undefined;
  return owners.get(address(ssl))?.deref() as T | undefined;
}

/**
 * The number of live registered `SSL*` objects (for leak tests).
 *
 * @returns The count.
 */
export function liveOwnerCount(): number {
  return owners.size;
}

// ---- callbacks in progress ----------------------------------------------------------------

/** How many denossl callbacks are running now (nested in an OpenSSL call on the JS thread). */
let callbackDepth = 0;

/**
 * Whether a denossl callback is running now: OpenSSL is in the middle of an
 * `SSL_*` call further up the stack. Freeing that `SSL`, or driving any
 * connection from there, would re-enter OpenSSL.
 *
 * @returns True inside a callback.
 */
export function inCallback(): boolean {
  return callbackDepth > 0;
}

/**
 * Wraps a trampoline's function so that {@link inCallback} is true while it runs.
 *
 * @param fn The trampoline's function.
 * @returns The same function, counted.
 */
export function counted<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    callbackDepth++;
    try {
      return fn(...args);
    } finally {
      callbackDepth--;
    }
  };
}
