/**
 * The one IP-literal parser of denossl: whether a host is an IPv4 or IPv6
 * address (no SNI is sent for those, and certificates are checked against
 * their IP SANs), and its bytes. Internal to denossl.
 *
 * What counts as a literal, as Deno's own address parser (Rust's) reads it:
 *
 * - IPv4: four decimal octets 0–255 separated by dots, no leading zeros
 *   (`010.0.0.1` is octal to some parsers and decimal to others, so it is a
 *   name here, and a certificate check of it fails closed);
 * - IPv6: up to eight groups of 1–4 hex digits, one `::` at most, an IPv4
 *   dotted quad allowed as the last 32 bits (`::ffff:192.0.2.1`), optionally
 *   in brackets (`[::1]`, as in URLs) and with a zone after `%`
 *   (`fe80::1%eth0`), which is not part of the address bytes.
 *
 * Anything else (`1.2.3`, `256.0.0.1`, `[1.2.3.4]`, `example.com`, `::1::`)
 * is not an IP literal.
 *
 * @module
 */

/** Characters allowed in a zone identifier (RFC 6874's unreserved set). */
const ZONE = /^[A-Za-z0-9._~-]+$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const DEC_OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a dotted quad into `out` at `offset`; false when it is not one. */
function parseV4(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!DEC_OCTET.test(part)) return false;
    const value = Number(part);
    if (value > 255) return false;
    out[offset + i] = value;
  }
  return true;
}

/** Parses colon-separated groups (possibly ending in a dotted quad) into 16-bit values. */
function parseGroups(text: string, last: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (last && i === parts.length - 1 && part.includes(".")) {
      const v4 = new Uint8Array(4);
      if (!parseV4(part, v4, 0)) return null;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/** Parses an IPv6 address (no brackets, no zone) into 16 bytes. */
function parseV6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  const head = parseGroups(halves[0]!, !compressed);
  const tail = compressed ? parseGroups(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  const total = head.length + tail.length;
  // Without "::" all eight groups are written; with it, "::" stands for at least one.
  if (compressed ? total > 7 : total !== 8) return null;
  const out = new Uint8Array(16);
  const put = (g: number, i: number): void => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  };
  head.forEach(put);
  tail.forEach((g, i) => put(g, 8 - tail.length + i));
  return out;
}

/**
 * Splits a host into the address text proper: IPv6 brackets and zone removed.
 *
 * @returns `[address, isV6]`, or null when the brackets or zone are malformed.
 */
function split(host: string): [string, boolean] | null {
  let text = host;
  let bracketed = false;
  if (text.startsWith("[")) {
    if (!text.endsWith("]")) return null;
    text = text.slice(1, -1);
    bracketed = true;
  } else if (text.endsWith("]")) {
    return null;
  }
  const percent = text.indexOf("%");
  if (percent >= 0) {
    if (!ZONE.test(text.slice(percent + 1))) return null;
    text = text.slice(0, percent);
  }
  const v6 = text.includes(":");
  if ((bracketed || percent >= 0) && !v6) return null; // brackets and zones are IPv6's alone
  return [text, v6];
}

/**
 * Parses an IP literal into its bytes.
 *
 * @param host An IPv4 or IPv6 literal; IPv6 may be bracketed and carry a zone.
 * @returns 4 bytes (IPv4) or 16 (IPv6), or null when `host` is not an IP literal.
 */
export function parseIp(host: string): Uint8Array | null {
  if (typeof host !== "string") return null;
  const parts = split(host);
  if (parts === null) return null;
  const [text, v6] = parts;
  if (v6) return parseV6(text);
  const out = new Uint8Array(4);
  return parseV4(text, out, 0) ? out : null;
}

/**
 * Whether a host is an IP literal rather than a name (see the module doc for
 * exactly what counts).
 *
 * @param host The host, as a user or Deno wrote it.
 * @returns True for an IPv4 or IPv6 literal.
 */
export function isIpLiteral(host: string): boolean {
  return parseIp(host) !== null;
}

/**
 * The address of an IP literal as OpenSSL's `X509_VERIFY_PARAM_set1_ip_asc`
 * takes it: brackets and zone removed.
 *
 * @param host The host.
 * @returns The bare address, or null when `host` is not an IP literal.
 */
export function bareIp(host: string): string | null {
  if (parseIp(host) === null) return null;
  return split(host)![0];
}
