/**
 * What one idle TLS server connection costs OpenSSL itself: the floor under the memory row of
 * bench/compare.ts for any binding of this OpenSSL.
 *
 * In one process, through raw symbols: N server `SSL`s, each with two memory BIOs, complete a
 * TLS 1.3 handshake (the compare harness's certificate, suite and verification) against a client
 * `SSL` that is then freed; each server `SSL` then reads the client's first byte, and gets
 * `SSL_free_buffers`, as denossl's idle sweep does. glibc's `mallinfo2()` gives the heap bytes in
 * use before and after: the difference over N is what an idle server `SSL` keeps. Writes
 * bench/IDLE_MEMORY.md.
 *
 *   deno run -A bench/idle_memory.ts [--count 1000]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { makePki } from "./_harness.ts";
import { native, opensslVersion } from "../ffi/library.ts";

const HERE = import.meta.dirname!;
const { values: flags } = parseArgs({
  args: Deno.args,
  options: { count: { type: "string", default: "1000" } },
});
const N = Number(flags.count);

const libc = Deno.dlopen("libc.so.6", {
  // struct mallinfo2 mallinfo2(void): ten size_t fields (arena, ordblks, smblks, hblks, hblkhd,
  // usmblks, fsmblks, uordblks, fordblks, keepcost), for the main thread's arena
  mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
  malloc_trim: { parameters: ["usize"], result: "i32" },
});

/** Heap bytes in use (glibc's `uordblks`, plus `hblkhd`, the mmap'd blocks). */
function heapInUse(): number {
  const v = new BigUint64Array(libc.symbols.mallinfo2().buffer);
  return Number(v[7]!) + Number(v[4]!);
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s + "\0");
const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
const SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
const TLS1_3_VERSION = 0x0304n;
const SSL_FILETYPE_PEM = 1;

opensslVersion(); // loads the libraries
const { ssl, crypto } = native();
const pki = await makePki();

function context(server: boolean): Deno.PointerObject {
  const ctx = ssl.SSL_CTX_new(server ? ssl.TLS_server_method() : ssl.TLS_client_method())!;
  ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_3_VERSION, null);
  ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, TLS1_3_VERSION, null);
  ssl.SSL_CTX_set_ciphersuites(ctx, enc("TLS_AES_128_GCM_SHA256"));
  const ok = server
    ? ssl.SSL_CTX_use_certificate_chain_file(ctx, enc(pki.cert)) === 1 &&
      ssl.SSL_CTX_use_PrivateKey_file(ctx, enc(pki.key), SSL_FILETYPE_PEM) === 1
    : ssl.SSL_CTX_load_verify_locations(ctx, enc(pki.ca), null) === 1;
  if (!ok) throw new Error("cannot load the certificate, key or CA");
  if (!server) ssl.SSL_CTX_set_verify(ctx, 1, null);
  return ctx;
}

interface End {
  s: Deno.PointerObject;
  rbio: Deno.PointerObject;
  wbio: Deno.PointerObject;
}

function end(ctx: Deno.PointerObject, server: boolean): End {
  const s = ssl.SSL_new(ctx)!;
  const rbio = crypto.BIO_new(crypto.BIO_s_mem())!;
  const wbio = crypto.BIO_new(crypto.BIO_s_mem())!;
  ssl.SSL_set_bio(s, rbio, wbio);
  if (server) ssl.SSL_set_accept_state(s);
  else ssl.SSL_set_connect_state(s);
  return { s, rbio, wbio };
}

const wire = new Uint8Array(1 << 16);
/** Moves what `from` wrote to `to`'s incoming BIO. */
function move(from: End, to: End): void {
  for (;;) {
    const pending = Number(crypto.BIO_ctrl_pending(from.wbio));
    if (pending === 0) return;
    const n = crypto.BIO_read(from.wbio, wire, Math.min(pending, wire.length));
    crypto.BIO_write(to.rbio, wire, n);
  }
}

const sctx = context(true);
const cctx = context(false);
const size = new BigUint64Array(1);
const one = new Uint8Array(1);

/** One idle server SSL: handshake done, the client's first byte read, buffers freed. */
function idleServer(): Deno.PointerObject {
  const c = end(cctx, false);
  const s = end(sctx, true);
  for (let i = 0; i < 10; i++) {
    const rc = ssl.SSL_do_handshake(c.s);
    move(c, s);
    const rs = ssl.SSL_do_handshake(s.s);
    move(s, c);
    if (rc === 1 && rs === 1) break;
  }
  if (ssl.SSL_is_init_finished(s.s) !== 1) throw new Error("handshake failed");
  ssl.SSL_read_ex(c.s, one, 1n, new Uint8Array(size.buffer)); // takes the tickets
  ssl.SSL_write_ex(c.s, one, 1n, new Uint8Array(size.buffer));
  move(c, s);
  if (ssl.SSL_read_ex(s.s, one, 1n, new Uint8Array(size.buffer)) !== 1) {
    throw new Error("server read failed");
  }
  ssl.SSL_free(c.s);
  ssl.SSL_free_buffers(s.s);
  crypto.ERR_clear_error();
  return s.s;
}

for (let i = 0; i < 50; i++) ssl.SSL_free(idleServer()); // warm: lazily built tables, caches
libc.symbols.malloc_trim(0n);
const before = heapInUse();
const held: Deno.PointerObject[] = [];
for (let i = 0; i < N; i++) held.push(idleServer());
const after = heapInUse();
const perSsl = (after - before) / N;
for (const s of held) ssl.SSL_free(s);
const freed = heapInUse();
const kib = (b: number): string => (b / 1024).toFixed(1);

const version = opensslVersion().text;
const md = `# What an idle TLS server connection costs OpenSSL

Generated by \`deno task bench:idle-memory\` on ${
  new Date().toISOString()
}: ${N} idle server \`SSL\`s
in one process, ${version}, TLS 1.3, TLS_AES_128_GCM_SHA256, the ECDSA P-256 certificate of
\`bench:compare\`.

Each server \`SSL\` has two memory BIOs, completed its handshake, read the client's first byte and got
\`SSL_free_buffers\` (what denossl's idle sweep does); its client was freed. glibc's \`mallinfo2()\`
counts the heap bytes in use before and after.

| | KiB per idle server connection |
|---|---|
| OpenSSL's \`SSL\`, its session and two empty memory BIOs (heap bytes in use) | **${
  kib(perSsl)
}** |

Freeing them all gave back ${kib((after - freed) / N)} KiB each.

This is a floor for every binding of this OpenSSL, denossl included: the state OpenSSL keeps for a
TLS 1.3 connection that is waiting for its peer. The memory row of \`bench/RESULTS.md\` measures whole
server processes (RSS over 1,000 idle connections): a plain-TCP server with the same harness is the
other part of that floor, and the target "≤ 0.9× Deno's TLS" leaves
\`0.9 × Deno − plain TCP\` for all TLS state. bench/README.md puts the two together.
`;
await Deno.writeTextFile(join(HERE, "IDLE_MEMORY.md"), md);
console.log(md);
console.log(JSON.stringify({ perSslBytes: Math.round(perSsl), count: N }));
