/**
 * Deno's built-in TLS (rustls): Deno.listenTls / Deno.connectTls, both ends.
 * rustls picks its own TLS 1.3 suite; Deno has no session API. The server's
 * connections keep Nagle on: Deno.listenTls gives no way to set TCP_NODELAY.
 *
 *   deno run -A deno_peer.ts server <cert.pem> <key.pem>
 *   deno run -A deno_peer.ts client <ca.pem> <port> <mode> [args]
 *
 * @module
 */

import { runClient, serve } from "./_proto.ts";
import type { Conn } from "./_proto.ts";

const [role, a, b, ...rest] = Deno.args;

function noDelay(conn: object): void {
  const f = (conn as { setNoDelay?: (v: boolean) => void }).setNoDelay;
  if (typeof f === "function") f.call(conn, true);
}

if (role === "server") {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(a!),
    key: Deno.readTextFileSync(b!),
  });
  console.log(listener.addr.port);
  for await (const conn of listener) {
    noDelay(conn);
    serve(conn);
  }
} else {
  const caCerts = [Deno.readTextFileSync(a!)];
  const port = Number(b);
  await runClient({
    async connect(): Promise<Conn> {
      // Deno.connectTls cannot disable Nagle (a TlsConn has no setNoDelay), which costs a
      // delayed ACK per handshake: connect, set TCP_NODELAY, then startTls.
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true);
      const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts });
      await conn.handshake();
      return conn;
    },
  }, rest);
}
