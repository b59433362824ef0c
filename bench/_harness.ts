/**
 * What the bench scripts share: running a command, a child whose stdout is read line by line,
 * a process's memory and CPU time from /proc, and the certificates every peer uses.
 *
 * @module
 */

import { join } from "node:path";

const decoder = new TextDecoder();

export async function run(cmd: string[], opts: { cwd?: string } = {}): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    ...opts,
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr).slice(-2000)}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** A child whose stdout we read line by line. */
export class Child {
  proc: Deno.ChildProcess;
  #lines: AsyncIterator<string>;
  #buf = "";
  #reader: ReadableStreamDefaultReader<string>;
  constructor(cmd: string[], stdin: "piped" | "null" = "null") {
    this.proc = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reader = this.proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#lines = this.#gen();
  }
  async *#gen(): AsyncGenerator<string> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        yield line;
        continue;
      }
      const r = await this.#reader.read();
      if (r.done) return;
      this.#buf += r.value;
    }
  }
  async line(timeoutMs = 120_000): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("timed out waiting for a child's output")),
        timeoutMs,
      );
    });
    try {
      const r = await Promise.race([this.#lines.next(), timeout]);
      if (r.done) throw new Error("child exited without output");
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }
  async stop(): Promise<void> {
    try {
      this.proc.kill("SIGTERM");
    } catch { /* gone */ }
    await this.proc.status;
    await this.#reader.cancel().catch(() => {});
  }
}

export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = status.match(/VmRSS:\s+(\d+)\s+kB/);
  if (!m) throw new Error("no VmRSS");
  return Number(m[1]);
}

/**
 * A process's CPU time so far, all threads (also those that exited), in µs:
 * `utime + stime` from /proc/PID/stat, at the kernel's 10 ms tick.
 */
export function cpuMicros(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // fields 14 and 15, USER_HZ = 100
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Pki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

export async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-bench-" });
  const p = (f: string): string => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await run([
    "openssl",
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=denossl bench CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ]);
  await run([
    "openssl",
    "req",
    ...ec,
    "-keyout",
    p("leaf.key"),
    "-out",
    p("leaf.csr"),
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    p("ext.cnf"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await run([
    "openssl",
    "x509",
    "-req",
    "-in",
    p("leaf.csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("leaf.pem"),
    "-days",
    "2",
    "-extfile",
    p("ext.cnf"),
  ]);
  return { dir, ca: p("ca.pem"), cert: p("leaf.pem"), key: p("leaf.key") };
}
