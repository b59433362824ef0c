/**
 * Interop with Deno's own TLS (rustls): `Deno.listenTls` as the server for a
 * denossl client, `Deno.connectTls` as the client of a denossl server. rustls
 * reports only ALPN, so the negotiated version and cipher are pinned on the
 * denossl side and checked there.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  connectTls,
  listenTls,
  type Session,
  SSLError,
  TLS1_1_VERSION,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS1_VERSION,
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
  exchange,
  expiredLeaf,
  interopStep,
  KEY_LABEL,
  makePki,
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

const SUITES = suites(128, 256);
const PEER_SCRIPT = new URL("./peers/deno_tls.ts", import.meta.url).pathname;
const N = 16 * 1024;

/**
 * Deno's side of a case: handshake, `n` random bytes each way, close_notify,
 * then wait for denossl's close before closing (nothing unread, no reset).
 */
async function denoSide(
  conn: Deno.TlsConn,
  n: number,
): Promise<
  { received: Uint8Array<ArrayBuffer>; sent: Uint8Array<ArrayBuffer>; alpn: string | null }
> {
  try {
    const { alpnProtocol } = await conn.handshake();
    const sent = randomBytes(n);
    const received = await exchange(conn, sent, n);
    await conn.closeWrite();
    return { received, sent, alpn: alpnProtocol };
  } finally {
    await conn.read(new Uint8Array(1)).catch(() => null);
    conn.close();
  }
}

/** Deno's side of a failing case: the handshake's error (null if it succeeded). */
async function denoHandshake(conn: Deno.TlsConn): Promise<unknown> {
  try {
    await conn.handshake();
    // TLS 1.3: a server's refusal of the client comes after the client's handshake
    await conn.read(new Uint8Array(1));
    return null;
  } catch (e) {
    return e;
  } finally {
    conn.close();
  }
}

/**
 * A `Deno.listenTls` on 127.0.0.1 that serves `accepts` connections with
 * `serve`, each as soon as it is accepted; `served[i]` is the i-th result.
 */
function denoServer<T>(
  scope: Scope,
  options: { cert: string; key: string; alpnProtocols?: string[] },
  serve: (conn: Deno.TlsConn) => Promise<T>,
  accepts = 1,
): { port: number; served: Promise<T>[] } {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...options });
  scope.defer(() => listener.close());
  const served: Promise<T>[] = [];
  let accepted: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < accepts; i++) {
    const conn = accepted.then(() => listener.accept());
    accepted = conn;
    const result = conn.then(serve);
    result.catch(() => {});
    served.push(result);
  }
  return { port: listener.addr.port, served };
}

/** Deno's TLS in a subprocess (tests/peers/deno_tls.ts), for a peer the test can kill. */
function denoPeer(scope: Scope, cfg: Record<string, unknown>): Peer {
  return scope.adopt(new Peer(Deno.execPath(), ["run", "-A", PEER_SCRIPT, JSON.stringify(cfg)]));
}

/** A `Deno.connectTls` to localhost:port, run by `use`. */
function denoClient<T>(
  port: number,
  options: { caCerts: string[]; alpnProtocols?: string[]; cert?: string; key?: string },
  use: (conn: Deno.TlsConn) => Promise<T>,
): Promise<T> {
  const { cert, key, ...rest } = options;
  const connecting = cert !== undefined && key !== undefined
    ? Deno.connectTls({ hostname: "localhost", port, ...rest, cert, key })
    : Deno.connectTls({ hostname: "localhost", port, ...rest });
  const done = connecting.then(use);
  done.catch(() => {});
  return done;
}

/** A denossl client's failing handshake against `Deno.listenTls` serving `leaf`: both errors. */
async function failingClient(
  scope: Scope,
  leaf: { chainPEM: string; keyPEM: string },
  ctx: Parameters<typeof dial>[1],
  verifyHost = "localhost",
): Promise<{ error: unknown; denoError: unknown }> {
  const deno = denoServer(scope, certAndKey(leaf), denoHandshake);
  const conn = await dial(scope, ctx, deno.port, { verifyHost });
  const error = await conn.handshake().then(() => null, (e) => e);
  await conn[Symbol.asyncDispose]();
  return { error, denoError: await deno.served[0] };
}

