/**
 * Checks a loaded graph (ports, directions, ports used twice, cycles) and
 * compiles it into the plan the scheduler runs for every request.
 * @module
 */
import { GraphError } from "./errors.ts";
import { DESCRIPTOR_MASK, OUTPUT, SHADOW } from "./flags.ts";
import { type GraphSpec, parsePortRef, type PortRef } from "./graph.ts";
import { type LoadedNode, portNamed, SIGNAL_PORTS } from "./loader.ts";
import type { Port } from "./servlet.ts";
import { didYouMean } from "./suggest.ts";
import { isGeneric, TypeTable } from "./pipe_types.ts";
import type { MemPipe, MemPipeOptions } from "./mem_pipe.ts";

/** A port slot not connected to anything: inputs read empty, outputs discard. */
export const UNBOUND = -1;
/** A port slot bound to the request's input handle (the module's). */
export const GRAPH_INPUT = -2;
/** A port slot bound to the request's output handle (the module's). */
export const GRAPH_OUTPUT = -3;

/** A node as the scheduler runs it. */
export interface PlanNode extends LoadedNode {
  /** Index of the node in the plan. */
  readonly index: number;
  /**
   * Per slot (declared ports by descriptor, then `__null__`, then `__error__`):
   * an edge index, or {@linkcode UNBOUND}, {@linkcode GRAPH_INPUT}, {@linkcode GRAPH_OUTPUT}.
   */
  readonly slots: readonly number[];
  /** Edges that feed this node's inputs. */
  readonly inputEdges: readonly number[];
  /** Edges fed by this node's outputs, including signal outputs. */
  readonly outputEdges: readonly number[];
  /** For each output that has shadows: its descriptor and its shadows' descriptors. */
  readonly tees: readonly Tee[];
  /** Each port's type once generics are bound (undefined: untyped, or a generic left unbound). */
  readonly types: readonly (string | undefined)[];
  /**
   * `"dup"` or `"join"` for a node the loader added for a fan-out or a fan-in,
   * which the scheduler runs itself (`kernel/edge_handles.ts`) instead of its servlet.
   */
  readonly fan?: "dup" | "join";
}

/** An output and the shadow ports that carry its bytes. */
export interface Tee {
  /** The target port's descriptor. */
  readonly target: number;
  /** The shadows' descriptors. */
  readonly shadows: readonly number[];
  /** The shadows' ports, in the same order (made once, not per request). */
  readonly shadowPorts?: readonly Port[];
}

/** The tees of a node's ports: every SHADOW grouped under its target. */
export function teesOf(ports: readonly Port[]): Tee[] {
  const byTarget = new Map<number, number[]>();
  for (const port of ports) {
    if (!(port.flags & SHADOW)) continue;
    const target = port.flags & DESCRIPTOR_MASK;
    byTarget.set(target, [...(byTarget.get(target) ?? []), port.id]);
  }
  return [...byTarget].map(([target, shadows]) => ({
    target,
    shadows,
    shadowPorts: shadows.map((id) => ports[id]),
  }));
}

/** An edge as the scheduler runs it. */
export interface PlanEdge {
  /** Producing node index. */
  readonly from: number;
  /** Producing slot of that node. */
  readonly fromSlot: number;
  /** Consuming node index. */
  readonly to: number;
  /** Consuming port descriptor of that node. */
  readonly toPort: number;
  /**
   * The node whose exec writes the edge's pipe: `from`, or for a branch of a
   * fan-out the node that writes the fanned-out output.
   */
  readonly writer: number;
  /**
   * The node whose exec reads the edge's pipe: `to`, or for a branch of a
   * fan-in the node that reads the joined input.
   */
  readonly reader: number;
  /**
   * The edge has no pipe of its own: it feeds a fan-out node (its writer
   * writes the branches' pipes) or leaves a fan-in node (its reader reads the
   * branches' pipes). The fan node's index, or -1 for an edge with a pipe.
   */
  readonly fan: number;
}

/** A checked graph, ready to serve. */
export interface Plan {
  /** The graph file, for messages. */
  readonly file: string;
  /** The nodes, in topological order. */
  readonly nodes: readonly PlanNode[];
  /** The edges. */
  readonly edges: readonly PlanEdge[];
  /** The node bound to the graph input. */
  readonly entry: number;
  /** The port bound to the graph input. */
  readonly inputPort: Port;
  /** The port bound to the graph output. */
  readonly outputPort: Port;
  /** True when the graph is one node with no edges (the scheduler's fast path). */
  readonly single: boolean;
  /**
   * Makes the pipe of edge `edge` for one request, when the host counts what
   * edges carry (`--admin`); absent, the scheduler makes a plain `MemPipe`.
   */
  readonly newPipe?: (edge: number, options: MemPipeOptions) => MemPipe;
}

