/**
 * Kernel TLS: `{ native: true, ktls: true }` asks OpenSSL to offload the record layer, the
 * connection works whether or not it took, and `conn.ktls` says which and why.
 */

import assert from "node:assert/strict";
import { Connection, type ConnectionOptions, connectTls, type Context, listenTls } from "../mod.ts";
import {
  clientContext,
  exchange,
  makePki,
  randomBytes,
  type Scope,
  serverContext,
  sha256,
  withDeadline,
} from "./_peers.ts";

/** Whether this kernel has the tls upper-layer protocol loaded, as OpenSSL would find it. */
function kernelHasTls(): boolean {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_available_ulp").split(/\s+/)
      .includes("tls");
  } catch {
    return false;
  }
}

const SIZE = 1 << 20;

/** A server and a client Connection over loopback TCP, in accept and connect state. */
async function tcpConnections(
  scope: Scope,
  sctx: Context,
  cctx: Context,
  serverOptions: ConnectionOptions,
  clientOptions: ConnectionOptions,
): Promise<[Connection<Deno.TcpConn>, Connection<Deno.TcpConn>]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  scope.defer(() => listener.close());
  const [tcpServer, tcpClient] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  ]);
  const server = new Connection(sctx, tcpServer, serverOptions);
  const client = new Connection(cctx, tcpClient, clientOptions);
  scope.defer(() => client.close());
  scope.defer(() => server.close());
  server.setAcceptState();
  client.setConnectState();
  client.setVerifyHostname("localhost");
  return [server, client];
}

Deno.test("kTLS", async (t) => {
  const pki = makePki("ec");
  try {
    for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
      await t.step(
        `${version}: { native, ktls } moves 1 MiB both ways and reports per direction why not`,
        () =>
          withDeadline(`ktls ${version}`, async (scope) => {
            const max = version === "TLSv1.2" ? 0x0303 : 0x0304;
            const [server, client] = await tcpConnections(
              scope,
              serverContext(pki.server, { max }),
              clientContext(pki.ca.certPEM, { max }),
              { native: true, ktls: true },
              { native: true, ktls: true },
            );
            assert.equal(server.transportMode, "native", server.nativeFallbackReason ?? "");
            assert.equal(client.transportMode, "native", client.nativeFallbackReason ?? "");
            assert.match(client.ktls.reason ?? "", /handshake has not finished/);
            await Promise.all([server.handshake(), client.handshake()]);
            assert.equal(client.getProtocolVersionName(), version);

            const up = randomBytes(SIZE);
            const down = randomBytes(SIZE);
            const [gotByServer, gotByClient] = await Promise.all([
              exchange(server, down, SIZE),
              exchange(client, up, SIZE),
            ]);
            assert.equal(await sha256(gotByServer), await sha256(up));
            assert.equal(await sha256(gotByClient), await sha256(down));

            for (const conn of [client, server]) {
              const status = conn.ktls;
              if (kernelHasTls()) {
                // With the module, OpenSSL 3.0 offloads at least sending for AES-GCM.
                assert.equal(status.send, true, status.reason ?? "");
              } else {
                assert.deepEqual([status.send, status.receive], [false, false]);
                assert.match(status.reason ?? "", /tls module is not loaded.*modprobe tls/);
              }
            }
          }, 30_000),
      );
    }

    await t.step(
      "without the option, native mode says kTLS was not requested",
      () =>
        withDeadline("ktls off", async (scope) => {
          const [server, client] = await tcpConnections(
            scope,
            serverContext(pki.server),
            clientContext(pki.ca.certPEM),
            { native: true },
            { native: true },
          );
          await Promise.all([server.handshake(), client.handshake()]);
          assert.deepEqual(client.ktls, {
            send: false,
            receive: false,
            reason:
              "not requested: pass { ktls: true } (or set OP_ENABLE_KTLS) before the handshake",
          });
        }, 30_000),
    );

    await t.step(
      "stream mode cannot offload, and says native mode is needed",
      () =>
        withDeadline("ktls stream", async (scope) => {
          const [server, client] = await tcpConnections(
            scope,
            serverContext(pki.server),
            clientContext(pki.ca.certPEM),
            { ktls: true },
            {},
          );
          await Promise.all([server.handshake(), client.handshake()]);
          assert.equal(server.transportMode, "stream");
          const status = server.ktls;
          assert.deepEqual([status.send, status.receive], [false, false]);
          assert.match(status.reason ?? "", /needs native mode.*stream mode/);
        }, 30_000),
    );

    await t.step(
      "the helpers take ktls beside native, and report the same status",
      () =>
        withDeadline("ktls helpers", async (scope) => {
          const listener = listenTls({
            hostname: "127.0.0.1",
            port: 0,
            cert: pki.server.chainPEM,
            key: pki.server.keyPEM,
            native: true,
            ktls: true,
          });
          scope.defer(() => listener.close());
          const accepted = listener.accept();
          const client = await connectTls({
            hostname: "localhost",
            port: listener.addr.port,
            caCerts: [pki.ca.certPEM],
            native: true,
            ktls: true,
          });
          scope.defer(() => client.close());
          const server = await accepted;
          scope.defer(() => server.close());
          await Promise.all([client.handshake(), server.handshake()]);
          for (const conn of [client, server]) {
            assert.equal(conn.transportMode, "native", conn.nativeFallbackReason ?? "");
            const reason = conn.ktls.reason ?? "";
            assert.ok(!/not requested/.test(reason), reason);
            if (!kernelHasTls()) assert.match(reason, /tls module is not loaded/);
          }
          const [streamOnly, other] = await Promise.all([
            connectTls({
              hostname: "localhost",
              port: listener.addr.port,
              caCerts: [pki.ca.certPEM],
              ktls: true,
            }),
            listener.accept(),
          ]);
          scope.defer(() => streamOnly.close());
          scope.defer(() => other.close());
          await Promise.all([streamOnly.handshake(), other.handshake()]);
          assert.match(streamOnly.ktls.reason ?? "", /needs native mode/);
        }, 30_000),
    );

    await t.step("a memory-BIO connection's status names memory mode", () => {
      const conn = new Connection(clientContext(null), null);
      try {
        assert.match(conn.ktls.reason ?? "", /this connection is in memory mode/);
      } finally {
        conn.close();
      }
    });
  } finally {
    pki.close();
  }
});
