/**
 * `listenTls` and its `TlsListener`: a TLS server on a TCP port, with
 * certificates per server name (SNI), live rotation of every context it
 * serves from, session tickets from a shared `TicketKeyRing`, and
 * `reusePort` for several processes on one port.
 *
 * @module
 */

import { Context } from "./context.ts";
import { Connection } from "./connection.ts";
import type { TlsConnection, TlsServerOptions } from "./tls.ts";
import { TicketKeyRing } from "./ticket_keys.ts";
import { buildContext, DEFAULT_SERVER_HANDSHAKE_TIMEOUT, handshakeDeadline } from "./_defaults.ts";
import { handshakeWithin, modeOf, specOf } from "./_tls_common.ts";
import { serverNameKey, SniTable } from "./_sni.ts";
import { hmacSha256 } from "./_dtls.ts";
import { earlyDataLimit } from "./_early_data.ts";
import { toBytes } from "../ffi/memory.ts";

/**
 * A certificate and its key for one server name (or a new default), in the
 * forms `listenTls` takes them: PEM `cert` and `key`, or a PKCS#12 `pfx`.
 *
 * @example
 * ```ts
 * import { type ServerCertificate, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["api.example.com"] });
 * const api: ServerCertificate = { cert: leaf.chainPEM, key: leaf.keyPEM };
 * ```
 */
export interface ServerCertificate {
  /** PEM certificate, optionally followed by its chain. */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** A PKCS#12 bundle in place of `cert` and `key`. */
  pfx?: Uint8Array;
  /** The passphrase of `key` or `pfx`, or a function that returns it. */
  passphrase?: string | (() => string);
}

/**
 * Server names to what to serve them with: exact names (`"api.example.com"`)
 * and one-label wildcards (`"*.example.com"`, which matches
 * `"a.example.com"` but neither `"example.com"` nor `"a.b.example.com"`),
 * without regard to case; an exact name wins over a wildcard.
 *
 * @example
 * ```ts
 * import { type SniCertificates, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using api = ca.issue({ dns: ["api.example.com"] });
 * using any = ca.issue({ dns: ["*.example.com"] });
 * const certificates: SniCertificates = {
 *   "api.example.com": { cert: api.chainPEM, key: api.keyPEM },
 *   "*.example.com": { cert: any.chainPEM, key: any.keyPEM },
 * };
 * ```
 */
export type SniCertificates =
  | Record<string, ServerCertificate | Context>
  | ReadonlyMap<string, ServerCertificate | Context>;

/**
 * Options of {@link listenTls}: Deno's `ListenTlsOptions` plus denossl's.
 *
 * @example
 * ```ts
 * import { type ListenTlsOptions, TestCA } from "@denossl/denossl";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const options: ListenTlsOptions = { port: 8443, cert: leaf.chainPEM, key: leaf.keyPEM };
 * ```
 */
export interface ListenTlsOptions extends TlsServerOptions {
  /** The port; 0 picks a free one. @default {0} */
  port?: number;
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** The transport, as Deno's: TCP only. @default {"tcp"} */
  transport?: "tcp";
  /** Length of the kernel's queue of connections not yet accepted, passed to `Deno.listen`. */
  tcpBacklog?: number;
  /**
   * Sets `SO_REUSEPORT`, so that several processes listen on one port and
   * Linux spreads the connections over them. Linux only, and Deno's flag is
   * unstable: elsewhere, or without `--unstable-net` (`"unstable": ["net"]`
   * in deno.json), `listenTls` throws `Deno.errors.NotSupported`. @default {false}
   */
  reusePort?: boolean;
  /**
   * Certificates per server name (SNI), beside the default `cert`/`key`
   * served to clients that send no name or an unlisted one. Each
   * `ServerCertificate` gets a context built from these same options
   * (versions, ciphers, ALPN, client certificate policy); a `Context` is
   * served as it is, with its own verification settings.
   */
  sniCertificates?: SniCertificates;
  /**
   * Issue and decrypt session tickets with these keys instead of the
   * process's own random ones, so that servers sharing the keys resume each
   * other's clients. Rotate them on the ring while serving.
   */
  ticketKeys?: TicketKeyRing;
  /**
   * Accepts TLS 1.3 early data (0-RTT) up to this many bytes per connection:
   * each handshake reads it first, the connection's first `read()`s return
   * it before the 1-RTT bytes, and `getEarlyDataStatus()` says `"accepted"`.
   * Sets the limit on the listener's contexts (a given `context` too) and
   * keeps OpenSSL's anti-replay on: its tickets are then single-use entries
   * of this listener's session cache, so they resume (and carry 0-RTT) on
   * this process only, whatever `ticketKeys` says. Early data can be
   * replayed by an attacker across servers: act on it only for requests that
   * are safe to repeat. 0 turns it off. @default {0}
   */
  maxEarlyData?: number;
}

