/**
 * The side-by-side harness (`deno task bench:compare`): denossl against
 * Deno's built-in TLS (rustls), Node's `tls`, and OpenSSL's own C speed, over
 * loopback TCP with client and server in separate processes, plus the
 * in-process memory-BIO pair against the same loop in C. Writes
 * bench/RESULTS.md and bench/results.json. See bench/README.md.
 *
 *   deno run -A bench/compare.ts [--runs 5] [--bulk-mib 256] [--quick] [--openssl <prefix>]
 *
 * `--openssl <prefix>` measures another OpenSSL build (installed under
 * `<prefix>`, with `lib/libssl.so.3` and `include/`): denossl loads it through
 * `DENOSSL_LIBSSL`/`DENOSSL_LIBCRYPTO`, the C reference is built against it,
 * and the results go to bench/RESULTS-openssl-<version>.md and .json, next to
 * the system build's.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Child, cpuMicros, makePki, type Pki, rssKiB, run, sleep } from "./_harness.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_BASE = join(HERE, "out");
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    "bulk-mib": { type: "string", default: "256" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    openssl: { type: "string" },
    baseline: { type: "string" },
    ktls: { type: "boolean", default: false },
  },
});
/** Another checkout of denossl whose peers run as extra contenders ("before" of a before/after). */
const BASELINE = flags.baseline;
/** Another OpenSSL build to measure, or undefined for the system's. */
const PREFIX = flags.openssl;
const OUT = PREFIX === undefined
  ? OUT_BASE
  : join(OUT_BASE, "openssl-" + PREFIX.replace(/\W+/g, "_"));
if (PREFIX !== undefined) {
  // Inherited by every peer: denossl's loader reads these (the peers run with -A).
  Deno.env.set("DENOSSL_LIBSSL", join(PREFIX, "lib", "libssl.so.3"));
  Deno.env.set("DENOSSL_LIBCRYPTO", join(PREFIX, "lib", "libcrypto.so.3"));
}
const QUICK = flags.quick;
const RUNS = QUICK ? 2 : Number(flags.runs);
const BULK = Number(flags["bulk-mib"]) * (QUICK ? 1 / 8 : 1) * 1024 * 1024;
/** Per-run counts. Kept small so the whole run fits in ~10 minutes on 2 cores. */
const N = {
  hsSeq: QUICK ? 30 : 100,
  hsConc: QUICK ? 64 : 320,
  resume: QUICK ? 30 : 200,
  pingpong: QUICK ? 2000 : 5000,
  idle: QUICK ? 160 : 1000,
  pairBulk: (QUICK ? 32 : 256) * 1024 * 1024,
  pairHs: QUICK ? 50 : 300,
};

/**
 * Ping-pong runs per contender: three times `--runs`, each half as long as a bulk-sized run. One
 * run's rate moves by a fifth on this shared VM while the differences that matter are a few
 * percent, so this row gets the most runs for its time.
 */
const PINGPONG_RUNS = RUNS * 3;

// ---------------------------------------------------------------- processes

interface Contender {
  id: string;
  label: string;
  /** Why it cannot run, when it cannot. */
  unavailable?: string;
  server?: (cert: string, key: string) => string[];
  client?: (ca: string, port: number, args: string[]) => string[];
  /** Whether it can resume sessions (checked by the client itself too). */
  resume?: string | true;
  /** The only workloads it runs (all when absent). */
  workloads?: string[];
  note?: string;
}

const DENO = Deno.execPath();
const denoRun = (script: string, dir = join(HERE, "peers")): string[] => [
  DENO,
  "run",
  "-A",
  join(dir, script),
];
/** The peers of the --baseline checkout. */
const baselinePeers = (): string => join(BASELINE!, "bench", "peers");

let cBench = "";
let cPair = "";

function contenders(): Contender[] {
  return [
    ...current(),
    ...(flags.ktls ? [ktls()] : []),
    ...(BASELINE === undefined ? [] : baseline()),
  ];
}

/** Native mode with kernel TLS asked for (--ktls); the bulk rows' detail says whether it took. */
function ktls(): Contender {
  const peer = (): string[] => [...denoRun("denossl_peer.ts"), "--native", "--ktls"];
  return {
    id: "denossl_ktls",
    label: "denossl (native mode, kTLS asked for)",
    server: (c, k) => [...peer(), "server", c, k],
    client: (ca, p, a) => [...peer(), "client", ca, String(p), ...a],
    resume: true,
    note: "--ktls: { native: true, ktls: true } on both ends; see bench/KTLS.md",
  };
}

/** The --baseline checkout's denossl contenders, run interleaved with this one's. */
function baseline(): Contender[] {
  const peer = (): string[] => denoRun("denossl_peer.ts", baselinePeers());
  return [
    {
      id: "baseline_stream",
      label: "baseline denossl (stream mode)",
      server: (c, k) => [...peer(), "server", c, k],
      client: (ca, p, a) => [...peer(), "client", ca, String(p), ...a],
      resume: true,
      note: `--baseline ${BASELINE}`,
    },
    {
      id: "baseline_native",
      label: "baseline denossl (native mode)",
      server: (c, k) => [...peer(), "--native", "server", c, k],
      client: (ca, p, a) => [...peer(), "--native", "client", ca, String(p), ...a],
      resume: true,
      note: `--baseline ${BASELINE}`,
    },
  ];
}

