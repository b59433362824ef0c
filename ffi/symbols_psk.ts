/**
 * libssl and libcrypto symbols of TLS-PSK and of a context's trust store
 * (`SSL_CTX_set1_cert_store`, a store's purpose), merged into the tables of
 * `symbols.ts`; C prototype per line.
 *
 * @module
 */

import { ULONG } from "./ctypes.ts";

/** libssl symbols of pre-shared keys (optional: OpenSSL built with `no-psk` lacks them) and of the context's store. */
export const PSK_SSL_SYMBOLS = {
  SSL_CTX_set_psk_client_callback: {
    parameters: ["pointer", "function"],
    result: "void",
    optional: true,
  }, // void SSL_CTX_set_psk_client_callback(SSL_CTX *ctx, SSL_psk_client_cb_func cb)
  SSL_CTX_set_psk_server_callback: {
    parameters: ["pointer", "function"],
    result: "void",
    optional: true,
  }, // void SSL_CTX_set_psk_server_callback(SSL_CTX *ctx, SSL_psk_server_cb_func cb)
  SSL_CTX_use_psk_identity_hint: {
    parameters: ["pointer", "buffer"],
    result: "i32",
    optional: true,
  }, // int SSL_CTX_use_psk_identity_hint(SSL_CTX *ctx, const char *identity_hint)
  SSL_CTX_set1_cert_store: { parameters: ["pointer", "pointer"], result: "void" }, // void SSL_CTX_set1_cert_store(SSL_CTX *, X509_STORE *)
} as const satisfies Deno.ForeignLibraryInterface;

/** libcrypto symbols of a store's verification settings. */
export const STORE_CRYPTO_SYMBOLS = {
  X509_STORE_set_purpose: { parameters: ["pointer", "i32"], result: "i32" }, // int X509_STORE_set_purpose(X509_STORE *ctx, int purpose)
  X509_VERIFY_PARAM_get_flags: { parameters: ["pointer"], result: ULONG }, // unsigned long X509_VERIFY_PARAM_get_flags(const X509_VERIFY_PARAM *param)
} as const satisfies Deno.ForeignLibraryInterface;
