/**
 * What an OpenSSL error probably means, in one sentence a person
 * understands: the one table of hints, keyed by library and reason code, and
 * the one function that builds an error's message from the queue. OpenSSL's
 * own words stay in the message's `(OpenSSL: ...)` suffix and in the error's
 * `errors` entries. Internal to denossl.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import type { OpenSSLErrorEntry } from "./ssl_error.ts";

/** `ERR_LIB_EVP`. */
const ERR_LIB_EVP = 6;
/** `ERR_LIB_PEM`. */
const ERR_LIB_PEM = 9;
/** `ERR_LIB_X509`. */
const ERR_LIB_X509 = 11;
/** `ERR_LIB_SSL`. */
const ERR_LIB_SSL = 20;
/** `ERR_LIB_PKCS12`. */
const ERR_LIB_PKCS12 = 35;
/** `ERR_LIB_PROV`. */
const ERR_LIB_PROV = 57;
/** `SSL_AD_REASON_OFFSET`: an SSL reason above it is a fatal alert the peer sent. */
const SSL_AD_REASON_OFFSET = 1000;

/** A hint: a sentence, or a function of the `SSL*` the error came from (null when none). */
type Hint = string | ((ssl: Deno.PointerValue) => string | undefined);

/** Whether the error came from a server-side `SSL*` that has no certificate to present. */
function serverWithoutCertificate(ssl: Deno.PointerValue): boolean {
  if (ssl === null) return false;
  const { ssl: lib } = native();
  return lib.SSL_is_server(ssl) === 1 && lib.SSL_get_certificate(ssl) === null;
}

const WRONG_PASSPHRASE = "wrong passphrase";

/** The table: `library:reason` → hint. Hints start in lower case; {@link explain} capitalises. */
const HINTS: ReadonlyMap<string, Hint> = new Map<string, Hint>([
  // SSL_R_WRONG_VERSION_NUMBER: the first bytes back were not a TLS record.
  [
    `${ERR_LIB_SSL}:267`,
    (ssl) =>
      ssl !== null && native().ssl.SSL_is_server(ssl) === 1
        ? "the client did not speak TLS"
        : "the peer did not answer with TLS: is this a TLS port?",
  ],
  // SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST
  [`${ERR_LIB_SSL}:156`, "the client sent a plain HTTP request to this TLS port"],
  [`${ERR_LIB_SSL}:155`, "the client sent an HTTP proxy request (CONNECT) to this TLS port"],
  // SSL_R_NO_SHARED_CIPHER: also what a server with no certificate says.
  [
    `${ERR_LIB_SSL}:193`,
    (ssl) =>
      serverWithoutCertificate(ssl)
        ? "this server has no certificate and key loaded, so it cannot accept a TLS client"
        : "the client and this server have no cipher suite in common",
  ],
  // SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW
  [`${ERR_LIB_SSL}:258`, "the peer offered no TLS version that this side accepts"],
  [`${ERR_LIB_SSL}:396`, "the peer offered no TLS version that this side accepts"],
  // SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_NO_CIPHERS_AVAILABLE
  [`${ERR_LIB_SSL}:191`, "no TLS version is enabled: check the minimum and maximum versions"],
  [`${ERR_LIB_SSL}:181`, "no cipher suite is enabled for the TLS versions in use"],
  // SSL_R_NO_SHARED_GROUPS, SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM
  [`${ERR_LIB_SSL}:410`, "the peer and this side have no key exchange group in common"],
  [
    `${ERR_LIB_SSL}:118`,
    (ssl) =>
      serverWithoutCertificate(ssl)
        ? "this server has no certificate, and the client brought no pre-shared key it could use (a TLS 1.3 PSK needs a SHA-256 suite)"
        : "the peer and this side have no signature algorithm in common",
  ],
  // SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE
  [`${ERR_LIB_SSL}:199`, "the client sent no certificate, and this server requires one"],
  // SSL_R_NO_APPLICATION_PROTOCOL
  [`${ERR_LIB_SSL}:235`, "the client and this server have no ALPN protocol in common"],
  // SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED
  [
    `${ERR_LIB_SSL}:338`,
    "the peer does not support secure renegotiation (RFC 5746), which OpenSSL 3 requires",
  ],
  // SSL_R_DH_KEY_TOO_SMALL, SSL_R_EE_KEY_TOO_SMALL, SSL_R_CA_KEY_TOO_SMALL, SSL_R_CA_MD_TOO_WEAK
  [`${ERR_LIB_SSL}:394`, "the peer's Diffie-Hellman key is too small for the security level"],
  [`${ERR_LIB_SSL}:399`, "the certificate's key is too small for the security level"],
  [`${ERR_LIB_SSL}:397`, "a CA certificate's key is too small for the security level"],
  [`${ERR_LIB_SSL}:398`, "a CA certificate's signature digest is too weak for the security level"],
  // SSL_R_NO_CERTIFICATE_ASSIGNED, SSL_R_NO_PRIVATE_KEY_ASSIGNED
  [`${ERR_LIB_SSL}:177`, "no certificate is loaded"],
  [`${ERR_LIB_SSL}:190`, "no private key is loaded"],
  // X509_R_KEY_VALUES_MISMATCH
  [`${ERR_LIB_X509}:116`, "the private key does not belong to the certificate"],
  // A wrong passphrase: PKCS#12's MAC, or decryption (PKCS#12, PKCS#8, legacy PEM).
  [`${ERR_LIB_PKCS12}:113`, WRONG_PASSPHRASE], // PKCS12_R_MAC_VERIFY_FAILURE
  [`${ERR_LIB_PKCS12}:116`, WRONG_PASSPHRASE], // PKCS12_R_PKCS12_CIPHERFINAL_ERROR
  [`${ERR_LIB_PROV}:100`, WRONG_PASSPHRASE], // PROV_R_BAD_DECRYPT
  [`${ERR_LIB_PEM}:101`, WRONG_PASSPHRASE], // PEM_R_BAD_DECRYPT
  [`${ERR_LIB_EVP}:100`, WRONG_PASSPHRASE], // EVP_R_BAD_DECRYPT
  // PEM_R_NO_START_LINE
  [`${ERR_LIB_PEM}:108`, "no PEM block of the expected type was found"],
  // SSL_R_BINDER_DOES_NOT_VERIFY, SSL_R_PSK_IDENTITY_NOT_FOUND
  [`${ERR_LIB_SSL}:253`, "the client's pre-shared key is not this server's key for that identity"],
  [
    `${ERR_LIB_SSL}:223`,
    "the peer does not know this PSK identity, or no pre-shared key was given",
  ],
]);

