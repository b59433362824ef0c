/**
 * A TLS echo server over this process's stdin/stdout, for the split-pipe
 * transport test: `deno run -A stdio_echo_server.ts <dir with cert.pem, key.pem>`.
 * Echoes until close_notify, then closes and exits 0.
 */
import { Connection, Context, TLS_SERVER_METHOD } from "../../mod.ts";

const dir = Deno.args[0]!;
const ctx = new Context(TLS_SERVER_METHOD);
ctx.useCertificateChain(await Deno.readTextFile(`${dir}/cert.pem`));
ctx.usePrivateKey(await Deno.readTextFile(`${dir}/key.pem`));
const conn = new Connection(ctx, { readable: Deno.stdin.readable, writable: Deno.stdout.writable });
conn.setAcceptState();
await conn.readable.pipeTo(conn.writable);
await conn[Symbol.asyncDispose]();
ctx.close();
