/**
 * The Node adapter: `TlsSocket` as npm packages and `node:http(s)` use it. `https.request`
 * through an agent whose connections are denossl's, a `node:http` server fed denossl
 * connections serving curl, the `ws` client over denossl to Deno's own WebSocket server,
 * back-pressure against a slow reader, and the `net.Socket`/`tls.TLSSocket` surface.
 *
 * @module
 */

import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import { once } from "node:events";
import WebSocket from "npm:ws@8";
import "./_tools.ts";
import { makePki } from "./_pki.ts";
import {
  connectTls,
  Context,
  listenTls,
  startTls,
  TLS_CLIENT_METHOD,
  type TlsConnection,
  VerificationError,
  VERIFY_PEER,
  X509,
} from "../mod.ts";
import {
  connectTlsSocket,
  createConnection,
  feedHttpServer,
  serve,
  TlsSocket,
  toNodeSocket,
} from "../node.ts";

/** One PKI per file: certificates are made once, in memory. */
const pki = makePki("ec");
/** A listener on a free loopback port with the PKI's server certificate. */
const LOCAL = { hostname: "127.0.0.1", port: 0, cert: pki.server.chainPEM, key: pki.server.keyPEM };

function get(
  url: string,
  options: https.RequestOptions,
): Promise<{ status: number; body: string; socket: TlsSocket }> {
  return new Promise((resolve, reject) => {
    let socket: unknown;
    const req = https.request(url, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => body += c);
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          socket: socket as TlsSocket,
        }));
    });
    req.on("socket", (s) => socket = s);
    req.on("error", reject);
    req.end();
  });
}

Deno.test("https.request through an agent whose createConnection is denossl's, with a client certificate and a custom verify callback", async () => {
  const server = serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: pki.server.chainPEM,
      key: pki.server.keyPEM,
      caCerts: [pki.ca.certPEM],
      requireClientCert: true,
      onListen(): void {},
    },
    (_req, { tls, remoteAddr }) =>
      new Response(`${tls.peerCertificate?.subject.commonName} from port ${remoteAddr.port}`),
  );
  // The client's policy: the chain must verify, and the server's leaf must be the one pinned.
  const pinned = pki.server.cert.fingerprint();
  const seen: string[] = [];
  using ctx = new Context(TLS_CLIENT_METHOD);
  ctx.useCertificateChain(pki.client.chainPEM);
  ctx.usePrivateKey(pki.client.keyPEM);
  ctx.addCaCerts(pki.ca.certPEM);
  ctx.setVerify(VERIFY_PEER, (_conn, cert, _errnum, depth, ok) => {
    seen.push(`${depth}:${cert.subject.commonName}`);
    return ok && (depth > 0 || cert.fingerprint() === pinned);
  });
  const agent = new https.Agent({ keepAlive: true });
  let made = 0;
  const viaDenossl = createConnection({ context: ctx });
  // deno-lint-ignore no-explicit-any
  (agent as any).createConnection = (options: any) => {
    made++;
    return viaDenossl(options);
  };
  try {
    const url = `https://localhost:${server.addr.port}/`;
    const first = await get(url, { agent });
    assert.equal(first.status, 200);
    assert.match(first.body, /^alice from port \d+$/);
    assert.ok(first.socket instanceof TlsSocket);
    assert.equal(first.socket.getProtocol(), "TLSv1.3");
    assert.equal(first.socket.authorized, true);
    assert.ok(seen.includes("0:localhost"), `the callback saw the server's leaf: ${seen}`);
    await new Promise((r) => setTimeout(r, 10)); // the agent takes the socket back on a later tick
    const second = await get(url, { agent });
    assert.equal(second.body, first.body, "the same connection again");
    assert.equal(made, 1, "keep-alive: one connection for two requests");

    // The callback says no: the request fails with denossl's typed error.
    using strict = new Context(TLS_CLIENT_METHOD);
    strict.addCaCerts(pki.ca.certPEM);
    strict.setVerify(VERIFY_PEER, () => false);
    await assert.rejects(
      get(url, { createConnection: createConnection({ context: strict }) } as https.RequestOptions),
      (e) => e instanceof VerificationError,
    );
  } finally {
    agent.destroy();
    await server.shutdown();
  }
});

