/**
 * Every branch of the one error mapper, reached through real OpenSSL calls on
 * the raw FFI: two SSL objects over memory BIOs (or a BIO pair, or a bad
 * descriptor), bytes moved between them by hand, a self-signed certificate
 * made with the `openssl` CLI.
 */

import "./_tools.ts";
import assert from "node:assert/strict";
import { native } from "../ffi/library.ts";
import { bioBytes, cstr } from "../ffi/memory.ts";
import {
  BIO_set_mem_eof_return,
  ERR_LIB_SSL,
  ERR_LIB_SYS,
  FILETYPE_PEM,
  RECEIVED_SHUTDOWN,
  SSL_ERROR_SSL,
  SSL_ERROR_SYSCALL,
  SSL_ERROR_WANT_CLIENT_HELLO_CB,
  SSL_ERROR_WANT_READ,
  SSL_ERROR_WANT_WRITE,
  SSL_ERROR_WANT_X509_LOOKUP,
  SSL_ERROR_ZERO_RETURN,
  SSL_R_CERTIFICATE_VERIFY_FAILED,
  SSL_R_UNEXPECTED_EOF_WHILE_READING,
  VERIFY_PEER,
} from "../ffi/constants.ts";
import {
  clearErrors,
  drainErrorQueue,
  recordCallbackError,
  recordVerifyFailure,
  sslErrorFromQueue,
} from "../errors/queue.ts";
import { raiseSSLError, sslError } from "../errors/raise.ts";
import {
  SSLError,
  SysCallError,
  VerificationError,
  WantClientHelloError,
  WantReadError,
  WantWriteError,
  WantX509LookupError,
  ZeroReturnError,
} from "../errors/ssl_error.ts";

type Ptr = Deno.PointerObject;

/** X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT. */
const X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18;
/** EBADF on Linux and macOS. */
const EBADF = 9;
/** SSL_CLIENT_HELLO_RETRY: a client hello callback asks to be called again. */
const SSL_CLIENT_HELLO_RETRY = -1;

interface CertFiles {
  cert: Uint8Array<ArrayBuffer>;
  key: Uint8Array<ArrayBuffer>;
}

/** Makes a self-signed P-256 certificate for `localhost` in a temp dir, removed afterwards. */
async function withCertificate(fn: (files: CertFiles) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "denossl-errors-" });
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "1",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    await fn({ cert: cstr(`${dir}/cert.pem`), key: cstr(`${dir}/key.pem`) });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function check<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`${what} returned NULL`);
  return value;
}

/** A client and a server SSL over memory BIOs, with their contexts. */
class Peers {
  readonly clientCtx: Ptr;
  readonly serverCtx: Ptr;
  #client: Ptr | null = null;
  #server: Ptr | null = null;

  constructor(files: CertFiles) {
    const { ssl } = native();
    this.clientCtx = check(ssl.SSL_CTX_new(ssl.TLS_client_method()), "SSL_CTX_new");
    this.serverCtx = check(ssl.SSL_CTX_new(ssl.TLS_server_method()), "SSL_CTX_new");
    assert.equal(ssl.SSL_CTX_use_certificate_file(this.serverCtx, files.cert, FILETYPE_PEM), 1);
    assert.equal(ssl.SSL_CTX_use_PrivateKey_file(this.serverCtx, files.key, FILETYPE_PEM), 1);
  }

