/**
 * The README's examples as a user runs them: every file in examples/ runs
 * with `deno run -A` (local peers only, a deadline each) and prints what it
 * should; every example snippet in the README is that file's own code; the
 * pyOpenSSL map in docs/PYOPENSSL.md names only real members and all of them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConnectionBase, Context, Session } from "../mod.ts";

const ROOT = new URL("../", import.meta.url);
const DEADLINE_MS = 30_000;

async function run(file: string, args: string[] = []): Promise<{ code: number; out: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", file, ...args],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DEADLINE_MS),
  }).output();
  const dec = new TextDecoder();
  return { code: result.code, out: dec.decode(result.stdout) + dec.decode(result.stderr) };
}

/** What each example must print (its file, then patterns in its output). */
const EXPECTED: Record<string, RegExp[]> = {
  "examples/peer_certificate.ts": [
    /^TLSv1\.3 TLS_\w+, group \S+\n/,
    /\n\[0\] CN=localhost\n {4}issuer {3}CN=denossl Test Intermediate CA,O=denossl\n/,
    /\n {4}names {4}DNS:localhost, IP:127\.0\.0\.1\n {4}key {6}ec 256 bits\n/,
    /\n {4}SHA-256 {2}([0-9A-F]{2}:){31}[0-9A-F]{2}\n/,
    /\n\[1\] CN=denossl Test Intermediate CA,O=denossl\n/,
  ],
  "examples/mtls_server.ts": [
    /^alice: hello alice$/m,
    /^bob: refused \(.+\)$/m,
    /^no certificate: refused \(.*certificate required.*\)$/m,
    /^server: refused a client: certificate verify failed: application verification failure/m,
  ],
  "examples/sni.ts": [
    /^asked for api\.example: got api\.example$/m,
    /^asked for www\.example: got www\.example$/m,
    /^asked for unknown\.example: got www\.example$/m,
  ],
  "examples/session_resumption.ts": [
    /^first connection: resumed false, saved a \d+-byte session$/m,
    /^second connection: resumed true$/m,
  ],
  "examples/starttls.ts": [
    /^server said \(plaintext\): OK go ahead$/m,
    /^upgraded: TLSv1\.3 TLS_\w+$/m,
    /^server got "secret" over TLS$/m,
  ],
  "examples/stdio.ts": [
    /^over the child's pipes: TLSv1\.3 TLS_\w+$/m,
    /^the child answered: HELLO THROUGH STDIN$/m,
    /^child exited with 0$/m,
  ],
  "examples/memory_bio.ts": [
    /^round 1: client -> server \d+ bytes$/m,
    /^handshake done: TLSv1\.3 TLS_\w+$/m,
    /^server received: hello over memory BIOs$/m,
  ],
};

Deno.test("examples/: every example file is listed here and run by this test", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL("examples/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.startsWith("_")) {
      files.push(`examples/${entry.name}`);
    }
  }
  assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort());
});

for (const [file, patterns] of Object.entries(EXPECTED)) {
  Deno.test(`${file} runs with deno run -A (local peers only) and prints what the README says`, async () => {
    const { code, out } = await run(file);
    assert.equal(code, 0, out);
    for (const pattern of patterns) assert.match(out, pattern);
    assert.doesNotMatch(out, /error: Uncaught|\n\s+at /);
  });
}

/** The README's example snippets: the file named in the marker, and the code. */
function readmeSnippets(readme: string): { file: string; code: string }[] {
  const out: { file: string; code: string }[] = [];
  const re = /<!-- example: (\S+) -->\s*```ts ignore\n([^]*?)\n```/g;
  for (const m of readme.matchAll(re)) out.push({ file: m[1]!, code: m[2]! });
  return out;
}

Deno.test("README: each example snippet is its file's own code (same lines, imports from @denossl/denossl present in the file)", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const snippets = readmeSnippets(readme);
  const files = new Set(snippets.map((s) => s.file));
  assert.deepEqual(
    [...files].sort(),
    Object.keys(EXPECTED).sort(),
    "one snippet or more per example",
  );
  for (const { file, code } of snippets) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    // Imports: in the README from "@denossl/denossl", in the file from "../mod.ts".
    const importRe = /import \{([^}]*)\} from "@denossl\/denossl";\n/g;
    const fileImports = [...source.matchAll(/import \{([^}]*)\} from "\.\.\/mod\.ts";/g)]
      .flatMap((m) => m[1]!.split(",").map((s) => s.trim().replace(/^type /, "")));
    for (const m of code.matchAll(importRe)) {
      for (
        const name of m[1]!.split(",").map((s) => s.trim().replace(/^type /, "")).filter(Boolean)
      ) {
        assert.ok(fileImports.includes(name), `${file} does not import ${name}`);
      }
    }
    const body = code.replace(importRe, "").split("\n").map((l) => l.trim()).filter(Boolean);
    const lines = source.split("\n").map((l) => l.trim()).filter(Boolean);
    const at = lines.findIndex((_, i) => body.every((l, k) => lines[i + k] === l));
    assert.ok(at >= 0, `the README snippet for ${file} is not in the file:\n${body.join("\n")}`);
  }
});

Deno.test("README: every `deno run -A examples/...` command names an existing example", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const named = [...readme.matchAll(/deno run -A (examples\/\w+\.ts)/g)].map((m) => m[1]!);
  assert.ok(named.length >= Object.keys(EXPECTED).length);
  for (const file of named) assert.ok(file in EXPECTED, `${file} is not an example`);
});

/** Public members of a class and its base classes (and static ones), without `_` internals. */
function members(cls: { prototype: object }): string[] {
  const inherited: string[] = [];
  for (
    let p: object | null = cls.prototype;
    p !== null && p !== Object.prototype;
    p = Reflect.getPrototypeOf(p)
  ) {
    inherited.push(...Object.getOwnPropertyNames(p));
  }
  const names = [
    ...new Set(inherited),
    ...Object.getOwnPropertyNames(cls).filter((n) => !["length", "name", "prototype"].includes(n)),
  ];
  return names.filter((n) => n !== "constructor" && !n.startsWith("_"));
}

Deno.test("docs/PYOPENSSL.md names only real Context, Connection and Session members, and all of them", async () => {
  const doc = await Deno.readTextFile(new URL("docs/PYOPENSSL.md", ROOT));
  const classes = { Context, Connection: ConnectionBase, Session } as const;
  for (const [name, cls] of Object.entries(classes)) {
    const real = members(cls);
    const named = new Set(
      [...doc.matchAll(new RegExp(`\`${name}\\.(\\w+)(\\(\\))?\``, "g"))].map((m) => m[1]!),
    );
    for (const member of named) {
      assert.ok(
        real.includes(member),
        `docs/PYOPENSSL.md names ${name}.${member}, which does not exist`,
      );
    }
    for (const member of real) {
      assert.ok(named.has(member), `${name}.${member} is missing from docs/PYOPENSSL.md`);
    }
  }
});
