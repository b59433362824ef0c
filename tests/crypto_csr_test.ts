/**
 * `X509Req`: certificate requests made here and checked by the `openssl`
 * CLI (`req -verify`, `x509 -req`), requests made by `openssl req -new`
 * parsed and issued here, and tampered requests refused.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  CertificateBuilder,
  PKey,
  SSLError,
  TestCA,
  type TestKeyType,
  X509,
  X509Req,
  X509Store,
} from "../mod.ts";
import { liveHandles } from "../ffi/_handles.ts";

const dec = new TextDecoder();

async function openssl(
  args: string[],
  cwd: string,
): Promise<{ ok: boolean; out: string; err: string }> {
  const r = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return { ok: r.success, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-csr-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function generate(type: TestKeyType): PKey {
  return type === "rsa"
    ? PKey.generate({ type: "rsa", bits: 2048 })
    : type === "ec"
    ? PKey.generate({ type: "ec", curve: "P-256" })
    : PKey.generate({ type: "ed25519" });
}

Deno.test("a CSR made here is accepted by openssl req -verify and signed by openssl x509 -req", async (t) => {
  for (const type of ["ec", "rsa", "ed25519"] as const) {
    await t.step(type, async () => {
      await inTempDir(async (dir) => {
        using key = generate(type);
        using req = X509Req.create({
          subject: { CN: "api.example", O: "Example Org" },
          key,
          subjectAltNames: { dns: ["api.example", "www.api.example"], ip: ["192.0.2.7"] },
          extensions: [{ name: "extendedKeyUsage", value: "serverAuth" }],
        });
        await Deno.writeTextFile(`${dir}/req.pem`, req.toPEM());
        const verified = await openssl(["req", "-in", "req.pem", "-verify", "-noout"], dir);
        assert.ok(verified.ok, verified.err);
        assert.match(verified.out + verified.err, /verify OK/i);
        const text = await openssl(["req", "-in", "req.pem", "-noout", "-text"], dir);
        assert.match(text.out, /Subject: CN ?= ?api\.example, O ?= ?Example Org/);
        assert.match(text.out, /DNS:api\.example, DNS:www\.api\.example, IP Address:192\.0\.2\.7/);
        assert.match(text.out, /TLS Web Server Authentication/);

        using ca = TestCA.create();
        await Deno.writeTextFile(`${dir}/ca.pem`, ca.certPEM);
        await Deno.writeTextFile(`${dir}/ca.key`, ca.keyPEM);
        const signed = await openssl([
          "x509",
          "-req",
          "-in",
          "req.pem",
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-days",
          "2",
          "-copy_extensions",
          "copy",
          "-out",
          "cert.pem",
        ], dir);
        assert.ok(signed.ok, signed.err);
        using cert = X509.fromPEM(await Deno.readTextFile(`${dir}/cert.pem`));
        assert.equal(cert.subject.commonName, "api.example");
        assert.deepEqual(cert.subjectAltNames, req.subjectAltNames);
        using certKey = cert.publicKey;
        assert.equal(certKey.equals(key), true);
        using store = new X509Store().addCert(ca.cert);
        for (const c of store.verify(cert, { hostname: "www.api.example" })) c.close();
      });
    });
  }
});

Deno.test("a CSR made by openssl req -new parses here and issues here", async () => {
  await inTempDir(async (dir) => {
    const made = await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-384",
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "req.pem",
      "-subj",
      "/C=FR/O=Example/CN=device.example",
      "-addext",
      "subjectAltName=DNS:device.example,IP:2001:db8::7,email:ops@example.com",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,digitalSignature",
    ], dir);
    assert.ok(made.ok, made.err);
    using key = PKey.fromPEM(await Deno.readTextFile(`${dir}/key.pem`));
    const pem = await Deno.readTextFile(`${dir}/req.pem`);
    using req = X509Req.fromPEM(pem);
    req.verify();
    using subject = req.subject;
    assert.equal(subject.commonName, "device.example");
    assert.equal(subject.toString(), "CN=device.example,O=Example,C=FR");
    assert.deepEqual(req.subjectAltNames, [
      { type: "DNS", value: "device.example" },
      { type: "IP", value: "2001:db8::7" },
      { type: "email", value: "ops@example.com" },
    ]);
    assert.deepEqual(
      req.extensions.map((e) => [e.name, e.critical, e.value]),
      [
        [
          "subjectAltName",
          false,
          "DNS:device.example, IP Address:2001:DB8:0:0:0:0:0:7, email:ops@example.com",
        ],
        ["basicConstraints", true, "CA:TRUE"],
        ["keyUsage", true, "Digital Signature, Certificate Sign"],
      ],
    );
    using reqKey = req.publicKey;
    assert.equal(reqKey.equals(key), true);
    assert.equal(reqKey.bits, 384);
    assert.equal(req.signatureAlgorithm, "ecdsa-with-SHA256");

    using ca = TestCA.create({ intermediate: true });
    using cert = ca.issueFromRequest(req, { extendedKeyUsage: ["clientAuth"] });
    assert.equal(cert.subject.toString(), "CN=device.example,O=Example,C=FR");
    assert.deepEqual(cert.subjectAltNames, req.subjectAltNames);
    using certKey = cert.publicKey;
    assert.equal(certKey.equals(key), true);
    // The CA decides: the request's CA:TRUE and keyCertSign are not granted.
    assert.equal(cert.isCA, false);
    assert.deepEqual(cert.keyUsage, ["digitalSignature"]);
    assert.deepEqual(cert.extendedKeyUsage, ["clientAuth"]);
    assert.equal(cert.issuer.commonName, "denossl Test Intermediate CA");
    await Deno.writeTextFile(`${dir}/root.pem`, ca.certPEM);
    await Deno.writeTextFile(`${dir}/inter.pem`, ca.intermediate!.certPEM);
    await Deno.writeTextFile(`${dir}/cert.pem`, cert.toPEM());
    const checked = await openssl(
      [
        "verify",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "inter.pem",
        "-purpose",
        "sslclient",
        "cert.pem",
      ],
      dir,
    );
    assert.ok(checked.ok, checked.out + checked.err);
  });
});

Deno.test("CertificateBuilder.fromRequest copies subject, key and SANs, and nothing a CA must decide", async (t) => {
  using caKey = PKey.generate({ type: "ec" });
  using key = PKey.generate({ type: "ec" });
  using req = X509Req.create({
    subject: { CN: "asks-for-too-much" },
    key,
    subjectAltNames: { dns: ["a.example"], uri: ["spiffe://example/a"] },
    extensions: [
      { name: "basicConstraints", value: "CA:TRUE", critical: true },
      { name: "extendedKeyUsage", value: "codeSigning" },
    ],
  });
  const validity = [new Date(), new Date(Date.now() + 86_400_000)] as const;
  await t.step("by default: SANs, no basicConstraints, no extended key usage", () => {
    using cert = CertificateBuilder.fromRequest(req).validity(...validity).sign(caKey);
    assert.equal(cert.subject.commonName, "asks-for-too-much");
    assert.deepEqual(cert.subjectAltNames, [
      { type: "DNS", value: "a.example" },
      { type: "URI", value: "spiffe://example/a" },
    ]);
    assert.equal(cert.isCA, false);
    assert.equal(cert.extendedKeyUsage, null);
    assert.equal(cert.extensions.some((e) => e.name === "basicConstraints"), false);
  });
  await t.step("copySubjectAltNames: false leaves the names to the CA", () => {
    using cert = CertificateBuilder.fromRequest(req, { copySubjectAltNames: false })
      .validity(...validity).subjectAltNames({ dns: ["b.example"] }).sign(caKey);
    assert.deepEqual(cert.subjectAltNames, [{ type: "DNS", value: "b.example" }]);
  });
  await t.step("a CA certificate only when the builder says so", () => {
    using cert = CertificateBuilder.fromRequest(req).validity(...validity)
      .basicConstraints({ ca: true, pathLength: 0 }).sign(caKey);
    assert.equal(cert.isCA, true);
  });
});

/** A copy of `der` with the first occurrence of `from` replaced by `to` (same length). */
function patched(der: Uint8Array, from: string, to: string): Uint8Array {
  const a = new TextEncoder().encode(from);
  const b = new TextEncoder().encode(to);
  const out = der.slice();
  for (let i = 0; i + a.length <= out.length; i++) {
    if (a.every((byte, j) => out[i + j] === byte)) {
      out.set(b, i);
      return out;
    }
  }
  throw new Error(`${from} not found`);
}

