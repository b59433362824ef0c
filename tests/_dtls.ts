/**
 * Fixtures of the DTLS tests: contexts, a memory-BIO harness that moves one
 * datagram at a time (with the stateless cookie exchange of `dtlsListen`),
 * a seeded PRNG and a UDP socket that drops a share of what it sends.
 *
 * @module
 */

import {
  bioReadDatagrams,
  type Connection,
  Context,
  type DatagramSocket,
  DTLS_CLIENT_METHOD,
  DTLS_SERVER_METHOD,
  VERIFY_PEER,
  WantReadError,
} from "../mod.ts";
import { pki } from "./_negotiation_fixtures.ts";
import { Peer, pemDir, type Scope } from "./_peers.ts";

/** What the cookie callbacks of {@link dtlsServerContext} saw. */
export interface CookieLog {
  generated: Uint8Array[];
  verified: Uint8Array[];
}

/**
 * A DTLS server context with the localhost chain and cookie callbacks that
 * log what they see (the cookie is `cookie`, accepted when echoed unchanged).
 */
export function dtlsServerContext(
  cookie: Uint8Array = new Uint8Array(32).fill(0xc0),
  log: CookieLog = { generated: [], verified: [] },
  method = DTLS_SERVER_METHOD,
): Context {
  const ctx = new Context(method);
  ctx.useCertificateChain(pki().leaf.chainPEM);
  ctx.usePrivateKey(pki().leaf.key);
  ctx.setCookieGenerateCallback(() => {
    log.generated.push(cookie);
    return cookie;
  });
  ctx.setCookieVerifyCallback((_conn, echoed) => {
    log.verified.push(echoed);
    return echoed.length === cookie.length && echoed.every((b, i) => b === cookie[i]);
  });
  return ctx;
}

/** A DTLS client context that verifies the server against the test root. */
export function dtlsClientContext(method = DTLS_CLIENT_METHOD): Context {
  const ctx = new Context(method);
  ctx.addCaCerts(pki().ca.certPEM);
  ctx.setVerify(VERIFY_PEER);
  return ctx;
}

/** Runs an SSL call that may want to read; returns whether it completed. */
export function attempt(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof WantReadError) return false;
    throw e;
  }
}

/** The datagrams each side sent, in order. */
export interface Wire {
  clientToServer: Uint8Array[];
  serverToClient: Uint8Array[];
}

/**
 * Moves every pending datagram from one side to the other, one `bioWrite`
 * and one SSL call (`step`) per datagram, as they would arrive over UDP.
 *
 * @returns The datagrams moved.
 */
export function deliver(
  from: Connection,
  to: Connection,
  step: () => void,
  mtu = 0,
): Uint8Array[] {
  const datagrams = bioReadDatagrams(from, mtu);
  for (const d of datagrams) {
    to.bioWrite(d);
    step();
  }
  return datagrams;
}

/**
 * Runs a DTLS handshake in memory, the server first answering with
 * `dtlsListen()` until a ClientHello carries a valid cookie.
 *
 * @returns The datagrams of each direction and how many HelloVerifyRequests were sent.
 */
export function dtlsHandshakeInMemory(
  client: Connection,
  server: Connection,
  mtu = 0,
): Wire & { helloVerifyRequests: number } {
  const wire: Wire = { clientToServer: [], serverToClient: [] };
  let listened = false;
  let helloVerifyRequests = 0;
  attempt(() => client.doHandshake());
  for (let round = 0; round < 5 && !listened; round++) {
    for (const d of bioReadDatagrams(client, mtu)) {
      wire.clientToServer.push(d);
      server.bioWrite(d);
      listened = attempt(() => server.dtlsListen());
    }
    const answer = bioReadDatagrams(server, mtu);
    if (!listened) helloVerifyRequests += answer.length;
    for (const d of answer) {
      wire.serverToClient.push(d);
      client.bioWrite(d);
      attempt(() => client.doHandshake());
    }
  }
  if (!listened) throw new Error("dtlsListen never accepted a cookie");
  for (let round = 0; round < 10; round++) {
    attempt(() => server.doHandshake());
    wire.serverToClient.push(
      ...deliver(server, client, () => attempt(() => client.doHandshake()), mtu),
    );
    wire.clientToServer.push(
      ...deliver(client, server, () => attempt(() => server.doHandshake()), mtu),
    );
    if (client.isHandshakeDone() && server.isHandshakeDone()) {
      wire.serverToClient.push(
        ...deliver(server, client, () => attempt(() => client.doHandshake()), mtu),
      );
      return { ...wire, helloVerifyRequests };
    }
  }
  throw new Error("DTLS handshake did not finish in 10 rounds");
}

