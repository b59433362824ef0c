/**
 * OpenSSL's numeric constants under their OpenSSL names (without the `SSL_`
 * prefix where pyOpenSSL drops it), and wrappers for the OpenSSL macros that
 * are `*_ctrl` calls underneath, each named after the macro it stands for.
 *
 * The constants are plain numbers: usable with no permissions and without
 * loading OpenSSL.
 *
 * @example Constants are plain numbers
 * ```ts
 * import { TLS1_3_VERSION, VERIFY_PEER } from "@denossl/denossl";
 * console.log(TLS1_3_VERSION.toString(16), VERIFY_PEER); // "304" 1
 * ```
 *
 * @module
 */

import { native } from "./library.ts";
import { long } from "./ctypes.ts";

// ---- protocol versions -------------------------------------------------------
/** SSL 3.0 (never enabled by OpenSSL 3 builds). */
export const SSL3_VERSION = 0x0300;
/** TLS 1.0. */
export const TLS1_VERSION = 0x0301;
/** TLS 1.1. */
export const TLS1_1_VERSION = 0x0302;
/** TLS 1.2. */
export const TLS1_2_VERSION = 0x0303;
/** TLS 1.3. */
export const TLS1_3_VERSION = 0x0304;
/** DTLS 1.0. */
export const DTLS1_VERSION = 0xfeff;
/** DTLS 1.2. */
export const DTLS1_2_VERSION = 0xfefd;

// ---- file types ----------------------------------------------------------------
/** PEM encoding (`SSL_FILETYPE_PEM`). */
export const FILETYPE_PEM = 1;
/** DER encoding (`SSL_FILETYPE_ASN1`). */
export const FILETYPE_ASN1 = 2;

// ---- verification modes ----------------------------------------------------------
/** Do not verify the peer (`SSL_VERIFY_NONE`). */
export const VERIFY_NONE = 0x00;
/** Verify the peer's certificate; servers request one (`SSL_VERIFY_PEER`). */
export const VERIFY_PEER = 0x01;
/** Server: fail when the client sends no certificate. */
export const VERIFY_FAIL_IF_NO_PEER_CERT = 0x02;
/** Server: request a client certificate only on the first handshake. */
export const VERIFY_CLIENT_ONCE = 0x04;
/** Server: allow TLS 1.3 post-handshake client authentication. */
export const VERIFY_POST_HANDSHAKE = 0x08;

// ---- host name check flags (x509v3.h) ---------------------------------------------
/** Check the subject CN even when the certificate has DNS names (`X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT`). */
export const X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT = 0x1;
/** Refuse every wildcard (`X509_CHECK_FLAG_NO_WILDCARDS`). */
export const X509_CHECK_FLAG_NO_WILDCARDS = 0x2;
/** Refuse partial wildcards such as `f*.example.com` (`X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS`). */
export const X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS = 0x4;
/** Let `*` match several labels (`X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS`). */
export const X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS = 0x8;
/** A name starting with "." matches one label below it (`X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS`). */
export const X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS = 0x10;
/** Never fall back to the subject CN (`X509_CHECK_FLAG_NEVER_CHECK_SUBJECT`). */
export const X509_CHECK_FLAG_NEVER_CHECK_SUBJECT = 0x20;
/**
 * How denossl matches DNS names unless told otherwise, as RFC 6125 and
 * rustls do: subject alternative names only, no partial wildcards.
 * Internal: not exported from `mod.ts`.
 */
export const DEFAULT_HOST_FLAGS = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

