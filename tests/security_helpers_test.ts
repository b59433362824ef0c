/**
 * The Deno-shaped helpers are at least as strict as Deno's rustls: host
 * names without subject-CN fallback or partial wildcards, no silent skip of
 * the name check, an accept loop no client can end, ECDHE+AEAD TLS 1.2
 * suites, strict ALPN on servers, a server handshake deadline, and one
 * context cache that closes what it evicts. Certificates come from crypto/.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import net from "node:net";
import {
  connectDtls,
  Connection,
  connectTls,
  Context,
  type DatagramSocket,
  type IssuedCertificate,
  listenDtls,
  listenTls,
  type ListenTlsOptions,
  NO_OVERLAPPING_PROTOCOLS,
  SSLError,
  startTls,
  TestCA,
  TLS_CLIENT_METHOD,
  TLS_SERVER_METHOD,
  TlsListener,
  VerificationError,
  VERIFY_PEER,
  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
  X509_CHECK_FLAG_NO_WILDCARDS,
} from "../mod.ts";
import { liveHandles } from "../ffi/_handles.ts";
import { handshakeInMemory } from "./_pair.ts";
import { udpSocket, within } from "./_dtls.ts";

const ca = TestCA.create({ keyType: "ec" });
const rsaCa = TestCA.create({ keyType: "rsa" });
/** No subjectAltName at all: the name is in the CN only. */
const cnOnly = ca.issue({ commonName: "cnonly.test" });
/** A SAN with an IP only, and a CN that looks like a host name. */
const ipOnly = ca.issue({ ip: ["127.0.0.1"], commonName: "good.test" });
const partialWildcard = ca.issue({ dns: ["f*.example.test"] });
const wildcard = ca.issue({ dns: ["*.example.test"] });
const good = ca.issue({ dns: ["good.test", "localhost"], ip: ["127.0.0.1"] });
const otherName = ca.issue({ dns: ["other.example"] });
const rsaLeaf = rsaCa.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });

globalThis.addEventListener("unload", () => {
  for (const x of [cnOnly, ipOnly, partialWildcard, wildcard, good, otherName, rsaLeaf]) x.close();
  ca.close();
  rsaCa.close();
});

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A client context that trusts the test CA and verifies, as a user would build one. */
function userClientContext(): Context {
  const ctx = new Context(TLS_CLIENT_METHOD);
  ctx.addCaCerts(ca.certPEM);
  ctx.setVerify(VERIFY_PEER);
  return ctx;
}

/**
 * Runs a handshake in memory against `leaf`, the client checking `host`.
 *
 * @returns null when the handshake succeeded, else what it threw.
 */
function checkInMemory(leaf: IssuedCertificate, host: string, flags?: number): unknown {
  using serverCtx = new Context(TLS_SERVER_METHOD);
  serverCtx.useCertificateChain(leaf.chainPEM);
  serverCtx.usePrivateKey(leaf.keyPEM);
  using clientCtx = userClientContext();
  using client = new Connection(clientCtx, null);
  using server = new Connection(serverCtx, null);
  client.setConnectState();
  server.setAcceptState();
  if (flags !== undefined) client.setHostFlags(flags);
  client.setVerifyHostname(host);
  try {
    handshakeInMemory(client, server);
    return null;
  } catch (e) {
    return e;
  }
}

function assertRefusedName(error: unknown, code = 62): void {
  assert.ok(error instanceof VerificationError, `expected VerificationError, got ${error}`);
  assert.equal(error.verifyCode, code, error.message);
}

/** A listenTls server for `leaf` whose clients each run in their own task; closed after `fn`. */
async function withServer<T>(
  leaf: IssuedCertificate,
  fn: (port: number, listener: TlsListener) => Promise<T>,
  extra: Partial<ListenTlsOptions> = {},
): Promise<T> {
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
    ...extra,
  });
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      served.push((async () => {
        try {
          await conn.handshake();
          await conn.write(enc.encode("hello"));
        } catch { /* the client's refusal is what the tests look at */ }
        await conn[Symbol.asyncDispose]();
      })());
    }
  })();
  try {
    return await fn(listener.addr.port, listener);
  } finally {
    listener.close();
    await loop;
    await Promise.all(served);
  }
}

