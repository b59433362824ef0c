/**
 * DTLS-PSK through the helpers: `listenDtls` and `connectDtls` with
 * `pskCallback` against `openssl s_client -dtls1_2 -psk` and
 * `openssl s_server -dtls1_2 -psk -nocert`, denossl to denossl, wrong keys
 * (a timeout that says why), unknown identities, option checks, and PSK
 * beside a certificate.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  connectDtls,
  type DtlsConnection,
  type DtlsListener,
  listenDtls,
  SSLError,
  VerificationError,
} from "../mod.ts";
import { makePki, type Peer, type Scope, withDeadline } from "./_peers.ts";
import { hex, IDENTITY, newKey, pskSClient } from "./_psk.ts";
import { dtlsSServer } from "./_dtls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const FS_PSK_SUITE = "ECDHE-PSK-CHACHA20-POLY1305";
/** The suite CoAP (RFC 7252 §9.1.3.1) mandates for PreSharedKey mode. */
const COAP_SUITE = "PSK-AES128-CCM8";
/** Handshake deadline of the cases that must fail: a wrong key in DTLS is silence. */
const FAIL_AFTER_MS = 1500;

/** `openssl s_client -dtls1_2 -psk` towards a local UDP port, stdin piped. */
function dtlsPskSClient(scope: Scope, port: number, key: Uint8Array): Peer {
  return pskSClient(scope, port, key, ["-dtls1_2", "-nocommands"]);
}

/** A PSK-only denossl server that knows one identity, and the identities it was asked for. */
function pskListener(
  scope: Scope,
  key: Uint8Array,
  extra: Partial<Parameters<typeof listenDtls>[0]> = {},
): { listener: DtlsListener; asked: string[] } {
  const asked: string[] = [];
  const listener = listenDtls({
    hostname: "127.0.0.1",
    port: 0,
    pskCallback: (identity) => {
      asked.push(identity);
      return identity === IDENTITY ? key : null;
    },
    ...extra,
  });
  scope.defer(() => listener[Symbol.asyncDispose]());
  return { listener, asked };
}

/** Accepts one client and echoes its messages until it closes. */
async function echoOne(scope: Scope, listener: DtlsListener): Promise<DtlsConnection> {
  const conn = await listener.accept();
  scope.defer(() => conn[Symbol.asyncDispose]());
  await conn.handshake();
  (async () => {
    for (let m = await conn.receive(); m !== null; m = await conn.receive()) await conn.send(m);
  })().catch(() => {});
  return conn;
}

/** The next client's handshake, run (and the connection closed at the end of the case). */
function nextHandshake(scope: Scope, listener: DtlsListener): Promise<unknown> {
  return listener.accept().then((conn) => {
    scope.defer(() => conn[Symbol.asyncDispose]());
    return conn.handshake();
  });
}

/** The handshake's error, asserted to come within a bound of the deadline. */
async function failure(p: Promise<unknown>, bound = FAIL_AFTER_MS + 3000): Promise<unknown> {
  const started = performance.now();
  const error = await p.then(() => null, (e) => e);
  const took = performance.now() - started;
  assert.ok(took < bound, `the handshake failed after ${took} ms, expected under ${bound}`);
  return error;
}

function assertWrongKeyTimeout(error: unknown): void {
  assert.ok(error instanceof Deno.errors.TimedOut, `expected TimedOut, got ${error}`);
  assert.match(
    error.message,
    new RegExp(
      `within ${FAIL_AFTER_MS} ms: a PSK suite was chosen, so the two ends may hold different keys`,
    ),
  );
}

