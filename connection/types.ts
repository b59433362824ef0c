/**
 * The public callback and option types of `Context` and `Connection`, and
 * {@link NO_OVERLAPPING_PROTOCOLS}.
 *
 * Callbacks run synchronously, inside the OpenSSL call that needs them. Where
 * OpenSSL needs an answer now (verify, servername, client hello, ALPN select,
 * OCSP, DTLS cookies, passphrase), a callback that returns a Promise or any
 * other thenable fails that call with a `TypeError` naming the callback: a
 * Promise never counts as an answer, truthy or not. Where no answer is needed
 * (info, key log, new session), a callback may return a Promise: if it
 * rejects, the reason is that callback's exception and comes out of the next
 * call that drives the connection (handshake, read, write, shutdown, in
 * either face); if the connection is closed first, it goes to
 * `reportError` (an uncaught error, which a `globalThis` "error" listener
 * can take). It is never lost, and never an unhandled rejection.
 *
 * @example Pin a leaf certificate with a synchronous verify callback
 * ```ts
 * import { Context, TLS_CLIENT_METHOD, VERIFY_PEER, type VerifyCallback } from "@denossl/denossl";
 * const pinned = new Set<string>();
 * const verify: VerifyCallback = (_conn, cert, _errnum, depth, ok) =>
 *   depth === 0 ? pinned.has(cert.fingerprint("sha256")) : ok;
 * using ctx = new Context(TLS_CLIENT_METHOD);
 * ctx.setVerify(VERIFY_PEER, verify);
 * ```
 *
 * @module
 */

import type { X509 } from "../crypto/x509.ts";
import type { PKey } from "../crypto/pkey.ts";
import type { Connection } from "./connection.ts";
import type { Session } from "./session.ts";

/**
 * A certificate verification callback, as in pyOpenSSL: called for each
 * certificate of the peer's chain, from the root (highest depth) to the leaf
 * (depth 0), with OpenSSL's own verdict in `ok`. Return true to accept the
 * certificate, false to fail the handshake. Anything else, a Promise
 * included, fails the handshake with a `TypeError`: the answer must be
 * synchronous. A thrown exception fails the handshake and is re-thrown from
 * the call that drove it.
 *
 * @example Accept only a pinned leaf, and see the chain from the root down
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create({ intermediate: true });
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificateChain(leaf.chainPEM);
 * serverCtx.usePrivateKey(leaf.key);
 * const pin = leaf.cert.fingerprint("sha256");
 * const seen: string[] = [];
 * using clientCtx = new Context(TLS_METHOD);
 * clientCtx.addCaCerts(ca.cert);
 * clientCtx.setVerify(VERIFY_PEER, (_conn, cert, _errnum, depth, ok) => {
 *   seen.push(`${depth} ${cert.subject.commonName}`);
 *   return depth === 0 ? ok && cert.fingerprint("sha256") === pin : ok;
 * });
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
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
 * assert.deepEqual(seen, [
 *   "2 denossl Test Root CA",
 *   "1 denossl Test Intermediate CA",
 *   "0 localhost",
 * ]);
 * assert.equal(client.getPeerCertificate()?.fingerprint("sha256"), pin);
 * ```
 */
export type VerifyCallback<C = unknown> = (
  connection: C,
  certificate: X509,
  errnum: number,
  depth: number,
  ok: boolean,
) => boolean;

/**
 * A passphrase callback for encrypted keys, as in pyOpenSSL: receives the
 * maximum length, whether the passphrase is being set (true) or asked for,
 * and the user data given to `Context.setPasswdCb`; returns the
 * passphrase, synchronously: a Promise fails the key load with a
 * `TypeError`.
 *
 * @example Load an encrypted key file
 * ```ts
 * import { Context, PKey, TLS_SERVER_METHOD } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using key = PKey.generate({ type: "ec" });
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/server.key`;
 * await Deno.writeTextFile(path, key.toPEM({ passphrase: "s3cret" }));
 * using ctx = new Context(TLS_SERVER_METHOD);
 * const asked: boolean[] = [];
 * ctx.setPasswdCb((maxLength, verify) => {
 *   asked.push(verify); // false: asked to read a key, not to set a passphrase
 *   assert.ok(maxLength >= 6);
 *   return "s3cret"; // in real life: Deno.env.get("KEY_PASSPHRASE") ?? ""
 * });
 * ctx.usePrivateKeyFile(path);
 * assert.deepEqual(asked, [false]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type PasswdCallback = (
  maxLength: number,
  verify: boolean,
  userdata: unknown,
) => string | Uint8Array;

/**
 * A certificate given as an object, PEM text or DER bytes.
 */
