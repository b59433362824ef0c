/**
 * Session resumption: connect once, keep the session (here as DER bytes, as
 * you would in a file or a cookie jar), connect again offering it, and the
 * server resumes it (an abbreviated handshake: no certificate exchange).
 *
 * ```sh
 * deno run -A examples/session_resumption.ts
 * ```
 *
 * @module
 */

import { Connection, Context, Session, TLS_CLIENT_METHOD, VERIFY_PEER } from "../mod.ts";
import { localServer } from "./_local.ts";

const server = localServer();
const port = server.port;

const ctx = new Context(TLS_CLIENT_METHOD);
ctx.addCaCerts(server.caPEM);
ctx.setVerify(VERIFY_PEER);

async function connect(session?: Session): Promise<{ reused: boolean; session: Session | null }> {
  const conn = new Connection(ctx, await Deno.connect({ hostname: "127.0.0.1", port }));
  conn.setConnectState();
  conn.setVerifyHostname("localhost");
  if (session) conn.setSession(session);
  await conn.handshake();
  // TLS 1.3 sends the ticket after the handshake: read past it (here, the server's greeting).
  while ((await conn.read(new Uint8Array(1024))) !== null) { /* until close_notify */ }
  const result = { reused: conn.sessionReused(), session: conn.getSession() };
  await conn[Symbol.asyncDispose](); // a clean close: the session stays resumable
  return result;
}

const first = await connect();
const saved = first.session!.toDER(); // store it anywhere: a file, a database, a cookie jar
console.log(`first connection: resumed ${first.reused}, saved a ${saved.length}-byte session`);

using restored = Session.fromDER(saved);
const second = await connect(restored);
console.log(`second connection: resumed ${second.reused}`);

first.session?.close();
second.session?.close();
ctx.close();
await server.close();
