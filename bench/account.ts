/**
 * The ping-pong account (`deno task bench:account`): where one 1-byte round trip's time goes on
 * the echoing server, for denossl's stream and native modes, the floor (raw OpenSSL symbols from
 * Deno) and Deno's own TLS. The client is always OpenSSL's C client (bench/c/tls_bench.c), so
 * every server answers the same peer. Per server and per round trip it measures:
 *
 * - CPU time (user + system, /proc/PID/stat) and round trips per second, in interleaved rounds;
 * - FFI calls by symbol and socket ops (`read`/`write` on the Deno.TcpConn), counted by wrappers
 *   in a separate run (`--count` in the peers: counters cost time, so that run is not timed);
 * - system calls by name (`strace -c -f` attached for one run);
 * - where the CPU goes (`perf record -e cpu-clock`, samples by shared object: OpenSSL, the JIT'd
 *   JavaScript, the deno binary (V8's runtime, tokio, ops), libc, the kernel);
 * - then the other side: each contender's client against OpenSSL's C server, its round trips per
 *   second and its own CPU per round trip over the loop alone, in interleaved rounds.
 *
 * Writes bench/PINGPONG.md and bench/pingpong.json.
 *
 *   deno run -A bench/account.ts [--count 20000] [--rounds 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Child, cpuMicros, makePki, run, sleep } from "./_harness.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
  },
});
const N = Number(flags.count);
const ROUNDS = Number(flags.rounds);
const DENO = Deno.execPath();
const peer = (script: string, ...pre: string[]): string[] => [
  DENO,
  "run",
  "-A",
  ...pre,
  join(HERE, "peers", script),
];

interface Server {
  id: string;
  label: string;
  cmd: (pre: string[], count: boolean) => string[];
  counts: boolean;
}
const SERVERS: Server[] = [
  {
    id: "stream",
    label: "denossl, stream mode",
    cmd: (pre, c) => [...peer("denossl_peer.ts", ...pre), ...(c ? ["--count"] : []), "server"],
    counts: true,
  },
  {
    id: "native",
    label: "denossl, native mode",
    cmd: (pre, c) => [
      ...peer("denossl_peer.ts", ...pre),
      ...(c ? ["--count"] : []),
      "--native",
      "server",
    ],
    counts: true,
  },
  {
    id: "floor",
    label: "floor (raw symbols)",
    cmd: (pre, c) => [...peer("floor_peer.ts", ...pre), ...(c ? ["--count"] : []), "server"],
    counts: true,
  },
  {
    id: "deno",
    label: "Deno.listenTls",
    cmd: (pre) => [...peer("deno_peer.ts", ...pre), "server"],
    counts: false,
  },
];

const out = join(HERE, "out");
await Deno.mkdir(out, { recursive: true });
const cClient = join(out, "tls_bench");
await run(["cc", "-O2", join(HERE, "c", "tls_bench.c"), "-o", cClient, "-lssl", "-lcrypto"]);
const pki = await makePki();

async function start(s: Server, pre: string[] = [], count = false): Promise<[Child, number]> {
  const child = new Child([...s.cmd(pre, count), pki.cert, pki.key]);
  const port = Number(await child.line(30_000));
  if (!(port > 0)) throw new Error(`${s.id}: no port`);
  return [child, port];
}

async function pingpong(port: number, n: number): Promise<number> {
  const text = await run([cClient, "client", pki.ca, String(port), "pingpong", String(n)]);
  return (JSON.parse(text.trim().split("\n").pop()!) as { value: number }).value;
}

/** Context switches of all the process's threads so far (voluntary + involuntary). */
function switches(pid: number): number {
  let total = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/status`);
      for (const m of status.matchAll(/(?:nonvoluntary|voluntary)_ctxt_switches:\s+(\d+)/g)) {
        total += Number(m[1]);
      }
    } catch { /* a thread that just ended */ }
  }
  return total;
}

/** The process's thread ids (strace -p attaches to one thread; -f only follows new ones). */
function threads(pid: number): string[] {
  return [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---- 1. rate and CPU per round trip, interleaved rounds
const rate = new Map<string, number[]>(SERVERS.map((s) => [s.id, []]));
const cpu = new Map<string, number[]>(SERVERS.map((s) => [s.id, []]));
const ctx = new Map<string, number[]>(SERVERS.map((s) => [s.id, []]));
{
  const running = new Map<string, [Child, number]>();
  try {
    for (const s of SERVERS) {
      running.set(s.id, await start(s));
      await pingpong(running.get(s.id)![1], 2000);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < SERVERS.length; k++) {
        const s = SERVERS[(r + k) % SERVERS.length]!;
        const [child, port] = running.get(s.id)!;
        const c0 = cpuMicros(child.proc.pid);
        const x0 = switches(child.proc.pid);
        rate.get(s.id)!.push(await pingpong(port, N));
        cpu.get(s.id)!.push((cpuMicros(child.proc.pid) - c0) / N);
        ctx.get(s.id)!.push((switches(child.proc.pid) - x0) / N);
      }
    }
  } finally {
    for (const [child] of running.values()) await child.stop();
  }
}
console.error("rates and CPU done");

// ---- 2. FFI calls and socket ops per round trip
const calls = new Map<string, Record<string, number>>();
for (const s of SERVERS.filter((s) => s.counts)) {
  const [child, port] = await start(s, [], true);
  try {
    await pingpong(port, 1000);
    Deno.kill(child.proc.pid, "SIGUSR1");
    await sleep(200);
    await pingpong(port, N);
    Deno.kill(child.proc.pid, "SIGUSR2");
    let line = "";
    while (!line.startsWith("COUNTS ")) line = await child.line(10_000);
    const raw = JSON.parse(line.slice(7)) as Record<string, number>;
    calls.set(s.id, Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v / N])));
  } finally {
    await child.stop();
  }
}
console.error("counts done");

// ---- 3. system calls per round trip
const syscalls = new Map<string, Record<string, number>>();
for (const s of SERVERS) {
  const [child, port] = await start(s);
  const file = join(out, `strace-${s.id}.txt`);
  try {
    await pingpong(port, 1000);
    const tracer = new Deno.Command("strace", {
      args: ["-c", "-f", "-o", file, ...threads(child.proc.pid).flatMap((t) => ["-p", t])],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await sleep(500);
    await pingpong(port, N);
    tracer.kill("SIGINT");
    await tracer.status;
    const table: Record<string, number> = {};
    for (const l of (await Deno.readTextFile(file)).split("\n")) {
      const m = l.trim().match(/^[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/);
      if (m && m[2] !== "total") table[m[2]!] = Number(m[1]) / N;
    }
    syscalls.set(s.id, table);
  } finally {
    await child.stop();
  }
}
console.error("syscalls done");

// ---- 4. where the CPU goes, by shared object
const where = new Map<string, Record<string, number>>();
for (const s of SERVERS) {
  const [child, port] = await start(s, ["--v8-flags=--perf-basic-prof"]);
  const file = join(out, `perf-${s.id}.data`);
  try {
    await pingpong(port, 1000);
    const rec = new Deno.Command("perf", {
      args: ["record", "-e", "cpu-clock", "-F", "4999", "-o", file, "-p", String(child.proc.pid)],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await sleep(500);
    await pingpong(port, N);
    rec.kill("SIGINT");
    await rec.status;
    const report = await run(["perf", "report", "-i", file, "--sort", "dso", "--stdio"]);
    const buckets: Record<string, number> = {};
    for (const l of report.split("\n")) {
      const m = l.trim().match(/^([\d.]+)%\s+(.+)$/);
      if (!m) continue;
      const dso = m[2]!.trim();
      const bucket = /libssl/.test(dso)
        ? "OpenSSL (libssl)"
        : /libcrypto/.test(dso)
        ? "OpenSSL (libcrypto)"
        : /perf-\d+\.map|JIT/.test(dso)
        ? "JavaScript (JIT)"
        : /^deno$/.test(dso)
        ? "deno binary (V8 runtime, tokio, ops)"
        : /kernel/.test(dso)
        ? "kernel"
        : /libc/.test(dso)
        ? "libc"
        : "other";
      buckets[bucket] = (buckets[bucket] ?? 0) + Number(m[1]);
    }
    where.set(s.id, buckets);
  } finally {
    await child.stop();
  }
}
console.error("perf done");

// ---- 5. the client side: each contender's client against OpenSSL's C server, interleaved
const CLIENTS: Array<{ id: string; label: string; cmd: string[] }> = [
  { id: "stream", label: "denossl, stream mode", cmd: peer("denossl_peer.ts") },
  { id: "native", label: "denossl, native mode", cmd: [...peer("denossl_peer.ts"), "--native"] },
  { id: "floor", label: "floor (raw symbols)", cmd: peer("floor_peer.ts") },
  { id: "deno", label: "Deno.connectTls", cmd: peer("deno_peer.ts") },
];
const clientRate = new Map<string, number[]>(CLIENTS.map((c) => [c.id, []]));
const clientCpu = new Map<string, number[]>(CLIENTS.map((c) => [c.id, []]));
{
  const server = new Child([cClient, "server", pki.cert, pki.key]);
  try {
    const port = Number(await server.line(30_000));
    const client = async (c: (typeof CLIENTS)[number], n: number) => {
      const text = await run([...c.cmd, "client", pki.ca, String(port), "pingpong", String(n)]);
      return JSON.parse(text.trim().split("\n").pop()!) as {
        value: number;
        cpuMicrosPerRoundTrip: number;
      };
    };
    for (const c of CLIENTS) await client(c, 2000);
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < CLIENTS.length; k++) {
        const c = CLIENTS[(r + k) % CLIENTS.length]!;
        const res = await client(c, N);
        clientRate.get(c.id)!.push(res.value);
        clientCpu.get(c.id)!.push(res.cpuMicrosPerRoundTrip);
      }
    }
  } finally {
    await server.stop();
  }
}
console.error("clients done");
await Deno.remove(pki.dir, { recursive: true });

// ---- output
const f = (v: number | undefined, d = 2): string => v === undefined ? "—" : v.toFixed(d);
const lines: string[] = [
  "# Ping-pong: one round trip, accounted",
  "",
  `Generated by \`deno task bench:account\` on ${new Date().toISOString()}: ${
    N.toLocaleString("en-US")
  } ` +
  `1-byte round trips per run, OpenSSL's C client against each server, TLS 1.3 AES-128-GCM, ` +
  `loopback. Load average at the end: ${
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")
  }. Everything is per round trip and on the server (the echoing side).`,
  "",
  `| | ${SERVERS.map((s) => s.label).join(" | ")} |`,
  `|---|${SERVERS.map(() => "---").join("|")}|`,
  `| round trips/s (median of ${ROUNDS}) | ${
    SERVERS.map((s) => Math.round(median(rate.get(s.id)!)).toLocaleString("en-US")).join(" | ")
  } |`,
  `| server CPU, µs | ${SERVERS.map((s) => f(median(cpu.get(s.id)!), 1)).join(" | ")} |`,
  `| context switches (all threads) | ${
    SERVERS.map((s) => f(median(ctx.get(s.id)!))).join(" | ")
  } |`,
];
const sum = (o: Record<string, number> | undefined, pred: (k: string) => boolean): number =>
  o === undefined ? NaN : Object.entries(o).filter(([k]) => pred(k)).reduce((a, [, v]) => a + v, 0);
