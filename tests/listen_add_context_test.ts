/**
 * TlsListener.addContext (Node's `server.addContext`): one server name's certificate added or
 * replaced while serving, with the checks and the policy of `sniCertificates`.
 */
import assert from "node:assert/strict";
import { connectTls, Context, TLS_SERVER_METHOD, type TlsConnection } from "../mod.ts";
import { liveHandles } from "../ffi/_handles.ts";
import { makePki, type Pki } from "./_pki.ts";
import { echoServer, localListener } from "./_listen.ts";

/** A verifying client for `serverName` (its certificate checked against that name), open. */
async function open(
  pki: Pki,
  port: number,
  serverName: string,
  o: { native?: boolean; alpn?: string[]; clientCert?: boolean } = {},
): Promise<TlsConnection> {
  const conn = await connectTls({
    hostname: "127.0.0.1",
    serverName,
    port,
    caCerts: [pki.ca.certPEM],
    native: o.native === true,
    ...(o.alpn ? { alpnProtocols: o.alpn } : {}),
    ...(o.clientCert ? { cert: pki.client.chainPEM, key: pki.client.keyPEM } : {}),
  });
  await conn.write(new Uint8Array([7]));
  const buf = new Uint8Array(1);
  assert.equal(await conn.read(buf), 1, "the connection echoes");
  return conn;
}

/** The serial number of the certificate served for `serverName`, verified. */
async function servedSerial(
  pki: Pki,
  port: number,
  serverName: string,
  native = false,
): Promise<bigint> {
  await using conn = await open(pki, port, serverName, { native });
  return conn.getPeerCertificate()!.serialNumber;
}

const listen = localListener;

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";
  Deno.test(`addContext: a client asking for the added name gets its certificate, verified; a wildcard Context is served as it is; other names keep the default (${mode} mode)`, async () => {
    const pki = makePki("ec");
    using api = pki.ca.issue({ dns: ["api.example.com"] });
    using star = pki.ca.issue({ dns: ["*.example.com"] });
    using starCtx = new Context(TLS_SERVER_METHOD);
    starCtx.useCertificateChain(star.chainPEM);
    starCtx.usePrivateKey(star.keyPEM);
    const listener = listen(pki, { native });
    const server = echoServer(listener);
    try {
      const port = listener.addr.port;
      assert.equal(
        await servedSerial(pki, port, "localhost", native),
        pki.server.cert.serialNumber,
      );
      await assert.rejects(
        () => servedSerial(pki, port, "api.example.com", native),
        "before addContext the default certificate does not name api.example.com",
      );
      listener.addContext("API.Example.com", { cert: api.chainPEM, key: api.keyPEM });
      listener.addContext("*.example.com", starCtx);
      assert.equal(await servedSerial(pki, port, "api.example.com", native), api.cert.serialNumber);
      assert.equal(
        await servedSerial(pki, port, "www.example.com", native),
        star.cert.serialNumber,
      );
      assert.equal(
        await servedSerial(pki, port, "localhost", native),
        pki.server.cert.serialNumber,
      );
    } finally {
      listener.close();
      await server.done;
      pki.close();
    }
    assert.equal(starCtx.closed, false, "a caller's Context stays the caller's");
    // The handshake that failed verification is a failure on the server's side too.
    assert.equal(server.failures.length, 1);
  });
}

