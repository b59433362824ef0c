/**
 * Native mode's descriptor work: find a transport's socket, duplicate it,
 * make it non-blocking, close it. Internal.
 *
 * @module
 */

import {
  ERRNO,
  lastErrno,
  parseIp,
  sameIp,
  setNonBlocking,
  SOCK_STREAM,
  socketAddress,
  socketType,
  sys,
} from "../ffi/sys.ts";

/** A socket OpenSSL reads and writes itself. */
export interface NativeEndpoint {
  /** Our duplicate of the transport's descriptor (-1 once closed). */
  fd: number;
  /** The transport, for passthrough, `close()` and addresses. */
  readonly targets: object[];
}

/** Why native mode was not used: the connection falls back to stream mode. */
export interface NativeFallback {
  readonly reason: string;
}

/** Descriptors this process duplicated for native connections (never matched by a search). */
const ours = new Set<number>();

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
  return adopt(found[0]!, transport);
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
  return { fd: dup, targets: [transport] };
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

function matches(fd: number, local: Deno.Addr, remote: Deno.Addr): boolean {
  const mine = socketAddress(fd, "local");
  if (mine === null) return false;
  if (local.transport === "tcp") {
    if (mine.family !== "inet" || mine.port !== local.port) return false;
    const want = parseIp(local.hostname);
    if (want === null || !sameIp(want, mine.address)) return false;
    if (remote.transport !== "tcp") return false;
    const peer = socketAddress(fd, "peer");
    if (peer === null || peer.family !== "inet" || peer.port !== remote.port) return false;
    const wantPeer = parseIp(remote.hostname);
    return wantPeer !== null && sameIp(wantPeer, peer.address);
  }
  if (local.transport === "unix") {
    if (mine.family !== "unix" || mine.path !== ((local as Deno.UnixAddr).path ?? "")) return false;
    const peer = socketAddress(fd, "peer");
    return peer !== null && peer.family === "unix" &&
      peer.path === ((remote as Deno.UnixAddr).path ?? "");
  }
  return false;
}

/** Descriptors a direct-write search tries when `/proc/self/fd` cannot be listed. */
export const DIRECT_SCAN_LIMIT = 1024;

/**
 * Finds a TCP transport's descriptor: through `/proc/self/fd` where it can be
 * listed (Deno allows that only with `--allow-all`), otherwise by trying
 * descriptors 0 to {@link DIRECT_SCAN_LIMIT} - 1 (Linux gives out the lowest
 * free number, so a socket is rarely beyond the count of open descriptors).
 * A TCP 4-tuple is unique, so the first match is the one.
 *
 * @param local The transport's `localAddr`.
 * @param remote The transport's `remoteAddr`.
 * @param skip Descriptors known to belong to other connections.
 * @returns The descriptor, or null when nothing matches.
 */
export function findTcpDescriptor(
  local: Deno.Addr,
  remote: Deno.Addr,
  skip: ReadonlySet<number>,
): number | null {
  if (Deno.build.os !== "linux" || local.transport !== "tcp") return null;
  let fds: Iterable<number> | null = null;
  try {
    const status = Deno.permissions.querySync?.({ name: "read", path: "/proc/self/fd" });
    if (status?.state === "granted") {
      const listed: number[] = [];
      for (const e of Deno.readDirSync("/proc/self/fd")) listed.push(Number(e.name));
      fds = listed.sort((a, b) => b - a); // newest descriptors tend to be the highest
    }
  } catch {
    // Deno wants --allow-all for /proc/self: scan instead
  }
  fds ??= (function* (): Generator<number> {
    for (let fd = 0; fd < DIRECT_SCAN_LIMIT; fd++) yield fd;
  })();
  for (const fd of fds) {
    if (fd < 0 || ours.has(fd) || skip.has(fd)) continue;
    if (matches(fd, local, remote) && socketType(fd) === SOCK_STREAM) return fd;
  }
  return null;
}

/**
 * Duplicates a descriptor for this module's own use (never matched by a search).
 *
 * @param fd The descriptor.
 * @returns The duplicate, or -1.
 */
export function dupOwn(fd: number): number {
  const dup = sys().dup(fd);
  if (dup >= 0) ours.add(dup);
  return dup;
}

/**
 * Closes a duplicate made by {@link dupOwn}.
 *
 * @param fd The duplicate.
 */
export function closeOwn(fd: number): void {
  if (!ours.delete(fd)) return;
  sys().close(fd);
}

function findSocket(local: Deno.Addr, remote: Deno.Addr): number[] {
  if (local.transport !== "tcp" && local.transport !== "unix") {
    throw new TypeError(`native mode supports TCP and Unix sockets, not ${local.transport}`);
  }
  const found: number[] = [];
  for (const fd of candidateFds()) {
    if (fd < 0 || ours.has(fd)) continue;
    if (matches(fd, local, remote) && socketType(fd) === SOCK_STREAM) found.push(fd);
    // A TCP 4-tuple is unique: stop at the first match.
    if (found.length > 0 && local.transport === "tcp") break;
  }
  return found;
}
