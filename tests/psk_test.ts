/**
 * TLS-PSK: Context's PSK callbacks and the helpers' `pskCallback`, against
 * `openssl s_server -psk -nocert` and `openssl s_client -psk` in TLS 1.3 and
 * TLS 1.2, both directions, with identity hints, wrong keys and callbacks
 * that throw.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  connectTls,
  Context,
  listenTls,
  SSLError,
  TLS1_2_VERSION,
  TLS_METHOD,
  VerificationError,
} from "../mod.ts";
import { handshakeInMemory, memoryPair } from "./_pair.ts";
import { makePki, type Peer, type Scope, sServer, withDeadline } from "./_peers.ts";
import { hex, IDENTITY, newKey, pskSClient } from "./_psk.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** `openssl s_server -psk ... -nocert` on a free port: no certificate at all. */
function pskServer(
  scope: Scope,
  key: Uint8Array,
  version: "-tls1_3" | "-tls1_2",
  extra: string[] = [],
): Promise<{ peer: Peer; port: number }> {
  return sServer(scope, null, ["-psk", hex(key), "-psk_identity", IDENTITY, version, ...extra]);
}

/** `openssl s_client -psk` towards a port, stdin piped. */
function pskClient(scope: Scope, port: number, key: Uint8Array, version: string): Peer {
  return pskSClient(scope, port, key, [version, "-ign_eof"]);
}

