/**
 * `--workers N`: one host per Web Worker, all on the same ports. Each worker
 * loads the graph with its own servlet instances and listens with
 * `reusePort` (`SO_REUSEPORT`), so the operating system spreads new
 * connections over the workers and a connection, with its session state,
 * stays on the worker that accepted it. The first worker starts alone and
 * picks the ports (port 0 picks a free one); the others then listen on the
 * same ones. Needs `deno run --unstable-net`.
 * @module
 */
import { GraphError, PermissionHint, PlumbError, withPlumbErrors } from "../kernel/errors.ts";
import type { GraphSpec } from "../kernel/graph.ts";
import type { Serving } from "./host.ts";
import type { CheckedGraph } from "./load.ts";
import type { ServeOptions } from "./serve_options.ts";
import type { ReloadResult } from "./reload.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import { unstableNetEnabled } from "../modules/tcp.ts";
import { TCP_MODULES } from "./overrides.ts";
import type { FromWorker, ToWorker, WorkerServeOptions } from "./worker_protocol.ts";
import { AdminListener, type AdminSource } from "./admin.ts";
import type { MetricsSnapshot } from "./metrics.ts";
import type { GraphView } from "./graph_view.ts";
import { memoryStore } from "../kernel/store.ts";
import { type StoreRequest, StoreServer } from "./store_relay.ts";

/** What a worker tells the admin listener: its counters and its graph. */
interface WorkerMetrics {
  snapshot: MetricsSnapshot;
  view: GraphView;
}

/** Most workers `--workers` starts. */
export const MAX_WORKERS = 64;
/** Extra time a worker may take to close, beyond the grace of its requests, in ms. */
const CLOSE_SLACK_MS = 7000;

/** One worker and its host's state. */
class HostWorker {
  readonly id: number;
  readonly #worker: Worker;
  readonly #log: Logger;
  #listening: ((value: { urls: readonly string[]; graph: CheckedGraph }) => void) | undefined;
  #failed: ((error: Error) => void) | undefined;
  #finished: () => void = () => {};
  /** Reloads sent and not yet answered, oldest first (a worker answers them in order). */
  readonly #reloads: ((result: ReloadResult | null) => void)[] = [];
  /** Metrics asked for and not yet answered, by request id. */
  readonly #metrics = new Map<number, (answer: WorkerMetrics | null) => void>();
  #nextMetrics = 1;
  /** Resolves once the worker's host has stopped, or the worker is gone. */
  readonly finished: Promise<void>;
  #gone = false;

  /** Where the worker's store requests go: the main isolate's store. */
  readonly #store: (request: StoreRequest) => void;

