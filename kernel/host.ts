/**
 * The host: loads a graph, checks it, and serves it on its listeners.
 * @module
 */
import { GraphError, PermissionHint, PlumbError } from "./errors.ts";
import { type GraphSpec, type ListenerSpec, parseGraph, validateGraph } from "./graph.ts";
import { loadNodes, unloadNodes } from "./loader.ts";
import { createLogger, type Logger, type LogLevel } from "./log.ts";
import { compilePlan, type Plan, type PlanNode } from "./plan.ts";
import { rewriteFans } from "./rewrite.ts";
import { toDot } from "./dot.ts";
import { describeError, runRequest } from "./scheduler.ts";
import type {
  IoModule,
  ListenContext,
  Listener,
  RequestHandler,
  RequestInfo,
} from "../modules/module.ts";
import { IO_MODULES } from "../modules/registry.ts";
import { didYouMean } from "./suggest.ts";

/** Options of {@linkcode serve} and {@linkcode checkGraph}. */
export interface ServeOptions {
  /** Overrides the `host` option of the first listener. */
  host?: string;
  /** Overrides the `port` option of the first listener (0 = any free port). */
  port?: number;
  /** The most verbose log level written. Default `info`. */
  logLevel?: LogLevel;
  /** Where log lines go; default standard error at `logLevel`. */
  logger?: Logger;
  /**
   * For a graph given as an object: the URL that relative servlet paths
   * resolve against. Default: the current directory.
   */
  base?: URL;
  /**
   * Serve standard input and output as one connection instead of the graph's
   * listeners (a terminal, or inetd/xinetd/tcpserver "nowait"). The first
   * listener's `ttl`, `maxMessageSize` and `open` options carry over.
   */
  stdio?: boolean;
  /**
   * Adopt the inherited listening socket on this descriptor for the first
   * (`tcp`) listener: 3 under systemd socket activation, 0 under inetd "wait".
   */
  listenFd?: number;
  /**
   * Stop after this many milliseconds with no open connection (the article's
   * inetd "wait" server with an idle timeout). Open sessions are never cut.
   */
  idleExitMs?: number;
  /**
   * Listen on every `tcp` listener with `reusePort` (`SO_REUSEPORT`), so that
   * other hosts can share the ports: how `--workers` runs one host per
   * worker. Needs `deno run --unstable-net`.
   */
  reusePort?: boolean;
  /**
   * Port of each listener, by position, overriding the graph's (and `port`):
   * `--workers` starts its first worker, then gives the others the ports it
   * got, as its `Host.urls` report them.
   */
  ports?: readonly number[];
}

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
  const loaded = await load(graph, options);
  await unloadNodes(loaded.plan.nodes);
  return toDot(loaded.plan, loaded.file);
}

/** A loaded graph: the compiled plan and each listener's module and parsed options. */
interface LoadedGraph {
  readonly file: string;
  readonly base: URL;
  readonly plan: Plan;
  readonly listeners: readonly { module: IoModule<unknown>; options: unknown }[];
}

function summary(loaded: LoadedGraph): CheckedGraph {
  return {
    file: loaded.file,
    nodes: loaded.plan.nodes.map((n) => n.name),
    edges: loaded.plan.edges.length,
    listeners: loaded.listeners.map((l) => l.module.name),
  };
}

/** A running host, as returned by {@linkcode serve}. */
export interface Host {
  /** One URL per listener, for example `tcp://127.0.0.1:12345`, with the real port. */
  readonly urls: readonly string[];
  /** The checked graph being served. */
  readonly graph: CheckedGraph;
  /**
   * Stops accepting, closes idle connections, lets requests in flight finish
   * (up to `graceMs`, default 5000), then calls every node's `unload`.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Resolves once the host has stopped: after `close`, after the idle exit,
   * or when every listener is done (standard input or an input file used up).
   */
  readonly finished: Promise<void>;
}

