/**
 * Fuzzing: feeds server-side and client-side `Connection`s seeded
 * random and mutated TLS input through memory BIOs. Every failure must be an
 * `SSLError` subclass; anything else (a `TypeError` out of a callback's
 * parsing, a `RangeError`, ...) is a bug, and a crash kills the child process
 * that ran the input and is reported with its seed.
 *
 * ```sh
 * deno task fuzz                          # 100,000 inputs from a random seed
 * deno task fuzz --seed 1234 --count 5000 # inputs 1234 .. 6233
 * deno task fuzz --seed 4321 --count 1    # replay one input (its seed was printed)
 * deno task fuzz --make-corpus            # re-capture tools/fuzz_corpus.json
 * ```
 *
 * Input `n` is derived from seed `n` alone (a mulberry32 stream): which
 * corpus entry, which mutations, how it is cut into writes, whether the
 * transport then ends. The corpus (`tools/fuzz_corpus.json`) holds real
 * flights captured from in-memory handshakes: TLS 1.3 and 1.2
 * ClientHellos (plain, with ALPN and SNI, resuming with a PSK or a ticket),
 * the servers' first flights (ServerHello to Finished, with the certificate
 * chain in TLS 1.2), the clients' second flights (with a client certificate),
 * and post-handshake records. Server targets are fed the mutated ClientHello,
 * or a real ClientHello followed by a mutated client flight; client targets
 * first send their own ClientHello, then get a mutated server flight (its
 * TLS 1.3 session-ID echo patched to theirs). A few inputs in a hundred go
 * to an established connection (a live handshake, then mutated records and
 * alerts): their ciphertext is fresh each run, their mutations are seeded.
 *
 * The servers run an ALPN select, SNI, ClientHello, info and keylog
 * callback, the clients a verify callback that reads every certificate
 * field, so that denossl's own parsing of hostile bytes is fuzzed too.
 *
 * The supervisor runs the inputs in child processes (`--child`), batch by
 * batch; a child that dies is reported with the seed it was on, and the run
 * goes on after it. Exits 1 on any crash or non-`SSLError` failure.
 *
 * @module
 */

import {
  Connection,
  Context,
  type Session,
  SSLError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
  WantReadError,
  type X509,
} from "../mod.ts";
import { handleAnomalies } from "../ffi/_handles.ts";
import { parseOptions, prng } from "./_reliability.ts";

const CORPUS_PATH = new URL("./fuzz_corpus.json", import.meta.url);

const options = parseOptions(Deno.args, {
  seed: -1,
  count: 100_000,
  batch: 10_000,
  child: false,
  trace: false,
  json: false,
  "make-corpus": false,
});

// ---- corpus ------------------------------------------------------------------------------

/** One captured flight. */
interface Entry {
  /** What it is, for reports. */
  name: string;
  /** Who is fed it. */
  target: "server" | "client";
  /** Sent unmutated first (a real ClientHello before a client flight), base64. */
  prefix: string;
  /** The bytes to mutate, base64. */
  data: string;
  /** For client targets: the TLS 1.3 session-ID echo to patch (offset in `data`), or -1. */
  sessionIdAt: number;
}

interface Corpus {
  caPEM: string;
  chainPEM: string;
  keyPEM: string;
  clientChainPEM: string;
  clientKeyPEM: string;
  entries: Entry[];
}

const b64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b));
const unb64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Everything a connection wants to send now. */
function drain(conn: Connection): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    try {
      chunks.push(conn.bioRead(1 << 20));
    } catch (e) {
      if (e instanceof WantReadError) return concat(chunks);
      throw e;
    }
  }
}

function step(conn: Connection): void {
  try {
    conn.doHandshake();
  } catch (e) {
    if (!(e instanceof WantReadError)) throw e;
  }
}

function readSome(conn: Connection): void {
  try {
    conn.recv(65536);
  } catch (e) {
    if (!(e instanceof WantReadError)) throw e;
  }
}