  constructor(
    id: number,
    log: Logger,
    store: StoreServer,
    onFailure: (worker: HostWorker, message: string) => void,
  ) {
    this.id = id;
    this.#store = store.channel((answer) => this.#send(answer));
    this.#log = log;
    this.finished = new Promise((resolve) => this.#finished = resolve);
    this.#worker = new Worker(new URL("./worker_entry.ts", import.meta.url), {
      type: "module",
      name: `plumb worker ${id}`,
    });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>): void => this.#receive(event.data);
    this.#worker.onerror = (event: ErrorEvent): void => {
      event.preventDefault();
      const message = event.message ?? String(event.error);
      if (this.#failed) {
        this.#failed(new PlumbError("PLUMB_WORKER_FAILED", `worker ${id}: ${message}`));
      } else onFailure(this, message);
    };
  }

  #receive(message: FromWorker): void {
    if (message.type === "log") {
      const { context } = message;
      this.#log.log(message.level, message.code, `worker ${this.id}: ${message.message}`, {
        ...context,
        fields: { ...context?.fields, worker: this.id },
      });
    } else if (message.type === "listening") this.#listening?.(message);
    else if (message.type === "failed") {
      // A usage error is one the CLI prints as a bad command line or graph (exit 2).
      const error = message.usage
        ? new GraphError(message.code, message.message)
        : new PlumbError(message.code, message.message);
      this.#failed?.(error);
    } else if (message.type === "reloaded") this.#reloads.shift()?.(message.result);
    else if (message.type === "metrics") {
      const { snapshot, view } = message;
      this.#metrics.get(message.id)?.(snapshot && view && { snapshot, view });
      this.#metrics.delete(message.id);
    } else if (message.type === "finished") this.terminate();
    else if (message.type === "store") this.#store(message);
  }

  #send(message: ToWorker): void {
    if (!this.#gone) this.#worker.postMessage(message);
  }

  /** Starts the worker's host; resolves once it listens, rejects when it cannot. */
  serve(
    graph: string,
    options: WorkerServeOptions,
  ): Promise<{ urls: readonly string[]; graph: CheckedGraph }> {
    const started = new Promise<{ urls: readonly string[]; graph: CheckedGraph }>(
      (resolve, reject) => {
        this.#listening = resolve;
        this.#failed = reject;
      },
    );
    this.#send({ type: "serve", graph, options });
    return started.finally(() => {
      this.#listening = undefined;
      this.#failed = undefined;
    });
  }

  /** Asks the worker's host to close; terminates the worker when it has, or after a bound. */
  close(graceMs: number): Promise<void> {
    this.#send({ type: "close", graceMs });
    const timer = setTimeout(() => this.terminate(), graceMs + CLOSE_SLACK_MS);
    return this.finished.finally(() => clearTimeout(timer));
  }

  /**
   * Asks the worker's host to reload its graph; resolves with what it did.
   * @param serving the graph served now, kept when the worker cannot reload
   */
  async reload(
    graph: string | GraphSpec | undefined,
    serving: CheckedGraph,
  ): Promise<ReloadResult> {
    const answered = this.#gone
      ? null
      : new Promise<ReloadResult | null>((resolve) => this.#reloads.push(resolve));
    this.#send(graph === undefined ? { type: "reload" } : { type: "reload", graph });
    return await answered ?? refusedReload(`worker ${this.id} is not serving`, serving);
  }

  /** The worker's counters and graph; null when it is gone or not counting. */
  metrics(): Promise<WorkerMetrics | null> {
    if (this.#gone) return Promise.resolve(null);
    const id = this.#nextMetrics++;
    const answer = new Promise<WorkerMetrics | null>((resolve) => this.#metrics.set(id, resolve));
    this.#send({ type: "metrics", id });
    return answer;
  }

  /** Stops the worker at once. */
  terminate(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#worker.terminate();
    for (const answer of this.#reloads.splice(0)) answer(null);
    for (const answer of this.#metrics.values()) answer(null);
    this.#metrics.clear();
    this.#finished();
  }
}

/**
 * One result for the reloads of every worker: reloaded when each worker
 * reloaded, with each worker's message (once, when they all say the same).
 */
function combineReloads(results: readonly ReloadResult[]): ReloadResult {
  const messages = new Set(results.map((r) => r.message));
  const reason = results.find((r) => r.reason !== undefined)?.reason;
  return {
    reloaded: results.every((r) => r.reloaded),
    message: messages.size === 1
      ? results[0].message
      : results.map((r, i) => `worker ${i + 1}: ${r.message}`).join("; "),
    ...(reason === undefined ? {} : { reason }),
    listenersChanged: results.some((r) => r.listenersChanged),
    graphChanged: results.some((r) => r.graphChanged),
    draining: results.reduce((sum, r) => sum + r.draining, 0),
    graph: results[0].graph,
  };
}

/** A reload that did not happen, and why: the workers go on serving `serving`. */
function refusedReload(reason: string, serving: CheckedGraph): ReloadResult {
  return {
    reloaded: false,
    message: `reload failed: ${reason}`,
    reason,
    listenersChanged: false,
    graphChanged: false,
    draining: 0,
    graph: serving,
  };
}

/** True when a node of `graph` gives its servlet as an object, which cannot cross to a worker. */
function inCode(graph: GraphSpec): boolean {
  return Object.values(graph.nodes ?? {}).some((node) => typeof node.servlet !== "string");
}

/**
 * Serves `graph` on `count` workers sharing its ports, and returns one
 * {@linkcode Serving} for all of them.
 *
 * @example
 * ```ts ignore
 * // deno run --unstable-net --allow-net --allow-read
 * import { serveWorkers } from "@plumb/plumb/host";
 * const host = await serveWorkers("examples/hello.json", 2, { port: 0 });
 * console.log(host.urls); // ["tcp://127.0.0.1:40123"], served by both workers
 * await host.close();
 * ```
 * @throws {GraphError} for a bad graph or option, as {@linkcode serve} would
 */
export function serveWorkers(
  graph: string,
  count: number,
  options: ServeOptions = {},
): Promise<Serving> {
  return withPlumbErrors(startWorkers(graph, count, options));
}

async function startWorkers(
  graph: string,
  count: number,
  options: ServeOptions,
): Promise<Serving> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_WORKERS) {
    throw new GraphError(
      "PLUMB_CLI_WORKERS",
      `--workers must be a whole number from 1 to ${MAX_WORKERS}, got ${count}`,
    );
  }
  if (options.stdio || options.listenFd !== undefined || options.idleExitMs !== undefined) {
    throw new GraphError(
      "PLUMB_WORKERS_EXCLUSIVE",
      "--workers shares listening TCP ports; it cannot be used with --stdio, --listen-fd or " +
        "--idle-exit",
    );
  }
  if (!unstableNetEnabled()) {
    throw new GraphError(
      "PLUMB_WORKERS_UNSTABLE_NET",
      "--workers needs deno run --unstable-net: the workers share the port with reusePort",
    );
  }
  // A worker loads plumb's modules itself: local files need read permission.
  const root = new URL("../", import.meta.url);
  if (
    root.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: root }).state !== "granted"
  ) {
    const path = decodeURIComponent(root.pathname).replace(/\/$/, "");
    throw new PermissionHint(
      "PLUMB_PERMISSION_WORKERS",
      `--workers cannot load plumb's modules in its workers`,
      `--allow-read=${path}`,
    );
  }
  const log = options.logger ??
    createLogger(options.logLevel ?? "info", undefined, options.logFormat);
  const base: WorkerServeOptions = {
    logLevel: log.level,
    logFormat: log.format ?? "text",
    reusePort: true,
  };
  if (options.admin !== undefined) base.metrics = true;
  if (options.host !== undefined) base.host = options.host;
  if (options.port !== undefined) base.port = options.port;
  const workers: HostWorker[] = [];
  let closing = false;
  // The one store of every worker (each relays to it); one made here closes with the workers.
  const ownStore = options.store === undefined ? memoryStore() : undefined;
  const store = new StoreServer(options.store ?? ownStore!);

  // A worker's servlet errors are caught and logged in the worker; one that
  // still fails is stopped and logged, and the others go on serving.
  const start = (id: number): HostWorker =>
    new HostWorker(id, log, store, (failed, message) => {
      failed.terminate();
      if (!closing) {
        log.log(
          "error",
          "PLUMB_WORKER_STOPPED",
          `worker ${failed.id} failed and was stopped: ${message}`,
        );
      }
    });

  let admin: AdminListener | undefined;
  const stopAll = async (graceMs = 5000): Promise<void> => {
    closing = true;
    await Promise.all(workers.map((w) => w.close(graceMs)));
    await ownStore?.close();
    await admin?.close();
  };

  /** The admin listener's source: each worker's counters, under its number, and the first's graph. */
  const workersSource = (): AdminSource => {
    const answers = async (): Promise<{ worker: number; metrics: WorkerMetrics }[]> => {
      const all = await Promise.all(workers.map((w) => w.metrics()));
      return all.flatMap((metrics, i) =>
        metrics === null ? [] : [{ worker: workers[i].id, metrics }]
      );
    };
    return {
      scrape: async () =>
        (await answers()).map(({ worker, metrics }) => ({ worker, snapshot: metrics.snapshot })),
      view: async () => {
        const first = (await answers())[0];
        if (first === undefined) {
          throw new PlumbError(
            "PLUMB_ADMIN_NO_WORKER",
            "the admin page cannot draw the graph: no worker is serving",
          );
        }
        return first.metrics.view;
      },
      get stopping(): boolean {
        return closing;
      },
    };
  };

  try {
    const first = start(1);
    workers.push(first);
    const { urls, graph: checked } = await first.serve(graph, base);
    const nonTcp = checked.listeners.findIndex((module) => !TCP_MODULES.includes(module));
    if (nonTcp >= 0) {
      throw new GraphError(
        "PLUMB_WORKERS_NOT_TCP",
        `${checked.file}: --workers shares TCP ports only (tcp, tls); listener ${nonTcp + 1} is ` +
          `${checked.listeners[nonTcp]}`,
      );
    }
    const shared: WorkerServeOptions = {
      ...base,
      ports: urls.map((url) => Number(new URL(url.replace(/^(tcp|tls):/, "http:")).port)),
    };
    for (let id = 2; id <= count; id++) workers.push(start(id));
    await Promise.all(workers.slice(1).map((w) => w.serve(graph, shared)));
    let closed: Promise<void> | undefined;
    let serving = checked;
    if (options.admin !== undefined) admin = AdminListener.start(options.admin, workersSource());
    return {
      urls,
      adminUrl: admin?.url,
      get graph(): CheckedGraph {
        return serving;
      },
      finished: Promise.all(workers.map((w) => w.finished)).then(async () => {
        await ownStore?.close();
        await admin?.close();
      }),
      close(graceMs?: number): Promise<void> {
        closed ??= stopAll(graceMs);
        return closed;
      },
      // Each worker reloads its own servlets and logs its own line.
      async reload(next?: string | URL | GraphSpec): Promise<ReloadResult> {
        if (typeof next === "object" && !(next instanceof URL) && inCode(next)) {
          return refusedReload(
            "a graph with servlets given in code cannot be sent to workers; " +
              "name each servlet by its specifier",
            serving,
          );
        }
        const sent = next instanceof URL ? next.href : next;
        const result = combineReloads(
          await Promise.all(workers.map((w) => w.reload(sent, serving))),
        );
        if (result.reloaded) serving = result.graph;
        return result;
      },
    };
  } catch (error) {
    await stopAll(0);
    throw error;
  }
}
