/**
 * `Context`: OpenSSL's `SSL_CTX`, with pyOpenSSL's method names in camelCase.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { cstr } from "../ffi/memory.ts";
import { FILETYPE_ASN1, FILETYPE_PEM, SSL_CTX_add_extra_chain_cert } from "../ffi/constants.ts";
import { clearErrors } from "../errors/queue.ts";
import { SSLError } from "../errors/ssl_error.ts";
import { X509 } from "../crypto/x509.ts";
import { PKey } from "../crypto/pkey.ts";
import type { CertificateInput, KeyInput, PskClientCallback, PskServerCallback } from "./types.ts";
import type { X509Store } from "../crypto/store.ts";
import type { X509Name } from "../crypto/name.ts";
import { ContextProtocol } from "./context_protocol.ts";
import * as negotiation from "./_negotiation.ts";
import * as keys from "./_keys.ts";
import * as dtls from "./_dtls.ts";
import * as psk from "./_psk.ts";
import * as storeOf from "./_store.ts";
import * as selection from "./_selection.ts";
import type { CertCallback, SessionStore } from "./selection.ts";
import * as tickets from "./_tickets.ts";
import type { TicketKeyRing } from "./ticket_keys.ts";

export {
  DTLS_CLIENT_METHOD,
  DTLS_METHOD,
  DTLS_SERVER_METHOD,
  SSLv23_METHOD,
  TLS_CLIENT_METHOD,
  TLS_METHOD,
  TLS_SERVER_METHOD,
  TLSv1_1_METHOD,
  TLSv1_2_METHOD,
  TLSv1_METHOD,
} from "./context_base.ts";

/** An encrypted PEM private key: PKCS#8's own block, or a traditional one with a Proc-Type header. */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/;

function fileType(type: number): number {
  if (type !== FILETYPE_PEM && type !== FILETYPE_ASN1) {
    throw new RangeError("File type must be FILETYPE_PEM or FILETYPE_ASN1");
  }
  return type;
}

/**
 * A TLS context: the configuration shared by many connections (certificate,
 * key, trust anchors, verification policy, protocol versions, ciphers,
 * callbacks). Wraps OpenSSL's `SSL_CTX`.
 *
 * Its defaults are OpenSSL's own: no peer verification (`VERIFY_NONE`), no
 * trust anchors, TLS 1.2 and 1.3 at security level 1 (as this OpenSSL build
 * allows; Debian's raises the floor to TLS 1.2 and level 2). denossl adds
 * `MODE_ENABLE_PARTIAL_WRITE` and `MODE_ACCEPT_MOVING_WRITE_BUFFER`. The
 * Deno-shaped helpers (`connectTls`, `listenTls`) build secure contexts for
 * you; a bare `Context` is the low-level tool.
 *
 * **Configure first, then connect.** As in current pyOpenSSL, a context
 * refuses changes once it has made a `Connection`: OpenSSL copies most
 * settings into each connection at creation, so a later change would apply
 * to some connections and not others. Changing a used context throws a
 * `TypeError`; make a new context instead.
 *
 * @example A server context from PEM strings
 * ```ts
 * import { Context, TestCA, TLS_SERVER_METHOD } from "@denossl/denossl";
 * const ca = TestCA.create();
 * const leaf = ca.issue({ dns: ["localhost"] });
 * using ctx = new Context(TLS_SERVER_METHOD);
 * ctx.useCertificate(leaf.certPEM);
 * ctx.usePrivateKey(leaf.keyPEM);
 * ctx.checkPrivateKey();
 * ca.close();
 * leaf.close();
 * ```
 *
 * @example Files, protocol versions and ciphers
 * ```ts
 * import { Connection, Context, TestCA, TLS1_2_VERSION, TLS_METHOD, VERIFY_PEER } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 *
 * using ca = TestCA.create({ intermediate: true });
 * using leaf = ca.issue({ dns: ["localhost"] });
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/fullchain.pem`, leaf.chainPEM);
 * await Deno.writeTextFile(`${dir}/server.key`, leaf.keyPEM);
 * await Deno.writeTextFile(`${dir}/ca.pem`, ca.certPEM);
 * using serverCtx = new Context(TLS_METHOD);
 * serverCtx.useCertificateChainFile(`${dir}/fullchain.pem`);
 * serverCtx.usePrivateKeyFile(`${dir}/server.key`);
 * serverCtx.checkPrivateKey();
 * serverCtx.setMaxProtoVersion(TLS1_2_VERSION);
 * serverCtx.setCipherList("ECDHE+CHACHA20");
 * using clientCtx = new Context(TLS_METHOD);
 * clientCtx.loadVerifyLocations(`${dir}/ca.pem`);
 * clientCtx.setVerify(VERIFY_PEER);
 * clientCtx.setMinProtoVersion(TLS1_2_VERSION);
 * assert.equal(clientCtx.getMinProtoVersion(), TLS1_2_VERSION);
 * await Deno.remove(dir, { recursive: true });
 * using client = new Connection(clientCtx, null);
 * using server = new Connection(serverCtx, null);
 * client.setConnectState();
 * server.setAcceptState();
 * const wire = new Uint8Array(65536);
 * const pump = (from: Connection, to: Connection): void => {
 *   while (from.bioPending() > 0) to.bioWrite(wire.subarray(0, from.bioReadInto(wire)));
 * };
 * for (let round = 0; round < 10 && !(client.isHandshakeDone() && server.isHandshakeDone()); round++) {
 *   client.tryHandshake();
 *   pump(client, server);
 *   server.tryHandshake();
 *   pump(server, client);
 * }
 * assert.equal(client.getProtocolVersionName(), "TLSv1.2");
 * assert.equal(client.getCipherName(), "ECDHE-ECDSA-CHACHA20-POLY1305");
 * assert.equal(client.getPeerCertChain()?.length, 2); // the leaf and the intermediate
 * ```
 */
