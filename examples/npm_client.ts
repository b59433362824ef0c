/**
 * An npm-style client over denossl: `node:https` through an `https.Agent` whose connections
 * denossl makes (the agent is what npm HTTP clients take: axios's `httpsAgent`, got's
 * `agent.https`, node-fetch's `agent`), presenting a client certificate to a local mTLS
 * server. Two requests share one kept-alive connection; the socket tells its TLS facts as
 * Node's `tls.TLSSocket` does.
 *
 * ```sh
 * deno run -A examples/npm_client.ts
 * ```
 *
 * @module
 */

import https from "node:https";
import { TestCA } from "../mod.ts";
import { createConnection, serve, type TlsSocket } from "../node.ts";

using ca = TestCA.create();
using serverCert = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
using alice = ca.issueClient({ commonName: "alice" });

await using server = serve(
  {
    hostname: "127.0.0.1",
    port: 0,
    cert: serverCert.chainPEM,
    key: serverCert.keyPEM,
    caCerts: [ca.certPEM],
    requireClientCert: true,
    onListen(): void {},
  },
  (_req, { tls, remoteAddr }) =>
    new Response(`hello ${tls.peerCertificate?.subject.commonName} (port ${remoteAddr.port})`),
);

const agent = new https.Agent({ keepAlive: true });
// Every connection this agent opens is denossl's, with denossl's secure defaults.
agent.createConnection = createConnection({
  caCerts: [ca.certPEM],
  cert: alice.chainPEM,
  key: alice.keyPEM,
}) as unknown as typeof agent.createConnection;

function get(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(`https://localhost:${server.addr.port}${path}`, { agent }, (res) => {
      const socket = res.socket as unknown as TlsSocket;
      const facts = `${socket.getProtocol()}, server ${socket.getPeerCertificate().subject?.CN}, ` +
        `authorized ${socket.authorized}`;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => body += chunk);
      res.on("end", () => resolve(`${res.statusCode} ${body} [${facts}]`));
    });
    req.on("error", reject);
  });
}

console.log(`first:  ${await get("/one")}`);
await new Promise((r) => setTimeout(r, 10)); // the agent takes the socket back on a later tick
console.log(`second: ${await get("/two")}`);
agent.destroy();
