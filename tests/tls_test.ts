import "./_tools.ts";
import assert from "node:assert/strict";
import {
  acceptTls,
  Connection,
  connectTls,
  Context,
  listenTls,
  OP_IGNORE_UNEXPECTED_EOF,
  SENT_SHUTDOWN,
  SSLError,
  startTls,
  SysCallError,
  TestCA,
  TLS_METHOD,
  VerificationError,
  VERIFY_PEER,
} from "../mod.ts";

const ca = TestCA.create({ keyType: "ec", intermediate: true });
const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
const otherName = ca.issue({ dns: ["other.example"] });
const expired = ca.issue({
  dns: ["localhost"],
  ip: ["127.0.0.1"],
  notBefore: new Date(Date.now() - 3 * 86400_000),
  notAfter: new Date(Date.now() - 86400_000),
});
const selfCa = TestCA.create({ keyType: "ec" });
const alice = ca.issueClient({ commonName: "alice" });

globalThis.addEventListener("unload", () => {
  for (const x of [leaf, otherName, expired, alice, ca, selfCa]) x.close();
});

function random(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", b)),
    (x) => x.toString(16).padStart(2, "0"),
  )
    .join("");
}

interface Duplex {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
}

async function readAll(conn: Duplex): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function writeAll(conn: Duplex, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Server side of the "both ways" exchange: reads everything until close_notify, then sends its own data and closes. */
async function serveExchange(
  conn: Duplex & { closeWrite(): Promise<void> },
  reply: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const got = await readAll(conn);
  await writeAll(conn, reply);
  await conn.closeWrite();
  return got;
}

/**
 * Client side of the "both ways" exchange: sends `up` and close_notify while
 * reading to the end, then checks what each side received.
 */
async function exchangeBothWays(
  conn: Duplex & { closeWrite(): Promise<void> },
  up: Uint8Array<ArrayBuffer>,
  down: Uint8Array<ArrayBuffer>,
  server: Promise<Uint8Array<ArrayBuffer>>,
): Promise<void> {
  const reading = readAll(conn);
  await writeAll(conn, up);
  await conn.closeWrite();
  assert.equal(await sha256(await reading), await sha256(down), "what the client received");
  assert.equal(await sha256(await server), await sha256(up), "what the server received");
}

/** Accepts one connection and runs the server side of the exchange on it, then disposes of it. */
async function serveOne<C extends Duplex & { closeWrite(): Promise<void> }>(
  accept: () => Promise<C>,
  reply: Uint8Array,
  dispose: (conn: C) => Promise<void> | void,
): Promise<Uint8Array<ArrayBuffer>> {
  const conn = await accept();
  try {
    return await serveExchange(conn, reply);
  } finally {
    await dispose(conn);
  }
}

const FOUR_MIB = 4 << 20;

Deno.test("denossl client ↔ Deno.listenTls server: handshake, 4 MiB both ways with matching SHA-256, clean close seen as read() === null on both ends", async () => {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
  });
  const up = random(FOUR_MIB);
  const down = random(FOUR_MIB);
  const server = serveOne(() => listener.accept(), down, (conn) => conn.close());
  const conn = await connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [ca.certPEM],
  });
  const info = await conn.handshake();
  assert.equal(info.protocol, "TLSv1.3");
  assert.equal(info.peerCertificate?.subject.commonName, "localhost");
  info.peerCertificate?.close();
  await exchangeBothWays(conn, up, down, server);
  await conn[Symbol.asyncDispose]();
  listener.close();
});

Deno.test("Deno.connectTls client ↔ denossl listenTls server: 4 MiB both ways with matching SHA-256, clean close on both ends", async () => {
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
  });
  const up = random(FOUR_MIB);
  const down = random(FOUR_MIB);
  const server = serveOne(() => listener.accept(), down, (conn) => conn[Symbol.asyncDispose]());
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [ca.certPEM],
  });
  await exchangeBothWays(conn, up, down, server);
  conn.close();
  listener.close();
});

