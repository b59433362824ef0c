/**
 * Lifecycle: every public member of every class that owns
 * a native handle, called after `close()`, gives a clear error and never a
 * crash; double close is harmless; a Context closed under live Connections
 * leaves them working; objects a user forgets are freed by the finalization
 * backstop exactly once (counted by ffi/_handles.ts, in a subprocess with
 * `--expose-gc`).
 *
 * Members are enumerated from the prototypes, so a method added later is
 * covered without touching this file: by default it must throw
 * `ClosedError` after `close()`. The few members that legitimately work on a
 * closed object are listed in {@link WORKS_AFTER_CLOSE} with the reason.
 */

import assert from "node:assert/strict";
import {
  ClosedError,
  Connection,
  ConnectionBase,
  connectTls,
  Context,
  ContextBase,
  listenTls,
  PKey,
  Session,
  TestCA,
  TLS1_2_VERSION,
  TLS_METHOD,
  TlsListener,
  VerificationError,
  VERIFY_PEER,
  X509,
  X509Name,
  X509Req,
  X509Store,
} from "../mod.ts";
import { handleAnomalies, liveHandles } from "../ffi/_handles.ts";
import { handshakeInMemory, transfer } from "./_pair.ts";
import { clientContext, pair, pki, serverContext } from "./_negotiation_fixtures.ts";
import { runSnippet } from "./_subprocess.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Live objects the arguments of a call may need (all open). */
interface Kit {
  ctx: Context;
  cert: X509;
  key: PKey;
  name: X509Name;
  session: Session;
  certPEM: string;
  keyPEM: string;
  file: string;
}

const noop = (): undefined => undefined;

/**
 * Arguments that pass each method's own validation, so that what is tested is
 * the closed check and not an argument check. Members not listed are called
 * with no argument.
 */
const ARGS: Record<string, (k: Kit) => unknown[]> = {
  // Context
  useCertificateChainFile: (k) => [k.file],
  useCertificateFile: (k) => [k.file],
  useCertificate: (k) => [k.certPEM],
  useCertificateChain: (k) => [k.certPEM],
  addExtraChainCert: (k) => [k.certPEM],
  usePrivateKeyFile: (k) => [k.file],
  usePrivateKey: (k) => [k.keyPEM],
  setPasswdCb: () => [() => "secret"],
  loadVerifyLocations: (k) => [k.file],
  addCaCerts: (k) => [k.certPEM],
  setVerify: () => [VERIFY_PEER],
  setVerifyDepth: () => [2],
  setMinProtoVersion: () => [TLS1_2_VERSION],
  setMaxProtoVersion: () => [TLS1_2_VERSION],
  setCipherList: () => ["DEFAULT"],
  setTls13Ciphersuites: () => ["TLS_AES_128_GCM_SHA256"],
  setGroups: () => ["X25519"],
  setSecurityLevel: () => [1],
  setOptions: () => [0],
  clearOptions: () => [0],
  setMode: () => [0],
  clearMode: () => [0],
  setTimeout: () => [10],
  setAlpnProtos: () => [["h2"]],
  setAlpnSelectCallback: () => [() => "h2"],
  setTlsextServernameCallback: () => [noop],
  setClientHelloCallback: () => [() => true],
  setSessionIdContext: () => ["lifecycle"],
  setSessionCacheMode: () => [0],
  setNewSessionCallback: () => [noop],
  setTicketKeys: () => [new Uint8Array(80)],
  setKeylogCallback: () => [noop],
  setInfoCallback: () => [noop],
  setOcspServerCallback: () => [() => new Uint8Array(1)],
  setOcspClientCallback: () => [() => true],
  loadClientCa: (k) => [k.file],
  addClientCa: (k) => [k.certPEM],
  setClientCaList: (k) => [[k.name]],
  setPostHandshakeAuth: () => [true],
  // Connection
  setContext: (k) => [k.ctx],
  setVerifyHostname: () => ["localhost"],
  setTlsextHostName: () => ["localhost"],
  recv: () => [16],
  recvInto: () => [new Uint8Array(16)],
  send: () => ["x"],
  sendall: () => ["x"],
  setShutdown: () => [0],
  bioRead: () => [16],
  bioWrite: () => ["x"],
  read: () => [new Uint8Array(16)],
  write: () => [enc.encode("x")],
  setSession: (k) => [k.session],
  exportKeyingMaterial: () => ["EXPERIMENTAL-lifecycle", 16],
  keyUpdate: () => [false],
  // X509, PKey, X509Name, X509Store
  fingerprint: () => ["sha256"],
  equals: (k) => [k.cert], // replaced per class below
  get: () => ["CN"],
  addCert: (k) => [k.cert],
  addCRL: () => ["-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"],
  loadLocations: (k) => [k.file],
  setFlags: () => [0],
  setTime: () => [new Date()],
  verify: (k) => [k.cert],
  // TestCA
  issue: () => [{ dns: ["localhost"] }],
  issueClient: () => [{ commonName: "alice" }],
};

