/**
 * The error taxonomy, shaped after pyOpenSSL's: one base class for everything
 * OpenSSL reports, and one subclass per condition a caller is expected to
 * catch. API misuse (a wrong argument type, a closed object) is a
 * `TypeError`, `RangeError` or {@link ClosedError}, never an {@link SSLError}.
 *
 * Every {@link SSLError} is also a `Deno.errors.InvalidData`, what Deno's own
 * TLS throws for a refused certificate, a fatal alert or a protocol error, so
 * code written around `Deno.connectTls` keeps catching them; a
 * {@link ClosedError} is a `Deno.errors.BadResource`. The prototype chain is
 * real (no `Symbol.hasInstance`), so `assert.throws(fn, WantReadError)` and
 * `isPrototypeOf` checks work. On a host without `Deno.errors` they are
 * plain `Error`s.
 *
 * @module
 */

import type { X509 } from "../crypto/x509.ts";
import { explain } from "./hints.ts";

/** A `Deno.errors` class name. */
type DenoErrorName = keyof typeof Deno.errors;
type ErrorClass = new (message?: string, options?: ErrorOptions) => Error;

/** Deno's error class of that name, or `Error` where `Deno.errors` is missing (not Deno). */
function denoError(name: DenoErrorName): ErrorClass {
  const errors = (globalThis as { Deno?: { errors?: Record<string, unknown> } }).Deno?.errors;
  const cls = errors?.[name];
  return typeof cls === "function" ? cls as ErrorClass : Error;
}

/**
 * Puts a class declared on `Error` under Deno's error class of that name, where there is one:
 * `super()` then runs Deno's constructor, and `instanceof` Deno's class holds.
 */
function reparent(cls: abstract new (...args: never[]) => Error, name: DenoErrorName): void {
  const base = denoError(name);
  if (base === Error) return;
  Object.setPrototypeOf(cls, base);
  Object.setPrototypeOf(cls.prototype, base.prototype);
}

/**
 * One entry of OpenSSL's error queue.
 *
 * @example List the entries of an error
 * ```ts
 * import { type OpenSSLErrorEntry, SSLError } from "@denossl/denossl";
 *
 * function show(e: SSLError): void {
 *   for (const entry of e.errors as OpenSSLErrorEntry[]) {
 *     console.log(entry.library, entry.reason); // "SSL routines" "no cipher match"
 *   }
 * }
 * show(new SSLError());
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

/**
 * Anything OpenSSL reported: a protocol failure, a bad certificate or key, an
 * unusable configuration. `errors` holds the drained error queue; the message
 * says what probably happened, keeps OpenSSL's words, and is never empty.
 *
 * It is also a `Deno.errors.InvalidData`, what Deno's own TLS throws for a
 * refused certificate, a fatal alert or a protocol error; so are all its
 * subclasses.
 *
 * @example Read the queue entries behind an error
 * ```ts
 * import { SSLError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const e = new SSLError([{
 *   code: 0x0a0000b9,
 *   library: "SSL routines",
 *   reason: "no cipher match",
 *   libraryCode: 20,
 *   reasonCode: 185,
 * }]);
 * assert.equal(e.message, "no cipher match (SSL routines)");
 * assert.equal(e.errors[0]?.reason, "no cipher match");
 * assert.ok(e instanceof Deno.errors.InvalidData);
 * assert.equal(new SSLError("The peer said no").message, "The peer said no");
 * assert.equal(new SSLError().message, "Unknown OpenSSL error (empty error queue)");
 * ```
 */
