/**
 * Interop with Node's `tls` (Node's own bundled OpenSSL) in a `node`
 * subprocess (tests/peers/node_tls.mjs): denossl as a client of a Node
 * server, and as a server for a Node client. Every case runs under a deadline.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  connectTls,
  listenTls,
  type Session,
  SSLError,
  SysCallError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  VerificationError,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
} from "../mod.ts";
import {
  assertHungUp,
  certAndKey,
  checkInteropDoc,
  clientContext,
  closeAfterPeer,
  denosslListener,
  dial,
  eachSuite,
  encodeBase64,
  exchange,
  expiredLeaf,
  interopStep,
  KEY_LABEL,
  makePki,
  ocspResponse,
  PAYLOAD_SIZE,
  Peer,
  pinContext,
  randomBytes,
  type Scope,
  serverContext,
  sha256,
  suiteRow,
  suites,
  switchOnServername,
} from "./_peers.ts";

const SCRIPT = new URL("./peers/node_tls.mjs", import.meta.url).pathname;
const SUITES = suites(256, 128);

interface NodeEvent {
  event: "listening" | "secure" | "done" | "error" | "ocsp";
  index?: number;
  port?: number;
  protocol?: string;
  cipher?: string;
  alpn?: string | null;
  servername?: string | null;
  reused?: boolean;
  authorized?: boolean;
  authorizationError?: string | null;
  peerCN?: string | null;
  sent?: string;
  received?: string;
  receivedLength?: number;
  der?: string | null;
  code?: string | null;
  message?: string;
}

function nodePeer(scope: Scope, cfg: Record<string, unknown>): Peer {
  return scope.adopt(new Peer("node", [SCRIPT, JSON.stringify(cfg)]));
}

/** A Node client of a denossl server on `port`. */
function nodeClient(scope: Scope, port: number, cfg: Record<string, unknown>): Peer {
  return nodePeer(scope, { role: "client", port, ...cfg });
}

/** A Node server; resolves once it listens. */
async function nodeServer(
  scope: Scope,
  cfg: Record<string, unknown>,
): Promise<Peer & { port: number }> {
  const peer = nodePeer(scope, { role: "server", ...cfg });
  const m = await peer.waitFor("stdout", /"event":"listening","port":(\d+)/);
  return Object.assign(peer, { port: Number(m[1]) });
}

/** Waits for the Node peer to exit and parses what it printed. */
async function events(peer: Peer): Promise<NodeEvent[]> {
  const out = await peer.finished();
  const text = new TextDecoder().decode(out.stdout);
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as NodeEvent);
}

/** The events of one kind, in order. */
function all(evs: NodeEvent[], kind: NodeEvent["event"]): NodeEvent[] {
  return evs.filter((x) => x.event === kind);
}

/** The first event of a kind; fails when there is none. */
function find(evs: NodeEvent[], kind: NodeEvent["event"]): NodeEvent {
  const e = evs.find((x) => x.event === kind);
  assert.ok(e, `no ${kind} event in ${JSON.stringify(evs)}`);
  return e;
}

/**
 * A denossl connection's share of a case against Node: sends `n` random
 * bytes while reading `n`, waits for Node's close, then checks both
 * directions against Node's `done` event (whose SHA-256 sums it takes).
 */
async function roundTrip(
  conn: Parameters<typeof exchange>[0] & Parameters<typeof closeAfterPeer>[0],
  n: number,
): Promise<{ sentSha: string; receivedSha: string }> {
  const payload = randomBytes(n);
  const got = await exchange(conn, payload, n);
  await closeAfterPeer(conn);
  assert.equal(got.length, n);
  return { sentSha: await sha256(payload), receivedSha: await sha256(got) };
}

/** Node's `done` event matches what denossl sent and received. */
function assertIntegrity(
  done: NodeEvent,
  io: { sentSha: string; receivedSha: string },
  n: number,
): void {
  assert.equal(done.receivedLength, n);
  assert.equal(done.received, io.sentSha);
  assert.equal(done.sent, io.receivedSha);
}

