/**
 * The one classifier of SSL calls and the one mapper from `SSL_get_error` to
 * a thrown error, used by every call site that drives an `SSL` object, sync
 * and async, stream, native and DTLS. Internal to denossl.
 *
 * Order, as in pyOpenSSL's `_raise_ssl_error`: first what a JS callback threw
 * during the call (even when the call itself succeeded or wants to read),
 * then the call's own success, then `SSL_get_error`'s verdict: WANT_READ,
 * WANT_WRITE and ZERO_RETURN are outcomes the caller acts on, and so are
 * WANT_X509_LOOKUP and WANT_CLIENT_HELLO_CB (a callback suspended the
 * handshake: the async face awaits its Promise); WANT_RETRY_VERIFY, SYSCALL (with errno, or
 * "Unexpected EOF") and SSL (the queue drained; a verification failure
 * becomes a {@link VerificationError}; OpenSSL 3's unexpected-EOF reason a
 * {@link SysCallError} with errno -1) are thrown. An error's message says
 * what probably happened (`hints.ts`), with OpenSSL's words after it.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { errno, readCString } from "../ffi/memory.ts";
import {
  ERR_LIB_SSL,
  ERR_LIB_SYS,
  SSL_ERROR_SSL,
  SSL_ERROR_SYSCALL,
  SSL_ERROR_WANT_ACCEPT,
  SSL_ERROR_WANT_CLIENT_HELLO_CB,
  SSL_ERROR_WANT_CONNECT,
  SSL_ERROR_WANT_READ,
  SSL_ERROR_WANT_RETRY_VERIFY,
  SSL_ERROR_WANT_WRITE,
  SSL_ERROR_WANT_X509_LOOKUP,
  SSL_ERROR_ZERO_RETURN,
  SSL_R_CERTIFICATE_VERIFY_FAILED,
  SSL_R_UNEXPECTED_EOF_WHILE_READING,
} from "../ffi/constants.ts";
import {
  SSLError,
  SysCallError,
  VerificationError,
  WantClientHelloError,
  WantReadError,
  WantWriteError,
  WantX509LookupError,
  ZeroReturnError,
} from "./ssl_error.ts";
import { explain } from "./hints.ts";
import {
  callbackErrorPending,
  drainErrorQueue,
  takeCallbackError,
  takeVerifyFailure,
} from "./queue.ts";

/**
 * The text OpenSSL gives an `X509_V_ERR_*` code.
 *
 * @param code The code.
 * @returns Its text.
 */
export function verifyErrorString(code: number): string {
  return readCString(native().crypto.X509_verify_cert_error_string(long(code))) ??
    `verify error ${code}`;
}

/** The call succeeded (what a {@link classify} caller goes on with). */
export const OK = 0;
/** OpenSSL needs more ciphertext from the peer before it can go on. */
export const WANT_READ = 1;
/** OpenSSL needs its outgoing ciphertext drained before it can go on. */
export const WANT_WRITE = 2;
/** The peer closed the TLS session cleanly (close_notify). */
export const ZERO_RETURN = 3;
/** A certificate (or servername) callback suspended the handshake: await its Promise, call again. */
export const WANT_X509_LOOKUP = 4;
/** A client hello callback (or a session store's lookup) suspended the handshake. */
export const WANT_CLIENT_HELLO = 5;
/** What one SSL call came to, when it did not fail: see {@link classify}. */
export type Outcome =
  | typeof OK
  | typeof WANT_READ
  | typeof WANT_WRITE
  | typeof ZERO_RETURN
  | typeof WANT_X509_LOOKUP
  | typeof WANT_CLIENT_HELLO;

/**
 * The one classifier: what an SSL call (`SSL_do_handshake`, `SSL_read_ex`,
 * `SSL_write_ex`, `SSL_shutdown`, ...) came to. An exception a JS callback
 * threw during the call wins over everything, success and want-read
 * included; then `done` (the call's own success test); then
 * `SSL_get_error`'s verdict. Every path that drives OpenSSL, sync and
 * async, stream, native and DTLS, goes through here.
 *
 * @param ssl The `SSL*` the call was made on.
 * @param ret The call's return value.
 * @param done Whether `ret` means success for that call.
 * @returns {@link OK}, {@link WANT_READ}, {@link WANT_WRITE}, {@link ZERO_RETURN},
 *   {@link WANT_X509_LOOKUP} or {@link WANT_CLIENT_HELLO}.
 * @throws What a callback threw, as thrown; otherwise the mapped {@link SSLError}.
 */
