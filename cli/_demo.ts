/**
 * `demo`: what denossl shows that Deno's TLS can't, in a second and with no
 * network. A local server with a fresh test CA (root, intermediate, server
 * certificate) that requires a client certificate; `inspect` against it
 * (the same code as the command); a second connection that resumes the
 * session; keying material exported on both sides. Internal to the command
 * line.
 *
 * @module
 */

import { listenTls, opensslVersion, TestCA, type TlsConnection } from "../mod.ts";
import { formatReport, inspect } from "./_inspect.ts";

/** What the server saw of one connection. */
interface ServerView {
  client: string | null;
  resumed: boolean;
  alpn: string | null;
  exporter: string;
}

/** A promise with its resolvers outside. */
function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A soname followed by the file it resolved to, where `/proc/self/maps` tells (Linux). */
function resolved(name: string): string {
  if (name.startsWith("/")) return name;
  try {
    const line = Deno.readTextFileSync("/proc/self/maps").split("\n")
      .find((l) => l.endsWith(`/${name}`));
    return line ? `${name} (${line.slice(line.indexOf("/"))})` : name;
  } catch {
    return name;
  }
}

const LABEL = "EXPORTER-denossl-demo";
const TIMEOUT_MS = 5000;

async function serveTwo(
  conns: AsyncIterable<TlsConnection>,
  views: ReturnType<typeof deferred<ServerView>>[],
): Promise<void> {
  let i = 0;
  for await (const conn of conns) {
    const view = views[i++]!;
    try {
      const info = await conn.handshake();
      const subject = info.peerCertificate?.subject;
      view.resolve({
        client: subject?.rfc2253 ?? null,
        resumed: conn.sessionReused(),
        alpn: info.alpnProtocol,
        exporter: hex(conn.exportKeyingMaterial(LABEL, 32)),
      });
      subject?.close();
      info.peerCertificate?.close();
      while ((await conn.read(new Uint8Array(1024))) !== null) { /* until close_notify */ }
      await conn.closeWrite();
    } catch (e) {
      view.reject(e);
    } finally {
      await conn[Symbol.asyncDispose]().catch(() => {});
    }
    if (i === views.length) return;
  }
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/**
 * Runs the demo.
 *
 * @param log Prints a line.
 * @returns The exit code: 0 when the chain verified, the session resumed
 *   and both sides exported the same keying material.
 */
export async function demo(log: (line: string) => void): Promise<number> {
  const started = performance.now();
  const v = opensslVersion();
  log(`${v.text} (${v.major}.${v.minor}.${v.patch})`);
  log(`  libssl:    ${resolved(v.libssl)}`);
  log(`  libcrypto: ${resolved(v.libcrypto)}`);
  log("");

  using ca = TestCA.create({ intermediate: true });
  using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  using alice = ca.issueClient({ commonName: "alice" });
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
    caCerts: [ca.certPEM],
    requireClientCert: true,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const views = [deferred<ServerView>(), deferred<ServerView>()];
  const server = serveTwo(listener, views);
  server.catch(() => {});
  const port = listener.addr.port;
  let firstSession = null;
  try {
    log(
      `A local server on 127.0.0.1:${port} with a fresh test CA (root > intermediate > server ` +
        "certificate for localhost),",
    );
    log("requiring a client certificate (mutual TLS), offering ALPN h2 and http/1.1.");
    log("");
    log(
      `1. inspect 127.0.0.1:${port} --servername localhost --alpn h2,http/1.1 ` +
        "--cafile <demo root> --cert <alice>",
    );
    const options = {
      host: "127.0.0.1",
      port,
      servername: "localhost",
      alpn: ["h2", "http/1.1"],
      caCerts: [ca.certPEM],
      cert: alice.chainPEM,
      key: alice.keyPEM,
      timeoutMs: TIMEOUT_MS,
      exporterLabel: LABEL,
    };
    const first = await inspect(options);
    firstSession = first.session;
    for (const line of formatReport(first.report).split("\n")) log(`   ${line}`);
    const sv1 = await within(views[0]!.promise, "the server's first handshake");
    log(
      `   server: client certificate ${sv1.client} (verified against the demo CA), ` +
        `ALPN ${sv1.alpn}, resumed: ${sv1.resumed ? "yes" : "no"}`,
    );
    log("");

    log("2. a second connection offering the session from 1");
    if (firstSession === null) throw new Error("the first connection left no session");
    const second = await inspect({ ...options, session: firstSession });
    const r2 = second.report;
    second.session?.close();
    log(
      `   client: ${r2.protocol} ${r2.cipher}, resumed: ${r2.session?.resumed ? "yes" : "no"}` +
        ` (handshake ${r2.timings.handshakeMs} ms, ${first.report.timings.handshakeMs} ms before)`,
    );
    const sv2 = await within(views[1]!.promise, "the server's second handshake");
    log(`   server: client certificate ${sv2.client}, resumed: ${sv2.resumed ? "yes" : "no"}`);
    log("");

    const clientKey = first.report.exporter!.hex;
    const match = clientKey === sv1.exporter;
    log(`3. keying material exported on both sides of connection 1 ("${LABEL}", 32 bytes)`);
    log(`   client: ${clientKey}`);
    log(`   server: ${sv1.exporter}`);
    log(`   match: ${match ? "yes" : "NO"}`);
    log("");
    log(
      "Deno.connectTls/listenTls show none of this but the ALPN protocol: no peer certificate, " +
        "no verification detail, no client-certificate policy, no sessions, no exporter, no OCSP.",
    );
    const ok = first.report.verification.ok && r2.session?.resumed === true && sv2.resumed &&
      match && sv1.client === "CN=alice";
    log(`demo ${ok ? "passed" : "FAILED"} in ${Math.round(performance.now() - started)} ms`);
    return ok ? 0 : 1;
  } finally {
    firstSession?.close();
    listener.close();
    await within(server, "stopping the server").catch(() => {});
  }
}
