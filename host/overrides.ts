/**
 * What the command line overrides in a graph's listeners: `--stdio` (the
 * first listener's session options over standard input and output), `--host`,
 * `--port` and `--listen-fd` (the first listener), the ports `--workers`
 * hands its workers, and `reusePort`.
 * @module
 */
import { GraphError } from "../kernel/errors.ts";
import type { GraphSpec, ListenerSpec } from "../kernel/graph.ts";
import { SESSION_OPTIONS } from "../modules/session_options.ts";
import type { ServeOptions } from "./serve_options.ts";

/** The names of the session options, which `--stdio` and in-memory connections carry over. */
const SESSION_NAMES = Object.keys(SESSION_OPTIONS);

/** The modules that listen on a TCP port: `--host`, `--port`, `--listen-fd` and `reusePort` apply. */
export const TCP_MODULES: readonly string[] = ["tcp", "tls"];

/**
 * The session options (`ttl`, `maxMessageSize`, `open`, `requestTimeout`,
 * `writeTimeout`, `errorReply`, `onError`) of a graph's first listener, as written:
 * what `--stdio` and the host's in-memory connections serve with.
 */
export function firstSessionOptions(spec: GraphSpec): Record<string, unknown> {
  const first = spec.listeners?.[0]?.options ?? {};
  return Object.fromEntries(
    Object.entries(first).filter(([name]) => SESSION_NAMES.includes(name)),
  );
}

/**
 * The listeners to start: the graph's, with the overrides of `options` applied.
 * Throws a {@linkcode GraphError} when `--host`, `--port` or `--listen-fd`
 * meet a first listener that is not `tcp` or `tls`.
 */
export function listenerSpecs(
  file: string,
  spec: GraphSpec,
  options: ServeOptions,
): ListenerSpec[] {
  const listeners = (spec.listeners ?? []).map((l) => ({ ...l, options: { ...l.options } }));
  if (options.stdio) return [{ module: "stdio", options: firstSessionOptions(spec) }];
  if (
    options.host !== undefined || options.port !== undefined || options.listenFd !== undefined
  ) {
    if (listeners.length === 0) listeners.push({ module: "tcp", options: {} });
    if (!TCP_MODULES.includes(listeners[0].module)) {
      throw new GraphError(
        "PLUMB_CLI_NOT_TCP",
        `${file}: --host, --port and --listen-fd apply to the first listener, which must be tcp ` +
          `or tls, not ${listeners[0].module}`,
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
      if (TCP_MODULES.includes(listener.module)) listener.options.reusePort = true;
    }
  }
  return listeners;
}