/** Sends one message and reads it on the other side. */
export function roundTrip(from: Connection, to: Connection, message: Uint8Array): Uint8Array {
  from.send(message);
  let got: Uint8Array | undefined;
  deliver(from, to, () => {
    if (got === undefined) got = to.recv(65536);
  });
  if (got === undefined) throw new Error("nothing arrived");
  return got;
}

/** The handshake message type of a DTLS record (byte 13), or -1 when it is not a handshake record. */
export function handshakeType(record: Uint8Array): number {
  return record[0] === 22 && record.length > 13 ? record[13]! : -1;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UDP socket that drops a share of the datagrams it sends, decided by a seeded PRNG. */
export class LossySocket implements DatagramSocket {
  readonly #inner: Deno.DatagramConn;
  readonly #random: () => number;
  /** The share of datagrams dropped, from 0 to 1. */
  rate: number;
  /** Datagrams asked to be sent. */
  sent = 0;
  /** Datagrams dropped. */
  dropped = 0;

  constructor(inner: Deno.DatagramConn, seed: number, rate: number) {
    this.#inner = inner;
    this.#random = prng(seed);
    this.rate = rate;
  }

  get addr(): Deno.Addr {
    return this.#inner.addr;
  }

  receive(p?: Uint8Array): Promise<[Uint8Array, Deno.Addr]> {
    return this.#inner.receive(p);
  }

  send(p: Uint8Array, addr: Deno.Addr): Promise<number> {
    this.sent++;
    if (this.#random() < this.rate) {
      this.dropped++;
      return Promise.resolve(p.length);
    }
    return this.#inner.send(p, addr);
  }

  close(): void {
    this.#inner.close();
  }
}

/** A UDP socket on 127.0.0.1 with a free port. */
export function udpSocket(): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
}

/** Rejects after `ms` with a message naming `what`, unless `p` settles first. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: deadline of ${ms} ms passed`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A UDP port that was free a moment ago. */
export function freeUdpPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const { port } = s.addr as Deno.NetAddr;
  s.close();
  return port;
}

/**
 * Starts `s_server -dtls -listen` (cookie exchange) on a free UDP port, with
 * a certificate or none (`-nocert`, for PSK), and waits for its ACCEPT.
 * s_server takes one protocol flag: `-dtls`, or `-dtls1_2` for DTLS 1.2 only.
 */
export async function dtlsSServer(
  scope: Scope,
  cert: { chainPEM: string; keyPEM: string } | null,
  extra: string[],
  protocol: "-dtls" | "-dtls1_2" = "-dtls",
): Promise<{ peer: Peer; port: number }> {
  const files = cert && await pemDir(scope, { cert: cert.chainPEM, key: cert.keyPEM });
  const port = freeUdpPort();
  const peer = new Peer("openssl", [
    "s_server",
    protocol,
    "-listen",
    "-accept",
    `127.0.0.1:${port}`,
    "-naccept",
    "1",
    ...(files ? ["-cert", files.cert!, "-key", files.key!] : ["-nocert"]),
    ...extra,
  ], { stdin: true });
  const ready = peer.waitFor("stdout", /ACCEPT/);
  scope.adopt(peer);
  await ready;
  return { peer, port };
}
