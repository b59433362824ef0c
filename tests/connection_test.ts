import "./_tools.ts";
import assert from "node:assert/strict";
import {
  ClosedError,
  Connection,
  Context,
  FILETYPE_PEM,
  MSG_PEEK,
  RECEIVED_SHUTDOWN,
  SENT_SHUTDOWN,
  SSLError,
  SysCallError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS_METHOD,
  TLSv1_2_METHOD,
  VerificationError,
  VERIFY_PEER,
  WantReadError,
  ZeroReturnError,
} from "../mod.ts";
import { type KeyType, makeOpensslPki, type OpensslPki as Pki } from "./_pki.ts";
import { handshakeInMemory, memoryPair, pump, transfer } from "./_pair.ts";
import { runSnippet } from "./_subprocess.ts";

const text = new TextEncoder();

function serverContext(pki: Pki, method = TLS_METHOD): Context {
  const ctx = new Context(method);
  ctx.useCertificateChainFile(pki.chainFile);
  ctx.usePrivateKeyFile(pki.leaf.keyFile);
  return ctx;
}

function clientContext(pki: Pki, method = TLS_METHOD): Context {
  const ctx = new Context(method);
  ctx.loadVerifyLocations(pki.root.certFile);
  ctx.setVerify(VERIFY_PEER);
  return ctx;
}

/** Runs fn, asserts it throws an instance of cls, and returns the error. */
function catchError<T>(fn: () => unknown, cls: new (...args: never[]) => T): T {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    return e;
  }
  assert.fail(`expected ${cls.name} to be thrown`);
}

/**
 * Runs an in-memory handshake the client must refuse (after `setup` on the
 * client) and returns its VerificationError; the attached certificate is
 * closed, the connections freed.
 */
