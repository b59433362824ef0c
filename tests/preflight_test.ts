/**
 * `deno task test` checks the commands the interop tests drive before it runs anything.
 *
 * @module
 */

import assert from "node:assert/strict";

const PREFLIGHT = new URL("../tools/preflight.ts", import.meta.url).pathname;

async function preflight(path: string): Promise<{ code: number; stderr: string; ms: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", PREFLIGHT],
    env: { PATH: path, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
    ms: performance.now() - t0,
  };
}

Deno.test("tools/preflight.ts: without openssl and node on PATH, one line naming both and exit 1, at once", async () => {
  const r = await preflight("/nonexistent");
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /install openssl .*; node /);
  assert.ok(r.ms < 10_000, `${r.ms} ms`);
});

Deno.test("tools/preflight.ts: with both on PATH, silent and exit 0", async () => {
  const r = await preflight(Deno.env.get("PATH") ?? "");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
});

Deno.test("a test file that drives openssl, run on its own without it on PATH, fails at once with the same one line", async () => {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", new URL("./interop_openssl_test.ts", import.meta.url).pathname],
    env: { PATH: "/nonexistent", NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/tmp" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.notEqual(out.code, 0);
  assert.match(text, /denossl tests need commands that are not on PATH: install openssl .*; node /);
  assert.doesNotMatch(text, /NotFound/);
  assert.ok(performance.now() - t0 < 30_000);
});
