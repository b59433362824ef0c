/**
 * Shared pieces of the reliability tools (`soak.ts`, `fuzz.ts`) and tests:
 * an in-memory duplex transport pair, memory sampling, and a seeded PRNG.
 * Development only: not published.
 *
 * @module
 */

/** One end of an in-memory duplex: a stream transport a `Connection` accepts. */
export interface MemoryEnd {
  /** Reads what the other end wrote; null once the other end closed its writing side. */
  read(p: Uint8Array): Promise<number | null>;
  /** Queues bytes for the other end (a copy). */
  write(p: Uint8Array): Promise<number>;
  /** Ends this end's writing side. */
  closeWrite(): Promise<void>;
  /** Closes both directions. */
  close(): void;
  /** Bytes written by this end that the other end has not read yet. */
  readonly unread: number;
}

class Queue {
  chunks: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  waiter: (() => void) | null = null;
  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

function end(inbound: Queue, outbound: Queue): MemoryEnd {
  return {
    async read(p: Uint8Array): Promise<number | null> {
      while (inbound.chunks.length === 0) {
        if (inbound.ended) return null;
        await new Promise<void>((r) => (inbound.waiter = r));
      }
      const chunk = inbound.chunks[0]!;
      const n = Math.min(p.length, chunk.length);
      p.set(chunk.subarray(0, n));
      if (n < chunk.length) inbound.chunks[0] = chunk.subarray(n);
      else inbound.chunks.shift();
      inbound.bytes -= n;
      return n;
    },
    write(p: Uint8Array): Promise<number> {
      if (outbound.ended) {
        return Promise.reject(new Deno.errors.BrokenPipe("The other end is closed"));
      }
      outbound.chunks.push(p.slice());
      outbound.bytes += p.length;
      outbound.wake();
      return Promise.resolve(p.length);
    },
    closeWrite(): Promise<void> {
      outbound.ended = true;
      outbound.wake();
      return Promise.resolve();
    },
    close(): void {
      outbound.ended = true;
      outbound.wake();
      inbound.ended = true;
      inbound.chunks = [];
      inbound.bytes = 0;
      inbound.wake();
    },
    get unread(): number {
      return outbound.bytes;
    },
  };
}

/**
 * Two connected in-memory stream transports: what one writes, the other reads.
 *
 * @returns The two ends.
 */
export function memoryDuplex(): [MemoryEnd, MemoryEnd] {
  const ab = new Queue();
  const ba = new Queue();
  return [end(ba, ab), end(ab, ba)];
}

/**
 * Runs the garbage collector (needs `--v8-flags=--expose-gc`) and lets
 * finalizers run, a few times.
 *
 * @param rounds How many collections.
 */
export async function collect(rounds = 3): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("Run with --v8-flags=--expose-gc");
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** glibc's allocator statistics and trimming, when this is Linux with glibc. */
type Glibc = {
  mallinfo2(): Uint8Array;
  malloc_trim(pad: bigint): number;
};
let glibc: Glibc | null | undefined;

function openGlibc(): Glibc | null {
  if (glibc !== undefined) return glibc;
  try {
    glibc = Deno.dlopen("libc.so.6", {
      mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
      malloc_trim: { parameters: ["usize"], result: "i32" },
    }).symbols as unknown as Glibc;
  } catch {
    glibc = null;
  }
  return glibc;
}

/** One memory reading, taken after full garbage collections. */
export interface MemorySample {
  /**
   * Resident set size after `malloc_trim(0)`: free memory glibc keeps in its
   * arenas (garbage freed by the last collection) is given back first, so
   * what remains is memory in use. Equal to {@link rssRaw} without glibc.
   */
  rss: number;
  /** Resident set size before trimming (the first sample's). */
  rssRaw: number;
  /**
   * The anonymous part of {@link rss} after trimming (Linux `RssAnon`): heap
   * memory, without the pages of the executable and libraries that code paths
   * touch for the first time. Equal to {@link rss} where unknown.
   */
  rssAnon: number;
  /** Bytes malloc has handed out and not had back (`mallinfo2`: uordblks + hblkhd), or -1. */
  mallocInUse: number;
  /** Bytes malloc holds from the system (`mallinfo2`: arena + hblkhd), or -1. */
  mallocHeld: number;
  /** V8 heap in use. */
  heapUsed: number;
  /** V8 heap reserved. */
  heapTotal: number;
}

/** `RssAnon` of `/proc/self/status` in bytes, or null off Linux. */
function anonymousRss(): number | null {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/^RssAnon:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * The median of several memory samples, each after full garbage collections.
 *
 * @param samples How many samples.
 * @returns The median of each figure.
 */
export async function memorySample(samples = 5): Promise<MemorySample> {
  const libc = openGlibc();
  const taken: MemorySample[] = [];
  for (let i = 0; i < samples; i++) {
    await collect(2);
    const rssRaw = Deno.memoryUsage().rss;
    let mallocInUse = -1;
    let mallocHeld = -1;
    if (libc) {
      libc.malloc_trim(0n);
      const info = libc.mallinfo2();
      const v = new BigUint64Array(info.buffer, info.byteOffset, 10);
      mallocInUse = Number(v[7]!) + Number(v[4]!);
      mallocHeld = Number(v[0]!) + Number(v[4]!);
    }
    const { rss, heapUsed, heapTotal } = Deno.memoryUsage();
    taken.push({
      rss,
      rssRaw,
      rssAnon: anonymousRss() ?? rss,
      mallocInUse,
      mallocHeld,
      heapUsed,
      heapTotal,
    });
  }
  const median = (k: keyof MemorySample): number => {
    const values = taken.map((t) => t[k]).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  return {
    rss: median("rss"),
    rssRaw: taken[0]!.rssRaw, // before any trim
    rssAnon: median("rssAnon"),
    mallocInUse: median("mallocInUse"),
    mallocHeld: median("mallocHeld"),
    heapUsed: median("heapUsed"),
    heapTotal: median("heapTotal"),
  };
}

/**
 * A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence.
 *
 * @param seed A 32-bit integer.
 * @returns A function giving integers in [0, n).
 */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Parses `--name value` and `--flag` arguments.
 *
 * @param args The command line.
 * @param defaults The known options with their defaults.
 * @returns The options.
 * @throws {TypeError} On an unknown option or a bad number.
 */
export function parseOptions<T extends Record<string, number | boolean | string>>(
  args: readonly string[],
  defaults: T,
): T {
  const out: Record<string, number | boolean | string> = { ...defaults };
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.replace(/^--/, "");
    if (!(name in defaults) || !args[i]!.startsWith("--")) {
      throw new TypeError(`Unknown option ${args[i]}; known: ${Object.keys(defaults).join(", ")}`);
    }
    const kind = typeof defaults[name];
    if (kind === "boolean") {
      out[name] = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined) throw new TypeError(`--${name} needs a value`);
    if (kind === "number") {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new TypeError(`--${name} must be a number`);
      out[name] = n;
    } else out[name] = value;
  }
  return out as T;
}