Deno.test("denossl ↔ denossl over TCP, and TLS inside TLS", async (t) => {
  await t.step("over TCP: 1 MiB both ways", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.chainPEM,
      key: leaf.keyPEM,
    });
    const up = random(1 << 20);
    const down = random(1 << 20);
    const server = serveOne(() => listener.accept(), down, (conn) => conn[Symbol.asyncDispose]());
    await using conn = await connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [ca.certPEM],
    });
    await exchangeBothWays(conn, up, down, server);
    listener.close();
  });

  await t.step(
    "TLS inside TLS: a denossl connection whose transport is another denossl connection",
    async () => {
      const listener = listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: leaf.chainPEM,
        key: leaf.keyPEM,
      });
      const payload = random(300_000);
      const server = serveOne(
        async () => acceptTls(await listener.accept(), { cert: leaf.chainPEM, key: leaf.keyPEM }),
        payload,
        (inner) => inner[Symbol.asyncDispose](),
      );
      const outer = await connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [ca.certPEM],
      });
      const inner = await startTls(outer, { hostname: "localhost", caCerts: [ca.certPEM] });
      await exchangeBothWays(inner, payload, payload, server);
      await inner[Symbol.asyncDispose]();
      listener.close();
    },
  );
});

Deno.test("denossl ↔ denossl over a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/tls.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const payload = random(500_000);
  const server = serveOne(
    async () => acceptTls(await listener.accept(), { cert: leaf.chainPEM, key: leaf.keyPEM }),
    payload,
    (conn) => conn[Symbol.asyncDispose](),
  );
  const plain = await Deno.connect({ transport: "unix", path });
  const conn = await startTls(plain, { hostname: "localhost", caCerts: [ca.certPEM] });
  assert.equal(conn.remoteAddr.transport, "unix");
  await exchangeBothWays(conn, payload, payload, server);
  await conn[Symbol.asyncDispose]();
  listener.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("denossl ↔ denossl over split pipes to a child process (TLS over the child's stdin/stdout)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, leaf.chainPEM);
    await Deno.writeTextFile(`${dir}/key.pem`, leaf.keyPEM);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./peers/stdio_echo_server.ts", import.meta.url).pathname, dir],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const ctx = new Context(TLS_METHOD);
    ctx.addCaCerts(ca.certPEM);
    ctx.setVerify(VERIFY_PEER);
    const conn = new Connection(ctx, { readable: child.stdout, writable: child.stdin });
    conn.setConnectState();
    conn.setVerifyHostname("localhost");
    const info = await conn.handshake();
    assert.equal(info.peerCertificate?.subject.commonName, "localhost");
    info.peerCertificate?.close();
    const payload = random(200_000);
    const reading = readAll(conn);
    await writeAll(conn, payload);
    await conn.closeWrite();
    assert.deepEqual(await reading, payload);
    await conn[Symbol.asyncDispose]();
    ctx.close();
    assert.equal((await child.status).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connectTls refuses a certificate for another name, one from an untrusted CA and an expired one; caCerts makes a good one pass", async (t) => {
  const cases = [
    {
      name: "another name",
      cert: otherName.chainPEM,
      key: otherName.keyPEM,
      code: 62,
      trust: ca.certPEM,
    },
    {
      name: "issued by an untrusted CA",
      cert: selfCa.issue({ dns: ["localhost"] }),
      code: 20,
      trust: ca.certPEM,
    },
    { name: "expired", cert: expired.chainPEM, key: expired.keyPEM, code: 10, trust: ca.certPEM },
  ];
  for (const c of cases) {
    await t.step(`${c.name} → VerificationError ${c.code}`, async () => {
      let cert: string;
      let key: string;
      let closeLater: { close(): void } | undefined;
      if (typeof c.cert === "string") {
        cert = c.cert;
        key = c.key!;
      } else {
        cert = c.cert.chainPEM;
        key = c.cert.keyPEM;
        closeLater = c.cert;
      }
      const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
      const server = (async () => {
        const conn = await listener.accept();
        await conn.handshake().catch(() => {});
        await conn[Symbol.asyncDispose]();
      })();
      const err = await connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [c.trust],
      }).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof VerificationError, `got ${err}`);
      assert.equal(err.verifyCode, c.code);
      await server;
      listener.close();
      closeLater?.close();
    });
  }
  await t.step("the good certificate with its CA in caCerts → success", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.chainPEM,
      key: leaf.keyPEM,
    });
    const server = (async () => {
      const conn = await listener.accept();
      await conn.handshake();
      await conn[Symbol.asyncDispose]();
    })();
    const conn = await connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [ca.certPEM],
    });
    await conn[Symbol.asyncDispose]();
    await server;
    listener.close();
  });
  await t.step("without caCerts the private CA is refused (system store only)", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.chainPEM,
      key: leaf.keyPEM,
    });
    const server = (async () => {
      const conn = await listener.accept();
      await conn.handshake().catch(() => {});
      await conn[Symbol.asyncDispose]();
    })();
    await assert.rejects(
      connectTls({ hostname: "localhost", port: listener.addr.port }),
      VerificationError,
    );
    await server;
    listener.close();
  });
});