/**
 * Whether a node is one the loader added for a fan-out (`a~out~dup`) or a
 * fan-in (`b~in~join`): only the loader makes names with `~`.
 */
function fanOf(node: LoadedNode): "dup" | "join" | undefined {
  if (!node.name.includes("~")) return undefined;
  if (node.specifier === "dataflow/dup") return "dup";
  return node.specifier === "dataflow/firstnonempty" ? "join" : undefined;
}

/** Slot of the `__null__` signal output of a node with `n` declared ports. */
export function nullSlot(n: number): number {
  return n;
}
/** Slot of the `__error__` signal output of a node with `n` declared ports. */
export function errorSlot(n: number): number {
  return n + 1;
}

interface Resolved {
  node: LoadedNode;
  slot: number;
  output: boolean;
}

function resolve(
  file: string,
  where: string,
  ref: PortRef,
  byName: Map<string, LoadedNode>,
  want: "input" | "output",
): Resolved {
  const text = `${ref.node}.${ref.port}`;
  const node = byName.get(ref.node);
  if (node === undefined) {
    throw new GraphError(
      "PLUMB_REF_NO_NODE",
      `${file}: ${where} "${text}": no node "${ref.node}"${didYouMean(ref.node, byName.keys())}`,
    );
  }
  const names = [...node.ports.map((p) => p.name), ...(want === "output" ? SIGNAL_PORTS : [])];
  const signal = SIGNAL_PORTS.indexOf(ref.port);
  const port = node.ports.find((p) => portNamed(p, ref.port));
  if (port === undefined && signal < 0) {
    const aliases = node.ports.flatMap((p) => p.alias === undefined ? [] : [p.alias]);
    const listed = node.ports.map((p) => p.alias === undefined ? p.name : `${p.name} (${p.alias})`);
    if (want === "output") listed.push(...SIGNAL_PORTS);
    throw new GraphError(
      "PLUMB_REF_NO_PORT",
      `${file}: ${where} "${text}": node "${node.name}" has no port "${ref.port}"${
        didYouMean(ref.port, [...names, ...aliases])
      }; its ports are ${listed.join(", ") || "none"}`,
    );
  }
  const output = port === undefined || (port.flags & OUTPUT) !== 0;
  if (output !== (want === "output")) {
    throw new GraphError(
      "PLUMB_REF_WRONG_DIRECTION",
      `${file}: ${where} "${text}": port "${ref.port}" of node "${node.name}" is an ${
        output ? "output" : "input"
      } port, but this place needs an ${want} port`,
    );
  }
  return { node, slot: port ? port.id : node.ports.length + signal, output };
}

/**
 * Checks the loaded graph and compiles it. Every problem is one
 * {@linkcode GraphError} line naming the file, the node and the port.
 */
