/**
 * Secure defaults: `connectTls` with no opt-out refuses
 * bad certificates, legacy protocol versions and weak cipher suites, and
 * every option that opts out says "unsafe" in its name.
 *
 * Also covered in tests/tls_test.ts: a certificate for another name (62),
 * from an untrusted CA (20), expired (10), a private CA without `caCerts`,
 * and `minVersion` below TLS 1.2 without the unsafe option. Here: a
 * self-signed certificate, TLS 1.0/1.1 and weak-suite servers (openssl
 * `s_server` at `@SECLEVEL=0`), and the option names, read from the source.
 *
 * "Export-grade" suites: OpenSSL 3 has none (nor RC4 or 3DES: `openssl
 * ciphers` refuses them all); the weak suites it still has, NULL (no
 * encryption) and anonymous (no certificate), are the ones tested.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  CertificateBuilder,
  connectTls,
  listenTls,
  PKey,
  SSLError,
  VerificationError,
} from "../mod.ts";
import { freePort, makePki, Peer, pemDir, type Scope, withDeadline } from "./_peers.ts";

/** Starts `openssl s_server` with a certificate and extra flags; it accepts one client. */
async function sServer(
  scope: Scope,
  cert: { chainPEM: string; keyPEM: string } | null,
  extra: string[],
): Promise<number> {
  const files = cert ? await pemDir(scope, { cert: cert.chainPEM, key: cert.keyPEM }) : {};
  const port = freePort();
  const certArgs = cert ? ["-cert", files.cert!, "-key", files.key!] : ["-nocert"];
  const peer = scope.adopt(
    new Peer("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-naccept",
      "1",
      ...certArgs,
      ...extra,
    ], { stdin: true }),
  );
  await peer.listening(port, scope.signal);
  return port;
}

Deno.test("connectTls refuses a self-signed server certificate with VerificationError 18 (self-signed certificate)", async () => {
  using key = PKey.generate({ type: "ec" });
  using cert = new CertificateBuilder()
    .subject({ CN: "localhost" })
    .validity(new Date(Date.now() - 60_000), new Date(Date.now() + 86_400_000))
    .publicKey(key)
    .subjectAltNames({ dns: ["localhost"], ip: ["127.0.0.1"] })
    .sign(key);
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.toPEM(),
    key: key.toPEM(),
  });
  try {
    const served = (async () => {
      const conn = await listener.accept();
      await conn.handshake().catch(() => {});
      await conn[Symbol.asyncDispose]();
    })();
    const error = await connectTls({ hostname: "localhost", port: listener.addr.port }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof VerificationError, String(error));
    assert.equal(error.verifyCode, 18);
    assert.match(error.verifyMessage, /self-signed certificate/);
    await served;
  } finally {
    listener.close();
  }
});

Deno.test("connectTls refuses TLS 1.0 and TLS 1.1 servers (openssl s_server -tls1 / -tls1_1 at @SECLEVEL=0) with SSLError; it connects to them only with minVersion and unsafelyAllowLegacyProtocols", async (t) => {
  const pki = makePki("rsa"); // TLS 1.0/1.1 sign with SHA-1 + MD5, which RSA keys can
  try {
    for (
      const [label, flag, version] of [["TLS 1.0", "-tls1", "TLSv1"], [
        "TLS 1.1",
        "-tls1_1",
        "TLSv1.1",
      ]] as const
    ) {
      const args = [flag, "-cipher", "ALL:@SECLEVEL=0"];
      let name = `${label}: refused by default`;
      await t.step(name, () =>
        withDeadline(name, async (scope) => {
          const port = await sServer(scope, pki.server, args);
          const error = await connectTls({ hostname: "localhost", port, caCerts: [pki.ca.certPEM] })
            .then(() => null, (e) => e);
          assert.ok(error instanceof SSLError, String(error));
          assert.match((error as Error).message, /protocol version|unsupported protocol/);
        }));
      name = `${label}: connects when explicitly asked`;
      await t.step(name, () =>
        withDeadline(name, async (scope) => {
          const port = await sServer(scope, pki.server, args);
          const conn = await connectTls({
            hostname: "localhost",
            port,
            caCerts: [pki.ca.certPEM],
            minVersion: version,
            unsafelyAllowLegacyProtocols: true,
          });
          assert.equal(conn.getProtocolVersionName(), version);
          await conn[Symbol.asyncDispose]();
        }));
    }
  } finally {
    pki.close();
  }
});