/** Offset of the session ID echo in a record stream starting with a ServerHello, or -1. */
function serverHelloSessionIdAt(flight: Uint8Array): number {
  // record header (5) + handshake header (4) + version (2) + random (32) = 43: the length byte
  if (flight[0] !== 22 || flight[5] !== 2) return -1;
  return flight[43] === 32 ? 44 : -1;
}

/** Captures the corpus from real in-memory handshakes. */
async function makeCorpus(): Promise<void> {
  const { TestCA } = await import("../mod.ts");
  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issue({ dns: ["localhost"] });
  using alice = ca.issueClient({ commonName: "alice" });
  const entries: Entry[] = [];
  const add = (
    name: string,
    target: Entry["target"],
    data: Uint8Array,
    prefix = new Uint8Array(),
  ) => {
    entries.push({
      name,
      target,
      prefix: b64(prefix),
      data: b64(data),
      sessionIdAt: target === "client" ? serverHelloSessionIdAt(data) : -1,
    });
  };
  for (const version of [TLS1_3_VERSION, TLS1_2_VERSION]) {
    const v = version === TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2";
    using sctx = new Context(TLS_METHOD);
    sctx.useCertificateChain(leaf.chainPEM);
    sctx.usePrivateKey(leaf.keyPEM);
    sctx.setMaxProtoVersion(version);
    sctx.setSessionIdContext("fuzz");
    sctx.setAlpnSelectCallback((_c, offered) => offered[0]!);
    sctx.addCaCerts(ca.certPEM);
    sctx.setVerify(VERIFY_PEER);
    using cctx = new Context(TLS_METHOD);
    cctx.addCaCerts(ca.certPEM);
    cctx.setVerify(VERIFY_PEER);
    cctx.setMaxProtoVersion(version);
    cctx.useCertificateChain(alice.chainPEM);
    cctx.usePrivateKey(alice.keyPEM);
    let session: Session | null = null;
    for (const resumed of [false, true]) {
      using server = new Connection(sctx, null);
      server.setAcceptState();
      using client = new Connection(cctx, null);
      client.setConnectState();
      client.setTlsextHostName("localhost");
      client.setAlpnProtos(["h2", "http/1.1"]);
      if (session) client.setSession(session);
      step(client);
      const hello = drain(client);
      server.bioWrite(hello);
      step(server);
      const serverFlight = drain(server);
      client.bioWrite(serverFlight);
      step(client);
      const clientFlight = drain(client);
      server.bioWrite(clientFlight);
      step(server);
      const serverFlight2 = drain(server);
      client.bioWrite(serverFlight2);
      step(client);
      readSome(client); // TLS 1.3 tickets
      client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const appData = drain(client);
      server.bioWrite(appData);
      readSome(server);
      server.send("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      const reply = drain(server);
      client.bioWrite(reply);
      readSome(client);
      client.shutdown();
      const closeNotify = drain(client);
      const tag = resumed ? `${v} resumption` : v;
      add(`${tag} ClientHello`, "server", hello);
      add(
        `${tag} client flight (certificate, key exchange, Finished)`,
        "server",
        clientFlight,
        hello,
      );
      add(`${tag} client data and close_notify`, "server", concat([appData, closeNotify]), hello);
      add(`${tag} server flight`, "client", serverFlight);
      add(`${tag} server flight and data`, "client", concat([serverFlight, serverFlight2, reply]));
      session?.close();
      session = client.getSession();
    }
    session?.close();
  }
  const corpus: Corpus = {
    caPEM: ca.certPEM,
    chainPEM: leaf.chainPEM,
    keyPEM: leaf.keyPEM,
    clientChainPEM: alice.chainPEM,
    clientKeyPEM: alice.keyPEM,
    entries,
  };
  await Deno.writeTextFile(CORPUS_PATH, JSON.stringify(corpus, null, 1) + "\n");
  console.log(`wrote ${entries.length} corpus entries to ${CORPUS_PATH.pathname}`);
}

// ---- mutations ------------------------------------------------------------------------------

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x14, 0x15, 0x16, 0x17, 0x18];
const INTERESTING_16 = [
  0,
  1,
  2,
  0x3f,
  0xff,
  0x100,
  0x3fff,
  0x4000,
  0x4001,
  0x4800,
  0x4900,
  0x7fff,
  0xffff,
];

