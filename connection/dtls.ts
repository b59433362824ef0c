/**
 * DTLS over datagrams: {@link DtlsConnection} drives a DTLS `Connection`
 * over any way of sending and receiving datagrams, with retransmission timed
 * by OpenSSL's DTLS timer, and {@link bioReadDatagrams} frames the
 * ciphertext of a memory-BIO connection for users who move their own
 * datagrams. `connectDtls` and `listenDtls` (`dtls_udp.ts`) put
 * `DtlsConnection` on UDP sockets.
 *
 * Messages, not a byte stream: each `send` is one DTLS record in one
 * datagram and each `receive` returns one record's plaintext, so a message
 * must fit the MTU (`maxMessageSize`); longer ones are refused with a
 * `RangeError`, never split. Handshake messages are split by OpenSSL into
 * records that fit, and the records of a flight are packed into datagrams up
 * to the MTU.
 *
 * @module
 */

import { Connection } from "./connection.ts";
import type { HandshakeInfo } from "./connection.ts";
import { SENT_SHUTDOWN } from "../ffi/constants.ts";
import { toBytes } from "../ffi/memory.ts";
import { requireFunction } from "../ffi/callbacks.ts";
import { ClosedError, WantReadError, ZeroReturnError } from "../errors/ssl_error.ts";
import * as dtls from "./_dtls.ts";
import { pskStallHint } from "./_psk.ts";

/** The default MTU: the largest datagram sent (UDP payload), as WebRTC uses. */
const DEFAULT_MTU = 1200;
/** Datagrams queued for a connection before new ones are dropped (as a full socket buffer does). */
const DEFAULT_QUEUE = 256;
/** The largest DTLS plaintext record (`SSL3_RT_MAX_PLAIN_LENGTH`). */
const MAX_RECORD = 16384;

/**
 * What a {@link DtlsConnection} sends its datagrams through, and what it
 * reports as its addresses.
 */
export interface DtlsLink {
  /** Sends one datagram to the peer; a returned promise orders the sends. */
  send(datagram: Uint8Array): unknown;
  /** Runs once when the connection is closed, after its last datagram went out. */
  close?(): unknown;
  /** The local address, when there is one. */
  localAddr?: Deno.Addr;
  /** The peer's address, when there is one. */
  remoteAddr?: Deno.Addr;
}

/**
 * How a {@link DtlsConnection} runs.
 */
export interface DtlsTransportOptions {
  /** The largest datagram sent, in bytes (UDP payload). @default {1200} */
  mtu?: number;
  /**
   * The first retransmission timeout in milliseconds; each expiry doubles it,
   * up to 60 s. @default {1000} (OpenSSL's, RFC 6347's)
   */
  initialRetransmitTimeout?: number;
  /** Milliseconds the handshake may take before the connection is closed. */
  handshakeTimeout?: number;
  /** Aborts the handshake. */
  signal?: AbortSignal;
  /** Received datagrams queued before new ones are dropped. @default {256} */
  maxQueuedDatagrams?: number;
}

/**
 * What `DtlsConnection.handshake()` resolves to: the TLS handshake facts
 * plus the SRTP profile agreed.
 */
export interface DtlsHandshakeInfo extends HandshakeInfo {
  /** The SRTP protection profile agreed (RFC 5764), or null. */
  srtpProfile: string | null;
}

const peerAddresses = new WeakMap<object, Deno.NetAddr>();

/**
 * Records the peer of a connection, for {@link dtlsPeerAddress}. Internal.
 *
 * @param connection The connection.
 * @param addr The peer's address.
 */
export function _setPeerAddress(connection: Connection, addr: Deno.NetAddr): void {
  peerAddresses.set(connection, addr);
}

/**
 * The peer a DTLS connection talks to: inside a cookie callback of a
 * `listenDtls` listener, the client whose ClientHello is being
 * answered; on connections of `connectDtls` and `listenDtls`, the remote
 * address. Use it in your own cookie callbacks to bind cookies
 * to addresses, as the example of `CookieGenerateCallback` does.
 *
 * @param connection The connection (as cookie callbacks receive it).
 * @returns The address, or null for connections the helpers did not make.
 */
