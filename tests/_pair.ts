/**
 * The memory-BIO pair harness (pyOpenSSL's `handshake_in_memory` and
 * `interact_in_memory`): two connections driven in one process, no sockets.
 *
 * @module
 */

import { type Connection, WantReadError } from "../mod.ts";

/**
 * Moves every pending ciphertext byte from one connection to the other.
 *
 * @returns How many bytes moved.
 */
export function pump(from: Connection, to: Connection): number {
  let moved = 0;
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = from.bioRead(1 << 20);
    } catch (e) {
      if (e instanceof WantReadError) return moved;
      throw e;
    }
    to.bioWrite(chunk);
    moved += chunk.length;
  }
}

function step(conn: Connection): void {
  try {
    conn.doHandshake();
  } catch (e) {
    if (!(e instanceof WantReadError)) throw e;
  }
}

/**
 * Runs both handshakes to completion, moving bytes between them.
 * Whatever either side throws (other than want-read) propagates.
 */
export function handshakeInMemory(client: Connection, server: Connection): void {
  for (let round = 0; round < 20; round++) {
    step(client);
    pump(client, server);
    step(server);
    pump(server, client);
    if (client.isHandshakeDone() && server.isHandshakeDone()) {
      // One more step on a finished handshake is a no-op; TLS 1.3 tickets arrive only through recv().
      step(client);
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
