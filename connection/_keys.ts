/**
 * Helpers behind `Connection`'s key material, session and introspection
 * methods and `Context`'s session, ticket key and client CA methods: each
 * takes the native handle its thin method passes. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { copyBytes, cstr, readCString, toBytes } from "../ffi/memory.ts";
import {
  SSL_CTX_get_session_cache_mode,
  SSL_CTX_get_tlsext_ticket_keys,
  SSL_CTX_set_session_cache_mode,
  SSL_CTX_set_tlsext_ticket_keys,
  SSL_get_negotiated_group,
  SSL_get_tlsext_status_ocsp_resp,
  SSL_KEY_UPDATE_NOT_REQUESTED,
  SSL_KEY_UPDATE_REQUESTED,
  SSL_set_tlsext_status_type,
  SSL_total_renegotiations,
  TLSEXT_STATUSTYPE_ocsp,
} from "../ffi/constants.ts";
import { clearErrors, sslErrorFromQueue, throwCallbackError } from "../errors/queue.ts";
import { X509 } from "../crypto/x509.ts";
import { X509Name } from "../crypto/name.ts";
import { Session } from "./session.ts";
import type { CertificateInput } from "./types.ts";

type Ptr = Deno.PointerObject;

/** `SSL_MAX_SID_CTX_LENGTH`. */
const SSL_MAX_SID_CTX_LENGTH = 32;
/** The size of the ticket key blob of `SSL_CTX_set_tlsext_ticket_keys`. */
const TICKET_KEYS_LENGTH = 80;
/** `EVP_MAX_MD_SIZE`: the largest Finished message. */
const MAX_FINISHED = 64;

// ---- key material ----------------------------------------------------------------------

/**
 * `SSL_export_keying_material` (RFC 5705 / RFC 8446 §7.5).
 *
 * @param ssl The `SSL*`.
 * @param label The label.
 * @param length How many bytes.
 * @param context The context value, or undefined for none.
 * @returns The keying material.
 */
export function exportKeyingMaterial(
  ssl: Ptr,
  label: string,
  length: number,
  context?: string | Uint8Array,
): Uint8Array {
  if (typeof label !== "string") throw new TypeError("label must be a string");
  if (!Number.isInteger(length) || length <= 0) {
    throw new RangeError("length must be a positive integer");
  }
  const labelBytes = cstr(label, "label");
  const ctxBytes = context === undefined ? null : new Uint8Array(toBytes(context));
  const out = new Uint8Array(length);
  clearErrors();
  const ok = native().ssl.SSL_export_keying_material(
    ssl,
    out,
    usize(length),
    labelBytes,
    usize(labelBytes.length - 1),
    ctxBytes,
    usize(ctxBytes?.length ?? 0),
    ctxBytes === null ? 0 : 1,
  );
  if (ok !== 1) {
    throw sslErrorFromQueue("Could not export keying material (is the handshake done?)");
  }
  return out;
}

function finished(
  fn: (ssl: Ptr, buf: Uint8Array<ArrayBuffer>, count: bigint) => number | bigint,
  ssl: Ptr,
): Uint8Array | null {
  const buf = new Uint8Array(MAX_FINISHED);
  const n = Number(fn(ssl, buf, usize(buf.length)));
  return n === 0 ? null : buf.slice(0, Math.min(n, buf.length));
}

/**
 * The last Finished message this side sent (`SSL_get_finished`).
 *
 * @param ssl The `SSL*`.
 * @returns A copy, or null before any.
 */
export function getFinished(ssl: Ptr): Uint8Array | null {
  return finished(native().ssl.SSL_get_finished, ssl);
}

/**
 * The last Finished message the peer sent (`SSL_get_peer_finished`).
 *
 * @param ssl The `SSL*`.
 * @returns A copy, or null before any.
 */
export function getPeerFinished(ssl: Ptr): Uint8Array | null {
  return finished(native().ssl.SSL_get_peer_finished, ssl);
}

/**
 * `SSL_get_client_random` or `SSL_get_server_random`.
 *
 * @param ssl The `SSL*`.
 * @param which Whose random.
 * @returns The 32 bytes, or null before the hello was sent or received.
 */
export function helloRandom(ssl: Ptr, which: "client" | "server"): Uint8Array | null {
  const { ssl: lib } = native();
  const fn = which === "client" ? lib.SSL_get_client_random : lib.SSL_get_server_random;
  const out = new Uint8Array(32);
  const n = Number(fn(ssl, out, usize(out.length)));
  if (n === 0 || out.every((b) => b === 0)) return null;
  return out;
}

