/**
 * The stream pump's buffer handling: reads land in the caller's buffer when it
 * is large enough, and idle connections give back OpenSSL's record buffers
 * and their memory BIOs (connection/_idle.ts) without losing a byte.
 *
 * @module
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  ClosedError,
  Connection,
  Context,
  SysCallError,
  TestCA,
  TLS1_2_VERSION,
  TLS_METHOD,
  type Transport,
  VERIFY_PEER,
} from "../mod.ts";
import { ERRNO, SOCK_STREAM, socketCookie, socketType } from "../ffi/sys.ts";
import { CLOSE_LINGER_MS } from "../connection/transport.ts";
import { runSnippet } from "./_subprocess.ts";
import { hasIpv6Loopback } from "./_peers.ts";
import {
  IDLE_SWEEP_MS,
  RELEASE_IDLE,
  waitBegins,
  waitEnds,
  waitingCount,
} from "../connection/_idle.ts";

const ca = TestCA.create({ keyType: "ec" });
const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
globalThis.addEventListener("unload", () => {
  leaf.close();
  ca.close();
});

function contexts(): { server: Context; client: Context } {
  const server = new Context(TLS_METHOD);
  server.useCertificate(leaf.certPEM);
  server.usePrivateKey(leaf.keyPEM);
  const client = new Context(TLS_METHOD);
  client.addCaCerts(ca.certPEM);
  client.setVerify(VERIFY_PEER);
  return { server, client };
}

/** `n` connected pairs over loopback TCP, handshakes done. */
async function pairs(n: number): Promise<{
  list: [Connection<Deno.TcpConn>, Connection<Deno.TcpConn>][];
  close(): void;
}> {
  const ctx = contexts();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const list: [Connection<Deno.TcpConn>, Connection<Deno.TcpConn>][] = [];
  for (let i = 0; i < n; i++) {
    const accepted = listener.accept();
    const c = new Connection(
      ctx.client,
      await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    );
    c.setConnectState();
    c.setVerifyHostname("localhost");
    const s = new Connection(ctx.server, await accepted);
    s.setAcceptState();
    await Promise.all([c.handshake(), s.handshake()]);
    list.push([c, s]);
  }
  listener.close();
  return {
    list,
    close(): void {
      for (const [c, s] of list) {
        c.close();
        s.close();
      }
      ctx.server.close();
      ctx.client.close();
    },
  };
}

/** One connected pair over loopback TCP, handshakes done; closed after `body`. */
async function onePair(
  body: (c: Connection<Deno.TcpConn>, s: Connection<Deno.TcpConn>) => Promise<void>,
): Promise<void> {
  const { list, close } = await pairs(1);
  try {
    const [c, s] = list[0]!;
    await body(c, s);
  } finally {
    close();
  }
}

/** One pair over TCP on `hostname`, the client's transport made by `transport`; closes all after `body`. */
async function withPair(
  hostname: string,
  transport: (tcp: Deno.TcpConn) => Transport,
  body: (c: Connection, s: Connection<Deno.TcpConn>) => Promise<void>,
): Promise<void> {
  const ctx = contexts();
  const listener = Deno.listen({ hostname, port: 0 });
  const accepted = listener.accept();
  const c = new Connection(
    ctx.client,
    transport(await Deno.connect({ hostname, port: listener.addr.port })),
  );
  c.setConnectState();
  const s = new Connection(ctx.server, await accepted);
  s.setAcceptState();
  try {
    await Promise.all([c.handshake(), s.handshake()]);
    await body(c, s);
  } finally {
    c.close();
    s.close();
    listener.close();
    ctx.client.close();
    ctx.server.close();
  }
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

/** Reads exactly `n` bytes, cycling through the given read-buffer sizes. */
async function readExactly(
  conn: Connection<Deno.TcpConn>,
  n: number,
  sizes: number[],
): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(n);
  let got = 0;
  for (let i = 0; got < n; i++) {
    const size = Math.min(sizes[i % sizes.length]!, n - got);
    const buf = new Uint8Array(size);
    const r = await conn.read(buf);
    assert.notEqual(r, null, `early end after ${got} of ${n} bytes`);
    out.set(buf.subarray(0, r!), got);
    got += r!;
  }
  return out;
}