// ---- options (uint64_t bits; all below 2^32) ---------------------------------
/** Disable the extended master secret extension. */
export const OP_NO_EXTENDED_MASTER_SECRET = 1 << 0;
/** Clear plaintext buffers after use. */
export const OP_CLEANSE_PLAINTEXT = 1 << 1;
/** Allow connecting to servers that lack RFC 5746 secure renegotiation. */
export const OP_LEGACY_SERVER_CONNECT = 1 << 2;
/** Use kernel TLS where available. */
export const OP_ENABLE_KTLS = 1 << 3;
/** Add a padding extension to the ClientHello. */
export const OP_TLSEXT_PADDING = 1 << 4;
/** Treat a peer closing without close_notify as a clean close. */
export const OP_IGNORE_UNEXPECTED_EOF = 1 << 7;
/** Allow clients to start renegotiation. */
export const OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8;
/** Do not send the certificate authorities extension. */
export const OP_DISABLE_TLSEXT_CA_NAMES = 1 << 9;
/** TLS 1.3: allow resumption without (EC)DHE. */
export const OP_ALLOW_NO_DHE_KEX = 1 << 10;
/** Do not insert empty fragments (CBC countermeasure). */
export const OP_DONT_INSERT_EMPTY_FRAGMENTS = 1 << 11;
/** DTLS: do not query the path MTU. */
export const OP_NO_QUERY_MTU = 1 << 12;
/** DTLS: require the cookie exchange. */
export const OP_COOKIE_EXCHANGE = 1 << 13;
/** Disable session tickets. */
export const OP_NO_TICKET = 1 << 14;
/** Do not resume sessions on renegotiation. */
export const OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION = 1 << 16;
/** Disable compression. */
export const OP_NO_COMPRESSION = 1 << 17;
/** Allow legacy, insecure renegotiation. */
export const OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = 1 << 18;
/** Disable encrypt-then-MAC. */
export const OP_NO_ENCRYPT_THEN_MAC = 1 << 19;
/** TLS 1.3: middlebox compatibility mode. */
export const OP_ENABLE_MIDDLEBOX_COMPAT = 1 << 20;
/** Prefer ChaCha20 when the client does. */
export const OP_PRIORITIZE_CHACHA = 1 << 21;
/** Use the server's cipher preference order. */
export const OP_CIPHER_SERVER_PREFERENCE = 1 << 22;
/** Disable the version rollback check. */
export const OP_TLS_ROLLBACK_BUG = 1 << 23;
/** TLS 1.3: disable anti-replay for early data. */
export const OP_NO_ANTI_REPLAY = 1 << 24;
/** Disable SSL 3.0. */
export const OP_NO_SSLv3 = 1 << 25;
/** Disable TLS 1.0. */
export const OP_NO_TLSv1 = 1 << 26;
/** Disable TLS 1.2. */
export const OP_NO_TLSv1_2 = 1 << 27;
/** Disable TLS 1.1. */
export const OP_NO_TLSv1_1 = 1 << 28;
/** Disable TLS 1.3. */
export const OP_NO_TLSv1_3 = 1 << 29;
/** Disable DTLS 1.0. */
export const OP_NO_DTLSv1 = 1 << 26;
/** Disable DTLS 1.2. */
export const OP_NO_DTLSv1_2 = 1 << 27;
/** Disable renegotiation. */
export const OP_NO_RENEGOTIATION = 2 ** 30;
/** The workarounds OpenSSL considers safe (`SSL_OP_ALL`). */
export const OP_ALL: number = 2 ** 31 + (1 << 11) + (1 << 6) + (1 << 4);

// ---- modes ---------------------------------------------------------------------
/** `SSL_write` may return after writing part of the buffer. */
export const MODE_ENABLE_PARTIAL_WRITE = 0x1;
/** A retried `SSL_write` may use a different buffer with the same content. */
export const MODE_ACCEPT_MOVING_WRITE_BUFFER = 0x2;
/** Retry reads and writes internally after a renegotiation. */
export const MODE_AUTO_RETRY = 0x4;
/** Free idle read and write buffers. */
export const MODE_RELEASE_BUFFERS = 0x10;

// ---- shutdown flags --------------------------------------------------------------
/** We sent close_notify. */
export const SENT_SHUTDOWN = 1;
/** We received close_notify. */
export const RECEIVED_SHUTDOWN = 2;

