import assert from "node:assert/strict";
import {
  type ClientHello,
  type Connection,
  Context,
  NO_OVERLAPPING_PROTOCOLS,
  OP_NO_RENEGOTIATION,
  SSL_CB_ALERT,
  SSL_CB_HANDSHAKE_DONE,
  SSL_CB_HANDSHAKE_START,
  SSLError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
  VERIFY_POST_HANDSHAKE,
} from "../mod.ts";
import { handshakeInMemory, transfer } from "./_pair.ts";
import {
  catchError,
  clientContext,
  hex,
  pair,
  pin,
  pki,
  serverContext,
  settle,
} from "./_negotiation_fixtures.ts";

const text = new TextEncoder();
const VERSIONS = [TLS1_2_VERSION, TLS1_3_VERSION] as const;
const name = (v: number): string => (v === TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");

class Boom extends Error {}

// ---- ALPN ---------------------------------------------------------------------------------

Deno.test("ALPN: both sides agree on the protocol the server's select callback picks", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2", "http/1.1"]);
  const seen: string[][] = [];
  sctx.setAlpnSelectCallback((_conn, offered) => {
    seen.push(offered);
    return "http/1.1";
  });
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  assert.equal(client.getAlpnProtoNegotiated(), null);
  handshakeInMemory(client, server);
  assert.deepEqual(seen, [["h2", "http/1.1"]]);
  assert.equal(client.getAlpnProtoNegotiated(), "http/1.1");
  assert.equal(server.getAlpnProtoNegotiated(), "http/1.1");
});

Deno.test("ALPN: Connection.setAlpnProtos overrides the context's list", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["http/1.1"]);
  sctx.setAlpnSelectCallback((_conn, offered) => offered[0]!);
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  client.setAlpnProtos(["h2"]);
  handshakeInMemory(client, server);
  assert.equal(client.getAlpnProtoNegotiated(), "h2");
});

Deno.test("ALPN: NO_OVERLAPPING_PROTOCOLS agrees on none and the handshake goes on", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2"]);
  sctx.setAlpnSelectCallback(() => NO_OVERLAPPING_PROTOCOLS);
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  assert.equal(client.getAlpnProtoNegotiated(), null);
  assert.equal(server.getAlpnProtoNegotiated(), null);
  assert.deepEqual(transfer(client, server, text.encode("ok")), text.encode("ok"));
});

Deno.test("ALPN: an empty string from the select callback fails the handshake", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2"]);
  sctx.setAlpnSelectCallback(() => "");
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  const e = catchError(() => handshakeInMemory(client, server), SSLError);
  assert.match(e.message, /no application protocol|alpn/i);
});

Deno.test("ALPN: an exception from the select callback comes out of doHandshake as thrown", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2"]);
  const boom = new Boom("select failed");
  sctx.setAlpnSelectCallback(() => {
    throw boom;
  });
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
});

Deno.test("ALPN: choosing a protocol the client did not offer fails with a TypeError", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2"]);
  sctx.setAlpnSelectCallback(() => "spdy/3");
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  const e = catchError(() => handshakeInMemory(client, server), TypeError);
  assert.match(e.message, /did not offer/);
});

Deno.test("ALPN: setAlpnProtos refuses an empty list and malformed names", () => {
  using ctx = new Context();
  catchError(() => ctx.setAlpnProtos([]), TypeError);
  catchError(() => ctx.setAlpnProtos([""]), TypeError);
  catchError(() => ctx.setAlpnProtos(["x".repeat(256)]), TypeError);
  using sctx = serverContext();
  const { client, server } = pair(ctx, sctx);
  using _c = client;
  using _s = server;
  catchError(() => client.setAlpnProtos([]), TypeError);
});

// ---- SNI -----------------------------------------------------------------------------------

function sniServer(): { main: Context; other: Context; names: (string | null)[] } {
  const main = serverContext();
  const other = serverContext(pki().other);
  const names: (string | null)[] = [];
  main.setTlsextServernameCallback((conn) => {
    const sni = conn.getServername();
    names.push(sni);
    if (sni === "other.test") conn.setContext(other);
  });
  return { main, other, names };
}

