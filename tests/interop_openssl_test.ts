/**
 * Interop with the `openssl` CLI: denossl as a client of `s_server`, and as a
 * server for `s_client`. Every case runs under a deadline that kills the peer.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  connectTls,
  type Context,
  listenTls,
  type Session,
  SSLError,
  SysCallError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS1_VERSION,
  VerificationError,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
} from "../mod.ts";
import {
  assertHungUp,
  checkInteropDoc,
  clientContext,
  denosslListener,
  dial,
  eachSuite,
  exchange,
  expiredLeaf,
  field,
  hexPayload,
  interopStep,
  KEY_LABEL,
  makePki,
  ocspResponse,
  PAYLOAD_SIZE,
  Peer,
  pemDir,
  randomBytes,
  readExactly,
  type Scope,
  serverContext,
  sha256,
  sServer,
  type Suite,
  suiteRow,
  suites,
  switchOnServername,
  utf8,
} from "./_peers.ts";

const dec = new TextDecoder();
const SUITES = suites(128, 256);

/** openssl flags that pin the peer to one protocol version and cipher. */
function pin(suite: Suite, keyType: Parameters<Suite["cipher"]>[0]): string[] {
  return suite.version === "TLSv1.3"
    ? ["-tls1_3", "-ciphersuites", suite.cipher(keyType)]
    : ["-tls1_2", "-cipher", suite.cipher(keyType)];
}

/** What s_server (without -brief) prints once a handshake is done, before any data. */
const S_SERVER_REPORTED = /Secure Renegotiation IS (NOT )?supported\n/;

/**
 * A denossl client's data exchange with a `-brief` s_server: `n` random
 * bytes each way (s_server's once it printed `summary`), then close. Checks
 * both directions and returns s_server's stderr (its summary).
 */
async function sServerRoundTrip(
  conn: Parameters<typeof exchange>[0] & { [Symbol.asyncDispose](): Promise<void> },
  peer: Peer,
  summary: Promise<unknown>,
  n: number,
): Promise<string> {
  const fromClient = randomBytes(n);
  const fromServer = randomBytes(n);
  const exchanged = exchange(conn, fromClient, n);
  exchanged.catch(() => {});
  await summary;
  peer.feed(fromServer);
  const got = await exchanged;
  await conn[Symbol.asyncDispose]();
  const out = await peer.finished();
  assert.equal(got.length, n);
  assert.equal(await sha256(got), await sha256(fromServer));
  assert.equal(out.stdout.length, n, out.stderr);
  assert.equal(await sha256(out.stdout), await sha256(fromClient));
  return out.stderr;
}

/** Starts `s_client` towards a port, with stdin piped for its outgoing data. */
function sClient(
  scope: Scope,
  port: number,
  extra: string[],
  o: { brief?: boolean } = {},
): Peer {
  return scope.adopt(
    new Peer("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      ...(o.brief === false ? [] : ["-brief"]),
      "-ign_eof",
      "-nocommands",
      ...extra,
    ], { stdin: true }),
  );
}

Deno.test("denossl client ↔ openssl s_server", async (t) => {
  await eachSuite(SUITES, (pki, suite, keyType) => {
    const cipher = suite.cipher(keyType);
    return interopStep(
      t,
      { peer: "sServer", rows: [suiteRow(suite, keyType)] },
      `denossl client ↔ openssl s_server: ${suite.label}, ${
        KEY_LABEL[keyType]
      } — 256 KiB both ways, same protocol and cipher on both sides`,
      async (scope) => {
        const { peer, port } = await sServer(scope, pki.server, pin(suite, keyType));
        // s_server prints its summary only for a handshake it drove itself, not one an
        // SSL_write from stdin completed: feed its stdin once it reported the handshake.
        const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, port, { verifyHost: "localhost", sni: "localhost" });
        const info = await conn.handshake();
        const stderr = await sServerRoundTrip(conn, peer, summary, PAYLOAD_SIZE);
        assert.equal(info.protocol, suite.version);
        assert.equal(info.cipher, cipher);
        assert.equal(info.peerCertificate?.subject.commonName, "localhost");
        info.peerCertificate?.close();
        assert.equal(field(stderr, "Protocol version"), suite.version, stderr);
        assert.equal(field(stderr, "Ciphersuite"), cipher, stderr);
      },
    );
  });
});

Deno.test("openssl s_client ↔ denossl server", async (t) => {
  await eachSuite(SUITES, (pki, suite, keyType) => {
    const cipher = suite.cipher(keyType);
    return interopStep(
      t,
      { peer: "sClient", rows: [suiteRow(suite, keyType)] },
      `openssl s_client ↔ denossl server: ${suite.label}, ${
        KEY_LABEL[keyType]
      } — 256 KiB both ways, same protocol and cipher on both sides`,
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server);
        const l = denosslListener(scope);
        const peer = sClient(scope, l.port, [
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
      },
    );
  });
});

