/**
 * A mutual-TLS server with a client-certificate policy: clients must present
 * a certificate from our CA, and only the names on an allow-list get in.
 * Three local clients try: alice (allowed), bob (valid certificate, not on
 * the list) and one without a certificate.
 *
 * ```sh
 * deno run -A examples/mtls_server.ts
 * ```
 *
 * @module
 */

import {
  connectTls,
  Context,
  listenTls,
  TestCA,
  TLS_SERVER_METHOD,
  type TlsConnection,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
} from "../mod.ts";

using ca = TestCA.create();
using serverCert = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });

const allowed = new Set(["alice"]);
const ctx = new Context(TLS_SERVER_METHOD);
ctx.useCertificateChain(serverCert.chainPEM);
ctx.usePrivateKey(serverCert.keyPEM);
ctx.addCaCerts(ca.certPEM); // client certificates must chain to this CA
ctx.setSessionIdContext("mtls-example"); // a server that verifies clients needs one
ctx.setVerify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT, (_conn, cert, _errnum, depth, ok) => {
  if (!ok) return false; // OpenSSL's verdict first: chain, signature, dates
  if (depth > 0) return true; // the CA certificates above the client's
  return allowed.has(cert.subject.commonName ?? ""); // the client's own: our policy
});

// One task per client: a client that stalls its handshake holds up nobody else.
async function greet(conn: TlsConnection): Promise<void> {
  try {
    const { peerCertificate } = await conn.handshake();
    const name = peerCertificate?.subject.commonName;
    await conn.write(new TextEncoder().encode(`hello ${name}`));
    await conn.closeWrite();
  } catch (e) {
    console.log(`server: refused a client: ${(e as Error).message}`);
  } finally {
    await conn[Symbol.asyncDispose]();
  }
}

const listener = listenTls({ hostname: "127.0.0.1", port: 0, context: ctx });
const greetings: Promise<void>[] = [];
const serving = (async () => {
  for await (const conn of listener) greetings.push(greet(conn));
})();

using alice = ca.issueClient({ commonName: "alice" });
using bob = ca.issueClient({ commonName: "bob" });
for (const [who, client] of [["alice", alice], ["bob", bob], ["no certificate", null]] as const) {
  const conn = await connectTls({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    caCerts: [ca.certPEM],
    ...(client ? { cert: client.chainPEM, key: client.keyPEM } : {}),
  });
  try {
    // TLS 1.3: the server checks the client's certificate after the client's handshake ended,
    // so a refusal arrives as an alert on the first read.
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    console.log(`${who}: ${new TextDecoder().decode(buf.subarray(0, n ?? 0))}`);
  } catch (e) {
    console.log(`${who}: refused (${(e as Error).message})`);
  } finally {
    await conn[Symbol.asyncDispose]();
  }
}
listener.close();
await serving;
await Promise.all(greetings);
ctx.close();
