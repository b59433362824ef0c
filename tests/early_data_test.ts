import assert from "node:assert/strict";
import {
  Connection,
  type Context,
  OP_NO_ANTI_REPLAY,
  type Session,
  WantReadError,
} from "../mod.ts";
import { handshakeInMemory, memoryPair, pump } from "./_pair.ts";
import { catchError, clientContext, drain, serverContext } from "./_negotiation_fixtures.ts";
import {
  clientContext as peerClientContext,
  denosslListener,
  dial,
  makePki,
  pemDir,
  readExactly,
  sClientTo,
  serverContext as peerServerContext,
  sServer,
  utf8,
  withDeadline,
} from "./_peers.ts";
import "./_tools.ts";

const dec = new TextDecoder();

/** A full handshake, tickets read, clean close: the client's resumable session. */
function firstSession(cctx: Context, sctx: Context): Session {
  using pair = memoryPair(cctx, sctx, { verifyHostname: "localhost" });
  handshakeInMemory(pair.client, pair.server);
  drain(pair.client); // the TLS 1.3 tickets arrive after the handshake
  const session = pair.client.getSession()!;
  pair.client.shutdown();
  pump(pair.client, pair.server);
  pair.server.shutdown();
  return session;
}

/** The server side of a 0-RTT handshake over memory BIOs: every early chunk it read. */
function acceptEarly(client: Connection, server: Connection): string {
  let early = "";
  for (let round = 0; round < 20; round++) {
    pump(client, server);
    try {
      const chunk = server.readEarlyData();
      if (chunk === null) break;
      early += dec.decode(chunk);
      continue;
    } catch (e) {
      if (!(e instanceof WantReadError)) throw e;
    }
    pump(server, client);
    client.tryHandshake();
  }
  handshakeInMemory(client, server);
  return early;
}

function earlyContexts(maxEarlyData: number): { cctx: Context; sctx: Context } & Disposable {
  const sctx = serverContext();
  sctx.setMaxEarlyData(maxEarlyData);
  const cctx = clientContext();
  return {
    cctx,
    sctx,
    [Symbol.dispose](): void {
      cctx.close();
      sctx.close();
    },
  };
}

Deno.test("Early data: a resumed client's writeEarlyData() reaches the server's readEarlyData() before the handshake ends, and both say accepted", () => {
  using ctxs = earlyContexts(4096);
  assert.equal(ctxs.sctx.getMaxEarlyData(), 4096);
  using session = firstSession(ctxs.cctx, ctxs.sctx);
  assert.equal(session.maxEarlyData, 4096, "the ticket carries the server's limit");
  using pair = memoryPair(ctxs.cctx, ctxs.sctx, { verifyHostname: "localhost" });
  pair.client.setSession(session);
  assert.equal(pair.client.writeEarlyData("GET /idempotent "), 16);
  assert.equal(pair.client.writeEarlyData("HTTP/1.1\r\n"), 10);
  assert.equal(pair.client.isHandshakeDone(), false);
  assert.equal(acceptEarly(pair.client, pair.server), "GET /idempotent HTTP/1.1\r\n");
  assert.equal(pair.client.getEarlyDataStatus(), "accepted");
  assert.equal(pair.server.getEarlyDataStatus(), "accepted");
  assert.equal(pair.client.sessionReused(), true);
  assert.equal(pair.server.readEarlyData(), null, "no more early data once it ended");
  // After the handshake, data flows as usual.
  pair.client.send("after");
  pump(pair.client, pair.server);
  assert.equal(dec.decode(pair.server.recv(100)), "after");
});

Deno.test("Early data: setMaxEarlyData() above 16 KiB lets the server take that much (OpenSSL's receive limit follows)", () => {
  using ctxs = earlyContexts(65536);
  using session = firstSession(ctxs.cctx, ctxs.sctx);
  assert.equal(session.maxEarlyData, 65536);
  using pair = memoryPair(ctxs.cctx, ctxs.sctx, { verifyHostname: "localhost" });
  pair.client.setSession(session);
  const big = "x".repeat(40000);
  let sent = 0;
  while (sent < big.length) sent += pair.client.writeEarlyData(big.slice(sent));
  assert.equal(acceptEarly(pair.client, pair.server), big);
  assert.equal(pair.server.getEarlyDataStatus(), "accepted");
});

