/**
 * TLS with a pre-shared key instead of certificates (TLS-PSK), as IoT devices
 * and Node's `pskCallback` use it: a server without any certificate, a client
 * that knows the key of its identity, once over TLS 1.3 and once over TLS 1.2
 * (where the server's identity hint reaches the client), and a client with
 * the wrong key that is refused.
 *
 * ```sh
 * deno run -A examples/psk.ts
 * ```
 *
 * @module
 */

import { connectTls, listenTls, type TlsVersion } from "../mod.ts";

// Each device's key, as a server would keep them (32 random bytes or more).
const keys = new Map([["sensor-7", crypto.getRandomValues(new Uint8Array(32))]]);

await using listener = listenTls({
  hostname: "127.0.0.1",
  port: 0,
  // No cert, no key: the shared key authenticates both sides.
  pskCallback: (identity) => keys.get(identity) ?? null,
  pskIdentityHint: "factory-3", // sent to TLS 1.2 clients only
});
const serving = (async () => {
  for await (const conn of listener) {
    conn.handshake()
      .then(() => conn.write(new TextEncoder().encode("hello, device")))
      .then(() => conn.closeWrite())
      .catch((e) => console.log(`server: refused a client (${(e as Error).message})`))
      .finally(() => conn.close());
  }
})();

async function device(maxVersion: TlsVersion, key: Uint8Array): Promise<void> {
  try {
    await using conn = await connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      maxVersion,
      pskCallback: (hint) => {
        if (hint !== null) console.log(`  the server's identity hint: ${hint}`);
        return { identity: "sensor-7", psk: key };
      },
    });
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    const { protocol } = await conn.handshake();
    console.log(
      `${protocol} ${conn.getCipherName()}: ${new TextDecoder().decode(buf.subarray(0, n ?? 0))}`,
    );
  } catch (e) {
    console.log(`wrong key: refused (${(e as Error).message})`);
  }
}

await device("TLSv1.3", keys.get("sensor-7")!);
await device("TLSv1.2", keys.get("sensor-7")!);
await device("TLSv1.3", crypto.getRandomValues(new Uint8Array(32)));
listener.close();
await serving;
