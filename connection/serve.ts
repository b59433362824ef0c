/**
 * `serve()`: an HTTPS server shaped like `Deno.serve` (a fetch-style handler, `finished`,
 * `shutdown()`, `addr`) with denossl's TLS under it, so that a handler sees the client's
 * certificate and the server can have a client-certificate policy and SNI. HTTP is Node's
 * (`node:http` over denossl connections); no HTTP is parsed here.
 *
 * @module
 */

import http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { listenTls, type ListenTlsOptions, type TlsConnection, type TlsListener } from "./tls.ts";
import { feedHttpServer, type TlsSocket } from "./node_socket.ts";
import { toRequest, writeResponse } from "./_serve_http.ts";
import { type VerifyResult, verifyResultOf } from "./_node_facts.ts";
import type { X509 } from "../crypto/x509.ts";

export type { VerifyResult } from "./_node_facts.ts";

/**
 * What the TLS handshake of a request's connection settled, in `info.tls`.
 *
 * @example Answer with the client's name
 * ```ts ignore
 * import { serve } from "@denossl/denossl/node";
 * serve({ cert, key, caCerts: [ca], requireClientCert: true }, (_req, { tls }) =>
 *   new Response(`hello ${tls.peerCertificate?.subject.commonName}`));
 * ```
 */
export interface ServeTlsInfo {
  /** The protocol version, for example `"TLSv1.3"`. */
  readonly protocol: string;
  /** The cipher, for example `"TLS_AES_256_GCM_SHA384"`. */
  readonly cipher: string;
  /** The ALPN protocol agreed (`"http/1.1"`), or null when the client offered none. */
  readonly alpnProtocol: string | null;
  /** The name the client asked for (SNI), or null when it sent none. */
  readonly serverName: string | null;
  /** The client's certificate, or null when it sent none. Shared by the connection's requests. */
  readonly peerCertificate: X509 | null;
  /** The certificates the client sent, its own first (empty when none). */
  readonly peerCertificateChain: readonly X509[];
  /** Whether the client sent a certificate and it verified against `caCerts`. */
  readonly verified: boolean;
  /** OpenSSL's verification result (`code` 0, `"ok"`, when it verified or none was sent). */
  readonly verifyResult: VerifyResult;
}

/**
 * The second argument of a {@link ServeHandler}: Deno's `ServeHandlerInfo` plus the TLS facts.
 *
 * @example
 * ```ts ignore
 * const handler: ServeHandler = (_req, info) => new Response(info.remoteAddr.hostname);
 * ```
 */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Settles once the response was sent or the connection closed. */
  readonly completed: Promise<void>;
  /** What the TLS handshake settled. */
  readonly tls: ServeTlsInfo;
}

/**
 * A request handler, as `Deno.serve`'s.
 *
 * @example
 * ```ts
 * import type { ServeHandler } from "@denossl/denossl/node";
 * const handler: ServeHandler = (req) => new Response(`you asked for ${new URL(req.url).pathname}`);
 * ```
 */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/**
 * Options of {@link serve}: `Deno.serve`'s with `listenTls`'s TLS options (certificate and
 * key, `caCerts`, `requestClientCert`/`requireClientCert`, a `context` for SNI or a verify
 * callback, protocol versions, handshake deadline ...).
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "@denossl/denossl/node";
 * const options: ServeOptions = { port: 8443, requireClientCert: true, onListen() {} };
 * ```
 */
export interface ServeOptions extends Omit<ListenTlsOptions, "signal" | "transport"> {
  /** The port; 0 picks a free one. @default {8000} */
  port?: number;
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /**
   * ALPN protocols; Node's HTTP speaks HTTP/1.1 only, so they must include `"http/1.1"`.
   * @default {["http/1.1"]}
   */
  alpnProtocols?: string[];
  /** Shuts the server down when aborted, as `shutdown()`. */
  signal?: AbortSignal;
  /** Called once listening; by default prints `Listening on https://host:port/`. */
  onListen?: (localAddr: Deno.NetAddr) => void;
  /**
   * Turns a handler's exception into a response; by default logs it and answers 500, as
   * `Deno.serve`.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /**
   * Told about a client whose TLS handshake failed (no or a refused certificate, no shared
   * protocol, a timeout); by default nothing is said. Such a client never reaches HTTP.
   */
  onHandshakeError?: (error: unknown, remoteAddr: Deno.NetAddr) => void;
  /**
   * Milliseconds an idle keep-alive connection stays open, as Node's `keepAliveTimeout`.
   * @default {5000}
   */
  keepAliveTimeout?: number;
}

/**
 * The options-and-handler form: {@link ServeOptions} with the handler in it.
 *
 * @example
 * ```ts
 * import type { ServeInit } from "@denossl/denossl/node";
 * const init: ServeInit = { port: 0, handler: () => new Response("ok") };
 * ```
 */
export interface ServeInit extends ServeOptions {
  /** The request handler. */
  handler: ServeHandler;
}

