/**
 * The host: serves a loaded graph on its listeners, reloads it, and stops.
 * @module
 */
import { GraphError, lineOf, PlumbError, withPlumbErrors } from "../kernel/errors.ts";
import type { GraphSpec } from "../kernel/graph.ts";
import { unloadNodes } from "../kernel/loader.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import type { PlanNode } from "../kernel/plan.ts";
import type { RequestHandler, RequestInfo } from "../kernel/request.ts";
import { describeError, runRequest } from "../kernel/scheduler.ts";
import type { ListenContext, Listener } from "../modules/module.ts";
import {
  type ConnectOptions,
  type MemoryConnection,
  MemoryListener,
  memoryOptions,
} from "../modules/memory.ts";
import type { SessionListenerOptions } from "../modules/session_options.ts";
import { IdleWatch } from "./idle_watch.ts";
import { type CheckedGraph, load, type LoadedGraph, summary } from "./load.ts";
import { failureReason, Generation, listenerChanges, type ReloadResult } from "./reload.ts";
import type { LoadOptions, ServeOptions } from "./serve_options.ts";
import { HostMetrics, type MetricsSnapshot } from "./metrics.ts";
import { AdminListener, type AdminSource } from "./admin.ts";
import { type GraphView, graphView } from "./graph_view.ts";
import { memoryStore, type StoreBackend } from "../kernel/store.ts";

export type { ConnectOptions, MemoryConnection, ReloadResult };

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${lineOf(error)}` : describeError(error);
}

/**
 * What a running host offers: a {@linkcode Host}, or the workers
 * `serveWorkers` starts, which serve one graph together.
 */
export interface Serving {
  /** One URL per listener, for example `tcp://127.0.0.1:12345`, with the real port. */
  readonly urls: readonly string[];
  /** The checked graph being served to new connections. */
  readonly graph: CheckedGraph;
  /** Resolves once it has stopped. */
  readonly finished: Promise<void>;
  /** Stops: see {@linkcode Host.close}. */
  close(graceMs?: number): Promise<void>;
  /** Reloads the graph: see {@linkcode Host.reload}. */
  reload(graph?: string | URL | GraphSpec): Promise<ReloadResult>;
  /** The admin listener's address (`http://127.0.0.1:9090/`) when `ServeOptions.admin` asked for one. */
  readonly adminUrl?: string;
}

/**
 * A running host: a graph served on its listeners. Start one with
 * {@linkcode Host.start} (or {@linkcode serve}, the same), or with
 * {@linkcode Host.load} to run the graph in memory with no socket at all.
 * Either way {@linkcode Host.connect} opens a connection in memory, served
 * by the same session code as a socket.
 *
 * @example
 * ```ts
 * import { Host } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 * const host = await Host.start("examples/hello.json", { port: 0, logLevel: "error" });
 * const conn = await Deno.connect({ port: Number(new URL(host.urls[0]).port) });
 * await conn.write(new TextEncoder().encode("Plumber\n"));
 * const reply = new Uint8Array(64);
 * const n = await conn.read(reply);
 * assertEquals(new TextDecoder().decode(reply.subarray(0, n!)), "Hello, Plumber\n");
 * conn.close();
 * await host.close();
 * ```
 */
export class Host implements Serving, AsyncDisposable {
  /** One URL per listener, for example `tcp://127.0.0.1:12345`, with the real port. */
  readonly urls: readonly string[];
  /**
   * Resolves once the host has stopped: after `close`, after the idle exit,
   * or when every listener is done (standard input or an input file used up).
   */
  readonly finished: Promise<void>;

  readonly #source: string | URL | GraphSpec;
  readonly #options: ServeOptions;
  readonly #log: Logger;
  readonly #listeners: Listener[];
  /** False for a host made by `load`: it starts no listener, and neither do its reloads. */
  readonly #listen: boolean;
  readonly #context: ListenContext;
  /** The session options of in-memory connections, worked out on the first `connect`. */
  readonly #memoryOptions: () => SessionListenerOptions;
  #memory: MemoryListener | undefined;
  readonly #idle: IdleWatch;
  readonly #retired = new Set<Generation>();
  #served: LoadedGraph;
  #summary: CheckedGraph;
  readonly #generations: { current: Generation };
  #closing: Promise<void> | undefined;
  #stopped: () => void = () => {};
  #reloads: Promise<unknown> = Promise.resolve();
  /** What requests do, counted when `metrics` or `admin` asked for it. */
  readonly #metrics: HostMetrics | undefined;
  #admin: AdminListener | undefined;
  /** The store the host made (none was given): it lives across reloads and closes with the host. */
  #ownStore: StoreBackend | undefined;

