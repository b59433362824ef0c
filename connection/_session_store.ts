/**
 * Sessions on the server's and the client's side: the new-session trampoline
 * (the application's callback), and the external session cache, a server's
 * sessions kept in an application's {@link SessionStore} through OpenSSL's
 * new, get and remove session callbacks, with lookups that may be
 * asynchronous. Internal.
 *
 * OpenSSL 3.0 cannot suspend its get-session callback (BoringSSL's
 * `SSL_magic_pending_session_ptr` does not exist there), so the lookup runs
 * one stage earlier, in the client hello callback, which can suspend
 * (`SSL_CLIENT_HELLO_RETRY`): the ID is read from the ClientHello (the
 * pre_shared_key identity of a stateful TLS 1.3 session, else the legacy
 * session ID of TLS 1.2), the store's answer is kept, and the get-session
 * callback hands it to OpenSSL. A store that throws, rejects or does not
 * answer in time costs a full handshake and a call of its `onError`, never
 * the connection.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { long } from "../ffi/ctypes.ts";
import { copyBytes } from "../ffi/memory.ts";
import {
  OP_NO_TICKET,
  SESS_CACHE_NO_INTERNAL,
  SESS_CACHE_SERVER,
  SSL_CTX_set_session_cache_mode,
  TLS1_3_VERSION,
} from "../ffi/constants.ts";
import { recordCallbackError } from "../errors/queue.ts";
import { counted, isThenable, ownerOf, requireFunction, watchSettled } from "../ffi/callbacks.ts";
import { helloExtension } from "./_negotiation.ts";
import { Session } from "./session.ts";
import { sessionContextOf, type Settled, STILL_PENDING, suspend } from "./_suspend.ts";
import type { Connection } from "./connection.ts";
import type { ContextBase } from "./context_base.ts";
import type { NewSessionCallback } from "./types.ts";
import type { SessionStore, SessionStoreOperation } from "./selection.ts";

/** How long a lookup may take before the handshake goes on without it, in ms. */
const DEFAULT_SESSION_STORE_TIMEOUT = 1000;
/** `SSL_MAX_SSL_SESSION_ID_LENGTH`: a stateful TLS 1.3 ticket is a session ID this long. */
const SESSION_ID_LENGTH = 32;
/** `TLSEXT_TYPE_pre_shared_key`. */
const EXT_PRE_SHARED_KEY = 41;
/** `TLSEXT_TYPE_supported_versions`. */
const EXT_SUPPORTED_VERSIONS = 43;
/** `SSL_CTRL_GET_MAX_PROTO_VERSION` on an `SSL*`. */
const SSL_CTRL_GET_MAX_PROTO_VERSION = 131;

/** What a connection's lookup found, for the get-session callback. */
interface Found {
  id: string;
  der: Uint8Array | null;
}
const found = new WeakMap<object, Found>();
/** Contexts with a store, by `SSL_CTX*` address: the remove callback gets only that. */
const contexts = new Map<bigint, WeakRef<ContextBase>>();
/** A collected context's entry goes; unless another context took its address since. */
const collected = new FinalizationRegistry<{ addr: bigint; ref: WeakRef<ContextBase> }>(
  ({ addr, ref }) => {
    if (contexts.get(addr) === ref) contexts.delete(addr);
  },
);

/**
 * Drops a closed context's entry, unless it made connections: those keep the
 * native context alive, and a session they spoil must still leave the store;
 * their entry goes when the context is collected.
 *
 * @param owner The context being closed.
 * @param addr Its `SSL_CTX*` address.
 */
export function forgetSessionStore(owner: ContextBase, addr: bigint): void {
  if (owner.inUse || contexts.get(addr)?.deref() !== owner) return;
  contexts.delete(addr);
  collected.unregister(owner);
}

