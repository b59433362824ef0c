/**
 * denossl: the system OpenSSL (libssl and libcrypto, 3.0 or newer) driven
 * from TypeScript through `Deno.dlopen`, with pyOpenSSL's API and Deno's
 * shapes.
 *
 * Importing this module does nothing native: no library is opened and no
 * permission is needed until the first call that uses OpenSSL. Run with
 * `--allow-ffi` (unscoped) to use it.
 *
 * @example Print the loaded OpenSSL
 * ```ts
 * import { opensslVersion } from "@denossl/denossl";
 * console.log(opensslVersion().text);
 * ```
 *
 * @module
 */

export { load, OpenSSLLoadError, opensslVersion } from "./ffi/library.ts";
export type { LoadOptions, OpenSSLVersion } from "./ffi/library.ts";
export {
  ClosedError,
  SSLError,
  SysCallError,
  VerificationError,
  WantReadError,
  WantWriteError,
  WantX509LookupError,
  ZeroReturnError,
} from "./errors/ssl_error.ts";
export type { OpenSSLErrorEntry, VerificationDetails } from "./errors/ssl_error.ts";
export {
  DTLS1_2_VERSION,
  DTLS1_VERSION,
  FILETYPE_ASN1,
  FILETYPE_PEM,
  MODE_ACCEPT_MOVING_WRITE_BUFFER,
  MODE_AUTO_RETRY,
  MODE_ENABLE_PARTIAL_WRITE,
  MODE_RELEASE_BUFFERS,
  OP_ALL,
  OP_ALLOW_CLIENT_RENEGOTIATION,
  OP_ALLOW_NO_DHE_KEX,
  OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION,
  OP_CIPHER_SERVER_PREFERENCE,
  OP_CLEANSE_PLAINTEXT,
  OP_COOKIE_EXCHANGE,
  OP_DISABLE_TLSEXT_CA_NAMES,
  OP_DONT_INSERT_EMPTY_FRAGMENTS,
  OP_ENABLE_KTLS,
  OP_ENABLE_MIDDLEBOX_COMPAT,
  OP_IGNORE_UNEXPECTED_EOF,
  OP_LEGACY_SERVER_CONNECT,
  OP_NO_ANTI_REPLAY,
  OP_NO_COMPRESSION,
  OP_NO_DTLSv1,
  OP_NO_DTLSv1_2,
  OP_NO_ENCRYPT_THEN_MAC,
  OP_NO_EXTENDED_MASTER_SECRET,
  OP_NO_QUERY_MTU,
  OP_NO_RENEGOTIATION,
  OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION,
  OP_NO_SSLv3,
  OP_NO_TICKET,
  OP_NO_TLSv1,
  OP_NO_TLSv1_1,
  OP_NO_TLSv1_2,
  OP_NO_TLSv1_3,
  OP_PRIORITIZE_CHACHA,
  OP_TLS_ROLLBACK_BUG,
  OP_TLSEXT_PADDING,
  RECEIVED_SHUTDOWN,
  SENT_SHUTDOWN,
  SESS_CACHE_BOTH,
  SESS_CACHE_CLIENT,
  SESS_CACHE_NO_AUTO_CLEAR,
  SESS_CACHE_NO_INTERNAL,
  SESS_CACHE_NO_INTERNAL_LOOKUP,
  SESS_CACHE_NO_INTERNAL_STORE,
  SESS_CACHE_OFF,
  SESS_CACHE_SERVER,
  SSL3_VERSION,
  TLS1_1_VERSION,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS1_VERSION,
  VERIFY_CLIENT_ONCE,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_NONE,
  VERIFY_PEER,
  VERIFY_POST_HANDSHAKE,
  X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT,
  X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS,
  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
  X509_CHECK_FLAG_NO_WILDCARDS,
  X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS,
} from "./ffi/constants.ts";
export {
  Context,
  DTLS_CLIENT_METHOD,
  DTLS_METHOD,
  DTLS_SERVER_METHOD,
  SSLv23_METHOD,
  TLS_CLIENT_METHOD,
  TLS_METHOD,
  TLS_SERVER_METHOD,
  TLSv1_1_METHOD,
  TLSv1_2_METHOD,
  TLSv1_METHOD,
} from "./connection/context.ts";
export { ContextBase } from "./connection/context_base.ts";
export { ContextProtocol } from "./connection/context_protocol.ts";
export { Connection, ConnectionBase, MSG_PEEK } from "./connection/connection.ts";
export { ConnectionInfo } from "./connection/info.ts";
export { ConnectionExtras } from "./connection/extras.ts";
export type { EarlyDataStatus, SignatureAlgorithm, TraceSink } from "./connection/extras.ts";
export type { ConnectionConstructor, HandshakeInfo } from "./connection/connection.ts";
export type {
  AddrOf,
  ConnectionOptions,
  FdTransport,
  KtlsStatus,
  SplitTransport,
  StreamPairTransport,
  StreamTransport,
  Transport,
  TransportMembers,
  TransportMode,
} from "./connection/transport.ts";
export { NO_OVERLAPPING_PROTOCOLS } from "./connection/types.ts";
export type {
  AlpnSelectCallback,
  CertificateInput,
  ChannelBindingType,
  ClientHello,
  ClientHelloCallback,
  CookieGenerateCallback,
  CookieVerifyCallback,
  InfoCallback,
  KeyInput,
  KeylogCallback,
  NewSessionCallback,
  OcspClientCallback,
  OcspServerCallback,
  PasswdCallback,
  ServernameCallback,
  SrtpKeyingMaterial,
  VerifyCallback,
} from "./connection/types.ts";
export { bioReadDatagrams, DtlsConnection, dtlsPeerAddress } from "./connection/dtls.ts";
export type { DtlsHandshakeInfo, DtlsLink, DtlsTransportOptions } from "./connection/dtls.ts";
export { connectDtls, DtlsListener, listenDtls } from "./connection/dtls_udp.ts";
export type {
  ConnectDtlsOptions,
  DatagramSocket,
  DtlsCommonOptions,
  DtlsVersion,
  ListenDtlsOptions,
} from "./connection/dtls_udp.ts";
export { Session } from "./connection/session.ts";
export { WantClientHelloError } from "./errors/ssl_error.ts";
export { ConnectionSelection } from "./connection/selection.ts";
export type {
  CertCallback,
  SessionStore,
  SessionStoreOperation,
  SessionStoreOptions,
} from "./connection/selection.ts";
export {
  SSL_CB_ACCEPT_EXIT,
  SSL_CB_ACCEPT_LOOP,
  SSL_CB_ALERT,
  SSL_CB_CONNECT_EXIT,
  SSL_CB_CONNECT_LOOP,
  SSL_CB_EXIT,
  SSL_CB_HANDSHAKE_DONE,
  SSL_CB_HANDSHAKE_START,
  SSL_CB_LOOP,
  SSL_CB_READ,
  SSL_CB_READ_ALERT,
  SSL_CB_WRITE,
  SSL_CB_WRITE_ALERT,
  SSL_ST_ACCEPT,
  SSL_ST_CONNECT,
} from "./ffi/constants.ts";
export { X509 } from "./crypto/x509.ts";
export type { SubjectAltName, X509Extension } from "./crypto/x509.ts";
export { X509Name } from "./crypto/name.ts";
export type { X509NameEntry, X509NameInput } from "./crypto/name.ts";
export { PKey } from "./crypto/pkey.ts";
export type { GenerateKeyOptions, KeyPEMOptions, KeyType } from "./crypto/pkey.ts";
export { X509Store, X509StoreFlags } from "./crypto/store.ts";
export type { VerifyOptions, VerifyPurpose } from "./crypto/store.ts";
export { createPKCS12, loadPKCS12 } from "./crypto/pkcs12.ts";
export type { CreatePKCS12Options, PKCS12Contents } from "./crypto/pkcs12.ts";
export { CertificateBuilder } from "./crypto/builder.ts";
export type { BasicConstraints } from "./crypto/builder.ts";
export { TestCA } from "./crypto/test_ca.ts";
export type {
  IssuedCertificate,
  IssueOptions,
  TestCAOptions,
  TestKeyType,
  TestValidityOptions,
} from "./crypto/test_ca.ts";
export { X509Req } from "./crypto/csr.ts";
export type { X509ReqExtension, X509ReqOptions } from "./crypto/csr.ts";
export type { IssueFromRequestOptions } from "./crypto/test_ca.ts";
export { TicketKeyRing } from "./connection/ticket_keys.ts";
export type { TicketKey, TicketKeyRingOptions } from "./connection/ticket_keys.ts";
export type { ServerCertificate, SniCertificates } from "./connection/listener.ts";
export { acceptTls, connectTls, listenTls, startTls, TlsListener } from "./connection/tls.ts";
export type {
  ConnectTlsOptions,
  ListenTlsOptions,
  TlsClientOptions,
  TlsCommonOptions,
  TlsConnection,
  TlsServerOptions,
  TlsVersion,
} from "./connection/tls.ts";
export type { PskClientCallback, PskIdentity, PskServerCallback } from "./connection/types.ts";