/**
 * The TLS 1.2 master secret of the current session.
 *
 * @param ssl The `SSL*`.
 * @returns A copy, or null without a session.
 */
export function masterKey(ssl: Ptr): Uint8Array | null {
  const { ssl: lib } = native();
  const session = lib.SSL_get_session(ssl);
  if (session === null) return null;
  const length = Number(lib.SSL_SESSION_get_master_key(session, null, usize(0)));
  if (length === 0) return null;
  const out = new Uint8Array(length);
  lib.SSL_SESSION_get_master_key(session, out, usize(length));
  return out;
}

// ---- sessions -------------------------------------------------------------------------------

/**
 * The connection's session (`SSL_get1_session`).
 *
 * @param ssl The `SSL*`.
 * @returns A new reference, or null.
 */
export function getSession(ssl: Ptr): Session | null {
  const ptr = native().ssl.SSL_get1_session(ssl);
  return ptr === null ? null : Session._wrap(ptr);
}

/**
 * Sets the session to resume (`SSL_set_session`).
 *
 * @param ssl The `SSL*`.
 * @param session The session.
 */
export function setSession(ssl: Ptr, session: Session): void {
  if (!(session instanceof Session)) throw new TypeError("session must be a Session");
  const handle = session._handle;
  clearErrors();
  if (native().ssl.SSL_set_session(ssl, handle) !== 1) {
    throw sslErrorFromQueue("Could not set the session");
  }
}

/**
 * Sets the session ID context of a context (`SSL_CTX_set_session_id_context`).
 *
 * @param ctx The `SSL_CTX*`.
 * @param value Up to 32 bytes.
 */
export function setSessionIdContext(ctx: Ptr, value: string | Uint8Array): void {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new TypeError("The session ID context must be a string or a Uint8Array");
  }
  const bytes = new Uint8Array(toBytes(value));
  if (bytes.length > SSL_MAX_SID_CTX_LENGTH) {
    throw new RangeError(`The session ID context must be at most ${SSL_MAX_SID_CTX_LENGTH} bytes`);
  }
  clearErrors();
  if (native().ssl.SSL_CTX_set_session_id_context(ctx, bytes, bytes.length) !== 1) {
    throw sslErrorFromQueue("Could not set the session ID context");
  }
}

/**
 * Sets the session cache mode (`SSL_CTX_set_session_cache_mode`).
 *
 * @param ctx The `SSL_CTX*`.
 * @param mode `SESS_CACHE_*` bits.
 * @returns The previous mode.
 */
export function setSessionCacheMode(ctx: Ptr, mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0x3ff) {
    throw new RangeError("mode must be a combination of SESS_CACHE_* flags");
  }
  return SSL_CTX_set_session_cache_mode(ctx, mode);
}

/**
 * The session cache mode (`SSL_CTX_get_session_cache_mode`).
 *
 * @param ctx The `SSL_CTX*`.
 * @returns `SESS_CACHE_*` bits.
 */
export function getSessionCacheMode(ctx: Ptr): number {
  return SSL_CTX_get_session_cache_mode(ctx);
}

/**
 * Sets the session ticket keys (`SSL_CTX_set_tlsext_ticket_keys`).
 *
 * @param ctx The `SSL_CTX*`.
 * @param keys 80 bytes.
 */
export function setTicketKeys(ctx: Ptr, keys: Uint8Array): void {
  if (!(keys instanceof Uint8Array) || keys.length !== TICKET_KEYS_LENGTH) {
    throw new RangeError(`Ticket keys must be a Uint8Array of ${TICKET_KEYS_LENGTH} bytes`);
  }
  clearErrors();
  if (SSL_CTX_set_tlsext_ticket_keys(ctx, new Uint8Array(keys)) !== 1) {
    throw sslErrorFromQueue("Could not set the ticket keys");
  }
}

/**
 * The session ticket keys (`SSL_CTX_get_tlsext_ticket_keys`).
 *
 * @param ctx The `SSL_CTX*`.
 * @returns 80 bytes.
 */
export function getTicketKeys(ctx: Ptr): Uint8Array {
  const out = new Uint8Array(TICKET_KEYS_LENGTH);
  clearErrors();
  if (SSL_CTX_get_tlsext_ticket_keys(ctx, out) !== 1) {
    throw sslErrorFromQueue("Could not read the ticket keys");
  }
  return out;
}

// ---- introspection ------------------------------------------------------------------------------