function refusal(
  cctx: Context,
  sctx: Context,
  setup?: (client: Connection) => void,
): VerificationError {
  const { client, server } = memoryPair(cctx, sctx);
  using _c = client;
  using _s = server;
  setup?.(client);
  const err = catchError(() => handshakeInMemory(client, server), VerificationError);
  err.certificate?.close();
  return err;
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

for (const type of ["rsa", "ec", "ed25519"] as KeyType[]) {
  Deno.test(`Connection handshakes in memory and exchanges data both ways with ${type} certificates on TLS 1.2 and 1.3`, async (t) => {
    const pki = await makeOpensslPki(type);
    try {
      for (const version of [TLS1_2_VERSION, TLS1_3_VERSION]) {
        await t.step(`TLS 0x${version.toString(16)}`, () => {
          using sctx = serverContext(pki);
          using cctx = clientContext(pki);
          cctx.setMinProtoVersion(version);
          cctx.setMaxProtoVersion(version);
          const { client, server } = memoryPair(cctx, sctx);
          using _c = client;
          using _s = server;
          client.setVerifyHostname("localhost");
          handshakeInMemory(client, server);
          assert.equal(client.getProtocolVersion(), version);
          assert.equal(server.getProtocolVersion(), version);
          assert.equal(client.getCipherName(), server.getCipherName());
          const peer = client.getPeerCertificate();
          assert.ok(peer, "client sees the server certificate");
          peer.close();
          const up = random(100_000);
          assert.deepEqual(transfer(client, server, up), up);
          const down = random(70_000);
          assert.deepEqual(transfer(server, client, down), down);
        });
      }
    } finally {
      await pki.cleanup();
    }
  });
}

Deno.test("Connection verification", async (t) => {
  const pki = await makeOpensslPki("ec");
  try {
    await t.step("a chain from an untrusted root fails with VerificationError 19 or 20", () => {
      using sctx = serverContext(pki);
      using cctx = new Context(TLS_METHOD);
      cctx.setVerify(VERIFY_PEER);
      const err = refusal(cctx, sctx);
      assert.ok([19, 20].includes(err.verifyCode), `code ${err.verifyCode}`);
      assert.match(err.verifyMessage, /certificate/);
      assert.match(err.message, /certificate verify failed/);
      assert.ok(err.depth >= 0);
      assert.ok(err.certificate, "the failing certificate is attached");
    });

    await t.step("a self-signed leaf fails with VerificationError 18", () => {
      using sctx = new Context(TLS_METHOD);
      sctx.useCertificateFile(pki.selfSigned.certFile, FILETYPE_PEM);
      sctx.usePrivateKeyFile(pki.selfSigned.keyFile, FILETYPE_PEM);
      using cctx = clientContext(pki);
      const err = refusal(cctx, sctx);
      assert.equal(err.verifyCode, 18);
      assert.equal(err.depth, 0);
    });

    await t.step("a wrong host name fails with VerificationError 62", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki);
      const err = refusal(cctx, sctx, (client) => client.setVerifyHostname("example.com"));
      assert.equal(err.verifyCode, 62);
      assert.match(err.verifyMessage, /hostname mismatch/i);
    });

    await t.step("a wrong IP address fails with VerificationError 64; the right one passes", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki);
      const err = refusal(cctx, sctx, (client) => client.setVerifyHostname("10.1.2.3"));
      assert.equal(err.verifyCode, 64);
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      client.setVerifyHostname("127.0.0.1");
      handshakeInMemory(client, server);
    });

    await t.step("a verify callback returning true accepts an untrusted chain", () => {
      using sctx = serverContext(pki);
      using cctx = new Context(TLS_METHOD);
      const seen: [number, number, boolean][] = [];
      cctx.setVerify(VERIFY_PEER, (conn, cert, errnum, depth, ok) => {
        assert.ok(conn instanceof Connection);
        seen.push([depth, errnum, ok]);
        cert.close();
        return true;
      });
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      handshakeInMemory(client, server);
      assert.ok(seen.some(([, , ok]) => !ok), "OpenSSL's own verdict was negative");
      assert.ok(seen.some(([depth]) => depth === 0), "the leaf was offered");
    });

    await t.step("a verify callback returning false fails a trusted chain", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki);
      const err = refusal(
        cctx,
        sctx,
        (client) =>
          client.setVerify(VERIFY_PEER, (_conn, cert, _e, depth) => {
            cert.close();
            return depth !== 0;
          }),
      );
      assert.equal(err.verifyCode, 50, "application verification failure");
    });

    await t.step(
      "a veto reports the vetoed certificate, not an earlier failure the callback accepted",
      () => {
        using sctx = serverContext(pki);
        using cctx = new Context(TLS_METHOD); // trusts nothing: the intermediate (depth 1) fails first
        const seen: [number, boolean][] = [];
        cctx.setVerify(VERIFY_PEER, (_conn, cert, _e, depth, ok) => {
          seen.push([depth, ok]);
          cert.close();
          return depth !== 0; // accept the failing intermediate, veto the leaf
        });
        const err = refusal(cctx, sctx);
        assert.ok(
          seen.some(([depth, ok]) => depth === 1 && !ok),
          "OpenSSL failed the intermediate",
        );
        assert.equal(err.verifyCode, 50, "application verification failure");
        assert.equal(err.depth, 0, "the vetoed leaf, not the accepted intermediate");
      },
    );

    await t.step(
      "a throwing context-level verify callback makes the handshake throw that same object",
      () => {
        using sctx = serverContext(pki);
        using cctx = new Context(TLS_METHOD);
        const boom = new Error("verify callback boom");
        cctx.setVerify(VERIFY_PEER, (_c, cert) => {
          cert.close();
          throw boom;
        });
        const { client, server } = memoryPair(cctx, sctx);
        using _c = client;
        using _s = server;
        let thrown: unknown;
        try {
          handshakeInMemory(client, server);
        } catch (e) {
          thrown = e;
        }
        assert.equal(thrown, boom);
      },
    );

    await t.step(
      "a throwing connection-level verify callback makes the handshake throw that same value",
      () => {
        using sctx = serverContext(pki);
        using cctx = clientContext(pki);
        const { client, server } = memoryPair(cctx, sctx);
        using _c = client;
        using _s = server;
        const boom = { reason: "not an Error object" };
        client.setVerify(VERIFY_PEER, (_c, cert) => {
          cert.close();
          throw boom;
        });
        let thrown: unknown;
        try {
          handshakeInMemory(client, server);
        } catch (e) {
          thrown = e;
        }
        assert.equal(thrown, boom);
        // The connection is unusable afterwards but safe to use: a clear error, no crash.
        assert.throws(() => client.send("x"), SSLError);
      },
    );

    await t.step(
      "usePrivateKey takes the key as DER bytes too (as made by the openssl CLI), and refuses other types",
      async () => {
        const der = await new Deno.Command("openssl", {
          args: ["pkey", "-in", pki.leaf.keyFile, "-outform", "DER"],
          stdout: "piped",
        }).output();
        assert.ok(der.success);
        using sctx = new Context(TLS_METHOD);
        sctx.useCertificate(pki.leaf.certPEM);
        sctx.usePrivateKey(der.stdout);
        sctx.checkPrivateKey();
        assert.throws(
          () => sctx.usePrivateKey(42 as unknown as string),
          /Private key must be a PKey, PEM text or DER bytes/,
        );
      },
    );

    await t.step("a three-level chain verifies when served with addExtraChainCert", () => {
      using sctx = new Context(TLS_METHOD);
      sctx.useCertificate(pki.leaf.certPEM);
      sctx.addExtraChainCert(pki.intermediate.certPEM);
      sctx.usePrivateKey(pki.leaf.keyPEM);
      sctx.checkPrivateKey();
      using cctx = new Context(TLS_METHOD);
      cctx.addCaCerts(pki.root.certPEM);
      cctx.setVerify(VERIFY_PEER);
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      client.setVerifyHostname("localhost");
      handshakeInMemory(client, server);
    });

    await t.step(
      "a three-level chain verifies when served from a chain file, and fails without the intermediate",
      () => {
        using sctx = serverContext(pki);
        using cctx = clientContext(pki);
        const { client, server } = memoryPair(cctx, sctx);
        using _c = client;
        using _s = server;
        handshakeInMemory(client, server);

        using bare = new Context(TLS_METHOD);
        bare.useCertificateFile(pki.leaf.certFile);
        bare.usePrivateKeyFile(pki.leaf.keyFile);
        const p2 = memoryPair(cctx, bare);
        using _c2 = p2.client;
        using _s2 = p2.server;
        const err = catchError(() => handshakeInMemory(p2.client, p2.server), VerificationError);
        assert.ok(err instanceof VerificationError);
        assert.equal(err.verifyCode, 20);
        err.certificate?.close();
      },
    );
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Connection reports incompatible peers and bad keys", async (t) => {
  const pki = await makeOpensslPki("ec");
  try {
    await t.step(
      "client max TLS 1.2 against server min TLS 1.3 fails with SSLError naming the protocol",
      () => {
        using sctx = serverContext(pki);
        sctx.setMinProtoVersion(TLS1_3_VERSION);
        using cctx = new Context(TLS_METHOD);
        cctx.setMaxProtoVersion(TLS1_2_VERSION);
        const { client, server } = memoryPair(cctx, sctx);
        using _c = client;
        using _s = server;
        const err = catchError(() => handshakeInMemory(client, server), SSLError);
        assert.ok(err instanceof SSLError && !(err instanceof VerificationError));
        assert.match(err.message, /unsupported protocol|protocol version/);
        assert.ok(err.errors.length > 0);
      },
    );

    await t.step(
      "checkPrivateKey fails with a clear SSLError for a key that does not match",
      () => {
        using ctx = new Context(TLS_METHOD);
        // Loading a key that does not match the certificate already fails...
        const early = catchError(() => {
          using c = new Context(TLS_METHOD);
          c.useCertificateFile(pki.leaf.certFile);
          c.usePrivateKeyFile(pki.client.keyFile);
        }, SSLError);
        assert.match(early.message, /key values mismatch/);
        // ...and a certificate that does not match the key drops the key, which checkPrivateKey reports.
        ctx.usePrivateKeyFile(pki.client.keyFile);
        ctx.useCertificateFile(pki.leaf.certFile);
        const err = catchError(() => ctx.checkPrivateKey(), SSLError);
        assert.ok(err instanceof SSLError);
        assert.match(
          err.message,
          /Checking the private key against the certificate failed: .*(no private key|key values mismatch)/,
        );
      },
    );

    await t.step("a cipher list that matches nothing fails with 'no cipher match'", () => {
      using ctx = new Context(TLS_METHOD);
      const err = catchError(() => ctx.setCipherList("NOT-A-CIPHER"), SSLError);
      assert.ok(err instanceof SSLError);
      assert.equal(err.errors[0]?.reason, "no cipher match");
    });

    await t.step("a missing certificate file fails with SSLError naming the file", () => {
      using ctx = new Context(TLS_METHOD);
      assert.throws(() => ctx.useCertificateFile(`${pki.dir}/nope.pem`), (e: unknown) => {
        return e instanceof SSLError && e.message.includes("nope.pem");
      });
    });

    await t.step("a pinned TLSv1_2_METHOD context negotiates TLS 1.2", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki, TLSv1_2_METHOD);
      assert.equal(cctx.getMinProtoVersion(), TLS1_2_VERSION);
      assert.equal(cctx.getMaxProtoVersion(), TLS1_2_VERSION);
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      handshakeInMemory(client, server);
      assert.equal(client.getProtocolVersionName(), "TLSv1.2");
    });

    await t.step("an unknown method is a RangeError and a non-number a TypeError", () => {
      assert.throws(() => new Context(99), RangeError);
      assert.throws(() => new Context("TLS" as unknown as number), TypeError);
    });
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Encrypted keys load through setPasswdCb, and a throwing passphrase callback's error comes out", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    const encrypted = `${pki.dir}/enc.key`;
    const out = await new Deno.Command("openssl", {
      args: [
        "pkey",
        "-in",
        pki.leaf.keyFile,
        "-aes-256-cbc",
        "-passout",
        "pass:s3cret",
        "-out",
        encrypted,
      ],
      stderr: "piped",
    }).output();
    assert.ok(out.success);
    using ctx = new Context(TLS_METHOD);
    ctx.useCertificateFile(pki.leaf.certFile);
    let asked = 0;
    ctx.setPasswdCb((max, verify) => {
      asked++;
      assert.ok(max > 0);
      assert.equal(verify, false);
      return "s3cret";
    });
    ctx.usePrivateKeyFile(encrypted);
    ctx.checkPrivateKey();
    assert.equal(asked, 1);

    using ctx2 = new Context(TLS_METHOD);
    const boom = new Error("no passphrase for you");
    ctx2.setPasswdCb(() => {
      throw boom;
    });
    assert.throws(() => ctx2.usePrivateKeyFile(encrypted), (e) => e === boom);

    using ctx3 = new Context(TLS_METHOD);
    ctx3.setPasswdCb(() => "wrong");
    assert.throws(() => ctx3.usePrivateKeyFile(encrypted), SSLError);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Connection shutdown semantics", async (t) => {
  const pki = await makeOpensslPki("ec");
  try {
    await t.step(
      "first shutdown() is false, the peer's recv throws ZeroReturnError, both end with both flags",
      () => {
        using sctx = serverContext(pki);
        using cctx = clientContext(pki);
        const { client, server } = memoryPair(cctx, sctx);
        using _c = client;
        using _s = server;
        handshakeInMemory(client, server);
        assert.equal(client.shutdown(), false);
        assert.equal(client.getShutdown(), SENT_SHUTDOWN);
        pump(client, server);
        assert.throws(() => server.recv(100), ZeroReturnError);
        assert.equal(server.getShutdown() & RECEIVED_SHUTDOWN, RECEIVED_SHUTDOWN);
        assert.equal(server.shutdown(), true);
        assert.equal(server.getShutdown(), SENT_SHUTDOWN | RECEIVED_SHUTDOWN);
        pump(server, client);
        assert.equal(client.shutdown(), true);
        assert.equal(client.getShutdown(), SENT_SHUTDOWN | RECEIVED_SHUTDOWN);
      },
    );

    await t.step("after bioShutdown() a read gives SysCallError errno -1 'Unexpected EOF'", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki);
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      handshakeInMemory(client, server);
      assert.throws(() => server.recv(10), WantReadError);
      server.bioShutdown();
      const err = catchError(() => server.recv(10), SysCallError);
      assert.ok(err instanceof SysCallError);
      assert.equal(err.errno, -1);
      assert.equal(err.message, "Unexpected EOF");
    });

    await t.step("setShutdown sets the flags", () => {
      using sctx = serverContext(pki);
      using conn = new Connection(sctx, null);
      conn.setShutdown(SENT_SHUTDOWN | RECEIVED_SHUTDOWN);
      assert.equal(conn.getShutdown(), SENT_SHUTDOWN | RECEIVED_SHUTDOWN);
      assert.throws(() => conn.setShutdown(8), RangeError);
    });
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Connection moves 1 MiB through partial writes and recvInto respects its length", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    using sctx = serverContext(pki);
    using cctx = clientContext(pki);
    const { client, server } = memoryPair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    const data = random(1 << 20);
    let offset = 0;
    let calls = 0;
    while (offset < data.length) {
      // A different buffer object each time: a copy of the rest.
      const n = client.send(data.slice(offset));
      assert.ok(n > 0 && n <= 16384 * 32, `partial write of ${n}`);
      offset += n;
      calls++;
    }
    assert.ok(calls > 1, "the 1 MiB went out in several partial writes");
    pump(client, server);
    const received = new Uint8Array(data.length);
    let got = 0;
    const small = new Uint8Array(1000);
    const n = server.recvInto(small, 10);
    assert.equal(n, 10, "recvInto reads no more than asked");
    assert.deepEqual(small.subarray(10), new Uint8Array(990), "nothing written past nbytes");
    received.set(small.subarray(0, 10));
    got = 10;
    const peeked = server.recv(5, MSG_PEEK);
    assert.deepEqual(peeked, data.subarray(10, 15));
    while (got < data.length) got += server.recvInto(received.subarray(got));
    assert.deepEqual(received, data);
    assert.throws(() => server.recv(1), WantReadError);
    assert.throws(() => server.recvInto(small, 2000), RangeError);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Connection.recv() throws WantReadError when no data is buffered and bioRead() when nothing is queued", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    using sctx = serverContext(pki);
    using server = new Connection(sctx, null);
    server.setAcceptState();
    assert.throws(() => server.doHandshake(), WantReadError);
    assert.throws(() => server.bioRead(100), WantReadError);
    assert.equal(server.wantRead(), true);
    assert.match(server.getStateString(), /before SSL initialization|error|negotiat/i);
  } finally {
    await pki.cleanup();
  }
});

