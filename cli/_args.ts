/**
 * What the commands of `cli.ts` share: exit codes, the one-line error type,
 * argument parsing with readable messages, `HOST:PORT` and file arguments.
 * Internal to the command line.
 *
 * @module
 */

import { isIpLiteral } from "../ffi/ip.ts";
import { parseArgs } from "node:util";

/** Exit codes of every command, as `--help` and the README document them. */
export const EXIT = {
  /** Done; for `inspect`, the certificate was verified (or `--unsafe-no-verify`). */
  OK: 0,
  /** Could not connect, resolve, listen or complete the handshake; OpenSSL missing. */
  FAILURE: 1,
  /** Bad usage or input: unknown command or option, bad value, unreadable or invalid file. */
  USAGE: 2,
  /** `inspect` connected, but the server's certificate failed verification. */
  VERIFY: 3,
} as const;

/** A failure the command line reports as one line on stderr, with an exit code. */
export class CliError extends Error {
  /** The process exit code. */
  readonly exitCode: number;

  /**
   * Creates the error.
   *
   * @param message One line: what went wrong.
   * @param exitCode One of {@link EXIT}.
   */
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/**
 * A usage error (exit code 2).
 *
 * @param message What is wrong with the arguments.
 * @returns The error to throw.
 */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.USAGE);
}

/** Option kinds the commands use. */
export type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

/** Values parsed for a spec: strings, booleans, or string lists for `multiple`. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * Parses a command's arguments strictly, turning `node:util` parse errors
 * into one-line usage errors.
 *
 * @param args The arguments after the command name.
 * @param options The options the command takes (plus `--help`).
 * @returns The values and the positionals.
 * @throws {CliError} On an unknown option or a missing value.
 */
export function parse(
  args: string[],
  options: OptionSpec,
): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Values, positionals };
  } catch (e) {
    const message = (e as Error).message;
    const option = message.match(/'(-[^' ]+)/)?.[1];
    if (/argument missing|ambiguous/.test(message) && option) {
      throw usageError(`option ${option} needs a value`);
    }
    if (/does not take an argument/.test(message) && option) {
      throw usageError(`option ${option} takes no value`);
    }
    if (/^Unknown option/.test(message) && option) {
      throw usageError(`unknown option ${option}`);
    }
    throw usageError(message.split("\n")[0]!.split(". ")[0]!);
  }
}

/**
 * Reads a string option, or undefined.
 *
 * @param values Parsed values.
 * @param name The option's name.
 * @returns Its value.
 */
export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * Parses a port number.
 *
 * @param text The text.
 * @param what How to name it in the error (`"port"`, `"--port"`).
 * @param allowZero Whether 0 (any free port) is allowed.
 * @returns The port.
 * @throws {CliError} When it is not an integer in range.
 */
export function parsePort(text: string, what: string, allowZero = false): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  const min = allowZero ? 0 : 1;
  if (!(port >= min && port <= 65535)) {
    throw usageError(`${what} must be an integer from ${min} to 65535, got "${text}"`);
  }
  return port;
}

/**
 * Splits `HOST:PORT`, `[IPv6]:PORT` or `IPv6` with a port after the last colon.
 *
 * @param text The argument.
 * @returns Host name (IPv6 without brackets) and port.
 * @throws {CliError} When the port is missing or invalid.
 */
export function parseHostPort(text: string): { host: string; port: number } {
  const bracketed = text.match(/^\[([^\]]+)\]:(.*)$/);
  if (bracketed) {
    if (!isIpLiteral(bracketed[1]!) || !bracketed[1]!.includes(":")) {
      throw usageError(`expected an IPv6 address inside [ ], got "${bracketed[1]}"`);
    }
    return { host: bracketed[1]!, port: parsePort(bracketed[2]!, "the port") };
  }
  const colons = text.split(":").length - 1;
  if (colons > 1) {
    throw usageError(`expected HOST:PORT, got "${text}" (write an IPv6 address as [ADDRESS]:PORT)`);
  }
  const colon = text.indexOf(":");
  if (colon < 0) throw usageError(`expected HOST:PORT, got "${text}" (the port is missing)`);
  if (colon === 0) throw usageError(`expected HOST:PORT, got "${text}" (the host is missing)`);
  const host = text.slice(0, colon);
  if (!isIpLiteral(host) && !HOST_NAME.test(host)) {
    throw usageError(
      `"${host}" is not a host name or an IP address (letters, digits, "-" and "." only)`,
    );
  }
  return { host, port: parsePort(text.slice(colon + 1), "the port") };
}

