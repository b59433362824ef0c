/**
 * OpenSSL's ticket key callback (`SSL_CTX_set_tlsext_ticket_key_evp_cb`)
 * over a `TicketKeyRing`: AES-256-CBC and HMAC-SHA256 set up from the ring's
 * keys, one trampoline per ring. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { counted } from "../ffi/callbacks.ts";
import { copyBytes } from "../ffi/memory.ts";
import { recordCallbackError } from "../errors/queue.ts";
import { type TicketKey, TicketKeyRing } from "./ticket_keys.ts";

/** `int (*)(SSL *, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *, EVP_MAC_CTX *, int enc)`. */
const TICKET_CB = {
  parameters: ["pointer", "pointer", "pointer", "pointer", "pointer", "i32"],
  result: "i32",
} as const;

/** `TLSEXT_KEYNAME_LENGTH`. */
const NAME_LENGTH = 16;
/** The IV of AES-256-CBC. */
const IV_LENGTH = 16;
/** `sizeof(OSSL_PARAM)` on 64-bit: key, data_type (padded), data, data_size, return_size. */
const PARAM_SIZE = 40;
/** `OSSL_PARAM_UTF8_STRING`. */
const OSSL_PARAM_UTF8_STRING = 4;
/** `OSSL_PARAM_OCTET_STRING`. */
const OSSL_PARAM_OCTET_STRING = 5;
/** `OSSL_PARAM_UNMODIFIED`, `(size_t)-1`. */
const OSSL_PARAM_UNMODIFIED = 0xffff_ffff_ffff_ffffn;

/** Callback answers (ssl.h): a key was set up, the same but issue a fresh ticket, no such key. */
const TICKET_OK = 1;
const TICKET_OK_RENEW = 2;
const TICKET_NO_KEY = 0;
const TICKET_ERROR = -1;

/** Bytes OpenSSL reads through pointers: off-heap (an explicit ArrayBuffer), so they never move. */
function fixed(bytes: Uint8Array | string): Uint8Array<ArrayBuffer> {
  const src = typeof bytes === "string" ? new TextEncoder().encode(bytes + "\0") : bytes;
  const out = new Uint8Array(new ArrayBuffer(src.length));
  out.set(src);
  return out;
}

function addressOf(bytes: Uint8Array): bigint {
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes));
}

/** The OSSL_PARAM array `{ key: <hmac secret>, digest: "SHA256" }`, rebuilt in place per call. */
class HmacParams {
  readonly #names = [fixed("key"), fixed("digest"), fixed("SHA256")];
  readonly #secret = new Uint8Array(new ArrayBuffer(32));
  readonly bytes = new Uint8Array(new ArrayBuffer(PARAM_SIZE * 3));