Deno.test("tryHandshake() returns false where doHandshake() throws WantReadError, true once done, and throws every failure doHandshake() throws", async (t) => {
  const pki = await makeOpensslPki("ec");
  try {
    /** Drives both ends with tryHandshake(); returns each call's result, client first. */
    const drive = (client: Connection, server: Connection): boolean[] => {
      const seen: boolean[] = [];
      for (let round = 0; round < 20; round++) {
        seen.push(client.tryHandshake());
        pump(client, server);
        seen.push(server.tryHandshake());
        pump(server, client);
        if (client.isHandshakeDone() && server.isHandshakeDone()) return seen;
      }
      throw new Error("Handshake did not finish in 20 rounds");
    };

    for (const version of [TLS1_2_VERSION, TLS1_3_VERSION]) {
      await t.step(`a verified TLS 0x${version.toString(16)} handshake completes`, () => {
        using sctx = serverContext(pki);
        using cctx = clientContext(pki);
        cctx.setMaxProtoVersion(version);
        const { client, server } = memoryPair(cctx, sctx);
        using _c = client;
        using _s = server;
        client.setVerifyHostname("localhost");
        const seen = drive(client, server);
        assert.deepEqual(seen.slice(0, 2), [false, false], "both ends first wait for their peer");
        assert.equal(seen.at(-1), true);
        assert.equal(client.tryHandshake(), true, "a finished handshake stays finished");
        assert.equal(server.tryHandshake(), true);
        assert.equal(client.getProtocolVersion(), version);
        const up = random(20_000);
        assert.deepEqual(transfer(client, server, up), up);
      });
    }

    await t.step("a refused certificate throws VerificationError, not false", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki);
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      client.setVerifyHostname("example.com");
      const err = catchError(() => drive(client, server), VerificationError);
      assert.equal(err.verifyCode, 62);
      err.certificate?.close();
    });

    await t.step("what a verify callback throws comes out as thrown", () => {
      using sctx = serverContext(pki);
      using cctx = clientContext(pki);
      const boom = new Error("callback says no");
      cctx.setVerify(VERIFY_PEER, () => {
        throw boom;
      });
      const { client, server } = memoryPair(cctx, sctx);
      using _c = client;
      using _s = server;
      assert.throws(() => drive(client, server), (e) => e === boom);
    });

    await t.step("a closed connection throws ClosedError", () => {
      using sctx = serverContext(pki);
      const conn = new Connection(sctx, null);
      conn.close();
      assert.throws(() => conn.tryHandshake(), ClosedError);
    });
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Verification without any verify callback in the process (the trampoline's fast path) accepts good chains and still details refusals", async () => {
  // A fresh process: the fast path holds only until a first user callback is installed.
  const result = await runSnippet(
    `
    const { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER, VerificationError } = denossl;
    const ca = TestCA.create();
    const stranger = TestCA.create();
    const leaf = ca.issue({ dns: ["localhost"] });
    const sctx = new Context(TLS_METHOD);
    sctx.useCertificate(leaf.certPEM);
    sctx.usePrivateKey(leaf.keyPEM);
    const wire = new Uint8Array(65536);
    const pump = (a: InstanceType<typeof Connection>, b: InstanceType<typeof Connection>): void => {
      while (a.bioPending() > 0) b.bioWrite(wire.subarray(0, a.bioReadInto(wire)));
    };
    const calls: number[] = [];
    function attempt(trust: InstanceType<typeof TestCA>, host: string, callback?: (ok: boolean, depth: number) => boolean): string {
      const cctx = new Context(TLS_METHOD);
      cctx.addCaCerts(trust.certPEM);
      cctx.setVerify(VERIFY_PEER, callback && ((_c, _cert, _e, depth, ok) => { calls.push(depth); return callback(ok, depth); }));
      const client = new Connection(cctx, null);
      const server = new Connection(sctx, null);
      client.setVerifyHostname(host);
      client.setConnectState();
      server.setAcceptState();
      try {
        for (let i = 0; i < 10; i++) {
          const c = client.tryHandshake();
          pump(client, server);
          const s = server.tryHandshake();
          pump(server, client);
          if (c && s) return "ok";
        }
        return "unfinished";
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        const out = "refused " + e.verifyCode + " at depth " + e.depth + " with " + (e.certificate?.subject.commonName ?? "no certificate");
        e.certificate?.close();
        return out;
      } finally {
        client.close();
        server.close();
        cctx.close();
      }
    }
    report({
      before: [attempt(ca, "localhost"), attempt(stranger, "localhost"), attempt(ca, "example.com")],
      counted: attempt(ca, "localhost", (ok) => ok),
      vetoed: attempt(ca, "localhost", (ok, depth) => ok && depth > 0),
      after: [attempt(ca, "localhost"), attempt(stranger, "localhost")],
      calls,
    });`,
    { flags: ["--allow-all"] },
  );
  assert.equal(result.code, 0, result.stderr);
  const r = result.report as Record<string, unknown>;
  assert.deepEqual(r.before, [
    "ok",
    "refused 20 at depth 0 with localhost",
    "refused 62 at depth 0 with localhost",
  ]);
  assert.equal(r.counted, "ok");
  assert.equal(r.vetoed, "refused 50 at depth 0 with localhost");
  assert.deepEqual(r.after, ["ok", "refused 20 at depth 0 with localhost"]);
  assert.deepEqual(r.calls, [1, 0, 1, 0], "the callbacks saw root then leaf, each time");
});

