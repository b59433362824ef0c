/**
 * The typed symbol tables handed to `Deno.dlopen`: libssl, libcrypto and the
 * few libc calls denossl needs. Each entry carries its C prototype so the table
 * can be checked against the OpenSSL headers line by line.
 *
 * C `long` is 64-bit on Linux and macOS and 32-bit on Windows; OpenSSL's
 * `*_ctrl` functions take and return `long`, so their type is chosen per
 * platform (see `ctypes.ts`). Callers always pass a `number` and convert the
 * result with `Number()`, which is correct for both widths.
 *
 * Certificate, key and store symbols live in `symbols_x509.ts`, DTLS-only
 * symbols in `symbols_dtls.ts`; both are merged into the tables here.
 *
 * @module
 */

import { LONG, ULONG } from "./ctypes.ts";
import { X509_SYMBOLS } from "./symbols_x509.ts";
import { DTLS_CRYPTO_SYMBOLS, DTLS_SSL_SYMBOLS } from "./symbols_dtls.ts";
import { PSK_SSL_SYMBOLS, STORE_CRYPTO_SYMBOLS } from "./symbols_psk.ts";
import { CSR_CRYPTO_SYMBOLS } from "./symbols_csr.ts";
import { SELECT_SSL_SYMBOLS } from "./symbols_select.ts";
import { PARITY_CRYPTO_SYMBOLS, PARITY_SSL_SYMBOLS } from "./symbols_parity.ts";
import { TICKET_CRYPTO_SYMBOLS, TICKET_SSL_SYMBOLS } from "./symbols_tickets.ts";