function current(): Contender[] {
  return [
    {
      id: "denossl_stream",
      label: "denossl (stream mode)",
      server: (c, k) => [...denoRun("denossl_peer.ts"), "server", c, k],
      client: (ca, p, a) => [...denoRun("denossl_peer.ts"), "client", ca, String(p), ...a],
      resume: true,
    },
    {
      id: "denossl_native",
      label: "denossl (native mode)",
      server: (c, k) => [...denoRun("denossl_peer.ts"), "--native", "server", c, k],
      client: (
        ca,
        p,
        a,
      ) => [...denoRun("denossl_peer.ts"), "--native", "client", ca, String(p), ...a],
      resume: true,
    },
    {
      id: "deno",
      label: "Deno TLS (rustls)",
      server: (c, k) => [...denoRun("deno_peer.ts"), "server", c, k],
      client: (ca, p, a) => [...denoRun("deno_peer.ts"), "client", ca, String(p), ...a],
      resume: "n/a: Deno.connectTls/startTls have no session API",
      note:
        "Deno.listenTls and Deno.connectTls, as Deno users write them (neither sets TCP_NODELAY)",
    },
    {
      id: "deno_starttls",
      label: "Deno TLS, startTls client",
      server: (c, k) => [...denoRun("deno_peer.ts"), "server", c, k],
      client: (ca, p, a) => [
        ...denoRun("deno_peer.ts"),
        "--starttls",
        "client",
        ca,
        String(p),
        ...a,
      ],
      resume: "n/a: Deno.connectTls/startTls have no session API",
      workloads: ["bulk", "bulk_up", "hs_seq", "hs_conc", "pingpong"],
      note:
        "the same Deno.listenTls server; client: Deno.connect + setNoDelay + Deno.startTls (an extra row)",
    },
    {
      id: "floor",
      label: "floor (raw OpenSSL symbols from Deno)",
      server: (c, k) => [...denoRun("floor_peer.ts"), "server", c, k],
      client: (ca, p, a) => [...denoRun("floor_peer.ts"), "client", ca, String(p), ...a],
      resume: "n/a: the floor has no session code",
      workloads: ["bulk", "bulk_up", "hs_seq", "hs_conc", "pingpong"],
      note:
        "bench/peers/floor_peer.ts: its own Deno.dlopen, two memory BIOs, the socket's read and write, no classes: the limit for any Deno binding of this OpenSSL",
    },
    {
      id: "tcp",
      label: "plain TCP (no TLS)",
      server: (c, k) => [...denoRun("tcp_peer.ts"), "server", c, k],
      client: (ca, p, a) => [...denoRun("tcp_peer.ts"), "client", ca, String(p), ...a],
      resume: "n/a: no TLS",
      workloads: ["pingpong", "memory"],
      note:
        "bench/peers/tcp_peer.ts: Deno.listen/Deno.connect with the same protocol and no TLS: the harness's own cost per connection and per round trip",
    },
    {
      id: "node",
      label: `Node ${Deno.version ? "" : ""}tls`,
      server: (c, k) => ["node", join(HERE, "peers", "node_peer.mjs"), "server", c, k],
      client: (
        ca,
        p,
        a,
      ) => ["node", join(HERE, "peers", "node_peer.mjs"), "client", ca, String(p), ...a],
      resume: true,
    },
    {
      id: "c",
      label: "OpenSSL C (reference)",
      server: (c, k) => [cBench, "server", c, k],
      client: (ca, p, a) => [cBench, "client", ca, String(p), ...a],
      resume: true,
      note: "thread per connection, blocking sockets",
    },
  ];
}

async function startServer(c: Contender, cert: string, key: string): Promise<[Child, number]> {
  const child = new Child(c.server!(cert, key));
  const port = Number(await child.line(30_000));
  if (!(port > 0)) throw new Error(`${c.id}: server printed no port`);
  return [child, port];
}

async function clientJSON(c: Contender, ca: string, port: number, args: string[]): Promise<Rec> {
  const text = await run(c.client!(ca, port, args));
  const line = text.trim().split("\n").pop()!;
  return JSON.parse(line) as Rec;
}

// ---------------------------------------------------------------- statistics

type Rec = Record<string, unknown> & { value?: number; error?: string };

interface Figure {
  median: number | null;
  min: number | null;
  max: number | null;
  runs: number[];
  unit: string;
  na?: string;
  detail?: Record<string, unknown>;
}

function figure(values: number[], unit: string, detail?: Record<string, unknown>): Figure {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return {
    median: s.length ? mid : null,
    min: s[0] ?? null,
    max: s.at(-1) ?? null,
    runs: values,
    unit,
    ...(detail ? { detail } : {}),
  };
}

