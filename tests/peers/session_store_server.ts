/**
 * A TLS server process whose sessions live in Redis, for the test that two
 * processes resume each other's sessions through it. One argument, JSON:
 * `{ redisUrl, cert, key, native }`. Prints one JSON line per event:
 * `{"port":N}` once listening, `{"served":"resumed"|"full"}` per client
 * (after writing that word to it), `{"storeError":op,"message":...}` per
 * failed store call. Runs until its stdin closes.
 */
import { listenTls } from "../../mod.ts";
import { connectRedis, redisSessionStore } from "../../examples/redis_session_store.ts";

const cfg = JSON.parse(Deno.args[0]!);
const say = (o: unknown): void => console.log(JSON.stringify(o));
const redis = await connectRedis(cfg.redisUrl);
const store = redisSessionStore(
  redis,
  (e, op) => say({ storeError: op, message: e instanceof Error ? e.message : String(e) }),
);
const listener = listenTls({
  hostname: "127.0.0.1",
  port: 0,
  cert: cfg.cert,
  key: cfg.key,
  native: cfg.native,
  sessionStore: store,
});
say({ port: listener.addr.port });
const serving = (async () => {
  for await (const conn of listener) {
    try {
      await conn.handshake();
      const word = conn.sessionReused() ? "resumed" : "full";
      await conn.write(new TextEncoder().encode(word));
      say({ served: word, mode: conn.transportMode });
    } catch (e) {
      say({ failed: e instanceof Error ? e.message : String(e) });
    } finally {
      await conn[Symbol.asyncDispose]();
    }
  }
})();
for await (const _ of Deno.stdin.readable) { /* until the test closes our stdin */ }
listener.close();
await serving;
await redis.disconnect().catch(() => {});