export type CertificateInput = X509 | string | Uint8Array;
/**
 * A private key given as an object, PEM text (optionally encrypted) or DER bytes (unencrypted).
 */
export type KeyInput = PKey | string | Uint8Array;

/**
 * Returned by an ALPN select callback when none of the client's protocols
 * is acceptable: the handshake goes on without ALPN (OpenSSL's
 * `SSL_TLSEXT_ERR_NOACK`), as pyOpenSSL's `NO_OVERLAPPING_PROTOCOLS`.
 *
 * `ContextBase`'s second example installs it.
 */
export const NO_OVERLAPPING_PROTOCOLS: unique symbol = Symbol("NO_OVERLAPPING_PROTOCOLS");

/**
 * Chooses the application protocol on the server, from the protocols the
 * client offered (in the client's order). Return one of them, or
 * {@link NO_OVERLAPPING_PROTOCOLS} to go on without ALPN. An empty string
 * fails the handshake (`no_application_protocol`); a protocol the client did
 * not offer, or a Promise, fails it with a `TypeError`; a throw fails it and
 * comes out of the call that drove the handshake.
 *
 * `ContextBase`'s second example installs it.
 */
export type AlpnSelectCallback = (
  connection: Connection,
  offered: string[],
) => string | typeof NO_OVERLAPPING_PROTOCOLS;

/**
 * Runs on the server when the ClientHello names a server (SNI), before the
 * certificate is chosen. Read the name with `connection.getServername()` and
 * switch with `connection.setContext(other)`: the certificate, key, trust
 * store, client CA list and verification mode, depth and callback of
 * `other` then apply. It may return a Promise (a lookup by name): OpenSSL's
 * servername callback cannot suspend, so the handshake goes on to the
 * certificate stage and waits there (`WantX509LookupError` on the
 * synchronous face) until the Promise settles; a context it switches to
 * then still supplies the certificate, and a rejection fails the handshake
 * with the reason as the error's `cause`. A throw fails the handshake and
 * comes out of the call that drove it.
 *
 * `ContextBase`'s second example installs it.
 */
export type ServernameCallback = (connection: Connection) => void | Promise<void>;

/**
 * What a client offered in its ClientHello, as a server's client hello
 * callback sees it before OpenSSL makes any choice.
 */
export interface ClientHello {
  /** The legacy `client_version` field (`TLS1_2_VERSION` for TLS 1.3 clients). */
  legacyVersion: number;
  /** The versions offered: the `supported_versions` extension, else `[legacyVersion]`. GREASE values included. */
  versions: number[];
  /** The cipher suites offered, as IANA code points, in the client's order. */
  ciphers: number[];
  /** OpenSSL's names of the offered cipher suites it knows, in the client's order. */
  cipherNames: string[];
  /** The server name (SNI), or null. */
  serverName: string | null;
  /** The ALPN protocols offered, in the client's order (empty without ALPN). */
  alpnProtocols: string[];
  /** The `supported_groups` code points offered. */
  groups: number[];
  /** The extension types present, in the order sent. */
  extensions: number[];
}

/**
 * Inspects the ClientHello on the server before anything is negotiated
 * (`SSL_CTX_set_client_hello_cb`). Return false to refuse the client
 * (handshake_failure alert), true or nothing to go on, or a Promise of one:
 * the handshake then suspends (`SSL_CLIENT_HELLO_RETRY`;
 * `WantClientHelloError` on the synchronous face) until it settles, and a
 * rejection fails it with the reason as the error's `cause`. The callback
 * may switch the context (`connection.setContext`). Anything else fails the
 * handshake with a `TypeError`; a throw fails it and comes out of the call
 * that drove it.
 *
 * `ContextBase`'s second example installs it.
 */
export type ClientHelloCallback = (
  connection: Connection,
  hello: ClientHello,
) => boolean | void | Promise<boolean | void>;