/** What a member did when used on a closed object. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Members that work after close, per class, each with the check of what they give. */
const WORKS_AFTER_CLOSE: Record<string, Record<string, (value: unknown) => void>> = {
  "*": {
    // Idempotent: a second close (sync or async) does nothing and does not throw.
    close: (v) => assert.equal(v, undefined),
    "Symbol(Symbol.dispose)": (v) => assert.equal(v, undefined),
    "Symbol(Symbol.asyncDispose)": (v) => assert.equal(v, undefined),
    closed: (v) => assert.equal(v, true),
  },
  // A JS flag: whether a Connection was made from it. No native call.
  Context: { inUse: (v) => assert.equal(typeof v, "boolean") },
  Connection: {
    // JS state of the connection object, as Deno.Conn keeps its addresses after close().
    transportMode: (v) => assert.ok(v === "memory" || v === "stream" || v === "native"),
    // Why native mode was not used: a string or null, kept like transportMode.
    nativeFallbackReason: (v) => assert.ok(v === null || typeof v === "string"),
    localAddr: (v) => assert.equal(typeof v, "object"),
    remoteAddr: (v) => assert.equal(typeof v, "object"),
    // The idle sweeper's internal hook (connection/_idle.ts): a closed connection has nothing to give back.
    "Symbol(denossl.releaseIdle)": (v) => assert.equal(v, undefined),
  },
  // String conversion (template literals, logs) must not throw: it says the name is closed.
  X509Name: { toString: (v: unknown) => assert.equal(v, "[closed X509Name]") },
  // Deno.Listener keeps its address after close() and ignores ref()/unref() then; iterating
  // a closed listener ends at once.
  TlsListener: {
    ref: (v) => assert.equal(v, undefined),
    unref: (v) => assert.equal(v, undefined),
    addr: (v) => assert.equal(typeof (v as Deno.NetAddr).port, "number"),
    "Symbol(Symbol.asyncIterator)": (v) => assert.deepEqual(v, { done: true, value: undefined }),
  },
};

/** The public members of a prototype (own names, not the constructor nor `_internal` ones). */
/** Public members of a prototype and of the classes it extends (Connection has a base class). */
function publicMembers(proto: object): (string | symbol)[] {
  const keys = new Set<string | symbol>();
  for (
    let p: object | null = proto;
    p !== null && p !== Object.prototype;
    p = Reflect.getPrototypeOf(p)
  ) {
    for (const k of Reflect.ownKeys(p)) {
      if (k !== "constructor" && !(typeof k === "string" && k.startsWith("_"))) keys.add(k);
    }
  }
  return [...keys];
}

/** A member's descriptor, wherever on the prototype chain it is defined. */
function descriptorOf(proto: object, key: string | symbol): PropertyDescriptor {
  for (let p: object | null = proto; p !== null; p = Reflect.getPrototypeOf(p)) {
    const desc = Object.getOwnPropertyDescriptor(p, key);
    if (desc) return desc;
  }
  throw new Error(`no member ${String(key)}`);
}

