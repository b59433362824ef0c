/**
 * DTLS interop with the `openssl` CLI over UDP on 127.0.0.1: denossl as a
 * client of `s_server -dtls -listen` (cookie exchange), as a server for
 * `s_client -dtls`, and a memory-BIO connection that moves its own
 * datagrams. Messages both ways, DTLS-SRTP keys compared with what openssl
 * exports, clean close. Every case runs under a deadline that kills the peer.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import {
  bioReadDatagrams,
  connectDtls,
  Connection,
  Context,
  DTLS_CLIENT_METHOD,
  listenDtls,
  type TestKeyType,
  VERIFY_PEER,
  WantReadError,
  ZeroReturnError,
} from "../mod.ts";
import { makePki, Peer, pemDir, randomBytes, sha256, withDeadline } from "./_peers.ts";
import { dtlsSServer } from "./_dtls.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();
const SRTP_PROFILE = "SRTP_AES128_CM_SHA1_80";
/** RFC 5764: 2 × (16-byte key + 14-byte salt) for SRTP_AES128_CM_SHA1_80. */
const SRTP_LENGTH = 60;
const SRTP_ARGS = [
  "-use_srtp",
  SRTP_PROFILE,
  "-keymatexport",
  "EXTRACTOR-dtls_srtp",
  "-keymatexportlen",
  String(SRTP_LENGTH),
];
/** Messages denossl sends, each one datagram. */
const MESSAGES = 16;
const MESSAGE_SIZE = 1000;
/** What the openssl peer sends from its stdin: digits and newlines only (s_server and s_client read commands from some letters). */
const PEER_PAYLOAD_SIZE = 8000;