/** A `Deno.connectTls` (trusting the test CA) failing against a denossl server: both errors. */
async function failingServer(
  scope: Scope,
  ctx: Parameters<typeof dial>[1],
  caPEM: string,
): Promise<{ error: unknown; denoError: unknown }> {
  const l = denosslListener(scope);
  const client = denoClient(l.port, { caCerts: [caPEM] }, denoHandshake);
  const conn = await l.accept(ctx);
  const error = await conn.handshake().then(() => null, (e) => e);
  await conn[Symbol.asyncDispose]();
  return { error, denoError: await client };
}

/** denossl's share: `n` bytes each way with the Deno side, then close after Deno's close_notify. */
async function roundTrip(
  conn: Parameters<typeof exchange>[0] & Parameters<typeof closeAfterPeer>[0],
  deno: Promise<{ received: Uint8Array<ArrayBuffer>; sent: Uint8Array<ArrayBuffer> }>,
  n: number,
  beforeClose?: () => void,
): Promise<void> {
  const payload = randomBytes(n);
  const got = await exchange(conn, payload, n);
  await closeAfterPeer(conn, beforeClose);
  const other = await deno;
  assert.equal(got.length, n);
  assert.equal(await sha256(got), await sha256(other.sent));
  assert.equal(await sha256(other.received), await sha256(payload));
}

Deno.test("denossl client ↔ Deno.listenTls (rustls)", async (t) => {
  await eachSuite(SUITES, (pki, suite, keyType) =>
    interopStep(
      t,
      { peer: "denoServer", rows: [suiteRow(suite, keyType)] },
      `denossl client ↔ Deno.listenTls (rustls): ${suite.label}, ${
        KEY_LABEL[keyType]
      } — 256 KiB both ways, negotiated as pinned`,
      async (scope) => {
        const deno = denoServer(
          scope,
          certAndKey(pki.server),
          (c) => denoSide(c, PAYLOAD_SIZE),
        );
        using ctx = clientContext(pki.ca.certPEM, pinContext(suite, keyType));
        const conn = await dial(scope, ctx, deno.port, {
          verifyHost: "localhost",
          sni: "localhost",
        });
        const info = await conn.handshake();
        info.peerCertificate?.close();
        await roundTrip(conn, deno.served[0]!, PAYLOAD_SIZE);
        assert.equal(info.protocol, suite.version);
        assert.equal(info.cipher, suite.cipher(keyType));
      },
    ));
});

Deno.test("Deno.connectTls (rustls) ↔ denossl server", async (t) => {
  await eachSuite(SUITES, (pki, suite, keyType) =>
    interopStep(
      t,
      { peer: "denoClient", rows: [suiteRow(suite, keyType)] },
      `Deno.connectTls (rustls) ↔ denossl server: ${suite.label}, ${
        KEY_LABEL[keyType]
      } — 256 KiB both ways, SNI seen, negotiated as pinned`,
      async (scope) => {
        using ctx = serverContext(pki.server, pinContext(suite, keyType));
        const l = denosslListener(scope);
        const client = denoClient(
          l.port,
          { caCerts: [pki.ca.certPEM] },
          (c) => denoSide(c, PAYLOAD_SIZE),
        );
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const servername = conn.getServername();
        await roundTrip(conn, client, PAYLOAD_SIZE);
        assert.equal(info.protocol, suite.version);
        assert.equal(info.cipher, suite.cipher(keyType));
        assert.equal(servername, "localhost");
      },
    ));
});

