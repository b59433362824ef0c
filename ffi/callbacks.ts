/**
 * The machinery every native callback shares: the map from `SSL*` addresses
 * to their JS owners (one shared trampoline finds the connection it fires
 * for), the count of callbacks running now, the check of a callback
 * argument, the checks that make a callback's answer fail closed, and the
 * slot that keeps what a callback's promise rejected with until its
 * connection is driven again. Internal.
 *
 * Trampolines are created once, on first use, and live as long as the
 * process: OpenSSL may call them for any connection until that connection's
 * `SSL` is freed, and a single long-lived callback can never be closed while
 * OpenSSL still holds it. An `UnsafeCallback` does not keep the event loop
 * alive unless ref'd, and these are never ref'd.
 *
 * @module
 */

import { address } from "./memory.ts";

/** A registered `SSL*`: its owner, and what the owner's callbacks rejected with since it was last driven. */
interface Entry {
  readonly ref: WeakRef<object>;
  late: unknown[] | null;
}

const owners = new Map<bigint, Entry>();
/** How many entries hold late errors: the drive guard's check costs one comparison while none do. */
let lateEntries = 0;

/**
 * Registers the JS owner of an `SSL*`.
 *
 * @param ssl The pointer, or its address.
 * @param owner The connection.
 */
export function registerOwner(ssl: Deno.PointerObject | bigint, owner: object): void {
  owners.set(typeof ssl === "bigint" ? ssl : address(ssl), { ref: new WeakRef(owner), late: null });
}

/**
 * Forgets an `SSL*` (before it is freed). Late errors still held for it have
 * no call left to come out of: they go to `reportError`, never lost.
 *
 * @param ssl The pointer, or its address.
 */
export function unregisterOwner(ssl: Deno.PointerObject | bigint): void {
  const key = typeof ssl === "bigint" ? ssl : address(ssl);
  const entry = owners.get(key);
  owners.delete(key);
  if (entry?.late) {
    lateEntries--;
    for (const error of entry.late) reportLost(error);
  }
}

/**
 * Finds the JS owner of an `SSL*`.
 *
 * @param ssl The pointer OpenSSL handed to a callback.
 * @returns The owner, or undefined when it is gone.
 */
export function ownerOf<T extends object>(ssl: Deno.PointerValue): T | undefined {
  if (ssl === null) return undefined;
  return owners.get(address(ssl))?.ref.deref() as T | undefined;
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

// ---- callback arguments ----------------------------------------------------------------------

/**
 * Checks a callback argument before it is installed: the one check (and the
 * one message) of every `set*Callback` method. An optional callback is
 * checked only when given (`if (callback != null) requireFunction(callback)`).
 *
 * @param callback The argument.
 * @param name How the message names it.
 * @throws {TypeError} When `callback` is not a function ("callback must be a function").
 */
export function requireFunction(callback: unknown, name = "callback"): void {
  if (typeof callback !== "function") throw new TypeError(`${name} must be a function`);
}

// ---- answers that must be synchronous --------------------------------------------------------

/**
 * Whether a value is a Promise or any other thenable.
 *
 * @param value What a callback returned.
 * @returns True when it has a callable `then`.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Refuses a thenable returned where OpenSSL needs the answer now: the
 * `TypeError` thrown here fails the handshake (or the key load) and comes
 * out of the call that drove OpenSSL. The promise's own outcome is
 * discarded, rejection included, so that it never becomes an unhandled
 * rejection: the `TypeError` already names the callback at fault.
 *
 * @param value What the callback returned.
 * @param name The callback, as the message names it ("verify", "ALPN select").
 * @param answer What it must return, as in "it must return true or false synchronously".
 * @throws {TypeError} When `value` is a thenable.
 */
export function refuseThenable(value: unknown, name: string, answer: string): void {
  if (!isThenable(value)) return;
  Promise.resolve(value).then(undefined, () => {});
  throw new TypeError(
    `The ${name} callback returned a Promise: it must ${answer} synchronously; OpenSSL needs the answer before the handshake can go on, so do the asynchronous work before the handshake (or after it) and have the callback read its result`,
  );
}

/**
 * Names a value's kind for a message about a callback's answer.
 *
 * @param value The answer.
 * @returns Such as "a number" or "null".
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

// ---- rejections of callbacks that answer nothing ---------------------------------------------

/**
 * Watches what a callback that answers nothing (info, key log, new session)
 * returned: when it is a thenable that rejects, the reason is kept on the
 * callback's connection and thrown from the next call that drives it (see
 * {@link throwLateError}); when that connection was closed meanwhile, it
 * goes to `reportError`. Never an unhandled rejection, never lost.
 *
 * @param value What the callback returned.
 * @param ssl The `SSL*` the callback fired for.
 * @param owner Its owner at that time.
 */
export function watchSettled(value: unknown, ssl: Deno.PointerValue, owner: object): void {
  if (!isThenable(value)) return;
  const key = address(ssl);
  Promise.resolve(value).then(undefined, (error: unknown) => {
    const entry = owners.get(key);
    // The same address may belong to another connection by now: match the owner itself.
    if (entry === undefined || entry.ref.deref() !== owner) return reportLost(error);
    if (entry.late === null) {
      entry.late = [];
      lateEntries++;
    }
    entry.late.push(error);
  });
}

/**
 * Throws the oldest late error kept for a connection, if any: what a promise
 * returned by its info, key log or new-session callback rejected with. Call
 * before each SSL call that drives the connection.
 *
 * @param ssl The connection's `SSL*`.
 * @throws The kept reason, as it was rejected with.
 */
export function throwLateError(ssl: Deno.PointerValue): void {
  if (lateEntries === 0 || ssl === null) return;
  const entry = owners.get(address(ssl));
  if (!entry?.late) return;
  const error = entry.late.shift();
  if (entry.late.length === 0) {
    entry.late = null;
    lateEntries--;
  }
  throw error;
}

function reportLost(error: unknown): void {
  // No call is left to throw it from: report it as an uncaught error, catchable with an "error" listener.
  reportError(error);
}
