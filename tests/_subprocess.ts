/**
 * Runs a snippet of TypeScript in a fresh Deno process with chosen
 * permissions and environment. The loader opens OpenSSL once per process, so
 * every loading scenario needs a process of its own.
 *
 * The snippet sees `denossl` (the namespace of `mod.ts`), `native` (from
 * `ffi/library.ts`) and `report(value)`, which prints one JSON line that
 * {@link runSnippet} parses.
 *
 * @module
 */

const MOD_URL = new URL("../mod.ts", import.meta.url).href;
const LIBRARY_URL = new URL("../ffi/library.ts", import.meta.url).href;

/** What a snippet's process left behind. */
export interface SnippetResult {
  /** The process exit code. */
  code: number;
  /** The value passed to `report()`, or undefined when it was not called. */
  report: unknown;
  /** Everything written to stderr. */
  stderr: string;
}

/** Options of {@link runSnippet}. */
export interface SnippetOptions {
  /** Permission flags, for example `["--allow-ffi"]`; none by default. */
  flags?: string[];
  /** Environment variables set for the process (the rest of the environment is cleared). */
  env?: Record<string, string>;
}

/**
 * Runs `body` as the body of a module in a new `deno run --no-prompt` process.
 *
 * @param body TypeScript statements.
 * @param options Flags and environment.
 * @returns The exit code, the reported value and stderr.
 */
export async function runSnippet(
  body: string,
  options: SnippetOptions = {},
): Promise<SnippetResult> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-snippet-" });
  try {
    const file = `${dir}/snippet.ts`;
    await Deno.writeTextFile(
      file,
      [
        `import * as denossl from ${JSON.stringify(MOD_URL)};`,
        `import { native } from ${JSON.stringify(LIBRARY_URL)};`,
        `function report(value: unknown): void { console.log("REPORT " + JSON.stringify(value)); }`,
        `void denossl; void native;`,
        body,
      ].join("\n"),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", "--quiet", ...(options.flags ?? []), file],
      env: { ...baseEnv(), NO_COLOR: "1", ...options.env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const line = stdout.split("\n").find((l) => l.startsWith("REPORT "));
    return {
      code: output.code,
      report: line === undefined ? undefined : JSON.parse(line.slice("REPORT ".length)),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** PATH, HOME and DENO_DIR, which Deno itself needs to start and find its cache. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * The absolute paths of the libssl and libcrypto this process has opened,
 * read from `/proc/self/maps` (Linux), for tests that pass real paths.
 *
 * @returns The two paths.
 */
export function loadedLibraryPaths(): { libssl: string; libcrypto: string } {
  const maps = Deno.readTextFileSync("/proc/self/maps");
  const find = (name: string): string => {
    const line = maps.split("\n").find((l) => l.includes(`/${name}`));
    if (!line) throw new Error(`${name} is not mapped into this process`);
    return line.slice(line.indexOf("/"));
  };
  return { libssl: find("libssl.so.3"), libcrypto: find("libcrypto.so.3") };
}
