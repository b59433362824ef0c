/**
 * The native glue of DTLS: cookie callbacks, the retransmission timer, MTU,
 * SRTP, `DTLSv1_listen`, and the framing of DTLS records into datagrams.
 * `Context` and `Connection` call these helpers from thin methods; the
 * datagram transport (`dtls.ts`) uses them directly. Internal, apart from the
 * callback and SRTP types, which live in `types.ts`.
 *
 * Callbacks follow `_negotiation.ts`: one `Deno.UnsafeCallback` trampoline
 * per kind, made on first use and never closed (OpenSSL may call it for as
 * long as any `SSL_CTX` or `SSL` holds it, and a `Connection` outlives
 * `Context.close()`), never ref'd. It finds the `Connection` through
 * `ownerOf(ssl)` and the JS callback in the slots of the connection's current
 * `Context`; a Promise where OpenSSL needs the cookie or the verdict now is a
 * `TypeError`.
 * A JS exception is caught, recorded with `recordCallbackError`, OpenSSL is
 * told to fail, and the call that drove OpenSSL re-throws it.
 *
 * Framing on OpenSSL 3.0: memory BIOs keep no datagram boundaries (the
 * datagram memory BIO, `BIO_s_dgram_mem`, is 3.2+). OpenSSL writes one DTLS
 * record per `BIO_write` (a handshake message longer than the MTU becomes
 * several records, each within the MTU); the outgoing BIO therefore holds
 * whole records back to back, and the record header's length field (13-byte
 * header: type, version, epoch, sequence number, length) is enough to cut
 * them apart again ({@link splitRecords}). On the way in, OpenSSL reads
 * whatever the incoming BIO holds as one datagram: records concatenated
 * there are processed in turn, but `DTLSv1_listen` reads only the first
 * record of what it takes and a malformed record drops the rest of the
 * "datagram", so one datagram goes into the BIO per SSL call.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long, usize } from "../ffi/ctypes.ts";
import { copyBytes, cstr, readCString, toBytes } from "../ffi/memory.ts";
import { OP_NO_QUERY_MTU } from "../ffi/constants.ts";
import { WantReadError } from "../errors/ssl_error.ts";
import {
  clearErrors,
  recordCallbackError,
  sslErrorFromQueue,
  throwCallbackError,
} from "../errors/queue.ts";
import { counted, describe, ownerOf, refuseThenable, requireFunction } from "../ffi/callbacks.ts";
import { exportKeyingMaterial } from "./_keys.ts";
import type { Connection } from "./connection.ts";
import type { ContextBase } from "./context_base.ts";
import type { CookieGenerateCallback, CookieVerifyCallback, SrtpKeyingMaterial } from "./types.ts";

export type { CookieGenerateCallback, CookieVerifyCallback, SrtpKeyingMaterial };

type Ptr = Deno.PointerObject;

// ---- constants and macros (ssl.h, dtls1.h) ---------------------------------------------------

/** `DTLS1_COOKIE_LENGTH`: the longest cookie a HelloVerifyRequest can carry. */
export const DTLS1_COOKIE_LENGTH = 255;
/** `DTLS1_RT_HEADER_LENGTH`: the size of a DTLS record header. */
export const DTLS1_RT_HEADER_LENGTH = 13;
/** `DTLS_CTRL_GET_TIMEOUT` (`DTLSv1_get_timeout`). */
const DTLS_CTRL_GET_TIMEOUT = 73;
/** `DTLS_CTRL_HANDLE_TIMEOUT` (`DTLSv1_handle_timeout`). */
const DTLS_CTRL_HANDLE_TIMEOUT = 74;
/** `DTLS_CTRL_SET_LINK_MTU` (`DTLS_set_link_mtu`). */
const DTLS_CTRL_SET_LINK_MTU = 120;
/** `DTLS_CTRL_GET_LINK_MIN_MTU` (`DTLS_get_link_min_mtu`). */
const DTLS_CTRL_GET_LINK_MIN_MTU = 121;
/** The largest UDP payload (IPv4: 65535 − 20 − 8). */
export const MAX_DATAGRAM = 65507;
/** The RFC 5764 exporter label of DTLS-SRTP keys. */
export const SRTP_EXPORTER_LABEL = "EXTRACTOR-dtls_srtp";

/**
 * Throws a `TypeError` unless the connection is a DTLS one.
 *
 * @param ssl The `SSL*`.
 * @param what The method, for the message.
 */
