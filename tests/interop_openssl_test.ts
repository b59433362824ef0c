/**
 * Interop with the `openssl` CLI: denossl as a client of `s_server`, and as a
 * server for `s_client`. Every case runs under a deadline that kills the peer.
 */

import assert from "node:assert/strict";
import {
  SSLError,
  SysCallError,
  type TestKeyType,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS1_VERSION,
  VerificationError,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
} from "../mod.ts";
import {
  clientContext,
  denosslListener,
  dial,
  exchange,
  field,
  freePort,
  makePki,
  PAYLOAD_SIZE,
  Peer,
  pemDir,
  randomBytes,
  type Scope,
  serverContext,
  sha256,
  utf8,
  withDeadline,
} from "./_peers.ts";

interface Suite {
  label: string;
  version: "TLSv1.2" | "TLSv1.3";
  cipher: (keyType: TestKeyType) => string;
}

const SUITES: Suite[] = [
  { label: "TLS 1.3 AES-128-GCM", version: "TLSv1.3", cipher: () => "TLS_AES_128_GCM_SHA256" },
  {
    label: "TLS 1.3 ChaCha20-Poly1305",
    version: "TLSv1.3",
    cipher: () => "TLS_CHACHA20_POLY1305_SHA256",
  },
  {
    label: "TLS 1.2 AES-256-GCM",
    version: "TLSv1.2",
    cipher: (k) => `ECDHE-${k === "rsa" ? "RSA" : "ECDSA"}-AES256-GCM-SHA384`,
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

/** openssl flags that pin the peer to one protocol version and cipher. */
function pin(suite: Suite, keyType: TestKeyType): string[] {
  return suite.version === "TLSv1.3"
    ? ["-tls1_3", "-ciphersuites", suite.cipher(keyType)]
    : ["-tls1_2", "-cipher", suite.cipher(keyType)];
}

/** Starts `s_server` on a free port with a certificate, stdin piped for its outgoing data. */
async function sServer(
  scope: Scope,
  cert: { certPEM: string; keyPEM: string },
  extra: string[],
): Promise<{ peer: Peer; port: number }> {
  const files = await pemDir(scope, { cert: cert.certPEM, key: cert.keyPEM });
  const port = freePort();
  const peer = scope.adopt(
    new Peer("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-naccept",
      "1",
      "-brief",
      "-cert",
      files.cert!,
      "-key",
      files.key!,
      ...extra,
    ], { stdin: true }),
  );
  await peer.listening(port, scope.signal);
  return { peer, port };
}

/** Starts `s_client` towards a port, with stdin piped for its outgoing data. */
async function sClient(scope: Scope, port: number, extra: string[]): Promise<Peer> {
  await Promise.resolve();
  return scope.adopt(
    new Peer("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-brief",
      "-ign_eof",
      "-nocommands",
      ...extra,
    ], { stdin: true }),
  );
}

Deno.test("denossl client ↔ openssl s_server", async (t) => {
  for (const keyType of ["rsa", "ec", "ed25519"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      for (const suite of SUITES) {
        const cipher = suite.cipher(keyType);
        const name = `interop: denossl client ↔ openssl s_server: ${suite.label}, ${
          KEY_LABEL[keyType]
        } — 256 KiB both ways, same protocol and cipher on both sides`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            const { peer, port } = await sServer(scope, pki.server, pin(suite, keyType));
            const fromServer = randomBytes(PAYLOAD_SIZE);
            const fromClient = randomBytes(PAYLOAD_SIZE);
            // s_server prints its summary only for a handshake it drove itself, not one an
            // SSL_write from stdin completed: feed its stdin once it reported the handshake.
            const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
            using ctx = clientContext(pki.ca.certPEM);
            const conn = await dial(scope, ctx, port, {
              verifyHost: "localhost",
              sni: "localhost",
            });
            const info = await conn.handshake();
            const exchanged = exchange(conn, fromClient, PAYLOAD_SIZE);
            exchanged.catch(() => {});
            await summary;
            peer.feed(fromServer);
            const got = await exchanged;
            await conn[Symbol.asyncDispose]();
            const out = await peer.finished();
            assert.equal(info.protocol, suite.version);
            assert.equal(info.cipher, cipher);
            assert.equal(info.peerCertificate?.subject.commonName, "localhost");
            info.peerCertificate?.close();
            assert.equal(field(out.stderr, "Protocol version"), suite.version, out.stderr);
            assert.equal(field(out.stderr, "Ciphersuite"), cipher, out.stderr);
            assert.equal(got.length, PAYLOAD_SIZE);
            assert.equal(await sha256(got), await sha256(fromServer));
            assert.equal(out.stdout.length, PAYLOAD_SIZE, out.stderr);
            assert.equal(await sha256(out.stdout), await sha256(fromClient));
          }));
      }
    } finally {
      pki.close();
    }
  }
});