/** Offsets of record headers in a stream of records (stops at the first broken one). */
function recordOffsets(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let off = 0; off + 5 <= data.length;) {
    out.push(off);
    off += 5 + ((data[off + 3]! << 8) | data[off + 4]!);
  }
  return out;
}

function mutate(data: Uint8Array, rnd: (n: number) => number, corpus: Uint8Array[]): Uint8Array {
  let b = new Uint8Array(data);
  const ops = 1 + rnd(4);
  for (let k = 0; k < ops; k++) {
    const len = b.length;
    const at = len === 0 ? 0 : rnd(len);
    switch (rnd(12)) {
      case 0: // flip bits
        if (len) b[at] = b[at]! ^ (1 << rnd(8));
        break;
      case 1: // interesting byte
        if (len) b[at] = INTERESTING_8[rnd(INTERESTING_8.length)]!;
        break;
      case 2: { // a record's length field
        const recs = recordOffsets(b);
        if (recs.length) {
          const r = recs[rnd(recs.length)]!;
          const v = rnd(3) === 0 ? INTERESTING_16[rnd(INTERESTING_16.length)]! : rnd(0x10000);
          b[r + 3] = v >> 8;
          b[r + 4] = v & 0xff;
        }
        break;
      }
      case 3: { // a 16-bit field anywhere (handshake, extension and vector lengths)
        if (len > 2) {
          const v = INTERESTING_16[rnd(INTERESTING_16.length)]!;
          b[at % (len - 1)] = v >> 8;
          b[(at % (len - 1)) + 1] = v & 0xff;
        }
        break;
      }
      case 4: { // a record's content type or version
        const recs = recordOffsets(b);
        if (recs.length) {
          const r = recs[rnd(recs.length)]!;
          if (rnd(2)) b[r] = INTERESTING_8[rnd(INTERESTING_8.length)]!;
          else b[r + 1 + rnd(2)] = INTERESTING_8[rnd(INTERESTING_8.length)]!;
        }
        break;
      }
      case 5: // truncate
        b = b.slice(0, at);
        break;
      case 6: { // insert random bytes
        const ins = new Uint8Array(1 + rnd(16)).map(() => rnd(256));
        b = concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 7: { // delete a range
        const n = 1 + rnd(Math.max(1, Math.min(64, len - at)));
        b = concat([b.subarray(0, at), b.subarray(Math.min(len, at + n))]);
        break;
      }
      case 8: { // duplicate a range
        const n = 1 + rnd(64);
        b = concat([
          b.subarray(0, at + n),
          b.subarray(at, Math.min(len, at + n)),
          b.subarray(at + n),
        ]);
        break;
      }
      case 9: { // splice another flight in
        const other = corpus[rnd(corpus.length)]!;
        const from = rnd(other.length + 1);
        b = concat([b.subarray(0, at), other.subarray(from, from + 1 + rnd(256))]);
        break;
      }
      case 10: { // random run of bytes
        const n = Math.min(len - at, 1 + rnd(32));
        for (let i = 0; i < n; i++) b[at + i] = rnd(256);
        break;
      }
      default: { // an oversized or empty record appended
        const n = rnd(2) ? 0x4000 + 2048 + 1 + rnd(0x4000) : rnd(4);
        const head = [22 + rnd(3), 3, 3, n >> 8 & 0xff, n & 0xff];
        b = concat([b, new Uint8Array(head), new Uint8Array(Math.min(n, 64)).map(() => rnd(256))]);
      }
    }
  }
  return b;
}

/** Pure random input: bytes, or records with plausible headers and random bodies. */
function randomInput(rnd: (n: number) => number): Uint8Array {
  if (rnd(3) === 0) return new Uint8Array(rnd(600)).map(() => rnd(256));
  const chunks: Uint8Array[] = [];
  for (let i = 0, n = 1 + rnd(4); i < n; i++) {
    const bodyLength = rnd(8) === 0 ? INTERESTING_16[rnd(INTERESTING_16.length)]! : rnd(300);
    const type = rnd(4) ? 20 + rnd(5) : rnd(256);
    const body = new Uint8Array(Math.min(bodyLength, 2048)).map(() => rnd(256));
    if (type === 22 && body.length > 4) {
      body[0] = [1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20, 24][rnd(12)]!; // a handshake type
      const hl = body.length - 4;
      body[1] = hl >> 16;
      body[2] = (hl >> 8) & 0xff;
      body[3] = hl & 0xff;
    }
    chunks.push(new Uint8Array([type, 3, rnd(5), bodyLength >> 8, bodyLength & 0xff]), body);
  }
  return concat(chunks);
}

// ---- the targets ------------------------------------------------------------------------------

interface Stats {
  inputs: number;
  outcomes: Record<string, number>;
  bugs: { seed: number; error: string }[];
}

class Harness {
  readonly corpus: Corpus;
  readonly entries: { entry: Entry; prefix: Uint8Array; data: Uint8Array }[];
  readonly flights: Uint8Array[];
  readonly server: Context;
  readonly client: Context;
  readonly liveClient: Context;

  constructor(corpus: Corpus) {
    this.corpus = corpus;
    this.entries = corpus.entries.map((entry) => ({
      entry,
      prefix: unb64(entry.prefix),
      data: unb64(entry.data),
    }));
    this.flights = this.entries.map((e) => e.data);
    const server = new Context(TLS_METHOD);
    server.useCertificateChain(corpus.chainPEM);
    server.usePrivateKey(corpus.keyPEM);
    server.setSessionIdContext("fuzz");
    server.addCaCerts(corpus.caPEM);
    server.setVerify(VERIFY_PEER, (_c, cert, _e, _d, ok) => readCertificate(cert) && ok);
    server.setAlpnSelectCallback((_c, offered) => offered[0] ?? "");
    server.setTlsextServernameCallback((conn) => void conn.getServername());
    server.setClientHelloCallback((_c, hello) => hello.ciphers.length >= 0);
    server.setInfoCallback((conn) => void conn.getStateString());
    server.setKeylogCallback((_c, line) => void line.length);
    this.server = server;
    const client = new Context(TLS_METHOD);
    client.addCaCerts(corpus.caPEM);
    client.setVerify(VERIFY_PEER, (_c, cert, _e, _d, ok) => readCertificate(cert) && ok);
    client.useCertificateChain(corpus.clientChainPEM);
    client.usePrivateKey(corpus.clientKeyPEM);
    client.setAlpnProtos(["h2", "http/1.1"]);
    client.setInfoCallback((conn) => void conn.getStateString());
    this.client = client;
    const live = new Context(TLS_METHOD);
    live.addCaCerts(corpus.caPEM);
    live.setVerify(VERIFY_PEER);
    this.liveClient = live;
  }

  /** Runs input `seed`; returns its outcome, or throws what is a bug. */
  run(seed: number): string {
    const rnd = prng(seed);
    const kind = rnd(100);
    if (kind < 4) return this.#established(rnd);
    let conn: Connection;
    let prefix: Uint8Array;
    let input: Uint8Array;
    if (kind < 12) {
      const server = rnd(2) === 0;
      conn = new Connection(server ? this.server : this.client, null);
      prefix = new Uint8Array();
      input = randomInput(rnd);
      if (server) conn.setAcceptState();
      else this.#startClient(conn);
    } else {
      const { entry, prefix: p, data } = this.entries[rnd(this.entries.length)]!;
      conn = new Connection(entry.target === "server" ? this.server : this.client, null);
      prefix = p;
      if (entry.target === "server") {
        conn.setAcceptState();
        input = mutate(data, rnd, this.flights);
      } else {
        const hello = this.#startClient(conn);
        const patched = new Uint8Array(data);
        if (entry.sessionIdAt >= 0 && hello.length >= 44 + 32 && hello[43] === 32) {
          patched.set(hello.subarray(44, 76), entry.sessionIdAt);
        }
        input = mutate(patched, rnd, this.flights);
      }
    }
    try {
      return this.#feed(conn, prefix, input, rnd);
    } finally {
      conn.close();
    }
  }

  #startClient(conn: Connection): Uint8Array {
    conn.setConnectState();
    conn.setTlsextHostName("localhost");
    conn.setVerifyHostname("localhost");
    step(conn);
    return drain(conn);
  }

  /** Feeds the prefix, then the input in seeded chunks, driving the connection after each. */
  #feed(
    conn: Connection,
    prefix: Uint8Array,
    input: Uint8Array,
    rnd: (n: number) => number,
  ): string {
    const drive = (): string | null => {
      try {
        if (!conn.isHandshakeDone()) conn.doHandshake();
        conn.recv(16384);
        return null;
      } catch (e) {
        if (e instanceof WantReadError) return null;
        return outcomeOf(e);
      } finally {
        drain(conn);
      }
    };
    if (prefix.length) {
      conn.bioWrite(prefix);
      const early = drive();
      if (early) return `prefix: ${early}`;
    }
    // 0: at once, 1: byte by byte (the first 128 bytes, then small chunks), 2: small chunks,
    // 3: random cuts
    const chunking = rnd(4);
    for (let off = 0; off < input.length;) {
      const n = chunking === 0
        ? input.length
        : chunking === 1 && off < 128
        ? 1
        : chunking === 1 || chunking === 2
        ? 1 + rnd(64)
        : 1 + rnd(input.length);
      conn.bioWrite(input.subarray(off, off + n));
      off += n;
      const result = drive();
      if (result) return again(conn, result);
    }
    if (rnd(3) === 0) {
      conn.bioShutdown(); // the transport ends
      const result = drive();
      if (result) return again(conn, result);
    }
    return conn.isHandshakeDone() ? "handshake done" : "want read";
  }

  /** A live handshake, then mutated records to the established client. */
  #established(rnd: (n: number) => number): string {
    const server = new Connection(this.server, null);
    server.setAcceptState();
    const client = new Connection(this.liveClient, null);
    client.setConnectState();
    client.setVerifyHostname("localhost");
    try {
      for (let i = 0; i < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); i++) {
        step(client);
        server.bioWrite(drain(client));
        step(server);
        client.bioWrite(drain(server));
      }
      readSome(client);
      const records: Uint8Array[] = [];
      server.send(new Uint8Array(1 + rnd(40000)).fill(0x61));
      records.push(drain(server));
      if (rnd(2)) {
        server.shutdown();
        records.push(drain(server));
        records.push(new Uint8Array([23, 3, 3, 0, 20, ...new Uint8Array(20)])); // data after close_notify
      }
      const input = rnd(4) === 0 ? concat(records) : mutate(concat(records), rnd, this.flights);
      return `established: ${this.#feed(client, new Uint8Array(), input, rnd)}`;
    } finally {
      client.close();
      server.close();
    }
  }
}

