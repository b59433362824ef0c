/**
 * Handshakes per second of one against two denossl server processes on one
 * port (`listenTls({ reusePort: true })`), under the same load-generating
 * client: this process, `--concurrency` clients each making full, verified
 * TLS 1.3 handshakes in a loop. Rounds alternate one and two servers; the
 * median of each is reported with the machine's core count and the ratio.
 *
 *   deno task bench:scale                       # writes bench/SCALE.md
 *   deno run -A bench/scale.ts --seconds 2 --rounds 1   # a smoke run, printed only
 *
 * @module
 */
import { parseArgs } from "node:util";
import { TestCA } from "../mod.ts";
import { ask, ScaleServer } from "../tests/_scale.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    write: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

async function nproc(): Promise<string> {
  try {
    const out = await new Deno.Command("nproc", { stdout: "piped" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "unknown";
  }
}

using ca = TestCA.create();
using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });

/** Handshakes per second against `servers` processes sharing one port. */
async function measure(servers: number): Promise<{ rate: number; perPid: number[] }> {
  const o = { cert: leaf.chainPEM, key: leaf.keyPEM, reusePort: true };
  const first = await ScaleServer.start(o);
  const all = [first];
  try {
    for (let i = 1; i < servers; i++) all.push(await ScaleServer.start({ ...o, port: first.port }));
    const counts = new Map<number, number>();
    let done = 0;
    let errors = 0;
    const end = performance.now() + seconds * 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < end) {
        try {
          const { pid } = await ask(first.port, ca.certPEM);
          counts.set(pid, (counts.get(pid) ?? 0) + 1);
          done++;
        } catch {
          errors++;
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = (performance.now() - started) / 1000;
    if (errors) console.error(`${errors} handshakes failed`);
    return { rate: done / elapsed, perPid: all.map((s) => counts.get(s.pid) ?? 0) };
  } finally {
    for (const s of all) await s[Symbol.asyncDispose]();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const one: number[] = [];
const two: number[] = [];
const split: number[][] = [];
for (let r = 0; r < rounds; r++) {
  one.push((await measure(1)).rate);
  const m = await measure(2);
  two.push(m.rate);
  split.push(m.perPid);
  console.error(`round ${r + 1}: one ${one.at(-1)!.toFixed(0)}/s, two ${m.rate.toFixed(0)}/s`);
}

const cores = navigator.hardwareConcurrency;
const ratio = median(two) / median(one);
const report = `# One against two server processes on one port

\`deno task bench:scale\` (\`bench/scale.ts\`), ${
  new Date().toISOString().slice(0, 10)
}: full TLS 1.3
handshakes per second (ECDSA P-256, client verifies, one byte answered, then close) from one
load-generating client process running ${concurrency} concurrent clients, against one
\`listenTls({ reusePort: true })\` server process, then two on the same port. ${rounds} alternating
rounds of ${seconds} s each; the median is shown.

- cores: \`navigator.hardwareConcurrency\` = ${cores}, \`nproc\` = ${await nproc()}
- Deno ${Deno.version.deno}

| servers | handshakes/s (median) | rounds |
| ------- | --------------------: | ------ |
| 1       | ${median(one).toFixed(0)} | ${one.map((x) => x.toFixed(0)).join(", ")} |
| 2       | ${median(two).toFixed(0)} | ${two.map((x) => x.toFixed(0)).join(", ")} |

Ratio two / one: **${ratio.toFixed(2)}×**. Handshakes served by each of the two processes, per
round: ${split.map((s) => s.join(" / ")).join("; ")}.

The client process takes a core of its own: on a machine with ${cores} cores, two servers and the
client share them, so the ratio says how much a second process adds here, not what it adds where
there are cores to spare.
`;
console.log(report);
if (values.write) await Deno.writeTextFile(new URL("./SCALE.md", import.meta.url), report);
