/**
 * TLS-PSK: the two shared trampolines (client and server) behind
 * `Context.setPskClientCallback` / `setPskServerCallback`, the identity hint,
 * and what the Deno-shaped helpers do with `pskCallback`. Internal; the
 * callback types live in `types.ts`.
 *
 * OpenSSL's older PSK callbacks serve TLS 1.2 PSK suites and, by OpenSSL's
 * own fallback, TLS 1.3 external PSKs bound to SHA-256 (a session with
 * `TLS_AES_128_GCM_SHA256`, as `openssl s_client -psk` makes); a server
 * with a PSK callback prefers SHA-256 suites in TLS 1.3 so such a key fits.
 * Python's `ssl` and Node's `tls` use the same callbacks.
 *
 * Fail closed: a throw, a Promise or a malformed answer is recorded
 * (`recordCallbackError`), OpenSSL is told "no key" (0), and the call that
 * drove OpenSSL rethrows it. The callbacks are found on the connection's
 * current context, as the other trampolines find theirs.
 *
 * @module
 */

import { native, opensslVersion } from "../ffi/library.ts";
import { cstr, readCString } from "../ffi/memory.ts";
import { clearErrors, recordCallbackError, sslErrorFromQueue } from "../errors/queue.ts";
import { counted, describe, ownerOf, refuseThenable, requireFunction } from "../ffi/callbacks.ts";
import type { Connection } from "./connection.ts";
import type { Context } from "./context.ts";
import type { ContextBase } from "./context_base.ts";
import type { PskClientCallback, PskServerCallback } from "./types.ts";

/** `PSK_MAX_IDENTITY_LEN`: the longest identity (and identity hint), in bytes. */
const PSK_MAX_IDENTITY_LEN = 256;
/** `PSK_MAX_PSK_LEN`: the longest key, in bytes. */
const PSK_MAX_PSK_LEN = 512;

/**
 * The TLS 1.2 PSK suite the helpers add when `pskCallback` is given: the one
 * forward-secret (ECDHE) PSK suite with AEAD that OpenSSL 3.0 has. Plain PSK
 * (no forward secrecy) and DHE-PSK suites are there only through `ciphers`.
 */
export const HELPER_PSK_CIPHERS = "ECDHE-PSK-CHACHA20-POLY1305";

/** The loaded libssl's PSK symbols, or a clear error when it was built without PSK. */
function pskSymbols(): {
  setClient: NonNullable<ReturnType<typeof native>["ssl"]["SSL_CTX_set_psk_client_callback"]>;
  setServer: NonNullable<ReturnType<typeof native>["ssl"]["SSL_CTX_set_psk_server_callback"]>;
  useHint: NonNullable<ReturnType<typeof native>["ssl"]["SSL_CTX_use_psk_identity_hint"]>;
} {
  const { ssl } = native();
  const setClient = ssl.SSL_CTX_set_psk_client_callback;
  const setServer = ssl.SSL_CTX_set_psk_server_callback;
  const useHint = ssl.SSL_CTX_use_psk_identity_hint;
  if (!setClient || !setServer || !useHint) {
    throw new Error(
      `TLS-PSK is not supported by the loaded OpenSSL ${opensslVersion().text} (built with no-psk)`,
    );
  }
  return { setClient, setServer, useHint };
}

/** The PSK callbacks a context holds, keyed by the context. */
const slots = new WeakMap<object, { client?: PskClientCallback; server?: PskServerCallback }>();

function slotsOf(owner: object): { client?: PskClientCallback; server?: PskServerCallback } {
  let found = slots.get(owner);
  if (!found) slots.set(owner, found = {});
  return found;
}

/** The callbacks of the context of the connection an `SSL*` belongs to. */
function callbacksFor(ssl: Deno.PointerValue): {
  conn: Connection;
  hooks: { client?: PskClientCallback; server?: PskServerCallback } | undefined;
} | undefined {
  const conn = ownerOf<Connection>(ssl);
  if (!conn) return undefined;
  return { conn, hooks: slots.get(conn.getContext()) };
}

