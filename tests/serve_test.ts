/**
 * `serve()`: HTTPS shaped like `Deno.serve` over `node:http` and denossl, tried with curl and
 * Deno's fetch as clients: client-certificate policy, the TLS facts in `info`, streaming
 * bodies both ways, many concurrent keep-alive requests, a throwing handler, shutdown.
 *
 * @module
 */

import assert from "node:assert/strict";
import "./_tools.ts";
import { makePki, type Pki } from "./_pki.ts";
import { type HttpServer, serve, type ServeHandler, type ServeOptions } from "../node.ts";

const TEXT = new TextEncoder();
/** One PKI per file: certificates are made once, in memory. */
const pki = makePki("ec");
const PKI_INTERMEDIATE = makePki("ec", { intermediate: true });
/** A server on a free loopback port with the PKI's server certificate. */
const LOCAL = {
  hostname: "127.0.0.1",
  port: 0,
  cert: pki.server.chainPEM,
  key: pki.server.keyPEM,
  onListen(): void {},
};

/** A server with the PKI's leaf that requires a client certificate from the PKI's CA. */
function mtlsServer(
  pki: Pki,
  handler: ServeHandler,
  extra: Partial<ServeOptions> = {},
): HttpServer {
  return serve({
    ...LOCAL,
    cert: pki.server.chainPEM,
    key: pki.server.keyPEM,
    caCerts: [pki.ca.certPEM],
    requireClientCert: true,
    ...extra,
  }, handler);
}

function aliceClient(pki: Pki): Deno.HttpClient {
  return Deno.createHttpClient({
    caCerts: [pki.ca.certPEM],
    cert: pki.client.chainPEM,
    key: pki.client.keyPEM,
  });
}

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "20", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function pemFiles(pki: Pki): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-serve-" });
  const files = { dir, ca: `${dir}/ca.pem`, cert: `${dir}/alice.pem`, key: `${dir}/alice.key` };
  await Deno.writeTextFile(files.ca, pki.ca.certPEM);
  await Deno.writeTextFile(files.cert, pki.client.certPEM);
  await Deno.writeTextFile(files.key, pki.client.keyPEM);
  return files;
}