/** Reads every field of a certificate (the verify callbacks' job). */
function readCertificate(cert: X509): boolean {
  void [cert.subject.toString(), cert.issuer.oneline, cert.serialNumberHex, cert.notBefore];
  void [cert.notAfter, cert.subjectAltNames, cert.extensions, cert.isCA, cert.keyUsage];
  void [cert.extendedKeyUsage, cert.signatureAlgorithm, cert.fingerprint("sha256")];
  cert.publicKey.close();
  cert.close();
  return true;
}

/** The outcome name of a failure; throws when it is not an SSLError (a bug). */
function outcomeOf(e: unknown): string {
  if (!(e instanceof SSLError)) throw e;
  const reason = e.errors.at(-1)?.reason ?? e.message.slice(0, 60);
  return `${e.name}: ${reason}`;
}

/** After a failure, one more call must fail the same safe way. */
function again(conn: Connection, outcome: string): string {
  try {
    conn.doHandshake();
    conn.recv(1);
  } catch (e) {
    if (!(e instanceof SSLError)) throw e;
  }
  return outcome;
}

// ---- child and supervisor --------------------------------------------------------------------

async function loadCorpus(): Promise<Corpus> {
  return JSON.parse(await Deno.readTextFile(CORPUS_PATH)) as Corpus;
}