/** Checks a key returned by a callback: bytes, 1 to `max`. */
function keyBytes(psk: unknown, who: string, max: number): Uint8Array {
  if (!(psk instanceof Uint8Array)) {
    throw new TypeError(
      `The ${who} callback must return the key as a Uint8Array: got ${describe(psk)}`,
    );
  }
  if (psk.length === 0 || psk.length > Math.min(max, PSK_MAX_PSK_LEN)) {
    throw new RangeError(
      `The ${who} callback returned a key of ${psk.length} bytes: a PSK is 1 to ${PSK_MAX_PSK_LEN} bytes`,
    );
  }
  return psk;
}

function write(ptr: Deno.PointerObject, bytes: Uint8Array, room: number): void {
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, room)).set(bytes);
}

// ---- client -----------------------------------------------------------------------------

/** `unsigned int SSL_psk_client_cb_func(SSL *ssl, const char *hint, char *identity, unsigned int max_identity_len, unsigned char *psk, unsigned int max_psk_len)`. */
const CLIENT_CB = {
  parameters: ["pointer", "pointer", "pointer", "u32", "pointer", "u32"],
  result: "u32",
} as const;
let clientTrampoline: Deno.UnsafeCallback<typeof CLIENT_CB> | undefined;

function pskClient(
  ssl: Deno.PointerValue,
  hint: Deno.PointerValue,
  identity: Deno.PointerValue,
  maxIdentity: number,
  psk: Deno.PointerValue,
  maxPsk: number,
): number {
  try {
    const found = callbacksFor(ssl);
    const callback = found?.hooks?.client;
    if (!found || !callback || identity === null || psk === null) return 0;
    const answer: unknown = callback(readCString(hint), found.conn);
    refuseThenable(answer, "PSK client", "return { identity, psk } or null");
    if (answer === null || answer === undefined) return 0;
    if (typeof answer !== "object") {
      throw new TypeError(
        `The PSK client callback must return { identity, psk } or null: got ${describe(answer)}`,
      );
    }
    const { identity: name, psk: key } = answer as { identity?: unknown; psk?: unknown };
    if (typeof name !== "string") {
      throw new TypeError(
        `The PSK client callback's identity must be a string: got ${describe(name)}`,
      );
    }
    const id = identityBytes(name, "PSK identity", maxIdentity);
    const bytes = keyBytes(key, "PSK client", maxPsk);
    write(identity, id, id.length + 1); // cstr's trailing NUL included
    write(psk, bytes, bytes.length);
    return bytes.length;
  } catch (e) {
    recordCallbackError(e);
    return 0;
  }
}

function identityBytes(value: string, what: string, max = PSK_MAX_IDENTITY_LEN): Uint8Array {
  const bytes = cstr(value, what);
  const length = bytes.length - 1;
  if (length === 0 || length > Math.min(max, PSK_MAX_IDENTITY_LEN)) {
    throw new RangeError(
      `${what} must be 1 to ${PSK_MAX_IDENTITY_LEN} bytes of UTF-8: got ${length}`,
    );
  }
  return bytes;
}

/**
 * Installs the client PSK callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 * @throws {TypeError} When `callback` is not a function.
 */
export function setPskClientCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: PskClientCallback,
): void {
  requireFunction(callback);
  const { setClient } = pskSymbols();
  clientTrampoline ??= new Deno.UnsafeCallback(CLIENT_CB, counted(pskClient));
  slotsOf(owner).client = callback;
  setClient(ctx, clientTrampoline.pointer);
}

// ---- server -----------------------------------------------------------------------------

/** `unsigned int SSL_psk_server_cb_func(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max_psk_len)`. */
const SERVER_CB = { parameters: ["pointer", "pointer", "pointer", "u32"], result: "u32" } as const;
let serverTrampoline: Deno.UnsafeCallback<typeof SERVER_CB> | undefined;

function pskServer(
  ssl: Deno.PointerValue,
  identity: Deno.PointerValue,
  psk: Deno.PointerValue,
  maxPsk: number,
): number {
  try {
    const found = callbacksFor(ssl);
    const callback = found?.hooks?.server;
    if (!found || !callback || psk === null) return 0;
    const answer: unknown = callback(readCString(identity) ?? "", found.conn);
    refuseThenable(answer, "PSK server", "return the key or null");
    if (answer === null || answer === undefined) return 0;
    const bytes = keyBytes(answer, "PSK server", maxPsk);
    write(psk, bytes, bytes.length);
    return bytes.length;
  } catch (e) {
    recordCallbackError(e);
    return 0;
  }
}

