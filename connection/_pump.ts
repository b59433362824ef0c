/**
 * The pump: Deno's async face (handshake, read, write, closeWrite, readable, writable) as loops
 * over an SSL core and a small wire interface, whichever way the ciphertext moves. Internal.
 *
 * @module
 */

import { ClosedError } from "../errors/ssl_error.ts";
import {
  OK,
  type Outcome,
  outcomeError,
  WANT_READ,
  WANT_WRITE,
  ZERO_RETURN,
} from "../errors/raise.ts";
import { pendingWait } from "./_suspend.ts";
import { EarlyInbox } from "./_early_data.ts";
import type { IdleReleasable } from "./_idle.ts";
import type { SslCore } from "./_core.ts";
import type { HandshakeInfo } from "./connection.ts";

/**
 * How a connection's ciphertext moves, as the pump sees it: a stream wire
 * (memory BIOs pumped to a transport) or a native one (OpenSSL on a
 * descriptor).
 */
export interface Wire extends IdleReleasable {
  /** The objects passthrough lookups go to, in order. */
  readonly targets: readonly object[];
  /** Sends what OpenSSL wrote (in order); settles once it reached the transport. */
  flush(): Promise<void>;
  /** On want-write: settles once OpenSSL can write again. */
  drain(): Promise<void>;
  /** On want-read: settles once more ciphertext is there. */
  fill(): Promise<void>;
  /**
   * On want-read in `read(p)`: a transport read started for this reader
   * (into `p` itself when it is large enough), or null when the wire cannot
   * start one (then {@link fill}). The pump awaits it and
   * hands the outcome to {@link landLent} or {@link lentFailed}.
   */
  lend(p: Uint8Array): Promise<number | null> | null;
  /** The lent read gave `n` bytes (null: end of stream). */
  landLent(n: number | null): void;
  /** A lent read rejected with `e`: the error to throw. */
  lentFailed(e: unknown): unknown;
  /** Ciphertext waiting to be sent, in bytes (0 when OpenSSL writes the socket itself). */
  outgoing(): number;
  /** Ciphertext received and not yet decrypted, in bytes (0 when OpenSSL reads itself). */
  incoming(): number;
  /** The handshake finished: drops what only the handshake needed. */
  handshakeDone(): void;
  /** Half-closes the transport once what OpenSSL wrote is out. */
  closeWrite(): Promise<void>;
  /** Closing, before the `SSL*` is freed: stops everything that writes through it. */
  detach(): void;
  /** Closing, once the `SSL*` is freed. */
  afterFree(): void;
  /** Closes the transport once `last` settles (at most a linger later); settles when closed. */
  close(last: Promise<void>): Promise<void>;
  /** What a second close waits for. */
  closing(): Promise<void>;
}

/** Outgoing ciphertext queued before `write` flushes it mid-call. */
const FLUSH_THRESHOLD = 256 * 1024;
/** Chunk size of `readable` when the reader brings no buffer. */
const READABLE_CHUNK_SIZE = 16 * 1024;

/** For promises whose rejection someone else handles. */
function ignore(): void {}

/**
 * The loops of Deno's async face over one core and one wire. Every step
 * goes through the core, so through the one classifier: a callback's
 * exception rejects the `await` that drove it, want-read included.
 */
export class Pump {
  readonly #core: SslCore;
  readonly #wire: Wire;
  readonly #owner: { _handshakeInfo(): HandshakeInfo };
  #handshake: Promise<HandshakeInfo> | null = null;
  /** The handshake finished once; a renegotiation later runs inside SSL_read/SSL_write. */
  #handshook = false;
  /** A failure met while reading ahead (#readMore), thrown by the next read. */
  #readError: unknown = undefined;
  #abortReason: unknown = undefined;
  /** Early data the handshake reads first and the first reads return (see {@link acceptEarlyData}). */
  #early: EarlyInbox | null = null;
  #acceptsEarly = false;

  /**
   * @param core The SSL core.
   * @param wire How ciphertext moves.
   * @param owner The connection: what a finished handshake reports.
   */
  constructor(core: SslCore, wire: Wire, owner: { _handshakeInfo(): HandshakeInfo }) {
    this.#core = core;
    this.#wire = wire;
    this.#owner = owner;
  }

  /** The wire. */
  get wire(): Wire {
    return this.#wire;
  }

