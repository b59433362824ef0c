/**
 * Helpers for the interop suites: real TLS peers that nobody here wrote (the
 * `openssl` CLI, Node's `tls` in a subprocess, Deno's own TLS), started on
 * 127.0.0.1, each case bounded by a deadline that kills its peers.
 *
 * @module
 */

export { makePki, type Pki } from "./_pki.ts";
import "./_tools.ts";
import { makePki, type Pki } from "./_pki.ts";
import {
  Connection,
  Context,
  type IssuedCertificate,
  SysCallError,
  type TestKeyType,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
} from "../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** How many bytes each side sends in the data-integrity cases. */
export const PAYLOAD_SIZE = 256 * 1024;

/** Deadline of one interop case: generous, for a busy machine, but finite. */
export const CASE_DEADLINE_MS = 30_000;

/** Random bytes of any length (`crypto.getRandomValues` fills at most 64 KiB a call). */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Hex SHA-256 of some bytes. */
export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether this machine has an IPv6 loopback to listen on (tests needing it are ignored otherwise). */
export function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A port that was free a moment ago, for a peer that must be told its port.
 *
 * Picked at random below Linux's ephemeral range (32768-60999), never by
 * binding port 0: a port the kernel handed out and we released could be
 * handed to another test's `listen({ port: 0 })` in parallel before our peer
 * binds it, and our client would then talk to that test's server.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  throw new Error("no free port found in 20000-31999 after 100 tries");
}

/** Whether something listens on 127.0.0.1:port (Linux: /proc/net/tcp, no connection made). */
function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const table = Deno.readTextFileSync("/proc/net/tcp");
  return table.split("\n").some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === `0100007F:${hex}` && f[3] === "0A";
  });
}

/**
 * Keeps the resources of one case and releases them all, in reverse order,
 * when the case ends or its deadline passes.
 */
export class Scope {
  #cleanups: (() => unknown)[] = [];
  #peers: Peer[] = [];
  /** Aborted when the deadline passes. */
  readonly signal: AbortSignal;
  #controller = new AbortController();

  constructor() {
    this.signal = this.#controller.signal;
  }

  /** Registers a cleanup. */
  defer(fn: () => unknown): void {
    this.#cleanups.push(fn);
  }

  /** Registers a peer: killed (if still running) and awaited at the end. */
  adopt(peer: Peer): Peer {
    this.#peers.push(peer);
    return peer;
  }

  /** The deadline passed: kill every peer so that whatever waits on them ends. */
  abort(): void {
    this.#controller.abort();
    for (const p of this.#peers) p.kill();
    for (const fn of this.#cleanups.toReversed()) {
      try {
        fn();
      } catch { /* already closed */ }
    }
  }

  /** Releases everything. */
  async close(): Promise<void> {
    for (const fn of this.#cleanups.toReversed()) {
      try {
        await fn();
      } catch { /* already closed */ }
    }
    for (const p of this.#peers) {
      p.kill();
      await p.finished();
    }
  }
}

/**
 * Runs one case with a deadline: past `ms`, every peer of the case is killed,
 * its resources closed, and the case fails with a clear message. Never hangs.
 */
export async function withDeadline<T>(
  name: string,
  fn: (scope: Scope) => Promise<T>,
  ms = CASE_DEADLINE_MS,
): Promise<T> {
  const scope = new Scope();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      scope.abort();
      reject(new Error(`${name}: deadline of ${ms} ms passed (peers killed)`));
    }, ms);
  });
  const run = fn(scope);
  run.catch(() => {});
  try {
    return await Promise.race([run, expired]);
  } finally {
    clearTimeout(timer);
    await run.catch(() => {});
    await scope.close();
  }
}

