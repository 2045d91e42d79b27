/**
 * Loads a graph's servlets with dynamic `import()` and runs each node's `init`,
 * collecting the ports it declares.
 * @module
 */
import type { Code } from "./codes.ts";
import { GraphError, lineOf, PlumbError } from "./errors.ts";
import {
  ASYNC,
  DESCRIPTOR_MASK,
  DISABLED,
  INPUT,
  KNOWN_FLAGS,
  OUTPUT,
  PERSIST,
  SHADOW,
} from "./flags.ts";
import { type GraphSpec, shortJson } from "./graph.ts";
import { filePath } from "./file_path.ts";
import { createLogger, type Logger, type LogLevel } from "./log.ts";
import {
  type InitEnv,
  isServlet,
  type OutputOptions,
  type PipeType,
  type Port,
  type Servlet,
} from "./servlet.ts";
import { checkBucketName, type KeyValueStore, memoryStore, type StoreBackend } from "./store.ts";

/** The names of the signal outputs every node has. */
export const SIGNAL_PORTS: readonly string[] = ["__null__", "__error__"];

/** A node whose servlet is loaded and whose `init` has run. */
export interface LoadedNode {
  /** The node's name. */
  readonly name: string;
  /** The servlet specifier as the graph wrote it. */
  readonly specifier: string;
  /** The servlet. */
  readonly servlet: Servlet<unknown>;
  /** What `init` returned. */
  readonly ctx: unknown;
  /** The declared ports, by descriptor. */
  readonly ports: readonly Port[];
  /**
   * The pipe types its ports were declared with ({@linkcode PipeType}s):
   * type name to the name of the type it extends, for the graph check.
   */
  readonly pipeTypes: Readonly<Record<string, string>>;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}

/** True when `port` answers to `name`, by its name or its alias. */
export function portNamed(port: Port, name: string): boolean {
  return port.name === name || port.alias === name;
}

function checkPortName(
  ports: readonly Port[],
  where: string,
  name: unknown,
  what: "name" | "alias",
): asserts name is string {
  const alias = what === "alias";
  if (typeof name !== "string" || name === "") {
    throw new PlumbError(
      alias ? "PLUMB_PORT_ALIAS_NO_NAME" : "PLUMB_PORT_NO_NAME",
      `${where}: a port ${what} must be a non-empty string`,
    );
  }
  if (SIGNAL_PORTS.includes(name)) {
    throw new PlumbError(
      alias ? "PLUMB_PORT_ALIAS_RESERVED" : "PLUMB_PORT_RESERVED",
      `${where}: port ${what} "${name}" is reserved for the kernel's signal output`,
    );
  }
  const taken = ports.find((p) => portNamed(p, name));
  if (taken === undefined) return;
  if (taken.name === name && !alias) {
    throw new PlumbError(
      "PLUMB_PORT_TWICE",
      `${where}: port "${name}" is declared twice; port names are unique in a node`,
    );
  }
  throw new PlumbError(
    alias ? "PLUMB_PORT_ALIAS_TAKEN" : "PLUMB_PORT_NAME_TAKEN",
    `${where}: port ${what} "${name}" is taken by port "${taken.name}"; ` +
      `port names and aliases are unique in a node`,
  );
}

function definePort(
  ports: Port[],
  where: string,
  name: unknown,
  flags: unknown,
  type: unknown,
  alias?: unknown,
): Port {
  checkPortName(ports, where, name, "name");
  if (alias !== undefined) checkPortName(ports, where, alias, "alias");
  if (
    typeof flags !== "number" || !Number.isInteger(flags) ||
    (flags & ~(KNOWN_FLAGS | DESCRIPTOR_MASK))
  ) {
    throw new PlumbError(
      "PLUMB_PORT_BAD_FLAGS",
      `${where}: port "${name}" has invalid flags ${
        String(flags)
      }; combine the constants of mod.ts`,
    );
  }
  if (!(flags & OUTPUT) && (flags & ~PERSIST)) {
    throw new PlumbError(
      "PLUMB_PORT_INPUT_FLAGS",
      `${where}: input port "${name}" may carry only PERSIST; ASYNC, SHADOW and DISABLED are for outputs`,
    );
  }
  if ((flags & DESCRIPTOR_MASK) && !(flags & SHADOW)) {
    throw new PlumbError(
      "PLUMB_PORT_STRAY_TARGET",
      `${where}: port "${name}": the low 16 bits of the flags name a SHADOW target; ` +
        `set them only together with SHADOW`,
    );
  }
  if ((flags & DISABLED) && !(flags & SHADOW)) {
    throw new PlumbError(
      "PLUMB_PORT_DISABLED_NOT_SHADOW",
      `${where}: port "${name}": DISABLED applies only to SHADOW outputs`,
    );
  }
  if (flags & SHADOW) {
    const target = ports[flags & DESCRIPTOR_MASK];
    if (target === undefined || (target.flags & SHADOW)) {
      throw new PlumbError(
        "PLUMB_PORT_BAD_SHADOW_TARGET",
        `${where}: port "${name}": a SHADOW names its target in the low 16 bits: the descriptor ` +
          `of a port declared before it (an input or an output), not itself a shadow (got ${
            flags & DESCRIPTOR_MASK
          })`,
      );
    }
  }
  if (type !== undefined && typeof type !== "string") {
    throw new PlumbError(
      "PLUMB_PORT_BAD_TYPE",
      `${where}: port "${name}": a type must be a string such as "text/line"`,
    );
  }
  const port: Port = Object.freeze(
    alias === undefined
      ? { id: ports.length, name, flags, type }
      : { id: ports.length, name, alias, flags, type },
  );
  ports.push(port);
  return port;
}

