/**
 * cli.ts's smaller options as a user runs them: `--version`, `inspect --pem`,
 * the verified chain's label, `--pass` in openssl's `-passin` forms, and the
 * usage errors for a bad host or timeout. Servers are local denossl
 * listeners in this process.
 *
 * @module
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import { listenTls, TestCA, type TlsListener } from "../mod.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", CLI, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const decode = (b: Uint8Array): string => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Serves TLS handshakes on 127.0.0.1 until closed; each client is handshaken then closed. */
function serveHandshakes(listener: TlsListener): Promise<void> {
  return (async () => {
    for await (const conn of listener) {
      conn.handshake().catch(() => {}).finally(() => conn.close());
    }
  })();
}

Deno.test("cli.ts --version prints denossl's version and the OpenSSL it loads, exit 0", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  for (const flag of ["--version", "-V"]) {
    const r = await cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `denossl ${version} (${r.stdout.match(/\((OpenSSL [^)]*)\)/)?.[1]})\n`);
    assert.match(r.stdout, /\(OpenSSL 3\.\d+\.\d+/);
  }
});

Deno.test("cli.ts inspect --pem prints exactly the certificates the server sent, leaf first; the verified chain is labelled only when verification succeeded", async (t) => {
  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  const dir = await Deno.makeTempDir({ prefix: "denossl-cli-" });
  const caFile = `${dir}/ca.pem`;
  await Deno.writeTextFile(caFile, ca.certPEM);
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
  });
  const serving = serveHandshakes(listener);
  const target = `127.0.0.1:${listener.addr.port}`;
  try {
    await t.step("--pem: the leaf and the intermediate, as PEM, nothing else", async () => {
      const r = await cli(["inspect", target, "--cafile", caFile, "--pem"]);
      assert.equal(r.code, 0, r.stderr);
      const blocks = r.stdout.match(/-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/g);
      assert.equal(blocks?.length, 2);
      const norm = (s: string): string => s.replace(/\s+/g, "");
      assert.equal(norm(r.stdout), norm(leaf.chainPEM));
    });

    await t.step("--pem output saved is a --cafile that verifies the server", async () => {
      const r = await cli(["inspect", target, "--cafile", caFile, "--pem"]);
      const saved = `${dir}/saved.pem`;
      await Deno.writeTextFile(saved, ca.certPEM + r.stdout);
      const again = await cli(["inspect", target, "--cafile", saved]);
      assert.equal(again.code, 0, again.stdout + again.stderr);
    });

    await t.step("trusted: verify OK and the verified chain, labelled", async () => {
      const r = await cli(["inspect", target, "--cafile", caFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nverified chain: .* > .* > .*\nverify: OK /);
    });

    await t.step("untrusted: verify FAILED and no line calls the chain verified", async () => {
      const r = await cli(["inspect", target]);
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.match(r.stdout, /\nverify: FAILED /);
      assert.doesNotMatch(r.stdout, /verified chain/);
    });

    await t.step("--json: verifiedChain is filled when verified, empty when not", async () => {
      const ok = JSON.parse((await cli(["inspect", target, "--cafile", caFile, "--json"])).stdout);
      assert.equal(ok.verification.ok, true);
      assert.equal(ok.verifiedChain.length, 3);
      const failed = JSON.parse((await cli(["inspect", target, "--json"])).stdout);
      assert.equal(failed.verification.ok, false);
      assert.deepEqual(failed.verifiedChain, []);
    });
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli.ts inspect --pass reads an encrypted client key's passphrase as openssl -passin does: pass:, env:, file:; a wrong one or an unknown form is exit 2", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-cli-pass-" });
  const openssl = async (args: string[]): Promise<void> => {
    const out = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  };
  // A self-signed client certificate whose key is encrypted with "s3cret".
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-keyout",
    "client.key",
    "-passout",
    "pass:s3cret",
    "-subj",
    "/CN=alice",
    "-days",
    "2",
    "-out",
    "client.pem",
  ]);
  await Deno.writeTextFile(`${dir}/pass.txt`, "s3cret\nignored second line\n");
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.certPEM);
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
    requireClientCert: true,
    caCerts: [await Deno.readTextFile(`${dir}/client.pem`)],
  });
  const seen: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conn.handshake().then((info) => {
        seen.push(info.peerCertificate?.subject.commonName ?? "none");
      }).catch(() => {}).finally(() => conn.close());
    }
  })();
  const base = [
    "inspect",
    `127.0.0.1:${listener.addr.port}`,
    "--cafile",
    `${dir}/ca.pem`,
    "--cert",
    `${dir}/client.pem`,
    "--key",
    `${dir}/client.key`,
  ];
  try {
    for (
      const [form, env] of [
        ["pass:s3cret", {}],
        ["env:CLIENT_KEY_PASS", { CLIENT_KEY_PASS: "s3cret" }],
        [`file:${dir}/pass.txt`, {}],
      ] as const
    ) {
      await t.step(`--pass ${form.split(":")[0]}: the client certificate is sent`, async () => {
        const before = seen.length;
        const r = await cli([...base, "--pass", form], env);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        for (let i = 0; i < 50 && seen.length === before; i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(seen.at(-1), "alice");
      });
    }
    await t.step("a wrong passphrase: one line, exit 2, says so", async () => {
      const r = await cli([...base, "--pass", "pass:wrong"]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /^denossl inspect: --key: .*passphrase/i);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    });
    await t.step("an unknown form, an unset variable, a missing file: exit 2", async () => {
      for (
        const [pass, message] of [
          ["s3cret", /env:VARIABLE, file:PATH or pass:TEXT/],
          ["env:DENOSSL_UNSET_VARIABLE", /not set/],
          ["env:", /needs a variable name/],
          [`file:${dir}/nope.txt`, /cannot read --pass file/],
        ] as const
      ) {
        const r = await cli([...base, "--pass", pass]);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, message);
      }
    });
    await t.step("an encrypted --key without --pass: exit 2, naming --pass", async () => {
      const r = await cli(base);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /--key is encrypted: give its passphrase with --pass env:VARIABLE/);
    });
    await t.step("--pass without --key is a usage error", async () => {
      const r = await cli(["inspect", `127.0.0.1:${listener.addr.port}`, "--pass", "pass:x"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--pass goes with --key/);
    });
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli.ts usage errors: a host that is no host name is exit 2; --timeout says what it takes", async () => {
  for (const target of ["!!!garbage:443", "exa mple.com:443", "[not-ipv6]:443", "[1.2.3.4]:443"]) {
    const r = await cli(["inspect", target]);
    assert.equal(r.code, 2, `${target}: ${r.stderr}`);
    assert.match(r.stderr, /not a host name or an IP address|IPv6 address inside/);
  }
  const r = await cli(["inspect", "localhost:443", "--timeout", "0"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /greater than 0 and at most 3600, got "0"/);
  // ".5" is a number of seconds too (a refused connection, not a usage error).
  const half = await cli(["inspect", "127.0.0.1:1", "--timeout", ".5"]);
  assert.equal(half.code, 1, half.stderr);
});