function label(key: string | symbol): string {
  return typeof key === "symbol" ? key.toString() : key;
}

/** Uses one member of a closed object: a getter is read, a method called and awaited. */
async function use(obj: object, proto: object, key: string | symbol, kit: Kit): Promise<Outcome> {
  const desc = descriptorOf(proto, key);
  try {
    if (desc.get) return { ok: true, value: desc.get.call(obj) };
    const fn = desc.value as (...a: unknown[]) => unknown;
    const args = typeof key === "string" && Object.hasOwn(ARGS, key) ? ARGS[key]!(kit) : [];
    let value = fn.apply(obj, args);
    if (key === Symbol.asyncIterator) {
      value = (value as AsyncIterator<unknown>).next();
    }
    if (value instanceof Promise) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label(key)} hung on a closed object`)), 5000);
      });
      try {
        value = await Promise.race([value, deadline]);
      } finally {
        clearTimeout(timer);
      }
    }
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Closes `obj`, then uses every public member of `proto` on it and checks
 * the outcome: the clear closed error, or the documented after-close value.
 */
async function checkClosed(
  t: Deno.TestContext,
  className: string,
  proto: object,
  make: () => object | Promise<object>,
  kit: Kit,
  closedError: new (...a: never[]) => Error = ClosedError,
): Promise<void> {
  const members = publicMembers(proto);
  assert.ok(members.length > 3, `${className} has members`);
  const allowed = { ...WORKS_AFTER_CLOSE["*"], ...WORKS_AFTER_CLOSE[className] };
  await t.step(`${className}: ${members.length} members after close()`, async () => {
    const failures: string[] = [];
    for (const key of members) {
      // A fresh object per member, so that nothing one member did hides another's behaviour.
      const obj = await make();
      (obj as { close(): void }).close();
      const outcome = await use(obj, proto, key, kit);
      const check = Object.hasOwn(allowed, label(key)) ? allowed[label(key)] : undefined;
      if (check) {
        if (!outcome.ok) failures.push(`${label(key)} threw ${outcome.error}`);
        else {
          try {
            check(outcome.value);
          } catch (e) {
            failures.push(`${label(key)}: ${(e as Error).message}`);
          }
        }
      } else if (outcome.ok) {
        failures.push(`${label(key)} returned ${String(outcome.value)} instead of throwing`);
      } else if (
        !(outcome.error instanceof closedError) || !/closed/i.test(outcome.error.message)
      ) {
        failures.push(`${label(key)} threw ${outcome.error} instead of ${closedError.name}`);
      }
    }
    assert.deepEqual(failures, [], `${className}:\n  ${failures.join("\n  ")}`);
  });
}

/** A stream transport that never delivers anything (a test double). */
function silentTransport(): {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
} {
  let release: (v: null) => void = () => {};
  return {
    read: () => new Promise<null>((r) => (release = r)),
    write: (p) => Promise.resolve(p.length),
    close: () => release(null),
  };
}

Deno.test("every public member of Context, Connection, Session, X509, X509Name, PKey, X509Store, X509Req, TestCA and TlsListener throws a clear closed error after close(), or works as documented; never a crash or a hang", async (t) => {
  const { ca, leaf } = pki();
  const dir = await Deno.makeTempDir({ prefix: "denossl-lifecycle-" });
  const file = `${dir}/cert.pem`;
  await Deno.writeTextFile(file, leaf.certPEM);
  using liveCtx = serverContext();
  using sessionSource = (() => {
    using sctx = serverContext();
    using cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    handshakeInMemory(client, server);
    const s = client.getSession()!;
    client.close();
    server.close();
    return s;
  })();
  using name = X509Name.from({ CN: "lifecycle" });
  const kit: Kit = {
    ctx: liveCtx,
    cert: leaf.cert,
    key: leaf.key,
    name,
    session: sessionSource,
    certPEM: leaf.certPEM,
    keyPEM: leaf.keyPEM,
    file,
  };
  try {
    await checkClosed(t, "Context", Context.prototype, () => new Context(TLS_METHOD), kit);
    // Context's lifecycle, verification and callback members live on its base class.
    await checkClosed(t, "Context", ContextBase.prototype, () => new Context(TLS_METHOD), kit);
    await checkClosed(t, "Connection", ConnectionBase.prototype, () => {
      const ctx = new Context(TLS_METHOD);
      const conn = new Connection(ctx, null);
      ctx.close();
      return conn;
    }, kit);
    await checkClosed(t, "Connection", ConnectionBase.prototype, () => {
      const ctx = new Context(TLS_METHOD);
      const conn = new Connection(ctx, silentTransport());
      conn.setConnectState();
      ctx.close();
      return conn;
    }, kit);
    await checkClosed(
      t,
      "Session",
      Session.prototype,
      () => Session.fromDER(sessionSource.toDER()),
      kit,
    );
    await checkClosed(t, "X509", X509.prototype, () => X509.fromPEM(leaf.certPEM), kit);
    await checkClosed(
      t,
      "X509Name",
      X509Name.prototype,
      () => X509Name.from({ CN: "x" }),
      { ...kit, cert: name as unknown as X509 },
    );
    await checkClosed(t, "PKey", PKey.prototype, () => PKey.fromPEM(leaf.keyPEM), {
      ...kit,
      cert: leaf.key as unknown as X509,
    });
    await checkClosed(t, "X509Store", X509Store.prototype, () => new X509Store(), kit);
    await checkClosed(
      t,
      "X509Req",
      X509Req.prototype,
      () => X509Req.create({ subject: { CN: "x" }, key: leaf.key }),
      kit,
    );
    await checkClosed(t, "TestCA", TestCA.prototype, () => TestCA.create(), kit);
    await checkClosed(
      t,
      "TlsListener",
      TlsListener.prototype,
      () => listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM }),
      kit,
      Deno.errors.BadResource,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  void ca;
});

Deno.test("double close is harmless and gives each native reference back exactly once (close, dispose, asyncDispose, in any order)", async () => {
  const { leaf } = pki();
  const before = liveHandles();
  const anomalies = handleAnomalies().length;
  using sctx = serverContext();
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  handshakeInMemory(client, server);
  const objects: { close(): void; [Symbol.dispose](): void }[] = [
    client,
    server,
    client.getSession()!,
    client.getPeerCertificate()!,
    X509.fromPEM(leaf.certPEM),
    PKey.fromPEM(leaf.keyPEM),
    new X509Store(),
    X509Name.from({ CN: "twice" }),
    new Context(TLS_METHOD),
  ];
  const during = liveHandles();
  for (
    const kind of ["SSL", "SSL_SESSION", "X509", "EVP_PKEY", "X509_STORE", "X509_NAME"] as const
  ) {
    assert.ok(during[kind] > before[kind], `${kind} counted while open`);
  }
  for (const o of objects) {
    o.close();
    o.close();
    o[Symbol.dispose]();
  }
  await client[Symbol.asyncDispose]();
  await server[Symbol.asyncDispose]();
  const after = liveHandles();
  // Only the two contexts made above (closed by `using` at the end) are still held.
  assert.deepEqual(after, { ...before, SSL_CTX: before.SSL_CTX + 2 });
  assert.equal(handleAnomalies().length, anomalies, handleAnomalies().join("\n"));
});

Deno.test("closing a Context under live Connections leaves them working: handshake, data both ways and shutdown in memory, and over TCP", async (t) => {
  const { ca, leaf } = pki();
  await t.step("memory BIOs: both contexts closed before the handshake", () => {
    const sctx = serverContext();
    const cctx = clientContext();
    const { client, server } = pair(cctx, sctx);
    client.setVerifyHostname("localhost");
    sctx.close();
    cctx.close();
    assert.equal(sctx.closed && cctx.closed, true);
    handshakeInMemory(client, server);
    assert.equal(client.getPeerCertificate()?.subject.commonName, "localhost");
    const payload = crypto.getRandomValues(new Uint8Array(50_000));
    assert.deepEqual(transfer(client, server, payload), payload);
    assert.deepEqual(transfer(server, client, payload), payload);
    assert.equal(client.getContext(), cctx);
    assert.throws(() => client.getContext().getVerifyMode(), ClosedError);
    client.close();
    server.close();
  });
  await t.step("TCP: the client's context closed right after the Connection is made", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.chainPEM,
      key: leaf.keyPEM,
    });
    const served = (async () => {
      const conn = await listener.accept();
      const buf = new Uint8Array(5);
      let got = 0;
      while (got < 5) got += (await conn.read(buf.subarray(got)))!;
      await conn.write(buf);
      assert.equal(await conn.read(buf), null);
      await conn[Symbol.asyncDispose]();
    })();
    const cctx = new Context(TLS_METHOD);
    cctx.addCaCerts(ca.certPEM);
    cctx.setVerify(VERIFY_PEER);
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const conn = new Connection(cctx, tcp);
    conn.setConnectState();
    conn.setVerifyHostname("localhost");
    cctx.close();
    const info = await conn.handshake();
    info.peerCertificate?.close();
    await conn.write(enc.encode("hello"));
    const buf = new Uint8Array(5);
    let got = 0;
    while (got < 5) got += (await conn.read(buf.subarray(got)))!;
    assert.equal(dec.decode(buf), "hello");
    await conn.closeWrite();
    await served;
    await conn[Symbol.asyncDispose]();
    listener.close();
  });
  await t.step("connectTls with a user context closed while the connection lives", async () => {
    const listener = listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: leaf.chainPEM,
      key: leaf.keyPEM,
    });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.write(enc.encode("after"));
      await conn[Symbol.asyncDispose]();
    })();
    const ctx = new Context(TLS_METHOD);
    ctx.addCaCerts(ca.certPEM);
    ctx.setVerify(VERIFY_PEER);
    const conn = await connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      context: ctx,
    });
    ctx.close();
    const buf = new Uint8Array(16);
    let got = 0;
    for (;;) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    assert.equal(dec.decode(buf.subarray(0, got)), "after");
    await served;
    await conn[Symbol.asyncDispose]();
    listener.close();
  });
});

/** The snippet body that makes garbage of every kind, some closed and some forgotten. */
const GARBAGE = `
const handles = await import(${
  JSON.stringify(new URL("../ffi/_handles.ts", import.meta.url).href)
});
const { Connection, Context, PKey, Session, TestCA, TLS_METHOD, VERIFY_PEER, WantReadError,
  X509, X509Name, X509Store } = denossl;
const ca = TestCA.create({ intermediate: true });
const leaf = ca.issue({ dns: ["localhost"] });
const certPEM = leaf.certPEM, chainPEM = leaf.chainPEM, keyPEM = leaf.keyPEM, caPEM = ca.certPEM;
leaf.close();
ca.close();
const base = handles.liveHandles();
function pump(from, to) {
  for (;;) {
    let c;
    try { c = from.bioRead(65536); } catch (e) { if (e instanceof WantReadError) return; throw e; }
    to.bioWrite(c);
  }
}
function step(c) { try { c.doHandshake(); } catch (e) { if (!(e instanceof WantReadError)) throw e; } }
function makeGarbage(closeSome) {
  for (let i = 0; i < 20; i++) {
    const sctx = new Context(TLS_METHOD);
    sctx.useCertificateChain(chainPEM);
    sctx.usePrivateKey(keyPEM);
    const cctx = new Context(TLS_METHOD);
    cctx.addCaCerts(caPEM);
    // a verify callback: the trampoline makes borrowed X509 objects for it
    cctx.setVerify(VERIFY_PEER, (_c, cert, _e, _d, ok) => { cert.subject; return ok; });
    const server = new Connection(sctx, null); server.setAcceptState();
    const client = new Connection(cctx, null); client.setConnectState();
    if (i % 3 === 0) sctx.close();
    for (let r = 0; r < 6; r++) { step(client); pump(client, server); step(server); pump(server, client); }
    const objs = [client.getPeerCertificate(), client.getSession(), client.getPeerCertChain(),
      server.getCertificate(), X509.fromPEM(certPEM), PKey.fromPEM(keyPEM), new X509Store(),
      X509Name.from({ CN: "g" + i }), client.getClientCaList()].flat();
    if (i % 5 === 4) { const s = new Connection(sctx.closed ? cctx : sctx, null); void s; }
    if (closeSome && i % 2 === 0) {
      for (const o of objs) o?.close();
      client.close();
      if (i % 4 === 0) { server.close(); cctx.close(); }
    }
  }
}
makeGarbage(${"${CLOSE_SOME}"});
const during = handles.liveHandles();
const same = (a, b) => Object.keys(a).every((k) => a[k] === b[k]);
let rounds = 0;
for (; rounds < 50 && !same(handles.liveHandles(), base); rounds++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
}
report({ base, during, after: handles.liveHandles(), anomalies: handles.handleAnomalies(), rounds });
`;

Deno.test("objects a user never closes are freed by the finalization backstop, each reference exactly once (subprocess, --expose-gc)", async (t) => {
  for (const closeSome of [false, true]) {
    await t.step(
      closeSome ? "half of them closed first, the rest forgotten" : "all forgotten",
      async () => {
        const result = await runSnippet(GARBAGE.replace("${CLOSE_SOME}", String(closeSome)), {
          flags: ["--allow-all", "--v8-flags=--expose-gc"],
        });
        assert.equal(result.code, 0, result.stderr);
        if (Deno.env.get("DEBUG_LIFECYCLE")) console.log(JSON.stringify(result.report));
        assert.doesNotMatch(result.stderr, /double free|corruption|free\(\)|malloc/i);
        const r = result.report as {
          base: Record<string, number>;
          during: Record<string, number>;
          after: Record<string, number>;
          anomalies: string[];
        };
        for (
          const kind of [
            "SSL_CTX",
            "SSL",
            "SSL_SESSION",
            "X509",
            "EVP_PKEY",
            "X509_STORE",
            "X509_NAME",
          ]
        ) {
          assert.ok(
            r.during[kind]! > r.base[kind]!,
            `${kind} objects were alive before gc: ${JSON.stringify(r)}`,
          );
        }
        assert.deepEqual(r.after, r.base, "every native reference came back");
        assert.deepEqual(r.anomalies, [], "no reference was given back twice");
      },
    );
  }
});

/** The snippet that misuses a connection from inside each of its callbacks. */
const REENTRY = `
const { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER, WantReadError, SESS_CACHE_CLIENT } =
  denossl;
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const results = [];
function pump(from, to) {
  for (;;) {
    let c;
    try { c = from.bioRead(65536); } catch (e) { if (e instanceof WantReadError) return; throw e; }
    to.bioWrite(c);
  }
}
function drive(client, server) {
  const step = (f) => { try { f(); } catch (e) { if (!(e instanceof WantReadError)) throw e; } };
  for (let r = 0; r < 8; r++) {
    step(() => client.doHandshake()); pump(client, server);
    step(() => server.doHandshake()); pump(server, client);
  }
  server.send("data"); pump(server, client);
  step(() => client.recv(100)); // TLS 1.3 tickets: the new-session callback runs here
  client.send("data"); pump(client, server);
  step(() => server.recv(100));
}
const kinds = {
  verify: (c, s, act) => c.setVerify(VERIFY_PEER, (conn) => { act(conn); return true; }),
  info: (c, s, act) => c.setInfoCallback((conn) => act(conn)),
  keylog: (c, s, act) => c.setKeylogCallback((conn) => act(conn)),
  servername: (c, s, act) => s.setTlsextServernameCallback((conn) => act(conn)),
  alpn: (c, s, act) => { c.setAlpnProtos(["h2"]); s.setAlpnSelectCallback((conn) => { act(conn); return "h2"; }); },
  clientHello: (c, s, act) => s.setClientHelloCallback((conn) => { act(conn); return true; }),
  newSession: (c, s, act) => { c.setSessionCacheMode(SESS_CACHE_CLIENT); c.setNewSessionCallback((conn) => act(conn)); },
  ocsp: (c, s, act) => s.setOcspServerCallback((conn) => { act(conn); return new Uint8Array([0x30, 0]); }),
};
const actions = {
  close: (conn) => conn.close(),
  doHandshake: (conn) => conn.doHandshake(),
  recv: (conn) => conn.recv(10),
  send: (conn) => conn.send("x"),
  shutdown: (conn) => conn.shutdown(),
};
for (const [kind, install] of Object.entries(kinds)) {
  for (const [action, act] of Object.entries(actions)) {
    const sctx = new Context(TLS_METHOD);
    sctx.useCertificateChain(leaf.chainPEM);
    sctx.usePrivateKey(leaf.keyPEM);
    const cctx = new Context(TLS_METHOD);
    cctx.addCaCerts(ca.certPEM);
    let ran = 0;
    install(cctx, sctx, (conn) => { ran++; act(conn); });
    const server = new Connection(sctx, null); server.setAcceptState();
    const client = new Connection(cctx, null); client.setConnectState();
    client.setTlsextHostName("localhost");
    if (kind === "ocsp") client.requestOcsp();
    let error = null;
    try { drive(client, server); } catch (e) { error = e; }
    results.push({ kind, action, ran, error: error?.name ?? null, message: String(error?.message) });
    client.close(); server.close(); cctx.close(); sctx.close();
  }
}
// The passphrase callback closing its own Context.
const pctx = new Context(TLS_METHOD);
pctx.setPasswdCb(() => { pctx.close(); return "pw"; });
const file = await Deno.makeTempFile();
await Deno.writeTextFile(file, leaf.key.toPEM({ passphrase: "pw" }));
let perror = null;
try { pctx.usePrivateKeyFile(file); } catch (e) { perror = e; }
await Deno.remove(file);
results.push({ kind: "passwd", action: "close", ran: 1, error: perror?.name ?? null, closed: pctx.closed });
await null; // deferred frees run
report(results);
`;

Deno.test("a callback that closes its own Connection (or Context) or drives its I/O gets a clear error, never a crash (subprocess)", async () => {
  const result = await runSnippet(REENTRY, { flags: ["--allow-all"] });
  assert.equal(result.code, 0, `the process crashed: ${result.stderr}`);
  const rows = result.report as {
    kind: string;
    action: string;
    ran: number;
    error: string | null;
    message: string;
  }[];
  assert.equal(rows.length, 8 * 5 + 1);
  const wrong: string[] = [];
  for (const r of rows) {
    if (r.kind === "passwd") continue;
    if (r.ran === 0) wrong.push(`${r.kind}: the callback never ran`);
    else if (r.action === "close" && r.error !== "ClosedError") {
      wrong.push(`${r.kind}/close: ${r.error} ${r.message}`);
    } else if (
      r.action !== "close" &&
      (r.error !== "TypeError" || !/inside a denossl callback/.test(r.message))
    ) {
      wrong.push(`${r.kind}/${r.action}: ${r.error} ${r.message}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.deepEqual(rows.at(-1), {
    kind: "passwd",
    action: "close",
    ran: 1,
    error: null,
    closed: true,
  });
});

