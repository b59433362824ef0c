/**
 * `serve`: a TLS echo server. Without `--cert` it makes a throwaway test CA
 * and server certificate, and writes the CA certificate to a temporary
 * directory so that clients can trust it. Runs until SIGINT or SIGTERM.
 * Internal to the command line.
 *
 * @module
 */

import { listenTls, SSLError, TestCA, type TlsConnection, type TlsListener } from "../mod.ts";
import { CliError, EXIT, hostPort, usageError } from "./_args.ts";

/** What to serve. */
export interface ServeOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** PEM certificate (chain); with `key`. Without, a test CA is made. */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
  /** ALPN protocols to accept, in preference order. */
  alpn?: readonly string[];
  /** How to run this command line again, for the hint printed at start. */
  self: string;
  /** Where to print (stdout lines). */
  log: (line: string) => void;
  /** Resolves when the server should stop (a signal). */
  stop: Promise<unknown>;
}

function peerOf(conn: TlsConnection): string {
  const a = conn.remoteAddr;
  return hostPort(a.hostname, a.port);
}

async function echo(conn: TlsConnection, log: (line: string) => void): Promise<void> {
  const peer = peerOf(conn);
  try {
    const info = await conn.handshake();
    const sni = conn.getServername();
    log(
      `${peer}: ${info.protocol} ${info.cipher}` +
        `${info.alpnProtocol ? `, ALPN ${info.alpnProtocol}` : ""}${sni ? `, SNI ${sni}` : ""}`,
    );
    const buf = new Uint8Array(16384);
    let total = 0;
    for (let n; (n = await conn.read(buf)) !== null;) {
      await conn.write(buf.subarray(0, n));
      total += n;
    }
    await conn.closeWrite();
    log(`${peer}: closed after echoing ${total} bytes`);
  } catch (e) {
    log(`${peer}: ${(e as Error).message ?? e}`);
  } finally {
    await conn[Symbol.asyncDispose]().catch(() => {});
  }
}

/**
 * Serves until `stop` resolves.
 *
 * @param o Options.
 * @returns The exit code (0).
 * @throws {CliError} When the address cannot be listened on.
 */
export async function serve(o: ServeOptions): Promise<number> {
  let cert = o.cert;
  let key = o.key;
  let tempDir: string | null = null;
  let caFile: string | null = null;
  if (cert === undefined) {
    using ca = TestCA.create();
    using leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1", "::1"] });
    cert = leaf.chainPEM;
    key = leaf.keyPEM;
    tempDir = await Deno.makeTempDir({ prefix: "denossl-serve-" });
    caFile = `${tempDir}/ca.pem`;
    await Deno.writeTextFile(caFile, ca.certPEM);
  }
  let listener: TlsListener;
  try {
    listener = listenTls({
      hostname: o.hostname,
      port: o.port,
      cert,
      key: key!,
      ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
      ...(o.alpn?.length ? { alpnProtocols: [...o.alpn] } : {}),
    });
  } catch (e) {
    if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    if (e instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `cannot listen on ${hostPort(o.hostname, o.port)}: address in use`,
        EXIT.FAILURE,
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable || e instanceof Deno.errors.PermissionDenied) {
      throw new CliError(
        `cannot listen on ${hostPort(o.hostname, o.port)}: ${
          (e as Error).message.replace(/ \(os error \d+\)$/, "")
        }`,
        EXIT.FAILURE,
      );
    }
    if (e instanceof TypeError || e instanceof SSLError) {
      throw usageError(`--cert/--key: ${(e as Error).message}`);
    }
    throw e;
  }
  const { port } = listener.addr;
  const address = hostPort(listener.addr.hostname, port);
  o.log(`listening on ${address} (TLS echo server; Ctrl-C stops it)`);
  if (caFile) {
    o.log(`certificate: CN=localhost from a throwaway test CA; CA file: ${caFile}`);
    o.log(
      `try: ${o.self} inspect ${
        hostPort(
          o.hostname === "0.0.0.0" ? "127.0.0.1" : o.hostname === "::" ? "::1" : o.hostname,
          port,
        )
      } --cafile ${caFile}`,
    );
  }
  const conns = new Set<TlsConnection>();
  const tasks = new Set<Promise<void>>();
  let stopping = false;
  const log = (line: string): void => {
    if (!stopping) o.log(line);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const task = echo(conn, log).finally(() => {
        conns.delete(conn);
        tasks.delete(task);
      });
      tasks.add(task);
    }
  })();
  await o.stop;
  stopping = true;
  listener.close();
  await accepting.catch(() => {});
  for (const conn of conns) conn.close(); // a signal ends the server now, open connections too
  await Promise.allSettled(tasks);
  if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  o.log("stopped");
  return EXIT.OK;
}