/**
 * A running server, as `Deno.HttpServer`.
 *
 * @example
 * ```ts ignore
 * const server: HttpServer = serve(options, handler);
 * await server.shutdown();
 * ```
 */
export interface HttpServer extends AsyncDisposable {
  /** The address listened on. */
  readonly addr: Deno.NetAddr;
  /** Settles once the server stopped and every connection closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, closes idle connections, lets requests under way finish (their
   * connections close after the response), and waits for all of it.
   */
  shutdown(): Promise<void>;
  /** Lets the server keep the process alive (the default). */
  ref(): void;
  /** Stops the server from keeping the process alive. */
  unref(): void;
}

const NO_VERIFY: VerifyResult = Object.freeze({ code: 0, message: "ok" });

/** The TLS facts of one connection, read from OpenSSL when first asked. */
class TlsFacts implements ServeTlsInfo {
  readonly #conn: TlsConnection;
  readonly protocol: string;
  readonly cipher: string;
  readonly alpnProtocol: string | null;
  readonly serverName: string | null;
  #cert: X509 | null | undefined;
  #chain: readonly X509[] | undefined;
  #verify: VerifyResult | undefined;

  constructor(conn: TlsConnection) {
    this.#conn = conn;
    this.protocol = conn.getProtocolVersionName();
    this.cipher = conn.getCipherName() ?? "";
    this.alpnProtocol = conn.getAlpnProtoNegotiated();
    this.serverName = conn.getServername();
  }

  get peerCertificate(): X509 | null {
    if (this.#cert === undefined) {
      this.#cert = this.#conn.closed ? null : this.#conn.getPeerCertificate();
    }
    return this.#cert;
  }

