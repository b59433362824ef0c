import assert from "node:assert/strict";
import {
  ClosedError,
  type Connection,
  Context,
  OP_NO_TICKET,
  SESS_CACHE_CLIENT,
  SESS_CACHE_SERVER,
  Session,
  SSLError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
} from "../mod.ts";
import { handshakeInMemory, pump } from "./_pair.ts";
import {
  catchError,
  clientContext,
  drain,
  pair,
  pin,
  serverContext,
} from "./_negotiation_fixtures.ts";

const VERSIONS = [TLS1_2_VERSION, TLS1_3_VERSION] as const;
const name = (v: number): string => (v === TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");

class Boom extends Error {}

/**
 * Connects once, optionally resuming `session`.
 *
 * @returns Whether the session was reused, and the client's session afterwards.
 */
function connect(
  cctx: Context,
  sctx: Context,
  session?: Session,
): { reused: boolean; serverReused: boolean; session: Session } {
  const { client, server } = pair(cctx, sctx);
  try {
    if (session) client.setSession(session);
    handshakeInMemory(client, server);
    drain(client); // TLS 1.3: read the tickets the server sent after its handshake
    const got = client.getSession();
    assert.ok(got);
    const result = {
      reused: client.sessionReused(),
      serverReused: server.sessionReused(),
      session: got,
    };
    // Close cleanly: OpenSSL marks the session of an SSL freed without close_notify
    // as not resumable (SSL_free → ssl_clear_bad_session).
    client.shutdown();
    pump(client, server);
    server.shutdown();
    return result;
  } finally {
    client.close();
    server.close();
  }
}

function ticketKeys(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(80));
}

for (const version of VERSIONS) {
  for (const tickets of [true, false]) {
    if (version === TLS1_3_VERSION && !tickets) continue; // TLS 1.3 resumes by ticket (stateful with OP_NO_TICKET, still a ticket)
    Deno.test(`Resumption (${name(version)}, ${tickets ? "tickets" : "session ID cache"}): the second connection reuses the session`, () => {
      using sctx = pin(serverContext(), version);
      if (!tickets) sctx.setOptions(OP_NO_TICKET);
      using cctx = clientContext();
      const first = connect(cctx, sctx);
      using s1 = first.session;
      assert.equal(first.reused, false);
      assert.ok(s1.isResumable());
      const second = connect(cctx, sctx, s1);
      using _s2 = second.session;
      assert.equal(second.reused, true);
      assert.equal(second.serverReused, true);
    });
  }
}

Deno.test("TLS 1.3 with OP_NO_TICKET resumes from the server's stateful cache", () => {
  using sctx = pin(serverContext(), TLS1_3_VERSION);
  sctx.setOptions(OP_NO_TICKET);
  using cctx = clientContext();
  const first = connect(cctx, sctx);
  using s1 = first.session;
  const second = connect(cctx, sctx, s1);
  using _s2 = second.session;
  assert.equal(second.reused, true);
});

for (const version of VERSIONS) {
  Deno.test(`Session (${name(version)}) reports id, protocol, cipher, time, timeout and survives toDER/fromDER`, () => {
    using sctx = pin(serverContext(), version);
    using cctx = clientContext();
    const before = Math.floor(Date.now() / 1000) * 1000;
    const { session } = connect(cctx, sctx);
    using s = session;
    assert.equal(s.protocolVersion, version);
    assert.equal(s.id.length, 32);
    assert.equal(
      s.cipherName,
      version === TLS1_3_VERSION ? "TLS_AES_256_GCM_SHA384" : "ECDHE-ECDSA-AES256-GCM-SHA384",
    );
    assert.ok(s.time.getTime() >= before - 1000 && s.time.getTime() <= Date.now() + 1000);
    assert.ok(s.timeout > 0);
    assert.equal(s.isResumable(), true);
    assert.equal(s.masterKey().length, 48); // TLS 1.2 master secret; TLS 1.3 SHA-384 resumption secret

    const der = s.toDER();
    using restored = Session.fromDER(der);
    assert.deepEqual(restored.id, s.id);
    assert.equal(restored.protocolVersion, version);
    assert.equal(restored.cipherName, s.cipherName);
    assert.equal(restored.time.getTime(), s.time.getTime());
    assert.equal(restored.timeout, s.timeout);
    assert.deepEqual(restored.toDER(), der);
  });
}

for (const version of VERSIONS) {
  Deno.test(`Session (${name(version)}) serialized with toDER resumes on a new server Context with the same ticket keys`, () => {
    const keys = ticketKeys();
    let der: Uint8Array;
    {
      // The first "process": a server, a client, a saved session; all closed afterwards.
      using sctx = pin(serverContext(), version);
      sctx.setTicketKeys(keys);
      assert.deepEqual(sctx.getTicketKeys(), keys);
      using cctx = clientContext();
      const { session } = connect(cctx, sctx);
      using s = session;
      der = s.toDER();
    }
    {
      using sctx = pin(serverContext(), version);
      sctx.setTicketKeys(keys);
      using cctx = clientContext();
      using restored = Session.fromDER(der);
      const { reused, session } = connect(cctx, sctx, restored);
      session.close();
      assert.equal(reused, true);
    }
    {
      // Other ticket keys: the server cannot read the ticket and makes a full handshake.
      using sctx = pin(serverContext(), version);
      sctx.setTicketKeys(ticketKeys());
      using cctx = clientContext();
      using restored = Session.fromDER(der);
      const { reused, session } = connect(cctx, sctx, restored);
      session.close();
      assert.equal(reused, false);
    }
  });
}

