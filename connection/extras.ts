/**
 * `ConnectionExtras`: what a connection offers beyond pyOpenSSL's basics (DTLS knobs, TLS 1.3
 * early data, record sizes, cipher, group and signature listings, the handshake trace), the
 * layer of {@link Connection} above `ConnectionSelection` and {@link ConnectionInfo}.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { outcomeError } from "../errors/raise.ts";
import { ConnectionSelection } from "./selection.ts";
import type { Pump } from "./_pump.ts";
import * as dtls from "./_dtls.ts";
import * as early from "./_early_data.ts";
import * as parity from "./_parity.ts";
import * as trace from "./_trace.ts";

/**
 * What `getEarlyDataStatus()` says of a connection's TLS 1.3 early data.
 *
 * @example Send again what the server did not take
 * ```ts
 * import type { EarlyDataStatus } from "@denossl/denossl";
 * const mustResend = (s: EarlyDataStatus): boolean => s === "rejected";
 * console.log(mustResend("rejected")); // true
 * ```
 */
export type EarlyDataStatus = "accepted" | "rejected" | "not-sent";

/**
 * Receives one line of `enableTrace()` (no trailing newline).
 *
 * @example Keep the lines, prefixed
 * ```ts
 * import type { TraceSink } from "@denossl/denossl";
 * const lines: string[] = [];
 * const sink: TraceSink = (line) => lines.push(`[tls] ${line}`);
 * sink("client -- handshake start");
 * console.log(lines); // ["[tls] client -- handshake start"]
 * ```
 */
export type TraceSink = (line: string) => void;

/**
 * The algorithm of a handshake signature, by OpenSSL's short names.
 *
 * @example Name it as TLS does
 * ```ts
 * import type { SignatureAlgorithm } from "@denossl/denossl";
 * const label = (a: SignatureAlgorithm): string => a.digest ? `${a.type}+${a.digest}` : a.type;
 * console.log(label({ type: "RSASSA-PSS", digest: "SHA256" })); // "RSASSA-PSS+SHA256"
 * ```
 */
export interface SignatureAlgorithm {
  /** The key type, such as `"RSASSA-PSS"`, `"rsaEncryption"`, `"id-ecPublicKey"`, `"ED25519"`. */
  type: string;
  /** The digest, such as `"SHA256"`, or null for a signature without one (Ed25519, Ed448). */
  digest: string | null;
}

/**
 * The layer of a {@link Connection} above `ConnectionSelection` (its own
 * certificate and key) and {@link ConnectionInfo}: DTLS
 * knobs, TLS 1.3 early data (0-RTT), record sizes, listings of ciphers,
 * groups and signature algorithms, and a handshake trace like Node's
 * `enableTrace()`. Not constructed directly: every `Connection` is one.
 *
 * @example What both sides offered, and a trace of the handshake
 * ```ts
 * import { Connection, Context, TestCA, TLS_METHOD } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificate(leaf.certPEM);
 * serverCtx.usePrivateKey(leaf.keyPEM);
 * using clientCtx = new Context(TLS_METHOD);
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
 * const lines: string[] = [];
 * client.enableTrace((line) => lines.push(line));
 * client.setConnectState();
 * server.setAcceptState();
 * const wire = new Uint8Array(65536);
 * const pump = (from: Connection, to: Connection): void => {
 *   while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
 * };
 * for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *   client.tryHandshake();
 *   pump(client, server);
 *   server.tryHandshake();
 *   pump(server, client);
 * }
 * assert.match(lines[1]!, /^client -> Handshake ClientHello \(TLSv1\.3, \d+ bytes\)$/);
 * assert.equal(lines.at(-1), "client -- handshake done");
 * assert.ok(server.getPeerGroups().includes("X25519"));
 * assert.equal(client.getPeerSignatureAlgorithm()?.digest, "SHA256");
 * ```
 */
