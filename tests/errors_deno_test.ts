/**
 * denossl's errors as Deno's: each failure is the `Deno.errors` class that
 * `Deno.connectTls` / `Deno.listenTls` throw for the same peer, found by
 * running both against the same local server, and its message says what
 * probably happened with OpenSSL's words kept.
 */

import assert from "node:assert/strict";
import net from "node:net";
import {
  ClosedError,
  Connection,
  connectTls,
  Context,
  listenTls,
  SSLError,
  SysCallError,
  TestCA,
  TLS_SERVER_METHOD,
  VerificationError,
  WantReadError,
  WantWriteError,
  WantX509LookupError,
  ZeroReturnError,
} from "../mod.ts";
import type { OpenSSLErrorEntry } from "../mod.ts";

/** The `Deno.errors` classes a value is an instance of. */
function denoClasses(e: unknown): string[] {
  return Object.entries(Deno.errors)
    .filter(([, cls]) => e instanceof (cls as new () => Error))
    .map(([name]) => name);
}

/** What a promise rejected with; fails when it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

/** A plain TCP server that answers the first bytes it reads with `reply`, then `end`s. */
function rawServer(
  reply: (conn: Deno.TcpConn) => Promise<void>,
): { port: number; done: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      tasks.push((async () => {
        try {
          await conn.read(new Uint8Array(4096));
          await reply(conn);
        } catch {
          /* the client may be gone */
        } finally {
          try {
            conn.close();
          } catch { /* closed by reply */ }
        }
      })());
    }
  })();
  return {
    port: listener.addr.port,
    done: async () => {
      listener.close();
      await accepting;
      await Promise.all(tasks);
    },
  };
}

/** Runs one client against a server made twice: Deno's error, then denossl's. */
async function bothClients(
  server: () => { port: number; done: () => Promise<void> },
  options: { caCerts?: string[]; alpnProtocols?: string[] } = {},
): Promise<{ deno: unknown; ours: unknown }> {
  const errors: unknown[] = [];
  for (const connect of [Deno.connectTls, connectTls] as const) {
    const s = server();
    try {
      errors.push(
        await rejection((async () => {
          const conn = await connect({ hostname: "localhost", port: s.port, ...options });
          try {
            await conn.handshake();
          } finally {
            conn.close();
          }
        })()),
      );
    } finally {
      await s.done();
    }
  }
  return { deno: errors[0], ours: errors[1] };
}

