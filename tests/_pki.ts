/**
 * The test PKIs, in one place. {@link makePki}: a `TestCA` with a server and
 * a client leaf, in memory, for most tests. {@link makeOpensslPki}:
 * certificates made with the `openssl` CLI into a temporary directory (a
 * root, an intermediate, leaves, a self-signed certificate, as files), for
 * the Context and Connection tests that must not rest on denossl's own
 * crypto/, the code they test.
 *
 * @module
 */

import "./_tools.ts";
import { type IssuedCertificate, TestCA, type TestKeyType } from "../mod.ts";

/** One PKI per key type, shared by the cases of a file. */
export interface Pki {
  ca: TestCA;
  /** Server leaf for localhost and 127.0.0.1. */
  server: IssuedCertificate;
  /** Client leaf, CN=alice. */
  client: IssuedCertificate;
  close(): void;
}

/**
 * A CA of the given key type with a server leaf (localhost, 127.0.0.1) and a
 * client leaf (alice), issued through an intermediate when asked.
 */
export function makePki(keyType: TestKeyType, options: { intermediate?: boolean } = {}): Pki {
  const ca = TestCA.create({ keyType, intermediate: options.intermediate === true });
  const server = ca.issue({ dns: ["localhost"], ip: ["127.0.0.1"] });
  const client = ca.issueClient({ commonName: "alice" });
  return {
    ca,
    server,
    client,
    close(): void {
      server.close();
      client.close();
      ca.close();
    },
  };
}

export type KeyType = "rsa" | "ec" | "ed25519";

/** One certificate made by the `openssl` CLI, as files and as PEM text. */
export interface Issued {
  certFile: string;
  keyFile: string;
  certPEM: string;
  keyPEM: string;
}

/** What {@link makeOpensslPki} makes. */
export interface OpensslPki {
  dir: string;
  root: Issued;
  intermediate: Issued;
  /** Leaf for localhost / 127.0.0.1, signed by the intermediate. */
  leaf: Issued;
  /** Leaf followed by the intermediate. */
  chainFile: string;
  chainPEM: string;
  /** A self-signed leaf for localhost, trusted by nobody. */
  selfSigned: Issued;
  /** A client certificate (CN=alice) signed by the intermediate. */
  client: Issued;
  cleanup(): Promise<void>;
}

function keyArgs(type: KeyType): string[] {
  switch (type) {
    case "rsa":
      return ["-newkey", "rsa:2048"];
    case "ec":
      return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    case "ed25519":
      return ["-newkey", "ed25519"];
  }
}

/** Runs the `openssl` CLI in `cwd`; returns its stdout, throws with its stderr when it fails. */
export async function openssl(args: string[], cwd = "."): Promise<Uint8Array<ArrayBuffer>> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return out.stdout;
}

async function read(dir: string, name: string, key: string): Promise<Issued> {
  return {
    certFile: `${dir}/${name}.pem`,
    keyFile: `${dir}/${key}.key`,
    certPEM: await Deno.readTextFile(`${dir}/${name}.pem`),
    keyPEM: await Deno.readTextFile(`${dir}/${key}.key`),
  };
}

async function sign(
  dir: string,
  name: string,
  subject: string,
  issuer: string,
  ext: string,
  type: KeyType,
  days = 30,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
  await openssl([
    "req",
    "-new",
    ...keyArgs(type),
    "-nodes",
    "-subj",
    subject,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  ], dir);
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${issuer}.pem`,
    "-CAkey",
    `${issuer}.key`,
    "-CAcreateserial",
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  ], dir);
}

/** A self-signed root CA made by `openssl req -x509`: `<name>.pem` and `<name>.key` in `dir`. */
export async function opensslRoot(
  dir: string,
  name: string,
  subject: string,
  type: KeyType,
): Promise<void> {
  await openssl([
    "req",
    "-x509",
    ...keyArgs(type),
    "-nodes",
    "-subj",
    subject,
    "-days",
    "30",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
  ], dir);
}

/**
 * Makes a fresh PKI in a temporary directory.
 *
 * @param type The key type of every certificate.
 * @returns Paths and PEM texts; call cleanup() when done.
 */
export async function makeOpensslPki(type: KeyType = "ec"): Promise<OpensslPki> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-pki-" });
  await opensslRoot(dir, "root", "/CN=denossl Test Root", type);
  await sign(
    dir,
    "intermediate",
    "/CN=denossl Test Intermediate",
    "root",
    "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    type,
  );
  await sign(
    dir,
    "leaf",
    "/CN=localhost",
    "intermediate",
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    type,
  );
  await sign(
    dir,
    "client",
    "/CN=alice",
    "intermediate",
    "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    type,
  );
  await openssl([
    "req",
    "-x509",
    ...keyArgs(type),
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-days",
    "30",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout",
    "self.key",
    "-out",
    "self.pem",
  ], dir);
  const leaf = await read(dir, "leaf", "leaf");
  const intermediate = await read(dir, "intermediate", "intermediate");
  const chainPEM = leaf.certPEM + intermediate.certPEM;
  await Deno.writeTextFile(`${dir}/chain.pem`, chainPEM);
  return {
    dir,
    root: await read(dir, "root", "root"),
    intermediate,
    leaf,
    chainFile: `${dir}/chain.pem`,
    chainPEM,
    selfSigned: await read(dir, "self", "self"),
    client: await read(dir, "client", "client"),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}