export function compilePlan(
  file: string,
  graph: GraphSpec,
  loaded: readonly LoadedNode[],
  labels: readonly string[] = [],
): Plan {
  const byName = new Map(loaded.map((n) => [n.name, n]));
  const inputRef = parsePortRef(file, `"input"`, graph.input);
  const outputRef = parsePortRef(file, `"output"`, graph.output);
  const input = resolve(file, `"input"`, inputRef, byName, "input");
  const output = resolve(file, `"output"`, outputRef, byName, "output");
  if (output.slot >= output.node.ports.length) {
    throw new GraphError(
      "PLUMB_REF_SIGNAL_OUTPUT",
      `${file}: "output" "${graph.output}": a signal port cannot be the graph output; ` +
        `name a declared output port`,
    );
  }
  // Who uses each slot: "node.slot" -> description of the first use.
  const used = new Map<string, string>();
  const claim = (r: Resolved, description: string, where: string): void => {
    const key = `${r.node.name}\u0000${r.slot}`;
    const first = used.get(key);
    if (first !== undefined) {
      const portName = r.slot < r.node.ports.length
        ? r.node.ports[r.slot].name
        : SIGNAL_PORTS[r.slot - r.node.ports.length];
      throw new GraphError(
        "PLUMB_REF_USED_TWICE",
        `${file}: ${where}: port "${portName}" of node "${r.node.name}" is used twice ` +
          `(also by ${first}); the graph's ${r.output ? "output" : "input"} port cannot also be ` +
          `the end of an edge`,
      );
    }
    used.set(key, description);
  };
  claim(input, `"input"`, `"input" "${graph.input}"`);
  claim(output, `"output"`, `"output" "${graph.output}"`);

  const raw: { from: Resolved; to: Resolved; text: string }[] = [];
  for (const [i, edge] of (graph.edges ?? []).entries()) {
    const text = labels[i] ?? `edge ${i + 1} ("${edge.from}" -> "${edge.to}")`;
    const from = resolve(
      file,
      `${text} "from"`,
      parsePortRef(file, text, edge.from),
      byName,
      "output",
    );
    const to = resolve(file, `${text} "to"`, parsePortRef(file, text, edge.to), byName, "input");
    claim(from, text, text);
    claim(to, text, text);
    raw.push({ from, to, text });
  }

  const order = topologicalOrder(file, loaded, raw);
  const types = checkTypes(
    file,
    new TypeTable(
      file,
      graph.types,
      loaded.filter((n) => Object.keys(n.pipeTypes).length > 0).map((n) => ({
        node: n.name,
        types: n.pipeTypes,
      })),
    ),
    order,
    raw,
  );
  const index = new Map(order.map((n, i) => [n.name, i]));
  const fans = order.map(fanOf);
  const fanEdges = raw.map((e) => ({
    from: index.get(e.from.node.name)!,
    fromSlot: e.from.slot,
    to: index.get(e.to.node.name)!,
    toPort: e.to.slot,
  }));
  const edges: PlanEdge[] = fanEdges.map((e) => ({
    ...e,
    // A fan-out's producer writes its branches, a fan-in's consumer reads them.
    writer: fans[e.from] === "dup" ? fanEdges.find((into) => into.to === e.from)!.from : e.from,
    reader: fans[e.to] === "join" ? fanEdges.find((out) => out.from === e.to)!.to : e.to,
    fan: fans[e.to] === "dup" ? e.to : fans[e.from] === "join" ? e.from : -1,
  }));
  // Each node's input and output edges, in the file's order, found in one pass.
  const inputEdgesOf: number[][] = order.map(() => []);
  const outputEdgesOf: number[][] = order.map(() => []);
  edges.forEach((e, k) => {
    inputEdgesOf[e.to].push(k);
    outputEdgesOf[e.from].push(k);
  });
  const nodes: PlanNode[] = order.map((node, i) => {
    const slots: number[] = new Array(node.ports.length + SIGNAL_PORTS.length).fill(UNBOUND);
    if (node === input.node) slots[input.slot] = GRAPH_INPUT;
    if (node === output.node) slots[output.slot] = GRAPH_OUTPUT;
    const inputEdges = inputEdgesOf[i];
    const outputEdges = outputEdgesOf[i];
    for (const k of inputEdges) slots[edges[k].toPort] = k;
    for (const k of outputEdges) slots[edges[k].fromSlot] = k;
    // A join takes its inputs in the order of its ports (the order of the file's edges).
    if (fans[i] === "join") inputEdges.sort((a, b) => edges[a].toPort - edges[b].toPort);
    return {
      ...node,
      index: i,
      slots,
      inputEdges,
      outputEdges,
      tees: teesOf(node.ports),
      types: types.get(node)!,
      ...(fans[i] === undefined ? {} : { fan: fans[i] }),
    };
  });
  return {
    file,
    nodes,
    edges,
    entry: index.get(input.node.name)!,
    inputPort: input.node.ports[input.slot],
    outputPort: output.node.ports[output.slot],
    single: nodes.length === 1 && edges.length === 0,
  };
}

/**
 * Checks the declared port types and every edge's conversion, binding the
 * generic ports in topological order (a generic input takes the nearest type
 * all its producers convert to). Returns each node's resolved port types.
 */
