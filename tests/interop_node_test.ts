/**
 * Interop with Node's `tls` (Node's own bundled OpenSSL) in a `node`
 * subprocess (tests/peers/node_tls.mjs): denossl as a client of a Node
 * server, and as a server for a Node client. Every case runs under a deadline.
 */

import assert from "node:assert/strict";
import {
  SSLError,
  type TestKeyType,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  VerificationError,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
} from "../mod.ts";
import {
  clientContext,
  closeAfterPeer,
  type CtxOptions,
  denosslListener,
  dial,
  exchange,
  makePki,
  PAYLOAD_SIZE,
  Peer,
  randomBytes,
  type Scope,
  serverContext,
  sha256,
  withDeadline,
} from "./_peers.ts";

const SCRIPT = new URL("./peers/node_tls.mjs", import.meta.url).pathname;

interface NodeEvent {
  event: "listening" | "secure" | "done" | "error";
  port?: number;
  protocol?: string;
  cipher?: string;
  alpn?: string | null;
  servername?: string | null;
  authorized?: boolean;
  authorizationError?: string | null;
  peerCN?: string | null;
  sent?: string;
  received?: string;
  receivedLength?: number;
  code?: string | null;
  message?: string;
}

function nodePeer(scope: Scope, cfg: Record<string, unknown>): Peer {
  return scope.adopt(new Peer("node", [SCRIPT, JSON.stringify(cfg)]));
}

async function nodeServer(
  scope: Scope,
  cfg: Record<string, unknown>,
): Promise<Peer & { port: number }> {
  const peer = nodePeer(scope, { role: "server", ...cfg });
  const m = await peer.waitFor("stdout", /"event":"listening","port":(\d+)/);
  return Object.assign(peer, { port: Number(m[1]) });
}

async function events(peer: Peer): Promise<{ events: NodeEvent[]; stderr: string }> {
  const out = await peer.finished();
  const text = new TextDecoder().decode(out.stdout);
  const events = text.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l) as NodeEvent
  );
  return { events, stderr: out.stderr };
}

function find(evs: NodeEvent[], kind: NodeEvent["event"]): NodeEvent {
  const e = evs.find((x) => x.event === kind);
  assert.ok(e, `no ${kind} event in ${JSON.stringify(evs)}`);
  return e;
}

interface Suite {
  label: string;
  version: "TLSv1.2" | "TLSv1.3";
  cipher: (k: TestKeyType) => string;
}

const SUITES: Suite[] = [
  { label: "TLS 1.3 AES-256-GCM", version: "TLSv1.3", cipher: () => "TLS_AES_256_GCM_SHA384" },
  {
    label: "TLS 1.3 ChaCha20-Poly1305",
    version: "TLSv1.3",
    cipher: () => "TLS_CHACHA20_POLY1305_SHA256",
  },
  {
    label: "TLS 1.2 AES-128-GCM",
    version: "TLSv1.2",
    cipher: (k) => `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-AES128-GCM-SHA256`,
  },
  {
    label: "TLS 1.2 ChaCha20-Poly1305",
    version: "TLSv1.2",
    cipher: (k) => `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-CHACHA20-POLY1305`,
  },
];

const KEY_LABEL: Record<TestKeyType, string> = {
  rsa: "RSA 2048",
  ec: "ECDSA P-256",
  ed25519: "Ed25519",
};

/** denossl-side settings that pin the protocol version and cipher. */
function pin(suite: Suite, k: TestKeyType): CtxOptions {
  return suite.version === "TLSv1.3"
    ? { min: TLS1_3_VERSION, suites: suite.cipher(k) }
    : { max: TLS1_2_VERSION, cipherList: suite.cipher(k) };
}

