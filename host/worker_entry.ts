/**
 * The program a `--workers` worker process runs (`deno run worker_entry.ts
 * N`): it serves the graph it is sent with its own servlet instances, on ports
 * it shares with the other workers (`reusePort`), sends its log lines to the
 * supervisor, and closes when told, or when the supervisor is gone (the end
 * of its standard input). It ignores SIGINT, SIGTERM and SIGHUP: a terminal's
 * Ctrl-C or systemd's stop reaches every process of the group, and the
 * supervisor then closes each worker in order.
 * @module
 */
import { type Host, serve } from "./host.ts";
import type { LogContext, LogFormat, Logger, LogLevel } from "../kernel/log.ts";
import { LOG_LEVELS } from "../kernel/log.ts";
import type { Code } from "../kernel/codes.ts";
import { isUsageError, lineOf, toPlumbError } from "../kernel/errors.ts";
import type { FromWorker, ToWorker } from "./worker_protocol.ts";
import { relayStore } from "./store_relay.ts";
import { parentChannel } from "./_worker_channel.ts";
// As in the CLI: the built-ins are loaded with the worker, needing no read permission.

const channel = parentChannel<ToWorker, FromWorker>();
let host: Host | undefined;

// A servlet may ask which worker it runs in, as it could of a Web Worker's name.
(globalThis as { name?: string }).name = `plumb worker ${Deno.args[0] ?? "?"}`;

function post(message: FromWorker): void {
  channel.send(message);
}

/** The worker's store: each operation is a message to the supervisor, which holds the back end. */
const store = relayStore(post);

/** A logger that hands each line to the supervisor, which writes it in `format`. */
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
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  post({
    type: "log",
    level: "error",
    code: "PLUMB_UNHANDLED_REJECTION",
    message: `unhandled rejection (from a servlet?): ${lineOf(event.reason)}`,
  });
});
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  post({
    type: "log",
    level: "error",
    code: "PLUMB_UNCAUGHT_EXCEPTION",
    message: `uncaught exception (from a servlet?): ${lineOf(event.error)}`,
  });
});

if (Deno.build.os !== "windows") {
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => {});
  }
}

/** Closes the host, tells the supervisor, and ends the process. */
async function finish(graceMs?: number): Promise<void> {
  await host?.close(graceMs);
  post({ type: "finished" });
  Deno.exit(0);
}

// The supervisor is gone: stop serving rather than hold the port alone.
channel.closed.then(() => {
  store.gone("the supervisor is gone");
  return finish(0);
});

channel.onmessage = async (command: ToWorker): Promise<void> => {
  if (command.type === "serve") {
    try {
      const { logLevel, logFormat, ...options } = command.options;
      host = await serve(command.graph, {
        ...options,
        logger: forwardingLogger(logLevel, logFormat),
        store,
      });
      // The host stops by itself when every listener is done.
      host.finished.then(() => finish());
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
  } else if (command.type === "ping") {
    post({ type: "pong" });
  } else if (command.type === "close") {
    await finish(command.graceMs);
  }
};
