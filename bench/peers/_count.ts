/**
 * Call counting for the ping-pong account (bench/account.ts): wraps every function of the given
 * symbol tables and socket objects with a counter. SIGUSR1 zeroes the counters; SIGUSR2 prints
 * them as one line, `COUNTS {"SSL_read_ex": n, ...}`, on stdout. The wrappers cost time, so a
 * counting run measures calls, never speed.
 *
 * @module
 */

const counts = new Map<string, number>();

/** Replaces each function property of `table` with a counting wrapper named `prefix + key`. */
export function countCalls(table: object, prefix = ""): void {
  const t = table as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    const f = t[key];
    if (typeof f !== "function" || !Object.getOwnPropertyDescriptor(t, key)?.writable) continue;
    const name = prefix + key;
    t[key] = function (this: unknown, ...args: unknown[]): unknown {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return (f as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
}

const wrapped = new WeakSet<object>();

/**
 * Counts calls of the named methods of an object's class (a socket: its async ops), on the
 * prototype, so the object itself keeps no own properties (denossl's direct writes look for
 * Deno's own TcpConn and would step aside for a wrapped one).
 */
export function countMethods(obj: object, names: string[], prefix: string): void {
  const proto = Object.getPrototypeOf(obj) as Record<string, unknown>;
  if (wrapped.has(proto)) return;
  wrapped.add(proto);
  for (const name of names) {
    const f = proto[name];
    if (typeof f !== "function") continue;
    const label = prefix + name;
    proto[name] = function (this: unknown, ...args: unknown[]): unknown {
      counts.set(label, (counts.get(label) ?? 0) + 1);
      return (f as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
}

/** Listens for SIGUSR1 (reset) and SIGUSR2 (print). */
export function reportOnSignals(): void {
  Deno.addSignalListener("SIGUSR1", () => counts.clear());
  Deno.addSignalListener("SIGUSR2", () => {
    console.log("COUNTS " + JSON.stringify(Object.fromEntries(counts)));
  });
}
