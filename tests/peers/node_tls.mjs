// A TLS peer made of Node's own `tls` module (Node's bundled OpenSSL), for
// denossl's interop tests. One argument: a JSON configuration
//   { role: "server" | "client", port?, cert?, key?, ca?, requestCert?,
//     rejectUnauthorized?, minVersion?, maxVersion?, ciphers?, servername?,
//     alpn?, send: bytes to send, expect: bytes to read before ending }
// It prints JSON lines on stdout: {event:"listening",port} (server),
// {event:"secure",...} once the handshake is done, {event:"done",...} with the
// SHA-256 of what it sent and received, or {event:"error",code,message}.
import tls from "node:tls";
import { createHash, randomBytes } from "node:crypto";

const cfg = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sha = (b) => createHash("sha256").update(b).digest("hex");

// deno-lint-ignore explicit-function-return-type -- plain JavaScript run by node
function run(socket, role, done) {
  const payload = randomBytes(cfg.send ?? 0);
  const chunks = [];
  let received = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    const got = Buffer.concat(chunks);
    say({ event: "done", sent: sha(payload), received: sha(got), receivedLength: got.length });
    socket.end();
    done();
  };
  socket.on("secure", () => {}); // only for servers; "secureConnect" for clients
  const onSecure = () => {
    const peer = socket.getPeerCertificate();
    const cipher = socket.getCipher();
    say({
      event: "secure",
      role,
      protocol: socket.getProtocol(),
      cipher: cipher?.name,
      standardName: cipher?.standardName,
      alpn: socket.alpnProtocol || null,
      servername: role === "server" ? (socket.servername || null) : null,
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
  socket.on("error", (e) => {
    say({ event: "error", code: e.code ?? null, message: e.message });
    finished = true;
    done();
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
  server.on("secureConnection", (socket) => {
    const onSecure = run(socket, "server", () => server.close());
    onSecure();
  });
  server.on("tlsClientError", (e) => {
    say({ event: "error", code: e.code ?? null, message: e.message });
    server.close();
  });
  server.listen(cfg.port ?? 0, "127.0.0.1", () => {
    say({ event: "listening", port: server.address().port });
  });
} else {
  const socket = tls.connect({
    ...common,
    host: "127.0.0.1",
    port: cfg.port,
    servername: cfg.servername,
    rejectUnauthorized: cfg.rejectUnauthorized ?? true,
  });
  const onSecure = run(socket, "client", () => {});
  socket.on("secureConnect", onSecure);
}