Deno.test("DTLS-PSK against the openssl CLI", async (t) => {
  await t.step(
    "listenDtls({ pskCallback }) without certificate serves openssl s_client -dtls1_2 -psk and echoes",
    () =>
      withDeadline("dtls psk server", async (scope) => {
        const key = newKey();
        const { listener, asked } = pskListener(scope, key, { pskIdentityHint: "from-denossl" });
        const client = dtlsPskSClient(scope, listener.addr.port, key);
        const conn = await echoOne(scope, listener);
        const info = await conn.handshake();
        assert.equal(info.protocol, "DTLSv1.2");
        assert.equal(info.cipher, FS_PSK_SUITE);
        assert.equal(info.peerCertificate, null);
        assert.deepEqual(asked, [IDENTITY]);
        const echoed = client.waitFor("stdout", /ping from s_client 1234567890/);
        // s_client prints what it reads: the echo of its own line proves both directions.
        client.feed(enc.encode("ping from s_client 1234567890\n"));
        await echoed;
        await client.endInput(); // close_notify
        const out = await client.finished();
        const stdout = dec.decode(out.stdout);
        assert.match(stdout, new RegExp(`Cipher is ${FS_PSK_SUITE}`));
        assert.match(stdout, /Protocol\s*: DTLSv1\.2/);
        assert.match(stdout, /no peer certificate available/);
      }),
  );

  await t.step(
    "connectDtls({ pskCallback }) talks to openssl s_server -dtls1_2 -psk -nocert (cookie exchange) both ways",
    () =>
      withDeadline("dtls psk client", async (scope) => {
        const key = newKey();
        const { peer, port } = await dtlsSServer(scope, null, [
          "-psk",
          hex(key),
          "-psk_identity",
          IDENTITY,
          "-psk_hint",
          "from-s_server",
        ], "-dtls1_2");
        const hints: (string | null)[] = [];
        const conn = await connectDtls({
          port,
          pskCallback: (hint) => {
            hints.push(hint);
            return { identity: IDENTITY, psk: key };
          },
        });
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        assert.equal(info.protocol, "DTLSv1.2");
        assert.equal(info.cipher, FS_PSK_SUITE);
        assert.equal(info.peerCertificate, null);
        assert.deepEqual(hints, ["from-s_server"]);
        const printed = peer.waitFor("stdout", /ping from denossl/);
        await conn.send("ping from denossl\n");
        await printed;
        peer.feed(enc.encode("4242 from s_server\n"));
        assert.equal(dec.decode((await conn.receive())!), "4242 from s_server\n");
      }),
  );

  await t.step(
    `a plain PSK suite (CoAP's ${COAP_SUITE}) is refused by default and works through ciphers`,
    () =>
      withDeadline("dtls psk coap suite", async (scope) => {
        const key = newKey();
        const args = ["-psk", hex(key), "-psk_identity", IDENTITY, "-cipher", COAP_SUITE];
        const pskCallback = () => ({ identity: IDENTITY, psk: key });
        const refused = await dtlsSServer(scope, null, args, "-dtls1_2");
        const error = await connectDtls({ port: refused.port, pskCallback }).then(
          () => null,
          (e) => e,
        );
        assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
        assert.match(error.message, /handshake failure|no shared cipher/i);

        const { peer, port } = await dtlsSServer(scope, null, args, "-dtls1_2");
        const conn = await connectDtls({ port, pskCallback, ciphers: COAP_SUITE });
        scope.defer(() => conn[Symbol.asyncDispose]());
        assert.equal((await conn.handshake()).cipher, COAP_SUITE);
        const printed = peer.waitFor("stdout", /coap over dtls/);
        await conn.send("coap over dtls\n");
        await printed;
      }),
  );

  await t.step(
    "a wrong key from openssl s_client ends the denossl server's handshake in a TimedOut that names the PSK",
    () =>
      withDeadline("dtls psk wrong key server", async (scope) => {
        const { listener, asked } = pskListener(scope, newKey(), {
          handshakeTimeout: FAIL_AFTER_MS,
        });
        dtlsPskSClient(scope, listener.addr.port, newKey());
        const conn = await listener.accept();
        scope.defer(() => conn[Symbol.asyncDispose]());
        assertWrongKeyTimeout(await failure(conn.handshake()));
        assert.deepEqual(asked, [IDENTITY]); // the identity was known: the key differed
        assert.equal(conn.closed, true);
      }),
  );

  await t.step(
    "a wrong key against openssl s_server ends connectDtls in a TimedOut that names the PSK",
    () =>
      withDeadline("dtls psk wrong key client", async (scope) => {
        const { port } = await dtlsSServer(
          scope,
          null,
          ["-psk", hex(newKey()), "-psk_identity", IDENTITY],
          "-dtls1_2",
        );
        const error = await failure(connectDtls({
          port,
          handshakeTimeout: FAIL_AFTER_MS,
          pskCallback: () => ({ identity: IDENTITY, psk: newKey() }),
        }));
        assertWrongKeyTimeout(error);
      }),
  );

  await t.step(
    "the denossl server refuses an identity openssl s_client sends that its callback does not know",
    () =>
      withDeadline("dtls psk unknown identity from s_client", async (scope) => {
        const key = newKey();
        const asked: string[] = [];
        const listener = listenDtls({
          hostname: "127.0.0.1",
          port: 0,
          pskCallback: (identity) => {
            asked.push(identity);
            return null;
          },
        });
        scope.defer(() => listener[Symbol.asyncDispose]());
        const client = dtlsPskSClient(scope, listener.addr.port, key);
        const conn = await listener.accept();
        scope.defer(() => conn[Symbol.asyncDispose]());
        const error = await failure(conn.handshake());
        assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
        assert.match(error.message, /psk identity not found/i);
        assert.deepEqual(asked, [IDENTITY]);
        const out = await client.finished();
        assert.notEqual(out.status.code, 0);
        assert.match(out.stderr, /unknown psk identity/i);
      }),
  );
});

