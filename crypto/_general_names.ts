/**
 * Reading what certificates and certificate requests share: a list of
 * general names (subject alternative names) and an extension's description.
 * Internal to crypto/.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { utf8 } from "../ffi/memory.ts";
import { SSLError } from "../errors/ssl_error.ts";
import { asn1StringBytes, bioOutput, colonHex, objectName, ulong } from "./_native.ts";
import type { SubjectAltName, X509Extension } from "./x509.ts";

/** General name kinds (`GEN_*`) that `subjectAltNames` reports. */
const GEN_EMAIL = 1;
const GEN_DNS = 2;
const GEN_URI = 6;
const GEN_IPADD = 7;
/** `X509V3_EXT_DUMP_UNKNOWN`: hex-dump extensions OpenSSL cannot print. */
const X509V3_EXT_DUMP_UNKNOWN = 3 << 16;

/**
 * The DNS, IP, email and URI names of a `GENERAL_NAMES` stack, in order.
 *
 * @param names The stack; the caller frees it.
 * @returns The names.
 */
export function generalNames(names: Deno.PointerObject): SubjectAltName[] {
  const { crypto } = native();
  const out: SubjectAltName[] = [];
  const count = crypto.OPENSSL_sk_num(names);
  const type = new Int32Array(1);
  for (let i = 0; i < count; i++) {
    const gen = crypto.OPENSSL_sk_value(names, i);
    const value = crypto.GENERAL_NAME_get0_value(gen, type);
    if (value === null) continue;
    switch (type[0]) {
      case GEN_DNS:
        out.push({ type: "DNS", value: utf8(asn1StringBytes(value)) });
        break;
      case GEN_EMAIL:
        out.push({ type: "email", value: utf8(asn1StringBytes(value)) });
        break;
      case GEN_URI:
        out.push({ type: "URI", value: utf8(asn1StringBytes(value)) });
        break;
      case GEN_IPADD:
        out.push({ type: "IP", value: formatIP(asn1StringBytes(value)) });
        break;
    }
  }
  return out;
}

/**
 * The subjectAltName value in OpenSSL's config syntax (`DNS:a,IP:b`).
 *
 * @param names DNS names, IP addresses, email addresses and URIs.
 * @returns The value.
 * @throws {TypeError} When a name is empty or holds a comma or NUL, or there is none.
 */
export function subjectAltNameValue(
  names: {
    dns?: readonly string[];
    ip?: readonly string[];
    email?: readonly string[];
    uri?: readonly string[];
  },
): string {
  const parts: string[] = [];
  const add = (tag: string, list: readonly string[] | undefined): void => {
    for (const name of list ?? []) {
      if (typeof name !== "string" || name === "" || /[,\0]/.test(name)) {
        throw new TypeError(`Invalid ${tag} subject alternative name: ${String(name)}`);
      }
      parts.push(`${tag}:${name}`);
    }
  };
  add("DNS", names.dns);
  add("IP", names.ip);
  add("email", names.email);
  add("URI", names.uri);
  if (parts.length === 0) throw new TypeError("subjectAltNames needs at least one name");
  return parts.join(",");
}

/**
 * An extension's name, OID, criticality and text as `openssl x509 -text` prints it.
 *
 * @param ext The `X509_EXTENSION*`.
 * @returns Its description.
 */
export function describeExtension(ext: Deno.PointerObject): X509Extension {
  const { crypto } = native();
  const { name, oid } = objectName(crypto.X509_EXTENSION_get_object(ext));
  let value: string;
  try {
    value = utf8(bioOutput(
      (bio) => crypto.X509V3_EXT_print(bio, ext, ulong(X509V3_EXT_DUMP_UNKNOWN), 0),
      `Could not print extension ${name}`,
    ));
  } catch (e) {
    if (!(e instanceof SSLError)) throw e;
    value = "";
  }
  return { name, oid, critical: crypto.X509_EXTENSION_get_critical(ext) === 1, value };
}

/**
 * Formats a 4- or 16-byte address.
 *
 * @param bytes The address.
 * @returns Dotted IPv4, compressed IPv6, or hex for other lengths.
 */
function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) return colonHex(bytes);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (length > 1) of zero groups, first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