export function dtlsPeerAddress(connection: Connection): Deno.NetAddr | null {
  return peerAddresses.get(connection) ?? null;
}

/**
 * Frames the ciphertext a memory-BIO DTLS connection wants sent into
 * datagrams: everything pending is taken and cut at record boundaries (a
 * memory BIO keeps none on OpenSSL 3.0), then records are packed up to
 * `mtu` bytes per datagram, or sent one per datagram when `mtu` is 0 (as
 * OpenSSL does over a UDP socket). Send each datagram as one UDP payload; on
 * the receiving side, `bioWrite` one datagram and run the SSL call
 * (`doHandshake`, `recv`, `dtlsListen`) before writing the next.
 *
 * @param connection A DTLS connection over memory BIOs (`new Connection(ctx, null)`).
 * @param mtu The largest datagram, or 0 for one record per datagram.
 * @returns The datagrams, in order (empty when nothing is pending).
 * @throws {TypeError} When the connection has a transport or is not DTLS.
 * @example A DTLS handshake over memory BIOs, one datagram at a time
 * ```ts
 * import { bioReadDatagrams, Connection, Context, DTLS_METHOD, TestCA } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * using serverCtx = new Context(DTLS_METHOD);
 * serverCtx.useCertificate(leaf.cert);
 * serverCtx.usePrivateKey(leaf.key);
 * using clientCtx = new Context(DTLS_METHOD);
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
 * client.setConnectState();
 * server.setAcceptState();
 * let largest = 0;
 * // Over UDP: socket.send(datagram, peer) for each, and bioWrite each one received.
 * const deliver = (from: Connection, to: Connection): void => {
 *   for (const datagram of bioReadDatagrams(from, 1200)) {
 *     largest = Math.max(largest, datagram.length);
 *     to.bioWrite(datagram);
 *     to.tryHandshake(); // one datagram per SSL call
 *   }
 * };
 * client.tryHandshake();
 * for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *   deliver(client, server);
 *   deliver(server, client);
 * }
 * assert.equal(client.getProtocolVersionName(), "DTLSv1.2");
 * assert.ok(largest <= 1200);
 * ```
 */
export function bioReadDatagrams(connection: Connection, mtu = 0): Uint8Array[] {
  const ssl = connection._handle;
  dtls.requireDtls(ssl, "bioReadDatagrams()");
  if (connection.transportMode !== "memory") {
    throw new TypeError("bioReadDatagrams() is for connections over memory BIOs");
  }
  if (!Number.isInteger(mtu) || mtu < 0) throw new RangeError("mtu must be a non-negative integer");
  return dtls.packDatagrams(dtls.splitRecords(dtls.takeOutgoing(ssl)), mtu);
}

/**
 * Checks the options of {@link DtlsTransportOptions} before any connection
 * exists (a listener's). Internal.
 *
 * @param o The options.
 * @throws {RangeError} When one is out of range.
 */
export function _checkTransportOptions(o: DtlsTransportOptions): void {
  const mtu = o.mtu ?? DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < 256 || mtu > dtls.MAX_DATAGRAM) {
    throw new RangeError(`mtu must be an integer from 256 to ${dtls.MAX_DATAGRAM}: got ${mtu}`);
  }
  const t = o.initialRetransmitTimeout ?? 1000;
  if (typeof t !== "number" || !(t >= 1 && t <= 60_000)) {
    throw new RangeError(`The initial retransmission timeout must be 1 to 60000 ms: got ${t}`);
  }
  const q = o.maxQueuedDatagrams ?? DEFAULT_QUEUE;
  if (!Number.isInteger(q) || q < 1) {
    throw new RangeError("maxQueuedDatagrams must be a positive integer");
  }
}

let onClose: (c: DtlsConnection, fn: () => void) => void;
let onEnd: (c: DtlsConnection, fn: () => void) => void;
let abort: (c: DtlsConnection, error: unknown) => void;

