/**
 * The graph file (`graph.json`): its types, and the structural checks that
 * need no servlet loaded. `graph.schema.json` describes the same format.
 * @module
 */
import type { Code } from "./codes.ts";
import { GraphError } from "./errors.ts";
import { isServlet, type Servlet } from "./servlet.ts";
import { didYouMean } from "./suggest.ts";

/** A servlet node: which servlet module, with which arguments. */
export interface NodeSpec {
  /**
   * The servlet: a built-in name (`hello`, `echo`, ...), a path relative to the
   * graph file (`./upper.ts`), or a `file:`, `https:`, `jsr:` or `npm:` specifier.
   * A graph built in code may also give the servlet itself, as made by
   * {@linkcode defineServlet} (a graph file cannot).
   */
  servlet: string | Servlet<unknown>;
  /** Arguments given to the servlet's `init`. */
  args?: string[];
  /**
   * Run the servlet in a Web Worker of its own, with a time limit on each
   * exec: a servlet that computes too long (a loop that never ends) is
   * stopped and fails its request, while the host serves everyone else.
   */
  isolate?: IsolateSpec;
}

/**
 * How an isolated node runs (`"isolate": {"deadline": 2}`): see
 * `docs/deploying.md`, "A servlet in a worker of its own".
 */
export interface IsolateSpec {
  /**
   * Seconds one exec may compute in the node's worker, not counting the time
   * it waits for the host (reads, writes); past them the worker is
   * terminated, the request fails, and a fresh worker starts. Default
   * {@linkcode ISOLATE_LIMITS}`.deadline`.
   */
  deadline?: number;
}

/**
 * The default deadline of an isolated node and the bounds of the ones a graph
 * may give, in seconds.
 *
 * @example
 * ```ts
 * import { ISOLATE_LIMITS } from "./graph.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ISOLATE_LIMITS.deadline, 10);
 * ```
 */
export const ISOLATE_LIMITS: Readonly<{ deadline: number; min: number; max: number }> = Object
  .freeze({ deadline: 10, min: 0.001, max: 3600 });

/** An edge: an output port feeding an input port, each written `node.port`. */
export interface EdgeSpec {
  /** The producing output port, `node.port` (or `node.__null__`, `node.__error__`). */
  from: string;
  /** The consuming input port, `node.port`. */
  to: string;
}

/** A listener: a module that turns outside events into requests. */
export interface ListenerSpec {
  /** The module name, for example `tcp`. */
  module: string;
  /** The module's options, for example `{ "host": "127.0.0.1", "port": 12345 }`. */
  options?: Record<string, unknown>;
}

/** A service graph, as written in a `graph.json` file. */
export interface GraphSpec {
  /** Optional JSON Schema reference, for editors. */
  $schema?: string;
  /** What the service does. */
  description?: string;
  /** The servlet nodes, by node name. */
  nodes: Record<string, NodeSpec>;
  /** The pipes between nodes. */
  edges?: EdgeSpec[];
  /** The input port that receives each request, `node.port`. */
  input: string;
  /** The output port whose bytes are the reply, `node.port`. */
  output: string;
  /** Where requests come from. */
  listeners?: ListenerSpec[];
  /** The graph's own pipe types, each naming the type it extends (`{"chat/line": "text/line"}`). */
  types?: Record<string, string>;
}

/** A `node.port` reference, split. */
export interface PortRef {
  /** The node's name. */
  node: string;
  /** The port's name. */
  port: string;
}

/** What a node's name may be: letters, digits, `_` and `-`, not starting with a digit or `-`. */
export const NODE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const TOP_KEYS = [
  "$schema",
  "description",
  "types",
  "nodes",
  "edges",
  "input",
  "output",
  "listeners",
];
const NODE_KEYS = ["servlet", "args", "isolate"];
const ISOLATE_KEYS = ["deadline"];

/**
 * The most a graph may hold: nodes, edges, listeners, and how deep its
 * objects and arrays may nest. Far beyond any service written by hand; a
 * graph past them (made by a program gone wrong, or by someone testing the
 * host) gets one line saying which, instead of a stack overflow.
 */
export const GRAPH_LIMITS: Readonly<{
  nodes: number;
  edges: number;
  listeners: number;
  depth: number;
}> = Object.freeze({ nodes: 10000, edges: 50000, listeners: 100, depth: 32 });

/**
 * Where a value nests deeper than `max` levels (`nodes.a.args`), or
 * `undefined`. Walked with a stack of its own, so a value of any depth (or
 * one that holds itself) is measured without overflowing the call stack. A
 * servlet given in code is not looked into.
 */