export class SSLError extends Error {
  /** The OpenSSL error queue entries behind this error, oldest first. */
  readonly errors: readonly OpenSSLErrorEntry[];
  /**
   * Creates an error with a message and no queue entries.
   *
   * @param message The message.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions);
  /**
   * Creates an error from drained queue entries.
   *
   * @param errors The drained queue entries.
   * @param message The message; defaults to one built from the entries. Never empty.
   * @param options Standard error options (`cause`).
   */
  constructor(errors?: readonly OpenSSLErrorEntry[], message?: string, options?: ErrorOptions);
  constructor(
    errorsOrMessage: readonly OpenSSLErrorEntry[] | string = [],
    messageOrOptions?: string | ErrorOptions,
    options?: ErrorOptions,
  ) {
    const text = typeof errorsOrMessage === "string";
    const errors = text ? [] : errorsOrMessage;
    if (!Array.isArray(errors)) {
      throw new TypeError("SSLError takes a message, or an array of error queue entries");
    }
    const message = text ? errorsOrMessage : messageOrOptions as string | undefined;
    super(
      message || explain(errors) || "Unknown OpenSSL error (empty error queue)",
      text ? messageOrOptions as ErrorOptions | undefined : options,
    );
    this.name = "SSLError";
    this.errors = errors;
  }
}

// Declared on Error for hosts without Deno; under Deno, SSLError is an InvalidData.
reparent(SSLError, "InvalidData");

/**
 * The operation needs more data from the peer before it can go on
 * (`SSL_ERROR_WANT_READ`). Feed the connection and call again.
 *
 * @example Tell "no data yet" from a failure
 * ```ts
 * import { SSLError, WantReadError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const e: unknown = new WantReadError();
 * assert.ok(e instanceof WantReadError && e instanceof SSLError);
 * assert.deepEqual((e as WantReadError).errors, []);
 * ```
 */
export class WantReadError extends SSLError {
  /**
   * Creates the error.
   *
   * @param message Optional message.
   */
  constructor(message = "The operation needs more data from the peer (want read)") {
    super([], message);
    this.name = "WantReadError";
  }
}

/**
 * The operation must flush data to the peer before it can go on
 * (`SSL_ERROR_WANT_WRITE`).
 *
 * @example Recognise a full outgoing buffer
 * ```ts
 * import { WantWriteError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * assert.match(new WantWriteError().message, /want write/);
 * ```
 */
export class WantWriteError extends SSLError {
  /**
   * Creates the error.
   *
   * @param message Optional message.
   */
  constructor(message = "The operation must write to the peer first (want write)") {
    super([], message);
    this.name = "WantWriteError";
  }
}

/**
 * A certificate callback asked to be called again
 * (`SSL_ERROR_WANT_X509_LOOKUP`): it returned a Promise, or a servername
 * callback did; also a verify retry (`SSL_ERROR_WANT_RETRY_VERIFY`). Await
 * the connection's `pendingSelection`, then call the same operation again.
 * A client hello callback's retry is its subclass {@link WantClientHelloError}.
 *
 * @example Recognise a callback's request to be called again
 * ```ts
 * import { WantX509LookupError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new WantX509LookupError().name, "WantX509LookupError");
 * ```
 */
export class WantX509LookupError extends SSLError {
  /**
   * Creates the error.
   *
   * @param message Optional message.
   */
  constructor(
    message = "A certificate lookup callback asked to be called again (want X509 lookup)",
  ) {
    super([], message);
    this.name = "WantX509LookupError";
  }
}

/**
 * A client hello callback suspended the handshake
 * (`SSL_ERROR_WANT_CLIENT_HELLO_CB`): it returned a Promise (or a session
 * store's lookup did). Await the connection's `pendingSelection`, then call
 * `doHandshake()` again. A {@link WantX509LookupError}, so code that catches
 * that one keeps working.
 *
 * @example Recognise a suspended client hello
 * ```ts
 * import { WantClientHelloError, WantX509LookupError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new WantClientHelloError() instanceof WantX509LookupError);
 * ```
 */
export class WantClientHelloError extends WantX509LookupError {
  /**
   * Creates the error.
   *
   * @param message Optional message.
   */
  constructor(
    message = "A client hello callback suspended the handshake (want client hello callback)",
  ) {
    super(message);
    this.name = "WantClientHelloError";
  }
}

