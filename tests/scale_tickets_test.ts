/**
 * TicketKeyRing: session tickets from keys the application supplies, shared
 * by server processes, rotated with a grace period, failing closed.
 */
import assert from "node:assert/strict";
import {
  type Context,
  listenTls,
  type Session,
  TicketKeyRing,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
} from "../mod.ts";
import { handshakeInMemory } from "./_pair.ts";
import { clientContext, drain, pair, pin, serverContext } from "./_negotiation_fixtures.ts";
import { makePki } from "./_pki.ts";
import { ask, ScaleServer } from "./_scale.ts";

/** A full in-memory handshake on `server`, offering `session`; the client's new session and whether it resumed. */
function connect(
  cctx: Context,
  server: Context,
  session?: Session,
): { reused: boolean; session: Session } {
  using p = pair(cctx, server);
  if (session) p.client.setSession(session);
  handshakeInMemory(p.client, p.server);
  drain(p.client); // TLS 1.3 tickets arrive after the handshake
  const result = { reused: p.client.sessionReused(), session: p.client.getSession()! };
  p.client.shutdown(); // a session closed without close_notify is marked not resumable
  return result;
}

Deno.test("TicketKeyRing: keys are 80 bytes in nginx's layout or three parts; the encrypting key is named first", () => {
  const k1 = TicketKeyRing.generateKey();
  const k2 = TicketKeyRing.generateKey();
  assert.equal(k1.length, 80);
  const ring = new TicketKeyRing({ keys: [k1, k2] });
  const hex = (b: Uint8Array): string =>
    Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  assert.deepEqual(ring.names, [hex(k1.subarray(0, 16)), hex(k2.subarray(0, 16))]);
  assert.deepEqual(ring.current()!.hmacKey, k1.subarray(16, 48)); // name | HMAC secret | AES key
  assert.deepEqual(ring.current()!.aesKey, k1.subarray(48));
  assert.equal(ring.find(k2.subarray(0, 16))!.current, false);
  assert.equal(ring.find(new Uint8Array(16)), null);
  const rotated = ring.rotate({
    name: k2.subarray(0, 16),
    hmacKey: k2.subarray(16, 48),
    aesKey: k2.subarray(48),
  });
  assert.deepEqual(rotated, k2);
  assert.deepEqual(ring.names, [hex(k2.subarray(0, 16)), hex(k1.subarray(0, 16))]);
  assert.throws(() => ring.add(new Uint8Array(48)), RangeError);
  assert.throws(
    () =>
      ring.rotate({
        name: new Uint8Array(16),
        hmacKey: new Uint8Array(16),
        aesKey: new Uint8Array(32),
      }),
    RangeError,
  );
  assert.throws(() => new TicketKeyRing({ gracePeriod: -1 }), RangeError);
  assert.throws(() => new TicketKeyRing({ gracePeriod: NaN }), RangeError);
});

for (const version of [TLS1_3_VERSION, TLS1_2_VERSION]) {
  const label = version === TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2";
  Deno.test(`Context.setTicketKeyRing: two contexts sharing keys resume each other's ${label} tickets; an older key decrypts during the grace period, not after`, async () => {
    const key = TicketKeyRing.generateKey();
    using a = pin(serverContext(), version);
    using b = pin(serverContext(), version);
    for (const ctx of [a, b]) ctx.setSessionIdContext("fleet"); // TLS 1.2 checks it on resumption
    const ringA = new TicketKeyRing({ keys: [key], gracePeriod: 300 });
    a.setTicketKeyRing(ringA);
    b.setTicketKeyRing(new TicketKeyRing({ keys: [key] }));
    using cctx = clientContext();
    const first = connect(cctx, a);
    assert.equal(first.reused, false);
    assert.equal(first.session.hasTicket(), true);
    assert.equal(connect(cctx, b, first.session).reused, true, "b resumes a's ticket");
    ringA.rotate();
    assert.equal(connect(cctx, a, first.session).reused, true, "within the grace period");
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(ringA.size, 1);
    const late = connect(cctx, a, first.session);
    assert.equal(late.reused, false, "past the grace period: a full handshake, no error");
    assert.equal(connect(cctx, a, late.session).reused, true, "the new key's tickets resume");
  });
}

Deno.test("Context.setTicketKeyRing works on a context already serving, and null gives it OpenSSL's own keys back", () => {
  const key = TicketKeyRing.generateKey();
  using a = pin(serverContext(), TLS1_3_VERSION);
  using b = pin(serverContext(), TLS1_3_VERSION);
  b.setTicketKeyRing(new TicketKeyRing({ keys: [key] }));
  using cctx = clientContext();
  const before = connect(cctx, a); // a is in use from here on
  assert.equal(connect(cctx, b, before.session).reused, false, "a's own keys are not b's");
  a.setTicketKeyRing(new TicketKeyRing({ keys: [key] }));
  const after = connect(cctx, a);
  assert.equal(connect(cctx, b, after.session).reused, true);
  a.setTicketKeyRing(null);
  assert.equal(connect(cctx, a, after.session).reused, false);
  assert.throws(() => a.setTicketKeyRing({} as TicketKeyRing), TypeError);
});