/**
 * A denossl client's connection to a non-brief `s_server`: sends one text
 * line, waits for s_server's report, has it send another line back, reads
 * it. Returns what was received; s_server's stdout holds the line sent.
 */
async function textRoundTrip(
  conn: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> },
  peer: Peer,
  reported: Promise<unknown>,
): Promise<{ sent: string; received: string; expected: string }> {
  const sent = hexPayload(4096);
  const expected = hexPayload(4096);
  await conn.write(utf8(sent));
  await reported;
  peer.feed(utf8(expected));
  const received = dec.decode(await readExactly(conn, expected.length));
  return { sent, received, expected };
}

/** A denossl server's side of a text exchange with a non-brief `s_client` (it feeds first). */
async function serverTextRoundTrip(
  conn: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> },
  peer: Peer,
): Promise<{ sent: string; received: string; expected: string }> {
  const expected = hexPayload(4096);
  const sent = hexPayload(4096);
  peer.feed(utf8(expected));
  const received = dec.decode(await readExactly(conn, expected.length));
  await conn.write(utf8(sent));
  return { sent, received, expected };
}

Deno.test("denossl ↔ openssl CLI: ALPN, SNI, resumption, OCSP, connectTls and listenTls", async (t) => {
  const pki = makePki("ec");
  try {
    for (
      const [offer, expected] of [[["h2", "http/1.1"], "h2"], [["http/1.1"], "http/1.1"]] as const
    ) {
      await interopStep(
        t,
        { peer: "sServer", rows: [`ALPN agrees on \`${expected}\`, seen by both sides`] },
        `denossl client offering ALPN ${offer} agrees on ${expected} with openssl s_server -alpn h2,http/1.1; both sides report it — text both ways`,
        async (scope) => {
          const { peer, port } = await sServer(scope, pki.server, ["-alpn", "h2,http/1.1"], {
            brief: false,
          });
          const reported = peer.waitFor("stdout", S_SERVER_REPORTED);
          using ctx = clientContext(pki.ca.certPEM);
          ctx.setAlpnProtos(offer);
          const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
          const info = await conn.handshake();
          const io = await textRoundTrip(conn, peer, reported);
          const negotiated = conn.getAlpnProtoNegotiated();
          await conn[Symbol.asyncDispose]();
          const out = dec.decode((await peer.finished()).stdout);
          info.peerCertificate?.close();
          assert.equal(info.alpnProtocol, expected);
          assert.equal(negotiated, expected);
          assert.match(
            out,
            new RegExp(`ALPN protocols advertised by the client: ${offer.join(", ")}\n`),
          );
          assert.match(out, new RegExp(`ALPN protocols selected: ${expected}\n`), out);
          assert.equal(io.received, io.expected);
          assert.ok(out.includes(io.sent), out);
        },
      );
    }

    await interopStep(
      t,
      { peer: "sClient", rows: ["ALPN agrees on `h2`, seen by both sides"] },
      "openssl s_client -alpn h2,http/1.1 agrees on h2 with denossl server's ALPN select callback, which sees the client's list; both sides report it — text both ways",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server);
        const offered: string[][] = [];
        ctx.setAlpnSelectCallback((_conn, protos) => {
          offered.push([...protos]);
          return protos.includes("h2") ? "h2" : protos[0]!;
        });
        const l = denosslListener(scope);
        const peer = sClient(scope, l.port, ["-CAfile", files.ca!, "-alpn", "h2,http/1.1"], {
          brief: false,
        });
        const conn = await l.accept(ctx);
        const info = await conn.handshake();
        const io = await serverTextRoundTrip(conn, peer);
        await conn[Symbol.asyncDispose]();
        const out = dec.decode((await peer.finished()).stdout);
        assert.deepEqual(offered, [["h2", "http/1.1"]]);
        assert.equal(info.alpnProtocol, "h2");
        assert.match(out, /^ALPN protocol: h2$/m, out);
        assert.equal(io.received, io.expected);
        assert.ok(out.includes(io.sent), out);
      },
    );

    await interopStep(
      t,
      {
        peer: "sServer",
        rows: [
          "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
          "ALPN agrees on `http/1.1`, seen by both sides",
        ],
      },
      "connectTls({ caCerts, serverName, alpnProtocols: [http/1.1] }) to openssl s_server -alpn h2,http/1.1 verifies it and agrees on http/1.1 — 256 KiB both ways",
      async (scope) => {
        const { peer, port } = await sServer(scope, pki.server, ["-alpn", "h2,http/1.1"]);
        const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
        const conn = await connectTls({
          hostname: "127.0.0.1",
          port,
          serverName: "localhost",
          caCerts: [pki.ca.certPEM],
          alpnProtocols: ["http/1.1"],
        });
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        const stderr = await sServerRoundTrip(conn, peer, summary, PAYLOAD_SIZE);
        assert.equal(info.alpnProtocol, "http/1.1");
        assert.equal(info.peerCertificate?.subject.commonName, "localhost");
        info.peerCertificate?.close();
        assert.equal(field(stderr, "Protocol version"), info.protocol);
        assert.equal(field(stderr, "Ciphersuite"), info.cipher);
      },
    );

    await interopStep(
      t,
      {
        peer: "sClient",
        rows: [
          "denossl through `connectTls` (vs servers) / `listenTls` (vs clients)",
          "ALPN agrees on `http/1.1`, seen by both sides",
        ],
      },
      "listenTls({ cert, key, alpnProtocols: [h2, http/1.1] }) serves openssl s_client -alpn http/1.1: verified, http/1.1 on both sides — text both ways",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        const listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          alpnProtocols: ["h2", "http/1.1"],
        });
        scope.defer(() => listener.close());
        const peer = sClient(scope, listener.addr.port, [
          "-CAfile",
          files.ca!,
          "-verify_return_error",
          "-verify_hostname",
          "localhost",
          "-alpn",
          "http/1.1",
        ], { brief: false });
        const conn = await listener.accept();
        scope.defer(() => conn[Symbol.asyncDispose]());
        const info = await conn.handshake();
        const io = await serverTextRoundTrip(conn, peer);
        await conn[Symbol.asyncDispose]();
        const out = dec.decode((await peer.finished()).stdout);
        assert.equal(info.alpnProtocol, "http/1.1");
        assert.match(out, /^ALPN protocol: http\/1\.1$/m, out);
        assert.match(out, /^Verify return code: 0 \(ok\)$/m, out);
        assert.match(out, new RegExp(`^New, ${info.protocol}, Cipher is ${info.cipher}$`, "m"));
        assert.equal(io.received, io.expected);
        assert.ok(out.includes(io.sent), out);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["SNI sent by denossl, seen by the peer"] },
      "denossl client's SNI makes openssl s_server -servername pick its second certificate; without SNI it gets the first",
      async (scope) => {
        using alt = pki.ca.issue({ dns: ["alt.test"] });
        const files = await pemDir(scope, { cert2: alt.certPEM, key2: alt.keyPEM });
        const args = ["-servername", "alt.test", "-cert2", files.cert2!, "-key2", files.key2!];
        for (const [sni, expected] of [["alt.test", "alt.test"], [undefined, "localhost"]]) {
          const { peer, port } = await sServer(scope, pki.server, args);
          const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
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
          await sServerRoundTrip(conn, peer, summary, 4);
        }
      },
    );

    await interopStep(
      t,
      {
        peer: "sClient",
        rows: ["SNI sent by the peer, seen by denossl (`getServername()`, SNI callback)"],
      },
      "openssl s_client -servername reaches denossl server's getServername(), and s_client without it leaves null",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server);
        for (
          const [args, expected] of [
            [["-servername", "sni.example.test"], "sni.example.test"],
            [["-noservername"], null],
          ] as const
        ) {
          const l = denosslListener(scope);
          const peer = sClient(scope, l.port, ["-CAfile", files.ca!, ...args]);
          peer.feed(utf8("ping"));
          const conn = await l.accept(ctx);
          await conn.handshake();
          const got = await exchange(conn, utf8("pong"), 4);
          assert.equal(conn.getServername(), expected);
          await conn[Symbol.asyncDispose]();
          await peer.endInput();
          const out = await peer.finished();
          assert.equal(dec.decode(got), "ping");
          assert.equal(dec.decode(out.stdout), "pong");
        }
      },
    );

    await interopStep(
      t,
      {
        peer: "sClient",
        rows: ["SNI sent by the peer, seen by denossl (`getServername()`, SNI callback)"],
      },
      "denossl server's SNI callback switches to the certificate openssl s_client -servername alt.test asks for; s_client verifies alt.test — text both ways",
      async (scope) => {
        using alt = pki.ca.issue({ dns: ["alt.test"] });
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using altCtx = serverContext(alt);
        using ctx = serverContext(pki.server);
        const seen = switchOnServername(ctx, "alt.test", altCtx);
        const l = denosslListener(scope);
        const peer = sClient(scope, l.port, [
          "-CAfile",
          files.ca!,
          "-servername",
          "alt.test",
          "-verify_hostname",
          "alt.test",
          "-verify_return_error",
        ], { brief: false });
        const conn = await l.accept(ctx);
        await conn.handshake();
        const io = await serverTextRoundTrip(conn, peer);
        await conn[Symbol.asyncDispose]();
        const out = dec.decode((await peer.finished()).stdout);
        assert.deepEqual(seen, ["alt.test"]);
        assert.match(out, /^subject=CN = alt\.test$/m, out);
        assert.match(out, /^Verify return code: 0 \(ok\)$/m, out);
        assert.equal(io.received, io.expected);
        assert.ok(out.includes(io.sent), out);
      },
    );

    for (
      const [label, version, flag] of [
        ["TLS 1.2", "TLSv1.2", "-tls1_2"],
        ["TLS 1.3", "TLSv1.3", "-tls1_3"],
      ] as const
    ) {
      await interopStep(
        t,
        { peer: "sServer", rows: [`Session resumption, ${label}`] },
        `denossl client resumes a ${label} session with openssl s_server (getSession/setSession): sessionReused() and s_server's "Reused session-id" — text both ways`,
        async (scope) => {
          const { peer, port } = await sServer(scope, pki.server, [flag], {
            brief: false,
            naccept: 2,
          });
          using ctx = clientContext(pki.ca.certPEM);
          let session: Session | null = null;
          const reused: boolean[] = [];
          for (let i = 0; i < 2; i++) {
            const reported = peer.waitFor("stdout", S_SERVER_REPORTED);
            const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
            if (session) conn.setSession(session);
            const info = await conn.handshake();
            assert.equal(info.protocol, version);
            info.peerCertificate?.close();
            // a TLS 1.3 ticket arrives after the handshake: read the reply first
            const io = await textRoundTrip(conn, peer, reported);
            assert.equal(io.received, io.expected);
            reused.push(conn.sessionReused());
            session?.close();
            session = conn.getSession();
            assert.ok(session?.isResumable(), "a resumable session after the reply");
            await conn[Symbol.asyncDispose](); // close_notify: the session stays resumable
          }
          session?.close();
          const out = dec.decode((await peer.finished()).stdout);
          assert.deepEqual(reused, [false, true]);
          const halves = out.split("CONNECTION CLOSED");
          assert.doesNotMatch(halves[0]!, /Reused session-id/, out);
          assert.match(halves[1]!, /Reused session-id/, out);
        },
      );

      await interopStep(
        t,
        { peer: "sClient", rows: [`Session resumption, ${label}`] },
        `openssl s_client -sess_out/-sess_in resumes a ${label} session with a denossl server on the same Context: s_client prints Reused, sessionReused() agrees — text both ways`,
        async (scope) => {
          const files = await pemDir(scope, { ca: pki.ca.certPEM });
          const sess = `${files.ca!}.sess`;
          using ctx = serverContext(pki.server);
          const l = denosslListener(scope);
          const seen: string[] = [];
          const reused: boolean[] = [];
          for (const sessArgs of [["-sess_out", sess], ["-sess_in", sess]]) {
            const peer = sClient(scope, l.port, ["-CAfile", files.ca!, flag, ...sessArgs], {
              brief: false,
            });
            const conn = await l.accept(ctx);
            const info = await conn.handshake();
            assert.equal(info.protocol, version);
            reused.push(conn.sessionReused());
            // the client reads the TLS 1.3 ticket before this reply
            const io = await serverTextRoundTrip(conn, peer);
            await conn[Symbol.asyncDispose]();
            await peer.endInput();
            const text = dec.decode((await peer.finished()).stdout);
            seen.push(text.match(/^(New|Reused), TLSv1\.[23]/m)?.[1] ?? "?");
            assert.equal(io.received, io.expected);
            assert.ok(text.includes(io.sent), text);
          }
          assert.deepEqual(seen, ["New", "Reused"]);
          assert.deepEqual(reused, [false, true]);
        },
      );
    }

    await interopStep(
      t,
      { peer: "sServer", rows: ["OCSP stapling (the peer's DER response, byte for byte)"] },
      "denossl client's requestOcsp() gets openssl s_server -status_file's OCSP response (made by openssl ocsp from an index file) byte for byte in the OCSP client callback — 256 KiB both ways",
      async (scope) => {
        const ocsp = await ocspResponse(scope, pki);
        const { peer, port } = await sServer(scope, pki.server, ["-status_file", ocsp.path]);
        const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
        using ctx = clientContext(pki.ca.certPEM);
        const stapled: Uint8Array[] = [];
        ctx.setOcspClientCallback((_conn, der) => {
          stapled.push(der.slice());
          return der.length > 0;
        });
        const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
        conn.requestOcsp();
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const stderr = await sServerRoundTrip(conn, peer, summary, PAYLOAD_SIZE);
        assert.equal(stapled.length, 1);
        assert.ok(ocsp.der.length > 0);
        assert.deepEqual(stapled[0], ocsp.der);
        assert.equal(field(stderr, "Protocol version"), info.protocol);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["OCSP stapling (the peer's DER response, byte for byte)"] },
      "denossl server's OCSP server callback staples an openssl ocsp response that openssl s_client -status prints as successful, good, for the server's serial — text both ways",
      async (scope) => {
        const ocsp = await ocspResponse(scope, pki);
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server);
        let asked = 0;
        ctx.setOcspServerCallback(() => {
          asked++;
          return ocsp.der;
        });
        const l = denosslListener(scope);
        const peer = sClient(scope, l.port, ["-CAfile", files.ca!, "-status"], { brief: false });
        const conn = await l.accept(ctx);
        await conn.handshake();
        const io = await serverTextRoundTrip(conn, peer);
        await conn[Symbol.asyncDispose]();
        const out = dec.decode((await peer.finished()).stdout);
        const expected = await new Deno.Command("openssl", {
          args: ["ocsp", "-respin", ocsp.path, "-resp_text", "-noverify"],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).output();
        const producedAt = dec.decode(expected.stdout).match(/Produced At: .*/)?.[0];
        assert.equal(asked, 1);
        assert.match(out, /OCSP Response Status: successful \(0x0\)/, out);
        assert.match(out, /Cert Status: good/, out);
        assert.match(out, new RegExp(`Serial Number: ${pki.server.cert.serialNumberHex}`), out);
        assert.ok(producedAt && out.includes(producedAt), `${producedAt} in ${out}`);
        assert.equal(io.received, io.expected);
        assert.ok(out.includes(io.sent), out);
      },
    );
  } finally {
    pki.close();
  }
});

