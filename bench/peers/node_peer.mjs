// deno-lint-ignore-file explicit-function-return-type
// Node's `tls` (OpenSSL 3 bundled with Node), both ends; same protocol as _proto.ts.
//
//   node node_peer.mjs server <cert.pem> <key.pem>
//   node node_peer.mjs client <ca.pem> <port> <mode> [args]
import tls from "node:tls";
import { readFileSync } from "node:fs";

const [role, a, b, ...rest] = process.argv.slice(2);
const common = {
  minVersion: "TLSv1.3",
  maxVersion: "TLSv1.3",
  // Node takes TLS 1.3 suites in `ciphers` (it has no `ciphersuites` option).
  ciphers: "TLS_AES_128_GCM_SHA256",
};

function serve(sock) {
  sock.setNoDelay(true);
  let state = 0; // 0: waiting for the command, 2: echo, 3: drain, 4: upload
  let left = 0;
  let pending = Buffer.alloc(0);
  const chunk = Buffer.alloc(65536, 0x78);
  sock.on("error", () => {});
  sock.on("end", () => sock.end());
  sock.on("data", (d) => {
    if (state === 2) return void sock.write(d);
    if (state === 3) return;
    if (state === 4) {
      left -= d.length;
      if (left <= 0) {
        state = 3;
        sock.write("u");
      }
      return;
    }
    pending = Buffer.concat([pending, d]);
    const cmd = pending[0];
    if (cmd === 0x48) {
      state = 3;
      sock.write("h");
    } else if (cmd === 0x50) {
      state = 2;
      if (pending.length > 1) sock.write(pending.subarray(1));
    } else if (cmd === 0x55 && pending.length >= 9) {
      left = Number(pending.readBigUInt64LE(1)) - (pending.length - 9);
      state = left <= 0 ? 3 : 4;
      if (state === 3) sock.write("u");
    } else if (cmd === 0x42 && pending.length >= 9) {
      state = 3;
      let total = Number(pending.readBigUInt64LE(1));
      const pump = () => {
        while (total > 0) {
          const n = Math.min(total, chunk.length);
          total -= n;
          if (!sock.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            return void sock.once("drain", pump);
          }
        }
      };
      pump();
    }
  });
}

if (role === "server") {
  const server = tls.createServer(
    { ...common, cert: readFileSync(a), key: readFileSync(b) },
    serve,
  );
  server.listen(0, "127.0.0.1", () => console.log(server.address().port));
} else {
  const ca = readFileSync(a);
  const port = Number(b);
  const t = () => performance.now() / 1000;
  const print = (o) => console.log(JSON.stringify(o));
  const connect = (session) =>
    new Promise((resolve, reject) => {
      const opts = { ...common, host: "127.0.0.1", port, ca, noDelay: true };
      if (session) opts.session = session;
      const s = tls.connect(opts, () => resolve(s));
      s.once("error", reject);
    });
  // One reader per socket: resolves when `want` bytes arrived in total.
  const reader = (s) => {
    let got = 0, want = 0, wake = null;
    s.on("data", (d) => {
      got += d.length;
      if (wake && got >= want) {
        const w = wake;
        wake = null;
        w();
      }
    });
    return (n) =>
      new Promise((res) => {
        want += n;
        if (got >= want) res();
        else wake = res;
      });
  };
  const askH = async (s, read) => {
    s.write("H");
    await read(1);
  };
  const [mode, x = "0", y = "1"] = rest;
  if (mode === "bulk") {
    const total = Number(x);
    const s = await connect();
    const read = reader(s);
    const cmd = Buffer.alloc(9);
    cmd[0] = 0x42;
    cmd.writeBigUInt64LE(BigInt(total), 1);
    const t0 = t();
    s.write(cmd);
    await read(total);
    const dt = t() - t0;
    print({
      value: total / 1e6 / dt,
      seconds: dt,
      bytes: total,
      cipher: s.getCipher().standardName,
      group: s.getEphemeralKeyInfo().name,
    });
    s.destroy();
  } else if (mode === "upload") {
    const total = Number(x);
    const s = await connect();
    const read = reader(s);
    const cmd = Buffer.alloc(9);
    cmd[0] = 0x55;
    cmd.writeBigUInt64LE(BigInt(total), 1);
    const chunk = Buffer.alloc(65536, 0x78);
    const t0 = t();
    s.write(cmd);
    for (let left = total; left > 0; left -= chunk.length) {
      const ok = s.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
      if (!ok) await new Promise((r) => s.once("drain", r));
    }
    await read(1);
    const dt = t() - t0;
    print({ value: total / 1e6 / dt, seconds: dt, bytes: total });
    s.destroy();
  } else if (mode === "hs") {
    const count = Number(x), conc = Number(y), per = Math.floor(count / conc);
    const worker = async () => {
      for (let i = 0; i < per; i++) {
        const s = await connect();
        await askH(s, reader(s));
        s.end();
      }
    };
    const t0 = t();
    await Promise.all(Array.from({ length: conc }, worker));
    const dt = t() - t0;
    print({ value: (per * conc) / dt, seconds: dt, count: per * conc });
  } else if (mode === "resume") {
    const count = Number(x);
    // TLS 1.3 tickets arrive after the handshake, as the 'session' event.
    const dial = async (session) => {
      let latest = null;
      const s = await connect(session);
      s.on("session", (sess) => (latest = sess));
      await askH(s, reader(s));
      await new Promise((r) => setImmediate(r));
      return { s, session: latest ?? s.getSession() };
    };
    let { s, session } = await dial();
    s.end();
    let reused = 0;
    const t0 = t();
    for (let i = 0; i < count; i++) {
      const r = await dial(session);
      if (r.s.isSessionReused()) reused++;
      session = r.session;
      r.s.end();
    }
    const dt = t() - t0;
    print({ value: count / dt, seconds: dt, count, reused });
  } else if (mode === "pingpong") {
    const count = Number(x);
    const s = await connect();
    const read = reader(s);
    s.write("P");
    const one = Buffer.from("p");
    const t0 = t();
    for (let i = 0; i < count; i++) {
      s.write(one);
      await read(1);
    }
    const dt = t() - t0;
    print({ value: count / dt, seconds: dt, count });
    s.destroy();
  } else if (mode === "idle") {
    const count = Number(x), socks = [];
    const opener = async () => {
      for (let i = 0; i < count / 16; i++) {
        const s = await connect();
        await askH(s, reader(s));
        socks.push(s);
      }
    };
    await Promise.all(Array.from({ length: 16 }, opener));
    console.log("READY");
    process.stdin.resume();
    process.stdin.on("end", () => {
      for (const s of socks) s.destroy();
      process.exit(0);
    });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}
