/**
 * The numbers and `*_ctrl` macro wrappers of the parity features (DHE, record sizes, group and
 * signature listings, early data), each wrapper named after the macro it stands for. Internal.
 *
 * @module
 */

import { native } from "./library.ts";
import { long } from "./ctypes.ts";

type Ptr = Deno.PointerObject;

/** `SSL_CTRL_SET_MAX_SEND_FRAGMENT`. */
const SSL_CTRL_SET_MAX_SEND_FRAGMENT = 52;
/** `SSL_CTRL_GET_GROUPS`. */
const SSL_CTRL_GET_GROUPS = 90;
/** `SSL_CTRL_GET_SHARED_GROUP`. */
const SSL_CTRL_GET_SHARED_GROUP = 93;
/** `SSL_CTRL_GET_PEER_SIGNATURE_NID`. */
const SSL_CTRL_GET_PEER_SIGNATURE_NID = 108;
/** `SSL_CTRL_SET_DH_AUTO`. */
const SSL_CTRL_SET_DH_AUTO = 118;
/** `SSL_CTRL_GET_SIGNATURE_NID`. */
const SSL_CTRL_GET_SIGNATURE_NID = 132;

/** `SSL_READ_EARLY_DATA_ERROR`: see `SSL_get_error`. */
export const SSL_READ_EARLY_DATA_ERROR = 0;
/** `SSL_READ_EARLY_DATA_SUCCESS`: bytes were read. */
export const SSL_READ_EARLY_DATA_SUCCESS = 1;
/** `SSL_READ_EARLY_DATA_FINISH`: no more early data. */
export const SSL_READ_EARLY_DATA_FINISH = 2;
/** `SSL_EARLY_DATA_NOT_SENT`. */
export const SSL_EARLY_DATA_NOT_SENT = 0;
/** `SSL_EARLY_DATA_REJECTED`. */
export const SSL_EARLY_DATA_REJECTED = 1;
/** `SSL_EARLY_DATA_ACCEPTED`. */
export const SSL_EARLY_DATA_ACCEPTED = 2;

/** `NID_md5`. */
export const NID_md5 = 4;
/** `NID_sha1`. */
export const NID_sha1 = 64;
/** `NID_undef`. */
export const NID_undef = 0;

/**
 * `SSL_CTX_set_dh_auto(ctx, onoff)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param on Whether OpenSSL picks DH parameters matching the certificate's strength.
 * @returns 1 on success.
 */
export function SSL_CTX_set_dh_auto(ctx: Ptr, on: boolean): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_DH_AUTO, long(on ? 1 : 0), null));
}

/**
 * `SSL_CTX_set_max_send_fragment(ctx, m)`.
 *
 * @param ctx The `SSL_CTX`.
 * @param m Bytes, 512 to 16384.
 * @returns 1 on success.
 */
export function SSL_CTX_set_max_send_fragment(ctx: Ptr, m: number): number {
  return Number(native().ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_SEND_FRAGMENT, long(m), null));
}

/**
 * `SSL_set_max_send_fragment(ssl, m)`.
 *
 * @param ssl The `SSL`.
 * @param m Bytes, 512 to 16384.
 * @returns 1 on success.
 */
export function SSL_set_max_send_fragment(ssl: Ptr, m: number): number {
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_SET_MAX_SEND_FRAGMENT, long(m), null));
}

/**
 * `SSL_get1_groups(ssl, out)`: the groups the peer supports, as NIDs.
 *
 * @param ssl The `SSL`.
 * @param out Where the NIDs go, or null to count them.
 * @returns The count.
 */
export function SSL_get1_groups(ssl: Ptr, out: Int32Array<ArrayBuffer> | null): number {
  const ptr = out === null ? null : Deno.UnsafePointer.of(out);
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_GROUPS, long(0), ptr));
}

/**
 * `SSL_get_shared_group(ssl, n)`.
 *
 * @param ssl The `SSL` (a server's).
 * @param n The index, or -1 for the count.
 * @returns The NID, or the count.
 */
export function SSL_get_shared_group(ssl: Ptr, n: number): number {
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_SHARED_GROUP, long(n), null));
}

/**
 * `SSL_get_peer_signature_nid(ssl, out)`: the digest of the peer's handshake signature.
 *
 * @param ssl The `SSL`.
 * @param out One `int`.
 * @returns 1 when known.
 */
export function SSL_get_peer_signature_nid(ssl: Ptr, out: Int32Array<ArrayBuffer>): number {
  const p = Deno.UnsafePointer.of(out);
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_PEER_SIGNATURE_NID, long(0), p));
}

/**
 * `SSL_get_signature_nid(ssl, out)`: the digest of this side's handshake signature.
 *
 * @param ssl The `SSL`.
 * @param out One `int`.
 * @returns 1 when known.
 */
export function SSL_get_signature_nid(ssl: Ptr, out: Int32Array<ArrayBuffer>): number {
  const p = Deno.UnsafePointer.of(out);
  return Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_SIGNATURE_NID, long(0), p));
}