/**
 * Runs `fn` when a connection closes (at once when it is closed). Internal.
 *
 * @param c The connection.
 * @param fn The hook.
 */
export function _onClose(c: DtlsConnection, fn: () => void): void {
  onClose(c, fn);
}

/**
 * Runs `fn` when a connection's session ends: the peer's close_notify, a
 * fatal error, or {@link DtlsConnection.close} (at once when it has ended).
 * Nothing can arrive for it afterwards, so whoever holds its socket open for
 * it may stop. Internal.
 *
 * @param c The connection.
 * @param fn The hook.
 */
export function _onEnd(c: DtlsConnection, fn: () => void): void {
  onEnd(c, fn);
}

/**
 * Closes a connection with an error that its pending and later calls throw. Internal.
 *
 * @param c The connection.
 * @param error The error.
 */
export function _abort(c: DtlsConnection, error: unknown): void {
  abort(c, error);
}

/**
 * A DTLS connection over datagrams: it owns a memory-BIO DTLS
 * {@link Connection}, sends what OpenSSL writes through a {@link DtlsLink}
 * (records packed into datagrams up to the MTU), takes received datagrams
 * through {@link deliver} (one per SSL call), and retransmits when OpenSSL's
 * DTLS timer expires. Made by `connectDtls` and `listenDtls`;
 * make one yourself to run DTLS over datagrams you move, for example a
 * WebRTC stack that demultiplexes DTLS from STUN and RTP on one socket.
 *
 * Once the handshake started, the connection processes every datagram as
 * it arrives, as a socket would: messages queue for {@link receive} (up to
 * `maxQueuedDatagrams`; later ones are dropped, as UDP drops), and a peer
 * that resends its last flight because ours was lost is answered even when
 * nobody is reading.
 *
 * @example DTLS-SRTP over a channel you move yourself
 * ```ts
 * import { Connection, Context, DTLS_METHOD, DtlsConnection, TestCA, VERIFY_PEER } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const profiles = ["SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"];
 * using serverCtx = new Context(DTLS_METHOD);
 * serverCtx.useCertificate(leaf.cert);
 * serverCtx.usePrivateKey(leaf.key);
 * serverCtx.setTlsextUseSrtp(profiles);
 * using clientCtx = new Context(DTLS_METHOD);
 * clientCtx.addCaCerts(ca.cert);
 * clientCtx.setVerify(VERIFY_PEER);
 * clientCtx.setTlsextUseSrtp(profiles);
 * const clientConn = new Connection(clientCtx, null);
 * clientConn.setConnectState();
 * const serverConn = new Connection(serverCtx, null);
 * serverConn.setAcceptState();
 * // The channel: here each datagram is handed to the other side; with a
 * // socket, send() writes it out and deliver() takes what was received.
 * const peers: DtlsConnection[] = [];
 * const client = new DtlsConnection(clientConn, { send: (d) => peers[1]!.deliver(d) });
 * const server = new DtlsConnection(serverConn, { send: (d) => peers[0]!.deliver(d) });
 * peers.push(client, server);
 * const [info] = await Promise.all([client.handshake(), server.handshake()]);
 * assert.equal(info.protocol, "DTLSv1.2");
 * assert.equal(info.srtpProfile, "SRTP_AEAD_AES_128_GCM");
 * await client.send("hello");
 * assert.equal(new TextDecoder().decode((await server.receive())!), "hello");
 * // The SRTP keys, the same on both sides, for the media stack.
 * const keys = client.connection.exportSrtpKeyingMaterial();
 * assert.deepEqual(keys, server.connection.exportSrtpKeyingMaterial());
 * await client[Symbol.asyncDispose]();
 * await server[Symbol.asyncDispose]();
 * ```
 */
