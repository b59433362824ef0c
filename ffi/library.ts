/**
 * Finds and opens libssl and libcrypto, once, on first use.
 *
 * Nothing happens at import. The first call that needs OpenSSL calls
 * {@link native}, which opens the libraries in this order:
 *
 * 1. the paths given to {@link load} (`load({ libssl, libcrypto })`);
 * 2. the environment overrides `DENOSSL_LIBSSL` / `DENOSSL_LIBCRYPTO`, read
 *    only when `--allow-env` grants them (a missing permission skips them);
 * 3. the platform's usual names: Linux `libssl.so.3`, macOS Homebrew and
 *    MacPorts versioned paths, Windows `libssl-3-x64.dll`.
 *
 * A failure names every path tried and why it failed.
 *
 * @module
 */

import { CRYPTO_SYMBOLS, SSL_SYMBOLS } from "./symbols.ts";
import type { CryptoLibrary, SslLibrary } from "./symbols.ts";
import { ULONG } from "./ctypes.ts";

/**
 * Paths of the libraries to open, for {@link load}.
 *
 * @example Pin an OpenSSL build
 * ```ts ignore
 * import { load } from "@denossl/denossl";
 * load({
 *   libssl: "/opt/openssl-3.3/lib64/libssl.so.3",
 *   libcrypto: "/opt/openssl-3.3/lib64/libcrypto.so.3",
 * });
 * ```
 */
export interface LoadOptions {
  /** Path or soname of libssl. */
  libssl?: string;
  /** Path or soname of libcrypto; must be the libssl's own build. */
  libcrypto?: string;
}

/**
 * The version of the loaded OpenSSL, as {@link opensslVersion} reports it.
 *
 * @example Check the loaded version
 * ```ts
 * import { type OpenSSLVersion, opensslVersion } from "@denossl/denossl";
 *
 * const v: OpenSSLVersion = opensslVersion();
 * console.log(v.text, v.libssl); // "OpenSSL 3.0.19 27 Jan 2026" "libssl.so.3"
 * ```
 */
export interface OpenSSLVersion {
  /** `OpenSSL_version(OPENSSL_VERSION)`, for example `"OpenSSL 3.0.19 27 Jan 2026"`. */
  text: string;
  /** `OpenSSL_version_num()`, for example `0x30000130`. */
  number: number;
  /** Major version, 3 or more. */
  major: number;
  /** Minor version. */
  minor: number;
  /** Patch version. */
  patch: number;
  /** The libssl path that was opened. */
  libssl: string;
  /** The libcrypto path that was opened. */
  libcrypto: string;
}

/** Opened libraries, for the rest of denossl (not public API). */
export interface Native {
  /** libssl symbols. */
  ssl: SslLibrary;
  /** libcrypto symbols. */
  crypto: CryptoLibrary;
  /** The loaded version. */
  version: OpenSSLVersion;
}

/**
 * Thrown when OpenSSL cannot be loaded: FFI unavailable or not permitted, no
 * library found at any candidate path, or a library older than 3.0.
 *
 * @example Explain a failed load
 * ```ts
 * import { OpenSSLLoadError, opensslVersion } from "@denossl/denossl";
 *
 * try {
 *   opensslVersion();
 * } catch (e) {
 *   if (!(e instanceof OpenSSLLoadError)) throw e;
 *   for (const { path, reason } of e.tried) console.error(`${path}: ${reason}`);
 * }
 * ```
 */