function fileUrl(path: string | URL): URL {
  if (path instanceof URL) return path;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)) return new URL(path);
  const cwd = Deno.cwd().replace(/\\/g, "/");
  return new URL(path.replace(/\\/g, "/"), `file://${cwd.startsWith("/") ? "" : "/"}${cwd}/`);
}

/** Reads and parses a graph file; a missing file or bad JSON is a {@linkcode GraphError}. */
export async function readGraphFile(
  path: string | URL,
): Promise<{ file: string; base: URL; spec: GraphSpec }> {
  const url = fileUrl(path);
  const file = path instanceof URL ? url.href : path;
  if (url.protocol === "file:") {
    const status = Deno.permissions.querySync({ name: "read", path: url });
    if (status.state !== "granted") {
      throw new PermissionHint(`cannot read graph file ${file}`, "--allow-read");
    }
  }
  let text: string;
  try {
    text = url.protocol === "file:"
      ? await Deno.readTextFile(url)
      : await (await fetch(url)).text();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new GraphError(`${file}: no such graph file`);
    }
    throw new GraphError(`${file}: cannot read graph file: ${(error as Error).message}`);
  }
  return { file, base: url, spec: parseGraph(file, text) };
}

const SESSION_OPTIONS = ["ttl", "maxMessageSize", "open"];

function listenerSpecs(file: string, spec: GraphSpec, options: ServeOptions): ListenerSpec[] {
  const listeners = (spec.listeners ?? []).map((l) => ({ ...l, options: { ...l.options } }));
  if (options.stdio) {
    const first = listeners[0]?.options ?? {};
    const carried = Object.fromEntries(
      Object.entries(first).filter(([name]) => SESSION_OPTIONS.includes(name)),
    );
    return [{ module: "stdio", options: carried }];
  }
  if (
    options.host !== undefined || options.port !== undefined || options.listenFd !== undefined
  ) {
    if (listeners.length === 0) listeners.push({ module: "tcp", options: {} });
    if (listeners[0].module !== "tcp") {
      throw new GraphError(
        `${file}: --host, --port and --listen-fd apply to the first listener, which must be tcp, ` +
          `not ${listeners[0].module}`,
      );
    }
    if (options.host !== undefined) listeners[0].options.host = options.host;
    if (options.port !== undefined) listeners[0].options.port = options.port;
    if (options.listenFd !== undefined) listeners[0].options.fd = options.listenFd;
  }
  options.ports?.forEach((port, i) => {
    if (listeners[i] !== undefined) listeners[i].options.port = port;
  });
  if (options.reusePort) {
    for (const listener of listeners) {
      if (listener.module === "tcp") listener.options.reusePort = true;
    }
  }
  return listeners;
}

async function load(
  graph: string | URL | GraphSpec,
  options: ServeOptions,
): Promise<LoadedGraph> {
  const { file, base, spec } = typeof graph === "string" || graph instanceof URL
    ? await readGraphFile(graph)
    : { file: "graph", base: options.base ?? fileUrl("./"), spec: validateGraph("graph", graph) };
  const listeners = listenerSpecs(file, spec, options).map((l, i) => {
    const where = `${file}: listener ${i + 1} (${l.module})`;
    const module = IO_MODULES[l.module];
    if (module === undefined) {
      throw new GraphError(
        `${file}: listener ${i + 1}: unknown module "${l.module}"${
          didYouMean(l.module, Object.keys(IO_MODULES))
        }; modules are ${Object.keys(IO_MODULES).join(", ")}`,
      );
    }
    return { module, options: module.parseOptions(l.options ?? {}, where) };
  });
  const rewritten = rewriteFans(file, spec);
  const nodes = await loadNodes(file, base, rewritten.spec);
  try {
    return {
      file,
      base,
      plan: compilePlan(file, rewritten.spec, nodes, rewritten.labels),
      listeners,
    };
  } catch (error) {
    await unloadNodes(nodes);
    throw error;
  }
}

/**
 * Loads and checks a graph without serving it, then unloads its nodes.
 * Throws a {@linkcode GraphError} naming the file, node and port on the first problem.
 */