Deno.test("a node:http server fed denossl connections serves curl: keep-alive, a streamed response, a request body, the TLS facts", async () => {
  const listener = listenTls({ ...LOCAL, alpnProtocols: ["http/1.1"] });
  const ports: number[] = [];
  const server = http.createServer((req, res) => {
    const socket = req.socket as unknown as TlsSocket;
    ports.push(socket.remotePort!);
    let size = 0;
    req.on("data", (c: Uint8Array) => size += c.length);
    req.on("end", () => {
      res.setHeader(
        "x-facts",
        [
          socket.remoteAddress,
          socket.remoteFamily,
          socket.localPort === listener.addr.port,
          socket.getProtocol(),
          socket.alpnProtocol,
          socket.servername,
          socket.encrypted,
        ].join(" "),
      );
      res.write(`${req.method} ${req.url} ${size} `);
      setTimeout(() => res.end("streamed\n"), 20); // the second part comes later: chunked
    });
  });
  const fed = feedHttpServer(server, listener);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, pki.ca.certPEM);
    const base = `https://localhost:${listener.addr.port}`;
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-v",
        "--max-time",
        "20",
        "--cacert",
        `${dir}/ca.pem`,
        "--resolve",
        `localhost:${listener.addr.port}:127.0.0.1`,
        "--data-binary",
        "0123456789",
        `${base}/a`,
        `${base}/b`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const log = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, log);
    assert.equal(text, "POST /a 10 streamed\nPOST /b 10 streamed\n");
    assert.match(log, /Re-using existing connection/);
    assert.match(log, /x-facts: 127\.0\.0\.1 IPv4 true TLSv1\.3 http\/1\.1 localhost true/);
    assert.equal(ports.length, 2);
    assert.equal(ports[0], ports[1], "both requests on one connection");
  } finally {
    listener.close();
    await fed;
    server.closeAllConnections();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the ws client talks through denossl to Deno's own WebSocket server", async () => {
  const server = Deno.serve({ ...LOCAL, onListen(): void {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => {
      socket.send(typeof e.data === "string" ? `echo ${e.data}` : new Uint8Array(e.data).reverse());
    };
    return response;
  });
  const ws = new WebSocket(`wss://localhost:${server.addr.port}/`, {
    createConnection: createConnection({ caCerts: [pki.ca.certPEM] }),
  } as WebSocket.ClientOptions);
  try {
    await once(ws, "open");
    const socket = (ws as unknown as { _socket: unknown })._socket;
    assert.ok(socket instanceof TlsSocket, "ws rides a denossl socket");
    ws.send("hello");
    const [text] = await once(ws, "message");
    assert.equal(String(text), "echo hello");
    ws.send(new Uint8Array([1, 2, 3]));
    const [bin] = await once(ws, "message");
    assert.deepEqual([...new Uint8Array(bin as ArrayBuffer)], [3, 2, 1]);
    ws.close(1000, "bye");
    const [code] = await once(ws, "close");
    assert.equal(code, 1000);
  } finally {
    ws.terminate();
    await server.shutdown();
  }
});

/** A connected pair over loopback: a TlsSocket client and the server's denossl connection. */
async function socketPair(): Promise<{ socket: TlsSocket; peer: TlsConnection; close(): void }> {
  const listener = listenTls(LOCAL);
  const accepted = listener.accept();
  const socket = connectTlsSocket({
    hostname: "127.0.0.1",
    serverName: "localhost",
    port: listener.addr.port,
    caCerts: [pki.ca.certPEM],
  });
  const secured = once(socket, "secureConnect");
  const peer = await accepted;
  await peer.handshake();
  await secured;
  return {
    socket,
    peer,
    close(): void {
      socket.destroy();
      peer.close();
      listener.close();
    },
  };
}

Deno.test("TlsSocket: a slow reader holds the writer back; buffered bytes stay bounded and nothing is lost", async () => {
  const { socket, peer, close } = await socketPair();
  try {
    const chunk = new Uint8Array(64 * 1024).fill(1);
    let written = 0;
    let refused = 0;
    let maxQueued = 0;
    // Phase 1: the peer reads nothing for 1.5 s while the writer writes as fast as it may.
    const until = performance.now() + 1500;
    while (performance.now() < until) {
      const more = socket.write(chunk);
      written += chunk.length;
      maxQueued = Math.max(maxQueued, socket.writableLength);
      if (!more) {
        refused++;
        const drained = await Promise.race([
          once(socket, "drain").then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), until - performance.now())),
        ]);
        if (!drained) break;
      }
    }
    assert.ok(refused > 0, "write() returned false");
    // What sits in the socket's queue is bounded by its high-water mark plus one chunk ...
    assert.ok(maxQueued <= 16 * 1024 + 2 * chunk.length, `queued ${maxQueued} bytes`);
    // ... and everything written beyond what the kernel buffers is held back, not buffered.
    assert.ok(written < 48 * 1024 * 1024, `the writer got ${written} bytes out of a stalled peer`);
    // Phase 2: the peer reads it all; every byte arrives once.
    const ended = new Promise<void>((resolve) => socket.end(resolve));
    let received = 0;
    const buf = new Uint8Array(256 * 1024);
    for (;;) {
      const n = await peer.read(buf);
      if (n === null) break;
      received += n;
    }
    await ended;
    assert.equal(received, written);
    assert.equal(socket.bytesWritten, written);
  } finally {
    close();
  }
});

