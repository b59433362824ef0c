/**
 * Choosing per connection, possibly asynchronously: the certificate
 * callback's type, the session store's shape, and `ConnectionSelection`
 * (a connection's own certificate and key, and the Promise a suspended
 * handshake waits for), the base of {@link Connection}.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { X509 } from "../crypto/x509.ts";
import { PKey } from "../crypto/pkey.ts";
import { ConnectionInfo } from "./info.ts";
import { certificateOf } from "./_keys.ts";
import { pendingWait } from "./_suspend.ts";
import type { Connection } from "./connection.ts";
import type { CertificateInput, KeyInput } from "./types.ts";

/** `SSL_CTRL_CHAIN_CERT`: `SSL_add1_chain_cert` is `SSL_ctrl(ssl, 89, 1, x509)`. */
const SSL_CTRL_CHAIN_CERT = 89;

/**
 * A certificate callback (`SSL_CTX_set_cert_cb`): on a server it runs after
 * the ClientHello was read (the server name is known) and before a
 * certificate is chosen; on a client, when the server asks for one. It
 * may set this connection's certificate and key (`conn.useCertificate`,
 * `conn.usePrivateKey`) or switch its context (`conn.setContext`). Return
 * nothing or true to go on, false to fail the handshake, or a Promise of
 * one: the handshake then waits (`WantX509LookupError` on the synchronous
 * face) and a rejection fails it with the reason as the error's `cause`.
 *
 * @example A certificate looked up per server name, asynchronously
 * ```ts
 * import { type CertCallback, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * const leaves = new Map([["a.example", ca.issue({ dns: ["a.example"] })]]);
 * const pick: CertCallback = async (conn) => {
 *   await new Promise((r) => setTimeout(r, 1)); // a database, a vault, an ACME client
 *   const leaf = leaves.get(conn.getServername() ?? "");
 *   if (!leaf) return false;
 *   conn.useCertificate(leaf.cert);
 *   conn.usePrivateKey(leaf.key);
 *   return true;
 * };
 * for (const leaf of leaves.values()) leaf.close();
 * ```
 */
export type CertCallback = (
  connection: Connection,
) => boolean | void | Promise<boolean | void>;

/**
 * Which call of a {@link SessionStore} failed, as its `onError` is told.
 *
 * @example Count failures by call
 * ```ts
 * import type { SessionStoreOperation } from "@denossl/denossl";
 * const failures = new Map<SessionStoreOperation, number>();
 * const onError = (_e: unknown, op: SessionStoreOperation): void =>
 *   void failures.set(op, (failures.get(op) ?? 0) + 1);
 * onError(new Error("down"), "get");
 * console.log(failures.get("get")); // 1
 * ```
 */
export type SessionStoreOperation = "get" | "set" | "delete";

/**
 * A server's external session cache (TLS 1.2 session IDs, and stateful TLS
 * 1.3 sessions), shared by every process that uses it: what Node's
 * `newSession`, `resumeSession` and (OpenSSL's) remove events do, as one
 * object. IDs are lowercase hex; `der` is the serialized session, secrets
 * included (store it as you would a key); `ttl` is its lifetime in
 * seconds. `get` may return a Promise: the handshake waits for it (at most
 * `timeout` ms). A store that throws, rejects or is late never fails a
 * connection: the client gets a full handshake and `onError` is told why
 * (without one, `console.error`).
 *
 * @example A store in a Map
 * ```ts
 * import type { SessionStore } from "@denossl/denossl";
 * const sessions = new Map<string, Uint8Array>();
 * const store: SessionStore = {
 *   get: (id) => sessions.get(id) ?? null,
 *   set: (id, der) => void sessions.set(id, der),
 *   delete: (id) => void sessions.delete(id),
 *   onError: (error, operation) => console.warn(`session ${operation}:`, error),
 * };
 * ```
 */
export interface SessionStore {
  /** The session stored under `id`, or null. */
  get(id: string): Uint8Array | null | undefined | Promise<Uint8Array | null | undefined>;
  /** Keeps a new session for `ttl` seconds. */
  set(id: string, der: Uint8Array, ttl: number): void | Promise<void>;
  /**
   * Forgets a session OpenSSL invalidated: after a fatal alert on its
   * connection, or a connection freed without close_notify (OpenSSL's own
   * cache drops those too).
   */
  delete(id: string): void | Promise<void>;
  /** Told when a call threw, rejected or timed out (the handshake went on without the store). */
  onError?(error: unknown, operation: SessionStoreOperation): void;
  /** How long a `get` may take, in ms. @default {1000} */
  timeout?: number;
}