/** Connects with `connectTls` and reads the server's greeting; returns the error, or null. */
async function tryConnect(options: Parameters<typeof connectTls>[0]): Promise<unknown> {
  try {
    await using conn = await connectTls(options);
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    assert.equal(dec.decode(buf.subarray(0, n ?? 0)), "hello");
    return null;
  } catch (e) {
    return e;
  }
}

/** Connects over plain TCP and upgrades with `startTls`; returns the error, or null. */
async function tryStartTls(
  port: number,
  options: Parameters<typeof startTls>[1],
): Promise<unknown> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await using conn = await startTls(tcp, options);
    const buf = new Uint8Array(16);
    await conn.read(buf);
    return null;
  } catch (e) {
    try {
      tcp.close(); // a TypeError leaves the transport to us
    } catch { /* already closed with the connection */ }
    return e;
  }
}

Deno.test("host names: Connection.setVerifyHostname() matches subject alternative names only, without partial wildcards, as Deno does (memory pair)", async (t) => {
  await t.step("a certificate with only a subject CN is refused for that CN (62)", () => {
    assertRefusedName(checkInMemory(cnOnly, "cnonly.test"));
  });
  await t.step("an IP-only SAN with a matching CN is refused for the CN's name (62)", () => {
    assertRefusedName(checkInMemory(ipOnly, "good.test"));
  });
  await t.step("a partial wildcard f*.example.test is refused for foo.example.test (62)", () => {
    assertRefusedName(checkInMemory(partialWildcard, "foo.example.test"));
  });
  await t.step("setHostFlags(0) brings back OpenSSL's legacy matching for all three", () => {
    assert.equal(checkInMemory(cnOnly, "cnonly.test", 0), null);
    assert.equal(checkInMemory(ipOnly, "good.test", 0), null);
    assert.equal(checkInMemory(partialWildcard, "foo.example.test", 0), null);
  });
  await t.step("one trailing dot is accepted; two, or a lone dot, are a TypeError", () => {
    assert.equal(checkInMemory(good, "good.test."), null);
    assert.equal(checkInMemory(wildcard, "foo.example.test."), null);
    assert.throws(() => checkInMemory(good, "good.test.."), TypeError);
    assert.throws(() => checkInMemory(good, "."), TypeError);
    assert.throws(() => checkInMemory(good, "good..test"), TypeError);
  });
  await t.step("kept: *.example.test matches one label, not two nor the bare domain", () => {
    assert.equal(checkInMemory(wildcard, "foo.example.test"), null);
    assertRefusedName(checkInMemory(wildcard, "a.foo.example.test"));
    assertRefusedName(checkInMemory(wildcard, "example.test"));
  });
  await t.step("kept: an IP SAN matches its address (and a mismatch is code 64)", () => {
    assert.equal(checkInMemory(good, "127.0.0.1"), null);
    assert.equal(checkInMemory(ipOnly, "127.0.0.1"), null);
    assertRefusedName(checkInMemory(good, "127.0.0.2"), 64);
  });
  await t.step("kept: an uppercase host name matches", () => {
    assert.equal(checkInMemory(good, "GOOD.Test"), null);
  });
  await t.step("kept: a NUL in a name is a TypeError, an empty name too", () => {
    assert.throws(() => checkInMemory(good, "good.test\0.evil"), TypeError);
    assert.throws(() => checkInMemory(good, ""), TypeError);
  });
  await t.step("setHostFlags refuses unknown bits; flags set before a name are kept", () => {
    using ctx = userClientContext();
    using conn = new Connection(ctx, null);
    assert.throws(() => conn.setHostFlags(0x40), RangeError);
    assert.throws(() => conn.setHostFlags(-1), RangeError);
    assertRefusedName(checkInMemory(wildcard, "foo.example.test", X509_CHECK_FLAG_NO_WILDCARDS));
    assertRefusedName(
      checkInMemory(
        cnOnly,
        "cnonly.test",
        X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
      ),
    );
  });
});