Deno.test("TlsSocket: addresses, the TLS facts, keying material as Node's tls gives them", async () => {
  const { socket, peer, close } = await socketPair();
  try {
    assert.equal(socket.connecting, false);
    assert.equal(socket.readyState, "open");
    assert.equal(socket.remoteAddress, "127.0.0.1");
    assert.equal(socket.remoteFamily, "IPv4");
    assert.equal(socket.remotePort, peer.localAddr.port);
    assert.equal(socket.localAddress, "127.0.0.1");
    assert.equal(socket.localPort, peer.remoteAddr.port);
    assert.deepEqual(socket.address(), {
      address: "127.0.0.1",
      family: "IPv4",
      port: peer.remoteAddr.port,
    });
    assert.equal(socket.getProtocol(), "TLSv1.3");
    assert.match(socket.getCipher()!.name, /^TLS_/);
    assert.equal(socket.authorized, true);
    assert.equal(socket.authorizationError, null);
    assert.equal(socket.servername, "localhost");
    assert.equal(socket.isSessionReused(), false);
    const cert = socket.getPeerCertificate();
    assert.ok("subject" in cert);
    assert.equal(cert.subject.CN, "localhost");
    assert.equal(cert.subjectaltname, "DNS:localhost, IP Address:127.0.0.1");
    assert.equal(cert.fingerprint256, pki.server.cert.fingerprint("sha256"));
    using parsed = X509.fromDER(cert.raw);
    assert.ok(parsed.equals(pki.server.cert));
    assert.deepEqual(
      socket.exportKeyingMaterial(32, "EXPORTER-test"),
      Buffer.from(peer.exportKeyingMaterial("EXPORTER-test", 32)),
    );
    assert.ok(socket.connection === null || socket.connection.closed === false);
  } finally {
    close();
  }
});

Deno.test("TlsSocket: end() sends close_notify and half-closes; the peer can still answer", async () => {
  const { socket, peer, close } = await socketPair();
  try {
    const got: Buffer[] = [];
    socket.on("data", (c: Buffer) => got.push(c));
    const ended = once(socket, "end");
    socket.end("last words");
    const buf = new Uint8Array(64);
    const n = await peer.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "last words");
    assert.equal(await peer.read(buf), null, "close_notify: a clean end, not an error");
    await peer.write(new TextEncoder().encode("reply after your end"));
    await peer.closeWrite();
    await ended;
    assert.equal(Buffer.concat(got).toString(), "reply after your end");
  } finally {
    close();
  }
});

Deno.test("TlsSocket: destroy(err) emits that error and closes; the peer sees the end", async () => {
  const { socket, peer, close } = await socketPair();
  try {
    const boom = new Error("boom");
    const errored = once(socket, "error");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.destroy(boom);
    assert.equal((await errored)[0], boom);
    await closed;
    assert.equal(socket.destroyed, true);
    assert.equal(await peer.read(new Uint8Array(16)), null);
  } finally {
    close();
  }
});

Deno.test("TlsSocket: setTimeout emits 'timeout' after idle time only, and 0 turns it off", async () => {
  const { socket, peer, close } = await socketPair();
  try {
    let timeouts = 0;
    socket.on("timeout", () => timeouts++);
    socket.setTimeout(150);
    assert.equal(socket.timeout, 150);
    // Activity every 50 ms keeps it quiet.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 50));
      socket.write("x");
    }
    assert.equal(timeouts, 0);
    // The socket's timer does not hold the process open (as Node's): this interval does.
    const hold = setInterval(() => {}, 50);
    await once(socket, "timeout").finally(() => clearInterval(hold));
    assert.equal(timeouts, 1);
    assert.equal(socket.destroyed, false, "a timeout does not close the socket");
    socket.setTimeout(0);
    socket.write("y");
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(timeouts, 1);
    assert.throws(() => socket.setTimeout(-1), RangeError);
    await peer.read(new Uint8Array(64));
  } finally {
    close();
  }
});

