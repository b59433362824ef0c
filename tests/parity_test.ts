import assert from "node:assert/strict";
import {
  type Connection,
  Context,
  PKey,
  SESS_CACHE_CLIENT,
  SSL_CB_HANDSHAKE_DONE,
  SSLError,
  TestCA,
  type TestKeyType,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS_METHOD,
} from "../mod.ts";
import { handshakeInMemory, memoryPair } from "./_pair.ts";
import { catchError, drain, settle } from "./_negotiation_fixtures.ts";
import { denosslListener, pemDir, readExactly, sClientTo, utf8, withDeadline } from "./_peers.ts";
import { openssl } from "./_pki.ts";

const dec = new TextDecoder();

/** A CA and a localhost leaf of one key type, kept for the file. */
const pkis = new Map<TestKeyType, { ca: TestCA; certPEM: string; keyPEM: string }>();
function leafOf(keyType: TestKeyType): { ca: TestCA; certPEM: string; keyPEM: string } {
  let p = pkis.get(keyType);
  if (!p) {
    const ca = TestCA.create({ keyType });
    const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
    p = { ca, certPEM: leaf.certPEM, keyPEM: leaf.keyPEM };
    pkis.set(keyType, p);
  }
  return p;
}

function server(keyType: TestKeyType = "ec", max?: number): Context {
  const ctx = new Context(TLS_METHOD);
  const leaf = leafOf(keyType);
  ctx.useCertificate(leaf.certPEM);
  ctx.usePrivateKey(leaf.keyPEM);
  if (max !== undefined) ctx.setMaxProtoVersion(max);
  return ctx;
}

function client(max?: number): Context {
  const ctx = new Context(TLS_METHOD);
  if (max !== undefined) ctx.setMaxProtoVersion(max);
  return ctx;
}

async function cli(args: string[]): Promise<string> {
  return dec.decode(await openssl(args));
}

// ---- DHE ------------------------------------------------------------------------------------

/** RFC 7919 DH parameters as PEM, from the openssl CLI. */
const ffdheParams = (group: string): Promise<string> =>
  cli(["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", `dh_param:${group}`]);

