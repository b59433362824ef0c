/**
 * The trampolines of selection: the servername (SNI), client hello and
 * certificate callbacks, each of which may answer with a Promise, and the
 * helpers `Context` calls to install them. Internal.
 *
 * Where OpenSSL can suspend, a Promise suspends the handshake: the client
 * hello callback returns `SSL_CLIENT_HELLO_RETRY` (`SSL_ERROR_WANT_CLIENT_HELLO_CB`)
 * and the certificate callback -1 (`SSL_ERROR_WANT_X509_LOOKUP`); OpenSSL
 * calls them again when the handshake is driven again, and they then answer
 * with what the Promise settled to, without calling the JS callback twice.
 * OpenSSL's servername callback cannot suspend: when it returns a Promise,
 * the handshake goes on to the certificate stage (a certificate callback is
 * set on that connection) and suspends there until the Promise settles, so
 * the context it switches to still supplies the certificate. A resumed
 * session has no certificate stage: the Promise then decides once
 * `SSL_do_handshake` is done (see `_suspend.ts`).
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import {
  SSL_AD_HANDSHAKE_FAILURE,
  SSL_AD_INTERNAL_ERROR,
  SSL_CLIENT_HELLO_ERROR,
  SSL_CLIENT_HELLO_SUCCESS,
  SSL_CTX_set_tlsext_servername_callback,
  SSL_TLSEXT_ERR_ALERT_FATAL,
  SSL_TLSEXT_ERR_OK,
} from "../ffi/constants.ts";
import { recordCallbackError } from "../errors/queue.ts";
import { counted, describe, isThenable, ownerOf, requireFunction } from "../ffi/callbacks.ts";
import { readClientHello } from "./_negotiation.ts";
import {
  rejection,
  rememberSessionContext,
  type Settled,
  STILL_PENDING,
  suspend,
  type SuspendKind,
  take,
} from "./_suspend.ts";
import { configureSessionStore, installNewSession, lookupAtHello } from "./_session_store.ts";
import type { Connection } from "./connection.ts";
import type { ContextBase } from "./context_base.ts";
import type { ClientHelloCallback, ServernameCallback } from "./types.ts";
import type { CertCallback, SessionStore } from "./selection.ts";

/** `SSL_CLIENT_HELLO_RETRY`: call the client hello callback again. */
const SSL_CLIENT_HELLO_RETRY = -1;
/** What a certificate callback returns to suspend the handshake. */
const CERT_RETRY = -1;

/** What a connection must offer the trampolines. */
interface Owner {
  getContext(): ContextBase;
  getVerifyMode?(): number;
  setVerify(mode: number, callback?: unknown): void;
  setVerifyDepth(depth: number): void;
}

function setInt32(ptr: Deno.PointerValue, value: number): void {
  if (ptr !== null) new Int32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 4))[0] = value;
}

/**
 * After a callback switched contexts (`SSL_set_SSL_CTX` switches certificate,
 * key and trust store, not the verification settings `SSL_new` copied): the
 * new context's verification settings apply, as servers such as nginx do.
 *
 * @param conn The connection.
 * @param before Its context before the callback.
 */
function adoptContext(conn: Owner, before: ContextBase): void {
  const after = conn.getContext();
  if (after === before) return;
  conn.setVerify(after.getVerifyMode(), after._verifyCallback);
  const depth = after.getVerifyDepth();
  if (depth >= 0) conn.setVerifyDepth(depth);
}

/**
 * Calls a selection callback, or takes the answer its Promise settled to.
 *
 * @returns The answer, or {@link STILL_PENDING} when the handshake must wait (it suspended now or earlier).
 * @throws A rejection of its Promise, as {@link rejection} words it.
 */
function answer(
  ssl: Deno.PointerObject,
  conn: Owner,
  kind: SuspendKind,
  call: () => unknown,
): unknown {
  const taken: Settled | typeof STILL_PENDING | undefined = take(ssl, kind);
  if (taken === STILL_PENDING) return STILL_PENDING;
  if (taken !== undefined) {
    if (!taken.ok) throw rejection(kind, taken.value);
    return taken.value;
  }
  const before = conn.getContext();
  const value = call();
  if (!isThenable(value)) return value;
  suspend(ssl, kind, value, () => adoptContext(conn, before));
  return STILL_PENDING;
}

// ---- SNI ----------------------------------------------------------------------------------