/** Error codes of `accept(2)` that concern one connection, never the listener (Linux man page). */
const PER_CONNECTION_CODES = new Set([
  "ECONNABORTED",
  "ECONNRESET",
  "ENOTCONN",
  "EPROTO",
  "EPERM",
  "ENETDOWN",
  "ENETUNREACH",
  "ENONET",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "ENOPROTOOPT",
  "EOPNOTSUPP",
  "ETIMEDOUT",
]);
/** Error codes of `accept(2)` that mean "out of descriptors or memory, try again later". */
const EXHAUSTION_CODES = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
/** The longest pause between accepts while descriptors are exhausted. */
const MAX_ACCEPT_PAUSE_MS = 100;

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A client that failed between the kernel's accept and ours: skip it. */
function failedBeforeAccept(e: unknown): boolean {
  return e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionAborted || PER_CONNECTION_CODES.has(codeOf(e) ?? "");
}

/** What a listener serves from, built before its socket is bound so that bad options bind nothing. */
interface Served {
  base: Context;
  ownsBase: boolean;
  sni: SniTable;
  ownsSni: Context[];
}

/** The session ID context of a listener's own contexts under a shared ring: equal policy, equal name. */
function fleetSessionIdContext(o: TlsServerOptions): Uint8Array {
  const policy = [!!o.requestClientCert, !!o.requireClientCert, o.caCerts ?? null];
  return hmacSha256(toBytes("denossl listenTls"), toBytes(JSON.stringify(policy)));
}

/** A context from the listener's options with other credentials: the same policy, another certificate. */
function credentialsContext(
  options: ListenTlsOptions,
  c: ServerCertificate,
  what: string,
): Context {
  if (typeof c !== "object" || c === null) {
    throw new TypeError(`${what} must be { cert, key }, { pfx }, or a Context`);
  }
  const o: TlsServerOptions = { ...options };
  delete o.cert;
  delete o.key;
  delete o.pfx;
  delete o.passphrase;
  if (c.cert !== undefined) o.cert = c.cert;
  if (c.key !== undefined) o.key = c.key;
  if (c.pfx !== undefined) o.pfx = c.pfx;
  if (c.passphrase !== undefined) o.passphrase = c.passphrase;
  let ctx: Context;
  try {
    ctx = buildContext(specOf("tls-server", o));
  } catch (e) {
    if (e instanceof TypeError) throw new TypeError(`${what}: ${e.message}`, { cause: e });
    throw e;
  }
  try {
    if (options.ticketKeys) ctx.setSessionIdContext(fleetSessionIdContext(options));
    const early = earlyDataLimit(options.maxEarlyData);
    if (early > 0) ctx.setMaxEarlyData(early);
  } catch (e) {
    ctx.close();
    throw e;
  }
  return ctx;
}