Deno.test("denossl ↔ Deno's TLS: ALPN, SNI, resumption, connectTls and listenTls", async (t) => {
  const pki = makePki("ec");
  try {
    await interopStep(
      t,
      { peer: "denoServer", rows: ["ALPN agrees on `h2`, seen by both sides"] },
      "denossl client offering ALPN h2, http/1.1 agrees on h2 with Deno.listenTls({ alpnProtocols }); both handshake() results say h2 — 16 KiB both ways",
      async (scope) => {
        const deno = denoServer(scope, {
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          alpnProtocols: ["h2", "http/1.1"],
        }, (c) => denoSide(c, N));
        using ctx = clientContext(pki.ca.certPEM);
        ctx.setAlpnProtos(["h2", "http/1.1"]);
        const conn = await dial(scope, ctx, deno.port, { verifyHost: "localhost" });
        const info = await conn.handshake();
        info.peerCertificate?.close();
        await roundTrip(conn, deno.served[0]!, N);
        assert.equal(info.alpnProtocol, "h2");
        assert.equal((await deno.served[0]!).alpn, "h2");
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["ALPN agrees on `h2`, seen by both sides"] },
      "Deno.connectTls({ alpnProtocols: [h2, http/1.1] }) agrees on h2 with denossl server's select callback, which sees Deno's list — 16 KiB both ways",
      async (scope) => {
        using ctx = serverContext(pki.server);
        const offered: string[][] = [];
        ctx.setAlpnSelectCallback((_conn, protos) => {
          offered.push([...protos]);
          return "h2";
        });
        const l = denosslListener(scope);
        const client = denoClient(l.port, {
          caCerts: [pki.ca.certPEM],
          alpnProtocols: ["h2", "http/1.1"],
        }, (c) => denoSide(c, N));
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        await roundTrip(conn, client, N);
        assert.deepEqual(offered, [["h2", "http/1.1"]]);
        assert.equal(info.alpnProtocol, "h2");
        assert.equal((await client).alpn, "h2");
      },
    );

    await interopStep(
      t,
      {
        peer: "denoServer",
        rows: [
          "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
          "ALPN agrees on `http/1.1`, seen by both sides",
        ],
      },
      "connectTls({ caCerts, serverName, alpnProtocols: [http/1.1] }) to Deno.listenTls({ alpnProtocols: [h2, http/1.1] }) verifies it and agrees on http/1.1 — 16 KiB both ways",
      async (scope) => {
        const deno = denoServer(scope, {
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          alpnProtocols: ["h2", "http/1.1"],
        }, (c) => denoSide(c, N));
        const conn = await connectTls({
          hostname: "127.0.0.1",
          port: deno.port,
          serverName: "localhost",
          caCerts: [pki.ca.certPEM],
          alpnProtocols: ["http/1.1"],
        });
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        assert.equal(info.peerCertificate?.subject.commonName, "localhost");
        info.peerCertificate?.close();
        await roundTrip(conn, deno.served[0]!, N);
        assert.equal(info.alpnProtocol, "http/1.1");
        assert.equal((await deno.served[0]!).alpn, "http/1.1");
      },
    );

    await interopStep(
      t,
      {
        peer: "denoClient",
        rows: [
          "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
          "ALPN agrees on `http/1.1`, seen by both sides",
          "mTLS: denossl requires a client certificate, reads the peer's",
        ],
      },
      "listenTls({ cert, key, caCerts, requireClientCert, alpnProtocols: [h2, http/1.1] }) serves Deno.connectTls({ cert, key, alpnProtocols: [http/1.1] }) — 16 KiB both ways",
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
        const client = denoClient(listener.addr.port, {
          caCerts: [pki.ca.certPEM],
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
          alpnProtocols: ["http/1.1"],
        }, (c) => denoSide(c, N));
        const conn = await listener.accept();
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        await roundTrip(conn, client, N);
        assert.equal(info.alpnProtocol, "http/1.1");
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
        assert.equal((await client).alpn, "http/1.1");
      },
    );

    await interopStep(
      t,
      {
        peer: "denoClient",
        rows: ["SNI sent by the peer, seen by denossl (`getServername()`, SNI callback)"],
      },
      "Deno.connectTls's SNI (localhost) reaches denossl server's SNI callback, which switches from a certificate for another name to one for localhost that Deno accepts — 16 KiB both ways",
      async (scope) => {
        using wrong = pki.ca.issue({ dns: ["default.test"] });
        using ctx = serverContext(wrong);
        using localCtx = serverContext(pki.server);
        const seen = switchOnServername(ctx, "localhost", localCtx);
        const l = denosslListener(scope);
        const client = denoClient(l.port, { caCerts: [pki.ca.certPEM] }, (c) => denoSide(c, N));
        const conn = await l.accept(ctx);
        await conn.handshake();
        await roundTrip(conn, client, N);
        assert.deepEqual(seen, ["localhost"]);
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
        { peer: "denoServer", rows: [`Session resumption, ${label}`] },
        `denossl client resumes a ${label} session with Deno.listenTls (getSession/setSession, sessionReused(); rustls does not report it) — 16 KiB both ways twice`,
        async (scope) => {
          const deno = denoServer(
            scope,
            certAndKey(pki.server),
            (c) => denoSide(c, N),
            2,
          );
          using ctx = clientContext(pki.ca.certPEM, pinned);
          const saved: { session: Session | null } = { session: null };
          const reused: boolean[] = [];
          for (let i = 0; i < 2; i++) {
            const conn = await dial(scope, ctx, deno.port, { verifyHost: "localhost" });
            if (saved.session) conn.setSession(saved.session);
            const info = await conn.handshake();
            info.peerCertificate?.close();
            assert.equal(info.protocol, version);
            reused.push(conn.sessionReused());
            saved.session?.close();
            // the TLS 1.3 tickets are read by then
            await roundTrip(conn, deno.served[i]!, N, () => {
              saved.session = conn.getSession();
            });
          }
          saved.session?.close();
          assert.deepEqual(reused, [false, true]);
        },
      );
    }
  } finally {
    pki.close();
  }
});

