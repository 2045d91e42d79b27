/**
 * `--workers N`: one host per worker process, all on the same ports, under
 * this process as their supervisor. Each worker (`deno run worker_entry.ts`)
 * loads the graph with its own servlet instances and listens with `reusePort`
 * (`SO_REUSEPORT`), so the operating system spreads new connections over the
 * workers and a connection, with its session state, stays on the worker that
 * accepted it. The first worker starts alone and picks the ports (port 0 picks
 * a free one); the others then listen on the same ones. A worker that exits
 * unexpectedly is logged and restarted, after a wait that doubles with each
 * recent exit; one that exits more than {@linkcode MAX_RESTARTS} times in a
 * minute is left stopped, and the others go on serving. The supervisor keeps
 * the admin listener and writes every worker's log.
 * @module
 */
import {
  GraphError,
  lineOf,
  PermissionHint,
  PlumbError,
  withPlumbErrors,
} from "../kernel/errors.ts";
import type { GraphSpec } from "../kernel/graph.ts";
import type { Serving } from "./host.ts";
import type { CheckedGraph } from "./load.ts";
import type { ServeOptions } from "./serve_options.ts";
import type { ReloadResult } from "./reload.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import { TCP_MODULES } from "./overrides.ts";
import type { FromWorker, ToWorker, WorkerServeOptions } from "./worker_protocol.ts";
import { AdminListener, type AdminSource } from "./admin.ts";
import type { MetricsSnapshot } from "./metrics.ts";
import type { GraphView } from "./graph_view.ts";
import { memoryStore } from "../kernel/store.ts";
import { type StoreRequest, StoreServer } from "./store_relay.ts";
import { type Channel, eachLine, processChannel } from "./_worker_channel.ts";
import { workerPermissionFlags } from "./_worker_permissions.ts";

/** What a worker tells the admin listener: its counters and its graph. */
interface WorkerMetrics {
  snapshot: MetricsSnapshot;
  view: GraphView;
}

/** Most workers `--workers` starts. */
export const MAX_WORKERS = 64;
/** Extra time a worker may take to close, beyond the grace of its requests, in ms. */
const CLOSE_SLACK_MS = 7000;

/** How a worker process is started: its deno flags and the program it runs. */
interface Launch {
  /** `deno run` flags: permissions, `--unstable-net`, the heap limit. */
  flags: readonly string[];
  /** `worker_entry.ts`. */
  entry: string;
}

/** How a worker process ended, for a log line: `code 1`, `signal SIGKILL`. */
function describeExit(status: Deno.CommandStatus, outOfMemory = false): string {
  return (status.signal !== null ? `signal ${status.signal}` : `code ${status.code}`) +
    (outOfMemory ? " (out of memory)" : "");
}

/** One worker process and its host's state. */
class HostWorker {
  readonly id: number;
  readonly #child: Deno.ChildProcess;
  readonly #channel: Channel<FromWorker, ToWorker>;
  readonly #log: Logger;
  #listening: ((value: { urls: readonly string[]; graph: CheckedGraph }) => void) | undefined;
  #failed: ((error: Error) => void) | undefined;
  /** Reloads sent and not yet answered, oldest first (a worker answers them in order). */
  readonly #reloads: ((result: ReloadResult | null) => void)[] = [];
  /** Metrics asked for and not yet answered, by request id. */
  readonly #metrics = new Map<number, (answer: WorkerMetrics | null) => void>();
  #nextMetrics = 1;
  /** Resolves with how the process ended, once it has and its output is read. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** When the worker last sent anything, in ms of `performance.now()`. */
  lastHeard = performance.now();
  /** True once its host listens. */
  serving = false;
  /** True once V8 said the worker ran out of heap. */
  outOfMemory = false;
  /** True once the worker said its host stopped: its exit is expected. */
  finishedServing = false;
  #gone = false;

  /** Where the worker's store requests go: the supervisor's store. */
  readonly #store: (request: StoreRequest) => void;

