/**
 * denossl for the npm ecosystem and HTTP: a `node:net`/`node:tls`-compatible
 * socket over a denossl connection ({@link TlsSocket}, {@link createConnection}
 * for agents and npm clients, {@link feedHttpServer} for a `node:http` server),
 * and {@link serve}, shaped like `Deno.serve`, for HTTPS with a
 * client-certificate policy and the TLS facts in the handler's `info`.
 *
 * A separate entry point because it loads `node:http` and `node:stream`:
 * importing `@denossl/denossl` alone stays as light as before.
 *
 * @example Serve HTTPS that names the client's certificate
 * ```ts
 * import { TestCA } from "@denossl/denossl";
 * import { serve } from "@denossl/denossl/node";
 *
 * const ca = TestCA.create();
 * const leaf = ca.issue({ dns: ["localhost"] });
 * const server = serve({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   cert: leaf.chainPEM,
 *   key: leaf.keyPEM,
 *   onListen: () => {},
 * }, (_request, info) => new Response(`hello over ${info.tls.protocol}`));
 * await server.shutdown();
 * leaf.close();
 * ca.close();
 * ```
 *
 * @module
 */

export {
  connectTlsSocket,
  createConnection,
  feedHttpServer,
  TlsSocket,
  toNodeSocket,
} from "./connection/node_socket.ts";
export type {
  CipherInfo,
  FeedHttpServerOptions,
  NodeConnectionOptions,
  PeerCertificate,
  TlsSocketOptions,
} from "./connection/node_socket.ts";
export { serve } from "./connection/serve.ts";
export type {
  HttpServer,
  ServeHandler,
  ServeHandlerInfo,
  ServeInit,
  ServeOptions,
  ServeTlsInfo,
  VerifyResult,
} from "./connection/serve.ts";