export function requireDtls(ssl: Ptr, what: string): void {
  if (native().ssl.SSL_is_dtls(ssl) !== 1) {
    throw new TypeError(
      `${what} is for DTLS connections: make the Context with DTLS_METHOD, DTLS_CLIENT_METHOD or DTLS_SERVER_METHOD`,
    );
  }
}

/** `struct timeval` as `DTLSv1_get_timeout` fills it (16 bytes covers every platform). */
const timeval = new Uint8Array(16);
const timevalView = new DataView(timeval.buffer);

/**
 * `DTLSv1_get_timeout(ssl, &tv)`: the time left on the retransmission timer.
 *
 * @param ssl The `SSL*` of a DTLS connection.
 * @returns Milliseconds (0 when the timer expired), or null when no timer runs.
 */
export function getTimeout(ssl: Ptr): number | null {
  timeval.fill(0);
  const running = Number(
    native().ssl.SSL_ctrl(ssl, DTLS_CTRL_GET_TIMEOUT, long(0), Deno.UnsafePointer.of(timeval)),
  );
  if (running !== 1) return null;
  // struct timeval: { long tv_sec; long tv_usec } on Linux (64-bit longs), { long; int }
  // on macOS, { long; long } with 32-bit longs on Windows.
  const os = Deno.build.os;
  const sec = os === "windows"
    ? timevalView.getInt32(0, true)
    : Number(timevalView.getBigInt64(0, true));
  const usec = os === "windows"
    ? timevalView.getInt32(4, true)
    : os === "darwin"
    ? timevalView.getInt32(8, true)
    : Number(timevalView.getBigInt64(8, true));
  return Math.max(0, sec * 1000 + usec / 1000);
}

/**
 * `DTLSv1_handle_timeout(ssl)`: retransmits the last flight when the timer expired.
 *
 * @param ssl The `SSL*` of a DTLS connection.
 * @returns True when it retransmitted, false when the timer had not expired.
 * @throws {SSLError} When OpenSSL gives up (too many retransmissions) or fails.
 */
export function handleTimeout(ssl: Ptr): boolean {
  clearErrors();
  const ret = Number(native().ssl.SSL_ctrl(ssl, DTLS_CTRL_HANDLE_TIMEOUT, long(0), null));
  throwCallbackError();
  if (ret < 0) throw sslErrorFromQueue("DTLS retransmission failed");
  return ret > 0;
}

/**
 * The smallest link MTU OpenSSL accepts (`DTLS_get_link_min_mtu`).
 *
 * @param ssl The `SSL*`.
 * @returns Bytes.
 */
export function linkMinMtu(ssl: Ptr): number {
  return Number(native().ssl.SSL_ctrl(ssl, DTLS_CTRL_GET_LINK_MIN_MTU, long(0), null));
}

/**
 * `DTLS_set_link_mtu` plus `SSL_OP_NO_QUERY_MTU`: OpenSSL otherwise asks the
 * BIO for the path MTU, and a memory BIO knows none (it would fall back to
 * 256 bytes, and again after two retransmissions).
 *
 * @param ssl The `SSL*` of a DTLS connection.
 * @param mtu The largest datagram (UDP payload) in bytes.
 * @throws {RangeError} When below OpenSSL's minimum or above 65507.
 */
export function setLinkMtu(ssl: Ptr, mtu: number): void {
  const min = linkMinMtu(ssl);
  if (!Number.isInteger(mtu) || mtu < min || mtu > MAX_DATAGRAM) {
    throw new RangeError(`mtu must be an integer from ${min} to ${MAX_DATAGRAM}: got ${mtu}`);
  }
  const lib = native().ssl;
  lib.SSL_set_options(ssl, BigInt(OP_NO_QUERY_MTU));
  if (Number(lib.SSL_ctrl(ssl, DTLS_CTRL_SET_LINK_MTU, long(mtu), null)) !== 1) {
    throw new RangeError(`OpenSSL refused the MTU ${mtu}`);
  }
}

/**
 * `DTLS_get_data_mtu`: the most plaintext one record can carry within the MTU.
 *
 * @param ssl The `SSL*` of a DTLS connection.
 * @returns Bytes, or 0 before the handshake chose a cipher.
 */
export function dataMtu(ssl: Ptr): number {
  return Number(native().ssl.DTLS_get_data_mtu(ssl));
}

// ---- cookies ---------------------------------------------------------------------------------

/**
 * Checks a cookie's type and length.
 *
 * @param value What the callback returned.
 * @returns The cookie bytes.
 * @throws {TypeError} When not bytes or a string.
 * @throws {RangeError} When empty or longer than 255 bytes.
 */
