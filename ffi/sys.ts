/**
 * The operating-system calls denossl needs (errno, sockets, descriptors,
 * readiness), from the C library: the one libc handle and the one errno
 * cell, opened lazily on first use. Internal.
 *
 * `epoll_wait`, `poll` are declared `nonblocking`: Deno runs them on a worker
 * thread and returns a promise, which is how the reactor waits without
 * blocking JavaScript.
 *
 * @module
 */

import { libcCandidates } from "./library.ts";
import { SYS_SYMBOLS } from "./symbols.ts";

/** The opened libc, with {@link SYS_SYMBOLS}. */
export type SysLibrary = Deno.DynamicLibrary<typeof SYS_SYMBOLS>["symbols"];

let sysLib: SysLibrary | null = null;

/**
 * The libc symbols, opened on first use.
 *
 * @returns The symbols.
 * @throws {Error} On Windows (native mode needs POSIX sockets) or when libc cannot be opened.
 */
export function sys(): SysLibrary {
  if (sysLib !== null) return sysLib;
  if (Deno.build.os === "windows") {
    throw new Error("Native mode needs POSIX descriptors; it is not available on Windows");
  }
  const reasons: string[] = [];
  for (const path of libcCandidates()) {
    try {
      sysLib = Deno.dlopen(path, SYS_SYMBOLS).symbols;
      return sysLib;
    } catch (e) {
      reasons.push(`${path}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
  }
  throw new Error(`Could not open the C library: ${reasons.join("; ")}`);
}

// errno lives at a fixed address per thread, and every call that sets it runs on the JS
// thread: look it up once and keep a view of it (no FFI call or allocation per read).
let errnoCell: Int32Array | null | undefined;

function errnoView(): Int32Array | null {
  if (errnoCell !== undefined) return errnoCell;
  let lib: SysLibrary;
  try {
    lib = sys();
  } catch {
    errnoCell = null; // Windows, or no C library: errno reads as 0
    return null;
  }
  const loc = lib.__errno_location?.() ?? lib.__error?.() ?? null;
  // getArrayBuffer views the native memory itself, so writes land in errno.
  errnoCell = loc === null ? null : new Int32Array(Deno.UnsafePointerView.getArrayBuffer(loc, 4));
  return errnoCell;
}

/**
 * The calling thread's `errno` (the JS thread's): denossl's one errno cell.
 *
 * @returns errno, or 0 where it cannot be read.
 */
export function lastErrno(): number {
  const view = errnoView();
  return view === null ? 0 : view[0]!;
}

/**
 * Sets the JS thread's `errno` (to 0 before an SSL call, so that a value
 * found afterwards belongs to that call).
 *
 * @param value The new errno.
 */
export function setLastErrno(value: number): void {
  const view = errnoView();
  if (view !== null) view[0] = value;
}

const IS_LINUX = Deno.build.os === "linux" || Deno.build.os === "android";

/** errno values native mode reports by name. */
export const ERRNO = IS_LINUX
  ? { EBADF: 9, EPIPE: 32, ENOTSOCK: 88, ECONNABORTED: 103, ECONNRESET: 104 }
  : { EBADF: 9, EPIPE: 32, ENOTSOCK: 38, ECONNABORTED: 53, ECONNRESET: 54 };

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = IS_LINUX ? 0x800 : 0x4;
const SOL_SOCKET = IS_LINUX ? 1 : 0xffff;
const SO_TYPE = IS_LINUX ? 3 : 0x1008;
/** `SOCK_STREAM` (1 on Linux and BSDs). */
export const SOCK_STREAM = 1;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = IS_LINUX ? 10 : Deno.build.os === "darwin" ? 30 : 28;

/** A socket address as read from `getsockname`/`getpeername`. */
export type SockAddr =
  | { family: "inet"; address: Uint8Array; port: number }
  | { family: "unix"; path: string }
  | { family: "other" };

/**
 * The socket type of a descriptor (`getsockopt(SO_TYPE)`).
 *
 * @param fd The descriptor.
 * @returns `SOCK_STREAM`, `SOCK_DGRAM`, ... or `-errno` when it is not a socket or not open.
 */
export function socketType(fd: number): number {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  const ret = sys().getsockopt(fd, SOL_SOCKET, SO_TYPE, value, len);
  return ret === 0 ? value[0]! : -lastErrno();
}

const addrBuf = new Uint8Array(128);
const addrLen = new Uint32Array(1);

/**
 * Reads a socket's local or peer address.
 *
 * @param fd The descriptor.
 * @param which `"local"` (`getsockname`) or `"peer"` (`getpeername`).
 * @returns The address, or null when the call fails (not a socket, not connected).
 */
export function socketAddress(fd: number, which: "local" | "peer"): SockAddr | null {
  addrLen[0] = addrBuf.length;
  addrBuf.fill(0);
  const lib = sys();
  const ret = which === "local"
    ? lib.getsockname(fd, addrBuf, addrLen)
    : lib.getpeername(fd, addrBuf, addrLen);
  if (ret !== 0) return null;
  // Linux: u16 family at 0. BSD/macOS: u8 length, u8 family.
  const family = IS_LINUX ? addrBuf[0]! | (addrBuf[1]! << 8) : addrBuf[1]!;
  const port = (addrBuf[2]! << 8) | addrBuf[3]!;
  if (family === AF_INET) return { family: "inet", address: addrBuf.slice(4, 8), port };
  if (family === AF_INET6) return { family: "inet", address: addrBuf.slice(8, 24), port };
  if (family === AF_UNIX) {
    const end = Math.min(addrLen[0]!, addrBuf.length);
    let stop = 2;
    while (stop < end && addrBuf[stop] !== 0) stop++;
    return { family: "unix", path: new TextDecoder().decode(addrBuf.subarray(2, stop)) };
  }
  return { family: "other" };
}

/**
 * Whether a socket's local or peer address is this IP and port, without
 * allocating (a descriptor search tries many): IPv4-mapped IPv6 addresses
 * equal their IPv4 form.
 *
 * @param fd The descriptor.
 * @param which `"local"` (`getsockname`) or `"peer"` (`getpeername`).
 * @param port The port.
 * @param ip 4 or 16 address bytes (`parseIp` of `ffi/ip.ts`).
 * @returns True on a match; false otherwise, also when the call fails.
 */
export function socketIs(
  fd: number,
  which: "local" | "peer",
  port: number,
  ip: Uint8Array,
): boolean {
  addrLen[0] = addrBuf.length;
  const lib = sys();
  const ret = which === "local"
    ? lib.getsockname(fd, addrBuf, addrLen)
    : lib.getpeername(fd, addrBuf, addrLen);
  if (ret !== 0) return false;
  if (((addrBuf[2]! << 8) | addrBuf[3]!) !== port) return false;
  const family = IS_LINUX ? addrBuf[0]! | (addrBuf[1]! << 8) : addrBuf[1]!;
  if (family === AF_INET) return bytesAre(addrBuf, 4, 4, ip);
  if (family === AF_INET6) return bytesAre(addrBuf, 8, 16, ip);
  return false;
}

/** Compares an address in `buf` (at `off`, `len` bytes) with `ip`, mapping IPv4 into IPv6. */
function bytesAre(buf: Uint8Array, off: number, len: number, ip: Uint8Array): boolean {
  if (len === ip.length) {
    for (let i = 0; i < len; i++) if (buf[off + i] !== ip[i]) return false;
    return true;
  }
  // One side is IPv4 (4 bytes), the other IPv6: equal only as ::ffff:a.b.c.d.
  const [v6, v6off, v4, v4off] = len === 16 ? [buf, off, ip, 0] : [ip, 0, buf, off];
  for (let i = 0; i < 10; i++) if (v6[v6off + i] !== 0) return false;
  if (v6[v6off + 10] !== 0xff || v6[v6off + 11] !== 0xff) return false;
  for (let i = 0; i < 4; i++) if (v6[v6off + 12 + i] !== v4[v4off + i]) return false;
  return true;
}

/**
 * Sets `O_NONBLOCK` on a descriptor (shared by every duplicate of it).
 *
 * @param fd The descriptor.
 * @returns True on success.
 */
export function setNonBlocking(fd: number): boolean {
  const lib = sys();
  const flags = lib.fcntl(fd, F_GETFL, 0);
  if (flags < 0) return false;
  if (flags & O_NONBLOCK) return true;
  return lib.fcntl(fd, F_SETFL, flags | O_NONBLOCK) === 0;
}

/**
 * Whether a descriptor is in non-blocking mode.
 *
 * @param fd The descriptor.
 * @returns True when `O_NONBLOCK` is set.
 */
export function isNonBlocking(fd: number): boolean {
  const flags = sys().fcntl(fd, F_GETFL, 0);
  return flags >= 0 && (flags & O_NONBLOCK) !== 0;
}

const SO_COOKIE = 57; // Linux 4.12+: a number unique to each socket for the kernel's lifetime

/**
 * The kernel's cookie of a socket (`getsockopt(SO_COOKIE)`): equal for two
 * descriptors exactly when they refer to the same socket.
 *
 * @param fd The descriptor.
 * @returns The cookie, or null where it cannot be read (not Linux, an older
 *   kernel, not a socket, not open).
 */
export function socketCookie(fd: number): bigint | null {
  if (!IS_LINUX) return null;
  cookieLen[0] = 8;
  return sys().getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookieBuf, cookieLen) === 0
    ? cookieValue[0]!
    : null;
}
const cookieValue = new BigUint64Array(1);
const cookieBuf = new Uint8Array(cookieValue.buffer);
const cookieLen = new Uint32Array(1);

const RLIMIT_NOFILE = IS_LINUX ? 7 : 8;
/** Past this, a descriptor number cannot exist on Linux (`fs.nr_open`'s default ceiling). */
const MAX_DESCRIPTORS = 1 << 20;

/**
 * How many descriptor numbers this process can use: the soft
 * `RLIMIT_NOFILE` limit (every open descriptor is below it), at most 2^20.
 *
 * @returns The limit; 65536 where it cannot be read.
 */
export function descriptorLimit(): number {
  const rlim = new BigUint64Array(2);
  if (sys().getrlimit(RLIMIT_NOFILE, rlim) !== 0) return 65536;
  const soft = rlim[0]!;
  return soft > BigInt(MAX_DESCRIPTORS) ? MAX_DESCRIPTORS : Math.max(Number(soft), 3);
}

const POLLNVAL = 0x20;
const POLL_BATCH = 1024;
const pollFds = new Uint8Array(8 * POLL_BATCH);
const pollView = new DataView(pollFds.buffer);

/**
 * Calls `visit` with every open descriptor in `[0, limit)`, in ascending
 * order, asking the kernel about 1024 numbers per `poll` (timeout 0) so that
 * free numbers cost no call each. Stops when `visit` returns true.
 *
 * @param limit The first number not looked at.
 * @param visit Called per open descriptor; true ends the walk.
 * @param from The first number looked at.
 * @returns The descriptor `visit` accepted, or null.
 */
export function findOpenDescriptor(
  limit: number,
  visit: (fd: number) => boolean,
  from = 0,
): number | null {
  const lib = sys();
  for (let base = from; base < limit; base += POLL_BATCH) {
    const count = Math.min(POLL_BATCH, limit - base);
    for (let i = 0; i < count; i++) {
      pollView.setInt32(i * 8, base + i, true);
      pollView.setInt32(i * 8 + 4, 0, true); // events 0, revents 0: only POLLNVAL can come back
    }
    if (lib.poll_now(pollFds, BigInt(count), 0) < 0) {
      // poll refused the batch (EINVAL past RLIMIT_NOFILE, ENOMEM): look at each number instead
      for (let fd = base; fd < base + count; fd++) if (visit(fd)) return fd;
      continue;
    }
    for (let i = 0; i < count; i++) {
      if ((pollView.getInt16(i * 8 + 6, true) & POLLNVAL) !== 0) continue;
      if (visit(base + i)) return base + i;
    }
  }
  return null;
}

/** `send` flags: never block, never raise SIGPIPE (Linux values; 0 elsewhere). */
export const SEND_NOWAIT = IS_LINUX ? 0x40 | 0x4000 : 0;
/** `EAGAIN` / `EWOULDBLOCK` and `EINTR`: a send that may succeed later. */
export const SEND_RETRY_ERRNOS: readonly number[] = IS_LINUX ? [11, 4] : [35, 4];