Deno.test("connectTls() fails with the Deno.errors class Deno.connectTls throws, and stays an SSLError", async (t) => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  const cert = leaf.cert.toPEM();
  const key = leaf.key.toPEM();
  const tlsServer = (): { port: number; done: () => Promise<void> } => {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    const accepting = (async () => {
      for await (const conn of listener) {
        await conn.handshake().catch(() => {});
        conn.close();
      }
    })();
    return {
      port: listener.addr.port,
      done: async () => {
        listener.close();
        await accepting;
      },
    };
  };

  await t.step(
    "a certificate from an untrusted CA: VerificationError and InvalidData",
    async () => {
      const { deno, ours } = await bothClients(tlsServer);
      assert.deepEqual(denoClasses(deno), ["InvalidData"]);
      assert.ok(ours instanceof VerificationError && ours instanceof SSLError);
      assert.ok(ours instanceof Deno.errors.InvalidData);
      assert.deepEqual(denoClasses(ours), denoClasses(deno));
    },
  );

  await t.step("a fatal alert from the server: InvalidData, and the message names it", async () => {
    const handshakeFailure = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    const { deno, ours } = await bothClients(
      () => rawServer(async (c) => void await c.write(handshakeFailure)),
      { caCerts: [ca.cert.toPEM()] },
    );
    assert.deepEqual(denoClasses(deno), ["InvalidData"]);
    assert.ok(ours instanceof SSLError && !(ours instanceof VerificationError));
    assert.deepEqual(denoClasses(ours), ["InvalidData"]);
    assert.match(
      ours.message,
      /^The peer refused the handshake.*\(OpenSSL: sslv3 alert handshake failure\)$/,
    );
  });

  await t.step(
    "a peer that is not TLS (an HTTP server): InvalidData, 'is this a TLS port?'",
    async () => {
      const http = new TextEncoder().encode(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
      );
      const { deno, ours } = await bothClients(
        () => rawServer(async (c) => void await c.write(http)),
        { caCerts: [ca.cert.toPEM()] },
      );
      assert.deepEqual(denoClasses(deno), ["InvalidData"]);
      assert.ok(ours instanceof SSLError);
      assert.deepEqual(denoClasses(ours), ["InvalidData"]);
      assert.equal(
        ours.message,
        "The peer did not answer with TLS: is this a TLS port? (OpenSSL: wrong version number)",
      );
      assert.deepEqual(ours.errors.map((e) => e.reason), ["wrong version number"]);
    },
  );

  await t.step("no ALPN protocol in common: InvalidData", async () => {
    const alpnServer = (): { port: number; done: () => Promise<void> } => {
      const listener = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert,
        key,
        alpnProtocols: ["h2"],
      });
      const accepting = (async () => {
        for await (const conn of listener) {
          await conn.handshake().catch(() => {});
          conn.close();
        }
      })();
      return {
        port: listener.addr.port,
        done: async () => {
          listener.close();
          await accepting;
        },
      };
    };
    const { deno, ours } = await bothClients(alpnServer, {
      caCerts: [ca.cert.toPEM()],
      alpnProtocols: ["http/1.1"],
    });
    assert.deepEqual(denoClasses(deno), ["InvalidData"]);
    assert.ok(ours instanceof SSLError);
    assert.deepEqual(denoClasses(ours), ["InvalidData"]);
    assert.match(ours.message, /ALPN.*\(OpenSSL: tlsv1 alert no application protocol\)$/);
  });

  // Deno says UnexpectedEof, ConnectionReset: an SSLError has one prototype chain, through
  // InvalidData, so these stay InvalidData (docs/MIGRATING.md says what to catch instead).
  await t.step(
    "the server closes without a word: SysCallError (errno -1), InvalidData",
    async () => {
      const { deno, ours } = await bothClients(() => rawServer(async () => {}), {
        caCerts: [ca.cert.toPEM()],
      });
      assert.deepEqual(denoClasses(deno), ["UnexpectedEof"]);
      assert.ok(ours instanceof SysCallError && ours instanceof SSLError);
      assert.equal(ours.errno, -1);
      assert.equal(ours.code, "UNEXPECTED_EOF");
      assert.deepEqual(denoClasses(ours), ["InvalidData"]);
    },
  );

  await t.step(
    "the server sends close_notify mid-handshake: ZeroReturnError, InvalidData",
    async () => {
      const closeNotify = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00]);
      const { deno, ours } = await bothClients(
        () =>
          rawServer(async (c) => {
            await c.write(closeNotify);
            await new Promise((r) => setTimeout(r, 100));
          }),
        { caCerts: [ca.cert.toPEM()] },
      );
      assert.deepEqual(denoClasses(deno), ["UnexpectedEof"]);
      assert.ok(ours instanceof ZeroReturnError && ours instanceof SSLError);
      assert.deepEqual(denoClasses(ours), ["InvalidData"]);
    },
  );

  await t.step(
    "the server resets the connection: SysCallError (ECONNRESET), InvalidData",
    async () => {
      const errors: unknown[] = [];
      for (const connect of [Deno.connectTls, connectTls] as const) {
        const server = net.createServer((s) => s.once("data", () => s.resetAndDestroy()));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const { port } = server.address() as net.AddressInfo;
        try {
          errors.push(
            await rejection((async () => {
              const conn = await connect({
                hostname: "localhost",
                port,
                caCerts: [ca.cert.toPEM()],
              });
              try {
                await conn.handshake();
              } finally {
                conn.close();
              }
            })()),
          );
        } finally {
          await new Promise<void>((r) => server.close(() => r()));
        }
      }
      const [deno, ours] = errors;
      assert.deepEqual(denoClasses(deno), ["ConnectionReset"]);
      assert.ok(ours instanceof SysCallError && ours instanceof SSLError);
      assert.equal(ours.code, "ECONNRESET");
      assert.deepEqual(denoClasses(ours), ["InvalidData"]);
    },
  );

  await t.step("a read after close: ClosedError and BadResource, as Deno's", async () => {
    const s = tlsServer();
    try {
      const conn = await connectTls({
        hostname: "localhost",
        port: s.port,
        caCerts: [ca.cert.toPEM()],
      });
      await conn.handshake();
      conn.close();
      const e = await rejection(conn.read(new Uint8Array(1)));
      assert.ok(e instanceof ClosedError);
      assert.deepEqual(denoClasses(e), ["BadResource"]);
      assert.ok(!(e instanceof SSLError));
    } finally {
      await s.done();
    }
  });
});

