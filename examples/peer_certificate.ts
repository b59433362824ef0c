/**
 * A client that prints the server's certificate chain: protocol, cipher,
 * group, and for each certificate its subject, issuer, expiry, names, key
 * and fingerprint (Deno.connectTls shows none of it).
 *
 * ```sh
 * deno run -A examples/peer_certificate.ts example.com 443   # a real server
 * deno run -A examples/peer_certificate.ts                   # a local server with a test CA
 * ```
 *
 * @module
 */

import { connectTls } from "../mod.ts";
import { localServer } from "./_local.ts";

const local = Deno.args.length === 0 ? localServer() : null;
const hostname = Deno.args[0] ?? "127.0.0.1";
const port = local?.port ?? Number(Deno.args[1] ?? 443);
const caCerts = local ? [local.caPEM] : []; // the system trust store is always used too

const conn = await connectTls({ hostname, port, caCerts });
const { protocol, cipher } = await conn.handshake();
console.log(`${protocol} ${cipher}, group ${conn.getGroupName()}`);
for (const [depth, cert] of (conn.getPeerCertChain() ?? []).entries()) {
  const key = cert.publicKey;
  console.log(`[${depth}] ${cert.subject.rfc2253}`);
  console.log(`    issuer   ${cert.issuer.rfc2253}`);
  console.log(`    expires  ${cert.notAfter.toISOString()}`);
  console.log(`    names    ${cert.subjectAltNames.map((n) => `${n.type}:${n.value}`).join(", ")}`);
  console.log(`    key      ${key.type} ${key.bits} bits`);
  console.log(`    SHA-256  ${cert.fingerprint("sha256")}`);
}
await conn[Symbol.asyncDispose]();

await local?.close();
