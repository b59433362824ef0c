/**
 * Native mode's descriptor work: find a transport's socket, duplicate it,
 * make it non-blocking, close it. Internal.
 *
 * @module
 */

import {
  ERRNO,
  lastErrno,
  setNonBlocking,
  SOCK_STREAM,
  socketAddress,
  socketIs,
  socketType,
  sys,
} from "../ffi/sys.ts";
import { parseIp } from "../ffi/ip.ts";

/** A socket OpenSSL reads and writes itself. */
export interface NativeEndpoint {
  /** Our duplicate of the transport's descriptor (-1 once closed). */
  fd: number;
  /** The transport, for passthrough, `close()` and addresses. */
  readonly targets: object[];
  /** The descriptor a search found and duplicated (-1 for a given `fd`). */
  readonly original?: number;
}

/** Why native mode was not used: the connection falls back to stream mode. */
export interface NativeFallback {
  readonly reason: string;
}

/** Descriptors this process duplicated for native connections (never matched by a search). */
const ours = new Set<number>();
/**
 * Transports' descriptors we hold a duplicate of, with how many duplicates:
 * a search tries them last. A claim can go stale when a transport is closed
 * behind our back and its number reused, so it only orders the search.
 */
const claimed = new Map<number, number>();

function claim(fd: number): void {
  claimed.set(fd, (claimed.get(fd) ?? 0) + 1);
}

function unclaim(fd: number): void {
  const n = claimed.get(fd) ?? 0;
  if (n <= 1) claimed.delete(fd);
  else claimed.set(fd, n - 1);
}
/** How far a search for a TCP socket's descriptor goes when native mode is asked for. */
const NATIVE_SCAN_LIMIT = 16384;

function hasFn(o: Record<string, unknown>, key: string): boolean {
  return typeof o[key] === "function";
}

/**
 * Decides a transport's mode.
 *
 * @param transport The user's transport.
 * @param wantNative Whether `{ native: true }` was given.
 * @returns An endpoint for native mode, a fallback reason when native mode
 *   was asked for and cannot be had, or null for stream mode.
 * @throws {RangeError} When `fd` is not a non-negative integer.
 * @throws {Deno.errors.BadResource} When `fd` is not an open descriptor.
 * @throws {TypeError} When `fd` is not a stream socket.
 */
export function resolveNative(
  transport: object,
  wantNative: boolean,
): NativeEndpoint | NativeFallback | null {
  const t = transport as Record<string, unknown>;
  // An object that also reads and writes is a stream unless native mode is asked for.
  const isStream = hasFn(t, "read") && hasFn(t, "write");
  if (!isStream || wantNative) {
    if (t.fd !== undefined) return adopt(t.fd, transport);
    if (hasFn(t, "fileno")) return adopt((t.fileno as () => unknown).call(t), transport);
  }
  if (!wantNative) return null;
  if (Deno.build.os === "windows") return { reason: "native mode needs POSIX descriptors" };
  const local = t.localAddr as Deno.Addr | undefined;
  const remote = t.remoteAddr as Deno.Addr | undefined;
  if (local === undefined || remote === undefined) {
    return { reason: "the transport has no localAddr/remoteAddr to find its descriptor by" };
  }
  let found: number[];
  try {
    found = findSocket(local, remote);
  } catch (e) {
    return { reason: `could not search for the descriptor: ${(e as Error).message}` };
  }
  if (found.length === 0) {
    return { reason: `no open socket matches ${describe(local)} -> ${describe(remote)}` };
  }
  if (found.length > 1) {
    return {
      reason: `${found.length} sockets match ${describe(local)} -> ${
        describe(remote)
      } (descriptors ${found.join(", ")}); cannot tell which is this transport's`,
    };
  }
  return adopt(found[0]!, transport, true);
}

function adopt(fd: unknown, transport: object, searched = false): NativeEndpoint {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new RangeError(`fd must be a non-negative integer, got ${String(fd)}`);
  }
  const type = socketType(fd);
  if (type === -ERRNO.EBADF) {
    throw new Deno.errors.BadResource(`fd ${fd} is not an open descriptor (EBADF)`);
  }
  if (type === -ERRNO.ENOTSOCK) {
    throw new TypeError(`fd ${fd} is not a socket (ENOTSOCK): native mode needs a stream socket`);
  }
  if (type < 0) throw new TypeError(`fd ${fd} cannot be used: getsockopt failed (errno ${-type})`);
  if (type !== SOCK_STREAM) {
    throw new TypeError(
      `fd ${fd} is not a stream socket (type ${type}): TLS needs SOCK_STREAM; DTLS is for datagrams`,
    );
  }
  const lib = sys();
  const dup = lib.dup(fd);
  if (dup < 0) throw new Deno.errors.BadResource(`dup(${fd}) failed (errno ${lastErrno()})`);
  if (!setNonBlocking(dup)) {
    const err = lastErrno();
    lib.close(dup);
    throw new TypeError(`fd ${fd} cannot be made non-blocking (errno ${err})`);
  }
  ours.add(dup);
  if (searched) claim(fd);
  return { fd: dup, targets: [transport], original: searched ? fd : -1 };
}

/**
 * Closes the endpoint's duplicate descriptor (once).
 *
 * @param endpoint The endpoint.
 */
export function closeNativeFd(endpoint: NativeEndpoint): void {
  const fd = endpoint.fd;
  if (fd < 0) return;
  endpoint.fd = -1;
  ours.delete(fd);
  if (endpoint.original !== undefined && endpoint.original >= 0) unclaim(endpoint.original);
  sys().close(fd);
}