Deno.test("DTLS-PSK denossl to denossl over the helpers", async (t) => {
  await t.step(
    "both ends with pskCallback: hint, identity, the forward-secret suite, messages both ways",
    () =>
      withDeadline("dtls psk both ends", async (scope) => {
        const key = newKey();
        const { listener, asked } = pskListener(scope, key, { pskIdentityHint: "gateway-1" });
        const served = echoOne(scope, listener);
        const hints: (string | null)[] = [];
        const client = await connectDtls({
          port: listener.addr.port,
          pskCallback: (hint) => {
            hints.push(hint);
            return { identity: IDENTITY, psk: key.slice() };
          },
        });
        scope.defer(() => client[Symbol.asyncDispose]());
        const server = await served;
        assert.deepEqual(hints, ["gateway-1"]);
        assert.deepEqual(asked, [IDENTITY]);
        const info = await client.handshake();
        assert.equal(info.protocol, "DTLSv1.2");
        assert.equal(info.cipher, FS_PSK_SUITE);
        assert.equal(info.peerCertificate, null);
        assert.equal((await server.handshake()).cipher, FS_PSK_SUITE);
        for (const size of [1, 100, 1000]) {
          const m = crypto.getRandomValues(new Uint8Array(size));
          await client.send(m);
          assert.deepEqual(await client.receive(), m);
        }
      }),
  );

  await t.step(
    "a wrong key: TimedOut on both sides, with the reason, within the deadline",
    () =>
      withDeadline("dtls psk both ends wrong key", async (scope) => {
        const { listener } = pskListener(scope, newKey(), { handshakeTimeout: FAIL_AFTER_MS });
        const accepted = failure(nextHandshake(scope, listener));
        const clientError = await failure(connectDtls({
          port: listener.addr.port,
          handshakeTimeout: FAIL_AFTER_MS,
          pskCallback: () => ({ identity: IDENTITY, psk: newKey() }),
        }));
        assertWrongKeyTimeout(clientError);
        assertWrongKeyTimeout(await accepted);
      }),
  );

  await t.step(
    "an unknown identity (the callback returns null) is refused with unknown_psk_identity on both sides",
    () =>
      withDeadline("dtls psk both ends unknown identity", async (scope) => {
        const { listener, asked } = pskListener(scope, newKey());
        const accepted = failure(nextHandshake(scope, listener));
        const clientError = await failure(connectDtls({
          port: listener.addr.port,
          pskCallback: () => ({ identity: "device-99", psk: newKey() }),
        }));
        assert.ok(clientError instanceof SSLError, `expected an SSLError, got ${clientError}`);
        assert.match(clientError.message, /unknown psk identity/i);
        const serverError = await accepted;
        assert.ok(serverError instanceof SSLError, `expected an SSLError, got ${serverError}`);
        assert.deepEqual(asked, ["device-99"]);
      }),
  );

  await t.step(
    "a server callback that throws or returns a Promise fails the handshake, never serves a key",
    () =>
      withDeadline("dtls psk callback fails closed", async (scope) => {
        const key = newKey();
        const boom = new Error("key store offline");
        for (
          const [pskCallback, expected] of [
            [() => {
              throw boom;
            }, boom],
            [() => Promise.resolve(key), TypeError],
          ] as const
        ) {
          const listener = listenDtls({
            hostname: "127.0.0.1",
            port: 0,
            pskCallback: pskCallback as () => Uint8Array,
          });
          scope.defer(() => listener[Symbol.asyncDispose]());
          const accepted = failure(nextHandshake(scope, listener));
          const clientError = await failure(connectDtls({
            port: listener.addr.port,
            pskCallback: () => ({ identity: IDENTITY, psk: key }),
          }));
          assert.ok(clientError instanceof SSLError, `expected an SSLError, got ${clientError}`);
          const serverError = await accepted;
          if (expected instanceof Error) assert.equal(serverError, expected);
          else {assert.ok(
              serverError instanceof expected,
              `expected a TypeError, got ${serverError}`,
            );}
        }
      }),
  );

  await t.step(
    "a client callback that returns null offers no key: the PSK-only server refuses it",
    () =>
      withDeadline("dtls psk client declines", async (scope) => {
        const { listener, asked } = pskListener(scope, newKey());
        nextHandshake(scope, listener).catch(() => {});
        const error = await failure(
          connectDtls({ port: listener.addr.port, pskCallback: () => null }),
        );
        assert.ok(error instanceof SSLError, `expected an SSLError, got ${error}`);
        assert.deepEqual(asked, []);
      }),
  );
});