Deno.test("Early data: the same ticket is refused for 0-RTT a second time (OpenSSL's single-server anti-replay)", () => {
  using ctxs = earlyContexts(1024);
  using session = firstSession(ctxs.cctx, ctxs.sctx);
  const statuses: string[] = [];
  const received: string[] = [];
  for (let i = 0; i < 2; i++) {
    using pair = memoryPair(ctxs.cctx, ctxs.sctx, { verifyHostname: "localhost" });
    pair.client.setSession(session);
    pair.client.writeEarlyData("replayable");
    received.push(acceptEarly(pair.client, pair.server));
    statuses.push(pair.client.getEarlyDataStatus());
    pair.client.shutdown(); // a clean close keeps the session resumable
    pump(pair.client, pair.server);
  }
  assert.deepEqual(statuses, ["accepted", "rejected"]);
  assert.deepEqual(received, ["replayable", ""]);
});

Deno.test("Early data: a server without setMaxEarlyData() rejects it, skips it, and the handshake completes", () => {
  using ctxs = earlyContexts(1024);
  using session = firstSession(ctxs.cctx, ctxs.sctx);
  using plain = serverContext(); // other ticket keys and no early data: a full handshake
  using pair = memoryPair(ctxs.cctx, plain, { verifyHostname: "localhost" });
  pair.client.setSession(session);
  pair.client.writeEarlyData("lost");
  assert.equal(acceptEarly(pair.client, pair.server), "");
  assert.equal(pair.client.getEarlyDataStatus(), "rejected");
  assert.equal(pair.server.getEarlyDataStatus(), "rejected");
  assert.equal(pair.client.sessionReused(), false);
});

Deno.test("Early data: a plain handshake reports not-sent; writeEarlyData() without a 0-RTT session is a TypeError saying so", () => {
  using ctxs = earlyContexts(0);
  using pair = memoryPair(ctxs.cctx, ctxs.sctx, { verifyHostname: "localhost" });
  const e = catchError(() => pair.client.writeEarlyData("x"), TypeError);
  assert.match(e.message, /call setSession\(\) with one first/);
  using again = memoryPair(ctxs.cctx, ctxs.sctx, { verifyHostname: "localhost" });
  handshakeInMemory(again.client, again.server);
  assert.equal(again.client.getEarlyDataStatus(), "not-sent");
  assert.equal(again.server.getEarlyDataStatus(), "not-sent");
  assert.equal(again.server.readEarlyData(), null, "after the handshake there is none to read");
  catchError(() => again.server.readEarlyData(0), RangeError);
  using fresh = serverContext();
  catchError(() => fresh.setMaxEarlyData(-1), RangeError);
  catchError(() => ctxs.sctx.setMaxEarlyData(1), TypeError); // a used context is frozen
});

// ---- interop with the openssl CLI -------------------------------------------------------------

Deno.test("Early data interop: a denossl client's 0-RTT bytes reach openssl s_server -early_data, which accepts them", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  await withDeadline("s_server -early_data", async (scope) => {
    const { peer, port } = await sServer(scope, pki.server, ["-tls1_3", "-early_data"], {
      brief: false,
      naccept: 2,
    });
    using ctx = peerClientContext(pki.ca.certPEM);
    // A full handshake: the ticket arrives with s_server's reply.
    const first = await dial(scope, ctx, port, { verifyHost: "localhost" });
    const reported = peer.waitFor("stdout", /first\n/);
    await first.handshake();
    await first.write(utf8("first\n"));
    await reported;
    peer.feed(utf8("pong1\n"));
    assert.equal(dec.decode(await readExactly(first, 6)), "pong1\n");
    using session = first.getSession()!;
    assert.equal(session.maxEarlyData, 16384, "s_server -early_data allows 16 KiB");
    await first[Symbol.asyncDispose]();
    // 0-RTT: the early bytes leave with the ClientHello, before the handshake.
    const second = await dial(scope, ctx, port, { verifyHost: "localhost" });
    second.setSession(session);
    const received = peer.waitFor("stdout", /End of early data\n/);
    assert.equal(second.writeEarlyData("early-hello\n"), 12);
    await second.handshake(); // sends EndOfEarlyData, which ends s_server's early data loop
    await received;
    assert.equal(second.getEarlyDataStatus(), "accepted");
    assert.equal(second.sessionReused(), true);
    const reported2 = peer.waitFor("stdout", /late\n/);
    await second.write(utf8("late\n"));
    await reported2;
    peer.feed(utf8("pong2\n"));
    assert.equal(dec.decode(await readExactly(second, 6)), "pong2\n");
    await second[Symbol.asyncDispose]();
    const out = dec.decode((await peer.finished()).stdout);
    // s_server writes the early bytes raw and its headers through a buffered BIO: order varies.
    assert.match(out, /Early data received:/);
    assert.match(out, /early-hello\n[^]*late\n|late\n[^]*early-hello\n/);
    assert.ok(out.indexOf("early-hello") < out.indexOf("late\n"), out);
  });
});

