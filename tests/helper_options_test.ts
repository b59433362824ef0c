/**
 * The helpers' options beyond Deno's: `session` (resumption), `requestOcsp`
 * and `ocspResponse` (OCSP stapling), `passphrase` (encrypted keys), `pfx`
 * (PKCS#12 bundles) and `groups`, against denossl on both ends and the
 * `openssl` CLI (`s_server -status_file`, `s_client -status`, `-groups`). Keys
 * and bundles are made with `openssl genpkey -aes256` and `openssl pkcs12 -export`.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  connectTls,
  Context,
  listenTls,
  type ListenTlsOptions,
  type Session,
  SSLError,
  startTls,
  TestCA,
  TLS_SERVER_METHOD,
  type TlsConnection,
  type TlsListener,
} from "../mod.ts";
import { freePort, Peer, type Scope, withDeadline } from "./_peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const ca = TestCA.create({ keyType: "ec", intermediate: true });
const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
const dir = await Deno.makeTempDir({ prefix: "denossl-options-" });
globalThis.addEventListener("unload", () => {
  leaf.close();
  ca.close();
  Deno.removeSync(dir, { recursive: true });
});

function openssl(...args: string[]): string {
  const { success, stdout, stderr } = new Deno.Command("openssl", {
    args,
    stdout: "piped",
    stderr: "piped",
  })
    .outputSync();
  if (!success) throw new Error(`openssl ${args.join(" ")}: ${dec.decode(stderr)}`);
  return dec.decode(stdout);
}

// An encrypted key from openssl genpkey, and a self-signed certificate for it.
openssl(
  "genpkey",
  "-algorithm",
  "EC",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-aes256",
  "-pass",
  "pass:s3cret",
  "-out",
  `${dir}/enc.key`,
);
openssl(
  "req",
  "-new",
  "-x509",
  "-key",
  `${dir}/enc.key`,
  "-passin",
  "pass:s3cret",
  "-subj",
  "/CN=localhost",
  "-addext",
  "subjectAltName=DNS:localhost,IP:127.0.0.1",
  "-days",
  "2",
  "-out",
  `${dir}/self.pem`,
);
const encryptedKey = Deno.readTextFileSync(`${dir}/enc.key`);
const selfCert = Deno.readTextFileSync(`${dir}/self.pem`);
// A PKCS#12 bundle of the leaf, its key and its intermediate, from openssl pkcs12 -export.
Deno.writeTextFileSync(`${dir}/chain.pem`, leaf.chainPEM);
Deno.writeTextFileSync(`${dir}/leaf.key`, leaf.keyPEM);
Deno.writeTextFileSync(`${dir}/ca.pem`, ca.certPEM);
Deno.writeTextFileSync(`${dir}/intermediate.pem`, ca.intermediate!.certPEM);
openssl(
  "pkcs12",
  "-export",
  "-in",
  `${dir}/chain.pem`,
  "-inkey",
  `${dir}/leaf.key`,
  "-passout",
  "pass:b0ndle",
  "-out",
  `${dir}/leaf.p12`,
);
const pfx = Deno.readFileSync(`${dir}/leaf.p12`);
/** A DER OCSPResponse (status malformedRequest, no body): parsable by openssl, not a real answer. */
const staple = new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x01]);
Deno.writeFileSync(`${dir}/staple.der`, staple);

