/**
 * The external session cache in one process: two server contexts that share
 * a Map-backed `SessionStore` resume each other's TLS 1.2 session IDs and
 * stateful TLS 1.3 sessions, in stream and native mode, with synchronous and
 * delayed lookups; a store that throws, rejects or is late costs a full
 * handshake and an `onError` call, never the connection. The Redis test
 * across processes is session_store_redis_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  acceptTls,
  Connection,
  connectTls,
  Context,
  listenTls,
  type Session,
  type SessionStore,
  type SessionStoreOperation,
  TestCA,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLS_METHOD,
  VERIFY_PEER,
  WantClientHelloError,
} from "../mod.ts";
import { handshakeInMemory, pump, tcpPair } from "./_pair.ts";

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });

/** A Map-backed store that counts calls and records what `onError` is told. */
function mapStore(
  get: (sessions: Map<string, Uint8Array>, id: string) => ReturnType<SessionStore["get"]> = (
    sessions,
    id,
  ) => sessions.get(id) ?? null,
): SessionStore & {
  sessions: Map<string, Uint8Array>;
  errors: [unknown, SessionStoreOperation][];
  gets: number;
} {
  const sessions = new Map<string, Uint8Array>();
  const store = {
    sessions,
    errors: [] as [unknown, SessionStoreOperation][],
    gets: 0,
    get: (id: string) => {
      store.gets++;
      return get(sessions, id);
    },
    set: (id: string, der: Uint8Array) => void sessions.set(id, der),
    delete: (id: string) => void sessions.delete(id),
    onError: (error: unknown, operation: SessionStoreOperation) =>
      void store.errors.push([error, operation]),
  };
  return store;
}

/** A server context with the shared certificate, session ID context and store. */
function serverContext(store: SessionStore): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.useCertificate(leaf.cert);
  ctx.usePrivateKey(leaf.key);
  ctx.setSessionIdContext("session-store-test");
  ctx.setSessionStore(store);
  return ctx;
}

function clientContext(version: number): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.addCaCerts(ca.cert);
  ctx.setVerify(VERIFY_PEER);
  ctx.setMaxProtoVersion(version);
  return ctx;
}

/**
 * One connection from `clientCtx` to a server on `serverCtx`: handshake, one
 * byte from the server (so that TLS 1.3 tickets are read), then close.
 *
 * @returns Whether both sides resumed, the client's session, and the server's handshake time.
 */
async function visit(
  serverCtx: Context,
  clientCtx: Context,
  native: boolean,
  session?: Session,
): Promise<{ reused: boolean; session: Session | null; ms: number }> {
  const [a, b] = await tcpPair();
  await using client = new Connection(clientCtx, a, { native });
  await using server = new Connection(serverCtx, b, { native });
  assert.equal(server.transportMode, native ? "native" : "stream");
  client.setTlsextHostName("localhost");
  client.setVerifyHostname("localhost");
  if (session) client.setSession(session);
  client.setConnectState();
  server.setAcceptState();
  const started = performance.now();
  await Promise.all([client.handshake(), server.handshake()]);
  const ms = performance.now() - started;
  await server.write(new Uint8Array([1]));
  assert.equal(await client.read(new Uint8Array(1)), 1);
  assert.equal(client.sessionReused(), server.sessionReused());
  return { reused: server.sessionReused(), session: client.getSession(), ms };
}

/**
 * A session made with a server on `storeA`'s context, offered to a server on `storeB`'s.
 *
 * @returns The second visit.
 */
async function resumeAcross(
  storeA: SessionStore,
  storeB: SessionStore,
  native: boolean,
  version = TLS1_2_VERSION,
): Promise<{ reused: boolean; ms: number }> {
  using a = serverContext(storeA);
  using b = serverContext(storeB);
  using clientCtx = clientContext(version);
  const first = await visit(a, clientCtx, native);
  assert.equal(first.reused, false);
  using session = first.session!;
  const second = await visit(b, clientCtx, native, session);
  second.session?.close();
  return second;
}

