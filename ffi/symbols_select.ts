/**
 * libssl symbols of asynchronous selection (a certificate and key per
 * connection, the certificate callback per connection, the client hello's
 * session ID) and of an external session cache (get and remove callbacks),
 * merged into the tables of `symbols.ts`; C prototype per line.
 *
 * OpenSSL 3.0 has no `SSL_magic_pending_session_ptr()` (BoringSSL's way to
 * suspend a session lookup): an asynchronous lookup runs at the client hello
 * stage instead, which can suspend (`SSL_CLIENT_HELLO_RETRY`).
 *
 * @module
 */

/** libssl symbols of asynchronous selection and the external session cache. */
export const SELECT_SSL_SYMBOLS = {
  SSL_use_certificate: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_use_certificate(SSL *ssl, X509 *x)
  SSL_use_PrivateKey: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_use_PrivateKey(SSL *ssl, EVP_PKEY *pkey)
  SSL_check_private_key: { parameters: ["pointer"], result: "i32" }, // int SSL_check_private_key(const SSL *ctx)
  SSL_set_cert_cb: { parameters: ["pointer", "function", "pointer"], result: "void" }, // void SSL_set_cert_cb(SSL *s, int (*cb)(SSL *ssl, void *arg), void *arg)
  SSL_get_options: { parameters: ["pointer"], result: "u64" }, // uint64_t SSL_get_options(const SSL *s)
  SSL_client_hello_get0_session_id: { parameters: ["pointer", "buffer"], result: "usize" }, // size_t SSL_client_hello_get0_session_id(SSL *s, const unsigned char **out)
  SSL_CTX_sess_set_get_cb: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_sess_set_get_cb(SSL_CTX *ctx, SSL_SESSION *(*get_session_cb)(SSL *, const unsigned char *data, int len, int *copy))
  SSL_CTX_sess_set_remove_cb: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_sess_set_remove_cb(SSL_CTX *ctx, void (*remove_session_cb)(SSL_CTX *ctx, SSL_SESSION *sess))
} as const satisfies Deno.ForeignLibraryInterface;
