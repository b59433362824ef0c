// Compiled by tests/types_test.ts with ./deno.json (a user's default options): what code
// written for Deno's own TLS must compile against denossl's helpers. Never run.
import { acceptTls, connectTls, listenTls, type Session, startTls } from "../../mod.ts";

export async function denoShapes(
  listenOpts: Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
  connectOpts: Deno.ConnectTlsOptions,
  connectMtls: Deno.ConnectTlsOptions & Deno.TlsCertifiedKeyPem,
  startOpts: Deno.StartTlsOptions,
  tcp: Deno.TcpConn,
  plain: Deno.Conn,
): Promise<void> {
  const listener: Deno.TlsListener = listenTls(listenOpts);
  const accepted: Deno.TlsConn = await listener.accept();
  for await (const conn of listener) {
    const each: Deno.TlsConn = conn;
    each.close();
  }
  const client: Deno.TlsConn = await connectTls(connectOpts);
  const mtls: Deno.TlsConn = await connectTls(connectMtls);
  const started: Deno.TlsConn = await startTls(tcp, startOpts);
  const info: Deno.TlsHandshakeInfo = await client.handshake();
  const server: Deno.Conn = await acceptTls(plain, { cert: "", key: "" });
  // Literals as Deno's documentation writes them.
  using literal: Deno.TlsListener = listenTls({
    port: 443,
    cert: "",
    key: "",
    keyFormat: "pem",
  });
  using portless = listenTls({
    hostname: "127.0.0.1",
    cert: "",
    key: "",
    transport: "tcp",
  });
  const addr: Deno.NetAddr = portless.addr;
  await connectTls({
    port: 443,
    autoSelectFamily: true,
    autoSelectFamilyAttemptDelay: 250,
  });
  // denossl's own options beside them.
  const first = await connectTls({
    port: 443,
    requestOcsp: true,
    groups: ["X25519"],
  });
  const staple: Uint8Array | null = first.getOcspResponse();
  const session: Session | null = first.getSession();
  if (session) await connectTls({ port: 443, session });
  listenTls({
    pfx: new Uint8Array(),
    passphrase: () => "pw",
    ocspResponse: () => null,
  });
  console.log(accepted, mtls, started, info, server, literal, addr, staple);
}
