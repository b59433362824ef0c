/**
 * Helpers for the interop suites: real TLS peers that nobody here wrote (the
 * `openssl` CLI, Node's `tls` in a subprocess, Deno's own TLS), started on
 * 127.0.0.1, each case bounded by a deadline that kills its peers.
 *
 * @module
 */

import { Connection, Context, TestCA, type TestKeyType, TLS_METHOD, VERIFY_PEER } from "../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** How many bytes each side sends in the data-integrity cases. */
export const PAYLOAD_SIZE = 256 * 1024;

/** Deadline of one interop case. */
export const CASE_DEADLINE_MS = 20_000;

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

/** A port that was free a moment ago: bind port 0, read it, release it. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
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
          const m = this.#text[which].match(w.re);
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
      else this.#waiters.push({ stream, re, resolve, reject });
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
 */
export async function closeAfterPeer(
  conn: { read(p: Uint8Array): Promise<number | null>; [Symbol.asyncDispose](): Promise<void> },
): Promise<void> {
  const n = await conn.read(new Uint8Array(1));
  if (n !== null) throw new Error(`expected the peer's close_notify, got ${n} more bytes`);
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

/** One PKI per key type, shared by the cases of a file. */
export interface Pki {
  ca: TestCA;
  /** Server leaf for localhost and 127.0.0.1. */
  server: { certPEM: string; keyPEM: string; chainPEM: string };
  /** Client leaf, CN=alice. */
  client: { certPEM: string; keyPEM: string; chainPEM: string };
  close(): void;
}

/** A CA of the given key type with a server leaf (localhost, 127.0.0.1) and a client leaf (alice). */
export function makePki(keyType: TestKeyType): Pki {
  const ca = TestCA.create({ keyType });
  const server = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  const client = ca.issueClient({ commonName: "alice" });
  return {
    ca,
    server,
    client,
    close(): void {
      server.close();
      client.close();
      ca.close();
    },
  };
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

/** Encodes text. */
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s);
}
