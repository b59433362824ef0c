/**
 * The reactor: one shared readiness waiter for every native-mode connection.
 *
 * - One outstanding `nonblocking` wait at most (`epoll_wait` on Linux,
 *   `kevent` on macOS, `poll` elsewhere), run by Deno on a worker thread.
 * - Interest is one-shot: `wait(fd, "read")` resolves once, the next wait
 *   registers again.
 * - A wake-up descriptor (an `eventfd`, or a pipe) interrupts the wait to
 *   re-arm (poll) or to stop; when nothing waits, no wait is pending, so the
 *   process can exit and Deno's op sanitizer sees nothing outstanding.
 *
 * Internal: connections use {@link reactor}; `DENOSSL_REACTOR=poll` forces
 * the poll backend.
 *
 * @module
 */

import { lastErrno, sys } from "./sys.ts";

/** Which readiness a waiter needs. */
export type Interest = "read" | "write";

/** The readiness-waiting mechanism in use. */
export type ReactorBackend = "epoll" | "kqueue" | "poll";

/** A readiness waiter shared by native-mode connections. */
export interface Reactor {
  /** The mechanism in use. */
  readonly backend: ReactorBackend;
  /**
   * Resolves once `fd` is ready for `interest` (or has an error or hang-up,
   * which the next I/O call reports).
   */
  wait(fd: number, interest: Interest): Promise<void>;
  /**
   * Forgets `fd`: rejects its waiters with `reason` and deregisters it. Call it
   * before closing the descriptor.
   */
  cancel(fd: number, reason: unknown): void;
  /** Whether a native wait is outstanding. */
  readonly pending: boolean;
  /** How many waiters are registered. */
  readonly waiters: number;
  /** Resolves once no native wait is outstanding. */
  idle(): Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

interface Entry {
  read: Waiter[];
  write: Waiter[];
}

const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EPOLLERR = 0x8;
const EPOLLHUP = 0x10;
const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const CLOEXEC = 0x80000; // EPOLL_CLOEXEC, EFD_CLOEXEC (Linux)
const EFD_NONBLOCK = 0x800;

const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;

/** `struct epoll_event` is packed on x86-64 (12 bytes), padded elsewhere (16). */
const EPOLL_EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 256;

/** The backend-specific part: arm one-shot interest, wait, wake. */
interface Backend {
  readonly name: ReactorBackend;
  /** Registers (or re-registers) one-shot interest in `mask` (bit 1 read, bit 2 write). */
  arm(fd: number, read: boolean, write: boolean): void;
  /** Drops `fd`. */
  forget(fd: number): void;
  /** Waits; returns `[fd, readable, writable]` triples (errors count as both). */
  wait(): Promise<Array<[number, boolean, boolean]>>;
  /** Interrupts a pending wait. */
  wake(): void;
  /** Whether an armed registration must interrupt a pending wait to be seen. */
  readonly armNeedsWake: boolean;
}

class Core implements Reactor {
  readonly #entries = new Map<number, Entry>();
  readonly #backend: Backend;
  #count = 0;
  #loop: Promise<void> | null = null;
  #waiting = false;
  #woken = false;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get backend(): ReactorBackend {
    return this.#backend.name;
  }

  get pending(): boolean {
    return this.#waiting;
  }

  get waiters(): number {
    return this.#count;
  }

  idle(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  wait(fd: number, interest: Interest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let entry = this.#entries.get(fd);
      if (entry === undefined) {
        entry = { read: [], write: [] };
        this.#entries.set(fd, entry);
      }
      entry[interest].push({ resolve, reject });
      this.#count++;
      try {
        this.#backend.arm(fd, entry.read.length > 0, entry.write.length > 0);
      } catch (e) {
        entry[interest].pop();
        this.#count--;
        reject(e);
        return;
      }
      if (this.#waiting && this.#backend.armNeedsWake) this.#wakeOnce();
      this.#loop ??= this.#run();
    });
  }

