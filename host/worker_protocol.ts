/**
 * The messages between `--workers`' supervisor and its worker processes
 * (`workers.ts` and `worker_entry.ts`). Only plain data crosses, as JSON
 * (`_worker_channel.ts` carries it).
 * @module
 */
import type { GraphSpec } from "../kernel/graph.ts";
import type { CheckedGraph } from "./load.ts";
import type { ReloadResult } from "./reload.ts";
import type { LogContext, LogFormat, LogLevel } from "../kernel/log.ts";
import type { Code } from "../kernel/codes.ts";
import type { MetricsSnapshot } from "./metrics.ts";
import type { GraphView } from "./graph_view.ts";
import type { StoreAnswer, StoreRequest } from "./store_relay.ts";

/** What a worker is told to serve: the parts of `ServeOptions` that are plain data. */
export interface WorkerServeOptions {
  host?: string;
  port?: number;
  ports?: readonly number[];
  logLevel: LogLevel;
  /** The supervisor's log format: a worker's listeners write their connection lines for it. */
  logFormat: LogFormat;
  reusePort: true;
  /** Count, for the supervisor's admin listener. */
  metrics?: true;
}

/** From the supervisor to a worker. */
export type ToWorker =
  | { type: "serve"; graph: string | GraphSpec; options: WorkerServeOptions }
  | { type: "close"; graceMs?: number }
  | { type: "reload"; graph?: string | GraphSpec }
  | { type: "metrics"; id: number }
  | StoreAnswer
  /** The supervisor's watchdog: a worker whose event loop runs answers at once. */
  | { type: "ping" };

/** From a worker to the supervisor. */
export type FromWorker =
  | { type: "listening"; urls: readonly string[]; graph: CheckedGraph }
  | { type: "failed"; usage: boolean; code: Code; message: string }
  | { type: "log"; level: LogLevel; code: Code; message: string; context?: LogContext }
  | { type: "reloaded"; result: ReloadResult | null }
  | { type: "metrics"; id: number; snapshot: MetricsSnapshot | null; view: GraphView | null }
  | { type: "finished" }
  | StoreRequest
  | { type: "pong" };
