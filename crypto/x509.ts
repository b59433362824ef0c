/**
 * X.509 certificates.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { ClosedError } from "../errors/ssl_error.ts";

const registry = new FinalizationRegistry<bigint>((address) => {
  const ptr = Deno.UnsafePointer.create(address);
  if (ptr) native().crypto.X509_free(ptr);
});

/**
 * An X.509 certificate (OpenSSL's `X509`).
 *
 * @example
 * ```ts ignore
 * const cert = X509.fromPEM(pem);
 * console.log(cert.subject.commonName);
 * ```
 */
export class X509 {
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
    registry.register(this, BigInt(Deno.UnsafePointer.value(ptr)), this);
  }

  /**
   * Wraps an `X509*`, taking ownership of one reference. Internal.
   *
   * @param ptr The pointer; the new object frees it.
   * @returns The certificate.
   */
  static _wrap(ptr: Deno.PointerObject): X509 {
    return new X509(ptr);
  }

  /**
   * Wraps an `X509*` borrowed from OpenSSL, taking a reference of its own. Internal.
   *
   * @param ptr The pointer; its reference count is raised.
   * @returns The certificate.
   */
  static _borrow(ptr: Deno.PointerObject): X509 {
    native().crypto.X509_up_ref(ptr);
    return new X509(ptr);
  }

  /** The `X509*`, for denossl's own use. Throws when closed. */
  get _handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new ClosedError("X509");
    return this.#ptr;
  }

  /** Frees the certificate; idempotent. */
  close(): void {
    if (this.#ptr === null) return;
    registry.unregister(this);
    native().crypto.X509_free(this.#ptr);
    this.#ptr = null;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
