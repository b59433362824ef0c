/**
 * Gives memory back from connections that wait for their peer a while.
 * Internal to denossl.
 *
 * A TLS connection between records needs none of OpenSSL's record buffers
 * (about 33 KiB), but freeing them at every wait costs a free and two
 * mallocs of 16 KiB per record, which showed as about 5 µs of CPU per
 * ping-pong round trip (glibc consolidates its fast bins on each of those
 * mallocs). So a wait only registers here (a set insert), and one timer,
 * armed while anything waits and unref'd so it never keeps a process alive,
 * releases the connections that were already waiting at the previous sweep:
 * a connection idle for one to two sweeps (25–50 ms) gives its buffers back,
 * a busy one never pays for it.
 *
 * @module
 */

/**
 * The method a waiting connection gives memory back through: a symbol, so
 * that a connection's wire is its own entry here (no object or closure of
 * its own per wait) without a public method.
 */
export const RELEASE_IDLE: unique symbol = Symbol("denossl.releaseIdle");

/** What a waiting connection can give back. */
export interface IdleReleasable {
  /** Frees what the connection does not need while it waits; must be safe to call any time. */
  [RELEASE_IDLE](): void;
}

/**
 * How often the sweeper looks; a wait is released after one to two of these.
 * Short, because a burst of new connections holds every record buffer until
 * its sweep (the memory workload of bench/README.md shows the difference);
 * a connection with a record at least this often never pays.
 */
export const IDLE_SWEEP_MS = 25;

/**
 * Connections that began waiting since the last sweep, and those that were
 * already waiting then. A sweep releases the second set (each of them has
 * waited a whole interval or more) and moves the first into its place: its
 * cost is the connections it releases, not all that wait.
 */
let recent = new Set<IdleReleasable>();
let settled = new Set<IdleReleasable>();
let timer: ReturnType<typeof setTimeout> | undefined;

/**
 * Records that `c` starts waiting for its peer.
 *
 * @param c The connection.
 */
export function waitBegins(c: IdleReleasable): void {
  if (!settled.has(c)) recent.add(c);
  if (timer === undefined) arm();
}

/**
 * Records that `c` stopped waiting (its data came, or it closed).
 *
 * @param c The connection.
 */
export function waitEnds(c: IdleReleasable): void {
  recent.delete(c);
  settled.delete(c);
}

/** How many connections wait now (for tests). */
export function waitingCount(): number {
  return recent.size + settled.size;
}

function arm(): void {
  const t = setTimeout(sweep, IDLE_SWEEP_MS);
  Deno.unrefTimer(t);
  timer = t;
}

function sweep(): void {
  timer = undefined;
  const idle = settled;
  settled = recent;
  recent = new Set();
  for (const c of idle) {
    try {
      c[RELEASE_IDLE]();
    } catch {
      // a connection closing under us: nothing to give back
    }
  }
  if (settled.size > 0) arm();
}
