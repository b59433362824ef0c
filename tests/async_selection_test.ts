/**
 * Asynchronous selection: client hello, servername and certificate callbacks
 * that return a Promise suspend the handshake (SSL_CLIENT_HELLO_RETRY, a
 * certificate callback's -1) and resume it once the Promise settles, over
 * sockets in stream and native mode, through the helpers, and on the
 * synchronous face (want-errors plus `pendingSelection`).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type CertCallback,
  Connection,
  connectTls,
  Context,
  listenTls,
  SSLError,
  TestCA,
  TLS1_2_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
  WantClientHelloError,
  WantReadError,
  WantX509LookupError,
} from "../mod.ts";
import { pump, tcpPair } from "./_pair.ts";

class Boom extends Error {}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ca = TestCA.create();
const names = ["a.test", "b.test"] as const;
const leaves = new Map(names.map((name) => [name, ca.issue({ dns: [name], commonName: name })]));

/** A context holding one name's certificate. */
function contextFor(name: string): Context {
  const leaf = leaves.get(name as typeof names[number])!;
  const ctx = new Context(TLS_METHOD);
  ctx.useCertificate(leaf.cert);
  ctx.usePrivateKey(leaf.key);
  return ctx;
}

/** A cert callback that looks the certificate up by SNI name after `ms`, counting calls. */
function lookupByName(ms: number): { callback: CertCallback; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    callback: async (conn) => {
      calls++;
      await delay(ms);
      const leaf = leaves.get(conn.getServername() as typeof names[number]);
      if (!leaf) return false;
      conn.useCertificate(leaf.cert);
      conn.usePrivateKey(leaf.key);
      return true;
    },
  };
}

function clientContext(): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.addCaCerts(ca.cert);
  ctx.setVerify(VERIFY_PEER);
  return ctx;
}

