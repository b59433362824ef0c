/**
 * Micro benches (`deno task bench`): the cost of one FFI call (and of a size_t
 * argument passed the wrong way), of one 16 KiB record through a memory-BIO
 * pair (public API and raw symbols), and of one in-memory handshake. Certificates come from TestCA (ECDSA P-256).
 *
 * @module
 */

import {
  Connection,
  Context,
  TestCA,
  TLS1_3_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
  WantReadError,
} from "../mod.ts";
import { native } from "../ffi/library.ts";
import { clearErrors } from "../errors/queue.ts";

const ca = TestCA.create({ keyType: "ec" });
const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
const serverCtx = new Context(TLS_METHOD);
serverCtx.setMinProtoVersion(TLS1_3_VERSION);
serverCtx.setTls13Ciphersuites("TLS_AES_128_GCM_SHA256");
serverCtx.useCertificate(leaf.certPEM);
serverCtx.usePrivateKey(leaf.keyPEM);
const clientCtx = new Context(TLS_METHOD);
clientCtx.setMinProtoVersion(TLS1_3_VERSION);
clientCtx.setTls13Ciphersuites("TLS_AES_128_GCM_SHA256");
clientCtx.addCaCerts(ca.certPEM);
clientCtx.setVerify(VERIFY_PEER);

function pump(from: Connection, to: Connection): void {
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = from.bioRead(65536);
    } catch (e) {
      if (e instanceof WantReadError) return;
      throw e;
    }
    to.bioWrite(chunk);
  }
}

function step(conn: Connection): void {
  try {
    conn.doHandshake();
  } catch (e) {
    if (!(e instanceof WantReadError)) throw e;
  }
}

/** "Want read" as a result, not an exception: tryHandshake() and bioPending(). */
function quietStep(conn: Connection): void {
  conn.tryHandshake();
}

function quietPump(from: Connection, to: Connection): void {
  while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
}

function pair(quiet = false): [Connection, Connection] {
  const client = new Connection(clientCtx, null);
  const server = new Connection(serverCtx, null);
  const go = quiet ? quietStep : step;
  const move = quiet ? quietPump : pump;
  client.setVerifyHostname("localhost");
  client.setConnectState();
  server.setAcceptState();
  for (let round = 0; round < 20; round++) {
    go(client);
    move(client, server);
    go(server);
    move(server, client);
    if (client.isHandshakeDone() && server.isHandshakeDone()) {
      go(client);
      return [client, server];
    }
  }
  throw new Error("handshake did not finish");
}

const [client, server] = pair();
const { ssl: lib, crypto } = native();
const cssl = client._handle;
const sssl = server._handle;
const cw = lib.SSL_get_wbio(cssl)!;
const sr = lib.SSL_get_rbio(sssl)!;
const chunk = new Uint8Array(16384).fill(0x78);
const out = new Uint8Array(16384);
const wire = new Uint8Array(65536);
const count = new BigUint64Array(1);

Deno.bench("FFI call: SSL_pending (raw symbol)", { group: "ffi", baseline: true }, () => {
  lib.SSL_pending(cssl);
});

Deno.bench("FFI call: conn.pending() (public API)", { group: "ffi" }, () => {
  client.pending();
});

Deno.bench("clearErrors() (before every SSL call)", { group: "ffi" }, () => {
  clearErrors();
});

// Why ffi/ctypes.ts's usize() and long() make bigints: V8's fast FFI path takes a 64-bit
// parameter only as a bigint, and a number sends every call down the slow path. Both calls
// below find no data (want read) and leave the error queue empty.
Deno.bench("size_t argument as a bigint (usize())", { group: "size_t", baseline: true }, () => {
  lib.SSL_read_ex(sssl, out, 16384n, count);
});

Deno.bench("size_t argument as a number (FFI's slow path)", { group: "size_t" }, () => {
  lib.SSL_read_ex(sssl, out, 16384 as unknown as bigint, count);
});

Deno.bench("16 KiB record: raw symbols, preallocated buffers", {
  group: "record",
  baseline: true,
}, () => {
  lib.SSL_write_ex(cssl, chunk, chunk.length as unknown as bigint, count);
  const n = crypto.BIO_read(cw, wire, wire.length);
  crypto.BIO_write(sr, wire, n);
  let got = 0;
  while (got < out.length) {
    lib.SSL_read_ex(sssl, out.subarray(got), (out.length - got) as unknown as bigint, count);
    got += Number(count[0]);
  }
});

Deno.bench("16 KiB record: send / bioRead / bioWrite / recvInto", { group: "record" }, () => {
  client.send(chunk);
  server.bioWrite(client.bioRead(65536));
  let got = 0;
  while (got < out.length) got += server.recvInto(out.subarray(got));
});

Deno.bench("16 KiB record: send / bioReadInto / bioWrite / recvInto", { group: "record" }, () => {
  client.send(chunk);
  const n = client.bioReadInto(wire);
  server.bioWrite(wire.subarray(0, n));
  let got = 0;
  while (got < out.length) got += server.recvInto(out.subarray(got));
});

Deno.bench("in-memory handshake (new pair, TLS 1.3, P-256, verified)", {
  group: "hs",
  baseline: true,
}, () => {
  const [c, s] = pair();
  c.close();
  s.close();
});

Deno.bench("in-memory handshake, tryHandshake() and bioPending() (no WantReadError)", {
  group: "hs",
}, () => {
  const [c, s] = pair(true);
  c.close();
  s.close();
});