async function readLine(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<string> {
  const buf = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

for (
  const [label, flag, protocol] of [["TLS 1.3", "-tls1_3", "TLSv1.3"], [
    "TLS 1.2",
    "-tls1_2",
    "TLSv1.2",
  ]] as const
) {
  Deno.test(`connectTls with pskCallback talks ${label} to openssl s_server -psk -nocert`, async () => {
    await withDeadline("psk client", async (scope) => {
      const key = newKey();
      const { peer, port } = await pskServer(scope, key, flag, ["-psk_hint", "from-s_server"]);
      const hints: (string | null)[] = [];
      const conn = await connectTls({
        hostname: "127.0.0.1",
        port,
        pskCallback: (hint) => {
          hints.push(hint);
          return { identity: IDENTITY, psk: key };
        },
      });
      scope.defer(() => conn[Symbol.asyncDispose]());
      const info = await conn.handshake();
      assert.equal(info.protocol, protocol);
      assert.equal(info.peerCertificate, null); // the key, not a certificate, authenticated it
      if (protocol === "TLSv1.2") {
        assert.equal(conn.getCipherName(), "ECDHE-PSK-CHACHA20-POLY1305");
        // TLS 1.3 is offered first (no hint there), then the TLS 1.2 server sends its hint.
        assert.deepEqual(hints, [null, "from-s_server"]);
      } else {
        assert.deepEqual(hints, [null]);
      }
      const received = peer.waitFor("stdout", /ping from denossl/);
      await conn.write(enc.encode("ping from denossl\n"));
      await received;
      peer.feed(enc.encode("pong from s_server\n"));
      assert.match(await readLine(conn), /pong from s_server/);
    });
  });

  Deno.test(`listenTls with pskCallback and no certificate serves openssl s_client -psk over ${label}`, async () => {
    await withDeadline("psk server", async (scope) => {
      const key = newKey();
      const identities: string[] = [];
      const listener = listenTls({
        hostname: "127.0.0.1",
        port: 0,
        pskCallback: (identity) => {
          identities.push(identity);
          return identity === IDENTITY ? key : null;
        },
        pskIdentityHint: "from-denossl",
      });
      scope.defer(() => listener.close());
      const client = pskClient(scope, listener.addr.port, key, flag);
      const conn = await listener.accept();
      scope.defer(() => conn[Symbol.asyncDispose]());
      const info = await conn.handshake();
      assert.equal(info.protocol, protocol);
      assert.deepEqual(identities, [IDENTITY]);
      client.feed(enc.encode("ping from s_client\n"));
      assert.match(await readLine(conn), /ping from s_client/);
      const received = client.waitFor("stdout", /pong from denossl/);
      await conn.write(enc.encode("pong from denossl\n"));
      await received;
    });
  });

  Deno.test(`a wrong PSK fails a ${label} handshake with openssl s_server with an SSLError`, async () => {
    await withDeadline("psk wrong key", async (scope) => {
      const { port } = await pskServer(scope, newKey(), flag);
      const error = await connectTls({
        hostname: "127.0.0.1",
        port,
        pskCallback: () => ({ identity: IDENTITY, psk: newKey() }),
      }).then(() => null, (e) => e);
      assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
      assert.ok(error instanceof Deno.errors.InvalidData);
      // TLS 1.3: s_server rejects the binder (illegal_parameter here); TLS 1.2: the Finished MAC fails.
      assert.match(
        error.message,
        /illegal parameter|decrypt error|bad record mac|decryption failed/i,
      );
    });
  });

  Deno.test(`a wrong PSK from openssl s_client fails the denossl server's ${label} handshake with an SSLError`, async () => {
    await withDeadline("psk wrong key server", async (scope) => {
      const listener = listenTls({
        hostname: "127.0.0.1",
        port: 0,
        pskCallback: () => newKey(),
      });
      scope.defer(() => listener.close());
      pskClient(scope, listener.addr.port, newKey(), flag);
      const conn = await listener.accept();
      scope.defer(() => conn[Symbol.asyncDispose]());
      const error = await conn.handshake().then(() => null, (e) => e);
      assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
      assert.match(error.message, /binder|decrypt|bad record mac|decryption failed/i);
    });
  });
}

Deno.test("a denossl PSK server refuses an unknown TLS 1.2 identity with unknown_psk_identity", async () => {
  await withDeadline("psk unknown identity", async (scope) => {
    const listener = listenTls({ hostname: "127.0.0.1", port: 0, pskCallback: () => null });
    scope.defer(() => listener.close());
    const client = pskClient(scope, listener.addr.port, newKey(), "-tls1_2");
    const conn = await listener.accept();
    scope.defer(() => conn[Symbol.asyncDispose]());
    const error = await conn.handshake().then(() => null, (e) => e);
    assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
    assert.match(error.message, /psk identity not found/i);
    const { stderr, stdout } = await client.finished();
    assert.match(stderr + dec.decode(stdout), /unknown psk identity/i);
  });
});

Deno.test("a PSK-only denossl server tells why a client it cannot use is refused (TLS 1.3 PSKs go with SHA-256)", async (t) => {
  const key = newKey();
  for (
    const [label, options] of [
      ["a client restricted to TLS_AES_256_GCM_SHA384", {
        ciphersuites: "TLS_AES_256_GCM_SHA384",
        pskCallback: () => ({ identity: IDENTITY, psk: key }),
      }],
      ["a client without a key", { unsafelyDisableVerification: true }],
    ] as const
  ) {
    await t.step(label, async () => {
      await using listener = listenTls({ hostname: "127.0.0.1", port: 0, pskCallback: () => key });
      const served = listener.accept().then(async (conn) => {
        try {
          return await conn.handshake().then(() => null, (e) => e);
        } finally {
          await conn[Symbol.asyncDispose]();
        }
      });
      await assert.rejects(
        connectTls({ hostname: "127.0.0.1", port: listener.addr.port, ...options }),
        SSLError,
      );
      const error = await served;
      assert.ok(error instanceof SSLError, `got ${error}`);
      assert.match(error.message, /no certificate, and the client brought no pre-shared key/);
    });
  }
});

Deno.test("the helpers enable PSK suites only when pskCallback is given", async (t) => {
  await t.step("a client without pskCallback cannot talk to a PSK-only server", async () => {
    await withDeadline("no psk", async (scope) => {
      const { port } = await pskServer(scope, newKey(), "-tls1_2");
      await assert.rejects(
        connectTls({ hostname: "127.0.0.1", port, unsafelyDisableVerification: true }),
        SSLError,
      );
    });
  });
  await t.step("a server without certificate needs pskCallback", () => {
    assert.throws(() => listenTls({ port: 0 }), /pskCallback/);
  });
  await t.step("pskIdentityHint without pskCallback is a TypeError", () => {
    assert.throws(() => listenTls({ port: 0, pskIdentityHint: "x" }), TypeError);
  });
});

Deno.test("a client with pskCallback still verifies a server that shows a certificate", async (t) => {
  const pki = makePki("ec");
  const stranger = makePki("ec");
  try {
    await t.step("an untrusted certificate is refused with a VerificationError", async () => {
      await withDeadline("psk verify", async (scope) => {
        const { port } = await sServer(scope, stranger.server, ["-tls1_3"]);
        await assert.rejects(
          connectTls({
            hostname: "127.0.0.1",
            port,
            caCerts: [pki.ca.certPEM],
            pskCallback: () => ({ identity: IDENTITY, psk: newKey() }),
          }),
          VerificationError,
        );
      });
    });
    await t.step("a trusted one passes, and the name is checked", async () => {
      await withDeadline("psk verify ok", async (scope) => {
        const { port } = await sServer(scope, pki.server, ["-tls1_3"]);
        const conn = await connectTls({
          hostname: "127.0.0.1",
          port,
          caCerts: [pki.ca.certPEM],
          pskCallback: () => ({ identity: IDENTITY, psk: newKey() }),
        });
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        assert.equal(info.peerCertificate?.subject.commonName, "localhost");
      });
    });
  } finally {
    pki.close();
    stranger.close();
  }
});

Deno.test("PSK callbacks fail closed", async (t) => {
  const key = newKey();
  for (const version of [0, TLS1_2_VERSION]) {
    const v = version ? "TLS 1.2" : "TLS 1.3";
    await t.step(`${v}: a client callback's exception comes out of the handshake`, () => {
      using clientCtx = new Context(TLS_METHOD);
      if (version) clientCtx.setMaxProtoVersion(version);
      clientCtx.setCipherList("ECDHE-PSK-CHACHA20-POLY1305");
      const boom = new Error("no key today");
      clientCtx.setPskClientCallback(() => {
        throw boom;
      });
      using serverCtx = new Context(TLS_METHOD);
      serverCtx.setCipherList("ECDHE-PSK-CHACHA20-POLY1305");
      serverCtx.setPskServerCallback(() => key);
      using pair = memoryPair(clientCtx, serverCtx);
      const { client, server } = pair;
      const drive = (): void => handshakeInMemory(client, server);
      assert.throws(drive, (e) => e === boom);
      assert.equal(client.isHandshakeDone(), false);
    });
    await t.step(`${v}: a server callback's exception comes out of the server's handshake`, () => {
      using clientCtx = new Context(TLS_METHOD);
      if (version) clientCtx.setMaxProtoVersion(version);
      clientCtx.setCipherList("ECDHE-PSK-CHACHA20-POLY1305");
      clientCtx.setPskClientCallback(() => ({ identity: IDENTITY, psk: key }));
      using serverCtx = new Context(TLS_METHOD);
      serverCtx.setCipherList("ECDHE-PSK-CHACHA20-POLY1305");
      const boom = new Error("key store down");
      serverCtx.setPskServerCallback(() => {
        throw boom;
      });
      using pair = memoryPair(clientCtx, serverCtx);
      const { client, server } = pair;
      const drive = (): void => handshakeInMemory(client, server);
      assert.throws(drive, (e) => e === boom);
      assert.equal(server.isHandshakeDone(), false);
    });
  }
  await t.step("a Promise from the server callback is a TypeError, never a key", () => {
    using clientCtx = new Context(TLS_METHOD);
    clientCtx.setPskClientCallback(() => ({ identity: IDENTITY, psk: key }));
    using serverCtx = new Context(TLS_METHOD);
    serverCtx.setPskServerCallback(() => Promise.resolve(key) as unknown as Uint8Array);
    using pair = memoryPair(clientCtx, serverCtx);
    const drive = (): void => handshakeInMemory(pair.client, pair.server);
    assert.throws(drive, /PSK server callback returned a Promise/);
  });
  await t.step("a malformed client answer is a TypeError or RangeError", () => {
    for (
      const [answer, error] of [
        [{ identity: IDENTITY, psk: "not bytes" }, TypeError],
        [{ identity: IDENTITY, psk: new Uint8Array(0) }, RangeError],
        [{ identity: "", psk: key }, RangeError],
        [{ identity: "x".repeat(257), psk: key }, RangeError],
        [{ identity: IDENTITY, psk: new Uint8Array(513) }, RangeError],
      ] as const
    ) {
      using clientCtx = new Context(TLS_METHOD);
      clientCtx.setPskClientCallback(() => answer as never);
      using serverCtx = new Context(TLS_METHOD);
      serverCtx.setPskServerCallback(() => key);
      using pair = memoryPair(clientCtx, serverCtx);
      const { client, server } = pair;
      const drive = (): void => handshakeInMemory(client, server);
      assert.throws(drive, error);
    }
  });
  await t.step("setters check their arguments", () => {
    using ctx = new Context(TLS_METHOD);
    assert.throws(() => ctx.setPskClientCallback("no" as never), TypeError);
    assert.throws(() => ctx.setPskServerCallback(null as never), TypeError);
    assert.throws(() => ctx.usePskIdentityHint("a\0b"), TypeError);
    assert.throws(() => ctx.usePskIdentityHint("h".repeat(257)), RangeError);
    ctx.usePskIdentityHint("h".repeat(256));
  });
});