Deno.test("denossl client ↔ Node tls server", async (t) => {
  for (const keyType of ["rsa", "ec", "ed25519"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      for (const suite of SUITES) {
        const cipher = suite.cipher(keyType);
        const name = `interop: denossl client ↔ Node tls server: ${suite.label}, ${
          KEY_LABEL[keyType]
        } — 256 KiB both ways, same protocol and cipher on both sides`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            const peer = await nodeServer(scope, {
              cert: pki.server.chainPEM,
              key: pki.server.keyPEM,
              send: PAYLOAD_SIZE,
              expect: PAYLOAD_SIZE,
            });
            using ctx = clientContext(pki.ca.certPEM, pin(suite, keyType));
            const conn = await dial(scope, ctx, peer.port, {
              verifyHost: "localhost",
              sni: "localhost",
            });
            const info = await conn.handshake();
            const payload = randomBytes(PAYLOAD_SIZE);
            const got = await exchange(conn, payload, PAYLOAD_SIZE);
            await closeAfterPeer(conn);
            const { events: evs } = await events(peer);
            const secure = find(evs, "secure");
            const done = find(evs, "done");
            assert.equal(info.protocol, suite.version);
            assert.equal(info.cipher, cipher);
            assert.equal(secure.protocol, suite.version);
            assert.equal(secure.cipher, cipher);
            assert.equal(secure.servername, "localhost");
            assert.equal(got.length, PAYLOAD_SIZE);
            assert.equal(await sha256(got), done.sent);
            assert.equal(done.receivedLength, PAYLOAD_SIZE);
            assert.equal(done.received, await sha256(payload));
            info.peerCertificate?.close();
          }));
      }
    } finally {
      pki.close();
    }
  }
});

Deno.test("Node tls client ↔ denossl server", async (t) => {
  for (const keyType of ["rsa", "ec", "ed25519"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      for (const suite of SUITES) {
        const cipher = suite.cipher(keyType);
        const name = `interop: Node tls client ↔ denossl server: ${suite.label}, ${
          KEY_LABEL[keyType]
        } — 256 KiB both ways, same protocol and cipher on both sides`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            using ctx = serverContext(pki.server, pin(suite, keyType));
            const l = denosslListener(scope);
            const peer = nodePeer(scope, {
              role: "client",
              port: l.port,
              ca: pki.ca.certPEM,
              servername: "localhost",
              send: PAYLOAD_SIZE,
              expect: PAYLOAD_SIZE,
            });
            const conn = await l.accept(ctx);
            const info = await conn.handshake();
            const payload = randomBytes(PAYLOAD_SIZE);
            const got = await exchange(conn, payload, PAYLOAD_SIZE);
            const servername = conn.getServername();
            await closeAfterPeer(conn);
            const { events: evs } = await events(peer);
            const secure = find(evs, "secure");
            const done = find(evs, "done");
            assert.equal(info.protocol, suite.version);
            assert.equal(info.cipher, cipher);
            assert.equal(servername, "localhost");
            assert.equal(secure.protocol, suite.version);
            assert.equal(secure.cipher, cipher);
            assert.equal(secure.authorized, true, secure.authorizationError ?? "");
            assert.equal(secure.peerCN, "localhost");
            assert.equal(await sha256(got), done.sent);
            assert.equal(done.received, await sha256(payload));
          }));
      }
    } finally {
      pki.close();
    }
  }
});