/**
 * Receives each new session a connection establishes: on a client, the
 * session to resume later (with TLS 1.3 it arrives after the handshake, with
 * each ticket). Clients need `SESS_CACHE_CLIENT` in
 * `Context.setSessionCacheMode` for OpenSSL to call it. The session is the
 * callback's to keep or close. A throw comes out of the call that read the
 * session; the callback may return a Promise, whose rejection comes out of
 * the next call that drives the connection.
 *
 * @example Keep the latest session
 * ```ts
 * import {
 *   Connection,
 *   Context,
 *   SESS_CACHE_CLIENT,
 *   SESS_CACHE_NO_INTERNAL_STORE,
 *   type Session,
 *   TestCA,
 *   TLS_METHOD,
 *   WantReadError,
 * } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificate(leaf.cert);
 * serverCtx.usePrivateKey(leaf.key);
 * using clientCtx = new Context(TLS_METHOD);
 * const kept: { latest?: Session } = {};
 * clientCtx.setSessionCacheMode(SESS_CACHE_CLIENT | SESS_CACHE_NO_INTERNAL_STORE);
 * clientCtx.setNewSessionCallback((_conn, session) => {
 *   kept.latest?.close();
 *   kept.latest = session;
 * });
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
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
 * // TLS 1.3: the tickets follow the handshake; the client reads them with its next
 * // recv, which then finds no application data.
 * assert.throws(() => client.recv(1024), WantReadError);
 * assert.ok(kept.latest?.isResumable());
 * kept.latest?.close();
 * ```
 */
export type NewSessionCallback = (connection: Connection, session: Session) => void;

/**
 * Receives each NSS key log line (`SSL_CTX_set_keylog_callback`), the format
 * Wireshark reads (`SSLKEYLOGFILE`): `CLIENT_RANDOM <random> <secret>` for
 * TLS 1.2, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
 * `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`, `EXPORTER_SECRET` for
 * TLS 1.3. A throw comes out of the call that produced the line; the callback
 * may return a Promise (an asynchronous write), whose rejection comes out of
 * the next call that drives the connection.
 *
 * @example Collect the lines of an SSLKEYLOGFILE
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificate(leaf.cert);
 * serverCtx.usePrivateKey(leaf.key);
 * using clientCtx = new Context(TLS_METHOD);
 * const lines: string[] = [];
 * // To a file: Deno.writeTextFileSync(path, line + "\n", { append: true })
 * clientCtx.setKeylogCallback((_conn, line) => {
 *   lines.push(line);
 * });
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
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
 * const labels = lines.map((line) => line.split(" ")[0]);
 * assert.ok(labels.includes("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
 * assert.ok(labels.includes("CLIENT_TRAFFIC_SECRET_0"));
 * ```
 */
export type KeylogCallback = (connection: Connection, line: string) => void;

/**
 * Follows a connection's handshake and alerts (`SSL_CTX_set_info_callback`):
 * `where` holds `SSL_CB_*` bits, `ret` the result (for `SSL_CB_ALERT`, the
 * alert as `level << 8 | description`). A throw comes out of the call that
 * triggered it; the callback may return a Promise, whose rejection comes out
 * of the next call that drives the connection.
 *
 * @example See the handshake finish and the close_notify alert
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * // OpenSSL's SSL_CB_* bits (ssl.h).
 * const SSL_CB_ALERT = 0x4000;
 * const SSL_CB_HANDSHAKE_DONE = 0x20;
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificate(leaf.cert);
 * serverCtx.usePrivateKey(leaf.key);
 * const events: string[] = [];
 * serverCtx.setInfoCallback((_conn, where, ret) => {
 *   if (where & SSL_CB_HANDSHAKE_DONE) events.push("handshake done");
 *   if (where & SSL_CB_ALERT) events.push(`alert ${ret & 0xff}`); // 0: close_notify
 * });
 * using clientCtx = new Context(TLS_METHOD);
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
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
 * assert.ok(events.includes("handshake done"));
 * server.shutdown();
 * assert.equal(events.at(-1), "alert 0");
 * ```
 */
export type InfoCallback = (connection: Connection, where: number, ret: number) => void;

/**
 * Gives the DER OCSP response a server staples, when the client asked for
 * one (`requestOcsp`). Return null or empty bytes to staple nothing; a
 * Promise fails the handshake with a `TypeError`. A throw fails the
 * handshake and comes out of the call that drove it.
 *
 * `ContextBase`'s second example installs it.
 */
