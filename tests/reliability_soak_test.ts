/**
 * Leak soak, in the suite: the 2,000-cycle version of
 * `deno task soak` (20,000 cycles, 20 MB) with the bound scaled to 2 MB, and
 * regression tests for the two leaks the soak found in the stream engine.
 * Each runs in a subprocess with `--expose-gc`, so that a crash fails the
 * test instead of killing the runner.
 */

import assert from "node:assert/strict";
import { runSnippet } from "./_subprocess.ts";

const SOAK = new URL("../tools/soak.ts", import.meta.url).pathname;
const RELIABILITY = new URL("../tools/_reliability.ts", import.meta.url).href;

/** The fields of tools/soak.ts's JSON line that the tests read. */
interface SoakResult {
  growthMB: number;
  mallocInUseGrowthMB: number | null;
  heapUsedGrowthMB: number;
  leakedHandles: string[];
  anomalies: string[];
  liveHandlesEnd: Record<string, number>;
  openDescriptorsWarm: number;
  openDescriptorsEnd: number;
}

/** Runs tools/soak.ts with `args` (and --json) in a child process; returns its result line. */
async function soak(
  args: string[],
): Promise<{ r: SoakResult; summary: string; code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc,--max-semi-space-size=1", SOAK, ...args, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `soak printed no result (exit ${out.code}, signal ${out.signal}): ${stderr}`);
  const r = JSON.parse(line);
  return { r, summary: JSON.stringify(r), code: out.code, stderr };
}

Deno.test("2,000 handshake + data + close cycles (memory BIOs and stream transports, TLS 1.3 and 1.2 with resumption) grow anonymous RSS by less than 2 MB after warm-up and free every native handle", async () => {
  const { r, summary, code, stderr } = await soak(
    ["--cycles", "2000", "--warmup", "2000", "--bytes", "4096", "--limit-mb", "2"],
  );
  assert.ok(r.growthMB < 2, `anonymous RSS grew ${r.growthMB} MB: ${summary}`);
  assert.ok(r.mallocInUseGrowthMB === null || r.mallocInUseGrowthMB < 1, summary);
  assert.ok(r.heapUsedGrowthMB < 1, summary);
  assert.deepEqual(r.leakedHandles, [], summary);
  assert.deepEqual(r.anomalies, [], summary);
  assert.equal(r.liveHandlesEnd.SSL, 0, summary);
  assert.equal(code, 0, `${summary}\n${stderr}`);
});

Deno.test("600 cycles over loopback TCP with 64 KiB each way (direct writes to the socket) leave malloc, the V8 heap, native handles and open descriptors where the warm-up left them", async () => {
  const { r, summary, code, stderr } = await soak(
    ["--mode", "tcp", "--cycles", "600", "--warmup", "300", "--bytes", "65536", "--limit-mb", "8"],
  );
  assert.ok(r.mallocInUseGrowthMB === null || r.mallocInUseGrowthMB < 1, summary);
  assert.ok(r.heapUsedGrowthMB < 1, summary);
  assert.deepEqual(r.leakedHandles, [], summary);
  assert.deepEqual(r.anomalies, [], summary);
  assert.equal(r.liveHandlesEnd.SSL, 0, summary);
  assert.ok(r.openDescriptorsEnd <= r.openDescriptorsWarm, summary);
  assert.equal(code, 0, `${summary}\n${stderr}`);
});

Deno.test("a long-lived stream connection's heap does not grow with the number of reads that waited (30,000 reads)", async () => {
  const result = await runSnippet(
    `
const { memoryDuplex, collect } = await import(${JSON.stringify(RELIABILITY)});
const { Connection, Context, TestCA, TLS_METHOD } = denossl;
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const sctx = new Context(TLS_METHOD);
sctx.useCertificateChain(leaf.chainPEM);
sctx.usePrivateKey(leaf.keyPEM);
const [a, b] = memoryDuplex();
const client = new Connection(new Context(TLS_METHOD), a);
client.setConnectState();
const server = new Connection(sctx, b);
server.setAcceptState();
await Promise.all([client.handshake(), server.handshake()]);
const buf = new Uint8Array(64);
const msg = new Uint8Array(8);
async function rounds(n) {
  for (let i = 0; i < n; i++) {
    const reading = server.read(buf); // waits on the transport until the write arrives
    await client.write(msg);
    await reading;
  }
}
await rounds(2000);
await collect(3);
const before = Deno.memoryUsage().heapUsed;
await rounds(30000);
await collect(3);
report({ growth: Deno.memoryUsage().heapUsed - before });
`,
    { flags: ["--allow-all", "--v8-flags=--expose-gc"] },
  );
  assert.equal(result.code, 0, result.stderr);
  const { growth } = result.report as { growth: number };
  // Before the fix: about 300 bytes per waiting read, 9 MB here.
  assert.ok(growth < 1_000_000, `the heap grew ${growth} bytes over 30,000 reads`);
});

Deno.test("closed stream connections free their 64 KiB read buffers at once: external memory stays flat over 2,000 connections with no forced collection", async () => {
  const result = await runSnippet(
    `
const { memoryDuplex } = await import(${JSON.stringify(RELIABILITY)});
const { Connection, Context, TestCA, TLS_METHOD } = denossl;
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const sctx = new Context(TLS_METHOD);
sctx.useCertificateChain(leaf.chainPEM);
sctx.usePrivateKey(leaf.keyPEM);
const cctx = new Context(TLS_METHOD);
const before = Deno.memoryUsage().external;
let peak = 0;
for (let i = 0; i < 2000; i++) {
  const [a, b] = memoryDuplex();
  const client = new Connection(cctx, a);
  client.setConnectState();
  const server = new Connection(sctx, b);
  server.setAcceptState();
  await Promise.all([client.handshake(), server.handshake()]);
  await client.write(new Uint8Array(100));
  await server.read(new Uint8Array(100));
  await client[Symbol.asyncDispose]();
  await server[Symbol.asyncDispose]();
  if (i % 100 === 99) {
    await new Promise((r) => setTimeout(r, 0));
    peak = Math.max(peak, Deno.memoryUsage().external - before);
  }
}
report({ peak });
`,
    { flags: ["--allow-all"] },
  );
  assert.equal(result.code, 0, result.stderr);
  const { peak } = result.report as { peak: number };
  // Before the fix: 128 KiB per closed pair, 250 MB here, until V8 chose to collect.
  assert.ok(peak < 20 * 1048576, `external memory grew to ${peak} bytes`);
});