/** A listenTls server whose clients each get "hello" after the handshake; closed after `fn`. */
async function withServer<T>(
  options: ListenTlsOptions,
  fn: (port: number, listener: TlsListener) => Promise<T>,
): Promise<T> {
  const listener = listenTls({ hostname: "127.0.0.1", port: 0, ...options });
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      served.push((async () => {
        try {
          await conn.handshake();
          await conn.write(enc.encode("hello"));
          await conn.read(new Uint8Array(16)); // until the client closes
        } catch { /* the client's outcome is what the tests look at */ }
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

/** Reads the server's "hello" (and so a TLS 1.3 server's tickets). */
async function greeting(conn: TlsConnection): Promise<string> {
  const buf = new Uint8Array(16);
  const n = await conn.read(buf);
  return dec.decode(buf.subarray(0, n ?? 0));
}

const leafServer: ListenTlsOptions = { cert: leaf.chainPEM, key: leaf.keyPEM };
const trustCa = { hostname: "localhost", caCerts: [ca.certPEM] };

/** `openssl s_server` on a free port with the fixtures' leaf and intermediate, for `naccept` clients. */
async function sServer(
  scope: Scope,
  naccept: number,
  extra: string[],
): Promise<{ port: number; peer: Peer }> {
  const port = freePort();
  const peer = scope.adopt(
    new Peer("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-naccept",
      String(naccept),
      "-cert",
      `${dir}/chain.pem`,
      "-key",
      `${dir}/leaf.key`,
      "-cert_chain",
      `${dir}/intermediate.pem`,
      ...extra,
    ], { stdin: true }),
  );
  await peer.listening(port, scope.signal);
  return { port, peer };
}

Deno.test("session: connectTls and startTls resume a session from getSession(); one made for another name is a TypeError", async (t) => {
  await withServer(leafServer, async (port) => {
    let session: Session | null = null;
    await t.step("the first connection is a full handshake; its session is resumable", async () => {
      await using first = await connectTls({ ...trustCa, port });
      assert.equal(await greeting(first), "hello");
      assert.equal(first.sessionReused(), false);
      session = first.getSession();
      assert.ok(session?.isResumable());
    });
    await t.step("connectTls({ session }) resumes it", async () => {
      await using again = await connectTls({ ...trustCa, port, session: session! });
      assert.equal(await greeting(again), "hello");
      assert.equal(again.sessionReused(), true);
    });
    await t.step("startTls(tcp, { session }) resumes it", async () => {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      await using again = await startTls(tcp, { ...trustCa, session: session! });
      assert.equal(again.sessionReused(), true);
    });
    await t.step(
      "a session offered for a name its certificate does not match is a TypeError",
      async () => {
        await assert.rejects(
          connectTls({
            hostname: "127.0.0.1",
            serverName: "other.example",
            port,
            caCerts: [ca.certPEM],
            session: session!,
          }),
          (e: unknown) => e instanceof TypeError && /does not match other\.example/.test(e.message),
        );
      },
    );
    await t.step("a session that is not a Session is a TypeError", async () => {
      await assert.rejects(
        // @ts-expect-error: the wrong type on purpose
        connectTls({ ...trustCa, port, session: "abc" }),
        TypeError,
      );
    });
    (session as Session | null)?.close();
  });
});

Deno.test("OCSP stapling: ocspResponse staples to clients that ask (requestOcsp, s_client -status); requestOcsp reads s_server -status_file's staple", async (t) => {
  await t.step("denossl ↔ denossl: bytes, and a function of the server name", async () => {
    await withServer({ ...leafServer, ocspResponse: staple }, async (port) => {
      await using asked = await connectTls({ ...trustCa, port, requestOcsp: true });
      assert.deepEqual(asked.getOcspResponse(), staple);
      await using notAsked = await connectTls({ ...trustCa, port });
      assert.equal(notAsked.getOcspResponse(), null);
    });
    const names: (string | null)[] = [];
    const answer = (name: string | null): Uint8Array | null => {
      names.push(name);
      return name === "localhost" ? staple : null;
    };
    await withServer({ ...leafServer, ocspResponse: answer }, async (port) => {
      await using byName = await connectTls({ ...trustCa, port, requestOcsp: true });
      assert.deepEqual(byName.getOcspResponse(), staple);
      await using byIp = await connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [ca.certPEM],
        requestOcsp: true,
      });
      assert.equal(byIp.getOcspResponse(), null);
    });
    assert.deepEqual(names, ["localhost", null]);
  });
  await t.step("openssl s_client -status sees listenTls's staple", async () => {
    await withServer(
      { ...leafServer, ocspResponse: staple },
      (port) =>
        withDeadline("s_client -status", async (scope) => {
          const peer = scope.adopt(
            new Peer("openssl", [
              "s_client",
              "-connect",
              `127.0.0.1:${port}`,
              "-servername",
              "localhost",
              "-status",
              "-CAfile",
              `${dir}/ca.pem`,
            ]),
          );
          const { stdout } = await peer.finished();
          assert.match(dec.decode(stdout), /OCSP Response Status: malformedrequest \(0x1\)/i);
        }),
    );
  });
  await t.step(
    "connectTls({ requestOcsp: true }) reads openssl s_server -status_file's staple",
    () =>
      withDeadline("s_server -status_file", async (scope) => {
        const { port } = await sServer(scope, 1, ["-status_file", `${dir}/staple.der`]);
        await using conn = await connectTls({ ...trustCa, port, requestOcsp: true });
        assert.deepEqual(conn.getOcspResponse(), staple);
      }),
  );
  await t.step("bad values are TypeErrors", async () => {
    assert.throws(() => listenTls({ ...leafServer, ocspResponse: new Uint8Array() }), TypeError);
    // @ts-expect-error: the wrong type on purpose
    assert.throws(() => listenTls({ ...leafServer, ocspResponse: "der" }), TypeError);
    // @ts-expect-error: the wrong type on purpose
    await assert.rejects(connectTls({ ...trustCa, port: 1, requestOcsp: "yes" }), TypeError);
  });
});

Deno.test("passphrase: an openssl genpkey -aes256 key serves with passphrase as a string or a function; without it, or wrong, the error says so", async (t) => {
  const trustSelf = { hostname: "localhost", caCerts: [selfCert] };
  for (
    const [label, passphrase] of [["a string", "s3cret"], ["a function", () => "s3cret"]] as const
  ) {
    await t.step(`listenTls with passphrase as ${label}`, async () => {
      await withServer({ cert: selfCert, key: encryptedKey, passphrase }, async (port) => {
        await using conn = await connectTls({ ...trustSelf, port });
        assert.equal(await greeting(conn), "hello");
      });
    });
  }
  await t.step("no passphrase: the error names the passphrase option and setPasswdCb", () => {
    assert.throws(
      () => listenTls({ cert: selfCert, key: encryptedKey }),
      (e: unknown) =>
        e instanceof SSLError && /passphrase option/.test(e.message) &&
        /setPasswdCb/.test(e.message),
    );
  });
  await t.step("a wrong passphrase says wrong passphrase", () => {
    assert.throws(
      () => listenTls({ cert: selfCert, key: encryptedKey, passphrase: "nope" }),
      (e: unknown) => e instanceof SSLError && /wrong passphrase/.test(e.message),
    );
  });
  await t.step("a client key: the cached context is not served to a wrong passphrase", async () => {
    const client = { hostname: "127.0.0.1", port: freePort(), cert: selfCert, key: encryptedKey };
    // Nothing listens: a good passphrase gets as far as connecting, a wrong one fails before.
    await assert.rejects(
      connectTls({ ...client, passphrase: "s3cret" }),
      Deno.errors.ConnectionRefused,
    );
    await assert.rejects(connectTls({ ...client, passphrase: "nope" }), SSLError);
    await assert.rejects(connectTls({ ...client, passphrase: () => "nope" }), SSLError);
  });
  await t.step("Context.usePrivateKey(pem) asks the setPasswdCb callback", () => {
    using ctx = new Context(TLS_SERVER_METHOD);
    let asked = 0;
    ctx.setPasswdCb(() => {
      asked++;
      return "s3cret";
    });
    ctx.useCertificate(selfCert);
    ctx.usePrivateKey(encryptedKey);
    ctx.checkPrivateKey();
    assert.equal(asked, 1);
  });
  await t.step("Context.usePrivateKey(pem): the callback's exception comes out", () => {
    using ctx = new Context(TLS_SERVER_METHOD);
    const boom = new Error("vault unreachable");
    ctx.setPasswdCb(() => {
      throw boom;
    });
    assert.throws(() => ctx.usePrivateKey(encryptedKey), (e: unknown) => e === boom);
  });
});

Deno.test("pfx: an openssl pkcs12 -export bundle serves its certificate and chain with its passphrase", async (t) => {
  await t.step("listenTls({ pfx, passphrase }): the client verifies up to the root", async () => {
    await withServer({ pfx, passphrase: "b0ndle" }, async (port) => {
      await using conn = await connectTls({ ...trustCa, port });
      assert.equal(await greeting(conn), "hello");
      assert.equal(conn.getPeerCertChain()?.length, 2); // the leaf and the intermediate
    });
  });
  await t.step("a wrong passphrase is an SSLError that says so", () => {
    assert.throws(
      () => listenTls({ pfx, passphrase: "nope" }),
      (e: unknown) => e instanceof SSLError && /Wrong passphrase/.test(e.message),
    );
  });
  await t.step("pfx with cert or key, or empty, is a TypeError", () => {
    assert.throws(() => listenTls({ pfx, passphrase: "b0ndle", cert: leaf.chainPEM }), TypeError);
    assert.throws(() => listenTls({ pfx: new Uint8Array(), passphrase: "b0ndle" }), TypeError);
  });
});

Deno.test("groups: the key exchange groups are the ones named, against denossl and openssl s_server -groups / s_client -groups", async (t) => {
  await t.step('listenTls({ groups: ["P-384"] }) and a default client agree on P-384', async () => {
    await withServer({ ...leafServer, groups: ["P-384"] }, async (port) => {
      await using conn = await connectTls({ ...trustCa, port });
      assert.equal(conn.getGroupName(), "secp384r1");
    });
  });
  await t.step('a client with groups ["X25519"] fails against that server', async () => {
    await withServer({ ...leafServer, groups: ["P-384"] }, async (port) => {
      await assert.rejects(connectTls({ ...trustCa, port, groups: ["X25519"] }), SSLError);
    });
  });
  await t.step(
    'openssl s_server -groups P-521: refused by default, served with groups ["P-521"]',
    () =>
      withDeadline("s_server -groups", async (scope) => {
        const { port } = await sServer(scope, 2, ["-groups", "P-521"]);
        await assert.rejects(connectTls({ ...trustCa, port }), SSLError);
        await using conn = await connectTls({ ...trustCa, port, groups: ["P-521"] });
        assert.equal(conn.getGroupName(), "secp521r1");
      }),
  );
  await t.step(
    'openssl s_client -groups X448 reaches listenTls({ groups: ["X448"] })',
    async () => {
      await withServer(
        { ...leafServer, groups: ["X448"] },
        (port) =>
          withDeadline("s_client -groups", async (scope) => {
            const peer = scope.adopt(
              new Peer("openssl", [
                "s_client",
                "-connect",
                `127.0.0.1:${port}`,
                "-groups",
                "X448",
                "-CAfile",
                `${dir}/ca.pem`,
              ]),
            );
            const { stdout } = await peer.finished();
            assert.match(dec.decode(stdout), /Server Temp Key: X448/);
            assert.match(dec.decode(stdout), /Verify return code: 0 \(ok\)/);
          }),
      );
    },
  );
  await t.step("bad lists are TypeErrors, unknown names RangeErrors", () => {
    assert.throws(() => listenTls({ ...leafServer, groups: [] }), TypeError);
    assert.throws(() => listenTls({ ...leafServer, groups: ["X25519:P-256"] }), TypeError);
    assert.throws(() => listenTls({ ...leafServer, groups: [""] }), TypeError);
    assert.throws(() => listenTls({ ...leafServer, groups: ["P-999"] }), RangeError);
  });
});

Deno.test("listenTls takes Deno's listener options: no port picks one, tcpBacklog passes through, transport and keyFormat are checked", () => {
  using l = listenTls({
    hostname: "127.0.0.1",
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
    tcpBacklog: 16,
  });
  assert.ok(l.addr.port > 0);
  // @ts-expect-error: the wrong type on purpose
  assert.throws(() => listenTls({ ...leafServer, transport: "udp" }), TypeError);
  // @ts-expect-error: the wrong type on purpose
  assert.throws(() => listenTls({ ...leafServer, keyFormat: "der" }), TypeError);
});