export type OcspServerCallback = (connection: Connection) => Uint8Array | null;

/**
 * Checks the OCSP response the server stapled (empty bytes when none), on a
 * client that called `requestOcsp()`. Return true to go on, false to fail the
 * handshake; anything else, a Promise included, fails it with a `TypeError`.
 * A throw fails it too and comes out of the call that drove it.
 *
 * `ContextBase`'s second example installs it.
 */
export type OcspClientCallback = (connection: Connection, der: Uint8Array) => boolean;

/**
 * Makes the cookie a DTLS server sends in its HelloVerifyRequest, for the
 * client to echo (`SSL_CTX_set_cookie_generate_cb`). Bind it to the client's
 * address (see `dtlsPeerAddress`) and a server secret, so that only a client
 * that receives at its address can echo it. Return 1 to 255 bytes
 * (`DTLS1_COOKIE_LENGTH`), synchronously; anything else (a Promise included)
 * or a throw fails the call that drove OpenSSL (`dtlsListen()`,
 * `doHandshake()`) with that error.
 *
 * @example A DTLS server that answers only clients that echo its cookie
 * ```ts
 * import {
 *   bioReadDatagrams,
 *   Connection,
 *   Context,
 *   DTLS_METHOD,
 *   dtlsPeerAddress,
 *   TestCA,
 *   WantReadError,
 * } from "@denossl/denossl";
 * import { createHmac, timingSafeEqual } from "node:crypto";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const secret = crypto.getRandomValues(new Uint8Array(32));
 * // Bound to the client's address (over memory BIOs there is none).
 * const cookieOf = (conn: Connection): Uint8Array => {
 *   const peer = dtlsPeerAddress(conn);
 *   return createHmac("sha256", secret).update(peer ? `${peer.hostname}:${peer.port}` : "-").digest();
 * };
 * let made = 0;
 * using serverCtx = new Context(DTLS_METHOD);
 * serverCtx.useCertificate(leaf.cert);
 * serverCtx.usePrivateKey(leaf.key);
 * serverCtx.setCookieGenerateCallback((conn) => {
 *   made++;
 *   return cookieOf(conn);
 * });
 * serverCtx.setCookieVerifyCallback((conn, cookie) => {
 *   const expected = cookieOf(conn);
 *   return cookie.length === expected.length && timingSafeEqual(cookie, expected);
 * });
 * using clientCtx = new Context(DTLS_METHOD);
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
 * client.setConnectState();
 * let listening = true;
 * const serverStep = (): void => {
 *   try {
 *     if (listening) server.dtlsListen(); // answers a ClientHello without the cookie
 *     listening = false;
 *     server.tryHandshake();
 *   } catch (e) {
 *     if (!(e instanceof WantReadError)) throw e;
 *   }
 * };
 * // One datagram, then the SSL call that reads it.
 * const deliver = (from: Connection, to: Connection, step: () => void): void => {
 *   for (const datagram of bioReadDatagrams(from)) {
 *     to.bioWrite(datagram);
 *     step();
 *   }
 * };
 * client.tryHandshake();
 * for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *   deliver(client, server, serverStep);
 *   deliver(server, client, () => client.tryHandshake());
 * }
 * assert.equal(made, 1);
 * assert.equal(client.getProtocolVersionName(), "DTLSv1.2");
 * ```
 */
export type CookieGenerateCallback = (connection: Connection) => Uint8Array | string;

/**
 * Checks the cookie a DTLS client echoed (`SSL_CTX_set_cookie_verify_cb`);
 * see the example of {@link CookieGenerateCallback}.
 * Return true to accept it; false makes the server ask again with a fresh
 * HelloVerifyRequest (RFC 6347 treats a bad cookie as no cookie). Anything
 * else, a Promise included, fails the call with a `TypeError`; a throw comes
 * out of the call that drove OpenSSL.
 */
export type CookieVerifyCallback = (connection: Connection, cookie: Uint8Array) => boolean;

/**
 * The SRTP master keys and salts of a DTLS-SRTP connection (RFC 5764 §4.2),
 * exported with the label `EXTRACTOR-dtls_srtp` and no context.
 * `DtlsConnection`'s example exports them.
 */