Deno.test("mTLS: a listener requiring client certificates rejects a client without one and exposes the subject of one with it", async () => {
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
    caCerts: [ca.certPEM],
    requireClientCert: true,
  });
  const subjects: (string | null)[] = [];
  const failures: unknown[] = [];
  const server = (async () => {
    for (let i = 0; i < 2; i++) {
      const conn = await listener.accept();
      try {
        const info = await conn.handshake();
        subjects.push(info.peerCertificate?.subject.commonName ?? null);
        info.peerCertificate?.close();
        await conn.write(new TextEncoder().encode("hi"));
      } catch (e) {
        failures.push(e);
      }
      await conn[Symbol.asyncDispose]();
    }
  })();
  // Without a certificate: TLS 1.3 clients learn of the refusal on their first read.
  const anonymous = await connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [ca.certPEM],
  });
  await assert.rejects(anonymous.read(new Uint8Array(10)), SSLError);
  await anonymous[Symbol.asyncDispose]();
  const withCert = await connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [ca.certPEM],
    cert: alice.chainPEM,
    key: alice.keyPEM,
  });
  const buf = new Uint8Array(10);
  assert.equal(await withCert.read(buf), 2);
  await withCert[Symbol.asyncDispose]();
  await server;
  assert.equal(failures.length, 1);
  assert.ok(failures[0] instanceof SSLError);
  assert.match(
    (failures[0] as Error).message,
    /peer did not return a certificate|certificate required/,
  );
  assert.deepEqual(subjects, ["alice"]);
  listener.close();
});

Deno.test("100 concurrent clients each echo 64 KiB intact through one listenTls; a garbage-speaking client is rejected without affecting them", async () => {
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
  });
  let handshakeFailures = 0;
  const served: Promise<void>[] = [];
  const acceptLoop = (async () => {
    for await (const conn of listener) {
      served.push((async () => {
        try {
          await conn.readable.pipeTo(conn.writable);
        } catch {
          handshakeFailures++;
        } finally {
          await conn[Symbol.asyncDispose]();
        }
      })());
    }
  })();
  const garbage = (async () => {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await tcp.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: nope\r\n\r\n"));
    const buf = new Uint8Array(1024);
    while ((await tcp.read(buf).catch(() => null)) !== null) { /* drain the alert */ }
    tcp.close();
  })();
  const clients = Array.from({ length: 100 }, async () => {
    const payload = random(64 * 1024);
    const conn = await connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [ca.certPEM],
    });
    const reading = readAll(conn);
    await writeAll(conn, payload);
    await conn.closeWrite();
    const got = await reading;
    await conn[Symbol.asyncDispose]();
    return got.length === payload.length && (await sha256(got)) === (await sha256(payload));
  });
  const results = await Promise.all(clients);
  await garbage;
  assert.equal(results.filter(Boolean).length, 100);
  listener.close();
  await acceptLoop;
  await Promise.all(served);
  assert.equal(handshakeFailures, 1, "only the garbage client failed");
});

Deno.test("readable.pipeTo(writable) echoes; setNoDelay reaches the TCP transport through passthrough; an AbortSignal cancels a handshake against a silent server", async (t) => {
  await t.step("pipeTo echo and passthrough", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.chainPEM,
      key: leaf.keyPEM,
    });
    const server = (async () => {
      const conn = await listener.accept();
      conn.setNoDelay(true); // passthrough to Deno.TcpConn
      conn.setKeepAlive(true);
      await conn.readable.pipeTo(conn.writable);
      await conn[Symbol.asyncDispose]();
    })();
    const conn = await connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [ca.certPEM],
    });
    assert.equal(typeof conn.setNoDelay, "function");
    conn.setNoDelay(true);
    const payload = random(100_000);
    const reading = readAll(conn);
    await writeAll(conn, payload);
    await conn.closeWrite();
    assert.deepEqual(await reading, payload);
    await server;
    await conn[Symbol.asyncDispose]();
    listener.close();
  });

  await t.step("abort a handshake against a server that never answers", async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = silent.accept();
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("gave up")), 200);
    await assert.rejects(
      connectTls({
        hostname: "localhost",
        port: silent.addr.port,
        caCerts: [ca.certPEM],
        signal: controller.signal,
      }),
      /gave up/,
    );
    assert.ok(performance.now() - started < 5000);
    (await accepted).close();
    silent.close();
  });

  await t.step(
    "handshakeTimeout closes a handshake against a server that never answers",
    async () => {
      const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = silent.accept();
      await assert.rejects(
        connectTls({
          hostname: "localhost",
          port: silent.addr.port,
          caCerts: [ca.certPEM],
          handshakeTimeout: 150,
        }),
        Deno.errors.TimedOut,
      );
      (await accepted).close();
      silent.close();
    },
  );
});