Deno.test("a TicketKeyRing whose lookup throws fails the resuming handshake with that error: no ticket is accepted", () => {
  class Broken extends TicketKeyRing {
    override find(): never {
      throw new Error("key store unavailable");
    }
  }
  const key = TicketKeyRing.generateKey();
  using good = pin(serverContext(), TLS1_3_VERSION);
  using broken = pin(serverContext(), TLS1_3_VERSION);
  good.setTicketKeyRing(new TicketKeyRing({ keys: [key] }));
  broken.setTicketKeyRing(new Broken({ keys: [key] }));
  using cctx = clientContext();
  const { session } = connect(cctx, good);
  using p = pair(cctx, broken);
  p.client.setSession(session);
  assert.throws(() => handshakeInMemory(p.client, p.server), /key store unavailable/);
  assert.equal(p.server.isHandshakeDone(), false);
  assert.equal(p.client.sessionReused(), false);
});

Deno.test("an empty TicketKeyRing issues no ticket and resumes nothing; the handshake still succeeds", () => {
  using ctx = pin(serverContext(), TLS1_2_VERSION);
  ctx.setTicketKeyRing(new TicketKeyRing());
  using cctx = clientContext();
  const first = connect(cctx, ctx);
  assert.equal(first.session.hasTicket(), false);
});

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";
  Deno.test(`two server processes sharing a ticket key resume each other's TLS 1.3 tickets; after rotation past the grace period an old ticket is a full handshake, not an error (${mode} mode)`, async () => {
    const pki = makePki("ec");
    try {
      const key = TicketKeyRing.generateKey();
      const server = { cert: pki.server.chainPEM, key: pki.server.keyPEM, native, gracePeriod: 0 };
      await using a = await ScaleServer.start({ ...server, ticketKey: key });
      await using b = await ScaleServer.start({ ...server, ticketKey: key });
      await using stranger = await ScaleServer.start({
        ...server,
        ticketKey: TicketKeyRing.generateKey(),
      });
      const ca = pki.ca.certPEM;
      assert.notEqual(a.pid, b.pid);
      const fromA = await ask(a.port, ca, { native });
      assert.equal(fromA.pid, a.pid);
      assert.equal(fromA.reused, false);
      assert.equal(fromA.session?.hasTicket(), true);
      const onB = await ask(b.port, ca, { native, session: fromA.session! });
      assert.deepEqual([onB.pid, onB.reused], [b.pid, true], "server B resumes server A's ticket");
      const backOnA = await ask(a.port, ca, { native, session: onB.session! });
      assert.deepEqual([backOnA.pid, backOnA.reused], [a.pid, true], "and A resumes B's");
      const elsewhere = await ask(stranger.port, ca, { native, session: fromA.session! });
      assert.equal(elsewhere.reused, false, "a server with other keys makes a full handshake");

      const next = TicketKeyRing.generateKey();
      await a.rotate(next);
      await b.rotate(next);
      const old = await ask(b.port, ca, { native, session: fromA.session! });
      assert.deepEqual(
        [old.pid, old.reused],
        [b.pid, false],
        "the retired key's ticket: full handshake",
      );
      const fresh = await ask(a.port, ca, { native, session: old.session! });
      assert.deepEqual([fresh.pid, fresh.reused], [a.pid, true], "the new key's tickets travel");
    } finally {
      pki.close();
    }
  });

  Deno.test(`listenTls({ ticketKeys, sniCertificates }): a ticket issued under a per-name certificate resumes on another listener sharing the ring (${mode} mode)`, async () => {
    const pki = makePki("ec");
    using api = pki.ca.issue({ dns: ["api.example.com"] });
    try {
      const key = TicketKeyRing.generateKey();
      const listeners = [0, 1].map(() =>
        listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          native,
          sniCertificates: { "api.example.com": { cert: api.chainPEM, key: api.keyPEM } },
          ticketKeys: new TicketKeyRing({ keys: [key] }),
        })
      );
      const { connectTls } = await import("../mod.ts");
      const once = async (port: number, session?: Session): Promise<[boolean, Session, string]> => {
        const l = listeners.find((x) => x.addr.port === port)!;
        const served = l.accept().then(async (c) => {
          await c.handshake();
          await c.write(new Uint8Array([1]));
          await c.read(new Uint8Array(1)).catch(() => null);
          c.close();
        });
        await using conn = await connectTls({
          hostname: "127.0.0.1",
          serverName: "api.example.com",
          port,
          caCerts: [pki.ca.certPEM],
          native,
          ...(session ? { session } : {}),
        });
        await conn.read(new Uint8Array(1));
        const name = conn.getPeerCertificate()!.subjectAltNames.map((n) => n.value).join();
        const result: [boolean, Session, string] = [conn.sessionReused(), conn.getSession()!, name];
        await conn.close();
        await served;
        return result;
      };
      const [reused0, session, name0] = await once(listeners[0]!.addr.port);
      assert.deepEqual([reused0, name0], [false, "api.example.com"]);
      const [reused1] = await once(listeners[1]!.addr.port, session);
      assert.equal(reused1, true);
      for (const l of listeners) l.close();
    } finally {
      pki.close();
    }
  });
}