  constructor(id: number, log: Logger, launch: Launch, store: StoreServer) {
    this.id = id;
    this.#store = store.channel((answer) => this.#send(answer));
    this.#log = log;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...launch.flags, launch.entry, String(id)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new TextEncoder();
    this.#channel = processChannel(this.#child, (text) => {
      // A servlet's own output goes where it would have without workers.
      const bytes = stdout.encode(text);
      for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
    });
    this.#channel.onmessage = (message): void => this.#receive(message);
    const stderr = eachLine(this.#child.stderr, (line) => {
      if (line.trim() === "") return;
      if (line.includes("Fatal JavaScript out of memory")) this.outOfMemory = true;
      log.log("warn", "PLUMB_WORKER_STDERR", `worker ${id}: ${line}`, { fields: { worker: id } });
    });
    this.exited = Promise.all([this.#child.status, this.#channel.closed, stderr]).then(
      ([status]) => {
        this.#gone = true;
        this.#failed?.(
          new PlumbError(
            "PLUMB_WORKER_FAILED",
            `worker ${id}: exited with ${describeExit(status)} as it started`,
          ),
        );
        for (const answer of this.#reloads.splice(0)) answer(null);
        for (const answer of this.#metrics.values()) answer(null);
        this.#metrics.clear();
        return status;
      },
    );
  }

  #receive(message: FromWorker): void {
    this.lastHeard = performance.now();
    if (message.type === "log") {
      const { context } = message;
      this.#log.log(message.level, message.code, `worker ${this.id}: ${message.message}`, {
        ...context,
        fields: { ...context?.fields, worker: this.id },
      });
    } else if (message.type === "listening") {
      this.serving = true;
      this.#listening?.(message);
    } else if (message.type === "failed") {
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
    } else if (message.type === "finished") this.finishedServing = true;
    else if (message.type === "store") this.#store(message);
  }

  #send(message: ToWorker): void {
    if (!this.#gone) this.#channel.send(message);
  }

  /** True while the process runs. */
  get alive(): boolean {
    return !this.#gone;
  }

  /** Starts the worker's host; resolves once it listens, rejects when it cannot. */
  serve(
    graph: string | GraphSpec,
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

  /** Asks the worker for a sign of life (a `pong`, which sets {@linkcode lastHeard}). */
  ping(): void {
    this.#send({ type: "ping" });
  }

  /** Asks the worker's host to close; kills the process if it has not ended after a bound. */
  async close(graceMs: number): Promise<void> {
    this.#send({ type: "close", graceMs });
    const timer = setTimeout(() => this.terminate(), graceMs + CLOSE_SLACK_MS);
    await this.exited.finally(() => clearTimeout(timer));
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

  /** Kills the process at once. */
  terminate(): void {
    if (this.#gone) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // It has just exited.
    }
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

/** How `--workers` runs its worker processes, beyond the host's own options. */
export interface WorkerOptions {
  /**
   * `--worker-heap`: the V8 heap limit of each worker process in MiB
   * (`--v8-flags=--max-old-space-size=MB`). A worker that reaches it dies and
   * is restarted; the others go on serving.
   */
  heapMb?: number;
  /**
   * `--worker-watchdog`: a worker whose event loop has not answered for this
   * long, in ms (a servlet that never yields), is killed and restarted; 0
   * turns the watchdog off. Default {@linkcode DEFAULT_WATCHDOG_MS}.
   */
  watchdogMs?: number;
}

/** How long a worker may go without answering the watchdog, unless told, in ms. */
export const DEFAULT_WATCHDOG_MS = 10_000;

/** What {@linkcode serveWorkers} serves: a {@linkcode Serving}, and how many workers are left. */
export interface WorkersServing extends Serving {
  /**
   * The workers serving or waiting to be restarted: all of them, until one
   * exits too often and is left stopped. When it is 0, `finished` has
   * resolved: plumb stopped because no worker was left (the CLI exits 1).
   */
  readonly workersLeft: number;
}

/** Smallest and largest `--worker-heap`, in MiB. */
export const WORKER_HEAP_MB = { min: 16, max: 1_048_576 } as const;
/** Exits of one worker within {@linkcode RESTART_WINDOW_MS} after which it is not restarted. */
export const MAX_RESTARTS = 5;
/** The window in which {@linkcode MAX_RESTARTS} is counted, in ms. */
const RESTART_WINDOW_MS = 60_000;
/** The wait before the first restart of a worker, doubled for each recent exit, in ms. */
const RESTART_DELAY_MS = 100;
/** The longest wait before a restart, in ms. */
const MAX_RESTART_DELAY_MS = 5000;

/**
 * Serves `graph` on `count` worker processes sharing its ports, under this
 * process as their supervisor, and returns one {@linkcode Serving} for all of
 * them. A worker that exits unexpectedly (a crash, V8 out of memory, a kill)
 * is logged and restarted while the others go on serving.
 *
 * @example
 * ```ts ignore
 * // deno run --allow-net --allow-read --allow-run
 * import { serveWorkers } from "@plumb/plumb/host";
 * const host = await serveWorkers("examples/hello.json", 2, { port: 0 }, { heapMb: 256 });
 * console.log(host.urls); // ["tcp://127.0.0.1:40123"], served by both workers
 * await host.close();
 * ```
 * @throws {GraphError} for a bad graph or option, as {@linkcode serve} would
 */
export function serveWorkers(
  graph: string,
  count: number,
  options: ServeOptions = {},
  workerOptions: WorkerOptions = {},
): Promise<WorkersServing> {
  return withPlumbErrors(startWorkers(graph, count, options, workerOptions));
}

/** The flags and program of every worker process, after checking the supervisor may start them. */
function launchOf(graph: string, options: ServeOptions, workerOptions: WorkerOptions): Launch {
  const { heapMb } = workerOptions;
  if (
    heapMb !== undefined &&
    (!Number.isInteger(heapMb) || heapMb < WORKER_HEAP_MB.min || heapMb > WORKER_HEAP_MB.max)
  ) {
    throw new GraphError(
      "PLUMB_CLI_WORKER_HEAP",
      `--worker-heap must be a whole number of MiB from ${WORKER_HEAP_MB.min} to ` +
        `${WORKER_HEAP_MB.max}, got ${heapMb}`,
    );
  }
  const { watchdogMs } = workerOptions;
  if (watchdogMs !== undefined && !(watchdogMs >= 0 && Number.isFinite(watchdogMs))) {
    throw new GraphError(
      "PLUMB_CLI_WORKER_WATCHDOG",
      `--worker-watchdog takes a duration such as 30s, 5m or 500ms, got "${watchdogMs}ms"`,
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
  const deno = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: deno }).state !== "granted") {
    throw new PermissionHint(
      "PLUMB_PERMISSION_WORKERS_RUN",
      "--workers cannot start its worker processes",
      `--allow-run=${deno}`,
    );
  }
  const entry = new URL("./worker_entry.ts", import.meta.url);
  return {
    flags: [
      ...workerPermissionFlags(graph, root, options.host, options.port),
      "--unstable-net",
      "--no-prompt",
      ...(heapMb === undefined ? [] : [`--v8-flags=--max-old-space-size=${heapMb}`]),
    ],
    entry: entry.protocol === "file:" ? decodeURIComponent(entry.pathname) : entry.href,
  };
}

/** One worker's place: the process serving in it now, and its recent exits. */
interface Slot {
  readonly id: number;
  worker: HostWorker;
  /** When it exited lately, in ms of `performance.now()`. */
  exits: number[];
  /** Set once it exited too often: it is not restarted. */
  givenUp: boolean;
  restartTimer?: ReturnType<typeof setTimeout>;
}

async function startWorkers(
  graph: string,
  count: number,
  options: ServeOptions,
  workerOptions: WorkerOptions,
): Promise<WorkersServing> {
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
  const launch = launchOf(graph, options, workerOptions);
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
  const slots: Slot[] = [];
  let closing = false;
  // The one store of every worker (each relays to it); one made here closes with the workers.
  const ownStore = options.store === undefined ? memoryStore() : undefined;
  const store = new StoreServer(options.store ?? ownStore!);

  let started = false;
  /** What a restarted worker serves: the graph given, or the last one reloaded. */
  let current: string | GraphSpec = graph;
  let shared: WorkerServeOptions = base;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => allDone = resolve);

  const watchdogMs = workerOptions.watchdogMs ?? DEFAULT_WATCHDOG_MS;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  /** Pings each serving worker, and kills one that has not answered for `watchdogMs`. */
  const watch = (): void => {
    const now = performance.now();
    for (const slot of slots) {
      const { worker } = slot;
      if (!worker.alive || !worker.serving) continue;
      if (now - worker.lastHeard > watchdogMs) {
        log.log(
          "error",
          "PLUMB_WORKER_UNRESPONSIVE",
          `worker ${slot.id} has not answered for ${watchdogMs / 1000} s (a servlet that never ` +
            `yields?); killing it`,
          { fields: { worker: slot.id } },
        );
        worker.terminate();
      } else worker.ping();
    }
  };

  const live = (): HostWorker[] => slots.flatMap((s) => s.worker.alive ? [s.worker] : []);

  /** Starts the worker of `slot` afresh, serving what the others serve. */
  const restart = (slot: Slot): void => {
    slot.restartTimer = undefined;
    if (closing) return;
    slot.worker = spawn(slot.id);
    slot.worker.serve(current, shared).then(
      () => log.log("info", "PLUMB_WORKER_RESTARTED", `worker ${slot.id} restarted`),
      (error) => {
        if (closing) return; // stopped as it started
        log.log("error", "PLUMB_WORKER_FAILED", `worker ${slot.id}: ${lineOf(error)}`);
        slot.worker.terminate();
      },
    );
  };

  /** A worker process ended: restart it unless plumb is closing or it exits too often. */
  const exited = (worker: HostWorker, status: Deno.CommandStatus): void => {
    const slot = slots.find((s) => s.worker === worker);
    if (!started || closing || slot === undefined || worker.finishedServing) return;
    const now = performance.now();
    slot.exits = [...slot.exits.filter((t) => now - t < RESTART_WINDOW_MS), now];
    const recent = slot.exits.length;
    const how = describeExit(status, worker.outOfMemory);
    if (recent > MAX_RESTARTS) {
      slot.givenUp = true;
      log.log(
        "error",
        "PLUMB_WORKER_GAVE_UP",
        `worker ${slot.id} exited with ${how}, ${recent} times within ` +
          `${RESTART_WINDOW_MS / 1000} s; it is not restarted; workers left: ` +
          slots.filter((s) => !s.givenUp).length,
        { fields: { worker: slot.id } },
      );
      if (slots.every((s) => s.givenUp)) {
        clearInterval(watchdog);
        allDone();
      }
      return;
    }
    const delay = Math.min(RESTART_DELAY_MS * 2 ** (recent - 1), MAX_RESTART_DELAY_MS);
    log.log(
      "error",
      "PLUMB_WORKER_EXITED",
      `worker ${slot.id} exited with ${
        describeExit(status, worker.outOfMemory)
      }; restarting it in ${delay} ms`,
      { fields: { worker: slot.id } },
    );
    slot.restartTimer = setTimeout(() => restart(slot), delay);
  };

  const spawn = (id: number): HostWorker => {
    const worker = new HostWorker(id, log, launch, store);
    worker.exited.then((status) => exited(worker, status));
    return worker;
  };

  let admin: AdminListener | undefined;
  const stopAll = async (graceMs = 5000): Promise<void> => {
    closing = true;
    clearInterval(watchdog);
    for (const slot of slots) clearTimeout(slot.restartTimer);
    await Promise.all(slots.map((s) => s.worker.close(graceMs)));
    await ownStore?.close();
    await admin?.close();
    allDone();
  };

  /** The admin listener's source: each worker's counters, under its number, and the first's graph. */
  const workersSource = (): AdminSource => {
    const answers = async (): Promise<{ worker: number; metrics: WorkerMetrics }[]> => {
      const workers = live();
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

  const newSlot = (id: number): Slot => {
    const slot: Slot = { id, worker: spawn(id), exits: [], givenUp: false };
    slots.push(slot);
    return slot;
  };

  try {
    const first = newSlot(1).worker;
    const { urls, graph: checked } = await first.serve(graph, base);
    const nonTcp = checked.listeners.findIndex((module) => !TCP_MODULES.includes(module));
    if (nonTcp >= 0) {
      throw new GraphError(
        "PLUMB_WORKERS_NOT_TCP",
        `${checked.file}: --workers shares TCP ports only (tcp, tls); listener ${nonTcp + 1} is ` +
          `${checked.listeners[nonTcp]}`,
      );
    }
    shared = {
      ...base,
      ports: urls.map((url) => Number(new URL(url.replace(/^(tcp|tls):/, "http:")).port)),
    };
    for (let id = 2; id <= count; id++) newSlot(id);
    await Promise.all(slots.slice(1).map((s) => s.worker.serve(graph, shared)));
    started = true;
    if (watchdogMs > 0) watchdog = setInterval(watch, Math.max(watchdogMs / 4, 10));
    let closed: Promise<void> | undefined;
    let serving = checked;
    if (options.admin !== undefined) admin = AdminListener.start(options.admin, workersSource());
    return {
      urls,
      adminUrl: admin?.url,
      get graph(): CheckedGraph {
        return serving;
      },
      get workersLeft(): number {
        return slots.filter((s) => !s.givenUp).length;
      },
      finished: done.then(async () => {
        await ownStore?.close();
        await admin?.close();
      }),
      close(graceMs?: number): Promise<void> {
        closed ??= stopAll(graceMs);
        return closed;
      },
      // Each worker reloads its own servlets and logs its own line; a worker
      // restarting meanwhile starts on the graph the others reloaded.
      async reload(next?: string | URL | GraphSpec): Promise<ReloadResult> {
        if (typeof next === "object" && !(next instanceof URL) && inCode(next)) {
          return refusedReload(
            "a graph with servlets given in code cannot be sent to workers; " +
              "name each servlet by its specifier",
            serving,
          );
        }
        const sent = next instanceof URL ? next.href : next;
        const workers = live();
        if (workers.length === 0) return refusedReload("no worker is serving", serving);
        const result = combineReloads(
          await Promise.all(workers.map((w) => w.reload(sent, serving))),
        );
        if (result.reloaded) {
          serving = result.graph;
          if (sent !== undefined) current = sent;
        }
        return result;
      },
    };
  } catch (error) {
    await stopAll(0);
    throw error;
  }
}
