/**
 * The harness protocol, shared by the Deno-side peers (denossl and Deno's
 * built-in TLS). After the handshake the client sends one command byte:
 *
 * - `H`: the server answers one byte `h` (handshake workloads, idle connections)
 * - `B` + u64 LE n: the server sends n bytes (bulk download)
 * - `U` + u64 LE n, then n bytes: the server reads them all, then answers `u` (bulk upload)
 * - `P`: the server echoes every byte it reads (ping-pong)
 *
 * then the server reads until the client goes away and closes. Clients print
 * one JSON line: `{ "value": <rate>, "seconds": ..., ... }`.
 *
 * @module
 */

import { cpuUsage } from "node:process";

/** What both contenders' connections offer. */
export interface Conn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** How a peer opens a client connection; `session` support is optional. */
export interface Dialer {
  connect(session?: unknown): Promise<Conn>;
  /** The session to resume next time (after the `h` reply), when the contender has an API. */
  session?(conn: Conn): unknown;
  /** Whether the connection resumed a session. */
  reused?(conn: Conn): boolean;
  /** Negotiated parameters, when the contender can tell. */
  describe?(conn: Conn): Record<string, string>;
}

async function writeAll(conn: Conn, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) off += await conn.write(off === 0 ? p : p.subarray(off));
}

async function readAtLeast(
  conn: Conn,
  buf: Uint8Array,
  have: number,
  want: number,
): Promise<number> {
  while (have < want) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) throw new Error("unexpected end of stream");
    have += n;
  }
  return have;
}

async function drain(conn: Conn, buf: Uint8Array): Promise<void> {
  try {
    while ((await conn.read(buf)) !== null) { /* until the client goes */ }
  } catch { /* unexpected EOF, reset: the client went */ }
}

const H = new Uint8Array([0x68]);
const U = new Uint8Array([0x75]);

/** Serves one connection (after the caller accepted it). */
export async function serve(conn: Conn): Promise<void> {
  const buf = new Uint8Array(65536);
  try {
    let have = await readAtLeast(conn, buf, 0, 1);
    const cmd = buf[0];
    if (cmd === 0x48) {
      await writeAll(conn, H);
    } else if (cmd === 0x42) {
      await readAtLeast(conn, buf, have, 9);
      let total = Number(new DataView(buf.buffer).getBigUint64(1, true));
      const chunk = new Uint8Array(65536).fill(0x78);
      while (total > 0) {
        const n = Math.min(total, chunk.length);
        await writeAll(conn, n === chunk.length ? chunk : chunk.subarray(0, n));
        total -= n;
      }
    } else if (cmd === 0x55) {
      have = await readAtLeast(conn, buf, have, 9);
      let left = Number(new DataView(buf.buffer).getBigUint64(1, true)) - (have - 9);
      while (left > 0) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("upload: early end of stream");
        left -= n;
      }
      await writeAll(conn, U);
    } else if (cmd === 0x50) {
      if (have > 1) await writeAll(conn, buf.slice(1, have));
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        await writeAll(conn, buf.subarray(0, n));
      }
    }
    await drain(conn, buf);
  } catch {
    // a client that vanished mid-workload: nothing to report from the server
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function askH(conn: Conn): Promise<void> {
  await writeAll(conn, new Uint8Array([0x48]));
  const b = new Uint8Array(1);
  await readAtLeast(conn, b, 0, 1);
}

function print(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/** Runs one client workload from the command line and prints its JSON line. */
export async function runClient(dialer: Dialer, args: string[]): Promise<void> {
  const [mode, a = "0", b = "1"] = args;
  const t = (): number => performance.now() / 1000;
  if (mode === "bulk") {
    const total = Number(a);
    const conn = await dialer.connect();
    const cmd = new Uint8Array(9);
    cmd[0] = 0x42;
    new DataView(cmd.buffer).setBigUint64(1, BigInt(total), true);
    const buf = new Uint8Array(65536);
    const t0 = t();
    await writeAll(conn, cmd);
    let got = 0;
    while (got < total) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("bulk: early end of stream");
      got += n;
    }
    const dt = t() - t0;
    print({ value: total / 1e6 / dt, seconds: dt, bytes: total, ...dialer.describe?.(conn) });
    conn.close();
  } else if (mode === "upload") {
    const total = Number(a);
    const conn = await dialer.connect();
    const chunk = new Uint8Array(65536).fill(0x78);
    const cmd = new Uint8Array(9);
    cmd[0] = 0x55;
    new DataView(cmd.buffer).setBigUint64(1, BigInt(total), true);
    const t0 = t();
    await writeAll(conn, cmd);
    for (let left = total; left > 0; left -= chunk.length) {
      await writeAll(conn, left >= chunk.length ? chunk : chunk.subarray(0, left));
    }
    await readAtLeast(conn, new Uint8Array(1), 0, 1);
    const dt = t() - t0;
    print({ value: total / 1e6 / dt, seconds: dt, bytes: total, ...dialer.describe?.(conn) });
    conn.close();
  } else if (mode === "hs") {
    const count = Number(a);
    const conc = Number(b);
    const per = Math.floor(count / conc);
    const worker = async (): Promise<void> => {
      for (let i = 0; i < per; i++) {
        const conn = await dialer.connect();
        await askH(conn);
        conn.close();
      }
    };
    const t0 = t();
    await Promise.all(Array.from({ length: conc }, worker));
    const dt = t() - t0;
    print({ value: (per * conc) / dt, seconds: dt, count: per * conc });
  } else if (mode === "resume") {
    if (!dialer.session || !dialer.reused) {
      print({ error: "no session API" });
      return;
    }
    const count = Number(a);
    let conn = await dialer.connect();
    await askH(conn);
    let session = dialer.session(conn);
    conn.close();
    let reused = 0;
    const t0 = t();
    for (let i = 0; i < count; i++) {
      conn = await dialer.connect(session);
      await askH(conn);
      if (dialer.reused(conn)) reused++;
      session = dialer.session(conn);
      conn.close();
    }
    const dt = t() - t0;
    print({ value: count / dt, seconds: dt, count, reused });
  } else if (mode === "pingpong") {
    const count = Number(a);
    const conn = await dialer.connect();
    await writeAll(conn, new Uint8Array([0x50]));
    const b1 = new Uint8Array([0x70]);
    const c0 = cpuUsage();
    const t0 = t();
    for (let i = 0; i < count; i++) {
      await writeAll(conn, b1);
      await readAtLeast(conn, b1, 0, 1);
    }
    const dt = t() - t0;
    const c1 = cpuUsage();
    // The client's own CPU (all threads) over the loop alone, per round trip.
    const cpu = (c1.user - c0.user + c1.system - c0.system) / count;
    print({ value: count / dt, seconds: dt, count, cpuMicrosPerRoundTrip: cpu });
    conn.close();
  } else if (mode === "idle") {
    const count = Number(a);
    const conns: Conn[] = [];
    // 16 openers at a time, like the concurrent handshake workload
    const opener = async (): Promise<void> => {
      for (let i = 0; i < count / 16; i++) {
        const conn = await dialer.connect();
        await askH(conn);
        conns.push(conn);
      }
    };
    await Promise.all(Array.from({ length: 16 }, opener));
    console.log("READY");
    // hold them until the orchestrator closes our stdin
    for await (const _ of Deno.stdin.readable) { /* wait */ }
    for (const c of conns) c.close();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}
