/**
 * Leak soak: runs in-process TLS handshake + data + close cycles
 * and reports the resident set size after a warm-up and at the end.
 *
 * ```sh
 * deno task soak                       # 20,000 cycles after 3,000 warm-up ones, 20 MB limit
 * deno task soak --cycles 2000 --warmup 2000 --limit-mb 2 --json
 * deno task soak --mode stream --every 1000 --smaps   # diagnose: memory every 1,000 cycles
 * ```
 *
 * Each cycle makes a client and a server `Connection` from shared contexts
 * (as a real server does), runs the handshake (the client verifies the
 * chain and the host name), moves `--bytes` each way, closes both sides
 * cleanly (close_notify both ways) and frees them. Cycles alternate between
 * memory BIOs (the synchronous API) and an in-memory stream transport (the
 * async engine: `handshake`, `read`, `write`, `closeWrite`), and between
 * TLS 1.3 and TLS 1.2 (resumed with the previous session's ticket).
 * `--mode tcp` runs every cycle over loopback TCP instead (`Deno.TcpConn`,
 * so writes of 32 KiB or more go straight to the socket, see
 * connection/_direct.ts) and also fails when open descriptors grow. Peer
 * certificates and sessions are taken every cycle; `--forget` percent of
 * them are left to the finalization backstop, the rest closed.
 *
 * Memory is the median of five samples, each after full garbage collections
 * (`--v8-flags=--expose-gc`) and `malloc_trim(0)`, once the warm-up cycles
 * ran and again at the end. The limit applies to the anonymous part of the
 * RSS (`RssAnon`: heap memory; pages of the executable that code paths touch
 * for the first time are not a leak); total RSS, malloc's bytes in use and
 * V8's heap in use are reported beside it. `--max-semi-space-size=1` (in
 * the task) keeps V8's young generation from growing on its own schedule.
 * Exits 1 when the growth passes `--limit-mb`, when native handles stay
 * alive, or when one was released twice.
 *
 * @module
 */

import {
  Connection,
  Context,
  SESS_CACHE_OFF,
  type Session,
  TestCA,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
} from "../mod.ts";
import { handleAnomalies, liveHandles } from "../ffi/_handles.ts";
import { handshakeInMemory, pump } from "../tests/_pair.ts";
import { memoryDuplex, memorySample, parseOptions } from "./_reliability.ts";

const options = parseOptions(Deno.args, {
  cycles: 20_000,
  warmup: 3000,
  bytes: 16_384,
  "limit-mb": 20,
  json: false,
  mode: "mixed",
  smaps: false,
  every: 0,
  forget: 50,
});
const warmup = options.warmup;

const ca = TestCA.create({ intermediate: true });
const leaf = ca.issue({ dns: ["localhost"] });

function contexts(version: number): { client: Context; server: Context } {
  const server = new Context(TLS_METHOD);
  server.useCertificateChain(leaf.chainPEM);
  server.usePrivateKey(leaf.keyPEM);
  server.setMinProtoVersion(version);
  server.setMaxProtoVersion(version);
  server.setSessionIdContext("soak");
  // OpenSSL's server-side session cache keeps up to 20,480 sessions by design, which would
  // count as growth here; TLS 1.2 resumption still works, through tickets.
  server.setSessionCacheMode(SESS_CACHE_OFF);
  const client = new Context(TLS_METHOD);
  client.addCaCerts(ca.certPEM);
  client.setVerify(VERIFY_PEER);
  client.setMaxProtoVersion(version);
  return { client, server };
}

const pairs = [contexts(TLS1_3_VERSION), contexts(TLS1_2_VERSION)];
const payload = crypto.getRandomValues(new Uint8Array(Math.min(options.bytes, 65536)));
const data = new Uint8Array(options.bytes);
for (let i = 0; i < data.length; i += payload.length) {
  data.set(payload.subarray(0, data.length - i), i);
}
let savedSession: Session | null = null;

/** Resident bytes per mapping (Linux `/proc/self/smaps`); anonymous ones summed as "[anon]". */
function residentByMapping(): Map<string, number> {
  const out = new Map<string, number>();
  let current = "";
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      current = head[1] || "[anon]";
      continue;
    }
    const rss = line.match(/^Rss:\s+(\d+) kB/);
    if (rss) out.set(current, (out.get(current) ?? 0) + Number(rss[1]) * 1024);
  }
  return out;
}

/** Whether cycle `i` leaves its certificate and session to the finalizer (`--forget` percent). */
function forget(i: number): boolean {
  return ((i * 37) % 100) < options.forget;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`soak: ${what}`);
}

