/**
 * TLS over stdin/stdout: a split transport, one stream for each direction.
 * This program starts a copy of itself as a child process; the child is a
 * TLS server on its own stdin and stdout, the parent a client on the
 * child's pipes. The same works over any pair of streams (an SSH channel, a
 * serial line, a `TransformStream` pair).
 *
 * ```sh
 * deno run -A examples/stdio.ts
 * ```
 *
 * @module
 */

import {
  Connection,
  Context,
  TestCA,
  TLS_CLIENT_METHOD,
  TLS_SERVER_METHOD,
  VERIFY_PEER,
} from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

if (Deno.args[0] === "child") {
  // The child: a TLS server whose transport is its own stdin and stdout.
  const ctx = new Context(TLS_SERVER_METHOD);
  ctx.useCertificateChain(Deno.env.get("EXAMPLE_CERT")!);
  ctx.usePrivateKey(Deno.env.get("EXAMPLE_KEY")!);
  const conn = new Connection(ctx, {
    readable: Deno.stdin.readable,
    writable: Deno.stdout.writable,
  });
  conn.setAcceptState();
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  await conn.write(encoder.encode(decoder.decode(buf.subarray(0, n ?? 0)).toUpperCase()));
  await conn.closeWrite();
  Deno.exit(0);
}

using ca = TestCA.create();
using cert = ca.issue({ dns: ["localhost"] });
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", import.meta.filename!, "child"],
  env: { EXAMPLE_CERT: cert.chainPEM, EXAMPLE_KEY: cert.keyPEM },
  stdin: "piped",
  stdout: "piped",
}).spawn();

// The parent: a TLS client whose transport is the child's stdout (in) and stdin (out).
const ctx = new Context(TLS_CLIENT_METHOD);
ctx.addCaCerts(ca.certPEM);
ctx.setVerify(VERIFY_PEER);
const conn = new Connection(ctx, { readable: child.stdout, writable: child.stdin });
conn.setConnectState();
conn.setVerifyHostname("localhost");
const { protocol, cipher } = await conn.handshake();
console.log(`over the child's pipes: ${protocol} ${cipher}`);
await conn.write(encoder.encode("hello through stdin"));
const buf = new Uint8Array(1024);
const n = await conn.read(buf);
console.log(`the child answered: ${decoder.decode(buf.subarray(0, n ?? 0))}`);
await conn.read(buf); // null: the child's close_notify; closing sooner could cut its pipe
await conn[Symbol.asyncDispose]();
console.log(`child exited with ${(await child.status).code}`);
ctx.close();
