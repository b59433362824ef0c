/**
 * The shared callback trampolines of negotiation (ALPN, OCSP stapling, new
 * sessions) and observation (key log, info), the ClientHello reader, and the
 * helpers that `Context` and `Connection` call to install them. Internal:
 * the callback types and `NO_OVERLAPPING_PROTOCOLS` live in `types.ts`; the
 * SNI, client hello and certificate trampolines, which may suspend, in
 * `_selection.ts`.
 *
 * Each trampoline is one `Deno.UnsafeCallback` made on first use and never
 * closed (OpenSSL may call it as long as any `SSL_CTX` holds it) nor ref'd.
 * It finds its `Connection` through `ownerOf(ssl)`, then the JS callback on
 * the connection's current `Context` (`getContext()`, which follows an SNI
 * switch just as OpenSSL's `s->ctx` does), in the context's own callback
 * slots. A JS exception is caught, recorded with `recordCallbackError`,
 * OpenSSL is told to fail, and the call that drove OpenSSL re-throws it. A
 * Promise where OpenSSL needs an answer now is such an exception (a
 * `TypeError`, see `refuseThenable`); where none is needed (key log, info,
 * new session), its rejection comes out of the next call that drives the
 * connection (`watchSettled`).
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { usize } from "../ffi/ctypes.ts";
import { address, copyBytes, readCString, toBytes, utf8 } from "../ffi/memory.ts";
import {
  SSL_CTX_set_tlsext_status_cb,
  SSL_get_tlsext_status_ocsp_resp,
  SSL_set_tlsext_status_ocsp_resp,
  SSL_TLSEXT_ERR_ALERT_FATAL,
  SSL_TLSEXT_ERR_NOACK,
  SSL_TLSEXT_ERR_OK,
} from "../ffi/constants.ts";
import { recordCallbackError } from "../errors/queue.ts";
import {
  counted,
  describe,
  ownerOf,
  refuseThenable,
  requireFunction,
  watchSettled,
} from "../ffi/callbacks.ts";
import { NO_OVERLAPPING_PROTOCOLS } from "./types.ts";
import type { Connection } from "./connection.ts";
import type { CallbackSlots, ContextBase } from "./context_base.ts";
import type {
  AlpnSelectCallback,
  ClientHello,
  InfoCallback,
  KeylogCallback,
  OcspClientCallback,
  OcspServerCallback,
} from "./types.ts";

export { NO_OVERLAPPING_PROTOCOLS };

/** What a connection must offer the trampolines. */
interface Owner {
  getContext(): ContextBase;
  isServer(): boolean;
  getVerifyMode?(): number;
  setVerify(mode: number, callback?: unknown): void;
  setVerifyDepth(depth: number): void;
}

function ownerHooks(ssl: Deno.PointerValue): { conn: Owner; hooks: CallbackSlots } | undefined {
  const conn = ownerOf<Owner>(ssl);
  if (!conn) return undefined;
  return { conn, hooks: conn.getContext()._callbacks };
}

// ---- ALPN ---------------------------------------------------------------------------

/**
 * Encodes protocol names in ALPN wire format (length-prefixed).
 *
 * @param protos The names.
 * @returns The wire bytes.
 * @throws {TypeError} When the list is empty or a name is empty or longer than 255 bytes.
 */
