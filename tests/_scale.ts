/**
 * Helpers of the scaling tests and bench/scale.ts: server processes from
 * tests/peers/scale_server.ts (each answers with its pid), and a client
 * that reads that pid and reports whether its session was resumed.
 *
 * @module
 */

import { connectTls, type Session } from "../mod.ts";

const SERVER = new URL("./peers/scale_server.ts", import.meta.url).pathname;

/** What a server process is started with. */
export interface ScaleServerOptions {
  cert: string;
  key: string;
  port?: number;
  reusePort?: boolean;
  native?: boolean;
  /** 80 bytes shared with the other servers. */
  ticketKey?: Uint8Array;
  gracePeriod?: number;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A running tests/peers/scale_server.ts. */
export class ScaleServer implements AsyncDisposable {
  readonly port: number;
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    first: { port: number; pid: number },
  ) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#lines = lines;
    this.port = first.port;
    this.pid = first.pid;
  }

  /** Starts a server and waits until it listens. */
  static async start(o: ScaleServerOptions): Promise<ScaleServer> {
    const config = { ...o, ticketKey: o.ticketKey ? toHex(o.ticketKey) : undefined };
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-config",
        "--quiet",
        "--unstable-net",
        SERVER,
        JSON.stringify(config),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = lineReader(child.stdout);
    const first = await lines.next();
    if (first.done) {
      await child.status;
      throw new Error("the server process exited before listening");
    }
    return new ScaleServer(child, lines, JSON.parse(first.value));
  }

  /** Rotates the server's ticket key ring to `key` and waits until it has. */
  async rotate(key: Uint8Array): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`rotate ${toHex(key)}\n`));
    const line = await this.#lines.next();
    if (line.value !== "rotated") throw new Error(`the server answered ${line.value}`);
  }

  /** Stops the server (stdin's end) and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill(), 5_000);
    try {
      await this.#child.status;
      while (!(await this.#lines.next()).done) { /* drain */ }
    } finally {
      clearTimeout(timer);
    }
  }
}

async function* lineReaderGen(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}

function lineReader(stream: ReadableStream<Uint8Array>): AsyncIterator<string> {
  return lineReaderGen(stream);
}

/** What one client learnt from a server. */
export interface Answer {
  pid: number;
  reused: boolean;
  session: Session | null;
}

/**
 * Connects (verifying the server as localhost against `caPEM`), reads the
 * server's pid, and closes.
 */
export async function ask(
  port: number,
  caPEM: string,
  o: { session?: Session; native?: boolean } = {},
): Promise<Answer> {
  await using conn = await connectTls({
    hostname: "127.0.0.1",
    serverName: "localhost",
    port,
    caCerts: [caPEM],
    native: o.native === true,
    ...(o.session ? { session: o.session } : {}),
  });
  let text = "";
  const buf = new Uint8Array(64);
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`the server closed after "${text}"`);
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return { pid: Number(text.trim()), reused: conn.sessionReused(), session: conn.getSession() };
}
