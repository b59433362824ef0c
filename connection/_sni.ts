/**
 * The listener's table of server names to contexts: exact names and
 * one-label `*.` wildcards, matched without regard to case, exact names
 * first. Internal.
 *
 * @module
 */

import type { Context } from "./context.ts";
import { normalizeHostName } from "./_hostname.ts";

/**
 * A server name pattern as the table keys it: lower case, no trailing dot.
 *
 * @param pattern `"api.example.com"` or `"*.example.com"`.
 * @returns The key.
 * @throws {TypeError} When the pattern is not a host name, or a wildcard other
 *   than a whole first label (`"f*.example.com"`, `"a.*.com"`, `"*"`).
 */
export function serverNameKey(pattern: string): string {
  if (typeof pattern !== "string") throw new TypeError("A server name must be a string");
  const wild = pattern.startsWith("*.");
  const rest = wild ? pattern.slice(2) : pattern;
  if (rest.includes("*")) {
    throw new TypeError(
      `Server name "${pattern}": a wildcard is a whole first label only ("*.example.com"), never part of one or deeper`,
    );
  }
  let name: string;
  try {
    name = normalizeHostName(rest);
  } catch (e) {
    throw new TypeError(`Server name "${pattern}" is not a host name`, { cause: e });
  }
  return (wild ? "*." : "") + name.toLowerCase();
}

/** Contexts by server name, with the wildcard rule of RFC 6125 §6.4.3 (one label, whole). */
export class SniTable {
  readonly #byName: ReadonlyMap<string, Context>;

  /**
   * @param byName Contexts keyed by {@link serverNameKey}.
   */
  constructor(byName: ReadonlyMap<string, Context>) {
    this.#byName = byName;
  }

  /** The contexts, for closing the ones the listener built. */
  get contexts(): Context[] {
    return [...new Set(this.#byName.values())];
  }

  /**
   * A copy of the table with one name added or replaced.
   *
   * @param key A {@link serverNameKey}.
   * @param ctx Its context.
   * @returns The new table; this one is unchanged (handshakes under way keep reading it).
   */
  with(key: string, ctx: Context): SniTable {
    return new SniTable(new Map(this.#byName).set(key, ctx));
  }

  /**
   * The context of one key, as stored (no wildcard matching).
   *
   * @param key A {@link serverNameKey}.
   * @returns Its context, or undefined.
   */
  get(key: string): Context | undefined {
    return this.#byName.get(key);
  }

  /** How many names the table holds. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * The context for the name a client sent.
   *
   * @param servername The SNI name, or null when the client sent none.
   * @returns The exact name's context, else the wildcard's, else undefined.
   */
  select(servername: string | null): Context | undefined {
    if (servername === null || this.#byName.size === 0) return undefined;
    const name = (servername.endsWith(".") ? servername.slice(0, -1) : servername).toLowerCase();
    const exact = this.#byName.get(name);
    if (exact) return exact;
    const dot = name.indexOf(".");
    // The wildcard stands for exactly one non-empty label: "*.a.b" never matches "a.b" or "x.y.a.b".
    if (dot <= 0 || dot === name.length - 1) return undefined;
    return this.#byName.get("*" + name.slice(dot));
  }
}
