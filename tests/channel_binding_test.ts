import assert from "node:assert/strict";
import { Context, TLS1_2_VERSION, TLS1_3_VERSION, TLS_METHOD, X509 } from "../mod.ts";
import { handshakeInMemory, memoryPair } from "./_pair.ts";
import { openssl } from "./_pki.ts";

/** A self-signed certificate made by the openssl CLI, and the hashes of its DER made by the CLI too. */
interface CliCert {
  certPEM: string;
  keyPEM: string;
  digest(alg: string): Promise<Uint8Array>;
}

async function cliCert(dir: string, name: string, keyArgs: string[]): Promise<CliCert> {
  await openssl([
    "req",
    "-x509",
    ...keyArgs,
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "subjectAltName=DNS:localhost",
    "-days",
    "2",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
  ], dir);
  await openssl(["x509", "-in", `${name}.pem`, "-outform", "DER", "-out", `${name}.der`], dir);
  return {
    certPEM: await Deno.readTextFile(`${dir}/${name}.pem`),
    keyPEM: await Deno.readTextFile(`${dir}/${name}.key`),
    digest: (alg) => openssl(["dgst", `-${alg}`, "-binary", `${name}.der`], dir),
  };
}

function endPoints(cert: CliCert, version: number): { client: unknown; server: unknown } {
  using sctx = new Context(TLS_METHOD);
  sctx.useCertificate(cert.certPEM);
  sctx.usePrivateKey(cert.keyPEM);
  using cctx = new Context(TLS_METHOD);
  cctx.setMaxProtoVersion(version);
  using pair = memoryPair(cctx, sctx);
  handshakeInMemory(pair.client, pair.server);
  const get = (c: typeof pair.client): unknown => {
    try {
      return c.getChannelBinding("tls-server-end-point");
    } catch (e) {
      return e;
    }
  };
  return { client: get(pair.client), server: get(pair.server) };
}

const CASES = [
  {
    name: "RSA with SHA-256",
    key: ["-newkey", "rsa:2048", "-sha256"],
    hash: "sha256",
    sig: "sha256WithRSAEncryption",
  },
  {
    name: "ECDSA P-384 with SHA-384",
    key: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-sha384"],
    hash: "sha384",
    sig: "ecdsa-with-SHA384",
  },
  {
    name: "RSA-PSS with SHA-512",
    key: ["-newkey", "rsa:2048", "-sha512", "-sigopt", "rsa_padding_mode:pss"],
    hash: "sha512",
    sig: "rsassaPss",
  },
  // RFC 5929 §4.1: MD5 and SHA-1 are replaced by SHA-256.
  {
    name: "RSA with SHA-1",
    key: ["-newkey", "rsa:2048", "-sha1"],
    hash: "sha256",
    sig: "sha1WithRSAEncryption",
  },
] as const;

Deno.test("tls-server-end-point is the server certificate's DER hashed as RFC 5929 says, on both sides", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-cb-" });
  try {
    for (const c of CASES) {
      const cert = await cliCert(dir, c.name.replace(/\W+/g, "-"), [...c.key]);
      const expected = await cert.digest(c.hash);
      using parsed = X509.fromPEM(cert.certPEM);
      assert.equal(parsed.signatureAlgorithm, c.sig, "the CLI signed as intended");
      for (const version of [TLS1_3_VERSION, TLS1_2_VERSION]) {
        const label = version === TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2";
        await t.step(`${c.name} over ${label}: ${c.hash} of the DER`, () => {
          const got = endPoints(cert, version);
          assert.deepEqual(got.client, expected, "client (the peer's certificate)");
          assert.deepEqual(got.server, expected, "server (its own certificate)");
        });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls-server-end-point refuses an Ed25519 certificate on both sides: it has no hash to use", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-cb-" });
  try {
    const cert = await cliCert(dir, "ed25519", ["-newkey", "ed25519"]);
    const got = endPoints(cert, TLS1_3_VERSION);
    for (const e of [got.client, got.server]) {
      assert.ok(e instanceof RangeError, `expected a RangeError, got ${e}`);
      assert.match(e.message, /ED25519.*no separate hash: use tls-exporter/);
    }
    // The other bindings still work with that certificate.
    using sctx = new Context(TLS_METHOD);
    sctx.useCertificate(cert.certPEM);
    sctx.usePrivateKey(cert.keyPEM);
    using cctx = new Context(TLS_METHOD);
    using pair = memoryPair(cctx, sctx);
    handshakeInMemory(pair.client, pair.server);
    assert.deepEqual(
      pair.client.getChannelBinding("tls-exporter"),
      pair.server.getChannelBinding("tls-exporter"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("getChannelBinding() names the three types when given another, and is null before the handshake", () => {
  using ctx = new Context(TLS_METHOD);
  using pair = memoryPair(ctx, ctx);
  assert.equal(pair.client.getChannelBinding("tls-server-end-point"), null);
  assert.throws(
    // @ts-expect-error: not a channel binding type
    () => pair.client.getChannelBinding("tls-server-endpoint"),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.includes('"tls-unique", "tls-exporter" or "tls-server-end-point"'),
  );
});