Deno.test("a denossl server's errors say what the client did wrong, as InvalidData", async (t) => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });

  await t.step("a plain HTTP request to listenTls()", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.cert.toPEM(),
      key: leaf.key.toPEM(),
    });
    try {
      const accepted = (async () => {
        const conn = await listener.accept();
        try {
          return await rejection(conn.handshake());
        } finally {
          conn.close();
        }
      })();
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      await client.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      const e = await accepted;
      await client.read(new Uint8Array(64)).catch(() => null);
      client.close();
      assert.ok(e instanceof SSLError && e instanceof Deno.errors.InvalidData);
      assert.equal(
        e.message,
        "The client sent a plain HTTP request to this TLS port (OpenSSL: http request)",
      );
    } finally {
      listener.close();
    }
  });

  await t.step("a server Context with no certificate loaded", async () => {
    using ctx = new Context(TLS_SERVER_METHOD);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const served = (async () => {
        const tcp = await listener.accept();
        const conn = new Connection(ctx, tcp);
        conn.setAcceptState();
        try {
          return await rejection(conn.handshake());
        } finally {
          conn.close();
        }
      })();
      const client = await rejection(
        connectTls({ hostname: "localhost", port: listener.addr.port, caCerts: [ca.cert.toPEM()] })
          .then(async (c) => {
            try {
              await c.handshake();
            } finally {
              c.close();
            }
          }),
      );
      const e = await served;
      assert.ok(e instanceof SSLError && e instanceof Deno.errors.InvalidData);
      assert.match(e.message, /^This server has no certificate and key loaded/);
      assert.match(e.message, /\(OpenSSL: no shared cipher\)$/);
      assert.deepEqual(e.errors.map((x) => x.reason), ["no shared cipher"]);
      assert.ok(client instanceof Deno.errors.InvalidData, "the client sees the alert");
    } finally {
      listener.close();
    }
  });
});

Deno.test("every SSLError is a Deno.errors.InvalidData through its own prototype chain", async (t) => {
  const all = [
    new SSLError(),
    new VerificationError({
      verifyCode: 18,
      verifyMessage: "self-signed certificate",
      depth: 0,
      certificate: null,
    }),
    new WantReadError(),
    new WantWriteError(),
    new WantX509LookupError(),
    new ZeroReturnError(),
    new SysCallError(-1),
    new SysCallError(Deno.build.os === "linux" ? 104 : 54),
  ];

  await t.step("InvalidData, SSLError and Error, with Deno's class in the chain", () => {
    for (const e of all) {
      assert.deepEqual(denoClasses(e), ["InvalidData"], e.name);
      assert.ok(e instanceof SSLError && e instanceof Error);
      assert.ok(Object.prototype.isPrototypeOf.call(Deno.errors.InvalidData.prototype, e));
      assert.match(String(e.stack), new RegExp(`^${e.name}: `));
    }
  });

  await t.step("node:assert's class checks (which skip Symbol.hasInstance) see each class", () => {
    assert.throws(() => {
      throw new WantReadError();
    }, WantReadError);
    assert.throws(() => {
      throw new SysCallError(-1);
    }, SSLError);
    assert.throws(() => {
      throw new ZeroReturnError();
    }, Deno.errors.InvalidData);
  });

  await t.step("a reset keeps its errno name, on Linux and the BSDs", () => {
    assert.equal(new SysCallError(Deno.build.os === "linux" ? 104 : 54).code, "ECONNRESET");
  });

  await t.step("ClosedError is BadResource and no SSLError", () => {
    const e = new ClosedError("Connection");
    assert.deepEqual(denoClasses(e), ["BadResource"]);
    assert.ok(!(e instanceof SSLError));
  });
});