function tooDeep(value: unknown, max: number): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, ""]];
  while (stack.length > 0) {
    const [item, depth, at] = stack.pop()!;
    if (typeof item !== "object" || item === null || isServlet(item)) continue;
    if (depth >= max) return at === "" ? "the top" : at;
    for (const [key, child] of Object.entries(item)) {
      stack.push([child, depth + 1, at === "" ? key : `${at}.${key}`]);
    }
  }
  return undefined;
}
const EDGE_KEYS = ["from", "to"];
const LISTENER_KEYS = ["module", "options"];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(
  file: string,
  where: string,
  value: Record<string, unknown>,
  keys: string[],
  code: Code,
): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new GraphError(
        code,
        `${file}: ${where}: unknown key "${key}"${didYouMean(key, keys)}; allowed: ${
          keys.join(", ")
        }`,
      );
    }
  }
}

/**
 * A value as JSON for a message, cut to `max` characters: a message stays
 * one short line whatever the graph holds.
 *
 * @example
 * ```ts
 * import { shortJson } from "./graph.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(shortJson({ a: 1 }), '{"a":1}');
 * assertEquals(shortJson("x".repeat(100), 10), '"xxxxxxxx...');
 * ```
 */
export function shortJson(value: unknown, max = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value); // a value that holds itself
  }
  return text.length > max ? `${text.slice(0, max - 1)}...` : text;
}

/** Splits `node.port`; throws a {@linkcode GraphError} naming `where` when malformed. */
export function parsePortRef(file: string, where: string, ref: unknown): PortRef {
  if (typeof ref !== "string") {
    throw new GraphError(
      "PLUMB_REF_NOT_STRING",
      `${file}: ${where}: expected a "node.port" string, got ${shortJson(ref)}`,
    );
  }
  const dot = ref.indexOf(".");
  if (dot <= 0 || dot === ref.length - 1) {
    throw new GraphError(
      "PLUMB_REF_MALFORMED",
      `${file}: ${where}: "${ref}" is not a port reference; write it as "node.port", for example "greet.in"`,
    );
  }
  return { node: ref.slice(0, dot), port: ref.slice(dot + 1) };
}

/** Checks a node's `"isolate"`: an object with an optional `deadline` in seconds. */
function checkIsolate(file: string, where: string, isolate: unknown): void {
  const { min, max } = ISOLATE_LIMITS;
  const deadline = isObject(isolate) ? isolate.deadline : undefined;
  if (
    !isObject(isolate) || Object.keys(isolate).some((key) => !ISOLATE_KEYS.includes(key)) ||
    !(deadline === undefined ||
      (typeof deadline === "number" && deadline >= min && deadline <= max))
  ) {
    throw new GraphError(
      "PLUMB_NODE_BAD_ISOLATE",
      `${file}: ${where}: "isolate" must be {"deadline": SECONDS}, SECONDS from ${min} to ${max}; ` +
        `got ${shortJson(isolate)}`,
    );
  }
}

/**
 * Checks the shape of a parsed graph file and returns it typed. Every problem
 * is a {@linkcode GraphError} with one line naming the file and the place.
 */
