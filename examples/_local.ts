/**
 * A local TLS server with a throwaway test CA, for the examples that need a
 * peer and should run with no network. Uses only denossl's public API.
 *
 * @module
 */

import { listenTls, TestCA, type TlsConnection } from "../mod.ts";

/** A running local server. */
export interface LocalServer {
  /** The port on 127.0.0.1. */
  port: number;
  /** The CA certificate (PEM) a client must trust. */
  caPEM: string;
  /** Stops the server and waits for its connections to end. */
  close(): Promise<void>;
}

/**
 * Starts a TLS server on 127.0.0.1 with a certificate for localhost and
 * 127.0.0.1 (issued through an intermediate CA) that answers each client
 * with `greeting` and closes.
 *
 * @param greeting What to send each client.
 * @returns The server.
 */
export function localServer(greeting = "hello from the local server\n"): LocalServer {
  const ca = TestCA.create({ intermediate: true });
  const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
  });
  const tasks = new Set<Promise<void>>();
  const answer = async (conn: TlsConnection): Promise<void> => {
    try {
      await conn.write(new TextEncoder().encode(greeting));
      await conn.closeWrite();
      while (
        (await conn.read(new Uint8Array(1024))) !== null
      ) { /* until the client's close_notify */ }
    } catch {
      /* a client that went away */
    } finally {
      await conn[Symbol.asyncDispose]();
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const task = answer(conn).finally(() => tasks.delete(task));
      tasks.add(task);
    }
  })();
  const caPEM = ca.certPEM;
  return {
    port: listener.addr.port,
    caPEM,
    async close(): Promise<void> {
      listener.close();
      await accepting;
      await Promise.allSettled(tasks);
      leaf.close();
      ca.close();
    },
  };
}
