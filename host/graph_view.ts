/**
 * The running graph as the admin page draws it: its nodes with their
 * servlets, arguments and ports, its edges, its listeners, and its Graphviz
 * drawing. The drawing is the one `--dot` prints (after the fan-out and
 * fan-in rewrite), laid out by Graphviz itself, compiled to WebAssembly
 * (`@viz-js/viz`), on the host, once per graph.
 * @module
 */
import { toDot } from "../kernel/dot.ts";
import { OUTPUT } from "../kernel/flags.ts";
import { GRAPH_INPUT, GRAPH_OUTPUT } from "../kernel/plan.ts";
import type { LoadedGraph } from "./load.ts";
import { slotName } from "./metrics.ts";

/** A port as the page shows it. */
export interface PortView {
  /** The port's name. */
  readonly name: string;
  /** True for an output. */
  readonly output: boolean;
  /** Its pipe type once generics are bound, if it has one. */
  readonly type?: string;
}

/** A node as the page shows it; its index in `GraphView.nodes` is its id `n` + index in the drawing. */
export interface NodeView {
  /** The node's name. */
  readonly name: string;
  /** The servlet, as the graph names it. */
  readonly servlet: string;
  /** Its `args`. */
  readonly args: readonly string[];
  /** Its declared ports, by descriptor. */
  readonly ports: readonly PortView[];
}

/** An edge as the page shows it; its id in the drawing is `e` + its index. */
export interface EdgeView {
  /** `node.port` */
  readonly from: string;
  /** `node.port` */
  readonly to: string;
}

/** The running graph, for the admin page (`/graph.json`). */
export interface GraphView {
  /** The graph file's name. */
  readonly file: string;
  /** 1, then one more per reload. */
  readonly generation: number;
  /** The nodes the plan runs (after the fan-out and fan-in rewrite), in its order. */
  readonly nodes: readonly NodeView[];
  /** The edges, in the plan's order. */
  readonly edges: readonly EdgeView[];
  /** The port the listeners' input goes to, `node.port` (the drawing's `in` edge). */
  readonly input: string;
  /** The port the listeners' output comes from, `node.port` (the drawing's `out` edge). */
  readonly output: string;
  /** Where the graph is served. */
  readonly listeners: readonly string[];
  /** The graph as Graphviz DOT with node and edge ids. */
  readonly dot: string;
}

/** The view of a loaded graph served on `listeners`. */
export function graphView(
  loaded: LoadedGraph,
  generation: number,
  listeners: readonly string[],
): GraphView {
  const { plan, spec } = loaded;
  let input = "";
  let output = "";
  for (const node of plan.nodes) {
    node.slots.forEach((slot, i) => {
      if (slot === GRAPH_INPUT) input = slotName(node, i);
      if (slot === GRAPH_OUTPUT) output = slotName(node, i);
    });
  }
  return {
    file: loaded.file,
    generation,
    nodes: plan.nodes.map((node) => ({
      name: node.name,
      servlet: node.specifier,
      args: spec.nodes[node.name]?.args ?? [],
      ports: node.ports.map((port, i) => {
        const type = node.types[i] ?? port.type;
        return {
          name: port.name,
          output: (port.flags & OUTPUT) !== 0,
          ...(type === undefined ? {} : { type }),
        };
      }),
    })),
    edges: plan.edges.map((edge) => ({
      from: slotName(plan.nodes[edge.from], edge.fromSlot),
      to: slotName(plan.nodes[edge.to], edge.toPort),
    })),
    input,
    output,
    listeners,
    dot: toDot(plan, loaded.file, { live: true }),
  };
}

/** The Graphviz package, as deno.json's imports name it (and pin its version). */
const VIZ = "@viz-js/viz";

/** What this file uses of `@viz-js/viz`. */
interface Graphviz {
  renderString(dot: string, options: { format: "svg" }): string;
}

/** The `@viz-js/viz` module, as far as this file uses it. */
interface VizModule {
  instance(): Promise<Graphviz>;
}

/** Graphviz, loaded on first use. */
let graphviz: Promise<Graphviz> | undefined;

/**
 * The DOT drawn as SVG by Graphviz (`@viz-js/viz`, loaded on first use: a
 * host that is never asked for its picture never loads it).
 */
export async function renderSvg(dot: string): Promise<string> {
  // A specifier Deno cannot see ahead: the package is resolved and fetched only when a page
  // asks for the drawing, never when the host starts (a service with no network, or with only
  // AF_UNIX sockets, starts without it).
  const specifier: string = VIZ;
  graphviz ??= (import(specifier) as Promise<VizModule>).then((viz) => viz.instance());
  return (await graphviz).renderString(dot, { format: "svg" });
}