async function child(seed: number, count: number, trace: boolean): Promise<void> {
  const harness = new Harness(await loadCorpus());
  const stats: Stats = { inputs: 0, outcomes: {}, bugs: [] };
  const enc = new TextEncoder();
  for (let s = seed; s < seed + count; s++) {
    if (trace) Deno.stdout.writeSync(enc.encode(`T ${s}\n`));
    let outcome: string;
    try {
      outcome = harness.run(s);
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
      stats.bugs.push({ seed: s, error });
      outcome = "BUG";
    }
    stats.inputs++;
    const key = outcome.replace(/^(prefix|established): /, "$1 ").slice(0, 90);
    stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
    if (s % 500 === 499) await new Promise((r) => setTimeout(r, 0)); // let finalizers run
  }
  const anomalies = handleAnomalies();
  if (anomalies.length) stats.bugs.push({ seed: -1, error: `double releases: ${anomalies}` });
  console.log(`DONE ${JSON.stringify(stats)}`);
}

interface Report {
  seed: number;
  count: number;
  inputs: number;
  crashes: { seed: number; signal: string | null; code: number; stderr: string }[];
  bugs: { seed: number; error: string }[];
  outcomes: Record<string, number>;
  seconds: number;
}

async function supervise(seed: number, count: number, batch: number): Promise<Report> {
  const started = performance.now();
  const report: Report = {
    seed,
    count,
    inputs: 0,
    crashes: [],
    bugs: [],
    outcomes: {},
    seconds: 0,
  };
  let next = seed;
  const end = seed + count;
  while (next < end) {
    const n = Math.min(batch, end - next);
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--child",
        "--trace",
        "--seed",
        String(next),
        "--count",
        String(n),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(proc.stderr).text();
    let last = next - 1;
    let done: Stats | null = null;
    let pending = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("T ")) last = Number(line.slice(2));
        else if (line.startsWith("DONE ")) done = JSON.parse(line.slice(5));
      }
    }
    const status = await proc.status;
    const err = await stderr;
    if (done && status.success) {
      report.inputs += done.inputs;
      report.bugs.push(...done.bugs);
      for (const [k, v] of Object.entries(done.outcomes)) {
        report.outcomes[k] = (report.outcomes[k] ?? 0) + v;
      }
      next += n;
    } else {
      // The child died on input `last`: report it and go on after it.
      report.inputs += last - next + 1;
      report.crashes.push({
        seed: last,
        signal: status.signal,
        code: status.code,
        stderr: err.slice(-2000),
      });
      next = last + 1;
    }
  }
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  return report;
}

