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
import { isNonBlocking, lastErrno, SEND_NOWAIT, SEND_RETRY_ERRNOS, sys } from "../ffi/sys.ts";
import { closeOwn, dupOwn, findTcpDescriptor } from "./_native.ts";

/** Our duplicate of a transport's socket, for direct writes. */
export interface DirectWriter {
  /** The duplicate (-1 once closed). */
  fd: number;
  /** The descriptor it duplicates (skipped by later searches while open). */
  readonly original: number;
}

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
  let original: number | null;
  try {
    original = findTcpDescriptor(t.localAddr, t.remoteAddr);
  } catch {
    return null; // the transport is closed: its addresses are gone
  }
  if (original === null || !isNonBlocking(original)) return null;
  const fd = dupOwn(original);
  if (fd < 0) return null;
  const w: DirectWriter = { fd, original };
  finalizer.register(owner, w, w);
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