/** A denossl client's handshake against `s_server`: what it threw and what the peer printed. */
async function failingClient(
  scope: Scope,
  cert: { certPEM: string; keyPEM: string },
  serverArgs: string[],
  ctx: Context,
  dialOpts: Parameters<typeof dial>[3] = { verifyHost: "localhost" },
): Promise<{ error: unknown; stderr: string }> {
  const { peer, port } = await sServer(scope, cert, serverArgs);
  const conn = await dial(scope, ctx, port, dialOpts);
  // TLS 1.3: a server's refusal of the client's certificate comes after the client's handshake
  const error = await conn.handshake().then(() => conn.read(new Uint8Array(1))).then(
    () => null,
    (e) => e,
  );
  await conn[Symbol.asyncDispose]();
  const out = await peer.finished();
  return { error, stderr: out.stderr };
}

/** A denossl server's handshake against `s_client`: what it threw and what the peer printed. */
async function failingServer(
  scope: Scope,
  ctx: Context,
  clientArgs: string[],
): Promise<{ error: unknown; stderr: string }> {
  const l = denosslListener(scope);
  const peer = sClient(scope, l.port, clientArgs);
  const conn = await l.accept(ctx);
  const error = await conn.handshake().then(() => null, (e) => e);
  await conn[Symbol.asyncDispose]();
  await peer.endInput();
  const out = await peer.finished();
  return { error, stderr: out.stderr };
}