  /**
   * Loads, checks and serves a graph: a `graph.json` path or URL, or a graph
   * object. Resolves once every listener accepts connections; throws a
   * `GraphError` (a bad graph) or `PlumbError` (a port in use) with the
   * one-line message and the code the CLI prints.
   */
  static start(graph: string | URL | GraphSpec, options: ServeOptions = {}): Promise<Host> {
    return withPlumbErrors(Host.#withStore(options, (withStore) => Host.#start(graph, withStore)));
  }

  /**
   * Runs `make` with `options.store` set: the caller's back end, or one the
   * host makes, which the host made by `make` owns, and which is closed at
   * once when `make` fails.
   */
  static async #withStore<O extends { store?: StoreBackend }>(
    options: O,
    make: (options: O) => Promise<Host>,
  ): Promise<Host> {
    if (options.store !== undefined) return await make(options);
    const store = memoryStore();
    try {
      const host = await make({ ...options, store });
      host.#ownStore = store;
      return host;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  static async #start(graph: string | URL | GraphSpec, options: ServeOptions): Promise<Host> {
    const log = options.logger ??
      createLogger(options.logLevel ?? "info", undefined, options.logFormat);
    options = { ...options, logger: log };
    const checked = await load(graph, options);
    if (checked.listeners.length === 0) {
      await unloadNodes(checked.plan.nodes);
      throw new GraphError(
        "PLUMB_GRAPH_NO_LISTENERS",
        `${checked.file}: the graph has no "listeners"; add {"module": "tcp", "options": {"port": 12345}} ` +
          `or pass --port`,
      );
    }
    const wiring = Host.#wiring(checked, options, log);
    const listeners: Listener[] = [];
    try {
      for (const { module, options: moduleOptions } of checked.listeners) {
        listeners.push(await module.listen(moduleOptions, wiring.context));
      }
    } catch (error) {
      wiring.idle.stop();
      await Promise.all(listeners.map((l) => l.close(0)));
      await unloadNodes(checked.plan.nodes);
      if (error instanceof Deno.errors.AddrInUse) {
        throw new PlumbError(
          "PLUMB_LISTEN_IN_USE",
          `${checked.file}: cannot listen: ${error.message}; pick another port with --port`,
        );
      }
      throw error;
    }
    const memory = (): SessionListenerOptions =>
      memoryOptions(checked.session, `${checked.file}: in-memory connections`);
    const host = wiring.made(new Host(graph, options, log, checked, wiring, listeners, memory));
    if (options.admin !== undefined) {
      try {
        host.#admin = AdminListener.start(options.admin, host.#adminSource());
      } catch (error) {
        await host.close(0);
        throw error;
      }
    }
    return host;
  }

  /**
   * Loads and checks a graph and runs it in memory, with no listener and no
   * socket: what Fresh's `app.handler()` is to a web app. Connections are
   * opened with {@linkcode Host.connect} (or one request sent with
   * {@linkcode Host.request}) and served by the same session code as a TCP
   * connection: keep-alive by `PERSIST`, pipelined requests, `EOM`,
   * per-connection state, the `open` greeting, `ttl`, the time limits and the
   * error reply, with the session options of the graph's first listener
   * (`options.session` over them). `reload` and `close` work as on a host
   * that listens. Throws a `GraphError` with the one-line message the CLI
   * prints for a bad graph.
   *
   * @example
   * ```ts
   * import { Host } from "./host.ts";
   * import { assertEquals } from "@std/assert";
   *
   * await using host = await Host.load("examples/hello.json", { logLevel: "error" });
   * await using conn = host.connect();
   * await conn.write("Plumber\n");
   * assertEquals(await conn.readText(), "Hello, Plumber\n");
   * await conn.write("world\n");
   * assertEquals(await conn.readText(), "Hello, world\n"); // the same connection: PERSIST
   *
   * const reply = await host.request("a\nb\n");
   * assertEquals(new TextDecoder().decode(reply), "Hello, a\nHello, b\n");
   * ```
   */
  static load(graph: string | URL | GraphSpec, options: LoadOptions = {}): Promise<Host> {
    return Host.#withStore(options, (withStore) => Host.#load(graph, withStore));
  }

  static async #load(graph: string | URL | GraphSpec, options: LoadOptions): Promise<Host> {
    const log = options.logger ??
      createLogger(options.logLevel ?? "info", undefined, options.logFormat);
    options = { ...options, logger: log };
    const loaded = await load(graph, options, false);
    let session: SessionListenerOptions;
    try {
      session = memoryOptions(
        { ...loaded.session, ...options.session },
        `${loaded.file}: in-memory connections`,
      );
    } catch (error) {
      await unloadNodes(loaded.plan.nodes);
      throw error;
    }
    const wiring = Host.#wiring(loaded, options, log);
    return wiring.made(new Host(graph, options, log, loaded, wiring, [], () => session));
  }

