/**
 * Helpers behind the DHE, ticket count, early data limit, record size and listing methods of
 * `Context` and `Connection` (what Python's `ssl` and Node's `tls` offer beside pyOpenSSL):
 * each takes the native handle its thin method passes. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { readCString, toBytes } from "../ffi/memory.ts";
import {
  SSL_CTX_set_dh_auto,
  SSL_CTX_set_max_send_fragment,
  SSL_get1_groups,
  SSL_get_peer_signature_nid,
  SSL_get_shared_group,
  SSL_get_signature_nid,
  SSL_set_max_send_fragment,
} from "../ffi/constants_parity.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { PKey } from "../crypto/pkey.ts";
import type { SignatureAlgorithm } from "./extras.ts";

type Ptr = Deno.PointerObject;

/** The smallest and largest plaintext record OpenSSL sends (`SSL3_RT_MAX_PLAIN_LENGTH`). */
const MIN_SEND_FRAGMENT = 512;
const MAX_SEND_FRAGMENT = 16384;
/** RFC 6066 max_fragment_length codes, by length in bytes. */
const FRAGMENT_CODES = new Map([[0, 0], [512, 1], [1024, 2], [2048, 3], [4096, 4]]);
/** Room for `SSL_get_shared_ciphers`: every suite OpenSSL knows, names and colons. */
const SHARED_CIPHERS_SIZE = 16384;

// ---- DHE ------------------------------------------------------------------------------------

/**
 * `SSL_CTX_set_dh_auto`.
 *
 * @param ctx The `SSL_CTX*`.
 * @param on Whether to turn it on.
 */
export function setDhAuto(ctx: Ptr, on: boolean): void {
  if (typeof on !== "boolean") throw new TypeError("on must be a boolean");
  clearErrors();
  if (SSL_CTX_set_dh_auto(ctx, on) !== 1) throw sslErrorFromQueue("Could not set DH auto");
}

/**
 * Sets DH parameters from PEM (`PEM_read_bio_Parameters` then `SSL_CTX_set0_tmp_dh_pkey`,
 * which takes the key on success only) or from a `PKey` holding DH parameters.
 *
 * @param ctx The `SSL_CTX*`.
 * @param params `-----BEGIN DH PARAMETERS-----` text or bytes, or a `PKey`.
 */
export function setTmpDh(ctx: Ptr, params: string | Uint8Array | PKey): void {
  const { crypto, ssl } = native();
  let pkey: Deno.PointerValue;
  clearErrors();
  if (params instanceof PKey) {
    pkey = params._handle;
    if (crypto.EVP_PKEY_up_ref(pkey) !== 1) throw sslErrorFromQueue("Could not reference the key");
  } else {
    if (typeof params !== "string" && !(params instanceof Uint8Array)) {
      throw new TypeError("DH parameters must be PEM text or bytes, or a PKey");
    }
    const pem = new Uint8Array(toBytes(params));
    const bio = crypto.BIO_new_mem_buf(pem, pem.length);
    if (bio === null) throw sslErrorFromQueue("Could not allocate a BIO");
    pkey = crypto.PEM_read_bio_Parameters(bio, null);
    crypto.BIO_free(bio);
    if (pkey === null) throw sslErrorFromQueue("Could not parse the DH parameters (PEM expected)");
  }
  if (crypto.EVP_PKEY_is_a(pkey, DH_NAME) !== 1 && crypto.EVP_PKEY_is_a(pkey, DHX_NAME) !== 1) {
    crypto.EVP_PKEY_free(pkey);
    throw new TypeError("The parameters are not DH parameters");
  }
  if (ssl.SSL_CTX_set0_tmp_dh_pkey(ctx, pkey) !== 1) {
    crypto.EVP_PKEY_free(pkey); // not taken on failure
    throw sslErrorFromQueue(
      "OpenSSL refused the DH parameters (too small for the security level?)",
    );
  }
}

const DH_NAME = new TextEncoder().encode("DH\0");
const DHX_NAME = new TextEncoder().encode("DHX\0");