  /** Creates both SSL objects (after the contexts are configured). */
  start(): this {
    const { ssl } = native();
    this.#client = check(ssl.SSL_new(this.clientCtx), "SSL_new");
    this.#server = check(ssl.SSL_new(this.serverCtx), "SSL_new");
    for (const s of [this.#client, this.#server]) ssl.SSL_set_bio(s, memBio(), memBio());
    ssl.SSL_set_connect_state(this.#client);
    ssl.SSL_set_accept_state(this.#server);
    return this;
  }

  get client(): Ptr {
    return check(this.#client, "Peers.start()");
  }

  get server(): Ptr {
    return check(this.#server, "Peers.start()");
  }

  /** Moves what `from` wrote into what `to` reads; returns the byte count. */
  transfer(from: Ptr, to: Ptr): number {
    const { ssl, crypto } = native();
    const bytes = bioBytes(ssl.SSL_get_wbio(from));
    if (bytes.length > 0) {
      assert.equal(crypto.BIO_write(ssl.SSL_get_rbio(to), bytes, bytes.length), bytes.length);
    }
    return bytes.length;
  }

  /** Runs the handshake to completion; any error but WantReadError is thrown. */
  handshake(): void {
    const { ssl } = native();
    for (let round = 0; round < 10; round++) {
      for (const [me, peer] of [[this.client, this.server], [this.server, this.client]] as const) {
        clearErrors();
        const ret = ssl.SSL_do_handshake(me);
        if (ret !== 1) {
          const e = sslError(me, ret);
          if (!(e instanceof WantReadError)) throw e;
        }
        this.transfer(me, peer);
      }
      if (ssl.SSL_is_init_finished(this.client) && ssl.SSL_is_init_finished(this.server)) return;
    }
    throw new Error("The handshake did not finish in 10 rounds");
  }

  /** SSL_free frees each SSL's BIOs; SSL_CTX_free drops the contexts. */
  [Symbol.dispose](): void {
    const { ssl } = native();
    if (this.#client) ssl.SSL_free(this.#client);
    if (this.#server) ssl.SSL_free(this.#server);
    ssl.SSL_CTX_free(this.clientCtx);
    ssl.SSL_CTX_free(this.serverCtx);
  }
}

/** Gives an UnsafeCallback a `[Symbol.dispose]` that closes it, for `using`. */
function closing<T extends { close(): void }>(callback: T): T & Disposable {
  return Object.assign(callback, { [Symbol.dispose]: () => callback.close() });
}

function memBio(): Ptr {
  const { crypto } = native();
  return check(crypto.BIO_new(crypto.BIO_s_mem()), "BIO_new");
}

/** SSL_read_ex after clearErrors(); returns its result (1 or 0). */
function readEx(s: Ptr): number {
  clearErrors();
  return native().ssl.SSL_read_ex(s, new Uint8Array(256), 256n, new BigUint64Array(1));
}

/** SSL_do_handshake after clearErrors(). */
function doHandshake(s: Ptr): number {
  clearErrors();
  return native().ssl.SSL_do_handshake(s);
}

/** What `fn` threw; fails when it returns. */
function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected a throw");
}

/** Asserts `raiseSSLError(ssl, ret)` throws an instance of exactly `cls`, and returns it. */
function raised<T extends Error>(ssl: Ptr, ret: number, cls: new (...args: never[]) => T): T {
  let thrown: unknown;
  try {
    raiseSSLError(ssl, ret);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof cls, `expected ${cls.name}, got ${String(thrown)}`);
  assert.equal((thrown as Error).constructor, cls);
  return thrown as T;
}

Deno.test("a cipher string that matches nothing is an SSLError whose reason is 'no cipher match'", async (t) => {
  const { ssl } = native();
  const ctx = check(ssl.SSL_CTX_new(ssl.TLS_method()), "SSL_CTX_new");
  const s = check(ssl.SSL_new(ctx), "SSL_new");
  try {
    await t.step("sslErrorFromQueue() after SSL_CTX_set_cipher_list", () => {
      clearErrors();
      assert.equal(ssl.SSL_CTX_set_cipher_list(ctx, cstr("NO-SUCH-CIPHER")), 0);
      const e = sslErrorFromQueue("Setting the cipher list failed");
      assert.equal(e.constructor, SSLError);
      assert.equal(e.errors[0]?.reason, "no cipher match");
      assert.equal(e.errors[0]?.library, "SSL routines");
      assert.equal(e.errors[0]?.libraryCode, ERR_LIB_SSL);
      assert.equal(e.message, "Setting the cipher list failed: no cipher match (SSL routines)");
      assert.equal(drainErrorQueue().length, 0, "the queue is drained");
    });

    await t.step("raiseSSLError() after SSL_set_cipher_list (SSL_ERROR_SSL)", () => {
      clearErrors();
      const ret = ssl.SSL_set_cipher_list(s, cstr("NO-SUCH-CIPHER"));
      assert.equal(ret, 0);
      assert.equal(ssl.SSL_get_error(s, ret), SSL_ERROR_SSL);
      const e = raised(s, ret, SSLError);
      assert.equal(e.errors[0]?.reason, "no cipher match");
      assert.equal(e.message, "no cipher match (SSL routines)");
    });

    await t.step("sslErrorFromQueue() with an empty queue still has a message", () => {
      clearErrors();
      const e = sslErrorFromQueue("Nothing to report");
      assert.deepEqual(e.errors, []);
      assert.equal(e.message, "Nothing to report");
    });
  } finally {
    ssl.SSL_free(s);
    ssl.SSL_CTX_free(ctx);
  }
});

Deno.test("an OpenSSL 3 system error is decoded as ERR_LIB_SYS with the errno as its reason", () => {
  const { ssl } = native();
  const ctx = check(ssl.SSL_CTX_new(ssl.TLS_method()), "SSL_CTX_new");
  const s = check(ssl.SSL_new(ctx), "SSL_new");
  try {
    clearErrors();
    const missing = cstr("/nonexistent/denossl/cert.pem");
    assert.equal(ssl.SSL_CTX_use_certificate_file(ctx, missing, FILETYPE_PEM), 0);
    const e = sslErrorFromQueue("Loading the certificate failed");
    const sys = e.errors[0];
    assert.equal(sys?.libraryCode, ERR_LIB_SYS);
    assert.equal(sys?.reasonCode, 2, "ENOENT");
    assert.equal(sys?.library, "system library");

    // SSL_get_error reports SSL_ERROR_SYSCALL when a system error heads the queue; the
    // mapper then takes the errno from that entry.
    clearErrors();
    assert.equal(ssl.SSL_CTX_use_certificate_file(ctx, missing, FILETYPE_PEM), 0);
    assert.equal(ssl.SSL_get_error(s, 0), SSL_ERROR_SYSCALL);
    const sysErr = raised(s, 0, SysCallError);
    assert.equal(sysErr.errno, 2);
    assert.equal(sysErr.code, "ENOENT");
    assert.equal(sysErr.errors[0]?.libraryCode, ERR_LIB_SYS);
  } finally {
    ssl.SSL_free(s);
    ssl.SSL_CTX_free(ctx);
  }
});

Deno.test("raiseSSLError() maps an empty memory BIO during a handshake to WantReadError", async () => {
  await withCertificate((files) => {
    using peers = new Peers(files).start();
    const { ssl } = native();
    const ret = doHandshake(peers.client);
    assert.equal(ret, -1);
    assert.equal(ssl.SSL_get_error(peers.client, ret), SSL_ERROR_WANT_READ);
    const e = raised(peers.client, ret, WantReadError);
    assert.deepEqual(e.errors, []);
    assert.match(e.message, /want read/);
    assert.ok(peers.transfer(peers.client, peers.server) > 0, "the ClientHello was written");

    const serverRet = doHandshake(peers.server);
    assert.equal(serverRet, -1);
    raised(peers.server, serverRet, WantReadError);
  });
});

Deno.test("raiseSSLError() maps a read after the peer's SSL_shutdown to ZeroReturnError", async () => {
  await withCertificate((files) => {
    using peers = new Peers(files).start();
    const { ssl } = native();
    peers.handshake();
    clearErrors();
    assert.equal(ssl.SSL_shutdown(peers.client), 0, "close_notify sent, peer's not yet received");
    peers.transfer(peers.client, peers.server);
    const ret = readEx(peers.server);
    assert.equal(ret, 0);
    assert.equal(ssl.SSL_get_error(peers.server, ret), SSL_ERROR_ZERO_RETURN);
    const e = raised(peers.server, ret, ZeroReturnError);
    assert.match(e.message, /close_notify/);
    assert.ok(ssl.SSL_get_shutdown(peers.server) & RECEIVED_SHUTDOWN);
  });
});

Deno.test("raiseSSLError() maps an EOF without close_notify to SysCallError errno -1 'Unexpected EOF'", async (t) => {
  await withCertificate(async (files) => {
    const { ssl } = native();

    await t.step("after the handshake (OpenSSL 3's SSL_R_UNEXPECTED_EOF_WHILE_READING)", () => {
      using peers = new Peers(files).start();
      peers.handshake();
      assert.equal(readEx(peers.server), 0);
      raised(peers.server, 0, WantReadError); // an empty BIO is "retry" by default
      BIO_set_mem_eof_return(ssl.SSL_get_rbio(peers.server), 0);
      const ret = readEx(peers.server);
      assert.equal(ret, 0);
      assert.equal(ssl.SSL_get_error(peers.server, ret), SSL_ERROR_SSL);
      const e = raised(peers.server, ret, SysCallError);
      assert.equal(e.errno, -1);
      assert.equal(e.code, "UNEXPECTED_EOF");
      assert.equal(e.message, "Unexpected EOF");
      assert.ok(
        e.errors.some((x) =>
          x.libraryCode === ERR_LIB_SSL && x.reasonCode === SSL_R_UNEXPECTED_EOF_WHILE_READING
        ),
      );
    });

    await t.step("during the handshake, before the ClientHello", () => {
      using peers = new Peers(files).start();
      BIO_set_mem_eof_return(ssl.SSL_get_rbio(peers.server), 0);
      const ret = doHandshake(peers.server);
      const e = raised(peers.server, ret, SysCallError);
      assert.equal(e.errno, -1);
      assert.equal(e.message, "Unexpected EOF");
    });

    await t.step(
      "SSL_ERROR_SYSCALL with an empty queue and errno 0 (a dead connection read again)",
      () => {
        using peers = new Peers(files).start();
        peers.handshake();
        BIO_set_mem_eof_return(ssl.SSL_get_rbio(peers.server), 0);
        raised(peers.server, readEx(peers.server), SysCallError);
        const ret = readEx(peers.server);
        assert.equal(ret, 0);
        assert.equal(ssl.SSL_get_error(peers.server, ret), SSL_ERROR_SYSCALL);
        const e = raised(peers.server, ret, SysCallError);
        assert.equal(e.errno, -1);
        assert.deepEqual(e.errors, []);
        assert.equal(e.message, "Unexpected EOF");
      },
    );
  });
});

Deno.test("raiseSSLError() maps a failed system call to SysCallError with its errno", async (t) => {
  const { ssl } = native();
  const ctx = check(ssl.SSL_CTX_new(ssl.TLS_client_method()), "SSL_CTX_new");
  const notOpen = 987654;
  try {
    for (
      const [name, call, expectedRet] of [
        ["SSL_do_handshake (returns -1)", doHandshake, -1],
        ["SSL_read_ex (returns 0)", readEx, 0],
      ] as const
    ) {
      await t.step(`on a descriptor that is not open, through ${name}`, () => {
        const s = check(ssl.SSL_new(ctx), "SSL_new");
        try {
          assert.equal(ssl.SSL_set_fd(s, notOpen), 1);
          ssl.SSL_set_connect_state(s);
          const ret = call(s);
          assert.equal(ret, expectedRet);
          assert.equal(ssl.SSL_get_error(s, ret), SSL_ERROR_SYSCALL);
          const e = raised(s, ret, SysCallError);
          assert.equal(e.errno, EBADF);
          assert.equal(e.code, "EBADF");
          assert.equal(e.message, "System call failed: EBADF (errno 9)");
        } finally {
          ssl.SSL_free(s);
        }
      });
    }
  } finally {
    ssl.SSL_CTX_free(ctx);
  }
});

Deno.test("raiseSSLError() maps an untrusted self-signed server certificate to VerificationError", async (t) => {
  await withCertificate(async (files) => {
    const { ssl, crypto } = native();

    await t.step("with VERIFY_PEER and no callback: code and message, depth unknown", () => {
      using peers = new Peers(files);
      ssl.SSL_CTX_set_verify(peers.clientCtx, VERIFY_PEER, null);
      peers.start();
      const e = thrownBy(() => peers.handshake());
      assert.ok(e instanceof VerificationError);
      assert.equal(e.verifyCode, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
      assert.equal(e.verifyMessage, "self-signed certificate");
      assert.equal(e.depth, -1);
      assert.equal(e.certificate, null);
      assert.ok(
        e.errors.some((x) => x.reasonCode === SSL_R_CERTIFICATE_VERIFY_FAILED),
        "the queue's 'certificate verify failed' entry is kept",
      );
      assert.equal(e.message, "certificate verify failed: self-signed certificate (X509_V_ERR 18)");
    });

    await t.step("with a verify callback that records the failing depth", () => {
      const depths: number[] = [];
      using callback = closing(
        new Deno.UnsafeCallback(
          { parameters: ["i32", "pointer"], result: "i32" } as const,
          (preverifyOk, store) => {
            if (!preverifyOk) {
              const depth = crypto.X509_STORE_CTX_get_error_depth(store);
              depths.push(depth);
              recordVerifyFailure({ depth, certificate: null });
            }
            return preverifyOk;
          },
        ),
      );
      using peers = new Peers(files);
      ssl.SSL_CTX_set_verify(peers.clientCtx, VERIFY_PEER, callback.pointer);
      peers.start();
      const e = thrownBy(() => peers.handshake());
      assert.ok(e instanceof VerificationError);
      assert.ok(depths.length > 0, "the callback ran");
      assert.equal(e.depth, 0);
      assert.equal(e.verifyCode, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
      assert.match(e.message, /at depth 0\)$/);
    });
  });
});

Deno.test("an error thrown in a callback is re-thrown as the same object by the mapper", async (t) => {
  await withCertificate(async (files) => {
    const { ssl, crypto } = native();
    const boom = new RangeError("thrown by the verify callback");
    const userVerify = (): number => {
      throw boom;
    };
    using callback = closing(
      new Deno.UnsafeCallback(
        { parameters: ["i32", "pointer"], result: "i32" } as const,
        () => {
          try {
            return userVerify();
          } catch (e) {
            recordCallbackError(e);
            return 0; // tell OpenSSL to fail
          }
        },
      ),
    );

    await t.step("sslError() returns what the callback threw, and the queue is emptied", () => {
      using peers = new Peers(files);
      ssl.SSL_CTX_set_verify(peers.clientCtx, VERIFY_PEER, callback.pointer);
      peers.start();
      assert.equal(doHandshake(peers.client), -1);
      peers.transfer(peers.client, peers.server);
      assert.equal(doHandshake(peers.server), -1);
      peers.transfer(peers.server, peers.client);
      const ret = doHandshake(peers.client);
      assert.equal(ret, -1);
      assert.notEqual(Number(crypto.ERR_peek_error()), 0, "OpenSSL queued its own error");
      assert.equal(sslError(peers.client, ret), boom);
      assert.equal(Number(crypto.ERR_peek_error()), 0);
    });

    await t.step("the first recorded error wins and sslErrorFromQueue() throws it", () => {
      clearErrors();
      const second = new Error("second");
      recordCallbackError(boom);
      recordCallbackError(second);
      assert.throws(() => sslErrorFromQueue("unused"), (e: unknown) => e === boom);
      // The slot is emptied by taking it.
      assert.equal(sslErrorFromQueue("Nothing pending").message, "Nothing pending");
    });
  });
});

Deno.test("raiseSSLError() maps a full BIO pair buffer to WantWriteError", () => {
  const { ssl, crypto } = native();
  const ctx = check(ssl.SSL_CTX_new(ssl.TLS_client_method()), "SSL_CTX_new");
  const ends = new BigUint64Array(2);
  assert.equal(crypto.BIO_new_bio_pair(ends.subarray(0, 1), 64n, ends.subarray(1, 2), 64n), 1);
  const near = check(Deno.UnsafePointer.create(ends[0]!), "BIO_new_bio_pair");
  const far = check(Deno.UnsafePointer.create(ends[1]!), "BIO_new_bio_pair");
  const s = check(ssl.SSL_new(ctx), "SSL_new");
  ssl.SSL_set_bio(s, near, near); // one reference, owned by the SSL from here on
  try {
    ssl.SSL_set_connect_state(s);
    const ret = doHandshake(s);
    assert.equal(ret, -1);
    assert.equal(ssl.SSL_get_error(s, ret), SSL_ERROR_WANT_WRITE);
    const e = raised(s, ret, WantWriteError);
    assert.match(e.message, /want write/);

    // Draining the far end lets the ClientHello out; then the client waits to read.
    let last: unknown = e;
    const sink = new Uint8Array(64);
    for (let i = 0; i < 50 && last instanceof WantWriteError; i++) {
      while (crypto.BIO_read(far, sink, sink.length) > 0) { /* discard */ }
      last = sslError(s, doHandshake(s));
    }
    assert.ok(last instanceof WantReadError, `expected WantReadError, got ${String(last)}`);
  } finally {
    ssl.SSL_free(s);
    crypto.BIO_free(far);
    ssl.SSL_CTX_free(ctx);
  }
});

Deno.test("raiseSSLError() maps a certificate callback's retry to WantX509LookupError, a client hello callback's to its subclass WantClientHelloError", async (t) => {
  await withCertificate(async (files) => {
    const { ssl } = native();
    for (
      const [name, install, code, expected] of [
        [
          "SSL_CTX_set_cert_cb returning -1",
          (ctx: Ptr, cb: Deno.PointerValue) => ssl.SSL_CTX_set_cert_cb(ctx, cb, null),
          SSL_ERROR_WANT_X509_LOOKUP,
          WantX509LookupError,
        ],
        [
          "SSL_CTX_set_client_hello_cb returning SSL_CLIENT_HELLO_RETRY",
          (
            ctx: Ptr,
            cb: Deno.PointerValue,
          ) => ssl.SSL_CTX_set_client_hello_cb(ctx, cb, null),
          SSL_ERROR_WANT_CLIENT_HELLO_CB,
          WantClientHelloError,
        ],
      ] as const
    ) {
      await t.step(name, () => {
        let calls = 0;
        using callback = closing(
          new Deno.UnsafeCallback(
            { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const,
            () => {
              calls++;
              return SSL_CLIENT_HELLO_RETRY;
            },
          ),
        );
        using peers = new Peers(files);
        install(peers.serverCtx, callback.pointer);
        peers.start();
        doHandshake(peers.client);
        peers.transfer(peers.client, peers.server);
        const ret = doHandshake(peers.server);
        assert.equal(ret, -1);
        assert.equal(calls, 1);
        assert.equal(ssl.SSL_get_error(peers.server, ret), code);
        assert.ok(raised(peers.server, ret, expected) instanceof WantX509LookupError);
      });
    }
  });
});