// ---- session cache modes -----------------------------------------------------------
/** No session caching. */
export const SESS_CACHE_OFF = 0x0;
/** Cache client sessions. */
export const SESS_CACHE_CLIENT = 0x1;
/** Cache server sessions (the default). */
export const SESS_CACHE_SERVER = 0x2;
/** Cache both. */
export const SESS_CACHE_BOTH = 0x3;
/** Do not flush expired sessions automatically. */
export const SESS_CACHE_NO_AUTO_CLEAR = 0x80;
/** Do not look sessions up in the internal cache. */
export const SESS_CACHE_NO_INTERNAL_LOOKUP = 0x100;
/** Do not store sessions in the internal cache. */
export const SESS_CACHE_NO_INTERNAL_STORE = 0x200;
/** Neither store nor look up internally. */
export const SESS_CACHE_NO_INTERNAL = 0x300;

// ---- SSL_get_error results (internal use and for callers mapping themselves) -------
/** `SSL_ERROR_NONE`. */
export const SSL_ERROR_NONE = 0;
/** `SSL_ERROR_SSL`. */
export const SSL_ERROR_SSL = 1;
/** `SSL_ERROR_WANT_READ`. */
export const SSL_ERROR_WANT_READ = 2;
/** `SSL_ERROR_WANT_WRITE`. */
export const SSL_ERROR_WANT_WRITE = 3;
/** `SSL_ERROR_WANT_X509_LOOKUP`. */
export const SSL_ERROR_WANT_X509_LOOKUP = 4;
/** `SSL_ERROR_SYSCALL`. */
export const SSL_ERROR_SYSCALL = 5;
/** `SSL_ERROR_ZERO_RETURN`. */
export const SSL_ERROR_ZERO_RETURN = 6;
/** `SSL_ERROR_WANT_CONNECT`. */
export const SSL_ERROR_WANT_CONNECT = 7;
/** `SSL_ERROR_WANT_ACCEPT`. */
export const SSL_ERROR_WANT_ACCEPT = 8;
/** `SSL_ERROR_WANT_ASYNC`. */
export const SSL_ERROR_WANT_ASYNC = 9;
/** `SSL_ERROR_WANT_ASYNC_JOB`. */
export const SSL_ERROR_WANT_ASYNC_JOB = 10;
/** `SSL_ERROR_WANT_CLIENT_HELLO_CB`. */
export const SSL_ERROR_WANT_CLIENT_HELLO_CB = 11;
/** `SSL_ERROR_WANT_RETRY_VERIFY`. */
export const SSL_ERROR_WANT_RETRY_VERIFY = 12;

// ---- error libraries and reasons used by the mapper ------------------------------------
/** `ERR_LIB_SYS`. */
export const ERR_LIB_SYS = 2;
/** `ERR_LIB_SSL`. */
export const ERR_LIB_SSL = 20;
/** `SSL_R_CERTIFICATE_VERIFY_FAILED`. */
export const SSL_R_CERTIFICATE_VERIFY_FAILED = 134;
/** `SSL_R_UNEXPECTED_EOF_WHILE_READING`. */
export const SSL_R_UNEXPECTED_EOF_WHILE_READING = 294;