for (const version of VERSIONS) {
  Deno.test(`Session (${name(version)}) from a context with another session ID context is refused: full handshake`, () => {
    const keys = ticketKeys();
    using a = pin(serverContext(), version);
    a.setSessionIdContext("app-a");
    a.setTicketKeys(keys);
    using b = pin(serverContext(), version);
    b.setSessionIdContext("app-b");
    b.setTicketKeys(keys);
    using cctx = clientContext();
    const first = connect(cctx, a);
    using s = first.session;
    const same = connect(cctx, a, s);
    same.session.close();
    assert.equal(same.reused, true);
    const other = connect(cctx, b, s);
    other.session.close();
    assert.equal(other.reused, false);
    assert.equal(other.serverReused, false);
  });
}

Deno.test("New-session callback: TLS 1.3 sessions arrive with the tickets, after the handshake", () => {
  using sctx = pin(serverContext(), TLS1_3_VERSION);
  using cctx = clientContext();
  assert.equal(cctx.getSessionCacheMode(), SESS_CACHE_SERVER);
  assert.equal(cctx.setSessionCacheMode(SESS_CACHE_CLIENT), SESS_CACHE_SERVER);
  assert.equal(cctx.getSessionCacheMode(), SESS_CACHE_CLIENT);
  const sessions: Session[] = [];
  const seenBy: Connection[] = [];
  cctx.setNewSessionCallback((conn, session) => {
    seenBy.push(conn);
    sessions.push(session);
  });
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  // Drive by hand: the client's handshake finishes before the server's tickets are read.
  for (let i = 0; i < 10 && !client.isHandshakeDone(); i++) {
    try {
      client.doHandshake();
    } catch { /* want read */ }
    pump(client, server);
    try {
      server.doHandshake();
    } catch { /* want read */ }
    pump(server, client);
  }
  assert.ok(client.isHandshakeDone());
  assert.equal(sessions.length, 0);
  drain(client); // reads the NewSessionTicket messages
  assert.equal(sessions.length, 2); // OpenSSL servers send two tickets by default
  assert.ok(seenBy.every((c) => c === client));
  assert.ok(sessions.every((s) => s.isResumable() && s.protocolVersion === TLS1_3_VERSION));

  const second = connect(cctx, sctx, sessions[0]);
  second.session.close();
  assert.equal(second.reused, true);
  for (const s of sessions) s.close();
});

Deno.test("New-session callback: TLS 1.2 session arrives during the handshake; a throw comes out of the call", () => {
  using sctx = pin(serverContext(), TLS1_2_VERSION);
  using cctx = clientContext();
  cctx.setSessionCacheMode(SESS_CACHE_CLIENT);
  const boom = new Boom("session callback failed");
  let calls = 0;
  cctx.setNewSessionCallback((_conn, session) => {
    calls++;
    session.close();
    throw boom;
  });
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
  assert.equal(calls, 1);
});

Deno.test("Session.close is idempotent and a closed session refuses use", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const { session } = connect(cctx, sctx);
  session.close();
  session.close();
  assert.equal(session.closed, true);
  catchError(() => session.toDER(), ClosedError);
  catchError(() => session.id, ClosedError);
  catchError(() => session.isResumable(), ClosedError);
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  catchError(() => client.setSession(session), ClosedError);
  catchError(() => client.setSession({} as Session), TypeError);
});

Deno.test("Session.fromDER refuses empty input and bytes that are not a session", () => {
  catchError(() => Session.fromDER(new Uint8Array(0)), TypeError);
  catchError(() => Session.fromDER(new Uint8Array([0x30, 0x03, 1, 2, 3])), SSLError);
});

Deno.test("A Connection's session survives the Connection and its Context", () => {
  let session: Session;
  {
    using sctx = serverContext();
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    session = client.getSession()!;
  }
  using s = session;
  assert.ok(s.toDER().length > 0);
  assert.equal(s.protocolVersion, TLS1_3_VERSION);
});

Deno.test("A session whose Connection was closed without shutdown() is no longer resumable", () => {
  using sctx = pin(serverContext(), TLS1_2_VERSION);
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  handshakeInMemory(client, server);
  using session = client.getSession()!;
  assert.equal(session.isResumable(), true);
  client.close(); // no close_notify: OpenSSL removes the session from use
  server.close();
  assert.equal(session.isResumable(), false);
  const again = connect(cctx, sctx, session);
  again.session.close();
  assert.equal(again.reused, false);
});

Deno.test("Context session settings validate their input", () => {
  using ctx = new Context();
  catchError(() => ctx.setTicketKeys(new Uint8Array(48)), RangeError);
  catchError(() => ctx.setSessionIdContext("x".repeat(33)), RangeError);
  catchError(() => ctx.setSessionCacheMode(-1), RangeError);
  catchError(() => ctx.setNewSessionCallback(null as never), TypeError);
  const keys = ticketKeys();
  ctx.setTicketKeys(keys);
  assert.deepEqual(ctx.getTicketKeys(), keys);
});
