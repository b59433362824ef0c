// Compiled by tests/types_test.ts, which expects it to fail: the check can fail.
import { connectTls, listenTls } from "../../mod.ts";

export async function wrongShapes(): Promise<void> {
  const unix: Deno.UnixListener = listenTls({ port: 0, cert: "", key: "" });
  await connectTls({ port: "443" });
  console.log(unix);
}