  cancel(fd: number, reason: unknown): void {
    const entry = this.#entries.get(fd);
    this.#entries.delete(fd);
    this.#backend.forget(fd);
    if (entry !== undefined) {
      const all = [...entry.read, ...entry.write];
      this.#count -= all.length;
      for (const w of all) w.reject(reason);
    }
    // Nothing left to wait for: end the pending wait so nothing stays outstanding.
    if (this.#count === 0 && this.#waiting) this.#wakeOnce();
  }

  #wakeOnce(): void {
    if (this.#woken) return;
    this.#woken = true;
    this.#backend.wake();
  }

  async #run(): Promise<void> {
    try {
      let failures = 0;
      while (this.#count > 0) {
        this.#waiting = true;
        let ready: Array<[number, boolean, boolean]>;
        try {
          ready = await this.#backend.wait();
          failures = 0;
        } catch (e) {
          if (++failures < 8) continue;
          this.#failAll(e);
          break;
        } finally {
          this.#waiting = false;
          this.#woken = false;
        }
        for (const [fd, readable, writable] of ready) this.#dispatch(fd, readable, writable);
        // Let woken tasks run and register again before the next wait, so
        // poll needs no extra wake-up and epoll sees the new interest at once.
        await Promise.resolve();
      }
    } finally {
      this.#loop = null;
      if (this.#count > 0) this.#loop = this.#run(); // interest arrived as the loop ended
    }
  }

  #dispatch(fd: number, readable: boolean, writable: boolean): void {
    const entry = this.#entries.get(fd);
    if (entry === undefined) return;
    const woken: Waiter[] = [];
    if (readable && entry.read.length > 0) woken.push(...entry.read.splice(0));
    if (writable && entry.write.length > 0) woken.push(...entry.write.splice(0));
    this.#count -= woken.length;
    if (entry.read.length > 0 || entry.write.length > 0) {
      this.#backend.arm(fd, entry.read.length > 0, entry.write.length > 0);
    }
    for (const w of woken) w.resolve();
  }

  #failAll(e: unknown): void {
    const error = new Error("The reactor's readiness wait keeps failing", { cause: e });
    for (const [fd, entry] of this.#entries) {
      this.#backend.forget(fd);
      for (const w of [...entry.read, ...entry.write]) w.reject(error);
    }
    this.#entries.clear();
    this.#count = 0;
  }
}

function wakeFd(): { read: number; write: number } {
  const lib = sys();
  if (lib.eventfd) {
    const fd = lib.eventfd(0, CLOEXEC | EFD_NONBLOCK);
    if (fd >= 0) return { read: fd, write: fd };
  }
  const fds = new Int32Array(2);
  if (lib.pipe(fds) !== 0) throw new Error(`pipe() failed (errno ${lastErrno()})`);
  return { read: fds[0]!, write: fds[1]! };
}

const WAKE_BYTES = new Uint8Array(new BigUint64Array([1n]).buffer);
const DRAIN = new Uint8Array(64);

function drain(fd: number): void {
  const lib = sys();
  while (Number(lib.read(fd, DRAIN, BigInt(DRAIN.length))) > 0) {
    // an eventfd drains in one read; a pipe may hold several wake-ups
  }
}

function epollBackend(): Backend {
  const lib = sys();
  const epfd = lib.epoll_create1!(CLOEXEC);
  if (epfd < 0) throw new Error(`epoll_create1 failed (errno ${lastErrno()})`);
  const wake = wakeFd();
  const ev = new Uint8Array(EPOLL_EVENT_SIZE);
  const evView = new DataView(ev.buffer);
  const ctl = (op: number, fd: number, events: number): number => {
    evView.setUint32(0, events, true);
    evView.setBigUint64(EPOLL_DATA_OFFSET, BigInt(fd), true);
    return lib.epoll_ctl!(epfd, op, fd, ev);
  };
  if (ctl(EPOLL_CTL_ADD, wake.read, EPOLLIN) !== 0) {
    throw new Error(`epoll_ctl on the wake-up descriptor failed (errno ${lastErrno()})`);
  }
  const registered = new Set<number>();
  const events = new Uint8Array(EPOLL_EVENT_SIZE * MAX_EVENTS);
  const eventsView = new DataView(events.buffer);
  return {
    name: "epoll",
    armNeedsWake: false,
    arm(fd, read, write): void {
      const mask = (read ? EPOLLIN : 0) | (write ? EPOLLOUT : 0) | EPOLLONESHOT;
      const op = registered.has(fd) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
      if (ctl(op, fd, mask) !== 0) {
        const err = lastErrno();
        // The registration may have vanished with a closed duplicate: add it again.
        if (op === EPOLL_CTL_MOD && ctl(EPOLL_CTL_ADD, fd, mask) === 0) return;
        throw new Error(`epoll_ctl(${fd}) failed (errno ${err})`);
      }
      registered.add(fd);
    },
    forget(fd): void {
      if (registered.delete(fd)) ctl(EPOLL_CTL_DEL, fd, 0);
    },
    async wait(): Promise<Array<[number, boolean, boolean]>> {
      const n = await lib.epoll_wait!(epfd, events, MAX_EVENTS, -1);
      if (n < 0) return []; // EINTR (errno belongs to the worker thread; retry)
      const out: Array<[number, boolean, boolean]> = [];
      for (let i = 0; i < n; i++) {
        const base = i * EPOLL_EVENT_SIZE;
        const mask = eventsView.getUint32(base, true);
        const fd = Number(eventsView.getBigUint64(base + EPOLL_DATA_OFFSET, true));
        if (fd === wake.read) {
          drain(wake.read);
          continue;
        }
        const error = (mask & (EPOLLERR | EPOLLHUP)) !== 0;
        out.push([fd, error || (mask & EPOLLIN) !== 0, error || (mask & EPOLLOUT) !== 0]);
      }
      return out;
    },
    wake(): void {
      lib.write(wake.write, WAKE_BYTES, 8n);
    },
  };
}