export class Context extends ContextProtocol {
  // ---- certificates and keys ------------------------------------------------------

  /**
   * Loads a PEM file holding the certificate followed by its chain
   * (`SSL_CTX_use_certificate_chain_file`).
   *
   * @param path The file.
   * @throws {SSLError} When the file cannot be read or parsed.
   */
  useCertificateChainFile(path: string): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_use_certificate_chain_file(ctx, cstr(path, "path")) === 1,
      `Could not use certificate chain file ${path}`,
    );
  }

  /**
   * Loads the certificate from a file (`SSL_CTX_use_certificate_file`).
   *
   * @param path The file.
   * @param type `FILETYPE_PEM` (default) or `FILETYPE_ASN1`.
   * @throws {SSLError} When the file cannot be read or parsed.
   */
  useCertificateFile(path: string, type: number = FILETYPE_PEM): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_use_certificate_file(ctx, cstr(path, "path"), fileType(type)) === 1,
      `Could not use certificate file ${path}`,
    );
  }

  /**
   * Uses a certificate (`SSL_CTX_use_certificate`).
   *
   * @param cert An `X509`, PEM text or DER bytes. A PEM bundle's first
   *   certificate is used; see {@link useCertificateChain} for the rest.
   * @throws {SSLError} When the certificate cannot be parsed or used.
   */
  useCertificate(cert: CertificateInput): void {
    const ctx = this._mutable();
    const { cert: x509, owned } = keys.certificateOf(cert);
    try {
      clearErrors();
      this._check(
        native().ssl.SSL_CTX_use_certificate(ctx, x509._handle) === 1,
        "Could not use certificate",
      );
    } finally {
      if (owned) x509.close();
    }
  }

  /**
   * Uses a PEM bundle: the first certificate as the context's own, the rest
   * as its chain. The in-memory form of {@link useCertificateChainFile}.
   *
   * @param pem The leaf followed by its intermediates, or an array of certificates.
   * @throws {SSLError} When the bundle holds no certificate or one cannot be parsed.
   */
  useCertificateChain(pem: string | readonly X509[]): void {
    this._mutable();
    const certs = typeof pem === "string" ? X509.loadChain(pem) : [...pem];
    const owned = typeof pem === "string";
    try {
      if (certs.length === 0) throw new TypeError("The certificate chain holds no certificate");
      this.useCertificate(certs[0]!);
      for (const extra of certs.slice(1)) this.addExtraChainCert(extra);
    } finally {
      if (owned) { for (const c of certs) c.close(); }
    }
  }

  /**
   * Adds a certificate to the chain sent after the context's own
   * (`SSL_CTX_add_extra_chain_cert`).
   *
   * @param cert An `X509`, PEM text or DER bytes.
   * @throws {SSLError} When OpenSSL refuses it.
   */
  addExtraChainCert(cert: CertificateInput): void {
    const ctx = this._mutable();
    const { cert: x509, owned } = keys.certificateOf(cert);
    try {
      const { crypto } = native();
      const handle = x509._handle;
      crypto.X509_up_ref(handle); // the context takes this reference on success
      clearErrors();
      if (SSL_CTX_add_extra_chain_cert(ctx, handle) !== 1) {
        crypto.X509_free(handle);
        this._check(false, "Could not add extra chain certificate");
      }
    } finally {
      if (owned) x509.close();
    }
  }

  /**
   * Loads the private key from a file (`SSL_CTX_use_PrivateKey_file`).
   * Encrypted keys ask the callback set with {@link setPasswdCb}.
   *
   * @param path The file.
   * @param type `FILETYPE_PEM` (default) or `FILETYPE_ASN1`.
   * @throws {SSLError} When the file cannot be read, parsed or decrypted.
   */
  usePrivateKeyFile(path: string, type: number = FILETYPE_PEM): void {
    const ctx = this._mutable();
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_use_PrivateKey_file(ctx, cstr(path, "path"), fileType(type)) === 1,
      `Could not use private key file ${path}`,
    );
  }

  /**
   * Uses a private key (`SSL_CTX_use_PrivateKey`). An encrypted PEM key is
   * decrypted with `passphrase`, else with what the callback set with
   * {@link setPasswdCb} returns.
   *
   * @param key A `PKey`, PEM text (optionally encrypted) or unencrypted DER bytes.
   * @param passphrase The passphrase of an encrypted PEM key.
   * @throws {SSLError} When the key cannot be parsed, decrypted or used, or
   *   is encrypted and no passphrase is available.
   * @example An encrypted key, its passphrase from a callback
   * ```ts
   * import { Context, PKey, TLS_SERVER_METHOD } from "@denossl/denossl";
   * using key = PKey.generate({ type: "ec" });
   * const pem = key.toPEM({ passphrase: "s3cret" });
   * using ctx = new Context(TLS_SERVER_METHOD);
   * ctx.setPasswdCb(() => "s3cret"); // for example read from a secret store
   * ctx.usePrivateKey(pem);
   * ```
   */
  usePrivateKey(key: KeyInput, passphrase?: string): void {
    const ctx = this._mutable();
    let pkey: PKey;
    let owned = false;
    if (key instanceof PKey) pkey = key;
    else if (typeof key === "string") {
      const encrypted = ENCRYPTED_PEM.test(key);
      const pass = passphrase ?? (encrypted ? this._askPassphrase() : undefined);
      if (encrypted && pass === undefined) {
        throw new SSLError(
          [],
          "Could not use private key: it is encrypted and no passphrase was given: pass it (the helpers' passphrase option, or usePrivateKey's second argument) or set Context.setPasswdCb()",
        );
      }
      pkey = pass === undefined ? PKey.fromPEM(key) : PKey.fromPEM(key, pass);
      owned = true;
    } else if (key instanceof Uint8Array) {
      pkey = PKey.fromDER(key);
      owned = true;
    } else throw new TypeError("Private key must be a PKey, PEM text or DER bytes");
    try {
      clearErrors();
      this._check(
        native().ssl.SSL_CTX_use_PrivateKey(ctx, pkey._handle) === 1,
        "Could not use private key",
      );
    } finally {
      if (owned) pkey.close();
    }
  }

  /**
   * Checks that the private key matches the certificate
   * (`SSL_CTX_check_private_key`).
   *
   * @throws {SSLError} When they do not match, or one is missing.
   */
  checkPrivateKey(): void {
    const ctx = this._handle;
    clearErrors();
    this._check(
      native().ssl.SSL_CTX_check_private_key(ctx) === 1,
      "Checking the private key against the certificate failed",
    );
  }

  // ---- ALPN, ticket keys, client CA names -------------------------------------------

  /**
   * Sets the ALPN protocols a client offers (`SSL_CTX_set_alpn_protos`).
   *
   * @param protos The protocols in preference order, such as `["h2", "http/1.1"]`.
   * @throws {TypeError} When the list is empty or a protocol is empty or longer than 255 bytes.
   * @throws {SSLError} When OpenSSL refuses the list.
   */
  setAlpnProtos(protos: readonly (string | Uint8Array)[]): void {
    const ctx = this._mutable();
    const wire = negotiation.alpnWire(protos);
    clearErrors();
    // Unlike most of OpenSSL, 0 means success here. OpenSSL copies the list.
    this._check(
      native().ssl.SSL_CTX_set_alpn_protos(ctx, wire, wire.length) === 0,
      "Could not set ALPN protocols",
    );
  }

  /**
   * Sets the keys that protect session tickets
   * (`SSL_CTX_set_tlsext_ticket_keys`). Servers given the same keys (and the
   * same session ID context) resume each other's tickets, also after a
   * restart. Keep them secret.
   *
   * @param ticketKeys 80 bytes: key name (16), HMAC secret (32), AES key (32).
   * @throws {RangeError} When not 80 bytes.
   * @example Give two servers the same ticket keys
   * ```ts
   * import { Context, TLS_SERVER_METHOD } from "@denossl/denossl";
   * import assert from "node:assert/strict";
   *
   * const ticketKeys = crypto.getRandomValues(new Uint8Array(80)); // keep it secret, rotate it
   * using a = new Context(TLS_SERVER_METHOD);
   * using b = new Context(TLS_SERVER_METHOD);
   * a.setTicketKeys(ticketKeys);
   * b.setTicketKeys(a.getTicketKeys());
   * assert.deepEqual(b.getTicketKeys(), ticketKeys);
   * ```
   */
  setTicketKeys(ticketKeys: Uint8Array): void {
    keys.setTicketKeys(this._mutable(), ticketKeys);
  }

  /**
   * The keys that protect session tickets (`SSL_CTX_get_tlsext_ticket_keys`).
   *
   * @returns 80 bytes.
   * @throws {SSLError} When OpenSSL cannot report them.
   */
  getTicketKeys(): Uint8Array {
    return keys.getTicketKeys(this._handle);
  }

  /**
   * Issues and decrypts session tickets with a {@link TicketKeyRing}
   * (`SSL_CTX_set_tlsext_ticket_key_evp_cb`) instead of the keys above, or
   * with OpenSSL's own keys again (null). Allowed while serving: the next
   * ticket issued or presented uses it.
   *
   * @param ring The ring, or null.
   * @throws {TypeError} When `ring` is not a `TicketKeyRing` or null.
   * @example Servers sharing a ring resume each other's tickets
   * ```ts
   * import { Context, TicketKeyRing, TLS_SERVER_METHOD } from "@denossl/denossl";
   * const ring = new TicketKeyRing({ keys: [TicketKeyRing.generateKey()] });
   * using ctx = new Context(TLS_SERVER_METHOD);
   * ctx.setTicketKeyRing(ring);
   * ring.rotate(); // later, while serving
   * ```
   */
  setTicketKeyRing(ring: TicketKeyRing | null): void {
    tickets.setTicketKeyRing(this, this._handle, ring);
  }

  /**
   * Sets the CA names a server sends with its certificate request from the
   * certificates of a PEM file (`SSL_load_client_CA_file`). It trusts
   * nothing: see {@link loadVerifyLocations}.
   *
   * @param cafile A PEM file of CA certificates.
   * @throws {SSLError} When the file cannot be read or holds no certificate.
   */
  loadClientCa(cafile: string): void {
    keys.loadClientCa(this._mutable(), cafile);
  }

  /**
   * Verifies peers with `store` (`SSL_CTX_set1_cert_store`): its certificates,
   * CRLs, flags, purpose and time apply in the handshake. The context takes
   * its own reference.
   *
   * @param store The store; it replaces the context's own.
   * @throws {TypeError} When `store` is not an `X509Store`.
   */
  setCertStore(store: X509Store): void {
    storeOf.setCertStore(this._mutable(), store);
  }

  /**
   * The context's live trust store (`SSL_CTX_get_cert_store`), as pyOpenSSL's
   * `get_cert_store`: CRLs and flags added to it apply to later handshakes.
   *
   * @returns The store; closing it frees only this reference.
   */
  getCertStore(): X509Store {
    return storeOf.getCertStore(this._handle);
  }

  /**
   * Sets the client's TLS-PSK callback (`SSL_CTX_set_psk_client_callback`, Python's
   * `set_psk_client_callback`). TLS 1.3 PSKs go with SHA-256 suites.
   *
   * @param callback See {@link PskClientCallback}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setPskClientCallback(callback: PskClientCallback): void {
    psk.setPskClientCallback(this, this._mutable(), callback);
  }

  /**
   * Sets the server's TLS-PSK callback (`SSL_CTX_set_psk_server_callback`, Python's
   * `set_psk_server_callback`).
   *
   * @param callback See {@link PskServerCallback}.
   * @param identityHint The hint sent to TLS 1.2 clients, as {@link usePskIdentityHint}.
   * @throws {TypeError} When `callback` is not a function.
   */
  setPskServerCallback(callback: PskServerCallback, identityHint?: string): void {
    psk.setPskServerCallback(this, this._mutable(), callback, identityHint);
  }

  /**
   * Sets the identity hint a TLS 1.2 PSK server sends
   * (`SSL_CTX_use_psk_identity_hint`); TLS 1.3 has no hint.
   *
   * @param hint Up to 256 bytes of UTF-8, no NUL.
   * @throws {TypeError} When the hint is too long or holds a NUL.
   */
  usePskIdentityHint(hint: string): void {
    psk.usePskIdentityHint(this._mutable(), hint);
  }

  /**
   * Adds a certificate's subject to the CA names a server sends
   * (`SSL_CTX_add_client_CA`).
   *
   * @param cert An `X509`, PEM text or DER bytes.
   * @throws {SSLError} When OpenSSL refuses it.
   */
  addClientCa(cert: CertificateInput): void {
    const ctx = this._mutable();
    const { cert: x509, owned } = keys.certificateOf(cert);
    try {
      keys.addClientCa(ctx, x509);
    } finally {
      if (owned) x509.close();
    }
  }

  /**
   * Replaces the CA names a server sends (`SSL_CTX_set_client_CA_list`).
   *
   * @param names The names; they are copied.
   * @throws {TypeError} When `names` is not an array of `X509Name`.
   */
  setClientCaList(names: readonly X509Name[]): void {
    keys.setClientCaList(this._mutable(), names);
  }

  /**
   * The CA names a server sends (`SSL_CTX_get_client_CA_list`).
   *
   * @returns Copies of the names (empty when none).
   */
  getClientCaList(): X509Name[] {
    return keys.namesOf(native().ssl.SSL_CTX_get_client_CA_list(this._handle));
  }

  /**
   * Lets clients made from this context answer TLS 1.3 post-handshake
   * certificate requests (`SSL_CTX_set_post_handshake_auth`).
   *
   * @param enabled Whether to offer it (default true).
   */
  setPostHandshakeAuth(enabled = true): void {
    native().ssl.SSL_CTX_set_post_handshake_auth(this._mutable(), enabled ? 1 : 0);
  }

  // ---- DTLS (glue in _dtls.ts) -----------------------------------------------------

  /**
   * Offers (client) or accepts (server) the DTLS-SRTP extension with these
   * protection profiles (`SSL_CTX_set_tlsext_use_srtp`, RFC 5764), as WebRTC
   * does. After the handshake, `Connection.getSelectedSrtpProfile()` names
   * the profile agreed and `Connection.exportSrtpKeyingMaterial()` gives the
   * SRTP keys. Ignored on TLS connections.
   *
   * @param profiles Profile names, most preferred first, as an array or a
   *   colon-separated string: `SRTP_AES128_CM_SHA1_80`,
   *   `SRTP_AES128_CM_SHA1_32`, `SRTP_AEAD_AES_128_GCM`, `SRTP_AEAD_AES_256_GCM`
   *   (and, on newer OpenSSL, the ARIA and double-AEAD profiles).
   * @throws {TypeError} When the list is empty.
   * @throws {SSLError} When OpenSSL does not know a profile.
   */
  setTlsextUseSrtp(profiles: string | readonly string[]): void {
    dtls.setContextSrtp(this._mutable(), profiles);
  }

  /**
   * Sets the certificate callback (`SSL_CTX_set_cert_cb`): it runs once the
   * ClientHello was read, before a certificate is chosen, and may set the
   * connection's own certificate and key or switch its context; a Promise
   * suspends the handshake until it settles. See {@link CertCallback}.
   *
   * @param callback The callback.
   * @throws {TypeError} When `callback` is not a function.
   */
  setCertCallback(callback: CertCallback): void {
    selection.setCertCallback(this, this._mutable(), callback);
  }

  /**
   * Keeps this server context's sessions in an external store, shared by
   * every process that uses it (see {@link SessionStore}). OpenSSL's
   * in-process cache is turned off (`SESS_CACHE_NO_INTERNAL`) and so are
   * tickets (`OP_NO_TICKET`), so TLS 1.2 resumes by session ID and TLS 1.3
   * by stateful sessions, both through the store. Servers that share a store
   * need the same {@link setSessionIdContext}.
   *
   * @param store The store.
   * @throws {TypeError} When `store` lacks `get`, `set` or `delete`.
   */
  setSessionStore(store: SessionStore): void {
    selection.setSessionStore(this, this._mutable(), store);
  }
}