/** How many contexts the remove callback can find: for tests. Internal. */
export function _sessionStoreContextCount(): number {
  return contexts.size;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Tells the store's `onError` (else the console) why it was not used.
 *
 * @param store The store.
 * @param error What went wrong.
 * @param operation Which call.
 */
function storeFailed(
  store: SessionStore,
  error: unknown,
  operation: SessionStoreOperation,
): void {
  try {
    if (store.onError) store.onError(error, operation);
    else console.error(`denossl: session store ${operation} failed; full handshakes go on:`, error);
  } catch (e) {
    reportError(e); // an onError that throws must not break the handshake either
  }
}

/** Calls a store method that answers nothing; a throw or a rejection goes to onError. */
function fireAndLog(store: SessionStore, operation: "set" | "delete", call: () => unknown): void {
  try {
    const value = call();
    if (isThenable(value)) {
      Promise.resolve(value).then(undefined, (e: unknown) => storeFailed(store, e, operation));
    }
  } catch (e) {
    storeFailed(store, e, operation);
  }
}

/** The session ID a ClientHello asks to resume, or null when it asks none the store can hold. */
function helloSessionId(ssl: Deno.PointerObject): Uint8Array | null {
  const psk = helloExtension(ssl, EXT_PRE_SHARED_KEY);
  if (psk !== null && psk.length >= 4) {
    // OfferedPsks: identities<7..2^16-1> of { identity<1..2^16-1>, obfuscated_ticket_age u32 }.
    const n = (psk[2]! << 8) | psk[3]!;
    if (n === SESSION_ID_LENGTH && psk.length >= 4 + n) return psk.slice(4, 4 + n);
    return null;
  }
  const sv = helloExtension(ssl, EXT_SUPPORTED_VERSIONS);
  if (sv !== null) {
    const max = Number(native().ssl.SSL_ctrl(ssl, SSL_CTRL_GET_MAX_PROTO_VERSION, long(0), null));
    let tls13 = false;
    for (let i = 1; i + 1 < sv.length; i += 2) {
      tls13 ||= ((sv[i]! << 8) | sv[i + 1]!) === TLS1_3_VERSION;
    }
    // TLS 1.3 will be chosen: its legacy session ID is random (middlebox compatibility).
    if (tls13 && (max === 0 || max >= TLS1_3_VERSION)) return null;
  }
  const out = new BigUint64Array(1);
  const length = Number(native().ssl.SSL_client_hello_get0_session_id(ssl, out));
  const ptr = Deno.UnsafePointer.create(out[0]!);
  return ptr === null || length === 0 ? null : copyBytes(ptr, length);
}

/** The store's answer, checked: DER bytes, or null for a miss. */
function derOf(store: SessionStore, value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array && value.length > 0) return value;
  storeFailed(store, new TypeError("The session store's get must return DER bytes or null"), "get");
  return null;
}