Deno.test("openssl s_client ↔ denossl server", async (t) => {
  for (const keyType of ["rsa", "ec", "ed25519"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      for (const suite of SUITES) {
        const cipher = suite.cipher(keyType);
        const name = `interop: openssl s_client ↔ denossl server: ${suite.label}, ${
          KEY_LABEL[keyType]
        } — 256 KiB both ways, same protocol and cipher on both sides`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            const files = await pemDir(scope, { ca: pki.ca.certPEM });
            using ctx = serverContext(pki.server);
            const l = denosslListener(scope);
            const peer = await sClient(scope, l.port, [
              "-CAfile",
              files.ca!,
              "-verify_return_error",
              "-verify_hostname",
              "localhost",
              "-servername",
              "localhost",
              ...pin(suite, keyType),
            ]);
            const fromServer = randomBytes(PAYLOAD_SIZE);
            const fromClient = randomBytes(PAYLOAD_SIZE);
            peer.feed(fromClient);
            const conn = await l.accept(ctx);
            const info = await conn.handshake();
            const got = await exchange(conn, fromServer, PAYLOAD_SIZE);
            assert.equal(conn.getServername(), "localhost");
            await conn[Symbol.asyncDispose]();
            const out = await peer.finished();
            assert.equal(info.protocol, suite.version);
            assert.equal(info.cipher, cipher);
            assert.equal(info.peerCertificate, null);
            assert.equal(field(out.stderr, "Protocol version"), suite.version, out.stderr);
            assert.equal(field(out.stderr, "Ciphersuite"), cipher, out.stderr);
            assert.equal(field(out.stderr, "Verification"), "OK", out.stderr);
            assert.equal(await sha256(got), await sha256(fromClient));
            assert.equal(out.stdout.length, PAYLOAD_SIZE, out.stderr);
            assert.equal(await sha256(out.stdout), await sha256(fromServer));
          }));
      }
    } finally {
      pki.close();
    }
  }
});

/** A denossl client's handshake against `s_server`: what it threw and what the peer printed. */
async function failingClient(
  scope: Scope,
  cert: { certPEM: string; keyPEM: string },
  serverArgs: string[],
  ctx: Parameters<typeof dial>[1],
  dialOpts: Parameters<typeof dial>[3] = { verifyHost: "localhost" },
): Promise<{ error: unknown; stderr: string }> {
  const { peer, port } = await sServer(scope, cert, serverArgs);
  const conn = await dial(scope, ctx, port, dialOpts);
  const error = await conn.handshake().then(() => null, (e) => e);
  await conn[Symbol.asyncDispose]();
  const out = await peer.finished();
  return { error, stderr: out.stderr };
}

/** A denossl server's handshake against `s_client`: what it threw and what the peer printed. */
async function failingServer(
  scope: Scope,
  ctx: Parameters<typeof dial>[1],
  clientArgs: string[],
): Promise<{ error: unknown; stderr: string }> {
  const l = denosslListener(scope);
  const peer = await sClient(scope, l.port, clientArgs);
  const conn = await l.accept(ctx);
  const error = await conn.handshake().then(() => null, (e) => e);
  await conn[Symbol.asyncDispose]();
  await peer.endInput();
  const out = await peer.finished();
  return { error, stderr: out.stderr };
}