Deno.test("SNI: the server presents a different certificate per name", () => {
  const { main, other, names } = sniServer();
  using _m = main;
  using _o = other;
  for (const [sni, cn] of [["other.test", "other.test"], ["localhost", "localhost"]]) {
    using cctx = clientContext();
    const { client, server } = pair(cctx, main);
    using _c = client;
    using _s = server;
    client.setTlsextHostName(sni!);
    client.setVerifyHostname(sni!);
    handshakeInMemory(client, server);
    assert.equal(server.getServername(), sni);
    using peer = client.getPeerCertificate()!;
    assert.equal(peer.subject.commonName, cn);
    using own = server.getCertificate()!;
    assert.equal(own.subject.commonName, cn);
  }
  assert.deepEqual(names, ["other.test", "localhost"]);
});

Deno.test("SNI: getServername is null on both sides without SNI", () => {
  const { main, other, names } = sniServer();
  using _m = main;
  using _o = other;
  using cctx = clientContext();
  const { client, server } = pair(cctx, main);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  assert.equal(server.getServername(), null);
  assert.equal(client.getServername(), null);
  assert.deepEqual(names, [null]); // the callback runs, and sees no name
  using peer = client.getPeerCertificate()!;
  assert.equal(peer.subject.commonName, "localhost");
});

Deno.test("SNI: switching context also switches the verification settings", () => {
  const { main, other } = sniServer();
  using _m = main;
  // The other.test context requires a client certificate; the main one does not.
  other.addCaCerts(pki().ca.certPEM);
  other.setVerify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT);
  using _o = other;
  {
    using cctx = clientContext();
    const { client, server } = pair(cctx, main);
    using _c = client;
    using _s = server;
    client.setTlsextHostName("localhost");
    handshakeInMemory(client, server);
    assert.equal(server.getPeerCertificate(), null);
  }
  {
    using cctx = clientContext();
    const { client, server } = pair(cctx, main);
    using _c = client;
    using _s = server;
    client.setTlsextHostName("other.test");
    catchError(() => handshakeInMemory(client, server), SSLError);
  }
  {
    using cctx = clientContext();
    cctx.useCertificateChain(pki().client.chainPEM);
    cctx.usePrivateKey(pki().client.key);
    const { client, server } = pair(cctx, main);
    using _c = client;
    using _s = server;
    client.setTlsextHostName("other.test");
    handshakeInMemory(client, server);
    using alice = server.getPeerCertificate()!;
    assert.equal(alice.subject.commonName, "alice");
  }
});

Deno.test("SNI: an exception from the servername callback comes out of doHandshake", () => {
  using sctx = serverContext();
  const boom = new Boom("sni failed");
  sctx.setTlsextServernameCallback(() => {
    throw boom;
  });
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  client.setTlsextHostName("localhost");
  assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
});

// ---- client hello ------------------------------------------------------------------------------

Deno.test("Client hello callback sees offered versions, ciphers, SNI and ALPN before any choice", () => {
  using sctx = serverContext();
  const hellos: ClientHello[] = [];
  const negotiatedBefore: (string | null)[] = [];
  sctx.setClientHelloCallback((conn, hello) => {
    hellos.push(hello);
    negotiatedBefore.push(conn.getCipherName());
  });
  using cctx = clientContext();
  cctx.setAlpnProtos(["h2", "http/1.1"]);
  cctx.setCipherList("ECDHE-ECDSA-AES128-GCM-SHA256");
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  client.setTlsextHostName("localhost");
  handshakeInMemory(client, server);
  assert.equal(hellos.length, 1);
  const hello = hellos[0]!;
  assert.deepEqual(negotiatedBefore, [null]);
  assert.equal(hello.legacyVersion, TLS1_2_VERSION);
  assert.ok(hello.versions.includes(TLS1_3_VERSION));
  assert.ok(hello.versions.includes(TLS1_2_VERSION));
  assert.ok(hello.cipherNames.includes("TLS_AES_256_GCM_SHA384"), hello.cipherNames.join());
  assert.ok(hello.cipherNames.includes("ECDHE-ECDSA-AES128-GCM-SHA256"));
  assert.ok(!hello.cipherNames.includes("ECDHE-RSA-AES256-GCM-SHA384"));
  assert.ok(hello.ciphers.includes(0x1302)); // TLS_AES_256_GCM_SHA384
  assert.equal(hello.serverName, "localhost");
  assert.deepEqual(hello.alpnProtocols, ["h2", "http/1.1"]);
  assert.ok(hello.groups.includes(0x001d)); // x25519
  for (const ext of [0, 10, 16, 43]) assert.ok(hello.extensions.includes(ext), `extension ${ext}`);
});