/** libssl symbols. */
export const SSL_SYMBOLS = {
  // ---- methods and versions -------------------------------------------------
  TLS_method: { parameters: [], result: "pointer" }, // const SSL_METHOD *TLS_method(void)
  TLS_client_method: { parameters: [], result: "pointer" }, // const SSL_METHOD *TLS_client_method(void)
  TLS_server_method: { parameters: [], result: "pointer" }, // const SSL_METHOD *TLS_server_method(void)
  DTLS_method: { parameters: [], result: "pointer" }, // const SSL_METHOD *DTLS_method(void)
  DTLS_client_method: { parameters: [], result: "pointer" }, // const SSL_METHOD *DTLS_client_method(void)
  DTLS_server_method: { parameters: [], result: "pointer" }, // const SSL_METHOD *DTLS_server_method(void)
  OpenSSL_version_num: { parameters: [], result: ULONG }, // unsigned long OpenSSL_version_num(void)

  // ---- SSL_CTX ----------------------------------------------------------------
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" }, // SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth)
  SSL_CTX_free: { parameters: ["pointer"], result: "void" }, // void SSL_CTX_free(SSL_CTX *ctx)
  SSL_CTX_ctrl: {
    parameters: [
      "pointer", // SSL_CTX *ctx
      "i32", // int cmd
      LONG, // long larg
      "pointer", // void *parg
    ],
    result: LONG, // long
  },
  SSL_CTX_callback_ctrl: {
    parameters: [
      "pointer", // SSL_CTX *ctx
      "i32", // int cmd
      "function", // void (*fp)(void)
    ],
    result: LONG, // long
  },
  SSL_CTX_set_options: { parameters: ["pointer", "u64"], result: "u64" }, // uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op)
  SSL_CTX_clear_options: { parameters: ["pointer", "u64"], result: "u64" }, // uint64_t SSL_CTX_clear_options(SSL_CTX *ctx, uint64_t op)
  SSL_CTX_get_options: { parameters: ["pointer"], result: "u64" }, // uint64_t SSL_CTX_get_options(const SSL_CTX *ctx)
  SSL_CTX_set_cipher_list: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_CTX_set_cipher_list(SSL_CTX *, const char *str)
  SSL_CTX_set_ciphersuites: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *str)
  SSL_CTX_set_security_level: { parameters: ["pointer", "i32"], result: "void" }, // void SSL_CTX_set_security_level(SSL_CTX *ctx, int level)
  SSL_CTX_get_security_level: { parameters: ["pointer"], result: "i32" }, // int SSL_CTX_get_security_level(const SSL_CTX *ctx)
  SSL_CTX_use_certificate: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x)
  SSL_CTX_use_certificate_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" }, // int SSL_CTX_use_certificate_file(SSL_CTX *ctx, const char *file, int type)
  SSL_CTX_use_certificate_chain_file: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file)
  SSL_CTX_use_PrivateKey: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_CTX_use_PrivateKey(SSL_CTX *ctx, EVP_PKEY *pkey)
  SSL_CTX_use_PrivateKey_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" }, // int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type)
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" }, // int SSL_CTX_check_private_key(const SSL_CTX *ctx)
  SSL_CTX_set_default_passwd_cb: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_set_default_passwd_cb(SSL_CTX *ctx, pem_password_cb *cb)
  SSL_CTX_load_verify_locations: { parameters: ["pointer", "buffer", "buffer"], result: "i32" }, // int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *CAfile, const char *CApath)
  SSL_CTX_set_default_verify_paths: { parameters: ["pointer"], result: "i32" }, // int SSL_CTX_set_default_verify_paths(SSL_CTX *ctx)
  SSL_CTX_get_cert_store: { parameters: ["pointer"], result: "pointer" }, // X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *)
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "function"], result: "void" }, // void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb cb)
  SSL_CTX_set_verify_depth: { parameters: ["pointer", "i32"], result: "void" }, // void SSL_CTX_set_verify_depth(SSL_CTX *ctx, int depth)
  SSL_CTX_get_verify_mode: { parameters: ["pointer"], result: "i32" }, // int SSL_CTX_get_verify_mode(const SSL_CTX *ctx)
  SSL_CTX_get_verify_depth: { parameters: ["pointer"], result: "i32" }, // int SSL_CTX_get_verify_depth(const SSL_CTX *ctx)
  SSL_CTX_set_alpn_protos: { parameters: ["pointer", "buffer", "u32"], result: "i32" }, // int SSL_CTX_set_alpn_protos(SSL_CTX *ctx, const unsigned char *protos, unsigned int protos_len)
  SSL_CTX_set_alpn_select_cb: { parameters: ["pointer", "function", "pointer"], result: "void" }, // void SSL_CTX_set_alpn_select_cb(SSL_CTX *ctx, SSL_CTX_alpn_select_cb_func cb, void *arg)
  SSL_CTX_set_keylog_callback: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_set_keylog_callback(SSL_CTX *ctx, SSL_CTX_keylog_cb_func cb)
  SSL_CTX_set_info_callback: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_set_info_callback(SSL_CTX *ctx, void (*cb)(const SSL *ssl, int type, int val))
  SSL_CTX_set_cert_cb: { parameters: ["pointer", "function", "pointer"], result: "void" }, // void SSL_CTX_set_cert_cb(SSL_CTX *c, int (*cert_cb)(SSL *ssl, void *arg), void *arg)
  SSL_CTX_set_client_hello_cb: { parameters: ["pointer", "function", "pointer"], result: "void" }, // void SSL_CTX_set_client_hello_cb(SSL_CTX *c, SSL_client_hello_cb_fn cb, void *arg)
  SSL_CTX_sess_set_new_cb: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_sess_set_new_cb(SSL_CTX *ctx, int (*new_session_cb)(SSL *, SSL_SESSION *))
  SSL_CTX_set_session_id_context: { parameters: ["pointer", "buffer", "u32"], result: "i32" }, // int SSL_CTX_set_session_id_context(SSL_CTX *ctx, const unsigned char *sid_ctx, unsigned int sid_ctx_len)
  SSL_CTX_set_timeout: { parameters: ["pointer", LONG], result: LONG }, // long SSL_CTX_set_timeout(SSL_CTX *ctx, long t)
  SSL_CTX_get_timeout: { parameters: ["pointer"], result: LONG }, // long SSL_CTX_get_timeout(const SSL_CTX *ctx)
  SSL_CTX_set_client_CA_list: { parameters: ["pointer", "pointer"], result: "void" }, // void SSL_CTX_set_client_CA_list(SSL_CTX *ctx, STACK_OF(X509_NAME) *name_list)
  SSL_CTX_get_client_CA_list: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(X509_NAME) *SSL_CTX_get_client_CA_list(const SSL_CTX *s)
  SSL_CTX_add_client_CA: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_CTX_add_client_CA(SSL_CTX *ctx, X509 *x)
  SSL_load_client_CA_file: { parameters: ["buffer"], result: "pointer" }, // STACK_OF(X509_NAME) *SSL_load_client_CA_file(const char *file)
  SSL_CTX_set_cookie_generate_cb: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_set_cookie_generate_cb(SSL_CTX *ctx, int (*cb)(SSL *ssl, unsigned char *cookie, unsigned int *cookie_len))
  SSL_CTX_set_cookie_verify_cb: { parameters: ["pointer", "function"], result: "void" }, // void SSL_CTX_set_cookie_verify_cb(SSL_CTX *ctx, int (*cb)(SSL *ssl, const unsigned char *cookie, unsigned int cookie_len))
  SSL_CTX_set_tlsext_use_srtp: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_CTX_set_tlsext_use_srtp(SSL_CTX *ctx, const char *profiles)
  SSL_CTX_set_post_handshake_auth: { parameters: ["pointer", "i32"], result: "void" }, // void SSL_CTX_set_post_handshake_auth(SSL_CTX *ctx, int val)

  // ---- SSL --------------------------------------------------------------------
  SSL_new: { parameters: ["pointer"], result: "pointer" }, // SSL *SSL_new(SSL_CTX *ctx)
  SSL_free: { parameters: ["pointer"], result: "void" }, // void SSL_free(SSL *ssl)
  SSL_ctrl: {
    parameters: [
      "pointer", // SSL *ssl
      "i32", // int cmd
      LONG, // long larg
      "pointer", // void *parg
    ],
    result: LONG, // long
  },
  SSL_set_options: { parameters: ["pointer", "u64"], result: "u64" }, // uint64_t SSL_set_options(SSL *s, uint64_t op)
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" }, // void SSL_set_bio(SSL *s, BIO *rbio, BIO *wbio)
  SSL_get_rbio: { parameters: ["pointer"], result: "pointer" }, // BIO *SSL_get_rbio(const SSL *s)
  SSL_get_wbio: { parameters: ["pointer"], result: "pointer" }, // BIO *SSL_get_wbio(const SSL *s)
  SSL_set_fd: { parameters: ["pointer", "i32"], result: "i32" }, // int SSL_set_fd(SSL *s, int fd)
  SSL_free_buffers: { parameters: ["pointer"], result: "i32" }, // int SSL_free_buffers(SSL *ssl)
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" }, // void SSL_set_connect_state(SSL *s)
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" }, // void SSL_set_accept_state(SSL *s)
  SSL_is_server: { parameters: ["pointer"], result: "i32" }, // int SSL_is_server(const SSL *s)
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" }, // int SSL_do_handshake(SSL *s)
  SSL_is_init_finished: { parameters: ["pointer"], result: "i32" }, // int SSL_is_init_finished(const SSL *s)
  SSL_read_ex: {
    parameters: [
      "pointer", // SSL *ssl
      "buffer", // void *buf
      "usize", // size_t num
      "buffer", // size_t *readbytes
    ],
    result: "i32", // int
  },
  SSL_peek_ex: {
    parameters: [
      "pointer", // SSL *ssl
      "buffer", // void *buf
      "usize", // size_t num
      "buffer", // size_t *readbytes
    ],
    result: "i32", // int
  },
  SSL_write_ex: {
    parameters: [
      "pointer", // SSL *s
      "buffer", // const void *buf
      "usize", // size_t num
      "buffer", // size_t *written
    ],
    result: "i32", // int
  },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" }, // int SSL_get_error(const SSL *s, int ret_code)
  SSL_shutdown: { parameters: ["pointer"], result: "i32" }, // int SSL_shutdown(SSL *s)
  SSL_get_shutdown: { parameters: ["pointer"], result: "i32" }, // int SSL_get_shutdown(const SSL *ssl)
  SSL_set_shutdown: { parameters: ["pointer", "i32"], result: "void" }, // void SSL_set_shutdown(SSL *ssl, int mode)
  SSL_pending: { parameters: ["pointer"], result: "i32" }, // int SSL_pending(const SSL *s)
  SSL_want: { parameters: ["pointer"], result: "i32" }, // int SSL_want(const SSL *s)
  SSL_state_string_long: { parameters: ["pointer"], result: "pointer" }, // const char *SSL_state_string_long(const SSL *s)
  SSL_set_SSL_CTX: { parameters: ["pointer", "pointer"], result: "pointer" }, // SSL_CTX *SSL_set_SSL_CTX(SSL *ssl, SSL_CTX *ctx)
  SSL_set_verify: { parameters: ["pointer", "i32", "function"], result: "void" }, // void SSL_set_verify(SSL *s, int mode, SSL_verify_cb cb)
  SSL_set_verify_depth: { parameters: ["pointer", "i32"], result: "void" }, // void SSL_set_verify_depth(SSL *s, int depth)
  SSL_get_verify_mode: { parameters: ["pointer"], result: "i32" }, // int SSL_get_verify_mode(const SSL *s)
  SSL_get_verify_result: { parameters: ["pointer"], result: LONG }, // long SSL_get_verify_result(const SSL *ssl)
  SSL_set1_host: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_set1_host(SSL *s, const char *hostname)
  SSL_get0_param: { parameters: ["pointer"], result: "pointer" }, // X509_VERIFY_PARAM *SSL_get0_param(SSL *ssl)
  SSL_set_cipher_list: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_set_cipher_list(SSL *s, const char *str)
  SSL_set_alpn_protos: { parameters: ["pointer", "buffer", "u32"], result: "i32" }, // int SSL_set_alpn_protos(SSL *ssl, const unsigned char *protos, unsigned int protos_len)
  SSL_get0_alpn_selected: { parameters: ["pointer", "buffer", "buffer"], result: "void" }, // void SSL_get0_alpn_selected(const SSL *ssl, const unsigned char **data, unsigned int *len)
  SSL_get_servername: { parameters: ["pointer", "i32"], result: "pointer" }, // const char *SSL_get_servername(const SSL *s, const int type)
  SSL_get_ex_data_X509_STORE_CTX_idx: { parameters: [], result: "i32" }, // int SSL_get_ex_data_X509_STORE_CTX_idx(void)
  SSL_get_current_cipher: { parameters: ["pointer"], result: "pointer" }, // const SSL_CIPHER *SSL_get_current_cipher(const SSL *s)
  SSL_CIPHER_get_name: { parameters: ["pointer"], result: "pointer" }, // const char *SSL_CIPHER_get_name(const SSL_CIPHER *c)
  SSL_CIPHER_get_bits: { parameters: ["pointer", "buffer"], result: "i32" }, // int SSL_CIPHER_get_bits(const SSL_CIPHER *c, int *alg_bits)
  SSL_CIPHER_get_version: { parameters: ["pointer"], result: "pointer" }, // const char *SSL_CIPHER_get_version(const SSL_CIPHER *c)
  SSL_get_cipher_list: { parameters: ["pointer", "i32"], result: "pointer" }, // const char *SSL_get_cipher_list(const SSL *s, int n)
  SSL_get_version: { parameters: ["pointer"], result: "pointer" }, // const char *SSL_get_version(const SSL *s)
  SSL_version: { parameters: ["pointer"], result: "i32" }, // int SSL_version(const SSL *s)
  SSL_get_certificate: { parameters: ["pointer"], result: "pointer" }, // X509 *SSL_get_certificate(const SSL *ssl)
  SSL_get1_peer_certificate: { parameters: ["pointer"], result: "pointer" }, // X509 *SSL_get1_peer_certificate(const SSL *s)
  SSL_get_peer_cert_chain: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(X509) *SSL_get_peer_cert_chain(const SSL *s)
  SSL_get0_verified_chain: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(X509) *SSL_get0_verified_chain(const SSL *s)
  SSL_get_client_CA_list: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(X509_NAME) *SSL_get_client_CA_list(const SSL *s)
  SSL_export_keying_material: {
    parameters: [
      "pointer", // SSL *s
      "buffer", // unsigned char *out
      "usize", // size_t olen
      "buffer", // const char *label
      "usize", // size_t llen
      "buffer", // const unsigned char *context
      "usize", // size_t contextlen
      "i32", // int use_context
    ],
    result: "i32", // int
  },
  SSL_get_finished: { parameters: ["pointer", "buffer", "usize"], result: "usize" }, // size_t SSL_get_finished(const SSL *s, void *buf, size_t count)
  SSL_get_peer_finished: { parameters: ["pointer", "buffer", "usize"], result: "usize" }, // size_t SSL_get_peer_finished(const SSL *s, void *buf, size_t count)
  SSL_get_client_random: { parameters: ["pointer", "buffer", "usize"], result: "usize" }, // size_t SSL_get_client_random(const SSL *ssl, unsigned char *out, size_t outlen)
  SSL_get_server_random: { parameters: ["pointer", "buffer", "usize"], result: "usize" }, // size_t SSL_get_server_random(const SSL *ssl, unsigned char *out, size_t outlen)
  SSL_get_session: { parameters: ["pointer"], result: "pointer" }, // SSL_SESSION *SSL_get_session(const SSL *ssl)
  SSL_get1_session: { parameters: ["pointer"], result: "pointer" }, // SSL_SESSION *SSL_get1_session(SSL *ssl)
  SSL_set_session: { parameters: ["pointer", "pointer"], result: "i32" }, // int SSL_set_session(SSL *to, SSL_SESSION *session)
  SSL_session_reused: { parameters: ["pointer"], result: "i32" }, // int SSL_session_reused(const SSL *s)
  SSL_SESSION_free: { parameters: ["pointer"], result: "void" }, // void SSL_SESSION_free(SSL_SESSION *ses)
  SSL_SESSION_up_ref: { parameters: ["pointer"], result: "i32" }, // int SSL_SESSION_up_ref(SSL_SESSION *ses)
  SSL_SESSION_get_master_key: { parameters: ["pointer", "buffer", "usize"], result: "usize" }, // size_t SSL_SESSION_get_master_key(const SSL_SESSION *sess, unsigned char *out, size_t outlen)
  SSL_SESSION_get_id: { parameters: ["pointer", "buffer"], result: "pointer" }, // const unsigned char *SSL_SESSION_get_id(const SSL_SESSION *s, unsigned int *len)
  SSL_SESSION_get_protocol_version: { parameters: ["pointer"], result: "i32" }, // int SSL_SESSION_get_protocol_version(const SSL_SESSION *s)
  SSL_SESSION_get0_peer: { parameters: ["pointer"], result: "pointer" }, // X509 *SSL_SESSION_get0_peer(SSL_SESSION *s)
  SSL_SESSION_get0_cipher: { parameters: ["pointer"], result: "pointer" }, // const SSL_CIPHER *SSL_SESSION_get0_cipher(const SSL_SESSION *s)
  SSL_SESSION_get_time: { parameters: ["pointer"], result: LONG }, // long SSL_SESSION_get_time(const SSL_SESSION *s)
  SSL_SESSION_get_timeout: { parameters: ["pointer"], result: LONG }, // long SSL_SESSION_get_timeout(const SSL_SESSION *s)
  SSL_SESSION_is_resumable: { parameters: ["pointer"], result: "i32" }, // int SSL_SESSION_is_resumable(const SSL_SESSION *s)
  i2d_SSL_SESSION: { parameters: ["pointer", "buffer"], result: "i32" }, // int i2d_SSL_SESSION(const SSL_SESSION *in, unsigned char **pp)
  d2i_SSL_SESSION: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // SSL_SESSION *d2i_SSL_SESSION(SSL_SESSION **a, const unsigned char **pp, long length)
  SSL_renegotiate: { parameters: ["pointer"], result: "i32" }, // int SSL_renegotiate(SSL *s)
  SSL_renegotiate_pending: { parameters: ["pointer"], result: "i32" }, // int SSL_renegotiate_pending(const SSL *s)
  SSL_key_update: { parameters: ["pointer", "i32"], result: "i32" }, // int SSL_key_update(SSL *s, int updatetype)
  SSL_verify_client_post_handshake: { parameters: ["pointer"], result: "i32" }, // int SSL_verify_client_post_handshake(SSL *s)
  SSL_set_post_handshake_auth: { parameters: ["pointer", "i32"], result: "void" }, // void SSL_set_post_handshake_auth(SSL *s, int val)
  SSL_client_hello_get0_legacy_version: { parameters: ["pointer"], result: "u32" }, // unsigned int SSL_client_hello_get0_legacy_version(SSL *s)
  SSL_client_hello_get0_ciphers: { parameters: ["pointer", "buffer"], result: "usize" }, // size_t SSL_client_hello_get0_ciphers(SSL *s, const unsigned char **out)
  SSL_client_hello_get0_ext: { parameters: ["pointer", "u32", "buffer", "buffer"], result: "i32" }, // int SSL_client_hello_get0_ext(SSL *s, unsigned int type, const unsigned char **out, size_t *outlen)
  SSL_get_selected_srtp_profile: { parameters: ["pointer"], result: "pointer" }, // SRTP_PROTECTION_PROFILE *SSL_get_selected_srtp_profile(SSL *s)
  SSL_group_to_name: { parameters: ["pointer", "i32"], result: "pointer" }, // const char *SSL_group_to_name(SSL *s, int id)
  DTLSv1_listen: { parameters: ["pointer", "pointer"], result: "i32" }, // int DTLSv1_listen(SSL *s, BIO_ADDR *client)
  SSL_get0_group_name: { parameters: ["pointer"], result: "pointer", optional: true }, // const char *SSL_get0_group_name(SSL *s) (3.2+)
  SSL_CIPHER_find: { parameters: ["pointer", "pointer"], result: "pointer" }, // const SSL_CIPHER *SSL_CIPHER_find(SSL *ssl, const unsigned char *ptr)
  SSL_client_hello_get1_extensions_present: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  }, // int SSL_client_hello_get1_extensions_present(SSL *s, int **out, size_t *outlen)

  // ---- session ticket details (cli inspect) ----------------------------------------
  SSL_SESSION_has_ticket: { parameters: ["pointer"], result: "i32" }, // int SSL_SESSION_has_ticket(const SSL_SESSION *s)
  SSL_SESSION_get_ticket_lifetime_hint: { parameters: ["pointer"], result: ULONG }, // unsigned long SSL_SESSION_get_ticket_lifetime_hint(const SSL_SESSION *s)

  // ---- DTLS (symbols_dtls.ts) ---------------------------------------------------
  ...DTLS_SSL_SYMBOLS,
  ...PSK_SSL_SYMBOLS,
  ...SELECT_SSL_SYMBOLS,
  ...PARITY_SSL_SYMBOLS, // channel bindings, early data, listings, trace (symbols_parity.ts)
  ...TICKET_SSL_SYMBOLS,
} as const satisfies Deno.ForeignLibraryInterface;