Deno.test("concurrent reads with large buffers share one transport read at a time: every byte arrives once, in order", async () => {
  await onePair(async (c, s) => {
    const data = pattern(300_000, 5);
    const got: Uint8Array[] = [];
    let total = 0;
    const reader = async (size: number) => {
      while (total < data.length) {
        const buf = new Uint8Array(size);
        const n = await c.read(buf);
        if (n === null) break;
        got.push(buf.subarray(0, n));
        total += n;
      }
    };
    // Three readers wait at once: the first lends its buffer, the others wait for its bytes.
    const readers = [reader(65536), reader(16384), reader(8192)];
    for (let off = 0; off < data.length; off += 7000) {
      await s.write(data.subarray(off, Math.min(off + 7000, data.length)));
    }
    await s.closeWrite(); // close_notify: the readers still waiting get null
    await Promise.all(readers);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const g of got) {
      joined.set(g, at);
      at += g.length;
    }
    assert.equal(total, data.length);
    assert.deepEqual(joined, data);
  });
});

Deno.test("reads through buffers of 1 byte to 64 KiB (the large ones take the transport's bytes directly) deliver the stream intact", async () => {
  await onePair(async (c, s) => {
    const size = 3 * 1024 * 1024 + 17;
    const data = pattern(size, 7);
    const back = pattern(size, 11);
    const [got, , gotBack] = await Promise.all([
      readExactly(s, size, [1, 65536, 4095, 4096, 100, 20000, 3]),
      c.write(data),
      readExactly(c, size, [65536, 1, 5000]),
      s.write(back),
    ]);
    assert.deepEqual(got, data);
    assert.deepEqual(gotBack, back);
  });
});

// glibc's allocator statistics: what OpenSSL (and Deno) hold, exactly, not RSS.
const MALLINFO2 = {
  mallinfo2: {
    parameters: [],
    result: {
      struct: [
        "usize",
        "usize",
        "usize",
        "usize",
        "usize",
        "usize",
        "usize",
        "usize",
        "usize",
        "usize",
      ],
    },
  },
} as const;

function mallocInUse(): number | null {
  if (Deno.build.os !== "linux") return null;
  let lib: Deno.DynamicLibrary<typeof MALLINFO2>;
  try {
    lib = Deno.dlopen("libc.so.6", MALLINFO2);
  } catch {
    return null; // not glibc
  }
  try {
    const raw = lib.symbols.mallinfo2();
    const v = new BigUint64Array(raw.buffer, raw.byteOffset, 10);
    return Number(v[7]) + Number(v[4]); // uordblks + hblkhd
  } finally {
    lib.close();
  }
}