Deno.test("TlsSocket: setNoDelay and setKeepAlive reach the TCP transport, also when set before the handshake", async () => {
  const calls: string[] = [];
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tlsListener = (async () => {
    const tcp = await listener.accept();
    const { acceptTls } = await import("../mod.ts");
    return await acceptTls(tcp, { cert: pki.server.chainPEM, key: pki.server.keyPEM });
  })();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  // A transport that records the knobs and hands them on to the real socket.
  const transport = {
    read: (p: Uint8Array) => tcp.read(p),
    write: (p: Uint8Array) => tcp.write(p),
    closeWrite: () => tcp.closeWrite(),
    close: () => tcp.close(),
    get localAddr() {
      return tcp.localAddr;
    },
    get remoteAddr() {
      return tcp.remoteAddr;
    },
    setNoDelay(v?: boolean): void {
      calls.push(`noDelay ${v}`);
      tcp.setNoDelay(v);
    },
    setKeepAlive(v?: boolean): void {
      calls.push(`keepAlive ${v}`);
      tcp.setKeepAlive(v);
    },
  };
  const socket = toNodeSocket(
    startTls(transport, { hostname: "localhost", caCerts: [pki.ca.certPEM] }),
  );
  socket.setNoDelay(true).setKeepAlive(true, 1000);
  assert.deepEqual(calls, [], "nothing reaches the transport before it is known");
  await once(socket, "secureConnect");
  assert.deepEqual(calls, ["noDelay true", "keepAlive true"]);
  socket.setNoDelay(false);
  assert.deepEqual(calls.at(-1), "noDelay false");
  const peer = await tlsListener;
  socket.destroy();
  peer.close();
});

Deno.test("connectTlsSocket reports a refused certificate as an 'error' with denossl's VerificationError", async () => {
  const other = makePki("ec");
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: other.server.chainPEM,
    key: other.server.keyPEM,
  });
  const accepted = listener.accept();
  try {
    const socket = connectTlsSocket({
      hostname: "127.0.0.1",
      serverName: "localhost",
      port: listener.addr.port,
      caCerts: [pki.ca.certPEM],
    });
    const writes = new Promise<unknown>((resolve) => socket.write("never sent", resolve));
    const [error] = await once(socket, "error");
    assert.ok(error instanceof VerificationError, String(error));
    assert.ok(await writes, "a write queued before the handshake fails with it");
    const peer = await accepted;
    await peer.handshake().catch(() => {});
    peer.close();
  } finally {
    listener.close();
    other.close();
  }
});

Deno.test("connectTls and a TlsSocket over it: toNodeSocket on an open connection needs no second handshake", async () => {
  const listener = listenTls(LOCAL);
  try {
    const accepted = listener.accept();
    const conn = await connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [pki.ca.certPEM],
    });
    const socket = toNodeSocket(conn);
    assert.equal(socket.connection, conn);
    await once(socket, "secureConnect");
    const peer = await accepted;
    socket.resume(); // read to the end, so that the peer's close is seen
    socket.end("hi");
    const buf = new Uint8Array(8);
    const n = await peer.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "hi");
    peer.close();
    await once(socket, "close");
  } finally {
    listener.close();
  }
});

Deno.test("an agent's idle denossl socket that the server closed is dropped, and the next request connects again", async () => {
  const listener = listenTls({ ...LOCAL, alpnProtocols: ["http/1.1"] });
  const app = http.createServer((req, res) => {
    res.end(String((req.socket as unknown as TlsSocket).remotePort));
    // The server ends the connection while the client's agent keeps it as idle.
    res.on("finish", () => setTimeout(() => req.socket.end(), 50));
  });
  const fed = feedHttpServer(app, listener);
  const agent = new https.Agent({ keepAlive: true });
  let made = 0;
  const viaDenossl = createConnection({ caCerts: [pki.ca.certPEM] });
  // deno-lint-ignore no-explicit-any
  (agent as any).createConnection = (options: any) => {
    made++;
    return viaDenossl(options);
  };
  try {
    const url = `https://localhost:${listener.addr.port}/`;
    const first = await get(url, { agent });
    await new Promise((resolve) => first.socket.once("close", resolve)); // seen while idle
    const second = await get(url, { agent });
    assert.equal(second.status, 200);
    assert.notEqual(second.body, first.body, "a new connection, from another port");
    assert.equal(made, 2);
  } finally {
    agent.destroy();
    listener.close();
    await fed;
    app.closeAllConnections();
  }
});