function buildSni(options: ListenTlsOptions, map: SniCertificates | undefined): Served["sni"] & {
  owned: Context[];
} {
  const entries = map === undefined
    ? []
    : map instanceof Map
    ? [...map.entries()]
    : typeof map === "object" && map !== null
    ? Object.entries(map)
    : null;
  if (entries === null) throw new TypeError("sniCertificates must be an object or a Map of names");
  const owned: Context[] = [];
  const byName = new Map<string, Context>();
  try {
    for (const [name, value] of entries) {
      const key = serverNameKey(name);
      if (byName.has(key)) throw new TypeError(`sniCertificates names "${key}" twice`);
      if (value instanceof Context) {
        byName.set(key, value);
      } else {
        const ctx = credentialsContext(options, value, `sniCertificates["${name}"]`);
        owned.push(ctx);
        byName.set(key, ctx);
      }
    }
  } catch (e) {
    for (const c of owned) c.close();
    throw e;
  }
  return Object.assign(new SniTable(byName), { owned });
}

function buildServed(options: ListenTlsOptions): Served {
  handshakeDeadline(options.handshakeTimeout, undefined); // a bad value fails here, not per client
  if (options.ticketKeys !== undefined && !(options.ticketKeys instanceof TicketKeyRing)) {
    throw new TypeError("ticketKeys must be a TicketKeyRing");
  }
  const early = earlyDataLimit(options.maxEarlyData);
  if (options.context && early > 0 && options.context.getMaxEarlyData() !== early) {
    options.context.setMaxEarlyData(early); // a used context refuses: it cannot change any more
  }
  // Its own context, not the cache's: a listener outlives any cache eviction.
  const base = options.context ?? credentialsContext(options, options, "listenTls");
  const ownsBase = !options.context;
  try {
    const sni = buildSni(options, options.sniCertificates);
    return { base, ownsBase, sni, ownsSni: sni.owned };
  } catch (e) {
    if (ownsBase) base.close();
    throw e;
  }
}

let prebuilt: Served | undefined;

/**
 * A TLS listener, as `Deno.listenTls` returns, and assignable to
 * `Deno.TlsListener`: accept connections one by one or iterate them. Each
 * connection's handshake starts as it is accepted and runs in the
 * background, with a deadline (`handshakeTimeout`, 10 s by default) after
 * which the connection is closed; a client whose handshake fails affects
 * only its own connection (its `handshake()`, `read` and `write` reject),
 * never the listener.
 *
 * No client can end the accept loop: a connection reset or aborted before it
 * was accepted is skipped, and when the process runs out of descriptors
 * (EMFILE, ENFILE) `accept()` waits 10 to 100 ms and tries again. Only
 * {@link close} stops it.
 *
 * @example An echo server: each client in its own task, so none holds up the loop
 * ```ts
 * import { connectTls, listenTls, TestCA, type TlsConnection } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
 * const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
 * const echo = async (conn: TlsConnection): Promise<void> => {
 *   await conn.readable.pipeTo(conn.writable).catch(() => {});
 * };
 * const serving = (async () => {
 *   for await (const conn of listener) echo(conn); // not awaited: the loop takes the next client
 * })();
 * await using client = await connectTls({
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 *   caCerts: [ca.certPEM],
 * });
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * await client.read(buf);
 * assert.equal(new TextDecoder().decode(buf), "ping");
 * await client.closeWrite();
 * listener.close();
 * await serving;
 * ```
 */
export class TlsListener implements AsyncIterable<TlsConnection>, AsyncDisposable, Disposable {
  readonly #inner: Deno.TcpListener;
  readonly #options: ListenTlsOptions;
  #base: Context;
  #ownsBase: boolean;
  #sni: SniTable;
  #ownsSni: Context[];
  /** Whether the default context runs the listener's SNI callback (always, unless the caller's context was already used). */
  #selects = false;
  #closed = false;
  #refed = true;

  /**
   * Wraps a TCP listener. Prefer {@link listenTls}.
   *
   * @param inner The TCP listener; closed with this one.
   * @param options Server options.
   */
  constructor(inner: Deno.TcpListener, options: ListenTlsOptions) {
    const served = prebuilt ?? buildServed(options);
    prebuilt = undefined;
    this.#inner = inner;
    this.#options = options;
    this.#base = served.base;
    this.#ownsBase = served.ownsBase;
    this.#sni = served.sni;
    this.#ownsSni = served.ownsSni;
    try {
      this.#prepareBase(served.base, served.ownsBase);
    } catch (e) {
      this.#release(served.ownsBase ? [served.base, ...served.ownsSni] : served.ownsSni);
      throw e;
    }
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#inner.addr;
  }