/** Fatal alerts the peer sent (`SSL_AD_*`), by alert number. */
const ALERTS: ReadonlyMap<number, string> = new Map([
  [
    40,
    "the peer refused the handshake: no cipher suite, group or signature algorithm in common, or a certificate it wanted was missing",
  ],
  [42, "the peer refused this side's certificate"],
  [43, "the peer refused this side's certificate"],
  [44, "the peer refused this side's certificate as revoked"],
  [45, "the peer refused this side's certificate as expired"],
  [46, "the peer refused this side's certificate"],
  [48, "the peer does not trust the CA that issued this side's certificate"],
  [70, "the peer accepts none of the TLS versions this side offered"],
  [80, "the peer reported an internal error"],
  [112, "the server does not know the server name this client asked for"],
  [115, "the server does not know this client's PSK identity"],
  [116, "the server requires a client certificate, and none was sent"],
  [120, "the peer supports none of the ALPN protocols this side offered"],
]);

/**
 * The hint for one queue entry, if the table has one.
 *
 * @param entry The entry.
 * @param ssl The `SSL*` it came from, or null.
 * @returns The sentence (lower case first), or undefined.
 */
function hintFor(entry: OpenSSLErrorEntry, ssl: Deno.PointerValue): string | undefined {
  const hint = HINTS.get(`${entry.libraryCode}:${entry.reasonCode}`);
  if (typeof hint === "function") return hint(ssl);
  if (hint !== undefined) return hint;
  if (entry.libraryCode === ERR_LIB_SSL && entry.reasonCode > SSL_AD_REASON_OFFSET) {
    return ALERTS.get(entry.reasonCode - SSL_AD_REASON_OFFSET) ??
      "the peer ended the connection with a fatal alert";
  }
  return undefined;
}

/**
 * The message of an error built from queue entries: what probably happened
 * in one sentence, with OpenSSL's reasons (each said once) after it; without
 * a hint, OpenSSL's reasons and libraries as they are.
 *
 * @param errors The queue entries, oldest first.
 * @param what What failed ("Could not use private key"), or undefined.
 * @param ssl The `SSL*` the entries came from, for hints that depend on it.
 * @returns The message, or "" when there are no entries.
 */
export function explain(
  errors: readonly OpenSSLErrorEntry[],
  what?: string,
  ssl: Deno.PointerValue = null,
): string {
  if (errors.length === 0) return what ?? "";
  let hint: string | undefined;
  for (const e of errors) if ((hint = hintFor(e, ssl)) !== undefined) break;
  if (hint === undefined) {
    const reasons = [...new Set(errors.map((e) => `${e.reason} (${e.library})`))].join("; ");
    return what ? `${what}: ${reasons}` : reasons;
  }
  const words = [...new Set(errors.map((e) => e.reason))].join("; ");
  const sentence = what ? `${what}: ${hint}` : hint[0]!.toUpperCase() + hint.slice(1);
  return `${sentence} (OpenSSL: ${words})`;
}