export class DtlsConnection implements AsyncIterable<Uint8Array>, AsyncDisposable, Disposable {
  readonly #conn: Connection;
  readonly #link: DtlsLink;
  readonly #mtu: number;
  readonly #maxQueue: number;
  readonly #options: DtlsTransportOptions;
  readonly #buffer = new Uint8Array(MAX_RECORD);
  #inbox: Uint8Array[] = [];
  #messages: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  #handshakePromise: Promise<DtlsHandshakeInfo> | null = null;
  #sendChain: Promise<void> = Promise.resolve();
  #sendError: { error: unknown } | null = null;
  #error: { error: unknown } | null = null;
  #closed = false;
  #eof = false;
  #done: Promise<void> = Promise.resolve();
  #dropped = 0;
  #onClose: (() => void)[] = [];
  #ended = false;
  #onEnd: (() => void)[] = [];

  static {
    onClose = (c, fn) => {
      if (c.#closed) fn();
      else c.#onClose.push(fn);
    };
    onEnd = (c, fn) => {
      if (c.#ended) fn();
      else c.#onEnd.push(fn);
    };
    abort = (c, error) => c.#abort(error);
  }

  /**
   * Takes over a DTLS connection over memory BIOs whose role is set
   * (`setConnectState()` or `setAcceptState()`, or after `dtlsListen()`).
   * It sets the connection's MTU (`setCiphertextMtu`) and, when asked, its
   * first retransmission timeout. The connection is closed with this object.
   *
   * @param connection The connection.
   * @param link Where datagrams go.
   * @param options MTU, timers, limits.
   * @throws {TypeError} When the connection is not DTLS or has a transport.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(connection: Connection, link: DtlsLink, options: DtlsTransportOptions = {}) {
    if (!(connection instanceof Connection)) throw new TypeError("connection must be a Connection");
    const ssl = connection._handle;
    dtls.requireDtls(ssl, "DtlsConnection");
    if (connection.transportMode !== "memory") {
      throw new TypeError("A DtlsConnection needs a Connection over memory BIOs (transport null)");
    }
    requireFunction(link?.send, "link.send");
    const queue = options.maxQueuedDatagrams ?? DEFAULT_QUEUE;
    if (!Number.isInteger(queue) || queue < 1) {
      throw new RangeError("maxQueuedDatagrams must be a positive integer");
    }
    this.#mtu = options.mtu ?? DEFAULT_MTU;
    connection.setCiphertextMtu(this.#mtu);
    dtls.setInitialTimeout(connection, ssl, options.initialRetransmitTimeout ?? 1000);
    this.#maxQueue = queue;
    this.#conn = connection;
    this.#link = link;
    this.#options = options;
  }

  /** The DTLS connection (certificates, SRTP keys, ciphers, ...). */
  get connection(): Connection {
    return this.#conn;
  }

  /** The local address, as the link reports it (an all-zero UDP address otherwise). */
  get localAddr(): Deno.Addr {
    return this.#link.localAddr ?? { transport: "udp", hostname: "0.0.0.0", port: 0 };
  }

  /** The peer's address, as the link reports it (an all-zero UDP address otherwise). */
  get remoteAddr(): Deno.Addr {
    return this.#link.remoteAddr ?? { transport: "udp", hostname: "0.0.0.0", port: 0 };
  }

  /** The MTU: the largest datagram sent. */
  get mtu(): number {
    return this.#mtu;
  }

  /**
   * The largest message `send` accepts: the plaintext that fits one record
   * within the MTU (`getCleartextMtu()`), or 0 before the handshake.
   */
  get maxMessageSize(): number {
    return this.#conn.closed ? 0 : this.#conn.getCleartextMtu();
  }

  /** How many times the DTLS timer expired and the last flight was retransmitted. */
  get retransmissions(): number {
    return dtls.timerExpiries(this.#conn);
  }

  /** How many received datagrams or messages were dropped because a queue was full. */
  get droppedDatagrams(): number {
    return this.#dropped;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Hands over a datagram received from the peer. It is copied and queued;
   * the connection processes one datagram per SSL call. Ignored once closed;
   * dropped when the queue is full.
   *
   * @param datagram One whole datagram.
   */
  deliver(datagram: Uint8Array): void {
    if (!(datagram instanceof Uint8Array)) throw new TypeError("datagram must be a Uint8Array");
    if (this.#closed || datagram.length === 0) return;
    if (this.#inbox.length >= this.#maxQueue) {
      this.#dropped++;
      return;
    }
    this.#inbox.push(datagram.slice());
    this.#wake();
  }

  /** Closes the connection with an error: pending and later calls throw it. */
  #abort(error: unknown): void {
    this.#error ??= { error };
    this.close();
  }

  /** The session is over: nothing the peer sends can matter any more. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const fn of this.#onEnd.splice(0)) fn();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits for the next event (a datagram, a message, the close), or `ms` milliseconds. */
  #wait(ms: number | null = null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
      if (ms !== null) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== wake);
          resolve();
        }, Math.ceil(ms));
      }
    });
  }

  #ssl(): Deno.PointerObject {
    if (this.#error) throw this.#error.error;
    if (this.#closed) throw new ClosedError("DtlsConnection");
    if (this.#sendError) throw this.#sendError.error;
    return this.#conn._handle;
  }

  /** Sends what OpenSSL wrote, records packed into datagrams, in order. */
  #flush(): void {
    if (this.#conn.closed) return;
    const bytes = dtls.takeOutgoing(this.#conn._handle);
    if (bytes.length === 0) return;
    for (const datagram of dtls.packDatagrams(dtls.splitRecords(bytes), this.#mtu)) {
      this.#sendChain = this.#sendChain.then(() => this.#link.send(datagram)).then(
        () => {},
        (error) => {
          this.#sendError ??= { error };
        },
      );
    }
  }

  /**
   * Runs an SSL call until it stops wanting to read: one queued datagram in
   * the incoming BIO per try, retransmitting when the DTLS timer expires.
   */
  async #drive<T>(op: () => T): Promise<T> {
    for (;;) {
      const ssl = this.#ssl();
      if (this.#inbox.length > 0 && dtls.incomingPending(ssl) === 0) {
        dtls.putIncoming(ssl, this.#inbox.shift()!);
      }
      let result: T;
      try {
        result = op();
      } catch (e) {
        this.#flush();
        if (!(e instanceof WantReadError)) throw e;
        if (this.#inbox.length > 0) continue;
        const ms = this.#conn.getDtlsTimeout();
        if (ms === 0) {
          // Usually the read above already found the timer expired and retransmitted.
          this.#conn.handleDtlsTimeout();
          this.#flush();
          continue;
        }
        await this.#wait(ms);
        continue;
      }
      this.#flush();
      return result;
    }
  }

  /**
   * Runs the handshake if it has not run yet; `send` and `receive` call it
   * for you. Concurrent calls share one handshake. A failed handshake closes
   * the connection (after sending OpenSSL's alert).
   *
   * @returns The protocol, cipher, ALPN protocol, peer certificate and SRTP profile.
   * @throws {VerificationError} When the peer's certificate is refused.
   * @throws {SSLError} When the handshake fails, also after too many retransmissions.
   * @throws {Deno.errors.TimedOut} When `handshakeTimeout` passed.
   */
  handshake(): Promise<DtlsHandshakeInfo> {
    if (this.#handshakePromise === null) {
      this.#handshakePromise = this.#runHandshake();
      this.#handshakePromise.then(() => this.#readLoop(), () => {});
    }
    return this.#handshakePromise;
  }

  async #runHandshake(): Promise<DtlsHandshakeInfo> {
    const { handshakeTimeout, signal } = this.#options;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const abort = (): void => {
      this.#abort(
        signal?.aborted ? signal.reason : new Deno.errors.TimedOut(
          `DTLS handshake did not finish within ${handshakeTimeout} ms${pskStallHint(this.#conn)}`,
        ),
      );
    };
    try {
      signal?.throwIfAborted();
      signal?.addEventListener("abort", abort, { once: true });
      if (handshakeTimeout !== undefined) timer = setTimeout(abort, handshakeTimeout);
      await this.#drive(() => this.#conn.doHandshake());
      const c = this.#conn;
      return {
        alpnProtocol: c.getAlpnProtoNegotiated(),
        protocol: c.getProtocolVersionName(),
        cipher: c.getCipherName() ?? "",
        peerCertificate: c.getPeerCertificate(),
        srtpProfile: c.getSelectedSrtpProfile(),
      };
    } catch (e) {
      const error = this.#error?.error ?? e;
      this.#abort(error);
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
  }

  /** After the handshake: decrypts every datagram as it arrives and queues the messages. */
  async #readLoop(): Promise<void> {
    const buffer = this.#buffer;
    for (;;) {
      let n: number;
      try {
        n = await this.#drive(() => this.#conn.recvInto(buffer));
      } catch (e) {
        if (e instanceof ZeroReturnError) this.#eof = true;
        else if (!this.#closed) this.#error ??= { error: e };
        this.#wake();
        this.#end();
        return;
      }
      if (this.#messages.length >= this.#maxQueue) this.#dropped++;
      else this.#messages.push(buffer.slice(0, n));
      this.#wake();
    }
  }

  async #handshaken(): Promise<void> {
    if (this.#handshakePromise === null || !this.#conn.isHandshakeDone()) await this.handshake();
  }

  /**
   * Encrypts and sends one message as one datagram.
   *
   * @param message Bytes or text, at most {@link maxMessageSize} bytes.
   * @returns The message's length.
   * @throws {RangeError} When the message does not fit one datagram (nothing is sent).
   * @throws {ClosedError} When the connection is closed.
   */
  async send(message: Uint8Array | string): Promise<number> {
    const bytes = toBytes(message);
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("message must be a Uint8Array or a string");
    }
    await this.#handshaken();
    this.#ssl();
    const max = this.maxMessageSize;
    if (bytes.length > max) {
      throw new RangeError(
        `A DTLS message must fit one datagram: ${bytes.length} bytes is more than ${max} (maxMessageSize at MTU ${this.#mtu}); split it yourself`,
      );
    }
    if (bytes.length === 0) return 0;
    // SSL_write itself reads nothing: the read loop alone feeds datagrams to OpenSSL.
    for (;;) {
      const ssl = this.#ssl();
      try {
        this.#conn.send(bytes);
        break;
      } catch (e) {
        if (!(e instanceof WantReadError)) throw e;
        await this.#wait(); // a renegotiation in progress: the read loop moves it on
      } finally {
        if (!this.#conn.closed && ssl) this.#flush();
      }
    }
    await this.#sendChain;
    this.#ssl(); // a failed datagram send surfaces here
    return bytes.length;
  }

  /**
   * Waits for the next message from the peer.
   *
   * @returns One message (one record's plaintext), or null once the peer
   *   closed the DTLS session (close_notify) and every earlier message was read.
   * @throws {ClosedError} When the connection is closed, also while waiting.
   * @throws {SSLError} When the peer sent a fatal alert.
   */
  async receive(): Promise<Uint8Array | null> {
    await this.#handshaken();
    for (;;) {
      const message = this.#messages.shift();
      if (message) return message;
      if (this.#eof) return null;
      this.#ssl();
      await this.#wait();
    }
  }

  /**
   * The peer's messages until it closes the session.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const message = await this.receive();
      if (message === null) return;
      yield message;
    }
  }

  /**
   * Closes the connection: sends close_notify when the handshake finished,
   * frees the native connection, and lets the link close once that datagram
   * went out (await {@link Symbol.asyncDispose} to wait for it). Pending
   * calls throw `ClosedError`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const conn = this.#conn;
    if (!conn.closed) {
      if (conn.isHandshakeDone() && (conn.getShutdown() & SENT_SHUTDOWN) === 0) {
        try {
          conn.shutdown();
        } catch { /* the alert is best effort */ }
      }
      this.#flush();
      conn.close();
    }
    this.#inbox = [];
    this.#wake();
    const link = this.#link;
    this.#done = this.#sendChain.then(() => link.close?.()).then(() => {}, () => {});
    for (const fn of this.#onClose.splice(0)) fn();
    this.#end();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes, and waits until the close_notify went out and the link closed. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return this.#done;
  }
}
