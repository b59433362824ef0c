/**
 * TLS 1.3 early data (0-RTT): the client's `SSL_write_early_data`, the server's
 * `SSL_read_early_data` loop, both classified by the one classifier, and the async loop that
 * collects a server's early data over a transport's wire. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { address, toBytes } from "../ffi/memory.ts";
import { inCallback, throwLateError } from "../ffi/callbacks.ts";
import {
  SSL_EARLY_DATA_ACCEPTED,
  SSL_EARLY_DATA_REJECTED,
  SSL_READ_EARLY_DATA_FINISH,
  SSL_READ_EARLY_DATA_SUCCESS,
} from "../ffi/constants_parity.ts";
import { clearErrors } from "../errors/queue.ts";
import {
  classify,
  OK,
  type Outcome,
  outcomeError,
  WANT_CLIENT_HELLO,
  WANT_READ,
  WANT_WRITE,
  WANT_X509_LOOKUP,
} from "../errors/raise.ts";
import { pendingWait } from "./_suspend.ts";
import type { Wire } from "./_pump.ts";
import type { EarlyDataStatus } from "./extras.ts";

type Ptr = Deno.PointerObject;

/** The `size_t` out-parameter of both calls. */
const COUNT = new BigUint64Array(1);
/** The chunk a server reads early data in. */
const CHUNK = 16384;

function drive(ssl: Ptr): void {
  if (inCallback()) {
    throw new TypeError("Early data cannot be read or written inside a denossl callback");
  }
  throwLateError(ssl);
}

/**
 * `SSL_write_early_data`: on a client in connect state with a resumable session whose
 * ticket allows early data, sends the ClientHello (first call) and `data` as 0-RTT records.
 *
 * @param ssl The client's `SSL*`.
 * @param data The bytes.
 * @returns How many bytes were written.
 */
export function writeEarlyData(ssl: Ptr, data: string | Uint8Array): number {
  drive(ssl);
  if (typeof data !== "string" && !(data instanceof Uint8Array)) {
    throw new TypeError("data must be a string or a Uint8Array");
  }
  const bytes = toBytes(data);
  const lib = native().ssl;
  if (lib.SSL_in_before(ssl) === 1 && lib.SSL_is_server(ssl) !== 1) {
    // OpenSSL would fail later with an empty error queue: say what is missing instead.
    const session = lib.SSL_get_session(ssl);
    if (
      session === null || lib.SSL_SESSION_is_resumable(session) !== 1 ||
      lib.SSL_SESSION_get_max_early_data(session) === 0
    ) {
      throw new TypeError(
        "writeEarlyData() needs a resumable session whose ticket allows early data (Session.maxEarlyData > 0): call setSession() with one first",
      );
    }
  }
  clearErrors();
  COUNT[0] = 0n;
  const ret = lib.SSL_write_early_data(ssl, bytes, usize(bytes.length), COUNT);
  const outcome = classify(ssl, ret, ret === 1);
  if (outcome !== OK) throw outcomeError(outcome);
  return Number(COUNT[0]);
}

/** One `SSL_read_early_data`: bytes read, `null` at the end of early data, or an outcome. */
export type EarlyRead = { n: number } | null | Outcome;

/**
 * One `SSL_read_early_data` into `p`.
 *
 * @param ssl The server's `SSL*`.
 * @param p The buffer.
 * @returns `{ n }` for bytes read, null once no more early data can come, or want-read/write.
 */
export function readEarlyDataOnce(ssl: Ptr, p: Uint8Array): EarlyRead {
  drive(ssl);
  clearErrors();
  COUNT[0] = 0n;
  const ret = native().ssl.SSL_read_early_data(ssl, p, usize(p.length), COUNT);
  if (ret === SSL_READ_EARLY_DATA_SUCCESS) {
    classify(ssl, 1, true); // a callback's exception still wins
    return { n: Number(COUNT[0]) };
  }
  if (ret === SSL_READ_EARLY_DATA_FINISH) {
    classify(ssl, 1, true);
    return null;
  }
  return classify(ssl, 0, false);
}

