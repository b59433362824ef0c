/**
 * The stream wire: a connection's two memory BIOs pumped to and from a stream transport (fill,
 * lend, land, ordered flush, read buffer growth, idle release, direct writes, close linger).
 * Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { BIO_set_mem_eof_return } from "../ffi/constants.ts";
import { ClosedError } from "../errors/ssl_error.ts";
import { inCallback } from "../ffi/callbacks.ts";
import { closeAfterWrites, transportError } from "./transport.ts";
import type { Pipe } from "./transport.ts";
import {
  closeDirect,
  DIRECT_AFTER_BYTES,
  DIRECT_AFTER_FLUSHES,
  directFlush,
  openDirect,
} from "./_direct.ts";
import type { DirectWriter } from "./_direct.ts";
import { RELEASE_IDLE, waitBegins, waitEnds } from "./_idle.ts";
import { setMemoryBios } from "./_memory.ts";
import type { SslCore } from "./_core.ts";
import type { Wire } from "./_pump.ts";

/** A settled promise, shared (a flush with nothing left to wait for returns it). */
const RESOLVED: Promise<void> = Promise.resolve();

/** Size of the buffer a connection reads its transport into. */
const IN_BUFFER_SIZE = 64 * 1024;
/** Its starting size: enough for small messages; it grows to 16 KiB, then 64 KiB, when filled. */
const IN_BUFFER_START = 4 * 1024;

/** For promises whose rejection someone else handles. */
function ignore(): void {}

/**
 * Memory BIOs over a {@link Pipe}: OpenSSL reads from and writes to the
 * BIOs, and this moves the bytes between them and the transport. At most one
 * transport read is in flight, and flushes reach the transport in order.
 */
export class StreamWire implements Wire {
  readonly #core: SslCore;
  readonly #pipe: Pipe;
  #rbio: Deno.PointerObject | null;
  #wbio: Deno.PointerObject | null;
  #closed = false;
  #inBuf: Uint8Array<ArrayBuffer> | null = null;
  #fillPromise: Promise<void> | null = null;
  /** The transport read in flight for a read() caller (see lend()), and the buffer it fills. */
  #lentRead: Promise<number | null> | null = null;
  #lentBuf: Uint8Array | null = null;
  #rejectClosed: ((e: unknown) => void) | null = null;
  #writeChain: Promise<void> = RESOLVED;
  #writesInFlight = 0;
  /** The connection: held while this wire waits in the idle sweeper's sets, so that it cannot be collected (and its SSL freed) before the sweep. */
  readonly #owner: object;
  // ---- direct writes over a Deno.TcpConn (see _direct.ts) ----
  #directTransport: Deno.TcpConn | null;
  #direct: DirectWriter | null = null;
  #flushes = 0;

  /**
   * Gives the `SSL*` two memory BIOs (the SSL owns them from here on).
   *
   * @param core The SSL core.
   * @param pipe The transport.
   * @param owner The connection (the direct writer's duplicate is closed when it is collected).
   * @param directTransport A `Deno.TcpConn` whose socket flushes may write to directly, or null.
   */
  constructor(core: SslCore, pipe: Pipe, owner: object, directTransport: Deno.TcpConn | null) {
    const bios = setMemoryBios(core.handle);
    if (bios === null) throw new Error("Out of memory: BIO_new failed");
    this.#core = core;
    this.#pipe = pipe;
    this.#rbio = bios.rbio;
    this.#wbio = bios.wbio;
    this.#owner = owner;
    this.#directTransport = directTransport;
  }

  get targets(): readonly object[] {
    return this.#pipe.targets;
  }

  /** Our duplicate of the socket that flushes now go straight to, or -1. */
  get directFd(): number {
    return this.#direct?.fd ?? -1;
  }

  outgoing(): number {
    const wbio = this.#wbio;
    return wbio === null ? 0 : Number(native().crypto.BIO_ctrl_pending(wbio));
  }

  incoming(): number {
    const rbio = this.#rbio;
    return rbio === null ? 0 : Number(native().crypto.BIO_ctrl_pending(rbio));
  }

  drain(): Promise<void> {
    return this.flush();
  }

