/**
 * listenTls's certificates per server name (sniCertificates) and their
 * rotation while serving (setContext, setCertificates), in stream and
 * native mode.
 */
import assert from "node:assert/strict";
import { connectTls, Context, listenTls, TLS_SERVER_METHOD } from "../mod.ts";
import { makePki, type Pki } from "./_pki.ts";
import { echoServer } from "./_listen.ts";

interface Seen {
  serial: bigint;
  alpn: string | null;
}

/** Connects as `serverName`, verifying it against the test CA, echoes a byte, closes. */
async function visit(
  pki: Pki,
  port: number,
  serverName: string,
  o: { native?: boolean; alpn?: string[]; clientCert?: boolean; checkName?: boolean } = {},
): Promise<Seen> {
  await using conn = await connectTls({
    hostname: "127.0.0.1",
    serverName,
    port,
    caCerts: [pki.ca.certPEM],
    native: o.native === true,
    ...(o.checkName === false ? { unsafelyDisableHostnameVerification: true } : {}),
    ...(o.alpn ? { alpnProtocols: o.alpn } : {}),
    ...(o.clientCert ? { cert: pki.client.chainPEM, key: pki.client.keyPEM } : {}),
  });
  await conn.write(new Uint8Array([7]));
  const buf = new Uint8Array(1);
  assert.equal(await conn.read(buf), 1);
  assert.equal(buf[0], 7);
  return {
    serial: conn.getPeerCertificate()!.serialNumber,
    alpn: conn.getAlpnProtoNegotiated(),
  };
}

Deno.test("sniCertificates: exact names win over one-label wildcards, names match without regard to case, anything else gets the default", async () => {
  const pki = makePki("ec");
  using api = pki.ca.issue({ dns: ["api.example.com"] });
  using star = pki.ca.issue({ dns: ["*.example.com"] });
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.server.chainPEM,
    key: pki.server.keyPEM,
    sniCertificates: new Map([
      ["API.example.com", { cert: api.chainPEM, key: api.keyPEM }],
      ["*.Example.com", { cert: star.chainPEM, key: star.keyPEM }],
    ]),
  });
  const server = echoServer(listener);
  try {
    const port = listener.addr.port;
    const served = async (name: string): Promise<bigint> =>
      (await visit(pki, port, name, { checkName: false })).serial;
    assert.equal(await served("api.example.com"), api.cert.serialNumber);
    assert.equal(await served("Api.EXAMPLE.com"), api.cert.serialNumber);
    assert.equal(await served("www.example.com"), star.cert.serialNumber);
    assert.equal(await served("a.b.example.com"), pki.server.cert.serialNumber, "one label only");
    assert.equal(await served("example.com"), pki.server.cert.serialNumber);
    assert.equal(await served("localhost"), pki.server.cert.serialNumber);
    // And the clients that check the name verify each certificate.
    assert.equal((await visit(pki, port, "www.example.com")).serial, star.cert.serialNumber);
    assert.equal((await visit(pki, port, "localhost")).serial, pki.server.cert.serialNumber);
  } finally {
    listener.close();
    await server.done;
    pki.close();
  }
  assert.deepEqual(server.failures, []);
});

Deno.test("sniCertificates refuses partial and deep wildcards, names that are no host names, and entries without a key", () => {
  const pki = makePki("ec");
  try {
    const base = { port: 0, cert: pki.server.chainPEM, key: pki.server.keyPEM };
    const entry = { cert: pki.server.chainPEM, key: pki.server.keyPEM };
    for (const name of ["f*.example.com", "a.*.example.com", "*", "*.*.example.com", "a..b", ""]) {
      assert.throws(
        () => listenTls({ ...base, sniCertificates: { [name]: entry } }),
        TypeError,
        JSON.stringify(name),
      );
    }
    assert.throws(
      () => listenTls({ ...base, sniCertificates: { "a.test": { cert: pki.server.chainPEM } } }),
      /sniCertificates\["a.test"\]/,
    );
    assert.throws(
      () => listenTls({ ...base, sniCertificates: { "a.test": entry, "A.TEST.": entry } }),
      /twice/,
    );
  } finally {
    pki.close();
  }
});

Deno.test("a per-name certificate keeps the listener's policy: client certificates required, ALPN chosen, as for the default", async () => {
  const pki = makePki("ec");
  using api = pki.ca.issue({ dns: ["api.example.com"] });
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.server.chainPEM,
    key: pki.server.keyPEM,
    requireClientCert: true,
    caCerts: [pki.ca.certPEM],
    alpnProtocols: ["h2"],
    sniCertificates: { "api.example.com": { cert: api.chainPEM, key: api.keyPEM } },
  });
  const server = echoServer(listener);
  try {
    const port = listener.addr.port;
    const seen = await visit(pki, port, "api.example.com", { clientCert: true, alpn: ["h2"] });
    assert.deepEqual(seen, { serial: api.cert.serialNumber, alpn: "h2" });
    await assert.rejects(visit(pki, port, "api.example.com", { alpn: ["h2"] }));
    await assert.rejects(visit(pki, port, "api.example.com", { clientCert: true, alpn: ["h3"] }));
  } finally {
    listener.close();
    await server.done;
    pki.close();
  }
  assert.equal(server.failures.length, 2, "the two refused clients failed on the server too");
});

