/**
 * Helpers of the listenTls tests: a listener on 127.0.0.1 with the test PKI's server certificate,
 * and an echo server over a listener that records each connection's failure.
 *
 * @module
 */

import { listenTls, type ListenTlsOptions, type TlsConnection, type TlsListener } from "../mod.ts";
import type { Pki } from "./_pki.ts";

/** `listenTls` on 127.0.0.1, a free port, with the PKI's server certificate and `o`. */
export function localListener(pki: Pki, o: Partial<ListenTlsOptions> = {}): TlsListener {
  return listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.server.chainPEM,
    key: pki.server.keyPEM,
    ...o,
  });
}

/** Accepts until closed; each connection echoes until its client closes. */
export function echoServer(listener: TlsListener): { done: Promise<void>; failures: unknown[] } {
  const failures: unknown[] = [];
  const echo = async (conn: TlsConnection): Promise<void> => {
    try {
      await conn.handshake();
      await conn.readable.pipeTo(conn.writable);
    } catch (e) {
      failures.push(e);
    }
  };
  const done = (async () => {
    for await (const conn of listener) echo(conn);
  })();
  return { done, failures };
}