const SERVERNAME_CB = { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const;
let servernameTrampoline: Deno.UnsafeCallback<typeof SERVERNAME_CB> | undefined;

function servername(ssl: Deno.PointerValue, al: Deno.PointerValue): number {
  try {
    const conn = ownerOf<Owner>(ssl);
    const callback = conn?.getContext()._callbacks.servername;
    if (!conn || !callback || ssl === null) return SSL_TLSEXT_ERR_OK;
    rememberSessionContext(conn);
    const before = conn.getContext();
    const value: unknown = callback(conn as unknown as Connection);
    if (isThenable(value)) {
      // This callback cannot suspend: the certificate stage waits for the Promise. A context
      // switch replaces the connection's certificate callback: set ours again once it settled.
      const waitAtCertificate = (): void => {
        if (ownerOf(ssl) === conn) native().ssl.SSL_set_cert_cb(ssl, certTrampolinePointer(), null);
      };
      waitAtCertificate();
      const settled = Promise.resolve(value).finally(waitAtCertificate);
      suspend(ssl, "servername", settled, () => adoptContext(conn, before));
      return SSL_TLSEXT_ERR_OK;
    }
    adoptContext(conn, before);
    return SSL_TLSEXT_ERR_OK;
  } catch (e) {
    recordCallbackError(e);
    setInt32(al, SSL_AD_INTERNAL_ERROR);
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
}

/**
 * Installs the SNI callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setServernameCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: ServernameCallback,
): void {
  requireFunction(callback);
  servernameTrampoline ??= new Deno.UnsafeCallback(SERVERNAME_CB, counted(servername));
  owner._callbacks.servername = callback;
  SSL_CTX_set_tlsext_servername_callback(ctx, servernameTrampoline.pointer);
}

// ---- client hello -----------------------------------------------------------------------

const CLIENT_HELLO_CB = { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const;
let clientHelloTrampoline: Deno.UnsafeCallback<typeof CLIENT_HELLO_CB> | undefined;

function clientHello(ssl: Deno.PointerValue, al: Deno.PointerValue): number {
  try {
    const conn = ownerOf<Owner>(ssl);
    if (!conn || ssl === null) return SSL_CLIENT_HELLO_SUCCESS;
    rememberSessionContext(conn);
    const callback = conn.getContext()._callbacks.clientHello;
    // A session lookup suspended after the callback answered: do not ask it twice.
    const looking = take(ssl, "session store");
    if (callback && looking === undefined) {
      const verdict = answer(
        ssl,
        conn,
        "client hello",
        () => callback(conn as unknown as Connection, readClientHello(ssl)),
      );
      if (verdict === STILL_PENDING) return SSL_CLIENT_HELLO_RETRY;
      if (verdict === false) {
        setInt32(al, SSL_AD_HANDSHAKE_FAILURE);
        return SSL_CLIENT_HELLO_ERROR;
      }
      if (verdict !== true && verdict !== undefined) {
        throw new TypeError(
          `The client hello callback returned ${
            describe(verdict)
          }: it must return true, false or nothing (or a Promise of one)`,
        );
      }
    }
    return lookupAtHello(ssl, conn, looking) ? SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_RETRY;
  } catch (e) {
    recordCallbackError(e);
    setInt32(al, SSL_AD_INTERNAL_ERROR);
    return SSL_CLIENT_HELLO_ERROR;
  }
}

/**
 * The client hello trampoline: installed by a client hello callback and by a
 * session store (whose asynchronous lookups run at this stage).
 *
 * @param ctx The `SSL_CTX*`.
 */
export function installClientHello(ctx: Deno.PointerObject): void {
  clientHelloTrampoline ??= new Deno.UnsafeCallback(CLIENT_HELLO_CB, counted(clientHello));
  native().ssl.SSL_CTX_set_client_hello_cb(ctx, clientHelloTrampoline.pointer, null);
}

/**
 * Installs the client hello callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setClientHelloCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: ClientHelloCallback,
): void {
  requireFunction(callback);
  owner._callbacks.clientHello = callback;
  installClientHello(ctx);
}

// ---- certificate ----------------------------------------------------------------------------

const CERT_CB = { parameters: ["pointer", "pointer"], result: "i32" } as const;
let certTrampoline: Deno.UnsafeCallback<typeof CERT_CB> | undefined;

function certificate(ssl: Deno.PointerValue): number {
  try {
    const conn = ownerOf<Owner>(ssl);
    if (!conn || ssl === null) return 1;
    // An asynchronous servername callback first: it may switch the context.
    const sni = answer(ssl, conn, "servername", () => undefined);
    if (sni === STILL_PENDING) return CERT_RETRY;
    const callback = conn.getContext()._callbacks.cert;
    if (!callback) return 1;
    const verdict = answer(ssl, conn, "certificate", () => callback(conn as unknown as Connection));
    if (verdict === STILL_PENDING) return CERT_RETRY;
    if (verdict === false) return 0;
    if (verdict !== true && verdict !== undefined) {
      throw new TypeError(
        `The certificate callback returned ${
          describe(verdict)
        }: it must return true, false or nothing (or a Promise of one)`,
      );
    }
    return 1;
  } catch (e) {
    recordCallbackError(e);
    return 0;
  }
}

function certTrampolinePointer(): Deno.PointerObject {
  certTrampoline ??= new Deno.UnsafeCallback(CERT_CB, counted(certificate));
  return certTrampoline.pointer;
}

/**
 * Installs the certificate callback of a context (`SSL_CTX_set_cert_cb`).
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setCertCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: CertCallback,
): void {
  requireFunction(callback);
  owner._callbacks.cert = callback;
  native().ssl.SSL_CTX_set_cert_cb(ctx, certTrampolinePointer(), null);
}

// ---- session store ----------------------------------------------------------------------------

/**
 * Keeps a server context's sessions in a store (see `_session_store.ts`):
 * its callbacks, the new-session trampoline, and the client hello stage
 * where lookups run.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param store The store.
 */
export function setSessionStore(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  store: SessionStore,
): void {
  configureSessionStore(owner, ctx, store);
  installNewSession(ctx);
  installClientHello(ctx);
}
