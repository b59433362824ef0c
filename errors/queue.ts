/**
 * OpenSSL's per-thread error queue, and the slots that carry what a JS
 * callback threw (or a verification failure it saw) out of the native call
 * that triggered it. Internal to denossl.
 *
 * Every SSL_* call runs synchronously on the JS thread, so one slot of each
 * kind is enough: {@link clearErrors} empties them before each call, the
 * callbacks fill them during it, and the call site reads them right after.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { readCString, setErrno } from "../ffi/memory.ts";
import { ERR_LIB_SYS } from "../ffi/constants.ts";
import { SSLError } from "./ssl_error.ts";
import { explain } from "./hints.ts";
import { inCallback } from "../ffi/callbacks.ts";
import type { OpenSSLErrorEntry, VerificationDetails } from "./ssl_error.ts";

/** `ERR_SYSTEM_FLAG`: the bit that marks a packed errno in an error code (`INT_MAX + 1`). */
const ERR_SYSTEM_FLAG = 0x80000000;

let callbackError: { error: unknown } | undefined;
let verifyFailure: Pick<VerificationDetails, "depth" | "certificate"> | undefined;

/**
 * Empties OpenSSL's error queue and the callback slots, and zeroes the C
 * `errno`, so that what the next SSL call leaves behind is its own; call
 * before each SSL call.
 */
export function clearErrors(): void {
  // Inside a callback, the queue and the slots belong to the OpenSSL call up the stack: a
  // certificate read in a verify callback must not erase the verification failure (or an
  // earlier callback's exception) that call reports.
  if (inCallback()) return;
  const { crypto } = native();
  // ERR_clear_error walks all 16 slots of the queue (about 150 ns through FFI, measured);
  // peeking costs a fifth of that, and the queue is empty before nearly every call.
  if (Number(crypto.ERR_peek_error()) !== 0) crypto.ERR_clear_error();
  setErrno(0);
  callbackError = undefined;
  verifyFailure = undefined;
}

/**
 * Records what a JS callback threw; the first one wins.
 *
 * @param error The thrown value.
 */
export function recordCallbackError(error: unknown): void {
  if (!callbackError) callbackError = { error };
}

/**
 * Takes what a callback threw during the current call, if anything.
 *
 * @returns The slot, emptied.
 */
export function takeCallbackError(): { error: unknown } | undefined {
  const e = callbackError;
  callbackError = undefined;
  return e;
}

/**
 * Whether a callback threw during the current call (the slot is left as it is).
 *
 * @returns True when {@link takeCallbackError} would return something.
 */
export function callbackErrorPending(): boolean {
  return callbackError !== undefined;
}

/** Throws what a callback threw during the current call, if anything. */
export function throwCallbackError(): void {
  if (callbackError) {
    const { error } = callbackError;
    callbackError = undefined;
    native().crypto.ERR_clear_error();
    throw error;
  }
}

/**
 * Records the first certificate that failed verification in this call.
 *
 * @param failure Its depth and certificate.
 */
export function recordVerifyFailure(
  failure: Pick<VerificationDetails, "depth" | "certificate">,
): void {
  if (!verifyFailure) verifyFailure = failure;
}

/**
 * Takes the recorded verification failure, if any.
 *
 * @returns Depth and certificate, or undefined.
 */
export function takeVerifyFailure():
  | Pick<VerificationDetails, "depth" | "certificate">
  | undefined {
  const f = verifyFailure;
  verifyFailure = undefined;
  return f;
}

/**
 * Drains OpenSSL's error queue.
 *
 * @returns The entries, oldest first.
 */
export function drainErrorQueue(): OpenSSLErrorEntry[] {
  const { crypto } = native();
  const out: OpenSSLErrorEntry[] = [];
  for (let i = 0; i < 64; i++) {
    const packed = crypto.ERR_get_error();
    if (Number(packed) === 0) break;
    const code = Number(packed);
    // OpenSSL 3 packs a system error (errno) as ERR_SYSTEM_FLAG | errno: ERR_GET_LIB is then
    // ERR_LIB_SYS and ERR_GET_REASON the errno, and ERR_reason_error_string returns NULL.
    const system = code >= ERR_SYSTEM_FLAG;
    const libraryCode = system ? ERR_LIB_SYS : Math.floor(code / 0x800000) & 0xff;
    const reasonCode = system ? code - ERR_SYSTEM_FLAG : code & 0x7fffff;
    const library = readCString(crypto.ERR_lib_error_string(packed)) ?? `library ${libraryCode}`;
    const reason = readCString(crypto.ERR_reason_error_string(packed)) ??
      (system ? `system error ${reasonCode}` : `reason ${reasonCode}`);
    out.push({ code, library, reason, libraryCode, reasonCode });
  }
  if (out.length === 64) crypto.ERR_clear_error();
  return out;
}

/**
 * Builds an {@link SSLError} from the queue, for calls that report failure by
 * a return value rather than through `SSL_get_error`. The message is `what`,
 * then what probably happened and OpenSSL's reasons, each said once (OpenSSL
 * 3's decoders push the same reason for every decoder they tried).
 *
 * @param what What failed ("Could not use private key"); the whole message when the queue is empty.
 * @returns The error (to throw).
 */
export function sslErrorFromQueue(what: string): SSLError {
  const pending = takeCallbackError();
  const errors = drainErrorQueue();
  if (pending) throw pending.error;
  return new SSLError(errors, explain(errors, what));
}