// ---- ctrl command numbers (ssl.h, bio.h) ------------------------------------------------
/** `SSL_CTRL_EXTRA_CHAIN_CERT`. */
export const SSL_CTRL_EXTRA_CHAIN_CERT = 14;
/** `SSL_CTRL_MODE`. */
export const SSL_CTRL_MODE = 33;
/** `SSL_CTRL_SET_SESS_CACHE_MODE`. */
export const SSL_CTRL_SET_SESS_CACHE_MODE = 44;
/** `SSL_CTRL_GET_SESS_CACHE_MODE`. */
export const SSL_CTRL_GET_SESS_CACHE_MODE = 45;
/** `SSL_CTRL_SET_TLSEXT_SERVERNAME_CB`. */
export const SSL_CTRL_SET_TLSEXT_SERVERNAME_CB = 53;
/** `SSL_CTRL_SET_TLSEXT_HOSTNAME`. */
export const SSL_CTRL_SET_TLSEXT_HOSTNAME = 55;
/** `SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB`. */
export const SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB = 63;
/** `SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE`. */
export const SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE = 65;
/** `SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP`. */
export const SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP = 70;
/** `SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP`. */
export const SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP = 71;
/** `SSL_CTRL_CLEAR_MODE`. */
export const SSL_CTRL_CLEAR_MODE = 78;
/** `SSL_CTRL_SET_GROUPS_LIST`. */
export const SSL_CTRL_SET_GROUPS_LIST = 92;
/** `SSL_CTRL_GET_TOTAL_RENEGOTIATIONS`. */
export const SSL_CTRL_GET_TOTAL_RENEGOTIATIONS = 12;
/** `SSL_CTRL_SET_MIN_PROTO_VERSION`. */
export const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
/** `SSL_CTRL_SET_MAX_PROTO_VERSION`. */
export const SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
/** `SSL_CTRL_GET_MIN_PROTO_VERSION`. */
export const SSL_CTRL_GET_MIN_PROTO_VERSION = 130;
/** `SSL_CTRL_GET_MAX_PROTO_VERSION`. */
export const SSL_CTRL_GET_MAX_PROTO_VERSION = 131;
/** `SSL_CTRL_GET_NEGOTIATED_GROUP`. */
export const SSL_CTRL_GET_NEGOTIATED_GROUP = 134;
/** `BIO_C_SET_BUF_MEM_EOF_RETURN`. */
export const BIO_C_SET_BUF_MEM_EOF_RETURN = 130;
/** `TLSEXT_NAMETYPE_host_name`. */
export const TLSEXT_NAMETYPE_host_name = 0;

type Ptr = Deno.PointerValue;

/**
 * `SSL_CTX_set_min_proto_version(ctx, version)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param version A `*_VERSION` constant, or 0 for the lowest supported.
 * @returns 1 on success.
 */
export function SSL_CTX_set_min_proto_version(ctx: Ptr, version: number): number {
  return Number(
    native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, long(version), null),
  );
}

/**
 * `SSL_CTX_set_max_proto_version(ctx, version)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param version A `*_VERSION` constant, or 0 for the highest supported.
 * @returns 1 on success.
 */
export function SSL_CTX_set_max_proto_version(ctx: Ptr, version: number): number {
  return Number(
    native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, long(version), null),
  );
}

/**
 * `SSL_CTX_get_min_proto_version(ctx)`.
 *
 * @param ctx The `SSL_CTX`.
 * @returns The version, 0 when unset.
 */
export function SSL_CTX_get_min_proto_version(ctx: Ptr): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, long(0), null));
}

/**
 * `SSL_CTX_get_max_proto_version(ctx)`.
 *
 * @param ctx The `SSL_CTX`.
 * @returns The version, 0 when unset.
 */
export function SSL_CTX_get_max_proto_version(ctx: Ptr): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MAX_PROTO_VERSION, long(0), null));
}

/**
 * `SSL_CTX_set_mode(ctx, mode)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param mode `MODE_*` bits to set.
 * @returns The new mode bits.
 */
export function SSL_CTX_set_mode(ctx: Ptr, mode: number): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, long(mode), null));
}

/**
 * `SSL_CTX_clear_mode(ctx, mode)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param mode `MODE_*` bits to clear.
 * @returns The new mode bits.
 */
export function SSL_CTX_clear_mode(ctx: Ptr, mode: number): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_CLEAR_MODE, long(mode), null));
}

/**
 * `SSL_CTX_get_mode(ctx)`.
 *
 * @param ctx The `SSL_CTX`.
 * @returns The mode bits.
 */
export function SSL_CTX_get_mode(ctx: Ptr): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, long(0), null));
}