Deno.test("close() during a read that lent its buffer to the transport: the read rejects with ClosedError, and nothing writes into the buffer afterwards", async (t) => {
  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const settledWithin = (p: Promise<unknown>, ms: number) =>
    Promise.race([p.then(() => true, () => true), delay(ms).then(() => false)]);
  const outcome = (p: Promise<unknown>) => p.then((v) => ({ v, e: null }), (e) => ({ v: null, e }));

  // 64 KiB: the transport reads into the reader's buffer; 1 byte: into the connection's own.
  for (const size of [65536, 1]) {
    await t.step(`nothing queued, a ${size}-byte reader: the read rejects at once`, async () => {
      await onePair(async (c, s) => {
        const buf = new Uint8Array(size);
        await s.write(new Uint8Array([7]));
        assert.equal(await c.read(buf), 1);
        assert.equal(buf[0], 7);
        const reading = outcome(c.read(buf));
        assert.equal(await settledWithin(reading, 100), false, "the read waits for the peer");
        c.close();
        assert.equal(await settledWithin(reading, 1000), true, "close() ends it");
        assert.ok((await reading).e instanceof ClosedError);
      });
    });
  }

  await t.step(
    "writes queued behind a peer that does not read: bytes the peer sends after close() never reach the buffer once the read has rejected",
    async () => {
      await onePair(async (c, s) => {
        // 32 MiB the server never reads: the client's transport write stays
        // pending, so close() must wait for it before closing the transport.
        const stuck = c.write(new Uint8Array(32 << 20)).catch(() => {});
        await delay(200);
        const buf = new Uint8Array(65536);
        const reading = outcome(c.read(buf));
        await delay(50);
        c.close();
        let poked = 0;
        if (!(await settledWithin(reading, 200))) {
          // Still lent: the peer's next record ends the transport read, and with it ours.
          await s.write(new Uint8Array(1000).fill(1));
          poked = 1;
          assert.equal(await settledWithin(reading, 2000), true, "the peer's bytes end the read");
        }
        assert.ok((await reading).e instanceof ClosedError, String((await reading).e));
        buf.fill(0xaa);
        await s.write(new Uint8Array(1000).fill(2));
        await delay(200);
        assert.ok(
          buf.every((b) => b === 0xaa),
          `the buffer changed after the read rejected (poked ${poked})`,
        );
        s.close();
        await stuck;
      });
    },
  );

  await t.step(
    "a peer that never reads: close() closes the socket after CLOSE_LINGER_MS, failing the write still queued, and the read that lent its buffer rejects then",
    async () => {
      await onePair(async (c) => {
        const stuck = outcome(c.write(new Uint8Array(32 << 20)));
        await delay(200);
        const reading = outcome(c.read(new Uint8Array(65536)));
        assert.equal(await settledWithin(stuck, 0), false, "the write waits for the peer");
        const started = performance.now();
        c.close();
        assert.equal(
          await settledWithin(reading, CLOSE_LINGER_MS + 1500),
          true,
          "close() ends the read",
        );
        const { e } = await reading;
        const waited = performance.now() - started;
        assert.ok(e instanceof ClosedError, String(e));
        assert.ok(
          waited >= CLOSE_LINGER_MS - 100,
          `the queued write had its ${CLOSE_LINGER_MS} ms (${waited} ms)`,
        );
        assert.ok(waited < CLOSE_LINGER_MS + 1500, `closed after ${waited} ms`);
        assert.notEqual((await stuck).e, null, "the queued write failed when the socket closed");
      });
    },
  );

  await t.step(
    "a transport whose close() leaves its read pending is not lent the buffer: the read rejects at once, and the buffer stays untouched",
    async () => {
      let tcp: Deno.TcpConn | null = null;
      const deaf = (t: Deno.TcpConn) => {
        tcp = t;
        return {
          read: (b: Uint8Array) => t.read(b),
          write: (b: Uint8Array) => t.write(b),
          close: () => {},
        };
      };
      await withPair("127.0.0.1", deaf, async (c, s) => {
        const buf = new Uint8Array(65536);
        const reading = outcome(c.read(buf));
        assert.equal(await settledWithin(reading, 100), false, "the read waits for the peer");
        c.close();
        assert.equal(
          await settledWithin(reading, 1000),
          true,
          "close() ends it although the transport read goes on",
        );
        assert.ok((await reading).e instanceof ClosedError);
        buf.fill(0xaa);
        await s.write(new Uint8Array(1000).fill(3));
        await delay(200);
        assert.ok(buf.every((b) => b === 0xaa), "the buffer changed after the read rejected");
        tcp!.close();
      });
    },
  );
});

Deno.test("the idle sweeper releases a wait after one to two sweeps, never a connection whose waits keep ending, and nothing that stopped waiting", async () => {
  const released: string[] = [];
  const conn = (name: string) => ({ [RELEASE_IDLE]: () => void released.push(name) });
  const idle = conn("idle");
  const busy = conn("busy");
  const gone = conn("gone");
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  waitBegins(idle);
  waitBegins(busy);
  waitBegins(gone);
  waitEnds(gone);
  assert.equal(waitingCount(), 2);
  // busy's wait ends and begins again every few ms, as a ping-pong's reads do.
  const start = performance.now();
  while (performance.now() - start < IDLE_SWEEP_MS * 4) {
    await sleep(IDLE_SWEEP_MS / 5);
    waitEnds(busy);
    waitBegins(busy);
    if (released.length === 0) {
      assert.ok(
        performance.now() - start < IDLE_SWEEP_MS * 2 + 100,
        "idle was not released in time",
      );
    }
  }
  assert.deepEqual(released, ["idle"], "only the connection that waited throughout");
  waitEnds(busy);
  assert.equal(waitingCount(), 0);
});

