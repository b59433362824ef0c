/**
 * The in-process memory-BIO pair through denossl's synchronous API: both
 * ends in one process, no sockets. The same loop as bench/c/pair.c, so
 * their ratio is denossl's FFI overhead.
 *
 *   deno run -A denossl_pair.ts <cert.pem> <key.pem> <ca.pem> bulk <bytes>
 *   deno run -A denossl_pair.ts <cert.pem> <key.pem> <ca.pem> hs <count>
 *
 * @module
 */

import { type Connection, Context, TLS1_3_VERSION, TLS_METHOD, VERIFY_PEER } from "../../mod.ts";
import { handshakeInMemory, memoryPair } from "../../tests/_pair.ts";

const [cert, key, ca, mode, n] = Deno.args;

function context(): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.setMinProtoVersion(TLS1_3_VERSION);
  ctx.setTls13Ciphersuites("TLS_AES_128_GCM_SHA256");
  return ctx;
}
const serverCtx = context();
serverCtx.useCertificateChainFile(cert!);
serverCtx.usePrivateKeyFile(key!);
const clientCtx = context();
clientCtx.loadVerifyLocations(ca!);
clientCtx.setVerify(VERIFY_PEER);

/** The bulk loop's ciphertext buffer: one BIO_read takes a whole record, as in C. */
const wire = new Uint8Array(65536);

/** A client that checks the server's name, and the server, over memory BIOs. */
function pair(): [Connection, Connection] {
  const { client, server } = memoryPair(clientCtx, serverCtx, { verifyHostname: "localhost" });
  return [client, server];
}

/**
 * The handshake loop: both sides step with tryHandshake (C: SSL_do_handshake,
 * and SSL_get_error's WANT_READ is no failure) and the pump tests what is
 * pending (C: BIO_ctrl_pending / BIO_read / BIO_write); see tests/_pair.ts.
 */
const handshake = handshakeInMemory;

/** Batches timed on their own, as in pair.c: the fastest batch's rate is "best". */
const BULK_BATCH = 1024; // records of 16 KiB
const HS_BATCH = 10; // handshakes

interface Timing {
  seconds: number;
  best: number;
}

function bulk(total: number): Timing {
  const [client, server] = pair();
  handshake(client, server);
  const chunk = new Uint8Array(16384).fill(0x78);
  const out = new Uint8Array(16384);
  const records = Math.floor(total / chunk.length);
  let best = 0;
  const t0 = performance.now();
  let mark = t0;
  for (let i = 0; i < records; i++) {
    if (client.send(chunk) !== chunk.length) throw new Error("short write");
    // one record (16 KiB + 22 bytes) is pending: one BIO_read into a buffer takes it all, as in C
    const n = client.bioReadInto(wire);
    server.bioWrite(n === wire.length ? wire : wire.subarray(0, n));
    let got = 0;
    while (got < out.length) got += server.recvInto(out.subarray(got));
    if ((i + 1) % BULK_BATCH === 0) {
      const t = performance.now();
      best = Math.max(best, (BULK_BATCH * 16384) / 1e3 / (t - mark));
      mark = t;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  server.close();
  return { seconds, best };
}

function handshakes(count: number): Timing {
  let best = 0;
  const t0 = performance.now();
  let mark = t0;
  for (let i = 0; i < count; i++) {
    const [client, server] = pair();
    handshake(client, server);
    client.close();
    server.close();
    if ((i + 1) % HS_BATCH === 0) {
      const t = performance.now();
      best = Math.max(best, HS_BATCH * 1e3 / (t - mark));
      mark = t;
    }
  }
  return { seconds: (performance.now() - t0) / 1000, best };
}

const count = Number(n);
if (mode === "bulk") {
  bulk(Math.min(count, 16 << 20)); // warm-up
  const { seconds, best } = bulk(count);
  const bytes = Math.floor(count / 16384) * 16384;
  console.log(JSON.stringify({ value: bytes / 1e6 / seconds, seconds, bytes, best }));
} else {
  handshakes(Math.min(count, 30)); // warm-up
  const { seconds, best } = handshakes(count);
  console.log(JSON.stringify({ value: count / seconds, seconds, count, best }));
}