  /** Moves what OpenSSL wrote into the outgoing BIO to the transport, in order. */
  flush(): Promise<void> {
    const wbio = this.#wbio;
    if (wbio === null) return this.#writeChain;
    const { crypto } = native();
    const pending = Number(crypto.BIO_ctrl_pending(wbio));
    if (pending === 0) return this.#writeChain;
    const pipe = this.#pipe;
    let bytes: Uint8Array;
    const direct = this.#writesInFlight === 0 ? this.#directWriter(pending) : null;
    if (direct !== null) {
      const rest = directFlush(direct, wbio, pending);
      if (direct.fd < 0) this.#direct = null; // the socket failed: the transport reports it
      if (rest === null) return RESOLVED;
      bytes = rest;
    } else {
      const out = new Uint8Array(pending);
      const n = crypto.BIO_read(wbio, out, pending);
      bytes = n === pending ? out : out.subarray(0, Math.max(0, n));
    }
    // No write in flight: start this one now instead of after a settled promise.
    const write = this.#writesInFlight === 0
      ? pipe.writeAll(bytes)
      : this.#writeChain.then(() => pipe.writeAll(bytes));
    this.#writesInFlight++;
    const chain: Promise<void> = write.then(() => {
      // All out: let this settled promise go (one less object per idle connection).
      if (--this.#writesInFlight === 0 && this.#writeChain === chain) this.#writeChain = RESOLVED;
    }, (e) => {
      this.#writesInFlight--;
      throw e;
    });
    chain.catch(ignore); // callers that await see the error; nobody else must crash on it
    this.#writeChain = chain;
    return chain;
  }

  /**
   * The direct writer, opened once the connection has written enough to pay
   * for finding its descriptor; null while writes go through the transport.
   */
  #directWriter(pending: number): DirectWriter | null {
    if (this.#direct !== null) return this.#direct;
    const transport = this.#directTransport;
    if (transport === null) return null;
    if (++this.#flushes < DIRECT_AFTER_FLUSHES && pending < DIRECT_AFTER_BYTES) return null;
    this.#directTransport = null; // one attempt
    this.#direct = openDirect(transport, this.#owner);
    return this.#direct;
  }

  /**
   * Brings more ciphertext into the incoming BIO: one transport read into
   * the wire's own buffer, at most one in flight. While a lent read (see
   * {@link lend}) is in flight, waits for it instead: its own continuation,
   * there first, lands its bytes before this resolves.
   */
  fill(): Promise<void> {
    if (this.#fillPromise !== null) return this.#fillPromise;
    if (this.#lentRead !== null) return this.#lentRead.then(ignore, ignore);
    return this.#fillPromise = this.#doFill();
  }

  /**
   * Starts a transport read for a reader, when the transport's close settles
   * a pending read (`Pipe.lends`) and no other read is in flight: into the
   * reader's buffer `p` itself when it is large enough (then an idle
   * connection holds no read buffer of its own and a bulk reader's transport
   * reads are as large as its buffer), else into the wire's own buffer, so a
   * 1-byte reader still reads the transport in kilobytes. The caller awaits
   * the returned read itself (no promise of ours per wait), then calls
   * {@link landLent}, or {@link lentFailed} when it rejects. close() does not
   * cut it short: closing the transport settles it, so nothing writes into
   * `p` after the reader's `read()` settles.
   *
   * @param p The reader's buffer.
   * @returns The transport read, or null when no read can be lent (call {@link fill}).
   */
  lend(p: Uint8Array): Promise<number | null> | null {
    if (
      this.#closed || !this.#pipe.lends || this.#fillPromise !== null || this.#lentRead !== null
    ) return null;
    const buf = p.length >= IN_BUFFER_START ? p : (this.#inBuf ??= new Uint8Array(IN_BUFFER_START));
    const pending = this.#pipe.read(buf);
    this.#lentRead = pending;
    this.#lentBuf = buf;
    waitBegins(this);
    return pending;
  }

  /**
   * The lent read settled with `n` bytes (null: the transport ended): lands
   * them in the incoming BIO.
   *
   * @param n What the transport read returned.
   */
  landLent(n: number | null): void {
    const buf = this.#lentSettled();
    this.#landRead(buf, n);
  }

  /** The lent read settled: its buffer, and the wire's own freed if the connection closed meanwhile. */
  #lentSettled(): Uint8Array {
    const buf = this.#lentBuf!;
    this.#lentRead = null;
    this.#lentBuf = null;
    waitEnds(this);
    if (this.#closed) this.#releaseInBuf();
    return buf;
  }

  /**
   * The lent read rejected.
   *
   * @param e Its reason.
   * @returns The error for the reader: `ClosedError` once the connection is closed.
   */
  lentFailed(e: unknown): unknown {
    this.#lentSettled();
    return this.#closed ? new ClosedError("Connection") : transportError(e);
  }

  /**
   * One transport read into the wire's own buffer, then into the incoming
   * BIO, as a single promise: the read's own reaction lands the bytes, and
   * close() rejects it at once through `#rejectClosed` (a transport whose
   * close does not settle its pending read must not hang us; the buffer is
   * ours, freed once that read settles). Nothing else is allocated per wait:
   * this runs once per record a connection waits for.
   */
  #doFill(): Promise<void> {
    let read: Promise<number | null>;
    let buf: Uint8Array;
    try {
      if (this.#closed) throw new ClosedError("Connection");
      // About to wait for the peer: if the wait lasts, the idle sweeper frees
      // OpenSSL's record buffers (about 33 KiB); see _idle.ts.
      waitBegins(this);
      // Start small, grow (4x) each time the transport fills the buffer: idle
      // connections stay small, busy ones soon read 64 KiB at a time.
      buf = this.#inBuf ??= new Uint8Array(IN_BUFFER_START);
      read = this.#pipe.read(buf);
    } catch (e) {
      this.#fillPromise = null;
      waitEnds(this);
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.#rejectClosed = reject;
      read.then((n) => {
        this.#fillSettled();
        try {
          this.#landRead(buf, n);
          resolve();
        } catch (e) {
          reject(e);
        }
      }, (e) => {
        this.#fillSettled();
        reject(transportError(e));
      });
    });
  }

  #fillSettled(): void {
    waitEnds(this);
    this.#fillPromise = null;
    this.#rejectClosed = null;
    if (this.#closed) this.#releaseInBuf();
  }

  /** Puts `n` bytes read from the transport into the incoming BIO (null: the transport ended). */
  #landRead(buf: Uint8Array, n: number | null): void {
    const rbio = this.#rbio;
    if (rbio === null) throw new ClosedError("Connection");
    if (n === null) {
      BIO_set_mem_eof_return(rbio, 0); // the peer's transport ended: reads now see EOF
      return;
    }
    if (n > 0) native().crypto.BIO_write(rbio, buf, n);
    if (buf === this.#inBuf && n === buf.length && buf.length < IN_BUFFER_SIZE) {
      this.#inBuf = new Uint8Array(Math.min(IN_BUFFER_SIZE, buf.length * 4));
    }
  }

  /**
   * Frees the wire's own read buffer (up to 64 KiB) now, once no transport
   * read can write into it: after the handshake (reads then use the caller's
   * buffer when it is large enough) and at close. Left to the garbage
   * collector, which does not count it, a server under connection churn kept
   * 128 KiB per closed connection pair (2.5 GB after 20,000).
   */
  #releaseInBuf(): void {
    const buf = this.#inBuf;
    // A read in flight into it releases it when it settles.
    if (buf === null || this.#fillPromise !== null || this.#lentBuf === buf) return;
    this.#inBuf = null;
    buf.buffer.transfer(0); // detaches: the backing store is freed
  }

  handshakeDone(): void {
    this.#releaseInBuf();
  }

  /**
   * Swaps empty memory BIOs for new ones: a memory BIO keeps the largest size
   * it ever held (the handshake flights, a bulk burst), about 1.5 KiB per idle
   * connection after a handshake, more after bulk. Only between records, when
   * both are empty.
   */
  #renewBios(ssl: Deno.PointerObject): void {
    const rbio = this.#rbio;
    const wbio = this.#wbio;
    if (rbio === null || wbio === null) return;
    const { crypto } = native();
    if (Number(crypto.BIO_ctrl_pending(rbio)) !== 0) return;
    if (Number(crypto.BIO_ctrl_pending(wbio)) !== 0) return;
    const bios = setMemoryBios(ssl); // frees the old pair
    if (bios === null) return; // out of memory: keep the old ones
    this.#rbio = bios.rbio;
    this.#wbio = bios.wbio;
  }

  /** What the idle sweeper calls while the connection waits for its peer (see _idle.ts). */
  [RELEASE_IDLE](): void {
    const ssl = this.#core.raw;
    if (ssl === null || inCallback()) return;
    this.#core.releaseBuffers();
    this.#renewBios(ssl);
  }

  async closeWrite(): Promise<void> {
    await this.flush();
    await this.#pipe.closeWrite();
  }

  detach(): void {
    this.#closed = true;
    this.#rbio = null;
    this.#wbio = null;
    if (this.#direct !== null) {
      closeDirect(this.#direct); // the close_notify went out already, or is queued on the transport
      this.#direct = null;
    }
    this.#directTransport = null;
  }

  afterFree(): void {}

  close(last: Promise<void>): Promise<void> {
    waitEnds(this);
    this.#rejectClosed?.(new ClosedError("Connection"));
    this.#releaseInBuf();
    const done = closeAfterWrites(this.#pipe, this.#writesInFlight > 0 ? last : null);
    this.#writeChain = done;
    return done;
  }

  /** The close in progress, or the last write: what a second close waits for. */
  closing(): Promise<void> {
    return this.#writeChain.catch(ignore);
  }
}