Deno.test("denossl ↔ openssl CLI: mutual TLS, SNI, resumption, legacy versions", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  try {
    let name =
      "interop: denossl client presents a client certificate that openssl s_server -Verify checks — 256 KiB both ways";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        const { peer, port } = await sServer(scope, pki.server, [
          "-Verify",
          "1",
          "-verify_return_error",
          "-CAfile",
          files.ca!,
        ]);
        const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
        using ctx = clientContext(pki.ca.certPEM, { cert: pki.client });
        const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
        await conn.handshake();
        const fromClient = randomBytes(PAYLOAD_SIZE);
        const fromServer = randomBytes(PAYLOAD_SIZE);
        const exchanged = exchange(conn, fromClient, PAYLOAD_SIZE);
        exchanged.catch(() => {});
        await summary;
        peer.feed(fromServer);
        const got = await exchanged;
        await conn[Symbol.asyncDispose]();
        const out = await peer.finished();
        assert.match(out.stderr, /Peer certificate: CN\s*=\s*alice/, out.stderr);
        assert.equal(await sha256(got), await sha256(fromServer));
        assert.equal(await sha256(out.stdout), await sha256(fromClient));
      }));

    name =
      "interop: denossl server requires a client certificate and reads openssl s_client's — 256 KiB both ways";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const files = await pemDir(scope, {
          ca: pki.ca.certPEM,
          cert: pki.client.certPEM,
          key: pki.client.keyPEM,
        });
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const l = denosslListener(scope);
        const peer = await sClient(scope, l.port, [
          "-CAfile",
          files.ca!,
          "-verify_return_error",
          "-cert",
          files.cert!,
          "-key",
          files.key!,
        ]);
        const fromClient = randomBytes(PAYLOAD_SIZE);
        const fromServer = randomBytes(PAYLOAD_SIZE);
        peer.feed(fromClient);
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const got = await exchange(conn, fromServer, PAYLOAD_SIZE);
        await conn[Symbol.asyncDispose]();
        const out = await peer.finished();
        assert.equal(info.peerCertificate?.subject.commonName, "alice");
        info.peerCertificate?.close();
        assert.equal(await sha256(got), await sha256(fromClient));
        assert.equal(await sha256(out.stdout), await sha256(fromServer));
      }));

    name =
      "interop: denossl server requiring a client certificate refuses openssl s_client without one; s_client reports the alert";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const { error, stderr } = await failingServer(scope, ctx, ["-CAfile", files.ca!]);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /peer did not return a certificate/);
        assert.match(stderr, /alert certificate required|alert handshake failure/, stderr);
      }));

    name =
      "interop: denossl server refuses openssl s_client's certificate from another CA with VerificationError; s_client reports unknown ca";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const files = await pemDir(scope, {
          ca: pki.ca.certPEM,
          cert: other.client.certPEM,
          key: other.client.keyPEM,
        });
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const { error, stderr } = await failingServer(scope, ctx, [
          "-CAfile",
          files.ca!,
          "-cert",
          files.cert!,
          "-key",
          files.key!,
        ]);
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok(
          [20, 21].includes(error.verifyCode),
          `${error.verifyCode} ${error.verifyMessage}`,
        );
        assert.match(stderr, /alert unknown ca/, stderr);
      }));

    name =
      "interop: denossl client's SNI makes openssl s_server -servername pick its second certificate; without SNI it gets the first";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using alt = pki.ca.issue({ dns: ["alt.test"] });
        const files = await pemDir(scope, { cert2: alt.certPEM, key2: alt.keyPEM });
        const args = ["-servername", "alt.test", "-cert2", files.cert2!, "-key2", files.key2!];
        for (const [sni, expected] of [["alt.test", "alt.test"], [undefined, "localhost"]]) {
          const { peer, port } = await sServer(scope, pki.server, args);
          using ctx = clientContext(pki.ca.certPEM);
          const conn = await dial(
            scope,
            ctx,
            port,
            sni === undefined ? { verifyHost: expected! } : { verifyHost: expected!, sni },
          );
          const info = await conn.handshake();
          assert.equal(info.peerCertificate?.subject.commonName, expected);
          info.peerCertificate?.close();
          await conn[Symbol.asyncDispose]();
          await peer.finished();
        }
      }));

    name =
      "interop: openssl s_client -servername reaches denossl server's getServername(), and s_client without it leaves null";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server);
        for (
          const [args, expected] of [[["-servername", "sni.example.test"], "sni.example.test"], [[
            "-noservername",
          ], null]] as const
        ) {
          const l = denosslListener(scope);
          const peer = await sClient(scope, l.port, ["-CAfile", files.ca!, ...args]);
          const conn = await l.accept(ctx);
          await conn.handshake();
          assert.equal(conn.getServername(), expected);
          await conn[Symbol.asyncDispose]();
          await peer.endInput();
          await peer.finished();
        }
      }));

    for (const [label, flag] of [["TLS 1.3", "-tls1_3"], ["TLS 1.2", "-tls1_2"]] as const) {
      name =
        `interop: openssl s_client -sess_out/-sess_in resumes a ${label} session with a denossl server on the same Context`;
      await t.step(name, () =>
        withDeadline(name, async (scope) => {
          const files = await pemDir(scope, { ca: pki.ca.certPEM });
          const sess = `${files.ca!}.sess`;
          using ctx = serverContext(pki.server);
          const l = denosslListener(scope);
          const seen: string[] = [];
          for (const sessArgs of [["-sess_out", sess], ["-sess_in", sess]]) {
            const peer = scope.adopt(
              new Peer("openssl", [
                "s_client",
                "-connect",
                `127.0.0.1:${l.port}`,
                "-CAfile",
                files.ca!,
                "-ign_eof",
                "-nocommands",
                flag,
                ...sessArgs,
              ], { stdin: true }),
            );
            const conn = await l.accept(ctx);
            const info = await conn.handshake();
            assert.equal(info.protocol, flag === "-tls1_3" ? "TLSv1.3" : "TLSv1.2");
            // the client reads the TLS 1.3 ticket with this reply
            await conn.write(utf8("hello\n"));
            await conn[Symbol.asyncDispose]();
            await peer.endInput();
            const out = await peer.finished();
            const text = new TextDecoder().decode(out.stdout);
            seen.push(text.match(/^(New|Reused), TLSv1\.[23]/m)?.[1] ?? "?");
            assert.match(text, /hello/);
          }
          assert.deepEqual(seen, ["New", "Reused"]);
        }));
    }

    const rsa = makePki("rsa");
    try {
      for (
        const [label, flag, version, proto] of [
          ["TLS 1.0", "-tls1", TLS1_VERSION, "TLSv1"],
          ["TLS 1.1", "-tls1_1", TLS1_VERSION + 1, "TLSv1.1"],
        ] as const
      ) {
        const args = [flag, "-cipher", "ALL:@SECLEVEL=0"];
        name =
          `interop: denossl client refuses a ${label}-only openssl s_server by default (OpenSSL's default security level rejects its SHA-1 signature) with an SSLError`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            using ctx = clientContext(rsa.ca.certPEM);
            const { error } = await failingClient(scope, rsa.server, args, ctx);
            assert.ok(error instanceof SSLError, String(error));
            assert.match((error as Error).message, /legacy sigalg disallowed or unsupported/);
          }));
        name =
          `interop: denossl client with a TLS 1.2 minimum refuses a ${label}-only openssl s_server with SSLError (protocol version); s_server reports it too`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            using ctx = clientContext(rsa.ca.certPEM, { min: TLS1_2_VERSION });
            const { error, stderr } = await failingClient(scope, rsa.server, args, ctx);
            assert.ok(error instanceof SSLError, String(error));
            assert.match((error as Error).message, /protocol version|unsupported protocol/);
            assert.match(stderr, /unsupported protocol|protocol version/, stderr);
          }));
        name =
          `interop: denossl client reaches a ${label}-only openssl s_server when asked explicitly (min version, security level 0)`;
        await t.step(name, () =>
          withDeadline(name, async (scope) => {
            const { peer, port } = await sServer(scope, rsa.server, args);
            const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
            using ctx = clientContext(rsa.ca.certPEM, {
              min: version,
              securityLevel: 0,
              cipherList: "ALL:@SECLEVEL=0",
            });
            const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
            const info = await conn.handshake();
            const exchanged = exchange(conn, utf8("ping"), 4);
            exchanged.catch(() => {});
            await summary;
            peer.feed(utf8("pong"));
            assert.equal(new TextDecoder().decode(await exchanged), "pong");
            await conn[Symbol.asyncDispose]();
            const out = await peer.finished();
            assert.equal(info.protocol, proto);
            assert.equal(field(out.stderr, "Protocol version"), proto);
            assert.equal(field(out.stderr, "Ciphersuite"), info.cipher);
            assert.equal(new TextDecoder().decode(out.stdout), "ping");
          }));
      }
    } finally {
      rsa.close();
    }
  } finally {
    other.close();
    pki.close();
  }
});