/** Receives exactly `n` bytes in memory mode, pumping from `from`. */
function receiveAll(from: Connection, to: Connection, n: number, buf: Uint8Array): void {
  let got = 0;
  while (got < n) {
    pump(from, to);
    got += to.recvInto(buf.subarray(got, n));
  }
}

function memoryCycle(i: number): void {
  const { client: cctx, server: sctx } = pairs[i % 2]!;
  const server = new Connection(sctx, null);
  server.setAcceptState();
  const client = new Connection(cctx, null);
  client.setConnectState();
  client.setVerifyHostname("localhost");
  if (i % 2 === 1 && savedSession) client.setSession(savedSession);
  handshakeInMemory(client, server);
  const buf = new Uint8Array(data.length);
  client.sendall(data);
  receiveAll(client, server, data.length, buf);
  server.sendall(data);
  receiveAll(server, client, data.length, buf);
  check(buf[0] === data[0] && buf[buf.length - 1] === data[data.length - 1], "data mismatch");
  const cert = client.getPeerCertificate();
  check(cert !== null, "no peer certificate");
  if (!forget(i)) cert!.close();
  client.shutdown();
  pump(client, server);
  try {
    server.recv(1);
  } catch { /* ZeroReturnError: the client's close_notify */ }
  server.shutdown();
  pump(server, client);
  try {
    client.recv(1);
  } catch { /* ZeroReturnError */ }
  if (i % 2 === 1) {
    const session = client.getSession();
    if (!forget(i)) {
      savedSession?.close();
      savedSession = session;
    }
  }
  client.close();
  server.close();
}

async function readExactly(conn: Connection, n: number, buf: Uint8Array): Promise<void> {
  let got = 0;
  while (got < n) {
    const k = await conn.read(buf.subarray(got, n));
    check(k !== null, "early end of stream");
    got += k!;
  }
}

async function streamCycle(i: number): Promise<void> {
  const { client: cctx, server: sctx } = pairs[(i >> 1) % 2]!;
  const [a, b] = memoryDuplex();
  const client = new Connection(cctx, a);
  client.setConnectState();
  client.setVerifyHostname("localhost");
  const server = new Connection(sctx, b);
  server.setAcceptState();
  await exchangeAndClose(i, client, server);
}

/** The async cycle after both connections exist: handshake, data each way, close_notify, close. */
async function exchangeAndClose(
  i: number,
  client: Connection,
  server: Connection,
  check32k?: () => void,
): Promise<void> {
  const [info] = await Promise.all([client.handshake(), server.handshake()]);
  if (!forget(i)) info.peerCertificate?.close();
  const buf = new Uint8Array(data.length);
  await Promise.all([client.write(data), readExactly(server, data.length, buf)]);
  await Promise.all([server.write(data), readExactly(client, data.length, buf)]);
  check32k?.();
  await client.closeWrite();
  check((await server.read(buf)) === null, "server saw no close_notify");
  await server.closeWrite();
  check((await client.read(buf)) === null, "client saw no close_notify");
  await client[Symbol.asyncDispose]();
  await server[Symbol.asyncDispose]();
}

let listener: Deno.TcpListener | null = null;

/** One cycle over loopback TCP: the stream cycle's steps on real sockets. */
async function tcpCycle(i: number): Promise<void> {
  const { client: cctx, server: sctx } = pairs[(i >> 1) % 2]!;
  listener ??= Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = new Connection(
    cctx,
    await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  );
  client.setConnectState();
  client.setVerifyHostname("localhost");
  const server = new Connection(sctx, await accepted);
  server.setAcceptState();
  await exchangeAndClose(i, client, server, () => {
    if (data.length >= 32768) check(client._directFd >= 0, "no direct writes over TCP");
  });
}

/** Open descriptors (Linux; -1 elsewhere or without permission). */
function openDescriptors(): number {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return -1;
  }
}

const mb = (n: number): number => Math.round((n / 1048576) * 100) / 100;

async function run(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const memory = options.mode === "memory" || (options.mode === "mixed" && i % 2 === 0);
    if (options.mode === "tcp") await tcpCycle(i);
    else if (memory) memoryCycle(i);
    else await streamCycle(i);
    // Yield to the event loop now and then, as a server does at every socket read: within one
    // macrotask V8 keeps every WeakRef target alive (the spec's KeepDuringJob), and each
    // Connection is the target of one (the SSL* -> Connection registry of the callbacks).
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
    if (options.every && (i + 1) % options.every === 0) {
      const m = await memorySample(1);
      console.log(
        `  ${i + 1}: RSS ${mb(m.rss)} MB, anonymous ${mb(m.rssAnon)} MB, malloc in use ` +
          `${mb(m.mallocInUse)} MB of ${mb(m.mallocHeld)} MB held, V8 heap ${mb(m.heapUsed)} MB`,
      );
    }
  }
}

