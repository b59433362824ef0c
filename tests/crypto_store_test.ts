import "./_tools.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ClosedError, SSLError, VerificationError } from "../errors/ssl_error.ts";
import { X509Store, X509StoreFlags } from "../crypto/store.ts";
import { TestCA } from "../crypto/test_ca.ts";
import { X509 } from "../crypto/x509.ts";

/** `X509_V_ERR_*` codes of OpenSSL 3.0 (x509_vfy.h). */
const X509_V_ERR_CERT_NOT_YET_VALID = 9;
const X509_V_ERR_CERT_HAS_EXPIRED = 10;
const X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18;
const X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20;
const X509_V_ERR_INVALID_PURPOSE = 26;
const X509_V_ERR_HOSTNAME_MISMATCH = 62;
const X509_V_ERR_IP_ADDRESS_MISMATCH = 64;
const X509_V_ERR_INVALID_CA = 79;

const DAY = 86_400_000;

function expectVerificationError(
  fn: () => unknown,
  expected: { code: number; depth: number; message: RegExp; commonName: string },
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected a VerificationError, got ${e}`);
    assert.ok(e instanceof SSLError);
    assert.equal(e.verifyCode, expected.code);
    assert.match(e.verifyMessage, expected.message);
    assert.match(e.message, expected.message);
    assert.equal(e.depth, expected.depth);
    assert.ok(e.certificate, "the failing certificate is attached");
    assert.equal(e.certificate.subject.commonName, expected.commonName);
    e.certificate.close();
    return true;
  });
}

Deno.test("X509Store.verify() returns the chain leaf first, root last", async (t) => {
  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  using store = new X509Store().addCert(ca.cert);
  const intermediates = X509.loadChain(leaf.chainPEM).slice(1);
  try {
    await t.step("with the intermediate, hostname, IP and purpose", () => {
      for (const hostname of ["localhost", "127.0.0.1"]) {
        const chain = store.verify(leaf.cert, {
          chain: intermediates,
          hostname,
          purpose: "sslserver",
        });
        assert.deepEqual(chain.map((c) => c.subject.commonName), [
          "localhost",
          "denossl Test Intermediate CA",
          "denossl Test Root CA",
        ]);
        assert.ok(chain[0]!.equals(leaf.cert));
        for (const c of chain) c.close();
      }
    });
    await t.step("without the intermediate it is an untrusted-issuer failure", () => {
      expectVerificationError(() => store.verify(leaf.cert), {
        code: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        depth: 0,
        message: /unable to get local issuer certificate/,
        commonName: "localhost",
      });
    });
  } finally {
    for (const c of intermediates) c.close();
  }
});

Deno.test("X509Store.verify() throws VerificationError 10 (expired) for an expired leaf", () => {
  using ca = TestCA.create({ notBefore: new Date(Date.now() - 3 * DAY) });
  using expired = ca.issue({
    dns: ["localhost"],
    notBefore: new Date(Date.now() - 2 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  using store = new X509Store().addCert(ca.cert);
  assert.equal(expired.cert.hasExpired(), true);
  expectVerificationError(() => store.verify(expired.cert), {
    code: X509_V_ERR_CERT_HAS_EXPIRED,
    depth: 0,
    message: /certificate has expired/,
    commonName: "localhost",
  });
  // As of a moment inside the validity of both the leaf and the CA, it verifies.
  const chain = store.verify(expired.cert, { time: new Date(Date.now() - 1.5 * DAY) });
  assert.equal(chain.length, 2);
  for (const c of chain) c.close();
});

Deno.test("X509Store.verify() throws VerificationError 62 / 64 for a wrong hostname or IP", () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  using store = new X509Store().addCert(ca.cert);
  expectVerificationError(() => store.verify(leaf.cert, { hostname: "example.com" }), {
    code: X509_V_ERR_HOSTNAME_MISMATCH,
    depth: 0,
    message: /hostname mismatch/,
    commonName: "localhost",
  });
  expectVerificationError(() => store.verify(leaf.cert, { hostname: "10.0.0.1" }), {
    code: X509_V_ERR_IP_ADDRESS_MISMATCH,
    depth: 0,
    message: /IP address mismatch/,
    commonName: "localhost",
  });
});

Deno.test("X509Store.verify() matches names as TLS connections do: no subject-CN fallback, no partial wildcard", () => {
  using ca = TestCA.create();
  using cnOnly = ca.issue({ commonName: "cnonly.test" });
  using ipOnly = ca.issue({ commonName: "good.test", ip: ["127.0.0.1"] });
  using partial = ca.issue({ dns: ["f*.example.test"] });
  using wildcard = ca.issue({ dns: ["*.example.test"] });
  using store = new X509Store().addCert(ca.cert);
  for (
    const [leaf, name] of [
      [cnOnly, "cnonly.test"],
      [ipOnly, "good.test"],
      [partial, "foo.example.test"],
    ] as const
  ) {
    expectVerificationError(() => store.verify(leaf.cert, { hostname: name }), {
      code: X509_V_ERR_HOSTNAME_MISMATCH,
      depth: 0,
      message: /hostname mismatch/,
      commonName: leaf.cert.subject.commonName!,
    });
  }
  for (const c of store.verify(wildcard.cert, { hostname: "foo.example.test" })) c.close();
});

Deno.test("X509Store.verify() throws VerificationError 20 for a leaf from an untrusted issuer", () => {
  using trusted = TestCA.create({ commonName: "Trusted" });
  using other = TestCA.create({ commonName: "Other" });
  using leaf = other.issue({ dns: ["localhost"] });
  using store = new X509Store().addCert(trusted.cert);
  expectVerificationError(() => store.verify(leaf.cert), {
    code: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    depth: 0,
    message: /unable to get local issuer certificate/,
    commonName: "localhost",
  });
  using empty = new X509Store();
  expectVerificationError(() => empty.verify(other.cert), {
    code: X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
    depth: 0,
    message: /self-signed certificate/,
    commonName: "Other",
  });
});

Deno.test("X509Store.verify() throws VerificationError 79 (invalid CA) at depth 1 for a CA:FALSE intermediate", () => {
  using ca = TestCA.create({ intermediate: true, intermediateIsCA: false });
  using leaf = ca.issue({ dns: ["localhost"] });
  using store = new X509Store().addCert(ca.cert);
  assert.equal(ca.intermediate!.cert.isCA, false);
  expectVerificationError(() => store.verify(leaf.cert, { chain: [ca.intermediate!.cert] }), {
    code: X509_V_ERR_INVALID_CA,
    depth: 1,
    message: /invalid CA certificate/,
    commonName: "denossl Test Intermediate CA",
  });
});

Deno.test("X509Store.verify() checks the purpose: a client certificate is not a server's", () => {
  using ca = TestCA.create();
  using client = ca.issueClient({ commonName: "alice" });
  using store = new X509Store().addCert(ca.cert);
  const ok = store.verify(client.cert, { purpose: "sslclient" });
  for (const c of ok) c.close();
  expectVerificationError(() => store.verify(client.cert, { purpose: "sslserver" }), {
    code: X509_V_ERR_INVALID_PURPOSE,
    depth: 0,
    message: /unsuitable certificate purpose/,
    commonName: "alice",
  });
  assert.throws(() => store.verify(client.cert, { purpose: "fly" as "any" }), TypeError);
});

Deno.test("X509Store.setTime() verifies as of a fixed moment", () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  using store = new X509Store().addCert(ca.cert).setTime(new Date(Date.now() - DAY));
  expectVerificationError(() => store.verify(leaf.cert), {
    code: X509_V_ERR_CERT_NOT_YET_VALID,
    depth: 1,
    message: /not yet valid/,
    commonName: "denossl Test Root CA",
  });
});

Deno.test("X509Store.loadLocations() trusts a PEM file; a missing file is an SSLError", async () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  const dir = await Deno.makeTempDir({ prefix: "denossl-store-" });
  try {
    const file = join(dir, "ca.pem");
    await Deno.writeTextFile(file, ca.certPEM);
    using store = new X509Store().loadLocations(file);
    const chain = store.verify(leaf.cert);
    assert.equal(chain.length, 2);
    for (const c of chain) c.close();
    using empty = new X509Store();
    assert.throws(
      () => empty.loadLocations(join(dir, "missing.pem")),
      (e: unknown) =>
        e instanceof SSLError && /Could not load trusted certificates/.test(e.message),
    );
    assert.throws(() => empty.loadLocations(null, null), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("X509Store.addCRL() with CRL_CHECK rejects a revoked leaf (openssl ca-made CRL)", async () => {
  using ca = TestCA.create();
  using revoked = ca.issue({ dns: ["revoked.test"] });
  using good = ca.issue({ dns: ["good.test"] });
  const dir = await Deno.makeTempDir({ prefix: "denossl-crl-" });
  try {
    // A minimal `openssl ca` database listing the revoked serial.
    const expiry = "301231235959Z";
    const revokedAt = "240101000000Z";
    await Deno.writeTextFile(
      join(dir, "index.txt"),
      `R\t${expiry}\t${revokedAt}\t${revoked.cert.serialNumberHex}\tunknown\t/CN=revoked.test\n`,
    );
    await Deno.writeTextFile(join(dir, "ca.pem"), ca.certPEM);
    await Deno.writeTextFile(join(dir, "ca.key"), ca.keyPEM);
    await Deno.writeTextFile(
      join(dir, "ca.cnf"),
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${join(dir, "index.txt")}\ncrlnumber=${
        join(dir, "crlnumber")
      }\ndefault_md=sha256\ndefault_crl_days=7\n`,
    );
    await Deno.writeTextFile(join(dir, "crlnumber"), "01\n");
    const out = await new Deno.Command("openssl", {
      args: [
        "ca",
        "-gencrl",
        "-config",
        "ca.cnf",
        "-cert",
        "ca.pem",
        "-keyfile",
        "ca.key",
        "-out",
        "crl.pem",
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const crl = await Deno.readTextFile(join(dir, "crl.pem"));
    using store = new X509Store().addCert(ca.cert).addCRL(crl).setFlags(X509StoreFlags.CRL_CHECK);
    const chain = store.verify(good.cert);
    for (const c of chain) c.close();
    expectVerificationError(() => store.verify(revoked.cert), {
      code: 23, // X509_V_ERR_CERT_REVOKED
      depth: 0,
      message: /certificate revoked/,
      commonName: "revoked.test",
    });
    assert.throws(() => new X509Store().addCRL("not a crl"), SSLError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("X509Store methods throw ClosedError after close(), and close() is idempotent", () => {
  using ca = TestCA.create();
  const store = new X509Store();
  store.close();
  store.close();
  assert.throws(() => store.addCert(ca.cert), ClosedError);
  assert.throws(() => store.verify(ca.cert), ClosedError);
  assert.throws(() => store._handle, ClosedError);
});