export function validateGraph(file: string, value: unknown): GraphSpec {
  if (!isObject(value)) {
    throw new GraphError(
      "PLUMB_GRAPH_NOT_OBJECT",
      `${file}: a graph file holds one JSON object with "nodes", "input" and "output"`,
    );
  }
  checkKeys(file, "graph", value, TOP_KEYS, "PLUMB_GRAPH_UNKNOWN_KEY");
  const deep = tooDeep(value, GRAPH_LIMITS.depth);
  if (deep !== undefined) {
    throw new GraphError(
      "PLUMB_GRAPH_TOO_DEEP",
      `${file}: nested more than ${GRAPH_LIMITS.depth} levels deep at ${
        deep.length > 80 ? `${deep.slice(0, 80)}...` : deep
      }; a graph is a few levels of objects and arrays`,
    );
  }
  for (const what of ["nodes", "edges", "listeners"] as const) {
    const items = value[what];
    const count = Array.isArray(items)
      ? items.length
      : isObject(items)
      ? Object.keys(items).length
      : 0;
    if (count > GRAPH_LIMITS[what]) {
      throw new GraphError(
        "PLUMB_GRAPH_TOO_LARGE",
        `${file}: "${what}" has ${count} entries, more than ${GRAPH_LIMITS[what]}; ` +
          `split the service into several graphs`,
      );
    }
  }
  if (
    value.types !== undefined &&
    !(isObject(value.types) && Object.values(value.types).every((t) => typeof t === "string"))
  ) {
    throw new GraphError(
      "PLUMB_TYPES_NOT_OBJECT",
      `${file}: "types" must map each type name to the type it extends, like {"chat/line": "text/line"}`,
    );
  }
  const nodes = value.nodes;
  if (!isObject(nodes) || Object.keys(nodes).length === 0) {
    throw new GraphError(
      "PLUMB_GRAPH_NO_NODES",
      `${file}: "nodes" must be an object with at least one node, for example ` +
        `{"greet": {"servlet": "hello"}}`,
    );
  }
  for (const [name, node] of Object.entries(nodes)) {
    const where = `node "${name}"`;
    if (!NODE_NAME.test(name)) {
      throw new GraphError(
        "PLUMB_NODE_BAD_NAME",
        `${file}: ${where}: a node name is letters, digits, "_" and "-", starting with a letter or "_"`,
      );
    }
    if (!isObject(node)) {
      throw new GraphError(
        "PLUMB_NODE_NOT_OBJECT",
        `${file}: ${where}: expected an object like {"servlet": "hello"}`,
      );
    }
    checkKeys(file, where, node, NODE_KEYS, "PLUMB_NODE_UNKNOWN_KEY");
    if ((typeof node.servlet !== "string" || node.servlet === "") && !isServlet(node.servlet)) {
      throw new GraphError(
        "PLUMB_NODE_NO_SERVLET",
        `${file}: ${where}: "servlet" must name a servlet module, for example "hello"` +
          ` (in code, it may also be a servlet made with defineServlet)`,
      );
    }
    if (
      node.args !== undefined &&
      !(Array.isArray(node.args) && node.args.every((a) => typeof a === "string"))
    ) {
      throw new GraphError(
        "PLUMB_NODE_BAD_ARGS",
        `${file}: ${where}: "args" must be an array of strings`,
      );
    }
    if (node.isolate !== undefined) checkIsolate(file, where, node.isolate);
  }
  if (value.edges !== undefined && !Array.isArray(value.edges)) {
    throw new GraphError(
      "PLUMB_EDGES_NOT_ARRAY",
      `${file}: "edges" must be an array of {"from": "a.out", "to": "b.in"}`,
    );
  }
  for (const [i, edge] of (value.edges ?? []).entries()) {
    const where = `edge ${i + 1}`;
    if (!isObject(edge)) {
      throw new GraphError(
        "PLUMB_EDGE_NOT_OBJECT",
        `${file}: ${where}: expected {"from": "node.port", "to": "node.port"}`,
      );
    }
    checkKeys(file, where, edge, EDGE_KEYS, "PLUMB_EDGE_UNKNOWN_KEY");
    parsePortRef(file, `${where} "from"`, edge.from);
    parsePortRef(file, `${where} "to"`, edge.to);
  }
  for (const key of ["input", "output"]) {
    if (value[key] === undefined) {
      throw new GraphError(
        key === "input" ? "PLUMB_GRAPH_NO_INPUT" : "PLUMB_GRAPH_NO_OUTPUT",
        `${file}: the graph has no "${key}"; name the port that ${
          key === "input" ? "receives each request" : "carries the reply"
        }, for example "${key}": "greet.${key === "input" ? "in" : "out"}"`,
      );
    }
    parsePortRef(file, `"${key}"`, value[key]);
  }
  if (value.listeners !== undefined && !Array.isArray(value.listeners)) {
    throw new GraphError(
      "PLUMB_LISTENERS_NOT_ARRAY",
      `${file}: "listeners" must be an array of {"module": "tcp", "options": {...}}`,
    );
  }
  for (const [i, listener] of (value.listeners ?? []).entries()) {
    const where = `listener ${i + 1}`;
    if (!isObject(listener)) {
      throw new GraphError(
        "PLUMB_LISTENER_NOT_OBJECT",
        `${file}: ${where}: expected {"module": "tcp", "options": {...}}`,
      );
    }
    checkKeys(file, where, listener, LISTENER_KEYS, "PLUMB_LISTENER_UNKNOWN_KEY");
    if (typeof listener.module !== "string") {
      throw new GraphError(
        "PLUMB_LISTENER_NO_MODULE",
        `${file}: ${where}: "module" must name a module, for example "tcp"`,
      );
    }
    if (listener.options !== undefined && !isObject(listener.options)) {
      throw new GraphError(
        "PLUMB_LISTENER_BAD_OPTIONS",
        `${file}: ${where}: "options" must be an object`,
      );
    }
  }
  return value as unknown as GraphSpec;
}

/**
 * Parses graph file text. A JSON syntax error names the file and the place.
 */
export function parseGraph(file: string, text: string): GraphSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8 quotes the text around the error, newlines and all: kept on one line.
    const why = (error as Error).message.replace(/\s*\n\s*/g, " ");
    throw new GraphError("PLUMB_FILE_NOT_JSON", `${file}: not valid JSON: ${why}`);
  }
  return validateGraph(file, value);
}