export function cookieBytes(value: unknown): Uint8Array {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new TypeError("The cookie generate callback must return a Uint8Array or a string");
  }
  const bytes = toBytes(value);
  if (bytes.length === 0 || bytes.length > DTLS1_COOKIE_LENGTH) {
    throw new RangeError(
      `The cookie generate callback returned ${bytes.length} bytes: a DTLS cookie is 1 to ${DTLS1_COOKIE_LENGTH} bytes (DTLS1_COOKIE_LENGTH)`,
    );
  }
  return bytes;
}

interface Owner {
  getContext(): ContextBase;
}

/** `int (*app_gen_cookie_cb)(SSL *ssl, unsigned char *cookie, unsigned int *cookie_len)`. */
const GENERATE_CB = { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const;
/** `int (*app_verify_cookie_cb)(SSL *ssl, const unsigned char *cookie, unsigned int cookie_len)`. */
const VERIFY_CB = { parameters: ["pointer", "pointer", "u32"], result: "i32" } as const;
let generateTrampoline: Deno.UnsafeCallback<typeof GENERATE_CB> | undefined;
let verifyTrampoline: Deno.UnsafeCallback<typeof VERIFY_CB> | undefined;

function generate(
  ssl: Deno.PointerValue,
  cookie: Deno.PointerValue,
  length: Deno.PointerValue,
): number {
  try {
    const conn = ownerOf<Owner>(ssl);
    const callback = conn?.getContext()._callbacks.cookieGenerate;
    if (!conn || !callback || cookie === null || length === null) return 0;
    const value = callback(conn as unknown as Connection);
    refuseThenable(value, "cookie generate", "return the cookie's bytes");
    const bytes = cookieBytes(value);
    // OpenSSL's buffer is DTLS1_COOKIE_LENGTH bytes: cookieBytes checked the length.
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(cookie, bytes.length)).set(bytes);
    new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(length, 4))[0] = bytes.length;
    return 1;
  } catch (e) {
    recordCallbackError(e);
    return 0;
  }
}

function verify(ssl: Deno.PointerValue, cookie: Deno.PointerValue, length: number): number {
  try {
    const conn = ownerOf<Owner>(ssl);
    const callback = conn?.getContext()._callbacks.cookieVerify;
    if (!conn || !callback) return 0;
    const bytes = cookie === null ? new Uint8Array(0) : copyBytes(cookie, length);
    const ok: unknown = callback(conn as unknown as Connection, bytes);
    refuseThenable(ok, "cookie verify", "return true or false");
    if (typeof ok !== "boolean") {
      throw new TypeError(
        `The cookie verify callback returned ${describe(ok)}: it must return a boolean`,
      );
    }
    return ok ? 1 : 0;
  } catch (e) {
    recordCallbackError(e);
    return 0;
  }
}

/**
 * Installs the cookie generate callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setCookieGenerateCallback(
  owner: ContextBase,
  ctx: Ptr,
  callback: CookieGenerateCallback,
): void {
  requireFunction(callback);
  generateTrampoline ??= new Deno.UnsafeCallback(GENERATE_CB, counted(generate));
  owner._callbacks.cookieGenerate = callback;
  native().ssl.SSL_CTX_set_cookie_generate_cb(ctx, generateTrampoline.pointer);
}

/**
 * Installs the cookie verify callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setCookieVerifyCallback(
  owner: ContextBase,
  ctx: Ptr,
  callback: CookieVerifyCallback,
): void {
  requireFunction(callback);
  verifyTrampoline ??= new Deno.UnsafeCallback(VERIFY_CB, counted(verify));
  owner._callbacks.cookieVerify = callback;
  native().ssl.SSL_CTX_set_cookie_verify_cb(ctx, verifyTrampoline.pointer);
}

/**
 * Whether a context has both cookie callbacks.
 *
 * @param ctx The context.
 * @returns True when both are set.
 */
export function hasCookieCallbacks(ctx: ContextBase): boolean {
  const h = ctx._callbacks;
  return !!h.cookieGenerate && !!h.cookieVerify;
}

/**
 * `DTLSv1_listen`: answers a ClientHello without a valid cookie with a
 * HelloVerifyRequest and keeps no state; returns once a ClientHello carries
 * a cookie the verify callback accepts, the connection then ready to go on
 * with the handshake.
 *
 * @param ssl The `SSL*` of a DTLS server connection over memory BIOs.
 * @throws {WantReadError} When no ClientHello with a valid cookie arrived yet.
 * @throws {SSLError} On a fatal error (for example no cookie callback); what a callback threw, as thrown.
 */
