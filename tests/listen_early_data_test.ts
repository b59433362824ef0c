/**
 * listenTls's `maxEarlyData`: TLS 1.3 0-RTT on the connections a listener accepts, against
 * `openssl s_client -sess_in -early_data` and a denossl client, OpenSSL's anti-replay, and the
 * listener without the option rejecting early data while the connection still works.
 */
import assert from "node:assert/strict";
import { Connection, connectTls, type Session, TicketKeyRing, type TlsListener } from "../mod.ts";
import {
  clientContext,
  makePki,
  pemDir,
  type Pki,
  readExactly,
  sClientTo,
  type Scope,
  serverContext,
  utf8,
  withDeadline,
} from "./_peers.ts";
import { localListener } from "./_listen.ts";

const dec = new TextDecoder();
const EARLY = "GET /early HTTP/1.1\r\n\r\n";

/** What one s_client connection did, seen from the listener's side and from s_client's. */
interface Round {
  /** What each of the server's reads returned, in order. */
  reads: string[];
  status: string;
  reused: boolean;
  /** s_client's stdout. */
  out: string;
}

/**
 * Runs `openssl s_client -tls1_3 ...extra` against the listener: stdin sends `late` at once
 * (1-RTT), the server reads `expect` bytes in reads of at most 8 bytes, answers, and closes.
 */
async function sClientRound(
  scope: Scope,
  listener: TlsListener,
  caFile: string,
  extra: string[],
  expect: number,
  late = "late\n",
): Promise<Round> {
  const peer = sClientTo(scope, listener.addr.port, caFile, ["-tls1_3", ...extra]);
  const conn = await listener.accept();
  scope.defer(() => conn.close());
  peer.feed(utf8(late));
  const reads: string[] = [];
  const buf = new Uint8Array(8);
  for (let got = 0; got < expect;) {
    const n = await conn.read(buf);
    if (n === null) break;
    reads.push(dec.decode(buf.subarray(0, n)));
    got += n;
  }
  const status = conn.getEarlyDataStatus();
  const reused = conn.sessionReused();
  const pong = peer.waitFor("stdout", /pong\n/);
  await conn.write(utf8("pong\n")); // s_client reads the tickets with it
  await pong;
  await conn.closeWrite();
  await peer.endInput();
  const out = dec.decode((await peer.finished()).stdout);
  conn.close();
  return { reads, status, reused, out };
}

/** A temp dir with the CA file, the early data file and a session file path. */
async function files(scope: Scope, pki: Pki): Promise<{ ca: string; early: string; sess: string }> {
  const paths = await pemDir(scope, { ca: pki.ca.certPEM });
  const early = `${paths.ca!}.early`;
  await Deno.writeTextFile(early, EARLY);
  return { ca: paths.ca!, early, sess: `${paths.ca!}.sess` };
}

const listen = localListener;

Deno.test("listenTls({ maxEarlyData }): s_client's 0-RTT bytes come first out of read(), in order and in pieces, before its 1-RTT bytes; getEarlyDataStatus() says accepted", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  await withDeadline("listenTls maxEarlyData", async (scope) => {
    const f = await files(scope, pki);
    using listener = listen(pki, { maxEarlyData: 4096 });
    assert.equal(listener.context.getMaxEarlyData(), 4096);
    const first = await sClientRound(scope, listener, f.ca, ["-sess_out", f.sess], 5);
    assert.deepEqual(first.reads, ["late\n"]);
    assert.equal(first.status, "not-sent");
    const second = await sClientRound(
      scope,
      listener,
      f.ca,
      ["-sess_in", f.sess, "-early_data", f.early],
      EARLY.length + 5,
    );
    assert.equal(second.reads.join(""), EARLY + "late\n");
    // Reads of 8 bytes: the early bytes come in pieces, and no read mixes them with 1-RTT bytes.
    assert.equal(second.reads.slice(0, 3).join(""), EARLY);
    assert.deepEqual(second.reads.slice(3), ["late\n"]);
    assert.equal(second.status, "accepted");
    assert.equal(second.reused, true);
    assert.match(second.out, /Early data was accepted/);
  });
});