for (const native of [false, true]) {
  const mode = native ? "native" : "stream";
  for (
    const [version, what] of [[TLS1_2_VERSION, "TLS 1.2 session IDs"], [
      TLS1_3_VERSION,
      "stateful TLS 1.3 sessions",
    ]] as const
  ) {
    Deno.test(`${mode} mode: two servers sharing a store resume each other's ${what}`, async () => {
      const store = mapStore();
      using a = serverContext(store);
      using b = serverContext(store);
      using clientCtx = clientContext(version);
      const first = await visit(a, clientCtx, native);
      assert.equal(first.reused, false);
      assert.ok(store.sessions.size >= 1, "the new session went to the store");
      for (const id of store.sessions.keys()) assert.match(id, /^[0-9a-f]{64}$/);
      using session = first.session!;
      const second = await visit(b, clientCtx, native, session);
      assert.equal(second.reused, true, "server B resumed server A's session");
      second.session?.close();
      assert.deepEqual(store.errors, []);
    });
  }

  Deno.test(`${mode} mode: a delayed get suspends the handshake at the client hello stage, then resumes`, async () => {
    const store = mapStore(async (sessions, id) => {
      await delay(40);
      return sessions.get(id) ?? null;
    });
    const second = await resumeAcross(store, store, native);
    assert.equal(second.reused, true);
    assert.ok(second.ms >= 35, `the handshake waited for the store (${second.ms} ms)`);
    assert.equal(store.gets, 1, "no lookup without a session to resume");
  });

  Deno.test(`${mode} mode: a store that throws, rejects or is late means a full handshake and an onError call, never a failed connection`, async (t) => {
    const cases: [string, SessionStore["get"], number | undefined, RegExp][] = [
      [
        "throws",
        () => {
          throw new Error("store down");
        },
        undefined,
        /store down/,
      ],
      ["rejects", () => Promise.reject(new Error("connection refused")), undefined, /refused/],
      ["never answers", () => new Promise(() => {}), 100, /took over 100 ms/],
      ["answers garbage", () => new Uint8Array([1, 2, 3]), undefined, /not a session/],
    ];
    for (const [name, failing, timeout, message] of cases) {
      await t.step(name, async () => {
        const good = mapStore();
        const bad = mapStore(failing as never);
        if (timeout !== undefined) bad.timeout = timeout;
        const second = await resumeAcross(good, bad, native);
        assert.equal(second.reused, false);
        assert.equal(bad.errors.length, 1);
        const [error, operation] = bad.errors[0]!;
        assert.equal(operation, "get");
        assert.match(String((error as Error).message), message);
        if (timeout !== undefined) assert.ok(second.ms >= timeout - 10);
      });
    }
  });
}

Deno.test("a store whose set throws or rejects is told through onError, and the connection is served", async () => {
  for (
    const set of [() => {
      throw new Error("full");
    }, () => Promise.reject(new Error("full"))]
  ) {
    const store = { ...mapStore(), set };
    const errors: SessionStoreOperation[] = [];
    store.onError = (_e, operation) => void errors.push(operation);
    using a = serverContext(store);
    using clientCtx = clientContext(TLS1_2_VERSION);
    const first = await visit(a, clientCtx, false);
    first.session?.close();
    await delay(0);
    assert.deepEqual(errors, ["set"]);
  }
});