Deno.test("host names through the helpers: connectTls (serverName) and startTls (hostname) refuse CN-only, IP-only-SAN and partial-wildcard certificates, accept the rest", async (t) => {
  const cases: { label: string; leaf: IssuedCertificate; name: string; code?: number }[] = [
    { label: "CN-only certificate for its CN", leaf: cnOnly, name: "cnonly.test", code: 62 },
    {
      label: "IP-only SAN, CN good.test, for good.test",
      leaf: ipOnly,
      name: "good.test",
      code: 62,
    },
    {
      label: "f*.example.test for foo.example.test",
      leaf: partialWildcard,
      name: "foo.example.test",
      code: 62,
    },
    { label: "good.test. (trailing dot)", leaf: good, name: "good.test." },
    { label: "*.example.test for foo.example.test", leaf: wildcard, name: "foo.example.test" },
    { label: "IP SAN for 127.0.0.1", leaf: good, name: "127.0.0.1" },
    { label: "uppercase GOOD.TEST", leaf: good, name: "GOOD.TEST" },
  ];
  for (const c of cases) {
    await t.step(
      `${c.label} → ${c.code ? `VerificationError ${c.code}` : "accepted"}`,
      async () => {
        await withServer(c.leaf, async (port) => {
          const viaConnect = await tryConnect({
            hostname: "127.0.0.1",
            port,
            serverName: c.name,
            caCerts: [ca.certPEM],
          });
          const viaStart = await tryStartTls(port, { hostname: c.name, caCerts: [ca.certPEM] });
          for (const error of [viaConnect, viaStart]) {
            if (c.code) assertRefusedName(error, c.code);
            else assert.equal(error, null);
          }
        });
      },
    );
  }
  await t.step("unsafelyAllowLegacyHostNames: true accepts the CN-only certificate", async () => {
    await withServer(cnOnly, async (port) => {
      assert.equal(
        await tryStartTls(port, {
          hostname: "cnonly.test",
          caCerts: [ca.certPEM],
          unsafelyAllowLegacyHostNames: true,
        }),
        null,
      );
    });
  });
  await t.step("SNI carries the name without its trailing dot", async () => {
    const seen: (string | null)[] = [];
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: good.chainPEM,
      key: good.keyPEM,
    });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.handshake();
      seen.push(conn.getServername());
      await conn[Symbol.asyncDispose]();
    })();
    const conn = await connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      serverName: "good.test.",
      caCerts: [ca.certPEM],
    });
    await served;
    await conn[Symbol.asyncDispose]();
    listener.close();
    assert.deepEqual(seen, ["good.test"]);
  });
  await t.step("a NUL in hostname is a TypeError before anything is sent", async () => {
    await assert.rejects(
      connectTls({ hostname: "127.0.0.1", serverName: "good.test\0x", port: 1 }),
      TypeError,
    );
  });
});

Deno.test("no silent skip: with or without a context, a helper checks a name or was told unsafelyDisableHostnameVerification", async (t) => {
  await withServer(otherName, async (port) => {
    await t.step(
      'connectTls({ hostname: "127.0.0.1", serverName: "", context }) is a TypeError',
      async () => {
        using context = userClientContext();
        const error = await tryConnect({ hostname: "127.0.0.1", serverName: "", port, context });
        assert.ok(error instanceof TypeError, String(error));
        assert.match((error as Error).message, /serverName/);
        const without = await tryConnect({
          hostname: "127.0.0.1",
          serverName: "",
          port,
          caCerts: [ca.certPEM],
        });
        assert.ok(without instanceof TypeError, String(without));
      },
    );
    await t.step("startTls(tcp, { context }) is a TypeError", async () => {
      using context = userClientContext();
      const error = await tryStartTls(port, { context });
      assert.ok(error instanceof TypeError, String(error));
      assert.match((error as Error).message, /unsafelyDisableHostnameVerification/);
    });
    await t.step('startTls(tcp, { hostname: "", context }) is a TypeError', async () => {
      using context = userClientContext();
      const error = await tryStartTls(port, { hostname: "", context });
      assert.ok(error instanceof TypeError, String(error));
    });
    await t.step(
      "an explicit hostname is checked with a context: 127.0.0.1 (64) and localhost (62) are refused",
      async () => {
        using context = userClientContext();
        assertRefusedName(await tryConnect({ hostname: "127.0.0.1", port, context }), 64);
        assertRefusedName(await tryStartTls(port, { hostname: "localhost", context }), 62);
      },
    );
    await t.step(
      "connectTls with neither hostname nor serverName checks Deno's default, 127.0.0.1",
      async () => {
        assertRefusedName(await tryConnect({ port, caCerts: [ca.certPEM] }), 64);
      },
    );
    await t.step("serverName is the name checked (and sent), as Node's servername", async () => {
      assert.equal(
        await tryConnect({
          hostname: "127.0.0.1",
          serverName: "other.example",
          port,
          caCerts: [ca.certPEM],
        }),
        null,
      );
    });
    await t.step(
      "only unsafelyDisableHostnameVerification: true connects without a name",
      async () => {
        using context = userClientContext();
        assert.equal(
          await tryStartTls(port, { context, unsafelyDisableHostnameVerification: true }),
          null,
        );
        assert.equal(
          await tryConnect({
            hostname: "127.0.0.1",
            port,
            context,
            unsafelyDisableHostnameVerification: true,
          }),
          null,
        );
      },
    );
  });
});