Deno.test("idle connections give back OpenSSL's record buffers within two sweeps, and carry on intact afterwards", async () => {
  const n = 16;
  const p = await pairs(n);
  try {
    // A burst each way, so every connection holds its record buffers and grown BIOs.
    const burst = pattern(200_000, 3);
    await Promise.all(p.list.map(async ([c, s]) => {
      const [got] = await Promise.all([readExactly(s, burst.length, [65536]), c.write(burst)]);
      assert.deepEqual(got, burst);
    }));
    // Everyone waits for the peer now.
    const pending = p.list.map(([c, s]) =>
      Promise.all([readExactly(s, 5, [16]), readExactly(c, 5, [16])])
    );
    for (const x of pending) x.catch(() => {}); // a failed assertion below closes them

    await new Promise((r) => setTimeout(r, 10));
    assert.ok(waitingCount() >= 2 * n, `${waitingCount()} connections registered as waiting`);
    const before = mallocInUse();
    await new Promise((r) => setTimeout(r, IDLE_SWEEP_MS * 2 + 150));
    assert.equal(waitingCount(), 0, "every idle wait was released");
    const after = mallocInUse();
    if (before !== null && after !== null) {
      // Each end held a 16 KiB+ read and write record buffer, and BIOs grown by the burst.
      const freedPerEnd = (before - after) / (2 * n);
      assert.ok(
        freedPerEnd > 20 * 1024,
        `only ${Math.round(freedPerEnd)} bytes freed per connection`,
      );
    }
    // The released connections still work, and nothing was lost.
    await Promise.all(
      p.list.map(([c, s]) => Promise.all([c.write(pattern(5, 1)), s.write(pattern(5, 2))])),
    );
    const results = await Promise.all(pending);
    for (const [fromC, fromS] of results) {
      assert.deepEqual(fromC, pattern(5, 1));
      assert.deepEqual(fromS, pattern(5, 2));
    }
    await Promise.all(p.list.map(async ([c, s]) => {
      const [got] = await Promise.all([
        readExactly(c, burst.length, [4096, 65536]),
        s.write(burst),
      ]);
      assert.deepEqual(got, burst);
    }));
  } finally {
    p.close();
  }
});

Deno.test({
  name:
    "over a Deno.TcpConn, a connection that writes enough sends straight to its socket: bytes intact and in order, through a full socket buffer, and close() gives the duplicate back",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dups: number[] = [];
    const cookies: (bigint | null)[] = [];
    await onePair(async (c, s) => {
      assert.equal(c._directFd, -1, "a handshake alone does not look for the descriptor");
      // Small writes first (the 8th flush opens the direct path), then a burst far larger than
      // the socket buffers while the reader sleeps: partial sends go through the transport.
      const small = Array.from({ length: 20 }, (_, i) => pattern(1 + i * 37, i + 1));
      const big = pattern(12 * 1024 * 1024, 99);
      const expected = new Uint8Array(small.reduce((a, b) => a + b.length, 0) + big.length);
      let off = 0;
      for (const b of small) {
        expected.set(b, off);
        off += b.length;
      }
      expected.set(big, off);
      const writing = (async () => {
        for (const b of small) await c.write(b);
        assert.ok(c._directFd >= 0, "8 flushes open the direct path");
        await c.write(big);
      })();
      await new Promise((r) => setTimeout(r, 300)); // the socket buffers fill up meanwhile
      const got = await readExactly(s, expected.length, [65536, 4096, 1, 30000]);
      await writing;
      assert.deepEqual(got, expected);
      // And the other way round, from one large write.
      const back = pattern(300_000, 5);
      const [gotBack] = await Promise.all([readExactly(c, back.length, [65536]), s.write(back)]);
      assert.deepEqual(gotBack, back);
      assert.ok(s._directFd >= 0, "one 32 KiB flush opens it at once");
      dups.push(c._directFd, s._directFd);
      for (const fd of dups) assert.equal(socketType(fd), SOCK_STREAM);
      cookies.push(...dups.map(socketCookie));
    });
    // Closed: each number is free, or (tests run in parallel in this process) another file's.
    dups.forEach((fd, i) => {
      const now = socketType(fd);
      assert.ok(now === -ERRNO.EBADF || socketCookie(fd) !== cookies[i], `close() closed fd ${fd}`);
    });
  },
});

Deno.test("a wrapper around a Deno.TcpConn keeps every write: only Deno's own TcpConn is written around", async () => {
  let counted = 0;
  const wrap = (tcp: Deno.TcpConn) => ({
    localAddr: tcp.localAddr,
    remoteAddr: tcp.remoteAddr,
    read: (b: Uint8Array) => tcp.read(b),
    write: (b: Uint8Array) => {
      counted += b.length;
      return tcp.write(b);
    },
    close: () => tcp.close(),
  });
  await withPair("127.0.0.1", wrap, async (c, s) => {
    const before = counted;
    const data = pattern(1024 * 1024, 4);
    const [got] = await Promise.all([readExactly(s, data.length, [65536]), c.write(data)]);
    assert.deepEqual(got, data);
    assert.equal(c._directFd, -1);
    assert.ok(counted - before > data.length, "every record went through the wrapper's write");
  });
});

