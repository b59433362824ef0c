/**
 * The SSL core of a connection: the `SSL*`, its registration and finalizer, the drive guard, and
 * the calls that drive OpenSSL, each classified by the one classifier. Internal.
 *
 * @module
 */

import { native, opensslVersion } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { handleRegistry, releaseHandle, trackHandle } from "../ffi/_handles.ts";
import { ClosedError } from "../errors/ssl_error.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { classify, OK, type Outcome } from "../errors/raise.ts";
import { afterHandshake, dropPending } from "./_suspend.ts";
import { inCallback, registerOwner, throwLateError, unregisterOwner } from "../ffi/callbacks.ts";

const registry = handleRegistry("SSL", (ptr, address) => {
  unregisterOwner(address);
  native().ssl.SSL_free(ptr);
});

/**
 * The `size_t` that SSL_read_ex/SSL_write_ex report through. Every SSL call
 * runs on the JS thread and the count is read right after the call returns
 * (OpenSSL writes it last, after any callback), so one serves every connection.
 */
const COUNT = new BigUint64Array(1);

/** `SENT_SHUTDOWN`, as `SSL_get_shutdown` reports it. */
const SENT_SHUTDOWN = 1;

/**
 * One `SSL*` and the calls that drive it. `handshake`, `read`, `peek`,
 * `write` and `shutdown` each clear the error queue, make the call and hand
 * its result to {@link classify}: they return ok, want-read, want-write or
 * zero-return, and throw everything else (a callback's exception first).
 */
export class SslCore {
  #ssl: Deno.PointerObject | null;
  /** The `SSL*`'s address: the key it is registered under (computed once: it is an op call). */
  readonly addr: bigint;
  readonly #lib = native().ssl;
  /** Whether the last {@link shutdown} saw both close_notify alerts. */
  shutdownComplete = false;

  /**
   * Creates the `SSL*` from a context and registers it: `owner` is what
   * callbacks find by the pointer, and what the finalizer watches.
   *
   * @param ctx The `SSL_CTX*`.
   * @param owner The connection that owns this core.
   */
  constructor(ctx: Deno.PointerObject, owner: object) {
    clearErrors();
    const ssl = this.#lib.SSL_new(ctx);
    if (ssl === null) throw sslErrorFromQueue("SSL_new failed");
    this.#ssl = ssl;
    const addr = BigInt(Deno.UnsafePointer.value(ssl));
    this.addr = addr;
    registry.register(owner, addr, this);
    registerOwner(addr, owner);
    trackHandle("SSL", addr);
  }

