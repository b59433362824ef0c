/**
 * Hostile transports: peers that close mid-handshake or
 * mid-record, reset the TCP connection, deliver one byte at a time, send an
 * oversized record, send data after close_notify, or never answer. Over real
 * TCP on 127.0.0.1 and over test-double transports. Each case ends with the
 * documented error within a deadline: `SysCallError` (errno -1, "Unexpected
 * EOF") when the peer vanishes without close_notify, `SSLError` for a bad
 * record, `null` from `read` (`ZeroReturnError` from `recv`) after
 * close_notify, `Deno.errors.TimedOut` from `handshakeTimeout`.
 *
 * A TCP reset: Deno has no `SO_LINGER`, so the peer here is a raw TCP socket
 * closed while bytes it never read sit in its receive buffer, which makes
 * Linux answer with RST instead of FIN (RFC 2525, section 2.17); a process
 * killed with SIGKILL in that state resets the same way. Deno's
 * `TcpConn.read` reports a reset as the end of the stream, so a reset reads
 * as an unexpected EOF; a write after it fails with `BrokenPipe`.
 *
 * Covered elsewhere: the client side of "closes after reading the
 * ClientHello" and "killed after the TCP connect" (interop_openssl_test.ts),
 * `handshakeTimeout` and `signal` against a silent server (tls_test.ts).
 */

import assert from "node:assert/strict";
import {
  ClosedError,
  Connection,
  connectTls,
  Context,
  listenTls,
  SSLError,
  SysCallError,
  TLS_METHOD,
  VERIFY_PEER,
  WantReadError,
  ZeroReturnError,
} from "../mod.ts";
import { clientContext, pki, serverContext } from "./_negotiation_fixtures.ts";
import { handshakeInMemory } from "./_pair.ts";
import { memoryDuplex } from "../tools/_reliability.ts";

const enc = new TextEncoder();
const DEADLINE_MS = 10_000;

/** Runs `fn` with a deadline: a hang fails the test instead of stalling the suite. */
async function within<T>(what: string, fn: () => Promise<T>, ms = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a promise settled with. */
function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return p.then((value) => ({ value }), (error) => ({ error }));
}

function assertUnexpectedEof(error: unknown): void {
  assert.ok(error instanceof SysCallError, `expected SysCallError, got ${error}`);
  assert.equal(error.errno, -1);
  assert.equal(error.message, "Unexpected EOF");
}

/** A raw TCP server on 127.0.0.1 that runs `serve` on its first connection. */
function rawServer(serve: (tcp: Deno.TcpConn) => Promise<void>): {
  port: number;
  done: Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const tcp = await listener.accept();
    try {
      await serve(tcp);
    } finally {
      try {
        tcp.close();
      } catch { /* already closed */ }
      listener.close();
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, done };
}

/**
 * A denossl server on 127.0.0.1 whose TCP socket stays reachable: after the
 * handshake, `after` can write raw bytes under the TLS layer.
 */
function tlsServerWithRawAccess(
  after: (conn: Connection, tcp: Deno.TcpConn) => Promise<void>,
): { port: number; done: Promise<void> } {
  const ctx = serverContext();
  return rawServer(async (tcp) => {
    const conn = new Connection(ctx, tcp);
    conn.setAcceptState();
    try {
      await conn.handshake();
      await after(conn, tcp);
    } finally {
      // The socket first, so that close() can send no close_notify: the peer sees only what
      // `after` sent.
      try {
        tcp.close();
      } catch { /* already closed */ }
      conn.close();
      ctx.close();
    }
  });
}

/** A verifying client over a TCP connection of our own (so the test can touch the socket). */
async function dial(port: number): Promise<{ conn: Connection<Deno.TcpConn>; tcp: Deno.TcpConn }> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const ctx = clientContext();
  const conn = new Connection(ctx, tcp);
  ctx.close(); // the connection keeps its own reference
  conn.setConnectState();
  conn.setVerifyHostname("localhost");
  return { conn, tcp };
}

