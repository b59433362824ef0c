/**
 * The denossl command line: `inspect` a TLS server, `serve` a TLS echo
 * server, or run the offline `demo`.
 *
 * ```sh
 * deno run -A jsr:@denossl/denossl/cli inspect example.com:443
 * deno run -A jsr:@denossl/denossl/cli serve --port 8443
 * deno run -A jsr:@denossl/denossl/cli demo
 * ```
 *
 * From a clone: `deno task cli inspect example.com:443`, `deno task demo`.
 *
 * Exit codes: 0 success; 1 network or TLS failure (cannot resolve, connect
 * or listen, the handshake failed or timed out, OpenSSL missing); 2 bad
 * usage or input (unknown command or option, bad value, unreadable or
 * invalid file); 3 `inspect` connected but the certificate failed
 * verification. Every non-zero exit prints one line on stderr, never a
 * stack trace (set `DENOSSL_DEBUG=1` to get one).
 *
 * @module
 */

import { OpenSSLLoadError, opensslVersion } from "./mod.ts";
import denoJson from "./deno.json" with { type: "json" };
import {
  CliError,
  EXIT,
  parse,
  parseAlpn,
  parseHostPort,
  parsePort,
  readFileArg,
  readPassphrase,
  requirePassphrase,
  stringOption,
  usageError,
  type Values,
} from "./cli/_args.ts";
import { exitCodeOf, formatPem, formatReport, inspect, verifyLine } from "./cli/_inspect.ts";
import { serve } from "./cli/_serve.ts";
import { demo } from "./cli/_demo.ts";

const EXIT_CODES = `Exit codes:
  0  success (inspect: the certificate was verified, or --unsafe-no-verify was given)
  1  network or TLS failure: cannot resolve, connect or listen; the handshake failed or
     timed out; the server sent an alert; OpenSSL could not be loaded
  2  bad usage or input: unknown command or option, missing or bad value, unreadable or
     invalid file
  3  inspect: connected, but the server's certificate failed verification (the chain and
     the reason are still printed)`;

const USAGE = `Usage: denossl <command> [options]
  deno run -A jsr:@denossl/denossl/cli <command>   (from JSR)
  deno task cli <command>                           (from a clone; deno task demo for the demo)

Commands:
  inspect HOST:PORT  Connect to a TLS server and print protocol, cipher, group, ALPN, session
                     ticket, OCSP staple, the certificate chain and the verification result
  serve              Run a TLS echo server (with a throwaway test CA unless --cert is given)
  demo               Run a local mutual-TLS exchange with a fresh test CA: inspect, session
                     resumption, keying material exported on both sides (no network)
  help [COMMAND]     Show this help, or a command's

Options:
  -h, --help         Show help (also after a command: inspect --help)
  -V, --version      Show denossl's version and the OpenSSL it loads

${EXIT_CODES}`;

const INSPECT_USAGE = `Usage: denossl inspect HOST:PORT [options]

Connects to a TLS server and prints the protocol, cipher, key exchange group, ALPN, the session
and its ticket (lifetime hint, resumable), the stapled OCSP response (one is always requested),
every certificate the server sent (subject, issuer, validity with days left, SANs, key type and
size, SHA-256 fingerprint) and the verification result against the system trust store plus
--cafile, including the host name. A certificate that fails verification is still printed, with
the reason, and the exit code is 3. Write an IPv6 address as [::1]:443.

Options:
  --servername NAME    SNI and the name to verify (default: HOST; no SNI is sent for an IP)
  --alpn LIST          ALPN protocols to offer, comma-separated (for example h2,http/1.1)
  --cafile FILE        PEM CA certificates to trust in addition to the system store
  --cert FILE          PEM client certificate (and chain), for servers that ask for one
  --key FILE           the client certificate's private key (PEM)
  --pass SOURCE        the key's passphrase, as openssl -passin takes it: env:VARIABLE,
                       file:PATH (its first line), or pass:TEXT (visible to other processes)
  --pem                print only the certificates the server sent, in PEM, leaf first
                       (as openssl s_client -showcerts; save them for --cafile)
  --unsafe-no-verify   report a failed verification but exit 0
  --resume             connect a second time offering the session; report whether it resumed
  --timeout SECONDS    limit for connecting plus the handshake (default 10)
  --json               print the report as JSON
  -h, --help           show this help

${EXIT_CODES}`;

const SERVE_USAGE = `Usage: denossl serve [options]

Runs a TLS echo server until SIGINT (Ctrl-C) or SIGTERM, printing each client's protocol, cipher,
ALPN and SNI. Without --cert it makes a throwaway test CA and a certificate for localhost,
127.0.0.1 and ::1, and prints the path of the CA certificate (in a temporary directory removed
on exit) to pass to clients as --cafile / -CAfile.

Options:
  --port PORT          port to listen on, 0 for any free port (default 8443)
  --hostname ADDRESS   address to listen on (default 127.0.0.1)
  --cert FILE          PEM certificate, optionally followed by its chain (with --key)
  --key FILE           its private key (PEM)
  --pass SOURCE        the key's passphrase: env:VARIABLE, file:PATH or pass:TEXT
  --alpn LIST          ALPN protocols to accept, comma-separated, most preferred first
  -h, --help           show this help

${EXIT_CODES}`;