export function listen(ssl: Ptr): void {
  const { ssl: lib, crypto } = native();
  const peer = crypto.BIO_ADDR_new(); // DTLSv1_listen clears it when the BIO has no address
  if (peer === null) throw new Error("Out of memory: BIO_ADDR_new failed");
  let ret: number;
  try {
    clearErrors();
    ret = lib.DTLSv1_listen(ssl, peer);
  } finally {
    crypto.BIO_ADDR_free(peer);
  }
  throwCallbackError();
  if (ret > 0) return;
  if (ret === 0) {
    // Non-fatal: a HelloVerifyRequest was written, or an invalid datagram was dropped.
    crypto.ERR_clear_error();
    throw new WantReadError("No ClientHello with a valid cookie yet (want read)");
  }
  throw sslErrorFromQueue("DTLSv1_listen failed");
}

// ---- retransmission timer ----------------------------------------------------------------------

/** OpenSSL's default initial retransmission timeout (RFC 6347 §4.2.4.1): 1 s. */
const DEFAULT_TIMEOUT_US = 1_000_000;
/** OpenSSL's ceiling on the doubled timeout: 60 s. */
const MAX_TIMEOUT_US = 60_000_000;

/** `unsigned int (*DTLS_timer_cb)(SSL *s, unsigned int timer_us)`. */
const TIMER_CB = { parameters: ["pointer", "u32"], result: "u32" } as const;
let timerTrampoline: Deno.UnsafeCallback<typeof TIMER_CB> | undefined;

interface TimerState {
  /** The first timeout, in microseconds. */
  initialUs: number;
  /** How many times the timer expired (each expiry retransmits the flight). */
  expiries: number;
}

const timers = new WeakMap<object, TimerState>();

/**
 * OpenSSL calls it with 0 when a flight starts its timer (return the first
 * timeout), and with the current timeout when the timer expired, just before
 * it retransmits (return the next one): whether the application called
 * `DTLSv1_handle_timeout` or a read found the timer expired.
 */
function timer(ssl: Deno.PointerValue, previous: number): number {
  try {
    const owner = ownerOf<object>(ssl);
    const state = owner ? timers.get(owner) : undefined;
    if (previous === 0) return state?.initialUs ?? DEFAULT_TIMEOUT_US;
    if (state) state.expiries++;
    return Math.min(previous * 2, MAX_TIMEOUT_US);
  } catch {
    return DEFAULT_TIMEOUT_US; // never throw into C
  }
}

/**
 * Times a connection's retransmissions (`DTLS_set_timer_cb`): the first
 * timeout, then doubling up to 60 s, as OpenSSL's own timer does; and counts
 * the expiries.
 *
 * @param owner The connection.
 * @param ssl Its `SSL*`.
 * @param ms The first timeout in milliseconds (1 to 60000).
 * @throws {RangeError} When out of range.
 */
export function setInitialTimeout(owner: object, ssl: Ptr, ms = 1000): void {
  if (typeof ms !== "number" || !(ms >= 1 && ms <= 60_000)) {
    throw new RangeError(`The initial retransmission timeout must be 1 to 60000 ms: got ${ms}`);
  }
  timerTrampoline ??= new Deno.UnsafeCallback(TIMER_CB, counted(timer));
  const state = timers.get(owner);
  if (state) state.initialUs = Math.round(ms * 1000);
  else timers.set(owner, { initialUs: Math.round(ms * 1000), expiries: 0 });
  native().ssl.DTLS_set_timer_cb(ssl, timerTrampoline.pointer);
}

/**
 * How many times a connection's retransmission timer expired, for
 * connections timed by {@link setInitialTimeout}.
 *
 * @param owner The connection.
 * @returns The count.
 */
export function timerExpiries(owner: object): number {
  return timers.get(owner)?.expiries ?? 0;
}

// ---- SRTP (RFC 5764) ---------------------------------------------------------------------------