Deno.test("hostile peer closes mid-handshake", async (t) => {
  await t.step(
    "a TCP client that sends half a ClientHello and closes: the listener's connection fails its handshake with SysCallError Unexpected EOF, and the listener serves the next client",
    () =>
      within("half ClientHello", async () => {
        const { ca, leaf } = pki();
        const listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: leaf.chainPEM,
          key: leaf.keyPEM,
        });
        try {
          // A real ClientHello, cut in half.
          using cctx = clientContext();
          using probe = new Connection(cctx, null);
          probe.setConnectState();
          try {
            probe.doHandshake();
          } catch (e) {
            if (!(e instanceof WantReadError)) throw e;
          }
          const hello = probe.bioRead(65536);
          const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
          await raw.write(hello.subarray(0, hello.length >> 1));
          raw.close();
          const broken = await listener.accept();
          assertUnexpectedEof((await outcome(broken.handshake())).error);
          await broken[Symbol.asyncDispose]();
          const good = connectTls({
            hostname: "localhost",
            port: listener.addr.port,
            caCerts: [ca.certPEM],
          });
          const served = await listener.accept();
          const [client] = await Promise.all([good, served.handshake()]);
          await client[Symbol.asyncDispose]();
          await served[Symbol.asyncDispose]();
        } finally {
          listener.close();
        }
      }),
  );

  await t.step(
    "a test-double transport that ends in the middle of the server's flight: the client's handshake fails with SysCallError Unexpected EOF",
    () =>
      within("transport ends mid-flight", async () => {
        using sctx = serverContext();
        using server = new Connection(sctx, null);
        server.setAcceptState();
        using cctx = clientContext();
        let flight: Uint8Array | null = null;
        let delivered = false;
        const transport = {
          // The client's ClientHello goes to a real server in memory; half its answer comes
          // back, then the transport ends.
          write(p: Uint8Array): Promise<number> {
            server.bioWrite(p);
            try {
              server.doHandshake();
            } catch (e) {
              if (!(e instanceof WantReadError)) throw e;
            }
            flight ??= server.bioRead(65536);
            return Promise.resolve(p.length);
          },
          read(p: Uint8Array): Promise<number | null> {
            if (delivered || flight === null) return Promise.resolve(null);
            delivered = true;
            const half = flight.subarray(0, flight.length >> 1);
            p.set(half);
            return Promise.resolve(half.length);
          },
        };
        const client = new Connection(cctx, transport);
        client.setConnectState();
        assertUnexpectedEof((await outcome(client.handshake())).error);
        assert.ok(delivered, "half of the server's flight arrived first");
        client.close();
      }),
  );
});

Deno.test("hostile peer closes mid-record: read() fails with SysCallError Unexpected EOF (TCP)", () =>
  within("mid-record", async () => {
    const server = tlsServerWithRawAccess(async (conn, tcp) => {
      await conn.write(enc.encode("whole"));
      // An application-data record header announcing 64 bytes, then 20 of them, then FIN.
      await tcp.write(new Uint8Array([23, 3, 3, 0, 64, ...new Uint8Array(20)]));
    });
    const { conn } = await dial(server.port);
    const buf = new Uint8Array(64);
    assert.equal(await conn.read(buf), 5);
    assertUnexpectedEof((await outcome(conn.read(buf))).error);
    await server.done;
    conn.close();
  }));

Deno.test("hostile peer resets the TCP connection (closed with unread bytes: RST)", async (t) => {
  await t.step(
    "during the handshake: SysCallError Unexpected EOF; the socket itself then fails writes with BrokenPipe, which shows the reset happened",
    () =>
      within("reset during handshake", async () => {
        const server = rawServer(async (tcp) => {
          await tcp.read(new Uint8Array(1)); // one byte of the ClientHello; the rest stays unread
          await new Promise((r) => setTimeout(r, 50)); // let the rest arrive
        });
        const { conn, tcp } = await dial(server.port);
        const handshake = outcome(conn.handshake());
        await server.done; // closed with unread bytes: the kernel sends RST
        assertUnexpectedEof((await handshake).error);
        await assert.rejects(tcp.write(new Uint8Array(10)), Deno.errors.BrokenPipe);
        conn.close();
      }),
  );

  await t.step(
    "after the handshake: the next read fails with SysCallError Unexpected EOF, and a write fails with a typed error, never hangs",
    () =>
      within("reset after handshake", async () => {
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        const server = tlsServerWithRawAccess(async () => {
          await released; // the client's bytes stay unread; then the socket closes: RST
        });
        const { conn } = await dial(server.port);
        await conn.handshake();
        await conn.write(new Uint8Array(4096));
        await new Promise((r) => setTimeout(r, 50));
        release();
        await server.done;
        await new Promise((r) => setTimeout(r, 50));
        assertUnexpectedEof((await outcome(conn.read(new Uint8Array(100)))).error);
        const { error } = await outcome(conn.write(new Uint8Array(100_000)));
        assert.ok(
          error instanceof SSLError || error instanceof Deno.errors.BrokenPipe ||
            error instanceof Deno.errors.ConnectionReset,
          `write after a reset: ${error}`,
        );
        conn.close();
      }),
  );
});

