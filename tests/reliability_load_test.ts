/**
 * Load: 1,000 connections open at once on one denossl
 * listener all complete; a reader that does not read makes a writer's
 * `write()` wait (backpressure) instead of its memory grow.
 *
 * File descriptors: 1,000 connections in one process need about 2,010 (both
 * ends of each, plus the listener and Deno's own). The test runs in a
 * subprocess started by `sh -c "ulimit -n 4096"` (a soft limit raise, which
 * needs no privilege while the hard limit allows it), so it does not depend
 * on the runner's limit and a crash cannot take the runner down.
 */

import assert from "node:assert/strict";
import { Connection, connectTls, listenTls } from "../mod.ts";
import { clientContext, pki, serverContext } from "./_negotiation_fixtures.ts";
import { memoryDuplex } from "../tools/_reliability.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

const THOUSAND = `
import { connectTls, listenTls, TestCA } from ${JSON.stringify(MOD)};
const N = 1000;
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
let open = 0, maxOpen = 0, served = 0;
const serverErrors = [];
const serving = [];
const acceptLoop = (async () => {
  for await (const conn of listener) {
    maxOpen = Math.max(maxOpen, ++open);
    serving.push((async () => {
      try {
        await conn.readable.pipeTo(conn.writable); // echo until close_notify
        served++;
      } catch (e) {
        serverErrors.push(String(e));
      } finally {
        open--;
        await conn[Symbol.asyncDispose]();
      }
    })());
  }
})();
let ready = 0;
let release;
const allOpen = new Promise((r) => (release = r));
const started = performance.now();
const results = await Promise.all(Array.from({ length: N }, async (_, i) => {
  const conn = await connectTls({ hostname: "localhost", port: listener.addr.port, caCerts: [ca.certPEM] });
  if (++ready === N) release();
  await allOpen; // every connection is open before any sends
  const msg = new TextEncoder().encode(("client " + i + ".").padEnd(1024, "."));
  await conn.write(msg);
  const buf = new Uint8Array(1024);
  let got = 0;
  while (got < 1024) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  await conn.closeWrite();
  const end = await conn.read(new Uint8Array(1));
  await conn[Symbol.asyncDispose]();
  return got === 1024 && new TextDecoder().decode(buf) === new TextDecoder().decode(msg) && end === null;
}));
const ms = Math.round(performance.now() - started);
listener.close();
await acceptLoop;
await Promise.all(serving);
const limit = Deno.readTextFileSync("/proc/self/limits").match(/Max open files\\s+(\\d+)/)?.[1];
console.log("RESULT " + JSON.stringify({ ok: results.filter(Boolean).length, maxOpen, served, serverErrors, ms, limit }));
`;

Deno.test("1,000 connections open at once on one listenTls listener all complete: handshake, 1 KiB echoed intact, close_notify both ways (subprocess, ulimit -n 4096)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-load-" });
  try {
    await Deno.writeTextFile(`${dir}/thousand.ts`, THOUSAND);
    const script = `ulimit -n 4096 2>/dev/null; exec "$0" run -A "$1"`;
    const out = await new Deno.Command("sh", {
      args: ["-c", script, Deno.execPath(), `${dir}/thousand.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, `no result (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    const r = JSON.parse(line.slice("RESULT ".length));
    assert.ok(Number(r.limit) >= 2100, `open file limit ${r.limit}`);
    assert.deepEqual(r.serverErrors, []);
    assert.equal(r.ok, 1000, JSON.stringify(r));
    assert.equal(r.served, 1000);
    assert.equal(r.maxOpen, 1000, "all 1,000 were open on the server at the same time");
    assert.equal(out.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const MiB = 1 << 20;

Deno.test("backpressure over TCP: while the server does not read, the client's write() waits (written bytes stall at the socket buffers) and memory stays flat; then all 64 MiB arrive", async () => {
  const { ca, leaf } = pki();
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
  });
  let startReading!: () => void;
  const go = new Promise<void>((r) => (startReading = r));
  let received = 0;
  const server = (async () => {
    const conn = await listener.accept();
    await conn.handshake();
    await go;
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      received += n;
    }
    await conn[Symbol.asyncDispose]();
  })();
  const conn = await connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [ca.certPEM],
  });
  const total = 64 * MiB;
  const chunk = new Uint8Array(MiB);
  let written = 0;
  const before = Deno.memoryUsage();
  const writer = (async () => {
    while (written < total) {
      await conn.write(chunk);
      written += chunk.length;
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const stalledAt = written;
  await new Promise((r) => setTimeout(r, 700));
  const after = Deno.memoryUsage();
  assert.equal(written, stalledAt, "no write completed while the peer did not read");
  assert.ok(stalledAt < 32 * MiB, `${stalledAt} bytes went out before the writer stalled`);
  assert.ok(
    after.external - before.external < 32 * MiB && after.rss - before.rss < 64 * MiB,
    `memory grew: external ${after.external - before.external}, rss ${after.rss - before.rss}`,
  );
  startReading();
  await writer;
  await conn.closeWrite();
  await server;
  assert.equal(received, total);
  await conn[Symbol.asyncDispose]();
  listener.close();
});

/** An in-memory transport whose writes wait while the peer holds `capacity` unread bytes. */
function bounded(
  end: ReturnType<typeof memoryDuplex>[0],
  capacity: number,
): {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  closeWrite(): Promise<void>;
} {
  return {
    read: (p) => end.read(p),
    async write(p): Promise<number> {
      while (end.unread >= capacity) await new Promise((r) => setTimeout(r, 5));
      return end.write(p);
    },
    close: () => end.close(),
    closeWrite: () => end.closeWrite(),
  };
}

Deno.test("backpressure through a transport double: with a bounded transport and a peer that does not read, write() and writable.pipeTo() wait, and what is buffered stays bounded", async (t) => {
  for (const via of ["write()", "pipeTo(writable)"] as const) {
    await t.step(via, async () => {
      const [a, b] = memoryDuplex();
      const capacity = 256 * 1024;
      using cctx = clientContext();
      using sctx = serverContext();
      const client = new Connection(cctx, bounded(a, capacity));
      client.setConnectState();
      client.setVerifyHostname("localhost");
      const server = new Connection(sctx, b);
      server.setAcceptState();
      await Promise.all([client.handshake(), server.handshake()]);
      let produced = 0;
      let sending: Promise<unknown>;
      if (via === "write()") {
        sending = (async () => {
          for (;;) {
            await client.write(new Uint8Array(MiB));
            produced += MiB;
          }
        })();
      } else {
        const source = new ReadableStream<Uint8Array>({
          pull(controller): void {
            produced += MiB;
            controller.enqueue(new Uint8Array(MiB));
          },
        }, { highWaterMark: 1 });
        sending = source.pipeTo(client.writable);
      }
      sending.catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      const stalled = produced;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(produced, stalled, "the producer waited while nothing was read");
      assert.ok(produced <= 4 * MiB, `${produced} bytes produced`);
      // Buffered in the transport: its capacity, plus at most what one flush hands over.
      assert.ok(a.unread <= capacity + 2 * MiB, `${a.unread} bytes buffered`);
      // The reader drains: the producer moves again.
      const buf = new Uint8Array(65536);
      let got = 0;
      while (got < 4 * MiB) got += (await server.read(buf))!;
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(produced > stalled, "the producer resumed once the peer read");
      client.close();
      server.close();
      await sending.catch(() => {});
    });
  }
});
