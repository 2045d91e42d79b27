/**
 * Embedding plumb: serve a graph from your own program, run it in memory
 * with no socket (`Host.load`, `Host.connect`), check it, draw it, build it
 * in code, reload it, or run it on several workers.
 *
 * @example
 * ```ts
 * import { graph, serve } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 *
 * const spec = graph()
 *   .node("greet", "hello")
 *   .input("greet.in")
 *   .output("greet.out")
 *   .listen("tcp", { host: "127.0.0.1", port: 0 })
 *   .build();
 * const host = await serve(spec, { logLevel: "error" });
 * assertEquals(host.graph.nodes, ["greet"]);
 * await host.close();
 * ```
 * @module
 */
export {
  type ConnectOptions,
  Host,
  type MemoryConnection,
  type ReloadResult,
  serve,
  type Serving,
} from "./host.ts";
export { type CheckedGraph, checkGraph, graphToDot } from "./load.ts";
export type { AdminOptions, LoadOptions, ServeOptions } from "./serve_options.ts";
export type { EdgeView, GraphView, NodeView, PortView } from "./graph_view.ts";
export type {
  EdgeMetrics,
  ListenerMetrics,
  MetricsSnapshot,
  NodeError,
  NodeMetrics,
} from "./metrics.ts";
export { readGraphFile } from "./graph_file.ts";
export { serveWorkers, type WorkerOptions, type WorkersServing } from "./workers.ts";
export { openStore } from "./store_backends.ts";
export { BUILTIN_SERVLETS } from "./servlet_registry.ts";
export {
  type BuiltinModuleName,
  graph,
  GraphBuilder,
  type ListenerOptionsArg,
  type ListenerOptionsMap,
  type PortRef,
} from "./graph_builder.ts";
export type { EdgeSpec, GraphSpec, IsolateSpec, ListenerSpec, NodeSpec } from "../kernel/graph.ts";
export {
  createLogger,
  formatLogLine,
  LOG_FORMATS,
  type LogContext,
  type LogFormat,
  type Logger,
  type LogLevel,
} from "../kernel/log.ts";
export { type Code, CODES } from "../kernel/codes.ts";
export { type KeyValueStore, memoryStore, type StoreBackend } from "../kernel/store.ts";
export type {
  ConnectionLimitOptions,
  ConnectionLogOptions,
  FileOptions,
  Overflow,
  SessionListenerOptions,
  SourceRuleOptions,
  StdioOptions,
  TcpOptions,
  UnixOptions,
} from "../modules/mod.ts";