/** A transport that moves at most one byte per read and per write. */
function oneByteAtATime(end: {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}): {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
} {
  return {
    read: (p) => end.read(p.subarray(0, 1)),
    write: (p) => end.write(p.subarray(0, 1)),
    close: () => end.close(),
  };
}

Deno.test("byte-at-a-time delivery: a handshake, 8 KiB each way and close_notify complete over one-byte reads and writes (test doubles, and a TCP client)", async (t) => {
  await t.step(
    "both ends over an in-memory duplex, one byte per read and per write",
    () =>
      within("one byte at a time (memory)", async () => {
        const [a, b] = memoryDuplex();
        using cctx = clientContext();
        using sctx = serverContext();
        const client = new Connection(cctx, oneByteAtATime(a));
        client.setConnectState();
        client.setVerifyHostname("localhost");
        const server = new Connection(sctx, oneByteAtATime(b));
        server.setAcceptState();
        await Promise.all([client.handshake(), server.handshake()]);
        const payload = crypto.getRandomValues(new Uint8Array(8192));
        const received = new Uint8Array(payload.length);
        const reading = (async () => {
          let got = 0;
          while (got < payload.length) got += (await server.read(received.subarray(got)))!;
        })();
        await client.write(payload);
        await reading;
        assert.deepEqual(received, payload);
        await server.write(payload);
        const back = new Uint8Array(payload.length);
        let got = 0;
        while (got < back.length) got += (await client.read(back.subarray(got)))!;
        assert.deepEqual(back, payload);
        await client.closeWrite();
        assert.equal(await server.read(new Uint8Array(1)), null);
        await client[Symbol.asyncDispose]();
        await server[Symbol.asyncDispose]();
      }, 20_000),
  );

  await t.step(
    "a denossl client over TCP that reads and writes one byte at a time, against listenTls",
    () =>
      within("one byte at a time (TCP)", async () => {
        const { ca, leaf } = pki();
        const listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: leaf.chainPEM,
          key: leaf.keyPEM,
        });
        const served = (async () => {
          const conn = await listener.accept();
          await conn.readable.pipeTo(conn.writable); // echo
          await conn[Symbol.asyncDispose]();
        })();
        const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
        const ctx = new Context(TLS_METHOD);
        ctx.addCaCerts(ca.certPEM);
        ctx.setVerify(VERIFY_PEER);
        const conn = new Connection(ctx, oneByteAtATime(tcp));
        conn.setConnectState();
        conn.setVerifyHostname("localhost");
        const payload = crypto.getRandomValues(new Uint8Array(8192));
        await conn.write(payload);
        const echoed = new Uint8Array(payload.length);
        let got = 0;
        while (got < echoed.length) got += (await conn.read(echoed.subarray(got)))!;
        assert.deepEqual(echoed, payload);
        await conn.closeWrite();
        assert.equal(await conn.read(new Uint8Array(1)), null);
        await served;
        await conn[Symbol.asyncDispose]();
        ctx.close();
        listener.close();
      }, 20_000),
  );
});

