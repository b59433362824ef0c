/**
 * The test suite's preflight: the interop tests drive the `openssl` command and Node's `tls`, so
 * `deno task test` checks both are on PATH first and, when one is not, says in one line what to
 * install instead of failing a minute later with NotFound.
 *
 * @module
 */

/** A command the tests run, and where it comes from. */
interface Tool {
  command: string;
  args: string[];
  /** What its version output looks like: Deno answers a spawned `node` itself, so check. */
  version: RegExp;
  install: string;
}

const TOOLS: readonly Tool[] = [
  {
    command: "openssl",
    args: ["version"],
    version: /^OpenSSL \d/,
    install: "openssl (Debian/Ubuntu: apt-get install openssl)",
  },
  {
    command: "node",
    args: ["--version"],
    version: /^v\d+\./,
    install: "node (Debian/Ubuntu: apt-get install nodejs)",
  },
];

/**
 * The tools that cannot be run.
 *
 * @returns What to install for each missing one.
 */
export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of TOOLS) {
    try {
      const out = await new Deno.Command(tool.command, {
        args: tool.args,
        stdout: "piped",
        stderr: "null",
        stdin: "null",
      }).output();
      if (!out.success || !tool.version.test(new TextDecoder().decode(out.stdout))) {
        missing.push(tool.install);
      }
    } catch {
      missing.push(tool.install);
    }
  }
  return missing;
}

if (import.meta.main) {
  const missing = await missingTools();
  if (missing.length > 0) {
    console.error(
      `denossl tests need commands that are not on PATH: install ${missing.join("; ")}`,
    );
    Deno.exit(1);
  }
}