/**
 * The server helpers' option for an external session cache
 * (`listenTls`, `acceptTls`).
 *
 * @example
 * ```ts
 * import type { SessionStoreOptions } from "@denossl/denossl";
 * const sessions = new Map<string, Uint8Array>();
 * const options: SessionStoreOptions = {
 *   sessionStore: {
 *     get: (id) => sessions.get(id) ?? null,
 *     set: (id, der) => void sessions.set(id, der),
 *     delete: (id) => void sessions.delete(id),
 *   },
 * };
 * ```
 */
export interface SessionStoreOptions {
  /**
   * Keep sessions in this store instead of in-process (see
   * `Context.setSessionStore`): servers that share it resume each other's
   * sessions. Tickets are then off; the session ID context is derived from
   * the certificate, so processes serving the same certificate match.
   */
  sessionStore?: SessionStore;
}

/**
 * What a connection chooses for itself, beside its context: its own
 * certificate and key (from a certificate, client hello or servername
 * callback), and the Promise a suspended handshake waits for. The base of
 * {@link Connection}; not constructed directly.
 *
 * @example The synchronous face awaits a suspended handshake
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD, WantX509LookupError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.setCertCallback(async (conn) => {
 *   await new Promise((r) => setTimeout(r, 5));
 *   conn.useCertificate(leaf.cert);
 *   conn.usePrivateKey(leaf.key);
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
 * for (let round = 0; round < 10 && !server.isHandshakeDone(); round++) {
 *   client.tryHandshake();
 *   pump(client, server);
 *   try {
 *     server.tryHandshake();
 *   } catch (e) {
 *     if (!(e instanceof WantX509LookupError)) throw e;
 *     await server.pendingSelection; // then drive the handshake again
 *   }
 *   pump(server, client);
 * }
 * client.tryHandshake();
 * assert.equal(client.getPeerCertificate()?.subject.commonName, "localhost");
 * ```
 */
export abstract class ConnectionSelection extends ConnectionInfo {
  /**
   * What a handshake suspended by a callback's Promise waits for (after
   * `WantX509LookupError` or `WantClientHelloError`): it settles, never
   * rejects, once that Promise settled or the connection closed; then call
   * `doHandshake()` again, which goes on or throws the rejection. Null when
   * nothing is pending. The async face (`handshake()`) waits by itself.
   */
  get pendingSelection(): Promise<void> | null {
    return pendingWait(BigInt(Deno.UnsafePointer.value(this._handle)));
  }

  /**
   * Uses a certificate for this connection only (`SSL_use_certificate`),
   * typically from a certificate callback. PEM text may hold the chain after
   * the leaf (`SSL_add1_chain_cert`).
   *
   * @param cert The certificate: an `X509`, PEM text (leaf first) or DER bytes.
   * @throws {SSLError} When OpenSSL refuses it.
   */
  useCertificate(cert: CertificateInput): void {
    const ssl = this._handle;
    const { ssl: lib } = native();
    const chain = typeof cert === "string" ? X509.loadChain(cert) : [];
    const { cert: x509, owned } = chain.length > 0
      ? { cert: chain[0]!, owned: true }
      : certificateOf(cert);
    try {
      clearErrors();
      if (lib.SSL_use_certificate(ssl, x509._handle) !== 1) {
        throw sslErrorFromQueue("Could not use certificate");
      }
      for (const extra of chain.slice(1)) {
        if (Number(lib.SSL_ctrl(ssl, SSL_CTRL_CHAIN_CERT, long(1), extra._handle)) !== 1) {
          throw sslErrorFromQueue("Could not add a chain certificate");
        }
      }
    } finally {
      if (owned) x509.close();
      for (const extra of chain.slice(1)) extra.close();
    }
  }

  /**
   * Uses a private key for this connection only (`SSL_use_PrivateKey`),
   * after {@link useCertificate}; it must match that certificate.
   *
   * @param key The key: a `PKey`, unencrypted PEM text or DER bytes.
   * @throws {SSLError} When OpenSSL refuses it or it does not match the certificate.
   */
  usePrivateKey(key: KeyInput): void {
    const ssl = this._handle;
    const { ssl: lib } = native();
    const owned = !(key instanceof PKey);
    const pkey = key instanceof PKey
      ? key
      : typeof key === "string"
      ? PKey.fromPEM(key)
      : key instanceof Uint8Array
      ? PKey.fromDER(key)
      : null;
    if (pkey === null) throw new TypeError("Private key must be a PKey, PEM text or DER bytes");
    try {
      clearErrors();
      if (lib.SSL_use_PrivateKey(ssl, pkey._handle) !== 1) {
        throw sslErrorFromQueue("Could not use private key");
      }
      if (lib.SSL_check_private_key(ssl) !== 1) {
        throw sslErrorFromQueue("The private key does not match the certificate");
      }
    } finally {
      if (owned) pkey.close();
    }
  }
}
