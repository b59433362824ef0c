/**
 * Upgrading a plain connection, both sides: a client and a server speak a
 * line of plaintext (a STARTTLS-style exchange, as in SMTP or IMAP), then
 * the client upgrades with `startTls` (as `Deno.startTls` does) and the
 * server with `acceptTls` (the server side Deno lacks).
 *
 * ```sh
 * deno run -A examples/starttls.ts
 * ```
 *
 * @module
 */

import { acceptTls, startTls, TestCA } from "../mod.ts";

using ca = TestCA.create();
using cert = ca.issue({ dns: ["localhost"] });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads one plaintext line, byte by byte so that no TLS byte is read by mistake. */
async function readLine(conn: Deno.Conn): Promise<string> {
  const byte = new Uint8Array(1);
  let line = "";
  while ((await conn.read(byte)) === 1 && byte[0] !== 0x0a) line += String.fromCharCode(byte[0]!);
  return line.trimEnd();
}

const plainListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const serving = (async () => {
  const plain = await plainListener.accept();
  if ((await readLine(plain)) !== "STARTTLS") throw new Error("expected STARTTLS");
  await plain.write(encoder.encode("OK go ahead\r\n"));
  const tls = await acceptTls(plain, { cert: cert.chainPEM, key: cert.keyPEM });
  const buf = new Uint8Array(64);
  const n = await tls.read(buf);
  await tls.write(
    encoder.encode(`server got "${decoder.decode(buf.subarray(0, n ?? 0))}" over TLS`),
  );
  await tls.closeWrite();
  await tls[Symbol.asyncDispose]();
})();

const plain = await Deno.connect({ hostname: "127.0.0.1", port: plainListener.addr.port });
await plain.write(encoder.encode("STARTTLS\r\n"));
console.log(`server said (plaintext): ${await readLine(plain)}`);
const tls = await startTls(plain, { hostname: "localhost", caCerts: [ca.certPEM] });
const { protocol, cipher } = await tls.handshake();
console.log(`upgraded: ${protocol} ${cipher}`);
await tls.write(encoder.encode("secret"));
const buf = new Uint8Array(64);
const n = await tls.read(buf);
console.log(decoder.decode(buf.subarray(0, n ?? 0)));
await tls[Symbol.asyncDispose]();
await serving;
plainListener.close();
