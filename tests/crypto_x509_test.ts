import "./_tools.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ClosedError, SSLError } from "../errors/ssl_error.ts";
import { CertificateBuilder } from "../crypto/builder.ts";
import { PKey } from "../crypto/pkey.ts";
import { TestCA } from "../crypto/test_ca.ts";
import { X509 } from "../crypto/x509.ts";

async function openssl(args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Everything readable from a certificate, for comparing round trips. */
function fields(cert: X509): Record<string, unknown> {
  using subject = cert.subject;
  using issuer = cert.issuer;
  using publicKey = cert.publicKey;
  return {
    subject: subject.entries,
    subjectRFC2253: subject.rfc2253,
    issuer: issuer.rfc2253,
    serial: cert.serialNumber,
    serialHex: cert.serialNumberHex,
    version: cert.version,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    sha256: cert.fingerprint("sha256"),
    sha1: cert.fingerprint("sha1"),
    sans: cert.subjectAltNames,
    extensions: cert.extensions,
    isCA: cert.isCA,
    pathLength: cert.pathLength,
    keyUsage: cert.keyUsage,
    extendedKeyUsage: cert.extendedKeyUsage,
    publicKey: publicKey.publicKeyPEM(),
    signatureAlgorithm: cert.signatureAlgorithm,
    text: cert.toText(),
  };
}

Deno.test("X509 read from an openssl CLI certificate matches what openssl x509 prints", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-x509-" });
  try {
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "cert.pem",
      "-days",
      "10",
      "-set_serial",
      "0x0123456789ABCDEF",
      "-subj",
      "/C=FR/O=Example Org/OU=Unit One/CN=cli.example",
      "-addext",
      "subjectAltName=DNS:cli.example,DNS:*.cli.example,IP:10.1.2.3,IP:2001:db8::1,email:admin@cli.example,URI:https://cli.example/",
      "-addext",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "-addext",
      "extendedKeyUsage=serverAuth,clientAuth",
    ], dir);
    const pem = await Deno.readTextFile(join(dir, "cert.pem"));
    using cert = X509.fromPEM(pem);
    const path = join(dir, "cert.pem");
    const x509 = (...args: string[]) => openssl(["x509", "-in", path, "-noout", ...args]);

    await t.step("toText() is byte for byte openssl x509 -noout -text", async () => {
      assert.equal(cert.toText(), await x509("-text"));
    });

    await t.step("fingerprint() matches -fingerprint for sha256 and sha1", async () => {
      for (const digest of ["sha256", "sha1"]) {
        const line = (await x509("-fingerprint", `-${digest}`)).trim();
        assert.equal(cert.fingerprint(digest), line.slice(line.indexOf("=") + 1));
      }
    });

    await t.step("serialNumber matches -serial, as hex and as bigint", async () => {
      assert.equal((await x509("-serial")).trim(), `serial=${cert.serialNumberHex}`);
      assert.equal(cert.serialNumberHex, "0123456789ABCDEF");
      assert.equal(cert.serialNumber, 0x0123456789abcdefn);
    });

    await t.step("notBefore / notAfter match -dates", async () => {
      const lines = (await x509("-dates")).trim().split("\n");
      const get = (key: string) =>
        Date.parse(lines.find((l) => l.startsWith(`${key}=`))!.slice(key.length + 1));
      assert.equal(cert.notBefore.getTime(), get("notBefore"));
      assert.equal(cert.notAfter.getTime(), get("notAfter"));
      assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 10 * 86_400_000);
      assert.equal(cert.hasExpired(), false);
      assert.equal(cert.hasExpired(new Date(cert.notAfter.getTime() + 1000)), true);
    });

    await t.step(
      "subject and issuer match -subject/-issuer (RFC 2253) and -subject_hash",
      async () => {
        using subject = cert.subject;
        using issuer = cert.issuer;
        assert.equal(
          (await x509("-subject", "-nameopt", "RFC2253")).trim(),
          `subject=${subject.rfc2253}`,
        );
        assert.equal(subject.rfc2253, "CN=cli.example,OU=Unit One,O=Example Org,C=FR");
        assert.equal(
          (await x509("-issuer", "-nameopt", "RFC2253")).trim(),
          `issuer=${issuer.rfc2253}`,
        );
        assert.equal(
          (await x509("-subject_hash")).trim(),
          subject.hash.toString(16).padStart(8, "0"),
        );
        assert.deepEqual(subject.entries.map((e) => [e.name, e.value]), [
          ["C", "FR"],
          ["O", "Example Org"],
          ["OU", "Unit One"],
          ["CN", "cli.example"],
        ]);
        assert.equal(subject.commonName, "cli.example");
        assert.ok(subject.equals(issuer), "a self-signed certificate's subject equals its issuer");
      },
    );

    await t.step("extensions, SANs and usages read as the CLI wrote them", () => {
      assert.deepEqual(cert.subjectAltNames, [
        { type: "DNS", value: "cli.example" },
        { type: "DNS", value: "*.cli.example" },
        { type: "IP", value: "10.1.2.3" },
        { type: "IP", value: "2001:db8::1" },
        { type: "email", value: "admin@cli.example" },
        { type: "URI", value: "https://cli.example/" },
      ]);
      assert.deepEqual(cert.keyUsage, ["digitalSignature", "keyEncipherment"]);
      assert.deepEqual(cert.extendedKeyUsage, ["serverAuth", "clientAuth"]);
      const ku = cert.extensions.find((e) => e.name === "keyUsage");
      assert.deepEqual(ku, {
        name: "keyUsage",
        oid: "2.5.29.15",
        critical: true,
        value: "Digital Signature, Key Encipherment",
      });
      // openssl req -x509 marks itself a CA (basicConstraints=critical,CA:TRUE by default config).
      const bc = cert.extensions.find((e) => e.name === "basicConstraints");
      assert.equal(cert.isCA, bc?.value === "CA:TRUE");
      assert.equal(cert.version, 3);
      assert.equal(cert.signatureAlgorithm, "sha256WithRSAEncryption");
    });

    await t.step("publicKey is the key openssl generated", async () => {
      using key = PKey.fromPEM(await Deno.readTextFile(join(dir, "key.pem")));
      using pub = cert.publicKey;
      assert.ok(pub.equals(key));
      assert.equal(pub.type, "rsa");
      assert.equal(pub.bits, 2048);
    });

    await t.step("toDER() equals openssl x509 -outform DER", async () => {
      await openssl(["x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der"], dir);
      assert.deepEqual(cert.toDER(), await Deno.readFile(join(dir, "cert.der")));
      assert.equal(cert.toPEM(), pem);
    });

    await t.step("PEM -> DER -> object -> PEM keeps every field", () => {
      using fromDer = X509.fromDER(cert.toDER());
      using back = X509.fromPEM(fromDer.toPEM());
      using bytes = X509.fromPEM(new TextEncoder().encode(pem));
      assert.deepEqual(fields(fromDer), fields(cert));
      assert.deepEqual(fields(back), fields(cert));
      assert.deepEqual(fields(bytes), fields(cert));
      assert.ok(back.equals(cert));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("X509 round trips keep every field of a TestCA certificate for each key type", () => {
  for (const keyType of ["ec", "rsa", "ed25519"] as const) {
    using ca = TestCA.create({ keyType, intermediate: true });
    using leaf = ca.issue({ dns: ["localhost", "a.test"], ip: ["127.0.0.1", "::1"] });
    using viaDer = X509.fromDER(leaf.cert.toDER());
    using viaPem = X509.fromPEM(viaDer.toPEM());
    assert.deepEqual(fields(viaPem), fields(leaf.cert), keyType);
    assert.deepEqual(leaf.cert.subjectAltNames, [
      { type: "DNS", value: "localhost" },
      { type: "DNS", value: "a.test" },
      { type: "IP", value: "127.0.0.1" },
      { type: "IP", value: "::1" },
    ]);
    assert.equal(leaf.cert.isCA, false);
    assert.equal(ca.cert.isCA, true);
    assert.equal(ca.intermediate!.cert.pathLength, 0);
    assert.deepEqual(leaf.cert.extendedKeyUsage, ["serverAuth"]);
    assert.equal(
      leaf.cert.signatureAlgorithm,
      { ec: "ecdsa-with-SHA256", rsa: "sha256WithRSAEncryption", ed25519: "ED25519" }[keyType],
    );
  }
});

Deno.test("X509.loadChain() returns every certificate of a bundle, skipping other blocks", () => {
  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issue({ dns: ["localhost"] });
  const bundle = `${leaf.keyPEM}${leaf.chainPEM}junk between blocks\n${ca.certPEM}`;
  const chain = X509.loadChain(bundle);
  try {
    assert.equal(chain.length, 3);
    assert.ok(chain[0]!.equals(leaf.cert));
    assert.ok(chain[1]!.equals(ca.intermediate!.cert));
    assert.ok(chain[2]!.equals(ca.cert));
  } finally {
    for (const c of chain) c.close();
  }
});

Deno.test("X509.loadChain() throws SSLError naming the problem for no certificate or a corrupt one", () => {
  assert.throws(() => X509.loadChain("nothing here"), (e: unknown) => {
    assert.ok(e instanceof SSLError);
    assert.match(e.message, /no certificate found/);
    return true;
  });
  using ca = TestCA.create();
  const corrupt = ca.certPEM + ca.certPEM.replace(/\n[A-Za-z0-9+/]{20}/, "\n!!!!");
  assert.throws(() => X509.loadChain(corrupt), (e: unknown) => {
    assert.ok(e instanceof SSLError);
    assert.match(e.message, /certificate 2/);
    return true;
  });
});

Deno.test("X509.fromPEM() throws SSLError naming the problem for garbage, bad base64 and a non-certificate", () => {
  const cases: [string, RegExp][] = [
    ["garbage", /Could not parse PEM certificate: no PEM block .*\(OpenSSL: no start line\)/],
    ["-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n", /Could not parse PEM/],
    ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", /Could not parse PEM.*asn1/],
    ["", /Could not parse PEM certificate/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => X509.fromPEM(input), (e: unknown) => {
      assert.ok(e instanceof SSLError, `${JSON.stringify(input)} gives an SSLError`);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => X509.fromPEM(42 as unknown as string), TypeError);
});

Deno.test("X509.fromDER() throws SSLError for truncated, empty and garbage DER", () => {
  using ca = TestCA.create();
  const der = ca.cert.toDER();
  for (const cut of [1, 10, der.length / 2, der.length - 1]) {
    assert.throws(() => X509.fromDER(der.subarray(0, Math.floor(cut))), (e: unknown) => {
      assert.ok(e instanceof SSLError);
      assert.match(e.message, /Could not parse DER certificate/);
      return true;
    });
  }
  assert.throws(
    () => X509.fromDER(new Uint8Array(0)),
    /Could not parse DER certificate: the input is empty/,
  );
  assert.throws(() => X509.fromDER(new Uint8Array(64).fill(0xff)), SSLError);
  // A subarray at an offset parses: the buffer address passed to d2i_X509 honours byteOffset.
  const padded = new Uint8Array(der.length + 7);
  padded.set(der, 7);
  using back = X509.fromDER(padded.subarray(7));
  assert.ok(back.equals(ca.cert));
});

Deno.test("X509 methods throw ClosedError after close(), and close() is idempotent", () => {
  using ca = TestCA.create();
  const cert = X509.fromPEM(ca.certPEM);
  const name = cert.subject;
  cert.close();
  cert.close();
  cert[Symbol.dispose]();
  assert.throws(() => cert.toPEM(), ClosedError);
  assert.throws(() => cert.subject, ClosedError);
  assert.throws(() => cert._handle, ClosedError);
  assert.throws(() => ca.cert.equals(cert), ClosedError);
  // The name is an independent copy: still readable after its certificate is gone.
  assert.equal(name.commonName, "denossl Test Root CA");
  name.close();
  name.close();
  assert.throws(() => name.rfc2253, ClosedError);
});

Deno.test("X509._borrow() takes its own reference: closing the borrower leaves the owner usable", () => {
  using ca = TestCA.create();
  const borrowed = X509._borrow(ca.cert._handle);
  borrowed.close();
  assert.equal(ca.cert.subject.commonName, "denossl Test Root CA");
});

Deno.test("CertificateBuilder writes the serial, names, validity and extensions it was given", () => {
  using key = PKey.generate({ type: "ec", curve: "P-384" });
  const notBefore = new Date("2030-01-02T03:04:05Z");
  const notAfter = new Date("2031-06-07T08:09:10Z");
  using cert = new CertificateBuilder()
    .subject([["C", "DE"], ["O", "Builder"], ["CN", "built"]])
    .issuer({ CN: "Some Issuer" })
    .serial(0xabcdefn)
    .validity(notBefore, notAfter)
    .subjectAltNames({ dns: ["built.test"], ip: ["192.0.2.1"], email: ["x@built.test"] })
    .basicConstraints({ ca: true, pathLength: 2 })
    .keyUsage(["keyCertSign", "cRLSign"])
    .extendedKeyUsage(["codeSigning", "1.2.3.4"])
    .sign(key);
  assert.equal(cert.serialNumberHex, "ABCDEF");
  assert.equal(cert.subject.rfc2253, "CN=built,O=Builder,C=DE");
  assert.equal(cert.issuer.rfc2253, "CN=Some Issuer");
  assert.deepEqual(cert.notBefore, notBefore);
  assert.deepEqual(cert.notAfter, notAfter);
  assert.equal(cert.isCA, true);
  assert.equal(cert.pathLength, 2);
  assert.deepEqual(cert.keyUsage, ["keyCertSign", "cRLSign"]);
  assert.deepEqual(cert.extendedKeyUsage, ["codeSigning", "1.2.3.4"]);
  assert.equal(cert.signatureAlgorithm, "ecdsa-with-SHA256"); // SHA-256 whatever the curve
  assert.equal(cert.hasExpired(), false);
  const bc = cert.extensions.find((e) => e.name === "basicConstraints")!;
  assert.deepEqual([bc.critical, bc.value], [true, "CA:TRUE, pathlen:2"]);
});

Deno.test("CertificateBuilder rejects misuse with TypeError/RangeError and bad values with SSLError", () => {
  using key = PKey.generate({ type: "ec" });
  const now = new Date();
  assert.throws(() => new CertificateBuilder().validity(now, now).sign(key), TypeError);
  assert.throws(() => new CertificateBuilder().subject({ CN: "x" }).sign(key), TypeError);
  assert.throws(() => new CertificateBuilder().validity(now, new Date(0)), RangeError);
  assert.throws(() => new CertificateBuilder().serial(-1n), RangeError);
  assert.throws(() => new CertificateBuilder().keyUsage(["fly"]), TypeError);
  assert.throws(() => new CertificateBuilder().subjectAltNames({ dns: ["a,b"] }), TypeError);
  assert.throws(
    () =>
      new CertificateBuilder().subject({ CN: "x" }).validity(now, now)
        .subjectAltNames({ ip: ["not-an-ip"] }).sign(key),
    (e: unknown) => e instanceof SSLError && /Invalid subjectAltName extension/.test(e.message),
  );
  assert.throws(
    () => new CertificateBuilder().subject({ NOPE: "x" }).validity(now, now).sign(key),
    (e: unknown) => e instanceof SSLError && /NOPE/.test(e.message),
  );
});