/**
 * Half-closes the socket for writing (`shutdown(SHUT_WR)`).
 *
 * @param endpoint The endpoint.
 */
export function shutdownWrite(endpoint: NativeEndpoint): void {
  if (endpoint.fd >= 0) sys().shutdown(endpoint.fd, 1);
}

/**
 * Closes the transport behind an endpoint (its `close()`, when it has one),
 * ignoring an already closed resource.
 *
 * @param endpoint The endpoint.
 */
export function closeNativeTransport(endpoint: NativeEndpoint): void {
  for (const t of endpoint.targets) {
    const close = (t as Record<string, unknown>).close;
    if (typeof close !== "function") continue;
    try {
      close.call(t);
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }
}

function describe(a: Deno.Addr): string {
  if (a.transport === "tcp" || a.transport === "udp") return `${a.hostname}:${a.port}`;
  return `unix:${(a as Deno.UnixAddr).path || "(unnamed)"}`;
}

/** Descriptors to look at: /proc/self/fd where readable, else 0..16383. */
function candidateFds(): Iterable<number> {
  if (Deno.build.os === "linux") {
    try {
      const status = Deno.permissions.querySync?.({ name: "read", path: "/proc/self/fd" });
      if (status?.state === "granted") {
        const fds: number[] = [];
        for (const e of Deno.readDirSync("/proc/self/fd")) fds.push(Number(e.name));
        return fds.sort((a, b) => b - a); // newest descriptors tend to be the highest
      }
    } catch {
      // fall through to the scan
    }
  }
  return (function* (): Generator<number> {
    for (let fd = 0; fd < 16384; fd++) yield fd;
  })();
}

/** Whether a descriptor is a Unix socket with these two paths. */
function matchesUnix(fd: number, local: Deno.Addr, remote: Deno.Addr): boolean {
  const mine = socketAddress(fd, "local");
  if (mine === null || mine.family !== "unix") return false;
  if (mine.path !== ((local as Deno.UnixAddr).path ?? "")) return false;
  const peer = socketAddress(fd, "peer");
  return peer !== null && peer.family === "unix" &&
    peer.path === ((remote as Deno.UnixAddr).path ?? "");
}

/** How far a search for a TCP socket's descriptor goes for direct writes. */
export const DIRECT_SCAN_LIMIT = 1024;

/**
 * Finds a TCP transport's descriptor by trying descriptors from 0 up: Linux
 * and the BSDs hand out the lowest free number, and the descriptors of other
 * connections (our duplicates, and the transports' descriptors they
 * duplicate) are skipped without a syscall, so a search usually costs a few
 * `getsockname` calls whatever the number of connections; claimed numbers
 * are tried last, in case one was closed and reused behind our back. Nothing
 * is allocated per descriptor tried. A TCP 4-tuple is unique: the first
 * match is the one.
 *
 * @param local The transport's `localAddr`.
 * @param remote The transport's `remoteAddr`.
 * @param limit The first descriptor not tried.
 * @returns The descriptor, or null when nothing below `limit` matches.
 */
export function findTcpDescriptor(
  local: Deno.Addr,
  remote: Deno.Addr,
  limit: number = DIRECT_SCAN_LIMIT,
): number | null {
  if (local.transport !== "tcp" || remote.transport !== "tcp") return null;
  const localIp = parseIp(local.hostname);
  const remoteIp = parseIp(remote.hostname);
  if (localIp === null || remoteIp === null) return null;
  const matches = (fd: number): boolean =>
    socketIs(fd, "local", local.port, localIp) &&
    socketIs(fd, "peer", remote.port, remoteIp) &&
    socketType(fd) === SOCK_STREAM;
  for (let fd = 0; fd < limit; fd++) {
    if (ours.has(fd) || claimed.has(fd)) continue;
    if (matches(fd)) return fd;
  }
  // A claimed number can belong to a new socket when its transport was closed behind our back.
  for (const fd of claimed.keys()) {
    if (fd < limit && !ours.has(fd) && matches(fd)) return fd;
  }
  return null;
}

/**
 * Duplicates a descriptor a search found, for this module's own use; the
 * original is skipped by later searches until {@link closeOwn}.
 *
 * @param fd The descriptor.
 * @returns The duplicate, or -1.
 */
export function dupOwn(fd: number): number {
  const dup = sys().dup(fd);
  if (dup < 0) return -1;
  ours.add(dup);
  claim(fd);
  return dup;
}

/**
 * Closes a duplicate made by {@link dupOwn}.
 *
 * @param fd The duplicate.
 * @param original The descriptor it duplicates.
 */
export function closeOwn(fd: number, original: number): void {
  if (!ours.delete(fd)) return;
  unclaim(original);
  sys().close(fd);
}

function findSocket(local: Deno.Addr, remote: Deno.Addr): number[] {
  if (local.transport !== "tcp" && local.transport !== "unix") {
    throw new TypeError(`native mode supports TCP and Unix sockets, not ${local.transport}`);
  }
  if (local.transport === "tcp") {
    const fd = findTcpDescriptor(local, remote, NATIVE_SCAN_LIMIT);
    return fd === null ? [] : [fd];
  }
  // Unix sockets: every match counts (paths need not be unique), so look at them all.
  const found: number[] = [];
  for (const fd of candidateFds()) {
    if (fd < 0 || ours.has(fd) || claimed.has(fd)) continue;
    if (matchesUnix(fd, local, remote) && socketType(fd) === SOCK_STREAM) found.push(fd);
  }
  return found;
}
