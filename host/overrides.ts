/**
 * What the command line overrides in a graph's listeners: `--stdio` (the
 * first listener's session options over standard input and output), `--host`,
 * `--port` and `--listen-fd` (the first listener), the ports `--workers`
 * hands its workers, and `reusePort`.
 * @module
 */
import { GraphError } from "../kernel/errors.ts";
import type { GraphSpec, ListenerSpec } from "../kernel/graph.ts";
import { SESSION_RULES } from "../modules/session_options.ts";
import type { ServeOptions } from "./serve_options.ts";

/** The options `--stdio` carries over from the first listener: its session's. */
const SESSION_OPTIONS = Object.keys(SESSION_RULES);

/**
 * The listeners to start: the graph's, with the overrides of `options` applied.
 * Throws a {@linkcode GraphError} when `--host`, `--port` or `--listen-fd`
 * meet a first listener that is not `tcp`.
 */
export function listenerSpecs(
  file: string,
  spec: GraphSpec,
  options: ServeOptions,
): ListenerSpec[] {
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
        "PLUMB_CLI_NOT_TCP",
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
