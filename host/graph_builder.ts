/**
 * A typed builder for service graphs: the same graph a `graph.json` file
 * describes, written in code, with the node names of port references checked
 * by the compiler and each built-in module's options typed.
 * @module
 */
import { GraphError } from "../kernel/errors.ts";
import type { EdgeSpec, GraphSpec, ListenerSpec, NodeSpec } from "../kernel/graph.ts";
import { validateGraph } from "../kernel/graph.ts";
import type { Servlet } from "../kernel/servlet.ts";
import type { FileOptions } from "../modules/file.ts";
import type { StdioOptions } from "../modules/stdio.ts";
import type { TcpOptions } from "../modules/tcp.ts";
import type { UnixOptions } from "../modules/unix.ts";

/** The options of each built-in module, as a graph file writes them: each one optional. */
export interface ListenerOptionsMap {
  /** `tcp`: host, port, time limits, connection limits, access rules, logs. */
  tcp: Partial<TcpOptions>;
  /** `unix`: the socket path, time limits, connection limits, logs. */
  unix: Partial<UnixOptions>;
  /** `stdio`: standard input and output as one connection. */
  stdio: Partial<StdioOptions>;
  /** `file`: a request per line of an input file, replies appended to an output file. */
  file: Partial<FileOptions>;
}

/** A port of one of the nodes `N`, written `node.port`: `"greet.in"`. */
export type PortRef<N extends string> = `${N}.${string}`;

/**
 * Builds a {@linkcode GraphSpec} step by step. `N` is the union of the node
 * names added so far, so an edge or port naming a node that was never added
 * is a type error. {@linkcode GraphBuilder.build} applies the checks a graph
 * file gets when it is read; `serve` and `checkGraph` then load the servlets
 * and check ports, directions, cycles and types, as for a file.
 *
 * @example
 * ```ts
 * import { graph } from "./graph_builder.ts";
 *
 * const spec = graph("upper-case greeter")
 *   .node("split", "line")
 *   .node("shout", "transform", ["upper"])
 *   .node("greet", "hello")
 *   .edge("split.out", "shout.in")
 *   .edge("shout.out", "greet.in")
 *   .input("split.in")
 *   .output("greet.out")
 *   .listen("tcp", { host: "127.0.0.1", port: 0 })
 *   .build();
 * console.log(Object.keys(spec.nodes)); // ["split", "shout", "greet"]
 * ```
 */
export class GraphBuilder<N extends string = never> {
  readonly #description: string | undefined;
  readonly #types: Record<string, string> = {};
  readonly #nodes: Record<string, NodeSpec> = {};
  readonly #edges: EdgeSpec[] = [];
  readonly #listeners: ListenerSpec[] = [];
  #input: string | undefined;
  #output: string | undefined;

  /**
   * Starts an empty graph; {@linkcode graph} does the same.
   * @param description what the service does (the graph's `description`)
   */
  constructor(description?: string) {
    this.#description = description;
  }

  /**
   * Adds a node (`"nodes": {name: {servlet, args}}`).
   *
   * @param name the node's name: letters, digits, `_` and `-`
   * @param servlet a built-in name (`"hello"`), a path relative to the base
   *   URL (`"./upper.ts"`), a `file:`/`https:`/`jsr:`/`npm:` specifier, or a
   *   servlet made with `defineServlet`
   * @param args the arguments its `init` receives
   * @throws {GraphError} when a node of that name was added already
   */
  node<const M extends string, C>(
    name: M,
    servlet: string | Servlet<C>,
    args?: readonly string[],
  ): GraphBuilder<N | M> {
    if (Object.hasOwn(this.#nodes, name)) {
      throw new GraphError(
        "PLUMB_NODE_TWICE",
        `graph: node "${name}" is added twice; node names are unique`,
      );
    }
    const node: NodeSpec = { servlet: servlet as string | Servlet<unknown> };
    if (args !== undefined) node.args = [...args];
    this.#nodes[name] = node;
    return this as GraphBuilder<N | M>;
  }

  /** Adds a pipe from an output port to an input port (`"edges"`). */
  edge(from: PortRef<N>, to: PortRef<N>): this {
    this.#edges.push({ from, to });
    return this;
  }

  /** Sets the port that receives each request (`"input"`). */
  input(port: PortRef<N>): this {
    this.#input = port;
    return this;
  }

  /** Sets the port whose bytes are the reply (`"output"`). */
  output(port: PortRef<N>): this {
    this.#output = port;
    return this;
  }

  /**
   * Adds a listener (`"listeners"`): a built-in module with its typed
   * options, or a module of your own given to `serve` in `modules`.
   */
  listen<K extends keyof ListenerOptionsMap>(module: K, options?: ListenerOptionsMap[K]): this;
  /** Adds a listener of a module of your own, given to `serve` in `modules`. */
  listen(module: string, options?: Record<string, unknown>): this;
  listen(module: string, options?: object): this {
    const listener: ListenerSpec = { module };
    if (options !== undefined) listener.options = { ...options };
    this.#listeners.push(listener);
    return this;
  }

  /** Declares a pipe type of the graph that extends another (`"types"`). */
  type(name: string, base: string): this {
    this.#types[name] = base;
    return this;
  }

  /**
   * The graph, checked as a graph file is when it is read (names, port
   * references, `input` and `output` present). Keys appear in the order a
   * graph file writes them, and only when set, so the result equals the
   * parsed file of the same graph.
   *
   * @throws {GraphError} naming the node, edge or listener at fault
   */
  build(): GraphSpec {
    const spec: Record<string, unknown> = {};
    if (this.#description !== undefined) spec.description = this.#description;
    if (Object.keys(this.#types).length > 0) spec.types = { ...this.#types };
    spec.nodes = Object.fromEntries(
      Object.entries(this.#nodes).map(([name, node]) => [name, { ...node }]),
    );
    if (this.#edges.length > 0) spec.edges = this.#edges.map((e) => ({ ...e }));
    if (this.#input !== undefined) spec.input = this.#input;
    if (this.#output !== undefined) spec.output = this.#output;
    if (this.#listeners.length > 0) {
      spec.listeners = this.#listeners.map((l) =>
        l.options === undefined ? { ...l } : { ...l, options: { ...l.options } }
      );
    }
    return validateGraph("graph", spec);
  }
}

/**
 * Starts a graph in code: see {@linkcode GraphBuilder}.
 * @param description what the service does
 */
export function graph(description?: string): GraphBuilder {
  return new GraphBuilder(description);
}
