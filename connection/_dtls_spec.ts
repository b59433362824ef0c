/**
 * The context spec of the DTLS helpers' options (`connectDtls`,
 * `listenDtls`), as `_tls_common.ts` makes the TLS helpers'. Internal.
 *
 * @module
 */

import { DTLS1_2_VERSION, DTLS1_VERSION } from "../ffi/constants.ts";
import type { ContextSpec } from "./_defaults.ts";
import { pskSpec } from "./_psk.ts";
import type { ConnectDtlsOptions, DtlsVersion, ListenDtlsOptions } from "./dtls_udp.ts";

function versionOf(v: DtlsVersion | undefined): number {
  if (v === undefined) return DTLS1_2_VERSION;
  if (typeof v === "number") return v;
  if (v === "DTLSv1") return DTLS1_VERSION;
  if (v === "DTLSv1.2") return DTLS1_2_VERSION;
  throw new RangeError(`Unknown DTLS version "${v}"`);
}

/**
 * The context spec of `connectDtls` / `listenDtls` options, PSK read by the
 * same `pskSpec` as the TLS helpers'.
 *
 * @param kind Which side.
 * @param o The options.
 * @returns The spec, versions parsed.
 * @throws {RangeError} When a version is unknown.
 * @throws {TypeError} When `pskCallback` is not a function, or a hint comes without one.
 */
export function dtlsSpecOf(
  kind: "dtls-client" | "dtls-server",
  o: Omit<Partial<ConnectDtlsOptions> & ListenDtlsOptions, "pskCallback"> & {
    pskCallback?: unknown;
  },
): ContextSpec {
  return {
    kind,
    minVersion: versionOf(o.minVersion),
    maxVersion: versionOf(o.maxVersion),
    unsafelyAllowLegacyProtocols: o.unsafelyAllowLegacyProtocols,
    ciphers: o.ciphers,
    caCerts: o.caCerts,
    alpnProtocols: o.alpnProtocols,
    srtpProfiles: o.srtpProfiles,
    cert: o.cert,
    key: o.key,
    unsafelyDisableVerification: kind === "dtls-client" ? o.unsafelyDisableVerification : false,
    requestClientCert: kind === "dtls-server" ? o.requestClientCert : false,
    requireClientCert: kind === "dtls-server" ? o.requireClientCert : false,
    psk: pskSpec(kind === "dtls-server", o),
  };
}