Deno.test("Client hello callback: false refuses the client, a throw comes out of doHandshake", () => {
  {
    using sctx = serverContext();
    sctx.setClientHelloCallback(() => false);
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    catchError(() => handshakeInMemory(client, server), SSLError);
  }
  {
    using sctx = serverContext();
    const boom = new Boom("hello failed");
    sctx.setClientHelloCallback(() => {
      throw boom;
    });
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
  }
});

// ---- key log and info -------------------------------------------------------------------------

function keylogPair(version: number): {
  client: Connection;
  server: Connection;
  lines: { client: string[]; server: string[] };
  close(): void;
} {
  const sctx = pin(serverContext(), version);
  const cctx = clientContext();
  const lines = { client: [] as string[], server: [] as string[] };
  sctx.setKeylogCallback((_conn, line) => lines.server.push(line));
  cctx.setKeylogCallback((_conn, line) => lines.client.push(line));
  const { client, server } = pair(cctx, sctx);
  return {
    client,
    server,
    lines,
    close(): void {
      client.close();
      server.close();
      cctx.close();
      sctx.close();
    },
  };
}

Deno.test("Keylog: TLS 1.2 logs CLIENT_RANDOM with the client random and master secret on both sides", () => {
  const p = keylogPair(TLS1_2_VERSION);
  try {
    handshakeInMemory(p.client, p.server);
    const expected = `CLIENT_RANDOM ${hex(p.client.clientRandom()!)} ${hex(p.client.masterKey()!)}`;
    assert.deepEqual(p.lines.client, [expected]);
    assert.deepEqual(p.lines.server, [expected]);
  } finally {
    p.close();
  }
});

Deno.test("Keylog: TLS 1.3 logs the five traffic secrets, equal on both sides", () => {
  const p = keylogPair(TLS1_3_VERSION);
  try {
    handshakeInMemory(p.client, p.server);
    const parse = (lines: string[]): Map<string, string> => {
      const out = new Map<string, string>();
      for (const line of lines) {
        const [label, random, secret, ...rest] = line.split(" ");
        assert.equal(rest.length, 0);
        assert.equal(random, hex(p.client.clientRandom()!));
        assert.match(secret!, /^[0-9a-f]{64,96}$/);
        out.set(label!, secret!);
      }
      return out;
    };
    const client = parse(p.lines.client);
    const server = parse(p.lines.server);
    assert.deepEqual([...client.keys()].sort(), [
      "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
      "CLIENT_TRAFFIC_SECRET_0",
      "EXPORTER_SECRET",
      "SERVER_HANDSHAKE_TRAFFIC_SECRET",
      "SERVER_TRAFFIC_SECRET_0",
    ]);
    assert.deepEqual(client, server);
  } finally {
    p.close();
  }
});

Deno.test("Keylog: an exception from the keylog callback comes out of doHandshake", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const boom = new Boom("keylog failed");
  cctx.setKeylogCallback(() => {
    throw boom;
  });
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
});

Deno.test("Info callback reports handshake start, done and alerts; a throw comes out of the call", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const events: [number, number][] = [];
  cctx.setInfoCallback((_conn, where, ret) => events.push([where, ret]));
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  assert.ok(events.some(([w]) => (w & SSL_CB_HANDSHAKE_START) !== 0));
  assert.ok(events.some(([w]) => (w & SSL_CB_HANDSHAKE_DONE) !== 0));
  client.shutdown();
  const alert = events.find(([w]) => (w & SSL_CB_ALERT) !== 0);
  assert.ok(alert, "close_notify is reported as an alert");
  assert.equal(alert[1] & 0xff, 0); // close_notify

  using sctx2 = serverContext();
  using cctx2 = clientContext();
  const boom = new Boom("info failed");
  cctx2.setInfoCallback(() => {
    throw boom;
  });
  const p = pair(cctx2, sctx2);
  using _c2 = p.client;
  using _s2 = p.server;
  assert.equal(catchError(() => handshakeInMemory(p.client, p.server), Boom), boom);
});

// ---- key material --------------------------------------------------------------------------------

