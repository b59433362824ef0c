/**
 * What the client helpers (`tls.ts`) and the listener (`listener.ts`) share:
 * helper options turned into a context spec, and the handshake run under a
 * signal and a deadline. Internal.
 *
 * @module
 */

import type { Connection, HandshakeInfo } from "./connection.ts";
import type { ConnectionOptions, Transport } from "./transport.ts";
import type { TlsClientOptions, TlsCommonOptions, TlsServerOptions, TlsVersion } from "./tls.ts";
import { TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION, TLS1_VERSION } from "../ffi/constants.ts";
import { type ContextSpec, handshakeDeadline } from "./_defaults.ts";
import { pskSpec } from "./_psk.ts";

function versionOf(v: TlsVersion | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === "number") return v;
  const map: Record<string, number> = {
    "TLSv1": TLS1_VERSION,
    "TLSv1.1": TLS1_1_VERSION,
    "TLSv1.2": TLS1_2_VERSION,
    "TLSv1.3": TLS1_3_VERSION,
  };
  const n = map[v];
  if (n === undefined) throw new RangeError(`Unknown TLS version "${v}"`);
  return n;
}

/**
 * The context spec of helper options.
 *
 * @param kind Which side.
 * @param o The options.
 * @returns The spec, versions parsed.
 * @throws {TypeError} When `keyFormat` is not "pem".
 * @throws {RangeError} When a version is unknown.
 */
export function specOf(
  kind: "tls-client" | "tls-server",
  o: Omit<TlsClientOptions & TlsServerOptions, "pskCallback"> & { pskCallback?: unknown },
): ContextSpec {
  if (o.keyFormat !== undefined && o.keyFormat !== "pem") {
    throw new TypeError(`keyFormat must be "pem": got ${String(o.keyFormat)}`);
  }
  return {
    kind,
    minVersion: versionOf(o.minVersion, TLS1_2_VERSION),
    maxVersion: versionOf(o.maxVersion, 0),
    unsafelyAllowLegacyProtocols: o.unsafelyAllowLegacyProtocols,
    ciphers: o.ciphers,
    ciphersuites: o.ciphersuites,
    caCerts: o.caCerts,
    alpnProtocols: o.alpnProtocols,
    cert: o.cert,
    key: o.key,
    passphrase: o.passphrase,
    pfx: o.pfx,
    groups: o.groups,
    ocspResponse: kind === "tls-server" ? o.ocspResponse : undefined,
    sessionStore: kind === "tls-server" ? o.sessionStore : undefined,
    unsafelyDisableVerification: kind === "tls-client" ? o.unsafelyDisableVerification : false,
    requestClientCert: kind === "tls-server" ? o.requestClientCert : false,
    requireClientCert: kind === "tls-server" ? o.requireClientCert : false,
    psk: pskSpec(kind === "tls-server", o),
    crls: o.crls,
  };
}

/** The Connection options a helper's `native`/`ktls` options ask for. */
export function modeOf(o: TlsCommonOptions): ConnectionOptions {
  return o.ktls === true
    ? { native: o.native === true, ktls: true }
    : { native: o.native === true };
}

/** Runs the handshake, honouring `signal` and `handshakeTimeout` (else `fallback` ms). */
export async function handshakeWithin<T extends Transport>(
  conn: Connection<T>,
  o: TlsCommonOptions,
  fallback?: number,
): Promise<HandshakeInfo> {
  const { signal } = o;
  const deadline = handshakeDeadline(o.handshakeTimeout, fallback);
  if (!signal && deadline === undefined) return conn.handshake();
  signal?.throwIfAborted();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reason: unknown;
  const abort = (): void => {
    reason = signal?.aborted
      ? signal.reason
      : new Deno.errors.TimedOut(`TLS handshake did not finish within ${deadline} ms`);
    conn._abort(reason); // closes it: the connection's own handshake() rejects with it too
  };
  signal?.addEventListener("abort", abort, { once: true });
  if (deadline !== undefined) timer = setTimeout(abort, deadline);
  try {
    return await conn.handshake();
  } catch (e) {
    throw reason ?? e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}