Deno.test("bioReadInto() takes pending ciphertext into the caller's buffer, bounded by nbytes, and says WantReadError when none is pending; bioPending() counts it", () => {
  {
    using cctx = new Context(TLS_METHOD);
    using a = new Connection(cctx, null);
    using b = new Connection(cctx, null);
    a.setConnectState();
    b.setConnectState();
    a.setTlsextHostName("example.com");
    b.setTlsextHostName("example.com");
    assert.throws(() => a.doHandshake(), WantReadError);
    // The client hello has random parts: compare sizes, and bytes against a second read path.
    const waiting = a.bioPending();
    const hello = a.bioRead(65536);
    assert.equal(waiting, hello.length, "bioPending() counted the whole hello");
    assert.equal(a.bioPending(), 0);
    assert.throws(() => a.bioReadInto(new Uint8Array(10)), WantReadError);
    assert.equal(b.bioPending(), 0, "nothing before the handshake starts");
    assert.throws(() => b.doHandshake(), WantReadError);
    const buf = new Uint8Array(65536).fill(0xee);
    const n = b.bioReadInto(buf, 100);
    assert.equal(n, 100, "nbytes bounds the read");
    assert.equal(b.bioPending(), hello.length - 100, "bioPending() counts what is left");
    const rest = b.bioReadInto(buf.subarray(100));
    assert.equal(b.bioPending(), 0);
    assert.equal(n + rest, hello.length, "both hellos are the same size");
    assert.equal(buf[0], 0x16, "a handshake record");
    assert.equal(buf[n + rest], 0xee, "nothing written past the data");
    assert.throws(() => b.bioReadInto(buf, 0), RangeError);
    assert.throws(() => b.bioReadInto(buf, buf.length + 1), RangeError);
    assert.throws(() => b.bioReadInto("x" as unknown as Uint8Array), TypeError);
  }
  {
    // With a transport the connection moves its own ciphertext: the BIO methods refuse.
    using cctx = new Context(TLS_METHOD);
    using streamed = new Connection(cctx, {
      read: () => Promise.resolve(null),
      write: (p: Uint8Array) => Promise.resolve(p.length),
    });
    assert.throws(() => streamed.bioPending(), TypeError);
    assert.throws(() => streamed.bioRead(10), TypeError);
  }
});

