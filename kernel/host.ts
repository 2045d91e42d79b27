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
import { SESSION_RULES } from "../modules/session_options.ts";
import { didYouMean } from "./suggest.ts";
import { failureReason, Generation, listenerChanges, type ReloadResult } from "./reload.ts";

export type { ReloadResult };

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
   * listener's session options (`ttl`, `maxMessageSize`, `open`,
   * `requestTimeout`, `writeTimeout`, `errorReply`) carry over.
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
  /**
   * I/O modules of your own, by the name a listener uses, beside (or instead
   * of) the built-in `tcp`, `unix`, `stdio` and `file`. The testing kit
   * serves graphs in memory this way.
   */
  modules?: Readonly<Record<string, IoModule<unknown>>>;
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
  /** The graph's nodes, edges, input, output and types, to tell whether a reload changed them. */
  readonly fingerprint: string;
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
  /** The checked graph being served to new connections (the newest, after a {@linkcode Host.reload}). */
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
  /**
   * Reads, loads and checks the graph again (the same file or object, or
   * `graph`) without stopping, as `SIGHUP` asks of the CLI. When it is good,
   * new connections get it, while each open connection finishes on the graph
   * it started with, whose nodes are unloaded once its last connection has
   * ended; every node of the new graph is initialised afresh (its `init`
   * re-reads its arguments), even when nothing changed. When it is not, the
   * host keeps serving the graph it had and says why: the message `--check`
   * would print. Listening sockets are never closed or reopened by a reload,
   * so no client is refused meanwhile; changed listeners (module, address,
   * port, options) are reported as needing a restart and the old ones are
   * kept. Reloads run one at a time, in call order. The host logs one line
   * for each (info, warn when listeners changed, error when nothing was
   * reloaded) and returns what happened.
   */
  reload(graph?: string | URL | GraphSpec): Promise<ReloadResult>;
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

/** The options `--stdio` carries over from the first listener: its session's. */
const SESSION_OPTIONS = Object.keys(SESSION_RULES);

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
  const modules = options.modules === undefined
    ? IO_MODULES
    : { ...IO_MODULES, ...options.modules };
  const listeners = listenerSpecs(file, spec, options).map((l, i) => {
    const where = `${file}: listener ${i + 1} (${l.module})`;
    // Own keys only: "constructor" or "toString" name no module.
    const module = Object.hasOwn(modules, l.module) ? modules[l.module] : undefined;
    if (module === undefined) {
      throw new GraphError(
        `${file}: listener ${i + 1}: unknown module "${l.module}"${
          didYouMean(l.module, Object.keys(modules))
        }; modules are ${Object.keys(modules).join(", ")}`,
      );
    }
    return { module, options: module.parseOptions(l.options ?? {}, where) };
  });
  const rewritten = rewriteFans(file, spec);
  const nodes = await loadNodes(file, base, rewritten.spec);
  const { nodes: nodeSpecs, edges, input, output, types } = spec;
  try {
    return {
      file,
      base,
      plan: compilePlan(file, rewritten.spec, nodes, rewritten.labels),
      listeners,
      fingerprint: JSON.stringify({ nodeSpecs, edges, input, output, types }),
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
  const unloadReport = (message: string): void => log.log("error", message);
  const generationOf = (loaded: LoadedGraph, number: number): Generation => {
    const { plan } = loaded;
    return new Generation(
      number,
      plan.nodes,
      (input, output, info) => runRequest(plan, input, output, report, info),
      unloadReport,
    );
  };
  // The graph new connections get, and the older ones still serving connections.
  let served = checked;
  let servedSummary = summary(checked);
  let current = generationOf(checked, 1);
  const retired = new Set<Generation>();
  const handle: RequestHandler = (input, output, info) => current.handle(input, output, info);
  const idle = new IdleWatch(options.idleExitMs, () => {
    log.log("info", `no connection for ${options.idleExitMs} ms: stopping (--idle-exit)`);
    host.close();
  });
  const context: ListenContext = {
    handle,
    log,
    base: checked.base,
    connections: idle.change,
    pin: () => current.pin(),
  };
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
  const draining = (): number => [...retired].reduce((sum, g) => sum + g.pinned, 0);

  const reloadNow = async (next: string | URL | GraphSpec): Promise<ReloadResult> => {
    const name = typeof next === "string" ? next : next instanceof URL ? next.href : "graph";
    const kept = (reason: string): ReloadResult => {
      const message = `reload of ${name} failed, still serving graph ${current.number}: ${reason}`;
      log.log("error", message);
      return {
        reloaded: false,
        message,
        reason,
        listenersChanged: false,
        graphChanged: false,
        draining: draining(),
        graph: servedSummary,
      };
    };
    if (closing !== undefined) return kept("the host is stopping");
    let loaded: LoadedGraph;
    try {
      loaded = await load(next, options);
    } catch (error) {
      return kept(failureReason(error));
    }
    if (closing !== undefined) {
      await unloadNodes(loaded.plan.nodes, unloadReport);
      return kept("the host is stopping");
    }
    const changes = listenerChanges(served.listeners, loaded.listeners);
    const graphChanged = loaded.fingerprint !== served.fingerprint;
    const old = current;
    current = generationOf(loaded, old.number + 1);
    served = loaded;
    servedSummary = summary(loaded);
    retired.add(old);
    const open = draining();
    const parts = [
      `reloaded ${loaded.file}: new connections get graph ${current.number} ` +
      `(${loaded.plan.nodes.length} node(s), ${loaded.plan.edges.length} edge(s)` +
      `${graphChanged ? "" : ", nodes and edges unchanged"})`,
      open === 0
        ? `no connection was open on graph ${old.number}`
        : `${open} open connection(s) finish on the graph they started with`,
    ];
    if (changes !== undefined) {
      parts.push(`listener changes need a restart, the old listeners are kept: ${changes}`);
    }
    const message = parts.join("; ");
    log.log(changes === undefined ? "info" : "warn", message);
    old.retire(() => log.log("info", `graph ${old.number} is no longer used; unloading its nodes`))
      .then(() => retired.delete(old));
    return {
      reloaded: true,
      message,
      listenersChanged: changes !== undefined,
      graphChanged,
      draining: open,
      graph: servedSummary,
    };
  };
  let reloads: Promise<unknown> = Promise.resolve();

  const host: Host = {
    urls: listeners.map((l) => l.url),
    get graph(): CheckedGraph {
      return servedSummary;
    },
    finished,
    close(graceMs?: number): Promise<void> {
      closing ??= (async () => {
        idle.stop();
        await Promise.all(listeners.map((l) => l.close(graceMs)));
        // Graphs a reload retired whose connections were cut, oldest first, then the newest.
        for (const generation of [...retired, current]) await generation.unload();
        stopped();
      })();
      return closing;
    },
    reload(next: string | URL | GraphSpec = graph): Promise<ReloadResult> {
      const run = reloads.then(() => reloadNow(next));
      reloads = run.catch(() => {});
      return run;
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
