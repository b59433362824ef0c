/**
 * The documentation as a user reads it: every file in examples/ runs with
 * `deno run -A` (local peers only, a deadline each) and prints what it
 * should; the README's code blocks are all doc-tested (`deno test --doc`
 * runs them), import only the package, and name every example program;
 * its API map names every export of mod.ts; links in the README and docs/
 * resolve; the pyOpenSSL map in docs/PYOPENSSL.md names only real members
 * and all of them.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
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
  "examples/redis_session_store.ts": [
    /^server 1: full$/m,
    /^server 2: resumed$/m,
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
  "examples/psk.ts": [
    /^TLSv1\.3 TLS_\w+_SHA256: hello, device$/m,
    /^ {2}the server's identity hint: factory-3\nTLSv1\.2 ECDHE-PSK-CHACHA20-POLY1305: hello, device$/m,
    /^server: refused a client \(.*pre-shared key.*\)$/m,
    /^wrong key: refused \(.+\)$/m,
  ],
  "examples/csr.ts": [
    /^-----BEGIN CERTIFICATE REQUEST-----$/m,
    /^issued: O=Example,CN=localhost \(DNS:localhost, IP:127\.0\.0\.1\), CA: false$/m,
    /^a client verified it: localhost$/m,
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

Deno.test("examples/: every example type-checks (deno check), as deno run alone would not", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...Object.keys(EXPECTED)],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DEADLINE_MS),
  }).output();
  const dec = new TextDecoder();
  assert.equal(result.code, 0, dec.decode(result.stdout) + dec.decode(result.stderr));
});

for (const [file, patterns] of Object.entries(EXPECTED)) {
  Deno.test(`${file} runs with deno run -A (local peers only) and prints what it should`, async () => {
    const { code, out } = await run(file);
    assert.equal(code, 0, out);
    for (const pattern of patterns) assert.match(out, pattern);
    assert.doesNotMatch(out, /error: Uncaught|\n\s+at /);
  });
}

/** The README's fenced code blocks: the info string (`ts`, `sh`, ...) and the code. */
function fences(markdown: string): { info: string; code: string }[] {
  const out: { info: string; code: string }[] = [];
  for (const m of markdown.matchAll(/^```([^\n]*)\n([^]*?)^```$/gm)) {
    out.push({ info: m[1]!.trim(), code: m[2]! });
  }
  return out;
}

Deno.test("README: every code block is a ts block that `deno test --doc` runs, or a sh block", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const blocks = fences(readme);
  assert.ok(blocks.filter((b) => b.info === "ts").length >= 5, "the examples are ts blocks");
  for (const { info, code } of blocks) {
    assert.ok(
      info === "ts" || info === "sh",
      `a \`\`\`${info} block is not doc-tested (use ts, or sh for commands):\n${code}`,
    );
  }
});

Deno.test("README: ts blocks import only from @denossl/denossl, as a user's code would", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  for (const { info, code } of fences(readme)) {
    if (info !== "ts") continue;
    for (const m of code.matchAll(/\bfrom\s+"([^"]+)"/g)) {
      assert.equal(m[1], "@denossl/denossl", `a README example imports ${m[1]}`);
    }
  }
});

Deno.test("README: every example file is named by a `deno run -A examples/...` command, and only those", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const named = new Set([...readme.matchAll(/deno run -A (examples\/\w+\.ts)/g)].map((m) => m[1]!));
  assert.deepEqual([...named].sort(), Object.keys(EXPECTED).sort());
});

/** A backticked name in the README, or a group such as `OP_*` or `DTLS_*METHOD`, as a pattern. */
function namePatterns(markdown: string): RegExp[] {
  return [...markdown.matchAll(/`([A-Za-z_*][\w*]*)`/g)].map((m) =>
    new RegExp(`^${m[1]!.replaceAll("*", "\\w*")}$`)
  );
}

Deno.test("README: the API map names every runtime export of mod.ts (by name or by group)", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const at = readme.indexOf("## API map");
  assert.ok(at >= 0, "the README has an API map");
  const map = readme.slice(at, readme.indexOf("\n## ", at + 1));
  const patterns = namePatterns(map);
  const missing = Object.keys(mod).filter((name) => !patterns.some((p) => p.test(name)));
  assert.deepEqual(missing, [], "exports of mod.ts missing from the README's API map");
});

/** Linked files that another branch writes; checked once they exist. */
Deno.test("README and docs/*.md: every relative link points to an existing file", async () => {
  const pages = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  for (const page of pages) {
    const text = await Deno.readTextFile(new URL(page, ROOT));
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const url = new URL(target, new URL(page, ROOT));
      try {
        await Deno.stat(url);
      } catch {
        assert.fail(`${page} links to ${target}, which does not exist`);
      }
    }
  }
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
