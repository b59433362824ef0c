/**
 * `inspect`: connect to a TLS server and report what the handshake showed:
 * protocol, cipher, group, ALPN, the session and its ticket, the stapled
 * OCSP response, every certificate the server sent, and the verification
 * result. Verification is recorded, not enforced, during the handshake (a
 * verify callback that notes each failure and accepts), so a refused chain
 * is still printed with the reason. Internal to the command line; `demo`
 * runs the same code.
 *
 * @module
 */

import {
  Connection,
  Context,
  SESS_CACHE_CLIENT,
  SESS_CACHE_NO_INTERNAL_STORE,
  SSLError,
  SysCallError,
  TLS_CLIENT_METHOD,
  VERIFY_PEER,
  type X509,
  ZeroReturnError,
} from "../mod.ts";
import type { Session } from "../mod.ts";
import { verifyErrorString } from "../errors/raise.ts";
import { CliError, EXIT, hostPort, isIpLiteral, usageError } from "./_args.ts";
import { type OcspSummary, summariseOcsp } from "./_ocsp.ts";

/** What to connect to and how. */
export interface InspectOptions {
  /** Host name or IP address to connect to. */
  host: string;
  /** TCP port. */
  port: number;
  /** SNI and the name to verify; defaults to `host` (no SNI for an IP address). */
  servername?: string;
  /** ALPN protocols to offer. */
  alpn?: readonly string[];
  /** PEM CA certificates trusted in addition to the system store. */
  caCerts?: readonly string[];
  /** PEM client certificate (chain) and key, for servers that ask. */
  cert?: string;
  /** The client certificate's key (PEM). */
  key?: string;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Report a failed verification without failing (exit 0). */
  unsafeNoVerify?: boolean;
  /** Milliseconds for connecting plus the handshake. */
  timeoutMs: number;
  /** Milliseconds to wait for a TLS 1.3 session ticket after the handshake. @default {1000} */
  ticketWaitMs?: number;
  /** A session to offer for resumption. */
  session?: Session;
  /** Export 32 bytes of keying material under this label. */
  exporterLabel?: string;
}

/** One certificate, as the report shows it. */
export interface CertificateReport {
  /** Subject, RFC 2253. */
  subject: string;
  /** Issuer, RFC 2253. */
  issuer: string;
  /** Serial number, upper-case hex. */
  serial: string;
  /** Start of validity, ISO 8601. */
  notBefore: string;
  /** End of validity, ISO 8601. */
  notAfter: string;
  /** Whole days until `notAfter` (negative once expired). */
  daysLeft: number;
  /** Subject alternative names as `TYPE:value`. */
  subjectAltNames: string[];
  /** The public key. */
  key: { type: string; bits: number; curve: string | null };
  /** The signature algorithm. */
  signatureAlgorithm: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  sha256: string;
  /** Whether it is a CA certificate. */
  isCA: boolean;
  /** The certificate in PEM, as the server sent it. */
  pem: string;
}

/** One verification failure OpenSSL reported. */
export interface VerifyFailure {
  /** `X509_V_ERR_*`. */
  code: number;
  /** OpenSSL's text for the code. */
  message: string;
  /** Depth in the chain (0 is the server's certificate). */
  depth: number;
  /** Subject of the certificate at that depth. */
  subject: string;
}

/** Everything `inspect` found. */
export interface InspectReport {
  /** The host connected to. */
  host: string;
  /** The port. */
  port: number;
  /** The SNI name sent, or null. */
  servername: string | null;
  /** Protocol version, for example `"TLSv1.3"`. */
  protocol: string;
  /** Cipher suite name. */
  cipher: string;
  /** Cipher strength in bits. */
  cipherBits: number | null;
  /** Key exchange group, or null. */
  group: string | null;
  /** ALPN offered and selected. */
  alpn: { offered: string[]; selected: string | null };
  /** The session after the handshake. */
  session: {
    resumed: boolean;
    resumable: boolean;
    ticket: boolean;
    ticketLifetimeHint: number;
    timeout: number;
  } | null;
  /** The stapled OCSP response (a staple is always requested). */
  ocsp: { response: OcspSummary | null; error?: string };
  /** The subject of the client certificate sent, or null. */
  clientCertificate: string | null;
  /** The certificates the server sent, leaf first. */
  chain: CertificateReport[];
  /** Subjects of the verified chain, leaf to trust anchor; empty when verification failed. */
  verifiedChain: string[];
  /** The verification result. */
  verification: {
    ok: boolean;
    enforced: boolean;
    hostname: string;
    failures: VerifyFailure[];
  };
  /** Milliseconds spent connecting and in the handshake. */
  timings: { connectMs: number; handshakeMs: number };
  /** Keying material exported on request. */
  exporter?: { label: string; hex: string };
  /** What the server did after the handshake when it was an error (an alert), or null. */
  afterHandshake: string | null;
}

