/**
 * `ContextProtocol`: the protocol half of a `Context`'s configuration (versions, ciphers,
 * groups, security level, options and modes, session timeout, DHE parameters, TLS 1.3 tickets
 * and early data, record sizes, cipher listings).
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr } from "../ffi/memory.ts";
import { long } from "../ffi/ctypes.ts";
import {
  SSL_CTX_clear_mode,
  SSL_CTX_get_max_proto_version,
  SSL_CTX_get_min_proto_version,
  SSL_CTX_get_mode,
  SSL_CTX_set1_groups_list,
  SSL_CTX_set_max_proto_version,
  SSL_CTX_set_min_proto_version,
  SSL_CTX_set_mode,
} from "../ffi/constants.ts";
import { clearErrors } from "../errors/queue.ts";
import type { PKey } from "../crypto/pkey.ts";
import { ContextBase } from "./context_base.ts";
import * as parity from "./_parity.ts";

/**
 * The protocol settings of a {@link Context}: versions, ciphers and groups,
 * the security level, options and modes, DHE parameters, TLS 1.3 tickets and
 * early data, record sizes. Use `Context`, which has all of these; this class
 * exists to keep each file readable.
 *
 * @example Versions and ciphers, through a Context
 * ```ts
 * import { Context, TLS1_2_VERSION, TLS_METHOD } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 * using ctx = new Context(TLS_METHOD);
 * ctx.setMinProtoVersion(TLS1_2_VERSION);
 * ctx.setCipherList("ECDHE+AESGCM");
 * assert.equal(ctx.getMinProtoVersion(), TLS1_2_VERSION);
 * assert.ok(ctx.getCiphers().length > 0);
 * ```
 */
export class ContextProtocol extends ContextBase {
  // ---- protocol ------------------------------------------------------------------------

