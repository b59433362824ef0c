/**
 * Shared fixtures of the negotiation and session tests: certificates from
 * `TestCA` (made once per process), context builders, a pair maker, and a
 * loop that lets two connections settle post-handshake traffic.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Connection,
  Context,
  type IssuedCertificate,
  type TestCA,
  TLS_METHOD,
  VERIFY_PEER,
  WantReadError,
} from "../mod.ts";
import { pump } from "./_pair.ts";
import { makePki } from "./_pki.ts";
export { memoryPair as pair } from "./_pair.ts";

/** Certificates for the tests. */
export interface Fixtures {
  ca: TestCA;
  /** localhost leaf, issued through the intermediate. */
  leaf: IssuedCertificate;
  /** A second server certificate, for other.test. */
  other: IssuedCertificate;
  /** A client certificate (CN=alice). */
  client: IssuedCertificate;
}

let fixtures: Fixtures | undefined;

/**
 * The fixtures, made on first use and kept for the process (they hold no OS resources).
 *
 * @returns The fixtures.
 */
export function pki(): Fixtures {
  if (!fixtures) {
    const { ca, server, client } = makePki("ec", { intermediate: true });
    fixtures = {
      ca,
      leaf: server,
      other: ca.issue({ dns: ["other.test"], commonName: "other.test" }),
      client,
    };
  }
  return fixtures;
}

/**
 * A server context with a certificate chain.
 *
 * @param cert The certificate (default: the localhost leaf).
 * @returns The context.
 */
export function serverContext(cert: IssuedCertificate = pki().leaf): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.useCertificateChain(cert.chainPEM);
  ctx.usePrivateKey(cert.key);
  return ctx;
}

/**
 * A client context that verifies the server against the test root.
 *
 * @returns The context.
 */
export function clientContext(): Context {
  const ctx = new Context(TLS_METHOD);
  ctx.addCaCerts(pki().ca.certPEM);
  ctx.setVerify(VERIFY_PEER);
  return ctx;
}

/**
 * Pins both ends of a context to one protocol version.
 *
 * @param ctx The context.
 * @param version The version.
 * @returns The context.
 */
export function pin(ctx: Context, version: number): Context {
  ctx.setMinProtoVersion(version);
  ctx.setMaxProtoVersion(version);
  return ctx;
}

/**
 * Reads everything a connection can read now.
 *
 * @returns The chunks read.
 */
export function drain(conn: Connection): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (;;) {
    try {
      out.push(conn.recv(65536));
    } catch (e) {
      if (e instanceof WantReadError) return out;
      throw e;
    }
  }
}

/**
 * Lets both sides read and exchange ciphertext until nothing moves: how
 * post-handshake messages (renegotiation, key update, certificate requests,
 * tickets) are processed over memory BIOs.
 *
 * @returns What each side read.
 */
export function settle(a: Connection, b: Connection): { a: Uint8Array[]; b: Uint8Array[] } {
  const read = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  for (let round = 0; round < 30; round++) {
    read.a.push(...drain(a));
    read.b.push(...drain(b));
    if (pump(a, b) + pump(b, a) === 0) return read;
  }
  throw new Error("The connections did not settle in 30 rounds");
}

/**
 * Runs fn, asserts it throws an instance of cls, and returns the error.
 *
 * @returns The error.
 */
export function catchError<T>(fn: () => unknown, cls: new (...args: never[]) => T): T {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    return e;
  }
  assert.fail(`expected ${cls.name} to be thrown`);
}

/**
 * Bytes as lowercase hex.
 *
 * @returns The hex text.
 */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
