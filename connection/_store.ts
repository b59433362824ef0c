/**
 * A context's trust store as an `X509Store`: setting one (`SSL_CTX_set1_cert_store`,
 * which takes its own reference) and lending the live one out. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { X509Store } from "../crypto/store.ts";

/**
 * Makes `store` the context's trust store. OpenSSL raises the store's count
 * and drops the context's old store, so each reference is freed once: the
 * context's by `SSL_CTX_free`, the caller's by `store.close()`.
 *
 * @param ctx The `SSL_CTX*`, checked mutable by the caller.
 * @param store The store.
 * @throws {TypeError} When `store` is not an `X509Store`.
 */
export function setCertStore(ctx: Deno.PointerObject, store: X509Store): void {
  if (!(store instanceof X509Store)) throw new TypeError("setCertStore() takes an X509Store");
  native().ssl.SSL_CTX_set1_cert_store(ctx, store._handle);
}

/**
 * The context's trust store, with a reference of its own.
 *
 * @param ctx The `SSL_CTX*`.
 * @returns The live store.
 */
export function getCertStore(ctx: Deno.PointerObject): X509Store {
  const ptr = native().ssl.SSL_CTX_get_cert_store(ctx);
  if (ptr === null) throw new TypeError("The context has no certificate store");
  return X509Store._borrow(ptr);
}