Deno.test("synchronous face: a delayed get throws WantClientHelloError, pendingSelection settles, and the session is resumed", async () => {
  const store = mapStore(async (sessions, id) => {
    await delay(10);
    return sessions.get(id) ?? null;
  });
  using a = serverContext(store);
  using clientCtx = clientContext(TLS1_2_VERSION);
  let session: Session | null;
  {
    using client = new Connection(clientCtx, null);
    using server = new Connection(a, null);
    client.setConnectState();
    server.setAcceptState();
    handshakeInMemory(client, server);
    session = client.getSession();
    // Freed without close_notify, OpenSSL would invalidate the session (and the store's delete runs).
    client.shutdown();
    server.shutdown();
  }
  using client = new Connection(clientCtx, null);
  using server = new Connection(a, null);
  client.setSession(session!);
  session!.close();
  client.setConnectState();
  server.setAcceptState();
  client.tryHandshake();
  pump(client, server);
  assert.throws(() => server.tryHandshake(), WantClientHelloError);
  await server.pendingSelection;
  handshakeInMemory(client, server);
  assert.equal(server.sessionReused(), true);
});

Deno.test("a session OpenSSL invalidates (its connection freed without close_notify) is deleted from the store", () => {
  const store = mapStore();
  const deleted: string[] = [];
  store.delete = (id) => void deleted.push(id);
  using a = serverContext(store);
  using clientCtx = clientContext(TLS1_2_VERSION);
  const client = new Connection(clientCtx, null);
  const server = new Connection(a, null);
  client.setConnectState();
  server.setAcceptState();
  handshakeInMemory(client, server);
  assert.equal(store.sessions.size, 1);
  const [id] = store.sessions.keys();
  client.close();
  server.close(); // no shutdown(): OpenSSL removes the session from its cache, and so from the store
  assert.deepEqual(deleted, [id]);
});

Deno.test("listenTls and acceptTls take a sessionStore: two listeners resume each other's sessions", async () => {
  const store = mapStore();
  const options = { hostname: "127.0.0.1", port: 0, cert: leaf.certPEM, key: leaf.keyPEM };
  await using one = listenTls({ ...options, sessionStore: store });
  await using two = listenTls({ ...options, sessionStore: store });
  const serve = async (listener: typeof one): Promise<boolean> => {
    await using conn = await listener.accept();
    await conn.handshake();
    await conn.write(new Uint8Array([1]));
    return conn.sessionReused();
  };
  const client = (port: number, session?: Session) =>
    connectTls({
      hostname: "127.0.0.1",
      port,
      serverName: "localhost",
      caCerts: [ca.certPEM],
      maxVersion: "TLSv1.3",
      ...(session ? { session } : {}),
    });
  const served = serve(one);
  let session: Session | null;
  {
    await using conn = await client(one.addr.port);
    await conn.read(new Uint8Array(1));
    session = conn.getSession();
  }
  assert.equal(await served, false);
  const resumed = serve(two);
  {
    await using conn = await client(two.addr.port, session!);
    await conn.read(new Uint8Array(1));
    assert.equal(conn.sessionReused(), true);
  }
  assert.equal(await resumed, true);
  session!.close();

  // acceptTls over a plain TCP connection, with the same options and store.
  const again = serve(one);
  {
    await using conn = await client(one.addr.port);
    await conn.read(new Uint8Array(1));
    session = conn.getSession();
  }
  await again;
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = (async () => {
    await using conn = await acceptTls(await tcp.accept(), { ...options, sessionStore: store });
    await conn.write(new Uint8Array([1]));
    return conn.sessionReused();
  })();
  {
    await using conn = await client(tcp.addr.port, session!);
    await conn.read(new Uint8Array(1));
    assert.equal(conn.sessionReused(), true);
  }
  assert.equal(await accepted, true);
  session!.close();
});

Deno.test("setSessionStore refuses a store without get, set or delete, and a bad timeout", () => {
  using ctx = new Context(TLS_METHOD);
  assert.throws(() => ctx.setSessionStore(null as never), TypeError);
  assert.throws(
    () => ctx.setSessionStore({ get: () => null, set: () => {} } as never),
    /store.delete must be a function/,
  );
  assert.throws(
    () => ctx.setSessionStore({ ...mapStore(), timeout: -1 }),
    RangeError,
  );
});

Deno.test("after the tests: the fixtures close", () => {
  leaf.close();
  ca.close();
});