function pollBackend(): Backend {
  const lib = sys();
  const wake = wakeFd();
  const interest = new Map<number, number>(); // fd -> POLLIN|POLLOUT
  let fds = new Uint8Array(8 * 16);
  return {
    name: "poll",
    armNeedsWake: true,
    arm(fd, read, write): void {
      interest.set(fd, (read ? POLLIN : 0) | (write ? POLLOUT : 0));
    },
    forget(fd): void {
      interest.delete(fd);
    },
    async wait(): Promise<Array<[number, boolean, boolean]>> {
      const count = interest.size + 1;
      if (fds.length < count * 8) fds = new Uint8Array(count * 16);
      const view = new DataView(fds.buffer);
      view.setInt32(0, wake.read, true);
      view.setInt16(4, POLLIN, true);
      view.setInt16(6, 0, true);
      let i = 1;
      for (const [fd, events] of interest) {
        view.setInt32(i * 8, fd, true);
        view.setInt16(i * 8 + 4, events, true);
        view.setInt16(i * 8 + 6, 0, true);
        i++;
      }
      const n = await lib.poll(fds, BigInt(count), -1);
      if (n < 0) return [];
      const out: Array<[number, boolean, boolean]> = [];
      if (view.getInt16(6, true) !== 0) drain(wake.read);
      for (let j = 1; j < count; j++) {
        const revents = view.getInt16(j * 8 + 6, true);
        if (revents === 0) continue;
        const fd = view.getInt32(j * 8, true);
        const error = (revents & (POLLERR | POLLHUP | POLLNVAL)) !== 0;
        const readable = error || (revents & POLLIN) !== 0;
        const writable = error || (revents & POLLOUT) !== 0;
        // One-shot: what fired is no longer of interest.
        const left = (interest.get(fd) ?? 0) & ~(readable ? POLLIN : 0) & ~(writable ? POLLOUT : 0);
        if (left === 0) interest.delete(fd);
        else interest.set(fd, left);
        out.push([fd, readable, writable]);
      }
      return out;
    },
    wake(): void {
      lib.write(wake.write, WAKE_BYTES, BigInt(wake.read === wake.write ? 8 : 1));
    },
  };
}

// kqueue (macOS: struct kevent is 32 bytes; FreeBSD's is larger, so it uses poll).
const EVFILT_READ = -1;
const EVFILT_WRITE = -2;
const EVFILT_USER = -10;
const EV_ADD = 0x1;
const EV_DELETE = 0x2;
const EV_ONESHOT = 0x10;
const EV_CLEAR = 0x20;
const EV_ERROR = 0x4000;
const EV_EOF = 0x8000;
const NOTE_TRIGGER = 0x01000000;
const KEVENT_SIZE = 32;