Deno.test("a tampered CSR fails verify() with an SSLError, and cannot be issued", async () => {
  using key = PKey.generate({ type: "ec" });
  using req = X509Req.create({ subject: { CN: "alice.example" }, key });
  using tampered = X509Req.fromDER(patched(req.toDER(), "alice", "mallo"));
  using subject = tampered.subject;
  assert.equal(subject.commonName, "mallo.example");
  assert.throws(() => tampered.verify(), (e) => {
    assert.ok(e instanceof SSLError);
    assert.match(e.message, /does not verify/);
    return true;
  });
  using ca = TestCA.create();
  assert.throws(() => ca.issueFromRequest(tampered), SSLError);
  assert.throws(() => CertificateBuilder.fromRequest(tampered), SSLError);
  // openssl agrees that the signature no longer verifies.
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.pem`, tampered.toPEM());
    const r = await openssl(["req", "-in", "bad.pem", "-verify", "-noout"], dir);
    assert.match(r.out + r.err, /verify failure|signature failure|bad signature/i);
  });
});

Deno.test("X509Req round trips, checks its input and frees its handle once", async (t) => {
  using key = PKey.generate({ type: "ed25519" });
  await t.step("PEM and DER round trips keep the request", () => {
    using req = X509Req.create({ subject: [["CN", "rt"], ["O", "x"]], key });
    using fromPem = X509Req.fromPEM(req.toPEM());
    using fromDer = X509Req.fromDER(req.toDER());
    assert.deepEqual(fromPem.toDER(), req.toDER());
    assert.deepEqual(fromDer.toDER(), req.toDER());
    assert.equal(req.signatureAlgorithm, "ED25519");
    assert.deepEqual(req.subjectAltNames, []);
    assert.deepEqual(req.extensions, []);
  });
  await t.step("publicKey holds the public half only, also on a request made here", () => {
    using req = X509Req.create({ subject: { CN: "p" }, key });
    using pub = req.publicKey;
    assert.equal(pub.equals(key), true);
    assert.throws(() => pub.toPEM(), SSLError); // no private key to write
    assert.equal(pub.publicKeyPEM(), key.publicKeyPEM());
    // So does a certificate built in this process, which holds the signing request's key.
    using ca = TestCA.create();
    using cert = ca.issueFromRequest(req);
    using certPub = cert.publicKey;
    assert.throws(() => certPub.toPEM(), SSLError);
  });
  await t.step("verify() with another key is an SSLError", () => {
    using req = X509Req.create({ subject: { CN: "k" }, key });
    using other = PKey.generate({ type: "ed25519" });
    req.verify(key);
    assert.throws(() => req.verify(other), /with this key/);
  });
  await t.step("bad input is a typed error", () => {
    assert.throws(() => X509Req.fromPEM("not a request"), SSLError);
    assert.throws(() => X509Req.fromDER(new Uint8Array([0x30, 0x03, 1, 2, 3])), SSLError);
    assert.throws(() => X509Req.create({ subject: { CN: "x" }, key: "k" as never }), TypeError);
    assert.throws(
      () =>
        X509Req.create({
          subject: { CN: "x" },
          key,
          extensions: [{ name: "noSuchExt", value: "1" }],
        }),
      SSLError,
    );
    assert.throws(
      () => X509Req.create({ subject: { CN: "x" }, key, subjectAltNames: { dns: ["a,b"] } }),
      TypeError,
    );
    assert.throws(
      () => X509Req.create({ subject: { CN: "x" }, key, digest: "md5" as never }),
      TypeError,
    );
    using pub = PKey.fromPEM(key.publicKeyPEM());
    assert.throws(() => X509Req.create({ subject: { CN: "x" }, key: pub }), SSLError);
  });
  await t.step("close() is idempotent, and a closed request says so", () => {
    const before = liveHandles().X509_REQ;
    const req = X509Req.create({ subject: { CN: "c" }, key });
    assert.equal(liveHandles().X509_REQ, before + 1);
    req.close();
    req.close();
    assert.equal(liveHandles().X509_REQ, before);
    assert.throws(() => req.toPEM(), /closed/i);
  });
});
