/**
 * The error taxonomy, shaped after pyOpenSSL's: one base class for everything
 * OpenSSL reports, and one subclass per condition a caller is expected to
 * catch. API misuse (a wrong argument type, a closed object) is a
 * `TypeError`, `RangeError` or {@link ClosedError}, never an {@link SSLError}.
 *
 * @module
 */

import type { X509 } from "../crypto/x509.ts";

/**
 * One entry of OpenSSL's error queue.
 *
 * @example
 * ```ts ignore
 * const entry: OpenSSLErrorEntry = err.errors[0]!;
 * console.log(entry.library, entry.reason); // "SSL routines" "no cipher match"
 * ```
 */
export interface OpenSSLErrorEntry {
  /** The packed error code (`ERR_get_error()`). */
  code: number;
  /** The library's name, for example `"SSL routines"`. */
  library: string;
  /** The reason's text, for example `"certificate verify failed"`. */
  reason: string;
  /** The library number (`ERR_GET_LIB`). */
  libraryCode: number;
  /** The reason number (`ERR_GET_REASON`). */
  reasonCode: number;
}

function describeEntries(errors: readonly OpenSSLErrorEntry[]): string {
  return errors.map((e) => `${e.reason} (${e.library})`).join("; ");
}

/**
 * Anything OpenSSL reported: a protocol failure, a bad certificate or key, an
 * unusable configuration. `errors` holds the drained error queue.
 *
 * @example Catch a configuration error
 * ```ts
 * import { Context, SSLError, TLS_METHOD } from "@denossl/denossl";
 * using ctx = new Context(TLS_METHOD);
 * try {
 *   ctx.setCipherList("NO-SUCH-CIPHER");
 * } catch (e) {
 *   if (!(e instanceof SSLError)) throw e;
 *   console.log(e.message); // "no cipher match (SSL routines)"
 * }
 * ```
 */
export class SSLError extends Error {
  /** The OpenSSL error queue entries behind this error, oldest first. */
  readonly errors: readonly OpenSSLErrorEntry[];
  /**
   * @param errors The drained queue entries.
   * @param message The message; defaults to the entries' reasons. Never empty.
   * @param options Standard error options (`cause`).
   */
  constructor(errors: readonly OpenSSLErrorEntry[] = [], message?: string, options?: ErrorOptions) {
    super(
      message || describeEntries(errors) || "Unknown OpenSSL error (empty error queue)",
      options,
    );
    this.name = "SSLError";
    this.errors = errors;
  }
}

/**
 * The operation needs more data from the peer before it can go on
 * (`SSL_ERROR_WANT_READ`). Feed the connection and call again.
 *
 * @example
 * ```ts ignore
 * try { conn.recv(1024); } catch (e) { if (e instanceof WantReadError) { /* feed bioWrite *\/ } }
 * ```
 */
export class WantReadError extends SSLError {
  /** @param message Optional message. */
  constructor(message = "The operation needs more data from the peer (want read)") {
    super([], message);
    this.name = "WantReadError";
  }
}

/**
 * The operation must flush data to the peer before it can go on
 * (`SSL_ERROR_WANT_WRITE`).
 *
 * @example
 * ```ts ignore
 * try { conn.send(data); } catch (e) { if (e instanceof WantWriteError) { /* drain bioRead *\/ } }
 * ```
 */
export class WantWriteError extends SSLError {
  /** @param message Optional message. */
  constructor(message = "The operation must write to the peer first (want write)") {
    super([], message);
    this.name = "WantWriteError";
  }
}

/**
 * A certificate callback asked to be called again
 * (`SSL_ERROR_WANT_X509_LOOKUP`).
 *
 * @example
 * ```ts ignore
 * if (e instanceof WantX509LookupError) conn.doHandshake();
 * ```
 */
export class WantX509LookupError extends SSLError {
  /** @param message Optional message. */
  constructor(
    message = "A certificate lookup callback asked to be called again (want X509 lookup)",
  ) {
    super([], message);
    this.name = "WantX509LookupError";
  }
}

/**
 * The peer closed the TLS session cleanly with close_notify
 * (`SSL_ERROR_ZERO_RETURN`).
 *
 * @example
 * ```ts ignore
 * try { conn.recv(1024); } catch (e) { if (e instanceof ZeroReturnError) conn.shutdown(); }
 * ```
 */