/**
 * `SSL_set_mode(ssl, mode)`.
 *
 * @param ssl The `SSL`.
 * @param mode `MODE_*` bits to set.
 * @returns The new mode bits.
 */
export function SSL_set_mode(ssl: Ptr, mode: number): number {
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_MODE, long(mode), null));
}

/** `SSL_CTRL_SET_READ_AHEAD`. */
export const SSL_CTRL_SET_READ_AHEAD = 41;

/**
 * `SSL_set_read_ahead(ssl, yes)`: read as much as the transport has, not
 * record header and body separately.
 *
 * @param ssl The `SSL`.
 * @param yes 1 to read ahead.
 */
export function SSL_set_read_ahead(ssl: Ptr, yes: number): void {
  native().ssl.SSL_ctrl(ssl, SSL_CTRL_SET_READ_AHEAD, long(yes), null);
}

/**
 * `SSL_CTX_add_extra_chain_cert(ctx, x509)`: the context takes ownership.
 *
 * @param ctx The `SSL_CTX`.
 * @param x509 An `X509*` whose reference passes to the context.
 * @returns 1 on success.
 */
export function SSL_CTX_add_extra_chain_cert(ctx: Ptr, x509: Ptr): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_EXTRA_CHAIN_CERT, long(0), x509));
}

/**
 * `SSL_CTX_set1_groups_list(ctx, list)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param list A NUL-terminated colon-separated list.
 * @returns 1 on success.
 */
export function SSL_CTX_set1_groups_list(ctx: Ptr, list: Uint8Array<ArrayBuffer>): number {
  return Number(
    native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_GROUPS_LIST, long(0), Deno.UnsafePointer.of(list)),
  );
}

/**
 * `SSL_CTX_set_session_cache_mode(ctx, mode)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param mode `SESS_CACHE_*` bits.
 * @returns The previous mode.
 */
export function SSL_CTX_set_session_cache_mode(ctx: Ptr, mode: number): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, long(mode), null));
}

/**
 * `SSL_CTX_get_session_cache_mode(ctx)`.
 *
 * @param ctx The `SSL_CTX`.
 * @returns The mode.
 */
export function SSL_CTX_get_session_cache_mode(ctx: Ptr): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_SESS_CACHE_MODE, long(0), null));
}

/**
 * `SSL_set_tlsext_host_name(ssl, name)`.
 *
 * @param ssl The `SSL`.
 * @param name A NUL-terminated host name.
 * @returns 1 on success.
 */
export function SSL_set_tlsext_host_name(ssl: Ptr, name: Uint8Array<ArrayBuffer>): number {
  return Number(
    native().ssl.SSL_ctrl(
      ssl,
      SSL_CTRL_SET_TLSEXT_HOSTNAME,
      long(TLSEXT_NAMETYPE_host_name),
      Deno.UnsafePointer.of(name),
    ),
  );
}

/**
 * `SSL_get_negotiated_group(ssl)`.
 *
 * @param ssl The `SSL`.
 * @returns The group's NID, or 0.
 */
export function SSL_get_negotiated_group(ssl: Ptr): number {
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_NEGOTIATED_GROUP, long(0), null));
}

/**
 * `SSL_total_renegotiations(ssl)`.
 *
 * @param ssl The `SSL`.
 * @returns The count.
 */
export function SSL_total_renegotiations(ssl: Ptr): number {
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_TOTAL_RENEGOTIATIONS, long(0), null));
}

/**
 * `BIO_set_mem_eof_return(bio, value)`: what a read of an empty memory BIO
 * returns; 0 means end of file, -1 (the default) means "retry".
 *
 * @param bio The memory BIO.
 * @param value The return value.
 * @returns 1.
 */
export function BIO_set_mem_eof_return(bio: Ptr, value: number): number {
  return Number(native().crypto.BIO_ctrl(bio, BIO_C_SET_BUF_MEM_EOF_RETURN, long(value), null));
}