const na = (reason: string, unit: string): Figure => ({
  median: null,
  min: null,
  max: null,
  runs: [],
  unit,
  na: reason,
});

// ---------------------------------------------------------------- workloads

interface Workload {
  id: string;
  title: string;
  unit: string;
  higherIsBetter: boolean;
  args?: string[];
  warm?: string[];
  /** Operations per run and their name, for the server's CPU time per operation. */
  ops?: [number, string];
  /** Runs per contender, when not `--runs`. */
  runs?: number;
}

const WORKLOADS: Workload[] = [
  {
    id: "bulk",
    title: `Bulk download (the server sends ${BULK / 1048576} MiB) per run`,
    unit: "MB/s",
    higherIsBetter: true,
    args: ["bulk", String(BULK)],
    ops: [BULK / 1e6, "MB sent"],
    warm: ["bulk", String(Math.min(BULK, 32 << 20))],
  },
  {
    id: "bulk_up",
    title: `Bulk upload (the client sends ${BULK / 1048576} MiB) per run`,
    unit: "MB/s",
    higherIsBetter: true,
    args: ["upload", String(BULK)],
    ops: [BULK / 1e6, "MB received"],
    warm: ["upload", String(Math.min(BULK, 32 << 20))],
  },
  {
    id: "hs_seq",
    title: `Full handshakes, sequential (${N.hsSeq} per run)`,
    unit: "handshakes/s",
    higherIsBetter: true,
    args: ["hs", String(N.hsSeq), "1"],
    ops: [N.hsSeq, "handshake"],
    warm: ["hs", "20", "1"],
  },
  {
    id: "hs_conc",
    title: `Full handshakes, 16 concurrent clients (${N.hsConc} per run)`,
    unit: "handshakes/s",
    higherIsBetter: true,
    args: ["hs", String(N.hsConc), "16"],
    ops: [N.hsConc, "handshake"],
    warm: ["hs", "32", "16"],
  },
  {
    id: "resume",
    title: `Resumed handshakes (TLS 1.3 tickets), sequential (${N.resume} per run)`,
    unit: "handshakes/s",
    higherIsBetter: true,
    args: ["resume", String(N.resume)],
    ops: [N.resume, "handshake"],
    warm: ["resume", "20"],
  },
  {
    id: "pingpong",
    title:
      `Ping-pong, 1-byte request and response (${N.pingpong} round trips per run, ${PINGPONG_RUNS} runs)`,
    unit: "round trips/s",
    higherIsBetter: true,
    args: ["pingpong", String(N.pingpong)],
    ops: [N.pingpong, "round trip"],
    warm: ["pingpong", "1000"],
    runs: PINGPONG_RUNS,
  },
];

/** Server CPU time per operation, by workload and contender (socket workloads). */
const serverCpu: Record<string, Record<string, Figure>> = {};

async function socketWorkloads(
  cs: Contender[],
  pki: Pki,
  results: Record<string, Record<string, Figure>>,
): Promise<void> {
  // Every contender's server runs for the whole phase, and the runs are interleaved (round i runs
  // each contender once, in a rotating order): a machine whose speed drifts over minutes then
  // affects every contender alike, and the rounds pair up for per-round ratios.
  const servers = new Map<string, [Child, number]>();
  try {
    for (const c of cs) {
      if (c.unavailable) {
        for (const w of WORKLOADS) (results[w.id] ??= {})[c.id] = na(c.unavailable, w.unit);
        continue;
      }
      servers.set(c.id, await startServer(c, pki.cert, pki.key));
    }
    for (const w of WORKLOADS) {
      if (flags.only && !flags.only.split(",").includes(w.id)) continue;
      const slot = results[w.id] ??= {};
      const active: Contender[] = [];
      for (const c of cs) {
        const server = servers.get(c.id);
        if (server === undefined) continue;
        if (c.workloads && !c.workloads.includes(w.id)) {
          slot[c.id] = na("n/a: not in this contender", w.unit);
          continue;
        }
        if (w.id === "resume" && c.resume !== true) {
          slot[c.id] = na(c.resume ?? "n/a", w.unit);
          continue;
        }
        try {
          const warm = await clientJSON(c, pki.ca, server[1], w.warm!);
          if (warm.error) {
            slot[c.id] = na(`n/a: ${warm.error}`, w.unit);
            log(`  ${c.id} ${w.id}: ${warm.error}`);
            continue;
          }
          active.push(c);
        } catch (e) {
          slot[c.id] = na(`failed: ${(e as Error).message.split("\n")[0]}`, w.unit);
          log(`  ${c.id} ${w.id}: FAILED ${(e as Error).message}`);
        }
      }
      const values = new Map<string, number[]>(active.map((c) => [c.id, []]));
      const cpu = new Map<string, number[]>(active.map((c) => [c.id, []]));
      const details = new Map<string, Record<string, unknown>>();
      const failed = new Set<string>();
      for (let i = 0; i < (w.runs ?? RUNS); i++) {
        for (let k = 0; k < active.length; k++) {
          const c = active[(i + k) % active.length]!;
          if (failed.has(c.id)) continue;
          try {
            const [server, port] = servers.get(c.id)!;
            const cpu0 = cpuMicros(server.proc.pid);
            const r = await clientJSON(c, pki.ca, port, w.args!);
            if (w.ops) cpu.get(c.id)!.push((cpuMicros(server.proc.pid) - cpu0) / w.ops[0]);
            values.get(c.id)!.push(r.value!);
            const { value: _v, seconds: _s, ...rest } = r;
            details.set(c.id, rest);
          } catch (e) {
            failed.add(c.id);
            slot[c.id] = na(`failed: ${(e as Error).message.split("\n")[0]}`, w.unit);
            log(`  ${c.id} ${w.id}: FAILED ${(e as Error).message}`);
          }
        }
      }
      for (const c of active) {
        if (failed.has(c.id)) continue;
        const v = values.get(c.id)!;
        if (w.ops) {
          (serverCpu[w.id] ??= {})[c.id] = figure(cpu.get(c.id)!, `µs per ${w.ops[1]}`);
        }
        slot[c.id] = figure(v, w.unit, details.get(c.id));
        log(`  ${c.id} ${w.id}: ${fmt(slot[c.id]!.median)} ${w.unit} [${v.map(fmt).join(", ")}]`);
      }
    }
  } finally {
    for (const [server] of servers.values()) await server.stop();
  }
}

