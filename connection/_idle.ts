/**
 * Gives memory back from connections that wait for their peer a while.
 * Internal to denossl.
 *
 * A TLS connection between records needs none of OpenSSL's record buffers
 * (about 33 KiB), but freeing them at every wait costs a free and two
 * mallocs of 16 KiB per record, which showed as about 5 µs of CPU per
 * ping-pong round trip (glibc consolidates its fast bins on each of those
 * mallocs). So a wait only registers here (a map insert), and one timer,
 * armed while anything waits and unref'd so it never keeps a process alive,
 * releases the connections that were already waiting at the previous sweep:
 * a connection idle for 100–200 ms gives its buffers back, a busy one never
 * pays for it.
 *
 * @module
 */

/** What a waiting connection can give back. */
export interface IdleReleasable {
  /** Frees what the connection does not need while it waits; must be safe to call any time. */
  releaseIdle(): void;
}

/** How often the sweeper looks; a wait is released after one to two of these. */
export const IDLE_SWEEP_MS = 100;

/** Waiting connections → the sweep generation their wait began in. */
const waiting = new Map<IdleReleasable, number>();
let generation = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

/**
 * Records that `c` starts waiting for its peer.
 *
 * @param c The connection.
 */
export function waitBegins(c: IdleReleasable): void {
  waiting.set(c, generation);
  if (timer === undefined) arm();
}

/**
 * Records that `c` stopped waiting (its data came, or it closed).
 *
 * @param c The connection.
 */
export function waitEnds(c: IdleReleasable): void {
  waiting.delete(c);
}

/** How many connections wait now (for tests). */
export function waitingCount(): number {
  return waiting.size;
}

function arm(): void {
  const t = setTimeout(sweep, IDLE_SWEEP_MS);
  Deno.unrefTimer(t);
  timer = t;
}

function sweep(): void {
  timer = undefined;
  const current = generation++;
  for (const [c, since] of waiting) {
    if (since >= current) continue; // began waiting after the previous sweep: not idle long enough
    waiting.delete(c);
    try {
      c.releaseIdle();
    } catch {
      // a connection closing under us: nothing to give back
    }
  }
  if (waiting.size > 0) arm();
}