// ---- counts and limits --------------------------------------------------------------------------

/**
 * Checks a count OpenSSL keeps in 32 bits.
 *
 * @param n The value.
 * @param what Its name in the message.
 * @returns `n`.
 */
export function uint32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`${what} must be an integer from 0 to 4294967295`);
  }
  return n;
}

/**
 * `SSL_CTX_set_num_tickets`.
 *
 * @param ctx The `SSL_CTX*`.
 * @param n Tickets a TLS 1.3 server sends after a full handshake.
 */
export function setNumTickets(ctx: Ptr, n: number): void {
  uint32(n, "The number of tickets");
  if (native().ssl.SSL_CTX_set_num_tickets(ctx, usize(n)) !== 1) {
    throw sslErrorFromQueue("Could not set the number of tickets");
  }
}

/**
 * `SSL_CTX_set_max_early_data`.
 *
 * @param ctx The `SSL_CTX*`.
 * @param n Bytes.
 */
export function setMaxEarlyData(ctx: Ptr, n: number): void {
  uint32(n, "maxEarlyData");
  const { ssl } = native();
  // What the server accepts defaults to 16 KiB: raise it with a larger advertised limit.
  const ok = ssl.SSL_CTX_set_max_early_data(ctx, n) === 1 &&
    (n <= MAX_SEND_FRAGMENT || ssl.SSL_CTX_set_recv_max_early_data(ctx, n) === 1);
  if (!ok) throw sslErrorFromQueue("Could not set the early data limit");
}

function fragment(n: number): number {
  if (!Number.isInteger(n) || n < MIN_SEND_FRAGMENT || n > MAX_SEND_FRAGMENT) {
    throw new RangeError(
      `The fragment size must be an integer from ${MIN_SEND_FRAGMENT} to ${MAX_SEND_FRAGMENT}`,
    );
  }
  return n;
}

/**
 * `SSL_CTX_set_max_send_fragment` or `SSL_set_max_send_fragment`.
 *
 * @param handle The `SSL_CTX*` or `SSL*`.
 * @param n Bytes of plaintext per record, 512 to 16384.
 * @param isContext Which kind `handle` is.
 */
export function setMaxSendFragment(handle: Ptr, n: number, isContext: boolean): void {
  const set = isContext ? SSL_CTX_set_max_send_fragment : SSL_set_max_send_fragment;
  if (set(handle, fragment(n)) !== 1) throw sslErrorFromQueue("Could not set the fragment size");
}

/**
 * `SSL_CTX_set_tlsext_max_fragment_length` or `SSL_set_tlsext_max_fragment_length`.
 *
 * @param handle The `SSL_CTX*` or `SSL*`.
 * @param length 512, 1024, 2048 or 4096 bytes, or 0 to ask for none.
 * @param isContext Which kind `handle` is.
 */
export function setMaxFragmentLength(handle: Ptr, length: number, isContext: boolean): void {
  const code = FRAGMENT_CODES.get(length);
  if (code === undefined) {
    throw new RangeError("The maximum fragment length must be 512, 1024, 2048, 4096 or 0 (none)");
  }
  const { ssl } = native();
  clearErrors();
  const ok = isContext
    ? ssl.SSL_CTX_set_tlsext_max_fragment_length(handle, code)
    : ssl.SSL_set_tlsext_max_fragment_length(handle, code);
  if (ok !== 1) throw sslErrorFromQueue("Could not set the maximum fragment length");
}

/**
 * The max_fragment_length both sides agreed on (`SSL_SESSION_get_max_fragment_length`).
 *
 * @param ssl The `SSL*`.
 * @returns Bytes, or null when none was negotiated.
 */
export function maxFragmentLength(ssl: Ptr): number | null {
  const { ssl: lib } = native();
  const session = lib.SSL_get_session(ssl);
  const code = session === null ? 0 : lib.SSL_SESSION_get_max_fragment_length(session);
  return code >= 1 && code <= 4 ? 256 << code : null;
}