export abstract class ConnectionExtras extends ConnectionSelection {
  /**
   * The async face's loops of a connection over a transport, or null in memory mode. Internal.
   *
   * @ignore
   */
  abstract get _pump(): Pump | null;
  /** Whether the server's early data ended (OpenSSL refuses another SSL_read_early_data). */
  #earlyDone = false;

  // ---- DTLS (glue in _dtls.ts, the datagram transport in dtls.ts) ----

  /**
   * The time left before the DTLS retransmission timer fires
   * (`DTLSv1_get_timeout`). When it reaches 0, call
   * {@link handleDtlsTimeout}.
   *
   * @returns Milliseconds (0 once expired), or null when no timer runs.
   * @throws {TypeError} On a TLS connection.
   */
  getDtlsTimeout(): number | null {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "getDtlsTimeout()");
    return dtls.getTimeout(ssl);
  }

  /**
   * Retransmits the last DTLS flight when the timer expired
   * (`DTLSv1_handle_timeout`); each expiry doubles the next timeout.
   *
   * @returns True when it retransmitted (read the datagrams with `bioRead`).
   * @throws {TypeError} On a TLS connection.
   * @throws {SSLError} When OpenSSL gives up after too many retransmissions.
   */
  handleDtlsTimeout(): boolean {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "handleDtlsTimeout()");
    return dtls.handleTimeout(ssl);
  }

  /**
   * Sets the largest datagram (UDP payload, without IP and UDP headers)
   * this DTLS connection sends (`DTLS_set_link_mtu`), and sets
   * `OP_NO_QUERY_MTU` so that OpenSSL keeps it (over memory BIOs it would
   * otherwise fall back to 256 bytes). Handshake messages are cut into
   * records that fit; application data is not cut: keep each `send` within
   * {@link getCleartextMtu}.
   *
   * @param mtu Bytes, from OpenSSL's minimum (256) to 65507.
   * @throws {RangeError} When out of range.
   * @throws {TypeError} On a TLS connection.
   */
  setCiphertextMtu(mtu: number): void {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "setCiphertextMtu()");
    dtls.setLinkMtu(ssl, mtu);
  }

  /**
   * The most plaintext one `send` can carry without the datagram exceeding
   * the MTU (`DTLS_get_data_mtu`): the MTU less the record header and the
   * cipher's overhead.
   *
   * @returns Bytes, or 0 before the handshake chose a cipher.
   * @throws {TypeError} On a TLS connection.
   */
  getCleartextMtu(): number {
    const ssl = this._handle;
    dtls.requireDtls(ssl, "getCleartextMtu()");
    return dtls.dataMtu(ssl);
  }

  /**
   * Offers (client) or accepts (server) DTLS-SRTP with these profiles
   * (`SSL_set_tlsext_use_srtp`), overriding the context's. Call before the
   * handshake.
   *
   * @param profiles Profile names, most preferred first.
   * @throws {TypeError} When the list is empty.
   * @throws {SSLError} When OpenSSL does not know a profile.
   */
  setTlsextUseSrtp(profiles: string | readonly string[]): void {
    dtls.setConnectionSrtp(this._handle, profiles);
  }

  /**
   * The SRTP protection profile both sides agreed on (`SSL_get_selected_srtp_profile`).
   *
   * @returns For example `"SRTP_AES128_CM_SHA1_80"`, or null when none.
   */
  getSelectedSrtpProfile(): string | null {
    return dtls.selectedSrtpProfile(this._handle);
  }

  /**
   * The SRTP master keys and salts of both directions (RFC 5764 §4.2): the
   * keying material exported with the label `EXTRACTOR-dtls_srtp`, cut by
   * the negotiated profile's key and salt lengths. Both peers get the same.
   *
   * @returns The keys and salts, or null when no SRTP profile was negotiated.
   * @throws {SSLError} Before the handshake is done.
   */
  exportSrtpKeyingMaterial(): dtls.SrtpKeyingMaterial | null {
    return dtls.srtpKeyingMaterial(this._handle);
  }

  // ---- TLS 1.3 early data (0-RTT) (glue in _early_data.ts) ----

  /**
   * Sends 0-RTT early data before the handshake (`SSL_write_early_data`), on
   * a client in connect state resuming a session whose ticket allows it
   * (`Session.maxEarlyData > 0`, from a server with `setMaxEarlyData`). The
   * first call sends the ClientHello too. Over memory BIOs, read the bytes
   * with `bioRead`; over a transport they leave with the next `handshake()`,
   * `read` or `write`. Then finish the handshake as usual and ask
   * {@link getEarlyDataStatus} whether the server took them: a rejected
   * early write must be sent again as normal data.
   *
   * **Replay:** early data has no protection against replay: an attacker
   * who recorded it can send it again. Send only requests that are safe to
   * repeat (idempotent), and nothing that must happen once.
   *
   * @param data The bytes (at most the session's `maxEarlyData` in total).
   * @returns How many bytes were written.
   * @throws {SSLError} When the session does not allow early data, or the
   *   handshake already went past the ClientHello.
   * @throws {WantWriteError} When a native transport must drain first.
   */
  writeEarlyData(data: string | Uint8Array): number {
    return early.writeEarlyData(this._handle, data);
  }

  /**
   * Reads 0-RTT early data on a server, before the handshake finishes
   * (`SSL_read_early_data`): the first call reads the ClientHello and writes
   * the server's flight (move it to the client even when this throws
   * `WantReadError`). Call until it returns null, then finish the handshake
   * with `doHandshake()`. The context needs `setMaxEarlyData(n)`; without
   * it, or when the client sent none, the first calls return null.
   * OpenSSL's anti-replay accepts each ticket's early data once, within
   * this server process's session cache; see {@link writeEarlyData} on replay.
   *
   * @param bufsize The most bytes to return at once.
   * @returns Early data (at least one byte), or null once no more can come.
   * @throws {WantReadError} When it needs more data from the client.
   */
  readEarlyData(bufsize = 16384): Uint8Array | null {
    if (!Number.isInteger(bufsize) || bufsize <= 0) {
      throw new RangeError("bufsize must be a positive integer");
    }
    const ssl = this._handle;
    if (this.#earlyDone || native().ssl.SSL_is_init_finished(ssl) === 1) return null;
    const buf = new Uint8Array(bufsize);
    const got = early.readEarlyDataOnce(ssl, buf);
    if (got === null) {
      this.#earlyDone = true;
      return null;
    }
    if (typeof got === "number") throw outcomeError(got);
    return buf.slice(0, got.n);
  }

  /**
   * Reads all 0-RTT early data on a server over a transport, the async face
   * of {@link readEarlyData}: resolves once the client's early data ended
   * (before the handshake finished; `handshake()`, `read` or `write` finish
   * it), with the bytes, empty when none came or they were rejected. Call it
   * first, before any other call on the connection.
   *
   * @returns The early data.
   * @throws {TypeError} In memory mode (use {@link readEarlyData}), or on a
   *   connection of a listener with `maxEarlyData`, whose `read()` returns it.
   */
  async readAllEarlyData(): Promise<Uint8Array> {
    this._handle; // a closed connection says so first
    const pump = this._pump;
    if (pump === null) {
      throw new TypeError("In memory mode, read early data with readEarlyData()");
    }
    if (pump.acceptsEarlyData) {
      throw new TypeError(
        "This connection's handshake reads its early data: its first read() calls return it",
      );
    }
    const wire = pump.wire;
    if (this.#earlyDone || this.isHandshakeDone()) return new Uint8Array(0);
    const data = await early.readAllEarlyData(() => this._handle, wire);
    this.#earlyDone = true;
    return data;
  }

  /**
   * Whether early data was accepted (`SSL_get_early_data_status`), once the
   * handshake finished.
   *
   * @returns `"accepted"`, `"rejected"` or `"not-sent"`.
   */
  getEarlyDataStatus(): EarlyDataStatus {
    return early.earlyDataStatus(this._handle);
  }

  // ---- record sizes (glue in _parity.ts) ----

  /**
   * Caps the plaintext of each record this connection sends
   * (`SSL_set_max_send_fragment`), overriding the context's.
   *
   * @param size Bytes, 512 to 16384.
   * @throws {RangeError} When out of range.
   */
  setMaxSendFragment(size: number): void {
    parity.setMaxSendFragment(this._handle, size, false);
  }

  /**
   * Asks the server for smaller records (RFC 6066 max_fragment_length,
   * `SSL_set_tlsext_max_fragment_length`), overriding the context's; a
   * client call before the handshake.
   *
   * @param length 512, 1024, 2048 or 4096 bytes, or 0 for none.
   * @throws {RangeError} For another length.
   */
  setTlsextMaxFragmentLength(length: number): void {
    parity.setMaxFragmentLength(this._handle, length, false);
  }

  /**
   * The max_fragment_length both sides agreed on (`SSL_SESSION_get_max_fragment_length`).
   *
   * @returns Bytes, or null when none was negotiated.
   */
  getMaxFragmentLength(): number | null {
    return parity.maxFragmentLength(this._handle);
  }

  // ---- listings (glue in _parity.ts) ----

  /**
   * The cipher suites this connection offers or accepts, Python's
   * `SSLContext.get_ciphers()` names (same list as {@link getCipherList}).
   *
   * @returns OpenSSL cipher names, TLS 1.3 suites first.
   */
  getCiphers(): string[] {
    return this.getCipherList();
  }

  /**
   * On a server, the TLS 1.2-and-older suites the client offered that this
   * side also enables (`SSL_get_shared_ciphers`), Python's `shared_ciphers()`.
   *
   * @returns The names, or null on a client or before the ClientHello.
   */
  getSharedCiphers(): string[] | null {
    return parity.sharedCiphers(this._handle);
  }

  /**
   * The key exchange groups the peer said it supports (`SSL_get1_groups`):
   * a server sees the client's supported_groups.
   *
   * @returns Group names such as `"X25519"`, `"prime256v1"`, in the peer's order.
   */
  getPeerGroups(): string[] {
    return parity.peerGroups(this._handle);
  }

  /**
   * On a server, the key exchange groups both sides support (`SSL_get_shared_group`).
   *
   * @returns Group names, in the client's order (the server's with `OP_CIPHER_SERVER_PREFERENCE`).
   */
  getSharedGroups(): string[] {
    return parity.sharedGroups(this._handle);
  }

  /**
   * How the peer signed its handshake (`SSL_get_peer_signature_type_nid`,
   * `SSL_get_peer_signature_nid`).
   *
   * @returns The key type and digest, or null when it signed nothing (resumption, before).
   */
  getPeerSignatureAlgorithm(): SignatureAlgorithm | null {
    return parity.signatureAlgorithm(this._handle, true);
  }

  /**
   * How this side signed its handshake (`SSL_get_signature_type_nid`, `SSL_get_signature_nid`).
   *
   * @returns The key type and digest, or null when it signed nothing.
   */
  getSignatureAlgorithm(): SignatureAlgorithm | null {
    return parity.signatureAlgorithm(this._handle, false);
  }

  // ---- trace (glue in _trace.ts) ----

  /**
   * Traces this connection's handshake for debugging, as Node's
   * `tlsSocket.enableTrace()`: one line per handshake message, alert and
   * ChangeCipherSpec sent (`->`) or received (`<-`), such as
   * `"client -> Handshake ClientHello (TLSv1.3, 250 bytes)"`, and
   * `"client -- handshake start"` / `"-- handshake done"`
   * (`SSL_set_msg_callback`, `SSL_set_info_callback`). The context's info
   * callback still runs. A throwing sink fails the call that drove OpenSSL.
   *
   * @param sink Receives each line; by default they go to standard error.
   */
  enableTrace(sink?: TraceSink): void {
    trace.enableTrace(this._handle, this, sink);
  }

  /** Stops the trace started by {@link enableTrace}. */
  disableTrace(): void {
    trace.disableTrace(this._handle, this);
  }
}
