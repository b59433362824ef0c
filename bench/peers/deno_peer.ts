/**
 * Deno's built-in TLS (rustls) as Deno users write it: Deno.listenTls and Deno.connectTls.
 * rustls picks its own TLS 1.3 suite; Deno has no session API. Neither end can set TCP_NODELAY
 * (a TlsConn has no setNoDelay). With `--starttls` the client is Deno.connect + setNoDelay +
 * Deno.startTls instead: the variant that avoids Nagle's delayed ACK on handshakes.
 *
 *   deno run -A deno_peer.ts server <cert.pem> <key.pem>
 *   deno run -A deno_peer.ts [--starttls] client <ca.pem> <port> <mode> [args]
 *
 * @module
 */

import { runClient, serve } from "./_proto.ts";
import type { Conn } from "./_proto.ts";

const STARTTLS = Deno.args[0] === "--starttls";
const [role, a, b, ...rest] = STARTTLS ? Deno.args.slice(1) : Deno.args;

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
      if (!STARTTLS) {
        const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
        await conn.handshake();
        return conn;
      }
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true);
      const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts });
      await conn.handshake();
      return conn;
    },
  }, rest);
}
