/**
 * HTTPS requests per second: denossl's `serve()` (node:http over denossl connections) against
 * `Deno.serve` with Deno's own TLS, keep-alive, small responses, one client for both (Deno's
 * `fetch` over HTTP/1.1 in a child process), interleaved rounds, reported as a ratio.
 *
 * ```sh
 * deno task bench:serve                       # 4 rounds of 5 s per server (~1 min)
 * deno run -A bench/serve.ts --rounds 2 --seconds 2 --concurrency 16
 * deno run -A bench/serve.ts --write          # also writes bench/SERVE.md
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { TestCA } from "../mod.ts";
import { serve } from "../node.ts";

const BODY = "hello, world\n";

interface ClientResult {
  requests: number;
  seconds: number;
}

/** The client: `concurrency` fetch loops over one HTTP/1.1 keep-alive client for `seconds`. */
async function runClient(
  url: string,
  caFile: string,
  seconds: number,
  concurrency: number,
): Promise<void> {
  using client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(caFile)],
    http1: true,
    http2: false,
  });
  const one = async (): Promise<void> => {
    const res = await fetch(url, { client });
    if ((await res.text()) !== BODY) throw new Error(`unexpected body from ${url}`);
  };
  await Promise.all(Array.from({ length: concurrency }, one)); // connect and warm up
  let requests = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await one();
      requests++;
    }
  }));
  const result: ClientResult = { requests, seconds: (performance.now() - start) / 1000 };
  console.log(JSON.stringify(result));
}

async function clientRound(
  url: string,
  caFile: string,
  seconds: number,
  concurrency: number,
): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      "client",
      url,
      caFile,
      String(seconds),
      String(concurrency),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the client for ${url} failed`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim()) as ClientResult;
  return r.requests / r.seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "4" },
      seconds: { type: "string", default: "5" },
      concurrency: { type: "string", default: "32" },
      write: { type: "boolean", default: false },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);

  using ca = TestCA.create();
  using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  const dir = await Deno.makeTempDir({ prefix: "denossl-bench-serve-" });
  const caFile = `${dir}/ca.pem`;
  await Deno.writeTextFile(caFile, ca.certPEM);
  const handler = (): Response => new Response(BODY);
  const common = { hostname: "127.0.0.1", port: 0, cert: leaf.chainPEM, key: leaf.keyPEM };
  const ours = serve({ ...common, onListen(): void {} }, handler);
  const deno = Deno.serve({ ...common, onListen(): void {} }, handler);
  const servers = [
    { id: "denossl serve()", url: `https://localhost:${ours.addr.port}/` },
    { id: "Deno.serve (rustls)", url: `https://localhost:${deno.addr.port}/` },
  ];
  const rates: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s.id, []]));
  const ratios: number[] = [];
  try {
    for (const s of servers) await clientRound(s.url, caFile, 1, concurrency); // warm-up
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      const got: Record<string, number> = {};
      for (const s of order) {
        got[s.id] = await clientRound(s.url, caFile, seconds, concurrency);
        rates[s.id]!.push(got[s.id]!);
      }
      const ratio = got[servers[0]!.id]! / got[servers[1]!.id]!;
      ratios.push(ratio);
      console.error(
        `round ${round + 1}: ${
          servers.map((s) => `${s.id} ${got[s.id]!.toFixed(0)} req/s`).join(", ")
        }, ratio ${ratio.toFixed(2)}`,
      );
    }
  } finally {
    await ours.shutdown();
    await deno.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  const lines = [
    "| server | median req/s | rounds (req/s) |",
    "| --- | --- | --- |",
    ...servers.map((s) =>
      `| ${s.id} | ${median(rates[s.id]!).toFixed(0)} | ${
        rates[s.id]!.map((r) => r.toFixed(0)).join(", ")
      } |`
    ),
    "",
    `serve() / Deno.serve: median of per-round ratios ${median(ratios).toFixed(2)} (rounds: ${
      ratios.map((r) => r.toFixed(2)).join(", ")
    }).`,
    "",
    `${rounds} interleaved rounds of ${seconds} s per server, ${concurrency} concurrent keep-alive ` +
    `requests, ${BODY.length}-byte responses, client: Deno ${Deno.version.deno} fetch over HTTP/1.1 ` +
    `in a child process.`,
  ];
  console.log(lines.join("\n"));
  if (values.write) {
    const header = "# serve() against Deno.serve\n\nMade by `deno task bench:serve --write` " +
      `on ${new Date().toISOString().slice(0, 10)}.\n\n`;
    const file = new URL("./SERVE.md", import.meta.url);
    await Deno.writeTextFile(file, header + lines.join("\n") + "\n");
    // The repository's formatter owns markdown tables: keep `deno fmt --check` clean.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", file.pathname] }).output();
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "client") {
    const [, url, caFile, seconds, concurrency] = Deno.args;
    await runClient(url!, caFile!, Number(seconds), Number(concurrency));
  } else {
    await main();
  }
}
