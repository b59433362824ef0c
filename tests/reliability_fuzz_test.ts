/**
 * Fuzzing, in the suite: 5,000 seeded inputs of
 * `deno task fuzz` (100,000 by default) through memory BIOs, run by the
 * fuzzer's supervisor in child processes so that a native crash is reported
 * as a failure with its seed instead of killing the test runner; plus the
 * regression of the one bug the fuzzer found.
 */

import assert from "node:assert/strict";
import { Connection, Context, TLS_METHOD } from "../mod.ts";
import { handshakeInMemory } from "./_pair.ts";
import { pki, serverContext } from "./_negotiation_fixtures.ts";

const FUZZ = new URL("../tools/fuzz.ts", import.meta.url).pathname;

interface Report {
  inputs: number;
  crashes: { seed: number; signal: string | null; code: number; stderr: string }[];
  bugs: { seed: number; error: string }[];
  outcomes: Record<string, number>;
}

Deno.test("5,000 seeded random and mutated ClientHellos, server flights, client flights and records fed to server and client Connections: no crash, every failure an SSLError", async () => {
  // A fixed seed: the same 5,000 inputs every run (deno task fuzz explores new ones).
  const seed = 20_260_000;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      FUZZ,
      "--seed",
      String(seed),
      "--count",
      "5000",
      "--batch",
      "2500",
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `the fuzzer printed no report: ${new TextDecoder().decode(out.stderr)}`);
  const report: Report = JSON.parse(line);
  const crashes = report.crashes.map((c) =>
    `crash at seed ${c.seed} (signal ${c.signal}): deno task fuzz --seed ${c.seed} --count 1\n${c.stderr}`
  );
  const bugs = report.bugs.map((b) =>
    `seed ${b.seed}: deno task fuzz --seed ${b.seed} --count 1\n${b.error}`
  );
  assert.deepEqual(crashes, []);
  assert.deepEqual(bugs, []);
  assert.equal(report.inputs, 5000);
  // The inputs reach deep: handshakes that fail on bad records, bad MACs, bad
  // certificates, and also complete on an established connection.
  const outcomes = Object.keys(report.outcomes).join("\n");
  for (const expected of [/bad record mac/, /unexpected message/, /want read/, /established/]) {
    assert.match(outcomes, expected);
  }
  assert.equal(out.code, 0);
});

Deno.test("a client offering an ALPN protocol that is not valid UTF-8 gets it when the server's callback returns it (found by the fuzzer, seed 105581)", () => {
  using sctx = serverContext();
  const offeredSeen: string[] = [];
  sctx.setAlpnSelectCallback((_conn, offered) => {
    offeredSeen.push(...offered);
    return offered[0]!;
  });
  using cctx = new Context(TLS_METHOD);
  cctx.setAlpnProtos([new Uint8Array([0x68, 0xff]), "h2"]);
  using server = new Connection(sctx, null);
  server.setAcceptState();
  using client = new Connection(cctx, null);
  client.setConnectState();
  handshakeInMemory(client, server);
  assert.deepEqual(offeredSeen, ["h\ufffd", "h2"]);
  assert.equal(server.getAlpnProtoNegotiated(), "h\ufffd");
  assert.equal(client.getAlpnProtoNegotiated(), "h\ufffd");
  void pki;
});