/** A lookup that gives up after `ms`: the handshake never waits for a store longer. */
function within(promise: PromiseLike<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut(`The session store's get took over ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([Promise.resolve(promise), late]).finally(() => clearTimeout(timer));
}

/**
 * The session lookup of the client hello stage.
 *
 * @param ssl The server's `SSL*`.
 * @param conn Its connection.
 * @param looking The settled answer of a lookup that suspended, {@link STILL_PENDING}, or undefined.
 * @returns True when the handshake may go on, false when it waits for the store.
 */
export function lookupAtHello(
  ssl: Deno.PointerObject,
  conn: { getContext(): ContextBase },
  looking: Settled | typeof STILL_PENDING | undefined,
): boolean {
  const store = sessionContextOf(conn)._callbacks.sessionStore;
  if (!store) return true;
  if (looking === STILL_PENDING) return false;
  const entry = found.get(conn);
  if (looking !== undefined) {
    if (entry) entry.der = looking.ok ? derOf(store, looking.value) : null;
    if (!looking.ok) storeFailed(store, looking.value, "get");
    return true;
  }
  const id = helloSessionId(ssl);
  if (id === null) return true;
  const key = hex(id);
  let value: unknown;
  try {
    value = store.get(key);
  } catch (e) {
    storeFailed(store, e, "get");
    return true;
  }
  if (isThenable(value)) {
    found.set(conn, { id: key, der: null });
    suspend(ssl, "session store", within(value, store.timeout ?? DEFAULT_SESSION_STORE_TIMEOUT));
    return false;
  }
  found.set(conn, { id: key, der: derOf(store, value) });
  return true;
}

// ---- new sessions ------------------------------------------------------------------------

const NEW_SESSION_CB = { parameters: ["pointer", "pointer"], result: "i32" } as const;
let newSessionTrampoline: Deno.UnsafeCallback<typeof NEW_SESSION_CB> | undefined;

function newSession(ssl: Deno.PointerValue, session: Deno.PointerValue): number {
  try {
    const conn = ownerOf<{ getContext(): ContextBase }>(ssl);
    if (!conn || session === null || ssl === null) return 0;
    // OpenSSL calls the session context's callback: the context the connection started with.
    const ctx = sessionContextOf(conn);
    storeNewSession(ssl, ctx, session);
    const callback = ctx._callbacks.newSession;
    if (!callback) return 0;
    // Returning 0 leaves OpenSSL's reference with OpenSSL; the Session takes its own.
    watchSettled(callback(conn as unknown as Connection, Session._borrow(session)), ssl, conn);
  } catch (e) {
    recordCallbackError(e);
  }
  return 0;
}

/**
 * Installs the new-session callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setNewSessionCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: NewSessionCallback,
): void {
  requireFunction(callback);
  owner._callbacks.newSession = callback;
  installNewSession(ctx);
}

/**
 * Installs the new-session trampoline (for a callback, or a session store).
 *
 * @param ctx The `SSL_CTX*`.
 */
export function installNewSession(ctx: Deno.PointerObject): void {
  newSessionTrampoline ??= new Deno.UnsafeCallback(NEW_SESSION_CB, counted(newSession));
  native().ssl.SSL_CTX_sess_set_new_cb(ctx, newSessionTrampoline.pointer);
}

// ---- OpenSSL's session callbacks ---------------------------------------------------------

const GET_CB = { parameters: ["pointer", "pointer", "i32", "pointer"], result: "pointer" } as const;
let getTrampoline: Deno.UnsafeCallback<typeof GET_CB> | undefined;

function getSession(
  ssl: Deno.PointerValue,
  data: Deno.PointerValue,
  length: number,
  copy: Deno.PointerValue,
): Deno.PointerValue {
  const conn = ownerOf<{ getContext(): ContextBase }>(ssl);
  if (!conn || data === null || length <= 0) return null;
  const entry = found.get(conn);
  found.delete(conn);
  if (!entry || entry.der === null || entry.id !== hex(copyBytes(data, length))) return null;
  const der = new Uint8Array(entry.der); // a stable buffer d2i may read from
  const cursor = new BigUint64Array([BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(der)))]);
  const { ssl: lib, crypto } = native();
  const session = lib.d2i_SSL_SESSION(null, cursor, long(der.length));
  if (session === null) {
    crypto.ERR_clear_error(); // a bad entry is a miss, not this handshake's error
    const store = sessionContextOf(conn)._callbacks.sessionStore;
    if (store) {
      storeFailed(
        store,
        new TypeError("The session store returned bytes that are not a session"),
        "get",
      );
    }
    return null;
  }
  // OpenSSL takes the one reference d2i gave (copy = 0: it must not add its own).
  if (copy !== null) new Int32Array(Deno.UnsafePointerView.getArrayBuffer(copy, 4))[0] = 0;
  return session;
}

const REMOVE_CB = { parameters: ["pointer", "pointer"], result: "void" } as const;
let removeTrampoline: Deno.UnsafeCallback<typeof REMOVE_CB> | undefined;

function sessionId(session: Deno.PointerObject): string | null {
  const length = new Uint32Array(1);
  const ptr = native().ssl.SSL_SESSION_get_id(session, length);
  return ptr === null || length[0] === 0 ? null : hex(copyBytes(ptr, length[0]!));
}

function removeSession(ctx: Deno.PointerValue, session: Deno.PointerValue): void {
  if (ctx === null || session === null) return;
  const store = contexts.get(BigInt(Deno.UnsafePointer.value(ctx)))?.deref()?._callbacks
    .sessionStore;
  const id = sessionId(session);
  if (store && id !== null) fireAndLog(store, "delete", () => store.delete(id));
}

/**
 * Hands a server's new session to its context's store (from the new-session trampoline).
 *
 * @param ssl The `SSL*`.
 * @param ctx The session's context.
 * @param session The new `SSL_SESSION*`.
 */
function storeNewSession(
  ssl: Deno.PointerObject,
  ctx: ContextBase,
  session: Deno.PointerObject,
): void {
  const store = ctx._callbacks.sessionStore;
  const { ssl: lib } = native();
  if (!store || lib.SSL_is_server(ssl) !== 1) return;
  // A TLS 1.3 session with a stateless ticket carries its own state: nothing to keep.
  const stateless = (BigInt(lib.SSL_get_options(ssl)) & BigInt(OP_NO_TICKET)) === 0n;
  if (lib.SSL_version(ssl) === TLS1_3_VERSION && stateless) return;
  const id = sessionId(session);
  const length = lib.i2d_SSL_SESSION(session, null);
  if (id === null || length <= 0) return;
  const der = new Uint8Array(length);
  const cursor = new BigUint64Array([BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(der)))]);
  if (lib.i2d_SSL_SESSION(session, cursor) !== length) return;
  const ttl = Number(lib.SSL_SESSION_get_timeout(session));
  fireAndLog(store, "set", () => store.set(id, der, ttl));
}

/**
 * Keeps a server context's sessions in a store: OpenSSL's internal cache off
 * (the store is the one cache), stateful TLS 1.3 sessions (`OP_NO_TICKET`),
 * and the get and remove callbacks. The caller installs the new-session and
 * client hello trampolines.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param store The store.
 */
export function configureSessionStore(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  store: SessionStore,
): void {
  if (store === null || typeof store !== "object") {
    throw new TypeError("The session store must be an object with get, set and delete");
  }
  requireFunction(store.get, "store.get");
  requireFunction(store.set, "store.set");
  requireFunction(store.delete, "store.delete");
  if (store.onError !== undefined) requireFunction(store.onError, "store.onError");
  const timeout = store.timeout;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) {
    throw new RangeError("store.timeout must be a positive number of milliseconds");
  }
  owner._callbacks.sessionStore = store;
  const addr = BigInt(Deno.UnsafePointer.value(ctx));
  const ref = new WeakRef(owner);
  contexts.set(addr, ref);
  collected.register(owner, { addr, ref }, owner);
  const { ssl } = native();
  getTrampoline ??= new Deno.UnsafeCallback(GET_CB, counted(getSession));
  removeTrampoline ??= new Deno.UnsafeCallback(REMOVE_CB, counted(removeSession));
  ssl.SSL_CTX_sess_set_get_cb(ctx, getTrampoline.pointer);
  ssl.SSL_CTX_sess_set_remove_cb(ctx, removeTrampoline.pointer);
  SSL_CTX_set_session_cache_mode(ctx, SESS_CACHE_SERVER | SESS_CACHE_NO_INTERNAL);
  ssl.SSL_CTX_set_options(ctx, BigInt(OP_NO_TICKET));
}