const DAY_MS = 86_400_000;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function describe(cert: X509, now: number): CertificateReport {
  const subject = cert.subject;
  const issuer = cert.issuer;
  const key = cert.publicKey;
  try {
    return {
      subject: subject.rfc2253,
      issuer: issuer.rfc2253,
      serial: cert.serialNumberHex,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      daysLeft: Math.floor((cert.notAfter.getTime() - now) / DAY_MS),
      subjectAltNames: cert.subjectAltNames.map((n) => `${n.type}:${n.value}`),
      key: { type: key.type, bits: key.bits, curve: key.curve },
      signatureAlgorithm: cert.signatureAlgorithm,
      sha256: cert.fingerprint("sha256"),
      isCA: cert.isCA,
      pem: cert.toPEM(),
    };
  } finally {
    subject.close();
    issuer.close();
    key.close();
  }
}

/** A timer that rejects with a timeout {@link CliError}. */
function deadline(ms: number, what: () => string): { promise: Promise<never>; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CliError(what(), EXIT.FAILURE)), ms);
  });
  promise.catch(() => {});
  return { promise, clear: () => clearTimeout(timer) };
}

function connectError(e: unknown, host: string, port: number): unknown {
  if (e instanceof CliError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/failed to lookup address|Name or service not known|nodename nor servname/i.test(message)) {
    return new CliError(
      `cannot resolve "${host}": ${message.replace(/^failed to lookup address information: /, "")}`,
      EXIT.FAILURE,
    );
  }
  const why = e instanceof Deno.errors.ConnectionRefused
    ? "connection refused"
    : message.replace(/ \(os error \d+\)$/, "");
  return new CliError(`cannot connect to ${hostPort(host, port)}: ${why}`, EXIT.FAILURE);
}

function handshakeError(e: unknown, where: string): unknown {
  if (e instanceof CliError) return e;
  if (e instanceof SysCallError && e.errno === -1) {
    return new CliError(
      `TLS handshake with ${where} failed: the server closed the connection (is it a TLS port?)`,
      EXIT.FAILURE,
    );
  }
  if (e instanceof SSLError) {
    return new CliError(`TLS handshake with ${where} failed: ${e.message}`, EXIT.FAILURE);
  }
  return new CliError(
    `TLS handshake with ${where} failed: ${(e as Error)?.message ?? e}`,
    EXIT.FAILURE,
  );
}

/**
 * Builds the client context: system trust plus `caCerts`, a verify callback
 * that records failures and lets the handshake go on, ALPN, the client
 * certificate, a new-session callback (to know when a TLS 1.3 ticket
 * arrived) and an OCSP callback that keeps the staple.
 */