/** Printable bytes no openssl command starts with: lines of digits. */
function digits(n: number): Uint8Array<ArrayBuffer> {
  const out = randomBytes(n).map((b) => 0x30 + (b % 10));
  for (let i = 63; i < n; i += 64) out[i] = 0x0a;
  return out;
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

/** The "Keying material: HEX" line openssl prints for -keymatexport. */
function keyingMaterial(output: string): string | undefined {
  return output.match(/Keying material: ([0-9A-F]+)/)?.[1];
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

Deno.test("DTLS interop with the openssl CLI", async (t) => {
  for (const keyType of ["ec", "rsa"] as TestKeyType[]) {
    const pki = makePki(keyType);
    try {
      const label = keyType === "ec" ? "ECDSA P-256" : "RSA 2048";

      const clientCase =
        `interop: denossl connectDtls ↔ openssl s_server -dtls -listen (cookie exchange), ${label} — ${MESSAGES} messages each way, SRTP keys equal, clean close`;
      await t.step(clientCase, () =>
        withDeadline(clientCase, async (scope) => {
          const { peer, port } = await dtlsSServer(scope, pki.server, SRTP_ARGS);
          const conn = await connectDtls({
            port,
            caCerts: [pki.ca.certPEM],
            serverName: "localhost",
            srtpProfiles: [SRTP_PROFILE],
          });
          scope.defer(() => conn[Symbol.asyncDispose]());
          const info = await conn.handshake();
          assert.equal(info.protocol, "DTLSv1.2");
          assert.equal(info.srtpProfile, SRTP_PROFILE);

          const sent: Uint8Array[] = [];
          for (let i = 0; i < MESSAGES; i++) {
            const m = digits(MESSAGE_SIZE);
            sent.push(m);
            await conn.send(m);
          }
          const fromServer = digits(PEER_PAYLOAD_SIZE);
          peer.feed(fromServer);
          const got: Uint8Array[] = [];
          let total = 0;
          while (total < PEER_PAYLOAD_SIZE) {
            const m = await conn.receive();
            if (m === null) break;
            got.push(m);
            total += m.length;
          }
          const ours = conn.connection.exportSrtpKeyingMaterial()!;
          await conn[Symbol.asyncDispose](); // close_notify: s_server prints DONE and exits
          const out = await peer.finished();
          assert.equal(out.status.code, 0, out.stderr);
          const stdout = dec.decode(out.stdout);
          assert.match(stdout, /SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/);
          assert.equal(keyingMaterial(stdout), hexOf(ours.material));
          // DONE: s_server read our close_notify; then it sent its own and exited.
          assert.match(stdout, /DONE\nshutting down SSL\n/);
          assert.equal(await sha256(concat(got)), await sha256(fromServer));
          // s_server printed every message it read, in order, before DONE.
          const printed = stdout.indexOf(dec.decode(concat(sent)));
          assert.ok(printed > 0, "s_server printed our messages");
          assert.ok(printed < stdout.lastIndexOf("DONE\n"));
        }));

      const serverCase =
        `interop: openssl s_client -dtls ↔ denossl listenDtls, ${label} — messages both ways, SRTP keys equal, clean close`;
      await t.step(serverCase, () =>
        withDeadline(serverCase, async (scope) => {
          const files = await pemDir(scope, { ca: pki.ca.certPEM });
          const listener = listenDtls({
            hostname: "127.0.0.1",
            port: 0,
            cert: pki.server.chainPEM,
            key: pki.server.keyPEM,
            srtpProfiles: [SRTP_PROFILE],
          });
          scope.defer(() => listener[Symbol.asyncDispose]());
          const peer = scope.adopt(
            new Peer("openssl", [
              "s_client",
              "-dtls",
              "-connect",
              `127.0.0.1:${listener.addr.port}`,
              "-CAfile",
              files.ca!,
              "-verify_return_error",
              "-verify_hostname",
              "localhost",
              "-servername",
              "localhost",
              "-nocommands",
              ...SRTP_ARGS,
            ], { stdin: true }),
          );
          const conn = await listener.accept();
          scope.defer(() => conn[Symbol.asyncDispose]());
          const info = await conn.handshake();
          assert.equal(info.protocol, "DTLSv1.2");
          assert.equal(info.srtpProfile, SRTP_PROFILE);

          const fromClient = digits(PEER_PAYLOAD_SIZE);
          peer.feed(fromClient);
          const got: Uint8Array[] = [];
          let total = 0;
          while (total < PEER_PAYLOAD_SIZE) {
            const m = await conn.receive();
            if (m === null) break;
            got.push(m);
            total += m.length;
          }
          assert.equal(await sha256(concat(got)), await sha256(fromClient));
          const reply = digits(MESSAGES * 100);
          const echoed = peer.waitFor("stdout", new RegExp(dec.decode(reply.subarray(-40))));
          for (let i = 0; i < MESSAGES; i++) {
            await conn.send(reply.subarray(i * 100, (i + 1) * 100));
          }
          await echoed;
          await peer.endInput(); // s_client sends close_notify at the end of its input
          assert.equal(await conn.receive(), null);
          const ours = conn.connection.exportSrtpKeyingMaterial()!;
          await conn[Symbol.asyncDispose]();
          const out = await peer.finished();
          assert.equal(out.status.code, 0, out.stderr);
          const stdout = dec.decode(out.stdout);
          assert.match(stdout, /Protocol\s*: DTLSv1\.2/);
          assert.match(stdout, /Verify return code: 0 \(ok\)/);
          assert.equal(keyingMaterial(stdout), hexOf(ours.material));
          assert.ok(stdout.includes(dec.decode(reply)), "s_client printed every message");
        }));
    } finally {
      pki.close();
    }
  }

  const pki = makePki("ec");
  try {
    const rawCase =
      "interop: a memory-BIO Connection moving its own UDP datagrams (bioReadDatagrams, one bioWrite per datagram) ↔ openssl s_server -dtls -listen";
    await t.step(rawCase, () =>
      withDeadline(rawCase, async (scope) => {
        const { peer, port } = await dtlsSServer(scope, pki.server, SRTP_ARGS);
        const server: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
        const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
        scope.defer(() => socket.close());
        using ctx = new Context(DTLS_CLIENT_METHOD);
        ctx.addCaCerts(pki.ca.certPEM);
        ctx.setVerify(VERIFY_PEER);
        ctx.setTlsextUseSrtp(SRTP_PROFILE);
        using conn = new Connection(ctx, null);
        conn.setConnectState();
        conn.setVerifyHostname("localhost");
        conn.setCiphertextMtu(1200);
        const flush = async (): Promise<void> => {
          for (const d of bioReadDatagrams(conn)) await socket.send(d, server);
        };
        const next = async (): Promise<Uint8Array> => {
          // The next datagram; meanwhile the DTLS timer resends our flight when it expires.
          const receiving = socket.receive();
          receiving.catch(() => {});
          for (;;) {
            const ms = conn.getDtlsTimeout();
            let timer: ReturnType<typeof setTimeout> | undefined;
            const result = await Promise.race([
              receiving,
              new Promise<null>((r) => (timer = setTimeout(r, ms ?? 5000, null))),
            ]);
            clearTimeout(timer);
            if (result !== null) return result[0];
            if (conn.handleDtlsTimeout()) await flush();
          }
        };
        // Handshake: one datagram in, one SSL call.
        for (;;) {
          let done = false;
          try {
            conn.doHandshake();
            done = true;
          } catch (e) {
            if (!(e instanceof WantReadError)) throw e;
          }
          await flush();
          if (done) break;
          conn.bioWrite(await next());
        }
        assert.equal(conn.getProtocolVersionName(), "DTLSv1.2");
        assert.equal(conn.getSelectedSrtpProfile(), SRTP_PROFILE);
        const message = enc.encode("raw datagrams from denossl\n");
        conn.send(message);
        await flush();
        const fromServer = enc.encode("0123456789\n");
        peer.feed(fromServer);
        let got: Uint8Array | null = null;
        while (got === null) {
          conn.bioWrite(await next());
          try {
            got = conn.recv(65536);
          } catch (e) {
            if (!(e instanceof WantReadError)) throw e;
          }
        }
        assert.equal(dec.decode(got), "0123456789\n");
        const keys = conn.exportSrtpKeyingMaterial()!;
        assert.equal(conn.shutdown(), false);
        await flush();
        // s_server answers our close_notify with its own, then exits.
        conn.bioWrite(await next());
        assert.throws(() => conn.recv(100), ZeroReturnError);
        assert.equal(conn.shutdown(), true);
        const out = await peer.finished();
        assert.equal(out.status.code, 0, out.stderr);
        const stdout = dec.decode(out.stdout);
        assert.ok(stdout.includes("raw datagrams from denossl\n"));
        assert.equal(keyingMaterial(stdout), hexOf(keys.material));
        assert.match(stdout, /DONE\nshutting down SSL\n/);
      }));
  } finally {
    pki.close();
  }
});
