/**
 * Callbacks fail closed: a Promise (or any thenable) where OpenSSL needs an
 * answer now fails the handshake or the key load with a TypeError naming the
 * callback, and never counts as acceptance (the client hello and servername
 * callbacks suspend the handshake instead: async_selection_test.ts); where no answer is needed (info,
 * key log, new session), a rejected Promise is that callback's exception,
 * thrown from the next call that drives the connection, or reported with
 * `reportError` once the connection is closed. Memory-BIO pairs throughout.
 *
 * @module
 */

// The callbacks are async on purpose: a Promise is what these tests hand to OpenSSL.
// deno-lint-ignore-file require-await

import assert from "node:assert/strict";
import {
  bioReadDatagrams,
  Connection,
  Context,
  NO_OVERLAPPING_PROTOCOLS,
  PKey,
  SESS_CACHE_CLIENT,
  SESS_CACHE_NO_INTERNAL_STORE,
  TestCA,
  TLS1_2_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
  WantClientHelloError,
  WantReadError,
  WantX509LookupError,
} from "../mod.ts";
import { handshakeInMemory, pump } from "./_pair.ts";
import {
  catchError,
  clientContext,
  pair,
  pin,
  pki,
  serverContext,
} from "./_negotiation_fixtures.ts";
import { attempt, dtlsClientContext, dtlsServerContext } from "./_dtls.ts";

class Boom extends Error {}

/** Lets promise reactions and one macrotask run. */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Runs a handshake that must fail with the TypeError that names `callback`
 * and says it returned a Promise; neither side finishes.
 */
function refusedPromise(client: Connection, server: Connection, callback: string): TypeError {
  const e = catchError(() => handshakeInMemory(client, server), TypeError);
  assert.match(e.message, new RegExp(`^The ${callback} callback returned a Promise: it must `));
  assert.match(e.message, /synchronously/);
  assert.equal(client.isHandshakeDone() && server.isHandshakeDone(), false);
  return e;
}

/** A client context that trusts a CA the server's chain does not come from. */
function strangerClientContext(stranger: TestCA): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.addCaCerts(stranger.certPEM);
  return ctx;
}

// ---- verify ----------------------------------------------------------------------------------

Deno.test("verify callback: a Promise never accepts, and fails the handshake with a TypeError", async (t) => {
  using stranger = TestCA.create();

  await t.step("async () => false on a certificate from an untrusted CA", () => {
    using sctx = serverContext();
    using cctx = strangerClientContext(stranger);
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    cctx.setVerify(VERIFY_PEER, async () => false);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    const e = refusedPromise(client, server, "verify");
    assert.match(e.message, /it must return true or false synchronously/);
    assert.equal(client.getPeerCertificate()?.subject.commonName ?? null, null);
  });

  await t.step("async () => true on a trusted chain is refused too", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    cctx.setVerify(VERIFY_PEER, async () => true);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    refusedPromise(client, server, "verify");
  });

  await t.step("a connection-level callback, and a bare thenable, are refused alike", () => {
    using sctx = serverContext();
    using cctx = strangerClientContext(stranger);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    // @ts-expect-error: a thenable, as plain JavaScript could return
    client.setVerify(VERIFY_PEER, () => ({ then: (ok: (v: boolean) => void) => ok(true) }));
    refusedPromise(client, server, "verify");
  });

  await t.step("a Promise that rejects is refused without an unhandled rejection", async () => {
    using sctx = serverContext();
    using cctx = strangerClientContext(stranger);
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    cctx.setVerify(VERIFY_PEER, async () => {
      throw new Boom("late verdict");
    });
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    refusedPromise(client, server, "verify");
    await tick(); // the sanitizer would fail the test on an unhandled rejection
  });

  await t.step("a truthy non-boolean is a TypeError, not acceptance", () => {
    using sctx = serverContext();
    using cctx = strangerClientContext(stranger);
    // @ts-expect-error: a wrong return type, as plain JavaScript could pass
    cctx.setVerify(VERIFY_PEER, (_c, cert) => cert);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    const e = catchError(() => handshakeInMemory(client, server), TypeError);
    assert.equal(e.message, "The verify callback returned an object: it must return true or false");
  });

  await t.step("booleans keep their meaning", () => {
    using sctx = serverContext();
    using cctx = strangerClientContext(stranger);
    cctx.setVerify(VERIFY_PEER, () => true);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    assert.ok(client.isHandshakeDone());
  });
});

// ---- client hello, servername, ALPN, OCSP ------------------------------------------------------