Deno.test("Early data interop: openssl s_client -sess_in -early_data sends 0-RTT bytes that a denossl server's readAllEarlyData() returns (async face)", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  await withDeadline("s_client -early_data", async (scope) => {
    const files = await pemDir(scope, { ca: pki.ca.certPEM });
    const sess = `${files.ca!}.sess`;
    const earlyFile = `${files.ca!}.early`;
    await Deno.writeTextFile(earlyFile, "GET /early HTTP/1.1\r\n\r\n");
    using ctx = peerServerContext(pki.server);
    ctx.setMaxEarlyData(4096);
    const l = denosslListener(scope);
    const statuses: string[] = [];
    const early: string[] = [];
    for (const extra of [["-sess_out", sess], ["-sess_in", sess, "-early_data", earlyFile]]) {
      const peer = sClientTo(scope, l.port, files.ca!, ["-tls1_3", ...extra]);
      const conn = await l.accept(ctx);
      early.push(dec.decode(await conn.readAllEarlyData()));
      await conn.handshake();
      statuses.push(conn.getEarlyDataStatus());
      peer.feed(utf8("ping\n"));
      assert.equal(dec.decode(await readExactly(conn, 5)), "ping\n");
      await conn.write(utf8("pong\n")); // s_client reads the ticket with it
      const pong = peer.waitFor("stdout", /pong\n/);
      await pong;
      await conn[Symbol.asyncDispose]();
      await peer.endInput();
      const out = dec.decode((await peer.finished()).stdout);
      if (extra.includes("-early_data")) assert.match(out, /Early data was accepted/);
    }
    assert.deepEqual(early, ["", "GET /early HTTP/1.1\r\n\r\n"]);
    assert.deepEqual(statuses, ["not-sent", "accepted"]);
  });
});

Deno.test("Early data between two denossl ends over TCP, native and stream mode: writeEarlyData() then handshake() on the client, readAllEarlyData() on the server", async (t) => {
  const modes: [boolean, boolean][] = [[true, false], [false, false], [false, true]];
  for (const [native, asyncHello] of modes) {
    const label = `${native ? "native" : "stream"} mode${
      asyncHello ? ", an async client hello callback" : ""
    }`;
    await t.step(label, async () => {
      using ctxs = earlyContexts(2048);
      const hellos: string[] = [];
      // A second server sharing the first's ticket keys, with stateless tickets (anti-replay
      // off, as across servers): its async client hello callback suspends the handshake inside
      // readAllEarlyData's first SSL_read_early_data.
      using second = serverContext();
      if (asyncHello) {
        second.setMaxEarlyData(2048);
        second.setTicketKeys(ctxs.sctx.getTicketKeys());
        second.setOptions(OP_NO_ANTI_REPLAY);
        ctxs.sctx.setOptions(OP_NO_ANTI_REPLAY);
        second.setClientHelloCallback(async (_conn, hello) => {
          await new Promise((r) => setTimeout(r, 5));
          hellos.push(hello.serverName ?? "-");
          return true;
        });
      }
      using session = firstSession(ctxs.cctx, ctxs.sctx);
      const serverCtx = asyncHello ? second : ctxs.sctx;
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept().then((tcp) => {
        const conn = new Connection(serverCtx, tcp, { native });
        conn.setAcceptState();
        return conn;
      });
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      await using client = new Connection(ctxs.cctx, tcp, { native });
      await using server = await accepted;
      assert.equal(client.transportMode, native ? "native" : "stream");
      client.setConnectState();
      client.setVerifyHostname("localhost");
      client.setSession(session);
      assert.equal(client.writeEarlyData("0-RTT hello"), 11);
      const [early] = await Promise.all([server.readAllEarlyData(), client.handshake()]);
      assert.equal(dec.decode(early), "0-RTT hello");
      await server.handshake();
      assert.equal(client.getEarlyDataStatus(), "accepted");
      assert.equal(server.getEarlyDataStatus(), "accepted");
      await client.write(utf8("1-RTT"));
      assert.equal(dec.decode(await readExactly(server, 5)), "1-RTT");
      assert.deepEqual(hellos, asyncHello ? ["-"] : []);
    });
  }
});
