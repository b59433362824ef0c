/**
 * What a finished handshake tells, in the shapes the Node adapter and `serve()` hand out: the
 * verification result, and a certificate as Node's `getPeerCertificate()` describes it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { native } from "../ffi/library.ts";
import { verifyErrorString } from "../errors/raise.ts";
import type { ConnectionBase } from "./connection.ts";
import type { X509 } from "../crypto/x509.ts";
import type { X509Name } from "../crypto/name.ts";

/** `X509_V_OK`. */
const X509_V_OK = 0;

/** The verification result of a connection: OpenSSL's code and its text. */
export interface VerifyResult {
  /** `X509_V_OK` (0) when the peer's chain verified, else an `X509_V_ERR_*` code. */
  code: number;
  /** OpenSSL's text for the code (`"ok"` for 0). */
  message: string;
}

/** `SSL_get_verify_result` with its text. */
export function verifyResultOf(conn: ConnectionBase): VerifyResult {
  const code = Number(native().ssl.SSL_get_verify_result(conn._handle));
  return { code, message: verifyErrorString(code) };
}

/**
 * Node's `authorized` and `authorizationError`: authorized only when the peer sent a
 * certificate and it verified.
 */
export function authorizationOf(
  conn: ConnectionBase,
  hasPeerCert: boolean,
): { authorized: boolean; authorizationError: string | null } {
  const { code, message } = verifyResultOf(conn);
  if (!hasPeerCert) return { authorized: false, authorizationError: "no peer certificate" };
  return code === X509_V_OK
    ? { authorized: true, authorizationError: null }
    : { authorized: false, authorizationError: message };
}

/**
 * A peer certificate as Node's `tlsSocket.getPeerCertificate()` gives it (the commonly read
 * fields), with `raw` the DER bytes.
 */
export interface PeerCertificate {
  /** The subject's attributes by short name (`CN`, `O`, ...). */
  subject: Record<string, string>;
  /** The issuer's attributes by short name. */
  issuer: Record<string, string>;
  /** The subject alternative names, as Node spells them (`"DNS:a, IP Address:1.2.3.4"`). */
  subjectaltname?: string;
  /** The start of validity, as Node formats it (`Date.toUTCString`-like). */
  valid_from: string;
  /** The end of validity. */
  valid_to: string;
  /** The serial number in upper-case hex. */
  serialNumber: string;
  /** SHA-1 fingerprint, colon-separated hex. */
  fingerprint: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
  /** Whether it is a CA certificate. */
  ca: boolean;
  /** The DER encoding. */
  raw: Buffer;
}

function attributes(name: X509Name): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name: key, value } of name.entries) out[key] = value;
  return out;
}

const SAN_PREFIX: Record<string, string> = { IP: "IP Address" };

/** Describes `cert` as Node's `getPeerCertificate()` does. */
export function nodeCertificate(cert: X509): PeerCertificate {
  const sans = cert.subjectAltNames.map((s) => `${SAN_PREFIX[s.type] ?? s.type}:${s.value}`);
  return {
    subject: attributes(cert.subject),
    issuer: attributes(cert.issuer),
    ...(sans.length > 0 ? { subjectaltname: sans.join(", ") } : {}),
    valid_from: cert.notBefore.toUTCString(),
    valid_to: cert.notAfter.toUTCString(),
    serialNumber: cert.serialNumberHex.toUpperCase(),
    fingerprint: cert.fingerprint("sha1"),
    fingerprint256: cert.fingerprint("sha256"),
    ca: cert.isCA,
    raw: Buffer.from(cert.toDER()),
  };
}