/** Connects with node:net and resets (RST, SO_LINGER 0) as soon as connected. */
function connectAndReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.resetAndDestroy());
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
}

Deno.test("the accept loop survives: a client that resets before accept is skipped, in stream and native mode, and the next client is served", async (t) => {
  await t.step(
    "sanity: such a client makes Deno.Listener.accept() reject with NotConnected",
    async () => {
      const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      await connectAndReset(plain.addr.port);
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(plain.accept(), Deno.errors.NotConnected);
      plain.close();
    },
  );
  for (const native of [false, true]) {
    await t.step(`${native ? "native" : "stream"}: for await ... of listener goes on`, async () => {
      const listener = listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: good.chainPEM,
        key: good.keyPEM,
        native,
      });
      for (let i = 0; i < 3; i++) await connectAndReset(listener.addr.port);
      await new Promise((r) => setTimeout(r, 50)); // the resets land before anyone accepts
      const greeted: string[] = [];
      const loop = (async () => {
        for await (const conn of listener) {
          await conn.handshake();
          await conn.write(enc.encode(conn.transportMode));
          await conn[Symbol.asyncDispose]();
          greeted.push(conn.transportMode);
        }
      })();
      await using client = await connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [ca.certPEM],
      });
      const buf = new Uint8Array(16);
      const n = await client.read(buf);
      assert.equal(dec.decode(buf.subarray(0, n ?? 0)), native ? "native" : "stream");
      listener.close();
      await loop; // ends because the listener was closed, not because of an error
      assert.deepEqual(greeted, [native ? "native" : "stream"]);
    });
    await t.step(
      `${native ? "native" : "stream"}: accept() returns the next good client`,
      async () => {
        await using listener = listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: good.chainPEM,
          key: good.keyPEM,
          native,
        });
        await connectAndReset(listener.addr.port);
        await new Promise((r) => setTimeout(r, 50));
        const client = connectTls({
          hostname: "localhost",
          port: listener.addr.port,
          caCerts: [ca.certPEM],
        });
        await using conn = await listener.accept();
        await conn.handshake();
        await (await client)[Symbol.asyncDispose]();
      },
    );
  }
});

/** A stand-in for Deno.TcpListener whose accept() fails as scripted before handing over real clients. */
function scriptedListener(
  failures: unknown[],
): { fake: Deno.TcpListener; real: Deno.TcpListener; calls: number[] } {
  const real = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const calls: number[] = [];
  const fake = {
    get addr() {
      return real.addr;
    },
    accept(): Promise<Deno.TcpConn> {
      calls.push(performance.now());
      const failure = failures.shift();
      return failure === undefined ? real.accept() : Promise.reject(failure);
    },
    close: () => real.close(),
    ref: () => real.ref(),
    unref: () => real.unref(),
  } as unknown as Deno.TcpListener;
  return { fake, real, calls };
}

function coded(code: string): Error {
  return Object.assign(new Error(`${code} from accept(2)`), { code });
}

