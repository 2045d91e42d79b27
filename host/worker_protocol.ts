/**
 * The messages between `--workers`' main isolate and its worker isolates
 * (`workers.ts` and `worker_entry.ts`). Only plain data crosses.
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
  /** The main isolate's log format: a worker's listeners write their connection lines for it. */
  logFormat: LogFormat;
  reusePort: true;
  /** Count, for the main isolate's admin listener. */
  metrics?: true;
}

/** From the main isolate to a worker. */
export type ToWorker =
  | { type: "serve"; graph: string; options: WorkerServeOptions }
  | { type: "close"; graceMs?: number }
  | { type: "reload"; graph?: string | GraphSpec }
  | { type: "metrics"; id: number }
  | StoreAnswer;

/** From a worker to the main isolate. */
export type FromWorker =
  | { type: "listening"; urls: readonly string[]; graph: CheckedGraph }
  | { type: "failed"; usage: boolean; code: Code; message: string }
  | { type: "log"; level: LogLevel; code: Code; message: string; context?: LogContext }
  | { type: "reloaded"; result: ReloadResult | null }
  | { type: "metrics"; id: number; snapshot: MetricsSnapshot | null; view: GraphView | null }
  | { type: "finished" }
  | StoreRequest;