// ---- listings -----------------------------------------------------------------------------------

/**
 * The names of a context's cipher suites (`SSL_CTX_get_ciphers`), TLS 1.3 suites first.
 *
 * @param ctx The `SSL_CTX*`.
 * @returns OpenSSL cipher names.
 */
export function contextCiphers(ctx: Ptr): string[] {
  const { ssl, crypto } = native();
  const stack = ssl.SSL_CTX_get_ciphers(ctx);
  const out: string[] = [];
  if (stack === null) return out;
  const n = crypto.OPENSSL_sk_num(stack);
  for (let i = 0; i < n; i++) {
    const name = readCString(ssl.SSL_CIPHER_get_name(crypto.OPENSSL_sk_value(stack, i)));
    if (name !== null) out.push(name);
  }
  return out;
}

/**
 * The TLS 1.2-and-older suites both sides offer (`SSL_get_shared_ciphers`).
 *
 * @param ssl A server's `SSL*`.
 * @returns The names, or null (a client, or before the ClientHello).
 */
export function sharedCiphers(ssl: Ptr): string[] | null {
  const buf = new Uint8Array(SHARED_CIPHERS_SIZE);
  const p = native().ssl.SSL_get_shared_ciphers(ssl, buf, buf.length);
  if (p === null) return null;
  const text = readCString(p) ?? "";
  return text === "" ? [] : text.split(":");
}

function groupName(ssl: Ptr, nid: number): string {
  const { ssl: lib, crypto } = native();
  // 3.0 reports groups as NIDs; one it has no NID for as TLSEXT_nid_unknown | id.
  return readCString(crypto.OBJ_nid2sn(nid)) ?? readCString(lib.SSL_group_to_name(ssl, nid)) ??
    `0x${(nid & 0xffff).toString(16).padStart(4, "0")}`;
}

/**
 * The groups the peer said it supports (`SSL_get1_groups`): a server sees the client's list.
 *
 * @param ssl The `SSL*`.
 * @returns Group names, in the peer's order.
 */
export function peerGroups(ssl: Ptr): string[] {
  const n = SSL_get1_groups(ssl, null);
  if (n <= 0) return [];
  const nids = new Int32Array(n);
  SSL_get1_groups(ssl, nids);
  return Array.from(nids, (nid) => groupName(ssl, nid));
}

/**
 * The groups both sides support (`SSL_get_shared_group`), on a server.
 *
 * @param ssl The `SSL*`.
 * @returns Group names, in preference order.
 */
export function sharedGroups(ssl: Ptr): string[] {
  const out: string[] = [];
  const n = SSL_get_shared_group(ssl, -1);
  for (let i = 0; i < n; i++) out.push(groupName(ssl, SSL_get_shared_group(ssl, i)));
  return out;
}

/**
 * The algorithm of the peer's (or this side's) handshake signature
 * (`SSL_get_peer_signature_type_nid` and `SSL_get_peer_signature_nid`).
 *
 * @param ssl The `SSL*`.
 * @param peer Whose signature.
 * @returns The algorithm, or null when none was made (resumption, PSK, before the handshake).
 */
export function signatureAlgorithm(ssl: Ptr, peer: boolean): SignatureAlgorithm | null {
  const { ssl: lib, crypto } = native();
  const out = new Int32Array(1);
  const typeOk = peer
    ? lib.SSL_get_peer_signature_type_nid(ssl, out)
    : lib.SSL_get_signature_type_nid(ssl, out);
  if (typeOk !== 1 || out[0] === 0) return null;
  const type = readCString(crypto.OBJ_nid2sn(out[0]!)) ?? String(out[0]);
  out[0] = 0;
  const digestOk = peer ? SSL_get_peer_signature_nid(ssl, out) : SSL_get_signature_nid(ssl, out);
  const digest = digestOk === 1 && out[0] !== 0 ? readCString(crypto.OBJ_nid2sn(out[0]!)) : null;
  return { type, digest };
}
