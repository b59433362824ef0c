/**
 * `Context.setCertStore` / `getCertStore`: an `X509Store` with CRLs, flags,
 * purpose and time as the store a context verifies with, in the handshake.
 * The CRL comes from a real `openssl ca` directory (`-revoke`, `-gencrl`).
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  CertificateBuilder,
  connectTls,
  Context,
  listenTls,
  PKey,
  SSLError,
  TestCA,
  TLS_METHOD,
  VerificationError,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
  X509,
  X509Store,
  X509StoreFlags,
} from "../mod.ts";
import { handshakeInMemory, memoryPair } from "./_pair.ts";
import { liveHandles } from "../ffi/_handles.ts";
import { openssl, opensslRoot } from "./_pki.ts";

/** `X509_V_ERR_CERT_REVOKED`. */
const X509_V_ERR_CERT_REVOKED = 23;
/** `X509_V_ERR_UNABLE_TO_GET_CRL`. */
const X509_V_ERR_UNABLE_TO_GET_CRL = 3;
/** `X509_V_ERR_INVALID_PURPOSE`. */
const X509_V_ERR_INVALID_PURPOSE = 26;
/** `X509_V_ERR_CERT_HAS_EXPIRED`. */
const X509_V_ERR_CERT_HAS_EXPIRED = 10;

const CA_CONFIG = `
[ca]
default_ca = CA_default
[CA_default]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
certificate = ./ca.pem
private_key = ./ca.key
serial = ./serial
crlnumber = ./crlnumber
default_md = sha256
default_days = 30
default_crl_days = 7
policy = policy_any
copy_extensions = none
[policy_any]
commonName = supplied
[client_cert]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`;

/** A minimal `openssl ca` directory: a CA, two client certificates, alice's revoked. */
interface CrlPki {
  caPEM: string;
  alice: { certPEM: string; keyPEM: string };
  bob: { certPEM: string; keyPEM: string };
  /** The CRL made after alice's revocation. */
  crlPEM: string;
  /** A CRL made before it: revokes nothing. */
  emptyCrlPEM: string;
}

async function makeCrlPki(): Promise<CrlPki> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-crl-" });
  try {
    await Deno.mkdir(`${dir}/newcerts`);
    await Deno.writeTextFile(`${dir}/index.txt`, "");
    await Deno.writeTextFile(`${dir}/serial`, "1000\n");
    await Deno.writeTextFile(`${dir}/crlnumber`, "01\n");
    await Deno.writeTextFile(`${dir}/ca.cnf`, CA_CONFIG);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await opensslRoot(dir, "ca", "/CN=denossl CRL Test CA", "ec");
    for (const name of ["alice", "bob"]) {
      await openssl(
        [
          "req",
          "-new",
          ...ec,
          "-keyout",
          `${name}.key`,
          "-out",
          `${name}.csr`,
          "-subj",
          `/CN=${name}`,
        ],
        dir,
      );
      await openssl([
        "ca",
        "-batch",
        "-config",
        "ca.cnf",
        "-extensions",
        "client_cert",
        "-in",
        `${name}.csr`,
        "-out",
        `${name}.pem`,
      ], dir);
    }
    await openssl(["ca", "-config", "ca.cnf", "-gencrl", "-out", "empty.crl"], dir);
    await openssl(["ca", "-config", "ca.cnf", "-revoke", "alice.pem"], dir);
    await openssl(["ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem"], dir);
    const read = (f: string): Promise<string> => Deno.readTextFile(`${dir}/${f}`);
    return {
      caPEM: await read("ca.pem"),
      alice: { certPEM: await read("alice.pem"), keyPEM: await read("alice.key") },
      bob: { certPEM: await read("bob.pem"), keyPEM: await read("bob.key") },
      crlPEM: await read("crl.pem"),
      emptyCrlPEM: await read("empty.crl"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const pki = await makeCrlPki();
const serverCA = TestCA.create();
const serverLeaf = serverCA.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });

/** A server context that requires client certificates and verifies them with `store`. */
function mtlsServer(store: X509Store | null): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.useCertificate(serverLeaf.cert);
  ctx.usePrivateKey(serverLeaf.key);
  ctx.setVerify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT);
  if (store) ctx.setCertStore(store);
  return ctx;
}

function clientCtx(who: { certPEM: string; keyPEM: string }): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.useCertificateChain(who.certPEM);
  ctx.usePrivateKey(who.keyPEM);
  ctx.addCaCerts(serverCA.cert);
  ctx.setVerify(VERIFY_PEER);
  return ctx;
}

function storeWith(crl: string | null, flags = 0): X509Store {
  const store = new X509Store();
  store.addCert(X509.fromPEM(pki.caPEM));
  if (crl !== null) store.addCRL(crl);
  if (flags) store.setFlags(flags);
  return store;
}

/** Runs a memory handshake; returns the server's error, or null when it succeeded. */
function serverError(server: Context, client: Context): unknown {
  using pair = memoryPair(client, server);
  try {
    handshakeInMemory(pair.client, pair.server);
    return null;
  } catch (e) {
    return e;
  }
}