function clientContext(
  o: InspectOptions,
  state: { failures: VerifyFailure[]; ocsp: Uint8Array | null; sessionArrived: () => void },
): Context {
  const ctx = new Context(TLS_CLIENT_METHOD);
  try {
    ctx.setDefaultVerifyPaths();
    if (o.caCerts?.length) {
      try {
        ctx.addCaCerts(o.caCerts);
      } catch (e) {
        throw usageError(`--cafile: ${(e as Error).message}`);
      }
    }
    ctx.setVerify(VERIFY_PEER, (_conn, cert, errnum, depth, ok) => {
      if (!ok) {
        const subject = cert.subject;
        state.failures.push({
          code: errnum,
          message: verifyErrorString(errnum),
          depth,
          subject: subject.rfc2253,
        });
        subject.close();
      }
      return true; // record, don't abort: the chain is reported either way
    });
    if (o.alpn?.length) ctx.setAlpnProtos(o.alpn);
    if (o.cert !== undefined || o.key !== undefined) {
      if (o.cert === undefined || o.key === undefined) {
        throw usageError("--cert and --key go together");
      }
      try {
        ctx.useCertificateChain(o.cert);
      } catch (e) {
        throw usageError(`--cert: ${(e as Error).message}`);
      }
      try {
        ctx.usePrivateKey(o.key, o.passphrase);
        ctx.checkPrivateKey();
      } catch (e) {
        throw usageError(`--key: ${(e as Error).message}`);
      }
    }
    // The callback tells when a TLS 1.3 ticket arrived. No internal store: freeing a context
    // marks every session in its cache unresumable, and the session must outlive this context.
    ctx.setSessionCacheMode(SESS_CACHE_CLIENT | SESS_CACHE_NO_INTERNAL_STORE);
    ctx.setNewSessionCallback((_conn, session) => {
      session.close();
      state.sessionArrived();
    });
    ctx.setOcspClientCallback((_conn, der) => {
      state.ocsp = der.slice();
      return true;
    });
    return ctx;
  } catch (e) {
    ctx.close();
    throw e;
  }
}

/**
 * Connects, runs the handshake, and reports.
 *
 * @param o What to connect to.
 * @returns The report, and the session (its owner closes it) for resumption.
 * @throws {CliError} When connecting or the handshake fails (not for a
 *   refused certificate: that is in the report).
 */
export async function inspect(
  o: InspectOptions,
): Promise<{ report: InspectReport; session: Session | null }> {
  const verifyName = o.servername ?? o.host;
  const sni = o.servername ?? (isIpLiteral(o.host) ? null : o.host);
  const where = hostPort(o.host, o.port);
  let notify: () => void = () => {};
  const sessionArrived = new Promise<void>((resolve) => (notify = resolve));
  const state = {
    failures: [] as VerifyFailure[],
    ocsp: null as Uint8Array | null,
    sessionArrived: () => notify(),
  };
  const ctx = clientContext(o, state);
  let connected = false;
  const timer = deadline(
    o.timeoutMs,
    () =>
      connected
        ? `no TLS handshake with ${where} within ${o.timeoutMs / 1000} s (--timeout)`
        : `cannot connect to ${where}: no answer within ${o.timeoutMs / 1000} s (--timeout)`,
  );
  let conn: Connection<Deno.TcpConn> | undefined;
  try {
    const t0 = performance.now();
    const connecting = Deno.connect({ hostname: o.host, port: o.port });
    let tcp: Deno.TcpConn;
    try {
      tcp = await Promise.race([connecting, timer.promise]);
    } catch (e) {
      connecting.then((c) => c.close(), () => {});
      throw connectError(e, o.host, o.port);
    }
    const t1 = performance.now();
    connected = true;
    conn = new Connection(ctx, tcp);
    conn.setConnectState();
    if (sni !== null) conn.setTlsextHostName(sni);
    conn.setVerifyHostname(verifyName);
    conn.requestOcsp();
    if (o.session) conn.setSession(o.session);
    const handshake = conn.handshake();
    handshake.catch(() => {});
    try {
      await Promise.race([handshake, timer.promise]);
    } catch (e) {
      throw handshakeError(e, where);
    }
    const t2 = performance.now();
    timer.clear();

    const protocol = conn.getProtocolVersionName();
    const now = Date.now();
    const peerChain = conn.getPeerCertChain() ?? [];
    const chain = peerChain.map((c) => describe(c, now));
    const leafSerial = peerChain[0]?.serialNumberHex;
    for (const c of peerChain) c.close();
    const verified = conn.getVerifiedChain() ?? [];
    const verifiedChain = verified.map((c) => {
      const s = c.subject;
      const text = s.rfc2253;
      s.close();
      c.close();
      return text;
    });
    const own = conn.getCertificate();
    let clientCertificate: string | null = null;
    if (own) {
      const s = own.subject;
      clientCertificate = s.rfc2253;
      s.close();
      own.close();
    }

    // A TLS 1.3 server sends its tickets after the handshake: read until one arrives.
    let afterHandshake: string | null = null;
    if (protocol === "TLSv1.3") {
      const buf = new Uint8Array(16384);
      const reading = (async () => {
        while ((await conn!.read(buf)) !== null) { /* data before the ticket is ignored */ }
      })();
      reading.catch((e) => {
        if (e instanceof SSLError && !(e instanceof SysCallError || e instanceof ZeroReturnError)) {
          afterHandshake = e.message;
        }
      });
      const wait = deadline(o.ticketWaitMs ?? 1000, () => "");
      await Promise.race([reading, sessionArrived, wait.promise]).catch(() => {});
      wait.clear();
    }

    const session = conn.getSession();
    const ocspDer = state.ocsp as Uint8Array | null;
    let ocsp: InspectReport["ocsp"];
    if (ocspDer === null || ocspDer.length === 0) ocsp = { response: null };
    else {
      try {
        ocsp = { response: summariseOcsp(ocspDer, leafSerial) };
      } catch (e) {
        ocsp = {
          response: null,
          error: `unreadable response (${ocspDer.length} bytes): ${(e as Error).message}`,
        };
      }
    }
    const report: InspectReport = {
      host: o.host,
      port: o.port,
      servername: sni,
      protocol,
      cipher: conn.getCipherName() ?? "",
      cipherBits: conn.getCipherBits(),
      group: conn.getGroupName(),
      alpn: { offered: [...(o.alpn ?? [])], selected: conn.getAlpnProtoNegotiated() },
      session: session === null ? null : {
        resumed: conn.sessionReused(),
        resumable: session.isResumable(),
        ticket: session.hasTicket(),
        ticketLifetimeHint: session.ticketLifetimeHint,
        timeout: session.timeout,
      },
      ocsp,
      clientCertificate,
      chain,
      // Only a chain that verified is a "verified chain", in JSON as in text.
      verifiedChain: state.failures.length === 0 && chain.length > 0 ? verifiedChain : [],
      verification: {
        ok: state.failures.length === 0 && chain.length > 0,
        enforced: !o.unsafeNoVerify,
        hostname: verifyName,
        failures: state.failures,
      },
      timings: { connectMs: Math.round(t1 - t0), handshakeMs: Math.round(t2 - t1) },
      afterHandshake,
    };
    if (o.exporterLabel !== undefined) {
      report.exporter = {
        label: o.exporterLabel,
        hex: hex(conn.exportKeyingMaterial(o.exporterLabel, 32)),
      };
    }
    return { report, session };
  } finally {
    timer.clear();
    if (conn) await conn[Symbol.asyncDispose]().catch(() => {});
    ctx.close();
  }
}