Deno.test("DTLS-PSK options are checked as the TLS helpers' are", async (t) => {
  await t.step("a pskCallback that is not a function is a TypeError, on both helpers", async () => {
    for (const bad of ["key", 42, {}, null]) {
      await assert.rejects(
        connectDtls({ port: 9, pskCallback: bad as never }),
        (e: Error) => e instanceof TypeError && /pskCallback/.test(e.message),
      );
      assert.throws(
        () => listenDtls({ hostname: "127.0.0.1", port: 0, pskCallback: bad as never }),
        (e: Error) => e instanceof TypeError && /pskCallback/.test(e.message),
      );
    }
  });

  await t.step(
    "pskIdentityHint needs pskCallback, and is a string of 1 to 256 bytes without NUL",
    () => {
      const pskCallback = () => null;
      const listen = (o: object) => listenDtls({ hostname: "127.0.0.1", port: 0, ...o });
      assert.throws(() => listen({ pskIdentityHint: "x" }), TypeError);
      assert.throws(() => listen({ pskCallback, pskIdentityHint: "" }), RangeError);
      assert.throws(() => listen({ pskCallback, pskIdentityHint: "h".repeat(257) }), RangeError);
      assert.throws(() => listen({ pskCallback, pskIdentityHint: "a\0b" }), TypeError);
      assert.throws(() => listen({ pskCallback, pskIdentityHint: 7 }), TypeError);
    },
  );

  await t.step("pskIdentityHint is a server option", async () => {
    await assert.rejects(
      connectDtls({ port: 9, pskCallback: () => null, pskIdentityHint: "x" } as never),
      /pskIdentityHint is a server option/,
    );
  });

  await t.step("a server without certificate and without pskCallback is still refused", () => {
    assert.throws(
      () => listenDtls({ hostname: "127.0.0.1", port: 0 }),
      /DTLS server needs cert and key \(PEM\), pfx, pskCallback, or a context/,
    );
  });
});

Deno.test("DTLS-PSK beside a certificate", async (t) => {
  const pki = makePki("ec");
  const stranger = makePki("ec");
  try {
    await t.step(
      "the server offers certificate and PSK suites: a certificate client and a PSK client both get in",
      () =>
        withDeadline("dtls psk and cert", async (scope) => {
          const key = newKey();
          const { listener, asked } = pskListener(scope, key, {
            cert: pki.server.chainPEM,
            key: pki.server.keyPEM,
          });
          const first = echoOne(scope, listener);
          const byCert = await connectDtls({
            port: listener.addr.port,
            serverName: "localhost",
            caCerts: [pki.ca.certPEM],
          });
          scope.defer(() => byCert[Symbol.asyncDispose]());
          const certInfo = await byCert.handshake();
          assert.match(certInfo.cipher, /^ECDHE-ECDSA-/);
          assert.ok(certInfo.peerCertificate !== null);
          const served = await first;
          const offered = served.connection.getCiphers();
          assert.ok(offered.includes(FS_PSK_SUITE), `the server offers ${offered}`);
          assert.ok(offered.some((c) => c.startsWith("ECDHE-ECDSA-")));
          await byCert.send("by certificate");
          assert.equal(dec.decode((await byCert.receive())!), "by certificate");

          const second = echoOne(scope, listener);
          const byKey = await connectDtls({
            port: listener.addr.port,
            serverName: "localhost",
            ciphers: FS_PSK_SUITE, // only the PSK suite: the certificate is not asked for
            pskCallback: () => ({ identity: IDENTITY, psk: key }),
          });
          scope.defer(() => byKey[Symbol.asyncDispose]());
          const keyInfo = await byKey.handshake();
          assert.equal(keyInfo.cipher, FS_PSK_SUITE);
          assert.equal(keyInfo.peerCertificate, null);
          await second;
          assert.deepEqual(asked, [IDENTITY]);
          await byKey.send("by key");
          assert.equal(dec.decode((await byKey.receive())!), "by key");
        }),
    );

    await t.step(
      "a client with pskCallback still verifies a server that shows a certificate",
      () =>
        withDeadline("dtls psk client verifies", async (scope) => {
          const key = newKey();
          const { listener } = pskListener(scope, key, {
            cert: stranger.server.chainPEM,
            key: stranger.server.keyPEM,
          });
          nextHandshake(scope, listener).catch(() => {});
          const error = await failure(connectDtls({
            port: listener.addr.port,
            serverName: "localhost",
            caCerts: [pki.ca.certPEM],
            pskCallback: () => ({ identity: IDENTITY, psk: key }),
          }));
          assert.ok(
            error instanceof VerificationError,
            `expected a VerificationError, got ${error}`,
          );
        }),
    );
  } finally {
    pki.close();
    stranger.close();
  }
});