/** A peer process: stdout kept as bytes, stderr as text, stdin fed from the test. */
export class Peer {
  readonly child: Deno.ChildProcess;
  readonly name: string;
  #stdout: Promise<Uint8Array<ArrayBuffer>>;
  #stderr: Promise<string>;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null;
  #stdinWrites: Promise<unknown>[] = [];
  #status: Promise<Deno.CommandStatus>;
  #exited = false;
  #text = { stdout: "", stderr: "" };
  #ended = { stdout: false, stderr: false };
  #waiters: {
    stream: "stdout" | "stderr";
    re: RegExp;
    /** Where in the kept text the waiter starts looking. */
    from: number;
    resolve: (m: RegExpMatchArray) => void;
    reject: (e: Error) => void;
  }[] = [];

  constructor(command: string, args: string[], options: { stdin?: boolean } = {}) {
    this.name = `${command} ${args.slice(0, 2).join(" ")}`;
    this.child = new Deno.Command(command, {
      args,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#stdin = options.stdin ? this.child.stdin.getWriter() : null;
    this.#stdout = this.#collect(this.child.stdout, "stdout");
    this.#stderr = this.#collect(this.child.stderr, "stderr").then((b) => dec.decode(b));
    this.#status = this.child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  async #collect(
    stream: ReadableStream<Uint8Array>,
    which: "stdout" | "stderr",
  ): Promise<Uint8Array<ArrayBuffer>> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of stream) {
      chunks.push(chunk);
      total += chunk.length;
      if (this.#waiters.some((w) => w.stream === which)) {
        this.#text[which] += dec.decode(chunk, { stream: true });
        this.#waiters = this.#waiters.filter((w) => {
          if (w.stream !== which) return true;
          const m = this.#text[which].slice(w.from).match(w.re);
          if (m) w.resolve(m);
          return !m;
        });
      }
    }
    this.#ended[which] = true;
    this.#waiters = this.#waiters.filter((w) => {
      if (w.stream !== which) return true;
      w.reject(
        new Error(`${this.name} ended without printing ${w.re} on ${which}: ${this.#text[which]}`),
      );
      return false;
    });
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  /**
   * Resolves with the first match of `re` in the stream, from the moment of
   * the call on; rejects when the stream ends first. Call it before the peer
   * can print what is awaited.
   */
  waitFor(stream: "stdout" | "stderr", re: RegExp): Promise<RegExpMatchArray> {
    const p = new Promise<RegExpMatchArray>((resolve, reject) => {
      if (this.#ended[stream]) reject(new Error(`${this.name}: ${stream} already ended`));
      else this.#waiters.push({ stream, re, from: this.#text[stream].length, resolve, reject });
    });
    p.catch(() => {});
    return p;
  }

  /** Queues bytes to the peer's stdin. */
  feed(data: Uint8Array): void {
    if (this.#stdin === null) throw new TypeError("peer was started without stdin");
    const p = this.#stdin.write(data);
    p.catch(() => {});
    this.#stdinWrites.push(p);
  }

  /** Closes the peer's stdin (its EOF). */
  async endInput(): Promise<void> {
    const w = this.#stdin;
    if (w === null) return;
    this.#stdin = null;
    await w.close().catch(() => {});
  }

  /** Sends SIGKILL when the process still runs. */
  kill(): void {
    if (this.#exited) return;
    try {
      this.child.kill("SIGKILL");
    } catch { /* already gone */ }
  }

  /** Waits for the process to exit and its streams to end. */
  async finished(): Promise<
    { status: Deno.CommandStatus; stdout: Uint8Array<ArrayBuffer>; stderr: string }
  > {
    const status = await this.#status;
    if (this.#stdin !== null) {
      const w = this.#stdin;
      this.#stdin = null;
      await w.abort().catch(() => {});
    }
    await Promise.allSettled(this.#stdinWrites);
    return { status, stdout: await this.#stdout, stderr: await this.#stderr };
  }

  /** Waits until the peer listens on 127.0.0.1:port, or fails if it exits first. */
  async listening(port: number, signal: AbortSignal): Promise<void> {
    while (!isListening(port)) {
      if (this.#exited || signal.aborted) {
        const { stderr } = await this.finished();
        throw new Error(`${this.name} exited before listening on ${port}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Reads from `r` until `n` bytes arrived (or EOF), returning them. */
export async function readExactly(
  r: { read(p: Uint8Array): Promise<number | null> },
  n: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await r.read(out.subarray(got));
    if (k === null) break;
    got += k;
  }
  return out.subarray(0, got);
}

/**
 * Sends `payload` and, at the same time, reads `expect` bytes from the peer.
 * Returns what arrived.
 */
export async function exchange(
  conn: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> },
  payload: Uint8Array,
  expect: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const reading = readExactly(conn, expect);
  reading.catch(() => {});
  // Deno.Conn.write may write part of the buffer: loop (denossl's writes it all at once).
  for (let off = 0; off < payload.length;) off += await conn.write(payload.subarray(off));
  return await reading;
}

/**
 * Waits for the peer's close_notify (`read` gives null), which a peer that
 * ends once it received everything sends only then, and closes. Closing right
 * after the last write can cut a slow reader short: Node's `tls` then sees an
 * end of stream before the last records (Deno.connectTls shows the same).
 * `beforeClose` runs once everything the peer sent was read (its TLS 1.3
 * session tickets too), before the connection closes.
 */
export async function closeAfterPeer(
  conn: { read(p: Uint8Array): Promise<number | null>; [Symbol.asyncDispose](): Promise<void> },
  beforeClose?: () => void,
): Promise<void> {
  const n = await conn.read(new Uint8Array(1));
  if (n !== null) throw new Error(`expected the peer's close_notify, got ${n} more bytes`);
  beforeClose?.();
  await conn[Symbol.asyncDispose]();
}

/** Extracts `Key: value` from openssl's `-brief` (or verbose) output. */
export function field(text: string, key: string): string | undefined {
  const m = text.match(new RegExp(`^\\s*${key}\\s*:\\s*(.*?)\\s*$`, "m"));
  return m?.[1];
}

/** A temp directory of PEM files for the CLI peers, removed by the scope. */
export async function pemDir(
  scope: Scope,
  files: Record<string, string>,
): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-interop-" });
  scope.defer(() => Deno.remove(dir, { recursive: true }));
  const paths: Record<string, string> = {};
  for (const [name, pem] of Object.entries(files)) {
    paths[name] = `${dir}/${name}.pem`;
    await Deno.writeTextFile(paths[name]!, pem);
  }
  return paths;
}

/** Options of {@link clientContext} and {@link serverContext}. */
export interface CtxOptions {
  min?: number;
  max?: number;
  cipherList?: string;
  suites?: string;
  securityLevel?: number;
}

function tune(ctx: Context, o: CtxOptions): void {
  if (o.min !== undefined) ctx.setMinProtoVersion(o.min);
  if (o.max !== undefined) ctx.setMaxProtoVersion(o.max);
  if (o.securityLevel !== undefined) ctx.setSecurityLevel(o.securityLevel);
  if (o.cipherList !== undefined) ctx.setCipherList(o.cipherList);
  if (o.suites !== undefined) ctx.setTls13Ciphersuites(o.suites);
}

/** A verifying client context trusting `caPEM`, optionally with a client certificate. */
export function clientContext(
  caPEM: string | null,
  o: CtxOptions & { cert?: { certPEM: string; keyPEM: string } } = {},
): Context {
  const ctx = new Context(TLS_METHOD);
  if (caPEM !== null) {
    ctx.addCaCerts(caPEM);
    ctx.setVerify(VERIFY_PEER);
  }
  if (o.cert) {
    ctx.useCertificate(o.cert.certPEM);
    ctx.usePrivateKey(o.cert.keyPEM);
  }
  tune(ctx, o);
  return ctx;
}

/** A server context with a certificate; `verifyMode`/`caPEM` to ask for client certificates. */
export function serverContext(
  cert: { chainPEM: string; keyPEM: string },
  o: CtxOptions & { caPEM?: string; verifyMode?: number } = {},
): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.useCertificateChain(cert.chainPEM);
  ctx.usePrivateKey(cert.keyPEM);
  if (o.caPEM !== undefined) ctx.addCaCerts(o.caPEM);
  if (o.verifyMode !== undefined) ctx.setVerify(o.verifyMode);
  tune(ctx, o);
  return ctx;
}

/**
 * Gives `ctx` an SNI callback that switches a connection to `alt` when the
 * client asks for `name`. Returns the list of names the callback saw.
 */
export function switchOnServername(ctx: Context, name: string, alt: Context): (string | null)[] {
  const seen: (string | null)[] = [];
  ctx.setTlsextServernameCallback((conn) => {
    seen.push(conn.getServername());
    if (conn.getServername() === name) conn.setContext(alt);
  });
  return seen;
}

/** Opens TCP to 127.0.0.1:port and wraps it in a denossl client connection. */
export async function dial(
  scope: Scope,
  ctx: Context,
  port: number,
  o: { verifyHost?: string; sni?: string } = {},
): Promise<Connection<Deno.TcpConn>> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = new Connection(ctx, tcp);
  scope.defer(() => conn[Symbol.asyncDispose]());
  conn.setConnectState();
  if (o.verifyHost !== undefined) conn.setVerifyHostname(o.verifyHost);
  if (o.sni !== undefined) conn.setTlsextHostName(o.sni);
  return conn;
}

/** A plain TCP listener on 127.0.0.1 whose connections become denossl server connections. */
export function denosslListener(scope: Scope): {
  port: number;
  accept(ctx: Context): Promise<Connection<Deno.TcpConn>>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  scope.defer(() => listener.close());
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async accept(ctx: Context): Promise<Connection<Deno.TcpConn>> {
      const tcp = await listener.accept();
      const conn = new Connection(ctx, tcp);
      scope.defer(() => conn[Symbol.asyncDispose]());
      conn.setAcceptState();
      return conn;
    },
  };
}

/** `{ cert, key }` PEM options (Deno's and Node's names) for a leaf and its chain. */
export function certAndKey(
  leaf: { chainPEM: string; keyPEM: string },
): { cert: string; key: string } {
  return { cert: leaf.chainPEM, key: leaf.keyPEM };
}

/**
 * Checks the outcome of a handshake whose peer vanished mid-way: a
 * `SysCallError` (errno -1 "Unexpected EOF", or ECONNRESET / EPIPE) — or,
 * over a stream transport, the transport's own `Deno.errors.ConnectionReset`
 * / `BrokenPipe`, which denossl passes through unchanged when the peer's
 * reset comes before its FIN (see docs/INTEROP.md).
 */
export function assertHungUp(error: unknown): void {
  if (error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe) {
    return;
  }
  if (!(error instanceof SysCallError)) {
    throw new Error(`expected SysCallError for a vanished peer, got ${error}`, { cause: error });
  }
  if (!(error.errno === -1 || error.code === "ECONNRESET" || error.code === "EPIPE")) {
    throw new Error(`unexpected SysCallError ${error.errno} ${error.code}`, { cause: error });
  }
}

/** Base64 of some bytes (small ones: an OCSP response). */
export function encodeBase64(bytes: Uint8Array): string {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/** Encodes text. */
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s);
}

/** Random text of `n` hex digits and a newline: data for the CLI peers whose stdout also carries their reports. */
export function hexPayload(n: number): string {
  return Array.from(randomBytes(Math.ceil(n / 2)), (b) => b.toString(16).padStart(2, "0")).join("")
    .slice(0, n) + "\n";
}

/** A leaf for localhost and 127.0.0.1 that expired yesterday. */
export function expiredLeaf(pki: Pki): IssuedCertificate {
  return pki.ca.issue({
    dns: ["localhost"],
    ip: ["127.0.0.1"],
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
}

// ---- the cipher-suite × key-type matrix ----------------------------------------------------

/** The certificate key types of the matrix. */
export const KEY_TYPES: readonly TestKeyType[] = ["rsa", "ec", "ed25519"];

/** How the table names each key type. */
export const KEY_LABEL: Record<TestKeyType, string> = {
  rsa: "RSA 2048",
  ec: "ECDSA P-256",
  ed25519: "Ed25519",
};

/** One protocol version and AEAD of the matrix. */
export interface Suite {
  /** The table row's prefix: "TLS 1.3 AES-GCM". */
  family: string;
  /** The exact suite: "TLS 1.3 AES-128-GCM". */
  label: string;
  version: "TLSv1.2" | "TLSv1.3";
  /** OpenSSL's name of the suite for a certificate of this key type. */
  cipher: (k: TestKeyType) => string;
}

/**
 * TLS 1.3 and 1.2, each with AES-GCM and ChaCha20-Poly1305; the AES key
 * sizes vary between the peers so that both sizes are covered.
 */
export function suites(aes13: 128 | 256, aes12: 128 | 256): Suite[] {
  const auth = (k: TestKeyType): string => k === "rsa" ? "RSA" : "ECDSA"; // Ed25519 signs as ECDSA
  const sha = (bits: number): string => bits === 128 ? "SHA256" : "SHA384";
  return [
    {
      family: "TLS 1.3 AES-GCM",
      label: `TLS 1.3 AES-${aes13}-GCM`,
      version: "TLSv1.3",
      cipher: () => `TLS_AES_${aes13}_GCM_${sha(aes13)}`,
    },
    {
      family: "TLS 1.3 ChaCha20-Poly1305",
      label: "TLS 1.3 ChaCha20-Poly1305",
      version: "TLSv1.3",
      cipher: () => "TLS_CHACHA20_POLY1305_SHA256",
    },
    {
      family: "TLS 1.2 AES-GCM",
      label: `TLS 1.2 AES-${aes12}-GCM`,
      version: "TLSv1.2",
      cipher: (k) => `ECDHE-${auth(k)}-AES${aes12}-GCM-${sha(aes12)}`,
    },
    {
      family: "TLS 1.2 ChaCha20-Poly1305",
      label: "TLS 1.2 ChaCha20-Poly1305",
      version: "TLSv1.2",
      cipher: (k) => `ECDHE-${auth(k)}-CHACHA20-POLY1305`,
    },
  ];
}

/** denossl context settings that pin one suite. */
export function pinContext(suite: Suite, k: TestKeyType): CtxOptions {
  return suite.version === "TLSv1.3"
    ? { min: TLS1_3_VERSION, suites: suite.cipher(k) }
    : { max: TLS1_2_VERSION, cipherList: suite.cipher(k) };
}

/** The table row of a matrix point. */
export function suiteRow(suite: Suite, k: TestKeyType): string {
  return `${suite.family} · ${KEY_LABEL[k]}`;
}

/**
 * Runs `fn` for every key type × suite with a PKI of that key type, closed
 * afterwards.
 */
export async function eachSuite(
  list: readonly Suite[],
  fn: (pki: Pki, suite: Suite, keyType: TestKeyType) => Promise<unknown>,
): Promise<void> {
  for (const keyType of KEY_TYPES) {
    const pki = makePki(keyType);
    try {
      for (const suite of list) await fn(pki, suite, keyType);
    } finally {
      pki.close();
    }
  }
}

// ---- the table of docs/INTEROP.md, checked against the steps that ran -----------------------

/** The peers of the table, in column order, with their column headers. */
export const PEERS = {
  sServer: "`s_server`",
  sClient: "`s_client`",
  nodeServer: "Node server",
  nodeClient: "Node client",
  denoServer: "`Deno.listenTls`",
  denoClient: "`Deno.connectTls`",
} as const;

/** A column of the table. */
export type PeerKey = keyof typeof PEERS;

/** The rows of the table besides the matrix ones ({@link suiteRow}), in order. */
export const FEATURE_ROWS = [
  "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
  "mTLS: denossl presents a client certificate, the peer checks it",
  "mTLS: denossl requires a client certificate, reads the peer's",
  "ALPN agrees on `h2`, seen by both sides",
  "ALPN agrees on `http/1.1`, seen by both sides",
  "SNI sent by denossl, seen by the peer",
  "SNI sent by the peer, seen by denossl (`getServername()`, SNI callback)",
  "Session resumption, TLS 1.2",
  "Session resumption, TLS 1.3",
  "OCSP stapling (the peer's DER response, byte for byte)",
  "Legacy TLS 1.0 / 1.1 refused by default, with a clear error",
  "Legacy TLS 1.0 / 1.1 reached when asked explicitly",
  "Failure: certificate from an untrusted CA",
  "Failure: certificate for another name",
  "Failure: expired certificate",
  "Failure: client certificate missing",
  "Failure: no shared cipher",
  "Failure: protocol version mismatch",
  "Failure: peer hangs up mid-handshake",
] as const;

/** A feature row. */
export type FeatureRow = typeof FEATURE_ROWS[number];

/** Which cells of the table the steps of this process declared, and how many steps there were. */
const coverage = { cells: new Map<string, Set<PeerKey>>(), steps: 0 };

/**
 * Runs one interop case as a step named `interop: <name>`, under a deadline
 * (see {@link withDeadline}), and records the table cells it covers: `peer`
 * is the column and `rows` the rows (feature names or {@link suiteRow}s).
 * Pass `null` for a case the table does not show.
 */
export function interopStep(
  t: Deno.TestContext,
  cover: { peer: PeerKey; rows: readonly string[] } | null,
  name: string,
  fn: (scope: Scope) => Promise<unknown>,
  ms = CASE_DEADLINE_MS,
): Promise<boolean> {
  coverage.steps++;
  for (const row of cover?.rows ?? []) {
    let set = coverage.cells.get(row);
    if (!set) coverage.cells.set(row, set = new Set());
    set.add(cover!.peer);
  }
  const full = `interop: ${name}`;
  return t.step(full, async () => {
    await withDeadline(full, fn, ms);
  });
}

/** The cells of the table in docs/INTEROP.md: row → column header → cell. */
function readTable(markdown: string): Map<string, Map<string, string>> {
  const lines = markdown.split("\n").filter((l) => l.startsWith("|"));
  const cells = (l: string): string[] => l.slice(1, -1).split("|").map((c) => c.trim());
  const headerAt = lines.findIndex((l) => cells(l)[0] === "case");
  if (headerAt < 0) throw new Error("docs/INTEROP.md: no table with a `case` column");
  const header = cells(lines[headerAt]!);
  const table = new Map<string, Map<string, string>>();
  for (const line of lines.slice(headerAt + 2)) {
    const [row, ...rest] = cells(line);
    table.set(row!, new Map(rest.map((c, i) => [header[i + 1]!, c])));
  }
  return table;
}

/**
 * Checks docs/INTEROP.md against the steps this process ran: for the given
 * columns, a cell starts with ✓ exactly when a step covered it, every row
 * of the table is a known row and every covered row is in the table, and
 * the line `<label>: N interop steps` gives this file's count.
 *
 * @throws {Error} Listing every difference, with the row as it should read.
 */
export async function checkInteropDoc(label: string, peers: readonly PeerKey[]): Promise<void> {
  if (coverage.steps === 0) {
    throw new Error("No interop step ran in this process (a --filter?): run the whole file");
  }
  const path = `${import.meta.dirname}/../docs/INTEROP.md`;
  const markdown = await Deno.readTextFile(path);
  const table = readTable(markdown);
  const known = new Set<string>([
    ...suites(128, 128).flatMap((s) => KEY_TYPES.map((k) => suiteRow(s, k))),
    ...FEATURE_ROWS,
  ]);
  const problems: string[] = [];
  for (const row of table.keys()) if (!known.has(row)) problems.push(`unknown row "${row}"`);
  for (const row of coverage.cells.keys()) {
    if (!known.has(row)) problems.push(`a step covers the unknown row "${row}"`);
    else if (!table.has(row)) problems.push(`row "${row}" is tested but not in the table`);
  }
  for (const [row, cols] of table) {
    for (const peer of peers) {
      const cell = cols.get(PEERS[peer]);
      if (cell === undefined) {
        problems.push(`no column ${PEERS[peer]}`);
        continue;
      }
      const tested = coverage.cells.get(row)?.has(peer) ?? false;
      if (cell.startsWith("✓") !== tested) {
        problems.push(
          `"${row}" × ${PEERS[peer]}: the table says "${cell}", the steps say ${
            tested ? "✓" : "not tested"
          }`,
        );
      }
    }
  }
  const count = markdown.match(new RegExp(`${label}:\\s+(\\d+)\\s+interop\\s+steps`))?.[1];
  if (Number(count) !== coverage.steps) {
    problems.push(`"${label}: N interop steps" says ${count}, ${coverage.steps} steps ran`);
  }
  if (problems.length) throw new Error(`${path} is out of date:\n${problems.join("\n")}`);
}

// ---- OCSP ------------------------------------------------------------------------------------

/** Runs the `openssl` CLI to completion; throws with its stderr when it fails. */
async function opensslRun(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** `YYMMDDHHMMSSZ`, the time format of an `openssl ca` index file. */
function indexTime(d: Date): string {
  return d.toISOString().replace(
    /^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/,
    "$1$2$3$4$5$6Z",
  );
}

/**
 * A real OCSP response from `openssl ocsp`, as a CA would serve it: an index
 * file that lists the PKI's server leaf as valid, a request for that leaf,
 * and the CA's signed answer ("good"). The DER is also written to `path`
 * (for `s_server -status_file`).
 */
export async function ocspResponse(
  scope: Scope,
  pki: Pki,
): Promise<{ der: Uint8Array<ArrayBuffer>; path: string }> {
  const files = await pemDir(scope, {
    ca: pki.ca.certPEM,
    cakey: pki.ca.keyPEM,
    leaf: pki.server.certPEM,
  });
  const dir = files.ca!.replace(/\/[^/]*$/, "");
  const { serialNumberHex, notAfter } = pki.server.cert;
  const subject = pki.server.cert.subject;
  const dn = "/" + subject.rfc2253.split(",").reverse().join("/");
  subject.close();
  await Deno.writeTextFile(
    `${dir}/index.txt`,
    `V\t${indexTime(notAfter)}\t\t${serialNumberHex}\tunknown\t${dn}\n`,
  );
  await opensslRun([
    "ocsp",
    "-issuer",
    files.ca!,
    "-cert",
    files.leaf!,
    "-no_nonce",
    "-reqout",
    `${dir}/req.der`,
  ]);
  await opensslRun([
    "ocsp",
    "-index",
    `${dir}/index.txt`,
    "-rsigner",
    files.ca!,
    "-rkey",
    files.cakey!,
    "-CA",
    files.ca!,
    "-reqin",
    `${dir}/req.der`,
    "-respout",
    `${dir}/resp.der`,
    "-ndays",
    "1",
  ]);
  const path = `${dir}/resp.der`;
  return { der: await Deno.readFile(path), path };
}

/**
 * Starts `s_server` on a free port with a certificate (or none), stdin piped for its
 * outgoing data. `-brief` prints a summary on stderr; without it, the full
 * report (ALPN, reuse) goes to stdout, before the data received.
 */
export async function sServer(
  scope: Scope,
  cert: { certPEM: string; keyPEM: string } | null,
  extra: string[],
  o: { brief?: boolean; naccept?: number } = {},
): Promise<{ peer: Peer; port: number }> {
  // null: no certificate at all (`-nocert`), for PSK-only servers.
  const files = cert === null
    ? null
    : await pemDir(scope, { cert: cert.certPEM, key: cert.keyPEM });
  const port = freePort();
  const peer = scope.adopt(
    new Peer("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-naccept",
      String(o.naccept ?? 1),
      ...(o.brief === false ? [] : ["-brief"]),
      ...(files === null ? ["-nocert"] : ["-cert", files.cert!, "-key", files.key!]),
      ...extra,
    ], { stdin: true }),
  );
  await peer.listening(port, scope.signal);
  return { peer, port };
}

/** Starts `s_client` to 127.0.0.1:port trusting `caFile`, stdin piped, stdout kept (not `-brief`). */
export function sClientTo(scope: Scope, port: number, caFile: string, extra: string[]): Peer {
  return scope.adopt(
    new Peer("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-CAfile",
      caFile,
      "-ign_eof",
      "-nocommands",
      ...extra,
    ], { stdin: true }),
  );
}