Deno.test("addContext replaces a name's certificate: new handshakes get the new one, an established connection keeps its own, and the context the listener built for the old one is closed", async () => {
  const pki = makePki("ec");
  using first = pki.ca.issue({ dns: ["api.example.com"] });
  using second = pki.ca.issue({ dns: ["api.example.com"] });
  const listener = listen(pki, {
    sniCertificates: { "api.example.com": { cert: first.chainPEM, key: first.keyPEM } },
  });
  const server = echoServer(listener);
  let listening = -1;
  try {
    const port = listener.addr.port;
    await using old = await open(pki, port, "api.example.com");
    assert.equal(old.getPeerCertificate()!.serialNumber, first.cert.serialNumber);
    const built = liveHandles().SSL_CTX; // the listener's two, and the client's cached one
    listening = built - 2;
    listener.addContext("api.example.com", { cert: second.chainPEM, key: second.keyPEM });
    assert.equal(liveHandles().SSL_CTX, built, "one context built, the replaced one closed");
    assert.equal(await servedSerial(pki, port, "api.example.com"), second.cert.serialNumber);
    await old.write(new Uint8Array([9]));
    assert.equal(await old.read(new Uint8Array(1)), 1, "the established connection still echoes");
    assert.equal(old.getPeerCertificate()!.serialNumber, first.cert.serialNumber);
    // Adding to a listener that had no names installs the name switch.
    using plain = listen(pki);
    const plainServer = echoServer(plain);
    plain.addContext("api.example.com", { cert: second.chainPEM, key: second.keyPEM });
    assert.equal(
      await servedSerial(pki, plain.addr.port, "api.example.com"),
      second.cert.serialNumber,
    );
    plain.close();
    await plainServer.done;
  } finally {
    listener.close();
    await server.done;
    pki.close();
  }
  assert.equal(liveHandles().SSL_CTX, listening, "close() closed every context the listener built");
  assert.deepEqual(server.failures, []);
});

Deno.test("an added name keeps the listener's policy: client certificates required, ALPN chosen, as for the default", async () => {
  const pki = makePki("ec");
  using api = pki.ca.issue({ dns: ["api.example.com"] });
  const listener = listen(pki, {
    requireClientCert: true,
    caCerts: [pki.ca.certPEM],
    alpnProtocols: ["h2"],
  });
  listener.addContext("api.example.com", { cert: api.chainPEM, key: api.keyPEM });
  const server = echoServer(listener);
  try {
    const port = listener.addr.port;
    await using conn = await open(pki, port, "api.example.com", {
      alpn: ["h2", "http/1.1"],
      clientCert: true,
    });
    assert.equal(conn.getPeerCertificate()!.serialNumber, api.cert.serialNumber);
    assert.equal(conn.getAlpnProtoNegotiated(), "h2");
    await assert.rejects(() => open(pki, port, "api.example.com", { alpn: ["h2"] }));
  } finally {
    listener.close();
    await server.done;
    pki.close();
  }
  assert.equal(server.failures.length, 1, "the client without a certificate was refused");
});

Deno.test("addContext refuses what sniCertificates refuses, with the same errors; a closed listener refuses; a used default Context cannot take names", async () => {
  const pki = makePki("ec");
  try {
    const entry = { cert: pki.server.chainPEM, key: pki.server.keyPEM };
    using listener = listen(pki);
    for (const name of ["f*.example.com", "a.*.example.com", "*", "*.*.example.com", "a..b", ""]) {
      let expected: unknown;
      try {
        listen(pki, { sniCertificates: { [name]: entry } }).close();
      } catch (e) {
        expected = e;
      }
      assert.ok(expected instanceof TypeError, JSON.stringify(name));
      assert.throws(
        () => listener.addContext(name, entry),
        (e: unknown) => e instanceof TypeError && e.message === expected.message,
        JSON.stringify(name),
      );
    }
    assert.throws(
      () => listener.addContext(42 as unknown as string, entry),
      /A server name must be a string/,
    );
    assert.throws(
      () => listener.addContext("a.test", { cert: pki.server.chainPEM }),
      (e: unknown) => e instanceof TypeError && /^addContext\("a.test"\): /.test(e.message),
    );
    assert.throws(
      () => listener.addContext("a.test", null as unknown as Context),
      /addContext\("a.test"\) must be \{ cert, key \}, \{ pfx \}, or a Context/,
    );
    // A used Context as the default has no name switch and cannot get one.
    using used = new Context(TLS_SERVER_METHOD);
    used.useCertificateChain(pki.server.chainPEM);
    used.usePrivateKey(pki.server.keyPEM);
    using byContext = listen(pki, { context: used });
    const dialing = Deno.connect({ hostname: "127.0.0.1", port: byContext.addr.port });
    (await byContext.accept()).close();
    (await dialing).close();
    const before = liveHandles().SSL_CTX;
    assert.throws(() => byContext.addContext("a.test", entry), /already made connections/);
    assert.equal(liveHandles().SSL_CTX, before, "the context built for the refused name is closed");
    listener.close();
    assert.throws(() => listener.addContext("a.test", entry), Deno.errors.BadResource);
  } finally {
    pki.close();
  }
});
