/**
 * Passthrough: lookups that fail on a connection resolve on its transport, as in pyOpenSSL,
 * through a Proxy at the end of the prototype chain. Internal.
 *
 * @module
 */

/** What passthrough needs of a connection: the objects lookups go to, in order. */
interface Passthrough {
  readonly _passthroughTargets: readonly object[];
}

/**
 * Makes `proto`'s prototype a Proxy that resolves a missing key on the
 * receiver's transport: reached only after the class's own lookup failed,
 * so the hot path never pays for it.
 *
 * @param proto The last class prototype of the chain.
 * @param isConnection Whether a receiver is a connection.
 */
export function installPassthrough(
  proto: object,
  isConnection: (o: unknown) => o is Passthrough,
): void {
  Object.setPrototypeOf(
    proto,
    new Proxy(Object.create(Object.prototype) as object, {
      get(target, key, receiver): unknown {
        if (key in target || typeof key === "symbol") return Reflect.get(target, key, receiver);
        if (!isConnection(receiver)) return undefined;
        for (const t of receiver._passthroughTargets) {
          if (key in t) {
            const value = (t as Record<string, unknown>)[key];
            return typeof value === "function" ? value.bind(t) : value;
          }
        }
        return undefined;
      },
      has(target, key): boolean {
        return key in target;
      },
    }),
  );
}

const ZERO_ADDR: Deno.NetAddr = Object.freeze({ transport: "tcp", hostname: "0.0.0.0", port: 0 });

/**
 * The first target's address (an all-zero TCP address when none has one).
 *
 * @param targets The transport's objects.
 * @param key Which address.
 */
export function addrOf(targets: readonly object[], key: "localAddr" | "remoteAddr"): Deno.Addr {
  for (const t of targets) {
    if (key in t) return (t as Record<string, Deno.Addr>)[key]!;
  }
  return ZERO_ADDR;
}

/**
 * Calls the first target's `ref` or `unref`, when one has it.
 *
 * @param targets The transport's objects.
 * @param key Which method.
 */
export function callOn(targets: readonly object[], key: "ref" | "unref"): void {
  for (const t of targets) {
    const fn = (t as Record<string, unknown>)[key];
    if (typeof fn === "function") {
      fn.call(t);
      return;
    }
  }
}
