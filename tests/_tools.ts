/**
 * Imported by every test file that drives the `openssl` command or Node: it checks both are on
 * PATH when the file loads, so a file run on its own (`deno test tests/interop_openssl_test.ts`)
 * fails at once with one line naming what to install, not a minute later with NotFound.
 *
 * @module
 */

import { missingTools } from "../tools/preflight.ts";

const missing = await missingTools();
if (missing.length > 0) {
  throw new Error(
    `denossl tests need commands that are not on PATH: install ${missing.join("; ")}`,
  );
}
