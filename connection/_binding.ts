/**
 * Channel bindings for authentication protocols (SCRAM-*-PLUS, GSS-API): `tls-unique`
 * (RFC 5929 §3), `tls-server-end-point` (RFC 5929 §4) and `tls-exporter` (RFC 9266). Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr, readCString } from "../ffi/memory.ts";
import { TLS1_3_VERSION } from "../ffi/constants.ts";
import { NID_md5, NID_sha1, NID_undef } from "../ffi/constants_parity.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { exportKeyingMaterial, getFinished, getPeerFinished } from "./_keys.ts";
import type { ChannelBindingType } from "./types.ts";

type Ptr = Deno.PointerObject;

/** The RFC 9266 exporter label for `tls-exporter` channel bindings. */
const TLS_EXPORTER_LABEL = "EXPORTER-Channel-Binding";
/** `EVP_MAX_MD_SIZE`. */
const EVP_MAX_MD_SIZE = 64;
const TYPES: readonly string[] = ["tls-unique", "tls-exporter", "tls-server-end-point"];

/**
 * A channel binding of a finished handshake.
 *
 * @param ssl The `SSL*`.
 * @param type The type; by default `tls-exporter` on TLS 1.3, `tls-unique` before.
 * @returns The binding, or null before the handshake is done.
 */
export function channelBinding(ssl: Ptr, type?: ChannelBindingType): Uint8Array | null {
  if (type !== undefined && !TYPES.includes(type)) {
    throw new TypeError(
      `Unknown channel binding type "${type}": use "tls-unique", "tls-exporter" or "tls-server-end-point"`,
    );
  }
  const { ssl: lib } = native();
  if (lib.SSL_is_init_finished(ssl) !== 1) return null;
  const tls13 = lib.SSL_version(ssl) === TLS1_3_VERSION;
  const kind = type ?? (tls13 ? "tls-exporter" : "tls-unique");
  if (kind === "tls-exporter") return exportKeyingMaterial(ssl, TLS_EXPORTER_LABEL, 32);
  if (kind === "tls-server-end-point") return serverEndPoint(ssl);
  if (tls13) throw new RangeError("tls-unique is not defined for TLS 1.3: use tls-exporter");
  // tls-unique is the first Finished of the handshake: the client's in a full handshake,
  // the server's in an abbreviated (resumed) one.
  const server = lib.SSL_is_server(ssl) === 1;
  const resumed = lib.SSL_session_reused(ssl) === 1;
  return server !== resumed ? getPeerFinished(ssl) : getFinished(ssl);
}

/**
 * `tls-server-end-point` (RFC 5929 §4.1): the server certificate's DER hashed with the
 * digest of its signature algorithm, SHA-256 in place of MD5 and SHA-1. A server hashes
 * its own certificate, a client the peer's.
 *
 * @param ssl The `SSL*`, handshake done.
 * @returns The hash, or null when there is no server certificate (PSK, anonymous).
 * @throws {RangeError} When the signature algorithm has no separate digest (Ed25519, Ed448).
 */
function serverEndPoint(ssl: Ptr): Uint8Array | null {
  const { ssl: lib, crypto } = native();
  const server = lib.SSL_is_server(ssl) === 1;
  const cert = server ? lib.SSL_get_certificate(ssl) : lib.SSL_get1_peer_certificate(ssl);
  if (cert === null) return null;
  try {
    const mdnid = new Int32Array(1);
    clearErrors();
    if (crypto.X509_get_signature_info(cert, mdnid, null, null, null) !== 1) {
      throw sslErrorFromQueue("Could not read the server certificate's signature algorithm");
    }
    const nid = mdnid[0]!;
    if (nid === NID_undef) {
      const alg = readCString(crypto.OBJ_nid2sn(crypto.X509_get_signature_nid(cert))) ?? "?";
      // RFC 5929 names no hash for a signature without its own digest; PostgreSQL refuses too.
      throw new RangeError(
        `tls-server-end-point is not defined for a certificate signed with ${alg}, which has no separate hash: use tls-exporter`,
      );
    }
    const name = nid === NID_md5 || nid === NID_sha1
      ? "SHA256"
      : readCString(crypto.OBJ_nid2sn(nid));
    const md = name === null ? null : crypto.EVP_get_digestbyname(cstr(name));
    if (md === null) throw new RangeError(`No digest is known for the signature hash ${name}`);
    const out = new Uint8Array(EVP_MAX_MD_SIZE);
    const len = new Uint32Array(1);
    if (crypto.X509_digest(cert, md, out, len) !== 1) {
      throw sslErrorFromQueue("Could not hash the server certificate");
    }
    return out.slice(0, len[0]!);
  } finally {
    if (!server) crypto.X509_free(cert);
  }
}
