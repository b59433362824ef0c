/**
 * cli.ts as a user runs it: each case spawns `deno run -A cli.ts ...` and
 * checks stdout, stderr and the exit code. Peers are local (`openssl
 * s_server` with a root > intermediate > leaf chain made by the `openssl`
 * CLI, Deno TCP listeners), and every case has a deadline.
 *
 * @module
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import { connectTls, listenTls, TestCA } from "../mod.ts";
import { makeOpensslPki, type OpensslPki as Pki } from "./_pki.ts";
import { freePort, hasIpv6Loopback, Peer, type Scope, withDeadline } from "./_peers.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const DEADLINE_MS = 30_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

async function cli(args: string[], flags: string[] = ["--allow-all"]): Promise<Run> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "--quiet", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DEADLINE_MS),
  }).output();
  const decode = (b: Uint8Array): string => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
    ms: performance.now() - t0,
  };
}

/** A failure as the CLI must report it: one line on stderr, this exit code, no stack trace. */
function assertOneLineError(r: Run, code: number, message: RegExp): void {
  const context = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.code, code, context);
  assert.equal(r.stderr.split("\n").filter((l) => l.length > 0).length, 1, context);
  assert.match(r.stderr, /^denossl( \w+)?: /, context);
  assert.match(r.stderr, message, context);
  assert.doesNotMatch(r.stderr, /\n\s+at |error: Uncaught/, context);
}

/** Starts `openssl s_server` on a free port with the leaf and the intermediate as its chain. */
async function sServer(
  scope: Scope,
  pki: Pki,
  extra: string[] = [],
  naccept = 1,
): Promise<{ port: number; peer: Peer }> {
  const port = freePort();
  const peer = scope.adopt(
    new Peer("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-naccept",
      String(naccept),
      "-quiet",
      "-cert",
      pki.leaf.certFile,
      "-key",
      pki.leaf.keyFile,
      "-cert_chain",
      pki.intermediate.certFile,
      ...extra,
    ], { stdin: true }),
  );
  await peer.listening(port, scope.signal);
  return { port, peer };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** An OCSP response for the PKI's leaf, signed by its issuer: "good" or "revoked". */
async function ocspResponse(pki: Pki, status: "good" | "revoked"): Promise<string> {
  const dir = pki.dir;
  const serial = (await new Deno.Command("openssl", {
    args: ["x509", "-in", pki.leaf.certFile, "-noout", "-serial"],
    stdout: "piped",
  }).output()).stdout;
  const hex = new TextDecoder().decode(serial).trim().replace(/^serial=/, "");
  const stamp = (d: Date): string => d.toISOString().replace(/^\d\d|[-:T]|\.\d+/g, "");
  const expiry = stamp(new Date(Date.now() + 30 * 86_400_000));
  const revoked = stamp(new Date(Date.now() - 86_400_000));
  await Deno.writeTextFile(
    `${dir}/index-${status}.txt`,
    status === "good"
      ? `V\t${expiry}\t\t${hex}\tunknown\t/CN=localhost\n`
      : `R\t${expiry}\t${revoked}\t${hex}\tunknown\t/CN=localhost\n`,
  );
  await openssl([
    "ocsp",
    "-issuer",
    pki.intermediate.certFile,
    "-cert",
    pki.leaf.certFile,
    "-no_nonce",
    "-reqout",
    `req-${status}.der`,
  ], dir);
  await openssl([
    "ocsp",
    "-index",
    `index-${status}.txt`,
    "-rsigner",
    pki.intermediate.certFile,
    "-rkey",
    pki.intermediate.keyFile,
    "-CA",
    pki.intermediate.certFile,
    "-reqin",
    `req-${status}.der`,
    "-respout",
    `ocsp-${status}.der`,
    "-ndays",
    "1",
  ], dir);
  return `${dir}/ocsp-${status}.der`;
}

// ---- demo and help ------------------------------------------------------------------------