/**
 * The exit code a report calls for: 3 when verification failed and is
 * enforced, 1 when the server sent an alert after the handshake, else 0.
 *
 * @param report The report.
 * @returns The exit code.
 */
export function exitCodeOf(report: InspectReport): number {
  if (!report.verification.ok && report.verification.enforced) return EXIT.VERIFY;
  if (report.afterHandshake !== null) return EXIT.FAILURE;
  return EXIT.OK;
}

function keyText(k: CertificateReport["key"]): string {
  const names: Record<string, string> = {
    rsa: "RSA",
    "rsa-pss": "RSA-PSS",
    ec: "EC",
    ed25519: "Ed25519",
    ed448: "Ed448",
    dsa: "DSA",
  };
  return `${names[k.type] ?? k.type.toUpperCase()} ${k.bits} bits${k.curve ? ` (${k.curve})` : ""}`;
}

function dateText(iso: string): string {
  return iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

function daysText(c: CertificateReport, now: number): string {
  if (Date.parse(c.notBefore) > now) return "NOT YET VALID";
  if (c.daysLeft < 0) return `EXPIRED ${-c.daysLeft} day${c.daysLeft === -1 ? "" : "s"} ago`;
  return `${c.daysLeft} day${c.daysLeft === 1 ? "" : "s"} left`;
}

/**
 * One line for the verification result, as `inspect` prints it.
 *
 * @param v The report's verification.
 * @returns For example `verify: FAILED (code 19: self-signed certificate in certificate chain)`.
 */
export function verifyLine(v: InspectReport["verification"]): string {
  if (v.ok) return `verify: OK (trusted chain, ${v.hostname} matches the certificate)`;
  const first = v.failures[0];
  const reason = first ? `code ${first.code}: ${first.message}` : "the server sent no certificate";
  return `verify: FAILED (${reason})${v.enforced ? "" : ", ignored (--unsafe-no-verify)"}`;
}

/**
 * Formats a report as readable text.
 *
 * @param r The report.
 * @returns Lines of text, ending with the verification result.
 */
export function formatReport(r: InspectReport): string {
  return formatLines(r).join("\n");
}

/**
 * The certificates the server sent, as it sent them (leaf first), in PEM:
 * what `openssl s_client -showcerts` prints, ready to save for `--cafile`.
 *
 * @param r The report.
 * @returns The PEM blocks.
 */
export function formatPem(r: InspectReport): string {
  return r.chain.map((c) => c.pem.trimEnd()).join("\n");
}

function formatLines(r: InspectReport): string[] {
  const now = Date.now();
  const lines: string[] = [];
  const row = (label: string, value: string): number => lines.push(`  ${label.padEnd(12)}${value}`);
  lines.push(
    `${hostPort(r.host, r.port)}${r.servername ? ` (SNI ${r.servername})` : " (no SNI)"}: ` +
      `connected in ${r.timings.connectMs} ms, handshake ${r.timings.handshakeMs} ms`,
  );
  row("protocol", r.protocol);
  row("cipher", `${r.cipher}${r.cipherBits ? ` (${r.cipherBits}-bit)` : ""}`);
  row("group", r.group ?? "none");
  row(
    "ALPN",
    r.alpn.offered.length === 0
      ? "not offered"
      : `${r.alpn.selected ?? "none selected"} (offered ${r.alpn.offered.join(", ")})`,
  );
  if (r.session === null) row("session", "none");
  else {
    const s = r.session;
    row(
      "session",
      `${s.resumed ? "resumed" : "new"}; ticket: ${
        s.ticket ? `yes, lifetime hint ${s.ticketLifetimeHint} s` : "no"
      }; resumable: ${s.resumable ? "yes" : "no"}`,
    );
  }
  const o = r.ocsp.response;
  if (r.ocsp.error) row("OCSP", r.ocsp.error);
  else if (o === null) row("OCSP", "no response (a staple was requested)");
  else if (o.certStatus === undefined) row("OCSP", `${o.responseStatus} (${o.bytes} bytes)`);
  else {
    row(
      "OCSP",
      `${o.certStatus}${o.revocationTime ? ` since ${dateText(o.revocationTime)}` : ""}` +
        `, this update ${dateText(o.thisUpdate!)}` +
        (o.nextUpdate ? `, next update ${dateText(o.nextUpdate)}` : "") +
        (o.matchesCertificate === false ? " (for another certificate)" : "") +
        ` (${o.bytes} bytes, signature not checked)`,
    );
  }
  if (r.clientCertificate !== null) row("client cert", r.clientCertificate);
  if (r.exporter) row("exporter", `${r.exporter.label}: ${r.exporter.hex}`);
  if (r.chain.length === 0) {
    lines.push(
      `certificate chain: none sent${r.session?.resumed ? " (resumed session)" : ""}`,
    );
  } else {
    lines.push(
      `certificate chain (${r.chain.length} sent by the server):`,
    );
  }
  for (const [depth, c] of r.chain.entries()) {
    lines.push(`  [${depth}] ${c.subject}`);
    const sub = (label: string, value: string): number =>
      lines.push(`      ${label.padEnd(10)}${value}`);
    sub("issuer", c.issuer);
    sub("validity", `${dateText(c.notBefore)} to ${dateText(c.notAfter)} (${daysText(c, now)})`);
    if (c.subjectAltNames.length) sub("SANs", c.subjectAltNames.join(", "));
    sub("key", `${keyText(c.key)}, signed with ${c.signatureAlgorithm}${c.isCA ? ", CA" : ""}`);
    sub("SHA-256", c.sha256);
  }
  // Labelled only when it is one: a chain that failed verification is no "verified chain".
  if (r.verification.ok && r.verifiedChain.length) {
    lines.push(`verified chain: ${r.verifiedChain.join(" > ")}`);
  }
  if (r.afterHandshake !== null) {
    lines.push(`after the handshake the server said: ${r.afterHandshake}`);
  }
  lines.push(verifyLine(r.verification));
  for (const f of r.verification.failures) {
    lines.push(`  depth ${f.depth} (${f.subject}): code ${f.code}: ${f.message}`);
  }
  return lines;
}
