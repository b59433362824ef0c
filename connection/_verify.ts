/**
 * The shared certificate-verification trampoline. OpenSSL calls it once per
 * certificate in the peer's chain during a handshake; it finds the connection
 * from the store context, records the first failure (for
 * `VerificationError.depth` and `.certificate`), and asks the user's
 * callback, if any. Only `true` accepts and only `false` refuses: anything
 * else, a Promise above all, is a `TypeError` that fails the handshake. A
 * throwing callback fails the handshake and its exception comes out of the
 * call that drove it. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { X509 } from "../crypto/x509.ts";
import { recordCallbackError, recordVerifyFailure, takeVerifyFailure } from "../errors/queue.ts";
import { counted, describe, ownerOf, refuseThenable } from "../ffi/callbacks.ts";
import type { VerifyCallback } from "./types.ts";

export type { VerifyCallback };

/** `X509_V_OK`. */
const X509_V_OK = 0;
/** `X509_V_ERR_APPLICATION_VERIFICATION`. */
const X509_V_ERR_APPLICATION_VERIFICATION = 50;

/** What the trampoline needs from a connection. */
export interface VerifyTarget {
  /** The callback in force for this connection, or null for OpenSSL's verdict. */
  readonly _verifyCallback: VerifyCallback<never> | null;
}

let trampoline: Deno.UnsafeCallback<{ parameters: ["i32", "pointer"]; result: "i32" }> | undefined;
let storeIndex = -1;
/**
 * Whether a user verify callback was ever installed in this process. Until
 * one is, a certificate OpenSSL accepts needs no lookup at all: the
 * trampoline returns at once, with no FFI call (two per certificate
 * otherwise, on every client handshake). Sticky: it is never reset.
 */
let userCallbacks = false;

function verify(preverifyOk: number, store: Deno.PointerValue): number {
  if (preverifyOk && !userCallbacks) return 1;
  const { ssl: lib, crypto } = native();
  try {
    if (storeIndex < 0) storeIndex = lib.SSL_get_ex_data_X509_STORE_CTX_idx();
    const ssl = crypto.X509_STORE_CTX_get_ex_data(store, storeIndex);
    const conn = ownerOf<VerifyTarget>(ssl);
    const callback = conn?._verifyCallback ?? null;
    if (preverifyOk && callback === null) return 1;
    const depth = crypto.X509_STORE_CTX_get_error_depth(store);
    const current = crypto.X509_STORE_CTX_get_current_cert(store);
    const errnum = crypto.X509_STORE_CTX_get_error(store);
    if (!preverifyOk) {
      recordVerifyFailure({ depth, certificate: current ? X509._borrow(current) : null });
    }
    if (callback === null || current === null) return preverifyOk ? 1 : 0;
    const accepted: unknown = (callback as VerifyCallback<unknown>)(
      conn,
      X509._borrow(current),
      errnum,
      depth,
      preverifyOk !== 0,
    );
    refuseThenable(accepted, "verify", "return true or false");
    if (typeof accepted !== "boolean") {
      throw new TypeError(
        `The verify callback returned ${describe(accepted)}: it must return true or false`,
      );
    }
    if (accepted) {
      crypto.X509_STORE_CTX_set_error(store, X509_V_OK);
      // Overridden: if a later certificate fails the chain, that one is the failure to report.
      if (!preverifyOk) takeVerifyFailure()?.certificate?.close();
      return 1;
    }
    if (errnum === X509_V_OK) {
      crypto.X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    }
    // A veto of a certificate OpenSSL accepted is the failure VerificationError reports.
    if (preverifyOk) recordVerifyFailure({ depth, certificate: X509._borrow(current) });
    return 0;
  } catch (e) {
    recordCallbackError(e);
    crypto.X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
}

/**
 * The verify trampoline's function pointer, created on first use.
 *
 * @param withCallback Whether a user callback comes with it (this turns the
 *   fast path for accepted certificates off, for good).
 * @returns The pointer to pass to `SSL_CTX_set_verify` / `SSL_set_verify`.
 */
export function verifyTrampoline(withCallback: boolean): Deno.PointerObject {
  if (withCallback) userCallbacks = true;
  trampoline ??= new Deno.UnsafeCallback(
    { parameters: ["i32", "pointer"], result: "i32" },
    counted(verify),
  );
  return trampoline.pointer;
}
