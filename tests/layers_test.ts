/**
 * Tests of the layering check (tools/layers.ts) on synthetic module graphs,
 * and of the real tree.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  checkLayers,
  findCycles,
  layerOf,
  type ModuleGraph,
  moduleGraph,
} from "../tools/layers.ts";

const ROOT = "file:///project/";

/** A graph from `path: [value imports]` and `path: [type-only imports]`. */
function graph(
  code: Record<string, string[]>,
  types: Record<string, string[]> = {},
): ModuleGraph {
  const paths = new Set([...Object.keys(code), ...Object.keys(types)]);
  return {
    modules: [...paths].map((path) => ({
      specifier: ROOT + path,
      dependencies: [
        ...(code[path] ?? []).map((to) => ({
          specifier: to,
          code: { specifier: to.includes(":") ? to : ROOT + to },
        })),
        ...(types[path] ?? []).map((to) => ({ specifier: to, type: { specifier: ROOT + to } })),
      ],
    })),
  };
}

Deno.test("layers: layerOf() orders ffi, errors, crypto, connection, then mod.ts, cli.ts and cli/", () => {
  assert.deepEqual(
    ["ffi/memory.ts", "errors/queue.ts", "crypto/x509.ts", "connection/context.ts", "mod.ts"].map(
      layerOf,
    ),
    [0, 1, 2, 3, 4],
  );
  assert.equal(layerOf("cli.ts"), 4);
  assert.equal(layerOf("cli/_args.ts"), 4);
  assert.equal(layerOf("tools/fuzz.ts"), -1);
});

Deno.test("layers: checkLayers()", async (t) => {
  await t.step("accepts value imports that run down and type imports that run anywhere", () => {
    const g = graph(
      {
        "mod.ts": ["connection/context.ts", "errors/ssl_error.ts"],
        "connection/context.ts": ["crypto/x509.ts", "ffi/library.ts", "node:util"],
        "crypto/x509.ts": ["errors/queue.ts"],
        "errors/queue.ts": ["ffi/library.ts"],
        "errors/ssl_error.ts": [],
        "ffi/library.ts": [],
      },
      { "errors/ssl_error.ts": ["crypto/x509.ts"], "ffi/library.ts": ["connection/context.ts"] },
    );
    assert.deepEqual(checkLayers(g, ROOT), []);
  });

  await t.step("names a value import from a lower folder to a higher one", () => {
    const g = graph({
      "errors/queue.ts": ["connection/_registry.ts"],
      "connection/_registry.ts": ["ffi/memory.ts"],
      "ffi/memory.ts": [],
    });
    const problems = checkLayers(g, ROOT);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^errors\/queue\.ts imports connection\/_registry\.ts as a value/);
  });

  await t.step("names ffi importing errors, and crypto importing mod.ts", () => {
    const g = graph({
      "ffi/library.ts": ["errors/ssl_error.ts"],
      "errors/ssl_error.ts": [],
      "crypto/pkey.ts": ["mod.ts"],
      "mod.ts": [],
    });
    assert.deepEqual(checkLayers(g, ROOT).map((p) => p.split(" as ")[0]), [
      "crypto/pkey.ts imports mod.ts",
      "ffi/library.ts imports errors/ssl_error.ts",
    ]);
  });

  await t.step("names a value-import cycle, also within one folder", () => {
    const g = graph({
      "connection/a.ts": ["connection/b.ts"],
      "connection/b.ts": ["connection/c.ts"],
      "connection/c.ts": ["connection/a.ts"],
    });
    assert.deepEqual(checkLayers(g, ROOT), [
      "value-import cycle: connection/a.ts ⇄ connection/b.ts ⇄ connection/c.ts",
    ]);
  });

  await t.step("a cycle closed by a type-only import is no cycle", () => {
    const g = graph(
      { "connection/a.ts": ["connection/b.ts"], "connection/b.ts": [] },
      { "connection/b.ts": ["connection/a.ts"] },
    );
    assert.deepEqual(checkLayers(g, ROOT), []);
  });

  await t.step("names a module outside every layer", () => {
    const g = graph({ "mod.ts": ["util/x.ts"], "util/x.ts": [] });
    assert.deepEqual(checkLayers(g, ROOT).length, 1);
    assert.match(checkLayers(g, ROOT)[0]!, /^util\/x\.ts: in no layer/);
  });
});

Deno.test("layers: findCycles() finds each strongly connected component and self-imports", () => {
  const edges = new Map<string, string[]>([
    ["a", ["b"]],
    ["b", ["a", "c"]],
    ["c", ["d"]],
    ["d", ["c"]],
    ["e", ["e"]],
    ["f", ["a"]],
  ]);
  assert.deepEqual(findCycles(edges), [["a", "b"], ["c", "d"], ["e"]]);
  assert.deepEqual(findCycles(new Map([["a", ["b"]], ["b", []]])), []);
});

Deno.test("layers: the tree keeps the order (deno info on mod.ts and cli.ts)", async () => {
  const root = new URL("../", import.meta.url);
  const g = await moduleGraph(root.pathname, ["mod.ts", "cli.ts"]);
  assert.ok(g.modules.length > 20);
  assert.deepEqual(checkLayers(g, root.href), []);
});