Deno.test("secure defaults: TLS below 1.2 needs an option named unsafe", () => {
  assert.throws(
    () => listenTls({ port: 0, cert: leaf.chainPEM, key: leaf.keyPEM, minVersion: "TLSv1" }),
    /unsafelyAllowLegacyProtocols/,
  );
});

// Type-level: a denossl connection over TCP is usable wherever a Deno.TlsConn is.
async function _typeLevel(): Promise<void> {
  const conn = await connectTls({ hostname: "localhost", port: 1 });
  const asDeno: Deno.TlsConn = conn;
  asDeno.close();
}

Deno.test("a peer whose transport ends without close_notify: SysCallError (-1, Unexpected EOF) over TCP, in stream and native mode; OP_IGNORE_UNEXPECTED_EOF makes it a plain end", async (t) => {
  for (const native of [false, true]) {
    for (const ignore of [false, true]) {
      const label = `${native ? "native" : "stream"} client, ${
        ignore ? "with" : "without"
      } OP_IGNORE_UNEXPECTED_EOF`;
      await t.step(label, async () => {
        const listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: leaf.chainPEM,
          key: leaf.keyPEM,
        });
        const server = (async () => {
          const conn = await listener.accept();
          await conn.handshake();
          await writeAll(conn, new TextEncoder().encode("last words"));
          // Pretend close_notify went out: close() then only closes the TCP socket.
          conn.setShutdown(SENT_SHUTDOWN);
          await conn[Symbol.asyncDispose]();
        })();
        using ctx = new Context(TLS_METHOD);
        ctx.addCaCerts(ca.certPEM);
        ctx.setVerify(VERIFY_PEER);
        if (ignore) ctx.setOptions(OP_IGNORE_UNEXPECTED_EOF);
        await using conn = await connectTls({
          hostname: "localhost",
          port: listener.addr.port,
          context: ctx,
          native,
        });
        assert.equal(conn.transportMode, native ? "native" : "stream");
        await server;
        const buf = new Uint8Array(64);
        let got = "";
        for (;;) {
          let n: number | null;
          try {
            n = await conn.read(buf);
          } catch (e) {
            assert.ok(!ignore, `with OP_IGNORE_UNEXPECTED_EOF the end is clean, got ${e}`);
            assert.ok(e instanceof SysCallError, String(e));
            assert.equal(e.errno, -1);
            assert.match(e.message, /Unexpected EOF/);
            break;
          }
          if (n === null) {
            assert.ok(ignore, "without OP_IGNORE_UNEXPECTED_EOF a bare TCP end is an error");
            break;
          }
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
        assert.equal(got, "last words", "the data before the end arrived intact");
        listener.close();
      });
    }
  }
});

Deno.test("a TCP reset from the peer mid-handshake is a SysCallError (ECONNRESET) in stream and native mode, not the transport's own error", async (t) => {
  // Node's socket.resetAndDestroy() sends a real RST (Deno has no SO_LINGER).
  const script =
    `const s = require("net").createServer((c) => c.once("data", () => c.resetAndDestroy()));
s.listen(0, "127.0.0.1", () => console.log(s.address().port));`;
  const node = new Deno.Command("node", { args: ["-e", script], stdout: "piped" }).spawn();
  const reader = node.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("node exited before listening");
    line += value;
  }
  const port = Number(line.trim());
  try {
    for (const native of [false, true]) {
      await t.step(native ? "native" : "stream", async () => {
        let error: unknown;
        try {
          await connectTls({ hostname: "localhost", port, caCerts: [ca.certPEM], native });
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof SysCallError, `expected SysCallError, got ${error}`);
        assert.equal(error.code, "ECONNRESET", error.message);
      });
    }
  } finally {
    node.kill();
    await node.status;
    await reader.cancel();
  }
});