Deno.test("serve() with requireClientCert answers curl with a client certificate and refuses curl without one", async () => {
  const files = await pemFiles(pki);
  const refused: unknown[] = [];
  let handled = 0;
  const server = mtlsServer(pki, (_req, { tls }) => {
    handled++;
    return new Response(`hello ${tls.peerCertificate?.subject.commonName}\n`);
  }, { onHandshakeError: (e) => refused.push(e) });
  try {
    const url = `https://localhost:${server.addr.port}/`;
    const resolve = `localhost:${server.addr.port}:127.0.0.1`;
    const asAlice = [
      "--resolve",
      resolve,
      "--cacert",
      files.ca,
      "--cert",
      files.cert,
      "--key",
      files.key,
    ];
    const ok = await curl([...asAlice, url]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, "hello alice\n");

    const no = await curl(["--resolve", resolve, "--cacert", files.ca, url]);
    assert.notEqual(no.code, 0, "curl without a certificate must fail");
    assert.match(no.err, /certificate required|alert|handshake/i);
    assert.equal(handled, 1, "a refused client never reaches the handler");
    // The refusal reached onHandshakeError, and the server still serves the next client.
    for (let i = 0; i < 50 && refused.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(refused.length, 1);
    assert.match(String(refused[0]), /certificate/i);
    const again = await curl([...asAlice, url]);
    assert.equal(again.out, "hello alice\n");
  } finally {
    await server.shutdown();
    await Deno.remove(files.dir, { recursive: true });
  }
});

Deno.test("serve() gives the handler the client's address and the TLS facts (fetch with Deno.createHttpClient)", async () => {
  const pki = PKI_INTERMEDIATE;
  let seen: Record<string, unknown> = {};
  const server = mtlsServer(pki, (req, info) => {
    const { tls } = info;
    seen = {
      url: req.url,
      method: req.method,
      remote: info.remoteAddr.hostname,
      remotePort: info.remoteAddr.port,
      protocol: tls.protocol,
      cipher: tls.cipher,
      alpn: tls.alpnProtocol,
      serverName: tls.serverName,
      cn: tls.peerCertificate?.subject.commonName,
      chain: tls.peerCertificateChain.map((c) => c.subject.commonName),
      verified: tls.verified,
      verifyResult: tls.verifyResult,
    };
    return Response.json({ ok: true }, { headers: { "x-a": "1", "set-cookie": "a=1" } });
  });
  using client = aliceClient(pki);
  try {
    const res = await fetch(`https://localhost:${server.addr.port}/path?q=1`, { client });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-a"), "1");
    assert.deepEqual(res.headers.getSetCookie(), ["a=1"]);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(seen.url, `https://localhost:${server.addr.port}/path?q=1`);
    assert.equal(seen.method, "GET");
    assert.equal(seen.remote, "127.0.0.1");
    assert.ok((seen.remotePort as number) > 0);
    assert.equal(seen.protocol, "TLSv1.3");
    assert.match(String(seen.cipher), /^TLS_/);
    assert.equal(seen.alpn, "http/1.1");
    assert.equal(seen.serverName, "localhost");
    assert.equal(seen.cn, "alice");
    assert.deepEqual(seen.chain, ["alice", "denossl Test Intermediate CA"]);
    assert.equal(seen.verified, true);
    assert.deepEqual(seen.verifyResult, { code: 0, message: "ok" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() without a client certificate policy reports verified false and no certificate", async () => {
  const server = serve({
    ...LOCAL,
  }, (_req, { tls }) =>
    Response.json({
      cert: tls.peerCertificate,
      chain: tls.peerCertificateChain.length,
      verified: tls.verified,
    }));
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPEM] });
  try {
    const res = await fetch(`https://localhost:${server.addr.port}/`, { client });
    assert.deepEqual(await res.json(), { cert: null, chain: 0, verified: false });
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() streams request and response bodies both ways", async () => {
  const firstRequestChunk = Promise.withResolvers<void>();
  const firstResponseChunk = Promise.withResolvers<void>();
  let received = 0;
  const server = mtlsServer(pki, (req) => {
    const reader = req.body!.getReader();
    const body = new ReadableStream<Uint8Array>({
      async start(c): Promise<void> {
        const first = await reader.read();
        received += first.value?.byteLength ?? 0;
        firstRequestChunk.resolve();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          received += value.byteLength;
        }
        c.enqueue(TEXT.encode("first;"));
        await firstResponseChunk.promise; // the client read it while this body is still open
        c.enqueue(TEXT.encode(`received ${received}`));
        c.close();
      },
    });
    return new Response(body);
  });
  using client = aliceClient(pki);
  try {
    const chunk = new Uint8Array(64 * 1024).fill(7);
    const upload = new ReadableStream<Uint8Array>({
      async start(c): Promise<void> {
        c.enqueue(chunk);
        await firstRequestChunk.promise; // the server saw it while this body is still open
        for (let i = 0; i < 15; i++) c.enqueue(chunk);
        c.close();
      },
    });
    const res = await fetch(`https://localhost:${server.addr.port}/upload`, {
      client,
      method: "POST",
      body: upload,
    });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    while (!text.includes(";")) {
      const { done, value } = await reader.read();
      assert.ok(!done, "the first response chunk arrives before the body ends");
      text += dec.decode(value, { stream: true });
    }
    firstResponseChunk.resolve();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    assert.equal(text, `first;received ${16 * 64 * 1024}`);
  } finally {
    firstRequestChunk.resolve();
    firstResponseChunk.resolve();
    await server.shutdown();
  }
});

Deno.test("serve() answers 200 concurrent keep-alive requests, reusing connections", async () => {
  const ports = new Set<number>();
  let requests = 0;
  const server = mtlsServer(pki, (req, info) => {
    requests++;
    ports.add(info.remoteAddr.port);
    return new Response(new URL(req.url).pathname);
  });
  using client = aliceClient(pki);
  try {
    for (let round = 0; round < 2; round++) {
      const bodies = await Promise.all(
        Array.from(
          { length: 200 },
          (_, i) =>
            fetch(`https://localhost:${server.addr.port}/r${round}/${i}`, { client }).then((r) => {
              assert.equal(r.status, 200);
              return r.text();
            }),
        ),
      );
      bodies.forEach((b, i) => assert.equal(b, `/r${round}/${i}`));
    }
    assert.equal(requests, 400);
    assert.ok(ports.size < 400, `connections were reused: ${ports.size} for 400 requests`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() answers 500 when the handler throws and keeps serving", async () => {
  const errors: unknown[] = [];
  const server = mtlsServer(pki, (req) => {
    if (new URL(req.url).pathname === "/boom") throw new Error("boom");
    if (new URL(req.url).pathname === "/not-a-response") return "nope" as unknown as Response;
    return new Response("fine");
  }, {
    onError(e): Response {
      errors.push(e);
      return new Response("Internal Server Error", { status: 500 });
    },
  });
  using client = aliceClient(pki);
  try {
    const base = `https://localhost:${server.addr.port}`;
    const boom = await fetch(`${base}/boom`, { client });
    assert.equal(boom.status, 500);
    await boom.body?.cancel();
    const bad = await fetch(`${base}/not-a-response`, { client });
    assert.equal(bad.status, 500);
    await bad.body?.cancel();
    const fine = await fetch(`${base}/`, { client });
    assert.equal(await fine.text(), "fine");
    assert.equal(errors.length, 2);
    assert.equal((errors[0] as Error).message, "boom");
    assert.ok(errors[1] instanceof TypeError);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() shuts down on its signal, lets a request under way finish, and resolves finished", async () => {
  const controller = new AbortController();
  const release = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const server = mtlsServer(pki, async () => {
    started.resolve();
    await release.promise;
    return new Response("late but whole");
  }, { signal: controller.signal });
  using client = aliceClient(pki);
  const port = server.addr.port;
  const pending = fetch(`https://localhost:${port}/`, { client }).then((r) => r.text());
  await started.promise;
  controller.abort();
  release.resolve();
  assert.equal(await pending, "late but whole");
  await server.finished;
  await assert.rejects(
    fetch(`https://localhost:${port}/`, { client }),
    "nothing listens after shutdown",
  );
});

Deno.test("serve() refuses bad options with clear errors", () => {
  const base = { port: 0, cert: pki.server.chainPEM, key: pki.server.keyPEM, onListen(): void {} };
  assert.throws(() => serve(base as never), TypeError);
  assert.throws(
    () => serve({ port: 0, onListen(): void {} }, () => new Response()),
    /needs a certificate/,
  );
  assert.throws(
    () => serve({ ...base, alpnProtocols: ["h2"] }, () => new Response()),
    /http\/1\.1/,
  );
});

Deno.test("serve() with a context that picks the certificate by SNI tells the handler the name asked for", async () => {
  const { Context, TLS_SERVER_METHOD } = await import("../mod.ts");
  const names = ["api.example", "www.example"];
  const contexts = new Map<string, InstanceType<typeof Context>>();
  for (const name of names) {
    using cert = pki.ca.issue({ dns: [name] });
    const ctx = new Context(TLS_SERVER_METHOD);
    ctx.useCertificateChain(cert.chainPEM);
    ctx.usePrivateKey(cert.keyPEM);
    contexts.set(name, ctx);
  }
  const fallback = contexts.get("www.example")!;
  fallback.setTlsextServernameCallback((conn) => {
    const ctx = contexts.get(conn.getServername() ?? "");
    if (ctx) conn.setContext(ctx);
  });
  const server = serve(
    { hostname: "127.0.0.1", port: 0, context: fallback, onListen(): void {} },
    (_req, { tls }) => new Response(`asked for ${tls.serverName}`),
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, pki.ca.certPEM);
    for (const name of names) {
      // curl checks the certificate against the name: the right one was picked.
      const r = await curl([
        "--cacert",
        `${dir}/ca.pem`,
        "--resolve",
        `${name}:${server.addr.port}:127.0.0.1`,
        `https://${name}:${server.addr.port}/`,
      ]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, `asked for ${name}`);
    }
  } finally {
    await server.shutdown();
    for (const ctx of contexts.values()) ctx.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve() survives a client that breaks the TLS stream after the handshake", async () => {
  const { startTls } = await import("../mod.ts");
  let served = 0;
  const server = serve({
    ...LOCAL,
  }, () => new Response(`served ${++served}`));
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const tls = await startTls(tcp, { hostname: "localhost", caCerts: [pki.ca.certPEM] });
    // Bytes that are no TLS record, straight onto the socket under the TLS session.
    await tcp.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(1024);
    await tls.read(buf).catch(() => null); // the server's alert, or the end: either way it is over
    tls.close();
    using client = Deno.createHttpClient({ caCerts: [pki.ca.certPEM] });
    const res = await fetch(`https://localhost:${server.addr.port}/`, { client });
    assert.equal(await res.text(), "served 1");
  } finally {
    await server.shutdown();
  }
});
