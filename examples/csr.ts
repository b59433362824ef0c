/**
 * A certificate signing request (CSR) from start to finish: a server makes a
 * key and a CSR for its names, the CA checks the CSR and issues a
 * certificate from it (choosing the usages itself), and the server uses it.
 * The PEM printed is what `openssl req -text -noout -in` reads.
 *
 * ```sh
 * deno run -A examples/csr.ts
 * ```
 *
 * @module
 */

import { connectTls, listenTls, PKey, TestCA, X509Req } from "../mod.ts";

// On the server: a key that never leaves it, and a request for its names.
using key = PKey.generate({ type: "ec" });
using request = X509Req.create({
  subject: { CN: "localhost", O: "Example" },
  key,
  subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1"] },
});
const csrPEM = request.toPEM();
console.log(csrPEM.split("\n")[0]);

// At the CA: parse, check the signature (proof the requester holds the key), issue.
using ca = TestCA.create();
using received = X509Req.fromPEM(csrPEM);
received.verify();
using cert = ca.issueFromRequest(received, { validityDays: 90 });
const names = cert.subjectAltNames.map((n) => `${n.type}:${n.value}`).join(", ");
console.log(`issued: ${cert.subject.toString()} (${names}), CA: ${cert.isCA}`);

// Back on the server: the certificate and the key it kept.
await using listener = listenTls({
  hostname: "127.0.0.1",
  port: 0,
  cert: cert.toPEM(),
  key: key.toPEM(),
});
const accepted = listener.accept().then(async (conn) => {
  await conn.handshake().catch(() => {});
  return conn;
});
await using client = await connectTls({
  hostname: "127.0.0.1",
  port: listener.addr.port,
  caCerts: [ca.certPEM],
});
const { peerCertificate } = await client.handshake();
console.log(`a client verified it: ${peerCertificate?.subject.commonName}`);
(await accepted).close();