if (options["make-corpus"]) {
  await makeCorpus();
} else if (options.child) {
  await child(options.seed, options.count, options.trace);
} else {
  const seed = options.seed >= 0 ? options.seed : Math.floor(Math.random() * 2 ** 31);
  if (!options.json) {
    console.log(`fuzz: ${options.count} inputs from seed ${seed} (replay one: --seed N --count 1)`);
  }
  const report = await supervise(seed, options.count, options.batch);
  if (options.json) console.log(JSON.stringify(report));
  else {
    console.log(
      `fuzz: ${report.inputs} inputs in ${report.seconds} s, ${report.crashes.length} crashes, ` +
        `${report.bugs.length} non-SSLError failures`,
    );
    const top = Object.entries(report.outcomes).sort((a, b) => b[1] - a[1]).slice(0, 25);
    for (const [k, v] of top) console.log(`  ${String(v).padStart(7)}  ${k}`);
    for (const c of report.crashes) {
      console.log(
        `CRASH at seed ${c.seed} (exit ${c.code}, signal ${c.signal}): deno task fuzz --seed ${c.seed} --count 1\n${c.stderr}`,
      );
    }
    for (const b of report.bugs.slice(0, 20)) {
      console.log(`BUG at seed ${b.seed}: deno task fuzz --seed ${b.seed} --count 1\n${b.error}`);
    }
  }
  if (report.crashes.length || report.bugs.length) Deno.exit(1);
}