Deno.test("client hello callback: a Promise suspends the handshake (WantClientHelloError) until it settles; true, false and nothing keep their meaning", async (t) => {
  await t.step("async () => true", async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    sctx.setClientHelloCallback(async () => true);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    const e = catchError(() => handshakeInMemory(client, server), WantClientHelloError);
    assert.ok(e instanceof WantX509LookupError);
    assert.equal(server.isHandshakeDone(), false);
    await server.pendingSelection;
    handshakeInMemory(client, server);
    assert.ok(client.isHandshakeDone() && server.isHandshakeDone());
  });
  await t.step("a number", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    // @ts-expect-error: a wrong return type, as plain JavaScript could pass
    sctx.setClientHelloCallback(() => 1);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    const e = catchError(() => handshakeInMemory(client, server), TypeError);
    assert.match(e.message, /^The client hello callback returned a number/);
  });
  await t.step("nothing goes on", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    sctx.setClientHelloCallback(() => {});
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
  });
});

Deno.test("servername callback: a Promise suspends the handshake at the certificate stage (WantX509LookupError), and the context it switches to supplies the certificate", async () => {
  using sctx = serverContext();
  using other = serverContext(pki().other);
  using cctx = clientContext();
  sctx.setTlsextServernameCallback(async (conn) => {
    await tick();
    conn.setContext(other);
  });
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  client.setTlsextHostName("localhost");
  catchError(() => handshakeInMemory(client, server), WantX509LookupError);
  assert.equal(server.getContext(), sctx);
  await server.pendingSelection;
  assert.equal(server.getContext(), other);
  handshakeInMemory(client, server);
  assert.equal(client.getPeerCertificate()?.subject.commonName, "other.test");
});

Deno.test("ALPN select callback: a Promise fails the handshake with a TypeError", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2", "http/1.1"]);
  sctx.setAlpnSelectCallback(
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    async (_conn, offered) => offered.includes("h2") ? "h2" : NO_OVERLAPPING_PROTOCOLS,
  );
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  refusedPromise(client, server, "ALPN select");
  assert.equal(client.getAlpnProtoNegotiated(), null);
});

Deno.test("OCSP callbacks: a Promise fails the handshake with a TypeError on either side", async (t) => {
  const staple = new TextEncoder().encode("staple");
  await t.step("the server's", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    sctx.setOcspServerCallback(async () => staple);
    cctx.setOcspClientCallback(() => true);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    client.requestOcsp();
    refusedPromise(client, server, "OCSP server");
  });
  await t.step("the client's", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    sctx.setOcspServerCallback(() => staple);
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    cctx.setOcspClientCallback(async () => true);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    client.requestOcsp();
    refusedPromise(client, server, "OCSP client");
  });
  await t.step("the client's, returning a truthy non-boolean", () => {
    using sctx = serverContext();
    using cctx = clientContext();
    sctx.setOcspServerCallback(() => staple);
    // @ts-expect-error: a wrong return type, as plain JavaScript could pass
    cctx.setOcspClientCallback((_conn, der) => der);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    client.requestOcsp();
    const e = catchError(() => handshakeInMemory(client, server), TypeError);
    assert.match(
      e.message,
      /^The OCSP client callback returned an object: it must return true or false/,
    );
  });
});

// ---- DTLS cookies ------------------------------------------------------------------------------

Deno.test("DTLS cookie callbacks: a Promise fails dtlsListen with a TypeError", async (t) => {
  const cookie = new Uint8Array(16).fill(7);
  await t.step("generate", () => {
    using sctx = dtlsServerContext(cookie);
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    sctx.setCookieGenerateCallback(async () => cookie);
    using cctx = dtlsClientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    attempt(() => client.doHandshake());
    for (const d of bioReadDatagrams(client)) server.bioWrite(d);
    const e = catchError(() => server.dtlsListen(), TypeError);
    assert.match(
      e.message,
      /^The cookie generate callback returned a Promise: it must return the cookie's bytes synchronously/,
    );
    assert.deepEqual(bioReadDatagrams(server), []);
  });
  await t.step("verify", () => {
    using sctx = dtlsServerContext(cookie);
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    sctx.setCookieVerifyCallback(async () => true);
    using cctx = dtlsClientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    attempt(() => client.doHandshake());
    let error: unknown;
    // First ClientHello: no cookie (a HelloVerifyRequest); second: the cookie, asked of the callback.
    for (let i = 0; i < 2 && error === undefined; i++) {
      for (const d of bioReadDatagrams(client)) server.bioWrite(d);
      try {
        server.dtlsListen();
      } catch (e) {
        if (!(e instanceof WantReadError)) error = e;
      }
      for (const d of bioReadDatagrams(server)) client.bioWrite(d);
      attempt(() => client.doHandshake());
    }
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /^The cookie verify callback returned a Promise: it must return true or false synchronously/,
    );
    assert.equal(server.isHandshakeDone(), false);
  });
});

// ---- passphrase ------------------------------------------------------------------------------

