/**
 * The descriptor search and our duplicates of a transport's socket (direct
 * writes, native mode): a number reused between the search and the `dup`
 * never gets our bytes, descriptors above 1024 are found, and a duplicate
 * does not outlive its transport whichever way that is closed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER } from "../mod.ts";
import { ERRNO, socketCookie, socketType } from "../ffi/sys.ts";
import { _searchHooks, findTcpDescriptor } from "../connection/_native.ts";
import { _openDirectCount, DIRECT_SWEEP_MS } from "../connection/_direct.ts";
import { runSnippet } from "./_subprocess.ts";

const LINUX = Deno.build.os === "linux";
const ca = TestCA.create({ keyType: "ec" });
const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
globalThis.addEventListener("unload", () => {
  leaf.close();
  ca.close();
});

interface Pair {
  c: Connection<Deno.TcpConn>;
  s: Connection<Deno.TcpConn>;
  tcp: Deno.TcpConn;
  close(): void;
}

/** One pair over loopback TCP, handshakes done. */
async function pair(options: { directWrites?: boolean; native?: boolean } = {}): Promise<Pair> {
  const server = new Context(TLS_METHOD);
  server.useCertificate(leaf.certPEM);
  server.usePrivateKey(leaf.keyPEM);
  const client = new Context(TLS_METHOD);
  client.addCaCerts(ca.certPEM);
  client.setVerify(VERIFY_PEER);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const c = new Connection(client, tcp, options);
  c.setConnectState();
  const s = new Connection(server, await accepted);
  s.setAcceptState();
  listener.close();
  await Promise.all([c.handshake(), s.handshake()]);
  return {
    c,
    s,
    tcp,
    close(): void {
      c.close();
      s.close();
      server.close();
      client.close();
    },
  };
}

function pattern(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function readExactly(conn: Connection, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    assert.notEqual(r, null, `early end after ${got} of ${n} bytes`);
    got += r!;
  }
  return out;
}

/** Whether `conn` gets any byte within `ms` (false: nothing came, or only its end). */
async function receivesWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(1);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
  const read = conn.read(buf).catch(() => null);
  const result = await Promise.race([read, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    conn.close(); // ends the read
    await read;
    return false;
  }
  return result !== null;
}

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw TCP client socket made with libc, synchronously (a test hook cannot await). */
const rawLibc = LINUX
  ? Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  }).symbols
  : null;

function rawConnect(port: number): number {
  const fd = rawLibc!.socket(2, 1, 0); // AF_INET, SOCK_STREAM
  assert.ok(fd >= 0);
  const sin = new Uint8Array(16);
  sin[0] = 2; // sin_family, little-endian u16
  sin[2] = port >> 8;
  sin[3] = port & 0xff;
  sin.set([127, 0, 0, 1], 4);
  assert.equal(rawLibc!.connect(fd, sin, 16), 0, "connect to the impostor's listener");
  return fd;
}

Deno.test({
  name:
    "a number that is another socket's by the time of the dup gets no ciphertext: direct writes fall back to the transport, bytes intact",
  ignore: !LINUX,
  fn: async () => {
    const p = await pair();
    const impostorListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const impostorAccepted = impostorListener.accept();
    const impostor = await Deno.connect({
      hostname: "127.0.0.1",
      port: impostorListener.addr.port,
    });
    const impostorPeer = await impostorAccepted;
    const impostorFd = findTcpDescriptor(impostor.localAddr, impostor.remoteAddr);
    assert.notEqual(impostorFd, null);
    let searched = -1;
    _searchHooks.beforeDup = (fd) => {
      searched = fd;
      return impostorFd!; // the number now refers to the impostor's socket
    };
    try {
      const data = pattern(256 * 1024, 3);
      const [got] = await Promise.all([readExactly(p.s, data.length), p.c.write(data)]);
      assert.deepEqual(got, data, "every byte went through the transport");
      assert.ok(searched >= 0, "the search found the transport's descriptor");
      assert.equal(p.c._directFd, -1, "no duplicate of the impostor is kept");
      assert.equal(_openDirectCount(), 0);
      impostor.close();
      assert.equal(await receivesWithin(impostorPeer, 200), false, "the impostor got nothing");
    } finally {
      _searchHooks.beforeDup = null;
      p.close();
      impostorListener.close();
      try {
        impostorPeer.close();
      } catch { /* closed by receivesWithin */ }
    }
  },
});

