/**
 * listenTls({ reusePort }): several server processes on one port (Linux),
 * and a clear refusal where Deno cannot do it.
 */
import assert from "node:assert/strict";
import { listenTls } from "../mod.ts";
import { makePki } from "./_pki.ts";
import { ask, ScaleServer } from "./_scale.ts";
import { runSnippet } from "./_subprocess.ts";

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";
  Deno.test({
    name:
      `two server processes listening with reusePort on one port both serve verified clients (${mode} mode)`,
    ignore: Deno.build.os !== "linux",
    fn: async () => {
      const pki = makePki("ec");
      try {
        const o = { cert: pki.server.chainPEM, key: pki.server.keyPEM, reusePort: true, native };
        await using a = await ScaleServer.start(o);
        await using b = await ScaleServer.start({ ...o, port: a.port });
        assert.equal(b.port, a.port);
        const seen = new Set<number>();
        for (let i = 0; i < 200 && seen.size < 2; i++) {
          seen.add((await ask(a.port, pki.ca.certPEM, { native })).pid);
        }
        assert.deepEqual(
          [...seen].sort(),
          [a.pid, b.pid].sort(),
          "the kernel gave clients to both",
        );
      } finally {
        pki.close();
      }
    },
  });
}

Deno.test("listenTls({ reusePort }) without Deno's --unstable-net throws NotSupported naming the flag, instead of Deno ending the process", async () => {
  const { code, report, stderr } = await runSnippet(
    `const ca = denossl.TestCA.create();
     const leaf = ca.issue({ dns: ["localhost"] });
     try {
       denossl.listenTls({ port: 0, cert: leaf.chainPEM, key: leaf.keyPEM, reusePort: true });
       report("listened");
     } catch (e) {
       report([e instanceof Deno.errors.NotSupported, String(e.message)]);
     }`,
    { flags: ["--allow-all"] },
  );
  assert.equal(code, 0, stderr);
  const [notSupported, message] = report as [boolean, string];
  assert.equal(notSupported, true);
  assert.match(message, Deno.build.os === "linux" ? /--unstable-net/ : /Linux only/);
});

Deno.test("listenTls refuses a reusePort that is not a boolean, before binding anything", () => {
  const pki = makePki("ec");
  try {
    assert.throws(
      () =>
        listenTls({
          port: 0,
          cert: pki.server.chainPEM,
          key: pki.server.keyPEM,
          reusePort: "yes" as unknown as boolean,
        }),
      TypeError,
    );
  } finally {
    pki.close();
  }
});