const DEMO_USAGE = `Usage: denossl demo

Starts a local TLS server with a fresh test CA (root > intermediate > server certificate) that
requires a client certificate, runs inspect against it with a client certificate, connects again
resuming the session, exports keying material on both sides and shows that it matches, then
shuts down. No network; exits 0 when everything checked out, 1 otherwise.

Options:
  -h, --help           show this help`;

const HELP: Record<string, string> = {
  inspect: INSPECT_USAGE,
  serve: SERVE_USAGE,
  demo: DEMO_USAGE,
};

/** How to run this command line again, for hints (a path, or the JSR URL). */
const SELF = `deno run -A ${import.meta.filename ?? import.meta.url}`;

function log(line: string): void {
  console.log(line);
}

function timeoutOption(values: Values): number {
  const text = stringOption(values, "timeout");
  if (text === undefined) return 10_000;
  const seconds = Number(text);
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text) || !(seconds > 0 && seconds <= 3600)) {
    throw usageError(
      `--timeout must be a number of seconds greater than 0 and at most 3600, got "${text}"`,
    );
  }
  return Math.max(1, Math.round(seconds * 1000)); // 0.0001 s is 1 ms, not "no time at all"
}

function positionals(positional: string[], max: number, usage: string): void {
  if (positional.length > max) {
    throw usageError(`unexpected argument "${positional[max]}" (${usage})`);
  }
}