Deno.test({
  name:
    "a transport closed and its number reused between the search and the dup: the new socket gets no ciphertext, the write fails as over a closed transport",
  ignore: !LINUX,
  fn: async () => {
    const p = await pair();
    const impostorListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const raw: number[] = [];
    let reused = false;
    _searchHooks.beforeDup = (fd) => {
      p.tcp.close(); // the user closes the transport...
      // ...and a new socket takes its number (the lowest free one: take them until it is ours).
      for (let i = 0; i < 64 && !reused; i++) {
        const s = rawConnect(impostorListener.addr.port);
        raw.push(s);
        reused = s === fd;
      }
    };
    try {
      await assert.rejects(p.c.write(pattern(64 * 1024, 4)), Deno.errors.BadResource);
      assert.ok(reused, "the transport's number was taken by a new socket");
      assert.equal(p.c._directFd, -1);
      assert.equal(_openDirectCount(), 0);
      _searchHooks.beforeDup = null;
      // Every impostor connection ends without having received a byte.
      for (const fd of raw) rawLibc!.close(fd);
      for (let i = 0; i < raw.length; i++) {
        const peer = await impostorListener.accept();
        const got = await peer.read(new Uint8Array(1)).catch(() => null);
        assert.equal(got, null, "an impostor received ciphertext");
        peer.close();
      }
    } finally {
      _searchHooks.beforeDup = null;
      p.close();
      impostorListener.close();
    }
  },
});

Deno.test({
  name:
    "native mode: a number reused between the search and the dup is refused; the connection falls back to stream mode and says why",
  ignore: !LINUX,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const peer = await accepted;
    using ctx = new Context(TLS_METHOD);
    _searchHooks.beforeDup = () => 0; // stdin now: not the socket searched for
    try {
      const conn = new Connection(ctx, tcp, { native: true });
      try {
        assert.equal(conn.transportMode, "stream");
        assert.match(
          conn.nativeFallbackReason ?? "",
          /changed between the search and its duplication/,
        );
      } finally {
        conn.close();
      }
    } finally {
      _searchHooks.beforeDup = null;
      peer.close();
      listener.close();
    }
  },
});

const DESCRIPTORS_ABOVE_1024 = `
const { findTcpDescriptor } = await import(${
  JSON.stringify(new URL("../connection/_native.ts", import.meta.url).href)
});
const files = [];
for (let i = 0; i < 1100; i++) files.push(Deno.openSync("/dev/null"));
const ca = denossl.TestCA.create({ keyType: "ec" });
const leaf = ca.issue({ ip: ["127.0.0.1"] });
const sctx = new denossl.Context(denossl.TLS_METHOD);
sctx.useCertificate(leaf.certPEM);
sctx.usePrivateKey(leaf.keyPEM);
const cctx = new denossl.Context(denossl.TLS_METHOD);
cctx.addCaCerts(ca.certPEM);
cctx.setVerify(denossl.VERIFY_PEER);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
async function run(native) {
  const accepted = listener.accept();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const fd = findTcpDescriptor(tcp.localAddr, tcp.remoteAddr);
  const c = new denossl.Connection(cctx, tcp, { native });
  c.setConnectState();
  const s = new denossl.Connection(sctx, await accepted);
  s.setAcceptState();
  await Promise.all([c.handshake(), s.handshake()]);
  const data = new Uint8Array(256 * 1024).map((_, i) => i * 13);
  const got = new Uint8Array(data.length);
  let n = 0;
  await Promise.all([c.write(data), (async () => {
    while (n < got.length) n += (await s.read(got.subarray(n))) ?? 0;
  })()]);
  const result = {
    fd,
    mode: c.transportMode,
    direct: c._directFd >= 0,
    intact: got.every((b, i) => b === data[i]),
  };
  c.close();
  s.close();
  return result;
}
report({ stream: await run(false), native: await run(true) });
listener.close();
for (const f of files) f.close();
`;

Deno.test({
  name:
    "a socket whose descriptor is above 1024 is found, with /proc/self/fd readable and without it: direct writes and native mode",
  ignore: !LINUX,
  fn: async () => {
    const base = ["--allow-ffi", "--allow-net", "--allow-env"];
    for (
      const flags of [
        [...base, "--allow-read=/dev/null"], // the bounded scan (no /proc)
        ["--allow-all"], // the /proc/self/fd listing
      ]
    ) {
      const result = await runSnippet(DESCRIPTORS_ABOVE_1024, { flags });
      assert.equal(result.code, 0, result.stderr);
      const report = result.report as Record<
        "stream" | "native",
        { fd: number; mode: string; direct: boolean; intact: boolean }
      >;
      assert.ok(report.stream.fd > 1024, `descriptor ${report.stream.fd} with ${flags}`);
      assert.deepEqual(
        { mode: report.stream.mode, direct: report.stream.direct, intact: report.stream.intact },
        { mode: "stream", direct: true, intact: true },
        `stream with ${flags}`,
      );
      assert.ok(report.native.fd > 1024);
      assert.deepEqual(
        { mode: report.native.mode, intact: report.native.intact },
        { mode: "native", intact: true },
        `native with ${flags}`,
      );
    }
  },
});

Deno.test({
  name: "directWrites: false sends every byte through the transport",
  ignore: !LINUX,
  fn: async () => {
    const p = await pair({ directWrites: false });
    try {
      const data = pattern(256 * 1024, 5);
      const [got] = await Promise.all([readExactly(p.s, data.length), p.c.write(data)]);
      assert.deepEqual(got, data);
      assert.equal(p.c._directFd, -1);
    } finally {
      p.close();
    }
  },
});