  /**
   * The context new connections start from (the default certificate).
   *
   * @throws {Deno.errors.BadResource} When the listener is closed.
   */
  get context(): Context {
    this.#open();
    return this.#base;
  }

  /** Picks the context for the name the client sent; run by OpenSSL once per handshake. */
  #select = (conn: Connection): void => {
    const target = this.#sni.select(conn.getServername()) ?? this.#base;
    // A connection accepted before a rotation still gets the current certificate.
    if (target !== conn.getContext() && !target.closed) conn.setContext(target);
  };

  #prepareBase(ctx: Context, owned: boolean): void {
    const ring = this.#options.ticketKeys;
    if (owned || this.#sni.size > 0) {
      if (ctx.inUse) {
        throw new TypeError(
          "A context that already made connections cannot serve certificates per name: give cert and key, or a Context not used yet",
        );
      }
      ctx.setTlsextServernameCallback(this.#select);
      this.#selects = true;
    } else {
      this.#selects = false;
    }
    if (ring) ctx.setTicketKeyRing(ring);
  }

  /**
   * Serves new handshakes from another default context, while serving:
   * established connections and handshakes under way keep what they have,
   * nothing is dropped (nginx's reload, Node's `setSecureContext`). Given a
   * certificate and key, the new context is built from the listener's
   * options, with the same versions, ALPN and client certificate policy.
   *
   * @param context A `Context`, or the new certificate and key.
   * @throws {TypeError} When the credentials are incomplete, or a used
   *   `Context` is given while the listener serves certificates per name.
   * @throws {Deno.errors.BadResource} When the listener is closed.
   * @example Rotate the certificate of a running server
   * ```ts
   * import { connectTls, listenTls, TestCA } from "@denossl/denossl";
   * import assert from "node:assert/strict";
   * using ca = TestCA.create();
   * using first = ca.issue({ dns: ["localhost"] });
   * using second = ca.issue({ dns: ["localhost"] });
   * await using listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: first.chainPEM, key: first.keyPEM });
   * const serve = async (): Promise<void> => {
   *   const conn = await listener.accept();
   *   await conn.handshake();
   *   conn.close();
   * };
   * const serialOf = async (): Promise<bigint | undefined> => {
   *   const served = serve();
   *   await using conn = await connectTls({ hostname: "localhost", port: listener.addr.port, caCerts: [ca.certPEM] });
   *   await served;
   *   return conn.getPeerCertificate()?.serialNumber;
   * };
   * assert.equal(await serialOf(), first.cert.serialNumber);
   * listener.setContext({ cert: second.chainPEM, key: second.keyPEM });
   * assert.equal(await serialOf(), second.cert.serialNumber);
   * ```
   */
  setContext(context: Context | ServerCertificate): void {
    this.#open();
    const owned = !(context instanceof Context);
    const next = context instanceof Context
      ? context
      : credentialsContext(this.#options, context, "setContext");
    try {
      this.#prepareBase(next, owned);
    } catch (e) {
      if (owned) next.close();
      throw e;
    }
    const [old, ownedOld] = [this.#base, this.#ownsBase];
    this.#base = next;
    this.#ownsBase = owned;
    if (ownedOld && old !== next) old.close(); // its connections keep their own reference
  }

  /**
   * Replaces the certificates per server name, while serving: new
   * handshakes choose from the new map, established connections keep their
   * certificate.
   *
   * @param certificates See {@link ListenTlsOptions.sniCertificates}; `{}` serves the default to every name.
   * @throws {TypeError} When a name or an entry is invalid, or the default
   *   context was a `Context` already used (it cannot take the SNI callback).
   * @throws {Deno.errors.BadResource} When the listener is closed.
   */
  setCertificates(certificates: SniCertificates): void {
    this.#open();
    const table = buildSni(this.#options, certificates);
    try {
      this.#swapSni(table, table.owned);
    } catch (e) {
      for (const c of table.owned) c.close();
      throw e;
    }
  }

  /**
   * Adds or replaces the certificate of one server name, while serving, as
   * Node's `server.addContext(hostname, context)`: new handshakes for that
   * name get it, established connections keep theirs. A certificate and key
   * get a context built from the listener's options, as in
   * {@link ListenTlsOptions.sniCertificates}; a `Context` is served as it is.
   *
   * @param hostname An exact name (`"api.example.com"`) or a one-label wildcard (`"*.example.com"`).
   * @param certificate The certificate and key, or a `Context`.
   * @throws {TypeError} When the name or the certificate is invalid, or the
   *   default context was a `Context` already used (it cannot take the SNI callback).
   * @throws {Deno.errors.BadResource} When the listener is closed.
   * @example Serve one more name
   * ```ts
   * import { connectTls, listenTls, TestCA } from "@denossl/denossl";
   * import assert from "node:assert/strict";
   * using ca = TestCA.create();
   * using leaf = ca.issue({ dns: ["localhost"] });
   * using api = ca.issue({ dns: ["api.example.com"] });
   * await using listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
   * listener.addContext("api.example.com", { cert: api.chainPEM, key: api.keyPEM });
   * const served = listener.accept().then(async (conn) => {
   *   await conn.handshake();
   *   conn.close();
   * });
   * await using conn = await connectTls({
   *   hostname: "127.0.0.1",
   *   serverName: "api.example.com",
   *   port: listener.addr.port,
   *   caCerts: [ca.certPEM],
   * });
   * await served;
   * assert.equal(conn.getPeerCertificate()?.serialNumber, api.cert.serialNumber);
   * ```
   */
  addContext(hostname: string, certificate: ServerCertificate | Context): void {
    this.#open();
    const key = serverNameKey(hostname);
    const owned = !(certificate instanceof Context);
    const ctx = certificate instanceof Context
      ? certificate
      : credentialsContext(this.#options, certificate, `addContext("${hostname}")`);
    const replaced = this.#sni.get(key);
    const keep = this.#ownsSni.filter((c) => c !== replaced);
    try {
      this.#swapSni(this.#sni.with(key, ctx), owned ? [...keep, ctx] : keep);
    } catch (e) {
      if (owned) ctx.close();
      throw e;
    }
  }

  /** Serves names from `table`; closes the contexts the listener built that `owned` no longer lists. */
  #swapSni(table: SniTable, owned: Context[]): void {
    if (!this.#selects && table.size > 0) {
      const previous = this.#sni;
      try {
        this.#sni = table; // #prepareBase installs the callback only for a non-empty table
        this.#prepareBase(this.#base, this.#ownsBase);
      } catch (e) {
        this.#sni = previous;
        throw e;
      }
    }
    const old = this.#ownsSni;
    this.#sni = table;
    this.#ownsSni = owned;
    this.#release(old.filter((c) => !owned.includes(c)));
  }

  #open(): void {
    if (this.#closed) throw new Deno.errors.BadResource("The listener is closed");
  }

  #release(contexts: Context[]): void {
    for (const c of contexts) c.close(); // accepted connections keep their own reference
  }

  /**
   * Waits for the next client. Clients that reset before they were accepted
   * are skipped; descriptor exhaustion pauses instead of failing.
   *
   * @returns Its connection; await `handshake()` to see its certificate.
   * @throws {Deno.errors.BadResource} When the listener is closed.
   */
  async accept(): Promise<TlsConnection> {
    let pause = 0;
    for (;;) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await this.#inner.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) throw e;
        if (failedBeforeAccept(e)) continue;
        if (!EXHAUSTION_CODES.has(codeOf(e) ?? "")) throw e;
        // Out of descriptors: give the connections being served time to close some.
        pause = Math.min(MAX_ACCEPT_PAUSE_MS, pause === 0 ? 10 : pause * 2);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          if (!this.#refed) Deno.unrefTimer(timer);
        });
        continue;
      }
      let conn: TlsConnection;
      try {
        conn = new Connection(this.#base, tcp, modeOf(this.#options));
        conn.setAcceptState();
        if (this.#options.maxEarlyData) conn._pump!.acceptEarlyData();
      } catch (e) {
        tcp.close();
        throw e;
      }
      // Errors reach the connection's own calls; a missed deadline closes it.
      handshakeWithin(conn, this.#options, DEFAULT_SERVER_HANDSHAKE_TIMEOUT).catch(() => {});
      return conn;
    }
  }

  /**
   * Stops listening. Accepted connections stay open.
   */
  close(): void {
    this.#closed = true;
    try {
      this.#inner.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    this.#release(this.#ownsBase ? [this.#base, ...this.#ownsSni] : this.#ownsSni);
    this.#ownsBase = false;
    this.#ownsSni = [];
  }

  /**
   * Lets the listener keep the event loop alive.
   */
  ref(): void {
    this.#refed = true;
    this.#inner.ref();
  }

  /**
   * Stops the listener from keeping the event loop alive.
   */
  unref(): void {
    this.#refed = false;
    this.#inner.unref();
  }

  /**
   * Accepts connections until the listener is closed.
   *
   * @returns The iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<TlsConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        throw e;
      }
    }
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Whether this Deno can spread one port over processes: Linux's SO_REUSEPORT, and Deno's unstable flag. */
function checkReusePort(value: unknown): void {
  if (value === undefined || value === false) return;
  if (value !== true) throw new TypeError("listenTls: reusePort must be true or false");
  const os = Deno.build.os;
  if (os !== "linux" && os !== "android") {
    throw new Deno.errors.NotSupported(
      `listenTls: reusePort spreads connections over processes on Linux only; on ${os} Deno ignores it and a second server on the port would fail: run one listener per port, or a load balancer`,
    );
  }
  // Without the flag, Deno.listen({ reusePort }) exits the whole process instead of throwing.
  if (typeof (Deno as { listenDatagram?: unknown }).listenDatagram !== "function") {
    throw new Deno.errors.NotSupported(
      'listenTls: reusePort is unstable in Deno: run with --unstable-net, or put "unstable": ["net"] in deno.json',
    );
  }
}

/**
 * Listens for TLS connections, as `Deno.listenTls` does.
 *
 * @param options Deno's options plus denossl's (client certificate policy,
 *   versions, ciphers, handshake deadline, context, certificates per name,
 *   shared ticket keys, `reusePort`).
 * @returns The listener.
 * @throws {TypeError} When neither `cert`/`key`, `pfx` nor `context` is given,
 *   or a name in `sniCertificates` is not a host name or a one-label wildcard.
 * @throws {RangeError} When `groups` names a group OpenSSL does not know.
 * @throws {SSLError} When the key cannot be decrypted (wrong or missing `passphrase`).
 * @throws {Deno.errors.NotSupported} When `reusePort` is asked for where it cannot work.
 */
export function listenTls(options: ListenTlsOptions): TlsListener {
  if (options.transport !== undefined && options.transport !== "tcp") {
    throw new TypeError(`listenTls: transport must be "tcp": got ${String(options.transport)}`);
  }
  checkReusePort(options.reusePort);
  const served = buildServed(options);
  let inner: Deno.TcpListener;
  try {
    inner = Deno.listen({
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? 0,
      ...(options.tcpBacklog === undefined ? {} : { tcpBacklog: options.tcpBacklog }),
      ...(options.reusePort ? { reusePort: true } : {}),
    });
  } catch (e) {
    for (const c of served.ownsBase ? [served.base, ...served.ownsSni] : served.ownsSni) c.close();
    throw e;
  }
  prebuilt = served;
  try {
    return new TlsListener(inner, options);
  } catch (e) {
    inner.close();
    throw e;
  } finally {
    prebuilt = undefined;
  }
}