/** Key and salt lengths of the SRTP protection profiles OpenSSL knows (RFC 5764, 7714, 8269, 8723). */
const SRTP_PROFILES: Record<string, { keyLength: number; saltLength: number }> = {
  SRTP_AES128_CM_SHA1_80: { keyLength: 16, saltLength: 14 },
  SRTP_AES128_CM_SHA1_32: { keyLength: 16, saltLength: 14 },
  SRTP_AEAD_AES_128_GCM: { keyLength: 16, saltLength: 12 },
  SRTP_AEAD_AES_256_GCM: { keyLength: 32, saltLength: 12 },
  SRTP_DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM: { keyLength: 32, saltLength: 24 },
  SRTP_DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM: { keyLength: 64, saltLength: 24 },
  SRTP_ARIA_128_CTR_HMAC_SHA1_80: { keyLength: 16, saltLength: 14 },
  SRTP_ARIA_128_CTR_HMAC_SHA1_32: { keyLength: 16, saltLength: 14 },
  SRTP_ARIA_256_CTR_HMAC_SHA1_80: { keyLength: 32, saltLength: 14 },
  SRTP_ARIA_256_CTR_HMAC_SHA1_32: { keyLength: 32, saltLength: 14 },
  SRTP_AEAD_ARIA_128_GCM: { keyLength: 16, saltLength: 12 },
  SRTP_AEAD_ARIA_256_GCM: { keyLength: 32, saltLength: 12 },
};

/**
 * Encodes a profile list as OpenSSL wants it (colon-separated names).
 *
 * @param profiles Names, as an array or a colon-separated string.
 * @returns The NUL-terminated list.
 * @throws {TypeError} When empty or not strings.
 */
function srtpList(profiles: string | readonly string[]): Uint8Array<ArrayBuffer> {
  const names = typeof profiles === "string" ? profiles.split(":") : profiles;
  if (!Array.isArray(names) && typeof profiles !== "string") {
    throw new TypeError("SRTP profiles must be a string or an array of strings");
  }
  if (names.length === 0 || names.some((n) => typeof n !== "string" || n.length === 0)) {
    throw new TypeError("SRTP profiles must be a non-empty list of profile names");
  }
  return cstr(names.join(":"), "SRTP profiles");
}

/**
 * `SSL_CTX_set_tlsext_use_srtp` (0 means success there).
 *
 * @param ctx The `SSL_CTX*`.
 * @param profiles The profiles, most preferred first.
 * @throws {SSLError} When OpenSSL knows none of the names or one of them.
 */
export function setContextSrtp(ctx: Ptr, profiles: string | readonly string[]): void {
  const list = srtpList(profiles);
  clearErrors();
  if (native().ssl.SSL_CTX_set_tlsext_use_srtp(ctx, list) !== 0) {
    throw sslErrorFromQueue(`Could not set the SRTP profiles "${utf8List(list)}"`);
  }
}

/**
 * `SSL_set_tlsext_use_srtp` (0 means success there).
 *
 * @param ssl The `SSL*`.
 * @param profiles The profiles, most preferred first.
 * @throws {SSLError} When OpenSSL knows none of the names or one of them.
 */
export function setConnectionSrtp(ssl: Ptr, profiles: string | readonly string[]): void {
  const list = srtpList(profiles);
  clearErrors();
  if (native().ssl.SSL_set_tlsext_use_srtp(ssl, list) !== 0) {
    throw sslErrorFromQueue(`Could not set the SRTP profiles "${utf8List(list)}"`);
  }
}

function utf8List(list: Uint8Array): string {
  return new TextDecoder().decode(list.subarray(0, list.length - 1));
}

/**
 * `SSL_get_selected_srtp_profile`: the profile both sides agreed on.
 *
 * @param ssl The `SSL*`.
 * @returns Its name, or null when none was negotiated.
 */
export function selectedSrtpProfile(ssl: Ptr): string | null {
  const profile = native().ssl.SSL_get_selected_srtp_profile(ssl);
  if (profile === null) return null;
  // typedef struct { const char *name; unsigned long id; } SRTP_PROTECTION_PROFILE;
  return readCString(new Deno.UnsafePointerView(profile).getPointer(0));
}

/**
 * The SRTP keying material of the negotiated profile (RFC 5764 §4.2).
 *
 * @param ssl The `SSL*`, its handshake done.
 * @returns The keys and salts, or null when no profile was negotiated.
 * @throws {RangeError} When denossl does not know the profile's key and salt lengths.
 */
