/**
 * The one mapper from an `SSL_get_error` result to a thrown error, used by
 * every call site that drives an `SSL` object. Internal to denossl.
 *
 * Order, as in pyOpenSSL's `_raise_ssl_error`: first what a JS callback threw
 * during the call, then `SSL_get_error`'s verdict: WANT_READ, WANT_WRITE,
 * WANT_X509_LOOKUP (and the other "a callback asked to be called again"
 * codes, WANT_CLIENT_HELLO_CB and WANT_RETRY_VERIFY), ZERO_RETURN, SYSCALL
 * (with errno, or "Unexpected EOF"),
 * and SSL with the queue drained (a verification failure becomes a
 * {@link VerificationError}; OpenSSL 3's unexpected-EOF reason becomes a
 * {@link SysCallError} with errno -1).
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
  WantReadError,
  WantWriteError,
  WantX509LookupError,
  ZeroReturnError,
} from "./ssl_error.ts";
import { drainErrorQueue, takeCallbackError, takeVerifyFailure } from "./queue.ts";

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

/**
 * Maps the result of a failed SSL call to an error object.
 *
 * @param ssl The `SSL*` the call was made on.
 * @param ret The call's return value.
 * @returns The error to throw: what a callback threw, as it was thrown, or an {@link SSLError}.
 */
export function sslError(ssl: Deno.PointerValue, ret: number): unknown {
  const { ssl: lib, crypto } = native();
  const code = lib.SSL_get_error(ssl, ret);
  const sysErrno = code === SSL_ERROR_SYSCALL ? errno() : 0;
  const pending = takeCallbackError();
  if (pending) {
    drainErrorQueue();
    takeVerifyFailure();
    return pending.error;
  }
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return new WantReadError();
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_CONNECT:
    case SSL_ERROR_WANT_ACCEPT:
      return new WantWriteError();
    case SSL_ERROR_WANT_X509_LOOKUP:
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
    case SSL_ERROR_WANT_RETRY_VERIFY:
      return new WantX509LookupError();
    case SSL_ERROR_ZERO_RETURN:
      return new ZeroReturnError();
    case SSL_ERROR_SYSCALL: {
      const errors = drainErrorQueue();
      const sys = errors.find((e) => e.libraryCode === ERR_LIB_SYS);
      if (sys) return new SysCallError(sys.reasonCode, errors);
      if (errors.length > 0) return new SSLError(errors);
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
      return new SSLError(errors);
    }
    default:
      crypto.ERR_clear_error();
      return new SSLError([], `Unexpected SSL_get_error result ${code} (call returned ${ret})`);
  }
}

/**
 * Throws the error for a failed SSL call: see the module doc for the order.
 *
 * @param ssl The `SSL*` the call was made on.
 * @param ret The call's return value.
 * @throws Always.
 */
export function raiseSSLError(ssl: Deno.PointerValue, ret: number): never {
  throw sslError(ssl, ret);
}
