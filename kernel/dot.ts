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
export function toDot(plan: Plan, title: string): string {
  const lines = [
    `digraph ${quote(title)} {`,
    `  rankdir=LR;`,
    `  node [shape=box, style=rounded, fontname="Helvetica"];`,
    `  edge [fontname="Helvetica", fontsize=10];`,
    `  "(input)" [shape=circle, label="in"];`,
    `  "(output)" [shape=doublecircle, label="out"];`,
  ];
  for (const node of plan.nodes) {
    const added = node.name.includes("~");
    const shape = added ? `, shape=diamond, style=""` : "";
    lines.push(
      `  ${quote(node.name)} [label=${quote(`${node.name}\n${node.specifier}`)}${shape}];`,
    );
  }
  for (const node of plan.nodes) {
    node.slots.forEach((slot, i) => {
      const type = node.types[i] ?? node.ports[i]?.type;
      const typed = type === undefined ? "" : `\n${type}`;
      if (slot === GRAPH_INPUT) {
        lines.push(
          `  "(input)" -> ${quote(node.name)} [label=${quote(`${node.ports[i].name}${typed}`)}];`,
        );
      } else if (slot === GRAPH_OUTPUT) {
        lines.push(
          `  ${quote(node.name)} -> "(output)" [label=${quote(`${node.ports[i].name}${typed}`)}];`,
        );
      }
    });
  }
  for (const edge of plan.edges) {
    const from = plan.nodes[edge.from];
    const to = plan.nodes[edge.to];
    const type = from.types[edge.fromSlot] ?? to.types[edge.toPort];
    const label = `${portName(from, edge.fromSlot)} → ${to.ports[edge.toPort].name}` +
      (type === undefined ? "" : `\n${type}`);
    const dashed = edge.fromSlot >= from.ports.length ? ", style=dashed" : "";
    lines.push(`  ${quote(from.name)} -> ${quote(to.name)} [label=${quote(label)}${dashed}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