Deno.test("denossl ↔ openssl CLI: failures come out as the documented typed errors, never a hang", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  try {
    let name =
      "interop: denossl client rejects openssl s_server's certificate from an untrusted CA with VerificationError; s_server reports unknown ca";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = clientContext(other.ca.certPEM);
        const { error, stderr } = await failingClient(scope, pki.server, [], ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok(
          [20, 21].includes(error.verifyCode),
          `${error.verifyCode} ${error.verifyMessage}`,
        );
        assert.match(stderr, /alert unknown ca/, stderr);
      }));

    name =
      "interop: denossl client rejects openssl s_server's certificate for another name with VerificationError 62 (hostname mismatch)";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, stderr } = await failingClient(scope, pki.server, [], ctx, {
          verifyHost: "other.test",
        });
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 62);
        assert.match(stderr, /alert/, stderr);
      }));

    name =
      "interop: denossl client rejects openssl s_server's expired certificate with VerificationError 10; s_server reports certificate expired";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using expired = pki.ca.issue({
          dns: ["localhost"],
          notBefore: new Date(Date.now() - 3 * 86_400_000),
          notAfter: new Date(Date.now() - 86_400_000),
        });
        using ctx = clientContext(pki.ca.certPEM);
        const { error, stderr } = await failingClient(scope, expired, [], ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 10);
        assert.match(stderr, /alert certificate expired/, stderr);
      }));

    name =
      "interop: denossl client and openssl s_server with no cipher in common fail with SSLError (handshake failure); s_server reports no shared cipher";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, {
          max: TLS1_2_VERSION,
          cipherList: "ECDHE-ECDSA-CHACHA20-POLY1305",
        });
        const { error, stderr } = await failingClient(
          scope,
          pki.server,
          ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
          ctx,
        );
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /handshake failure/);
        assert.match(stderr, /no shared cipher/, stderr);
      }));

    name =
      "interop: denossl client requiring TLS 1.3 and a TLS 1.2-only openssl s_server fail with SSLError (protocol version) on both sides";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, { min: TLS1_3_VERSION });
        const { error, stderr } = await failingClient(scope, pki.server, ["-tls1_2"], ctx);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /protocol version/);
        assert.match(stderr, /unsupported protocol|protocol version/, stderr);
      }));

    name =
      "interop: denossl server requiring TLS 1.3 refuses openssl s_client -tls1_2 with SSLError; s_client reports protocol version";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        using ctx = serverContext(pki.server, { min: TLS1_3_VERSION });
        const { error, stderr } = await failingServer(scope, ctx, ["-tls1_2"]);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /unsupported protocol|protocol version/);
        assert.match(stderr, /alert protocol version/, stderr);
      }));

    name =
      "interop: openssl s_server killed after the TCP connect gives denossl client's handshake SysCallError (Unexpected EOF or ECONNRESET)";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { peer, port } = await sServer(scope, pki.server, []);
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
        peer.kill();
        await peer.finished();
        const error = await conn.handshake().then(() => null, (e) => e);
        assert.ok(error instanceof SysCallError, String(error));
        assert.ok(
          error.errno === -1 || error.code === "ECONNRESET" || error.code === "EPIPE",
          `${error.errno} ${error.code}`,
        );
      }));

    name =
      "interop: a TCP peer that reads the ClientHello and hangs up gives denossl client SysCallError errno -1 (Unexpected EOF)";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        scope.defer(() => listener.close());
        const served = (async () => {
          const tcp = await listener.accept();
          await tcp.read(new Uint8Array(16384));
          tcp.close();
        })();
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, (listener.addr as Deno.NetAddr).port);
        const error = await conn.handshake().then(() => null, (e) => e);
        await served;
        assert.ok(error instanceof SysCallError, String(error));
        assert.equal(error.errno, -1);
        assert.equal(error.message, "Unexpected EOF");
      }));
  } finally {
    other.close();
    pki.close();
  }
});