// ---- negotiation and introspection -----------------------------------------------------
/** `SSL_CTRL_GET_TLSEXT_TICKET_KEYS`. */
export const SSL_CTRL_GET_TLSEXT_TICKET_KEYS = 58;
/** `SSL_CTRL_SET_TLSEXT_TICKET_KEYS`. */
export const SSL_CTRL_SET_TLSEXT_TICKET_KEYS = 59;
/** `TLSEXT_STATUSTYPE_ocsp`: the status type a client requests for OCSP stapling. */
export const TLSEXT_STATUSTYPE_ocsp = 1;
/** `SSL_TLSEXT_ERR_OK`: a TLS extension callback succeeded. */
export const SSL_TLSEXT_ERR_OK = 0;
/** `SSL_TLSEXT_ERR_ALERT_FATAL`: a TLS extension callback failed the handshake. */
export const SSL_TLSEXT_ERR_ALERT_FATAL = 2;
/** `SSL_TLSEXT_ERR_NOACK`: a TLS extension callback declined (the extension is not acknowledged). */
export const SSL_TLSEXT_ERR_NOACK = 3;
/** `SSL_CLIENT_HELLO_SUCCESS`. */
export const SSL_CLIENT_HELLO_SUCCESS = 1;
/** `SSL_CLIENT_HELLO_ERROR`. */
export const SSL_CLIENT_HELLO_ERROR = 0;
/** `SSL_AD_HANDSHAKE_FAILURE` (alert 40). */
export const SSL_AD_HANDSHAKE_FAILURE = 40;
/** `SSL_AD_INTERNAL_ERROR` (alert 80). */
export const SSL_AD_INTERNAL_ERROR = 80;
/** `SSL_KEY_UPDATE_NOT_REQUESTED`: update our keys only. */
export const SSL_KEY_UPDATE_NOT_REQUESTED = 0;
/** `SSL_KEY_UPDATE_REQUESTED`: update our keys and ask the peer to update theirs. */
export const SSL_KEY_UPDATE_REQUESTED = 1;

// Info callback `where` bits (ssl.h), public under their OpenSSL names.
/** `SSL_CB_LOOP`: a handshake state changed. */
export const SSL_CB_LOOP = 0x01;
/** `SSL_CB_EXIT`: a handshake function returned (`ret` is its result). */
export const SSL_CB_EXIT = 0x02;
/** `SSL_CB_READ`: with `SSL_CB_ALERT`, an alert was read. */
export const SSL_CB_READ = 0x04;
/** `SSL_CB_WRITE`: with `SSL_CB_ALERT`, an alert was written. */
export const SSL_CB_WRITE = 0x08;
/** `SSL_CB_ALERT`: an alert was sent or received (`ret` is level << 8 | description). */
export const SSL_CB_ALERT = 0x4000;
/** `SSL_CB_READ_ALERT`. */
export const SSL_CB_READ_ALERT = 0x4004;
/** `SSL_CB_WRITE_ALERT`. */
export const SSL_CB_WRITE_ALERT = 0x4008;
/** `SSL_ST_CONNECT`: the client side. */
export const SSL_ST_CONNECT = 0x1000;
/** `SSL_ST_ACCEPT`: the server side. */
export const SSL_ST_ACCEPT = 0x2000;
/** `SSL_CB_CONNECT_LOOP`. */
export const SSL_CB_CONNECT_LOOP = 0x1001;
/** `SSL_CB_CONNECT_EXIT`. */
export const SSL_CB_CONNECT_EXIT = 0x1002;
/** `SSL_CB_ACCEPT_LOOP`. */
export const SSL_CB_ACCEPT_LOOP = 0x2001;
/** `SSL_CB_ACCEPT_EXIT`. */
export const SSL_CB_ACCEPT_EXIT = 0x2002;
/** `SSL_CB_HANDSHAKE_START`: a handshake (or renegotiation, or TLS 1.3 key update) started. */
export const SSL_CB_HANDSHAKE_START = 0x10;
/** `SSL_CB_HANDSHAKE_DONE`: a handshake finished. */
export const SSL_CB_HANDSHAKE_DONE = 0x20;