  /** The `SSL*`; throws `ClosedError` once closed. */
  get handle(): Deno.PointerObject {
    if (this.#ssl === null) throw new ClosedError("Connection");
    return this.#ssl;
  }

  /** The `SSL*`, or null once closed. */
  get raw(): Deno.PointerObject | null {
    return this.#ssl;
  }

  /**
   * The `SSL*`, for a call that drives OpenSSL. Refused inside a callback:
   * OpenSSL is then in the middle of a call further up the stack, and
   * re-entering it crashes.
   */
  drive(): Deno.PointerObject {
    const ssl = this.handle;
    if (inCallback()) {
      throw new TypeError(
        "A TLS handshake, read, write or shutdown cannot run inside a denossl callback: return from the callback first",
      );
    }
    throwLateError(ssl); // a rejection of an info, key log or new-session callback's promise
    return ssl;
  }

  /** What the last successful {@link read}, {@link peek} or {@link write} moved, in bytes. */
  get count(): number {
    return Number(COUNT[0]);
  }

  /** `SSL_do_handshake`, classified; done only once no callback's Promise is left to decide. */
  handshake(): Outcome {
    const ssl = this.drive();
    clearErrors();
    const ret = this.#lib.SSL_do_handshake(ssl);
    const outcome = classify(ssl, ret, ret === 1);
    return outcome === OK ? afterHandshake(this.addr) : outcome;
  }

  /**
   * `SSL_read_ex` into the first `n` bytes of `p`, classified; the count is {@link count}.
   *
   * @param p The buffer.
   * @param n How much of it.
   */
  read(p: Uint8Array, n: number): Outcome {
    const ssl = this.drive();
    clearErrors();
    COUNT[0] = 0n; // what a read that a callback's exception ends had decrypted, or nothing
    const ret = this.#lib.SSL_read_ex(ssl, p, usize(n), COUNT);
    return classify(ssl, ret, ret === 1);
  }

  /**
   * `SSL_peek_ex`, classified, like {@link read}.
   *
   * @param p The buffer.
   * @param n How much of it.
   */
  peek(p: Uint8Array, n: number): Outcome {
    const ssl = this.drive();
    clearErrors();
    const ret = this.#lib.SSL_peek_ex(ssl, p, usize(n), COUNT);
    return classify(ssl, ret, ret === 1);
  }

  /**
   * `SSL_write_ex` of all of `p`, classified; the count is {@link count}.
   *
   * @param p The bytes.
   */
  write(p: Uint8Array): Outcome {
    const ssl = this.drive();
    clearErrors();
    const ret = this.#lib.SSL_write_ex(ssl, p, usize(p.length), COUNT);
    return classify(ssl, ret, ret === 1);
  }

  /** `SSL_shutdown`, classified; {@link shutdownComplete} says whether it returned 1. */
  shutdown(): Outcome {
    const ssl = this.drive();
    clearErrors();
    const ret = this.#lib.SSL_shutdown(ssl);
    this.shutdownComplete = ret === 1;
    return classify(ssl, ret, ret >= 0);
  }

  /** Whether our close_notify was sent (or queued). */
  get sentShutdown(): boolean {
    return (this.#lib.SSL_get_shutdown(this.handle) & SENT_SHUTDOWN) !== 0;
  }

  /** Whether the handshake is complete. */
  get handshakeDone(): boolean {
    return this.#lib.SSL_is_init_finished(this.handle) === 1;
  }

  /**
   * Queues a close_notify on the way out, when the handshake finished and
   * none was sent; never throws (a connection that closes reports nothing).
   *
   * @returns Whether it queued one.
   */
  closeNotify(): boolean {
    const ssl = this.#ssl;
    if (ssl === null || inCallback()) return false;
    if (this.#lib.SSL_is_init_finished(ssl) !== 1) return false;
    if ((this.#lib.SSL_get_shutdown(ssl) & SENT_SHUTDOWN) !== 0) return false;
    try {
      this.shutdown();
    } catch {
      // best effort: the connection is going away whatever the peer's state
    }
    native().crypto.ERR_clear_error();
    return true;
  }

  /** Frees OpenSSL's record buffers while the connection waits (see _idle.ts). */
  releaseBuffers(): void {
    const ssl = this.#ssl;
    if (ssl === null || inCallback()) return;
    if (freeBuffersSafe === undefined) {
      const { major, minor, patch } = opensslVersion();
      freeBuffersSafe = major > 3 || minor > 0 || patch >= 14;
    }
    // Returns 0 (and frees nothing) while a record is partly read or written.
    if (freeBuffersSafe) this.#lib.SSL_free_buffers(ssl);
  }

  /**
   * Frees the `SSL*` (idempotent). Closed from a callback, OpenSSL still
   * runs on it up the stack: the free, and `after`, wait for that call.
   *
   * @param after What to do once the `SSL*` is freed (close a descriptor it used).
   * @returns False when it was already closed.
   */
  close(after?: () => void): boolean {
    const ssl = this.#ssl;
    if (ssl === null) return false;
    this.#ssl = null;
    registry.unregister(this);
    unregisterOwner(this.addr);
    dropPending(this.addr); // a handshake waiting on a callback's Promise goes on, and fails closed
    const lib = this.#lib;
    const free = (): void => {
      lib.SSL_free(ssl);
      after?.();
    };
    if (inCallback()) queueMicrotask(free);
    else free();
    releaseHandle("SSL", this.addr);
    return true;
  }
}

/**
 * Whether idle connections may hand OpenSSL's record buffers back
 * (`SSL_free_buffers`): safe from 3.0.14 on, which fixed CVE-2024-4741 (a
 * use after free when a record was still partly buffered). Decided once.
 */
let freeBuffersSafe: boolean | undefined;