export class ZeroReturnError extends SSLError {
  /** @param message Optional message. */
  constructor(message = "The peer closed the TLS session (close_notify)") {
    super([], message);
    this.name = "ZeroReturnError";
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  21: "EISDIR",
  22: "EINVAL",
  24: "EMFILE",
  32: "EPIPE",
  88: "ENOTSOCK",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

/**
 * A system call failed under OpenSSL (`SSL_ERROR_SYSCALL`), or the peer
 * vanished without close_notify: then `errno` is -1 and the message is
 * `"Unexpected EOF"`, also when OpenSSL 3 reports
 * `SSL_R_UNEXPECTED_EOF_WHILE_READING`.
 *
 * @example
 * ```ts ignore
 * if (e instanceof SysCallError && e.errno === -1) console.log("peer hung up");
 * ```
 */
export class SysCallError extends SSLError {
  /** The C `errno`, or -1 for an unexpected EOF. */
  readonly errno: number;
  /** The errno's symbolic name (`"ECONNRESET"`), or `"UNEXPECTED_EOF"`. */
  readonly code: string;
  /**
   * @param errno The errno, or -1 for an unexpected EOF.
   * @param errors Queue entries, if any.
   */
  constructor(errno: number, errors: readonly OpenSSLErrorEntry[] = []) {
    const code = errno === -1 ? "UNEXPECTED_EOF" : ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(errors, errno === -1 ? "Unexpected EOF" : `System call failed: ${code} (errno ${errno})`);
    this.name = "SysCallError";
    this.errno = errno;
    this.code = code;
  }
}

/**
 * Details of a failed certificate verification, for {@link VerificationError}.
 *
 * @example
 * ```ts ignore
 * const d: VerificationDetails = { verifyCode: 62, verifyMessage: "hostname mismatch", depth: 0, certificate: null };
 * ```
 */
export interface VerificationDetails {
  /** The `X509_V_ERR_*` code (for example 19, 20, 62). */
  verifyCode: number;
  /** OpenSSL's text for the code (`X509_verify_cert_error_string`). */
  verifyMessage: string;
  /** Depth in the chain of the failing certificate (0 = leaf), or -1 when unknown. */
  depth: number;
  /** The failing certificate, when known. */
  certificate: X509 | null;
}

/**
 * Certificate verification failed: during a handshake (OpenSSL's
 * `certificate verify failed`) or in `X509Store.verify`.
 *
 * @example Tell an untrusted peer from other failures
 * ```ts ignore
 * try {
 *   await conn.handshake();
 * } catch (e) {
 *   if (e instanceof VerificationError) console.log(e.verifyCode, e.verifyMessage, e.depth);
 * }
 * ```
 */
export class VerificationError extends SSLError {
  /** The `X509_V_ERR_*` code. */
  readonly verifyCode: number;
  /** OpenSSL's text for the code. */
  readonly verifyMessage: string;
  /** Depth of the failing certificate (0 = leaf), or -1 when unknown. */
  readonly depth: number;
  /** The failing certificate, when known. */
  readonly certificate: X509 | null;
  /**
   * @param details Code, message, depth and certificate.
   * @param errors Queue entries, if any.
   */
  constructor(details: VerificationDetails, errors: readonly OpenSSLErrorEntry[] = []) {
    const where = details.depth >= 0 ? ` at depth ${details.depth}` : "";
    super(
      errors,
      `certificate verify failed: ${details.verifyMessage} (X509_V_ERR ${details.verifyCode}${where})`,
    );
    this.name = "VerificationError";
    this.verifyCode = details.verifyCode;
    this.verifyMessage = details.verifyMessage;
    this.depth = details.depth;
    this.certificate = details.certificate;
  }
}

/**
 * A method was called on an object that was already closed. It extends
 * `Deno.errors.BadResource`, what Deno's own closed connections throw.
 *
 * @example
 * ```ts
 * import { ClosedError, Context, TLS_METHOD } from "@denossl/denossl";
 * const ctx = new Context(TLS_METHOD);
 * ctx.close();
 * try {
 *   ctx.getOptions();
 * } catch (e) {
 *   console.log(e instanceof ClosedError); // true
 * }
 * ```
 */
export class ClosedError extends Deno.errors.BadResource {
  /** @param what The closed object, for the message ("Context", "Connection"). */
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
}
