/**
 * `ConnectionInfo`: what a connection can be asked and told beside its I/O (state, verification
 * settings, negotiation, sessions, key export, channel bindings, renegotiation), the lowest
 * layer of {@link Connection}.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, readCString } from "../ffi/memory.ts";
import {
  SSL_set_tlsext_host_name,
  TLSEXT_NAMETYPE_host_name,
  VERIFY_NONE,
} from "../ffi/constants.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { X509 } from "../crypto/x509.ts";
import type { X509Name } from "../crypto/name.ts";
import { Context } from "./context.ts";
import { requireFunction } from "../ffi/callbacks.ts";
import { verifyTrampoline } from "./_verify.ts";
import type { VerifyCallback } from "./_verify.ts";
import type { Session } from "./session.ts";
import type { Connection } from "./connection.ts";
import type { Transport } from "./transport.ts";
import type { ChannelBindingType } from "./types.ts";
import * as negotiation from "./_negotiation.ts";
import * as keys from "./_keys.ts";
import * as binding from "./_binding.ts";
import * as hostname from "./_hostname.ts";

/** `SSL_READING`, as `SSL_want` reports it. */
const SSL_READING = 3;
/** `SSL_WRITING`, as `SSL_want` reports it. */
const SSL_WRITING = 2;

/**
 * What a {@link Connection} can be asked and told beside its I/O: its
 * state, verification settings, what the handshake negotiated, sessions,
 * key export, channel bindings and renegotiation, under pyOpenSSL's names.
 * `ConnectionExtras` builds on it (DTLS knobs, early data, record sizes,
 * listings, trace). Not constructed directly: every `Connection` is one.
 *
 * @example What a finished handshake agreed on
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificate(leaf.certPEM);
 * serverCtx.usePrivateKey(leaf.keyPEM);
 * serverCtx.setAlpnSelectCallback((_conn, offered) => offered.includes("h2") ? "h2" : "");
 * using clientCtx = new Context(TLS_METHOD);
 * clientCtx.addCaCerts(ca.certPEM);
 * clientCtx.setVerify(VERIFY_PEER);
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
 * client.setVerifyHostname("localhost");
 * client.setTlsextHostName("localhost");
 * client.setAlpnProtos(["h2", "http/1.1"]);
 * client.setConnectState();
 * server.setAcceptState();
 * const wire = new Uint8Array(65536);
 * const pump = (from: Connection, to: Connection): void => {
 *   while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
 * };
 * for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *   client.tryHandshake();
 *   pump(client, server);
 *   server.tryHandshake();
 *   pump(server, client);
 * }
 * assert.equal(client.getProtocolVersionName(), "TLSv1.3");
 * assert.equal(client.getAlpnProtoNegotiated(), "h2");
 * assert.equal(server.getServername(), "localhost");
 * assert.equal(client.getPeerCertificate()?.subject.commonName, "localhost");
 * assert.deepEqual(
 *   client.exportKeyingMaterial("EXPERIMENTAL-demo", 16),
 *   server.exportKeyingMaterial("EXPERIMENTAL-demo", 16),
 * );
 * ```
 */
export abstract class ConnectionInfo {
  #context: Context;
  #verifyCallback: VerifyCallback<Connection<Transport>> | null;
  /** How DNS names match: set by setHostFlags, kept for a later setVerifyHostname. */
  #hostFlags: number = hostname.DEFAULT_HOST_FLAGS;

  /**
   * Keeps the context a connection is made from.
   *
   * @param context The context.
   * @throws {TypeError} When `context` is not a {@link Context}.
   */
  protected constructor(context: Context) {
    if (!(context instanceof Context)) throw new TypeError("context must be a Context");
    this.#context = context;
    this.#verifyCallback = context._verifyCallback;
  }

  /** The `SSL*`, for denossl's own use. Throws when closed. */
  abstract get _handle(): Deno.PointerObject;

  /** The verify callback in force (the context's at creation, or this connection's own). Internal. */
  get _verifyCallback(): VerifyCallback<Connection<Transport>> | null {
    return this.#verifyCallback;
  }

  /**
   * Whether this is the server side (`SSL_is_server`).
   *
   * @returns True for a server.
   */
  isServer(): boolean {
    return native().ssl.SSL_is_server(this._handle) === 1;
  }

  /**
   * The context in use.
   *
   * @returns The context.
   */
  getContext(): Context {
    this._handle;
    return this.#context;
  }

