/**
 * One denossl TLS server process for the scaling tests and bench/scale.ts:
 * `deno run -A --unstable-net scale_server.ts '<json>'` with
 * `{ cert, key, port?, reusePort?, native?, ticketKey?, gracePeriod? }` (ticketKey: 80 bytes, hex).
 * Prints `{"port":N,"pid":P}`, then answers every client with its pid and a
 * newline and closes after the client's close. A line `rotate <hex>` on stdin
 * rotates the ticket key ring and is answered `rotated`; stdin's end stops it.
 */
import { listenTls, TicketKeyRing, type TlsConnection } from "../../mod.ts";

const cfg = JSON.parse(Deno.args[0]!);
const hex = (s: string): Uint8Array => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
const ring = cfg.ticketKey
  ? new TicketKeyRing({ keys: [hex(cfg.ticketKey)], gracePeriod: cfg.gracePeriod ?? 7_200_000 })
  : undefined;
const listener = listenTls({
  hostname: "127.0.0.1",
  port: cfg.port ?? 0,
  cert: cfg.cert,
  key: cfg.key,
  reusePort: cfg.reusePort === true,
  native: cfg.native === true,
  ...(ring ? { ticketKeys: ring } : {}),
});
console.log(JSON.stringify({ port: listener.addr.port, pid: Deno.pid }));
const answer = new TextEncoder().encode(`${Deno.pid}\n`);

async function serve(conn: TlsConnection): Promise<void> {
  try {
    await conn.handshake();
    await conn.write(answer);
    await conn.read(new Uint8Array(1)); // until the client closes
  } catch {
    // a client that fails is its own problem; the test sees it on its side
  } finally {
    conn.close();
  }
}

const serving = (async () => {
  for await (const conn of listener) serve(conn);
})();

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buffered = "";
for await (const chunk of lines) {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.startsWith("rotate ") && ring) {
      ring.rotate(hex(line.slice(7).trim()));
      console.log("rotated");
    }
  }
}
listener.close();
await serving;
Deno.exit(0);
