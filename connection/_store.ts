/**
 * A context's trust store as an `X509Store`: setting one (`SSL_CTX_set1_cert_store`,
 * which takes its own reference) and lending the live one out. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { X509Store, X509StoreFlags } from "../crypto/store.ts";

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

/**
 * Adds the helpers' `crls` to a context's store and checks every
 * certificate of the peer's chain against them, as Node's `crl` option does
 * (`CRL_CHECK | CRL_CHECK_ALL`): a chain certificate whose issuer has no CRL
 * here is refused, never let through.
 *
 * @param ctx The context's `SSL_CTX*`.
 * @param crls PEM CRLs.
 * @throws {TypeError} When `crls` is not an array of strings.
 * @throws {SSLError} When a CRL cannot be parsed.
 */
export function addCrls(ctx: Deno.PointerObject, crls: readonly string[]): void {
  if (!Array.isArray(crls) || crls.some((c) => typeof c !== "string")) {
    throw new TypeError("crls must be an array of PEM CRLs (strings)");
  }
  using store = getCertStore(ctx);
  for (const crl of crls) store.addCRL(crl);
  store.setFlags(X509StoreFlags.CRL_CHECK | X509StoreFlags.CRL_CHECK_ALL);
}