Deno.test("cli.ts demo: a local mTLS exchange through inspect (chain, verification), resumption, matching exporters, exit 0 in under 10 s", async () => {
  const r = await cli(["demo"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stderr, "");
  assert.ok(r.ms < 10_000, `demo took ${Math.round(r.ms)} ms`);
  const out = r.stdout;
  assert.match(out, /^OpenSSL 3\.\d+\.\d+ .*\(3\.\d+\.\d+\)\n/);
  assert.match(out, /libssl: {4}\S*libssl/);
  assert.match(out, /libcrypto: \S*libcrypto/);
  // the inspect report, indented
  assert.match(out, /protocol {4}TLSv1\.3/);
  assert.match(out, /ALPN {8}h2 \(offered h2, http\/1\.1\)/);
  assert.match(out, /session {5}new; ticket: yes, lifetime hint \d+ s; resumable: yes/);
  assert.match(out, /OCSP {8}no response/);
  assert.match(out, /client cert CN=alice/);
  assert.match(out, /\[0\] CN=localhost\n/);
  assert.match(out, /\[1\] CN=denossl Test Intermediate CA,O=denossl\n/);
  assert.match(out, /SHA-256 {3}([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  assert.match(out, /verified chain: CN=localhost > .* > CN=denossl Test Root CA,O=denossl/);
  assert.match(out, /verify: OK/);
  assert.match(out, /server: client certificate CN=alice .*resumed: no/);
  assert.match(out, /client: TLSv1\.3 \S+, resumed: yes/);
  assert.match(out, /server: client certificate CN=alice, resumed: yes/);
  const client = out.match(/client: ([0-9a-f]{64})/)?.[1];
  const server = out.match(/server: ([0-9a-f]{64})/)?.[1];
  assert.ok(client && server);
  assert.equal(client, server);
  assert.match(out, /match: yes/);
  assert.match(out, /demo passed in \d+ ms\n$/);
});

Deno.test("cli.ts --help and help COMMAND print the usage with the exit codes; COMMAND --help prints the command's", async () => {
  const top = await cli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^Usage: denossl <command>/);
  for (const command of ["inspect HOST:PORT", "serve", "demo"]) {
    assert.match(top.stdout, new RegExp(`\\n  ${command} `));
  }
  for (const code of ["0", "1", "2", "3"]) assert.match(top.stdout, new RegExp(`\\n  ${code}  `));
  assert.equal((await cli(["help"])).stdout, top.stdout);
  for (const command of ["inspect", "serve", "demo"]) {
    const help = await cli([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: denossl ${command}`));
    assert.equal((await cli(["help", command])).stdout, help.stdout);
  }
  const inspectHelp = (await cli(["inspect", "-h"])).stdout;
  for (
    const option of [
      "--servername",
      "--alpn",
      "--cafile",
      "--unsafe-no-verify",
      "--json",
      "--timeout",
    ]
  ) {
    assert.match(inspectHelp, new RegExp(`\\n  ${option} `));
  }
});

// ---- inspect against openssl s_server -------------------------------------------------------

Deno.test("cli.ts inspect against openssl s_server with a chain", async (t) => {
  const pki = await makeOpensslPki("ec");
  try {
    let name =
      "inspect --cafile prints protocol, cipher, group, session, OCSP, the two certificates sent, the verified chain to the root, verify OK, exit 0";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki);
        const r = await cli(["inspect", `127.0.0.1:${port}`, "--cafile", pki.root.certFile]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.equal(r.stderr, "");
        const out = r.stdout;
        assert.match(
          out,
          new RegExp(`^127\\.0\\.0\\.1:${port} \\(no SNI\\): connected in \\d+ ms`),
        );
        assert.match(out, /\n {2}protocol {4}TLSv1\.3\n/);
        assert.match(out, /\n {2}cipher {6}TLS_\w+ \(\d+-bit\)\n/);
        assert.match(out, /\n {2}group {7}\S+\n/);
        assert.match(out, /\n {2}ALPN {8}not offered\n/);
        assert.match(
          out,
          /\n {2}session {5}new; ticket: yes, lifetime hint \d+ s; resumable: yes\n/,
        );
        assert.match(out, /\n {2}OCSP {8}no response \(a staple was requested\)\n/);
        assert.match(out, /certificate chain \(2 sent by the server\):\n {2}\[0\] CN=localhost\n/);
        assert.match(out, /\n {6}issuer {4}CN=denossl Test Intermediate\n/);
        assert.match(
          out,
          /\n {6}validity {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to .* \((29|30) days left\)\n/,
        );
        assert.match(out, /\n {6}SANs {6}DNS:localhost, IP:127\.0\.0\.1\n/);
        assert.match(
          out,
          /\n {6}key {7}EC 256 bits \(prime256v1\), signed with ecdsa-with-SHA256\n/,
        );
        assert.match(
          out,
          /\n {2}\[1\] CN=denossl Test Intermediate\n {6}issuer {4}CN=denossl Test Root\n/,
        );
        assert.match(out, /, CA\n/);
        assert.match(
          out,
          /\nverified chain: CN=localhost > CN=denossl Test Intermediate > CN=denossl Test Root\n/,
        );
        assert.match(
          out,
          /\nverify: OK \(trusted chain, 127\.0\.0\.1 matches the certificate\)\n$/,
        );
      }));

    name =
      "inspect --json prints one JSON document that parses, with the chain, fingerprints and the verification result";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki, ["-alpn", "h2"]);
        const r = await cli([
          "inspect",
          `127.0.0.1:${port}`,
          "--cafile",
          pki.root.certFile,
          "--servername",
          "localhost",
          "--alpn",
          "h2,http/1.1",
          "--json",
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const report = JSON.parse(r.stdout);
        assert.equal(report.host, "127.0.0.1");
        assert.equal(report.port, port);
        assert.equal(report.servername, "localhost");
        assert.equal(report.protocol, "TLSv1.3");
        assert.deepEqual(report.alpn, { offered: ["h2", "http/1.1"], selected: "h2" });
        assert.equal(report.session.ticket, true);
        assert.equal(report.ocsp.response, null);
        assert.equal(report.chain.length, 2);
        assert.equal(report.chain[0].subject, "CN=localhost");
        assert.equal(report.chain[0].issuer, "CN=denossl Test Intermediate");
        assert.deepEqual(report.chain[0].subjectAltNames, ["DNS:localhost", "IP:127.0.0.1"]);
        assert.deepEqual(report.chain[0].key, { type: "ec", bits: 256, curve: "prime256v1" });
        assert.match(report.chain[0].sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
        assert.ok(report.chain[0].daysLeft >= 29 && report.chain[0].daysLeft <= 30);
        assert.ok(!Number.isNaN(Date.parse(report.chain[0].notAfter)));
        assert.equal(report.chain[1].isCA, true);
        assert.deepEqual(report.verifiedChain, [
          "CN=localhost",
          "CN=denossl Test Intermediate",
          "CN=denossl Test Root",
        ]);
        assert.deepEqual(report.verification, {
          ok: true,
          enforced: true,
          hostname: "localhost",
          failures: [],
        });
      }));

    name =
      "inspect without --cafile still prints the chain, then verify: FAILED (code 20) and exits 3 with one line on stderr; --json parses too";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki, [], 2);
        const r = await cli(["inspect", `127.0.0.1:${port}`]);
        assertOneLineError(
          r,
          3,
          /^denossl inspect: certificate verification failed \(code 20: unable to get local issuer certificate\)\n$/,
        );
        assert.match(r.stdout, /\[0\] CN=localhost\n[^]*\[1\] CN=denossl Test Intermediate\n/);
        assert.match(
          r.stdout,
          /\nverify: FAILED \(code 20: unable to get local issuer certificate\)\n {2}depth 1 \(CN=denossl Test Intermediate\): code 20: /,
        );
        const json = await cli(["inspect", `127.0.0.1:${port}`, "--json"]);
        assert.equal(json.code, 3);
        const report = JSON.parse(json.stdout);
        assert.equal(report.chain.length, 2);
        assert.equal(report.verification.ok, false);
        assert.deepEqual(report.verification.failures[0], {
          code: 20,
          message: "unable to get local issuer certificate",
          depth: 1,
          subject: "CN=denossl Test Intermediate",
        });
      }));

    name =
      "inspect: a server that sends the root too gives code 19 (self-signed certificate in certificate chain); --unsafe-no-verify reports it and exits 0";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const withRoot = `${pki.dir}/intermediate+root.pem`;
        await Deno.writeTextFile(withRoot, pki.intermediate.certPEM + pki.root.certPEM);
        const { port } = await sServer(scope, pki, ["-cert_chain", withRoot], 2);
        const r = await cli(["inspect", `127.0.0.1:${port}`]);
        assert.equal(r.code, 3);
        assert.match(r.stdout, /certificate chain \(3 sent by the server\)/);
        assert.match(
          r.stdout,
          /\nverify: FAILED \(code 19: self-signed certificate in certificate chain\)\n/,
        );
        const unsafe = await cli(["inspect", `127.0.0.1:${port}`, "--unsafe-no-verify"]);
        assert.equal(unsafe.code, 0, unsafe.stderr);
        assert.equal(unsafe.stderr, "");
        assert.match(
          unsafe.stdout,
          /\nverify: FAILED \(code 19: self-signed certificate in certificate chain\), ignored \(--unsafe-no-verify\)\n/,
        );
      }));

    name =
      "inspect: a name the certificate does not carry is a verification failure (code 62, hostname mismatch); SNI is sent";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki);
        const r = await cli([
          "inspect",
          `127.0.0.1:${port}`,
          "--cafile",
          pki.root.certFile,
          "--servername",
          "example.com",
        ]);
        assert.equal(r.code, 3);
        assert.match(r.stdout, /\(SNI example\.com\)/);
        assert.match(r.stdout, /verify: FAILED \(code 62: hostname mismatch\)/);
      }));

    name =
      "inspect: a self-signed server certificate is refused with code 18, the certificate still printed";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const port = freePort();
        const peer = scope.adopt(
          new Peer("openssl", [
            "s_server",
            "-accept",
            `127.0.0.1:${port}`,
            "-naccept",
            "1",
            "-quiet",
            "-cert",
            pki.selfSigned.certFile,
            "-key",
            pki.selfSigned.keyFile,
          ], { stdin: true }),
        );
        await peer.listening(port, scope.signal);
        const r = await cli(["inspect", `127.0.0.1:${port}`]);
        assert.equal(r.code, 3);
        assert.match(r.stdout, /\[0\] CN=localhost\n {6}issuer {4}CN=localhost\n/);
        assert.match(r.stdout, /verify: FAILED \(code 18: self-signed certificate\)/);
      }));

    name = "inspect reports a stapled OCSP response: good, and revoked with its date";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        for (const status of ["good", "revoked"] as const) {
          const file = await ocspResponse(pki, status);
          const { port } = await sServer(scope, pki, ["-status_file", file]);
          const r = await cli(["inspect", `127.0.0.1:${port}`, "--cafile", pki.root.certFile]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.match(
            r.stdout,
            status === "good"
              ? /\n {2}OCSP {8}good, this update \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, next update .* UTC \(\d+ bytes, signature not checked\)\n/
              : /\n {2}OCSP {8}revoked since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, this update /,
          );
        }
      }));

    name =
      "inspect against a TLS 1.2 server: protocol TLSv1.2 and a session ticket from the handshake; --resume resumes it";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki, ["-tls1_2"], 2);
        const r = await cli([
          "inspect",
          `127.0.0.1:${port}`,
          "--cafile",
          pki.root.certFile,
          "--resume",
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /\n {2}protocol {4}TLSv1\.2\n/);
        assert.match(
          r.stdout,
          /\n {2}session {5}new; ticket: yes, lifetime hint \d+ s; resumable: yes\n/,
        );
        assert.match(
          r.stdout,
          /\nresumption: a second connection resumed the session \(TLSv1\.2\)\n/,
        );
      }));

    name =
      "inspect --resume against a TLS 1.3 server without tickets: no ticket, and says no resumable session";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki, ["-no_ticket", "-num_tickets", "0"], 1);
        const r = await cli([
          "inspect",
          `127.0.0.1:${port}`,
          "--cafile",
          pki.root.certFile,
          "--resume",
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /\n {2}session {5}new; ticket: no; resumable: no\n/);
        assert.match(r.stdout, /\nresumption: no resumable session to offer\n/);
      }));

    name =
      "inspect: a handshake the server refuses (TLS 1.1 only) is one line on stderr and exit 1";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki, ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"]);
        const r = await cli(["inspect", `127.0.0.1:${port}`]);
        assertOneLineError(r, 1, new RegExp(`TLS handshake with 127\\.0\\.0\\.1:${port} failed: `));
        assert.equal(r.stdout, "");
      }));

    name =
      "inspect without a client certificate for a server that requires one: the report, the server's TLS 1.3 alert, exit 1 with a hint";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const { port } = await sServer(scope, pki, ["-Verify", "2", "-CAfile", pki.root.certFile]);
        const r = await cli(["inspect", `127.0.0.1:${port}`, "--cafile", pki.root.certFile]);
        assertOneLineError(
          r,
          1,
          /the server sent an alert after the handshake: .*client certificate.*tlsv13 alert certificate required.*\(use --cert, --key\)\n$/,
        );
        assert.match(
          r.stdout,
          /\nafter the handshake the server said: .*tlsv13 alert certificate required/,
        );
        assert.match(r.stdout, /\nverify: OK /);
      }));

    name =
      "inspect --cert/--key: a client certificate for a server that requires one (s_server -Verify)";
    await t.step(name, () =>
      withDeadline(name, async (scope) => {
        const clientChain = `${pki.dir}/client-chain.pem`;
        await Deno.writeTextFile(clientChain, pki.client.certPEM + pki.intermediate.certPEM);
        const { port } = await sServer(scope, pki, ["-Verify", "2", "-CAfile", pki.root.certFile]);
        const r = await cli([
          "inspect",
          `127.0.0.1:${port}`,
          "--cafile",
          pki.root.certFile,
          "--cert",
          clientChain,
          "--key",
          pki.client.keyFile,
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /\n {2}client cert CN=alice\n/);
      }));
  } finally {
    await pki.cleanup();
  }
});

// ---- failures: one line, non-zero exit, no stack trace ---------------------------------------

Deno.test("cli.ts bad arguments: one line on stderr, exit 2, nothing on stdout", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^denossl: unknown command "frobnicate" \(see --help\)\n$/],
    [["--bogus"], /^denossl: unknown option --bogus \(see --help\)\n$/],
    [[], /^denossl: missing command \(see --help\)\n$/],
    [
      ["inspect", "--bogus", "x:1"],
      /^denossl inspect: unknown option --bogus \(see inspect --help\)\n$/,
    ],
    [["inspect"], /missing HOST:PORT/],
    [
      ["inspect", "example.com"],
      /expected HOST:PORT, got "example\.com" \(the port is missing; see inspect --help\)/,
    ],
    [["inspect", "example.com:99999"], /the port must be an integer from 1 to 65535, got "99999"/],
    [["inspect", "example.com:https"], /the port must be an integer from 1 to 65535, got "https"/],
    [["inspect", "::1:443"], /write an IPv6 address as \[ADDRESS\]:PORT/],
    [["inspect", "a:1", "b:2"], /unexpected argument "b:2"/],
    [["inspect", "a:1", "--alpn"], /option --alpn needs a value/],
    [["inspect", "a:1", "--json=yes"], /option --json takes no value/],
    [["inspect", "a:1", "--timeout", "soon"], /--timeout must be a number of seconds/],
    [["inspect", "a:1", "--cert", "c.pem"], /--cert and --key go together/],
    [
      ["inspect", "a:1", "--cafile", "/nonexistent/ca.pem"],
      /cannot read --cafile file "\/nonexistent\/ca\.pem": no such file/,
    ],
    [
      ["inspect", "a:1", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"],
      /cannot read --cert file "\/nonexistent\/c\.pem": no such file/,
    ],
    [
      ["serve", "--port", "70000"],
      /^denossl serve: --port must be an integer from 0 to 65535, got "70000"/,
    ],
    [
      ["serve", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"],
      /^denossl serve: cannot read --cert file "\/nonexistent\/c\.pem": no such file/,
    ],
    [["serve", "extra"], /unexpected argument "extra"/],
    [["demo", "extra"], /^denossl demo: unexpected argument "extra"/],
    [["help", "frobnicate"], /no command "frobnicate"/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assertOneLineError(r, 2, message);
    assert.equal(r.stdout, "", `args ${JSON.stringify(args)}`);
  }
});

Deno.test("cli.ts inspect: a file that is not PEM is a one-line usage error (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const r = await cli([
        "inspect",
        `127.0.0.1:${listener.addr.port}`,
        "--cafile",
        `${dir}/junk.pem`,
      ]);
      assertOneLineError(r, 2, /^denossl inspect: --cafile: /);
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli.ts inspect: connection refused, DNS failure, a silent server (--timeout) and a non-TLS server: one line, exit 1", async () => {
  const refused = await cli(["inspect", `127.0.0.1:${freePort()}`]);
  assertOneLineError(
    refused,
    1,
    /^denossl inspect: cannot connect to 127\.0\.0\.1:\d+: connection refused\n$/,
  );

  const dns = await cli(["inspect", "no-such-host.invalid:443"]);
  assertOneLineError(dns, 1, /^denossl inspect: cannot resolve "no-such-host\.invalid": /);

  // A server that accepts and says nothing; another that closes at once.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const holding = (async () => {
    for await (const c of silent) held.push(c);
  })();
  const closing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closer = (async () => {
    for await (const c of closing) c.close();
  })();
  try {
    const slow = await cli(["inspect", `127.0.0.1:${silent.addr.port}`, "--timeout", "0.5"]);
    assertOneLineError(
      slow,
      1,
      /no TLS handshake with 127\.0\.0\.1:\d+ within 0\.5 s \(--timeout\)/,
    );
    assert.ok(slow.ms < 8000, `took ${slow.ms} ms`);
    const plain = await cli(["inspect", `127.0.0.1:${closing.addr.port}`]);
    assertOneLineError(
      plain,
      1,
      /TLS handshake with 127\.0\.0\.1:\d+ failed: the server closed the connection/,
    );
  } finally {
    silent.close();
    closing.close();
    await holding.catch(() => {});
    await closer.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("cli.ts without --allow-ffi: one line saying OpenSSL could not be loaded and why, exit 1", async () => {
  const r = await cli(["demo"], ["--allow-read", "--allow-net", "--allow-env"]);
  assertOneLineError(r, 1, /^denossl demo: OpenSSL could not be loaded: .*--allow-ffi/);
});

// ---- serve ------------------------------------------------------------------------------------

/** Starts `cli.ts serve`, reads its address (and CA file), stops it with SIGTERM at the end. */
async function startServe(
  args: string[],
): Promise<{ port: number; caFile: string | null; stop(): Promise<Run> }> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", CLI, "serve", "--port", "0", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DEADLINE_MS),
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (
    !/listening on .*\n/.test(text) || (!args.includes("--cert") && !/CA file: .*\n/.test(text))
  ) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const port = Number(text.match(/listening on 127\.0\.0\.1:(\d+) /)?.[1]);
  assert.ok(port > 0, `no address in ${text}`);
  const stderr = new Response(child.stderr).text();
  return {
    port,
    caFile: text.match(/CA file: (\S+)/)?.[1] ?? null,
    async stop(): Promise<Run> {
      child.kill("SIGTERM");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      const status = await child.status;
      return { code: status.code, stdout: text, stderr: await stderr, ms: performance.now() - t0 };
    },
  };
}

async function echoOnce(
  port: number,
  caPEM: string,
  options: { alpnProtocols?: string[] } = {},
): Promise<{ echoed: string; alpn: string | null }> {
  const conn = await connectTls({ hostname: "localhost", port, caCerts: [caPEM], ...options });
  try {
    const { alpnProtocol } = await conn.handshake();
    await conn.write(new TextEncoder().encode("hello, echo"));
    await conn.closeWrite();
    let echoed = "";
    const buf = new Uint8Array(1024);
    for (let n; (n = await conn.read(buf)) !== null;) {
      echoed += new TextDecoder().decode(buf.subarray(0, n));
    }
    return { echoed, alpn: alpnProtocol };
  } finally {
    await conn[Symbol.asyncDispose]();
  }
}

Deno.test("cli.ts serve without --cert: a throwaway CA whose file it prints; echoes; SIGTERM stops it (exit 0) and removes the CA file", async () => {
  const server = await startServe(["--alpn", "h2,http/1.1"]);
  let stopped: Run | undefined;
  try {
    assert.ok(server.caFile);
    const caPEM = await Deno.readTextFile(server.caFile);
    const { echoed, alpn } = await echoOnce(server.port, caPEM, { alpnProtocols: ["http/1.1"] });
    assert.equal(echoed, "hello, echo");
    assert.equal(alpn, "http/1.1");
  } finally {
    stopped = await server.stop();
  }
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stderr, "");
  assert.match(
    stopped.stdout,
    /^listening on 127\.0\.0\.1:\d+ \(TLS echo server; Ctrl-C stops it\)\n/,
  );
  assert.match(
    stopped.stdout,
    /\ntry: deno run -A \S+cli\.ts inspect 127\.0\.0\.1:\d+ --cafile \S+ca\.pem\n/,
  );
  assert.match(
    stopped.stdout,
    /\n127\.0\.0\.1:\d+: TLSv1\.3 \S+, ALPN http\/1\.1, SNI localhost\n/,
  );
  assert.match(stopped.stdout, /\n127\.0\.0\.1:\d+: closed after echoing 11 bytes\n/);
  assert.match(stopped.stdout, /\nstopped\n$/);
  await assert.rejects(Deno.stat(server.caFile!), Deno.errors.NotFound);
});

Deno.test("cli.ts serve --cert/--key serves the given chain; inspect against it verifies; a port in use is one line, exit 1", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    const chainFile = pki.chainFile;
    const server = await startServe(["--cert", chainFile, "--key", pki.leaf.keyFile]);
    try {
      assert.equal(server.caFile, null);
      const { echoed } = await echoOnce(server.port, pki.root.certPEM);
      assert.equal(echoed, "hello, echo");
      const r = await cli([
        "inspect",
        `localhost:${server.port}`,
        "--cafile",
        pki.root.certFile,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /\(SNI localhost\)/);
      assert.match(r.stdout, /certificate chain \(2 sent by the server\)/);
      const busy = await cli([
        "serve",
        "--port",
        String(server.port),
        "--cert",
        chainFile,
        "--key",
        pki.leaf.keyFile,
      ]);
      assertOneLineError(
        busy,
        1,
        new RegExp(
          `^denossl serve: cannot listen on 127\\.0\\.0\\.1:${server.port}: address in use\\n$`,
        ),
      );
    } finally {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0);
    }
    const badKey = await cli(["serve", "--port", "0", "--cert", chainFile, "--key", chainFile]);
    assertOneLineError(badKey, 2, /^denossl serve: --cert\/--key: /);
  } finally {
    await pki.cleanup();
  }
});

Deno.test({
  name:
    "cli.ts inspect [::1]:PORT: an IPv6 address in brackets, verified against its IP SAN, no SNI",
  ignore: !hasIpv6Loopback(), // a host without IPv6 loopback cannot run it
  fn: async () => {
    using ca = TestCA.create();
    using leaf = ca.issue({ ip: ["::1"] });
    const dir = await Deno.makeTempDir({ prefix: "denossl-cli-" });
    const listener = listenTls({ hostname: "::1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM });
    const serving = (async () => {
      for await (const conn of listener) {
        await conn.handshake().catch(() => {});
        await conn[Symbol.asyncDispose]();
      }
    })();
    try {
      await Deno.writeTextFile(`${dir}/ca.pem`, ca.certPEM);
      const r = await cli(["inspect", `[::1]:${listener.addr.port}`, "--cafile", `${dir}/ca.pem`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^\\[::1\\]:${listener.addr.port} \\(no SNI\\)`));
      assert.match(r.stdout, /\n {6}SANs {6}IP:::1\n/);
      assert.match(r.stdout, /\nverify: OK \(trusted chain, ::1 matches the certificate\)\n$/);
    } finally {
      listener.close();
      await serving;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