for (const version of VERSIONS) {
  Deno.test(`Key material (${name(version)}): exporter, Finished, randoms and channel binding agree across peers`, () => {
    using sctx = pin(serverContext(), version);
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    assert.equal(client.getChannelBinding(), null);
    catchError(() => client.exportKeyingMaterial("EXPERIMENTAL-x", 32), SSLError);
    handshakeInMemory(client, server);

    const a = client.exportKeyingMaterial("EXPERIMENTAL-test", 32, "ctx");
    assert.equal(a.length, 32);
    assert.deepEqual(server.exportKeyingMaterial("EXPERIMENTAL-test", 32, "ctx"), a);
    assert.notDeepEqual(client.exportKeyingMaterial("EXPERIMENTAL-other", 32, "ctx"), a);
    assert.notDeepEqual(client.exportKeyingMaterial("EXPERIMENTAL-test", 32, "ctx2"), a);
    assert.deepEqual(
      client.exportKeyingMaterial("EXPERIMENTAL-test", 48),
      server.exportKeyingMaterial("EXPERIMENTAL-test", 48),
    );

    const cf = client.getFinished()!;
    const sf = server.getFinished()!;
    assert.ok(cf.length >= 12);
    assert.notDeepEqual(cf, sf);
    assert.deepEqual(server.getPeerFinished(), cf);
    assert.deepEqual(client.getPeerFinished(), sf);

    assert.equal(client.clientRandom()!.length, 32);
    assert.deepEqual(server.clientRandom(), client.clientRandom());
    assert.deepEqual(server.serverRandom(), client.serverRandom());
    assert.notDeepEqual(client.clientRandom(), client.serverRandom());

    const binding = client.getChannelBinding()!;
    assert.deepEqual(server.getChannelBinding(), binding);
    if (version === TLS1_3_VERSION) {
      assert.equal(binding.length, 32);
      catchError(() => client.getChannelBinding("tls-unique"), RangeError);
    } else {
      assert.deepEqual(binding, cf); // tls-unique: the client's Finished in a full handshake
      assert.equal(client.masterKey()!.length, 48);
      assert.deepEqual(server.masterKey(), client.masterKey());
      assert.deepEqual(
        client.getChannelBinding("tls-exporter"),
        server.getChannelBinding("tls-exporter"),
      );
    }
  });
}

// ---- introspection -----------------------------------------------------------------------------------

Deno.test("Introspection: cipher bits, version and list, group, own and peer certificates and chains", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  cctx.setGroups(["P-256"]);
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  assert.equal(client.getCipherBits(), null);
  assert.equal(client.getCipherVersion(), null);
  assert.equal(client.getGroupName(), null);
  assert.equal(client.getPeerCertChain(), null);
  assert.equal(client.getVerifiedChain(), null);
  assert.ok(client.getCipherList().includes("TLS_AES_128_GCM_SHA256"));
  handshakeInMemory(client, server);

  assert.equal(client.getCipherName(), "TLS_AES_256_GCM_SHA384");
  assert.equal(client.getCipherBits(), 256);
  assert.equal(client.getCipherVersion(), "TLSv1.3");
  assert.equal(client.getGroupName(), "prime256v1");
  assert.equal(server.getGroupName(), "prime256v1");
  assert.equal(client.getCertificate(), null);
  using own = server.getCertificate()!;
  assert.ok(own.equals(pki().leaf.cert));

  const chain = client.getPeerCertChain()!;
  assert.deepEqual(chain.map((c) => c.subject.commonName), [
    "localhost",
    pki().ca.intermediate!.cert.subject.commonName,
  ]);
  const verified = client.getVerifiedChain()!;
  assert.equal(verified.length, 3);
  assert.ok(verified[2]!.equals(pki().ca.cert));
  for (const c of [...chain, ...verified]) c.close();
  assert.equal(server.getPeerCertChain(), null); // the client sent no certificate
});

Deno.test("Introspection: getGroupName reports X25519 by default", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  assert.equal(client.getGroupName(), "X25519");
});