Deno.test("denossl ↔ openssl CLI: mutual TLS and legacy versions", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  try {
    await interopStep(
      t,
      {
        peer: "sServer",
        rows: ["mTLS: denossl presents a client certificate, the peer checks it"],
      },
      "denossl client presents a client certificate that openssl s_server -Verify checks — 256 KiB both ways",
      async (scope) => {
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
        const info = await conn.handshake();
        info.peerCertificate?.close();
        const stderr = await sServerRoundTrip(conn, peer, summary, PAYLOAD_SIZE);
        assert.match(stderr, /Peer certificate: CN\s*=\s*alice/, stderr);
        assert.equal(field(stderr, "Ciphersuite"), info.cipher);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["mTLS: denossl requires a client certificate, reads the peer's"] },
      "denossl server requires a client certificate and reads openssl s_client's — 256 KiB both ways",
      async (scope) => {
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
        const peer = sClient(scope, l.port, [
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
        assert.equal(field(out.stderr, "Ciphersuite"), info.cipher);
        assert.equal(await sha256(got), await sha256(fromClient));
        assert.equal(await sha256(out.stdout), await sha256(fromServer));
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: client certificate missing"] },
      "denossl server requiring a client certificate refuses openssl s_client without one; s_client reports the alert",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server, {
          caPEM: pki.ca.certPEM,
          verifyMode: VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
        });
        const { error, stderr } = await failingServer(scope, ctx, ["-CAfile", files.ca!]);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /peer did not return a certificate/);
        assert.match(stderr, /alert certificate required|alert handshake failure/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: client certificate missing"] },
      "openssl s_server -Verify refuses denossl client without a certificate; denossl reads the alert as SSLError (certificate required)",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = clientContext(pki.ca.certPEM);
        const { error, stderr } = await failingClient(scope, pki.server, [
          "-Verify",
          "1",
          "-verify_return_error",
          "-CAfile",
          files.ca!,
        ], ctx);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /certificate required/);
        assert.match(stderr, /peer did not return a certificate/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: certificate from an untrusted CA"] },
      "denossl server refuses openssl s_client's certificate from another CA with VerificationError; s_client reports unknown ca",
      async (scope) => {
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
      },
    );

    const rsa = makePki("rsa");
    try {
      for (
        const [label, flag, version, proto] of [
          ["TLS 1.0", "-tls1", TLS1_VERSION, "TLSv1"],
          ["TLS 1.1", "-tls1_1", TLS1_VERSION + 1, "TLSv1.1"],
        ] as const
      ) {
        const args = [flag, "-cipher", "ALL:@SECLEVEL=0"];
        const refused = "Legacy TLS 1.0 / 1.1 refused by default, with a clear error";
        const reached = "Legacy TLS 1.0 / 1.1 reached when asked explicitly";
        await interopStep(
          t,
          { peer: "sServer", rows: [refused] },
          `denossl client (low-level Context, OpenSSL's defaults) refuses a ${label}-only openssl s_server: the default security level rejects its SHA-1 signature (SSLError)`,
          async (scope) => {
            using ctx = clientContext(rsa.ca.certPEM);
            const { error } = await failingClient(scope, rsa.server, args, ctx);
            assert.ok(error instanceof SSLError, String(error));
            assert.match((error as Error).message, /legacy sigalg disallowed or unsupported/);
          },
        );
        await interopStep(
          t,
          { peer: "sServer", rows: [refused] },
          `denossl client with a TLS 1.2 minimum refuses a ${label}-only openssl s_server with SSLError (protocol version); s_server reports it too`,
          async (scope) => {
            using ctx = clientContext(rsa.ca.certPEM, { min: TLS1_2_VERSION });
            const { error, stderr } = await failingClient(scope, rsa.server, args, ctx);
            assert.ok(error instanceof SSLError, String(error));
            assert.match((error as Error).message, /protocol version|unsupported protocol/);
            assert.match(stderr, /unsupported protocol|protocol version/, stderr);
          },
        );
        await interopStep(
          t,
          { peer: "sServer", rows: [refused] },
          `connectTls() with its defaults refuses a ${label}-only openssl s_server with SSLError (protocol version), and a TLS 1.0 minimum without unsafelyAllowLegacyProtocols is a RangeError`,
          async (scope) => {
            const { peer, port } = await sServer(scope, rsa.server, args);
            const opts = {
              hostname: "127.0.0.1",
              port,
              serverName: "localhost",
              caCerts: [rsa.ca.certPEM],
            };
            const misuse = await connectTls({ ...opts, minVersion: "TLSv1" }).then(
              () => null,
              (e) => e,
            );
            assert.ok(misuse instanceof RangeError, String(misuse));
            assert.match(misuse.message, /unsafelyAllowLegacyProtocols/);
            const error = await connectTls(opts).then((c) => {
              c.close();
              return null;
            }, (e) => e);
            const out = await peer.finished();
            assert.ok(error instanceof SSLError, String(error));
            assert.match((error as Error).message, /protocol version|unsupported protocol/);
            assert.match(out.stderr, /unsupported protocol|protocol version/, out.stderr);
          },
        );
        await interopStep(
          t,
          { peer: "sServer", rows: [reached] },
          `denossl client reaches a ${label}-only openssl s_server when asked explicitly (min version, security level 0); both sides report ${proto}`,
          async (scope) => {
            const { peer, port } = await sServer(scope, rsa.server, args);
            const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
            using ctx = clientContext(rsa.ca.certPEM, {
              min: version,
              securityLevel: 0,
              cipherList: "ALL:@SECLEVEL=0",
            });
            const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
            const info = await conn.handshake();
            info.peerCertificate?.close();
            const stderr = await sServerRoundTrip(conn, peer, summary, 4);
            assert.equal(info.protocol, proto);
            assert.equal(field(stderr, "Protocol version"), proto);
            assert.equal(field(stderr, "Ciphersuite"), info.cipher);
          },
        );
        await interopStep(
          t,
          { peer: "sServer", rows: [reached] },
          `connectTls({ minVersion: "TLSv1", unsafelyAllowLegacyProtocols: true }) reaches a ${label}-only openssl s_server; both sides report ${proto}`,
          async (scope) => {
            const { peer, port } = await sServer(scope, rsa.server, args);
            const summary = peer.waitFor("stderr", /Ciphersuite: .*\n/);
            const conn = await connectTls({
              hostname: "127.0.0.1",
              port,
              serverName: "localhost",
              caCerts: [rsa.ca.certPEM],
              minVersion: "TLSv1",
              unsafelyAllowLegacyProtocols: true,
            });
            scope.defer(() => conn[Symbol.asyncDispose]());
            const info = await conn.handshake();
            info.peerCertificate?.close();
            const stderr = await sServerRoundTrip(conn, peer, summary, 4);
            assert.equal(info.protocol, proto);
            assert.equal(field(stderr, "Protocol version"), proto);
            assert.equal(field(stderr, "Ciphersuite"), info.cipher);
          },
        );
        await interopStep(
          t,
          { peer: "sClient", rows: [refused] },
          `listenTls() with its defaults refuses openssl s_client ${flag} with SSLError (unsupported protocol); s_client reports protocol version`,
          async (scope) => {
            const listener = listenTls({
              hostname: "127.0.0.1",
              port: 0,
              cert: rsa.server.chainPEM,
              key: rsa.server.keyPEM,
            });
            scope.defer(() => listener.close());
            const peer = sClient(scope, listener.addr.port, args);
            const conn = await listener.accept();
            scope.defer(() => conn[Symbol.asyncDispose]());
            const error = await conn.handshake().then(() => null, (e) => e);
            await conn[Symbol.asyncDispose]();
            await peer.endInput();
            const out = await peer.finished();
            assert.ok(error instanceof SSLError, String(error));
            assert.match((error as Error).message, /unsupported protocol|protocol version/);
            assert.match(out.stderr, /alert protocol version/, out.stderr);
          },
        );
        await interopStep(
          t,
          { peer: "sClient", rows: [reached] },
          `listenTls({ minVersion: "TLSv1", unsafelyAllowLegacyProtocols: true }) serves openssl s_client ${flag}; both sides report ${proto}`,
          async (scope) => {
            const files = await pemDir(scope, { ca: rsa.ca.certPEM });
            const listener = listenTls({
              hostname: "127.0.0.1",
              port: 0,
              cert: rsa.server.chainPEM,
              key: rsa.server.keyPEM,
              minVersion: "TLSv1",
              unsafelyAllowLegacyProtocols: true,
            });
            scope.defer(() => listener.close());
            const peer = sClient(scope, listener.addr.port, [
              ...args,
              "-CAfile",
              files.ca!,
              "-verify_return_error",
            ]);
            peer.feed(utf8("ping"));
            const conn = await listener.accept();
            scope.defer(() => conn[Symbol.asyncDispose]());
            const info = await conn.handshake();
            const got = await exchange(conn, utf8("pong"), 4);
            await conn[Symbol.asyncDispose]();
            await peer.endInput();
            const out = await peer.finished();
            assert.equal(info.protocol, proto);
            assert.equal(field(out.stderr, "Protocol version"), proto);
            assert.equal(field(out.stderr, "Ciphersuite"), info.cipher);
            assert.equal(dec.decode(got), "ping");
            assert.equal(dec.decode(out.stdout), "pong");
          },
        );
      }
    } finally {
      rsa.close();
    }
  } finally {
    other.close();
    pki.close();
  }
});

/** Kills the peer once the TCP connection is up: whatever the handshake waits for never comes. */
async function hangUp(peer: Peer): Promise<void> {
  peer.kill();
  await peer.finished();
}

Deno.test("denossl ↔ openssl CLI: failures come out as the documented typed errors, never a hang", async (t) => {
  const pki = makePki("ec");
  const other = makePki("ec");
  try {
    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: certificate from an untrusted CA"] },
      "denossl client rejects openssl s_server's certificate from an untrusted CA with VerificationError; s_server reports unknown ca",
      async (scope) => {
        using ctx = clientContext(other.ca.certPEM);
        const { error, stderr } = await failingClient(scope, pki.server, [], ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.ok(
          [20, 21].includes(error.verifyCode),
          `${error.verifyCode} ${error.verifyMessage}`,
        );
        assert.match(stderr, /alert unknown ca/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: certificate from an untrusted CA"] },
      "openssl s_client -verify_return_error rejects denossl server's certificate from an untrusted CA; denossl reads the alert as SSLError (unknown ca)",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(other.server);
        const { error, stderr } = await failingServer(scope, ctx, [
          "-CAfile",
          files.ca!,
          "-verify_return_error",
        ]);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /unknown ca/);
        assert.match(stderr, /verify error:num=(20|21)/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: certificate for another name"] },
      "denossl client rejects openssl s_server's certificate for another name with VerificationError 62 (hostname mismatch)",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM);
        const { error, stderr } = await failingClient(scope, pki.server, [], ctx, {
          verifyHost: "other.test",
        });
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 62);
        assert.match(stderr, /alert/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: certificate for another name"] },
      "openssl s_client -verify_hostname other.test rejects denossl server's certificate (hostname mismatch); denossl reads the alert as SSLError (bad certificate)",
      async (scope) => {
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(pki.server);
        const { error, stderr } = await failingServer(scope, ctx, [
          "-CAfile",
          files.ca!,
          "-verify_hostname",
          "other.test",
          "-verify_return_error",
        ]);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /bad certificate/);
        assert.match(stderr, /verify error:num=62:hostname mismatch/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: expired certificate"] },
      "denossl client rejects openssl s_server's expired certificate with VerificationError 10; s_server reports certificate expired",
      async (scope) => {
        using expired = expiredLeaf(pki);
        using ctx = clientContext(pki.ca.certPEM);
        const { error, stderr } = await failingClient(scope, expired, [], ctx);
        assert.ok(error instanceof VerificationError, String(error));
        assert.equal(error.verifyCode, 10);
        assert.match(stderr, /alert certificate expired/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: expired certificate"] },
      "openssl s_client -verify_return_error rejects denossl server's expired certificate; denossl reads the alert as SSLError (certificate expired)",
      async (scope) => {
        using expired = expiredLeaf(pki);
        const files = await pemDir(scope, { ca: pki.ca.certPEM });
        using ctx = serverContext(expired);
        const { error, stderr } = await failingServer(scope, ctx, [
          "-CAfile",
          files.ca!,
          "-verify_return_error",
        ]);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /certificate expired/);
        assert.match(stderr, /verify error:num=10:certificate has expired/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: no shared cipher"] },
      "denossl client and openssl s_server with no cipher in common fail with SSLError (handshake failure); s_server reports no shared cipher",
      async (scope) => {
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
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: no shared cipher"] },
      "denossl server and openssl s_client with no cipher in common: denossl's SSLError says no shared cipher; s_client reports handshake failure",
      async (scope) => {
        using ctx = serverContext(pki.server, {
          max: TLS1_2_VERSION,
          cipherList: "ECDHE-ECDSA-CHACHA20-POLY1305",
        });
        const { error, stderr } = await failingServer(scope, ctx, [
          "-tls1_2",
          "-cipher",
          "ECDHE-ECDSA-AES128-GCM-SHA256",
        ]);
        assert.ok(
          error instanceof SSLError && !(error instanceof VerificationError),
          String(error),
        );
        assert.match((error as Error).message, /no shared cipher/);
        assert.match(stderr, /alert handshake failure/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: protocol version mismatch"] },
      "denossl client requiring TLS 1.3 and a TLS 1.2-only openssl s_server fail with SSLError (protocol version) on both sides",
      async (scope) => {
        using ctx = clientContext(pki.ca.certPEM, { min: TLS1_3_VERSION });
        const { error, stderr } = await failingClient(scope, pki.server, ["-tls1_2"], ctx);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /protocol version/);
        assert.match(stderr, /unsupported protocol|protocol version/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: protocol version mismatch"] },
      "denossl server requiring TLS 1.3 refuses openssl s_client -tls1_2 with SSLError; s_client reports protocol version",
      async (scope) => {
        using ctx = serverContext(pki.server, { min: TLS1_3_VERSION });
        const { error, stderr } = await failingServer(scope, ctx, ["-tls1_2"]);
        assert.ok(error instanceof SSLError, String(error));
        assert.match((error as Error).message, /unsupported protocol|protocol version/);
        assert.match(stderr, /alert protocol version/, stderr);
      },
    );

    await interopStep(
      t,
      { peer: "sServer", rows: ["Failure: peer hangs up mid-handshake"] },
      "openssl s_server killed after the TCP connect gives denossl client's handshake SysCallError (Unexpected EOF), or the transport's ConnectionReset",
      async (scope) => {
        const { peer, port } = await sServer(scope, pki.server, []);
        using ctx = clientContext(pki.ca.certPEM);
        const conn = await dial(scope, ctx, port, { verifyHost: "localhost" });
        await hangUp(peer);
        const error = await conn.handshake().then(() => null, (e) => e);
        assertHungUp(error);
      },
    );

    await interopStep(
      t,
      { peer: "sClient", rows: ["Failure: peer hangs up mid-handshake"] },
      "openssl s_client killed after the TCP connect gives denossl server's handshake SysCallError (Unexpected EOF), or the transport's ConnectionReset",
      async (scope) => {
        using ctx = serverContext(pki.server);
        const l = denosslListener(scope);
        const peer = sClient(scope, l.port, []);
        const conn = await l.accept(ctx);
        await hangUp(peer);
        const error = await conn.handshake().then(() => null, (e) => e);
        assertHungUp(error);
      },
    );

    await interopStep(
      t,
      null,
      "a TCP peer that reads the ClientHello and hangs up gives denossl client SysCallError errno -1 (Unexpected EOF)",
      async (scope) => {
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
      },
    );
  } finally {
    other.close();
    pki.close();
  }
});

Deno.test("docs/INTEROP.md's table shows exactly what runs against s_server and s_client", async () => {
  await checkInteropDoc("openssl CLI", ["sServer", "sClient"]);
});