function checkTypes(
  file: string,
  table: TypeTable,
  order: readonly LoadedNode[],
  edges: readonly { from: Resolved; to: Resolved; text: string }[],
): Map<LoadedNode, (string | undefined)[]> {
  for (const node of order) {
    for (const port of node.ports) {
      if (port.type === undefined || isGeneric(port.type) || table.has(port.type)) continue;
      throw new GraphError(
        "PLUMB_TYPE_UNKNOWN",
        `${file}: node "${node.name}": port "${port.name}" has unknown type "${port.type}"${
          didYouMean(port.type, table.names())
        }; declare it in the graph's "types", for example {"${port.type}": "bytes"}`,
      );
    }
  }
  // A join the loader added for a fan-in: each producer must convert to what
  // the join feeds, and a mismatch is reported on that producer's own edge.
  const joinFeeds = new Map<LoadedNode, { type: string; to: string }>();
  for (const e of edges) {
    const type = e.to.node.ports[e.to.slot].type;
    if (e.from.node.name.endsWith("~join") && type !== undefined && !isGeneric(type)) {
      joinFeeds.set(e.from.node, {
        type,
        to: `${e.to.node.name}.${e.to.node.ports[e.to.slot].name}`,
      });
    }
  }
  // Each node's incoming edges, in the file's order.
  const incoming = new Map<LoadedNode, (typeof edges)[number][]>();
  for (const e of edges) {
    const list = incoming.get(e.to.node);
    if (list === undefined) incoming.set(e.to.node, [e]);
    else list.push(e);
  }
  const resolved = new Map<LoadedNode, (string | undefined)[]>();
  for (const node of order) {
    const bound = new Map<string, string>();
    for (const e of incoming.get(node) ?? []) {
      const producer = e.from.node;
      const produced = e.from.slot < producer.ports.length
        ? resolved.get(producer)?.[e.from.slot]
        : undefined;
      const feeds = joinFeeds.get(node);
      if (produced !== undefined && feeds !== undefined && !table.converts(produced, feeds.type)) {
        throw new GraphError(
          "PLUMB_TYPE_MISMATCH",
          `${file}: ${e.text}: type "${produced}" of "${producer.name}.${
            producer.ports[e.from.slot].name
          }" does not convert to type "${feeds.type}" of "${feeds.to}"`,
        );
      }
      const wanted = node.ports[e.to.slot].type;
      if (produced === undefined || wanted === undefined) continue;
      if (isGeneric(wanted)) {
        const before = bound.get(wanted);
        bound.set(wanted, before === undefined ? produced : table.common(before, produced));
      } else if (!table.converts(produced, wanted)) {
        // A dup or join the loader added is named node~port~kind: name the port the user wrote.
        const [origin, via, kind] = producer.name.split("~");
        const from = kind === undefined
          ? `"${producer.name}.${producer.ports[e.from.slot].name}"`
          : `"${origin}.${via}" (through the ${
            kind === "dup" ? "dup for its fan-out" : "join for a fan-in"
          })`;
        const to = `${node.name}.${node.ports[e.to.slot].name}`;
        throw new GraphError(
          "PLUMB_TYPE_MISMATCH",
          `${file}: ${e.text}: type "${produced}" of ${from} does not convert to type ` +
            `"${wanted}" of "${to}"`,
        );
      }
    }
    resolved.set(node, node.ports.map((p) => isGeneric(p.type) ? bound.get(p.type) : p.type));
  }
  return resolved;
}

function topologicalOrder(
  file: string,
  loaded: readonly LoadedNode[],
  edges: readonly { from: Resolved; to: Resolved; text: string }[],
): LoadedNode[] {
  // Each node's outgoing edges, in the file's order.
  const outgoing = new Map<LoadedNode, { from: Resolved; to: Resolved }[]>();
  for (const e of edges) {
    const list = outgoing.get(e.from.node);
    if (list === undefined) outgoing.set(e.from.node, [e]);
    else list.push(e);
  }
  const state = new Map<LoadedNode, "visiting" | "done">();
  const order: LoadedNode[] = [];
  /** The edges of the path being walked, as messages name them. */
  const path: string[] = [];
  // Depth first, with a stack of its own (not the call stack): a graph of any
  // length is walked without overflowing it.
  for (const root of loaded) {
    if (state.has(root)) continue;
    state.set(root, "visiting");
    const frames = [{ node: root, next: 0 }];
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const list = outgoing.get(frame.node) ?? [];
      if (frame.next === list.length) {
        state.set(frame.node, "done");
        order.push(frame.node);
        frames.pop();
        if (frames.length > 0) path.pop();
        continue;
      }
      const e = list[frame.next++];
      const node = frame.node;
      const to = e.to.node;
      const s = state.get(to);
      if (s === "done") continue;
      const fromPort = e.from.slot < node.ports.length
        ? node.ports[e.from.slot].name
        : SIGNAL_PORTS[e.from.slot - node.ports.length];
      path.push(`"${node.name}.${fromPort}" -> "${to.name}.${to.ports[e.to.slot].name}"`);
      if (s === "visiting") {
        const start = path.findIndex((t) => t.startsWith(`"${to.name}.`));
        throw new GraphError(
          "PLUMB_GRAPH_CYCLE",
          `${file}: cycle through node "${to.name}": ${path.slice(start).join(", ")}; ` +
            `a graph must not feed a node's output back into its own input`,
        );
      }
      state.set(to, "visiting");
      frames.push({ node: to, next: 0 });
    }
  }
  return order.reverse();
}
