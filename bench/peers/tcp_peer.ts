/**
 * Plain TCP, no TLS, through Deno's own sockets: what the harness itself costs per connection
 * (memory) and per round trip (ping-pong), so that TLS's own share can be read off the rows.
 *
 *   deno run -A tcp_peer.ts server <cert.pem> <key.pem>     (the certificate is not used)
 *   deno run -A tcp_peer.ts client <ca.pem> <port> <mode> [args]
 *
 * @module
 */

import { runClient, serve } from "./_proto.ts";
import type { Conn } from "./_proto.ts";

const [role, , b, ...rest] = Deno.args;
if (role === "server") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    serve(conn);
  }
} else {
  const port = Number(b);
  await runClient({
    async connect(): Promise<Conn> {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.setNoDelay(true);
      return conn;
    },
  }, rest);
}