async function runInspect(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse(args, {
    servername: { type: "string" },
    alpn: { type: "string" },
    cafile: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    pass: { type: "string" },
    pem: { type: "boolean" },
    "unsafe-no-verify": { type: "boolean" },
    resume: { type: "boolean" },
    timeout: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    log(INSPECT_USAGE);
    return EXIT.OK;
  }
  if (pos.length === 0) throw usageError("missing HOST:PORT");
  positionals(pos, 1, "inspect takes one HOST:PORT");
  const { host, port } = parseHostPort(pos[0]!);
  const servername = stringOption(values, "servername");
  if (servername === "") throw usageError("--servername must not be empty");
  const alpnText = stringOption(values, "alpn");
  const cafile = stringOption(values, "cafile");
  const certFile = stringOption(values, "cert");
  const keyFile = stringOption(values, "key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw usageError("--cert and --key go together");
  }
  const passSpec = stringOption(values, "pass");
  if (passSpec !== undefined && keyFile === undefined) throw usageError("--pass goes with --key");
  const passphrase = passSpec === undefined ? undefined : await readPassphrase(passSpec);
  const timeoutMs = timeoutOption(values);
  // --cert first: its errors are reported before the key's.
  const certText = certFile === undefined ? undefined : await readFileArg(certFile, "--cert");
  const keyText = keyFile === undefined ? undefined : await readFileArg(keyFile, "--key");
  if (keyText !== undefined) requirePassphrase(keyText, passphrase);
  const options = {
    host,
    port,
    timeoutMs,
    unsafeNoVerify: values["unsafe-no-verify"] === true,
    ...(servername !== undefined ? { servername } : {}),
    ...(alpnText !== undefined ? { alpn: parseAlpn(alpnText) } : {}),
    ...(cafile !== undefined ? { caCerts: [await readFileArg(cafile, "--cafile")] } : {}),
    ...(certFile !== undefined ? { cert: certText!, key: keyText! } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
  };
  const { report, session } = await inspect(options);
  let resumption: { resumed: boolean; protocol: string } | undefined;
  try {
    if (values.resume) {
      if (session === null || !session.isResumable()) {
        resumption = { resumed: false, protocol: report.protocol };
      } else {
        const again = await inspect({ ...options, session });
        again.session?.close();
        resumption = {
          resumed: again.report.session?.resumed === true,
          protocol: again.report.protocol,
        };
      }
    }
  } finally {
    session?.close();
  }
  if (values.pem) {
    log(formatPem(report));
  } else if (values.json) {
    log(JSON.stringify(resumption ? { ...report, resumption } : report, null, 2));
  } else {
    log(formatReport(report));
    if (resumption) {
      log(
        `resumption: ${
          resumption.resumed
            ? `a second connection resumed the session (${resumption.protocol})`
            : session === null || !report.session?.resumable
            ? "no resumable session to offer"
            : "the server did not resume the session (full handshake)"
        }`,
      );
    }
  }
  const code = exitCodeOf(report);
  if (code === EXIT.VERIFY) {
    const reason = verifyLine(report.verification).replace(/^verify: FAILED /, "");
    console.error(`denossl inspect: certificate verification failed ${reason}`);
  } else if (code !== EXIT.OK) {
    // The error's own sentence says what happened; this says which options answer it.
    const hint = /client certificate/.test(report.afterHandshake ?? "")
      ? " (use --cert, --key)"
      : "";
    console.error(
      `denossl inspect: the server sent an alert after the handshake: ${report.afterHandshake}${hint}`,
    );
  }
  return code;
}

async function runServe(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse(args, {
    port: { type: "string" },
    hostname: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    pass: { type: "string" },
    alpn: { type: "string" },
  });
  if (values.help) {
    log(SERVE_USAGE);
    return EXIT.OK;
  }
  positionals(pos, 0, "serve takes options only");
  const portText = stringOption(values, "port");
  const port = portText === undefined ? 8443 : parsePort(portText, "--port", true);
  const hostname = stringOption(values, "hostname") ?? "127.0.0.1";
  const certFile = stringOption(values, "cert");
  const keyFile = stringOption(values, "key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw usageError("--cert and --key go together");
  }
  const alpnText = stringOption(values, "alpn");
  const alpn = alpnText === undefined ? undefined : parseAlpn(alpnText);
  const cert = certFile === undefined ? undefined : await readFileArg(certFile, "--cert");
  const key = keyFile === undefined ? undefined : await readFileArg(keyFile, "--key");
  const passSpec = stringOption(values, "pass");
  if (passSpec !== undefined && keyFile === undefined) throw usageError("--pass goes with --key");
  const passphrase = passSpec === undefined ? undefined : await readPassphrase(passSpec);
  if (key !== undefined) requirePassphrase(key, passphrase);

  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  let onSignal: () => void = () => {};
  const stop = new Promise<void>((resolve) => (onSignal = resolve));
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await serve({
      hostname,
      port,
      self: SELF,
      log,
      stop,
      ...(cert !== undefined ? { cert, key: key! } : {}),
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(alpn !== undefined ? { alpn } : {}),
    });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

async function runDemo(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse(args, {});
  if (values.help) {
    log(DEMO_USAGE);
    return EXIT.OK;
  }
  positionals(pos, 0, "demo takes no arguments");
  return await demo(log);
}

/** `denossl 0.1.0 (OpenSSL 3.0.19 ...)`; says why when OpenSSL cannot be loaded. */
function versionText(): string {
  let openssl: string;
  try {
    openssl = opensslVersion().text;
  } catch (e) {
    openssl = `OpenSSL not loaded: ${(e as Error).message.split("\n")[0]}`;
  }
  return `denossl ${denoJson.version} (${openssl})`;
}

function debugging(): boolean {
  try {
    return Deno.env.get("DENOSSL_DEBUG") === "1";
  } catch {
    return false;
  }
}

/**
 * Prints one line for a failure and gives its exit code.
 *
 * @param e What was thrown.
 * @param command The command that ran, for the prefix.
 * @returns The exit code.
 */
function report(e: unknown, command: string | undefined): number {
  const prefix = command === undefined ? "denossl" : `denossl ${command}`;
  const oneLine = (s: string): string => s.split("\n")[0]!.trim();
  if (debugging() && e instanceof Error) console.error(e.stack);
  if (e instanceof CliError) {
    let message = oneLine(e.message);
    if (e.exitCode === EXIT.USAGE) {
      const see = `see ${command === undefined ? "" : `${command} `}--help`;
      message = message.endsWith(")") ? `${message.slice(0, -1)}; ${see})` : `${message} (${see})`;
    }
    console.error(`${prefix}: ${message}`);
    return e.exitCode;
  }
  if (e instanceof OpenSSLLoadError) {
    console.error(`${prefix}: OpenSSL could not be loaded: ${oneLine(e.message)}`);
    return EXIT.FAILURE;
  }
  const error = e instanceof Error ? e : new Error(String(e));
  console.error(`${prefix}: ${error.name}: ${oneLine(error.message)}`);
  return EXIT.FAILURE;
}

/**
 * Runs the command line: `inspect`, `serve`, `demo` or `help`. Prints to
 * stdout; a failure prints one line on stderr and gives a non-zero exit code
 * (1 network or TLS failure, 2 bad usage or input, 3 certificate refused by
 * `inspect`), never a stack trace.
 *
 * @param args The arguments, without the program name.
 * @returns The exit code.
 *
 * @example Print the usage
 * ```ts
 * import { main } from "@denossl/denossl/cli";
 * const code = await main(["--help"]);
 * console.log(code); // 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === undefined) throw usageError("missing command");
    if (command === "-h" || command === "--help") {
      log(USAGE);
      return EXIT.OK;
    }
    if (command === "-V" || command === "--version" || command === "version") {
      log(versionText());
      return EXIT.OK;
    }
    if (command === "help") {
      const topic = rest[0];
      if (topic !== undefined && !(topic in HELP)) throw usageError(`no command "${topic}"`);
      log(topic === undefined ? USAGE : HELP[topic]!);
      return EXIT.OK;
    }
    if (command.startsWith("-")) throw usageError(`unknown option ${command.split("=")[0]}`);
    switch (command) {
      case "inspect":
        return await runInspect(rest);
      case "serve":
        return await runServe(rest);
      case "demo":
        return await runDemo(rest);
      default:
        throw usageError(`unknown command "${command}"`);
    }
  } catch (e) {
    return report(e, command !== undefined && command in HELP ? command : undefined);
  }
}

if (import.meta.main) {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    Deno.exit(report(event.reason, undefined));
  });
  Deno.exit(await main(Deno.args));
}