  get peerCertificateChain(): readonly X509[] {
    if (this.#chain !== undefined) return this.#chain;
    const leaf = this.peerCertificate;
    const rest = leaf === null || this.#conn.closed ? [] : this.#conn.getPeerCertChain() ?? [];
    // A server's view of the chain leaves out the client's own certificate (OpenSSL).
    const others = rest.filter((c) => leaf === null || !c.equals(leaf));
    return this.#chain = Object.freeze(leaf === null ? [] : [leaf, ...others]);
  }

  get verifyResult(): VerifyResult {
    if (this.#verify !== undefined) return this.#verify;
    return this.#verify = this.peerCertificate === null || this.#conn.closed
      ? NO_VERIFY
      : Object.freeze(verifyResultOf(this.#conn));
  }

  get verified(): boolean {
    return this.peerCertificate !== null && this.verifyResult.code === 0;
  }
}

interface SocketState {
  tls: TlsFacts;
  remoteAddr: Deno.NetAddr;
  active: number;
}

function defaultOnError(error: unknown): Response {
  console.error("Error in the serve() handler:", error);
  return new Response("Internal Server Error", { status: 500 });
}

class Server implements HttpServer {
  readonly #listener: TlsListener;
  readonly #http: http.Server;
  readonly #handler: ServeHandler;
  readonly #onError: (error: unknown) => Response | Promise<Response>;
  readonly #sockets = new Map<TlsSocket, SocketState>();
  readonly #finished: PromiseWithResolvers<void> = Promise.withResolvers();
  readonly #fallbackHost: string;
  readonly #feeding: Promise<void>;
  #fed = false;
  #stopping = false;

  constructor(listener: TlsListener, options: ServeOptions, handler: ServeHandler) {
    this.#listener = listener;
    this.#handler = handler;
    this.#onError = options.onError ?? defaultOnError;
    const { hostname, port } = listener.addr;
    this.#fallbackHost = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    this.#http = http.createServer((req, res) => void this.#serve(req, res));
    this.#http.keepAliveTimeout = options.keepAliveTimeout ?? 5000;
    this.#http.on("connection", (socket: TlsSocket) => this.#track(socket));
    this.#feeding = feedHttpServer(this.#http, listener, {
      ...(options.onHandshakeError ? { onHandshakeError: options.onHandshakeError } : {}),
    }).catch((e) => {
      if (!this.#stopping) console.error("serve(): the accept loop stopped:", e);
    }).finally(() => {
      this.#fed = true;
      this.#maybeFinished();
    });
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  #track(socket: TlsSocket): void {
    const conn = socket.connection as TlsConnection;
    this.#sockets.set(socket, { tls: new TlsFacts(conn), remoteAddr: conn.remoteAddr, active: 0 });
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.#maybeFinished();
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket as unknown as TlsSocket;
    const state = this.#sockets.get(socket);
    if (state === undefined) return void res.destroy();
    state.active++;
    const aborter = new AbortController();
    const completed = new Promise<void>((resolve) => {
      res.once("close", () => {
        if (!res.writableFinished) {
          aborter.abort(new Deno.errors.ConnectionReset("client went away"));
        }
        state.active--;
        if (this.#stopping && state.active === 0) socket.destroy();
        resolve();
      });
    });
    let response: Response;
    try {
      const request = toRequest(req, this.#fallbackHost, aborter.signal);
      const r = this.#handler(request, { remoteAddr: state.remoteAddr, completed, tls: state.tls });
      response = r instanceof Promise ? await r : r;
      if (!(response instanceof Response)) {
        throw new TypeError("The serve() handler must return a Response or a promise of one");
      }
    } catch (e) {
      try {
        response = await this.#onError(e);
      } catch (err) {
        console.error("Error in serve()'s onError:", err);
        response = new Response("Internal Server Error", { status: 500 });
      }
    }
    if (res.destroyed) return void response.body?.cancel().catch(() => {});
    await writeResponse(response, res, this.#stopping);
  }

  #maybeFinished(): void {
    if (this.#fed && this.#sockets.size === 0) this.#finished.resolve();
  }

  async shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#listener.close();
      await this.#feeding;
      for (const [socket, state] of this.#sockets) {
        if (state.active === 0) socket.destroy(); // idle keep-alive: close now
      }
      this.#maybeFinished();
    }
    return this.#finished.promise;
  }

  ref(): void {
    this.#listener.ref();
  }

  unref(): void {
    this.#listener.unref();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

/**
 * Serves HTTPS as `Deno.serve` serves HTTP, with denossl's TLS: the handler gets a web
 * `Request` and `info` with the client's address and what the handshake settled (protocol,
 * cipher, ALPN, SNI name, the client's certificate and chain, the verification result), and
 * returns a `Response`. HTTP/1.1 with keep-alive, by `node:http` over denossl connections.
 *
 * The helpers' secure defaults hold (TLS 1.2 minimum, ECDHE and AEAD suites, a 10 s handshake
 * deadline); `requireClientCert` with `caCerts` makes it mutual TLS, and a client refused at
 * the handshake never reaches the handler (`onHandshakeError` is told). A handler that throws
 * gives a 500 (through `onError`) and the server keeps serving.
 *
 * @param options Where to listen, the TLS options, and `Deno.serve`'s (`signal`, `onListen`,
 *   `onError`); or the same with `handler` in it.
 * @param handler The request handler, unless given in `options`.
 * @returns The running server.
 * @throws {TypeError} When no handler is given, no certificate either, or `alpnProtocols`
 *   lacks `"http/1.1"`.
 * @example A server that knows its clients by their certificate
 * ```ts
 * import { TestCA } from "@denossl/denossl";
 * import { serve } from "@denossl/denossl/node";
 * using ca = TestCA.create();
 * using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
 * using alice = ca.issueClient({ commonName: "alice" });
 * await using server = serve({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   cert: leaf.chainPEM,
 *   key: leaf.keyPEM,
 *   caCerts: [ca.certPEM],
 *   requireClientCert: true,
 *   onListen() {},
 * }, (_req, { tls }) => new Response(`hello ${tls.peerCertificate?.subject.commonName}`));
 * using client = Deno.createHttpClient({
 *   caCerts: [ca.certPEM],
 *   cert: alice.certPEM,
 *   key: alice.keyPEM,
 * });
 * const res = await fetch(`https://localhost:${server.addr.port}/`, { client });
 * console.log(await res.text()); // "hello alice"
 * ```
 */
export function serve(options: ServeInit): HttpServer;
/**
 * Serves HTTPS with `handler`: see the form above, with the handler given apart.
 *
 * @param options Where to listen, the TLS options, and `Deno.serve`'s.
 * @param handler The request handler.
 * @returns The running server.
 * @example
 * ```ts ignore
 * serve({ port: 8443, cert, key }, () => new Response("hello"));
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): HttpServer;
export function serve(options: ServeOptions | ServeInit, handler?: ServeHandler): HttpServer {
  const h = handler ?? (options as Partial<ServeInit>).handler;
  if (typeof h !== "function") throw new TypeError("serve() needs a handler function");
  if (!options.context && options.cert === undefined && options.pfx === undefined) {
    throw new TypeError("serve() needs a certificate: cert and key, pfx, or context");
  }
  const alpnProtocols = options.alpnProtocols ?? ["http/1.1"];
  if (!options.context && !alpnProtocols.includes("http/1.1")) {
    throw new TypeError(
      `serve(): alpnProtocols must include "http/1.1" (Node's HTTP speaks nothing else): got ${
        JSON.stringify(alpnProtocols)
      }`,
    );
  }
  options.signal?.throwIfAborted();
  const { signal, onListen, ...rest } = options as ServeInit;
  const listener = listenTls({
    ...rest,
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? 8000,
    alpnProtocols,
  });
  const server = new Server(listener, options, h);
  if (signal) {
    const stop = (): void => void server.shutdown();
    signal.addEventListener("abort", stop, { once: true });
    server.finished.then(() => signal.removeEventListener("abort", stop));
  }
  const addr = listener.addr;
  if (onListen) onListen(addr);
  else {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    console.log(`Listening on https://${host}:${addr.port}/`);
  }
  return server;
}