/** A client for `name` and a server over a TCP pair, in stream or native mode. */
async function socketPair(
  serverCtx: Context,
  clientCtx: Context,
  name: string,
  native: boolean,
): Promise<{ client: Connection; server: Connection } & AsyncDisposable> {
  const [a, b] = await tcpPair();
  const client = new Connection(clientCtx, a, { native });
  const server = new Connection(serverCtx, b, { native });
  assert.equal(server.transportMode, native ? "native" : "stream");
  client.setTlsextHostName(name);
  client.setVerifyHostname(name);
  client.setConnectState();
  server.setAcceptState();
  return {
    client,
    server,
    async [Symbol.asyncDispose](): Promise<void> {
      await client[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
    },
  };
}

/** Runs both handshakes; returns the common name the client saw. */
async function handshake(p: { client: Connection; server: Connection }): Promise<string | null> {
  const [c] = await Promise.all([p.client.handshake(), p.server.handshake()]);
  return c.peerCertificate?.subject.commonName ?? null;
}

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";

  Deno.test(`${mode} mode: a certificate callback's Promise suspends the handshake; certificates looked up per SNI name after a delay`, async () => {
    using serverCtx = new Context(TLS_METHOD);
    const lookup = lookupByName(30);
    serverCtx.setCertCallback(lookup.callback);
    using clientCtx = clientContext();
    for (const name of names) {
      await using pair = await socketPair(serverCtx, clientCtx, name, native);
      const started = performance.now();
      assert.equal(await handshake(pair), name);
      assert.ok(performance.now() - started >= 25, "the handshake waited for the lookup");
    }
    assert.equal(lookup.calls(), 2, "one call per handshake: a resumed wait does not call again");
  });

  Deno.test(`${mode} mode: an async client hello callback picks a Context by the name in the hello`, async () => {
    using serverCtx = contextFor("a.test");
    using other = contextFor("b.test");
    let calls = 0;
    serverCtx.setClientHelloCallback(async (conn, hello) => {
      calls++;
      await delay(20);
      if (hello.serverName === "b.test") conn.setContext(other);
      return true;
    });
    using clientCtx = clientContext();
    for (const name of names) {
      await using pair = await socketPair(serverCtx, clientCtx, name, native);
      assert.equal(await handshake(pair), name);
    }
    assert.equal(calls, 2);
  });

  Deno.test(`${mode} mode: an async servername callback waits at the certificate stage and its switch supplies the certificate`, async () => {
    using serverCtx = contextFor("a.test");
    using other = contextFor("b.test");
    serverCtx.setTlsextServernameCallback(async (conn) => {
      await delay(20);
      if (conn.getServername() === "b.test") conn.setContext(other);
    });
    using clientCtx = clientContext();
    await using pair = await socketPair(serverCtx, clientCtx, "b.test", native);
    assert.equal(await handshake(pair), "b.test");
    assert.equal(pair.server.getContext(), other);
  });

  Deno.test(`${mode} mode: a rejected Promise fails the handshake with its reason as the error's cause`, async (t) => {
    const cases: [string, (ctx: Context, boom: Boom) => void][] = [
      ["certificate", (ctx, boom) =>
        ctx.setCertCallback(async () => {
          await delay(5);
          throw boom;
        })],
      ["client hello", (ctx, boom) =>
        ctx.setClientHelloCallback(async () => {
          await delay(5);
          throw boom;
        })],
      ["servername", (ctx, boom) =>
        ctx.setTlsextServernameCallback(async (conn) => {
          await delay(5);
          conn.setContext(other); // a switch first: the rejection still fails the handshake
          throw boom;
        })],
    ];
    using other = contextFor("b.test");
    for (const [name, install] of cases) {
      await t.step(name, async () => {
        using serverCtx = contextFor("a.test");
        const boom = new Boom("lookup failed");
        install(serverCtx, boom);
        using clientCtx = clientContext();
        await using pair = await socketPair(serverCtx, clientCtx, "a.test", native);
        const [client, server] = await Promise.allSettled([
          pair.client.handshake(),
          pair.server.handshake(),
        ]);
        assert.equal(server.status, "rejected");
        const e = (server as PromiseRejectedResult).reason;
        assert.ok(e instanceof SSLError, String(e));
        assert.equal(e.cause, boom);
        assert.equal(e.message, `The ${name} callback's promise rejected: lookup failed`);
        // The server's alert ends the client's handshake too.
        assert.equal(client.status, "rejected");
        assert.ok((client as PromiseRejectedResult).reason instanceof SSLError);
      });
    }
  });

  Deno.test(`${mode} mode: a certificate callback that never settles is ended by listenTls's handshake deadline`, async () => {
    using serverCtx = new Context(TLS_METHOD);
    serverCtx.setCertCallback(() => new Promise<void>(() => {}));
    await using listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      context: serverCtx,
      handshakeTimeout: 200,
      native,
    });
    const accepted = listener.accept();
    const client = connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      serverName: "a.test",
      caCerts: [ca.certPEM],
    });
    await using conn = await accepted;
    const started = performance.now();
    await assert.rejects(conn.handshake(), Deno.errors.TimedOut);
    assert.ok(performance.now() - started < 2000);
    await assert.rejects(client);
  });

  Deno.test(`${mode} mode: a synchronous certificate callback works unchanged`, async () => {
    using serverCtx = new Context(TLS_METHOD);
    let calls = 0;
    serverCtx.setCertCallback((conn) => {
      calls++;
      const leaf = leaves.get(conn.getServername() as typeof names[number])!;
      conn.useCertificate(leaf.certPEM);
      conn.usePrivateKey(leaf.keyPEM);
      return true;
    });
    using clientCtx = clientContext();
    await using pair = await socketPair(serverCtx, clientCtx, "b.test", native);
    assert.equal(await handshake(pair), "b.test");
    assert.equal(calls, 1);
  });
}

Deno.test("listenTls with a context whose certificate callback looks names up asynchronously serves each name", async () => {
  using serverCtx = new Context(TLS_METHOD);
  serverCtx.setCertCallback(lookupByName(10).callback);
  await using listener = listenTls({ hostname: "127.0.0.1", port: 0, context: serverCtx });
  const serving = (async () => {
    for (let i = 0; i < names.length; i++) {
      const conn = await listener.accept();
      await conn.handshake();
      await conn.write(new TextEncoder().encode(conn.getServername() ?? "-"));
      await conn[Symbol.asyncDispose]();
    }
  })();
  for (const name of names) {
    await using client = await connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      serverName: name,
      caCerts: [ca.certPEM],
    });
    assert.equal(client.getPeerCertificate()?.subject.commonName, name);
    const buf = new Uint8Array(16);
    const n = await client.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), name);
  }
  await serving;
});

