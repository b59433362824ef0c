/**
 * A callback that throws is re-thrown by the `await` that drove it: every
 * callback kind, over a real socket, in stream and in native mode, during
 * the handshake and during `read()` (TLS 1.3 tickets arrive after it).
 */

import assert from "node:assert/strict";
import { Connection, Context, SESS_CACHE_CLIENT, TestCA, TLS_METHOD, VERIFY_PEER } from "../mod.ts";
import { tcpPair } from "./_pair.ts";

/** The side whose callback throws, and how its context gets the callback. */
interface Case {
  side: "client" | "server";
  /** Installs a callback that calls `fail()` (which throws the first time only). */
  install(client: Context, server: Context, fail: () => void): void;
  /** Client options before the handshake. */
  client?(conn: Connection): void;
}

const HANDSHAKE_CASES: Record<string, Case> = {
  info: { side: "client", install: (c, _s, fail) => c.setInfoCallback(() => fail()) },
  keylog: { side: "client", install: (c, _s, fail) => c.setKeylogCallback(() => fail()) },
  verify: {
    side: "client",
    install: (c, _s, fail) =>
      c.setVerify(VERIFY_PEER, (_conn, _cert, _errnum, _depth, ok) => {
        fail();
        return ok;
      }),
  },
  "ALPN select": {
    side: "server",
    install: (_c, s, fail) =>
      s.setAlpnSelectCallback((_conn, offered) => {
        fail();
        return offered[0]!;
      }),
    client: (conn) => conn.setAlpnProtos(["h2"]),
  },
  servername: {
    side: "server",
    install: (_c, s, fail) => s.setTlsextServernameCallback(() => fail()),
  },
  "client hello": {
    side: "server",
    install: (_c, s, fail) =>
      s.setClientHelloCallback(() => {
        fail();
        return true;
      }),
  },
  "OCSP (server)": {
    side: "server",
    install: (_c, s, fail) =>
      s.setOcspServerCallback(() => {
        fail();
        return null;
      }),
    client: (conn) => conn.requestOcsp(),
  },
  "OCSP (client)": {
    side: "client",
    install: (c, s, fail) => {
      s.setOcspServerCallback(() => new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x01]));
      c.setOcspClientCallback(() => {
        fail();
        return true;
      });
    },
    client: (conn) => conn.requestOcsp(),
  },
};

/** Callbacks that run after the handshake, while the client reads the server's tickets. */
const READ_CASES: Record<string, Case> = {
  "new session": {
    side: "client",
    install: (c, _s, fail) => {
      c.setSessionCacheMode(SESS_CACHE_CLIENT);
      c.setNewSessionCallback(() => fail());
    },
  },
  "info (after the handshake)": {
    side: "client",
    install: (c, _s, fail) => c.setInfoCallback(() => fail()),
  },
};

/** Resolves to what `p` rejected with, or fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

/**
 * Builds a client and a server over a socket pair with `c`'s callback in
 * place, in stream or native mode.
 */
async function setUp(
  c: Case,
  native: boolean,
  ca: TestCA,
  fail: () => void,
): Promise<{ client: Connection; server: Connection } & Disposable> {
  const leaf = ca.issue({ dns: ["localhost"] });
  const serverCtx = new Context(TLS_METHOD);
  serverCtx.useCertificate(leaf.certPEM);
  serverCtx.usePrivateKey(leaf.keyPEM);
  const clientCtx = new Context(TLS_METHOD);
  clientCtx.addCaCerts(ca.certPEM);
  clientCtx.setVerify(VERIFY_PEER);
  c.install(clientCtx, serverCtx, fail);
  const [a, b] = await tcpPair();
  const client = new Connection(clientCtx, a, { native });
  const server = new Connection(serverCtx, b, { native });
  assert.equal(client.transportMode, native ? "native" : "stream");
  client.setTlsextHostName("localhost");
  client.setConnectState();
  server.setAcceptState();
  c.client?.(client);
  return {
    client,
    server,
    [Symbol.dispose](): void {
      client.close();
      server.close();
      clientCtx.close();
      serverCtx.close();
      leaf.close();
    },
  };
}

/**
 * A callback body that throws `boom` the first time it runs once armed, and
 * does nothing otherwise.
 */
function throwOnce(boom: Error, armed = true): {
  fail: () => void;
  calls: () => number;
  arm: () => void;
} {
  let calls = 0;
  return {
    fail: () => {
      if (armed && calls++ === 0) throw boom;
    },
    calls: () => calls,
    arm: () => void (armed = true),
  };
}

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";

  Deno.test(`${mode} mode: a callback that throws once during the handshake rejects the handshake() that drove it with that exception`, async (t) => {
    using ca = TestCA.create();
    for (const [name, c] of Object.entries(HANDSHAKE_CASES)) {
      await t.step(name, async () => {
        const boom = new Error(`${name} callback failed`);
        const once = throwOnce(boom);
        using pair = await setUp(c, native, ca, once.fail);
        const failing = c.side === "client" ? pair.client : pair.server;
        const other = c.side === "client" ? pair.server : pair.client;
        const otherDone = other.handshake().then(() => "done", () => "failed");
        const e = await rejection(failing.handshake());
        assert.equal(e, boom, `the ${name} callback's own exception, not ${e}`);
        assert.ok(once.calls() >= 1, "the callback ran");
        failing.close();
        assert.ok(["done", "failed"].includes(await otherDone));
      });
    }
  });

  Deno.test(`${mode} mode: a callback that throws once while read() takes in post-handshake messages rejects that read() with that exception`, async (t) => {
    using ca = TestCA.create();
    for (const [name, c] of Object.entries(READ_CASES)) {
      await t.step(name, async () => {
        const boom = new Error(`${name} callback failed`);
        const once = throwOnce(boom, false);
        using pair = await setUp(c, native, ca, once.fail);
        await Promise.all([pair.client.handshake(), pair.server.handshake()]);
        once.arm();
        await pair.server.write(new TextEncoder().encode("after the tickets"));
        const buf = new Uint8Array(4096);
        const e = await rejection(pair.client.read(buf));
        assert.equal(e, boom, `the ${name} callback's own exception, not ${e}`);
        // The connection goes on: the data behind the tickets is still there to read.
        let text = "";
        while (text.length < "after the tickets".length) {
          const n = await pair.client.read(buf);
          assert.notEqual(n, null);
          text += new TextDecoder().decode(buf.subarray(0, n!));
        }
        assert.equal(text, "after the tickets");
      });
    }
  });
}

Deno.test("the synchronous face re-throws a callback's exception over memory BIOs too (doHandshake)", () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  using serverCtx = new Context(TLS_METHOD);
  serverCtx.useCertificate(leaf.certPEM);
  serverCtx.usePrivateKey(leaf.keyPEM);
  using clientCtx = new Context(TLS_METHOD);
  const boom = new Error("info callback failed");
  const once = throwOnce(boom);
  clientCtx.setInfoCallback(() => once.fail());
  using client = new Connection(clientCtx, null);
  client.setConnectState();
  assert.throws(() => client.doHandshake(), (e: unknown) => e === boom);
});
