/**
 * An HTTPS API with a client-certificate policy, served like `Deno.serve`: clients need a
 * certificate from our CA (checked in the handshake), and the handler decides by the name in
 * it. Three local clients try with Deno's `fetch`: alice (allowed), bob (valid certificate,
 * not on the list) and one without a certificate.
 *
 * ```sh
 * deno run -A examples/mtls_api_server.ts
 * ```
 *
 * @module
 */

import { TestCA } from "../mod.ts";
import { serve } from "../node.ts";

using ca = TestCA.create();
using serverCert = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
const allowed = new Set(["alice"]);

await using server = serve({
  hostname: "127.0.0.1",
  port: 0,
  cert: serverCert.chainPEM,
  key: serverCert.keyPEM,
  caCerts: [ca.certPEM], // client certificates must chain to this CA ...
  requireClientCert: true, // ... and there must be one
  onListen: ({ port }) => console.log(`listening on https://localhost:${port}/`),
  onHandshakeError: (e) => console.log(`server: refused a client at the handshake: ${e}`),
}, (req, { tls, remoteAddr }) => {
  const name = tls.peerCertificate?.subject.commonName ?? "";
  if (!allowed.has(name)) return new Response(`${name} may not\n`, { status: 403 });
  return Response.json({
    name,
    path: new URL(req.url).pathname,
    from: remoteAddr.hostname,
    protocol: tls.protocol,
    verified: tls.verified,
  });
});

const url = `https://localhost:${server.addr.port}/whoami`;
for (const name of ["alice", "bob"]) {
  using id = ca.issueClient({ commonName: name });
  using client = Deno.createHttpClient({
    caCerts: [ca.certPEM],
    cert: id.chainPEM,
    key: id.keyPEM,
  });
  const res = await fetch(url, { client });
  console.log(`${name}: ${res.status} ${(await res.text()).trim()}`);
}
{
  using client = Deno.createHttpClient({ caCerts: [ca.certPEM] });
  const reply = await fetch(url, { client }).then(
    (res) => `${res.status}`,
    (e) => `refused (${e.cause?.message ?? e.message})`,
  );
  console.log(`no certificate: ${reply}`);
}