/**
 * Installs the server PSK callback of a context, and its identity hint.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 * @param hint The identity hint for TLS 1.2 clients, if any.
 * @throws {TypeError} When `callback` is not a function or the hint is malformed.
 */
export function setPskServerCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: PskServerCallback,
  hint?: string,
): void {
  requireFunction(callback);
  const { setServer } = pskSymbols();
  if (hint !== undefined) usePskIdentityHint(ctx, hint);
  serverTrampoline ??= new Deno.UnsafeCallback(SERVER_CB, counted(pskServer));
  slotsOf(owner).server = callback;
  setServer(ctx, serverTrampoline.pointer);
}

/**
 * Sets the identity hint a TLS 1.2 PSK server sends.
 *
 * @param ctx The `SSL_CTX*`, checked mutable by the caller.
 * @param hint The hint.
 * @throws {TypeError} When the hint is not a string or holds a NUL.
 * @throws {RangeError} When it is empty or longer than 256 bytes.
 */
export function usePskIdentityHint(ctx: Deno.PointerObject, hint: string): void {
  const bytes = identityBytes(hint, "PSK identity hint");
  const { useHint } = pskSymbols();
  clearErrors();
  if (useHint(ctx, bytes) !== 1) {
    throw sslErrorFromQueue("Could not set the PSK identity hint");
  }
}

// ---- the helpers' pskCallback ---------------------------------------------------------

/** The PSK options of the helpers, as `ContextSpec` carries them. */
export interface PskSpec {
  /** The client's or the server's callback. */
  callback: PskClientCallback | PskServerCallback;
  /** Server: the identity hint for TLS 1.2 clients. */
  hint?: string | undefined;
}

/**
 * Reads the helpers' `pskCallback` and `pskIdentityHint` options.
 *
 * @param server Whether for a server.
 * @param o The options.
 * @returns The spec, or undefined when PSK is not asked for.
 * @throws {TypeError} When `pskCallback` is not a function, or a hint comes without one.
 */
export function pskSpec(
  server: boolean,
  o: { pskCallback?: unknown; pskIdentityHint?: unknown },
): PskSpec | undefined {
  if (o.pskCallback === undefined) {
    if (o.pskIdentityHint !== undefined) {
      throw new TypeError("pskIdentityHint needs pskCallback");
    }
    return undefined;
  }
  requireFunction(o.pskCallback, "pskCallback");
  if (o.pskIdentityHint !== undefined) {
    if (!server) throw new TypeError("pskIdentityHint is a server option");
    identityBytes(o.pskIdentityHint as string, "pskIdentityHint");
  }
  return {
    callback: o.pskCallback as PskClientCallback | PskServerCallback,
    hint: o.pskIdentityHint as string | undefined,
  };
}

/**
 * Installs a helper's PSK callback on the context it builds. Certificate
 * verification stays as configured: a peer that authenticates with a
 * certificate instead of the key is verified as always.
 *
 * @param ctx The context being built.
 * @param spec The PSK options.
 * @param server Whether a server context.
 */
export function configurePsk(ctx: Context, spec: PskSpec, server: boolean): void {
  if (server) ctx.setPskServerCallback(spec.callback as PskServerCallback, spec.hint);
  else ctx.setPskClientCallback(spec.callback as PskClientCallback);
}

/**
 * Why a DTLS handshake that chose a PSK suite may stall: DTLS drops records
 * it cannot decrypt (RFC 6347 §4.1.2.7), so a wrong key sends no alert.
 *
 * @param conn The connection whose handshake timed out.
 * @returns A clause for the timeout's message, or "" when no PSK suite was chosen.
 */
export function pskStallHint(conn: Connection): string {
  return /(^|-)PSK-/.test(conn.getCipherName() ?? "")
    ? ": a PSK suite was chosen, so the two ends may hold different keys (DTLS drops records it cannot decrypt, without an alert)"
    : "";
}