/**
 * The sugar of {@linkcode InitEnv.input} and {@linkcode InitEnv.output}:
 * options to the wire form's flag word and type name, registering a
 * {@linkcode PipeType} with the node.
 */
function declarePort(
  ports: Port[],
  types: Record<string, string>,
  where: string,
  name: string,
  output: boolean,
  options: OutputOptions<unknown> | undefined,
): Port {
  const { type, persist, alias, shadowOf, disabled, async } = options ?? {};
  let flags = (output ? OUTPUT : INPUT) | (persist ? PERSIST : 0);
  if (async) flags |= ASYNC;
  if (shadowOf !== undefined) {
    if (ports[shadowOf?.id] !== shadowOf || (shadowOf.flags & SHADOW)) {
      throw new PlumbError(
        "PLUMB_PORT_BAD_SHADOW_OF",
        `${where}: port "${name}": shadowOf must be a port this node declared before it ` +
          `(an input or an output), not itself a shadow`,
      );
    }
    flags |= SHADOW | shadowOf.id;
  }
  if (disabled) flags |= DISABLED;
  let typeName: unknown = type ?? shadowOf?.type;
  const marker = type as PipeType<unknown> | undefined;
  if (typeof marker?.name === "string" && typeof marker.extends === "string") {
    typeName = marker.name;
    const known = types[marker.name];
    if (known !== undefined && known !== marker.extends) {
      throw new PlumbError(
        "PLUMB_PORT_TYPE_CONFLICT",
        `${where}: port "${name}": type "${marker.name}" extends "${marker.extends}" here, ` +
          `but "${known}" at another port of the node`,
      );
    }
    types[marker.name] = marker.extends;
  }
  return definePort(ports, where, name, flags, typeName, alias);
}

/** How messages and logs name a servlet given as an object rather than a specifier. */
export const IN_CODE_SERVLET = "servlet in code";

/**
 * Resolves a node's `servlet` specifier: to a servlet already in hand (a
 * built-in, from the host's registry) or to a module URL to `import()`.
 * Throws a {@linkcode GraphError} naming `where` for a name it does not know.
 */
export type ServletResolver = (
  specifier: string,
  base: URL,
  where: string,
) => string | Servlet<unknown>;

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
/**
 * The schemes a servlet may be loaded from, each confined by a Deno flag:
 * `file:` by `--allow-read`, `https:` and `jsr:` by `--allow-import` (and
 * `--no-remote`), `npm:` by `--no-npm`. `data:`, `blob:`, `http:` and
 * `node:` are not: a graph cannot carry its code inline, nor load it
 * unencrypted.
 */
const SERVLET_SCHEMES = ["file:", "https:", "jsr:", "npm:"];

/**
 * The resolver the kernel uses alone: a relative or absolute path against the
 * graph file, a `file:` or `https:` URL or a `jsr:`/`npm:` specifier as it
 * is. The host's servlet registry adds the built-in names on top of it.
 */
export function resolvePath(specifier: string, base: URL, where: string): string {
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/")) {
    return new URL(specifier, base).href;
  }
  const scheme = SCHEME.exec(specifier)?.[0].toLowerCase();
  if (scheme !== undefined && SERVLET_SCHEMES.includes(scheme)) return specifier;
  if (scheme !== undefined) {
    throw new GraphError(
      "PLUMB_SERVLET_SCHEME",
      `${where}: servlet ${shortJson(specifier, 60)}: a servlet is loaded from a built-in name, ` +
        `a path, or a ${SERVLET_SCHEMES.join(", ")} specifier, not ${scheme}`,
    );
  }
  throw new GraphError(
    "PLUMB_SERVLET_UNKNOWN",
    `${where}: unknown servlet "${specifier}"; a file is written "./name.ts" relative to the graph file`,
  );
}

async function importServlet(
  where: string,
  specifier: string,
  base: URL,
  resolve: ServletResolver,
): Promise<Servlet<unknown>> {
  const resolved = resolve(specifier, base, where);
  if (typeof resolved !== "string") return resolved;
  const url = resolved;
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const why = firstLine(error);
    const at = why.includes(url) ? "" : ` (${url})`;
    throw new GraphError(
      "PLUMB_SERVLET_LOAD_FAILED",
      `${where}: cannot load servlet "${specifier}"${at}: ${why}`,
    );
  }
  const servlet = module.default;
  if (!isServlet(servlet)) {
    throw new GraphError(
      "PLUMB_SERVLET_NOT_SERVLET",
      `${where}: "${specifier}" is not a servlet module; its default export must be made with defineServlet`,
    );
  }
  return servlet;
}

