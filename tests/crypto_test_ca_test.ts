import "./_tools.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ClosedError } from "../errors/ssl_error.ts";
import { TestCA } from "../crypto/test_ca.ts";
import type { TestKeyType } from "../crypto/test_ca.ts";

async function opensslVerify(
  dir: string,
  files: { ca: string; untrusted?: string; leaf: string },
  extra: string[] = [],
): Promise<{ ok: boolean; output: string }> {
  await Deno.writeTextFile(join(dir, "ca.pem"), files.ca);
  await Deno.writeTextFile(join(dir, "leaf.pem"), files.leaf);
  const args = ["verify", "-CAfile", "ca.pem", ...extra];
  if (files.untrusted) {
    await Deno.writeTextFile(join(dir, "untrusted.pem"), files.untrusted);
    args.push("-untrusted", "untrusted.pem");
  }
  args.push("leaf.pem");
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: out.success, output: decode(out.stdout) + decode(out.stderr) };
}

/** Serves one TLS connection with Deno's own TLS and reads it with Deno.connectTls. */
async function denoTlsRoundTrip(
  server: { cert: string; key: string },
  client: { caCerts: string[]; hostname: string },
): Promise<string> {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...server });
  const { port } = listener.addr;
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.handshake();
      await conn.write(new TextEncoder().encode("hello from the TestCA leaf"));
    } finally {
      conn.close();
    }
  })();
  try {
    const conn = await Deno.connectTls({
      hostname: client.hostname,
      port,
      caCerts: client.caCerts,
    });
    try {
      const buf = new Uint8Array(64);
      let text = "";
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      return text;
    } finally {
      conn.close();
    }
  } finally {
    await served.catch(() => {});
    listener.close();
  }
}

for (const keyType of ["ec", "rsa", "ed25519"] as TestKeyType[]) {
  Deno.test(`TestCA (${keyType}) chains pass openssl verify -CAfile, with and without an intermediate`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "denossl-testca-" });
    try {
      using ca = TestCA.create({ keyType });
      using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
      const direct = await opensslVerify(dir, { ca: ca.certPEM, leaf: leaf.certPEM }, [
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "localhost",
      ]);
      assert.ok(direct.ok, direct.output);
      assert.match(direct.output, /leaf\.pem: OK/);

      using withInter = TestCA.create({ keyType, intermediate: true });
      using leaf2 = withInter.issue({ dns: ["localhost"] });
      const chained = await opensslVerify(dir, {
        ca: withInter.certPEM,
        untrusted: withInter.intermediate!.certPEM,
        leaf: leaf2.certPEM,
      });
      assert.ok(chained.ok, chained.output);
      assert.match(chained.output, /leaf\.pem: OK/);

      using client = ca.issueClient({ commonName: "alice" });
      const clientCheck = await opensslVerify(dir, { ca: ca.certPEM, leaf: client.certPEM }, [
        "-purpose",
        "sslclient",
      ]);
      assert.ok(clientCheck.ok, clientCheck.output);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`TestCA (${keyType}) leaf is accepted by Deno.connectTls({ caCerts }) against Deno.listenTls`, async () => {
    using ca = TestCA.create({ keyType, intermediate: keyType === "ec" });
    using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
    const text = await denoTlsRoundTrip(
      { cert: leaf.chainPEM, key: leaf.keyPEM },
      { caCerts: [ca.certPEM], hostname: "localhost" },
    );
    assert.equal(text, "hello from the TestCA leaf");
  });
}

Deno.test("TestCA-issued negative cases fail openssl verify with the matching reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-testca-" });
  try {
    using ca = TestCA.create();
    using expired = ca.issue({
      dns: ["localhost"],
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const e1 = await opensslVerify(dir, { ca: ca.certPEM, leaf: expired.certPEM });
    assert.equal(e1.ok, false);
    assert.match(e1.output, /certificate has expired/);

    using broken = TestCA.create({ intermediate: true, intermediateIsCA: false });
    using leaf = broken.issue({ dns: ["localhost"] });
    const e2 = await opensslVerify(dir, {
      ca: broken.certPEM,
      untrusted: broken.intermediate!.certPEM,
      leaf: leaf.certPEM,
    });
    assert.equal(e2.ok, false);
    assert.match(e2.output, /invalid CA certificate/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Deno.connectTls rejects a TestCA leaf when the client trusts another CA", async () => {
  using ca = TestCA.create();
  using other = TestCA.create({ commonName: "Other" });
  using leaf = ca.issue({ dns: ["localhost"] });
  await assert.rejects(
    denoTlsRoundTrip(
      { cert: leaf.chainPEM, key: leaf.keyPEM },
      { caCerts: [other.certPEM], hostname: "localhost" },
    ),
    /UnknownIssuer|invalid peer certificate/i,
  );
});

Deno.test("TestCA results expose certificate, key and PEM that agree with each other", () => {
  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issue({ dns: ["localhost"], commonName: "leaf.test", serial: 42n });
  using client = ca.issueClient({ commonName: "alice", keyType: "ed25519" });
  assert.equal(leaf.cert.subject.commonName, "leaf.test");
  assert.equal(leaf.cert.serialNumber, 42n);
  assert.equal(leaf.certPEM, leaf.cert.toPEM());
  assert.equal(leaf.chainPEM, leaf.certPEM + ca.intermediate!.certPEM);
  assert.ok(leaf.cert.publicKey.equals(leaf.key));
  assert.equal(leaf.cert.issuer.commonName, "denossl Test Intermediate CA");
  assert.deepEqual(leaf.cert.extendedKeyUsage, ["serverAuth"]);
  assert.deepEqual(client.cert.extendedKeyUsage, ["clientAuth"]);
  assert.equal(client.key.type, "ed25519");
  assert.equal(client.cert.subject.commonName, "alice");
  assert.ok(ca.cert.isCA);
  assert.match(ca.keyPEM, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(ca.cert.toPEM(), ca.certPEM);
});

Deno.test("TestCA after close() throws ClosedError; issued certificates stay usable", () => {
  const ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  ca.close();
  ca.close();
  assert.throws(() => ca.issue({ dns: ["x"] }), ClosedError);
  assert.throws(() => ca.certPEM, ClosedError);
  assert.equal(leaf.cert.subject.commonName, "localhost");
});
