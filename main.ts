/**
 * The plumb command line: load, check and serve a `graph.json`.
 *
 * ```sh
 * deno run --allow-net --allow-read main.ts examples/hello.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import type { Code } from "./kernel/codes.ts";
import { isUsageError, lineOf, PlumbError, toPlumbError } from "./kernel/errors.ts";
import { checkGraph, graphToDot, serve, type ServeOptions, type Serving } from "./host/mod.ts";
import {
  createLogger,
  formatLogLine,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogContext,
  type LogFormat,
  type LogLevel,
} from "./kernel/log.ts";
import { MAX_WORKERS, serveWorkers, WORKER_HEAP_MB, type WorkerOptions } from "./host/workers.ts";
import { checkAdminAddress, parseAdminAddress } from "./host/admin.ts";
import { logFileSink, stderrIsConnection } from "./host/log_sink.ts";
import { typeCheckServlets } from "./host/type_check.ts";
import { openStore } from "./host/store_backends.ts";

const USAGE = `plumb ${denoJson.version}: serve a graph of servlets

Usage:
  deno run --allow-net --allow-read main.ts GRAPH.json [options]

Options:
  --host HOST         listen address of the first listener
  --port PORT         port of the first listener (0 picks a free port)
  --stdio             serve standard input and output as one connection instead
                      (a terminal; inetd, xinetd or tcpserver in "nowait" mode)
  --listen-fd FD      adopt the inherited listening socket FD for the first listener
                      (socket activation: 3 under systemd, 0 under inetd "wait");
                      with --allow-env=LISTEN_FDS,LISTEN_PID, systemd's is found by itself
  --idle-exit TIME    stop after TIME with no connection (30s, 5m, 500ms; open
                      sessions are never cut)
  --workers N         serve on N worker processes sharing the TCP ports, each with
                      its own servlets, restarted when one dies; needs --allow-run
                      for the deno executable
  --worker-heap MB    with --workers: each worker's V8 heap limit, in MiB
  --worker-watchdog TIME  with --workers: kill and restart a worker whose event loop
                      has not answered for TIME (default 10s; 0 turns it off)
  --store URL         where servlets' shared key-value buckets live: memory (the
                      default: in this process, shared by its nodes and workers) or
                      nats://HOST:PORT (NATS KV, shared by every host naming it)
  --admin HOST:PORT   serve the admin page (the graph at work), /metrics (Prometheus)
                      and /health there (127.0.0.1:9090; port 0 picks a free one)
  --admin-public      let --admin listen on an address that is not loopback
  --check             load and check the graph (type-checking its servlet files
                      with deno check, given --allow-run), print a summary, exit
  --dot               load and check the graph, print it as Graphviz DOT, exit
  --log-level LEVEL   error, warn, info (default; error with --stdio) or debug
  --log-format FORMAT text (default) or json: one JSON object a line, with the fields
                      time, level, code, node, peer and message
  --log-file PATH     append log lines to PATH instead of standard error (with
                      --stdio under inetd, standard error is the client: no log there)
  -h, --help          show this help
  -V, --version       print the version

Signals: SIGINT or SIGTERM stops (requests in flight finish; a second one exits at
once); SIGHUP reloads the graph file (and tls certificates): new connections get it,
open ones finish on theirs.

Exit status: 0 served and stopped, 2 bad command line or graph, 1 other failure.
`;

/** What the command line asks for. */
interface Command {
  graph: string;
  options: ServeOptions;
  check: boolean;
  dot: boolean;
  /** Worker processes to serve on; 0 serves in this process. */
  workers: number;
  /** How the worker processes run. */
  workerOptions: WorkerOptions;
  /** `--log-file`: where log lines go instead of standard error. */
  logFile?: string;
  /** `--store`: the URL of the store's back end, opened when serving. */
  store?: string;
}

/** True once the command line asked for `--log-level debug`. */
let debugging = false;

/**
 * Where the lines for the operator go and how they look: standard error as
 * text until the command line says otherwise (see {@linkcode logOutput}).
 */
let out: Output = { sink: (line) => console.error(line), format: "text", alsoStderr: false };

/** Where the lines for the operator go, and how they look. */
interface Output {
  sink: (line: string) => void;
  format: LogFormat;
  /** The last line of a failed run goes to standard error as well (the log is a file). */
  alsoStderr: boolean;
}

