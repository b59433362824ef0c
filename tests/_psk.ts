/**
 * Fixtures of the PSK tests (TLS and DTLS): the identity, fresh keys, and
 * `openssl s_client -psk` with the protocol flags of the case.
 *
 * @module
 */

import { Peer, type Scope } from "./_peers.ts";

/** The identity the PSK tests' clients send. */
export const IDENTITY = "device-17";

/** A key as `openssl -psk` takes it: hex without 0x. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh 32-byte key. */
export function newKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** `openssl s_client -psk` with {@link IDENTITY} towards 127.0.0.1:port, stdin piped. */
export function pskSClient(scope: Scope, port: number, key: Uint8Array, flags: string[]): Peer {
  return scope.adopt(
    new Peer("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-psk",
      hex(key),
      "-psk_identity",
      IDENTITY,
      ...flags,
    ], { stdin: true }),
  );
}