Deno.test("a peer that went away after direct writes began: writes fail as SysCallError (EPIPE or ECONNRESET), as over the transport", async () => {
  await onePair(async (c, s) => {
    const data = pattern(64 * 1024, 8);
    await Promise.all([readExactly(s, data.length, [65536]), c.write(data)]);
    assert.ok(c._directFd >= 0);
    // The server closes its socket; its kernel answers further data with RST.
    s.close();
    await new Promise((r) => setTimeout(r, 50));
    const error = await (async () => {
      try {
        for (let i = 0; i < 50; i++) {
          await c.write(data);
          await new Promise((r) => setTimeout(r, 10));
        }
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(error instanceof SysCallError, `got ${error}`);
    assert.ok(
      [ERRNO.EPIPE, ERRNO.ECONNRESET].includes((error as SysCallError).errno),
      `errno ${(error as SysCallError).errno}`,
    );
  });
});

Deno.test({
  name:
    "direct writes need no read permission (the descriptor is found by getsockname, not /proc): the same with --allow-ffi --allow-net, with read permission and with --allow-all",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const snippet = `
const ca = denossl.TestCA.create({ keyType: "ec" });
const leaf = ca.issue({ ip: ["127.0.0.1"] });
const sctx = new denossl.Context(denossl.TLS_METHOD);
sctx.useCertificate(leaf.certPEM);
sctx.usePrivateKey(leaf.keyPEM);
const cctx = new denossl.Context(denossl.TLS_METHOD);
cctx.addCaCerts(ca.certPEM);
cctx.setVerify(denossl.VERIFY_PEER);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const accepted = listener.accept();
const c = new denossl.Connection(cctx, await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
c.setConnectState();
const s = new denossl.Connection(sctx, await accepted);
s.setAcceptState();
await Promise.all([c.handshake(), s.handshake()]);
const data = new Uint8Array(1 << 20).map((_, i) => i * 7);
const got = new Uint8Array(data.length);
let n = 0;
await Promise.all([c.write(data), (async () => {
  while (n < got.length) n += (await s.read(got.subarray(n))) ?? 0;
})()]);
report({ direct: c._directFd >= 0, intact: got.every((b, i) => b === data[i]) });
c.close(); s.close(); listener.close();
`;
    const flags = ["--allow-ffi", "--allow-net", "--allow-env"];
    for (const given of [flags, [...flags, "--allow-read=/proc/self/fd"], ["--allow-all"]]) {
      const result = await runSnippet(snippet, { flags: given });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.report, { direct: true, intact: true }, `with ${given}`);
    }
  },
});

Deno.test({
  name: "the descriptor search matches IPv6 sockets too (::1): direct writes, bytes intact",
  ignore: Deno.build.os !== "linux" || !hasIpv6Loopback(),
  fn: () =>
    withPair("::1", (tcp) => tcp, async (c, s) => {
      const data = pattern(200_000, 6);
      const [got] = await Promise.all([readExactly(s, data.length, [65536]), c.write(data)]);
      assert.deepEqual(got, data);
      assert.ok(c._directFd >= 0);
      assert.equal(socketType(c._directFd), SOCK_STREAM);
    }),
});

Deno.test("a transport whose prototype's constructor getter throws is simply a stream transport", async () => {
  const proto = Object.create(null, {
    constructor: {
      get(): never {
        throw new Error("no constructor for you");
      },
    },
  });
  let tcp: Deno.TcpConn | null = null;
  const odd = (t: Deno.TcpConn) => {
    tcp = t;
    return Object.assign(Object.create(proto), {
      read: (b: Uint8Array) => t.read(b),
      write: (b: Uint8Array) => t.write(b),
      close: () => t.close(),
    });
  };
  await withPair("127.0.0.1", odd, async (c, s) => {
    assert.notEqual(tcp, null);
    const data = pattern(100_000, 9);
    const [got] = await Promise.all([readExactly(s, data.length, [65536]), c.write(data)]);
    assert.deepEqual(got, data);
    assert.equal(c._directFd, -1);
  });
});

Deno.test({
  name:
    "a descriptor number freed behind denossl's back and reused by a new socket is still found (native mode over the new one)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const ctx = contexts();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    const acceptedA = listener.accept();
    const a = await Deno.connect({ hostname: "127.0.0.1", port });
    const serverA = await acceptedA;
    const ca = new Connection(ctx.client, a, { native: true });
    assert.equal(ca.transportMode, "native", ca.nativeFallbackReason ?? "");
    // Misuse: the transport is closed directly. Its number is free again; our duplicate
    // keeps the socket open until ca.close().
    a.close();
    const acceptedB = listener.accept();
    const b = await Deno.connect({ hostname: "127.0.0.1", port }); // takes the freed number
    const serverB = await acceptedB;
    const cb = new Connection(ctx.client, b, { native: true });
    try {
      assert.equal(cb.transportMode, "native", cb.nativeFallbackReason ?? "");
    } finally {
      ca.close();
      cb.close();
      serverA.close();
      serverB.close();
      listener.close();
      ctx.client.close();
      ctx.server.close();
    }
  },
});