function kqueueBackend(): Backend {
  const lib = sys();
  const kq = lib.kqueue!();
  if (kq < 0) throw new Error(`kqueue failed (errno ${lastErrno()})`);
  const change = new Uint8Array(KEVENT_SIZE * 2);
  const changeView = new DataView(change.buffer);
  const set = (i: number, ident: number, filter: number, flags: number, fflags = 0): void => {
    const b = i * KEVENT_SIZE;
    change.fill(0, b, b + KEVENT_SIZE);
    changeView.setBigUint64(b, BigInt(ident), true);
    changeView.setInt16(b + 8, filter, true);
    changeView.setUint16(b + 10, flags, true);
    changeView.setUint32(b + 12, fflags, true);
  };
  const apply = (count: number): number => lib.kevent!(kq, change, count, null, 0, null);
  set(0, 0, EVFILT_USER, EV_ADD | EV_CLEAR);
  if (apply(1) !== 0) throw new Error(`kevent(EVFILT_USER) failed (errno ${lastErrno()})`);
  const events = new Uint8Array(KEVENT_SIZE * MAX_EVENTS);
  const eventsView = new DataView(events.buffer);
  return {
    name: "kqueue",
    armNeedsWake: false,
    arm(fd, read, write): void {
      let n = 0;
      if (read) set(n++, fd, EVFILT_READ, EV_ADD | EV_ONESHOT);
      if (write) set(n++, fd, EVFILT_WRITE, EV_ADD | EV_ONESHOT);
      if (n > 0 && apply(n) !== 0) throw new Error(`kevent(${fd}) failed (errno ${lastErrno()})`);
    },
    forget(fd): void {
      set(0, fd, EVFILT_READ, EV_DELETE);
      apply(1); // ENOENT when not armed: nothing to undo
      set(0, fd, EVFILT_WRITE, EV_DELETE);
      apply(1);
    },
    async wait(): Promise<Array<[number, boolean, boolean]>> {
      const n = await lib.kevent_wait!(kq, null, 0, events, MAX_EVENTS, null);
      if (n < 0) return [];
      const byFd = new Map<number, [number, boolean, boolean]>();
      for (let i = 0; i < n; i++) {
        const b = i * KEVENT_SIZE;
        const filter = eventsView.getInt16(b + 8, true);
        if (filter === EVFILT_USER) continue;
        const fd = Number(eventsView.getBigUint64(b, true));
        const flags = eventsView.getUint16(b + 10, true);
        const error = (flags & (EV_ERROR | EV_EOF)) !== 0;
        const entry = byFd.get(fd) ?? [fd, false, false];
        if (filter === EVFILT_READ || error) entry[1] = true;
        if (filter === EVFILT_WRITE || error) entry[2] = true;
        byFd.set(fd, entry);
      }
      return [...byFd.values()];
    },
    wake(): void {
      set(0, 0, EVFILT_USER, 0, NOTE_TRIGGER);
      apply(1);
    },
  };
}

/** Builds the reactor with a backend: the best the platform has unless one is asked for. */
function createReactor(options: { backend?: ReactorBackend } = {}): Reactor {
  const lib = sys();
  const backend = options.backend ??
    (lib.epoll_create1 ? "epoll" : Deno.build.os === "darwin" && lib.kqueue ? "kqueue" : "poll");
  if (backend === "kqueue") {
    if (Deno.build.os !== "darwin" || !lib.kqueue || !lib.kevent || !lib.kevent_wait) {
      throw new Error("kqueue is only used on macOS");
    }
    return new Core(kqueueBackend());
  }
  if (backend === "epoll") {
    if (!lib.epoll_create1 || !lib.epoll_ctl || !lib.epoll_wait) {
      throw new Error("epoll is not available on this platform");
    }
    return new Core(epollBackend());
  }
  return new Core(pollBackend());
}

let shared: Reactor | null = null;

/**
 * The process-wide reactor, created on first use. `DENOSSL_REACTOR=poll`
 * (read only when env permission is granted) forces the poll backend.
 *
 * @returns The reactor.
 */
export function reactor(): Reactor {
  if (shared !== null) return shared;
  let backend: ReactorBackend | undefined;
  try {
    const status = Deno.permissions.querySync?.({ name: "env", variable: "DENOSSL_REACTOR" });
    if (status?.state === "granted" && Deno.env.get("DENOSSL_REACTOR") === "poll") {
      backend = "poll";
    }
  } catch {
    // no env access: the platform default
  }
  shared = createReactor(backend === undefined ? {} : { backend });
  return shared;
}
