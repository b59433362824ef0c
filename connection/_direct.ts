/**
 * Direct writes for stream mode over a `Deno.TcpConn`. Internal to denossl.
 *
 * Stream mode hands every flight of ciphertext to the transport's `write`:
 * a JS buffer allocated and zeroed per flush, a copy into it, and an async
 * Deno op whose promise settles on a later turn. Over a genuine
 * `Deno.TcpConn` the same bytes can go to the same socket with one
 * synchronous `send(2)` from a reused buffer. So once a connection has shown
 * that it writes enough to pay for finding its descriptor (8 flushes, or one
 * of 32 KiB), its socket is found (Linux: by trying descriptors from 0 up,
 * see `findTcpDescriptor`) and duplicated; from then on a
 * flush with no transport write in flight sends directly, and whatever the
 * socket does not take at once (a full send buffer, an error) goes the usual
 * way, through the transport's `write`, which waits for room and reports
 * errors as before. Reads still go through Deno's op. Bytes and their order
 * on the wire are the same either way.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import {
  isNonBlocking,
  lastErrno,
  SEND_NOWAIT,
  SEND_RETRY_ERRNOS,
  socketCookie,
  sys,
} from "../ffi/sys.ts";
import { closeOwn, dupSearched, findTcpDescriptor, tcpMatcher } from "./_native.ts";

/** Our duplicate of a transport's socket, for direct writes. */
export interface DirectWriter {
  /** The duplicate (-1 once closed). */
  fd: number;
  /** The descriptor it duplicates (skipped by later searches while open). */
  readonly original: number;
  /** The socket's kernel cookie, or null where there is none (then `isIt` decides). */
  readonly cookie: bigint | null;
  /** Whether a descriptor is the transport's socket (its addresses). */
  readonly isIt: (fd: number) => boolean;
}

/** How often open duplicates are checked against their transports' descriptors. */
export const DIRECT_SWEEP_MS = 500;

/** Flushes before a connection looks for its descriptor... */
export const DIRECT_AFTER_FLUSHES = 8;
/** ...or the size of one flush that makes it look at once. */
export const DIRECT_AFTER_BYTES = 32 * 1024;

const finalizer = new FinalizationRegistry<DirectWriter>((w) => closeDirect(w));

/**
 * Whether a transport is Deno's own TCP connection, with its own methods
 * (not a wrapper that transforms or counts bytes, whose `write` must run).
 *
 * @param t The transport.
 * @returns True for a genuine `Deno.TcpConn` on Linux.
 */
export function isDenoTcpConn(t: object): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    const proto = Object.getPrototypeOf(t);
    if (proto === null || proto.constructor?.name !== "TcpConn") return false;
    for (const k of ["read", "write", "close", "closeWrite"]) {
      if (Object.hasOwn(t, k)) return false;
    }
    const local = (t as { localAddr?: Deno.Addr }).localAddr;
    return local !== undefined && local.transport === "tcp";
  } catch {
    return false; // a Proxy or an accessor that throws: not Deno's own connection
  }
}

/**
 * Finds and duplicates a `Deno.TcpConn`'s socket.
 *
 * @param t The transport (see {@link isDenoTcpConn}).
 * @param owner The connection; if it is collected unclosed, the duplicate is closed.
 * @returns The writer, or null when the descriptor cannot be found or is blocking.
 */
export function openDirect(t: Deno.TcpConn, owner: object): DirectWriter | null {
  let local: Deno.Addr;
  let remote: Deno.Addr;
  try {
    local = t.localAddr;
    remote = t.remoteAddr;
  } catch {
    return null; // the transport is closed: its addresses are gone
  }
  const isIt = tcpMatcher(local, remote);
  if (isIt === null) return null;
  const original = findTcpDescriptor(local, remote);
  if (original === null) return null;
  const fd = dupSearched(original, isIt);
  if (fd < 0) return null;
  if (!isNonBlocking(fd)) {
    closeOwn(fd, original);
    return null;
  }
  const w: DirectWriter = { fd, original, cookie: socketCookie(fd), isIt };
  finalizer.register(owner, w, w);
  open.add(w);
  if (sweepTimer === undefined) armSweep();
  return w;
}

/**
 * Closes the duplicate (once). The transport's own descriptor is untouched.
 *
 * @param w The writer.
 */
export function closeDirect(w: DirectWriter): void {
  if (w.fd < 0) return;
  finalizer.unregister(w);
  closeOwn(w.fd, w.original);
  w.fd = -1;
  open.delete(w);
  if (open.size === 0 && sweepTimer !== undefined) {
    clearTimeout(sweepTimer);
    sweepTimer = undefined;
  }
}

/**
 * Whether the transport's own descriptor still is the socket we duplicated:
 * not once the transport is closed (its number free, or another descriptor's).
 */
function transportOpen(w: DirectWriter): boolean {
  return w.cookie !== null ? socketCookie(w.original) === w.cookie : w.isIt(w.original);
}

/** Open writers, for the sweep. */
const open = new Set<DirectWriter>();
let sweepTimer: ReturnType<typeof setTimeout> | undefined;

function armSweep(): void {
  const t = setTimeout(sweep, DIRECT_SWEEP_MS);
  Deno.unrefTimer(t); // never keeps a process alive
  sweepTimer = t;
}

/** Closes the duplicates of transports closed behind the connection's back. */
function sweep(): void {
  sweepTimer = undefined;
  for (const w of [...open]) if (!transportOpen(w)) closeDirect(w);
  if (open.size > 0) armSweep();
}

/**
 * How many duplicates are open. Internal, for tests.
 *
 * @returns The count.
 */
export function _openDirectCount(): number {
  return open.size;
}

let scratch: Uint8Array<ArrayBuffer> | null = null;
/** One send at a time: what the socket does not take is copied once more, so keep it small. */
const SCRATCH_SIZE = 64 * 1024;

/**
 * Sends what the outgoing BIO holds straight to the socket.
 *
 * @param w The writer.
 * @param wbio The connection's outgoing memory BIO.
 * @param pending What it holds (`BIO_ctrl_pending`).
 * @returns null when every byte went out; otherwise the bytes the socket
 *   did not take, in order, taken out of the BIO, for the transport's `write`.
 */
export function directFlush(
  w: DirectWriter,
  wbio: Deno.PointerObject,
  pending: number,
): Uint8Array<ArrayBuffer> | null {
  const { crypto } = native();
  const lib = sys();
  // A transport closed directly (its number maybe another socket's now) gets nothing more from us.
  if (w.fd >= 0 && !transportOpen(w)) closeDirect(w);
  const buf = scratch ??= new Uint8Array(SCRATCH_SIZE);
  while (pending > 0) {
    const n = crypto.BIO_read(wbio, buf, Math.min(pending, buf.length));
    if (n <= 0) return null;
    pending -= n;
    let sent = w.fd < 0 ? 0 : Number(lib.send(w.fd, buf, usize(n), SEND_NOWAIT));
    if (sent === n) continue;
    // A full socket buffer (EAGAIN), or an error the transport's write will report as it does.
    if (sent < 0) {
      const errno = lastErrno();
      sent = 0;
      if (!SEND_RETRY_ERRNOS.includes(errno)) closeDirect(w); // broken: no more direct sends
    }
    const rest = new Uint8Array(n - sent + pending);
    rest.set(buf.subarray(sent, n));
    if (pending > 0) crypto.BIO_read(wbio, rest.subarray(n - sent), pending);
    return rest;
  }
  return null;
}