/**
 * Writes a line for the operator whatever the log level: as text,
 * `PREFIX CODE message` (`plumb: `, `plumb warn: `), or as a JSON log line.
 */
function say(
  level: LogLevel,
  prefix: string,
  code: Code,
  message: string,
  context?: LogContext,
): void {
  out.sink(
    out.format === "text"
      ? `${prefix}${code} ${message}`
      : formatLogLine("json", level, code, message, context),
  );
}

/**
 * Where the log goes: `--log-file`; else standard error, unless it is the
 * connection `--stdio` serves (inetd, xinetd), where every line is dropped
 * rather than read by the client.
 */
function logOutput(command: Command): Output {
  const format = command.options.logFormat ?? "text";
  const silent = command.options.stdio === true && stderrIsConnection();
  if (command.logFile !== undefined) {
    return { sink: logFileSink(command.logFile), format, alsoStderr: !silent };
  }
  if (silent) return { sink: () => {}, format, alsoStderr: false };
  return { sink: (line) => console.error(line), format, alsoStderr: false };
}

/** A failure of the command line: code, message and exit status. */
class CliExit extends PlumbError {
  constructor(code: Code, message: string, readonly status: number) {
    super(code, message);
  }
}

function parse(
  argv: string[],
): Command | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        check: { type: "boolean" },
        dot: { type: "boolean" },
        stdio: { type: "boolean" },
        "listen-fd": { type: "string" },
        "idle-exit": { type: "string" },
        workers: { type: "string" },
        store: { type: "string" },
        "worker-heap": { type: "string" },
        "worker-watchdog": { type: "string" },
        admin: { type: "string" },
        "admin-public": { type: "boolean" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        "log-file": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new CliExit("PLUMB_CLI_BAD_OPTION", `${(error as Error).message}; see --help`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) return USAGE;
  if (values.version) return `plumb ${denoJson.version}\n`;
  if (positionals.length !== 1) {
    throw new CliExit(
      positionals.length === 0 ? "PLUMB_CLI_NO_GRAPH" : "PLUMB_CLI_GRAPHS",
      positionals.length === 0
        ? "no graph file given; usage: main.ts GRAPH.json [options], see --help"
        : `one graph file expected, got ${positionals.length}: ${positionals.join(" ")}`,
      2,
    );
  }
  const options: ServeOptions = {};
  if (values.host !== undefined) options.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new CliExit(
        "PLUMB_CLI_PORT",
        `--port must be a whole number from 0 to 65535, got "${values.port}"`,
        2,
      );
    }
    options.port = port;
  }
  if (values.stdio) options.stdio = true;
  const fd = values["listen-fd"] ?? systemdListenFd();
  if (fd !== undefined) {
    if (!/^\d+$/.test(fd)) {
      throw new CliExit(
        "PLUMB_CLI_LISTEN_FD",
        `--listen-fd must be a file descriptor number, got "${fd}"`,
        2,
      );
    }
    options.listenFd = Number(fd);
  }
  if (values["idle-exit"] !== undefined) options.idleExitMs = parseDuration(values["idle-exit"]);
  if (values.admin !== undefined) {
    try {
      options.admin = {
        ...parseAdminAddress(values.admin),
        public: values["admin-public"] ?? false,
      };
      checkAdminAddress(options.admin);
    } catch (error) {
      if (error instanceof PlumbError) throw new CliExit(error.code, error.message, 2);
      throw error;
    }
  } else if (values["admin-public"]) {
    throw new CliExit("PLUMB_CLI_ADMIN_PUBLIC", "--admin-public goes with --admin HOST:PORT", 2);
  }
  const level = values["log-level"] ?? (values.stdio ? "error" : undefined);
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      throw new CliExit(
        "PLUMB_CLI_LOG_LEVEL",
        `--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`,
        2,
      );
    }
    options.logLevel = level as LogLevel;
    debugging = level === "debug";
  }
  const format = values["log-format"];
  if (format !== undefined) {
    if (!LOG_FORMATS.includes(format as LogFormat)) {
      throw new CliExit(
        "PLUMB_CLI_LOG_FORMAT",
        `--log-format must be one of ${LOG_FORMATS.join(", ")}, got "${format}"`,
        2,
      );
    }
    options.logFormat = format as LogFormat;
  }
  const workers = Number(values.workers ?? "1");
  if (!/^\d+$/.test(values.workers ?? "1") || workers < 1 || workers > MAX_WORKERS) {
    throw new CliExit(
      "PLUMB_CLI_WORKERS",
      `--workers must be a whole number from 1 to ${MAX_WORKERS}, got "${values.workers}"`,
      2,
    );
  }
  const workerOptions: WorkerOptions = {};
  const heap = values["worker-heap"];
  if (heap !== undefined) {
    if (values.workers === undefined) {
      throw new CliExit("PLUMB_CLI_WORKER_HEAP", "--worker-heap goes with --workers N", 2);
    }
    const mb = Number(heap);
    if (!/^\d+$/.test(heap) || mb < WORKER_HEAP_MB.min || mb > WORKER_HEAP_MB.max) {
      throw new CliExit(
        "PLUMB_CLI_WORKER_HEAP",
        `--worker-heap must be a whole number of MiB from ${WORKER_HEAP_MB.min} to ` +
          `${WORKER_HEAP_MB.max}, got "${heap}"`,
        2,
      );
    }
    workerOptions.heapMb = mb;
  }
  const watchdog = values["worker-watchdog"];
  if (watchdog !== undefined) {
    if (values.workers === undefined) {
      throw new CliExit("PLUMB_CLI_WORKER_WATCHDOG", "--worker-watchdog goes with --workers N", 2);
    }
    workerOptions.watchdogMs = parseDuration(
      watchdog,
      "--worker-watchdog",
      "PLUMB_CLI_WORKER_WATCHDOG",
    );
  }
  return {
    graph: positionals[0],
    options,
    check: values.check ?? false,
    dot: values.dot ?? false,
    // --workers 1 with --worker-heap or --worker-watchdog: one worker process, restarted when it dies.
    workers: workers > 1 || heap !== undefined || watchdog !== undefined ? workers : 0,
    workerOptions,
    ...(values["log-file"] === undefined ? {} : { logFile: values["log-file"] }),
    ...(values.store === undefined ? {} : { store: values.store }),
  };
}