/** A TCP transport that counts the bytes it writes. */
function counted(tcp: Deno.TcpConn): Transport & { written: number } {
  const t = {
    written: 0,
    read: (p: Uint8Array): Promise<number | null> => tcp.read(p),
    write: (p: Uint8Array): Promise<number> => {
      t.written += p.length;
      return tcp.write(p);
    },
    close: (): void => tcp.close(),
  };
  return t;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("handshake work scheduled before a read() goes out with that read: a TLS 1.3 key update, a TLS 1.2 renegotiation", async (t) => {
  const text = new TextEncoder();
  /** A pair over loopback TCP with both transports counted, handshakes done. */
  async function countedPair(tls12: boolean): Promise<{
    c: Connection;
    s: Connection;
    ct: { written: number };
    st: { written: number };
    close(): void;
  }> {
    const ctx = contexts();
    if (tls12) ctx.server.setMaxProtoVersion(TLS1_2_VERSION);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const ct = counted(await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
    const st = counted(await accepted);
    const c = new Connection(ctx.client, ct);
    c.setConnectState();
    const s = new Connection(ctx.server, st);
    s.setAcceptState();
    await Promise.all([c.handshake(), s.handshake()]);
    return {
      c,
      s,
      ct,
      st,
      close(): void {
        c.close();
        s.close();
        listener.close();
        ctx.client.close();
        ctx.server.close();
      },
    };
  }

  await t.step(
    "a key update asked for, then only a read: the update is sent by the read",
    async () => {
      const p = await countedPair(false);
      try {
        // One exchange first, so that the server's session tickets are read and the client
        // has nothing buffered: the read below must send the update on its own.
        const one = new Uint8Array(1);
        await p.c.write(text.encode("x"));
        assert.equal(await p.s.read(one), 1);
        await p.s.write(text.encode("y"));
        assert.equal(await p.c.read(one), 1);
        const before = p.ct.written;
        p.c.keyUpdate(true);
        const buf = new Uint8Array(16);
        const reading = p.c.read(buf);
        await until(() => p.ct.written > before, "the client's key update on the wire");
        // The server answers the request with its own update when it next writes.
        const sbuf = new Uint8Array(16);
        const serverReading = p.s.read(sbuf);
        await p.s.write(text.encode("pong"));
        assert.equal(await reading, 4);
        assert.equal(new TextDecoder().decode(buf.subarray(0, 4)), "pong");
        await p.c.write(text.encode("ping"));
        assert.equal(await serverReading, 4);
        assert.equal(new TextDecoder().decode(sbuf.subarray(0, 4)), "ping");
      } finally {
        p.close();
      }
    },
  );

  await t.step(
    "a TLS 1.2 renegotiation started by the server, then only reads: it completes",
    async () => {
      const p = await countedPair(true);
      try {
        assert.equal(p.s.getProtocolVersionName(), "TLSv1.2");
        const before = p.st.written;
        p.s.renegotiate();
        const sbuf = new Uint8Array(16);
        const serverReading = p.s.read(sbuf);
        await until(() => p.st.written > before, "the server's HelloRequest on the wire");
        const buf = new Uint8Array(16);
        const clientReading = p.c.read(buf);
        await until(() => !p.s.renegotiatePending(), "the renegotiation to complete");
        assert.equal(p.s.totalRenegotiations(), 1);
        await p.c.write(text.encode("after"));
        assert.equal(await serverReading, 5);
        await p.s.write(text.encode("back"));
        assert.equal(await clientReading, 4);
      } finally {
        p.close();
      }
    },
  );
});
