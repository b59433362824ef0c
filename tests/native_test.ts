/**
 * Native mode: OpenSSL reads and writes the socket itself (`SSL_set_fd` on a
 * duplicate of the descriptor), waiting on the shared reactor.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  ClosedError,
  Connection,
  connectTls,
  Context,
  listenTls,
  startTls,
  TLS_METHOD,
  type TlsConnection,
  type TlsListener,
  WantReadError,
} from "../mod.ts";
import { reactor } from "../ffi/reactor.ts";
import { sys } from "../ffi/sys.ts";
import {
  clientContext,
  exchange,
  field,
  makePki,
  Peer,
  pemDir,
  type Pki,
  randomBytes,
  type Scope,
  serverContext,
  sha256,
  sServer,
  withDeadline,
} from "./_peers.ts";
import { runSnippet } from "./_subprocess.ts";

const BIG = 4 << 20;
const DEADLINE = 60_000;

async function catchError(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({ message: "expected an error" });
}

/** Reads until the peer's close_notify; returns the byte count. */
async function readToEnd(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return total;
    total += n;
  }
}

/** Waits until the shared reactor has nothing outstanding. */
async function reactorSettled(): Promise<void> {
  await reactor().idle();
  assert.equal(reactor().waiters, 0, "no waiter left on the reactor");
  assert.equal(reactor().pending, false, "no readiness wait outstanding");
}

/** A denossl listener on 127.0.0.1 with the PKI's server certificate, closed by the scope. */
function serve(scope: Scope, pki: Pki, native = false): TlsListener {
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.server.chainPEM,
    key: pki.server.keyPEM,
    native,
  });
  scope.defer(() => listener.close());
  return listener;
}

/** A verifying denossl client of 127.0.0.1:port for "localhost". */
function dialTls(pki: Pki, port: number, native: boolean): Promise<TlsConnection> {
  return connectTls({ hostname: "localhost", port, caCerts: [pki.ca.certPEM], native });
}