Deno.test("denossl client ↔ Node tls server", async (t) => {
  await eachSuite(SUITES, (pki, suite, keyType) => {
    const cipher = suite.cipher(keyType);
    return interopStep(
      t,
      { peer: "nodeServer", rows: [suiteRow(suite, keyType)] },
      `denossl client ↔ Node tls server: ${suite.label}, ${
        KEY_LABEL[keyType]
      } — 256 KiB both ways, same protocol and cipher on both sides`,
      async (scope) => {
        const peer = await nodeServer(scope, {
          ...certAndKey(pki.server),
          send: PAYLOAD_SIZE,
          expect: PAYLOAD_SIZE,
        });
        using ctx = clientContext(pki.ca.certPEM, pinContext(suite, keyType));
        const conn = await dial(scope, ctx, peer.port, {
          verifyHost: "localhost",
          sni: "localhost",
        });
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const io = await roundTrip(conn, PAYLOAD_SIZE);
        const evs = await events(peer);
        const secure = find(evs, "secure");
        assert.equal(info.protocol, suite.version);
        assert.equal(info.cipher, cipher);
        assert.equal(secure.protocol, suite.version);
        assert.equal(secure.cipher, cipher);
        assert.equal(secure.servername, "localhost");
        assertIntegrity(find(evs, "done"), io, PAYLOAD_SIZE);
      },
    );
  });
});

Deno.test("Node tls client ↔ denossl server", async (t) => {
  await eachSuite(SUITES, (pki, suite, keyType) => {
    const cipher = suite.cipher(keyType);
    return interopStep(
      t,
      { peer: "nodeClient", rows: [suiteRow(suite, keyType)] },
      `Node tls client ↔ denossl server: ${suite.label}, ${
        KEY_LABEL[keyType]
      } — 256 KiB both ways, same protocol and cipher on both sides`,
      async (scope) => {
        using ctx = serverContext(pki.server, pinContext(suite, keyType));
        const l = denosslListener(scope);
        const peer = nodeClient(scope, l.port, {
          ca: pki.ca.certPEM,
          servername: "localhost",
          send: PAYLOAD_SIZE,
          expect: PAYLOAD_SIZE,
        });
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const servername = conn.getServername();
        const io = await roundTrip(conn, PAYLOAD_SIZE);
        const evs = await events(peer);
        const secure = find(evs, "secure");
        assert.equal(info.protocol, suite.version);
        assert.equal(info.cipher, cipher);
        assert.equal(servername, "localhost");
        assert.equal(secure.protocol, suite.version);
        assert.equal(secure.cipher, cipher);
        assert.equal(secure.authorized, true, secure.authorizationError ?? "");
        assert.equal(secure.peerCN, "localhost");
        assertIntegrity(find(evs, "done"), io, PAYLOAD_SIZE);
      },
    );
  });
});