Deno.test("connectTls refuses servers that offer only NULL (unencrypted) or anonymous (certificate-less) suites; a ciphers string enabling them is a RangeError without unsafelyAllowLegacyProtocols", async (t) => {
  const pki = makePki("rsa");
  try {
    const cases = [
      { label: "NULL-SHA256 (no encryption)", cipher: "NULL-SHA256", cert: pki.server },
      {
        label: "AECDH-AES128-SHA (anonymous: no certificate)",
        cipher: "AECDH-AES128-SHA",
        cert: null,
      },
    ];
    for (const c of cases) {
      const serverArgs = ["-tls1_2", "-cipher", `${c.cipher}:@SECLEVEL=0`];
      let name = `${c.label}: refused by default (handshake failure)`;
      await t.step(name, () =>
        withDeadline(name, async (scope) => {
          const port = await sServer(scope, c.cert, serverArgs);
          const error = await connectTls({ hostname: "localhost", port, caCerts: [pki.ca.certPEM] })
            .then(() => null, (e) => e);
          assert.ok(error instanceof SSLError, String(error));
          assert.match((error as Error).message, /handshake failure/);
        }));
      name = `${c.label}: ciphers "${c.cipher}:@SECLEVEL=0" needs the unsafe option`;
      await t.step(name, async () => {
        await assert.rejects(
          connectTls({
            hostname: "localhost",
            port: 1,
            caCerts: [pki.ca.certPEM],
            ciphers: `${c.cipher}:@SECLEVEL=0`,
          }),
          (e: unknown) => e instanceof RangeError && /unsafelyAllowLegacyProtocols/.test(e.message),
        );
        // Without "@SECLEVEL=0" the suite is not even offered: OpenSSL's security level excludes it.
        await withDeadline(name, async (scope) => {
          const port = await sServer(scope, c.cert, serverArgs);
          const error = await connectTls({
            hostname: "localhost",
            port,
            caCerts: [pki.ca.certPEM],
            ciphers: c.cipher,
          }).then(() => null, (e) => e);
          assert.ok(error instanceof SSLError, String(error));
        });
      });
    }
  } finally {
    pki.close();
  }
});

/** The option names of the helpers' option interfaces, read from connection/tls.ts and listener.ts. */
async function optionNames(): Promise<Map<string, { iface: string; doc: string }>> {
  const source = await Deno.readTextFile(new URL("../connection/tls.ts", import.meta.url)) +
    await Deno.readTextFile(new URL("../connection/listener.ts", import.meta.url));
  const out = new Map<string, { iface: string; doc: string }>();
  const ifaces = source.matchAll(/export interface (\w+Options)\b[^{]*\{([\s\S]*?)\n\}/g);
  for (const [, iface, body] of ifaces) {
    for (const [, doc, name] of body!.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(\w+)\??:/g)) {
      out.set(name!, { iface: iface!, doc: doc!.replace(/\s*\*\s*/g, " ").trim() });
    }
  }
  return out;
}

/**
 * Every option of connectTls, startTls, acceptTls and listenTls, classified.
 * An option added to connection/tls.ts or listener.ts fails the test until it is listed here.
 */
const OPTIONS: Record<string, "setting" | "opt-out"> = {
  caCerts: "setting", // adds trust; never removes the system store's checks
  alpnProtocols: "setting",
  minVersion: "setting", // below TLS 1.2 is refused without unsafelyAllowLegacyProtocols
  maxVersion: "setting",
  ciphers: "setting", // lowering the security level is refused without the unsafe option
  ciphersuites: "setting", // TLS 1.3 suites: all of them are strong
  context: "setting", // a context the caller built and configured, on purpose
  signal: "setting",
  handshakeTimeout: "setting",
  native: "setting", // who does the socket I/O; the same TLS, verification and defaults
  ktls: "setting", // who encrypts records (the kernel or OpenSSL); the same TLS and checks
  hostname: "setting",
  serverName: "setting",
  cert: "setting",
  key: "setting",
  port: "setting",
  requestClientCert: "setting",
  requireClientCert: "setting",
  groups: "setting", // replaces the helpers' groups on purpose, by name; unknown names are refused
  passphrase: "setting",
  pfx: "setting", // the same credentials as cert and key, in one bundle
  keyFormat: "setting", // PEM only, as Deno
  session: "setting", // resumption re-runs no certificate check, as in Deno and OpenSSL
  requestOcsp: "setting",
  ocspResponse: "setting",
  pskCallback: "setting", // adds a forward-secret PSK suite; a certificate shown is still verified
  pskIdentityHint: "setting",
  crls: "setting", // adds revocation checks; a chain certificate without its CRL is refused
  autoSelectFamily: "setting",
  autoSelectFamilyAttemptDelay: "setting",
  transport: "setting",
  tcpBacklog: "setting",
  reusePort: "setting",
  sniCertificates: "setting", // each name's context gets the listener's own policy
  ticketKeys: "setting", // keys the application shares with its other servers
  maxEarlyData: "setting", // off by default; asked for by its limit, with OpenSSL's anti-replay on
  unsafelyAllowLegacyProtocols: "opt-out",
  unsafelyDisableHostnameVerification: "opt-out",
  unsafelyDisableVerification: "opt-out",
  unsafelyAllowLegacyHostNames: "opt-out",
};

Deno.test('every option of connectTls, startTls, acceptTls and listenTls that weakens security says "unsafe" (option names read from connection/tls.ts)', async () => {
  const names = await optionNames();
  assert.ok(names.size >= 15, `found ${[...names.keys()]}`);
  const unlisted = [...names.keys()].filter((n) => !(n in OPTIONS));
  assert.deepEqual(unlisted, [], "classify the new option in OPTIONS");
  for (const [name, { doc }] of names) {
    if (OPTIONS[name] === "opt-out") {
      assert.match(name, /^unsafely/, `${name} weakens security: its name must say so`);
      assert.match(doc, /@default \{false\}/, `${name} must be off by default`);
    } else {
      assert.doesNotMatch(name, /unsafe/i);
      // A setting whose documentation speaks of skipping or disabling checks is an opt-out.
      assert.doesNotMatch(doc, /\b(skip|disable|insecure)/i, `${name}: "${doc}"`);
    }
  }
});
