/**
 * Reads a stapled OCSP response (RFC 6960) far enough to report it: the
 * response status, and for the certificate asked about its status (good,
 * revoked, unknown) and dates. A small DER walker, no signature check: the
 * report says so. Internal to the command line.
 *
 * @module
 */

/** What `inspect` reports about a stapled OCSP response. */
export interface OcspSummary {
  /** The response's size in bytes. */
  bytes: number;
  /** `OCSPResponseStatus`: `"successful"`, `"tryLater"`, ... */
  responseStatus: string;
  /** The certificate's status, when the response is successful and names it. */
  certStatus?: "good" | "revoked" | "unknown";
  /** When the responder signed the response. */
  producedAt?: string;
  /** The start of the status's validity. */
  thisUpdate?: string;
  /** When newer information will be available, if the responder says. */
  nextUpdate?: string;
  /** For a revoked certificate: when. */
  revocationTime?: string;
  /** Whether the response names the certificate inspected (its serial number). */
  matchesCertificate?: boolean;
}

const RESPONSE_STATUS = [
  "successful",
  "malformedRequest",
  "internalError",
  "tryLater",
  "(4: unused)",
  "sigRequired",
  "unauthorized",
];

/** One DER element: its tag and where its value lies. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function tlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw new RangeError("truncated DER");
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError("high tag numbers are not used by OCSP");
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new RangeError("bad DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[start + i]!;
    start += n;
  }
  const end = start + length;
  if (end > limit) throw new RangeError("DER element overruns its parent");
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let o = parent.start; o < parent.end;) {
    const t = tlv(der, o, parent.end);
    out.push(t);
    o = t.end;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) throw new RangeError(`expected ${what}`);
  return t;
}

function generalizedTime(der: Uint8Array, t: Tlv): string {
  expect(t, 0x18, "GeneralizedTime");
  const s = new TextDecoder().decode(der.subarray(t.start, t.end));
  const m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/);
  if (!m) throw new RangeError(`bad GeneralizedTime ${s}`);
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`;
}

function integerHex(der: Uint8Array, t: Tlv): string {
  expect(t, 0x02, "INTEGER");
  let hex = Array.from(der.subarray(t.start, t.end), (b) => b.toString(16).padStart(2, "0"))
    .join("").toUpperCase().replace(/^(00)+(?=.)/, "");
  if (hex === "") hex = "00";
  return hex;
}

/** `id-pkix-ocsp-basic`, 1.3.6.1.5.5.7.48.1.1, as DER OID content. */
const OID_OCSP_BASIC = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];

/**
 * Summarises a DER OCSP response.
 *
 * @param der The response as the server stapled it.
 * @param serialHex The inspected certificate's serial (upper-case hex), to
 *   pick its entry; the first entry is used when none matches.
 * @returns The summary.
 * @throws {RangeError} When the bytes are not an OCSP response.
 */
export function summariseOcsp(der: Uint8Array, serialHex?: string): OcspSummary {
  const top = expect(tlv(der, 0), 0x30, "OCSPResponse SEQUENCE");
  const [status, bytes] = children(der, top);
  const code = der[expect(status, 0x0a, "responseStatus ENUMERATED").start] ?? -1;
  const summary: OcspSummary = {
    bytes: der.length,
    responseStatus: RESPONSE_STATUS[code] ?? `status ${code}`,
  };
  if (code !== 0 || bytes === undefined) return summary;
  const responseBytes = expect(
    children(der, expect(bytes, 0xa0, "[0] responseBytes"))[0],
    0x30,
    "ResponseBytes",
  );
  const [oid, octets] = children(der, responseBytes);
  const oidBytes = der.subarray(expect(oid, 0x06, "responseType").start, oid!.end);
  if (
    oidBytes.length !== OID_OCSP_BASIC.length || oidBytes.some((b, i) => b !== OID_OCSP_BASIC[i])
  ) {
    throw new RangeError("not a basic OCSP response");
  }
  const basic = tlv(der, expect(octets, 0x04, "response OCTET STRING").start, octets!.end);
  const tbs = expect(
    children(der, expect(basic, 0x30, "BasicOCSPResponse"))[0],
    0x30,
    "ResponseData",
  );
  let fields = children(der, tbs);
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1); // version
  const [, producedAt, responses] = fields; // responderID, producedAt, responses
  summary.producedAt = generalizedTime(der, producedAt!);
  const entries = children(der, expect(responses, 0x30, "responses SEQUENCE"));
  let chosen: Tlv[] | undefined;
  for (const entry of entries) {
    const parts = children(der, expect(entry, 0x30, "SingleResponse"));
    const certId = children(der, expect(parts[0], 0x30, "CertID"));
    const serial = integerHex(der, certId[3]!);
    if (serialHex !== undefined && serial === serialHex.replace(/^(00)+(?=.)/, "").toUpperCase()) {
      chosen = parts;
      summary.matchesCertificate = true;
      break;
    }
    chosen ??= parts;
  }
  if (chosen === undefined) return summary;
  if (serialHex !== undefined) summary.matchesCertificate ??= false;
  const [, certStatus, thisUpdate, ...rest] = chosen;
  if (certStatus?.tag === 0x80) summary.certStatus = "good";
  else if (certStatus?.tag === 0xa1) {
    summary.certStatus = "revoked";
    const info = children(der, certStatus);
    if (info[0]) summary.revocationTime = generalizedTime(der, info[0]);
  } else if (certStatus?.tag === 0x82) summary.certStatus = "unknown";
  else throw new RangeError("bad CertStatus");
  summary.thisUpdate = generalizedTime(der, thisUpdate!);
  const next = rest.find((t) => t.tag === 0xa0);
  if (next) summary.nextUpdate = generalizedTime(der, children(der, next)[0]!);
  return summary;
}