/** A DNS name as a user types one: labels of letters, digits, "-" and "_", one trailing dot at most. */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * Refuses an encrypted PEM key given without `--pass`, with the option to use.
 *
 * @param keyPem The key file's text.
 * @param passphrase What `--pass` gave, if anything.
 * @throws {CliError} Exit 2 when the key is encrypted and no passphrase was given.
 */
export function requirePassphrase(keyPem: string, passphrase: string | undefined): void {
  if (passphrase !== undefined) return;
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem)) {
    throw usageError(
      "--key is encrypted: give its passphrase with --pass env:VARIABLE, file:PATH or pass:TEXT",
    );
  }
}

/**
 * Reads a passphrase given the way `openssl -passin` takes one, so that it
 * never has to be on the command line: `pass:TEXT`, `env:VARIABLE`, or
 * `file:PATH` (its first line).
 *
 * @param spec The option's value.
 * @param what The option, for errors.
 * @returns The passphrase.
 * @throws {CliError} Exit 2 for an unknown form, an unset variable or an unreadable file.
 */
export async function readPassphrase(spec: string, what = "--pass"): Promise<string> {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? "" : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  switch (kind) {
    case "pass":
      return rest;
    case "env": {
      if (rest === "") throw usageError(`${what} env: needs a variable name (env:VARIABLE)`);
      let value: string | undefined;
      try {
        value = Deno.env.get(rest);
      } catch {
        throw usageError(`${what} env:${rest}: no permission to read the environment`);
      }
      if (value === undefined) throw usageError(`${what} env:${rest}: the variable is not set`);
      return value;
    }
    case "file": {
      const text = await readFileArg(rest, what);
      return text.split(/\r?\n/)[0]!;
    }
    default:
      throw usageError(`${what} takes env:VARIABLE, file:PATH or pass:TEXT, as openssl -passin`);
  }
}

/**
 * Splits a comma-separated list, dropping empty items.
 *
 * @param text The list, for example `"h2,http/1.1"`.
 * @param what The option, for the error.
 * @returns The items.
 * @throws {CliError} When the list is empty or an item is too long for ALPN.
 */
export function parseAlpn(text: string, what = "--alpn"): string[] {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw usageError(`${what} needs at least one protocol name`);
  const tooLong = items.find((s) => new TextEncoder().encode(s).length > 255);
  if (tooLong) throw usageError(`${what}: protocol name longer than 255 bytes`);
  return items;
}

/**
 * Reads a text file named by an option.
 *
 * @param path The path.
 * @param option The option that named it, for the error.
 * @returns The text.
 * @throws {CliError} When the file cannot be read (exit code 2).
 */
export async function readFileArg(path: string, option: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    let why = (e as Error).message.replace(/ \(os error \d+\).*$/, "").toLowerCase();
    if (e instanceof Deno.errors.NotFound) why = "no such file";
    else if (e instanceof Deno.errors.PermissionDenied) why = "permission denied";
    else if (e instanceof Deno.errors.IsADirectory) why = "is a directory";
    throw usageError(`cannot read ${option} file "${path}": ${why}`);
  }
}

/** Whether a host is an IP address literal (no SNI is sent for those): denossl's one parser. */
export { isIpLiteral } from "../ffi/ip.ts";

/**
 * Formats a host and port for messages (`[::1]:443` for IPv6).
 *
 * @param host The host.
 * @param port The port.
 * @returns The address text.
 */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
