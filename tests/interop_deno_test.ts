/**
 * Interop with Deno's own TLS (rustls): `Deno.listenTls` as the server for a
 * denossl client, `Deno.connectTls` as the client of a denossl server. rustls
 * reports only ALPN, so the negotiated parameters are denossl's view.
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
  randomBytes,
  serverContext,
  sha256,
  withDeadline,
} from "./_peers.ts";

const KEY_LABEL: Record<TestKeyType, string> = {
  rsa: "RSA 2048",
  ec: "ECDSA P-256",
  ed25519: "Ed25519",
};

const SUITES: {
  label: string;
  version: string;
  cipher: (k: TestKeyType) => string;
  o: (k: TestKeyType) => CtxOptions;
}[] = [
  {
    label: "TLS 1.3 AES-128-GCM",
    version: "TLSv1.3",
    cipher: () => "TLS_AES_128_GCM_SHA256",
    o: () => ({ min: TLS1_3_VERSION, suites: "TLS_AES_128_GCM_SHA256" }),
  },
  {
    label: "TLS 1.3 ChaCha20-Poly1305",
    version: "TLSv1.3",
    cipher: () => "TLS_CHACHA20_POLY1305_SHA256",
    o: () => ({ min: TLS1_3_VERSION, suites: "TLS_CHACHA20_POLY1305_SHA256" }),
  },
  {
    label: "TLS 1.2 AES-256-GCM",
    version: "TLSv1.2",
    cipher: (k) => `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-AES256-GCM-SHA384`,
    o: (k) => ({
      max: TLS1_2_VERSION,
      cipherList: `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-AES256-GCM-SHA384`,
    }),
  },
  {
    label: "TLS 1.2 ChaCha20-Poly1305",
    version: "TLSv1.2",
    cipher: (k) => `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-CHACHA20-POLY1305`,
    o: (k) => ({
      max: TLS1_2_VERSION,
      cipherList: `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-CHACHA20-POLY1305`,
    }),
  },
];

/** Echo of `n` bytes back with a different payload, then close_notify (Deno's close). */
async function denoSide(
  conn: Deno.TlsConn,
  n: number,
): Promise<{ received: Uint8Array<ArrayBuffer>; sent: Uint8Array<ArrayBuffer> }> {
  try {
    await conn.handshake();
    const sent = randomBytes(n);
    const received = await exchange(conn, sent, n);
    await conn.closeWrite();
    return { received, sent };
  } finally {
    // wait for denossl's close before closing, so nothing unread triggers a reset
    await conn.read(new Uint8Array(1)).catch(() => null);
    conn.close();
  }
}

Deno.test("denossl client ↔ Deno.listenTls (rustls)", async (t) => {
  for (const keyType of ["rsa", "ec", "ed25519"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      for (const suite of SUITES) {
        const name = `interop: denossl client ↔ Deno.listenTls (rustls): ${suite.label}, ${
          KEY_LABEL[keyType]
        } — 256 KiB both ways, negotiated as pinned`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            const listener = Deno.listenTls({
              hostname: "127.0.0.1",
              port: 0,
              cert: pki.server.chainPEM,
              key: pki.server.keyPEM,
            });
            scope.defer(() => listener.close());
            const served = listener.accept().then((c) => denoSide(c, PAYLOAD_SIZE));
            served.catch(() => {});
            using ctx = clientContext(pki.ca.certPEM, suite.o(keyType));
            const conn = await dial(scope, ctx, listener.addr.port, {
              verifyHost: "localhost",
              sni: "localhost",
            });
            const info = await conn.handshake();
            const payload = randomBytes(PAYLOAD_SIZE);
            const got = await exchange(conn, payload, PAYLOAD_SIZE);
            await closeAfterPeer(conn);
            const deno = await served;
            assert.equal(info.protocol, suite.version);
            assert.equal(info.cipher, suite.cipher(keyType));
            assert.equal(await sha256(got), await sha256(deno.sent));
            assert.equal(await sha256(deno.received), await sha256(payload));
            info.peerCertificate?.close();
          }));
      }
    } finally {
      pki.close();
    }
  }
});