  /**
   * Switches to another context (`SSL_set_SSL_CTX`), typically in an SNI
   * callback to present another certificate. The certificate, key and
   * verification store switch; settings OpenSSL copied at creation
   * (options, verify mode) stay.
   *
   * @param context The new context; it can no longer be changed afterwards.
   */
  setContext(context: Context): void {
    const ssl = this._handle;
    if (!(context instanceof Context)) throw new TypeError("context must be a Context");
    native().ssl.SSL_set_SSL_CTX(ssl, context._handle);
    context._markUsed();
    this.#context = context;
  }

  /**
   * OpenSSL's description of the handshake state (`SSL_state_string_long`).
   *
   * @returns For example `"SSL negotiation finished successfully"`.
   */
  getStateString(): string {
    return readCString(native().ssl.SSL_state_string_long(this._handle)) ?? "";
  }

  /**
   * Whether the handshake is complete (`SSL_is_init_finished`).
   *
   * @returns True once the handshake finished.
   */
  isHandshakeDone(): boolean {
    return native().ssl.SSL_is_init_finished(this._handle) === 1;
  }

  /**
   * Whether OpenSSL is waiting to read (`SSL_want_read`).
   *
   * @returns True when the last operation wanted more data.
   */
  wantRead(): boolean {
    return native().ssl.SSL_want(this._handle) === SSL_READING;
  }

  /**
   * Whether OpenSSL is waiting to write (`SSL_want_write`).
   *
   * @returns True when the last operation wanted to flush.
   */
  wantWrite(): boolean {
    return native().ssl.SSL_want(this._handle) === SSL_WRITING;
  }

  /**
   * Plaintext bytes buffered and readable without touching the transport (`SSL_pending`).
   *
   * @returns The count.
   */
  pending(): number {
    return native().ssl.SSL_pending(this._handle);
  }

  // ---- verification --------------------------------------------------------------------

