/**
 * denossl over a Deno.TcpConn, both ends: stream mode, or native mode with
 * `--native` (OpenSSL reads and writes the socket itself); `--ktls` adds `ktls: true` to native
 * mode (kernel TLS where the kernel and OpenSSL have it) and prints whether it took.
 *
 *   deno run -A denossl_peer.ts [--native [--ktls]] server <cert.pem> <key.pem>
 *   deno run -A denossl_peer.ts [--native [--ktls]] client <ca.pem> <port> <mode> [args]
 *
 * @module
 */

import {
  Connection,
  Context,
  opensslVersion,
  TLS1_3_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
} from "../../mod.ts";
import { native } from "../../ffi/library.ts";
import { sys } from "../../ffi/sys.ts";
import { countCalls, countMethods, reportOnSignals } from "./_count.ts";
import { runClient, serve } from "./_proto.ts";
import type { Conn, Dialer } from "./_proto.ts";

// --count (bench/account.ts only): count FFI calls and socket ops, report on SIGUSR2.
const COUNT = Deno.args[0] === "--count";
const args = COUNT ? Deno.args.slice(1) : Deno.args;
const NATIVE = args[0] === "--native";
const KTLS = NATIVE && args[1] === "--ktls";
const [role, a, b, ...rest] = args.slice(Number(NATIVE) + Number(KTLS));
if (COUNT) {
  opensslVersion(); // loads the libraries, so that their tables can be wrapped
  countCalls(native().ssl, "ssl.");
  countCalls(native().crypto, "crypto.");
  countCalls(sys(), "libc.");
  reportOnSignals();
}

/** Wraps a TCP connection, refusing to measure the wrong mode. */
function wrap(ctx: Context, tcp: Deno.TcpConn): Connection<Deno.TcpConn> {
  const conn = new Connection(ctx, tcp, KTLS ? { native: true, ktls: true } : { native: NATIVE });
  if (conn.transportMode !== (NATIVE ? "native" : "stream")) {
    throw new Error(`expected ${NATIVE ? "native" : "stream"} mode: ${conn.nativeFallbackReason}`);
  }
  return conn;
}

function baseContext(): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.setMinProtoVersion(TLS1_3_VERSION);
  ctx.setMaxProtoVersion(TLS1_3_VERSION);
  ctx.setTls13Ciphersuites("TLS_AES_128_GCM_SHA256");
  return ctx;
}

/** The session API, when this checkout has it (it is being built alongside). */
interface SessionFace {
  getSession(): unknown;
  setSession(s: unknown): void;
  sessionReused(): boolean;
}
const proto = Connection.prototype as unknown as Partial<SessionFace>;
const hasSessions = typeof proto.getSession === "function" &&
  typeof proto.setSession === "function" && typeof proto.sessionReused === "function";

if (role === "server") {
  const ctx = baseContext();
  ctx.useCertificateChainFile(a!);
  ctx.usePrivateKeyFile(b!);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  for await (const tcp of listener) {
    tcp.setNoDelay(true);
    if (COUNT) countMethods(tcp, ["read", "write"], "op.");
    const conn = wrap(ctx, tcp);
    conn.setAcceptState();
    serve(conn);
  }
} else {
  const ctx = baseContext();
  ctx.loadVerifyLocations(a!);
  ctx.setVerify(VERIFY_PEER);
  const port = Number(b);
  const dialer: Dialer = {
    async connect(session?: unknown): Promise<Conn> {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true);
      const conn = wrap(ctx, tcp);
      conn.setConnectState();
      conn.setVerifyHostname("127.0.0.1");
      if (session != null) (conn as unknown as SessionFace).setSession(session);
      await conn.handshake();
      return conn;
    },
    describe(conn: Conn): Record<string, string> {
      const c = conn as Connection;
      const ktls = KTLS ? { ktls: c.ktls.reason ?? "send and receive" } : {};
      return { cipher: c.getCipherName() ?? "?", ...ktls };
    },
  };
  if (hasSessions) {
    dialer.session = (conn) => (conn as unknown as SessionFace).getSession();
    dialer.reused = (conn) => (conn as unknown as SessionFace).sessionReused();
  }
  await runClient(dialer, rest);
}