Deno.test("listenTls({ maxEarlyData }): the same session's early data is refused the second time (OpenSSL's anti-replay); the connection still works", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  await withDeadline("listenTls anti-replay", async (scope) => {
    const f = await files(scope, pki);
    using listener = listen(pki, { maxEarlyData: 4096 });
    await sClientRound(scope, listener, f.ca, ["-sess_out", f.sess], 5);
    const replay = ["-sess_in", f.sess, "-early_data", f.early];
    const once = await sClientRound(scope, listener, f.ca, replay, EARLY.length + 5);
    assert.equal(once.status, "accepted");
    assert.equal(once.reads.join(""), EARLY + "late\n");
    const twice = await sClientRound(scope, listener, f.ca, replay, 5);
    assert.equal(twice.status, "rejected");
    assert.equal(twice.reused, false, "the single-use ticket is gone: a full handshake");
    assert.deepEqual(twice.reads, ["late\n"], "the replayed early bytes never reach read()");
    assert.match(twice.out, /Early data was rejected/);
  });
});

Deno.test("listenTls without maxEarlyData resumes the session but rejects its early data (the default stays off); s_client does not resend it and 1-RTT data flows", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  await withDeadline("listenTls early data off", async (scope) => {
    const f = await files(scope, pki);
    // One context, so one session cache: the second listener can resume the first one's ticket.
    using ctx = serverContext(pki.server);
    using withEarly = listen(pki, { context: ctx, maxEarlyData: 4096 });
    assert.equal(ctx.getMaxEarlyData(), 4096, "the option sets a given context's limit");
    await sClientRound(scope, withEarly, f.ca, ["-sess_out", f.sess], 5);
    using plain = listen(pki, { context: ctx });
    const round = await sClientRound(
      scope,
      plain,
      f.ca,
      ["-sess_in", f.sess, "-early_data", f.early],
      5,
    );
    assert.equal(round.reused, true);
    assert.equal(round.status, "rejected");
    assert.deepEqual(round.reads, ["late\n"]);
    assert.match(round.out, /Early data was rejected/);
    // A listener built from cert and key leaves early data off.
    using fresh = listen(pki);
    assert.equal(fresh.context.getMaxEarlyData(), 0);
  });
});

/** A denossl client's resumable session from the listener (tickets read with the echo). */
async function sessionFrom(listener: TlsListener, pki: Pki): Promise<Session> {
  const served = (async () => {
    await using conn = await listener.accept();
    const buf = new Uint8Array(1);
    assert.equal(await conn.read(buf), 1);
    await conn.write(buf);
    assert.equal(await conn.read(buf), null);
  })();
  const client = await connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [pki.ca.certPEM],
  });
  await client.write(new Uint8Array([1]));
  assert.equal(await client.read(new Uint8Array(1)), 1);
  const session = client.getSession()!;
  await client.closeWrite();
  await served;
  client.close();
  return session;
}

Deno.test("listenTls({ maxEarlyData }) with a denossl client's writeEarlyData(), in stream and native mode", async (t) => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  for (const native of [false, true]) {
    await t.step(native ? "native mode" : "stream mode", async () => {
      using listener = listen(pki, { maxEarlyData: 1024, native });
      using session = await sessionFrom(listener, pki);
      assert.equal(session.maxEarlyData, 1024, "the ticket carries the listener's limit");
      using cctx = clientContext(pki.ca.certPEM);
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      await using client = new Connection(cctx, tcp);
      client.setConnectState();
      client.setVerifyHostname("localhost");
      client.setTlsextHostName("localhost"); // 0-RTT needs the session's server name again
      client.setSession(session);
      assert.equal(client.writeEarlyData("zero-rtt|"), 9);
      await using server = await listener.accept();
      assert.equal(server.transportMode, native ? "native" : "stream");
      await Promise.all([client.handshake(), server.handshake()]);
      assert.equal(server.getEarlyDataStatus(), "accepted");
      assert.equal(client.getEarlyDataStatus(), "accepted");
      await client.write(utf8("one-rtt"));
      assert.equal(dec.decode(await readExactly(server, 16)), "zero-rtt|one-rtt");
      await assert.rejects(() => server.readAllEarlyData(), TypeError);
      await server.write(utf8("ok"));
      assert.equal(dec.decode(await readExactly(client, 2)), "ok");
    });
  }
});