Deno.test({
  name:
    "the duplicate is closed by close(), by a failed send, and by the transport closed directly",
  ignore: !LINUX,
  fn: async (t) => {
    const data = pattern(64 * 1024, 6);

    await t.step("conn.close()", async () => {
      const p = await pair();
      await Promise.all([readExactly(p.s, data.length), p.c.write(data)]);
      const dup = p.c._directFd;
      assert.ok(dup >= 0);
      const cookie = socketCookie(dup);
      p.close();
      // Closed: the number is free, or (tests run in parallel in this process) already another
      // file's, which is not our socket.
      const now = socketType(dup);
      assert.ok(now === -ERRNO.EBADF || socketCookie(dup) !== cookie, `fd ${dup}: ${now}`);
      assert.equal(_openDirectCount(), 0);
    });

    await t.step("a send that fails (the peer went away)", async () => {
      const p = await pair();
      try {
        await Promise.all([readExactly(p.s, data.length), p.c.write(data)]);
        assert.ok(p.c._directFd >= 0);
        p.s.close();
        await new Promise((r) => setTimeout(r, 50));
        await assert.rejects(async () => {
          for (let i = 0; i < 50; i++) {
            await p.c.write(data);
            await new Promise((r) => setTimeout(r, 10));
          }
        });
        assert.equal(p.c._directFd, -1);
        assert.equal(_openDirectCount(), 0);
      } finally {
        p.close();
      }
    });

    await t.step(
      "the transport closed directly, and the connection left alone: a sweep closes the duplicate; a later write fails as over the closed transport",
      async () => {
        const p = await pair();
        try {
          await Promise.all([readExactly(p.s, data.length), p.c.write(data)]);
          assert.ok(p.c._directFd >= 0);
          const closedAt = Date.now();
          p.tcp.close(); // behind the connection's back
          // The server reads the end (Deno shuts the socket down as it closes it).
          const end = await p.s.read(new Uint8Array(16)).then(() => "end", (e) => e.name);
          assert.ok(["end", "SysCallError"].includes(end), end);
          // The sweep finds the transport's descriptor closed and closes ours.
          await until(() => p.c._directFd === -1, "the sweep", DIRECT_SWEEP_MS * 4);
          assert.ok(Date.now() - closedAt < DIRECT_SWEEP_MS * 4);
          assert.equal(_openDirectCount(), 0);
          await assert.rejects(p.c.write(data), Deno.errors.BadResource);
        } finally {
          p.close();
        }
      },
    );

    await t.step("a write right after the transport was closed directly never sends", async () => {
      const p = await pair();
      try {
        await Promise.all([readExactly(p.s, data.length), p.c.write(data)]);
        assert.ok(p.c._directFd >= 0);
        p.tcp.close();
        await assert.rejects(p.c.write(data), Deno.errors.BadResource);
        assert.equal(p.c._directFd, -1);
      } finally {
        p.close();
      }
    });
  },
});

Deno.test({
  name: "a connection collected unclosed closes its duplicate",
  ignore: !LINUX,
  fn: async () => {
    const snippet = `
const { socketType } = await import(${
      JSON.stringify(new URL("../ffi/sys.ts", import.meta.url).href)
    });
const ca = denossl.TestCA.create({ keyType: "ec" });
const leaf = ca.issue({ ip: ["127.0.0.1"] });
const sctx = new denossl.Context(denossl.TLS_METHOD);
sctx.useCertificate(leaf.certPEM);
sctx.usePrivateKey(leaf.keyPEM);
const cctx = new denossl.Context(denossl.TLS_METHOD);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const accepted = listener.accept();
const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const peer = await accepted;
let dup = -1;
await (async () => {
  const c = new denossl.Connection(cctx, tcp);
  c.setConnectState();
  const s = new denossl.Connection(sctx, peer);
  s.setAcceptState();
  await Promise.all([c.handshake(), s.handshake()]);
  const data = new Uint8Array(64 * 1024);
  const got = new Uint8Array(data.length);
  let n = 0;
  await Promise.all([c.write(data), (async () => {
    while (n < got.length) n += (await s.read(got.subarray(n))) ?? 0;
  })()]);
  dup = c._directFd;
})();
const open = socketType(dup) > 0;
for (let i = 0; i < 20 && socketType(dup) > 0; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
}
report({ dup, open, closed: socketType(dup) < 0 });
tcp.close();
peer.close();
listener.close();
`;
    const result = await runSnippet(snippet, {
      flags: ["--allow-all", "--v8-flags=--expose-gc"],
    });
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as { dup: number; open: boolean; closed: boolean };
    assert.ok(report.dup >= 0, "direct writes began");
    assert.deepEqual({ open: report.open, closed: report.closed }, { open: true, closed: true });
  },
});