Deno.test("native mode", async (t) => {
  const pki = makePki("ec");
  try {
    await t.step(
      "interop: native denossl client ↔ openssl s_server — 4 MiB both ways, clean close",
      () =>
        withDeadline("native client ↔ s_server", async (scope) => {
          const { peer, port } = await sServer(scope, pki.server, []);
          const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
          const conn = await connectTls({
            hostname: "localhost",
            port,
            caCerts: [pki.ca.certPEM],
            native: true,
          });
          scope.defer(() => conn.close());
          assert.equal(conn.transportMode, "native", conn.nativeFallbackReason ?? "");
          const fromServer = randomBytes(BIG);
          const fromClient = randomBytes(BIG);
          const exchanged = exchange(conn, fromClient, BIG);
          exchanged.catch(() => {});
          await summary;
          peer.feed(fromServer);
          const got = await exchanged;
          await conn.closeWrite();
          // s_server answers our close_notify with its own: a clean end on both sides.
          assert.equal(await readToEnd(conn), 0);
          await conn[Symbol.asyncDispose]();
          const out = await peer.finished();
          assert.equal(out.status.code, 0, out.stderr);
          assert.equal(await sha256(got), await sha256(fromServer));
          assert.equal(out.stdout.length, BIG, out.stderr);
          assert.equal(await sha256(out.stdout), await sha256(fromClient));
          assert.equal(field(out.stderr, "Protocol version"), "TLSv1.3", out.stderr);
          await reactorSettled();
        }, DEADLINE),
    );

    await t.step(
      "interop: openssl s_client ↔ native denossl server — 4 MiB both ways, clean close",
      () =>
        withDeadline("s_client ↔ native server", async (scope) => {
          const files = await pemDir(scope, { ca: pki.ca.certPEM });
          const listener = serve(scope, pki, true);
          const fromServer = randomBytes(BIG);
          const fromClient = randomBytes(BIG);
          const peer = scope.adopt(
            new Peer("openssl", [
              "s_client",
              "-connect",
              `127.0.0.1:${listener.addr.port}`,
              "-brief",
              "-ign_eof",
              "-nocommands",
              "-CAfile",
              files.ca!,
              "-verify_return_error",
              "-verify_hostname",
              "localhost",
            ], { stdin: true }),
          );
          peer.feed(fromClient);
          const conn = await listener.accept();
          scope.defer(() => conn.close());
          await conn.handshake();
          assert.equal(conn.transportMode, "native", conn.nativeFallbackReason ?? "");
          const got = await exchange(conn, fromServer, BIG);
          await conn.closeWrite(); // close_notify: s_client -ign_eof then ends
          await peer.endInput();
          assert.equal(await readToEnd(conn), 0, "no bytes after the exchange, then close_notify");
          await conn[Symbol.asyncDispose]();
          const out = await peer.finished();
          assert.equal(await sha256(got), await sha256(fromClient));
          assert.equal(out.stdout.length, BIG, out.stderr);
          assert.equal(await sha256(out.stdout), await sha256(fromServer));
          assert.match(out.stderr, /Verification: OK/, out.stderr);
          await reactorSettled();
        }, DEADLINE),
    );

    for (
      const [clientNative, serverNative] of [[true, false], [false, true], [true, true]] as const
    ) {
      const label = `${clientNative ? "native" : "stream"} client ↔ ${
        serverNative ? "native" : "stream"
      } server`;
      await t.step(
        `${label} — 4 MiB both ways, read() === null on both ends`,
        () =>
          withDeadline(label, async (scope) => {
            const listener = serve(scope, pki, serverNative);
            const accepted = listener.accept();
            const client = await dialTls(pki, listener.addr.port, clientNative);
            scope.defer(() => client.close());
            const server = await accepted;
            scope.defer(() => server.close());
            assert.equal(client.transportMode, clientNative ? "native" : "stream");
            assert.equal(server.transportMode, serverNative ? "native" : "stream");
            const a = randomBytes(BIG);
            const b = randomBytes(BIG);
            const [gotByServer, gotByClient] = await Promise.all([
              exchange(server, b, BIG),
              exchange(client, a, BIG),
            ]);
            assert.equal(await sha256(gotByServer), await sha256(a));
            assert.equal(await sha256(gotByClient), await sha256(b));
            await client.closeWrite();
            assert.equal(await server.read(new Uint8Array(16)), null);
            await server.closeWrite();
            assert.equal(await client.read(new Uint8Array(16)), null);
            await client[Symbol.asyncDispose]();
            await server[Symbol.asyncDispose]();
            await reactorSettled();
          }, DEADLINE),
      );
    }

    await t.step(
      "200 concurrent native connections on one reactor each echo 16 KiB",
      () =>
        withDeadline("200 native", async (scope) => {
          const listener = serve(scope, pki, true);
          const servers: Promise<void>[] = [];
          const serving = (async () => {
            for (let i = 0; i < 200; i++) {
              const conn = await listener.accept();
              scope.defer(() => conn.close());
              servers.push((async () => {
                assert.equal(conn.transportMode, "native");
                await conn.readable.pipeTo(conn.writable);
              })());
            }
          })();
          const clients = Array.from({ length: 200 }, async () => {
            const conn = await dialTls(pki, listener.addr.port, true);
            scope.defer(() => conn.close());
            assert.equal(conn.transportMode, "native", conn.nativeFallbackReason ?? "");
            const payload = randomBytes(16 * 1024);
            const got = await exchange(conn, payload, payload.length);
            assert.deepEqual(got, payload);
            await conn.closeWrite();
            assert.equal(await conn.read(new Uint8Array(1)), null);
            await conn[Symbol.asyncDispose]();
          });
          await Promise.all(clients);
          await serving;
          await Promise.all(servers);
          await reactorSettled();
        }, DEADLINE),
    );

    await t.step(
      "closing a native connection settles its pending read at once",
      () =>
        withDeadline("close settles read", async (scope) => {
          const listener = serve(scope, pki);
          const accepted = listener.accept();
          const client = await dialTls(pki, listener.addr.port, true);
          const server = await accepted;
          scope.defer(() => server.close());
          await server.handshake();
          const pending = client.read(new Uint8Array(16));
          pending.catch(() => {});
          await new Promise((r) => setTimeout(r, 50));
          assert.equal(reactor().waiters, 1, "the read waits on the reactor");
          const started = performance.now();
          client.close();
          const error = await catchError(pending);
          assert.ok(error instanceof ClosedError, String(error));
          assert.ok(performance.now() - started < 1000, "settled at once");
          await reactorSettled();
        }, DEADLINE),
    );

    await t.step(
      "the synchronous face over a native socket behaves like pyOpenSSL's",
      () =>
        withDeadline("sync native", async (scope) => {
          const listener = serve(scope, pki);
          const accepted = listener.accept();
          const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
          using ctx = clientContext(pki.ca.certPEM);
          const conn = new Connection(ctx, tcp, { native: true });
          scope.defer(() => conn.close());
          assert.equal(conn.transportMode, "native", conn.nativeFallbackReason ?? "");
          assert.ok(conn.fileno() >= 0);
          conn.setConnectState();
          conn.setVerifyHostname("localhost");
          const server = await accepted;
          scope.defer(() => server.close());
          const serverDone = server.handshake();
          // doHandshake never blocks: it throws WantReadError until the server answered.
          let wants = 0;
          for (;;) {
            try {
              conn.doHandshake();
              break;
            } catch (e) {
              if (!(e instanceof WantReadError)) throw e;
              wants++;
              await new Promise((r) => setTimeout(r, 5));
            }
          }
          await serverDone;
          assert.ok(wants > 0, "the first flight had to wait for the server");
          assert.ok(conn.isHandshakeDone());
          assert.ok((await catchError(() => conn.recv(16))) instanceof WantReadError);
          await server.write(new TextEncoder().encode("ping"));
          let got: Uint8Array | null = null;
          while (got === null) {
            try {
              got = conn.recv(16);
            } catch (e) {
              if (!(e instanceof WantReadError)) throw e;
              await new Promise((r) => setTimeout(r, 5));
            }
          }
          assert.equal(new TextDecoder().decode(got), "ping");
          assert.equal(conn.send("pong"), 4);
          const buf = new Uint8Array(16);
          const n = await server.read(buf);
          assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "pong");
          // bioRead/bioWrite belong to memory mode.
          assert.ok((await catchError(() => conn.bioRead(10))) instanceof TypeError);
        }, DEADLINE),
    );

    await t.step(
      "a { fd } transport: OpenSSL drives that descriptor",
      () =>
        withDeadline("fd transport", async (scope) => {
          const listener = serve(scope, pki);
          const accepted = listener.accept();
          const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
          using ctx = clientContext(pki.ca.certPEM);
          // Borrow a descriptor for the socket from a first native connection, then
          // hand it to a second connection as a plain number.
          const first = new Connection(ctx, tcp, { native: true });
          const fd = sys().dup(first.fileno());
          scope.defer(() => sys().close(fd));
          const conn = new Connection(ctx, { fd });
          scope.defer(() => conn.close());
          assert.equal(conn.transportMode, "native");
          assert.notEqual(conn.fileno(), fd, "the connection uses its own duplicate");
          conn.setConnectState();
          conn.setVerifyHostname("localhost");
          const server = await accepted;
          scope.defer(() => server.close());
          const [info] = await Promise.all([conn.handshake(), server.handshake()]);
          assert.equal(info.protocol, "TLSv1.3");
          const payload = randomBytes(100_000);
          const [got] = await Promise.all([
            exchange(server, new Uint8Array(0), payload.length),
            conn.write(payload),
          ]);
          assert.deepEqual(got, payload);
          conn.close();
          first.close(); // closes the TcpConn too
          await reactorSettled();
        }, DEADLINE),
    );

    await t.step(
      "native mode over a Unix socket, startTls with native: true",
      () =>
        withDeadline("unix native", async (scope) => {
          const dir = await Deno.makeTempDir();
          scope.defer(() => Deno.remove(dir, { recursive: true }));
          const path = `${dir}/s.sock`;
          const unix = Deno.listen({ transport: "unix", path });
          scope.defer(() => unix.close());
          const accepted = unix.accept();
          const plain = await Deno.connect({ transport: "unix", path });
          const serverTransport = await accepted;
          using serverCtx = serverContext(pki.server);
          const server = new Connection(serverCtx, serverTransport);
          scope.defer(() => server.close());
          server.setAcceptState();
          const serverDone = server.handshake();
          const client = await startTls(plain, {
            hostname: "localhost",
            caCerts: [pki.ca.certPEM],
            native: true,
          });
          scope.defer(() => client.close());
          await serverDone;
          assert.equal(client.transportMode, "native", client.nativeFallbackReason ?? "");
          const got = await Promise.all([
            exchange(client, randomBytes(1), 1),
            exchange(server, randomBytes(1), 1),
          ]);
          assert.equal(got[0].length + got[1].length, 2);
          client.close();
          await reactorSettled();
        }, DEADLINE),
    );

    await t.step(
      "native: true falls back to stream mode, with a reason, when no socket fits",
      () =>
        withDeadline("fallback", async (scope) => {
          const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          scope.defer(() => listener.close());
          const accepted = listener.accept();
          const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
          const other = await accepted;
          scope.defer(() => other.close());
          // A wrapper whose addresses lie: no descriptor matches them.
          const liar = {
            read: (p: Uint8Array) => tcp.read(p),
            write: (p: Uint8Array) => tcp.write(p),
            close: () => tcp.close(),
            localAddr: { transport: "tcp", hostname: "10.9.8.7", port: 1 } as Deno.NetAddr,
            remoteAddr: { transport: "tcp", hostname: "10.9.8.6", port: 2 } as Deno.NetAddr,
          };
          using ctx = new Context(TLS_METHOD);
          const conn = new Connection(ctx, liar, { native: true });
          scope.defer(() => conn.close());
          assert.equal(conn.transportMode, "stream");
          assert.match(conn.nativeFallbackReason ?? "", /no open socket matches 10\.9\.8\.7:1/);
          const noAddr = new Connection(ctx, { read: liar.read, write: liar.write }, {
            native: true,
          });
          assert.equal(noAddr.transportMode, "stream");
          assert.match(noAddr.nativeFallbackReason ?? "", /no localAddr\/remoteAddr/);
          noAddr.close();
          // Without native: true, there is no reason to report.
          const plain = new Connection(ctx, liar);
          assert.equal(plain.nativeFallbackReason, null);
          plain.close();
          assert.ok((await catchError(() => conn.fileno())) instanceof TypeError);
        }, DEADLINE),
    );

    await t.step(
      "a native handshake against a silent server ends at handshakeTimeout and at an abort, leaving no wait behind",
      () =>
        withDeadline("native timeout", async (scope) => {
          const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          scope.defer(() => silent.close());
          const held: Deno.Conn[] = [];
          const accepting = (async () => {
            for await (const c of silent) held.push(c);
          })();
          scope.defer(() => held.forEach((c) => c.close()));
          const started = performance.now();
          const timedOut = await catchError(
            connectTls({
              hostname: "localhost",
              port: silent.addr.port,
              caCerts: [pki.ca.certPEM],
              native: true,
              handshakeTimeout: 200,
            }),
          );
          assert.ok(timedOut instanceof Deno.errors.TimedOut, String(timedOut));
          assert.ok(performance.now() - started < 5000);
          const controller = new AbortController();
          setTimeout(() => controller.abort(new Error("stop")), 100);
          const aborted = await catchError(
            connectTls({
              hostname: "localhost",
              port: silent.addr.port,
              caCerts: [pki.ca.certPEM],
              native: true,
              signal: controller.signal,
            }),
          );
          assert.equal((aborted as Error).message, "stop");
          await reactorSettled();
          silent.close();
          await accepting.catch(() => {});
        }, DEADLINE),
    );

    await t.step("bad descriptors give clear errors", async () => {
      using ctx = new Context(TLS_METHOD);
      const negative = await catchError(() => new Connection(ctx, { fd: -1 }));
      assert.ok(negative instanceof RangeError, String(negative));
      assert.match(String(negative), /non-negative integer/);
      const fractional = await catchError(() => new Connection(ctx, { fd: 3.5 }));
      assert.ok(fractional instanceof RangeError, String(fractional));
      const closed = await catchError(() => new Connection(ctx, { fd: 1_000_000 }));
      assert.ok(closed instanceof Deno.errors.BadResource, String(closed));
      assert.match(String(closed), /not an open descriptor/);
      const fds = new Int32Array(2);
      assert.equal(sys().pipe(fds), 0);
      try {
        const pipe = await catchError(() => new Connection(ctx, { fileno: () => fds[0]! }));
        assert.ok(pipe instanceof TypeError, String(pipe));
        assert.match(String(pipe), /not a socket/);
      } finally {
        sys().close(fds[0]!);
        sys().close(fds[1]!);
      }
    });
  } finally {
    pki.close();
  }
});