/**
 * Bits and protocol version of the current cipher.
 *
 * @param ssl The `SSL*`.
 * @returns Both, or null before a cipher is chosen.
 */
export function cipherInfo(ssl: Ptr): { bits: number; version: string } | null {
  const { ssl: lib } = native();
  const cipher = lib.SSL_get_current_cipher(ssl);
  if (cipher === null) return null;
  return {
    bits: lib.SSL_CIPHER_get_bits(cipher, null),
    version: readCString(lib.SSL_CIPHER_get_version(cipher)) ?? "",
  };
}

/**
 * The ciphers the connection would offer or accept, in preference order.
 *
 * @param ssl The `SSL*`.
 * @returns OpenSSL cipher names.
 */
export function cipherList(ssl: Ptr): string[] {
  const { ssl: lib } = native();
  const out: string[] = [];
  for (let i = 0;; i++) {
    const name = readCString(lib.SSL_get_cipher_list(ssl, i));
    if (name === null) return out;
    out.push(name);
  }
}

/**
 * The key exchange group negotiated.
 *
 * @param ssl The `SSL*`.
 * @returns Its name, such as `"X25519"`, or null.
 */
export function groupName(ssl: Ptr): string | null {
  const { ssl: lib, crypto } = native();
  if (lib.SSL_get0_group_name) return readCString(lib.SSL_get0_group_name(ssl));
  // OpenSSL 3.0 reads s->session->kex_group without a NULL check: no session, no call.
  if (lib.SSL_get_session(ssl) === null) return null;
  const nid = SSL_get_negotiated_group(ssl);
  if (nid === 0) return null;
  // On 3.0, SSL_get_negotiated_group returns a NID (or TLSEXT_nid_unknown | id).
  return readCString(crypto.OBJ_nid2sn(nid)) ?? readCString(lib.SSL_group_to_name(ssl, nid));
}

/**
 * Borrowed certificates of a stack, each wrapped with its own reference.
 *
 * @param stack The `STACK_OF(X509)*`, or null.
 * @returns The certificates, or null.
 */
export function certificatesOf(stack: Deno.PointerValue): X509[] | null {
  if (stack === null) return null;
  const { crypto } = native();
  const out: X509[] = [];
  const n = crypto.OPENSSL_sk_num(stack);
  for (let i = 0; i < n; i++) {
    const cert = crypto.OPENSSL_sk_value(stack, i);
    if (cert !== null) out.push(X509._borrow(cert));
  }
  return out;
}

/**
 * The connection's own certificate (`SSL_get_certificate`).
 *
 * @param ssl The `SSL*`.
 * @returns The certificate, or null.
 */
export function ownCertificate(ssl: Ptr): X509 | null {
  const cert = native().ssl.SSL_get_certificate(ssl);
  return cert === null ? null : X509._borrow(cert);
}

// ---- client CA lists -----------------------------------------------------------------------------

/**
 * Copies a `STACK_OF(X509_NAME)` into names.
 *
 * @param stack The stack, or null.
 * @returns The names (empty for null).
 */
export function namesOf(stack: Deno.PointerValue): X509Name[] {
  if (stack === null) return [];
  const { crypto } = native();
  const out: X509Name[] = [];
  const n = crypto.OPENSSL_sk_num(stack);
  for (let i = 0; i < n; i++) {
    const name = crypto.OPENSSL_sk_value(stack, i);
    if (name !== null) out.push(X509Name._borrow(name));
  }
  return out;
}

/**
 * Sets a context's client CA list from names (`SSL_CTX_set_client_CA_list`).
 *
 * @param ctx The `SSL_CTX*`.
 * @param names The names; copied.
 */
export function setClientCaList(ctx: Ptr, names: readonly X509Name[]): void {
  if (!Array.isArray(names) || names.some((n) => !(n instanceof X509Name))) {
    throw new TypeError("names must be an array of X509Name");
  }
  const handles = names.map((n) => n._handle);
  const { ssl, crypto } = native();
  clearErrors();
  const stack = crypto.OPENSSL_sk_new_null();
  if (stack === null) throw sslErrorFromQueue("Could not allocate a name list");
  for (const handle of handles) {
    const copy = crypto.X509_NAME_dup(handle);
    if (copy === null || crypto.OPENSSL_sk_push(stack, copy) === 0) {
      if (copy !== null) crypto.X509_NAME_free(copy);
      for (let i = crypto.OPENSSL_sk_num(stack) - 1; i >= 0; i--) {
        crypto.X509_NAME_free(crypto.OPENSSL_sk_value(stack, i));
      }
      crypto.OPENSSL_sk_free(stack);
      throw sslErrorFromQueue("Could not copy a name into the client CA list");
    }
  }
  ssl.SSL_CTX_set_client_CA_list(ctx, stack); // the context owns the stack and its names
}