  /**
   * What connections are served through: the graph new connections get (a
   * reload replaces it), the idle watch, the context listeners are given.
   * `made` hands the host to the idle exit once it exists.
   */
  static #wiring(loaded: LoadedGraph, options: ServeOptions | LoadOptions, log: Logger): Wiring {
    let host: Host | undefined;
    const idle = new IdleWatch(options.idleExitMs, () => {
      log.log(
        "info",
        "PLUMB_IDLE_EXIT",
        `no connection for ${options.idleExitMs} ms: stopping (--idle-exit)`,
      );
      host?.close();
    });
    const metrics = ("admin" in options && options.admin !== undefined) || options.metrics
      ? new HostMetrics()
      : undefined;
    const served = { current: Host.#generation(loaded, 1, log, metrics) };
    const context: ListenContext = {
      handle: (input, output, info) => served.current.handle(input, output, info),
      log,
      base: loaded.base,
      connections: idle.change,
      pin: () => served.current.pin(),
    };
    return {
      idle,
      served,
      context,
      metrics,
      made: (made: Host): Host => host = made,
    };
  }

  private constructor(
    source: string | URL | GraphSpec,
    options: ServeOptions,
    log: Logger,
    checked: LoadedGraph,
    wiring: Wiring,
    listeners: Listener[],
    memoryOptions: () => SessionListenerOptions,
  ) {
    this.#source = source;
    this.#options = options;
    this.#log = log;
    this.#served = checked;
    this.#summary = summary(checked);
    // What --check warns of, said once when serving starts too.
    for (const warning of this.#summary.warnings) log.log("warn", "PLUMB_CHECK_WARNING", warning);
    this.#generations = wiring.served;
    this.#context = wiring.context;
    this.#listeners = listeners;
    this.#listen = listeners.length > 0;
    this.#memoryOptions = memoryOptions;
    this.#idle = wiring.idle;
    this.#metrics = wiring.metrics;
    this.urls = listeners.map((l) => l.url);
    this.finished = new Promise<void>((resolve) => this.#stopped = resolve);
    wiring.idle.start();
    if (this.#listen) Promise.all(listeners.map((l) => l.done)).then(() => this.close());
  }

  /** The checked graph being served to new connections (the newest, after a {@linkcode Host.reload}). */
  get graph(): CheckedGraph {
    return this.#summary;
  }

  /** The admin listener's address, for example `http://127.0.0.1:9090/`, when `admin` asked for one. */
  get adminUrl(): string | undefined {
    return this.#admin?.url;
  }

  /**
   * What the host has counted since it started (see `docs/operating.md`), or
   * undefined when it is not counting (neither `metrics` nor `admin` given).
   */
  metrics(): MetricsSnapshot | undefined {
    return this.#metrics?.snapshot(this.#listeners, this.#generations.current.number);
  }

  /** The graph served to new connections as the admin page draws it. */
  view(): GraphView {
    return graphView(this.#served, this.#generations.current.number, this.urls);
  }

  /** What the admin listener serves: this host's counters and graph. */
  #adminSource(): AdminSource {
    const stopping = (): boolean => this.#closing !== undefined;
    return {
      scrape: () => Promise.resolve([{ snapshot: this.metrics()! }]),
      view: () => Promise.resolve(this.view()),
      get stopping(): boolean {
        return stopping();
      },
    };
  }

  /**
   * Opens a connection in memory, with no socket: write request bytes to it
   * and read the replies. It is served like an accepted TCP connection, by
   * the same session code, with the session options of the graph's first
   * listener (for a host made by {@linkcode Host.load}, `options.session`
   * over them), and pinned to the graph served now, as a socket is. Throws a
   * `PlumbError` once the host is closing.
   *
   * @example
   * ```ts
   * import { Host } from "./host.ts";
   * import { assertEquals } from "@std/assert";
   *
   * await using host = await Host.load("examples/eliza.json", { logLevel: "error" });
   * await using conn = host.connect();
   * // eliza.json's listener says "open": true, so the connection is greeted first.
   * assertEquals(await conn.readText(), "How do you do. Please tell me your problem.\n");
   * ```
   */
  connect(options?: ConnectOptions): MemoryConnection {
    if (this.#closing !== undefined) {
      throw new PlumbError(
        "PLUMB_HOST_CLOSED",
        `${this.#summary.file}: cannot connect: the host is closing or closed`,
      );
    }
    this.#memory ??= new MemoryListener(this.#memoryOptions(), this.#context);
    return this.#memory.connect(options);
  }

  /**
   * Sends `input` on a new in-memory connection (see
   * {@linkcode Host.connect}), half-closes it, and returns every reply byte
   * until the host closes it: the way `printf ... | nc` talks to a socket.
   *
   * @example
   * ```ts
   * import { Host } from "./host.ts";
   * import { assertEquals } from "@std/assert";
   *
   * await using host = await Host.load("examples/pipeline.json", { logLevel: "error" });
   * const reply = await host.request("plumber\n");
   * assertEquals(new TextDecoder().decode(reply), "Hello, PLUMBER\n");
   * ```
   */
  async request(input: string | Uint8Array, options?: ConnectOptions): Promise<Uint8Array> {
    await using connection = this.connect(options);
    await connection.write(input);
    await connection.closeWrite();
    return await connection.readAll();
  }

  /**
   * Stops accepting, closes idle connections (in memory too), lets requests
   * in flight finish (up to `graceMs`, default 5000), then calls every node's
   * `unload`.
   */
  close(graceMs?: number): Promise<void> {
    this.#closing ??= (async () => {
      this.#idle.stop();
      const listeners = this.#memory ? [...this.#listeners, this.#memory] : this.#listeners;
      await Promise.all(listeners.map((l) => l.close(graceMs)));
      // Graphs a reload retired whose connections were cut, oldest first, then the newest.
      for (const generation of [...this.#retired, this.#generations.current]) {
        await generation.unload();
      }
      // The store the host made outlives every graph but not the host; a given one is the caller's.
      await this.#ownStore?.close();
      // Last: /health says 503 while the listeners drain.
      await this.#admin?.close();
      this.#stopped();
    })();
    return this.#closing;
  }

  /** Closes the host (see {@linkcode Host.close}): `await using host = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

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
   * kept. Whether the graph reloaded or not, each listener reads its own files
   * again: a `tls` listener its certificate and key (keeping the old pair,
   * with a log line, when the new one is bad). Reloads run one at a time, in
   * call order. The host logs one line for each (info, warn when listeners
   * changed, error when nothing was reloaded) and returns what happened.
   */
  reload(graph: string | URL | GraphSpec = this.#source): Promise<ReloadResult> {
    const run = this.#reloads.then(async () => {
      const result = await this.#reloadNow(graph);
      // Whatever became of the graph, listeners read their files again (a renewed certificate).
      if (this.#closing === undefined) {
        await Promise.all(this.#listeners.map((listener) => listener.reload?.()));
      }
      return result;
    });
    this.#reloads = run.catch(() => {});
    return run;
  }

  static #generation(
    loaded: LoadedGraph,
    number: number,
    log: Logger,
    metrics: HostMetrics | undefined,
  ): Generation {
    // A watched host runs the plan decorated to count; any other runs it as compiled.
    const plan = metrics === undefined ? loaded.plan : metrics.observe(loaded.plan);
    const report = (node: PlanNode, error: unknown, info: RequestInfo): void => {
      metrics?.failed(node.name, error);
      if (error instanceof PlumbError && error.name === "UpstreamError") {
        log.log("debug", "PLUMB_NODE_STOPPED", `node "${node.name}" stopped: ${describe(error)}`, {
          node: node.name,
          peer: info.peer,
        });
      } else {
        log.log(
          "error",
          "PLUMB_REQUEST_FAILED",
          `node "${node.name}" (${node.specifier}) failed a request from ${info.peer}: ${
            describe(error)
          }`,
          { node: node.name, peer: info.peer },
        );
      }
    };
    const handle: RequestHandler = (input, output, info) =>
      runRequest(plan, input, output, report, info);
    return new Generation(
      number,
      loaded.plan.nodes,
      handle,
      (code, message, node) => log.log("error", code, message, { node }),
    );
  }

