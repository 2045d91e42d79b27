/**
 * The layer check (`deno task check` runs it, and so does CI): reads the
 * module graph from `deno info --json` and fails on any import that points up
 * or sideways between plumb's folders, and on any cycle between modules.
 *
 * ```text
 * main.ts                      the command line
 * host/      testing/          wiring: serve, Host, reload, workers, the registry; the test kit
 * servlets/  examples/         built-ins and samples, through the public API only
 * modules/                     I/O modules, over the kernel
 * kernel/    mod.ts            servlet API, flags, pipes, graph, plan, scheduler
 * ```
 *
 * Run: `deno run --allow-read --allow-run tools/check_layers.ts`
 * @module
 */
import { MAY_IMPORT } from "./layers.ts";

/** The entry points whose module graphs are checked. */
const ENTRIES = [
  "main.ts",
  "mod.ts",
  "host/mod.ts",
  "modules/mod.ts",
  "testing/mod.ts",
  "servlets/http/mod.ts",
  "examples/upper.ts",
  "examples/http_api.ts",
];

interface InfoModule {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

const root = new URL("../", import.meta.url);

/** The layer of a module inside the package, or `undefined` for one outside it. */
function layerOf(specifier: string): string | undefined {
  if (!specifier.startsWith(root.href)) return undefined;
  const path = specifier.slice(root.href.length);
  const slash = path.indexOf("/");
  return slash === -1 ? path : path.slice(0, slash);
}

/** Every module reachable from the entries, each once. */
async function moduleGraph(): Promise<InfoModule[]> {
  const modules = new Map<string, InfoModule>();
  for (const entry of ENTRIES) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) {
      console.error(`check_layers: deno info ${entry} failed`);
      Deno.exit(1);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    for (const module of info.modules) modules.set(module.specifier, module);
  }
  return [...modules.values()];
}

const problems: string[] = [];
const edges = new Map<string, string[]>();
for (const module of await moduleGraph()) {
  const from = layerOf(module.specifier);
  if (from === undefined) continue;
  const allowed = MAY_IMPORT[from];
  const name = module.specifier.slice(root.href.length);
  if (allowed === undefined) {
    problems.push(`${name}: in no known layer (${Object.keys(MAY_IMPORT).join(", ")})`);
    continue;
  }
  const targets: string[] = [];
  for (const dep of module.dependencies ?? []) {
    const target = dep.code?.specifier ?? dep.type?.specifier;
    if (target === undefined) continue;
    const to = layerOf(target);
    if (to === undefined) continue;
    // Cycles count runtime imports only: a type-only import is erased.
    if (dep.code?.specifier !== undefined) targets.push(target);
    if (to !== from && !allowed.includes(to)) {
      problems.push(
        `${name} imports ${target.slice(root.href.length)}: ${from} may import only ${
          allowed.join(", ")
        }`,
      );
    }
  }
  edges.set(module.specifier, targets);
}

// Cycles between modules, by depth-first search.
const state = new Map<string, "open" | "done">();
const stack: string[] = [];
function visit(node: string): void {
  state.set(node, "open");
  stack.push(node);
  for (const next of edges.get(node) ?? []) {
    if (state.get(next) === "open") {
      const cycle = stack.slice(stack.indexOf(next)).concat(next);
      problems.push(`import cycle: ${cycle.map((s) => s.slice(root.href.length)).join(" -> ")}`);
    } else if (!state.has(next)) visit(next);
  }
  stack.pop();
  state.set(node, "done");
}
for (const node of edges.keys()) if (!state.has(node)) visit(node);

if (problems.length > 0) {
  for (const problem of problems) console.error(`check_layers: ${problem}`);
  console.error(`check_layers: ${problems.length} problem(s)`);
  Deno.exit(1);
}
console.log(`check_layers: ${edges.size} modules, no import up or sideways, no cycle`);
