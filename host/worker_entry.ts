/**
 * The code a `--workers` worker runs: it serves the graph it is sent with its
 * own servlet instances, on ports it shares with the other workers
 * (`reusePort`), sends its log lines to the main isolate, and closes when told.
 * @module
 */
import { type Host, serve } from "./host.ts";
import type { LogContext, LogFormat, Logger, LogLevel } from "../kernel/log.ts";
import { LOG_LEVELS } from "../kernel/log.ts";
import type { Code } from "../kernel/codes.ts";
import { isUsageError, lineOf, toPlumbError } from "../kernel/errors.ts";
import type { FromWorker, ToWorker } from "./worker_protocol.ts";
import { relayStore } from "./store_relay.ts";
// As in the CLI: the built-ins are loaded with the worker, needing no read permission.

/** The worker's global scope, as far as this module uses it. */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  addEventListener(
    type: "unhandledrejection" | "error",
    listener: (event: Event & { reason?: unknown; error?: unknown }) => void,
  ): void;
}

const scope = globalThis as unknown as WorkerScope;
let host: Host | undefined;

function post(message: FromWorker): void {
  scope.postMessage(message);
}

/** The worker's store: each operation is a message to the main isolate, which holds the back end. */
const store = relayStore(post);

/** A logger that hands each line to the main isolate, which writes it in `format`. */
function forwardingLogger(level: LogLevel, format: LogFormat): Logger {
  const max = LOG_LEVELS.indexOf(level);
  return {
    level,
    format,
    enabled: (l: LogLevel): boolean => LOG_LEVELS.indexOf(l) <= max,
    log(l: LogLevel, code: Code, message: string, context?: LogContext): void {
      if (LOG_LEVELS.indexOf(l) > max) return;
      post(
        context === undefined
          ? { type: "log", level: l, code, message }
          : { type: "log", level: l, code, message, context },
      );
    },
  };
}

// As in the CLI: a servlet's stray rejection or exception is logged, and the worker goes on.
scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  post({
    type: "log",
    level: "error",
    code: "PLUMB_UNHANDLED_REJECTION",
    message: `unhandled rejection (from a servlet?): ${lineOf(event.reason)}`,
  });
});
scope.addEventListener("error", (event) => {
  event.preventDefault();
  post({
    type: "log",
    level: "error",
    code: "PLUMB_UNCAUGHT_EXCEPTION",
    message: `uncaught exception (from a servlet?): ${lineOf(event.error)}`,
  });
});

scope.onmessage = async (event: MessageEvent<ToWorker>): Promise<void> => {
  const command = event.data;
  if (command.type === "serve") {
    try {
      const { logLevel, logFormat, ...options } = command.options;
      host = await serve(command.graph, {
        ...options,
        logger: forwardingLogger(logLevel, logFormat),
        store,
      });
      host.finished.then(() => post({ type: "finished" }));
      post({ type: "listening", urls: host.urls, graph: host.graph });
    } catch (error) {
      const failure = toPlumbError(error);
      post({
        type: "failed",
        usage: isUsageError(failure),
        code: failure.code,
        message: failure.message,
      });
    }
  } else if (command.type === "reload") {
    post({
      type: "reloaded",
      result: host === undefined ? null : await host.reload(command.graph),
    });
  } else if (command.type === "metrics") {
    post({
      type: "metrics",
      id: command.id,
      snapshot: host?.metrics() ?? null,
      view: host?.view() ?? null,
    });
  } else if (command.type === "store") {
    store.receive(command);
  } else if (command.type === "close") {
    if (host === undefined) post({ type: "finished" });
    else await host.close(command.graceMs);
  }
};
