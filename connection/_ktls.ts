/** Kernel TLS: asking OpenSSL to hand a native-mode connection's records to the kernel, and saying whether it did and, if not, why. */

import { native } from "../ffi/library.ts";
import { OP_ENABLE_KTLS } from "../ffi/constants.ts";
import { readCString } from "../ffi/memory.ts";
import type { KtlsStatus, TransportMode } from "./transport.ts";

const BIO_CTRL_GET_KTLS_SEND = 73;
const BIO_CTRL_GET_KTLS_RECV = 76;
const ULP_LIST = "/proc/sys/net/ipv4/tcp_available_ulp";

/** Sets OP_ENABLE_KTLS on one connection; it must be set before the handshake. */
export function requestKtls(ssl: Deno.PointerObject): void {
  native().ssl.SSL_set_options(ssl, BigInt(OP_ENABLE_KTLS));
}

function requested(ssl: Deno.PointerObject): boolean {
  return (native().ssl.SSL_get_options(ssl) & BigInt(OP_ENABLE_KTLS)) !== 0n;
}

function bioSays(bio: Deno.PointerValue, cmd: number): boolean {
  return bio !== null && Number(native().crypto.BIO_ctrl(bio, cmd, 0n, null)) > 0;
}

/** What the kernel says about its TLS upper-layer protocol, or null when it has it (or can't tell). */
function kernelReason(): string | null {
  const os = Deno.build.os;
  if (os !== "linux" && os !== "freebsd") {
    return `kTLS is a Linux and FreeBSD feature; this is ${os}`;
  }
  if (os !== "linux") return null;
  let ulps: string;
  try {
    ulps = Deno.readTextFileSync(ULP_LIST).trim();
  } catch {
    return null; // no read permission or no procfs: let OpenSSL's answer stand alone
  }
  if (ulps.split(/\s+/).includes("tls")) return null;
  return `the kernel's tls module is not loaded (${ULP_LIST} lists ${
    ulps === "" ? "nothing" : JSON.stringify(ulps)
  }); "modprobe tls" loads it where the kernel has one`;
}

/**
 * Whether OpenSSL handed this connection's records to the kernel, per direction, and why not.
 *
 * @param ssl The connection's `SSL*`.
 * @param mode How its ciphertext moves: only native mode gives OpenSSL the socket.
 * @param fallback Why native mode was asked for and not had, if it was.
 */
export function ktlsStatus(
  ssl: Deno.PointerObject,
  mode: TransportMode,
  fallback: string | null,
): KtlsStatus {
  const { ssl: s } = native();
  const send = bioSays(s.SSL_get_wbio(ssl), BIO_CTRL_GET_KTLS_SEND);
  const receive = bioSays(s.SSL_get_rbio(ssl), BIO_CTRL_GET_KTLS_RECV);
  if (send && receive) return { send, receive, reason: null };
  let reason: string;
  if (mode !== "native") {
    reason =
      `kTLS needs native mode, where OpenSSL owns the socket; this connection is in ${mode} mode` +
      (fallback === null ? "" : ` (${fallback})`);
  } else if (!requested(ssl)) {
    reason = "not requested: pass { ktls: true } (or set OP_ENABLE_KTLS) before the handshake";
  } else if (s.SSL_is_init_finished(ssl) !== 1) {
    reason = "the handshake has not finished: OpenSSL offloads once the traffic keys are set";
  } else {
    const version = readCString(s.SSL_get_version(ssl)) ?? "?";
    const cipherPtr = s.SSL_get_current_cipher(ssl);
    const cipher = cipherPtr === null ? "?" : readCString(s.SSL_CIPHER_get_name(cipherPtr)) ?? "?";
    reason = kernelReason() ??
      `OpenSSL did not offload ${send ? "receiving" : receive ? "sending" : "this connection"} ` +
        `(${version}, ${cipher}): the kernel or this OpenSSL build does not offload that cipher, ` +
        "version or direction";
  }
  return { send, receive, reason };
}