export function alpnWire(protos: readonly (string | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  if (!Array.isArray(protos) || protos.length === 0) {
    throw new TypeError("ALPN protocols must be a non-empty array");
  }
  const encoded = protos.map((p) => {
    if (typeof p !== "string" && !(p instanceof Uint8Array)) {
      throw new TypeError("Each ALPN protocol must be a string or a Uint8Array");
    }
    const bytes = toBytes(p);
    if (bytes.length === 0 || bytes.length > 255) {
      throw new TypeError("Each ALPN protocol must be 1 to 255 bytes long");
    }
    return bytes;
  });
  const out = new Uint8Array(encoded.reduce((n, b) => n + 1 + b.length, 0));
  let offset = 0;
  for (const b of encoded) {
    out[offset++] = b.length;
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

/** Decodes an ALPN list, with each entry's offset in `wire`. */
function alpnEntries(wire: Uint8Array): { name: string; bytes: Uint8Array; offset: number }[] {
  const out: { name: string; bytes: Uint8Array; offset: number }[] = [];
  let i = 0;
  while (i < wire.length) {
    const n = wire[i]!;
    const bytes = wire.subarray(i + 1, i + 1 + n);
    if (bytes.length !== n) break;
    out.push({ name: utf8(bytes), bytes, offset: i + 1 });
    i += 1 + n;
  }
  return out;
}

const ALPN_CB = {
  parameters: ["pointer", "pointer", "pointer", "pointer", "u32", "pointer"],
  result: "i32",
} as const;
let alpnTrampoline: Deno.UnsafeCallback<typeof ALPN_CB> | undefined;

function alpnSelect(
  ssl: Deno.PointerValue,
  out: Deno.PointerValue,
  outlen: Deno.PointerValue,
  input: Deno.PointerValue,
  inlen: number,
): number {
  try {
    const found = ownerHooks(ssl);
    const callback = found?.hooks.alpnSelect;
    if (!found || !callback || input === null || out === null || outlen === null) {
      return SSL_TLSEXT_ERR_NOACK;
    }
    const offered = alpnEntries(copyBytes(input, inlen));
    const choice = callback(
      found.conn as unknown as Connection,
      offered.map((e) => e.name),
    );
    refuseThenable(choice, "ALPN select", "return a protocol or NO_OVERLAPPING_PROTOCOLS");
    if (choice === NO_OVERLAPPING_PROTOCOLS) return SSL_TLSEXT_ERR_NOACK;
    if (typeof choice !== "string") {
      throw new TypeError(
        "The ALPN select callback must return a string or NO_OVERLAPPING_PROTOCOLS",
      );
    }
    if (choice === "") return SSL_TLSEXT_ERR_ALERT_FATAL;
    // Match by name, the strings the callback was given: a protocol that is not valid UTF-8
    // decodes lossily and would never match its own re-encoding.
    const entry = offered.find((e) => e.name === choice);
    if (!entry) {
      throw new TypeError(
        `The ALPN select callback chose "${choice}", which the client did not offer`,
      );
    }
    // Point into OpenSSL's own `in` buffer, which outlives the callback (as SSL_select_next_proto does).
    const chosen = Deno.UnsafePointer.offset(input as Deno.PointerObject, entry.offset);
    new BigUint64Array(Deno.UnsafePointerView.getArrayBuffer(out, 8))[0] = address(chosen);
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(outlen, 1))[0] = entry.bytes.length;
    return SSL_TLSEXT_ERR_OK;
  } catch (e) {
    recordCallbackError(e);
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
}

/**
 * Installs the ALPN select callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setAlpnSelectCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: AlpnSelectCallback,
): void {
  requireFunction(callback);
  alpnTrampoline ??= new Deno.UnsafeCallback(ALPN_CB, counted(alpnSelect));
  owner._callbacks.alpnSelect = callback;
  native().ssl.SSL_CTX_set_alpn_select_cb(ctx, alpnTrampoline.pointer, null);
}

/**
 * The ALPN protocol agreed on a connection (`SSL_get0_alpn_selected`).
 *
 * @param ssl The `SSL*`.
 * @returns The protocol, or null when none was agreed.
 */
export function alpnSelected(ssl: Deno.PointerObject): string | null {
  const data = new BigUint64Array(1);
  const length = new Uint32Array(1);
  native().ssl.SSL_get0_alpn_selected(ssl, data, length);
  const ptr = Deno.UnsafePointer.create(data[0]!);
  return ptr === null || length[0] === 0 ? null : utf8(copyBytes(ptr, length[0]!));
}

// ---- client hello -----------------------------------------------------------------------

/** `TLSEXT_TYPE_server_name`. */
const EXT_SERVER_NAME = 0;
/** `TLSEXT_TYPE_supported_groups`. */
const EXT_SUPPORTED_GROUPS = 10;
/** `TLSEXT_TYPE_application_layer_protocol_negotiation`. */
const EXT_ALPN = 16;
/** `TLSEXT_TYPE_supported_versions`. */
const EXT_SUPPORTED_VERSIONS = 43;

/**
 * One extension of the ClientHello being processed (valid only inside the client hello callback).
 *
 * @param ssl The server's `SSL*`.
 * @param type The extension type (`TLSEXT_TYPE_*`).
 * @returns Its bytes, or null when absent.
 */
export function helloExtension(ssl: Deno.PointerObject, type: number): Uint8Array | null {
  const data = new BigUint64Array(1);
  const length = new BigUint64Array(1);
  if (native().ssl.SSL_client_hello_get0_ext(ssl, type, data, length) !== 1) return null;
  const ptr = Deno.UnsafePointer.create(data[0]!);
  return ptr === null ? new Uint8Array(0) : copyBytes(ptr, Number(length[0]));
}

function u16List(bytes: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i + 1 < end; i += 2) out.push((bytes[i]! << 8) | bytes[i + 1]!);
  return out;
}

/**
 * Reads the ClientHello being processed (valid only inside the client hello callback).
 *
 * @param ssl The server's `SSL*`.
 * @returns What the client offered.
 */
export function readClientHello(ssl: Deno.PointerObject): ClientHello {
  const { ssl: lib, crypto } = native();
  const legacyVersion = lib.SSL_client_hello_get0_legacy_version(ssl);

  const cipherPtr = new BigUint64Array(1);
  const cipherLength = Number(lib.SSL_client_hello_get0_ciphers(ssl, cipherPtr));
  const base = Deno.UnsafePointer.create(cipherPtr[0]!);
  const ciphers: number[] = [];
  const cipherNames: string[] = [];
  if (base !== null) {
    const raw = copyBytes(base, cipherLength);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      ciphers.push((raw[i]! << 8) | raw[i + 1]!);
      const cipher = lib.SSL_CIPHER_find(ssl, Deno.UnsafePointer.offset(base, i));
      const name = cipher === null ? null : readCString(lib.SSL_CIPHER_get_name(cipher));
      if (name) cipherNames.push(name);
    }
  }

  const sv = helloExtension(ssl, EXT_SUPPORTED_VERSIONS);
  const versions = sv && sv.length > 0 ? u16List(sv, 1, 1 + sv[0]!) : [legacyVersion];

  let serverName: string | null = null;
  const sni = helloExtension(ssl, EXT_SERVER_NAME);
  if (sni && sni.length >= 5) {
    // server_name_list: u16 length, then entries of type (u8), u16 length, name.
    let i = 2;
    while (i + 3 <= sni.length) {
      const type = sni[i]!;
      const n = (sni[i + 1]! << 8) | sni[i + 2]!;
      if (type === 0) {
        serverName = utf8(sni.subarray(i + 3, i + 3 + n));
        break;
      }
      i += 3 + n;
    }
  }

  const alpn = helloExtension(ssl, EXT_ALPN);
  const alpnProtocols = alpn && alpn.length >= 2
    ? alpnEntries(alpn.subarray(2, 2 + ((alpn[0]! << 8) | alpn[1]!))).map((e) => e.name)
    : [];

  const sg = helloExtension(ssl, EXT_SUPPORTED_GROUPS);
  const groups = sg && sg.length >= 2 ? u16List(sg, 2, 2 + ((sg[0]! << 8) | sg[1]!)) : [];

  const extensions: number[] = [];
  const listPtr = new BigUint64Array(1);
  const listLength = new BigUint64Array(1);
  if (lib.SSL_client_hello_get1_extensions_present(ssl, listPtr, listLength) === 1) {
    const list = Deno.UnsafePointer.create(listPtr[0]!);
    if (list !== null) {
      const n = Number(listLength[0]);
      const ints = new Int32Array(n);
      if (n > 0) Deno.UnsafePointerView.copyInto(list, new Uint8Array(ints.buffer));
      extensions.push(...ints);
      crypto.CRYPTO_free(list, null, 0);
    }
  }
  return {
    legacyVersion,
    versions,
    ciphers,
    cipherNames,
    serverName,
    alpnProtocols,
    groups,
    extensions,
  };
}

// ---- key log and info ----------------------------------------------------------------------

const KEYLOG_CB = { parameters: ["pointer", "pointer"], result: "void" } as const;
let keylogTrampoline: Deno.UnsafeCallback<typeof KEYLOG_CB> | undefined;

function keylog(ssl: Deno.PointerValue, line: Deno.PointerValue): void {
  try {
    const found = ownerHooks(ssl);
    const callback = found?.hooks.keylog;
    if (!found || !callback) return;
    watchSettled(
      callback(found.conn as unknown as Connection, readCString(line) ?? ""),
      ssl,
      found.conn,
    );
  } catch (e) {
    recordCallbackError(e);
  }
}

/**
 * Installs the key log callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setKeylogCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: KeylogCallback,
): void {
  requireFunction(callback);
  keylogTrampoline ??= new Deno.UnsafeCallback(KEYLOG_CB, counted(keylog));
  owner._callbacks.keylog = callback;
  native().ssl.SSL_CTX_set_keylog_callback(ctx, keylogTrampoline.pointer);
}

const INFO_CB = { parameters: ["pointer", "i32", "i32"], result: "void" } as const;
let infoTrampoline: Deno.UnsafeCallback<typeof INFO_CB> | undefined;

function info(ssl: Deno.PointerValue, where: number, ret: number): void {
  try {
    const found = ownerHooks(ssl);
    const callback = found?.hooks.info;
    if (!found || !callback) return;
    watchSettled(callback(found.conn as unknown as Connection, where, ret), ssl, found.conn);
  } catch (e) {
    recordCallbackError(e);
  }
}

/**
 * Installs the info callback of a context.
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param callback The callback.
 */
export function setInfoCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  callback: InfoCallback,
): void {
  requireFunction(callback);
  infoTrampoline ??= new Deno.UnsafeCallback(INFO_CB, counted(info));
  owner._callbacks.info = callback;
  native().ssl.SSL_CTX_set_info_callback(ctx, infoTrampoline.pointer);
}