export interface SrtpKeyingMaterial {
  /** The negotiated protection profile, for example `"SRTP_AES128_CM_SHA1_80"`. */
  profile: string;
  /** The client's SRTP master key (it protects what the client sends). */
  clientWriteKey: Uint8Array;
  /** The server's SRTP master key. */
  serverWriteKey: Uint8Array;
  /** The client's SRTP master salt. */
  clientWriteSalt: Uint8Array;
  /** The server's SRTP master salt. */
  serverWriteSalt: Uint8Array;
  /** The whole exported block: client key, server key, client salt, server salt. */
  material: Uint8Array;
}

/**
 * A channel binding type: `tls-unique` and `tls-server-end-point` (RFC 5929),
 * `tls-exporter` (RFC 9266).
 */
export type ChannelBindingType = "tls-unique" | "tls-exporter" | "tls-server-end-point";

/**
 * What a TLS-PSK client offers: an identity the server knows and the key it
 * shares with the server, as Node's `pskCallback` returns them.
 *
 * @example
 * ```ts
 * import type { PskIdentity } from "@denossl/denossl";
 * const offer: PskIdentity = { identity: "device-17", psk: new Uint8Array(32).fill(7) };
 * ```
 */
export interface PskIdentity {
  /** The identity: UTF-8, 1 to 256 bytes, no NUL. */
  identity: string;
  /** The key: 1 to 512 bytes (32 or more random bytes in practice). */
  psk: Uint8Array;
}

/**
 * Chooses a client's pre-shared key (`SSL_CTX_set_psk_client_callback`), as
 * Node's client `pskCallback` and Python's `set_psk_client_callback`. It
 * runs while the ClientHello is built (TLS 1.3, `hint` null) and again when
 * a TLS 1.2 server picks a PSK suite (`hint`: the server's identity hint, or
 * null). Return null to offer no key; a throw or a Promise fails the
 * handshake and comes out of the call that drove it.
 *
 * @example A client and a server that share a key, in memory
 * ```ts
 * import { Connection, Context, TLS_METHOD } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * using clientCtx = new Context(TLS_METHOD);
 * clientCtx.setPskClientCallback(() => ({ identity: "device-17", psk: key }));
 * using serverCtx = new Context(TLS_METHOD);
 * const seen: string[] = [];
 * serverCtx.setPskServerCallback((identity) => {
 *   seen.push(identity);
 *   return identity === "device-17" ? key : null;
 * });
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
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
 * assert.deepEqual(seen, ["device-17"]);
 * assert.equal(client.getPeerCertificate(), null); // the key authenticated the server
 * ```
 */
export type PskClientCallback = (
  hint: string | null,
  connection: Connection,
) => PskIdentity | null;

/**
 * Finds the key of a client's PSK identity (`SSL_CTX_set_psk_server_callback`),
 * as Node's server `pskCallback` and Python's `set_psk_server_callback`.
 * Return null for an unknown identity: TLS 1.2 then fails with
 * `unknown_psk_identity`, TLS 1.3 goes on with a certificate if the server
 * has one. A throw or a Promise fails the handshake and comes out of the
 * call that drove it. See {@link PskClientCallback} for an example.
 *
 * @example Keys by identity
 * ```ts
 * import type { PskServerCallback } from "@denossl/denossl";
 * const keys = new Map([["device-17", new Uint8Array(32).fill(7)]]);
 * const find: PskServerCallback = (identity) => keys.get(identity) ?? null;
 * ```
 */
export type PskServerCallback = (identity: string, connection: Connection) => Uint8Array | null;

/**
 * What `handshake()` resolves to: Deno's `TlsHandshakeInfo` plus what Deno
 * does not tell.
 *
 * @example Print what was negotiated
 * ```ts
 * import type { HandshakeInfo } from "@denossl/denossl";
 * const show = (i: HandshakeInfo): string => `${i.protocol} ${i.cipher} ${i.alpnProtocol ?? "-"}`;
 * ```
 */
export interface HandshakeInfo extends Deno.TlsHandshakeInfo {
  /** The negotiated protocol version, for example `"TLSv1.3"`. */
  protocol: string;
  /** The negotiated cipher, for example `"TLS_AES_256_GCM_SHA384"`. */
  cipher: string;
  /** The peer's certificate, or null when it sent none. */
  peerCertificate: X509 | null;
}
