/**
 * SNI: one server, one port, a certificate per host name. The server picks
 * the context (certificate and key) from the name the client sends; clients
 * asking for each name verify they got the right certificate.
 *
 * ```sh
 * deno run -A examples/sni.ts
 * ```
 *
 * @module
 */

import { connectTls, Context, listenTls, TestCA, TLS_SERVER_METHOD } from "../mod.ts";

using ca = TestCA.create();
const names = ["api.example", "www.example"];

const contexts = new Map<string, Context>();
for (const name of names) {
  using cert = ca.issue({ dns: [name] });
  const ctx = new Context(TLS_SERVER_METHOD);
  ctx.useCertificateChain(cert.chainPEM);
  ctx.usePrivateKey(cert.keyPEM);
  contexts.set(name, ctx);
}
const defaultContext = contexts.get("www.example")!;
defaultContext.setTlsextServernameCallback((conn) => {
  const ctx = contexts.get(conn.getServername() ?? "");
  if (ctx) conn.setContext(ctx); // unknown or no name: keep the default certificate
});

const listener = listenTls({ hostname: "127.0.0.1", port: 0, context: defaultContext });
const served: Promise<void>[] = [];
const serving = (async () => {
  for await (const conn of listener) { // one task per client: none waits for another's handshake
    served.push(
      conn.handshake().then(() => {}, () => {}).finally(() => conn[Symbol.asyncDispose]()),
    );
  }
})();

for (const serverName of [...names, "unknown.example"]) {
  const conn = await connectTls({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    serverName, // sent as SNI, and the name the certificate must match
    caCerts: [ca.certPEM],
    unsafelyDisableHostnameVerification: serverName === "unknown.example",
  });
  const { peerCertificate } = await conn.handshake();
  console.log(`asked for ${serverName}: got ${peerCertificate?.subject.commonName}`);
  await conn[Symbol.asyncDispose]();
}
listener.close();
await serving;
await Promise.all(served);
for (const ctx of contexts.values()) ctx.close();
