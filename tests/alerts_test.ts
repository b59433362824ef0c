/**
 * A fatal error reaches the peer as the alert OpenSSL queued for it, in
 * stream mode as in native mode, before the transport closes.
 */

import assert from "node:assert/strict";
import { Connection, Context, SSLError, TestCA, TLS_METHOD, WantReadError } from "../mod.ts";

/** Moves what `conn` wants sent to the socket. */
async function flushTo(conn: Connection, tcp: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(65536);
  while (conn.bioPending() > 0) {
    const n = conn.bioReadInto(buf);
    let off = 0;
    while (off < n) off += await tcp.write(buf.subarray(off, n));
  }
}

/** Reads one chunk from the socket into `conn`; false at end of stream. */
async function feedFrom(conn: Connection, tcp: Deno.TcpConn): Promise<boolean> {
  const buf = new Uint8Array(65536);
  const n = await tcp.read(buf);
  if (n === null) return false;
  conn.bioWrite(buf.subarray(0, n));
  return true;
}

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";
  Deno.test(`${mode} mode: a corrupted record fails read() and the peer receives bad_record_mac before the socket closes`, async () => {
    using ca = TestCA.create();
    using leaf = ca.issue({ dns: ["localhost"] });
    using serverCtx = new Context(TLS_METHOD);
    serverCtx.useCertificate(leaf.certPEM);
    serverCtx.usePrivateKey(leaf.keyPEM);
    using clientCtx = new Context(TLS_METHOD);
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using server = new Connection(serverCtx, await accepted, { native });
    assert.equal(server.transportMode, mode);
    server.setAcceptState();
    const serverDone = server.handshake();

    // The client is a memory-BIO connection that we drive by hand over the socket.
    using client = new Connection(clientCtx, null);
    client.setConnectState();
    while (!client.tryHandshake()) {
      await flushTo(client, tcp);
      assert.ok(await feedFrom(client, tcp), "the server answered");
    }
    await flushTo(client, tcp);
    await serverDone;

    // One application record with its last byte (the AEAD tag) flipped.
    client.send("hello");
    const record = client.bioRead(65536);
    record[record.length - 1]! ^= 0xff;
    await tcp.write(record);

    const e = await server.read(new Uint8Array(1024)).then(() => null, (e) => e);
    assert.ok(e instanceof SSLError, `read() rejects with an SSLError, not ${e}`);
    assert.match(e.message, /bad record mac|decryption failed/i);
    server.close(); // what was not sent by now never will be

    // What the server sent before closing: the alert, which the client can still decrypt.
    let alert: unknown = null;
    while (alert === null && await feedFrom(client, tcp)) {
      try {
        client.recv(1024);
      } catch (err) {
        if (!(err instanceof WantReadError)) alert = err;
      }
    }
    tcp.close();
    assert.ok(alert instanceof SSLError, `the client saw an alert, not ${alert}`);
    assert.match(alert.message, /alert bad record mac/i);
  });
}
