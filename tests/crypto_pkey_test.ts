import "./_tools.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ClosedError, SSLError } from "../errors/ssl_error.ts";
import { PKey } from "../crypto/pkey.ts";

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test("PKey.generate() makes EC, RSA and Ed25519 keys of the asked size", () => {
  using p256 = PKey.generate({ type: "ec" });
  using p384 = PKey.generate({ type: "ec", curve: "P-384" });
  using rsa = PKey.generate({ type: "rsa", bits: 3072 });
  using ed = PKey.generate({ type: "ed25519" });
  assert.deepEqual([p256.type, p256.bits, p256.curve], ["ec", 256, "prime256v1"]);
  assert.deepEqual([p384.type, p384.bits, p384.curve], ["ec", 384, "secp384r1"]);
  assert.deepEqual([rsa.type, rsa.bits, rsa.curve], ["rsa", 3072, null]);
  assert.deepEqual([ed.type, ed.curve], ["ed25519", null]);
  assert.equal(p256.equals(p384), false);
});

Deno.test("PKey.generate() rejects unknown types, bad sizes and unknown curves", () => {
  assert.throws(() => PKey.generate({ type: "dsa" } as never), TypeError);
  assert.throws(() => PKey.generate({ type: "rsa", bits: 512 }), RangeError);
  assert.throws(
    () => PKey.generate({ type: "ec", curve: "no-such-curve" }),
    (e: unknown) => e instanceof SSLError && /no-such-curve/.test(e.message),
  );
});

Deno.test("PKey PEM and DER round trips keep the key, encrypted or not", () => {
  for (const options of [{ type: "ec" }, { type: "rsa" }, { type: "ed25519" }] as const) {
    using key = PKey.generate(options);
    using fromPem = PKey.fromPEM(key.toPEM());
    using fromDer = PKey.fromDER(key.toDER());
    using fromEnc = PKey.fromPEM(key.toPEM({ passphrase: "pw", cipher: "aes-128-cbc" }), "pw");
    using pub = PKey.fromPEM(key.publicKeyPEM());
    using pubDer = PKey.fromDER(key.publicKeyDER());
    for (const other of [fromPem, fromDer, fromEnc, pub, pubDer]) {
      assert.ok(other.equals(key), options.type);
      assert.equal(other.type, key.type);
      assert.equal(other.bits, key.bits);
    }
    assert.equal(fromPem.toPEM(), key.toPEM());
    assert.match(key.toPEM(), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(key.toPEM({ passphrase: "pw" }), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.match(key.publicKeyPEM(), /^-----BEGIN PUBLIC KEY-----\n/);
  }
});

Deno.test("PKey.fromPEM() reads encrypted keys written by openssl, in PKCS#8 and traditional form", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-pkey-" });
  try {
    await openssl([
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-aes256",
      "-pass",
      "pass:pw",
      "-out",
      "pkcs8.pem",
    ], dir);
    await openssl([
      "pkey",
      "-in",
      "pkcs8.pem",
      "-passin",
      "pass:pw",
      "-aes128",
      "-passout",
      "pass:pw2",
      "-traditional",
      "-out",
      "trad.pem",
    ], dir);
    const pkcs8 = await Deno.readTextFile(join(dir, "pkcs8.pem"));
    const trad = await Deno.readTextFile(join(dir, "trad.pem"));
    assert.match(trad, /Proc-Type: 4,ENCRYPTED/);
    using a = PKey.fromPEM(pkcs8, "pw");
    using b = PKey.fromPEM(trad, "pw2");
    assert.ok(a.equals(b));
    assert.equal(a.type, "ec");

    for (const pem of [pkcs8, trad]) {
      assert.throws(() => PKey.fromPEM(pem, "wrong"), (e: unknown) => {
        assert.ok(e instanceof SSLError);
        assert.match(e.message, /^Could not decrypt PEM private key: wrong passphrase \(OpenSSL: /);
        // OpenSSL 3 tries its decoder, then its legacy reader: the failure is reported once.
        const codes = e.errors.map((x) => x.code);
        assert.ok(codes.length > 0);
        assert.deepEqual(codes, [...new Set(codes)], "no entry repeated");
        assert.equal(e.message.match(/bad decrypt/g)?.length, 1);
        return true;
      });
      assert.throws(() => PKey.fromPEM(pem), (e: unknown) => {
        assert.ok(e instanceof SSLError);
        assert.match(e.message, /encrypted and no passphrase was given/);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PKey.fromPEM() / fromDER() give an SSLError naming the problem for garbage and truncation", () => {
  using key = PKey.generate({ type: "ec" });
  const pem = key.toPEM();
  assert.throws(
    () => PKey.fromPEM("garbage"),
    /Could not parse PEM private key: no "-----BEGIN \.\.\. PRIVATE KEY-----" block found/,
  );
  const corrupt = pem.replace(/\n[A-Za-z0-9+/]{8}/, "\nAAAAAAAA");
  assert.throws(() => PKey.fromPEM(corrupt), SSLError);
  const der = key.toDER();
  assert.throws(
    () => PKey.fromDER(der.subarray(0, 20)),
    (e: unknown) => e instanceof SSLError && /^Could not parse DER private key/.test(e.message),
  );
  assert.throws(() => PKey.fromDER(new Uint8Array(0)), /the input is empty/);
  assert.throws(() => key.toPEM({ cipher: "aes-128-cbc" }), TypeError);
  assert.throws(
    () => key.toPEM({ passphrase: "x", cipher: "rot13" }),
    (e: unknown) => e instanceof SSLError && /Unknown cipher rot13/.test(e.message),
  );
});

Deno.test("PKey methods throw ClosedError after close(); _borrow() keeps its own reference", () => {
  const key = PKey.generate({ type: "ed25519" });
  const borrowed = PKey._borrow(key._handle);
  key.close();
  key.close();
  assert.throws(() => key.toPEM(), ClosedError);
  assert.throws(() => key.type, ClosedError);
  assert.equal(borrowed.type, "ed25519");
  borrowed[Symbol.dispose]();
  assert.throws(() => borrowed._handle, ClosedError);
});