Deno.test("listenTls checks maxEarlyData before binding: a RangeError for what is not a byte count, and a used context cannot take it", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  for (const bad of [-1, 1.5, 2 ** 32, Number.NaN, "1024"]) {
    assert.throws(
      () => listen(pki, { maxEarlyData: bad as number }),
      (e: unknown) =>
        e instanceof RangeError && /maxEarlyData must be a number of bytes/.test(e.message),
      String(bad),
    );
  }
  using listener = listen(pki, { maxEarlyData: 0 });
  assert.equal(listener.context.getMaxEarlyData(), 0);
  using used = serverContext(pki.server);
  using first = listen(pki, { context: used });
  const dialing = Deno.connect({ hostname: "127.0.0.1", port: first.addr.port });
  const conn = await first.accept(); // the context has made a connection: it is frozen
  (await dialing).close();
  conn.close();
  assert.throws(() => listen(pki, { context: used, maxEarlyData: 512 }), TypeError);
});

Deno.test("listenTls({ maxEarlyData, sniCertificates }): a client resuming with a per-name certificate gets its early data accepted", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  using api = pki.ca.issue({ dns: ["api.example.com"] });
  using listener = listen(pki, {
    maxEarlyData: 1024,
    sniCertificates: { "api.example.com": { cert: api.chainPEM, key: api.keyPEM } },
  });
  const served = (async () => {
    await using conn = await listener.accept();
    const buf = new Uint8Array(1);
    await conn.read(buf);
    await conn.write(buf);
    await conn.read(buf);
  })();
  const first = await connectTls({
    hostname: "127.0.0.1",
    serverName: "api.example.com",
    port: listener.addr.port,
    caCerts: [pki.ca.certPEM],
  });
  await first.write(new Uint8Array([1]));
  await first.read(new Uint8Array(1));
  using session = first.getSession()!;
  await first.closeWrite();
  await served;
  first.close();
  using cctx = clientContext(pki.ca.certPEM);
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await using client = new Connection(cctx, tcp);
  client.setConnectState();
  client.setVerifyHostname("api.example.com");
  client.setTlsextHostName("api.example.com");
  client.setSession(session);
  client.writeEarlyData("for api");
  await using server = await listener.accept();
  await Promise.all([client.handshake(), server.handshake()]);
  assert.equal(server.getEarlyDataStatus(), "accepted");
  assert.equal(client.getPeerCertificate()!.serialNumber, api.cert.serialNumber);
  assert.equal(dec.decode(await readExactly(server, 7)), "for api");
});

Deno.test("listenTls({ maxEarlyData, ticketKeys }): tickets become single-use entries of one listener's cache, so another listener sharing the keys makes a full handshake (it resumes without maxEarlyData)", async () => {
  const pki = makePki("ec");
  using _pki = { [Symbol.dispose]: () => pki.close() };
  const key = TicketKeyRing.generateKey();
  for (const maxEarlyData of [0, 1024]) {
    const ring = new TicketKeyRing({ keys: [key] });
    using a = listen(pki, { ticketKeys: ring, maxEarlyData });
    using b = listen(pki, { ticketKeys: ring, maxEarlyData });
    using session = await sessionFrom(a, pki);
    const served = b.accept().then(async (conn) => {
      await conn.handshake();
      await conn.closeWrite();
      conn.close();
    });
    await using client = await connectTls({
      hostname: "localhost",
      port: b.addr.port,
      caCerts: [pki.ca.certPEM],
      session,
    });
    await served;
    assert.equal(client.sessionReused(), maxEarlyData === 0, `maxEarlyData ${maxEarlyData}`);
  }
});