Deno.test("setContext and setCertificates check their input and refuse a closed listener; a used Context cannot take certificates per name", async () => {
  const pki = makePki("ec");
  try {
    const listener = listenTls({ port: 0, cert: pki.server.chainPEM, key: pki.server.keyPEM });
    assert.throws(() => listener.setContext({ cert: pki.server.chainPEM }), TypeError);
    assert.throws(
      () => listener.setCertificates({ "f*.test": { cert: "x", key: "y" } }),
      TypeError,
    );
    listener.setCertificates({});
    listener.close();
    assert.throws(() => listener.setCertificates({}), Deno.errors.BadResource);
    assert.throws(
      () => listener.setContext(new Context(TLS_SERVER_METHOD)),
      Deno.errors.BadResource,
    );

    const used = new Context(TLS_SERVER_METHOD);
    used.useCertificateChain(pki.server.chainPEM);
    used.usePrivateKey(pki.server.keyPEM);
    used._markUsed();
    const entry = { cert: pki.server.chainPEM, key: pki.server.keyPEM };
    assert.throws(
      () => listenTls({ port: 0, context: used, sniCertificates: { "a.test": entry } }),
      /already made connections/,
    );
    await using plain = listenTls({ port: 0, context: used });
    assert.throws(() => plain.setCertificates({ "a.test": entry }), /already made connections/);
    used.close();
  } finally {
    pki.close();
  }
});

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";
  Deno.test(`rotating the default and per-name certificates under a continuous stream of clients: every client verifies, new handshakes get the new certificate, established connections survive (${mode} mode)`, async () => {
    const pki = makePki("ec");
    using api1 = pki.ca.issue({ dns: ["api.example.com"] });
    using api2 = pki.ca.issue({ dns: ["api.example.com"] });
    using default2 = pki.ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: pki.server.chainPEM,
      key: pki.server.keyPEM,
      native,
      sniCertificates: { "api.example.com": { cert: api1.chainPEM, key: api1.keyPEM } },
    });
    const server = echoServer(listener);
    const port = listener.addr.port;
    const names = ["localhost", "api.example.com"] as const;
    const before = {
      localhost: pki.server.cert.serialNumber,
      "api.example.com": api1.cert.serialNumber,
    };
    const after = {
      localhost: default2.cert.serialNumber,
      "api.example.com": api2.cert.serialNumber,
    };
    try {
      // Connections established before the rotation, kept open across it.
      const established = await Promise.all(names.map(async (serverName) => {
        const conn = await connectTls({
          hostname: "127.0.0.1",
          serverName,
          port,
          caCerts: [pki.ca.certPEM],
          native,
        });
        return { serverName, conn };
      }));
      let rotated = false;
      let stop = false;
      const results: {
        name: typeof names[number];
        startedAfter: boolean;
        serial?: bigint;
        error?: unknown;
      }[] = [];
      const client = async (worker: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const name = names[(worker + i) % 2]!;
          const startedAfter = rotated;
          try {
            const { serial } = await visit(pki, port, name, { native });
            results.push({ name, startedAfter, serial });
          } catch (error) {
            results.push({ name, startedAfter, error });
          }
        }
      };
      const clients = [0, 1, 2, 3].map(client);
      const waitFor = async (n: number): Promise<void> => {
        while (results.length < n) await new Promise((r) => setTimeout(r, 5));
      };
      await waitFor(20);
      listener.setContext({ cert: default2.chainPEM, key: default2.keyPEM });
      listener.setCertificates({ "api.example.com": { cert: api2.chainPEM, key: api2.keyPEM } });
      rotated = true;
      const at = results.length;
      await waitFor(at + 20);
      stop = true;
      await Promise.all(clients);

      assert.deepEqual(
        results.filter((r) => r.error).map((r) => String(r.error)),
        [],
        "no client failed",
      );
      for (const r of results) {
        const allowed = r.startedAfter ? [after[r.name]] : [before[r.name], after[r.name]];
        assert.ok(allowed.includes(r.serial!), `${r.name} got serial ${r.serial}`);
      }
      for (const name of names) {
        assert.ok(
          results.some((r) => !r.startedAfter && r.name === name && r.serial === before[name]),
        );
        assert.ok(results.some((r) => r.startedAfter && r.name === name));
      }
      for (const { serverName, conn } of established) {
        await conn.write(new Uint8Array([9]));
        const buf = new Uint8Array(1);
        assert.equal(
          await conn.read(buf),
          1,
          `${serverName}: the established connection still echoes`,
        );
        assert.equal(conn.getPeerCertificate()!.serialNumber, before[serverName]);
        await conn.close();
      }
    } finally {
      listener.close();
      await server.done;
      pki.close();
    }
    assert.deepEqual(server.failures, []);
  });
}