/**
 * The peer closed the TLS session cleanly with close_notify
 * (`SSL_ERROR_ZERO_RETURN`).
 *
 * @example Tell a clean close from an abrupt one
 * ```ts
 * import { SysCallError, ZeroReturnError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const e: unknown = new ZeroReturnError();
 * assert.ok(e instanceof ZeroReturnError && !(e instanceof SysCallError));
 * ```
 */
export class ZeroReturnError extends SSLError {
  /**
   * Creates the error.
   *
   * @param message Optional message.
   */
  constructor(message = "The peer closed the TLS session (close_notify)") {
    super([], message);
    this.name = "ZeroReturnError";
  }
}

/** errno names shared by Linux and the BSDs (macOS). */
const ERRNO_COMMON: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  21: "EISDIR",
  22: "EINVAL",
  24: "EMFILE",
  32: "EPIPE",
};

/** The network errnos, which differ between Linux and the BSDs. */
const ERRNO_NAMES: Record<number, string> = {
  ...ERRNO_COMMON,
  ...(["darwin", "freebsd", "netbsd", "openbsd"].includes(
      (globalThis as { Deno?: { build?: { os?: string } } }).Deno?.build?.os ?? "",
    )
    ? {
      35: "EAGAIN",
      38: "ENOTSOCK",
      51: "ENETUNREACH",
      53: "ECONNABORTED",
      54: "ECONNRESET",
      57: "ENOTCONN",
      60: "ETIMEDOUT",
      61: "ECONNREFUSED",
      65: "EHOSTUNREACH",
    }
    : {
      11: "EAGAIN",
      88: "ENOTSOCK",
      101: "ENETUNREACH",
      103: "ECONNABORTED",
      104: "ECONNRESET",
      107: "ENOTCONN",
      110: "ETIMEDOUT",
      111: "ECONNREFUSED",
      113: "EHOSTUNREACH",
    }),
};

/**
 * A system call failed under OpenSSL (`SSL_ERROR_SYSCALL`), or the peer
 * vanished without close_notify: then `errno` is -1 and the message is
 * `"Unexpected EOF"`, also when OpenSSL 3 reports
 * `SSL_R_UNEXPECTED_EOF_WHILE_READING`.
 *
 * @example Tell an unexpected EOF from a failed system call
 * ```ts
 * import { SysCallError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const eof = new SysCallError(-1);
 * assert.equal(eof.message, "Unexpected EOF");
 * assert.equal(eof.code, "UNEXPECTED_EOF");
 * const reset = new SysCallError(104);
 * assert.equal(reset.message, "System call failed: ECONNRESET (errno 104)");
 * ```
 */
export class SysCallError extends SSLError {
  /** The C `errno`, or -1 for an unexpected EOF. */
  readonly errno: number;
  /** The errno's symbolic name (`"ECONNRESET"`), or `"UNEXPECTED_EOF"`. */
  readonly code: string;
  /**
   * Creates the error.
   *
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
 * @example Describe a hostname mismatch
 * ```ts
 * import type { VerificationDetails } from "@denossl/denossl";
 *
 * const d: VerificationDetails = {
 *   verifyCode: 62,
 *   verifyMessage: "hostname mismatch",
 *   depth: 0,
 *   certificate: null,
 * };
 * console.log(d.verifyMessage);
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
 * @example Read why a certificate was refused
 * ```ts
 * import { SSLError, VerificationError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const e = new VerificationError({
 *   verifyCode: 18,
 *   verifyMessage: "self-signed certificate",
 *   depth: 0,
 *   certificate: null,
 * });
 * assert.ok(e instanceof SSLError);
 * assert.equal(e.message, "certificate verify failed: self-signed certificate (X509_V_ERR 18 at depth 0)");
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
   * Creates the error.
   *
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
 * @example Catch it as Deno's own BadResource
 * ```ts
 * import { ClosedError } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * const e = new ClosedError("Connection");
 * assert.ok(e instanceof Deno.errors.BadResource);
 * assert.equal(e.message, "Connection is closed");
 * ```
 */
export class ClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param what The closed object, for the message ("Context", "Connection").
   */
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
}

reparent(ClosedError, "BadResource");
