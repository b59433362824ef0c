/**
 * The per-connection handshake trace (Node's `tlsSocket.enableTrace()`): one line per
 * handshake message, alert and change-cipher-spec from the message callback, and the start
 * and end of each handshake from the info callback, which then calls the context's own info
 * callback so a user's stays in force. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { readCString } from "../ffi/memory.ts";
import { counted, ownerOf, requireFunction, watchSettled } from "../ffi/callbacks.ts";
import { recordCallbackError } from "../errors/queue.ts";
import type { Connection } from "./connection.ts";
import type { ContextBase } from "./context_base.ts";
import type { TraceSink } from "./extras.ts";

interface Traced {
  getContext(): ContextBase;
  isServer(): boolean;
}

const MSG_CB = {
  parameters: ["i32", "i32", "i32", "pointer", "usize", "pointer", "pointer"],
  result: "void",
} as const;
const INFO_CB = { parameters: ["pointer", "i32", "i32"], result: "void" } as const;
let msgTrampoline: Deno.UnsafeCallback<typeof MSG_CB> | undefined;
let infoTrampoline: Deno.UnsafeCallback<typeof INFO_CB> | undefined;
const sinks = new WeakMap<object, TraceSink>();

/** `SSL3_RT_CHANGE_CIPHER_SPEC`, `SSL3_RT_ALERT`, `SSL3_RT_HANDSHAKE`. */
const RT_CCS = 20;
const RT_ALERT = 21;
const RT_HANDSHAKE = 22;
/** `SSL_CB_HANDSHAKE_START`, `SSL_CB_HANDSHAKE_DONE`. */
const CB_HANDSHAKE_START = 0x10;
const CB_HANDSHAKE_DONE = 0x20;

const HANDSHAKE_TYPES: Record<number, string> = {
  0: "HelloRequest",
  1: "ClientHello",
  2: "ServerHello",
  3: "HelloVerifyRequest",
  4: "NewSessionTicket",
  5: "EndOfEarlyData",
  8: "EncryptedExtensions",
  11: "Certificate",
  12: "ServerKeyExchange",
  13: "CertificateRequest",
  14: "ServerHelloDone",
  15: "CertificateVerify",
  16: "ClientKeyExchange",
  20: "Finished",
  22: "CertificateStatus",
  24: "KeyUpdate",
  254: "MessageHash",
};

const VERSIONS: Record<number, string> = {
  0x0300: "SSLv3",
  0x0301: "TLSv1",
  0x0302: "TLSv1.1",
  0x0303: "TLSv1.2",
  0x0304: "TLSv1.3",
  0xfeff: "DTLSv1",
  0xfefd: "DTLSv1.2",
};

function emit(conn: Traced, line: string): void {
  const sink = sinks.get(conn);
  if (sink) sink(`${conn.isServer() ? "server" : "client"} ${line}`);
}

function describeMessage(type: number, buf: Deno.PointerValue, len: number): string | null {
  const bytes = buf === null || len === 0 ? null : new Deno.UnsafePointerView(buf);
  if (type === RT_HANDSHAKE) {
    const t = bytes?.getUint8(0) ?? -1;
    return `Handshake ${HANDSHAKE_TYPES[t] ?? `type ${t}`}`;
  }
  if (type === RT_ALERT && bytes !== null && len >= 2) {
    const value = (bytes.getUint8(0) << 8) | bytes.getUint8(1);
    const { ssl } = native();
    const level = readCString(ssl.SSL_alert_type_string_long(value)) ?? "";
    return `Alert ${level} ${readCString(ssl.SSL_alert_desc_string_long(value)) ?? ""}`;
  }
  return type === RT_CCS ? "ChangeCipherSpec" : null;
}

function message(
  writeP: number,
  version: number,
  contentType: number,
  buf: Deno.PointerValue,
  len: number | bigint,
  ssl: Deno.PointerValue,
): void {
  try {
    const conn = ownerOf<Traced>(ssl);
    if (!conn) return;
    const n = Number(len);
    const what = describeMessage(contentType, buf, n);
    if (what === null) return;
    const v = VERSIONS[version] ?? `0x${version.toString(16)}`;
    emit(conn, `${writeP ? "->" : "<-"} ${what} (${v}, ${n} bytes)`);
  } catch (e) {
    recordCallbackError(e);
  }
}

function info(ssl: Deno.PointerValue, where: number, ret: number): void {
  try {
    const conn = ownerOf<Traced>(ssl);
    if (!conn) return;
    if (where & CB_HANDSHAKE_START) emit(conn, "-- handshake start");
    if (where & CB_HANDSHAKE_DONE) emit(conn, "-- handshake done");
    // This connection's callback replaces the context's in OpenSSL: call the user's here.
    const user = conn.getContext()._callbacks.info;
    if (user) watchSettled(user(conn as unknown as Connection, where, ret), ssl, conn);
  } catch (e) {
    recordCallbackError(e);
  }
}

function stderrSink(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
}

/**
 * Starts tracing a connection (`SSL_set_msg_callback` and `SSL_set_info_callback`).
 *
 * @param ssl The `SSL*`.
 * @param conn Its owner.
 * @param sink Where lines go; standard error by default.
 */
export function enableTrace(ssl: Deno.PointerObject, conn: object, sink?: TraceSink): void {
  if (sink !== undefined) requireFunction(sink, "sink");
  msgTrampoline ??= new Deno.UnsafeCallback(MSG_CB, counted(message));
  infoTrampoline ??= new Deno.UnsafeCallback(INFO_CB, counted(info));
  sinks.set(conn, sink ?? stderrSink);
  const { ssl: lib } = native();
  lib.SSL_set_msg_callback(ssl, msgTrampoline.pointer);
  lib.SSL_set_info_callback(ssl, infoTrampoline.pointer);
}

/**
 * Stops tracing: the context's info callback applies again.
 *
 * @param ssl The `SSL*`.
 * @param conn Its owner.
 */
export function disableTrace(ssl: Deno.PointerObject, conn: object): void {
  sinks.delete(conn);
  const { ssl: lib } = native();
  lib.SSL_set_msg_callback(ssl, null);
  lib.SSL_set_info_callback(ssl, null);
}
