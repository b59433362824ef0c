import assert from "node:assert/strict";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("cli.ts demo runs an mTLS exchange with a fresh test CA: chain, ALPN, resumption (also with client certificates), matching exporters, exit 0", async () => {
  const { code, stdout } = await cli("demo");
  assert.equal(code, 0, stdout);
  assert.match(stdout, /client: TLSv1\.3 \S+, ALPN h2/);
  assert.match(stdout, /\[1\] CN=denossl Test Intermediate CA/);
  assert.match(stdout, /server: client certificate CN=alice, resumed: false/);
  assert.match(stdout, /second connection resumed the session: true/);
  assert.match(stdout, /server: client certificate CN=alice, resumed: true/);
  assert.match(stdout, /match: true/);
  assert.match(stdout, /^OpenSSL 3\.\d+\.\d+ .*\(3\.\d+\.\d+\)\n/);
  assert.match(stdout, /libssl: {4}\S*libssl/);
  assert.match(stdout, /libcrypto: \S*libcrypto/);
});

Deno.test("cli.ts --help prints the usage and exits 0", async () => {
  const { code, stdout } = await cli("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: .*cli\.ts <command>/);
  assert.match(stdout, /\n {2}demo /);
});

Deno.test("cli.ts rejects an unknown command or option with one line on stderr and exit code 2", async () => {
  for (const args of [["frobnicate"], ["--bogus"], []]) {
    const { code, stdout, stderr } = await cli(...args);
    assert.equal(code, 2, `args ${JSON.stringify(args)}`);
    assert.equal(stdout, "");
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.match(stderr, /^denossl: .*\(see --help\)\n$/);
  }
});