export async function checkGraph(
  graph: string | URL | GraphSpec,
  options: ServeOptions = {},
): Promise<CheckedGraph> {
  const loaded = await load(graph, options);
  await unloadNodes(loaded.plan.nodes);
  return summary(loaded);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describeError(error);
}

/**
 * Loads, checks and serves a graph: a `graph.json` path or URL, or a graph
 * object. Resolves once every listener accepts connections.
 *
 * @example
 * ```ts ignore
 * import { serve } from "./host.ts";
 * const host = await serve("examples/hello.json", { port: 0 });
 * console.log(host.urls); // ["tcp://127.0.0.1:40123"]
 * await host.close();
 * ```
 */
export async function serve(
  graph: string | URL | GraphSpec,
  options: ServeOptions = {},
): Promise<Host> {
  const log = options.logger ?? createLogger(options.logLevel ?? "info");
  const checked = await load(graph, options);
  const { plan } = checked;
  if (checked.listeners.length === 0) {
    await unloadNodes(plan.nodes);
    throw new GraphError(
      `${checked.file}: the graph has no "listeners"; add {"module": "tcp", "options": {"port": 12345}} ` +
        `or pass --port`,
    );
  }
  const report = (node: PlanNode, error: unknown, info: RequestInfo): void => {
    if (error instanceof PlumbError && error.name === "UpstreamError") {
      log.log("debug", `node "${node.name}" stopped: ${describe(error)}`);
    } else {
      log.log(
        "error",
        `node "${node.name}" (${node.specifier}) failed a request from ${info.peer}: ${
          describe(error)
        }`,
      );
    }
  };
  const handle: RequestHandler = (input, output, info) =>
    runRequest(plan, input, output, report, info);
  const idle = new IdleWatch(options.idleExitMs, () => {
    log.log("info", `no connection for ${options.idleExitMs} ms: stopping (--idle-exit)`);
    host.close();
  });
  const context: ListenContext = { handle, log, base: checked.base, connections: idle.change };
  const listeners: Listener[] = [];
  try {
    for (const { module, options: moduleOptions } of checked.listeners) {
      listeners.push(await module.listen(moduleOptions, context));
    }
  } catch (error) {
    idle.stop();
    await Promise.all(listeners.map((l) => l.close(0)));
    await unloadNodes(plan.nodes);
    if (error instanceof Deno.errors.AddrInUse) {
      throw new PlumbError(
        `${checked.file}: cannot listen: ${error.message}; pick another port with --port`,
      );
    }
    throw error;
  }
  idle.start();
  let closing: Promise<void> | undefined;
  let stopped: () => void = () => {};
  const finished = new Promise<void>((resolve) => stopped = resolve);
  const host: Host = {
    urls: listeners.map((l) => l.url),
    graph: summary(checked),
    finished,
    close(graceMs?: number): Promise<void> {
      closing ??= (async () => {
        idle.stop();
        await Promise.all(listeners.map((l) => l.close(graceMs)));
        await unloadNodes(plan.nodes, (m) => log.log("error", m));
        stopped();
      })();
      return closing;
    },
  };
  Promise.all(listeners.map((l) => l.done)).then(() => host.close());
  return host;
}

/** Counts open connections and calls `expire` after `ms` with none. */
class IdleWatch {
  readonly #ms: number | undefined;
  readonly #expire: () => void;
  #open = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(ms: number | undefined, expire: () => void) {
    this.#ms = ms;
    this.#expire = expire;
  }

  /** Starts watching (call once listening). */
  start(): void {
    this.#arm();
  }

  /** A connection opened (+1) or closed (-1). */
  readonly change = (delta: 1 | -1): void => {
    this.#open += delta;
    if (this.#open > 0) this.#disarm();
    else this.#arm();
  };

  /** Stops watching for good. */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(): void {
    if (this.#ms === undefined || this.#stopped || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#open === 0) this.#expire();
    }, this.#ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