/**
 * Reads all of a server's early data over a transport: flushes its flight, fills on
 * want-read, and settles at the end of early data (before the handshake finishes).
 *
 * @param ssl The server's `SSL*`.
 * @param wire How its ciphertext moves.
 * @returns The early data (empty when none came or it was rejected); OpenSSL bounds it by
 *   the context's `maxEarlyData`.
 */
export async function readAllEarlyData(ssl: () => Ptr, wire: Wire): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(CHUNK);
  for (;;) {
    const got = readEarlyDataOnce(ssl(), buf);
    if (got === null) break;
    if (typeof got === "object") {
      total += got.n;
      chunks.push(buf.slice(0, got.n));
    } else if (got === WANT_READ) {
      await wire.flush();
      await wire.fill();
    } else if (got === WANT_WRITE) {
      await wire.drain();
    } else if (got === WANT_X509_LOOKUP || got === WANT_CLIENT_HELLO) {
      // An async client hello or certificate callback suspended the handshake, as in the pump.
      const wait = pendingWait(address(ssl()));
      if (wait === null) throw outcomeError(got);
      await wire.flush();
      await wait;
    } else {
      throw outcomeError(got);
    }
  }
  await wire.flush();
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/**
 * `SSL_get_early_data_status`.
 *
 * @param ssl The `SSL*`.
 * @returns Its status.
 */
export function earlyDataStatus(ssl: Ptr): EarlyDataStatus {
  const status = native().ssl.SSL_get_early_data_status(ssl);
  return status === SSL_EARLY_DATA_ACCEPTED
    ? "accepted"
    : status === SSL_EARLY_DATA_REJECTED
    ? "rejected"
    : "not-sent";
}

/**
 * A server connection's early data read inside its handshake (the listener's
 * `maxEarlyData`): `SSL_read_early_data` steps taken by the pump's handshake loop
 * until the early data ends, and the bytes kept for the connection's first reads.
 */
export class EarlyInbox {
  #chunks: Uint8Array[] = [];
  /** Offset into the first chunk of what `take` already gave. */
  #offset = 0;
  /** Whether the handshake still reads early data (SSL_read_early_data, not SSL_do_handshake). */
  reading = true;
  readonly #buf = new Uint8Array(CHUNK);

  /**
   * One `SSL_read_early_data` step of the handshake.
   *
   * @param ssl The server's `SSL*`.
   * @returns Null when it made progress (bytes kept, or the early data ended: then
   *   {@link reading} turns false), else the want-outcome to wait on.
   */
  step(ssl: Ptr): Outcome | null {
    const got = readEarlyDataOnce(ssl, this.#buf);
    if (got === null) {
      this.reading = false;
      return null;
    }
    if (typeof got === "number") return got;
    if (got.n > 0) this.#chunks.push(this.#buf.slice(0, got.n));
    return null;
  }

  /** Whether every early byte was taken. */
  get empty(): boolean {
    return this.#chunks.length === 0;
  }

  /**
   * Moves kept early bytes into `p`, in order.
   *
   * @param p Where to put them.
   * @returns How many bytes were moved.
   */
  take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const part = chunk.subarray(this.#offset, this.#offset + p.length - n);
      p.set(part, n);
      n += part.length;
      this.#offset += part.length;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    return n;
  }
}

/**
 * Checks the listener's `maxEarlyData` option.
 *
 * @param value The option.
 * @returns The limit in bytes, 0 for off.
 * @throws {RangeError} When it is not an integer from 0 to 4294967295.
 */
export function earlyDataLimit(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(
      `maxEarlyData must be a number of bytes, an integer from 0 (off) to 4294967295: got ${
        String(value)
      }`,
    );
  }
  return value;
}