lines.push(
  `| FFI calls | ${
    SERVERS.map((s) => s.counts ? f(sum(calls.get(s.id), (k) => !k.startsWith("op.")), 1) : "n/a")
      .join(" | ")
  } |`,
  `| socket ops (TcpConn read + write) | ${
    SERVERS.map((s) => s.counts ? f(sum(calls.get(s.id), (k) => k.startsWith("op.")), 1) : "n/a")
      .join(" | ")
  } |`,
  `| system calls (all threads) | ${
    SERVERS.map((s) => f(sum(syscalls.get(s.id), () => true), 1)).join(" | ")
  } |`,
);
const buckets = [
  "OpenSSL (libssl)",
  "OpenSSL (libcrypto)",
  "JavaScript (JIT)",
  "deno binary (V8 runtime, tokio, ops)",
  "libc",
  "kernel",
  "other",
];
for (const b of buckets) {
  lines.push(
    `| CPU in ${b}, µs | ${
      SERVERS.map((s) => {
        const share = where.get(s.id)?.[b];
        return share === undefined ? "0" : f((share / 100) * median(cpu.get(s.id)!), 1);
      }).join(" | ")
    } |`,
  );
}
lines.push("", "## FFI calls per round trip, by symbol", "");
const symbols = [...new Set([...calls.values()].flatMap((o) => Object.keys(o)))].sort();
lines.push(
  `| symbol | ${SERVERS.filter((s) => s.counts).map((s) => s.label).join(" | ")} |`,
  `|---|${SERVERS.filter((s) => s.counts).map(() => "---").join("|")}|`,
);
for (const sym of symbols) {
  lines.push(
    `| ${sym} | ${
      SERVERS.filter((s) => s.counts).map((s) => f(calls.get(s.id)![sym])).join(" | ")
    } |`,
  );
}
lines.push("", "## System calls per round trip, by name (all threads)", "");
lines.push(
  "Counted under `strace -c`, which slows the server enough that data is nearly always there " +
    "when it reads: waits (`epoll_wait`, the reactor's `epoll_ctl`) are under-counted here. The " +
    "context-switch row above comes from an untraced run.",
  "",
);
const names = [...new Set([...syscalls.values()].flatMap((o) => Object.keys(o)))].sort();
lines.push(
  `| system call | ${SERVERS.map((s) => s.label).join(" | ")} |`,
  `|---|${SERVERS.map(() => "---").join("|")}|`,
);
for (const n of names) {
  const row = SERVERS.map((s) => syscalls.get(s.id)?.[n]);
  if (row.every((v) => v === undefined || v < 0.01)) continue;
  lines.push(`| ${n} | ${row.map((v) => f(v)).join(" | ")} |`);
}
lines.push(
  "",
  "## The client side",
  "",
  `Each contender's client against OpenSSL's C server (thread per connection, blocking), ${ROUNDS} ` +
    "interleaved rounds. CPU is the client's own (user + system, all threads, " +
    "`process.cpuUsage()`) over its round-trip loop alone, per round trip.",
  "",
  `| | ${CLIENTS.map((c) => c.label).join(" | ")} |`,
  `|---|${CLIENTS.map(() => "---").join("|")}|`,
  `| round trips/s (median of ${ROUNDS}) | ${
    CLIENTS.map((c) => Math.round(median(clientRate.get(c.id)!)).toLocaleString("en-US")).join(
      " | ",
    )
  } |`,
  `| client CPU, µs (median) | ${
    CLIENTS.map((c) => f(median(clientCpu.get(c.id)!), 1)).join(" | ")
  } |`,
  "",
);
await Deno.writeTextFile(join(HERE, "PINGPONG.md"), lines.join("\n"));
await Deno.writeTextFile(
  join(HERE, "pingpong.json"),
  JSON.stringify(
    {
      count: N,
      rounds: ROUNDS,
      rate: Object.fromEntries(rate),
      cpu: Object.fromEntries(cpu),
      contextSwitches: Object.fromEntries(ctx),
      calls: Object.fromEntries(calls),
      syscalls: Object.fromEntries(syscalls),
      where: Object.fromEntries(where),
      clientRate: Object.fromEntries(clientRate),
      clientCpu: Object.fromEntries(clientCpu),
    },
    null,
    2,
  ) + "\n",
);
console.error("wrote bench/PINGPONG.md and bench/pingpong.json");