Deno.test("denossl ↔ Node tls: mutual TLS, SNI and failures as Node reports them", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  try {
    let name =
      "interop: denossl client presents a client certificate that a Node tls server (requestCert, rejectUnauthorized) checks with getPeerCertificate()";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const peer = await nodeServer(scope, {
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          ca: pki.ca.certPEM,
          requestCert: true,
          rejectUnauthorized: true,
          send: 1024,
          expect: 1024,
        });
        using ctx = clientContext(pki.ca.certPEM, { cert: pki.client });
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        await conn.handshake();
        const payload = randomBytes(1024);
        const got = await exchange(conn, payload, 1024);
        await closeAfterPeer(conn);
        const { events: evs } = await events(peer);
        const secure = find(evs, "secure");
        assert.equal(secure.authorized, true, secure.authorizationError ?? "");
        assert.equal(secure.peerCN, "alice");
        assert.equal(await sha256(got), find(evs, "done").sent);
        assert.equal(find(evs, "done").received, await sha256(payload));
      }));

    name = "interop: denossl server requires a client certificate and reads a Node tls client's";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const l = denosslListener(scope);
        const peer = nodePeer(scope, {
          role: "client",
          port: l.port,
          ca: pki.ca.certPEM,
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
          servername: "localhost",
          send: 1024,
          expect: 1024,
        });
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const got = await exchange(conn, randomBytes(1024), 1024);
        await closeAfterPeer(conn);
        const { events: evs } = await events(peer);
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
        assert.equal(await sha256(got), find(evs, "done").sent);
      }));

    name =
      "interop: Node tls server requiring a client certificate refuses denossl client without one; denossl reads the alert as SSLError (certificate required)";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const peer = await nodeServer(scope, {
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          ca: pki.ca.certPEM,
          requestCert: true,
          rejectUnauthorized: true,
          expect: 1,
        });
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        // TLS 1.3: the client's handshake ends before the server judged its
        // (empty) certificate, so the alert comes out of the next read.
        const error = await conn.handshake().then(() => conn.read(new Uint8Array(16))).then(
          () => null,
          (e) => e,
        );
        await conn[Symbol.asyncDispose]();
        const { events: evs } = await events(peer);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /certificate required/);
        assert.match(find(evs, "error").message ?? "", /peer did not return a certificate/);
      }));

    name =
      "interop: denossl server refuses a Node tls client's certificate from another CA with VerificationError; Node reports the alert";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const l = denosslListener(scope);
        const peer = nodePeer(scope, {
          role: "client",
          port: l.port,
          ca: pki.ca.certPEM,
          cert: other.client.chainPEM,
          key: other.client.keyPEM,
          servername: "localhost",
          expect: 1,
        });
        const conn = await l.accept(ctx);
        const error = await conn.handshake().then(() => null, (e) => e);
        await conn[Symbol.asyncDispose]();
        const { events: evs } = await events(peer);
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok([20, 21].includes(error.verifyCode), `${error.verifyCode}`);
        assert.match(find(evs, "error").message ?? "", /unknown ca/);
      }));

    name =
      "interop: Node tls client rejects denossl server's certificate from an untrusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE) and denossl sees the connection end";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = serverContext(other.server);
        const l = denosslListener(scope);
        const peer = nodePeer(scope, {
          role: "client",
          port: l.port,
          ca: pki.ca.certPEM,
          servername: "localhost",
          expect: 1,
        });
        const conn = await l.accept(ctx);
        const outcome = await conn.handshake().then(() => conn.read(new Uint8Array(16))).then(
          (n) => n,
          (e) => e,
        );
        await conn[Symbol.asyncDispose]();
        const { events: evs } = await events(peer);
        assert.equal(find(evs, "error").code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
        assert.ok(outcome === null || outcome instanceof SSLError, String(outcome));
      }));

    name =
      "interop: Node tls client's servername reaches denossl server's getServername(); denossl client's SNI reaches Node's socket.servername";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using alt = pki.ca.issue({ dns: ["sni.example.test"] });
        using sctx = serverContext(alt);
        const l = denosslListener(scope);
        const client = nodePeer(scope, {
          role: "client",
          port: l.port,
          ca: pki.ca.certPEM,
          servername: "sni.example.test",
          expect: 0,
        });
        const conn = await l.accept(sctx);
        await conn.handshake();
        assert.equal(conn.getServername(), "sni.example.test");
        await conn[Symbol.asyncDispose]();
        const c = await events(client);
        assert.equal(find(c.events, "secure").authorized, true);

        const server = await nodeServer(scope, {
          cert: alt.chainPEM,
          key: alt.keyPEM,
          expect: 0,
        });
        using cctx = clientContext(pki.ca.certPEM);
        const conn2 = await dial(scope, cctx, server.port, {
          verifyHost: "sni.example.test",
          sni: "sni.example.test",
        });
        await conn2.handshake();
        await conn2[Symbol.asyncDispose]();
        const s = await events(server);
        assert.equal(find(s.events, "secure").servername, "sni.example.test");
      }));

    name =
      "interop: denossl client requiring TLS 1.3 and a Node tls server capped at TLS 1.2 fail with SSLError (protocol version); Node reports it";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const peer = await nodeServer(scope, {
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          maxVersion: "TLSv1.2",
          expect: 1,
        });
        using ctx = clientContext(pki.ca.certPEM, { min: TLS1_3_VERSION });
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        const error = await conn.handshake().then(() => null, (e) => e);
        await conn[Symbol.asyncDispose]();
        const { events: evs } = await events(peer);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /protocol version/);
        assert.match(find(evs, "error").message ?? "", /unsupported protocol/);
      }));
  } finally {
    other.close();
    pki.close();
  }
});