Deno.test("Deno.connectTls (rustls) ↔ denossl server", async (t) => {
  for (const keyType of ["rsa", "ec", "ed25519"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      for (const suite of SUITES) {
        const name = `interop: Deno.connectTls (rustls) ↔ denossl server: ${suite.label}, ${
          KEY_LABEL[keyType]
        } — 256 KiB both ways, SNI seen, negotiated as pinned`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            using ctx = serverContext(pki.server, suite.o(keyType));
            const l = denosslListener(scope);
            const client = Deno.connectTls({
              hostname: "localhost",
              port: l.port,
              caCerts: [pki.ca.certPEM],
            }).then((c) => denoSide(c, PAYLOAD_SIZE));
            client.catch(() => {});
            const conn = await l.accept(ctx);
            const info = await conn.handshake();
            const payload = randomBytes(PAYLOAD_SIZE);
            const got = await exchange(conn, payload, PAYLOAD_SIZE);
            const servername = conn.getServername();
            await closeAfterPeer(conn);
            const deno = await client;
            assert.equal(info.protocol, suite.version);
            assert.equal(info.cipher, suite.cipher(keyType));
            assert.equal(servername, "localhost");
            assert.equal(await sha256(got), await sha256(deno.sent));
            assert.equal(await sha256(deno.received), await sha256(payload));
          }));
      }
    } finally {
      pki.close();
    }
  }
});

Deno.test("denossl ↔ Deno's TLS: client certificates and failures", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  try {
    let name =
      "interop: denossl server requires a client certificate and reads the one Deno.connectTls({ cert, key }) presents";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const l = denosslListener(scope);
        const client = Deno.connectTls({
          hostname: "localhost",
          port: l.port,
          caCerts: [pki.ca.certPEM],
          cert: pki.client.chainPEM,
          key: pki.client.keyPEM,
        }).then((c) => denoSide(c, 1024));
        client.catch(() => {});
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const got = await exchange(conn, randomBytes(1024), 1024);
        await closeAfterPeer(conn);
        const deno = await client;
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
        assert.equal(await sha256(got), await sha256(deno.sent));
      }));

    name =
      "interop: Deno.connectTls rejects denossl server's certificate from an untrusted CA (invalid peer certificate); denossl reads the alert as SSLError";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = serverContext(other.server);
        const l = denosslListener(scope);
        const client = Deno.connectTls({
          hostname: "localhost",
          port: l.port,
          caCerts: [pki.ca.certPEM],
        }).then(async (c) => {
          try {
            await c.handshake();
          } finally {
            c.close();
          }
        });
        client.catch(() => {});
        const conn = await l.accept(ctx);
        const error = await conn.handshake().then(() => null, (e) => e);
        await conn[Symbol.asyncDispose]();
        const denoError = await client.then(() => null, (e) => e);
        assert.ok(denoError instanceof Error, String(denoError));
        // both test roots share a subject name, so rustls may report a bad signature
        assert.match(denoError.message, /UnknownIssuer|BadSignature/);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /unknown ca|bad certificate|decrypt error/);
      }));

    name =
      "interop: denossl client rejects Deno.listenTls's expired certificate with VerificationError 10";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using expired = pki.ca.issue({
          dns: ["localhost"],
          notBefore: new Date(Date.now() - 3 * 86_400_000),
          notAfter: new Date(Date.now() - 86_400_000),
        });
        const listener = Deno.listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: expired.chainPEM,
          key: expired.keyPEM,
        });
        scope.defer(() => listener.close());
        const served = listener.accept().then(async (c) => {
          try {
            await c.handshake();
          } finally {
            c.close();
          }
        });
        served.catch(() => {});
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, listener.addr.port, { verifyHost: "localhost" });
        const error = await conn.handshake().then(() => null, (e) => e);
        await conn[Symbol.asyncDispose]();
        await served.catch(() => {});
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 10);
      }));
  } finally {
    other.close();
    pki.close();
  }
});