Deno.test("Client CA list: the names a server advertises reach the client", () => {
  using sctx = serverContext();
  sctx.addCaCerts(pki().ca.certPEM);
  sctx.setVerify(VERIFY_PEER);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/ca.pem`, pki().ca.certPEM);
    sctx.loadClientCa(`${dir}/ca.pem`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  sctx.addClientCa(pki().other.certPEM);
  assert.deepEqual(sctx.getClientCaList().map((n) => n.commonName), [
    pki().ca.cert.subject.commonName,
    "other.test",
  ]);
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  assert.deepEqual(client.getClientCaList(), []);
  handshakeInMemory(client, server);
  assert.deepEqual(client.getClientCaList().map((n) => n.commonName), [
    pki().ca.cert.subject.commonName,
    "other.test",
  ]);

  using ctx = new Context();
  ctx.setClientCaList([pki().leaf.cert.subject]);
  assert.deepEqual(ctx.getClientCaList().map((n) => n.commonName), ["localhost"]);
  catchError(() => ctx.setClientCaList(["CN=x" as never]), TypeError);
});

// ---- OCSP -----------------------------------------------------------------------------------------

const STAPLE = text.encode("not really DER, OpenSSL passes it through");

function ocspContexts(
  clientVerdict: (der: Uint8Array) => boolean,
): { sctx: Context; cctx: Context; calls: { server: number; client: Uint8Array[] } } {
  const sctx = serverContext();
  const cctx = clientContext();
  const calls = { server: 0, client: [] as Uint8Array[] };
  sctx.setOcspServerCallback(() => {
    calls.server++;
    return STAPLE;
  });
  cctx.setOcspClientCallback((_conn, der) => {
    calls.client.push(der);
    return clientVerdict(der);
  });
  return { sctx, cctx, calls };
}

for (const version of VERSIONS) {
  Deno.test(`OCSP (${name(version)}): the callbacks run only after requestOcsp and the staple reaches the client`, () => {
    const { sctx, cctx, calls } = ocspContexts(() => true);
    using _sc = pin(sctx, version);
    using _cc = cctx;
    {
      const { client, server } = pair(cctx, sctx);
      using _c = client;
      using _s = server;
      handshakeInMemory(client, server);
      assert.deepEqual(calls, { server: 0, client: [] });
    }
    {
      const { client, server } = pair(cctx, sctx);
      using _c = client;
      using _s = server;
      client.requestOcsp();
      handshakeInMemory(client, server);
      assert.equal(calls.server, 1);
      assert.deepEqual(calls.client, [STAPLE]);
    }
  });
}

Deno.test("OCSP: a client callback returning false fails the handshake; a throw comes out as thrown", () => {
  {
    const { sctx, cctx } = ocspContexts(() => false);
    using _sc = sctx;
    using _cc = cctx;
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    client.requestOcsp();
    catchError(() => handshakeInMemory(client, server), SSLError);
  }
  {
    const boom = new Boom("ocsp failed");
    const { sctx, cctx } = ocspContexts(() => {
      throw boom;
    });
    using _sc = sctx;
    using _cc = cctx;
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    client.requestOcsp();
    assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
  }
  {
    using sctx = serverContext();
    const boom = new Boom("server ocsp failed");
    sctx.setOcspServerCallback(() => {
      throw boom;
    });
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    client.requestOcsp();
    assert.equal(catchError(() => handshakeInMemory(client, server), Boom), boom);
  }
});

Deno.test("OCSP: a server callback returning null staples nothing and the client sees empty bytes", () => {
  using sctx = serverContext();
  sctx.setOcspServerCallback(() => null);
  using cctx = clientContext();
  const seen: Uint8Array[] = [];
  cctx.setOcspClientCallback((_conn, der) => (seen.push(der), true));
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  client.requestOcsp();
  handshakeInMemory(client, server);
  assert.deepEqual(seen, [new Uint8Array(0)]);
});

// ---- renegotiation, key update, post-handshake authentication -------------------------------------

Deno.test("TLS 1.2 renegotiation started by the server completes", () => {
  using sctx = pin(serverContext(), TLS1_2_VERSION);
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  const before = server.getFinished();
  assert.equal(server.renegotiatePending(), false);
  server.renegotiate();
  assert.equal(server.renegotiatePending(), true);
  server.doHandshake(); // sends HelloRequest, ... wait for the client
  settle(client, server);
  server.doHandshake();
  settle(client, server);
  assert.equal(server.renegotiatePending(), false);
  assert.equal(server.totalRenegotiations(), 1);
  assert.notDeepEqual(server.getFinished(), before);
  assert.deepEqual(transfer(client, server, text.encode("after")), text.encode("after"));
  assert.deepEqual(transfer(server, client, text.encode("back")), text.encode("back"));
});

Deno.test("TLS 1.2 renegotiation is refused with OP_NO_RENEGOTIATION", () => {
  // On the side that would start it: renegotiate() itself refuses.
  {
    using sctx = pin(serverContext(), TLS1_2_VERSION);
    sctx.setOptions(OP_NO_RENEGOTIATION);
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    const e = catchError(() => server.renegotiate(), SSLError);
    assert.match(e.message, /renegotiation/i);
  }
  // On the peer: the client declines the server's request and the renegotiation never happens.
  {
    using sctx = pin(serverContext(), TLS1_2_VERSION);
    using cctx = clientContext();
    cctx.setOptions(OP_NO_RENEGOTIATION);
    const { client, server } = pair(cctx, sctx);
    using _c = client;
    using _s = server;
    handshakeInMemory(client, server);
    server.renegotiate();
    server.doHandshake();
    let refused: unknown = null;
    try {
      settle(client, server);
      server.doHandshake();
    } catch (e) {
      refused = e;
    }
    assert.ok(refused instanceof SSLError, `expected SSLError, got ${refused}`);
    assert.equal(server.totalRenegotiations(), 1); // requested once, never completed
  }
});

Deno.test("renegotiate() is refused on TLS 1.3", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  catchError(() => client.renegotiate(), SSLError);
});

Deno.test("TLS 1.3 key update, requested of the peer too, is sent, answered and keeps the connection working", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  // The info callback's SSL_CB_LOOP states name each key update message written or read.
  const states: string[] = [];
  const record = (conn: Connection): void => {
    const state = conn.getStateString();
    if (state.includes("key update")) states.push(state);
  };
  sctx.setInfoCallback(record);
  cctx.setInfoCallback(record);
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  client.keyUpdate(true);
  client.doHandshake();
  settle(client, server);
  assert.deepEqual(states, ["TLSv1.3 write client key update", "TLSv1.3 read client key update"]);
  // The server answers the request with its own update when it next writes.
  assert.deepEqual(transfer(server, client, text.encode("pong")), text.encode("pong"));
  assert.deepEqual(states.slice(2), [
    "TLSv1.3 write server key update",
    "TLSv1.3 read server key update",
  ]);
  assert.deepEqual(transfer(client, server, text.encode("ping")), text.encode("ping"));
  // Key update needs TLS 1.3.
  using sctx12 = pin(serverContext(), TLS1_2_VERSION);
  using cctx12 = clientContext();
  const p = pair(cctx12, sctx12);
  using _c12 = p.client;
  using _s12 = p.server;
  handshakeInMemory(p.client, p.server);
  catchError(() => p.client.keyUpdate(), SSLError);
});

Deno.test("TLS 1.3 post-handshake client authentication delivers the client's certificate", () => {
  using sctx = serverContext();
  sctx.addCaCerts(pki().ca.certPEM);
  sctx.setVerify(VERIFY_PEER | VERIFY_POST_HANDSHAKE);
  using cctx = clientContext();
  cctx.useCertificateChain(pki().client.chainPEM);
  cctx.usePrivateKey(pki().client.key);
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  client.setPostHandshakeAuth();
  handshakeInMemory(client, server);
  assert.equal(server.getPeerCertificate(), null);
  server.verifyClientPostHandshake();
  server.doHandshake(); // sends the CertificateRequest
  settle(client, server);
  using alice = server.getPeerCertificate()!;
  assert.equal(alice.subject.commonName, "alice");
  assert.deepEqual(transfer(client, server, text.encode("hi")), text.encode("hi"));
});

Deno.test("verifyClientPostHandshake is refused when the client did not offer it", () => {
  using sctx = serverContext();
  sctx.setVerify(VERIFY_PEER | VERIFY_POST_HANDSHAKE);
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  handshakeInMemory(client, server);
  catchError(() => server.verifyClientPostHandshake(), SSLError);
});

// ---- context rules --------------------------------------------------------------------------------

Deno.test("The new Context setters refuse changes once a Connection was made", () => {
  using sctx = serverContext();
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  using _c = client;
  using _s = server;
  catchError(() => cctx.setAlpnProtos(["h2"]), TypeError);
  catchError(() => sctx.setAlpnSelectCallback(() => "h2"), TypeError);
  catchError(() => sctx.setTlsextServernameCallback(() => {}), TypeError);
  catchError(() => sctx.setKeylogCallback(() => {}), TypeError);
  catchError(() => sctx.setTicketKeys(new Uint8Array(80)), TypeError);
  catchError(() => sctx.setSessionIdContext("x"), TypeError);
  assert.equal(sctx.getTicketKeys().length, 80);
});
