/**
 * A request as the kernel runs it: what an I/O module tells the scheduler
 * about it, and the function that runs it through a graph.
 * @module
 */
import type { ConnectionLink } from "./connection.ts";
import type { InputHandle, OutputHandle } from "./pipe.ts";
import type { PlanNode } from "./plan.ts";
import type { RequestEvent } from "./servlet.ts";

/** Facts about a request that servlets and logs may use. */
export interface RequestInfo {
  /** Who is at the other end, for logs. */
  readonly peer: string;
  /** What started the request. */
  readonly event: RequestEvent;
  /**
   * The connection the request came from, which every node of the graph can
   * reach (`task.connection`); absent when the request has none.
   */
  readonly connection?: ConnectionLink;
  /**
   * Aborts when the request's connection closes, its time limit passes or
   * the host stops (`task.signal`); absent when nothing can cancel it. A
   * module may make it only when first asked for.
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs one request through the graph with the module's companion handles.
 * Resolves false when the output is errored: the module should then close
 * the resource rather than keep it.
 */
export type RequestHandler = (
  input: InputHandle,
  output: OutputHandle,
  info: RequestInfo,
) => Promise<boolean>;

/**
 * A handler's answer when it is known as the handler returns (a request of
 * line steps whose reply the output took at once): a module may compare a
 * handler's promise with these and skip waiting a microtask for it.
 */
export const ANSWERED_OK: Promise<boolean> = Promise.resolve(true);
/** The failed counterpart of {@linkcode ANSWERED_OK}. */
export const ANSWERED_FAILED: Promise<boolean> = Promise.resolve(false);

/** Called when a node's exec (or line step) fails: the node, the reason, and the request. */
export type FailureReport = (node: PlanNode, error: unknown, info: RequestInfo) => void;

/** Reports a failure without letting a report that throws (an odd thrown value) escape. */
export function safeReport(
  report: FailureReport,
  node: PlanNode,
  error: unknown,
  info: RequestInfo,
): void {
  try {
    report(node, error, info);
  } catch {
    // The failure is still handled: outputs errored, request failed.
  }
}
