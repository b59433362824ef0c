/**
 * The denossl command line. For now one command, `demo`, which loads the
 * system OpenSSL and says what it found. A later issue adds `inspect` and
 * `serve`.
 *
 * ```sh
 * deno run --allow-all cli.ts demo
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { opensslVersion } from "./mod.ts";

const USAGE = `Usage: deno run --allow-all cli.ts <command>

Commands:
  demo     Load the system OpenSSL and print its version and paths

Options:
  -h, --help   Show this help`;

/** A soname followed by the file it resolved to, where `/proc/self/maps` tells (Linux). */
function resolved(name: string): string {
  if (name.startsWith("/")) return name;
  try {
    const line = Deno.readTextFileSync("/proc/self/maps").split("\n")
      .find((l) => l.endsWith(`/${name}`));
    return line ? `${name} (${line.slice(line.indexOf("/"))})` : name;
  } catch {
    return name;
  }
}

/**
 * Runs the command line.
 *
 * @param args The arguments, without the program name.
 * @returns The exit code: 0 on success, 2 on a usage error.
 *
 * @example Print the usage
 * ```ts ignore
 * import { main } from "./cli.ts";
 * main(["--help"]);
 * ```
 */
export function main(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (e) {
    const first = (e as Error).message.split(". ")[0];
    console.error(`denossl: ${first} (see --help)`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (command === "demo" && rest.length === 0) {
    const v = opensslVersion();
    console.log(`${v.text} (${v.major}.${v.minor}.${v.patch})`);
    console.log(`  libssl:    ${resolved(v.libssl)}`);
    console.log(`  libcrypto: ${resolved(v.libcrypto)}`);
    console.log(
      "denossl so far: loads OpenSSL through Deno FFI and maps its errors to typed classes; " +
        "TLS connections are in progress",
    );
    return 0;
  }
  console.error(
    command === undefined
      ? "denossl: missing command (see --help)"
      : `denossl: unknown command "${[command, ...rest].join(" ")}" (see --help)`,
  );
  return 2;
}

if (import.meta.main) Deno.exit(main(Deno.args));