/** Milliseconds of a duration such as `30s`, `5m`, `500ms` or `1h` (a bare number is seconds). */
function parseDuration(
  text: string,
  flag = "--idle-exit",
  code: Code = "PLUMB_CLI_IDLE_EXIT",
): number {
  const match = text.match(/^(\d+(?:\.\d+)?)(ms|s|m|h)?$/);
  if (!match) {
    throw new CliExit(code, `${flag} takes a duration such as 30s, 5m or 500ms, got "${text}"`, 2);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  return Number(match[1]) * unit;
}

/**
 * The descriptor systemd passed (3) when this process was socket-activated:
 * `LISTEN_FDS` set and `LISTEN_PID` ours. Read only when the environment
 * permission for them was granted.
 */
function systemdListenFd(): string | undefined {
  const granted = (variable: string): boolean =>
    Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  if (!granted("LISTEN_FDS") || !granted("LISTEN_PID")) return undefined;
  const fds = Number(Deno.env.get("LISTEN_FDS") ?? "0");
  const pid = Deno.env.get("LISTEN_PID");
  if (fds < 1 || (pid !== undefined && Number(pid) !== Deno.pid)) return undefined;
  return "3";
}

/**
 * Reloads the graph on SIGHUP, as the article's daemons re-read their
 * configuration: new connections get the re-read graph, open ones finish on
 * theirs; a graph that does not check is logged and the old one kept (the host
 * logs either). Not with --stdio, where a hangup means the terminal is gone.
 */
function reloadOnHangup(host: Serving): void {
  if (Deno.build.os === "windows") return;
  Deno.addSignalListener("SIGHUP", () => {
    host.reload().catch((error) =>
      say("error", "plumb error: ", "PLUMB_RELOAD_UNEXPECTED", `reload failed: ${lineOf(error)}`)
    );
  });
}

function waitForSignal(host: Serving): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) Deno.exit(130);
      stopping = true;
      say("info", "plumb: ", "PLUMB_STOPPING", "stopping (a second signal exits at once)");
      host.close().then(resolve);
    };
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
    host.finished.then(resolve);
  });
}