Deno.test("the accept loop survives: reset, aborted and protocol errors are skipped; EMFILE/ENFILE back off 10-100 ms and retry; only close() ends it", async (t) => {
  await t.step(
    "ConnectionReset, ConnectionAborted, NotConnected, EPROTO are skipped at once",
    async () => {
      const failures = [
        new Deno.errors.ConnectionReset("reset"),
        new Deno.errors.ConnectionAborted("aborted"),
        new Deno.errors.NotConnected("not connected"),
        coded("EPROTO"),
      ];
      const { fake, calls } = scriptedListener(failures);
      const listener = new TlsListener(fake, { cert: good.chainPEM, key: good.keyPEM });
      const client = connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [ca.certPEM],
      });
      await using conn = await listener.accept();
      await conn.handshake();
      await (await client)[Symbol.asyncDispose]();
      assert.equal(calls.length, 5);
      listener.close();
    },
  );
  await t.step(
    "EMFILE and ENFILE pause with a growing backoff, then the client is served",
    async () => {
      const failures = [
        coded("EMFILE"),
        coded("EMFILE"),
        coded("ENFILE"),
        coded("EMFILE"),
        coded("EMFILE"),
        coded("EMFILE"),
      ];
      const { fake, calls } = scriptedListener(failures);
      const listener = new TlsListener(fake, { cert: good.chainPEM, key: good.keyPEM });
      const client = connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [ca.certPEM],
      });
      await using conn = await listener.accept();
      await conn.handshake();
      await (await client)[Symbol.asyncDispose]();
      assert.equal(calls.length, 7);
      const gaps = calls.slice(1).map((at, i) => at - calls[i]!);
      assert.ok(gaps[0]! >= 9, `first pause ${gaps[0]} ms`);
      assert.ok(gaps.every((g) => g < 400), `pauses ${gaps}`); // capped at 100 ms (plus a busy machine)
      assert.ok(gaps[4]! >= 90, `the pause grows to the cap: ${gaps}`);
      listener.close();
    },
  );
  await t.step(
    "after close(), accept() rejects with BadResource and the iterator ends",
    async () => {
      const listener = listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: good.chainPEM,
        key: good.keyPEM,
      });
      const pending = listener.accept();
      listener.close();
      await assert.rejects(pending, Deno.errors.BadResource);
      const seen: unknown[] = [];
      for await (const conn of listener) seen.push(conn);
      assert.deepEqual(seen, []);
    },
  );
});

// Type-level: the listener is assignable to Deno.TlsListener (its iterator is an AsyncIterableIterator).
function _listenerTypeLevel(): Deno.TlsListener {
  return listenTls({ port: 0, cert: "", key: "" });
}

/** Runs `openssl s_client` once against a local port with extra flags; stdin is closed so it ends after the handshake. */
async function sClient(port: number, args: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return { ok: out.success, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

function negotiated(out: string): string | undefined {
  return /Cipher is (\S+)/.exec(out)?.[1];
}

Deno.test("policy: listenTls's TLS 1.2 suites are ECDHE with AEAD only; ciphers overrides it", async (t) => {
  await t.step(
    "openssl s_client -tls1_2 -cipher AES128-GCM-SHA256 (RSA key exchange, no forward secrecy) is refused",
    async () => {
      await withServer(rsaLeaf, async (port) => {
        const refused = await sClient(port, ["-tls1_2", "-cipher", "AES128-GCM-SHA256"]);
        assert.ok(!refused.ok, refused.out);
        assert.match(refused.out, /handshake failure|Cipher is \(NONE\)/);
        // Control: the same server and certificate serve ECDHE-RSA with AES-GCM.
        const accepted = await sClient(port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]);
        assert.equal(negotiated(accepted.out), "ECDHE-RSA-AES128-GCM-SHA256", accepted.out);
      });
    },
  );
  await t.step(
    "openssl s_client -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA (CBC with SHA-1) is refused (ECDSA certificate)",
    async () => {
      await withServer(good, async (port) => {
        const refused = await sClient(port, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]);
        assert.ok(!refused.ok, refused.out);
        const accepted = await sClient(port, [
          "-tls1_2",
          "-cipher",
          "ECDHE-ECDSA-CHACHA20-POLY1305",
        ]);
        assert.equal(negotiated(accepted.out), "ECDHE-ECDSA-CHACHA20-POLY1305", accepted.out);
      });
    },
  );
  await t.step("an explicit ciphers option still enables AES128-GCM-SHA256", async () => {
    await withServer(rsaLeaf, async (port) => {
      const accepted = await sClient(port, ["-tls1_2", "-cipher", "AES128-GCM-SHA256"]);
      assert.equal(negotiated(accepted.out), "AES128-GCM-SHA256", accepted.out);
    }, { ciphers: "AES128-GCM-SHA256" });
  });
});

