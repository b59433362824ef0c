/**
 * The host name check of a connection, as RFC 6125 and rustls have it: DNS
 * names through `SSL_set1_host` with no subject-CN fallback and no partial
 * wildcards unless a caller asks for OpenSSL's legacy flags, IP literals
 * through `X509_VERIFY_PARAM_set1_ip_asc`. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr } from "../ffi/memory.ts";
import { bareIp } from "../ffi/ip.ts";
import { clearErrors } from "../errors/queue.ts";
import {
  DEFAULT_HOST_FLAGS,
  X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT,
  X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS,
  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
  X509_CHECK_FLAG_NO_WILDCARDS,
  X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS,
} from "../ffi/constants.ts";

export { DEFAULT_HOST_FLAGS };

const KNOWN_HOST_FLAGS = X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS |
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS |
  X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;

/** Spaces, controls and "/" never occur in a DNS name and would only make a confusing mismatch. */
function hasForeignCharacter(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x2f) return true;
  }
  return false;
}

/**
 * A DNS name as checked and sent as SNI: one trailing dot dropped (`a.test.`
 * is `a.test`, as Deno has it); an empty label anywhere is refused.
 *
 * @param host The name.
 * @returns The name without its trailing dot.
 * @throws {TypeError} When the name is empty, has an empty label ("a..b",
 *   ".a", "a..", ".") or a character no DNS name has.
 */
export function normalizeHostName(host: string): string {
  if (typeof host !== "string" || host.length === 0) {
    throw new TypeError("host must be a non-empty string");
  }
  cstr(host, "host"); // the same TypeError for a NUL as everywhere else
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.split(".").some((label) => label.length === 0)) {
    throw new TypeError(`Invalid host name "${host}": a label is empty`);
  }
  if (hasForeignCharacter(name)) {
    throw new TypeError(`Invalid host name "${host}": it has a character no DNS name has`);
  }
  return name;
}

/**
 * Requires the peer's certificate to match `host` on the connection `ssl`.
 *
 * @param ssl The `SSL*`.
 * @param host A DNS name or an IP literal.
 * @param flags How DNS names match (`X509_CHECK_FLAG_*`).
 * @throws {TypeError} When `host` is empty or malformed.
 */
export function setVerifyHost(
  ssl: Deno.PointerObject,
  host: string,
  flags: number = DEFAULT_HOST_FLAGS,
): void {
  if (typeof host !== "string" || host.length === 0) {
    throw new TypeError("host must be a non-empty string");
  }
  const { ssl: lib, crypto } = native();
  clearErrors();
  const param = lib.SSL_get0_param(ssl);
  const ip = bareIp(host);
  if (ip !== null) {
    if (crypto.X509_VERIFY_PARAM_set1_ip_asc(param, cstr(ip, "host")) !== 1) {
      throw new TypeError(`Invalid IP address: ${host}`);
    }
    return;
  }
  const name = normalizeHostName(host);
  if (lib.SSL_set1_host(ssl, cstr(name, "host")) !== 1) {
    throw new TypeError(`Invalid host name: ${host}`);
  }
  crypto.X509_VERIFY_PARAM_set_hostflags(param, flags);
}

/**
 * Replaces the name check flags of the connection `ssl`.
 *
 * @param ssl The `SSL*`.
 * @param flags `X509_CHECK_FLAG_*` bits.
 * @throws {RangeError} When `flags` has a bit OpenSSL does not define.
 */
export function setHostFlags(ssl: Deno.PointerObject, flags: number): void {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~KNOWN_HOST_FLAGS) !== 0) {
    throw new RangeError(
      `flags must be a combination of the X509_CHECK_FLAG_* constants: got ${flags}`,
    );
  }
  native().crypto.X509_VERIFY_PARAM_set_hostflags(native().ssl.SSL_get0_param(ssl), flags);
}