/**
 * Sets a context's client CA list from the certificates of a PEM file
 * (`SSL_load_client_CA_file`).
 *
 * @param ctx The `SSL_CTX*`.
 * @param path The file.
 */
export function loadClientCa(ctx: Ptr, path: string): void {
  clearErrors();
  const stack = native().ssl.SSL_load_client_CA_file(cstr(path, "path"));
  if (stack === null) throw sslErrorFromQueue(`Could not load client CA names from ${path}`);
  native().ssl.SSL_CTX_set_client_CA_list(ctx, stack);
}

/**
 * Adds a certificate's subject to a context's client CA list (`SSL_CTX_add_client_CA`).
 *
 * @param ctx The `SSL_CTX*`.
 * @param cert The certificate.
 */
export function addClientCa(ctx: Ptr, cert: X509): void {
  clearErrors();
  if (native().ssl.SSL_CTX_add_client_CA(ctx, cert._handle) !== 1) {
    throw sslErrorFromQueue("Could not add the client CA");
  }
}

// ---- renegotiation, key update, post-handshake authentication ---------------------------------

/**
 * Starts a TLS 1.2 renegotiation (`SSL_renegotiate`).
 *
 * @param ssl The `SSL*`.
 */
export function renegotiate(ssl: Ptr): void {
  clearErrors();
  const ok = native().ssl.SSL_renegotiate(ssl);
  throwCallbackError();
  if (ok !== 1) throw sslErrorFromQueue("Could not start renegotiation");
}

/**
 * The number of renegotiations started or accepted (`SSL_total_renegotiations`).
 *
 * @param ssl The `SSL*`.
 * @returns The count.
 */
export function totalRenegotiations(ssl: Ptr): number {
  return SSL_total_renegotiations(ssl);
}

/**
 * Schedules a TLS 1.3 key update (`SSL_key_update`).
 *
 * @param ssl The `SSL*`.
 * @param requestPeer Whether the peer must update its keys too.
 */
export function keyUpdate(ssl: Ptr, requestPeer: boolean): void {
  clearErrors();
  const type = requestPeer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED;
  if (native().ssl.SSL_key_update(ssl, type) !== 1) {
    throw sslErrorFromQueue("Could not schedule a key update");
  }
}

/**
 * Asks the client for a certificate after a TLS 1.3 handshake
 * (`SSL_verify_client_post_handshake`).
 *
 * @param ssl The server's `SSL*`.
 */
export function verifyClientPostHandshake(ssl: Ptr): void {
  clearErrors();
  if (native().ssl.SSL_verify_client_post_handshake(ssl) !== 1) {
    throw sslErrorFromQueue("Could not request post-handshake authentication");
  }
}

/**
 * Asks the server for a stapled OCSP response (`SSL_set_tlsext_status_type`).
 *
 * @param ssl The client's `SSL*`.
 */
export function requestOcsp(ssl: Ptr): void {
  clearErrors();
  if (SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp) !== 1) {
    throw sslErrorFromQueue("Could not request OCSP stapling");
  }
}

/**
 * The OCSP response the server stapled, as the client received it.
 *
 * @param ssl The client's `SSL*`.
 * @returns A copy of the DER bytes, or null when none was stapled.
 */
export function ocspResponse(ssl: Ptr): Uint8Array | null {
  const out = new BigUint64Array(1);
  const length = SSL_get_tlsext_status_ocsp_resp(ssl, out);
  const ptr = Deno.UnsafePointer.create(out[0]!);
  return ptr !== null && length > 0 ? copyBytes(ptr, length) : null;
}

/**
 * Parses a certificate argument.
 *
 * @param cert Object, PEM or DER.
 * @returns The certificate and whether it was made here (and must be closed).
 */
export function certificateOf(cert: CertificateInput): { cert: X509; owned: boolean } {
  if (cert instanceof X509) return { cert, owned: false };
  if (typeof cert === "string") return { cert: X509.fromPEM(cert), owned: true };
  if (cert instanceof Uint8Array) return { cert: X509.fromDER(cert), owned: true };
  throw new TypeError("Certificate must be an X509, a PEM string or DER bytes");
}