  constructor() {
    const [key, digest, sha] = this.#names as [Uint8Array, Uint8Array, Uint8Array];
    const v = new DataView(this.bytes.buffer);
    v.setBigUint64(0, addressOf(key), true);
    v.setUint32(8, OSSL_PARAM_OCTET_STRING, true);
    v.setBigUint64(16, addressOf(this.#secret), true);
    v.setBigUint64(24, BigInt(this.#secret.length), true);
    v.setBigUint64(32, OSSL_PARAM_UNMODIFIED, true);
    v.setBigUint64(PARAM_SIZE, addressOf(digest), true);
    v.setUint32(PARAM_SIZE + 8, OSSL_PARAM_UTF8_STRING, true);
    v.setBigUint64(PARAM_SIZE + 16, addressOf(sha), true);
    v.setBigUint64(PARAM_SIZE + 24, BigInt(sha.length - 1), true);
    v.setBigUint64(PARAM_SIZE + 32, OSSL_PARAM_UNMODIFIED, true);
    // The third entry stays zero: OSSL_PARAM_END.
  }

  /** Sets the HMAC key and digest on OpenSSL's MAC context. */
  apply(hctx: Deno.PointerObject, key: TicketKey): boolean {
    this.#secret.set(key.hmacKey);
    try {
      return native().crypto.EVP_MAC_CTX_set_params(hctx, this.bytes) === 1;
    } finally {
      this.#secret.fill(0);
    }
  }
}

let params: HmacParams | undefined;

function view(ptr: Deno.PointerObject, length: number): Uint8Array {
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, length));
}

/**
 * The callback body: 1 (or 2 for an older key) with the cipher and MAC set
 * up, 0 when the ring has no key for the ticket (a full handshake), -1 on
 * any failure, the exception recorded: a ticket is never accepted on error.
 */
function answer(
  ring: TicketKeyRing,
  keyName: Deno.PointerValue,
  iv: Deno.PointerValue,
  cctx: Deno.PointerValue,
  hctx: Deno.PointerValue,
  enc: number,
): number {
  try {
    if (keyName === null || iv === null || cctx === null || hctx === null) return TICKET_ERROR;
    const { crypto: lib } = native();
    params ??= new HmacParams();
    if (enc === 1) {
      const key = ring.current();
      if (key === null) return TICKET_NO_KEY; // an empty ring issues no ticket
      const ivBytes = fixed(crypto.getRandomValues(new Uint8Array(IV_LENGTH)));
      view(keyName, NAME_LENGTH).set(key.name);
      view(iv, IV_LENGTH).set(ivBytes);
      if (!params.apply(hctx, key)) return TICKET_ERROR;
      const aes = fixed(key.aesKey);
      const ok = lib.EVP_EncryptInit_ex(cctx, lib.EVP_aes_256_cbc(), null, aes, ivBytes) === 1;
      aes.fill(0);
      return ok ? TICKET_OK : TICKET_ERROR;
    }
    const found = ring.find(copyBytes(keyName, NAME_LENGTH));
    if (found === null) return TICKET_NO_KEY;
    if (!params.apply(hctx, found.key)) return TICKET_ERROR;
    const aes = fixed(found.key.aesKey);
    const ivBytes = fixed(copyBytes(iv, IV_LENGTH));
    const ok = lib.EVP_DecryptInit_ex(cctx, lib.EVP_aes_256_cbc(), null, aes, ivBytes) === 1;
    aes.fill(0);
    if (!ok) return TICKET_ERROR;
    return found.current ? TICKET_OK : TICKET_OK_RENEW;
  } catch (e) {
    recordCallbackError(e);
    return TICKET_ERROR;
  }
}

/** One trampoline per ring, alive as long as the ring (which every context using it keeps). */
const trampolines = new WeakMap<TicketKeyRing, Deno.UnsafeCallback<typeof TICKET_CB>>();
/** The ring each context uses, so the ring (and its trampoline) outlives the context's use of it. */
const installed = new WeakMap<object, TicketKeyRing>();

/**
 * Makes `ring` issue and decrypt the tickets of a context, or gives the
 * context back OpenSSL's own keys (null). Allowed while serving: it acts on
 * the next ticket issued or presented.
 *
 * @param owner The context object, which keeps the ring alive.
 * @param ctx Its `SSL_CTX*`.
 * @param ring The ring, or null.
 * @throws {TypeError} When `ring` is not a `TicketKeyRing`.
 */
export function setTicketKeyRing(
  owner: object,
  ctx: Deno.PointerObject,
  ring: TicketKeyRing | null,
): void {
  if (ring !== null && !(ring instanceof TicketKeyRing)) {
    throw new TypeError("ring must be a TicketKeyRing, or null for OpenSSL's own keys");
  }
  const { ssl } = native();
  if (ring === null) {
    ssl.SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, null);
    installed.delete(owner);
    return;
  }
  let trampoline = trampolines.get(ring);
  if (!trampoline) {
    trampoline = new Deno.UnsafeCallback(
      TICKET_CB,
      counted((_ssl, keyName, iv, cctx, hctx, enc) => answer(ring, keyName, iv, cctx, hctx, enc)),
    );
    trampolines.set(ring, trampoline);
  }
  installed.set(owner, ring);
  ssl.SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, trampoline.pointer);
}

/**
 * The ring a context uses.
 *
 * @param owner The context object.
 * @returns The ring, or null when the context uses OpenSSL's own keys.
 */
export function ticketKeyRingOf(owner: object): TicketKeyRing | null {
  return installed.get(owner) ?? null;
}
