/**
 * The session store's table of contexts (what OpenSSL's remove callback finds a store by): an
 * entry per context with a store, dropped when the context is closed unused or collected (in a
 * subprocess with `--expose-gc`), kept while connections of a closed context can still spoil a
 * session, and a live context's store unaffected by the others going.
 */
import assert from "node:assert/strict";
import {
  Connection,
  Context,
  type SessionStore,
  TestCA,
  TLS1_2_VERSION,
  TLS_METHOD,
} from "../mod.ts";
import { _sessionStoreContextCount } from "../connection/_session_store.ts";
import { handshakeInMemory } from "./_pair.ts";
import { runSnippet } from "./_subprocess.ts";

const url = (path: string): string => JSON.stringify(new URL(path, import.meta.url).href);

/** Makes 200 contexts with stores and drops them, collects them, then uses a live one's store. */
const COLLECTED = `
const { _sessionStoreContextCount: count } = await import(${
  url("../connection/_session_store.ts")
});
const { handshakeInMemory } = await import(${url("./_pair.ts")});
const { Connection, Context, TestCA, TLS1_2_VERSION, TLS_METHOD } = denossl;
const ca = TestCA.create();
const leaf = ca.issue({ dns: ["localhost"] });
const deleted = [];
const sessions = new Map();
const store = {
  get: (id) => sessions.get(id) ?? null,
  set: (id, der) => void sessions.set(id, der),
  delete: (id) => void deleted.push(id),
};
const live = new Context(TLS_METHOD);
live.useCertificate(leaf.cert);
live.usePrivateKey(leaf.key);
live.setSessionStore(store);
const base = count();
(function makeAndDrop() {
  for (let i = 0; i < 200; i++) new Context(TLS_METHOD).setSessionStore(store);
})();
const made = count();
let rounds = 0;
for (; rounds < 50 && count() > base; rounds++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 0));
}
const after = count();
// The live context's store still works: a session OpenSSL spoils leaves it through the remove callback.
const cctx = new Context(TLS_METHOD);
cctx.setMaxProtoVersion(TLS1_2_VERSION);
const client = new Connection(cctx, null);
const server = new Connection(live, null);
client.setConnectState();
server.setAcceptState();
handshakeInMemory(client, server);
const stored = [...sessions.keys()];
client.close();
server.close(); // no close_notify: OpenSSL removes the session, the remove callback finds the store
report({ base, made, after, rounds, stored, deleted });
`;

Deno.test("contexts with a store that are dropped and collected leave the remove callback's table; a live context's store still gets its deletes (subprocess, --expose-gc)", async () => {
  const result = await runSnippet(COLLECTED, {
    flags: ["--allow-all", "--v8-flags=--expose-gc"],
  });
  assert.equal(result.code, 0, result.stderr);
  const r = result.report as {
    base: number;
    made: number;
    after: number;
    rounds: number;
    stored: string[];
    deleted: string[];
  };
  assert.equal(r.base, 1, "the live context");
  assert.equal(r.made, 201);
  assert.equal(r.after, 1, `after ${r.rounds} rounds of gc(): only the live context is left`);
  assert.equal(r.stored.length, 1);
  assert.deepEqual(r.deleted, r.stored);
});

function mapStore(): SessionStore & { sessions: Map<string, Uint8Array>; deleted: string[] } {
  const sessions = new Map<string, Uint8Array>();
  const deleted: string[] = [];
  return {
    sessions,
    deleted,
    get: (id) => sessions.get(id) ?? null,
    set: (id, der) => void sessions.set(id, der),
    delete: (id) => void deleted.push(id),
  };
}

Deno.test("close() drops an unused context's entry at once (twice is harmless); a closed context whose connection outlives it keeps its entry, so a session it spoils still leaves the store", () => {
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  const base = _sessionStoreContextCount();
  const unused = new Context(TLS_METHOD);
  unused.setSessionStore(mapStore());
  assert.equal(_sessionStoreContextCount(), base + 1);
  unused.close();
  assert.equal(_sessionStoreContextCount(), base);
  unused.close();
  assert.equal(_sessionStoreContextCount(), base);

  const store = mapStore();
  const used = new Context(TLS_METHOD);
  used.useCertificate(leaf.cert);
  used.usePrivateKey(leaf.key);
  used.setSessionStore(store);
  using cctx = new Context(TLS_METHOD);
  cctx.setMaxProtoVersion(TLS1_2_VERSION);
  const client = new Connection(cctx, null);
  const server = new Connection(used, null);
  client.setConnectState();
  server.setAcceptState();
  handshakeInMemory(client, server);
  assert.equal(store.sessions.size, 1);
  used.close();
  assert.equal(
    _sessionStoreContextCount(),
    base + 1,
    "its connection still uses the native context",
  );
  client.close();
  server.close(); // no close_notify: OpenSSL removes the session from the closed context's store
  assert.deepEqual(store.deleted, [...store.sessions.keys()]);
});
