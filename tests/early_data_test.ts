import assert from "node:assert/strict";
import { type Connection, type Context, Session, WantReadError } from "../mod.ts";
import { handshakeInMemory, memoryPair, pump } from "./_pair.ts";
import { catchError, clientContext, drain, serverContext } from "./_negotiation_fixtures.ts";

const enc = new TextEncoder();
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
    [Symbol.dispose]() {
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