Deno.test("a process that exits while Workers are using OpenSSL exits cleanly: no atexit cleanup races them (12 runs)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denossl-exit-" });
  try {
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/worker.ts`,
      `
import { Connection, Context, TestCA, TLS_METHOD, VERIFY_PEER, WantReadError } from ${
        JSON.stringify(mod)
      };
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const sctx = new Context(TLS_METHOD);
sctx.useCertificateChain(leaf.chainPEM);
sctx.usePrivateKey(leaf.keyPEM);
const cctx = new Context(TLS_METHOD);
cctx.addCaCerts(ca.certPEM);
cctx.setVerify(VERIFY_PEER);
function pump(from, to) {
  for (;;) {
    let c;
    try { c = from.bioRead(65536); } catch (e) { if (e instanceof WantReadError) return; throw e; }
    to.bioWrite(c);
  }
}
const step = (c) => { try { c.doHandshake(); } catch (e) { if (!(e instanceof WantReadError)) throw e; } };
self.postMessage("ready");
for (let i = 0; i < 1000; i++) {
  const s = new Connection(sctx, null); s.setAcceptState();
  const c = new Connection(cctx, null); c.setConnectState();
  for (let r = 0; r < 4; r++) { step(c); pump(c, s); step(s); pump(s, c); }
  c.close(); s.close();
  if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
}
`,
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `
let ready = 0;
for (let i = 0; i < 3; i++) {
  const w = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
  w.onmessage = () => ready++;
}
while (ready < 3) await new Promise((r) => setTimeout(r, 5));
await new Promise((r) => setTimeout(r, Math.random() * 150));
Deno.exit(0);
`,
    );
    const failures: string[] = [];
    for (let run = 0; run < 12; run++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}/main.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        failures.push(
          `run ${run}: exit ${out.code} signal ${out.signal} ${
            new TextDecoder().decode(out.stderr)
          }`,
        );
      }
    }
    // Before OPENSSL_INIT_NO_ATEXIT, about one run in five crashed in OPENSSL_cleanup().
    assert.deepEqual(failures, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reading certificates inside callbacks keeps what the OpenSSL call reports: the verification failure's depth and certificate, and an earlier callback's exception", async (t) => {
  const { ca, leaf } = pki();
  await t.step(
    "a verify callback that reads the certificate's subject: VerificationError reports the same depth and certificate as without the read",
    () => {
      const failure = (read: boolean): VerificationError => {
        using sctx = serverContext();
        using cctx = new Context(TLS_METHOD);
        using stranger = TestCA.create();
        cctx.addCaCerts(stranger.certPEM); // not the server's CA: verification fails
        cctx.setVerify(VERIFY_PEER, (_c, cert, _e, _d, ok) => {
          if (read) void cert.subject.commonName;
          return ok;
        });
        const { client, server } = pair(cctx, sctx);
        try {
          handshakeInMemory(client, server);
        } catch (e) {
          assert.ok(e instanceof VerificationError, String(e));
          return e;
        } finally {
          client.close();
          server.close();
        }
        assert.fail("the handshake succeeded");
      };
      const plain = failure(false);
      const reading = failure(true);
      assert.ok(plain.depth >= 0 && plain.certificate !== null);
      assert.equal(reading.depth, plain.depth);
      assert.equal(reading.certificate?.subject.commonName, plain.certificate?.subject.commonName);
    },
  );
  await t.step(
    "a keylog callback throws, then an info callback parses a certificate: the keylog exception still comes out of the handshake",
    () => {
      using sctx = serverContext();
      using cctx = clientContext();
      const boom = new Error("boom from the keylog callback");
      let thrown = false;
      cctx.setKeylogCallback(() => {
        if (!thrown) {
          thrown = true;
          throw boom;
        }
      });
      cctx.setInfoCallback(() => {
        using cert = X509.fromPEM(leaf.certPEM);
        void cert.subject.commonName;
      });
      const { client, server } = pair(cctx, sctx);
      let error: unknown;
      try {
        handshakeInMemory(client, server);
      } catch (e) {
        error = e;
      }
      assert.equal(error, boom);
      client.close();
      server.close();
    },
  );
  void ca;
});