Deno.test("policy: a listenTls server with alpnProtocols and no overlap fails the handshake with no_application_protocol; the low-level callback keeps NO_OVERLAPPING_PROTOCOLS", async (t) => {
  await t.step(
    "openssl s_client -alpn foo against alpnProtocols [h2] sees alert no application protocol",
    async () => {
      await withServer(good, async (port) => {
        const refused = await sClient(port, ["-alpn", "foo"]);
        assert.ok(!refused.ok, refused.out);
        assert.match(refused.out, /no application protocol|alert number 120/);
        const accepted = await sClient(port, ["-alpn", "foo,h2"]);
        assert.match(accepted.out, /ALPN protocol: h2/);
      }, { alpnProtocols: ["h2"] });
    },
  );
  await t.step(
    "a denossl client offering only foo gets an SSLError, and so does the server's handshake",
    async () => {
      const listener = listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: good.chainPEM,
        key: good.keyPEM,
        alpnProtocols: ["h2"],
      });
      const server = (async () => {
        await using conn = await listener.accept();
        return await conn.handshake().then(() => null, (e) => e);
      })();
      const error = await connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [ca.certPEM],
        alpnProtocols: ["foo"],
      }).then((c) => c[Symbol.asyncDispose]().then(() => null), (e) => e);
      assert.ok(error instanceof SSLError, String(error));
      assert.match((error as Error).message, /no application protocol/);
      assert.ok((await server) instanceof SSLError);
      listener.close();
    },
  );
  await t.step("a client without ALPN is still served", async () => {
    await withServer(good, async (port) => {
      assert.equal(await tryConnect({ hostname: "localhost", port, caCerts: [ca.certPEM] }), null);
    }, { alpnProtocols: ["h2"] });
  });
  await t.step(
    "Context.setAlpnSelectCallback returning NO_OVERLAPPING_PROTOCOLS goes on without ALPN",
    () => {
      using serverCtx = new Context(TLS_SERVER_METHOD);
      serverCtx.useCertificateChain(good.chainPEM);
      serverCtx.usePrivateKey(good.keyPEM);
      serverCtx.setAlpnSelectCallback(() => NO_OVERLAPPING_PROTOCOLS);
      using clientCtx = userClientContext();
      clientCtx.setAlpnProtos(["foo"]);
      using client = new Connection(clientCtx, null);
      using server = new Connection(serverCtx, null);
      client.setConnectState();
      server.setAcceptState();
      client.setVerifyHostname("good.test");
      handshakeInMemory(client, server);
      assert.equal(client.getAlpnProtoNegotiated(), null);
    },
  );
});

/** A TCP client that sends the first bytes of a ClientHello record and stalls. */
async function stall(port: number): Promise<{ closedAfter: Promise<number>; tcp: Deno.TcpConn }> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const started = performance.now();
  // A handshake record announcing 512 bytes, of which only the first few arrive.
  await tcp.write(
    new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3]),
  );
  const closedAfter = (async () => {
    const buf = new Uint8Array(1024);
    try {
      while ((await tcp.read(buf)) !== null) { /* an alert, perhaps */ }
    } catch { /* a reset is a close too */ }
    const ms = performance.now() - started;
    try {
      tcp.close();
    } catch { /* closed by the test */ }
    return ms;
  })();
  return { closedAfter, tcp };
}

Deno.test("policy: 50 stalled half-handshakes do not delay a good client by more than a second and are closed at the handshake deadline", async () => {
  const deadline = 500;
  await withServer(good, async (port) => {
    const stalled = await Promise.all(Array.from({ length: 50 }, () => stall(port)));
    const started = performance.now();
    assert.equal(await tryConnect({ hostname: "localhost", port, caCerts: [ca.certPEM] }), null);
    const took = performance.now() - started;
    assert.ok(took < 1000, `the good client took ${took} ms`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      Promise.all(stalled.map((s) => s.closedAfter)),
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error("stalled clients still open after 5 s")), 5000)
      ),
    ]).finally(() => clearTimeout(timer));
    assert.ok(closed.every((ms) => ms >= deadline - 50), `closed early: ${closed}`);
    assert.ok(closed.every((ms) => ms < deadline + 2500), `closed late: ${closed}`);
  }, { handshakeTimeout: deadline });
});

Deno.test("policy: handshakeTimeout 0 means no deadline; a negative one is a RangeError", async () => {
  assert.throws(
    () => listenTls({ port: 0, cert: good.chainPEM, key: good.keyPEM, handshakeTimeout: -1 }),
    RangeError,
  );
  await withServer(good, async (port, _listener) => {
    const { closedAfter, tcp } = await stall(port);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      closedAfter.then(() => "closed"),
      new Promise((r) => timer = setTimeout(() => r("still open"), 700)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "still open");
    tcp.closeWrite(); // the server's handshake then ends, and withServer can close
    await closedAfter;
  }, { handshakeTimeout: 0 });
});

