/**
 * The floor: the least any Deno binding of this OpenSSL can do per operation. Raw symbols from
 * its own `Deno.dlopen`, two memory BIOs per connection, the socket's own read and write, no
 * classes and no promises beyond the socket's. Same protocol as the other peers (`_proto.ts`);
 * it speaks bulk (both directions), ping-pong and handshakes, not the idle/memory workload.
 *
 *   deno run -A floor_peer.ts server <cert.pem> <key.pem>
 *   deno run -A floor_peer.ts client <ca.pem> <port> <mode> [args]
 *
 * @module
 */

import { runClient, serve } from "./_proto.ts";
import type { Conn } from "./_proto.ts";
import { countCalls, countMethods, reportOnSignals } from "./_count.ts";

const LIB = Deno.env.get("DENOSSL_LIBSSL") ?? "libssl.so.3";
const CRYPTO = Deno.env.get("DENOSSL_LIBCRYPTO") ?? "libcrypto.so.3";

const { symbols: ssl } = Deno.dlopen(LIB, {
  TLS_server_method: { parameters: [], result: "pointer" },
  TLS_client_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_CTX_set_ciphersuites: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_certificate_chain_file: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_PrivateKey_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_CTX_load_verify_locations: { parameters: ["pointer", "buffer", "pointer"], result: "i32" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_set1_host: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_read_ex: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  SSL_write_ex: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  SSL_get_current_cipher: { parameters: ["pointer"], result: "pointer" },
  SSL_CIPHER_get_name: { parameters: ["pointer"], result: "pointer" },
});
const { symbols: crypto } = Deno.dlopen(CRYPTO, {
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl_pending: { parameters: ["pointer"], result: "usize" },
});

const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
const SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
const TLS1_3_VERSION = 0x0304n;
const SSL_ERROR_WANT_READ = 2;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s + "\0");

function context(server: boolean, a: string, b: string): Deno.PointerObject {
  const ctx = ssl.SSL_CTX_new(server ? ssl.TLS_server_method() : ssl.TLS_client_method())!;
  ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_3_VERSION, null);
  ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, TLS1_3_VERSION, null);
  ssl.SSL_CTX_set_ciphersuites(ctx, enc("TLS_AES_128_GCM_SHA256"));
  const ok = server
    ? ssl.SSL_CTX_use_certificate_chain_file(ctx, enc(a)) === 1 &&
      ssl.SSL_CTX_use_PrivateKey_file(ctx, enc(b), 1) === 1
    : ssl.SSL_CTX_load_verify_locations(ctx, enc(a), null) === 1;
  if (!ok) throw new Error("floor: cannot load the certificate, key or CA");
  if (!server) ssl.SSL_CTX_set_verify(ctx, 1, null); // SSL_VERIFY_PEER
  return ctx;
}

/** One TLS connection: an SSL with two memory BIOs, pumped by hand over a TCP socket. */
interface Floor extends Conn {
  cipher(): string;
}

async function open(
  ctx: Deno.PointerObject,
  sock: Deno.TcpConn,
  server: boolean,
): Promise<Floor> {
  sock.setNoDelay(true);
  const s = ssl.SSL_new(ctx)!;
  const rbio = crypto.BIO_new(crypto.BIO_s_mem())!;
  const wbio = crypto.BIO_new(crypto.BIO_s_mem())!;
  ssl.SSL_set_bio(s, rbio, wbio);
  if (server) ssl.SSL_set_accept_state(s);
  else {
    ssl.SSL_set_connect_state(s);
    if (ssl.SSL_set1_host(s, enc("127.0.0.1")) !== 1) throw new Error("floor: SSL_set1_host");
  }
  const net = new Uint8Array(1 << 16 | 1024);
  const out = new Uint8Array(1 << 17);
  const size = new BigUint64Array(1);
  const sizeBytes = new Uint8Array(size.buffer);
  let freed = false;

  const flush = async (): Promise<void> => {
    for (;;) {
      const pending = Number(crypto.BIO_ctrl_pending(wbio));
      if (pending === 0) return;
      const n = crypto.BIO_read(wbio, out, Math.min(pending, out.length));
      let off = 0;
      while (off < n) off += await sock.write(out.subarray(off, n));
    }
  };
  const fill = async (): Promise<boolean> => {
    const n = await sock.read(net);
    if (n === null) return false;
    crypto.BIO_write(rbio, net, n);
    return true;
  };

  for (;;) {
    const r = ssl.SSL_do_handshake(s);
    await flush();
    if (r === 1) break;
    if (ssl.SSL_get_error(s, r) !== SSL_ERROR_WANT_READ || !(await fill())) {
      ssl.SSL_free(s);
      sock.close();
      throw new Error("floor: handshake failed");
    }
  }

  return {
    async read(p: Uint8Array): Promise<number | null> {
      for (;;) {
        if (ssl.SSL_read_ex(s, p, BigInt(p.length), sizeBytes) === 1) return Number(size[0]);
        if (ssl.SSL_get_error(s, 0) !== SSL_ERROR_WANT_READ) return null;
        await flush(); // TLS 1.3 key updates, tickets answered
        if (!(await fill())) return null;
      }
    },
    async write(p: Uint8Array): Promise<number> {
      if (ssl.SSL_write_ex(s, p, BigInt(p.length), sizeBytes) !== 1) {
        throw new Error("floor: SSL_write_ex failed");
      }
      await flush();
      return Number(size[0]);
    },
    close(): void {
      if (freed) return;
      freed = true;
      ssl.SSL_free(s);
      sock.close();
    },
    cipher(): string {
      const c = ssl.SSL_get_current_cipher(s);
      const name = c === null ? null : ssl.SSL_CIPHER_get_name(c);
      return name === null ? "?" : new Deno.UnsafePointerView(name).getCString();
    },
  };
}

// --count (bench/account.ts only): count FFI calls and socket ops, report on SIGUSR2.
const COUNT = Deno.args[0] === "--count";
const [role, a, b, ...rest] = COUNT ? Deno.args.slice(1) : Deno.args;
if (COUNT) {
  countCalls(ssl, "ssl.");
  countCalls(crypto, "crypto.");
  reportOnSignals();
}
if (role === "server") {
  const ctx = context(true, a!, b!);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  for await (const tcp of listener) {
    if (COUNT) countMethods(tcp, ["read", "write"], "op.");
    open(ctx, tcp, true).then(serve, () => {/* a client that went away mid-handshake */});
  }
} else {
  const ctx = context(false, a!, "");
  const port = Number(b);
  await runClient({
    async connect(): Promise<Conn> {
      return await open(ctx, await Deno.connect({ hostname: "127.0.0.1", port }), false);
    },
    describe: (conn) => ({ cipher: (conn as Floor).cipher() }),
  }, rest);
}
