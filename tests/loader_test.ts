import assert from "node:assert/strict";
import { native, OpenSSLLoadError, opensslVersion } from "../ffi/library.ts";
import { long, usize } from "../ffi/ctypes.ts";
import { loadedLibraryPaths, runSnippet } from "./_subprocess.ts";

/** What a snippet reports about a thrown error. */
const DESCRIBE_ERROR = `
function describe(e: unknown) {
  const err = e as Error & { tried?: unknown };
  return { name: err.name, message: err.message, tried: err.tried ?? null,
    isLoadError: e instanceof denossl.OpenSSLLoadError };
}`;

Deno.test("mod.ts imports with no permissions at all and loads OpenSSL only on first use", async (t) => {
  await t.step("error classes and constants work without any permission", async () => {
    const result = await runSnippet(
      `
      const eof = new denossl.SysCallError(-1);
      const verify = new denossl.VerificationError(
        { verifyCode: 18, verifyMessage: "self-signed certificate", depth: 0, certificate: null });
      report({
        eof: [eof instanceof denossl.SSLError, eof.errno, eof.code, eof.message],
        wantRead: new denossl.WantReadError() instanceof denossl.SSLError,
        verify: [verify.verifyCode, verify.message],
        tls13: denossl.TLS1_3_VERSION,
        verifyPeer: denossl.VERIFY_PEER,
      });`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.report, {
      eof: [true, -1, "UNEXPECTED_EOF", "Unexpected EOF"],
      wantRead: true,
      verify: [18, "certificate verify failed: self-signed certificate (X509_V_ERR 18 at depth 0)"],
      tls13: 0x0304,
      verifyPeer: 1,
    });
  });

  await t.step("the first native call throws OpenSSLLoadError naming --allow-ffi", async () => {
    const result = await runSnippet(
      `${DESCRIBE_ERROR}
      try { denossl.opensslVersion(); report("loaded"); } catch (e) { report(describe(e)); }`,
    );
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as { name: string; message: string; isLoadError: boolean };
    assert.equal(report.name, "OpenSSLLoadError");
    assert.equal(report.isLoadError, true);
    assert.match(report.message, /run Deno with --allow-ffi/);
  });

  await t.step("--deny-ffi gives the same error", async () => {
    const result = await runSnippet(
      `${DESCRIBE_ERROR}
      try { denossl.opensslVersion(); report("loaded"); } catch (e) { report(describe(e)); }`,
      { flags: ["--deny-ffi"] },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as { name: string; message: string };
    assert.equal(report.name, "OpenSSLLoadError");
    assert.match(report.message, /--allow-ffi/);
  });
});

Deno.test("a scoped --allow-ffi is refused with an error that asks for an unscoped one", async (t) => {
  const paths = (native(), loadedLibraryPaths());
  const scoped = `--allow-ffi=${paths.libssl},${paths.libcrypto}`;
  const snippet = `${DESCRIBE_ERROR}
    try { report({ ok: denossl.opensslVersion().text }); } catch (e) { report(describe(e)); }`;

  await t.step("with the platform's bare soname", async () => {
    const result = await runSnippet(snippet, { flags: [scoped] });
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as { name: string; message: string };
    assert.equal(report.name, "OpenSSLLoadError");
    assert.match(report.message, /--allow-ffi \(unscoped/);
  });

  await t.step("with absolute paths in DENOSSL_LIBSSL/DENOSSL_LIBCRYPTO", async () => {
    // Deno 2.9 opens the granted path, then refuses UnsafePointerView under a scoped grant.
    const result = await runSnippet(snippet, {
      flags: [scoped, "--allow-env"],
      env: { DENOSSL_LIBSSL: paths.libssl, DENOSSL_LIBCRYPTO: paths.libcrypto },
    });
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as { name: string; message: string };
    assert.equal(report.name, "OpenSSLLoadError");
    assert.match(report.message, /--allow-ffi \(unscoped/);
  });
});

Deno.test("a missing library fails with OpenSSLLoadError listing every path tried", async (t) => {
  await t.step("DENOSSL_LIBSSL pointing at a non-existent file", async () => {
    const result = await runSnippet(
      `${DESCRIBE_ERROR}
      try { denossl.opensslVersion(); report("loaded"); } catch (e) { report(describe(e)); }`,
      {
        flags: ["--allow-ffi", "--allow-env"],
        env: { DENOSSL_LIBSSL: "/nonexistent/libssl.so.3" },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as {
      name: string;
      message: string;
      tried: { path: string; reason: string }[];
    };
    assert.equal(report.name, "OpenSSLLoadError");
    assert.deepEqual(report.tried.map((t) => t.path), ["/nonexistent/libssl.so.3"]);
    assert.match(report.tried[0]!.reason, /No such file or directory/);
    assert.match(report.message, /Tried:\n {2}\/nonexistent\/libssl\.so\.3: /);
    assert.match(report.message, /from DENOSSL_LIBSSL \(and the platform's libcrypto name\)\./);
    assert.match(report.message, /Point DENOSSL_LIBSSL and DENOSSL_LIBCRYPTO at /);
    assert.doesNotMatch(report.message, /load\(/);
  });

  await t.step("load() with paths that do not exist, then a file that is not OpenSSL", async () => {
    const result = await runSnippet(
      `${DESCRIBE_ERROR}
      const out = [];
      try { denossl.load({ libssl: "/nonexistent/a.so", libcrypto: "/nonexistent/b.so" }); }
      catch (e) { out.push(describe(e)); }
      try { denossl.load({ libssl: "libc.so.6", libcrypto: "libc.so.6" }); }
      catch (e) { out.push(describe(e)); }
      report(out);`,
      { flags: ["--allow-ffi"] },
    );
    assert.equal(result.code, 0, result.stderr);
    const [missing, notOpenSSL] = result.report as {
      name: string;
      message: string;
      tried: { path: string; reason: string }[];
    }[];
    assert.equal(missing?.name, "OpenSSLLoadError");
    // The paths came from load(): the message says so and suggests no environment variable.
    assert.match(
      missing!.message,
      /^Could not load OpenSSL 3 .* from the paths given to load\(\)\./,
    );
    assert.doesNotMatch(missing!.message, /DENOSSL_/);
    // Deno's dlopen error repeats "Could not open library:" and the path: both said once.
    assert.doesNotMatch(missing!.tried[0]!.reason, /^Could not open library|^\/nonexistent/);
    if (Deno.build.os === "linux") {
      assert.equal(
        missing!.tried[0]!.reason,
        "cannot open shared object file: No such file or directory",
      );
    }
    assert.equal(missing!.message.match(/\/nonexistent\/b\.so/g)?.length, 1);
    assert.doesNotMatch(missing!.message, /Could not open library/);
    // libcrypto is opened first; its libssl is not tried once it fails.
    assert.deepEqual(missing?.tried.map((t) => t.path), ["/nonexistent/b.so"]);
    assert.equal(notOpenSSL?.name, "OpenSSLLoadError");
    assert.deepEqual(notOpenSSL?.tried.map((t) => t.path), ["libc.so.6"]);
    // Deno registers the probe's symbols in no fixed order: either one is named.
    assert.match(notOpenSSL!.tried[0]!.reason, /undefined symbol: OpenSSL_version/);
  });

  await t.step("load() with only one of the two paths is a TypeError", async () => {
    const result = await runSnippet(
      `${DESCRIBE_ERROR}
      try { denossl.load({ libssl: "libssl.so.3" }); report("loaded"); } catch (e) { report(describe(e)); }`,
      { flags: ["--allow-ffi"] },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as { name: string; message: string };
    assert.equal(report.name, "TypeError");
    assert.match(report.message, /both libssl and libcrypto/);
  });
});

Deno.test("an environment override that cannot be read is skipped, not fatal", async (t) => {
  const snippet =
    `const v = denossl.opensslVersion(); report({ libssl: v.libssl, major: v.major });`;
  const env = { DENOSSL_LIBSSL: "/nonexistent/libssl.so.3" };

  await t.step("without --allow-env the platform's library loads", async () => {
    const result = await runSnippet(snippet, { flags: ["--allow-ffi"], env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.report, { libssl: "libssl.so.3", major: 3 });
  });

  await t.step("with --allow-env for another variable only", async () => {
    const result = await runSnippet(snippet, { flags: ["--allow-ffi", "--allow-env=HOME"], env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.report, { libssl: "libssl.so.3", major: 3 });
  });
});

Deno.test("OpenSSL loads from absolute paths given to load() or to the env overrides", async (t) => {
  const paths = (native(), loadedLibraryPaths());

  await t.step("load({ libssl, libcrypto }) opens those files, once", async () => {
    const result = await runSnippet(
      `const paths = ${JSON.stringify(paths)};
      const first = denossl.load(paths);
      first.text = "changed by the caller";
      const again = denossl.load(paths);
      let other = "";
      try { denossl.load({ libssl: "/elsewhere/libssl.so.3", libcrypto: "/elsewhere/libcrypto.so.3" }); }
      catch (e) { other = (e as Error).message; }
      report({ first: [first.libssl, first.libcrypto], again: again.text,
        version: denossl.opensslVersion().libssl, other });`,
      { flags: ["--allow-ffi"] },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = result.report as {
      first: string[];
      again: string;
      version: string;
      other: string;
    };
    assert.deepEqual(report.first, [paths.libssl, paths.libcrypto]);
    assert.match(report.again, /^OpenSSL 3\./);
    assert.equal(report.version, paths.libssl);
    assert.match(report.other, /already loaded from .*load\(\) must run before first use/);
  });

  await t.step(
    "DENOSSL_LIBSSL and DENOSSL_LIBCRYPTO are used when --allow-env grants them",
    async () => {
      const result = await runSnippet(
        `const v = denossl.opensslVersion(); report([v.libssl, v.libcrypto]);`,
        {
          flags: ["--allow-ffi", "--allow-env=DENOSSL_LIBSSL,DENOSSL_LIBCRYPTO"],
          env: { DENOSSL_LIBSSL: paths.libssl, DENOSSL_LIBCRYPTO: paths.libcrypto },
        },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.report, [paths.libssl, paths.libcrypto]);
    },
  );
});

Deno.test("opensslVersion() reports the loaded OpenSSL 3 and a copy the caller cannot corrupt", () => {
  const v = opensslVersion();
  assert.ok(v.major >= 3);
  assert.match(v.text, new RegExp(`^OpenSSL ${v.major}\\.${v.minor}\\.${v.patch}`));
  assert.equal(
    v.number,
    Number(native().crypto.OPENSSL_version_major()) * 0x10000000 + v.minor * 0x100000 +
      v.patch * 0x10,
  );
  v.text = "corrupted";
  assert.notEqual(opensslVersion().text, "corrupted");
  assert.ok(new OpenSSLLoadError("x").tried.length === 0);
});

Deno.test("size_t and long arguments reach FFI as bigints, the type V8's fast call path takes for 64-bit parameters", () => {
  // A number is accepted too, but only on the slow path: bench/micro_bench.ts's size_t group
  // measures the difference (about 4x per call).
  assert.equal(usize(16384), 16384n);
  assert.equal(typeof usize(0), "bigint");
  if (Deno.build.os !== "windows") {
    assert.equal(long(-1), -1n);
    assert.equal(long(120), 120n);
  } else {
    assert.equal(long(120) as unknown, 120, "a 32-bit long stays a number");
  }
  // The values still work where they are used: a size_t length and a long control argument.
  const { ssl, crypto } = native();
  const bio = crypto.BIO_new(crypto.BIO_s_mem());
  try {
    assert.equal(crypto.BIO_write(bio, new Uint8Array([1, 2, 3]), 3), 3);
    assert.equal(Number(crypto.BIO_ctrl_pending(bio)), 3);
    const ctx = ssl.SSL_CTX_new(ssl.TLS_method());
    try {
      assert.equal(Number(ssl.SSL_CTX_set_timeout(ctx, long(77))) > 0, true);
      assert.equal(Number(ssl.SSL_CTX_get_timeout(ctx)), 77);
    } finally {
      ssl.SSL_CTX_free(ctx);
    }
  } finally {
    crypto.BIO_free(bio);
  }
});