/** Server RSS per idle established connection: fresh server, warm-up, baseline, N idle. */
async function memoryWorkload(cs: Contender[], pki: Pki): Promise<Record<string, Figure>> {
  const out: Record<string, Figure> = {};
  const active = cs.filter((c) => {
    if (c.unavailable) out[c.id] = na(c.unavailable, "KiB/connection");
    else if (c.workloads && !c.workloads.includes("memory")) {
      out[c.id] = na("n/a: not in this contender", "KiB/connection");
    }
    return !c.unavailable && (!c.workloads || c.workloads.includes("memory"));
  });
  const values = new Map<string, number[]>(active.map((c) => [c.id, []]));
  const base = new Map<string, number[]>(active.map((c) => [c.id, []]));
  const failed = new Set<string>();
  for (let i = 0; i < RUNS; i++) {
    for (let k = 0; k < active.length; k++) {
      const c = active[(i + k) % active.length]!;
      if (failed.has(c.id)) continue;
      try {
        const [server, port] = await startServer(c, pki.cert, pki.key);
        try {
          // warm-up: handshakes through the same code paths, then closed
          const warm = new Child(c.client!(pki.ca, port, ["idle", "64"]), "piped");
          if ((await warm.line()) !== "READY") throw new Error("no READY");
          await warm.proc.stdin.close();
          await warm.proc.status;
          await sleep(500);
          const before = rssKiB(server.proc.pid);
          const idle = new Child(c.client!(pki.ca, port, ["idle", String(N.idle)]), "piped");
          if ((await idle.line()) !== "READY") throw new Error("no READY");
          await sleep(1000);
          const after = rssKiB(server.proc.pid);
          await idle.proc.stdin.close();
          await idle.proc.status;
          values.get(c.id)!.push((after - before) / N.idle);
          base.get(c.id)!.push(before);
        } finally {
          await server.stop();
        }
      } catch (e) {
        failed.add(c.id);
        out[c.id] = na(`failed: ${(e as Error).message.split("\n")[0]}`, "KiB/connection");
        log(`  ${c.id} memory: FAILED ${(e as Error).message}`);
      }
    }
  }
  for (const c of active) {
    if (failed.has(c.id)) continue;
    const v = values.get(c.id)!;
    out[c.id] = figure(v, "KiB/connection", {
      baselineRssKiB: figure(base.get(c.id)!, "KiB").median,
    });
    log(`  ${c.id} memory: ${fmt(out[c.id]!.median)} KiB/conn [${v.map(fmt).join(", ")}]`);
  }
  return out;
}

