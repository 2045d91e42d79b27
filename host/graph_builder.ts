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
import type { DeclaredModule } from "../modules/module.ts";
import type { OptionsInputOf, OptionSpecs } from "../modules/options.ts";
import type { BUILTIN_MODULES } from "../modules/registry.ts";

/** The names of the built-in modules: `tcp`, `unix`, `stdio`, `file`. */
export type BuiltinModuleName = keyof typeof BUILTIN_MODULES;

/**
 * The options of each built-in module, as a graph file writes them, from the
 * module's declaration: the required ones (`unix`'s `path`, `file`'s `input`
 * and `output`) must be given, the others may be.
 */
export type ListenerOptionsMap = {
  [K in BuiltinModuleName]: OptionsInputOf<(typeof BUILTIN_MODULES)[K]["options"]>;
};

/** The options argument of a listener: optional when no option is required. */
export type ListenerOptionsArg<O> = Record<never, never> extends O ? [options?: O] : [options: O];

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
 * import { graph } from "@plumb/plumb/host";
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
   * Adds a listener (`"listeners"`) of a built-in module, with its options
   * typed by the module's declaration: an unknown option or a value of the
   * wrong type is a type error. A module of your own is added with
   * {@linkcode GraphBuilder.listenWith}.
   */
  listen<K extends BuiltinModuleName>(
    module: K,
    ...options: ListenerOptionsArg<ListenerOptionsMap[K]>
  ): this {
    return this.#addListener(module, options[0]);
  }

  /**
   * Adds a listener of a module of your own, given to `serve` in `modules`:
   * the module itself, when it declares its options (its `options` type the
   * second argument), or its name. A built-in module's name is a type error
   * here: {@linkcode GraphBuilder.listen} types its options.
   */
  listenWith<D extends OptionSpecs>(
    module: DeclaredModule<D>,
    ...options: ListenerOptionsArg<OptionsInputOf<D>>
  ): this;
  /** Adds a listener of a module of your own, by the name it is given to `serve` under. */
  listenWith<M extends string>(
    module: M extends BuiltinModuleName ? never : M,
    options?: Readonly<Record<string, unknown>>,
  ): this;
  listenWith(module: string | DeclaredModule<OptionSpecs>, options?: object): this {
    return this.#addListener(typeof module === "string" ? module : module.name, options);
  }

  #addListener(module: string, options: object | undefined): this {
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
