import "./_tools.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SSLError } from "../errors/ssl_error.ts";
import { createPKCS12, loadPKCS12 } from "../crypto/pkcs12.ts";
import { TestCA } from "../crypto/test_ca.ts";

async function openssl(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

Deno.test("loadPKCS12() opens a bundle made by openssl pkcs12 -export", async (t) => {
  using ca = TestCA.create({ intermediate: true, keyType: "rsa" });
  using leaf = ca.issue({ dns: ["p12.test"] });
  const dir = await Deno.makeTempDir({ prefix: "denossl-p12-" });
  try {
    await Deno.writeTextFile(join(dir, "key.pem"), leaf.keyPEM);
    await Deno.writeTextFile(join(dir, "cert.pem"), leaf.certPEM);
    await Deno.writeTextFile(join(dir, "chain.pem"), ca.intermediate!.certPEM + ca.certPEM);
    await openssl([
      "pkcs12",
      "-export",
      "-inkey",
      "key.pem",
      "-in",
      "cert.pem",
      "-certfile",
      "chain.pem",
      "-name",
      "leaf",
      "-passout",
      "pass:correct horse",
      "-out",
      "bundle.p12",
    ], dir);
    const bytes = await Deno.readFile(join(dir, "bundle.p12"));

    await t.step("with its passphrase: key, certificate and CA certificates", () => {
      const { key, cert, ca: extra } = loadPKCS12(bytes, "correct horse");
      try {
        assert.ok(key && cert);
        assert.ok(cert.equals(leaf.cert));
        assert.ok(key.equals(leaf.key));
        assert.equal(key.type, "rsa");
        assert.deepEqual(
          extra.map((c) => c.subject.commonName).sort(),
          ["denossl Test Intermediate CA", "denossl Test Root CA"],
        );
      } finally {
        key?.close();
        cert?.close();
        for (const c of extra) c.close();
      }
    });

    await t.step("a wrong passphrase is an SSLError that says so", () => {
      assert.throws(() => loadPKCS12(bytes, "wrong"), (e: unknown) => {
        assert.ok(e instanceof SSLError);
        assert.equal(
          e.message,
          "Wrong passphrase for the PKCS#12 bundle: its integrity check (MAC) failed",
        );
        return true;
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPKCS12() gives an SSLError naming the problem for garbage, truncated and empty bytes", () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["p12.test"] });
  const good = createPKCS12({ key: leaf.key, cert: leaf.cert, passphrase: "pw" });
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("this is not PKCS#12 at all"), /^Could not parse PKCS#12 data/],
    [good.subarray(0, good.length >> 1), /^Could not parse PKCS#12 data/],
    [new Uint8Array(0), /^Could not parse PKCS#12 data: the input is empty/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => loadPKCS12(bytes, "pw"), (e: unknown) => {
      assert.ok(e instanceof SSLError);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => loadPKCS12(good, undefined as unknown as string), TypeError);
});

Deno.test("createPKCS12() makes a bundle openssl pkcs12 reads back with the passphrase", async () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["p12.test"] });
  const p12 = createPKCS12({
    key: leaf.key,
    cert: leaf.cert,
    ca: [ca.cert],
    passphrase: "s3cret",
    friendlyName: "my leaf",
  });
  const dir = await Deno.makeTempDir({ prefix: "denossl-p12-" });
  try {
    await Deno.writeFile(join(dir, "out.p12"), p12);
    const text = await openssl(
      ["pkcs12", "-in", "out.p12", "-passin", "pass:s3cret", "-nodes"],
      dir,
    );
    assert.match(text, /friendlyName: my leaf/);
    assert.equal(text.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
    assert.match(text, /-----BEGIN PRIVATE KEY-----/);
    const { key, cert, ca: extra } = loadPKCS12(p12, "s3cret");
    assert.ok(cert?.equals(leaf.cert));
    assert.ok(key?.equals(leaf.key));
    assert.equal(extra.length, 1);
    key?.close();
    cert?.close();
    for (const c of extra) c.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createPKCS12() rejects misuse and a key that does not match the certificate", () => {
  using ca = TestCA.create();
  using a = ca.issue({ dns: ["a.test"] });
  using b = ca.issue({ dns: ["b.test"] });
  assert.throws(() => createPKCS12({ passphrase: "pw" }), TypeError);
  assert.throws(
    () => createPKCS12({ key: a.key, cert: b.cert, passphrase: "pw" }),
    (e: unknown) => e instanceof SSLError && /Could not create PKCS#12 bundle/.test(e.message),
  );
});