const started = performance.now();
await run(0, warmup);
const warm = await memorySample(); // collects garbage first: forgotten objects are freed
const mapsWarm = options.smaps ? residentByMapping() : null;
const handlesWarm = liveHandles();
const fdsWarm = openDescriptors();
const measured = performance.now();
await run(warmup, warmup + options.cycles);
const elapsed = performance.now() - measured;
const last = await memorySample();
const mapsEnd = options.smaps ? residentByMapping() : null;
const handlesEnd = liveHandles();
// The last cycle's transports close once their final writes are out: give them a moment.
await new Promise((r) => setTimeout(r, 100));
const fdsEnd = openDescriptors();
const growth = last.rssAnon - warm.rssAnon;
const leakedHandles = Object.entries(handlesEnd)
  .filter(([k, v]) => v > handlesWarm[k as keyof typeof handlesWarm])
  .map(([k, v]) => `${k} ${handlesWarm[k as keyof typeof handlesWarm]} -> ${v}`);
const result = {
  cycles: options.cycles,
  warmup,
  mode: options.mode,
  bytesEachWay: options.bytes,
  rssWarmMB: mb(warm.rss),
  rssEndMB: mb(last.rss),
  rssGrowthMB: mb(last.rss - warm.rss),
  anonRssWarmMB: mb(warm.rssAnon),
  anonRssEndMB: mb(last.rssAnon),
  growthMB: mb(growth),
  limitMB: options["limit-mb"],
  rawRssWarmMB: mb(warm.rssRaw),
  rawRssEndMB: mb(last.rssRaw),
  mallocInUseGrowthMB: last.mallocInUse < 0 ? null : mb(last.mallocInUse - warm.mallocInUse),
  mallocHeldGrowthMB: last.mallocHeld < 0 ? null : mb(last.mallocHeld - warm.mallocHeld),
  heapUsedGrowthMB: mb(last.heapUsed - warm.heapUsed),
  heapTotalGrowthMB: mb(last.heapTotal - warm.heapTotal),
  cyclesPerSecond: Math.round(options.cycles / (elapsed / 1000)),
  seconds: Math.round((performance.now() - started) / 100) / 10,
  liveHandlesEnd: handlesEnd,
  leakedHandles,
  anomalies: handleAnomalies(),
  openDescriptorsWarm: fdsWarm,
  openDescriptorsEnd: fdsEnd,
};
if (options.json) console.log(JSON.stringify(result));
else {
  console.log(
    `soak: ${result.cycles} cycles (${result.mode}) after ${warmup} warm-up cycles, ` +
      `${result.bytesEachWay} bytes each way, ${result.cyclesPerSecond} cycles/s, ${result.seconds} s in all`,
  );
  console.log(
    `RSS after warm-up ${result.rssWarmMB} MB, at the end ${result.rssEndMB} MB ` +
      `(${result.rssGrowthMB} MB more); anonymous RSS ${result.anonRssWarmMB} -> ` +
      `${result.anonRssEndMB} MB: growth ${result.growthMB} MB (limit ${result.limitMB} MB)`,
  );
  const malloc = result.mallocInUseGrowthMB ?? "?";
  console.log(
    `  untrimmed RSS ${result.rawRssWarmMB} -> ${result.rawRssEndMB} MB; growth of malloc in use ` +
      `${malloc} MB (held ${
        result.mallocHeldGrowthMB ?? "?"
      } MB), V8 heap in use ${result.heapUsedGrowthMB} MB, reserved ${result.heapTotalGrowthMB} MB`,
  );
  console.log(`live native handles at the end: ${JSON.stringify(handlesEnd)}`);
  console.log(`open descriptors after warm-up ${fdsWarm}, at the end ${fdsEnd}`);
  if (mapsWarm && mapsEnd) {
    const grown = [...mapsEnd].map(([k, v]) => [k, v - (mapsWarm.get(k) ?? 0)] as const)
      .filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, 8);
    for (const [k, d] of grown) console.log(`  +${Math.round(d / 1024)} kB resident in ${k}`);
  }
  if (leakedHandles.length) console.log(`LEAKED HANDLES: ${leakedHandles.join(", ")}`);
  if (result.anomalies.length) console.log(`DOUBLE RELEASES: ${result.anomalies.join(", ")}`);
}
(savedSession as Session | null)?.close();
for (const p of pairs) {
  p.client.close();
  p.server.close();
}
leaf.close();
ca.close();
(listener as Deno.TcpListener | null)?.close();
const ok = growth <= options["limit-mb"] * 1048576 && leakedHandles.length === 0 &&
  result.anomalies.length === 0 && fdsEnd <= fdsWarm;
if (!ok) Deno.exit(1);