/** libcrypto symbols: version, error queue, BIOs, memory. */
export const CRYPTO_SYMBOLS = {
  OpenSSL_version: { parameters: ["i32"], result: "pointer" }, // const char *OpenSSL_version(int type)
  OPENSSL_version_major: { parameters: [], result: "u32" }, // unsigned int OPENSSL_version_major(void)
  CRYPTO_free: { parameters: ["pointer", "buffer", "i32"], result: "void" }, // void CRYPTO_free(void *ptr, const char *file, int line)
  CRYPTO_malloc: { parameters: ["usize", "buffer", "i32"], result: "pointer" }, // void *CRYPTO_malloc(size_t num, const char *file, int line)

  // ---- error queue ------------------------------------------------------------
  ERR_get_error: { parameters: [], result: ULONG }, // unsigned long ERR_get_error(void)
  ERR_peek_error: { parameters: [], result: ULONG }, // unsigned long ERR_peek_error(void)
  ERR_clear_error: { parameters: [], result: "void" }, // void ERR_clear_error(void)
  ERR_lib_error_string: { parameters: [ULONG], result: "pointer" }, // const char *ERR_lib_error_string(unsigned long e)
  ERR_reason_error_string: { parameters: [ULONG], result: "pointer" }, // const char *ERR_reason_error_string(unsigned long e)

  // ---- BIO --------------------------------------------------------------------
  BIO_s_mem: { parameters: [], result: "pointer" }, // const BIO_METHOD *BIO_s_mem(void)
  BIO_new: { parameters: ["pointer"], result: "pointer" }, // BIO *BIO_new(const BIO_METHOD *type)
  BIO_new_mem_buf: { parameters: ["buffer", "i32"], result: "pointer" }, // BIO *BIO_new_mem_buf(const void *buf, int len)
  BIO_free: { parameters: ["pointer"], result: "i32" }, // int BIO_free(BIO *a)
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" }, // int BIO_read(BIO *b, void *data, int dlen)
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" }, // int BIO_write(BIO *b, const void *data, int dlen)
  BIO_ctrl: {
    parameters: [
      "pointer", // BIO *bp
      "i32", // int cmd
      LONG, // long larg
      "pointer", // void *parg
    ],
    result: LONG, // long
  },
  BIO_ctrl_pending: { parameters: ["pointer"], result: "usize" }, // size_t BIO_ctrl_pending(BIO *b)
  BIO_new_bio_pair: {
    parameters: [
      "buffer", // BIO **bio1
      "usize", // size_t writebuf1
      "buffer", // BIO **bio2
      "usize", // size_t writebuf2
    ],
    result: "i32", // int
  },
  BIO_ADDR_new: { parameters: [], result: "pointer" }, // BIO_ADDR *BIO_ADDR_new(void)
  BIO_ADDR_free: { parameters: ["pointer"], result: "void" }, // void BIO_ADDR_free(BIO_ADDR *)

  // ---- stacks (STACK_OF(T) is OPENSSL_STACK underneath) ------------------------
  OPENSSL_sk_num: { parameters: ["pointer"], result: "i32" }, // int OPENSSL_sk_num(const OPENSSL_STACK *)
  OPENSSL_sk_value: { parameters: ["pointer", "i32"], result: "pointer" }, // void *OPENSSL_sk_value(const OPENSSL_STACK *, int)
  OPENSSL_sk_new_null: { parameters: [], result: "pointer" }, // OPENSSL_STACK *OPENSSL_sk_new_null(void)
  OPENSSL_sk_push: { parameters: ["pointer", "pointer"], result: "i32" }, // int OPENSSL_sk_push(OPENSSL_STACK *st, const void *data)
  OPENSSL_sk_free: { parameters: ["pointer"], result: "void" }, // void OPENSSL_sk_free(OPENSSL_STACK *)

  // ---- verification -------------------------------------------------------------
  X509_verify_cert_error_string: { parameters: [LONG], result: "pointer" }, // const char *X509_verify_cert_error_string(long n)
  X509_STORE_CTX_get_ex_data: { parameters: ["pointer", "i32"], result: "pointer" }, // void *X509_STORE_CTX_get_ex_data(const X509_STORE_CTX *ctx, int idx)
  X509_STORE_CTX_get_current_cert: { parameters: ["pointer"], result: "pointer" }, // X509 *X509_STORE_CTX_get_current_cert(const X509_STORE_CTX *ctx)
  X509_STORE_CTX_get_error: { parameters: ["pointer"], result: "i32" }, // int X509_STORE_CTX_get_error(const X509_STORE_CTX *ctx)
  X509_STORE_CTX_set_error: { parameters: ["pointer", "i32"], result: "void" }, // void X509_STORE_CTX_set_error(X509_STORE_CTX *ctx, int s)
  X509_STORE_CTX_get_error_depth: { parameters: ["pointer"], result: "i32" }, // int X509_STORE_CTX_get_error_depth(const X509_STORE_CTX *ctx)
  X509_VERIFY_PARAM_set1_host: { parameters: ["pointer", "buffer", "usize"], result: "i32" }, // int X509_VERIFY_PARAM_set1_host(X509_VERIFY_PARAM *param, const char *name, size_t namelen)
  X509_VERIFY_PARAM_set1_ip_asc: { parameters: ["pointer", "buffer"], result: "i32" }, // int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ipasc)
  X509_check_host: { parameters: ["pointer", "buffer", "usize", "u32", "pointer"], result: "i32" }, // int X509_check_host(X509 *x, const char *chk, size_t chklen, unsigned int flags, char **peername)
  X509_check_ip_asc: { parameters: ["pointer", "buffer", "u32"], result: "i32" }, // int X509_check_ip_asc(X509 *x, const char *address, unsigned int flags)
  X509_VERIFY_PARAM_set_hostflags: { parameters: ["pointer", "u32"], result: "void" }, // void X509_VERIFY_PARAM_set_hostflags(X509_VERIFY_PARAM *param, unsigned int flags)

  // ---- process lifetime --------------------------------------------------------
  OPENSSL_init_crypto: { parameters: ["u64", "pointer"], result: "i32" }, // int OPENSSL_init_crypto(uint64_t opts, const OPENSSL_INIT_SETTINGS *settings)

  ...X509_SYMBOLS,
  ...DTLS_CRYPTO_SYMBOLS,
  ...STORE_CRYPTO_SYMBOLS,
  ...CSR_CRYPTO_SYMBOLS,
  ...PARITY_CRYPTO_SYMBOLS,
  ...TICKET_CRYPTO_SYMBOLS,
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The libc symbols denossl uses (errno, sockets, descriptors, readiness),
 * opened once by `ffi/sys.ts` on first use. `epoll_wait`, `poll` and
 * `kevent_wait` are `nonblocking`: Deno runs them on a worker thread.
 */
export const SYS_SYMBOLS = {
  dup: { parameters: ["i32"], result: "i32" }, // int dup(int)
  close: { parameters: ["i32"], result: "i32" }, // int close(int)
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" }, // ssize_t read(int, void *, size_t)
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" }, // ssize_t write(int, const void *, size_t)
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" }, // ssize_t send(int, const void *, size_t, int)
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" }, // int fcntl(int, int, ...)
  shutdown: { parameters: ["i32", "i32"], result: "i32" }, // int shutdown(int, int)
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" }, // int getsockname(int, struct sockaddr *, socklen_t *)
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" }, // int getpeername(int, struct sockaddr *, socklen_t *)
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" }, // int getsockopt(int, int, int, void *, socklen_t *)
  pipe: { parameters: ["buffer"], result: "i32" }, // int pipe(int[2])
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true }, // int poll(struct pollfd *, nfds_t, int)
  poll_now: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32" }, // int poll(struct pollfd *, nfds_t, int), timeout 0 only: which descriptors are open
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" }, // int getrlimit(int resource, struct rlimit *rlim)
  epoll_create1: { parameters: ["i32"], result: "i32", optional: true }, // int epoll_create1(int)
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32", optional: true }, // int epoll_ctl(int, int, int, struct epoll_event *)
  epoll_wait: { // int epoll_wait(int, struct epoll_event *, int, int)
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
    optional: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32", optional: true }, // int eventfd(unsigned, int)
  kqueue: { parameters: [], result: "i32", optional: true }, // int kqueue(void) (macOS, BSD)
  kevent: { // int kevent(int kq, const struct kevent *changes, int nchanges, struct kevent *events, int nevents, const struct timespec *timeout)
    parameters: ["i32", "buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
    optional: true,
  },
  kevent_wait: {
    name: "kevent",
    parameters: ["i32", "buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
    nonblocking: true,
    optional: true,
  },
  __errno_location: { parameters: [], result: "pointer", optional: true }, // int *__errno_location(void)
  __error: { parameters: [], result: "pointer", optional: true }, // int *__error(void)
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libssl. */
export type SslLibrary = Deno.DynamicLibrary<typeof SSL_SYMBOLS>["symbols"];
/** The opened libcrypto. */
export type CryptoLibrary = Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>["symbols"];
