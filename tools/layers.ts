/**
 * The layering check of `deno task ok`: value imports only run down,
 * `ffi/` ← `errors/` ← `crypto/` ← `connection/` ← `mod.ts`/`node.ts`/`cli.ts` (with
 * `cli/`), and form no cycle. Type-only imports may point anywhere.
 *
 * It reads the module graph `deno info --json` gives for `mod.ts` and
 * `cli.ts`: each module's `dependencies` entries carry a `code` specifier
 * when the import survives compilation (a value import) and only a `type`
 * one when it is type-only (`import type`, `export type`). Prints every
 * offender and exits 1, or exits 0 when the tree keeps the order.
 *
 * ```sh
 * deno run --allow-read --allow-run tools/layers.ts
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The part of `deno info --json` the check reads. */
export interface ModuleGraph {
  /** Every module reachable from the roots. */
  modules: {
    specifier: string;
    dependencies?: {
      specifier: string;
      code?: { specifier: string };
      type?: { specifier: string };
    }[];
  }[];
}

/** The layers, lowest first: a value import may only point to its own layer or a lower one. */
export const LAYERS = ["ffi", "errors", "crypto", "connection", "entry"] as const;

/**
 * The layer of a module, from its path relative to the project root.
 *
 * @param path Such as `connection/context.ts` or `mod.ts`.
 * @returns Its index in {@link LAYERS}, or -1 when it belongs to none.
 */
export function layerOf(path: string): number {
  // The package manifest is data the entry points read (the CLI's --version): entry level.
  if (path === "deno.json") return LAYERS.length - 1;
  if (path === "mod.ts" || path === "node.ts" || path === "cli.ts" || path.startsWith("cli/")) {
    return LAYERS.length - 1;
  }
  const folder = path.split("/")[0] ?? "";
  return (LAYERS as readonly string[]).indexOf(folder);
}

/**
 * The value-import edges among the project's own modules.
 *
 * @param graph The merged `deno info --json` output.
 * @param root The project root as a `file://` URL ending in `/`.
 * @returns Path → paths it imports as a value, relative to the root.
 */
export function codeEdges(graph: ModuleGraph, root: string): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const module of graph.modules) {
    if (!module.specifier.startsWith(root)) continue; // jsr:, npm:, node: and remote modules
    const from = module.specifier.slice(root.length);
    const targets = edges.get(from) ?? [];
    edges.set(from, targets);
    for (const dep of module.dependencies ?? []) {
      const to = dep.code?.specifier;
      if (to === undefined || !to.startsWith(root)) continue;
      const path = to.slice(root.length);
      if (!targets.includes(path)) targets.push(path);
    }
  }
  return edges;
}

/**
 * The cycles of a directed graph: its strongly connected components with
 * more than one module, or one module that imports itself (Tarjan).
 *
 * @param edges Node → successors.
 * @returns Each cycle's members, sorted; the cycles sorted by their first member.
 */
export function findCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of edges.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const members: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      members.push(member);
    } while (member !== node);
    if (members.length > 1 || (edges.get(node) ?? []).includes(node)) cycles.push(members.sort());
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/**
 * Every breach of the layering rule in a graph.
 *
 * @param graph The merged `deno info --json` output.
 * @param root The project root as a `file://` URL ending in `/`.
 * @returns One line per offender (empty when the tree keeps the order).
 */
export function checkLayers(graph: ModuleGraph, root: string): string[] {
  const edges = codeEdges(graph, root);
  const problems: string[] = [];
  for (const [from, targets] of [...edges].sort(([a], [b]) => a.localeCompare(b))) {
    const own = layerOf(from);
    if (own < 0) {
      problems.push(
        `${from}: in no layer (${LAYERS.join(", ")}; entry is mod.ts, node.ts, cli.ts, cli/)`,
      );
      continue;
    }
    for (const to of targets) {
      const theirs = layerOf(to);
      if (theirs > own) {
        problems.push(
          `${from} imports ${to} as a value: ${LAYERS[own]} may not import from ${
            LAYERS[theirs]
          } (make it \`import type\`, or move the code down)`,
        );
      }
    }
  }
  for (const cycle of findCycles(edges)) {
    problems.push(`value-import cycle: ${cycle.join(" ⇄ ")}`);
  }
  return problems;
}

/**
 * Runs `deno info --json` on each entry point and merges the graphs.
 *
 * @param root The project root directory.
 * @param entries The entry points, relative to it.
 * @returns The merged graph.
 */
export async function moduleGraph(root: string, entries: readonly string[]): Promise<ModuleGraph> {
  const modules = new Map<string, ModuleGraph["modules"][number]>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno info --json ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as ModuleGraph;
    for (const module of graph.modules) modules.set(module.specifier, module);
  }
  return { modules: [...modules.values()] };
}

if (import.meta.main) {
  const rootDir = new URL("../", import.meta.url);
  const graph = await moduleGraph(fileURLToPath(rootDir), ["mod.ts", "node.ts", "cli.ts"]);
  const problems = checkLayers(graph, rootDir.href);
  if (problems.length > 0) {
    console.error(`Layering check failed (${problems.length}):`);
    for (const line of problems) console.error(`  ${line}`);
    Deno.exit(1);
  }
  console.log(`Layering check passed: ${graph.modules.length} modules, ${LAYERS.join(" ← ")}`);
}