Deno.test("one context cache: at most 64 contexts, the evicted ones closed; a listener's own context closes with it", async () => {
  const before = liveHandles().SSL_CTX;
  const closedPort = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = l.addr.port;
    l.close();
    return port;
  })();
  for (let i = 0; i < 80; i++) {
    await connectTls({
      hostname: "127.0.0.1",
      port: closedPort,
      unsafelyDisableVerification: true,
      alpnProtocols: [`p${i}`],
    }).catch(() => {});
  }
  const grown = liveHandles().SSL_CTX - before;
  assert.ok(grown <= 64, `${grown} contexts stayed alive`);
  const withListener = liveHandles().SSL_CTX;
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: good.chainPEM,
    key: good.keyPEM,
  });
  assert.equal(liveHandles().SSL_CTX, withListener + 1);
  listener.close();
  assert.equal(liveHandles().SSL_CTX, withListener);
});

Deno.test("one context cache: no private key text is kept as a cache key (the module keys an HMAC digest)", async () => {
  const source = await Deno.readTextFile(new URL("../connection/_defaults.ts", import.meta.url));
  assert.match(source, /hmacSha256\(cacheSecret/);
  for (const file of ["tls.ts", "dtls_udp.ts"]) {
    const text = await Deno.readTextFile(new URL(`../connection/${file}`, import.meta.url));
    assert.doesNotMatch(text, /new Map<string, Context>/, `${file} keeps its own cache`);
  }
});

/** A UDP socket that sends its first `allowed` datagrams and silently drops the rest. */
class GoesQuiet implements DatagramSocket {
  readonly #inner: Deno.DatagramConn;
  #allowed: number;
  constructor(inner: Deno.DatagramConn, allowed: number) {
    this.#inner = inner;
    this.#allowed = allowed;
  }
  get addr(): Deno.Addr {
    return this.#inner.addr;
  }
  receive(p?: Uint8Array): Promise<[Uint8Array, Deno.Addr]> {
    return this.#inner.receive(p);
  }
  send(p: Uint8Array, addr: Deno.Addr): Promise<number> {
    return this.#allowed-- > 0 ? this.#inner.send(p, addr) : Promise.resolve(p.length);
  }
  close(): void {
    this.#inner.close();
  }
}

Deno.test("DTLS helpers share the policy: listenDtls closes a handshake stalled after the cookie exchange at its deadline, and refuses ALPN without overlap", async (t) => {
  await t.step(
    "a client that goes quiet after its second ClientHello is closed at handshakeTimeout",
    async () => {
      await using listener = listenDtls({
        hostname: "127.0.0.1",
        port: 0,
        cert: good.chainPEM,
        key: good.keyPEM,
        handshakeTimeout: 300,
      });
      const client = connectDtls({
        port: listener.addr.port,
        caCerts: [ca.certPEM],
        socket: new GoesQuiet(udpSocket(), 2), // ClientHello, then ClientHello with the cookie
        handshakeTimeout: 1500,
      }).then(() => null, (e) => e);
      await using conn = await within(5000, "accept", listener.accept());
      const started = performance.now();
      const error = await within(
        5000,
        "server handshake",
        conn.handshake().then(() => null, (e) => e),
      );
      const took = performance.now() - started;
      assert.ok(error instanceof Deno.errors.TimedOut, String(error));
      assert.ok(took < 2000, `closed after ${took} ms`);
      assert.ok((await client) instanceof Deno.errors.TimedOut);
    },
  );
  await t.step("a client offering only foo to alpnProtocols [h2] fails its handshake", async () => {
    await using listener = listenDtls({
      hostname: "127.0.0.1",
      port: 0,
      cert: good.chainPEM,
      key: good.keyPEM,
      alpnProtocols: ["h2"],
    });
    const server = (async () => {
      await using conn = await listener.accept();
      return await conn.handshake().then(() => null, (e) => e);
    })();
    const error = await connectDtls({
      port: listener.addr.port,
      caCerts: [ca.certPEM],
      alpnProtocols: ["foo"],
      handshakeTimeout: 5000,
    }).then((c) => c[Symbol.asyncDispose]().then(() => null), (e) => e);
    assert.ok(error instanceof SSLError, String(error));
    assert.match((error as Error).message, /no application protocol/);
    assert.ok((await server) instanceof SSLError);
  });
});