/**
 * Imports one node's servlet module (or takes the servlet given in code) and
 * runs its `init`.
 */
export async function loadNode(
  file: string,
  base: URL,
  name: string,
  source: string | Servlet<unknown>,
  args: readonly string[],
  resolve: ServletResolver = resolvePath,
  store: StoreBackend = memoryStore(),
  log: Logger = createLogger(),
): Promise<LoadedNode> {
  const where = `${file}: node "${name}"`;
  const specifier = typeof source === "string" ? source : IN_CODE_SERVLET;
  const servlet = typeof source === "string"
    ? await importServlet(where, source, base, resolve)
    : source;
  const ports: Port[] = [];
  const types: Record<string, string> = {};
  let open = true;
  const isOpen = (portName: string): void => {
    if (!open) {
      throw new PlumbError(
        "PLUMB_PORT_LATE",
        `${where}: port "${portName}" declared after init; declare every port in init`,
      );
    }
  };
  const env: InitEnv = {
    node: name,
    base,
    path(path: string, what = "path"): string {
      if (path.startsWith("/")) return path;
      if (base.protocol !== "file:") {
        throw new PlumbError(
          "PLUMB_PATH_RELATIVE",
          `${what} ${JSON.stringify(path)} is relative, but the graph is not a file ` +
            `(${base.href}); give an absolute path`,
        );
      }
      return filePath(new URL(path, base));
    },
    define(portName: string, flags: number, type?: string): Port {
      isOpen(portName);
      return definePort(ports, where, portName, flags, type);
    },
    input<T>(portName: string, options?: OutputOptions<T>): Port<T> {
      isOpen(portName);
      return declarePort(ports, types, where, portName, false, options as OutputOptions<unknown>);
    },
    output<T>(portName: string, options?: OutputOptions<T>): Port<T> {
      isOpen(portName);
      return declarePort(ports, types, where, portName, true, options as OutputOptions<unknown>);
    },
    store(bucket = "default"): KeyValueStore {
      checkBucketName(bucket, where);
      return store.open(bucket);
    },
    log(level: LogLevel, code: Code, message: string): void {
      log.log(level, code, `node "${name}": ${message}`, { node: name });
    },
  };
  let ctx: unknown;
  try {
    ctx = await servlet.init(Object.freeze([...args]), env);
  } catch (error) {
    if (error instanceof PlumbError && error.message.startsWith(where)) {
      throw new GraphError(error.code, error.message, { cause: error });
    }
    throw new GraphError(
      "PLUMB_SERVLET_INIT_FAILED",
      `${where}: init of servlet "${specifier}" failed: ${lineOf(error)}`,
      { cause: error },
    );
  } finally {
    open = false;
  }
  return { name, specifier, servlet, ctx, ports, pipeTypes: types };
}

/** Loads every node of a graph, in the order the file lists them; unloads them all if one fails. */
export async function loadNodes(
  file: string,
  base: URL,
  graph: GraphSpec,
  resolve: ServletResolver = resolvePath,
  store: StoreBackend = memoryStore(),
  log: Logger = createLogger(),
): Promise<LoadedNode[]> {
  const loaded: LoadedNode[] = [];
  try {
    for (const [name, spec] of Object.entries(graph.nodes)) {
      loaded.push(
        await loadNode(file, base, name, spec.servlet, spec.args ?? [], resolve, store, log),
      );
    }
  } catch (error) {
    await unloadNodes(loaded);
    throw error;
  }
  return loaded;
}

/** How long one node's `unload` may take before the host goes on without it, in ms. */
export const UNLOAD_LIMIT_MS = 5000;

/**
 * Calls every node's `unload`; one that fails or takes longer than
 * {@linkcode UNLOAD_LIMIT_MS} is reported (with the node's name), and the
 * others still run.
 */
export async function unloadNodes(
  nodes: readonly LoadedNode[],
  report: (code: Code, message: string, node: string) => void = () => {},
): Promise<void> {
  for (const node of nodes) {
    if (node.servlet.unload === undefined) continue;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), UNLOAD_LIMIT_MS)
    );
    try {
      const result = await Promise.race([Promise.resolve(node.servlet.unload(node.ctx)), limit]);
      if (result === "late") {
        report(
          "PLUMB_SERVLET_UNLOAD_LATE",
          `node "${node.name}": unload did not finish in ${UNLOAD_LIMIT_MS} ms`,
          node.name,
        );
      }
    } catch (error) {
      report(
        "PLUMB_SERVLET_UNLOAD_FAILED",
        `node "${node.name}": unload failed: ${lineOf(error)}`,
        node.name,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
