/**
 * Drop-in types: code written for Deno's own TLS compiles against denossl's
 * helpers under a user's default compiler options (tests/types/user_config.json,
 * not this project's stricter ones), and a wrong assignment does not.
 */

import assert from "node:assert/strict";

async function check(file: string): Promise<{ success: boolean; output: string }> {
  const dir = new URL("./types/", import.meta.url);
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--config", new URL("user_config.json", dir).pathname, file],
    cwd: dir.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { success, output: dec.decode(stdout) + dec.decode(stderr) };
}

Deno.test("types: with a user's default compiler options, the helpers take Deno's option types and give Deno's listener and connection types", async (t) => {
  await t.step(
    "listenTls(Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem) is a Deno.TlsListener; connectTls and startTls take Deno's options and give Deno.TlsConn",
    async () => {
      const { success, output } = await check("assignable.ts");
      assert.ok(success, output);
    },
  );
  await t.step(
    "a listener assigned to Deno.UnixListener and a string port fail the check",
    async () => {
      const { success, output } = await check("not_assignable.ts");
      assert.equal(success, false);
      assert.match(output, /'TlsListener' is not assignable to type 'UnixListener'/);
      assert.match(output, /Type 'string' is not assignable to type 'number'/);
    },
  );
});
