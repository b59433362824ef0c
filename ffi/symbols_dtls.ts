/**
 * libssl and libcrypto symbols that only DTLS uses (cookies, timers, MTU,
 * SRTP), merged into the tables of `symbols.ts`; C prototype per line.
 *
 * The DTLS symbols that `symbols.ts` already had before DTLS support
 * (`DTLS_method`, `DTLSv1_listen`, `SSL_CTX_set_cookie_generate_cb`,
 * `SSL_CTX_set_cookie_verify_cb`, `SSL_CTX_set_tlsext_use_srtp`,
 * `SSL_get_selected_srtp_profile`, `BIO_ADDR_new`/`BIO_ADDR_free`) stay there.
 *
 * Macros that are not symbols, and what stands for them (see `connection/_dtls.ts`):
 * `DTLSv1_get_timeout` → `SSL_ctrl(s, DTLS_CTRL_GET_TIMEOUT = 73, 0, struct timeval *)`;
 * `DTLSv1_handle_timeout` → `SSL_ctrl(s, DTLS_CTRL_HANDLE_TIMEOUT = 74, 0, NULL)`;
 * `DTLS_set_link_mtu` → `SSL_ctrl(s, DTLS_CTRL_SET_LINK_MTU = 120, mtu, NULL)`;
 * `DTLS_get_link_min_mtu` → `SSL_ctrl(s, DTLS_CTRL_GET_LINK_MIN_MTU = 121, 0, NULL)`.
 *
 * @module
 */

/** libssl symbols of DTLS. */
export const DTLS_SSL_SYMBOLS = {
  SSL_is_dtls: { parameters: ["pointer"], result: "i32" }, // int SSL_is_dtls(const SSL *s)
  DTLS_get_data_mtu: { parameters: ["pointer"], result: "usize" }, // size_t DTLS_get_data_mtu(const SSL *s)
  DTLS_set_timer_cb: { parameters: ["pointer", "function"], result: "void" }, // void DTLS_set_timer_cb(SSL *s, DTLS_timer_cb cb)
  SSL_set_tlsext_use_srtp: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_set_tlsext_use_srtp(SSL *ssl, const char *profiles)
} as const satisfies Deno.ForeignLibraryInterface;

/** libcrypto symbols of DTLS (the default cookie of `listenDtls` is an HMAC). */
export const DTLS_CRYPTO_SYMBOLS = {
  HMAC: {
    parameters: [
      "pointer", // const EVP_MD *evp_md
      "buffer", // const void *key
      "i32", // int key_len
      "buffer", // const unsigned char *data
      "usize", // size_t data_len
      "buffer", // unsigned char *md
      "buffer", // unsigned int *md_len
    ],
    result: "pointer", // unsigned char *
  },
} as const satisfies Deno.ForeignLibraryInterface;
