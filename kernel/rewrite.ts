/**
 * Fan-out and fan-in, rewritten as Plumber does: an output that feeds
 * several inputs gets a `dataflow/dup` node in between, and an input fed by
 * several outputs gets a `dataflow/firstnonempty` node, which prefers its
 * inputs in the order the file lists their edges. The nodes added have names
 * no graph can use (they hold `~`), and every edge keeps the label of the
 * edge the user wrote, for messages.
 * @module
 */
import { GraphError } from "./errors.ts";
import type { EdgeSpec, GraphSpec, NodeSpec } from "./graph.ts";

/** A graph after the rewrite, with a label per edge for messages. */
export interface RewrittenGraph {
  /** The graph with its fan-out and fan-in nodes. */
  readonly spec: GraphSpec;
  /** Per edge of `spec.edges`: how the user's file names it, `edge 2 ("a.out" -> "b.in")`. */
  readonly labels: readonly string[];
}

interface Labelled {
  edge: EdgeSpec;
  label: string;
  /** Position of the user's edge in the file. */
  order: number;
}

/** A node name for a port's dup or join node: `node~port~dup`. */
function helperName(ref: string, kind: string): string {
  const dot = ref.indexOf(".");
  return `${ref.slice(0, dot)}~${ref.slice(dot + 1).replaceAll(".", "~")}~${kind}`;
}

function groupBy(edges: Labelled[], key: (e: EdgeSpec) => string): Map<string, Labelled[]> {
  const groups = new Map<string, Labelled[]>();
  for (const e of edges) groups.set(key(e.edge), [...(groups.get(key(e.edge)) ?? []), e]);
  return groups;
}

/**
 * Rewrites every fan-out and fan-in of a checked graph file. An edge listed
 * twice is a {@linkcode GraphError}.
 */
export function rewriteFans(file: string, spec: GraphSpec): RewrittenGraph {
  const nodes: Record<string, NodeSpec> = { ...spec.nodes };
  const edges: Labelled[] = (spec.edges ?? []).map((edge, i) => ({
    edge,
    label: `edge ${i + 1} ("${edge.from}" -> "${edge.to}")`,
    order: i,
  }));
  const seen = new Map<string, string>();
  for (const { edge, label } of edges) {
    const key = `${edge.from}\u0000${edge.to}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new GraphError("PLUMB_EDGE_REPEATED", `${file}: ${label} repeats ${first}; remove one`);
    }
    seen.set(key, label);
  }

  const fannedOut: Labelled[] = [];
  for (const [from, group] of groupBy(edges, (e) => e.from)) {
    if (group.length === 1) {
      fannedOut.push(group[0]);
      continue;
    }
    const dup = helperName(from, "dup");
    nodes[dup] = { servlet: "dataflow/dup", args: [String(group.length)] };
    fannedOut.push({
      edge: { from, to: `${dup}.in` },
      label: group[0].label,
      order: group[0].order,
    });
    group.forEach(({ edge, label, order }, k) => {
      fannedOut.push({ edge: { from: `${dup}.out${k}`, to: edge.to }, label, order });
    });
  }
  // A join prefers its inputs in the order the file lists their edges.
  fannedOut.sort((a, b) => a.order - b.order);

  const fannedIn: Labelled[] = [];
  for (const [to, group] of groupBy(fannedOut, (e) => e.to)) {
    if (group.length === 1) {
      fannedIn.push(group[0]);
      continue;
    }
    const join = helperName(to, "join");
    nodes[join] = { servlet: "dataflow/firstnonempty", args: [String(group.length)] };
    group.forEach(({ edge, label, order }, k) => {
      fannedIn.push({ edge: { from: edge.from, to: `${join}.in${k}` }, label, order });
    });
    fannedIn.push({
      edge: { from: `${join}.out`, to },
      label: group[0].label,
      order: group[0].order,
    });
  }

  return {
    spec: { ...spec, nodes, edges: fannedIn.map((e) => e.edge) },
    labels: fannedIn.map((e) => e.label),
  };
}
