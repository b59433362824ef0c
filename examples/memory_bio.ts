/**
 * pyOpenSSL's synchronous API over memory BIOs: two connections in one
 * process, no sockets. You move the ciphertext yourself with `bioRead` and
 * `bioWrite` (here straight from one side to the other; in a real program,
 * to and from whatever carries it), and the calls never wait: they throw
 * `WantReadError` when they need bytes from the peer.
 *
 * ```sh
 * deno run -A examples/memory_bio.ts
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
  WantReadError,
} from "../mod.ts";

using ca = TestCA.create();
using cert = ca.issue({ dns: ["localhost"] });
using serverCtx = new Context(TLS_SERVER_METHOD);
serverCtx.useCertificateChain(cert.chainPEM);
serverCtx.usePrivateKey(cert.keyPEM);
using clientCtx = new Context(TLS_CLIENT_METHOD);
clientCtx.addCaCerts(ca.certPEM);
clientCtx.setVerify(VERIFY_PEER);

using server = new Connection(serverCtx, null); // null: memory BIOs
using client = new Connection(clientCtx, null);
server.setAcceptState();
client.setConnectState();
client.setVerifyHostname("localhost");

/** Runs `fn`; a WantReadError only means "feed me more bytes". */
function tryStep(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof WantReadError)) throw e;
  }
}

/** Moves the ciphertext one side produced to the other side. */
function pump(from: Connection, to: Connection): number {
  let moved = 0;
  tryStep(() => {
    const bytes = from.bioRead(65536);
    to.bioWrite(bytes);
    moved = bytes.length;
  });
  return moved;
}

for (let round = 1; !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
  if (round > 10) throw new Error("the handshake did not finish");
  tryStep(() => client.doHandshake());
  console.log(`round ${round}: client -> server ${pump(client, server)} bytes`);
  tryStep(() => server.doHandshake());
  console.log(`round ${round}: server -> client ${pump(server, client)} bytes`);
}
console.log(`handshake done: ${client.getProtocolVersionName()} ${client.getCipherName()}`);

client.send("hello over memory BIOs");
pump(client, server);
console.log(`server received: ${new TextDecoder().decode(server.recv(1024))}`);