Deno.test("an mTLS server whose store holds the CRL refuses a client certificate revoked by openssl ca", async (t) => {
  await t.step(
    "over TCP: the server sees a VerificationError naming revocation, the client an alert",
    async () => {
      using store = storeWith(pki.crlPEM, X509StoreFlags.CRL_CHECK);
      using serverCtx = mtlsServer(store);
      await using listener = listenTls({ hostname: "127.0.0.1", port: 0, context: serverCtx });
      const accepted = listener.accept().then(async (conn) => {
        try {
          return await conn.handshake().then(() => null, (e) => e);
        } finally {
          await conn[Symbol.asyncDispose]();
        }
      });
      const clientError = await (async () => {
        await using conn = await connectTls({
          hostname: "127.0.0.1",
          serverName: "localhost",
          port: listener.addr.port,
          caCerts: [serverCA.certPEM],
          cert: pki.alice.certPEM,
          key: pki.alice.keyPEM,
        });
        // TLS 1.3: the client's handshake ends before the server has checked its certificate.
        return await conn.read(new Uint8Array(16)).then(() => null, (e) => e);
      })();
      const serverFailure = await accepted;
      assert.ok(serverFailure instanceof VerificationError, `got ${serverFailure}`);
      assert.equal(serverFailure.verifyCode, X509_V_ERR_CERT_REVOKED);
      assert.match(serverFailure.message, /revoked/);
      assert.equal(serverFailure.certificate?.subject.commonName, "alice");
      assert.ok(clientError instanceof SSLError, `got ${clientError}`);
      assert.match(clientError.message, /revoked/);
    },
  );

  await t.step("through the helpers: listenTls's crls option, as Node's crl", async () => {
    await using listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: serverLeaf.chainPEM,
      key: serverLeaf.keyPEM,
      requireClientCert: true,
      caCerts: [pki.caPEM],
      crls: [pki.crlPEM],
    });
    for (const [who, revoked] of [[pki.alice, true], [pki.bob, false]] as const) {
      const accepted = listener.accept().then(async (conn) => {
        try {
          return await conn.handshake().then(() => null, (e) => e);
        } finally {
          await conn[Symbol.asyncDispose]();
        }
      });
      await using conn = await connectTls({
        hostname: "127.0.0.1",
        serverName: "localhost",
        port: listener.addr.port,
        caCerts: [serverCA.certPEM],
        cert: who.certPEM,
        key: who.keyPEM,
      });
      await conn.read(new Uint8Array(1)).catch(() => {});
      const failure = await accepted;
      if (revoked) {
        assert.ok(failure instanceof VerificationError, `got ${failure}`);
        assert.equal(failure.verifyCode, X509_V_ERR_CERT_REVOKED);
      } else assert.equal(failure, null);
    }
    assert.throws(
      () =>
        listenTls({
          port: 0,
          cert: serverLeaf.chainPEM,
          key: serverLeaf.keyPEM,
          crls: "pem" as never,
        }),
      TypeError,
    );
  });

  await t.step("the same certificate passes without the CRL", () => {
    using store = storeWith(null);
    using server = mtlsServer(store);
    using client = clientCtx(pki.alice);
    assert.equal(serverError(server, client), null);
  });

  await t.step("a certificate the CRL does not list passes with the CRL", () => {
    using store = storeWith(pki.crlPEM, X509StoreFlags.CRL_CHECK);
    using server = mtlsServer(store);
    using client = clientCtx(pki.bob);
    assert.equal(serverError(server, client), null);
  });

  await t.step("a CRL made before the revocation lets it through", () => {
    using store = storeWith(pki.emptyCrlPEM, X509StoreFlags.CRL_CHECK);
    using server = mtlsServer(store);
    using client = clientCtx(pki.alice);
    assert.equal(serverError(server, client), null);
  });

  await t.step("CRL_CHECK without any CRL refuses: no CRL is not a pass", () => {
    using store = storeWith(null, X509StoreFlags.CRL_CHECK);
    using server = mtlsServer(store);
    using client = clientCtx(pki.bob);
    const e = serverError(server, client);
    assert.ok(e instanceof VerificationError, `got ${e}`);
    assert.equal(e.verifyCode, X509_V_ERR_UNABLE_TO_GET_CRL);
  });
});

