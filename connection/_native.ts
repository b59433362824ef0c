/**
 * Native mode's descriptor work: find a transport's socket, duplicate it,
 * make it non-blocking, close it. Internal.
 *
 * @module
 */

import {
  descriptorLimit,
  ERRNO,
  findOpenDescriptor,
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

/**
 * Test hooks. `beforeDup` runs between a search and the `dup` of the number
 * it found, as a transport closed and its number reused in that window
 * would: it may return another descriptor to duplicate instead.
 */
export const _searchHooks: { beforeDup: ((fd: number) => number | void) | null } = {
  beforeDup: null,
};

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
  const isIt = local.transport === "tcp"
    ? tcpMatcher(local, remote)
    : (fd: number): boolean => matchesUnix(fd, local, remote) && socketType(fd) === SOCK_STREAM;
  const dup = isIt === null ? -1 : dupSearched(found[0]!, isIt);
  if (dup < 0) {
    return {
      reason: `the socket matching ${describe(local)} -> ${
        describe(remote)
      } changed between the search and its duplication`,
    };
  }
  if (!setNonBlocking(dup)) {
    const err = lastErrno();
    closeOwn(dup, found[0]!);
    return { reason: `the socket cannot be made non-blocking (errno ${err})` };
  }
  return { fd: dup, targets: [transport], original: found[0]! };
}

function adopt(fd: unknown, transport: object): NativeEndpoint {
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
  return { fd: dup, targets: [transport], original: -1 };
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

/**
 * The open descriptors as /proc/self/fd lists them, ascending, where read
 * permission is granted (Linux); null elsewhere.
 */
function listedDescriptors(): number[] | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const status = Deno.permissions.querySync?.({ name: "read", path: "/proc/self/fd" });
    if (status?.state !== "granted") return null;
    const fds: number[] = [];
    for (const e of Deno.readDirSync("/proc/self/fd")) fds.push(Number(e.name));
    return fds.sort((a, b) => a - b);
  } catch {
    return null; // no /proc: scan instead
  }
}

/**
 * Walks the open descriptors, ascending, until `visit` accepts one: those
 * /proc/self/fd lists when it can be read (wherever they are), otherwise every
 * number below the process's descriptor limit (`RLIMIT_NOFILE`, which bounds
 * them), asking the kernel which are open 1024 at a time.
 */
function searchDescriptors(visit: (fd: number) => boolean): number | null {
  const listed = listedDescriptors();
  if (listed === null) return findOpenDescriptor(descriptorLimit(), visit);
  for (const fd of listed) if (visit(fd)) return fd;
  return null;
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

/**
 * A test of "this descriptor is the TCP socket from `local` to `remote`",
 * which allocates nothing per call (a search tries many descriptors).
 *
 * @param local The transport's `localAddr`.
 * @param remote The transport's `remoteAddr`.
 * @returns The test, or null when the addresses are not TCP IP addresses.
 */
export function tcpMatcher(local: Deno.Addr, remote: Deno.Addr): ((fd: number) => boolean) | null {
  if (local.transport !== "tcp" || remote.transport !== "tcp") return null;
  const localIp = parseIp(local.hostname);
  const remoteIp = parseIp(remote.hostname);
  if (localIp === null || remoteIp === null) return null;
  const localPort = local.port;
  const remotePort = remote.port;
  return (fd: number): boolean =>
    socketIs(fd, "local", localPort, localIp) &&
    socketIs(fd, "peer", remotePort, remoteIp) &&
    socketType(fd) === SOCK_STREAM;
}

/**
 * Finds a TCP transport's descriptor: Linux and the BSDs hand out the lowest
 * free number, so the open descriptors are tried from 0 up to the descriptor
 * limit (`RLIMIT_NOFILE`), free ones skipped 1024 per `poll`, nothing
 * allocated per descriptor; the descriptors of
 * other connections (our duplicates, and the transports' descriptors they
 * duplicate) are skipped without a syscall, and claimed numbers are tried
 * last, in case one was closed and reused behind our back. A TCP 4-tuple is
 * unique: the first match is the one.
 *
 * @param local The transport's `localAddr`.
 * @param remote The transport's `remoteAddr`.
 * @returns The descriptor, or null when no open descriptor matches.
 */
export function findTcpDescriptor(local: Deno.Addr, remote: Deno.Addr): number | null {
  const matches = tcpMatcher(local, remote);
  if (matches === null) return null;
  // Number by number while numbers are in use: the other connections' descriptors cost no call,
  // a free number one failed getsockname. Past a run of free numbers, poll() skips them 1024 at
  // a time. Nothing is allocated per descriptor (listing /proc/self/fd per search grew a native
  // server by about 50 KiB per connection over a thousand).
  const limit = descriptorLimit();
  let free = 0;
  for (let fd = 0; fd < limit; fd++) {
    if (ours.has(fd) || claimed.has(fd)) {
      free = 0;
      continue;
    }
    if (matches(fd)) return fd;
    if (lastErrno() !== ERRNO.EBADF) free = 0;
    else if (++free === FREE_RUN) {
      const found = findOpenDescriptor(
        limit,
        (n) => !ours.has(n) && !claimed.has(n) && matches(n),
        fd + 1,
      );
      if (found !== null) return found;
      break;
    }
  }
  // A claimed number can belong to a new socket when its transport was closed behind our back.
  for (const fd of claimed.keys()) {
    if (!ours.has(fd) && matches(fd)) return fd;
  }
  return null;
}

/** Free descriptor numbers in a row after which a search polls instead of trying each. */
const FREE_RUN = 64;

/**
 * Duplicates a descriptor a search found, then checks that the duplicate is
 * the socket searched for (`isIt`: its local and peer addresses) before
 * anyone uses it: a transport closed between the search and the `dup` frees
 * its number for any new descriptor, which must never receive our bytes.
 * The original is skipped by later searches until {@link closeOwn}.
 *
 * @param fd The descriptor the search found.
 * @param isIt The search's test.
 * @returns The duplicate, or -1 when `dup` failed or the number is no longer that socket.
 */
export function dupSearched(fd: number, isIt: (fd: number) => boolean): number {
  const lib = sys();
  const target = _searchHooks.beforeDup?.(fd) ?? fd;
  const dup = lib.dup(target);
  if (dup < 0) return -1;
  if (!isIt(dup)) {
    lib.close(dup);
    return -1;
  }
  ours.add(dup);
  claim(fd);
  return dup;
}

/**
 * Closes a duplicate made by {@link dupSearched}.
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
    const fd = findTcpDescriptor(local, remote);
    return fd === null ? [] : [fd];
  }
  // Unix sockets: every match counts (paths need not be unique), so look at them all.
  const found: number[] = [];
  searchDescriptors((fd) => {
    if (!ours.has(fd) && !claimed.has(fd) && matchesUnix(fd, local, remote)) {
      if (socketType(fd) === SOCK_STREAM) found.push(fd);
    }
    return false;
  });
  return found;
}
