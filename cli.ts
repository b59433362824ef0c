/**
 * The denossl command line. For now one command, `demo`, which loads the
 * system OpenSSL and says what it found. A later issue adds `inspect` and
 * `serve`.
 *
 * ```sh
 * deno run --allow-all cli.ts demo
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Connection,
  connectTls,
  Context,
  listenTls,
  opensslVersion,
  TestCA,
  TLS_CLIENT_METHOD,
  VERIFY_PEER,
} from "./mod.ts";

const USAGE = `Usage: deno run --allow-all cli.ts <command>

Commands:
  demo     Print the loaded OpenSSL, then run a local mTLS exchange with a fresh test CA
           (peer chain, ALPN, exporter on both sides, session resumption)

Options:
  -h, --help   Show this help`;

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

/**
 * Runs the command line.
 *
 * @param args The arguments, without the program name.
 * @returns The exit code: 0 on success, 2 on a usage error.
 *
 * @example Print the usage
 * ```ts ignore
 * import { main } from "./cli.ts";
 * main(["--help"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (e) {
    const first = (e as Error).message.split(". ")[0];
    console.error(`denossl: ${first} (see --help)`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (command === "demo" && rest.length === 0) {
    const v = opensslVersion();
    console.log(`${v.text} (${v.major}.${v.minor}.${v.patch})`);
    console.log(`  libssl:    ${resolved(v.libssl)}`);
    console.log(`  libcrypto: ${resolved(v.libcrypto)}`);
    return await demo();
  }
  console.error(
    command === undefined
      ? "denossl: missing command (see --help)"
      : `denossl: unknown command "${[command, ...rest].join(" ")}" (see --help)`,
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * A local mTLS server with a fresh test CA, a client that shows what Deno's
 * TLS cannot (peer chain, cipher, ALPN, exporter, session resumption).
 *
 * @returns The exit code.
 */
async function demo(): Promise<number> {
  const ca = TestCA.create({ intermediate: true });
  const leaf = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  const alice = ca.issueClient({ commonName: "alice" });
  const label = "EXPORTER-denossl-demo";
  const listener = listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.chainPEM,
    key: leaf.keyPEM,
    caCerts: [ca.certPEM],
    requireClientCert: true,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const serverKeys: string[] = [];
  const server = (async () => {
    for (let i = 0; i < 2; i++) {
      const conn = await listener.accept();
      const info = await conn.handshake();
      serverKeys.push(hex(conn.exportKeyingMaterial(label, 32)));
      console.log(
        `server: client certificate ${info.peerCertificate?.subject.rfc2253}, resumed: ${conn.sessionReused()}`,
      );
      info.peerCertificate?.close();
      await conn.write(new TextEncoder().encode(`hello ${i}`));
      await conn.closeWrite();
      await conn[Symbol.asyncDispose]();
    }
  })();

  const ctx = new Context(TLS_CLIENT_METHOD);
  ctx.addCaCerts(ca.certPEM);
  ctx.setVerify(VERIFY_PEER);
  ctx.useCertificateChain(alice.chainPEM);
  ctx.usePrivateKey(alice.keyPEM);
  ctx.setAlpnProtos(["h2"]);
  const port = listener.addr.port;
  const first = await connectTls({ hostname: "localhost", port, context: ctx });
  const info = await first.handshake();
  console.log(
    `client: ${info.protocol} ${info.cipher}, ALPN ${info.alpnProtocol}, group ${first.getGroupName()}`,
  );
  for (const [depth, cert] of (first.getPeerCertChain() ?? []).entries()) {
    const days = Math.floor((cert.notAfter.getTime() - Date.now()) / 86400_000);
    console.log(
      `  [${depth}] ${cert.subject.rfc2253} (issuer ${cert.issuer.rfc2253}, ${days} days left)`,
    );
    console.log(`      SHA-256 ${cert.fingerprint("sha256")}`);
    cert.close();
  }
  console.log("  verification: ok (chain to the demo CA, host name localhost)");
  const clientKey = hex(first.exportKeyingMaterial(label, 32));
  const buf = new Uint8Array(64);
  let n = await first.read(buf); // also reads the TLS 1.3 session ticket
  console.log(`client read "${new TextDecoder().decode(buf.subarray(0, n ?? 0))}"`);
  while ((n = await first.read(buf)) !== null) { /* until close_notify */ }
  const session = first.getSession();
  await first[Symbol.asyncDispose]();

  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const second = new Connection(ctx, tcp);
  second.setConnectState();
  second.setTlsextHostName("localhost");
  second.setVerifyHostname("localhost");
  if (session) second.setSession(session);
  await second.handshake();
  console.log(`client: second connection resumed the session: ${second.sessionReused()}`);
  while ((await second.read(buf)) !== null) { /* until close_notify */ }
  await second[Symbol.asyncDispose]();
  await server;
  listener.close();
  console.log(`exporter "${label}": client ${clientKey.slice(0, 32)}...`);
  console.log(
    `                          server ${serverKeys[0]!.slice(0, 32)}... match: ${
      clientKey === serverKeys[0]
    }`,
  );
  session?.close();
  ctx.close();
  for (const x of [alice, leaf, ca]) x.close();
  return clientKey === serverKeys[0] ? 0 : 1;
}