async function pairWorkload(pki: Pki): Promise<Record<string, Record<string, Figure>>> {
  const out: Record<string, Record<string, Figure>> = { pair_bulk: {}, pair_hs: {} };
  const impls: [string, string[]][] = [
    ["denossl_stream", [...denoRun("denossl_pair.ts"), pki.cert, pki.key, pki.ca]],
    ["c", [cPair, pki.cert, pki.key, pki.ca]],
  ];
  if (BASELINE !== undefined) {
    impls.push([
      "baseline_stream",
      [...denoRun("denossl_pair.ts", baselinePeers()), pki.cert, pki.key, pki.ca],
    ]);
  }
  for (
    const [w, args, unit] of [
      ["pair_bulk", ["bulk", String(N.pairBulk)], "MB/s"],
      ["pair_hs", ["hs", String(N.pairHs)], "handshakes/s"],
    ] as const
  ) {
    const values = new Map<string, number[]>(impls.map(([id]) => [id, []]));
    const bests = new Map<string, number[]>(impls.map(([id]) => [id, []]));
    for (let i = 0; i < RUNS; i++) {
      for (let k = 0; k < impls.length; k++) {
        const [id, cmd] = impls[(i + k) % impls.length]!;
        const r = JSON.parse((await run([...cmd, ...args])).trim().split("\n").pop()!) as Rec;
        values.get(id)!.push(r.value!);
        bests.get(id)!.push(r.best as number);
      }
    }
    for (const [id] of impls) {
      const v = values.get(id)!;
      const b = figure(bests.get(id)!, unit);
      out[w]![id] = figure(v, unit, { bestBatch: b });
      log(
        `  ${id} ${w}: ${fmt(out[w]![id]!.median)} ${unit} [${v.map(fmt).join(", ")}]; ` +
          `fastest batch ${fmt(b.median)} [${b.runs.map(fmt).join(", ")}]`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------- setup

async function buildC(): Promise<void> {
  await Deno.mkdir(OUT, { recursive: true });
  cBench = join(OUT, "tls_bench");
  cPair = join(OUT, "pair");
  // Against another build: its headers, its libraries, found at run time through the rpath.
  const against = PREFIX === undefined ? [] : [
    "-I",
    join(PREFIX, "include"),
    "-L",
    join(PREFIX, "lib"),
    `-Wl,-rpath,${join(PREFIX, "lib")}`,
  ];
  await run([
    "cc",
    "-O2",
    ...against,
    join(HERE, "c", "tls_bench.c"),
    "-o",
    cBench,
    "-lssl",
    "-lcrypto",
    "-lpthread",
  ]);
  await run(["cc", "-O2", ...against, join(HERE, "c", "pair.c"), "-o", cPair, "-lssl", "-lcrypto"]);
}

/** Which suite and group Deno's rustls client picks when the server lets it choose. */
async function probeDeno(pki: Pki): Promise<Record<string, string>> {
  const server = new Child([cBench, "server", pki.cert, pki.key, "probe"]);
  try {
    const port = Number(await server.line(10_000));
    await run([...denoRun("deno_peer.ts"), "client", pki.ca, String(port), "hs", "1", "1"]);
    return JSON.parse(await server.line(10_000));
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    await server.stop();
  }
}

async function machine(): Promise<Record<string, string>> {
  const loads = (await run([
    DENO,
    "eval",
    `import { opensslVersion } from ${JSON.stringify(join(HERE, "..", "mod.ts"))};` +
    "console.log(opensslVersion().text)",
  ])).trim();
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  const mem = (await Deno.readTextFile("/proc/meminfo")).match(/MemTotal:\s*(\d+)/)?.[1] ?? "0";
  return {
    cpu,
    cores: String(navigator.hardwareConcurrency),
    memory: `${Math.round(Number(mem) / 1048576)} GiB`,
    kernel: (await run(["uname", "-sr"])).trim(),
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    node: (await run(["node", "--version"])).trim(),
    openssl: PREFIX === undefined
      ? (await run(["openssl", "version"])).trim()
      : `${loads} (--openssl ${PREFIX}; the certificates are made by the system's openssl CLI)`,
    denosslLoads: loads,
    loadavg: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
  };
}

// ---------------------------------------------------------------- output

function fmt(v: number | null | undefined): string {
  if (v == null) return "—";
  if (v >= 1000) return Math.round(v).toLocaleString("en-US");
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function cell(f: Figure | undefined): string {
  if (!f) return "n/a";
  if (f.na) return f.na;
  return `**${fmt(f.median)}** (${fmt(f.min)}–${fmt(f.max)})`;
}

function ratio(a: Figure | undefined, b: Figure | undefined): number | null {
  if (!a || !b || a.median == null || b.median == null || b.median === 0) return null;
  return a.median / b.median;
}

/** (a − n) ÷ (b − n) of the medians: a ratio with the harness's own share taken off. */
function netRatio(
  a: Figure | undefined,
  b: Figure | undefined,
  n: Figure | undefined,
): number | null {
  if (a?.median == null || b?.median == null || n?.median == null || b.median === n.median) {
    return null;
  }
  return (a.median - n.median) / (b.median - n.median);
}

/**
 * The median of per-round ratios: round i of one contender against round i
 * of the other, run seconds apart (the runs are interleaved).
 */
function pairedRatio(a: Figure | undefined, b: Figure | undefined): number | null {
  if (!a || !b || a.runs.length === 0 || a.runs.length !== b.runs.length) return null;
  const r = a.runs.map((x, i) => x / b.runs[i]!).filter(Number.isFinite);
  return r.length ? figure(r, "×").median : null;
}

const log = (s: string): void => console.error(s);
const log0 = log;

// ---------------------------------------------------------------- main

const started = Date.now();
log0("denossl bench:compare — building the C reference, making an ECDSA P-256 certificate");
await buildC();
const pki = await makePki();
const env = await machine();
const cs = contenders();
cs.find((c) => c.id === "node")!.label = `Node ${env.node} tls`;
const probe = await probeDeno(pki);
log0(`Deno's rustls client picks: ${JSON.stringify(probe)}`);

const results: Record<string, Record<string, Figure>> = {};
log0(`socket workloads (${RUNS} runs each, ping-pong ${PINGPONG_RUNS}, after one warm-up run)`);
await socketWorkloads(cs, pki, results);
if (!flags.only || flags.only.includes("memory")) {
  log0(`memory: server RSS per idle connection, ${N.idle} connections`);
  results.memory = await memoryWorkload(cs, pki);
}
if (!flags.only || flags.only.includes("pair")) {
  log0("in-process memory-BIO pair");
  Object.assign(results, await pairWorkload(pki));
}
env.loadavgEnd = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const elapsed = (Date.now() - started) / 1000;
await Deno.remove(pki.dir, { recursive: true });

const TITLES: Record<string, [string, string, boolean]> = Object.fromEntries([
  ...WORKLOADS.map((w) => [w.id, [w.title, w.unit, true]]),
  ["memory", [`Server RSS per idle established connection (${N.idle} connections)`, "KiB", false]],
  ["pair_bulk", [
    `In-process memory-BIO pair, bulk (${N.pairBulk / 1048576} MiB, 16 KiB writes)`,
    "MB/s",
    true,
  ]],
  ["pair_hs", [
    `In-process memory-BIO pair, handshakes (${N.pairHs} per run)`,
    "handshakes/s",
    true,
  ]],
]);

interface Target {
  workload: string;
  goal: string;
  against: string;
  min?: number;
  max?: number;
  /** Judged on the server's CPU per operation instead of the rate. */
  cpu?: true;
  /** Other ratios reported beside, not judged: what the floors reach, for context. */
  beside?: Beside[];
}

/** A ratio of two contenders' figures, reported beside a target. */
interface Beside {
  /** [numerator, denominator] contenders. */
  of: [string, string];
  /** A contender whose figure is taken off both sides first (the harness's own cost). */
  net?: string;
}
const TARGETS: Target[] = [
  {
    workload: "bulk",
    goal: "≥ 1.2× Deno's TLS",
    against: "deno",
    min: 1.2,
    beside: [{ of: ["floor", "deno"] }, { of: ["c", "deno"] }],
  },
  {
    workload: "bulk_up",
    goal: "≥ 1.2× Deno's TLS",
    against: "deno",
    min: 1.2,
    beside: [{ of: ["floor", "deno"] }, { of: ["c", "deno"] }],
  },
  { workload: "hs_conc", goal: "≥ 2× Deno's TLS", against: "deno", min: 2 },
  {
    workload: "hs_conc",
    goal: "server CPU per handshake ≤ 1.05× the C server's",
    against: "c",
    max: 1.05,
    cpu: true,
    beside: [{ of: ["floor", "c"] }],
  },
  {
    workload: "pingpong",
    goal: "≥ 0.95× the floor",
    against: "floor",
    min: 0.95,
    beside: [{ of: ["denossl_stream", "deno"] }],
  },
  {
    workload: "memory",
    goal: "≤ 0.9× Deno's TLS",
    against: "deno",
    max: 0.9,
    beside: [{ of: ["denossl_stream", "deno"], net: "tcp" }],
  },
  { workload: "pair_bulk", goal: "≥ 0.9× the C loop", against: "c", min: 0.9 },
  { workload: "pair_hs", goal: "≥ 0.9× the C loop", against: "c", min: 0.9 },
];
const meets = (t: Target, r: number | null): boolean | null =>
  r == null ? null : t.min != null ? r >= t.min : r <= t.max!;
const targets = TARGETS.map((t) => {
  const row = t.cpu ? serverCpu[t.workload] : results[t.workload];
  const a = row?.denossl_stream;
  const b = row?.[t.against];
  const r = ratio(a, b);
  // Native mode is judged on its own, beside stream mode (the pair rows have no native mode).
  const nativeRatio = ratio(row?.denossl_native, b);
  return {
    ...t,
    ratio: r,
    paired: pairedRatio(a, b),
    met: meets(t, r),
    nativeRatio,
    nativeMet: meets(t, nativeRatio),
    besideRatios: (t.beside ?? []).map((b) =>
      b.net === undefined
        ? ratio(row?.[b.of[0]], row?.[b.of[1]])
        : netRatio(row?.[b.of[0]], row?.[b.of[1]], row?.[b.net])
    ),
    nativeOverStream: ratio(row?.denossl_native, a),
  };
});

const date = new Date().toISOString();
const json = {
  date,
  machine: env,
  settings: { runs: RUNS, bulkBytes: BULK, counts: N, quick: QUICK, elapsedSeconds: elapsed },
  protocol:
    "TLS 1.3, TLS_AES_128_GCM_SHA256 (Deno: rustls's own choice), ECDSA P-256 leaf signed by a P-256 CA, clients verify (CA + IP 127.0.0.1), loopback TCP, TCP_NODELAY where the API allows",
  denoNegotiated: probe,
  contenders: cs.map(({ id, label, unavailable, note }) => ({ id, label, unavailable, note })),
  results,
  serverCpu,
  targets,
};
/** bench/RESULTS.md for the system's OpenSSL; RESULTS-openssl-<version>.md for another build. */
const suffix = BASELINE !== undefined
  ? "-baseline"
  : PREFIX === undefined
  ? ""
  : "-openssl-" + (env.denosslLoads?.match(/OpenSSL (\S+)/)?.[1] ?? "other");
const jsonName = `results${suffix}.json`;
const mdName = `RESULTS${suffix}.md`;
await Deno.writeTextFile(join(HERE, jsonName), JSON.stringify(json, null, 2) + "\n");

const lines: string[] = [];
lines.push("# denossl — side-by-side results", "");
lines.push(`Generated by \`deno task bench:compare\` on ${date} (${elapsed.toFixed(0)} s).`, "");
lines.push("| | |", "|---|---|");
for (const [k, v] of Object.entries(env)) lines.push(`| ${k} | ${v} |`);
lines.push("");
lines.push(
  `TLS 1.3, TLS_AES_128_GCM_SHA256, ECDSA P-256 leaf signed by a P-256 CA, clients verify the server ` +
    `(CA + IP 127.0.0.1), loopback TCP, client and server in separate processes (the pair rows: one ` +
    `process). Each figure: **median** (min–max) of ${RUNS} runs (ping-pong: ${PINGPONG_RUNS} shorter ` +
    `runs), after one warm-up run. MB = 10^6 bytes. ` +
    `Bulk is scaled down to ${
      BULK / 1048576
    } MiB per run (1 GiB × ${RUNS} runs × 4 contenders does not ` +
    `fit the 10-minute budget on 2 cores). Each contender talks to itself (its own client and server).`,
  "",
);
lines.push(
  `Deno's rustls client, offered every suite by an OpenSSL server, picks **${
    probe.cipher ?? "?"
  }** ` +
    `with group **${probe.group ?? "?"}** (so Deno-to-Deno runs ${
      probe.cipher ?? "?"
    }, not AES-128-GCM; ` +
    `OpenSSL 3.0 cannot negotiate the post-quantum hybrid group, so a Deno-to-Deno run may use one ` +
    `where this probe shows X25519).`,
  "",
);
const ids = cs.map((c) => c.id);
lines.push(`| workload | ${cs.map((c) => c.label).join(" | ")} | denossl ÷ Deno TLS |`);
lines.push(`|---|${ids.map(() => "---").join("|")}|---|`);
for (const w of Object.keys(TITLES)) {
  const row = results[w];
  if (!row) continue;
  const [title, unit] = TITLES[w]!;
  const r = w.startsWith("pair") ? null : ratio(row.denossl_stream, row.deno);
  lines.push(
    `| ${title}, ${unit} | ${
      ids.map((id) => cell(row[id] ?? na("n/a: not run", unit))).join(" | ")
    } | ${
      r == null
        ? (w.startsWith("pair")
          ? `denossl ÷ C: **${fmt(ratio(row.denossl_stream, row.c))}×**`
          : "—")
        : `**${r.toFixed(2)}×**`
    } |`,
  );
}
lines.push(
  "",
  "Pair rows: only denossl (memory BIOs through the synchronous API) and C run them.",
  "",
);
const batchRows = ["pair_bulk", "pair_hs"].filter((w) => results[w]?.c?.detail?.bestBatch);
if (batchRows.length > 0) {
  lines.push(
    "### Pair rows: the fastest batch",
    "",
    "Each pair run also times its loop in batches (1,024 records of 16 KiB, or 10 handshakes) and " +
      "reports its fastest batch: the loop's cost with the least interference from the rest of the " +
      "machine, which on a shared VM moves whole runs by up to a third. Same loop, same method for both; " +
      "median (min–max) over the runs. This is a diagnostic for the FFI overhead: the target below " +
      "is still judged on whole runs, as the issue specifies.",
    "",
    "| workload | denossl (stream mode) | OpenSSL C (reference) | denossl ÷ C |",
    "|---|---|---|---|",
  );
  for (const w of batchRows) {
    const d = results[w]!.denossl_stream?.detail?.bestBatch as Figure | undefined;
    const c = results[w]!.c!.detail!.bestBatch as Figure;
    const r = ratio(d, c);
    lines.push(
      `| ${TITLES[w]![0]}, ${TITLES[w]![1]} | ${d ? cell(d) : "—"} | ${cell(c)} | ${
        r == null ? "—" : `**${r.toFixed(2)}×**`
      } |`,
    );
  }
  lines.push("");
}
lines.push(
  "## Server CPU per operation",
  "",
  "The server process's CPU time (user + system, all threads, from /proc/PID/stat at the kernel's " +
    "10 ms tick) over each run, divided by the run's operations: lower is better. Less sensitive " +
    "to a busy machine than the rates above, since waiting for the CPU does not count. For bulk " +
    "download the server is the sender, for upload the receiver; for ping-pong, the echoing side.",
  "",
  `| workload | ${cs.map((c) => c.label).join(" | ")} | denossl ÷ Deno TLS |`,
  `|---|${ids.map(() => "---").join("|")}|---|`,
);
for (const w of WORKLOADS) {
  const row = serverCpu[w.id];
  if (!row || !w.ops) continue;
  const r = ratio(row.denossl_stream, row.deno);
  lines.push(
    `| ${w.title}, µs per ${w.ops[1]} | ${
      ids.map((id) => cell(row[id] ?? results[w.id]?.[id] ?? na("n/a: not run", ""))).join(" | ")
    } | ${r == null ? "—" : `**${r.toFixed(2)}×**`} |`,
  );
}
lines.push("");
lines.push(
  "## Targets",
  "",
  "Stream mode: the ratio of medians, and the median of the per-round ratios (each round runs " +
    "every contender once, seconds apart); met is judged on the ratio of medians. Native mode's " +
    "ratio of medians is judged on its own in the last two columns.",
  "",
  "| workload | target | stream mode ratio | per-round ratio | met | native mode ratio | met | native ÷ stream | beside |",
  "|---|---|---|---|---|---|---|---|---|",
);
for (const t of targets) {
  const x = (v: number | null): string => v == null ? "—" : v.toFixed(2) + "×";
  const m = (v: boolean | null): string => v == null ? "n/a" : v ? "yes" : "**no**";
  lines.push(
    `| ${TITLES[t.workload]?.[0] ?? t.workload} | ${t.goal} | ${x(t.ratio)} | ${x(t.paired)} | ${
      m(t.met)
    } | ${x(t.nativeRatio)} | ${m(t.nativeMet)} | ${t.cpu ? "(CPU: lower is better) " : ""}${
      x(t.nativeOverStream)
    } | ${
      (t.beside ?? []).map((b, i) =>
        `${b.net === undefined ? "" : `net of ${b.net}, `}${b.of[0]} ÷ ${b.of[1]}: ${
          x(t.besideRatios[i] ?? null)
        }`
      ).join("; ")
    } |`,
  );
}
if (BASELINE !== undefined) {
  // The before/after judgement: this checkout's stream and native modes against the baseline's,
  // run in the same interleaved rounds.
  lines.push(
    "",
    "## Against the baseline",
    "",
    "This checkout ÷ the `--baseline` checkout, same mode: the ratio of medians and the median of " +
      "the per-round ratios (higher is better, except memory).",
    "",
    "| workload | stream ÷ baseline stream | per-round | native ÷ baseline native | per-round |",
    "|---|---|---|---|---|",
  );
  const x = (v: number | null): string => v == null ? "—" : v.toFixed(2) + "×";
  for (const [w, row] of Object.entries(results)) {
    if (row.baseline_stream?.median == null && row.baseline_native?.median == null) continue;
    lines.push(
      `| ${TITLES[w]?.[0] ?? w} | ${x(ratio(row.denossl_stream, row.baseline_stream))} | ${
        x(pairedRatio(row.denossl_stream, row.baseline_stream))
      } | ${x(ratio(row.denossl_native, row.baseline_native))} | ${
        x(pairedRatio(row.denossl_native, row.baseline_native))
      } |`,
    );
  }
}
lines.push("", "## Notes", "");
for (const c of cs) if (c.note) lines.push(`- ${c.label}: ${c.note}.`);
const resumeNote = results.resume?.denossl_stream?.detail;
if (resumeNote) {
  lines.push(`- denossl resumed-handshake run detail: ${JSON.stringify(resumeNote)}.`);
}
lines.push(
  "- Memory: fresh server per run; a 64-connection warm-up is opened and closed, the server's VmRSS " +
    `is read, ${N.idle} connections are opened (16 at a time, each completing a 1-byte exchange) and held, ` +
    "VmRSS is read again after 1 s; the figure is the difference divided by the connection count. " +
    "It includes the harness's own 64 KiB read buffer per connection (bench/peers/_proto.ts), the " +
    "same for every Deno-side contender.",
  "- The pair loops move ciphertext the same way (test the pending bytes, then read them) and both " +
    'handshake steps take "want read" as a result, not a failure: C through SSL_get_error, ' +
    "denossl through Connection.tryHandshake() (doHandshake() would throw WantReadError, and Deno " +
    "spends microseconds constructing each Error).",
  "- Runs are interleaved: round i runs each contender once (rotating the order), so drift in the " +
    "machine's speed over the minutes of a run affects every contender alike.",
  "- Sequential full handshakes against Deno are dominated by Nagle on Deno.listenTls's server " +
    "sockets (about 30 ms of delayed ACK per handshake; a Deno.startTls client against the C server " +
    "does about 190/s): the sequential ratio says more about that than about TLS work. The 16-client " +
    "row, where the delays overlap, is the fairer handshake comparison.",
  "- The machine is shared (2 cores) and was not idle: see loadavg above. Ratios within one run of " +
    "the harness are more reliable than absolute figures.",
  "",
);
await Deno.writeTextFile(join(HERE, mdName), lines.join("\n"));
log0(`wrote bench/${mdName} and bench/${jsonName} in ${elapsed.toFixed(0)} s`);