Deno.test("DHE: openssl s_client -cipher DHE-RSA-AES128-GCM-SHA256 fails on a plain server context and works after setDhAuto(), setTmpDh() or loadTmpDh()", async (t) => {
  const ffdhe = await ffdheParams("ffdhe2048");
  const dir = await Deno.makeTempDir({ prefix: "denossl-dh-" });
  await Deno.writeTextFile(`${dir}/dh.pem`, ffdhe);
  const setups: [string, ((ctx: Context) => void) | null][] = [
    ["nothing set", null],
    ["setDhAuto(true)", (ctx) => ctx.setDhAuto(true)],
    ["setTmpDh(ffdhe2048 PEM)", (ctx) => ctx.setTmpDh(ffdhe)],
    ["loadTmpDh(file)", (ctx) => ctx.loadTmpDh(`${dir}/dh.pem`)],
  ];
  try {
    for (const [label, setup] of setups) {
      await t.step(label, () =>
        withDeadline(label, async (scope) => {
          using ctx = server("rsa");
          setup?.(ctx);
          const l = denosslListener(scope);
          const files = await pemDir(scope, { ca: leafOf("rsa").ca.certPEM });
          const peer = sClientTo(scope, l.port, files.ca!, [
            "-tls1_2",
            "-cipher",
            "DHE-RSA-AES128-GCM-SHA256",
            "-brief",
          ]);
          const conn = await l.accept(ctx);
          if (setup === null) {
            await assert.rejects(conn.handshake(), SSLError);
            await peer.endInput();
            const { status, stderr } = await peer.finished();
            assert.equal(status.success, false);
            assert.match(stderr, /handshake failure|no shared cipher/);
            return;
          }
          const info = await conn.handshake();
          assert.equal(info.cipher, "DHE-RSA-AES128-GCM-SHA256");
          assert.equal(conn.getProtocolVersionName(), "TLSv1.2");
          peer.feed(utf8("over DHE\n"));
          assert.equal(dec.decode(await readExactly(conn, 9)), "over DHE\n");
          await conn[Symbol.asyncDispose]();
          await peer.endInput();
          const { stderr } = await peer.finished();
          assert.match(stderr, /Ciphersuite: DHE-RSA-AES128-GCM-SHA256/);
        }));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DHE: setTmpDh() refuses EC parameters, garbage, a non-DH PKey and a used context", async () => {
  const ecParams = await cli([
    "genpkey",
    "-genparam",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
  ]);
  using ctx = new Context(TLS_METHOD);
  catchError(() => ctx.setTmpDh(ecParams), TypeError);
  catchError(
    () => ctx.setTmpDh("-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n"),
    SSLError,
  );
  catchError(() => ctx.setTmpDh(42 as never), TypeError);
  const ffdhe = await ffdheParams("ffdhe3072");
  ctx.setTmpDh(ffdhe);
  catchError(() => ctx.setDhAuto("yes" as never), TypeError);
  using rsa = PKey.generate({ type: "rsa", bits: 2048 });
  catchError(() => ctx.setTmpDh(rsa), TypeError);
  using used = server("rsa");
  using _pair = memoryPair(client(), used);
  catchError(() => used.setDhAuto(true), TypeError);
});

// ---- tickets --------------------------------------------------------------------------------

Deno.test("setNumTickets(n): a TLS 1.3 client's new-session callback runs n times", () => {
  for (const n of [0, 1, 3, 5]) {
    using sctx = server();
    assert.equal(sctx.getNumTickets(), 2, "OpenSSL's default");
    sctx.setNumTickets(n);
    assert.equal(sctx.getNumTickets(), n);
    using cctx = client();
    cctx.setSessionCacheMode(SESS_CACHE_CLIENT);
    let tickets = 0;
    cctx.setNewSessionCallback((_conn, session) => {
      tickets++;
      session.close();
    });
    using pair = memoryPair(cctx, sctx);
    handshakeInMemory(pair.client, pair.server);
    settle(pair.client, pair.server);
    assert.equal(tickets, n, `${n} tickets`);
  }
  using ctx = new Context(TLS_METHOD);
  catchError(() => ctx.setNumTickets(-1), RangeError);
  catchError(() => ctx.setNumTickets(1.5), RangeError);
});

// ---- record sizes --------------------------------------------------------------------------------

/** The lengths of the TLS records in some ciphertext (5-byte headers). */
function recordLengths(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 5 <= bytes.length;) {
    const n = (bytes[i + 3]! << 8) | bytes[i + 4]!;
    out.push(n);
    i += 5 + n;
  }
  return out;
}

/** What `from` sends for `size` bytes of application data, as record lengths, checked on arrival. */
function sendAndMeasure(from: Connection, to: Connection, size: number): number[] {
  const data = new Uint8Array(size).map((_, i) => i & 0xff);
  from.sendall(data);
  const wire = from.bioRead(1 << 20);
  to.bioWrite(wire);
  const got = drain(to);
  assert.equal(got.reduce((n, c) => n + c.length, 0), size);
  return recordLengths(wire);
}

Deno.test("setMaxSendFragment(): records carry at most that much plaintext (context and connection), measured on the wire", () => {
  for (const version of [TLS1_3_VERSION, TLS1_2_VERSION]) {
    // AES-128-GCM both ways: 16-byte tag; TLS 1.3 adds the content type byte, TLS 1.2 an 8-byte explicit nonce.
    const overhead = version === TLS1_3_VERSION ? 17 : 24;
    using sctx = server("ec", version);
    sctx.setTls13Ciphersuites("TLS_AES_128_GCM_SHA256");
    sctx.setCipherList("ECDHE-ECDSA-AES128-GCM-SHA256");
    using cctx = client(version);
    using plain = memoryPair(cctx, sctx);
    handshakeInMemory(plain.client, plain.server);
    settle(plain.client, plain.server);
    assert.deepEqual(sendAndMeasure(plain.server, plain.client, 16384), [16384 + overhead]);
    using small = new Context(TLS_METHOD);
    small.setMaxSendFragment(1024);
    using pair = memoryPair(small, sctx);
    handshakeInMemory(pair.client, pair.server);
    settle(pair.client, pair.server);
    assert.deepEqual(
      sendAndMeasure(pair.client, pair.server, 4096),
      [1024, 1024, 1024, 1024].map((n) => n + overhead),
    );
    pair.server.setMaxSendFragment(512);
    assert.deepEqual(
      sendAndMeasure(pair.server, pair.client, 1500),
      [512, 512, 476].map((n) => n + overhead),
    );
  }
  using ctx = new Context(TLS_METHOD);
  catchError(() => ctx.setMaxSendFragment(511), RangeError);
  catchError(() => ctx.setMaxSendFragment(16385), RangeError);
});

Deno.test("setTlsextMaxFragmentLength(512): the server agrees and sends records of at most 512 bytes; getMaxFragmentLength() says so on both sides", () => {
  for (const version of [TLS1_3_VERSION, TLS1_2_VERSION]) {
    using sctx = server("ec", version);
    using cctx = client(version);
    cctx.setTlsextMaxFragmentLength(512);
    using pair = memoryPair(cctx, sctx);
    handshakeInMemory(pair.client, pair.server);
    settle(pair.client, pair.server);
    assert.equal(pair.client.getMaxFragmentLength(), 512);
    assert.equal(pair.server.getMaxFragmentLength(), 512);
    const lengths = sendAndMeasure(pair.server, pair.client, 4000);
    assert.equal(lengths.length, 8, `${lengths}`);
    const overhead = lengths[0]! - 512;
    assert.ok(overhead > 0 && overhead <= 64, `${lengths}`);
  }
  using none = memoryPair(client(), server());
  handshakeInMemory(none.client, none.server);
  assert.equal(none.client.getMaxFragmentLength(), null);
  using ctx = new Context(TLS_METHOD);
  catchError(() => ctx.setTlsextMaxFragmentLength(1000), RangeError);
});

// ---- listings ------------------------------------------------------------------------------------

Deno.test("Listings: getCiphers() on Context and Connection, getSharedCiphers() on the server, the peer's and the shared groups", () => {
  using sctx = server();
  sctx.setGroups(["X25519", "P-256"]);
  using cctx = client();
  cctx.setCipherList("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305");
  cctx.setTls13Ciphersuites("TLS_AES_128_GCM_SHA256");
  cctx.setGroups(["P-384", "P-256", "X25519"]);
  assert.deepEqual(cctx.getCiphers(), [
    "TLS_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
  ]);
  using pair = memoryPair(cctx, sctx);
  assert.deepEqual(pair.client.getCiphers(), cctx.getCiphers());
  assert.deepEqual(pair.server.getCiphers(), sctx.getCiphers());
  handshakeInMemory(pair.client, pair.server);
  assert.deepEqual(pair.server.getSharedCiphers(), cctx.getCiphers());
  assert.equal(pair.client.getSharedCiphers(), null);
  assert.deepEqual(pair.server.getPeerGroups(), ["secp384r1", "prime256v1", "X25519"]);
  // The client's order, as OpenSSL picks without OP_CIPHER_SERVER_PREFERENCE.
  assert.deepEqual(pair.server.getSharedGroups(), ["prime256v1", "X25519"]);
});

Deno.test("Listings: getPeerSignatureAlgorithm() names how the server signed (RSA-PSS, ECDSA, Ed25519), and the server's getSignatureAlgorithm() agrees", () => {
  const expected: Record<TestKeyType, { type: string; digest: string | null }> = {
    rsa: { type: "RSASSA-PSS", digest: "SHA256" },
    ec: { type: "id-ecPublicKey", digest: "SHA256" },
    ed25519: { type: "ED25519", digest: null },
  };
  for (const keyType of ["rsa", "ec", "ed25519"] as const) {
    using sctx = server(keyType);
    using pair = memoryPair(client(), sctx);
    assert.equal(pair.client.getPeerSignatureAlgorithm(), null, "before the handshake");
    handshakeInMemory(pair.client, pair.server);
    assert.deepEqual(pair.client.getPeerSignatureAlgorithm(), expected[keyType], keyType);
    assert.deepEqual(pair.server.getSignatureAlgorithm(), expected[keyType], keyType);
    assert.equal(pair.server.getPeerSignatureAlgorithm(), null, "the client signed nothing");
  }
});

// ---- trace ----------------------------------------------------------------------------------------

function traced(version: number): { client: string[]; server: string[] } {
  using sctx = server("ec", version);
  using cctx = client(version);
  using pair = memoryPair(cctx, sctx);
  const lines = { client: [] as string[], server: [] as string[] };
  pair.client.enableTrace((l) => lines.client.push(l));
  pair.server.enableTrace((l) => lines.server.push(l));
  handshakeInMemory(pair.client, pair.server);
  settle(pair.client, pair.server);
  return lines;
}

/** A trace line without its sizes, which vary with keys and extensions. */
const shape = (line: string): string => line.replace(/ \(TLSv1(\.\d)?, \d+ bytes?\)$/, "");

/**
 * The lines one side traces for a handshake, from its messages in order (`C:` sent by the
 * client, `S:` by the server): "->" for its own, "<-" for the peer's; OpenSSL reports no
 * ChangeCipherSpec it receives.
 */
function expected(role: "client" | "server", flow: string[]): string[] {
  const me = role === "client" ? "C" : "S";
  const lines = [`${role} -- handshake start`];
  for (const step of flow) {
    if (step === "done") {
      lines.push(`${role} -- handshake done`);
      continue;
    }
    const [from, name] = step.split(":") as [string, string];
    const what = name === "ChangeCipherSpec" ? name : `Handshake ${name}`;
    if (from === me) lines.push(`${role} -> ${what}`);
    else if (name !== "ChangeCipherSpec") lines.push(`${role} <- ${what}`);
  }
  return lines;
}

const FLOWS = {
  [TLS1_3_VERSION]: [
    "C:ClientHello",
    "S:ServerHello",
    "S:ChangeCipherSpec",
    "S:EncryptedExtensions",
    "S:Certificate",
    "S:CertificateVerify",
    "S:Finished",
    "C:ChangeCipherSpec",
    "C:Finished",
    "done",
    "S:NewSessionTicket",
    "S:NewSessionTicket",
  ],
  [TLS1_2_VERSION]: [
    "C:ClientHello",
    "S:ServerHello",
    "S:Certificate",
    "S:ServerKeyExchange",
    "S:ServerHelloDone",
    "C:ClientKeyExchange",
    "C:ChangeCipherSpec",
    "C:Finished",
    "S:NewSessionTicket",
    "S:ChangeCipherSpec",
    "S:Finished",
    "done",
  ],
};

for (const version of [TLS1_3_VERSION, TLS1_2_VERSION] as const) {
  const label = version === TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2";
  Deno.test(`enableTrace(): one line per ${label} handshake message, each side`, () => {
    const lines = traced(version);
    assert.deepEqual(lines.client.map(shape), expected("client", FLOWS[version]));
    assert.deepEqual(lines.server.map(shape), expected("server", FLOWS[version]));
    const name = label.replace(" ", "v");
    assert.match(
      lines.client[1]!,
      new RegExp(`^client -> Handshake ClientHello \\(${name.replace(".", "\\.")}, \\d+ bytes\\)$`),
    );
    assert.ok(lines.client.map(shape).includes("client <- Handshake Finished"));
  });
}

Deno.test("enableTrace(): alerts are traced; the context's info callback still runs; a throwing sink fails the call; disableTrace() stops it", () => {
  using sctx = server();
  sctx.setAlpnSelectCallback(() => "h9"); // not offered: a fatal alert
  const done: string[] = [];
  sctx.setInfoCallback((conn, where) => {
    if (where & SSL_CB_HANDSHAKE_DONE) done.push(conn.isServer() ? "server" : "client");
  });
  using cctx = client();
  using pair = memoryPair(cctx, sctx);
  pair.client.setAlpnProtos(["h2"]);
  const lines: string[] = [];
  pair.server.enableTrace((l) => lines.push(l));
  pair.client.enableTrace((l) => lines.push(l));
  assert.throws(() => handshakeInMemory(pair.client, pair.server));
  assert.ok(lines.some((l) => /^server -> Alert fatal/.test(l)), lines.join("\n"));

  using ok = memoryPair(client(), sctx);
  ok.server.enableTrace(() => {});
  ok.client.setAlpnProtos(["h9"]);
  handshakeInMemory(ok.client, ok.server);
  settle(ok.client, ok.server);
  assert.deepEqual(done, ["server"], "the context's info callback ran under the trace");

  using boom = memoryPair(client(), server());
  const bad = new Error("sink failed");
  boom.client.enableTrace(() => {
    throw bad;
  });
  assert.throws(() => boom.client.doHandshake(), (e) => e === bad);
  catchError(() => boom.server.enableTrace(42 as never), TypeError);

  using quiet = memoryPair(client(), server());
  const none: string[] = [];
  quiet.client.enableTrace((l) => none.push(l));
  quiet.client.disableTrace();
  handshakeInMemory(quiet.client, quiet.server);
  assert.deepEqual(none, []);
});

Deno.test("enableTrace() without a sink writes its lines to standard error", async () => {
  const script = `
    import { Context, Connection, TestCA, TLS_METHOD } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    import { handshakeInMemory, memoryPair } from ${
    JSON.stringify(new URL("./_pair.ts", import.meta.url).href)
  };
    const ca = TestCA.create(); const leaf = ca.issue({ dns: ["localhost"] });
    const s = new Context(TLS_METHOD); s.useCertificate(leaf.certPEM); s.usePrivateKey(leaf.keyPEM);
    const pair = memoryPair(new Context(TLS_METHOD), s);
    pair.client.enableTrace();
    handshakeInMemory(pair.client, pair.server);
    console.log("done");
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = dec.decode(out.stderr);
  assert.equal(dec.decode(out.stdout), "done\n", stderr);
  assert.match(
    stderr,
    /^client -- handshake start\nclient -> Handshake ClientHello \(TLSv1\.3, \d+ bytes\)\n/,
  );
  assert.match(stderr, /client -- handshake done\n/);
});

Deno.test("parity listings: close the shared CAs", () => {
  for (const p of pkis.values()) p.ca.close();
  pkis.clear();
  assert.equal(pkis.size, 0);
});