export class OpenSSLLoadError extends Error {
  /** Every path tried, with the reason it failed. */
  readonly tried: readonly { path: string; reason: string }[];
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param tried The candidates tried.
   * @param options Standard error options (`cause`).
   */
  constructor(
    message: string,
    tried: readonly { path: string; reason: string }[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "OpenSSLLoadError";
    this.tried = tried;
  }
}

/** The oldest OpenSSL major version denossl accepts. */
const MIN_MAJOR = 3;

let loaded: Native | undefined;

/** Library candidates for the running platform: [libssl, libcrypto] pairs. */
function platformCandidates(): [string, string][] {
  switch (Deno.build.os) {
    case "darwin": {
      const dirs = [
        "/opt/homebrew/opt/openssl@3/lib",
        "/usr/local/opt/openssl@3/lib",
        "/opt/homebrew/lib",
        "/usr/local/lib",
        "/opt/local/lib",
      ];
      return [
        ...dirs.map((d): [string, string] => [`${d}/libssl.3.dylib`, `${d}/libcrypto.3.dylib`]),
        ["libssl.3.dylib", "libcrypto.3.dylib"],
      ];
    }
    case "windows": {
      const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
      return [[`libssl-3-${arch}.dll`, `libcrypto-3-${arch}.dll`], [
        "libssl-3.dll",
        "libcrypto-3.dll",
      ]];
    }
    default:
      return [
        ["libssl.so.3", "libcrypto.so.3"],
        ["libssl.so.4", "libcrypto.so.4"],
        ["libssl.so", "libcrypto.so"],
      ];
  }
}

/** The C library's names for the running platform, in the order tried. Internal. */
export function libcCandidates(): string[] {
  switch (Deno.build.os) {
    case "darwin":
      return ["libSystem.B.dylib"];
    case "windows":
      return ["ucrtbase.dll", "msvcrt.dll"];
    default:
      return ["libc.so.6", "libc.so"];
  }
}

/** Reads an environment variable only if permission is already granted. */
function readEnv(name: string): string | undefined {
  try {
    const status = Deno.permissions.querySync?.({ name: "env", variable: name });
    if (status && status.state !== "granted") return undefined;
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Why opening `path` failed, without the prefixes Deno repeats and the path we print anyway. */
function describe(e: unknown, path: string): string {
  const message = e instanceof Error ? e.message : String(e);
  let line = (message.split("\n")[0] ?? message).replace(/^(Could not open library: )+/, "");
  if (line.startsWith(`${path}: `)) line = line.slice(path.length + 2);
  return line;
}

function isPermissionError(e: unknown): boolean {
  const errors = Deno.errors as Record<string, unknown>;
  for (const name of ["NotCapable", "PermissionDenied"]) {
    const cls = errors[name];
    if (typeof cls === "function" && e instanceof (cls as new () => Error)) return true;
  }
  return false;
}

function ffiPermissionError(cause: unknown): OpenSSLLoadError {
  return new OpenSSLLoadError(
    "denossl needs FFI access to load OpenSSL: run Deno with --allow-ffi (unscoped: a scoped " +
      "--allow-ffi=<path> refuses bare library names and Deno's pointer APIs, which denossl needs)",
    [],
    { cause },
  );
}

/** `OPENSSL_INIT_NO_ATEXIT`: do not register `OPENSSL_cleanup` with `atexit`. */
const OPENSSL_INIT_NO_ATEXIT = 0x00080000n;

const VERSION_PROBE = {
  OpenSSL_version_num: { parameters: [], result: ULONG },
  OpenSSL_version: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

function openPair(
  libsslPath: string,
  libcryptoPath: string,
  tried: { path: string; reason: string }[],
): Native | undefined {
  let probe: Deno.DynamicLibrary<typeof VERSION_PROBE>;
  try {
    probe = Deno.dlopen(libcryptoPath, VERSION_PROBE);
  } catch (e) {
    if (isPermissionError(e)) throw ffiPermissionError(e);
    tried.push({ path: libcryptoPath, reason: describe(e, libcryptoPath) });
    return undefined;
  }
  const number = Number(probe.symbols.OpenSSL_version_num());
  let text: string;
  try {
    const textPtr = probe.symbols.OpenSSL_version(0);
    text = textPtr
      ? Deno.UnsafePointerView.getCString(textPtr)
      : `OpenSSL 0x${number.toString(16)}`;
  } catch (e) {
    // Under a scoped --allow-ffi=<path>, Deno opens the library but refuses its pointer APIs.
    if (isPermissionError(e)) throw ffiPermissionError(e);
    throw e;
  } finally {
    probe.close();
  }
  const major = Math.floor(number / 0x10000000) & 0xf;
  if (major < MIN_MAJOR) {
    tried.push({
      path: libcryptoPath,
      reason: `${text} is older than OpenSSL 3.0, which denossl requires`,
    });
    return undefined;
  }
  let crypto: Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>;
  try {
    crypto = Deno.dlopen(libcryptoPath, CRYPTO_SYMBOLS);
  } catch (e) {
    if (isPermissionError(e)) throw ffiPermissionError(e);
    tried.push({ path: libcryptoPath, reason: describe(e, libcryptoPath) });
    return undefined;
  }
  // First call into OpenSSL: no cleanup at exit. OpenSSL's atexit handler frees its global
  // state while other threads (Workers, `deno test --parallel`) may still be using it, which
  // crashed about one exit in five with "double free or corruption" or a segfault.
  crypto.symbols.OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, null);
  let ssl: Deno.DynamicLibrary<typeof SSL_SYMBOLS>;
  try {
    ssl = Deno.dlopen(libsslPath, SSL_SYMBOLS);
  } catch (e) {
    crypto.close();
    // A scoped --allow-ffi may grant libcrypto's path and not libssl's.
    if (isPermissionError(e)) throw ffiPermissionError(e);
    tried.push({ path: libsslPath, reason: describe(e, libsslPath) });
    return undefined;
  }
  const sslNumber = Number(ssl.symbols.OpenSSL_version_num());
  if (sslNumber !== number) {
    ssl.close();
    crypto.close();
    tried.push({
      path: libsslPath,
      reason: `libssl is version 0x${sslNumber.toString(16)} but libcrypto is 0x${
        number.toString(16)
      }`,
    });
    return undefined;
  }
  return {
    ssl: ssl.symbols,
    crypto: crypto.symbols,
    version: {
      text,
      number,
      major,
      minor: Math.floor(number / 0x100000) & 0xff,
      patch: Math.floor(number / 0x10) & 0xff,
      libssl: libsslPath,
      libcrypto: libcryptoPath,
    },
  };
}

function open(options: LoadOptions): Native {
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    throw new OpenSSLLoadError(
      "Deno.dlopen is not available on this host, so OpenSSL cannot be loaded (FFI is missing, as on Deno Deploy)",
    );
  }
  try {
    const state = Deno.permissions.querySync?.({ name: "ffi" })?.state;
    if (state === "denied") throw ffiPermissionError(undefined);
  } catch (e) {
    if (e instanceof OpenSSLLoadError) throw e;
  }

  const candidates: [string, string][] = [];
  // Where the paths came from decides what the error suggests.
  let source: string;
  let advice: string;
  if (options.libssl || options.libcrypto) {
    if (!options.libssl || !options.libcrypto) {
      throw new TypeError("load() needs both libssl and libcrypto paths");
    }
    candidates.push([options.libssl, options.libcrypto]);
    source = "from the paths given to load()";
    advice = "Pass load() the libssl and libcrypto of one OpenSSL 3 build";
  } else {
    const envSsl = readEnv("DENOSSL_LIBSSL");
    const envCrypto = readEnv("DENOSSL_LIBCRYPTO");
    if (envSsl || envCrypto) {
      const defaults = platformCandidates()[0]!;
      candidates.push([envSsl ?? defaults[0], envCrypto ?? defaults[1]]);
      const named = [envSsl && "DENOSSL_LIBSSL", envCrypto && "DENOSSL_LIBCRYPTO"].filter(Boolean);
      source = `from ${named.join(" and ")}${
        named.length < 2 ? ` (and the platform's ${envSsl ? "libcrypto" : "libssl"} name)` : ""
      }`;
      advice = "Point DENOSSL_LIBSSL and DENOSSL_LIBCRYPTO at the libssl and libcrypto of one " +
        "OpenSSL 3 build, or unset them to use the platform's libraries";
    } else {
      candidates.push(...platformCandidates());
      source = "under the platform's usual names";
      advice = "Install OpenSSL 3 (Debian/Ubuntu: libssl3, macOS: brew install openssl@3), or " +
        "give its paths to load({ libssl, libcrypto }) or to DENOSSL_LIBSSL and DENOSSL_LIBCRYPTO " +
        "(read with --allow-env)";
    }
  }
  const tried: { path: string; reason: string }[] = [];
  for (const [libssl, libcrypto] of candidates) {
    const found = openPair(libssl, libcrypto, tried);
    if (found) return found;
  }
  const list = tried.map((t) => `  ${t.path}: ${t.reason}`).join("\n");
  throw new OpenSSLLoadError(
    `Could not load OpenSSL 3 (libssl and libcrypto) ${source}. Tried:\n${list}\n${advice}`,
    tried,
  );
}

/**
 * Opens OpenSSL from explicit paths, before anything else uses it. Without
 * options, opens it as the first native call would. Calling it again after
 * the library is open returns the loaded version when the paths agree.
 *
 * @param options Paths of libssl and libcrypto.
 * @returns The loaded version.
 * @throws {OpenSSLLoadError} When the libraries cannot be opened or are older than 3.0.
 * @throws {Error} When OpenSSL is already loaded from other paths.
 *
 * @example Load OpenSSL from a chosen path
 * ```ts ignore
 * import { load } from "@denossl/denossl";
 * const version = load({ libssl: "/usr/lib/libssl.so.3", libcrypto: "/usr/lib/libcrypto.so.3" });
 * console.log(version.text);
 * ```
 */
export function load(options: LoadOptions = {}): OpenSSLVersion {
  if (loaded) {
    const v = loaded.version;
    if (
      (options.libssl && options.libssl !== v.libssl) ||
      (options.libcrypto && options.libcrypto !== v.libcrypto)
    ) {
      throw new Error(
        `OpenSSL is already loaded from ${v.libssl}; load() must run before first use`,
      );
    }
    return { ...v };
  }
  loaded = open(options);
  return { ...loaded.version };
}

/**
 * The opened libraries, opening them on first use. Internal to denossl.
 *
 * @returns The symbol tables and version.
 */
export function native(): Native {
  return loaded ?? (load(), loaded!);
}

/**
 * Reports the loaded OpenSSL's version, loading it first if needed.
 *
 * @returns The version and the paths that were opened.
 * @throws {OpenSSLLoadError} When OpenSSL cannot be loaded.
 *
 * @example Print the OpenSSL version
 * ```ts
 * import { opensslVersion } from "@denossl/denossl";
 * const v = opensslVersion();
 * console.log(`${v.text} (${v.major}.${v.minor}.${v.patch})`);
 * ```
 */
export function opensslVersion(): OpenSSLVersion {
  return { ...native().version };
}
