/**
 * The memory-BIO pair harness (pyOpenSSL's `handshake_in_memory` and
 * `interact_in_memory`): two connections driven in one process, no sockets.
 *
 * @module
 */

import { Connection, type Context, WantReadError } from "../mod.ts";

/** Options of {@link memoryPair}. */
export interface PairOptions {
  /** The name the client checks the server's certificate against. */
  verifyHostname?: string;
  /** Whether the server is put in accept state (false for a DTLS server that listens first). */
  acceptState?: boolean;
}

/**
 * A client and a server connection over memory BIOs, in connect and accept state.
 *
 * @returns Both, disposable together.
 */
export function memoryPair(
  clientCtx: Context,
  serverCtx: Context,
  options: PairOptions = {},
): { client: Connection<null>; server: Connection<null> } & Disposable {
  const server = new Connection(serverCtx, null);
  if (options.acceptState !== false) server.setAcceptState();
  const client = new Connection(clientCtx, null);
  if (options.verifyHostname !== undefined) client.setVerifyHostname(options.verifyHostname);
  client.setConnectState();
  return {
    client,
    server,
    [Symbol.dispose](): void {
      client.close();
      server.close();
    },
  };
}

/** The buffer ciphertext moves through: one, as a C loop's. */
const wire = new Uint8Array(65536);

/**
 * Moves every pending ciphertext byte from one connection to the other,
 * testing what is pending rather than catching "want read", as a C loop
 * does (BIO_ctrl_pending, BIO_read, BIO_write).
 *
 * @returns How many bytes moved.
 */
export function pump(from: Connection, to: Connection): number {
  let moved = 0;
  for (let pending = from.bioPending(); pending > 0; pending = from.bioPending()) {
    const n = from.bioReadInto(wire, Math.min(pending, wire.length));
    to.bioWrite(n === wire.length ? wire : wire.subarray(0, n));
    moved += n;
  }
  return moved;
}

/**
 * Runs both handshakes to completion, moving bytes between them.
 * Whatever either side throws (other than want-read) propagates.
 */
export function handshakeInMemory(client: Connection, server: Connection): void {
  for (let round = 0; round < 20; round++) {
    client.tryHandshake();
    pump(client, server);
    server.tryHandshake();
    pump(server, client);
    if (client.isHandshakeDone() && server.isHandshakeDone()) {
      // One more step on a finished handshake is a no-op; TLS 1.3 tickets arrive only through recv().
      client.tryHandshake();
      return;
    }
  }
  throw new Error("Handshake did not finish in 20 rounds");
}

/**
 * Sends `data` from one side and reads it all on the other.
 *
 * @returns What the receiver read.
 */
export function transfer(from: Connection, to: Connection, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let sent = 0;
  let received = 0;
  while (received < data.length) {
    if (sent < data.length) sent += from.send(data.subarray(sent));
    pump(from, to);
    for (;;) {
      try {
        received += to.recvInto(out.subarray(received));
      } catch (e) {
        if (e instanceof WantReadError) break;
        throw e;
      }
      if (received === data.length) break;
    }
  }
  return out;
}

/** A connected TCP pair on the loopback: the client's end, then the server's. */
export async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return [client, await accepted];
}