Deno.test("denossl ↔ Node tls: ALPN, SNI, resumption, OCSP, connectTls and listenTls", async (t) => {
  const pki = makePki("ec");
  const N = 16 * 1024;
  try {
    await interopStep(
      t,
      { peer: "nodeServer", rows: ["ALPN agrees on `h2`, seen by both sides"] },
      "denossl client offering ALPN h2, http/1.1 agrees on h2 with a Node tls server (ALPNProtocols); socket.alpnProtocol and handshake() agree — 16 KiB both ways",
      async (scope) => {
        const peer = await nodeServer(scope, {
          ...certAndKey(pki.server),
          alpn: ["h2", "http/1.1"],
          send: N,
          expect: N,
        });
        using ctx = clientContext(pki.ca.certPEM);
        ctx.setAlpnProtos(["h2", "http/1.1"]);
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        assert.equal(info.alpnProtocol, "h2");
        assert.equal(find(evs, "secure").alpn, "h2");
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["ALPN agrees on `h2`, seen by both sides"] },
      "Node tls client offering ALPN h2, http/1.1 agrees on h2 with denossl server's select callback, which sees Node's list — 16 KiB both ways",
      async (scope) => {
        using ctx = serverContext(pki.server);
        const offered: string[][] = [];
        ctx.setAlpnSelectCallback((_conn, protos) => {
          offered.push([...protos]);
          return "h2";
        });
        const l = denosslListener(scope);
        const peer = nodeClient(scope, l.port, {
          ca: pki.ca.certPEM,
          servername: "localhost",
          alpn: ["h2", "http/1.1"],
          send: N,
          expect: N,
        });
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        assert.deepEqual(offered, [["h2", "http/1.1"]]);
        assert.equal(info.alpnProtocol, "h2");
        assert.equal(find(evs, "secure").alpn, "h2");
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    await interopStep(
      t,
      {
        peer: "nodeServer",
        rows: [
          "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
          "ALPN agrees on `http/1.1`, seen by both sides",
          "mTLS: denossl presents a client certificate, the peer checks it",
        ],
      },
      "connectTls({ caCerts, serverName, cert, key, alpnProtocols: [http/1.1] }) to a Node tls server (requestCert): Node's getPeerCertificate() sees alice, both sides agree on http/1.1 — 16 KiB both ways",
      async (scope) => {
        const peer = await nodeServer(scope, {
          ...certAndKey(pki.server),
          ca: pki.ca.certPEM,
          requestCert: true,
          rejectUnauthorized: true,
          alpn: ["h2", "http/1.1"],
          send: N,
          expect: N,
        });
        const conn = await connectTls({
          hostname: "127.0.0.1",
          port: peer.port,
          serverName: "localhost",
          caCerts: [pki.ca.certPEM],
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
          alpnProtocols: ["http/1.1"],
        });
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        const secure = find(evs, "secure");
        assert.equal(info.alpnProtocol, "http/1.1");
        assert.equal(secure.alpn, "http/1.1");
        assert.equal(secure.authorized, true, secure.authorizationError ?? "");
        assert.equal(secure.peerCN, "alice");
        assert.equal(secure.servername, "localhost");
        assert.equal(secure.protocol, info.protocol);
        assert.equal(secure.cipher, info.cipher);
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    await interopStep(
      t,
      {
        peer: "nodeClient",
        rows: [
          "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
          "ALPN agrees on `http/1.1`, seen by both sides",
          "mTLS: denossl requires a client certificate, reads the peer's",
        ],
      },
      "listenTls({ cert, key, caCerts, requireClientCert, alpnProtocols: [h2, http/1.1] }) serves a Node tls client offering http/1.1 with a certificate — 16 KiB both ways",
      async (scope) => {
        const listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          caCerts: [pki.ca.certPEM],
          requireClientCert: true,
          alpnProtocols: ["h2", "http/1.1"],
        });
        scope.defer(() => listener.close());
        const peer = nodeClient(scope, listener.addr.port, {
          ca: pki.ca.certPEM,
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
          servername: "localhost",
          alpn: ["http/1.1"],
          send: N,
          expect: N,
        });
        const conn = await listener.accept();
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        const secure = find(evs, "secure");
        assert.equal(info.alpnProtocol, "http/1.1");
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
        assert.equal(secure.alpn, "http/1.1");
        assert.equal(secure.authorized, true, secure.authorizationError ?? "");
        assert.equal(secure.protocol, info.protocol);
        assert.equal(secure.cipher, info.cipher);
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["SNI sent by denossl, seen by the peer"] },
      "denossl client's SNI (setTlsextHostName) reaches a Node tls server's socket.servername — 16 KiB both ways",
      async (scope) => {
        using alt = pki.ca.issue({ dns: ["sni.example.test"] });
        const peer = await nodeServer(scope, { ...certAndKey(alt), send: N, expect: N });
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, peer.port, {
          verifyHost: "sni.example.test",
          sni: "sni.example.test",
        });
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        assert.equal(find(evs, "secure").servername, "sni.example.test");
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    await interopStep(
      t,
      {
        peer: "nodeClient",
        rows: ["SNI sent by the peer, seen by denossl (`getServername()`, SNI callback)"],
      },
      "Node tls client's servername reaches denossl server's SNI callback, which switches to the certificate for that name; Node verifies it — 16 KiB both ways",
      async (scope) => {
        using alt = pki.ca.issue({ dns: ["sni.example.test"] });
        using altCtx = serverContext(alt);
        using ctx = serverContext(pki.server);
        const seen = switchOnServername(ctx, "sni.example.test", altCtx);
        const l = denosslListener(scope);
        const peer = nodeClient(scope, l.port, {
          ca: pki.ca.certPEM,
          servername: "sni.example.test",
          send: N,
          expect: N,
        });
        const conn = await l.accept(ctx);
        await conn.handshake();
        const servername = conn.getServername();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        const secure = find(evs, "secure");
        assert.deepEqual(seen, ["sni.example.test"]);
        assert.equal(servername, "sni.example.test");
        assert.equal(secure.authorized, true, secure.authorizationError ?? "");
        assert.equal(secure.peerCN, "sni.example.test"); // not the default leaf's localhost
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    for (
      const [label, version, pinned] of [
        ["TLS 1.2", "TLSv1.2", { max: TLS1_2_VERSION }],
        ["TLS 1.3", "TLSv1.3", { min: TLS1_3_VERSION }],
      ] as const
    ) {
      await interopStep(
        t,
        { peer: "nodeServer", rows: [`Session resumption, ${label}`] },
        `denossl client resumes a ${label} session with a Node tls server (getSession/setSession): sessionReused() and Node's isSessionReused() agree — 16 KiB both ways twice`,
        async (scope) => {
          const peer = await nodeServer(scope, {
            ...certAndKey(pki.server),
            connections: 2,
            send: N,
            expect: N,
          });
          using ctx = clientContext(pki.ca.certPEM, pinned);
          const saved: { session: Session | null } = { session: null };
          const reused: boolean[] = [];
          const ios = [];
          for (let i = 0; i < 2; i++) {
            const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
            if (saved.session) conn.setSession(saved.session);
            const info = await conn.handshake();
            info.peerCertificate?.close();
            assert.equal(info.protocol, version);
            reused.push(conn.sessionReused());
            const payload = randomBytes(N);
            const got = await exchange(conn, payload, N);
            // Node's server sends its TLS 1.3 tickets after the data it wrote first: take
            // the session once everything up to Node's close_notify was read
            saved.session?.close();
            await closeAfterPeer(conn, () => saved.session = conn.getSession());
            ios.push({ sentSha: await sha256(payload), receivedSha: await sha256(got) });
          }
          saved.session?.close();
          const evs = await events(peer);
          assert.deepEqual(reused, [false, true]);
          assert.deepEqual(all(evs, "secure").map((e) => e.reused), [false, true]);
          const done = all(evs, "done");
          assertIntegrity(done[0]!, ios[0]!, N);
          assertIntegrity(done[1]!, ios[1]!, N);
        },
      );

      await interopStep(
        t,
        { peer: "nodeClient", rows: [`Session resumption, ${label}`] },
        `a Node tls client resumes a ${label} session (its session option) with a denossl server on the same Context: isSessionReused() and sessionReused() agree — 16 KiB both ways twice`,
        async (scope) => {
          using ctx = serverContext(pki.server, pinned);
          const l = denosslListener(scope);
          const peer = nodeClient(scope, l.port, {
            ca: pki.ca.certPEM,
            servername: "localhost",
            connections: 2,
            send: N,
            expect: N,
          });
          const reused: boolean[] = [];
          const ios = [];
          for (let i = 0; i < 2; i++) {
            const conn = await l.accept(ctx);
            const info = await conn.handshake();
            assert.equal(info.protocol, version);
            reused.push(conn.sessionReused());
            ios.push(await roundTrip(conn, N));
          }
          const evs = await events(peer);
          assert.deepEqual(reused, [false, true]);
          assert.deepEqual(all(evs, "secure").map((e) => e.reused), [false, true]);
          const done = all(evs, "done");
          assertIntegrity(done[0]!, ios[0]!, N);
          assertIntegrity(done[1]!, ios[1]!, N);
        },
      );
    }

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["OCSP stapling (the peer's DER response, byte for byte)"] },
      "denossl client's requestOcsp() gets the openssl ocsp response a Node tls server staples from its OCSPRequest event, byte for byte — 16 KiB both ways",
      async (scope) => {
        const ocsp = await ocspResponse(scope, pki);
        const peer = await nodeServer(scope, {
          ...certAndKey(pki.server),
          ocsp: encodeBase64(ocsp.der),
          send: N,
          expect: N,
        });
        using ctx = clientContext(pki.ca.certPEM);
        const stapled: Uint8Array[] = [];
        ctx.setOcspClientCallback((_conn, der) => {
          stapled.push(der.slice());
          return der.length > 0;
        });
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        conn.requestOcsp();
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        assert.equal(stapled.length, 1);
        assert.deepEqual(stapled[0], ocsp.der);
        assert.equal(find(evs, "secure").protocol, info.protocol);
        assertIntegrity(find(evs, "done"), io, N);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["OCSP stapling (the peer's DER response, byte for byte)"] },
      "denossl server staples an openssl ocsp response that a Node tls client (requestOCSP) gets byte for byte in its OCSPResponse event — 16 KiB both ways",
      async (scope) => {
        const ocsp = await ocspResponse(scope, pki);
        using ctx = serverContext(pki.server);
        let asked = 0;
        ctx.setOcspServerCallback(() => {
          asked++;
          return ocsp.der;
        });
        const l = denosslListener(scope);
        const peer = nodeClient(scope, l.port, {
          ca: pki.ca.certPEM,
          servername: "localhost",
          requestOCSP: true,
          send: N,
          expect: N,
        });
        const conn = await l.accept(ctx);
        await conn.handshake();
        const io = await roundTrip(conn, N);
        const evs = await events(peer);
        assert.equal(asked, 1);
        assert.equal(find(evs, "ocsp").der, encodeBase64(ocsp.der));
        assertIntegrity(find(evs, "done"), io, N);
      },
    );
  } finally {
    pki.close();
  }
});

Deno.test("denossl ↔ Node tls: mutual TLS and legacy versions", async (t) => {
  const pki = makePki("ec");
  const rsa = makePki("rsa");
  try {
    await interopStep(
      t,
      {
        peer: "nodeServer",
        rows: ["mTLS: denossl presents a client certificate, the peer checks it"],
      },
      "denossl client presents a client certificate that a Node tls server (requestCert, rejectUnauthorized) checks with getPeerCertificate() — 1 KiB both ways",
      async (scope) => {
        const peer = await nodeServer(scope, {
          ...certAndKey(pki.server),
          ca: pki.ca.certPEM,
          requestCert: true,
          rejectUnauthorized: true,
          send: 1024,
          expect: 1024,
        });
        using ctx = clientContext(pki.ca.certPEM, { cert: pki.client });
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const io = await roundTrip(conn, 1024);
        const evs = await events(peer);
        const secure = find(evs, "secure");
        assert.equal(secure.authorized, true, secure.authorizationError ?? "");
        assert.equal(secure.peerCN, "alice");
        assert.equal(secure.cipher, info.cipher);
        assertIntegrity(find(evs, "done"), io, 1024);
      },
    );

    await interopStep(
      t,
      {
        peer: "nodeClient",
        rows: ["mTLS: denossl requires a client certificate, reads the peer's"],
      },
      "denossl server requires a client certificate and reads a Node tls client's — 1 KiB both ways",
      async (scope) => {
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const l = denosslListener(scope);
        const peer = nodeClient(scope, l.port, {
          ca: pki.ca.certPEM,
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
          servername: "localhost",
          send: 1024,
          expect: 1024,
        });
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const io = await roundTrip(conn, 1024);
        const evs = await events(peer);
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
        assert.equal(find(evs, "secure").cipher, info.cipher);
        assertIntegrity(find(evs, "done"), io, 1024);
      },
    );

    for (const [label, nodeVersion] of [["TLS 1.0", "TLSv1"], ["TLS 1.1", "TLSv1.1"]] as const) {
      const legacy = {
        minVersion: nodeVersion,
        maxVersion: nodeVersion,
        ciphers: "DEFAULT:@SECLEVEL=0",
      };
      await interopStep(
        t,
        {
          peer: "nodeServer",
          rows: ["Legacy TLS 1.0 / 1.1 refused by default, with a clear error"],
        },
        `connectTls() with its defaults refuses a ${label}-only Node tls server with SSLError (protocol version); Node reports it`,
        async (scope) => {
          const peer = await nodeServer(scope, { ...certAndKey(rsa.server), ...legacy, expect: 1 });
          const error = await connectTls({
            hostname: "127.0.0.1",
            port: peer.port,
            serverName: "localhost",
            caCerts: [rsa.ca.certPEM],
          }).then((c) => {
            c.close();
            return null;
          }, (e) => e);
          const evs = await events(peer);
          assert.ok(error instanceof SSLError, String(error));
          assert.match((error as Error).message, /protocol version|unsupported protocol/);
          assert.match(find(evs, "error").message ?? "", /unsupported protocol|protocol version/);
        },
      );
      await interopStep(
        t,
        { peer: "nodeServer", rows: ["Legacy TLS 1.0 / 1.1 reached when asked explicitly"] },
        `connectTls({ minVersion: "TLSv1", unsafelyAllowLegacyProtocols: true }) reaches a ${label}-only Node tls server; both sides report ${nodeVersion} — 1 KiB both ways`,
        async (scope) => {
          const peer = await nodeServer(scope, {
            ...certAndKey(rsa.server),
            ...legacy,
            send: 1024,
            expect: 1024,
          });
          const conn = await connectTls({
            hostname: "127.0.0.1",
            port: peer.port,
            serverName: "localhost",
            caCerts: [rsa.ca.certPEM],
            minVersion: "TLSv1",
            unsafelyAllowLegacyProtocols: true,
          });
          scope.defer(() => conn[Symbol.asyncDispose]());
          const info = await conn.handshake();
          info.peerCertificate?.close();
          const io = await roundTrip(conn, 1024);
          const evs = await events(peer);
          const secure = find(evs, "secure");
          assert.equal(info.protocol, nodeVersion);
          assert.equal(secure.protocol, nodeVersion);
          assert.equal(secure.cipher, info.cipher);
          assertIntegrity(find(evs, "done"), io, 1024);
        },
      );
      await interopStep(
        t,
        {
          peer: "nodeClient",
          rows: ["Legacy TLS 1.0 / 1.1 refused by default, with a clear error"],
        },
        `listenTls() with its defaults refuses a ${label}-only Node tls client with SSLError (unsupported protocol); Node reports protocol version`,
        async (scope) => {
          const listener = listenTls({
            hostname: "127.0.0.1",
            port: 0,
            cert: rsa.server.chainPEM,
            key: rsa.server.keyPEM,
          });
          scope.defer(() => listener.close());
          const peer = nodeClient(scope, listener.addr.port, {
            ca: rsa.ca.certPEM,
            servername: "localhost",
            ...legacy,
            expect: 1,
          });
          const conn = await listener.accept();
          scope.defer(() => conn[Symbol.asyncDispose]());
          const error = await conn.handshake().then(() => null, (e) => e);
          await conn[Symbol.asyncDispose]();
          const evs = await events(peer);
          assert.ok(error instanceof SSLError, String(error));
          assert.match((error as Error).message, /unsupported protocol|protocol version/);
          assert.match(find(evs, "error").message ?? "", /protocol version/);
        },
      );
      await interopStep(
        t,
        { peer: "nodeClient", rows: ["Legacy TLS 1.0 / 1.1 reached when asked explicitly"] },
        `listenTls({ minVersion: "TLSv1", unsafelyAllowLegacyProtocols: true }) serves a ${label}-only Node tls client; both sides report ${nodeVersion} — 1 KiB both ways`,
        async (scope) => {
          const listener = listenTls({
            hostname: "127.0.0.1",
            port: 0,
            cert: rsa.server.chainPEM,
            key: rsa.server.keyPEM,
            minVersion: "TLSv1",
            unsafelyAllowLegacyProtocols: true,
          });
          scope.defer(() => listener.close());
          const peer = nodeClient(scope, listener.addr.port, {
            ca: rsa.ca.certPEM,
            servername: "localhost",
            ...legacy,
            send: 1024,
            expect: 1024,
          });
          const conn = await listener.accept();
          scope.defer(() => conn[Symbol.asyncDispose]());
          const info = await conn.handshake();
          const io = await roundTrip(conn, 1024);
          const evs = await events(peer);
          const secure = find(evs, "secure");
          assert.equal(info.protocol, nodeVersion);
          assert.equal(secure.protocol, nodeVersion);
          assert.equal(secure.cipher, info.cipher);
          assert.equal(secure.authorized, true, secure.authorizationError ?? "");
          assertIntegrity(find(evs, "done"), io, 1024);
        },
      );
    }
  } finally {
    rsa.close();
    pki.close();
  }
});

/** The handshake and first read of a failing case: the error, or null at EOF. */
async function outcome(conn: {
  handshake(): Promise<unknown>;
  read(p: Uint8Array): Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}): Promise<unknown> {
  // TLS 1.3: a server's refusal of the client's certificate comes after the client's handshake
  const result = await conn.handshake().then(() => conn.read(new Uint8Array(16))).then(
    (n) => n,
    (e) => e,
  );
  await conn[Symbol.asyncDispose]();
  return result;
}

/** A denossl client's failing case against a Node server started with `cfg`. */
async function failingClient(
  scope: Scope,
  cfg: Record<string, unknown>,
  ctx: Parameters<typeof dial>[1],
  verifyHost = "localhost",
): Promise<{ error: unknown; evs: NodeEvent[] }> {
  const peer = await nodeServer(scope, { expect: 1, ...cfg });
  const error = await outcome(await dial(scope, ctx, peer.port, { verifyHost }));
  return { error, evs: await events(peer) };
}

/** A denossl server's failing case against a Node client started with `cfg`. */
async function failingServer(
  scope: Scope,
  ctx: Parameters<typeof dial>[1],
  cfg: Record<string, unknown>,
): Promise<{ error: unknown; evs: NodeEvent[] }> {
  const l = denosslListener(scope);
  const peer = nodeClient(scope, l.port, { servername: "localhost", expect: 1, ...cfg });
  const error = await outcome(await l.accept(ctx));
  return { error, evs: await events(peer) };
}

/** A Node client refused the denossl server's certificate after its handshake: no alert, the connection ends. */
function assertConnectionEnded(error: unknown): void {
  assert.ok(
    error === null || error instanceof SysCallError || error instanceof SSLError,
    String(error),
  );
}

Deno.test("denossl ↔ Node tls: failures as Node reports them, never a hang", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  const required = { caPEM: pki.ca.certPEM, verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT };
  try {
    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: client certificate missing"] },
      "Node tls server requiring a client certificate refuses denossl client without one; denossl reads the alert as SSLError (certificate required)",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, evs } = await failingClient(scope, {
          ...certAndKey(pki.server),
          ca: pki.ca.certPEM,
          requestCert: true,
          rejectUnauthorized: true,
        }, ctx);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /certificate required/);
        assert.match(find(evs, "error").message ?? "", /peer did not return a certificate/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: client certificate missing"] },
      "denossl server requiring a client certificate refuses a Node tls client without one with SSLError; Node reports certificate required",
      async (scope) => {
        using ctx = serverContext(pki.server, required);
        const { error, evs } = await failingServer(scope, ctx, { ca: pki.ca.certPEM });
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /peer did not return a certificate/);
        assert.match(find(evs, "error").message ?? "", /certificate required/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: certificate from an untrusted CA"] },
      "denossl server refuses a Node tls client's certificate from another CA with VerificationError; Node reports unknown ca",
      async (scope) => {
        using ctx = serverContext(pki.server, required);
        const { error, evs } = await failingServer(scope, ctx, {
          ca: pki.ca.certPEM,
          cert: other.client.chainPEM,
          key: other.client.keyPEM,
        });
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok([20, 21].includes(error.verifyCode), `${error.verifyCode}`);
        assert.match(find(evs, "error").message ?? "", /unknown ca/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: certificate from an untrusted CA"] },
      "Node tls client rejects denossl server's certificate from an untrusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE) and denossl sees the connection end",
      async (scope) => {
        using ctx = serverContext(other.server);
        const { error, evs } = await failingServer(scope, ctx, { ca: pki.ca.certPEM });
        assert.equal(find(evs, "error").code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
        assertConnectionEnded(error);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: certificate from an untrusted CA"] },
      "denossl client rejects a Node tls server's certificate from an untrusted CA with VerificationError; Node reports unknown ca",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, evs } = await failingClient(scope, { ...certAndKey(other.server) }, ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok([20, 21].includes(error.verifyCode), `${error.verifyCode}`);
        assert.match(find(evs, "error").message ?? "", /unknown ca/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: certificate for another name"] },
      "denossl client rejects a Node tls server's certificate for another name with VerificationError 62; Node reports the alert",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, evs } = await failingClient(
          scope,
          { ...certAndKey(pki.server) },
          ctx,
          "other.test",
        );
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 62);
        assert.match(find(evs, "error").message ?? "", /alert/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: certificate for another name"] },
      "Node tls client (servername other.test) rejects denossl server's certificate (ERR_TLS_CERT_ALTNAME_INVALID) and denossl sees the connection end",
      async (scope) => {
        using ctx = serverContext(pki.server);
        const { error, evs } = await failingServer(scope, ctx, {
          ca: pki.ca.certPEM,
          servername: "other.test",
        });
        assert.equal(find(evs, "error").code, "ERR_TLS_CERT_ALTNAME_INVALID");
        assertConnectionEnded(error);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: expired certificate"] },
      "denossl client rejects a Node tls server's expired certificate with VerificationError 10; Node reports certificate expired",
      async (scope) => {
        using expired = expiredLeaf(pki);
        using ctx = clientContext(pki.ca.certPEM);
        const { error, evs } = await failingClient(scope, { ...certAndKey(expired) }, ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 10);
        assert.match(find(evs, "error").message ?? "", /certificate expired/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: expired certificate"] },
      "Node tls client rejects denossl server's expired certificate (CERT_HAS_EXPIRED) and denossl sees the connection end",
      async (scope) => {
        using expired = expiredLeaf(pki);
        using ctx = serverContext(expired);
        const { error, evs } = await failingServer(scope, ctx, { ca: pki.ca.certPEM });
        assert.equal(find(evs, "error").code, "CERT_HAS_EXPIRED");
        assertConnectionEnded(error);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: no shared cipher"] },
      "denossl client and a Node tls server with no cipher in common fail with SSLError (handshake failure); Node reports no shared cipher",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, {
          max: TLS1_2_VERSION,
          cipherList: "ECDHE-ECDSA-CHACHA20-POLY1305",
        });
        const { error, evs } = await failingClient(scope, {
          ...certAndKey(pki.server),
          maxVersion: "TLSv1.2",
          ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256",
        }, ctx);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /handshake failure/);
        assert.match(find(evs, "error").message ?? "", /no shared cipher/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: no shared cipher"] },
      "denossl server and a Node tls client with no cipher in common: denossl's SSLError says no shared cipher; Node reports handshake failure",
      async (scope) => {
        using ctx = serverContext(pki.server, {
          max: TLS1_2_VERSION,
          cipherList: "ECDHE-ECDSA-CHACHA20-POLY1305",
        });
        const { error, evs } = await failingServer(scope, ctx, {
          ca: pki.ca.certPEM,
          maxVersion: "TLSv1.2",
          ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256",
        });
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /no shared cipher/);
        assert.match(find(evs, "error").message ?? "", /handshake failure/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: protocol version mismatch"] },
      "denossl client requiring TLS 1.3 and a Node tls server capped at TLS 1.2 fail with SSLError (protocol version); Node reports it",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, { min: TLS1_3_VERSION });
        const { error, evs } = await failingClient(scope, {
          ...certAndKey(pki.server),
          maxVersion: "TLSv1.2",
        }, ctx);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /protocol version/);
        assert.match(find(evs, "error").message ?? "", /unsupported protocol/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: protocol version mismatch"] },
      "denossl server requiring TLS 1.3 refuses a Node tls client capped at TLS 1.2 with SSLError (unsupported protocol); Node reports protocol version",
      async (scope) => {
        using ctx = serverContext(pki.server, { min: TLS1_3_VERSION });
        const { error, evs } = await failingServer(scope, ctx, {
          ca: pki.ca.certPEM,
          maxVersion: "TLSv1.2",
        });
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /unsupported protocol|protocol version/);
        assert.match(find(evs, "error").message ?? "", /protocol version/);
      },
    );

    await interopStep(
      t,
      { peer: "nodeServer", rows: ["Failure: peer hangs up mid-handshake"] },
      "a Node tls server that destroys the socket at its first derived key gives denossl client's handshake SysCallError (Unexpected EOF), or the transport's ConnectionReset",
      async (scope) => {
        const peer = await nodeServer(scope, { ...certAndKey(pki.server), hangup: true });
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, peer.port, { verifyHost: "localhost" });
        assertHungUp(await conn.handshake().then(() => null, (e) => e));
        peer.kill(); // a server whose only client vanished before its handshake keeps listening
        await peer.finished();
      },
    );

    await interopStep(
      t,
      { peer: "nodeClient", rows: ["Failure: peer hangs up mid-handshake"] },
      "a Node tls client that destroys the socket at its first derived key gives denossl server's handshake SysCallError (Unexpected EOF), or the transport's ConnectionReset",
      async (scope) => {
        using ctx = serverContext(pki.server);
        const l = denosslListener(scope);
        const peer = nodeClient(scope, l.port, {
          ca: pki.ca.certPEM,
          servername: "localhost",
          hangup: true,
          expect: 1,
        });
        const conn = await l.accept(ctx);
        const error = await conn.handshake().then(() => null, (e) => e);
        await conn[Symbol.asyncDispose]();
        await events(peer);
        assertHungUp(error);
      },
    );
  } finally {
    other.close();
    pki.close();
  }
});

Deno.test("docs/INTEROP.md's table shows exactly what runs against Node's tls", async () => {
  await checkInteropDoc("Node", ["nodeServer", "nodeClient"]);
});