// ---- OCSP stapling ---------------------------------------------------------------------------

const STATUS_CB = { parameters: ["pointer", "pointer"], result: "i32" } as const;
let statusTrampoline: Deno.UnsafeCallback<typeof STATUS_CB> | undefined;

function statusServer(ssl: Deno.PointerObject, conn: Owner, callback: OcspServerCallback): number {
  const der = callback(conn as unknown as Connection);
  refuseThenable(der, "OCSP server", "return the DER response or null");
  if (der === null || der === undefined) return SSL_TLSEXT_ERR_NOACK;
  if (!(der instanceof Uint8Array)) {
    throw new TypeError("The OCSP server callback must return a Uint8Array or null");
  }
  if (der.length === 0) return SSL_TLSEXT_ERR_NOACK;
  const { crypto } = native();
  // The SSL frees the response with OPENSSL_free: it must come from OpenSSL's allocator.
  const mem = crypto.CRYPTO_malloc(usize(der.length), null, 0);
  if (mem === null) throw new Error("Out of memory: CRYPTO_malloc failed");
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(mem, der.length)).set(der);
  if (SSL_set_tlsext_status_ocsp_resp(ssl, mem, der.length) !== 1) {
    crypto.CRYPTO_free(mem, null, 0);
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

function status(ssl: Deno.PointerValue): number {
  const server = ssl !== null && native().ssl.SSL_is_server(ssl) === 1;
  try {
    const found = ownerHooks(ssl);
    if (!found || ssl === null) return server ? SSL_TLSEXT_ERR_NOACK : 1;
    if (server) {
      const callback = found.hooks.ocspServer;
      return callback ? statusServer(ssl, found.conn, callback) : SSL_TLSEXT_ERR_NOACK;
    }
    const callback = found.hooks.ocspClient;
    if (!callback) return 1;
    const out = new BigUint64Array(1);
    const length = SSL_get_tlsext_status_ocsp_resp(ssl, out);
    const ptr = Deno.UnsafePointer.create(out[0]!);
    const der = ptr !== null && length > 0 ? copyBytes(ptr, length) : new Uint8Array(0);
    const ok: unknown = callback(found.conn as unknown as Connection, der);
    refuseThenable(ok, "OCSP client", "return true or false");
    if (typeof ok !== "boolean") {
      throw new TypeError(
        `The OCSP client callback returned ${describe(ok)}: it must return true or false`,
      );
    }
    return ok ? 1 : 0;
  } catch (e) {
    recordCallbackError(e);
    return server ? SSL_TLSEXT_ERR_ALERT_FATAL : -1;
  }
}

/**
 * Installs an OCSP callback of a context (the server's or the client's: OpenSSL has one slot).
 *
 * @param owner The context.
 * @param ctx Its `SSL_CTX*`, checked mutable by the caller.
 * @param role Which callback.
 * @param callback The callback.
 */
export function setOcspCallback(
  owner: ContextBase,
  ctx: Deno.PointerObject,
  role: "server" | "client",
  callback: OcspServerCallback | OcspClientCallback,
): void {
  requireFunction(callback);
  statusTrampoline ??= new Deno.UnsafeCallback(STATUS_CB, counted(status));
  const h = owner._callbacks;
  if (role === "server") h.ocspServer = callback as OcspServerCallback;
  else h.ocspClient = callback as OcspClientCallback;
  SSL_CTX_set_tlsext_status_cb(ctx, statusTrampoline.pointer);
}
