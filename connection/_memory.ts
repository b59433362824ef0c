/**
 * Memory mode's BIO pair: the two memory BIOs of a connection without a transport, through which
 * the caller moves ciphertext itself (pyOpenSSL's `Connection(ctx, None)`). Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { toBytes } from "../ffi/memory.ts";
import { BIO_set_mem_eof_return } from "../ffi/constants.ts";
import { WantReadError } from "../errors/ssl_error.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";

/**
 * Gives `ssl` a new pair of memory BIOs (`SSL_set_bio`: the SSL owns them,
 * and frees the pair it had).
 *
 * @param ssl The `SSL*`.
 * @returns The incoming and outgoing BIO, or null when out of memory (nothing changed then).
 */
export function setMemoryBios(
  ssl: Deno.PointerObject,
): { rbio: Deno.PointerObject; wbio: Deno.PointerObject } | null {
  const { ssl: lib, crypto } = native();
  const rbio = crypto.BIO_new(crypto.BIO_s_mem());
  const wbio = crypto.BIO_new(crypto.BIO_s_mem());
  if (rbio === null || wbio === null) {
    if (rbio) crypto.BIO_free(rbio);
    if (wbio) crypto.BIO_free(wbio);
    return null;
  }
  lib.SSL_set_bio(ssl, rbio, wbio);
  return { rbio, wbio };
}

/** Two memory BIOs owned by an `SSL*` (`SSL_set_bio`), and the caller's side of them. */
export class MemoryBios {
  #rbio: Deno.PointerObject | null;
  #wbio: Deno.PointerObject | null;

  /**
   * Gives the `SSL*` two memory BIOs (the SSL owns them from here on).
   *
   * @param ssl The `SSL*`.
   */
  constructor(ssl: Deno.PointerObject) {
    const bios = setMemoryBios(ssl);
    if (bios === null) throw new Error("Out of memory: BIO_new failed");
    this.#rbio = bios.rbio;
    this.#wbio = bios.wbio;
  }

  #bio(which: "read" | "write"): Deno.PointerObject {
    const bio = which === "read" ? this.#rbio : this.#wbio;
    if (bio === null) throw new TypeError("The connection is closed");
    return bio;
  }

  /** Forgets the BIOs (the `SSL*` frees them). */
  detach(): void {
    this.#rbio = this.#wbio = null;
  }

  read(bufsize: number): Uint8Array {
    const bio = this.#bio("write");
    if (!Number.isInteger(bufsize) || bufsize <= 0) {
      throw new RangeError("bufsize must be a positive integer");
    }
    const { crypto } = native();
    const available = Number(crypto.BIO_ctrl_pending(bio));
    if (available === 0) throw new WantReadError("No ciphertext is waiting to be sent");
    const out = new Uint8Array(Math.min(bufsize, available));
    const n = crypto.BIO_read(bio, out, out.length);
    if (n <= 0) throw new WantReadError("No ciphertext is waiting to be sent");
    return n === out.length ? out : out.slice(0, n);
  }

  readInto(buffer: Uint8Array, nbytes?: number): number {
    const bio = this.#bio("write");
    if (!(buffer instanceof Uint8Array)) throw new TypeError("buffer must be a Uint8Array");
    const n = nbytes ?? buffer.length;
    if (!Number.isInteger(n) || n <= 0 || n > buffer.length) {
      throw new RangeError(`nbytes must be an integer from 1 to ${buffer.length}`);
    }
    const got = native().crypto.BIO_read(bio, buffer, n);
    if (got <= 0) throw new WantReadError("No ciphertext is waiting to be sent");
    return got;
  }

  pending(): number {
    return Number(native().crypto.BIO_ctrl_pending(this.#bio("write")));
  }

  write(data: string | Uint8Array): number {
    const bio = this.#bio("read");
    const bytes = toBytes(data);
    if (bytes.length === 0) return 0;
    clearErrors();
    const n = native().crypto.BIO_write(bio, bytes, bytes.length);
    if (n <= 0) throw sslErrorFromQueue("BIO_write failed");
    return n;
  }

  shutdown(): void {
    BIO_set_mem_eof_return(this.#bio("read"), 0);
  }
}