Deno.test("passphrase callback: a Promise fails the key load with a TypeError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-callbacks-" });
  try {
    using key = PKey.generate({ type: "ec" });
    const path = `${dir}/encrypted.key`;
    await Deno.writeTextFile(path, key.toPEM({ passphrase: "s3cret" }));
    using ctx = new Context(TLS_METHOD);
    // @ts-expect-error: an async callback, as plain JavaScript could pass
    ctx.setPasswdCb(async () => "s3cret");
    const e = catchError(() => ctx.usePrivateKeyFile(path), TypeError);
    assert.match(
      e.message,
      /^The passphrase callback returned a Promise: it must return the passphrase synchronously/,
    );
    // The same context loads the key once the callback answers synchronously.
    ctx.setPasswdCb(() => "s3cret");
    ctx.usePrivateKeyFile(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- callbacks that answer nothing -------------------------------------------------------------

Deno.test("info, key log and new-session callbacks: a rejected Promise comes out of the next call on the connection", async (t) => {
  await t.step("info: the next recv() throws the rejection, once", async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const boom = new Boom("info failed later");
    let calls = 0;
    cctx.setInfoCallback(async () => {
      if (calls++ === 0) throw boom;
    });
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server); // the handshake itself finishes: no answer was needed
    await tick();
    assert.throws(() => client.recv(1), (e) => e === boom);
    assert.throws(() => client.recv(1), WantReadError);
  });

  await t.step("key log: the next doHandshake() throws it", async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const boom = new Boom("disk full");
    sctx.setKeylogCallback((_conn, _line) => Promise.reject(boom));
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    await tick();
    assert.throws(() => server.doHandshake(), (e) => e === boom);
    // One rejection per line: each comes out in turn, then the connection works again.
    let drained = 0;
    for (;;) {
      try {
        server.doHandshake();
        break;
      } catch (e) {
        assert.equal(e, boom);
        drained++;
      }
    }
    assert.ok(drained >= 1);
    server.send(new TextEncoder().encode("still fine"));
    pump(server, client);
    assert.equal(new TextDecoder().decode(client.recv(100)), "still fine");
  });

  await t.step("new session: the next send() throws it", async () => {
    using sctx = pin(serverContext(), TLS1_2_VERSION);
    using cctx = clientContext();
    cctx.setSessionCacheMode(SESS_CACHE_CLIENT | SESS_CACHE_NO_INTERNAL_STORE);
    const boom = new Boom("could not store the session");
    cctx.setNewSessionCallback(async (_conn, session) => {
      session.close();
      await tick();
      throw boom;
    });
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    await tick();
    await tick();
    assert.throws(() => client.send(new Uint8Array(1)), (e) => e === boom);
  });

  await t.step("a Promise that resolves changes nothing", async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    let lines = 0;
    cctx.setKeylogCallback(async () => {
      await tick();
      lines++;
    });
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    await tick();
    await tick();
    assert.ok(lines > 0);
    client.send(new Uint8Array([1]));
    pump(client, server);
    assert.deepEqual([...server.recv(1)], [1]);
  });

  await t.step("after close(), the rejection goes to reportError, never lost", async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const boom = new Boom("rejected after close");
    let reject: ((e: unknown) => void) | undefined;
    cctx.setInfoCallback(() => {
      if (reject) return undefined;
      return new Promise<void>((_, r) => reject = r);
    });
    const reported: unknown[] = [];
    const listener = (e: ErrorEvent): void => {
      e.preventDefault();
      reported.push(e.error);
    };
    globalThis.addEventListener("error", listener);
    try {
      const { client, server } = pair(cctx, sctx);
      using _s = server;
      handshakeInMemory(client, server);
      client.close();
      reject!(boom);
      await tick();
      assert.deepEqual(reported, [boom]);
    } finally {
      globalThis.removeEventListener("error", listener);
    }
  });

  await t.step("a rejection that lands before close() is reported when it closes", async () => {
    using sctx = serverContext();
    using cctx = clientContext();
    const boom = new Boom("never driven again");
    let first = true;
    cctx.setInfoCallback(() => {
      if (!first) return;
      first = false;
      return Promise.reject(boom);
    });
    const reported: unknown[] = [];
    const listener = (e: ErrorEvent): void => {
      e.preventDefault();
      reported.push(e.error);
    };
    globalThis.addEventListener("error", listener);
    try {
      const { client, server } = pair(cctx, sctx);
      using _s = server;
      handshakeInMemory(client, server);
      await tick();
      assert.deepEqual(reported, []);
      client.close();
      assert.deepEqual(reported, [boom]);
    } finally {
      globalThis.removeEventListener("error", listener);
    }
  });
});

Deno.test("key log callback: a rejection that lands while handshake() runs comes out of that handshake()", async () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const boom = new Boom("rejected mid-handshake");
  let first = true;
  sctx.setKeylogCallback(() => {
    if (!first) return;
    first = false;
    return Promise.reject(boom);
  });
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using client = new Connection(cctx, tcp);
  using server = new Connection(sctx, await accepted);
  client.setConnectState();
  server.setAcceptState();
  client.setVerifyHostname("localhost");
  const [clientResult, serverResult] = await Promise.allSettled([
    client.handshake(),
    server.handshake(),
  ]);
  assert.equal(serverResult.status, "rejected");
  assert.equal((serverResult as PromiseRejectedResult).reason, boom);
  void clientResult; // the client may finish or see the connection end: either is fine here
});
