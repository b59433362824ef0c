/**
 * Sessions shared through Redis: two TLS servers keep their sessions in one
 * Redis (a `SessionStore` over the npm `redis` client), so a client that
 * connected to the first resumes with the second, as servers behind a load
 * balancer would. Without `REDIS_URL` it starts its own `redis-server`
 * (from your OS packages) on a free port, with nothing saved to disk.
 *
 * ```sh
 * deno run -A examples/redis_session_store.ts
 * REDIS_URL=redis://127.0.0.1:6379 deno run -A examples/redis_session_store.ts
 * ```
 *
 * @module
 */

import { createClient } from "npm:redis@4.7.0";
import { Buffer } from "node:buffer";
import {
  connectTls,
  listenTls,
  type Session,
  type SessionStore,
  type SessionStoreOperation,
  TestCA,
  type TlsListener,
} from "../mod.ts";

/** A connected client of the npm `redis` package. */
export type RedisClient = ReturnType<typeof createClient>;

/**
 * A session store in Redis: each session under `prefix` + its hex ID, with
 * Redis's own expiry set to the session's lifetime.
 *
 * @param client A client made with `disableOfflineQueue: true`, so that a
 *   Redis that is down fails a lookup at once instead of queueing it.
 * @param onError Told what failed (the handshake went on without Redis).
 * @param prefix The key prefix.
 * @returns The store.
 */
export function redisSessionStore(
  client: RedisClient,
  onError?: (error: unknown, operation: SessionStoreOperation) => void,
  prefix = "tls-session:",
): SessionStore {
  return {
    get: async (id) =>
      await client.get(client.commandOptions({ returnBuffers: true }), prefix + id) ?? null,
    set: async (id, der, ttl) => {
      await client.set(prefix + id, Buffer.from(der), { EX: Math.max(1, ttl) });
    },
    delete: async (id) => {
      await client.del(prefix + id);
    },
    timeout: 500,
    ...(onError ? { onError } : {}),
  };
}

/**
 * Connects to Redis, failing fast while it is down and reconnecting in the background.
 *
 * @param url A `redis://` URL.
 * @returns The connected client.
 */
export async function connectRedis(url: string): Promise<RedisClient> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: () => 200 },
  });
  client.on("error", () => {}); // each failed call is reported to the store's onError
  await client.connect();
  return client;
}

/** A `redis-server` of our own: its URL, and how to stop it. */
export interface LocalRedis {
  /** `redis://127.0.0.1:port`. */
  url: string;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port in a temporary directory, saving nothing.
 *
 * @returns It, once it answers.
 */
export async function startRedis(): Promise<LocalRedis> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-redis-" });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      `${port}`,
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (e) {
      if (i >= 100) throw e;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop(): Promise<void> {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Answers each client with "resumed" or "full", then closes. */
async function serve(listener: TlsListener): Promise<void> {
  for await (const conn of listener) {
    try {
      await conn.handshake();
      await conn.write(new TextEncoder().encode(conn.sessionReused() ? "resumed" : "full"));
    } catch {
      // a client that failed affects only itself
    } finally {
      await conn[Symbol.asyncDispose]();
    }
  }
}

if (import.meta.main) {
  const own = Deno.env.get("REDIS_URL") ? null : await startRedis();
  const redis = await connectRedis(Deno.env.get("REDIS_URL") ?? own!.url);
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  const store = redisSessionStore(redis, (e, op) => console.log(`session store ${op} failed:`, e));
  // Two servers, as two processes or machines would be: only the store is shared.
  const options = { hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM };
  const servers = [
    listenTls({ ...options, sessionStore: store }),
    listenTls({ ...options, sessionStore: store }),
  ];
  const serving = servers.map(serve);
  let session: Session | null = null;
  for (const [i, server] of servers.entries()) {
    await using conn = await connectTls({
      hostname: "127.0.0.1",
      port: server.addr.port,
      serverName: "localhost",
      caCerts: [ca.certPEM],
      ...(session ? { session } : {}),
    });
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    console.log(`server ${i + 1}: ${new TextDecoder().decode(buf.subarray(0, n ?? 0))}`);
    session ??= conn.getSession();
  }
  session?.close();
  for (const server of servers) server.close();
  await Promise.all(serving);
  await redis.quit();
  await own?.stop();
}
