/**
 * Loading a graph: read it, start its listeners' modules' option checks, load
 * its servlets and compile its plan; `checkGraph` and `graphToDot` on top.
 * @module
 */
import { GraphError, withPlumbErrors } from "../kernel/errors.ts";
import { type GraphSpec, validateGraph } from "../kernel/graph.ts";
import { type LoadedNode, loadNode, unloadNodes } from "../kernel/loader.ts";
import type { StoreBackend } from "../kernel/store.ts";
import type { Logger } from "../kernel/log.ts";
import { compilePlan, type Plan } from "../kernel/plan.ts";
import { planWarnings } from "../kernel/plan_warnings.ts";
import { rewriteFans } from "../kernel/rewrite.ts";
import { toDot } from "../kernel/dot.ts";
import { didYouMean } from "../kernel/suggest.ts";
import type { IoModule } from "../modules/module.ts";
import { IO_MODULES } from "../modules/registry.ts";
import { fileUrl, readGraphFile } from "./graph_file.ts";
import { firstSessionOptions, listenerSpecs } from "./overrides.ts";
import type { ServeOptions } from "./serve_options.ts";
import { resolveServlet } from "./servlet_registry.ts";
import { isolatedServlet } from "./isolated_servlet.ts";

/** What a check found: a summary of a graph that can be served. */
export interface CheckedGraph {
  /** The graph file's name as given, for messages. */
  readonly file: string;
  /** The node names, in the order requests flow through them. */
  readonly nodes: readonly string[];
  /** How many edges join the nodes. */
  readonly edges: number;
  /** The module name of each listener. */
  readonly listeners: readonly string[];
  /**
   * What will have no effect, one line each naming the file, node and port:
   * an output nothing reads, an input nothing writes, `PERSIST` where it
   * cannot act. The graph serves all the same.
   */
  readonly warnings: readonly string[];
}

/** A loaded graph: the compiled plan and each listener's module and parsed options. */
export interface LoadedGraph {
  readonly file: string;
  readonly base: URL;
  readonly plan: Plan;
  /** The graph after the fan-out and fan-in rewrite: the nodes the plan runs, with their args. */
  readonly spec: GraphSpec;
  readonly listeners: readonly { module: IoModule<unknown>; options: unknown }[];
  /** The graph's nodes, edges, input, output and types, to tell whether a reload changed them. */
  readonly fingerprint: string;
  /** The session options of its first listener, as written: those of in-memory connections. */
  readonly session: Readonly<Record<string, unknown>>;
}

/** The summary of a loaded graph. */
export function summary(loaded: LoadedGraph): CheckedGraph {
  return {
    file: loaded.file,
    nodes: loaded.plan.nodes.map((n) => n.name),
    edges: loaded.plan.edges.length,
    listeners: loaded.listeners.map((l) => l.module.name),
    warnings: planWarnings(loaded.plan),
  };
}

/**
 * Reads (or takes), checks and loads a graph: its listeners' options (unless
 * `listen` is false: a graph run in memory starts none), its nodes, its plan.
 */
export async function load(
  graph: string | URL | GraphSpec,
  options: ServeOptions,
  listen = true,
): Promise<LoadedGraph> {
  const { file, base, spec } = typeof graph === "string" || graph instanceof URL
    ? await readGraphFile(graph)
    : { file: "graph", base: options.base ?? fileUrl("./"), spec: validateGraph("graph", graph) };
  const modules = options.modules === undefined
    ? IO_MODULES
    : { ...IO_MODULES, ...options.modules };
  const specs = listen ? listenerSpecs(file, spec, options) : [];
  const listeners = specs.map((l, i) => {
    const where = `${file}: listener ${i + 1} (${l.module})`;
    // Own keys only: "constructor" or "toString" name no module.
    const module = Object.hasOwn(modules, l.module) ? modules[l.module] : undefined;
    if (module === undefined) {
      throw new GraphError(
        "PLUMB_MODULE_UNKNOWN",
        `${file}: listener ${i + 1}: unknown module "${l.module}"${
          didYouMean(l.module, Object.keys(modules))
        }; modules are ${Object.keys(modules).join(", ")}`,
      );
    }
    return { module, options: module.parseOptions(l.options ?? {}, where) };
  });
  const rewritten = rewriteFans(file, spec);
  const nodes = await loadGraphNodes(file, base, rewritten.spec, options.store, options.logger);
  const { nodes: nodeSpecs, edges, input, output, types } = spec;
  try {
    return {
      file,
      base,
      plan: compilePlan(file, rewritten.spec, nodes, rewritten.labels),
      spec: rewritten.spec,
      listeners,
      fingerprint: JSON.stringify({ nodeSpecs, edges, input, output, types }),
      session: firstSessionOptions(spec),
    };
  } catch (error) {
    await unloadNodes(nodes);
    throw error;
  }
}

/**
 * Loads every node of a graph, in the order the file lists them, as the
 * kernel's `loadNodes` does; a node with `"isolate"` is loaded in a worker of
 * its own (`host/isolated_servlet.ts`). Unloads them all if one fails.
 */
async function loadGraphNodes(
  file: string,
  base: URL,
  graph: GraphSpec,
  store: StoreBackend | undefined,
  log: Logger | undefined,
): Promise<LoadedNode[]> {
  const loaded: LoadedNode[] = [];
  try {
    for (const [name, spec] of Object.entries(graph.nodes)) {
      const { servlet, args = [], isolate } = spec;
      let resolve = resolveServlet;
      if (isolate !== undefined) {
        if (typeof servlet !== "string") {
          throw new GraphError(
            "PLUMB_ISOLATE_IN_CODE",
            `${file}: node "${name}": an isolated node's servlet must be a module its worker can ` +
              `load (a built-in name, a path or a URL), not a servlet object given in code`,
          );
        }
        // The name is checked here, as for any node; the worker loads the module.
        resolve = (specifier, base, where) => {
          resolveServlet(specifier, base, where);
          return isolatedServlet({ file, specifier, isolate });
        };
      }
      loaded.push(await loadNode(file, base, name, servlet, args, resolve, store, log));
    }
  } catch (error) {
    await unloadNodes(loaded);
    throw error;
  }
  return loaded;
}

/**
 * Loads and checks a graph without serving it, then unloads its nodes.
 * Throws a {@linkcode GraphError} naming the file, node and port on the first
 * problem: the one-line message and the code the CLI's `--check` prints.
 */
export async function checkGraph(
  graph: string | URL | GraphSpec,
  options: ServeOptions = {},
): Promise<CheckedGraph> {
  const loaded = await withPlumbErrors(load(graph, options));
  await unloadNodes(loaded.plan.nodes);
  return summary(loaded);
}

/**
 * Loads and checks a graph like {@linkcode checkGraph}, and returns it as
 * Graphviz DOT (after the fan-out and fan-in rewrite, with port names and
 * types on the edges).
 */
export async function graphToDot(
  graph: string | URL | GraphSpec,
  options: ServeOptions = {},
): Promise<string> {
  const loaded = await withPlumbErrors(load(graph, options));
  await unloadNodes(loaded.plan.nodes);
  return toDot(loaded.plan, loaded.file);
}