  /**
   * Sets the lowest protocol version (`SSL_CTX_set_min_proto_version`).
   *
   * @param version A `*_VERSION` constant, or 0 for the lowest supported.
   * @throws {SSLError} When the version is not supported.
   */
  setMinProtoVersion(version: number): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      SSL_CTX_set_min_proto_version(ctx, version) === 1,
      `Unsupported minimum protocol version 0x${version.toString(16)}`,
    );
  }

  /**
   * Sets the highest protocol version (`SSL_CTX_set_max_proto_version`).
   *
   * @param version A `*_VERSION` constant, or 0 for the highest supported.
   * @throws {SSLError} When the version is not supported.
   */
  setMaxProtoVersion(version: number): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      SSL_CTX_set_max_proto_version(ctx, version) === 1,
      `Unsupported maximum protocol version 0x${version.toString(16)}`,
    );
  }

  /**
   * The lowest protocol version set, or 0 when unset.
   *
   * @returns A `*_VERSION` constant or 0.
   */
  getMinProtoVersion(): number {
    return SSL_CTX_get_min_proto_version(this._handle);
  }

  /**
   * The highest protocol version set, or 0 when unset.
   *
   * @returns A `*_VERSION` constant or 0.
   */
  getMaxProtoVersion(): number {
    return SSL_CTX_get_max_proto_version(this._handle);
  }

  /**
   * Sets the TLS 1.2-and-older cipher list (`SSL_CTX_set_cipher_list`).
   *
   * @param ciphers An OpenSSL cipher string, for example `"ECDHE+AESGCM"`.
   * @throws {SSLError} When nothing matches (`no cipher match`).
   */
  setCipherList(ciphers: string): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_set_cipher_list(ctx, cstr(ciphers, "ciphers")) === 1,
      `Invalid cipher list "${ciphers}"`,
    );
  }

  /**
   * Sets the TLS 1.3 cipher suites (`SSL_CTX_set_ciphersuites`).
   *
   * @param suites A colon-separated list, for example `"TLS_AES_128_GCM_SHA256"`.
   * @throws {SSLError} When the list is invalid.
   */
  setTls13Ciphersuites(suites: string): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_set_ciphersuites(ctx, cstr(suites, "suites")) === 1,
      `Invalid TLS 1.3 cipher suites "${suites}"`,
    );
  }

  /**
   * Sets the key exchange groups (`SSL_CTX_set1_groups_list`).
   *
   * @param groups Names such as `"X25519"`, `"P-256"`, as a list or a colon-separated string.
   * @throws {SSLError} When a group is unknown.
   */
  setGroups(groups: string | readonly string[]): void {
    const ctx = this._mutable();
    const list = typeof groups === "string" ? groups : groups.join(":");
    clearErrors();
    this._check(
      SSL_CTX_set1_groups_list(ctx, cstr(list, "groups")) === 1,
      `Invalid groups "${list}"`,
    );
  }

  /**
   * Sets the security level 0-5 (`SSL_CTX_set_security_level`).
   *
   * @param level The level.
   * @throws {RangeError} When out of range.
   */
  setSecurityLevel(level: number): void {
    const ctx = this._mutable();
    if (!Number.isInteger(level) || level < 0 || level > 5) {
      throw new RangeError("Security level must be 0 to 5");
    }
    native().ssl.SSL_CTX_set_security_level(ctx, level);
  }

  /**
   * The security level (`SSL_CTX_get_security_level`).
   *
   * @returns 0 to 5.
   */
  getSecurityLevel(): number {
    return native().ssl.SSL_CTX_get_security_level(this._handle);
  }

  /**
   * Sets option bits (`SSL_CTX_set_options`).
   *
   * @param options `OP_*` bits to add.
   * @returns All options now set.
   */
  setOptions(options: number): number {
    const ctx = this._mutable();
    return Number(native().ssl.SSL_CTX_set_options(ctx, BigInt(options)));
  }

  /**
   * Clears option bits (`SSL_CTX_clear_options`).
   *
   * @param options `OP_*` bits to remove.
   * @returns All options now set.
   */
  clearOptions(options: number): number {
    const ctx = this._mutable();
    return Number(native().ssl.SSL_CTX_clear_options(ctx, BigInt(options)));
  }

  /**
   * The option bits (`SSL_CTX_get_options`).
   *
   * @returns `OP_*` bits.
   */
  getOptions(): number {
    return Number(native().ssl.SSL_CTX_get_options(this._handle));
  }

  /**
   * Sets mode bits (`SSL_CTX_set_mode`).
   *
   * @param mode `MODE_*` bits to add.
   * @returns All mode bits now set.
   */
  setMode(mode: number): number {
    return SSL_CTX_set_mode(this._mutable(), mode);
  }

  /**
   * Clears mode bits (`SSL_CTX_clear_mode`).
   *
   * @param mode `MODE_*` bits to remove.
   * @returns All mode bits now set.
   */
  clearMode(mode: number): number {
    return SSL_CTX_clear_mode(this._mutable(), mode);
  }

  /**
   * The mode bits (`SSL_CTX_get_mode`).
   *
   * @returns `MODE_*` bits.
   */
  getMode(): number {
    return SSL_CTX_get_mode(this._handle);
  }

  /**
   * Sets how long sessions stay valid (`SSL_CTX_set_timeout`).
   *
   * @param seconds The timeout.
   * @returns The previous timeout.
   */
  setTimeout(seconds: number): number {
    const ctx = this._mutable();
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw new RangeError("seconds must be a non-negative integer");
    }
    return Number(native().ssl.SSL_CTX_set_timeout(ctx, long(seconds)));
  }

  /**
   * How long sessions stay valid (`SSL_CTX_get_timeout`).
   *
   * @returns Seconds.
   */
  getTimeout(): number {
    return Number(native().ssl.SSL_CTX_get_timeout(this._handle));
  }

  // ---- DHE, tickets, early data, record sizes, listings (glue in _parity.ts) ----------

  /**
   * Lets a server pick DHE parameters matching its certificate's strength
   * (`SSL_CTX_set_dh_auto`); OpenSSL 3 has none by default, so DHE suites fail without this
   * or {@link setTmpDh}.
   *
   * @param on Whether to turn it on.
   */
  setDhAuto(on = true): void {
    parity.setDhAuto(this._mutable(), on);
  }

  /**
   * Sets a server's DHE parameters (`SSL_CTX_set0_tmp_dh_pkey`), pyOpenSSL's `load_tmp_dh`
   * from text. Make them with `openssl dhparam -out dh.pem 2048`.
   *
   * @param params `-----BEGIN DH PARAMETERS-----` PEM text or bytes, or a `PKey` of DH parameters.
   * @throws {TypeError} When they are not DH parameters.
   * @throws {SSLError} When they cannot be parsed, or are too small for the security level.
   */
  setTmpDh(params: string | Uint8Array | PKey): void {
    parity.setTmpDh(this._mutable(), params);
  }

  /** {@link setTmpDh} from a PEM file (pyOpenSSL's `load_tmp_dh`); needs read permission. */
  loadTmpDh(path: string): void {
    parity.setTmpDh(this._mutable(), Deno.readFileSync(path));
  }

  /**
   * How many TLS 1.3 session tickets a server sends after a full handshake
   * (`SSL_CTX_set_num_tickets`, Python's `num_tickets`; OpenSSL's default is 2).
   *
   * @param count 0 or more.
   */
  setNumTickets(count: number): void {
    parity.setNumTickets(this._mutable(), count);
  }

  /** The number of TLS 1.3 tickets a server sends (`SSL_CTX_get_num_tickets`). */
  getNumTickets(): number {
    return Number(native().ssl.SSL_CTX_get_num_tickets(this._handle));
  }

  /**
   * How many bytes of TLS 1.3 early data (0-RTT) a server accepts, and writes in its tickets
   * (`SSL_CTX_set_max_early_data`, and `SSL_CTX_set_recv_max_early_data` above 16 KiB); 0, the
   * default, refuses early data. Early data can be replayed: see `Connection.writeEarlyData`.
   *
   * @param bytes The limit.
   */
  setMaxEarlyData(bytes: number): void {
    parity.setMaxEarlyData(this._mutable(), bytes);
  }

  /** The early data limit in bytes (`SSL_CTX_get_max_early_data`). */
  getMaxEarlyData(): number {
    return native().ssl.SSL_CTX_get_max_early_data(this._handle);
  }

  /** Caps each record's plaintext, 512 to 16384 bytes (`SSL_CTX_set_max_send_fragment`). */
  setMaxSendFragment(size: number): void {
    parity.setMaxSendFragment(this._mutable(), size, true);
  }

  /**
   * Has a client ask for smaller records (RFC 6066 max_fragment_length,
   * `SSL_CTX_set_tlsext_max_fragment_length`); OpenSSL servers honour it.
   *
   * @param length 512, 1024, 2048 or 4096 bytes, or 0 for none.
   */
  setTlsextMaxFragmentLength(length: number): void {
    parity.setMaxFragmentLength(this._mutable(), length, true);
  }

  /** The enabled suites' names, TLS 1.3 first (`SSL_CTX_get_ciphers`; Python's `get_ciphers`). */
  getCiphers(): string[] {
    return parity.contextCiphers(this._handle);
  }
}