export function srtpKeyingMaterial(ssl: Ptr): SrtpKeyingMaterial | null {
  const profile = selectedSrtpProfile(ssl);
  if (profile === null) return null;
  const lengths = SRTP_PROFILES[profile];
  if (!lengths) throw new RangeError(`Unknown key and salt lengths for SRTP profile ${profile}`);
  const { keyLength: k, saltLength: s } = lengths;
  const material = exportKeyingMaterial(ssl, SRTP_EXPORTER_LABEL, 2 * (k + s));
  return {
    profile,
    clientWriteKey: material.slice(0, k),
    serverWriteKey: material.slice(k, 2 * k),
    clientWriteSalt: material.slice(2 * k, 2 * k + s),
    serverWriteSalt: material.slice(2 * k + s, 2 * (k + s)),
    material,
  };
}

// ---- framing ------------------------------------------------------------------------------------

/**
 * Cuts DTLS ciphertext into its records, by the length field of each 13-byte
 * header. Bytes after the last whole record (never written by OpenSSL) come
 * out as one more chunk rather than being lost.
 *
 * @param bytes Records back to back, as a memory BIO holds them.
 * @returns The records (views into `bytes`).
 */
export function splitRecords(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + DTLS1_RT_HEADER_LENGTH > bytes.length) break;
    const length = (bytes[offset + 11]! << 8) | bytes[offset + 12]!;
    const end = offset + DTLS1_RT_HEADER_LENGTH + length;
    if (end > bytes.length) break;
    out.push(bytes.subarray(offset, end));
    offset = end;
  }
  if (offset < bytes.length) out.push(bytes.subarray(offset));
  return out;
}

/**
 * Packs records into datagrams: consecutive records share a datagram while
 * it stays within `mtu` (RFC 6347 §4.1.1 allows several records per
 * datagram); a record is never split, and one larger than `mtu` travels alone.
 *
 * @param records The records, in order.
 * @param mtu The largest datagram, or 0 for one record per datagram.
 * @returns The datagrams.
 */
export function packDatagrams(records: readonly Uint8Array[], mtu: number): Uint8Array[] {
  if (mtu <= 0) return records.map((r) => r);
  const out: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  const close = (): void => {
    if (batch.length === 1) out.push(batch[0]!);
    else if (batch.length > 1) {
      const d = new Uint8Array(size);
      let o = 0;
      for (const r of batch) {
        d.set(r, o);
        o += r.length;
      }
      out.push(d);
    }
    batch = [];
    size = 0;
  };
  for (const r of records) {
    if (size + r.length > mtu) close();
    batch.push(r);
    size += r.length;
  }
  close();
  return out;
}

/**
 * How many ciphertext bytes wait in the connection's incoming memory BIO.
 *
 * @param ssl The `SSL*`.
 * @returns The count.
 */
export function incomingPending(ssl: Ptr): number {
  const { ssl: lib, crypto } = native();
  return Number(crypto.BIO_ctrl_pending(lib.SSL_get_rbio(ssl)));
}

/**
 * Takes every ciphertext byte waiting in the connection's outgoing memory BIO.
 *
 * @param ssl The `SSL*`.
 * @returns The bytes (empty when none).
 */
export function takeOutgoing(ssl: Ptr): Uint8Array<ArrayBuffer> {
  const { ssl: lib, crypto } = native();
  const wbio = lib.SSL_get_wbio(ssl);
  const pending = Number(crypto.BIO_ctrl_pending(wbio));
  if (pending === 0) return new Uint8Array(0);
  const out = new Uint8Array(pending);
  const n = crypto.BIO_read(wbio, out, pending);
  return n === pending ? out : out.subarray(0, Math.max(0, n));
}

/**
 * Hands one datagram to the connection's incoming memory BIO.
 *
 * @param ssl The `SSL*`.
 * @param datagram The datagram.
 */
export function putIncoming(ssl: Ptr, datagram: Uint8Array): void {
  if (datagram.length === 0) return;
  const { ssl: lib, crypto } = native();
  clearErrors();
  if (crypto.BIO_write(lib.SSL_get_rbio(ssl), datagram, datagram.length) !== datagram.length) {
    throw sslErrorFromQueue("BIO_write failed");
  }
}

// ---- HMAC (the default cookie of listenDtls) ----------------------------------------------------

/**
 * HMAC-SHA256 through libcrypto's one-shot `HMAC`.
 *
 * @param key The key.
 * @param data The message.
 * @returns 32 bytes.
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const { crypto } = native();
  const out = new Uint8Array(32);
  const length = new Uint32Array(1);
  clearErrors();
  const ok = crypto.HMAC(
    crypto.EVP_sha256(),
    key,
    key.length,
    data,
    usize(data.length),
    out,
    length,
  );
  if (ok === null || length[0] !== 32) throw sslErrorFromQueue("HMAC failed");
  return out;
}
