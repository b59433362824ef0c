/**
 * A handshake suspended on a callback's Promise: what each connection waits
 * for (keyed by its `SSL*` address), how a trampoline suspends and later
 * takes the settled answer, and the context a connection's sessions belong
 * to. Internal; the trampolines are in `_selection.ts` and `_session_store.ts`.
 *
 * @module
 */

import { SSLError } from "../errors/ssl_error.ts";
import { OK, type Outcome, WANT_X509_LOOKUP } from "../errors/raise.ts";
import { address } from "../ffi/memory.ts";
import type { ContextBase } from "./context_base.ts";

/** Which callback suspended the handshake, as messages name it. */
export type SuspendKind = "client hello" | "certificate" | "servername" | "session store";

/** A suspended callback's Promise and, once settled, its outcome. */
interface Pending {
  readonly kind: SuspendKind;
  settled: boolean;
  ok: boolean;
  value: unknown;
  /** Settles (never rejects) once the Promise settled or the connection closed. */
  readonly wait: Promise<void>;
  readonly wake: () => void;
}

/** A settled answer, taken by the trampoline that suspended. */
export interface Settled {
  ok: boolean;
  value: unknown;
}

/** What {@link take} returns while the Promise has not settled. */
export const STILL_PENDING = Symbol("still pending");

const pendings = new Map<bigint, Pending>();

/**
 * Suspends a connection's handshake on a callback's Promise.
 *
 * @param ssl The `SSL*`.
 * @param kind Which callback.
 * @param promise What it returned.
 * @param after Runs once it resolved (outside OpenSSL); a throw counts as a rejection.
 */
export function suspend(
  ssl: Deno.PointerObject,
  kind: SuspendKind,
  promise: PromiseLike<unknown>,
  after?: () => void,
): void {
  const key = address(ssl);
  let wake!: () => void;
  const wait = new Promise<void>((resolve) => wake = resolve);
  const pending: Pending = { kind, settled: false, ok: false, value: undefined, wait, wake };
  pendings.set(key, pending);
  const settle = (ok: boolean, value: unknown): void => {
    if (pendings.get(key) !== pending) return; // the connection closed meanwhile
    if (ok && after) {
      try {
        after();
      } catch (e) {
        [ok, value] = [false, e];
      }
    }
    pending.settled = true;
    pending.ok = ok;
    pending.value = value;
    wake();
  };
  Promise.resolve(promise).then((v) => settle(true, v), (e: unknown) => settle(false, e));
}

/**
 * Takes a suspended callback's answer, when it is of this kind.
 *
 * @param ssl The `SSL*`.
 * @param kind Which callback asks.
 * @returns Undefined when none of this kind is pending, {@link STILL_PENDING}
 *   while it runs, else its outcome (forgotten here).
 */
export function take(
  ssl: Deno.PointerValue,
  kind: SuspendKind,
): Settled | typeof STILL_PENDING | undefined {
  if (ssl === null) return undefined;
  const key = address(ssl);
  const pending = pendings.get(key);
  if (pending === undefined || pending.kind !== kind) return undefined;
  if (!pending.settled) return STILL_PENDING;
  pendings.delete(key);
  return { ok: pending.ok, value: pending.value };
}

/**
 * What a suspended handshake waits for.
 *
 * @param key The `SSL*`'s address.
 * @returns A promise that settles (never rejects) once the callback's Promise
 *   settled or the connection closed; null when nothing is pending.
 */
export function pendingWait(key: bigint): Promise<void> | null {
  return pendings.get(key)?.wait ?? null;
}

/**
 * Forgets what a closing connection waited for, and wakes its waiter.
 *
 * @param key The `SSL*`'s address.
 */
export function dropPending(key: bigint): void {
  const pending = pendings.get(key);
  if (pending === undefined) return;
  pendings.delete(key);
  pending.wake();
}

/**
 * After `SSL_do_handshake` succeeded: a servername callback's Promise that
 * no certificate stage awaited (a resumed session has none) still decides.
 *
 * @param key The `SSL*`'s address.
 * @returns {@link OK}, or {@link WANT_X509_LOOKUP} while that Promise runs.
 * @throws What its rejection means, as {@link rejection} words it.
 */
export function afterHandshake(key: bigint): Outcome {
  if (pendings.size === 0) return OK; // nearly always: one comparison per handshake call
  const pending = pendings.get(key);
  if (pending === undefined || pending.kind !== "servername") return OK;
  if (!pending.settled) return WANT_X509_LOOKUP;
  pendings.delete(key);
  if (!pending.ok) throw rejection("servername", pending.value);
  return OK;
}

/**
 * The error a rejected callback Promise fails the handshake with.
 *
 * @param kind Which callback.
 * @param reason What its Promise rejected with: the error's `cause`.
 * @returns The error.
 */
export function rejection(kind: SuspendKind, reason: unknown): SSLError {
  const why = reason instanceof Error ? reason.message : String(reason);
  return new SSLError([], `The ${kind} callback's promise rejected: ${why}`, { cause: reason });
}

// ---- the context a connection's sessions belong to ---------------------------------------

/**
 * The context a connection started with, once a callback switched it:
 * OpenSSL keeps its session callbacks on that one (`session_ctx`). Keyed by
 * the connection, which outlives neither entry nor context.
 */
const sessionContexts = new WeakMap<object, ContextBase>();

/**
 * Remembers a connection's first context before a callback may switch it.
 *
 * @param conn The connection.
 */
export function rememberSessionContext(conn: { getContext(): ContextBase }): void {
  if (!sessionContexts.has(conn)) sessionContexts.set(conn, conn.getContext());
}

/**
 * The context whose session callbacks OpenSSL calls for a connection.
 *
 * @param conn The connection.
 * @returns Its first context.
 */
export function sessionContextOf(conn: { getContext(): ContextBase }): ContextBase {
  return sessionContexts.get(conn) ?? conn.getContext();
}