export function classify(ssl: Deno.PointerValue, ret: number, done: boolean): Outcome {
  if (callbackErrorPending()) throw failure(ssl, ret, 0);
  if (done) return OK;
  const code = native().ssl.SSL_get_error(ssl, ret);
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return WANT_READ;
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_CONNECT:
    case SSL_ERROR_WANT_ACCEPT:
      return WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
      return ZERO_RETURN;
    case SSL_ERROR_WANT_X509_LOOKUP:
      return WANT_X509_LOOKUP;
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
      return WANT_CLIENT_HELLO;
    default:
      throw failure(ssl, ret, code);
  }
}

/**
 * The error a synchronous caller throws for an outcome other than {@link OK},
 * as pyOpenSSL does over a non-blocking socket.
 *
 * @param outcome What {@link classify} returned.
 * @returns `WantReadError`, `WantWriteError`, `ZeroReturnError`,
 *   `WantX509LookupError` or `WantClientHelloError`.
 */
export function outcomeError(outcome: Outcome): SSLError {
  return outcome === WANT_READ
    ? new WantReadError()
    : outcome === WANT_WRITE
    ? new WantWriteError()
    : outcome === ZERO_RETURN
    ? new ZeroReturnError()
    : outcome === WANT_X509_LOOKUP
    ? new WantX509LookupError()
    : outcome === WANT_CLIENT_HELLO
    ? new WantClientHelloError()
    : new SSLError([], "The call succeeded: there is no error to report");
}

/**
 * Maps a failed SSL call that is none of the outcomes to its error.
 *
 * @param ssl The `SSL*` the call was made on.
 * @param ret The call's return value.
 * @param code `SSL_get_error`'s result (0 when a callback threw: not consulted then).
 * @returns The error to throw: what a callback threw, as it was thrown, or an {@link SSLError}.
 */
function failure(ssl: Deno.PointerValue, ret: number, code: number): unknown {
  const { ssl: lib, crypto } = native();
  const sysErrno = code === SSL_ERROR_SYSCALL ? errno() : 0;
  const pending = takeCallbackError();
  if (pending) {
    drainErrorQueue();
    takeVerifyFailure();
    return pending.error;
  }
  switch (code) {
    case SSL_ERROR_WANT_RETRY_VERIFY:
      return new WantX509LookupError();
    case SSL_ERROR_SYSCALL: {
      const errors = drainErrorQueue();
      const sys = errors.find((e) => e.libraryCode === ERR_LIB_SYS);
      if (sys) return new SysCallError(sys.reasonCode, errors);
      if (errors.length > 0) return new SSLError(errors, explain(errors, undefined, ssl));
      // clearErrors() zeroes errno before the call and OpenSSL clears it before each BIO
      // read or write, so a nonzero errno here is the failed system call's. The return value
      // is not consulted: SSL_read_ex/SSL_write_ex report every failure as 0, not -1.
      return new SysCallError(sysErrno !== 0 ? sysErrno : -1);
    }
    case SSL_ERROR_SSL: {
      const errors = drainErrorQueue();
      const failure = takeVerifyFailure();
      if (
        errors.some((e) =>
          e.libraryCode === ERR_LIB_SSL && e.reasonCode === SSL_R_UNEXPECTED_EOF_WHILE_READING
        )
      ) {
        return new SysCallError(-1, errors);
      }
      if (
        errors.some((e) =>
          e.libraryCode === ERR_LIB_SSL && e.reasonCode === SSL_R_CERTIFICATE_VERIFY_FAILED
        )
      ) {
        const verifyCode = Number(lib.SSL_get_verify_result(ssl));
        return new VerificationError({
          verifyCode,
          verifyMessage: verifyErrorString(verifyCode),
          depth: failure?.depth ?? -1,
          certificate: failure?.certificate ?? null,
        }, errors);
      }
      return new SSLError(errors, explain(errors, undefined, ssl));
    }
    default:
      crypto.ERR_clear_error();
      return new SSLError([], `Unexpected SSL_get_error result ${code} (call returned ${ret})`);
  }
}

/**
 * The error a synchronous caller would throw for a failed SSL call: what
 * {@link raiseSSLError} throws, returned instead.
 *
 * @param ssl The `SSL*` the call was made on.
 * @param ret The call's return value.
 * @returns The error.
 */
export function sslError(ssl: Deno.PointerValue, ret: number): unknown {
  try {
    return outcomeError(classify(ssl, ret, false));
  } catch (e) {
    return e;
  }
}

/**
 * Throws the error for a failed SSL call, as a synchronous caller sees it:
 * {@link classify}, with want-read, want-write and zero-return as
 * `WantReadError`, `WantWriteError` and `ZeroReturnError`.
 *
 * @param ssl The `SSL*` the call was made on.
 * @param ret The call's return value.
 * @throws Always.
 */
export function raiseSSLError(ssl: Deno.PointerValue, ret: number): never {
  throw outcomeError(classify(ssl, ret, false));
}