  /**
   * Sets this connection's verification mode and callback (`SSL_set_verify`),
   * overriding the context's.
   *
   * @param mode `VERIFY_*` bits.
   * @param callback Decides per certificate; a throw fails the handshake and
   *   comes out of the call that drove it.
   */
  setVerify(mode: number, callback?: VerifyCallback<Connection<Transport>> | null): void {
    const ssl = this._handle;
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0xf) {
      throw new RangeError("mode must be VERIFY_NONE or a combination of VERIFY_* flags");
    }
    if (callback != null) requireFunction(callback);
    this.#verifyCallback = callback ?? null;
    native().ssl.SSL_set_verify(
      ssl,
      mode,
      mode === VERIFY_NONE ? null : verifyTrampoline(callback != null),
    );
  }

  /**
   * The verification mode (`SSL_get_verify_mode`).
   *
   * @returns `VERIFY_*` bits.
   */
  getVerifyMode(): number {
    return native().ssl.SSL_get_verify_mode(this._handle);
  }

  /**
   * Sets the maximum verification depth for this connection (`SSL_set_verify_depth`).
   *
   * @param depth The depth.
   */
  setVerifyDepth(depth: number): void {
    const ssl = this._handle;
    if (!Number.isInteger(depth) || depth < 0) {
      throw new RangeError("depth must be a non-negative integer");
    }
    native().ssl.SSL_set_verify_depth(ssl, depth);
  }

  /**
   * Requires the peer's certificate to match a host name or IP address: DNS
   * names through `SSL_set1_host`, IP literals through
   * `X509_VERIFY_PARAM_set1_ip_asc`. A mismatch fails the handshake with a
   * `VerificationError` (code 62 for a name, 64 for an IP). Takes effect
   * only with `VERIFY_PEER`. Names match subject alternative names only (no
   * subject-CN fallback) and no partial wildcard (`f*.example.com`), as in
   * Deno; {@link setHostFlags} changes that. One trailing dot is ignored.
   *
   * @param host A DNS name or an IPv4/IPv6 literal.
   * @throws {TypeError} When `host` is empty or malformed (an empty label, a NUL).
   */
  setVerifyHostname(host: string): void {
    hostname.setVerifyHost(this._handle, host, this.#hostFlags);
  }

  /**
   * Replaces how {@link setVerifyHostname} matches DNS names
   * (`X509_VERIFY_PARAM_set_hostflags`), before or after it. The default,
   * `X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS`,
   * is RFC 6125's and Deno's; pass `0` only for a legacy peer whose
   * certificate names its host in the subject CN alone.
   *
   * @param flags `X509_CHECK_FLAG_*` bits.
   * @throws {RangeError} When `flags` has a bit OpenSSL does not define.
   */
  setHostFlags(flags: number): void {
    hostname.setHostFlags(this._handle, flags);
    this.#hostFlags = flags;
  }

  /**
   * Sends a server name (SNI) in the ClientHello (`SSL_set_tlsext_host_name`).
   *
   * @param name The host name.
   * @throws {SSLError} When OpenSSL refuses the name.
   */
  setTlsextHostName(name: string): void {
    const ssl = this._handle;
    clearErrors();
    if (SSL_set_tlsext_host_name(ssl, cstr(name, "name")) !== 1) {
      throw sslErrorFromQueue(`Invalid server name "${name}"`);
    }
  }

  /**
   * The server name (SNI) the client sent, or null (`SSL_get_servername`).
   *
   * @returns The name, or null without SNI.
   */
  getServername(): string | null {
    return readCString(native().ssl.SSL_get_servername(this._handle, TLSEXT_NAMETYPE_host_name));
  }

  /**
   * The peer's certificate, or null (`SSL_get1_peer_certificate`).
   *
   * @returns The certificate; close it when done, or let it be collected.
   */
  getPeerCertificate(): X509 | null {
    const ptr = native().ssl.SSL_get1_peer_certificate(this._handle);
    return ptr === null ? null : X509._wrap(ptr);
  }

  /**
   * The negotiated protocol version's name (`SSL_get_version`).
   *
   * @returns For example `"TLSv1.3"`.
   */
  getProtocolVersionName(): string {
    return readCString(native().ssl.SSL_get_version(this._handle)) ?? "";
  }

  /**
   * The negotiated protocol version (`SSL_version`).
   *
   * @returns A `*_VERSION` constant.
   */
  getProtocolVersion(): number {
    return native().ssl.SSL_version(this._handle);
  }

  /**
   * The negotiated cipher's name, or null before the handshake.
   *
   * @returns For example `"TLS_AES_256_GCM_SHA384"`.
   */
  getCipherName(): string | null {
    const { ssl } = native();
    const cipher = ssl.SSL_get_current_cipher(this._handle);
    return cipher === null ? null : readCString(ssl.SSL_CIPHER_get_name(cipher));
  }

  /**
   * Sets the ALPN protocols this client offers (`SSL_set_alpn_protos`),
   * overriding the context's.
   *
   * @param protos The protocols in preference order.
   * @throws {TypeError} When the list is empty or a protocol is empty or longer than 255 bytes.
   * @throws {SSLError} When OpenSSL refuses the list.
   */
  setAlpnProtos(protos: readonly (string | Uint8Array)[]): void {
    const ssl = this._handle;
    const wire = negotiation.alpnWire(protos);
    clearErrors();
    // 0 means success here; OpenSSL copies the list.
    if (native().ssl.SSL_set_alpn_protos(ssl, wire, wire.length) !== 0) {
      throw sslErrorFromQueue("Could not set ALPN protocols");
    }
  }

  /**
   * The application protocol agreed through ALPN (`SSL_get0_alpn_selected`).
   *
   * @returns The protocol, or null when none was agreed.
   */
  getAlpnProtoNegotiated(): string | null {
    return negotiation.alpnSelected(this._handle);
  }

  /**
   * The session in use (`SSL_get1_session`). On a TLS 1.3 client it becomes
   * resumable only once the server's ticket was read, after the handshake
   * (a `recv`; `doHandshake` does not read past the handshake). Close the
   * connection with `shutdown()` first: OpenSSL marks the session of a
   * connection freed without close_notify as no longer resumable.
   *
   * @returns The session (its own reference: close it or let it be collected), or null.
   */
  getSession(): Session | null {
    return keys.getSession(this._handle);
  }

  /**
   * Sets the session a client tries to resume (`SSL_set_session`), before its
   * handshake. A server that does not know the session (another ticket key,
   * another session ID context, expired) makes a full handshake instead.
   *
   * @param session A session from an earlier connection or from `Session.fromDER`.
   * @throws {TypeError} When `session` is not a `Session`.
   * @throws {ClosedError} When the session was closed.
   */
  setSession(session: Session): void {
    keys.setSession(this._handle, session);
  }

  /**
   * Whether the handshake resumed a session (`SSL_session_reused`).
   *
   * @returns True for a resumed session.
   */
  sessionReused(): boolean {
    return native().ssl.SSL_session_reused(this._handle) === 1;
  }

  /**
   * Asks the server for a stapled OCSP response (`SSL_set_tlsext_status_type`);
   * without it the OCSP callbacks of both sides do not run. Call before the handshake.
   *
   * @throws {SSLError} When OpenSSL refuses.
   */
  requestOcsp(): void {
    keys.requestOcsp(this._handle);
  }

  /**
   * The OCSP response the server stapled (`SSL_get_tlsext_status_ocsp_resp`),
   * on a client that called {@link requestOcsp}, once the handshake is done.
   * It is not checked here: parse and verify it, or check it in
   * `Context.setOcspClientCallback`.
   *
   * @returns A copy of the DER response, or null when the server stapled none.
   */
  getOcspResponse(): Uint8Array | null {
    return keys.ocspResponse(this._handle);
  }

  /**
   * Derives keying material from the session (`SSL_export_keying_material`,
   * RFC 5705 and RFC 8446 §7.5). Both peers get the same bytes.
   *
   * @param label The label, such as `"EXPERIMENTAL-my-protocol"`.
   * @param length How many bytes.
   * @param context An optional context value; none and empty differ on TLS 1.2.
   * @returns The keying material.
   * @throws {RangeError} When `length` is not a positive integer.
   * @throws {SSLError} Before the handshake is done.
   */
  exportKeyingMaterial(label: string, length: number, context?: string | Uint8Array): Uint8Array {
    return keys.exportKeyingMaterial(this._handle, label, length, context);
  }

  /**
   * The last Finished message this side sent (`SSL_get_finished`).
   *
   * @returns A copy, or null before the handshake sent one.
   */
  getFinished(): Uint8Array | null {
    return keys.getFinished(this._handle);
  }

  /**
   * The last Finished message the peer sent (`SSL_get_peer_finished`).
   *
   * @returns A copy, or null before one was received.
   */
  getPeerFinished(): Uint8Array | null {
    return keys.getPeerFinished(this._handle);
  }

  /**
   * The ClientHello random (`SSL_get_client_random`).
   *
   * @returns 32 bytes, or null before the ClientHello.
   */
  clientRandom(): Uint8Array | null {
    return keys.helloRandom(this._handle, "client");
  }

  /**
   * The ServerHello random (`SSL_get_server_random`).
   *
   * @returns 32 bytes, or null before the ServerHello.
   */
  serverRandom(): Uint8Array | null {
    return keys.helloRandom(this._handle, "server");
  }

  /**
   * The TLS 1.2 master secret (`SSL_SESSION_get_master_key`); on TLS 1.3,
   * the session's resumption secret.
   *
   * @returns A copy, or null without a session.
   */
  masterKey(): Uint8Array | null {
    return keys.masterKey(this._handle);
  }

  /**
   * A channel binding for authentication protocols (SCRAM-SHA-256-PLUS in
   * PostgreSQL and XMPP, GSS-API), Python's `get_channel_binding`:
   * `tls-exporter` (RFC 9266, 32 bytes), `tls-unique` (RFC 5929, the first
   * Finished message; TLS 1.2 only) or `tls-server-end-point` (RFC 5929 §4.1:
   * the server certificate's DER hashed with its signature's digest, SHA-256
   * for MD5 and SHA-1; a server hashes its own certificate, a client the
   * peer's). A signature with no separate digest (Ed25519, Ed448) has no
   * `tls-server-end-point`: RFC 5929 leaves it open and PostgreSQL refuses
   * it too, so it throws rather than guess.
   *
   * @param type By default `tls-exporter` on TLS 1.3 and `tls-unique` on TLS 1.2.
   * @returns The binding, or null before the handshake is done (and for
   *   `tls-server-end-point` without a server certificate).
   * @throws {TypeError} For an unknown type.
   * @throws {RangeError} For `tls-unique` on TLS 1.3, and `tls-server-end-point`
   *   on an Ed25519 or Ed448 certificate.
   */
  getChannelBinding(type?: ChannelBindingType): Uint8Array | null {
    return binding.channelBinding(this._handle, type);
  }

  /**
   * The secret bits of the negotiated cipher (`SSL_CIPHER_get_bits`).
   *
   * @returns For example 256, or null before the handshake.
   */
  getCipherBits(): number | null {
    return keys.cipherInfo(this._handle)?.bits ?? null;
  }

  /**
   * The protocol version that introduced the negotiated cipher (`SSL_CIPHER_get_version`).
   *
   * @returns For example `"TLSv1.3"` or `"TLSv1.2"`, or null before the handshake.
   */
  getCipherVersion(): string | null {
    return keys.cipherInfo(this._handle)?.version ?? null;
  }

  /**
   * The cipher suites this connection offers or accepts, in preference order
   * (`SSL_get_cipher_list`), TLS 1.3 suites first.
   *
   * @returns OpenSSL cipher names.
   */
  getCipherList(): string[] {
    return keys.cipherList(this._handle);
  }

  /**
   * The key exchange group negotiated (`SSL_get0_group_name` on OpenSSL 3.2+;
   * on 3.0 and 3.1 the NID of `SSL_get_negotiated_group`, named by `OBJ_nid2sn`).
   *
   * @returns For example `"X25519"` or `"prime256v1"`, or null (no handshake, or none used).
   */
  getGroupName(): string | null {
    return keys.groupName(this._handle);
  }

  /**
   * This side's own certificate (`SSL_get_certificate`).
   *
   * @returns The certificate, or null when none is set.
   */
  getCertificate(): X509 | null {
    return keys.ownCertificate(this._handle);
  }

  /**
   * The certificates the peer sent (`SSL_get_peer_cert_chain`). As in
   * OpenSSL, a server's view leaves out the client's own certificate;
   * a client's view starts with the server's leaf.
   *
   * @returns The certificates, or null when the peer sent none.
   */
  getPeerCertChain(): X509[] | null {
    return keys.certificatesOf(native().ssl.SSL_get_peer_cert_chain(this._handle));
  }

  /**
   * The chain verification built from the peer's leaf to a trust anchor
   * (`SSL_get0_verified_chain`).
   *
   * @returns The certificates, leaf first, or null without verification.
   */
  getVerifiedChain(): X509[] | null {
    return keys.certificatesOf(native().ssl.SSL_get0_verified_chain(this._handle));
  }

  /**
   * The CA names of client certificate requests (`SSL_get_client_CA_list`):
   * on a client, those the server sent; on a server, those it sends.
   *
   * @returns Copies of the names (empty when none).
   */
  getClientCaList(): X509Name[] {
    return keys.namesOf(native().ssl.SSL_get_client_CA_list(this._handle));
  }

  /**
   * Starts a TLS 1.2 renegotiation (`SSL_renegotiate`); the next
   * `doHandshake()` sends the request. Refused by OpenSSL on TLS 1.3 and
   * under `OP_NO_RENEGOTIATION`.
   *
   * @throws {SSLError} When OpenSSL refuses to renegotiate.
   */
  renegotiate(): void {
    keys.renegotiate(this._handle);
  }

  /**
   * Whether a renegotiation is under way (`SSL_renegotiate_pending`).
   *
   * @returns True until it finished.
   */
  renegotiatePending(): boolean {
    return native().ssl.SSL_renegotiate_pending(this._handle) === 1;
  }

  /**
   * How many renegotiations this connection started or accepted
   * (`SSL_total_renegotiations`).
   *
   * @returns The count.
   */
  totalRenegotiations(): number {
    return keys.totalRenegotiations(this._handle);
  }

  /**
   * Schedules a TLS 1.3 key update (`SSL_key_update`), sent with the next
   * write or `doHandshake()`.
   *
   * @param requestPeer Whether the peer must update its sending keys too.
   * @throws {SSLError} When not on TLS 1.3 or the handshake is not done.
   */
  keyUpdate(requestPeer = false): void {
    keys.keyUpdate(this._handle, requestPeer);
  }

  /**
   * Asks a TLS 1.3 client for its certificate after the handshake
   * (`SSL_verify_client_post_handshake`); the next `doHandshake()` sends the
   * request. The server needs `VERIFY_PEER | VERIFY_POST_HANDSHAKE` and the
   * client `setPostHandshakeAuth()`.
   *
   * @throws {SSLError} When the client did not offer post-handshake authentication.
   */
  verifyClientPostHandshake(): void {
    keys.verifyClientPostHandshake(this._handle);
  }

  /**
   * Lets this client answer TLS 1.3 post-handshake certificate requests
   * (`SSL_set_post_handshake_auth`). Call before the handshake.
   *
   * @param enabled Whether to offer it (default true).
   */
  setPostHandshakeAuth(enabled = true): void {
    native().ssl.SSL_set_post_handshake_auth(this._handle, enabled ? 1 : 0);
  }
}