async function main(argv: string[]): Promise<number> {
  // Under inetd not even a bad command line is written to the client.
  if (argv.includes("--stdio") && stderrIsConnection()) {
    out = { sink: () => {}, format: "text", alsoStderr: false };
  }
  const command = parse(argv);
  if (typeof command === "string") {
    await Deno.stdout.write(new TextEncoder().encode(command));
    return 0;
  }
  out = logOutput(command);
  const { options } = command;
  options.logger = createLogger(options.logLevel ?? "info", out.sink, out.format);
  if (command.dot) {
    await Deno.stdout.write(
      new TextEncoder().encode(await graphToDot(command.graph, command.options)),
    );
    return 0;
  }
  if (command.check) {
    const checked = await checkGraph(command.graph, command.options);
    // deno run does not type-check the servlet modules it imports: deno check them.
    await typeCheckServlets(command.graph, createLogger(command.options.logLevel));
    const { warnings } = checked;
    console.log(
      `${checked.file}: ok: ${checked.nodes.length} node(s), ${checked.edges} edge(s), ` +
        `${checked.listeners.length} listener(s)` +
        (warnings.length > 0 ? `, ${warnings.length} warning(s)` : ""),
    );
    // Warnings do not fail the check: the graph serves, these parts have no effect.
    for (const warning of warnings) say("warn", "plumb warn: ", "PLUMB_CHECK_WARNING", warning);
    return 0;
  }
  // A store the command line names is the CLI's to close, once the host has stopped.
  const store = command.store === undefined
    ? undefined
    : await openStore(command.store, options.logger);
  if (store !== undefined) options.store = store;
  try {
    return await serveUntilStopped(command);
  } finally {
    await store?.close();
  }
}

/** Serves the command's graph until a signal (or the host itself) stops it; the exit code. */
async function serveUntilStopped(command: Command): Promise<number> {
  const host = command.workers > 0
    ? await serveWorkers(command.graph, command.workers, command.options, command.workerOptions)
    : await serve(command.graph, command.options);
  const stopped = waitForSignal(host); // listen for signals before telling anyone we listen
  if (!command.options.stdio) reloadOnHangup(host);
  // With --stdio, standard output is the conversation: no listening line there.
  if (!command.options.stdio) { for (const url of host.urls) console.log(`listening on ${url}`); }
  // With --stdio, a line of the log: standard output is the conversation.
  if (host.adminUrl !== undefined) {
    if (!command.options.stdio) console.log(`admin on ${host.adminUrl}`);
    else say("info", "plumb info: ", "PLUMB_ADMIN_LISTENING", `admin on ${host.adminUrl}`);
  }
  await stopped;
  // Every worker exited too often and was left stopped (the log says so): a failure.
  if ("workersLeft" in host && host.workersLeft === 0) return 1;
  return 0;
}

/**
 * Keeps the host up when a servlet leaves a promise rejected with no handler
 * or throws from a timer: that failure is logged, and every other connection
 * goes on being served.
 */
function survive(): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    say(
      "error",
      "plumb error: ",
      "PLUMB_UNHANDLED_REJECTION",
      `unhandled rejection (from a servlet?): ${lineOf(event.reason)}`,
    );
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    say(
      "error",
      "plumb error: ",
      "PLUMB_UNCAUGHT_EXCEPTION",
      `uncaught exception (from a servlet?): ${lineOf(event.error)}`,
    );
  });
}

if (import.meta.main) {
  survive();
  let status: number;
  try {
    status = await main(Deno.args);
  } catch (thrown) {
    // One line, whatever failed: the code and message a library call would throw.
    const error = toPlumbError(thrown);
    status = error instanceof CliExit ? error.status : isUsageError(error) ? 2 : 1;
    const message = lineOf(error).slice(error.code.length + 1);
    say("error", "plumb: ", error.code, message, { fields: { exit: status } });
    // Into a --log-file, and on standard error too, for whoever started plumb.
    if (out.alsoStderr) console.error(`plumb: ${lineOf(error)}`);
    // A bug's stack, for its report, only when asked for.
    if (error.code === "PLUMB_UNEXPECTED" && debugging) {
      if (out.format === "text") out.sink(Deno.inspect(error.cause));
      else say("debug", "", error.code, Deno.inspect(error.cause));
    }
  }
  Deno.exit(status);
}
