/**
 * libssl and libcrypto symbols of the features Python's `ssl` and Node's `tls` users look for
 * next (channel bindings, DHE parameters, ticket counts, 0-RTT early data, record sizes,
 * listings, the handshake trace), merged into the tables of `symbols.ts`; C prototype per line.
 *
 * Macros that are not symbols, and what stands for them (see `constants_parity.ts`):
 * `SSL_CTX_set_dh_auto` → `SSL_CTX_ctrl(ctx, SSL_CTRL_SET_DH_AUTO = 118, onoff, NULL)`;
 * `SSL_CTX_set_max_send_fragment` → `SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_SEND_FRAGMENT = 52, m, NULL)`
 * (and `SSL_ctrl` for a connection); `SSL_get1_groups` → `SSL_ctrl(s, SSL_CTRL_GET_GROUPS = 90, 0, int *)`;
 * `SSL_get_shared_group` → `SSL_ctrl(s, SSL_CTRL_GET_SHARED_GROUP = 93, n, NULL)`;
 * `SSL_get_peer_signature_nid` → `SSL_ctrl(s, SSL_CTRL_GET_PEER_SIGNATURE_NID = 108, 0, int *)`;
 * `SSL_get_signature_nid` → `SSL_ctrl(s, SSL_CTRL_GET_SIGNATURE_NID = 132, 0, int *)`.
 *
 * @module
 */

/** libssl symbols of the parity features. */
export const PARITY_SSL_SYMBOLS = {
  SSL_CTX_set0_tmp_dh_pkey: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_CTX_set0_tmp_dh_pkey(SSL_CTX *ctx, EVP_PKEY *dhpkey)
  SSL_CTX_set_num_tickets: { parameters: ["pointer", "usize"], result: "i32" }, // int SSL_CTX_set_num_tickets(SSL_CTX *ctx, size_t num_tickets)
  SSL_CTX_get_num_tickets: { parameters: ["pointer"], result: "usize" }, // size_t SSL_CTX_get_num_tickets(const SSL_CTX *ctx)
  SSL_CTX_set_max_early_data: { parameters: ["pointer", "u32"], result: "i32" }, // int SSL_CTX_set_max_early_data(SSL_CTX *ctx, uint32_t max_early_data)
  SSL_CTX_get_max_early_data: { parameters: ["pointer"], result: "u32" }, // uint32_t SSL_CTX_get_max_early_data(const SSL_CTX *ctx)
  SSL_CTX_set_recv_max_early_data: { parameters: ["pointer", "u32"], result: "i32" }, // int SSL_CTX_set_recv_max_early_data(SSL_CTX *ctx, uint32_t recv_max_early_data)
  SSL_SESSION_get_max_early_data: { parameters: ["pointer"], result: "u32" }, // uint32_t SSL_SESSION_get_max_early_data(const SSL_SESSION *s)
  SSL_write_early_data: {
    parameters: [
      "pointer", // SSL *s
      "buffer", // const void *buf
      "usize", // size_t num
      "buffer", // size_t *written
    ],
    result: "i32", // int
  },
  SSL_read_early_data: {
    parameters: [
      "pointer", // SSL *s
      "buffer", // void *buf
      "usize", // size_t num
      "buffer", // size_t *readbytes
    ],
    result: "i32", // int: SSL_READ_EARLY_DATA_ERROR, _SUCCESS or _FINISH
  },
  SSL_in_before: { parameters: ["pointer"], result: "i32" }, // int SSL_in_before(const SSL *s)
  SSL_get_early_data_status: { parameters: ["pointer"], result: "i32" }, // int SSL_get_early_data_status(const SSL *s)
  SSL_CTX_set_tlsext_max_fragment_length: { parameters: ["pointer", "u8"], result: "i32" }, // int SSL_CTX_set_tlsext_max_fragment_length(SSL_CTX *ctx, uint8_t mode)
  SSL_set_tlsext_max_fragment_length: { parameters: ["pointer", "u8"], result: "i32" }, // int SSL_set_tlsext_max_fragment_length(SSL *ssl, uint8_t mode)
  SSL_SESSION_get_max_fragment_length: { parameters: ["pointer"], result: "u8" }, // uint8_t SSL_SESSION_get_max_fragment_length(const SSL_SESSION *sess)
  SSL_CTX_get_ciphers: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(SSL_CIPHER) *SSL_CTX_get_ciphers(const SSL_CTX *ctx)
  SSL_get_shared_ciphers: { parameters: ["pointer", "buffer", "i32"], result: "pointer" }, // char *SSL_get_shared_ciphers(const SSL *s, char *buf, int size)
  SSL_get_peer_signature_type_nid: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_get_peer_signature_type_nid(const SSL *s, int *pnid)
  SSL_get_signature_type_nid: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_get_signature_type_nid(const SSL *s, int *pnid)
  SSL_set_msg_callback: { parameters: ["pointer", "function"], result: "void" }, // void SSL_set_msg_callback(SSL *ssl, void (*cb)(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg))
  SSL_alert_desc_string_long: { parameters: ["i32"], result: "pointer" }, // const char *SSL_alert_desc_string_long(int value)
  SSL_alert_type_string_long: { parameters: ["i32"], result: "pointer" }, // const char *SSL_alert_type_string_long(int value)
  SSL_set_info_callback: { parameters: ["pointer", "function"], result: "void" }, // void SSL_set_info_callback(SSL *ssl, void (*cb)(const SSL *ssl, int type, int val))
} as const satisfies Deno.ForeignLibraryInterface;

/** libcrypto symbols of the parity features. */
export const PARITY_CRYPTO_SYMBOLS = {
  X509_get_signature_info: {
    parameters: [
      "pointer", // X509 *x
      "buffer", // int *mdnid
      "buffer", // int *pknid
      "buffer", // int *secbits
      "buffer", // uint32_t *flags
    ],
    result: "i32", // int
  },
  PEM_read_bio_Parameters: { parameters: ["pointer", "pointer"], result: "pointer" }, // EVP_PKEY *PEM_read_bio_Parameters(BIO *bp, EVP_PKEY **x)
  EVP_PKEY_is_a: { parameters: ["pointer", "buffer"], result: "i32" }, // int EVP_PKEY_is_a(const EVP_PKEY *pkey, const char *name)
} as const satisfies Deno.ForeignLibraryInterface;