Deno.test("denossl ↔ Deno's TLS: client certificates and failures, never a hang", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  const required = { caPEM: pki.ca.certPEM, verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT };
  try {
    await interopStep(
      t,
      {
        peer: "denoClient",
        rows: ["mTLS: denossl requires a client certificate, reads the peer's"],
      },
      "denossl server requires a client certificate and reads the one Deno.connectTls({ cert, key }) presents — 1 KiB both ways",
      async (scope) => {
        using ctx = serverContext(pki.server, required);
        const l = denosslListener(scope);
        const client = denoClient(l.port, {
          caCerts: [pki.ca.certPEM],
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
        }, (c) => denoSide(c, 1024));
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        await roundTrip(conn, client, 1024);
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: client certificate missing"] },
      "denossl server requiring a client certificate refuses Deno.connectTls without one with SSLError; rustls reports the alert",
      async (scope) => {
        using ctx = serverContext(pki.server, required);
        const { error, denoError } = await failingServer(scope, ctx, pki.ca.certPEM);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /peer did not return a certificate/);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /CertificateRequired|HandshakeFailure/);
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: certificate from an untrusted CA"] },
      "Deno.connectTls rejects denossl server's certificate from an untrusted CA (invalid peer certificate); denossl reads the alert as SSLError",
      async (scope) => {
        using ctx = serverContext(other.server);
        const { error, denoError } = await failingServer(scope, ctx, pki.ca.certPEM);
        assert.ok(denoError instanceof Error, String(denoError));
        // both test roots share a subject name, so rustls may report a bad signature
        assert.match(denoError.message, /UnknownIssuer|BadSignature/);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /unknown ca|bad certificate|decrypt error/);
      },
    );

    await interopStep(
      t,
      { peer: "denoServer", rows: ["Failure: certificate from an untrusted CA"] },
      "denossl client rejects Deno.listenTls's certificate from an untrusted CA with VerificationError 20/21; rustls reads the alert",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, denoError } = await failingClient(scope, other.server, ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok([20, 21].includes(error.verifyCode), `${error.verifyCode}`);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /UnknownCA|BadCertificate|alert/i);
      },
    );

    await interopStep(
      t,
      { peer: "denoServer", rows: ["Failure: certificate for another name"] },
      "denossl client rejects Deno.listenTls's certificate for another name with VerificationError 62",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, denoError } = await failingClient(scope, pki.server, ctx, "other.test");
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 62);
        assert.ok(denoError instanceof Error, String(denoError));
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: certificate for another name"] },
      "Deno.connectTls to localhost rejects denossl server's certificate for other.test (not valid for name); denossl reads the alert as SSLError (bad certificate)",
      async (scope) => {
        using wrong = pki.ca.issue({ dns: ["other.test"] });
        using ctx = serverContext(wrong);
        const { error, denoError } = await failingServer(scope, ctx, pki.ca.certPEM);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /not valid for name|NotValidForName/);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /bad certificate/);
      },
    );

    await interopStep(
      t,
      { peer: "denoServer", rows: ["Failure: expired certificate"] },
      "denossl client rejects Deno.listenTls's expired certificate with VerificationError 10",
      async (scope) => {
        using expired = expiredLeaf(pki);
        using ctx = clientContext(pki.ca.certPEM);
        const { error, denoError } = await failingClient(scope, expired, ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 10);
        assert.ok(denoError instanceof Error, String(denoError));
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: expired certificate"] },
      "Deno.connectTls rejects denossl server's expired certificate (certificate expired); denossl reads the alert as SSLError (certificate expired)",
      async (scope) => {
        using expired = expiredLeaf(pki);
        using ctx = serverContext(expired);
        const { error, denoError } = await failingServer(scope, ctx, pki.ca.certPEM);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /certificate expired|Expired/);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /certificate expired/);
      },
    );

    // rustls implements no CBC suite: a TLS 1.2 CBC-only denossl side has nothing in common
    const cbcOnly = { max: TLS1_2_VERSION, cipherList: "ECDHE-ECDSA-AES128-SHA256" };

    await interopStep(
      t,
      { peer: "denoServer", rows: ["Failure: no shared cipher"] },
      "denossl client offering only a TLS 1.2 CBC suite and Deno.listenTls (rustls, AEAD only) fail: denossl SSLError (handshake failure), rustls reports no common suite",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, cbcOnly);
        const { error, denoError } = await failingClient(scope, pki.server, ctx);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /handshake failure/);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /no ciphersuites in common|NoCipherSuitesInCommon/i);
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: no shared cipher"] },
      "denossl server allowing only a TLS 1.2 CBC suite refuses Deno.connectTls (rustls, AEAD only): denossl's SSLError says no shared cipher; rustls reports the alert",
      async (scope) => {
        using ctx = serverContext(pki.server, cbcOnly);
        const { error, denoError } = await failingServer(scope, ctx, pki.ca.certPEM);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /no shared cipher/);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /HandshakeFailure/);
      },
    );

    // rustls implements TLS 1.2 and 1.3 only
    const legacyOnly = {
      min: TLS1_VERSION,
      max: TLS1_1_VERSION,
      securityLevel: 0,
      cipherList: "ALL:@SECLEVEL=0",
    };

    await interopStep(
      t,
      { peer: "denoServer", rows: ["Failure: protocol version mismatch"] },
      "denossl client capped at TLS 1.1 and Deno.listenTls (rustls: TLS 1.2+) fail: rustls refuses the ClientHello and alerts handshake failure, denossl reads it as SSLError",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, legacyOnly);
        const { error, denoError } = await failingClient(scope, pki.server, ctx);
        assert.ok(denoError instanceof Error, String(denoError));
        // rustls refuses a TLS 1.1 ClientHello for its missing signature_algorithms extension
        assert.match(denoError.message, /version|SignatureAlgorithmsExtensionRequired/i);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /handshake failure|protocol version/);
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: protocol version mismatch"] },
      "denossl server capped at TLS 1.1 refuses Deno.connectTls (rustls: TLS 1.2+) with SSLError (unsupported protocol); rustls reports protocol version",
      async (scope) => {
        using ctx = serverContext(pki.server, legacyOnly);
        const { error, denoError } = await failingServer(scope, ctx, pki.ca.certPEM);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /unsupported protocol|protocol version/);
        assert.ok(denoError instanceof Error, String(denoError));
        assert.match(denoError.message, /ProtocolVersion/);
      },
    );

    await interopStep(
      t,
      { peer: "denoServer", rows: ["Failure: peer hangs up mid-handshake"] },
      "a Deno.listenTls process killed after the TCP connect gives denossl client's handshake SysCallError (Unexpected EOF), or the transport's ConnectionReset",
      async (scope) => {
        const peer = denoPeer(scope, { role: "server", ...certAndKey(pki.server) });
        const port = Number((await peer.waitFor("stdout", /"port":(\d+)/))[1]);
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
        peer.kill();
        await peer.finished();
        assertHungUp(await conn.handshake().then(() => null, (e) => e));
      },
    );

    await interopStep(
      t,
      { peer: "denoClient", rows: ["Failure: peer hangs up mid-handshake"] },
      "a Deno.connectTls process killed after the TCP connect gives denossl server's handshake SysCallError (Unexpected EOF), or the transport's ConnectionReset",
      async (scope) => {
        using ctx = serverContext(pki.server);
        const l = denosslListener(scope);
        const peer = denoPeer(scope, { role: "client", port: l.port, caCerts: [pki.ca.certPEM] });
        const conn = await l.accept(ctx);
        peer.kill();
        await peer.finished();
        assertHungUp(await conn.handshake().then(() => null, (e) => e));
      },
    );
  } finally {
    other.close();
    pki.close();
  }
});

Deno.test("docs/INTEROP.md's table shows exactly what runs against Deno's TLS", async () => {
  await checkInteropDoc("Deno", ["denoServer", "denoClient"]);
});
