/**
 * Deno's own TLS (rustls) in a process of its own, for the interop cases
 * that need a rustls peer to vanish mid-handshake (the test kills it; Deno
 * offers no way to drop a TLS connection half-way in-process: `close()`
 * lets the handshake finish). One argument, JSON:
 *   { role: "server", cert, key } prints `{"port":N}` and accepts one connection;
 *   { role: "client", port, caCerts } connects to localhost:port.
 * Either side then runs its handshake and waits on a read.
 */
const cfg = JSON.parse(Deno.args[0]!);
let conn: Deno.TlsConn;
if (cfg.role === "server") {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: cfg.cert, key: cfg.key });
  console.log(JSON.stringify({ port: listener.addr.port }));
  conn = await listener.accept();
} else {
  conn = await Deno.connectTls({ hostname: "localhost", port: cfg.port, caCerts: cfg.caCerts });
}
await conn.handshake().catch(() => {});
await conn.read(new Uint8Array(1)).catch(() => {});