Deno.test("synchronous face: doHandshake throws the want-error, pendingSelection settles, and the next doHandshake goes on", async (t) => {
  await t.step("certificate callback: WantX509LookupError", async () => {
    using serverCtx = new Context(TLS_METHOD);
    serverCtx.setCertCallback(lookupByName(10).callback);
    using clientCtx = clientContext();
    await syncLoop(serverCtx, clientCtx, "b.test", WantX509LookupError);
  });
  await t.step("client hello callback: WantClientHelloError", async () => {
    using serverCtx = contextFor("a.test");
    using other = contextFor("b.test");
    serverCtx.setClientHelloCallback(async (conn) => {
      await delay(10);
      conn.setContext(other);
    });
    using clientCtx = clientContext();
    await syncLoop(serverCtx, clientCtx, "b.test", WantClientHelloError);
  });
  await t.step(
    "a rejection comes out of the next doHandshake, and pendingSelection never rejects",
    async () => {
      using serverCtx = contextFor("a.test");
      const boom = new Boom("no such name");
      serverCtx.setCertCallback(() => Promise.reject(boom));
      using clientCtx = clientContext();
      using client = new Connection(clientCtx, null);
      using server = new Connection(serverCtx, null);
      client.setConnectState();
      server.setAcceptState();
      assert.equal(client.tryHandshake(), false);
      pump(client, server);
      assert.throws(() => server.doHandshake(), WantX509LookupError);
      assert.throws(() => server.doHandshake(), WantX509LookupError, "still pending: asks again");
      await server.pendingSelection;
      assert.throws(() => server.doHandshake(), (e: unknown) => {
        assert.ok(e instanceof SSLError);
        assert.equal(e.cause, boom);
        return true;
      });
      assert.equal(server.pendingSelection, null);
    },
  );
});

/** A pyOpenSSL-style loop over memory BIOs that awaits the pending selection on `want`. */
async function syncLoop(
  serverCtx: Context,
  clientCtx: Context,
  name: string,
  want: typeof WantX509LookupError,
): Promise<void> {
  using client = new Connection(clientCtx, null);
  using server = new Connection(serverCtx, null);
  client.setTlsextHostName(name);
  client.setConnectState();
  server.setAcceptState();
  let waited = 0;
  for (
    let round = 0;
    round < 20 && !(client.isHandshakeDone() && server.isHandshakeDone());
    round++
  ) {
    try {
      client.doHandshake();
    } catch (e) {
      if (!(e instanceof WantReadError)) throw e;
    }
    pump(client, server);
    try {
      server.doHandshake();
    } catch (e) {
      if (e instanceof WantReadError) continue;
      if (!(e instanceof want) || e.constructor !== want) throw e;
      assert.ok(server.pendingSelection instanceof Promise);
      await server.pendingSelection;
      waited++;
      round--;
      continue;
    } finally {
      pump(server, client);
    }
  }
  assert.equal(waited, 1);
  assert.equal(client.getPeerCertificate()?.subject.commonName, name);
}

Deno.test("a resumed session has no certificate stage: an async servername callback's Promise still decides before handshake() resolves", async (t) => {
  for (const fail of [false, true]) {
    await t.step(fail ? "a rejection fails the server's handshake" : "resolved: done", async () => {
      using serverCtx = contextFor("a.test");
      serverCtx.setSessionIdContext("resume");
      const boom = new Boom("late");
      let armed = false;
      let settled = false;
      serverCtx.setTlsextServernameCallback((): Promise<void> | void => {
        if (!armed) return; // the first, full handshake: synchronous
        return delay(30).then(() => {
          settled = true;
          if (fail) throw boom;
        });
      });
      using clientCtx = clientContext();
      clientCtx.setMaxProtoVersion(TLS1_2_VERSION);
      let session;
      {
        await using pair = await socketPair(serverCtx, clientCtx, "a.test", false);
        await handshake(pair);
        session = pair.client.getSession()!;
      }
      armed = true;
      await using pair = await socketPair(serverCtx, clientCtx, "a.test", false);
      pair.client.setSession(session);
      session.close();
      const [client, server] = await Promise.allSettled([
        pair.client.handshake(),
        pair.server.handshake(),
      ]);
      assert.equal(client.status, "fulfilled");
      assert.equal(pair.server.sessionReused(), true);
      assert.equal(settled, true, "the server's handshake waited for the Promise");
      if (fail) {
        assert.equal(server.status, "rejected");
        assert.equal((server as PromiseRejectedResult).reason.cause, boom);
      } else {
        assert.equal(server.status, "fulfilled");
      }
    });
  }
});

Deno.test("after the tests: the fixtures close", () => {
  for (const leaf of leaves.values()) leaf.close();
  ca.close();
});