Deno.test("A Context refuses changes once a Connection was made from it", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    using ctx = serverContext(pki);
    assert.equal(ctx.inUse, false);
    using _conn = new Connection(ctx, null);
    assert.equal(ctx.inUse, true);
    assert.throws(() => ctx.setCipherList("ECDHE+AESGCM"), TypeError);
    assert.throws(() => ctx.setVerify(VERIFY_PEER), TypeError);
    assert.throws(() => ctx.useCertificateFile(pki.leaf.certFile), TypeError);
    // Reading stays allowed.
    assert.equal(typeof ctx.getOptions(), "number");
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Closing a Context leaves its Connections working", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    const sctx = serverContext(pki);
    const cctx = clientContext(pki);
    const { client, server } = memoryPair(cctx, sctx);
    sctx.close();
    cctx.close();
    handshakeInMemory(client, server);
    assert.deepEqual(
      transfer(client, server, text.encode("still works")),
      text.encode("still works"),
    );
    client.close();
    server.close();
  } finally {
    await pki.cleanup();
  }
});

Deno.test("Every method on a closed Context or Connection throws ClosedError; close() is idempotent", async () => {
  const pki = await makeOpensslPki("ec");
  try {
    const ctx = serverContext(pki);
    const conn = new Connection(ctx, null);
    conn.close();
    conn.close();
    ctx.close();
    ctx.close();
    assert.equal(conn.closed, true);
    assert.equal(ctx.closed, true);
    const skip = new Set(["constructor", "close", "_markUsed"]);
    const args: Record<string, unknown[]> = {
      recv: [10],
      read: [new Uint8Array(10)],
      write: [new Uint8Array(10)],
      recvInto: [new Uint8Array(10)],
      send: ["x"],
      sendall: ["x"],
      bioRead: [10],
      bioWrite: ["x"],
      setVerify: [0],
      setVerifyDepth: [1],
      setShutdown: [0],
      setVerifyHostname: ["localhost"],
      setTlsextHostName: ["localhost"],
      setContext: [new Context(TLS_METHOD)],
    };
    let checked = 0;
    for (const [obj, proto] of [[conn, Connection.prototype], [ctx, Context.prototype]] as const) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (skip.has(name)) continue;
        const desc = Object.getOwnPropertyDescriptor(proto, name)!;
        // Informational getters and internals stay readable after close.
        if (
          [
            "closed",
            "inUse",
            "transportMode",
            "nativeFallbackReason",
            "localAddr",
            "remoteAddr",
          ].includes(name) ||
          name.startsWith("_")
        ) continue;
        const call = desc.get
          ? () => (obj as unknown as Record<string, unknown>)[name]
          : () =>
            (desc.value as (...a: unknown[]) => unknown).apply(
              obj,
              args[name] ?? [pki.leaf.certFile],
            );
        const what = `${proto.constructor.name}.${name}`;
        let result: unknown;
        try {
          result = call();
        } catch (e) {
          assert.ok(e instanceof ClosedError, `${what} threw ${e}`);
          checked++;
          continue;
        }
        // Async methods reject instead of throwing.
        assert.ok(result instanceof Promise, `${what} did not throw`);
        await assert.rejects(result, ClosedError, what);
        checked++;
      }
    }
    (args.setContext![0] as Context).close();
    assert.ok(checked > 40, `checked ${checked} methods`);
  } finally {
    await pki.cleanup();
  }
});
