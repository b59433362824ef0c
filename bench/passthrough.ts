/**
 * Does passthrough slow `read`/`write`? (`deno task bench:passthrough`)
 *
 * Passthrough is a `Proxy` at the end of `Connection`'s prototype chain. This
 * runs the same async workload (1 KiB writes echoed back over an in-process
 * stream transport, and 1 MiB bulk) in child processes with the Proxy in place
 * and with it unlinked, alternating, and reports the medians and the ratio.
 * Writes bench/PASSTHROUGH.md.
 *
 *   deno run -A bench/passthrough.ts [--runs 7]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Connection, ConnectionInfo, TestCA } from "../mod.ts";
import { Context, TLS_METHOD } from "../mod.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "7" },
    child: { type: "string" },
  },
});

/** A pair of in-process byte queues: what one side writes, the other reads. */
function duplexPair(): [Duplex, Duplex] {
  const a = new Queue();
  const b = new Queue();
  return [{ read: (p) => a.read(p), write: (p) => b.write(p) }, {
    read: (p) => b.read(p),
    write: (p) => a.write(p),
  }];
}

interface Duplex {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
}

class Queue {
  #chunks: Uint8Array[] = [];
  #waiter: (() => void) | null = null;
  write(p: Uint8Array): Promise<number> {
    this.#chunks.push(p.slice());
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
    return Promise.resolve(p.length);
  }
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      await new Promise<void>((r) => this.#waiter = r);
    }
    const head = this.#chunks[0]!;
    const n = Math.min(head.length, p.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    return n;
  }
}

async function child(mode: string): Promise<void> {
  // The passthrough Proxy is the prototype of the chain's last class prototype.
  const last = ConnectionInfo.prototype;
  if (mode === "unlinked") Object.setPrototypeOf(last, Object.prototype);
  const linked = Object.getPrototypeOf(last) !== Object.prototype;
  const ca = TestCA.create({ keyType: "ec" });
  const leaf = ca.issue({ dns: ["localhost"] });
  const sctx = new Context(TLS_METHOD);
  sctx.useCertificate(leaf.certPEM);
  sctx.usePrivateKey(leaf.keyPEM);
  const cctx = new Context(TLS_METHOD);
  const [ct, st] = duplexPair();
  const client = new Connection(cctx, ct);
  const server = new Connection(sctx, st);
  client.setConnectState();
  server.setAcceptState();
  await Promise.all([client.handshake(), server.handshake()]);
  const buf = new Uint8Array(64 * 1024);
  const small = new Uint8Array(1024);
  const echo = async (count: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      await client.write(small);
      let got = 0;
      while (got < small.length) got += (await server.read(buf)) ?? 0;
      await server.write(small);
      got = 0;
      while (got < small.length) got += (await client.read(buf)) ?? 0;
    }
    return count / ((performance.now() - t0) / 1000);
  };
  const bulk = async (mib: number): Promise<number> => {
    const chunk = new Uint8Array(64 * 1024);
    const total = mib << 20;
    const t0 = performance.now();
    const reading = (async () => {
      let got = 0;
      while (got < total) got += (await server.read(buf)) ?? 0;
    })();
    for (let sent = 0; sent < total; sent += chunk.length) await client.write(chunk);
    await reading;
    return total / 1e6 / ((performance.now() - t0) / 1000);
  };
  await echo(2000); // warm-up
  await bulk(16);
  const result = { linked, echo: await echo(10000), bulk: await bulk(128) };
  console.log(JSON.stringify(result));
  client.close();
  server.close();
  leaf.close();
  ca.close();
}

function median(xs: number[]): number {
  const s = xs.toSorted((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const runs = Number(flags.runs);
  const results: Record<string, { echo: number[]; bulk: number[] }> = {
    linked: { echo: [], bulk: [] },
    unlinked: { echo: [], bulk: [] },
  };
  for (let i = 0; i < runs; i++) {
    for (const mode of i % 2 === 0 ? ["linked", "unlinked"] : ["unlinked", "linked"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", fileURLToPath(import.meta.url), "--child", mode],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`child ${mode} failed`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim());
      if (r.linked !== (mode === "linked")) throw new Error(`child ${mode} ran the wrong setup`);
      results[mode]!.echo.push(r.echo);
      results[mode]!.bulk.push(r.bulk);
      console.log(
        `${mode}: echo ${r.echo.toFixed(0)} round trips/s, bulk ${r.bulk.toFixed(0)} MB/s`,
      );
    }
  }
  const row = (key: "echo" | "bulk", unit: string): string => {
    const a = median(results.linked![key]);
    const b = median(results.unlinked![key]);
    const range = (xs: number[]): string =>
      `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    return `| ${key === "echo" ? "1 KiB echo" : "bulk, 64 KiB writes"} (${unit}) | **${
      a.toFixed(0)
    }** (${range(results.linked![key])}) | **${b.toFixed(0)}** (${
      range(results.unlinked![key])
    }) | **${(a / b).toFixed(3)}×** |`;
  };
  const md = [
    "# Passthrough cost",
    "",
    `Generated by \`deno task bench:passthrough\` on ${
      new Date().toISOString()
    }, Deno ${Deno.version.deno}. Median (min–max) of ${runs} child processes per setup, alternating.`,
    "",
    "The same async `read`/`write` workload over an in-process stream transport (both TLS",
    "ends in one process, so only denossl's own code is measured): once with passthrough's",
    "`Proxy` at the end of `Connection`'s prototype chain (as shipped), once with it unlinked.",
    "A ratio of 1.0× means passthrough costs nothing on the hot path.",
    "",
    "| workload | with passthrough | without | ratio |",
    "|---|---|---|---|",
    row("echo", "round trips/s"),
    row("bulk", "MB/s"),
    "",
  ].join("\n");
  await Deno.writeTextFile(join(HERE, "PASSTHROUGH.md"), md);
  console.log(md);
}

if (flags.child) await child(flags.child);
else await main();
