/**
 * libssl and libcrypto symbols of application-supplied session ticket keys
 * (`TicketKeyRing`), merged into the tables of `symbols.ts`; C prototype per line.
 *
 * @module
 */

/** libssl symbols of ticket keys. */
export const TICKET_SSL_SYMBOLS = {
  SSL_CTX_set_tlsext_ticket_key_evp_cb: {
    parameters: ["pointer", "function"],
    result: "i32",
  }, // int SSL_CTX_set_tlsext_ticket_key_evp_cb(SSL_CTX *ctx, int (*fp)(SSL *, unsigned char *, unsigned char *, EVP_CIPHER_CTX *, EVP_MAC_CTX *, int))
} as const satisfies Deno.ForeignLibraryInterface;

/** libcrypto symbols of ticket keys: the ticket's AES-256-CBC and HMAC-SHA256. */
export const TICKET_CRYPTO_SYMBOLS = {
  EVP_aes_256_cbc: { parameters: [], result: "pointer" }, // const EVP_CIPHER *EVP_aes_256_cbc(void)
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  }, // int EVP_EncryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl, const unsigned char *key, const unsigned char *iv)
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  }, // int EVP_DecryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl, const unsigned char *key, const unsigned char *iv)
  EVP_MAC_CTX_set_params: { parameters: ["pointer", "buffer"], result: "i32" }, // int EVP_MAC_CTX_set_params(EVP_MAC_CTX *ctx, const OSSL_PARAM params[])
} as const satisfies Deno.ForeignLibraryInterface;
