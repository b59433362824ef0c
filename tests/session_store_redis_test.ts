/**
 * The external session cache against a real Redis (`redis-server` from the
 * OS packages, started here on a free port with nothing saved, and the npm
 * `redis` client): two server processes, one in stream and one in native
 * mode, resume each other's TLS 1.2 session IDs and stateful TLS 1.3
 * sessions through it; with Redis killed, clients get full handshakes, the
 * servers log why, and no connection fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connectTls, type Session, TestCA, type TlsVersion } from "../mod.ts";
import { startRedis } from "../examples/redis_session_store.ts";

const PEER = new URL("./peers/session_store_server.ts", import.meta.url).pathname;

/** A server process and the JSON lines it printed. */
class ServerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly events: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  readonly #reading: Promise<void>;

  constructor(config: Record<string, unknown>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", PEER, JSON.stringify(config)],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    let rest = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        this.events.push(JSON.parse(rest.slice(0, nl)));
        rest = rest.slice(nl + 1);
        for (const wake of this.#waiters.splice(0)) wake();
      }
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Waits for the first event (from index `from`) that has `key`. */
  async next(key: string, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = this.events.slice(from).find((e) => key in e);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no "${key}" event: ${JSON.stringify(this.events)}`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async stop(): Promise<void> {
    await this.#writer.close();
    const status = await this.#child.status;
    await this.#reading;
    assert.equal(status.code, 0);
  }
}

Deno.test("two server processes resume each other's sessions through Redis; with Redis down, full handshakes, a logged reason, no failed connection", async (t) => {
  const redis = await startRedis();
  let redisUp = true;
  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"] });
  const config = { redisUrl: redis.url, cert: leaf.chainPEM, key: leaf.keyPEM };
  const a = new ServerProcess({ ...config, native: false });
  const b = new ServerProcess({ ...config, native: true });
  try {
    const portA = (await a.next("port")).port as number;
    const portB = (await b.next("port")).port as number;

    /** Connects, reads the server's word, returns it, whether the client resumed, and the session. */
    const visit = async (port: number, maxVersion: TlsVersion, session?: Session) => {
      await using conn = await connectTls({
        hostname: "127.0.0.1",
        port,
        serverName: "localhost",
        caCerts: [ca.certPEM],
        maxVersion,
        ...(session ? { session } : {}),
      });
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      return {
        word: new TextDecoder().decode(buf.subarray(0, n ?? 0)),
        reused: conn.sessionReused(),
        session: conn.getSession(),
      };
    };

    for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
      await t.step(
        `${version}: a session from process A (stream) resumes at process B (native), and back`,
        async () => {
          const first = await visit(portA, version);
          assert.equal(first.word, "full");
          using session = first.session!;
          const second = await visit(portB, version, session);
          assert.equal(second.word, "resumed");
          assert.equal(second.reused, true);
          using again = second.session!;
          // B's own new session (TLS 1.3 issues fresh ones on resumption too) resumes at A.
          const third = await visit(portA, version, version === "TLSv1.3" ? again : session);
          assert.equal(third.word, "resumed");
          third.session?.close();
        },
      );
    }
    assert.ok(b.events.some((e) => e.served === "resumed" && e.mode === "native"));
    assert.ok(a.events.some((e) => e.served === "resumed" && e.mode === "stream"));

    await t.step(
      "Redis killed: full handshakes, each server says why, no connection fails",
      async () => {
        const first = await visit(portA, "TLSv1.2");
        using session = first.session!;
        const fromA = a.events.length;
        const fromB = b.events.length;
        await redis.stop();
        redisUp = false;
        const again = await visit(portB, "TLSv1.2", session);
        assert.equal(again.word, "full");
        assert.equal(again.reused, false);
        again.session?.close();
        const logged = await b.next("storeError", fromB);
        assert.equal(logged.storeError, "get");
        const fresh = await visit(portA, "TLSv1.3");
        assert.equal(fresh.word, "full");
        fresh.session?.close();
        assert.equal((await a.next("storeError", fromA)).storeError, "set");
        for (const p of [a, b]) assert.deepEqual(p.events.filter((e) => "failed" in e), []);
      },
    );
  } finally {
    await a.stop();
    await b.stop();
    if (redisUp) await redis.stop();
  }
});