Deno.test("an oversized record (length 2^14 + 2048 + 1) fails with SSLError 'packet length too long': during the handshake, after it over TCP, and over memory BIOs", async (t) => {
  const oversized = new Uint8Array([23, 3, 3, 0x48, 0x01, ...new Uint8Array(64)]);
  await t.step(
    "as the server's answer to the ClientHello (TCP)",
    () =>
      within("oversized during handshake", async () => {
        const server = rawServer(async (tcp) => {
          await tcp.read(new Uint8Array(16384));
          await tcp.write(new Uint8Array([22, 3, 3, 0xff, 0xff, 2, 0, 0, 0]));
          await new Promise((r) => setTimeout(r, 100));
        });
        const { conn } = await dial(server.port);
        const { error } = await outcome(conn.handshake());
        assert.ok(error instanceof SSLError && !(error instanceof SysCallError), String(error));
        assert.match((error as Error).message, /packet length too long/);
        await server.done;
        conn.close();
      }),
  );
  await t.step("after the handshake (TCP)", () =>
    within("oversized after handshake", async () => {
      const server = tlsServerWithRawAccess(async (_conn, tcp) => {
        await tcp.write(oversized);
        await new Promise((r) => setTimeout(r, 100));
      });
      const { conn } = await dial(server.port);
      const { error } = await outcome(conn.read(new Uint8Array(100)));
      assert.ok(error instanceof SSLError && !(error instanceof SysCallError), String(error));
      assert.match((error as Error).message, /packet length too long/);
      await server.done;
      conn.close();
    }));
  await t.step("over memory BIOs (recv)", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    using server = new Connection(sctx, null);
    server.setAcceptState();
    using client = new Connection(cctx, null);
    client.setConnectState();
    handshakeInMemory(client, server);
    client.bioWrite(oversized);
    assert.throws(() => client.recv(100), (e) => {
      assert.ok(e instanceof SSLError && !(e instanceof SysCallError), String(e));
      assert.match((e as Error).message, /packet length too long/);
      return true;
    });
  });
});

Deno.test("data after close_notify is never delivered: read() gives null and null again (TCP), recv() throws ZeroReturnError and again (memory)", async (t) => {
  await t.step(
    "TCP: the peer writes a record under TLS after its close_notify",
    () =>
      within("data after close_notify", async () => {
        const server = tlsServerWithRawAccess(async (conn, tcp) => {
          await conn.write(enc.encode("last"));
          await conn.closeWrite().catch(() => {});
          await tcp.write(new Uint8Array([23, 3, 3, 0, 32, ...new Uint8Array(32)])).catch(() => {});
          await new Promise((r) => setTimeout(r, 100));
        });
        const { conn } = await dial(server.port);
        const buf = new Uint8Array(64);
        assert.equal(await conn.read(buf), 4);
        assert.equal(await conn.read(buf), null);
        assert.equal(await conn.read(buf), null);
        await server.done;
        conn.close();
      }),
  );
  await t.step("memory BIOs: a genuine record sent after close_notify", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    using server = new Connection(sctx, null);
    server.setAcceptState();
    using client = new Connection(cctx, null);
    client.setConnectState();
    handshakeInMemory(client, server);
    server.shutdown();
    const closeNotify = server.bioRead(65536);
    client.bioWrite(closeNotify);
    assert.throws(() => client.recv(100), ZeroReturnError);
    client.bioWrite(new Uint8Array([23, 3, 3, 0, 32, ...new Uint8Array(32)]));
    assert.throws(() => client.recv(100), ZeroReturnError);
  });
});

Deno.test("a peer that never answers", async (t) => {
  await t.step(
    "listenTls handshakeTimeout: a client that connects and stays silent makes its connection's handshake() reject with Deno.errors.TimedOut in time; the listener goes on",
    () =>
      within("silent client", async () => {
        const { ca, leaf } = pki();
        const listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: leaf.chainPEM,
          key: leaf.keyPEM,
          handshakeTimeout: 200,
        });
        try {
          const silent = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
          const started = performance.now();
          const conn = await listener.accept();
          const { error } = await outcome(conn.handshake());
          const elapsed = performance.now() - started;
          assert.ok(error instanceof Deno.errors.TimedOut, String(error));
          assert.ok(elapsed >= 150 && elapsed < 5000, `${elapsed} ms`);
          silent.close();
          const good = connectTls({
            hostname: "localhost",
            port: listener.addr.port,
            caCerts: [ca.certPEM],
          });
          const next = await listener.accept();
          const [client] = await Promise.all([good, next.handshake()]);
          await client[Symbol.asyncDispose]();
          await next[Symbol.asyncDispose]();
        } finally {
          listener.close();
        }
      }),
  );

  await t.step(
    "a read on an established connection whose peer stays silent waits, and close() ends it at once with ClosedError",
    () =>
      within("silent after handshake", async () => {
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        const server = tlsServerWithRawAccess(() => released);
        const { conn } = await dial(server.port);
        await conn.handshake();
        const reading = outcome(conn.read(new Uint8Array(10)));
        const raced = await Promise.race([
          reading,
          new Promise((r) => setTimeout(() => r("waiting"), 100)),
        ]);
        assert.equal(raced, "waiting");
        conn.close();
        assert.ok((await reading).error instanceof ClosedError);
        release();
        await server.done;
      }),
  );
});
