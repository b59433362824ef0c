// A TLS peer made of Node's own `tls` module (Node's bundled OpenSSL), for
// denossl's interop tests. One argument: a JSON configuration
//   { role: "server" | "client", port?, cert?, key?, ca?, requestCert?,
//     rejectUnauthorized?, minVersion?, maxVersion?, ciphers?, servername?,
//     alpn?, send: bytes to send, expect: bytes to read before ending,
//     connections?: how many connections one after the other (default 1; a
//       client resumes each with the session of the one before),
//     ocsp?: base64 DER OCSP response a server staples when asked,
//     requestOCSP?: a client asks for a stapled response,
//     hangup?: destroy the socket at the first key derived (mid-handshake) }
// It prints JSON lines on stdout: {event:"listening",port} (server),
// {event:"secure",index,...} once a handshake is done, {event:"ocsp",der} (a
// client's stapled response, base64, or null), {event:"done",index,...} with
// the SHA-256 of what it sent and received, or {event:"error",code,message}.
import tls from "node:tls";
import { createHash, randomBytes } from "node:crypto";

const cfg = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sha = (b) => createHash("sha256").update(b).digest("hex");
const connections = cfg.connections ?? 1;

// deno-lint-ignore explicit-function-return-type -- plain JavaScript run by node
function run(socket, role, index, done) {
  const payload = randomBytes(cfg.send ?? 0);
  const chunks = [];
  let received = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    const got = Buffer.concat(chunks);
    say({
      event: "done",
      index,
      sent: sha(payload),
      received: sha(got),
      receivedLength: got.length,
    });
    socket.end();
  };
  const onSecure = () => {
    const peer = socket.getPeerCertificate();
    const cipher = socket.getCipher();
    say({
      event: "secure",
      index,
      role,
      protocol: socket.getProtocol(),
      cipher: cipher?.name,
      standardName: cipher?.standardName,
      alpn: socket.alpnProtocol || null,
      servername: role === "server" ? (socket.servername || null) : null,
      reused: socket.isSessionReused(),
      authorized: socket.authorized,
      authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
      peerCN: peer && peer.subject ? peer.subject.CN : null,
    });
    if (payload.length > 0) socket.write(payload);
    if ((cfg.expect ?? 0) === 0) finish();
  };
  socket.on("data", (d) => {
    chunks.push(d);
    received += d.length;
    if (received >= (cfg.expect ?? 0)) finish();
  });
  socket.on("end", finish);
  socket.on("close", done);
  socket.on("error", (e) => {
    say({ event: "error", index, code: e.code ?? null, message: e.message });
    finished = true;
  });
  return onSecure;
}

const common = {
  cert: cfg.cert,
  key: cfg.key,
  ca: cfg.ca,
  minVersion: cfg.minVersion,
  maxVersion: cfg.maxVersion,
  ciphers: cfg.ciphers,
  ALPNProtocols: cfg.alpn,
};

if (cfg.role === "server") {
  const server = tls.createServer({
    ...common,
    requestCert: cfg.requestCert ?? false,
    rejectUnauthorized: cfg.rejectUnauthorized ?? false,
  });
  let accepted = 0;
  let ended = 0;
  const ended1 = () => {
    if (++ended >= connections) server.close();
  };
  server.on("secureConnection", (socket) => {
    const onSecure = run(socket, "server", accepted++, ended1);
    onSecure();
  });
  server.on("tlsClientError", (e) => {
    say({ event: "error", code: e.code ?? null, message: e.message });
    ended1();
  });
  if (cfg.ocsp) {
    server.on("OCSPRequest", (_cert, _issuer, callback) => {
      callback(null, Buffer.from(cfg.ocsp, "base64"));
    });
  }
  if (cfg.hangup) server.on("keylog", (_line, socket) => socket.destroy());
  server.listen(cfg.port ?? 0, "127.0.0.1", () => {
    say({ event: "listening", port: server.address().port });
  });
} else {
  const connect = (index, session) => {
    let latest = session;
    const socket = tls.connect({
      ...common,
      host: "127.0.0.1",
      port: cfg.port,
      servername: cfg.servername,
      rejectUnauthorized: cfg.rejectUnauthorized ?? true,
      requestOCSP: cfg.requestOCSP ?? false,
      session,
    });
    socket.on("session", (s) => latest = s);
    if (cfg.requestOCSP) {
      socket.on(
        "OCSPResponse",
        (der) => say({ event: "ocsp", der: der?.toString("base64") ?? null }),
      );
    }
    if (cfg.hangup) socket.once("keylog", () => socket.destroy());
    const onSecure = run(socket, "client", index, () => {
      if (index + 1 < connections) connect(index + 1, latest);
    });
    socket.on("secureConnect", onSecure);
  };
  connect(0, undefined);
}