Deno.test("new SSLError() takes a message, or queue entries and a message", async (t) => {
  const entry: OpenSSLErrorEntry = {
    code: 0x0a00010b,
    library: "SSL routines",
    reason: "wrong version number",
    libraryCode: 20,
    reasonCode: 267,
  };

  await t.step("a message alone, with or without options", () => {
    const e = new SSLError("The handshake went wrong");
    assert.equal(e.message, "The handshake went wrong");
    assert.deepEqual(e.errors, []);
    const cause = new Error("under");
    assert.equal(new SSLError("wrapped", { cause }).cause, cause);
  });

  await t.step(
    "entries and a message, entries alone (message from the hint table), nothing",
    () => {
      assert.equal(new SSLError([entry], "mine").message, "mine");
      assert.equal(
        new SSLError([entry]).message,
        "The peer did not answer with TLS: is this a TLS port? (OpenSSL: wrong version number)",
      );
      assert.equal(new SSLError([entry, entry]).message.match(/wrong version number/g)?.length, 1);
      assert.equal(new SSLError().message, "Unknown OpenSSL error (empty error queue)");
      const cause = new Error("under");
      assert.equal(new SSLError([entry], "m", { cause }).cause, cause);
    },
  );

  await t.step("anything else is a TypeError", () => {
    assert.throws(() => new (SSLError as unknown as new (x: unknown) => SSLError)(42), TypeError);
  });
});

Deno.test("the error classes import and work on a host without Deno", () => {
  const out = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const saved = globalThis.Deno;
      delete globalThis.Deno;
      const m = await import(${
        JSON.stringify(new URL("../errors/ssl_error.ts", import.meta.url).href)
      });
      const reset = new m.SysCallError(104);
      const result = [reset instanceof m.SSLError, reset instanceof Error, new m.SSLError("x").message,
        new m.ClosedError("C") instanceof Error, new m.WantReadError() instanceof m.SSLError,
        Object.getPrototypeOf(m.SSLError.prototype) === Error.prototype];
      globalThis.Deno = saved;
      console.log(JSON.stringify(result));`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
    true,
    true,
    "x",
    true,
    true,
    true,
  ]);
});

Deno.test("common key mistakes get one sentence, with OpenSSL's words kept", async (t) => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  using other = ca.issue({ dns: ["other"] });

  await t.step("a private key that does not belong to the certificate", () => {
    using ctx = new Context(TLS_SERVER_METHOD);
    ctx.useCertificate(leaf.cert);
    assert.throws(() => ctx.usePrivateKey(other.key), (e: unknown) => {
      assert.ok(e instanceof SSLError);
      assert.equal(
        e.message,
        "Could not use private key: the private key does not belong to the certificate " +
          "(OpenSSL: key values mismatch)",
      );
      assert.deepEqual(e.errors.map((x) => x.reason), ["key values mismatch"]);
      return true;
    });
  });

  await t.step("a wrong passphrase for an encrypted PEM key, each entry once", () => {
    const pem = leaf.key.toPEM({ passphrase: "right" });
    using ctx = new Context(TLS_SERVER_METHOD);
    assert.throws(() => ctx.usePrivateKey(pem, "wrong"), (e: unknown) => {
      assert.ok(e instanceof SSLError);
      assert.equal(
        e.message,
        "Could not decrypt PEM private key: wrong passphrase " +
          "(OpenSSL: bad decrypt; pkcs12 cipherfinal error)",
      );
      assert.equal(e.errors.length, 2);
      return true;
    });
  });
});