  #draining(): number {
    return [...this.#retired].reduce((sum, g) => sum + g.pinned, 0);
  }

  async #reloadNow(next: string | URL | GraphSpec): Promise<ReloadResult> {
    const log = this.#log;
    const name = typeof next === "string" ? next : next instanceof URL ? next.href : "graph";
    const kept = (reason: string): ReloadResult => {
      const message =
        `reload of ${name} failed, still serving graph ${this.#generations.current.number}: ${reason}`;
      log.log("error", "PLUMB_RELOAD_FAILED", message);
      this.#metrics?.reloaded(false);
      return {
        reloaded: false,
        message,
        reason,
        listenersChanged: false,
        graphChanged: false,
        draining: this.#draining(),
        graph: this.#summary,
      };
    };
    if (this.#closing !== undefined) return kept("the host is stopping");
    let loaded: LoadedGraph;
    try {
      loaded = await load(next, this.#options, this.#listen);
    } catch (error) {
      return kept(failureReason(error));
    }
    if (this.#closing !== undefined) {
      await unloadNodes(
        loaded.plan.nodes,
        (code, message, node) => log.log("error", code, message, { node }),
      );
      return kept("the host is stopping");
    }
    const changes = listenerChanges(this.#served.listeners, loaded.listeners);
    const graphChanged = loaded.fingerprint !== this.#served.fingerprint;
    const old = this.#generations.current;
    this.#generations.current = Host.#generation(loaded, old.number + 1, log, this.#metrics);
    this.#metrics?.reloaded(true);
    this.#served = loaded;
    this.#summary = summary(loaded);
    this.#retired.add(old);
    const open = this.#draining();
    const parts = [
      `reloaded ${loaded.file}: new connections get graph ${this.#generations.current.number} ` +
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
    if (changes === undefined) log.log("info", "PLUMB_RELOADED", message);
    else log.log("warn", "PLUMB_RELOADED_LISTENERS_KEPT", message);
    old.retire(() =>
      log.log(
        "info",
        "PLUMB_GRAPH_UNUSED",
        `graph ${old.number} is no longer used; unloading its nodes`,
      )
    )
      .then(() => this.#retired.delete(old));
    return {
      reloaded: true,
      message,
      listenersChanged: changes !== undefined,
      graphChanged,
      draining: open,
      graph: this.#summary,
    };
  }
}

/** How a host's connections reach its graph: made before the host, so that listeners can start. */
interface Wiring {
  readonly idle: IdleWatch;
  readonly served: { current: Generation };
  readonly context: ListenContext;
  /** The host's counters, when it counts. */
  readonly metrics: HostMetrics | undefined;
  /** Gives the idle exit the host to close, and returns it. */
  made(host: Host): Host;
}

/**
 * Loads, checks and serves a graph: {@linkcode Host.start} as a function.
 *
 * @example
 * ```ts
 * import { serve } from "@plumb/plumb/host";
 * import { assertMatch } from "@std/assert";
 * const host = await serve("examples/hello.json", { port: 0, logLevel: "error" });
 * assertMatch(host.urls[0], /^tcp:\/\/127\.0\.0\.1:\d+$/);
 * await host.close();
 * ```
 */
export function serve(graph: string | URL | GraphSpec, options: ServeOptions = {}): Promise<Host> {
  return Host.start(graph, options);
}