const SNIPPET = (count: number): string => `
const { TestCA, listenTls, connectTls } = denossl;
const { reactor } = await import(${
  JSON.stringify(new URL("../ffi/reactor.ts", import.meta.url).href)
});
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.certPEM, key: leaf.keyPEM, native: true });
(async () => {
  for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => {});
})();
const results = await Promise.all(Array.from({ length: ${count} }, async (_, i) => {
  const conn = await connectTls({ hostname: "localhost", port: listener.addr.port, caCerts: [ca.certPEM], native: true });
  const msg = new TextEncoder().encode("hello " + i);
  await conn.write(msg);
  const buf = new Uint8Array(64);
  let got = 0;
  while (got < msg.length) got += (await conn.read(buf.subarray(got))) ?? 0;
  const mode = conn.transportMode;
  conn.close();
  return mode + ":" + new TextDecoder().decode(buf.subarray(0, got));
}));
listener.close();
report({ backend: reactor().backend, results });
// No explicit exit: the process must end by itself once nothing waits.
`;

Deno.test("native mode: the process exits by itself; the poll backend works too", async (t) => {
  for (const backend of ["epoll", "poll"]) {
    await t.step(`${backend} backend, 20 connections, then a clean exit`, async () => {
      const started = performance.now();
      const result = await runSnippet(SNIPPET(20), {
        flags: ["--allow-all"],
        env: backend === "poll" ? { DENOSSL_REACTOR: "poll" } : {},
      });
      assert.equal(result.code, 0, result.stderr);
      const report = result.report as { backend: string; results: string[] };
      assert.equal(report.backend, backend);
      assert.deepEqual(
        report.results,
        Array.from({ length: 20 }, (_, i) => `native:hello ${i}`),
      );
      assert.ok(performance.now() - started < 30_000, "the process ended by itself");
    });
  }
});
