/**
 * The graph as Graphviz DOT, after the fan-out and fan-in rewrite: a box per
 * node (its servlet under its name), an edge per pipe labelled with its ports
 * and its type, and the module's input and output as circles.
 * @module
 */
import { SIGNAL_PORTS } from "./loader.ts";
import type { Plan, PlanNode } from "./plan.ts";
import { GRAPH_INPUT, GRAPH_OUTPUT } from "./plan.ts";

function quote(text: string): string {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}

/** Options of {@linkcode toDot}. */
export interface DotOptions {
  /**
   * For a live drawing (the admin page): give each node the id `n` and its
   * index, each edge `e` and its index, the graph's input and output edges
   * `in` and `out` (Graphviz keeps them in its SVG), and end each of their
   * labels with a blank line (figure spaces) that the page writes its counters
   * into. Default false.
   */
  live?: boolean;
}

/** The blank last line of a live drawing's labels: figure spaces, as wide as digits. */
const LIVE_LINE = "\u2007".repeat(16);

function portName(node: PlanNode, slot: number): string {
  return slot < node.ports.length ? node.ports[slot].name : SIGNAL_PORTS[slot - node.ports.length];
}

/**
 * The plan as a DOT digraph.
 *
 * @example
 * ```sh
 * deno run --allow-read main.ts examples/pipeline.json --dot | dot -Tsvg > pipeline.svg
 * ```
 */
export function toDot(plan: Plan, title: string, options: DotOptions = {}): string {
  const id = (text: string): string => options.live ? `, id=${quote(text)}` : "";
  const blank = options.live ? `\n${LIVE_LINE}` : "";
  // A live drawing is drawn smaller: the page shows it across the window, beside its tables.
  const compact = options.live
    ? [`  graph [ranksep=0.3, nodesep=0.2];`, `  node [fontsize=12];`, `  edge [fontsize=9];`]
    : [];
  const lines = [
    `digraph ${quote(title)} {`,
    `  rankdir=LR;`,
    `  node [shape=box, style=rounded, fontname="Helvetica"];`,
    `  edge [fontname="Helvetica", fontsize=10];`,
    `  "(input)" [shape=circle, label="in"];`,
    `  "(output)" [shape=doublecircle, label="out"];`,
    ...compact,
  ];
  for (const node of plan.nodes) {
    const added = node.name.includes("~");
    const shape = added ? `, shape=diamond, style=""` : "";
    lines.push(
      `  ${quote(node.name)} [label=${quote(`${node.name}\n${node.specifier}${blank}`)}${shape}${
        id(`n${node.index}`)
      }];`,
    );
  }
  for (const node of plan.nodes) {
    node.slots.forEach((slot, i) => {
      const type = node.types[i] ?? node.ports[i]?.type;
      const typed = type === undefined ? "" : `\n${type}`;
      if (slot === GRAPH_INPUT) {
        lines.push(
          `  "(input)" -> ${quote(node.name)} [label=${
            quote(`${node.ports[i].name}${typed}${blank}`)
          }${id("in")}];`,
        );
      } else if (slot === GRAPH_OUTPUT) {
        lines.push(
          `  ${quote(node.name)} -> "(output)" [label=${
            quote(`${node.ports[i].name}${typed}${blank}`)
          }${id("out")}];`,
        );
      }
    });
  }
  for (const [index, edge] of plan.edges.entries()) {
    const from = plan.nodes[edge.from];
    const to = plan.nodes[edge.to];
    const type = from.types[edge.fromSlot] ?? to.types[edge.toPort];
    const label = `${portName(from, edge.fromSlot)} → ${to.ports[edge.toPort].name}` +
      (type === undefined ? "" : `\n${type}`) + blank;
    const dashed = edge.fromSlot >= from.ports.length ? ", style=dashed" : "";
    lines.push(
      `  ${quote(from.name)} -> ${quote(to.name)} [label=${quote(label)}${dashed}${
        id(`e${index}`)
      }];`,
    );
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