Deno.test("getCertStore() returns the live store of the context", async (t) => {
  await t.step("a CRL and flags added through it apply to the next handshakes", () => {
    using server = new Context(TLS_METHOD);
    server.useCertificate(serverLeaf.cert);
    server.usePrivateKey(serverLeaf.key);
    server.setVerify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT);
    server.addCaCerts(pki.caPEM);
    using live = server.getCertStore();
    live.addCRL(pki.crlPEM).setFlags(X509StoreFlags.CRL_CHECK);
    using client = clientCtx(pki.alice);
    const e = serverError(server, client);
    assert.ok(e instanceof VerificationError, `got ${e}`);
    assert.equal(e.verifyCode, X509_V_ERR_CERT_REVOKED);
  });

  await t.step("the store set is the store got, flags included", () => {
    using ctx = new Context(TLS_METHOD);
    using store = storeWith(null, X509StoreFlags.PARTIAL_CHAIN | X509StoreFlags.X509_STRICT);
    ctx.setCertStore(store);
    using got = ctx.getCertStore();
    assert.equal(Deno.UnsafePointer.equals(got._handle, store._handle), true);
    assert.equal(got.getFlags(), X509StoreFlags.PARTIAL_CHAIN | X509StoreFlags.X509_STRICT);
  });

  await t.step("each reference is freed once, in any order", () => {
    const before = liveHandles().X509_STORE;
    const ctx = new Context(TLS_METHOD);
    const store = storeWith(pki.crlPEM, X509StoreFlags.CRL_CHECK);
    ctx.setCertStore(store);
    store.close(); // the context keeps its own reference
    const again = ctx.getCertStore();
    const twice = ctx.getCertStore();
    ctx.close();
    assert.equal(again.getFlags(), X509StoreFlags.CRL_CHECK); // still alive through its own reference
    again.close();
    twice.close();
    twice.close();
    assert.equal(liveHandles().X509_STORE, before);
    assert.throws(() => ctx.getCertStore(), /closed/i);
    assert.throws(() => new Context().setCertStore({} as X509Store), TypeError);
  });

  await t.step("a store closed after setCertStore still verifies the context's handshakes", () => {
    const store = storeWith(pki.crlPEM, X509StoreFlags.CRL_CHECK);
    using server = mtlsServer(store);
    store.close();
    using client = clientCtx(pki.alice);
    const e = serverError(server, client);
    assert.ok(e instanceof VerificationError, `got ${e}`);
    assert.equal(e.verifyCode, X509_V_ERR_CERT_REVOKED);
  });
});

Deno.test("the store's partial chain, purpose and time apply in the handshake", async (t) => {
  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issueClient({ commonName: "carol" });
  const carol = { certPEM: leaf.chainPEM, keyPEM: leaf.keyPEM };

  await t.step("PARTIAL_CHAIN: trusting only the intermediate is enough with the flag", () => {
    const trustIntermediate = (flags: number): X509Store => {
      const store = new X509Store().addCert(ca.intermediate!.cert);
      if (flags) store.setFlags(flags);
      return store;
    };
    {
      using store = trustIntermediate(0);
      using server = mtlsServer(store);
      using client = clientCtx(carol);
      assert.ok(serverError(server, client) instanceof VerificationError);
    }
    using store = trustIntermediate(X509StoreFlags.PARTIAL_CHAIN);
    using server = mtlsServer(store);
    using client = clientCtx(carol);
    assert.equal(serverError(server, client), null);
  });

  await t.step("X509_STRICT refuses a chain whose CA's basicConstraints is not critical", () => {
    using caKey = PKey.generate({ type: "ec" });
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(Date.now() + 86_400_000);
    using lax = new CertificateBuilder().subject({ CN: "lax CA" }).validity(notBefore, notAfter)
      .basicConstraints({ ca: true, critical: false }).keyUsage(["keyCertSign", "cRLSign"])
      .sign(caKey);
    using daveKey = PKey.generate({ type: "ec" });
    using dave = new CertificateBuilder().subject({ CN: "dave" }).validity(notBefore, notAfter)
      .publicKey(daveKey).basicConstraints({ ca: false }).extendedKeyUsage(["clientAuth"])
      .sign(caKey, lax);
    const who = { certPEM: dave.toPEM(), keyPEM: daveKey.toPEM() };
    for (const [flags, refused] of [[0, false], [X509StoreFlags.X509_STRICT, true]] as const) {
      using store = new X509Store().addCert(lax);
      if (flags) store.setFlags(flags);
      using server = mtlsServer(store);
      using client = clientCtx(who);
      const e = serverError(server, client);
      if (!refused) assert.equal(e, null);
      else {
        assert.ok(e instanceof VerificationError, `got ${e}`);
        assert.match(e.verifyMessage, /not marked critical/i);
      }
    }
  });

  await t.step("a purpose of sslserver refuses a client certificate (clientAuth only)", () => {
    using store = new X509Store().addCert(ca.cert).setPurpose("sslserver");
    using server = mtlsServer(store);
    using client = clientCtx(carol);
    const e = serverError(server, client);
    assert.ok(e instanceof VerificationError, `got ${e}`);
    assert.equal(e.verifyCode, X509_V_ERR_INVALID_PURPOSE);
    assert.throws(() => store.setPurpose("nonsense" as never), TypeError);
  });

  await t.step("a time after the certificate's end refuses it as expired", () => {
    using store = new X509Store().addCert(ca.cert).setTime(
      new Date(Date.now() + 365 * 86_400_000),
    );
    using server = mtlsServer(store);
    using client = clientCtx(carol);
    const e = serverError(server, client);
    assert.ok(e instanceof VerificationError, `got ${e}`);
    assert.equal(e.verifyCode, X509_V_ERR_CERT_HAS_EXPIRED);
  });
});

addEventListener("unload", () => {
  serverLeaf.close();
  serverCA.close();
});
