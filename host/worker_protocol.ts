/**
 * The messages between `--workers`' main isolate and its worker isolates
 * (`workers.ts` and `worker_entry.ts`). Only plain data crosses.
 * @module
 */
import type { GraphSpec } from "../kernel/graph.ts";
import type { CheckedGraph } from "./load.ts";
import type { ReloadResult } from "./reload.ts";
import type { LogLevel } from "../kernel/log.ts";
import type { Code } from "../kernel/codes.ts";

/** What a worker is told to serve: the parts of `ServeOptions` that are plain data. */
export interface WorkerServeOptions {
  host?: string;
  port?: number;
  ports?: readonly number[];
  logLevel: LogLevel;
  reusePort: true;
}

/** From the main isolate to a worker. */
export type ToWorker =
  | { type: "serve"; graph: string; options: WorkerServeOptions }
  | { type: "close"; graceMs?: number }
  | { type: "reload"; graph?: string | GraphSpec };

/** From a worker to the main isolate. */
export type FromWorker =
  | { type: "listening"; urls: readonly string[]; graph: CheckedGraph }
  | { type: "failed"; usage: boolean; code: Code; message: string }
  | { type: "log"; level: LogLevel; code: Code; message: string }
  | { type: "reloaded"; result: ReloadResult | null }
  | { type: "finished" };