  /**
   * Runs the handshake once; concurrent and later calls share it.
   *
   * @param roleSet Whether the connect or accept state was set.
   */
  handshake(roleSet: boolean): Promise<HandshakeInfo> {
    if (!roleSet) {
      return Promise.reject(
        new TypeError("Call setConnectState() or setAcceptState() before the handshake"),
      );
    }
    return this.#handshake ??= this.#runHandshake().catch((e) => {
      throw this.#abortReason ?? e;
    });
  }

  /**
   * Makes the handshake of this server connection read TLS 1.3 early data first
   * (`SSL_read_early_data` until it ends, then `SSL_do_handshake`), and the first
   * reads return those bytes before any 1-RTT data. Call before the handshake.
   */
  acceptEarlyData(): void {
    if (this.#handshake !== null) throw new TypeError("The handshake already started");
    this.#early = new EarlyInbox();
    this.#acceptsEarly = true;
  }

  /** Whether the handshake reads early data (see {@link acceptEarlyData}). */
  get acceptsEarlyData(): boolean {
    return this.#acceptsEarly;
  }

  /** Lets the peer see the alert OpenSSL queued for a fatal error (stream wires). */
  #sendAlert(): Promise<void> {
    return this.#wire.flush().catch(ignore);
  }

  async #runHandshake(): Promise<HandshakeInfo> {
    const core = this.#core;
    const wire = this.#wire;
    const early = this.#early;
    for (;;) {
      let outcome: Outcome | null;
      try {
        outcome = early?.reading ? early.step(core.handle) : core.handshake();
      } catch (e) {
        await this.#sendAlert();
        throw e;
      }
      if (outcome === null) continue; // early bytes kept, or their end: the next step
      if (outcome === OK) {
        this.#handshook = true;
        wire.handshakeDone();
        await wire.flush();
        return this.#owner._handshakeInfo();
      }
      if (outcome === WANT_READ) {
        await wire.flush();
        await wire.fill();
      } else if (outcome === WANT_WRITE) {
        await wire.drain();
      } else if (outcome !== ZERO_RETURN) {
        await this.#resume(outcome);
      } else {
        await this.#sendAlert();
        throw outcomeError(outcome);
      }
    }
  }

  /**
   * A callback suspended the handshake: waits until its Promise settles (or
   * the connection closes), then the loop calls OpenSSL again.
   *
   * @param outcome The want-lookup or want-client-hello outcome.
   */
  async #resume(outcome: Outcome): Promise<void> {
    const wait = pendingWait(this.#core.addr);
    if (wait === null) throw outcomeError(outcome); // nothing of ours to wait for
    await this.#wire.flush();
    await wait;
  }

  /**
   * Before reading or writing: the handshake, unless it finished once (a flag, not
   * SSL_is_init_finished: one FFI call less per read and per write).
   */
  #handshakeDone(): boolean {
    return this.#handshook;
  }

  /**
   * Reads decrypted bytes into `p`.
   *
   * @param p Where to put them.
   * @param roleSet Whether the connect or accept state was set.
   * @returns The count, or null at close_notify.
   */
  async read(p: Uint8Array, roleSet: boolean): Promise<number | null> {
    if (!this.#handshakeDone()) await this.handshake(roleSet);
    const early = this.#early;
    if (early !== null && p.length > 0) {
      const n = early.take(p);
      if (early.empty) this.#early = null;
      if (n > 0) return n;
    }
    const core = this.#core;
    const wire = this.#wire;
    for (;;) {
      core.drive();
      if (p.length === 0) return 0;
      if (this.#readError !== undefined) {
        const e = this.#readError;
        this.#readError = undefined;
        throw e;
      }
      let outcome: Outcome;
      try {
        outcome = core.read(p, p.length);
      } catch (e) {
        await this.#sendAlert();
        throw e;
      }
      if (outcome === OK) {
        const n = core.count;
        const total = n < p.length ? this.#readMore(p, n) : n;
        wire.flush(); // it tests what is pending itself
        return total;
      }
      if (outcome === WANT_READ) {
        wire.flush(); // it tests what is pending itself
        const lent = wire.lend(p);
        if (lent === null) {
          await wire.fill();
          continue;
        }
        let n: number | null;
        try {
          n = await lent;
        } catch (e) {
          throw wire.lentFailed(e);
        }
        wire.landLent(n);
      } else if (outcome === WANT_WRITE) {
        await wire.drain();
      } else if (outcome === ZERO_RETURN) {
        return null;
      } else {
        await this.#resume(outcome); // a renegotiation's callbacks
      }
    }
  }

  /**
   * After one record, decrypts the records already received into the rest of
   * `p`, as `Deno.Conn.read` returns all it has: a bulk reader makes one call
   * per transport read, not one per 16 KiB record. A failure here is kept
   * for the next `read` (the bytes before it are returned first); a
   * close_notify shows again on the next read by itself.
   *
   * @returns The total now in `p`.
   */
  #readMore(p: Uint8Array, n: number): number {
    const core = this.#core;
    const wire = this.#wire;
    let total = n;
    while (total < p.length && wire.incoming() > 0) {
      try {
        if (core.read(p.subarray(total), p.length - total) !== OK) break;
      } catch (e) {
        this.#readError = e;
        total += core.count; // what the call decrypted before a callback threw
        break;
      }
      total += core.count;
    }
    return total;
  }

  /**
   * Encrypts and sends all of `p`.
   *
   * @param p The bytes.
   * @param roleSet Whether the connect or accept state was set.
   * @returns `p.length`.
   */
  async write(p: Uint8Array, roleSet: boolean): Promise<number> {
    if (!this.#handshakeDone()) await this.handshake(roleSet);
    const core = this.#core;
    const wire = this.#wire;
    let offset = 0;
    while (offset < p.length) {
      const rest = offset === 0 ? p : p.subarray(offset);
      let outcome: Outcome;
      try {
        outcome = core.write(rest);
      } catch (e) {
        await this.#sendAlert();
        throw e;
      }
      if (outcome === OK) {
        offset += core.count;
        // Only between records of a large write: the last one is flushed below.
        if (offset < p.length && wire.outgoing() >= FLUSH_THRESHOLD) await wire.flush();
      } else if (outcome === WANT_READ) {
        await wire.flush();
        await wire.fill();
      } else if (outcome === WANT_WRITE) {
        await wire.drain();
      } else if (outcome === ZERO_RETURN) {
        throw outcomeError(outcome);
      } else {
        await this.#resume(outcome);
      }
    }
    await wire.flush();
    return p.length;
  }

  /** Sends close_notify (best effort, as a closing peer expects), then half-closes the wire. */
  async closeWrite(): Promise<void> {
    if (this.#handshake !== null) await this.#handshake;
    const core = this.#core;
    core.drive();
    for (let tries = 0; !core.sentShutdown; tries++) {
      let outcome: Outcome = OK;
      try {
        outcome = core.shutdown();
      } catch {
        // a broken session sends no close_notify; the half-close still happens
      }
      // A full socket: wait for it to drain and send the alert.
      if (outcome === WANT_WRITE && tries < 64) {
        await this.#wire.drain();
        core.drive();
        continue;
      }
      break;
    }
    await this.#wire.closeWrite();
  }

  /**
   * Makes a handshake under way reject with `reason` rather than `ClosedError`.
   *
   * @param reason Why the connection is closed (a deadline, an abort signal's reason).
   */
  abort(reason: unknown): void {
    this.#abortReason = reason;
  }
}

/** What {@link readableOf} and {@link writableOf} need of a connection. */
export interface AsyncConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/**
 * The decrypted bytes as a byte stream; cancelling closes the connection.
 *
 * @param conn The connection.
 * @returns The stream.
 */
export function readableOf(conn: AsyncConn): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    type: "bytes",
    autoAllocateChunkSize: READABLE_CHUNK_SIZE,
    pull: async (c) => {
      const controller = c as ReadableByteStreamController;
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array<ArrayBuffer>;
      let n: number | null;
      try {
        n = await conn.read(view);
      } catch (e) {
        if (e instanceof ClosedError) {
          controller.close();
          request.respond(0);
          return;
        }
        throw e;
      }
      if (n === null) {
        controller.close();
        request.respond(0);
      } else {
        request.respond(n);
      }
    },
    cancel: () => conn.close(),
  });
}

/**
 * A stream that encrypts and sends what is written to it; closing it half-closes.
 *
 * @param conn The connection.
 * @returns The stream.
 */
export function writableOf(conn: AsyncConn): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: async (chunk) => {
      await conn.write(chunk);
    },
    close: () => conn.closeWrite(),
    abort: () => conn.close(),
  });
}