/**
 * `SSL_CTX_set_tlsext_servername_callback(ctx, cb)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param cb `int cb(SSL *s, int *al, void *arg)`, or null to remove it.
 * @returns 1 on success.
 */
export function SSL_CTX_set_tlsext_servername_callback(ctx: Ptr, cb: Ptr): number {
  return Number(native().ssl.SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, cb));
}

/**
 * `SSL_CTX_set_tlsext_status_cb(ctx, cb)`: the OCSP status callback, shared by
 * both roles (a server staples in it, a client checks the staple in it).
 *
 * @param ctx The `SSL_CTX`.
 * @param cb `int cb(SSL *s, void *arg)`, or null to remove it.
 * @returns 1 on success.
 */
export function SSL_CTX_set_tlsext_status_cb(ctx: Ptr, cb: Ptr): number {
  return Number(native().ssl.SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB, cb));
}

/**
 * `SSL_set_tlsext_status_type(ssl, type)`: a client asks for a stapled OCSP response.
 *
 * @param ssl The `SSL`.
 * @param type `TLSEXT_STATUSTYPE_ocsp`.
 * @returns 1 on success.
 */
export function SSL_set_tlsext_status_type(ssl: Ptr, type: number): number {
  return Number(
    native().ssl.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE, long(type), null),
  );
}

/**
 * `SSL_get_tlsext_status_ocsp_resp(ssl, &resp)`: the stapled response a client received.
 *
 * @param ssl The `SSL`.
 * @param out Storage for the `unsigned char *` (owned by the `SSL`).
 * @returns The response's length, or -1 when there is none.
 */
export function SSL_get_tlsext_status_ocsp_resp(
  ssl: Ptr,
  out: BigUint64Array<ArrayBuffer>,
): number {
  return Number(
    native().ssl.SSL_ctrl(
      ssl,
      SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP,
      long(0),
      Deno.UnsafePointer.of(out),
    ),
  );
}

/**
 * `SSL_set_tlsext_status_ocsp_resp(ssl, resp, len)`: the response a server
 * staples. The `SSL` takes ownership of `resp`, which must come from
 * `OPENSSL_malloc` (`CRYPTO_malloc`).
 *
 * @param ssl The `SSL`.
 * @param resp The response, allocated by OpenSSL's allocator.
 * @param length Its length.
 * @returns 1 on success.
 */
export function SSL_set_tlsext_status_ocsp_resp(ssl: Ptr, resp: Ptr, length: number): number {
  return Number(
    native().ssl.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP, long(length), resp),
  );
}

/**
 * `SSL_CTX_set_tlsext_ticket_keys(ctx, keys, 80)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param keys 80 bytes: key name (16), HMAC secret (32), AES key (32).
 * @returns 1 on success.
 */
export function SSL_CTX_set_tlsext_ticket_keys(ctx: Ptr, keys: Uint8Array<ArrayBuffer>): number {
  return Number(
    native().ssl.SSL_CTX_ctrl(
      ctx,
      SSL_CTRL_SET_TLSEXT_TICKET_KEYS,
      long(keys.length),
      Deno.UnsafePointer.of(keys),
    ),
  );
}

/**
 * `SSL_CTX_get_tlsext_ticket_keys(ctx, keys, 80)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param keys 80 bytes to fill.
 * @returns 1 on success.
 */
export function SSL_CTX_get_tlsext_ticket_keys(ctx: Ptr, keys: Uint8Array<ArrayBuffer>): number {
  return Number(
    native().ssl.SSL_CTX_ctrl(
      ctx,
      SSL_CTRL_GET_TLSEXT_TICKET_KEYS,
      long(keys.length),
      Deno.UnsafePointer.of(keys),
    ),
  );
}
