/**
 * The messages between an isolated node (`host/isolated_servlet.ts`, in the
 * host) and its worker (`host/isolate_worker.ts`): init, each exec, and the
 * task's calls, which the worker makes and the host answers with the
 * request's real task. Every field is structured-cloneable.
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import { PlumbError } from "../kernel/errors.ts";
import type { RequestEvent } from "../kernel/servlet.ts";

/** An error as it crosses between the isolates: rebuilt on the other side by {@linkcode toError}. */
export interface ErrorData {
  readonly name: string;
  readonly message: string;
  readonly code?: Code;
}

/** A declared port, as the worker's `init` declared it. */
export interface PortData {
  readonly name: string;
  readonly alias?: string;
  readonly flags: number;
  readonly type: string | undefined;
}

/** The task's calls that return a promise: the host answers each with an `answer`. */
export type AsyncOp =
  | "read"
  | "readLine"
  | "eof"
  | "more"
  | "readValue"
  | "write"
  | "writeValue"
  | "forward"
  | "drain";

/**
 * The task's calls that return at once: the worker waits for the answer
 * (`Atomics.wait`) and takes it from its answer port.
 */
export type SyncOp =
  | "cntl"
  | "keepAlive"
  | "enable"
  | "release"
  | "unread"
  | "closed"
  | "state"
  | "setState"
  | "connectionKeepAlive";

/** From the host to the worker. */
export type ToIsolate =
  | {
    type: "init";
    file: string;
    base: string;
    node: string;
    specifier: string;
    args: readonly string[];
    /** One `Int32` the host sets to 1 when the answer to a sync call is on `answers`. */
    signal: SharedArrayBuffer;
    answers: MessagePort;
  }
  | { type: "exec"; id: number; event: RequestEvent; peer: string | null }
  | { type: "answer"; call: number; ok: true; value: unknown }
  | { type: "answer"; call: number; ok: false; error: ErrorData }
  | { type: "abort"; id: number; reason: ErrorData }
  | { type: "unload" };

/** From the worker to the host. */
export type FromIsolate =
  | { type: "ready"; ports: PortData[]; pipeTypes: Record<string, string> }
  | { type: "initFailed"; error: ErrorData }
  | { type: "call"; id: number; call: number; op: AsyncOp; port: number; arg?: unknown }
  | { type: "sync"; id: number; op: SyncOp; port: number; args: unknown[] }
  | { type: "done"; id: number }
  | { type: "failed"; id: number; error: ErrorData }
  | { type: "stray"; rejection: boolean; error: ErrorData }
  | { type: "unloaded"; error?: ErrorData };

/** What answers a sync call, on the answer port. */
export type SyncAnswer = { ok: true; value: unknown } | { ok: false; error: ErrorData };

/** A thrown value as {@linkcode ErrorData}. */
export function errorData(error: unknown): ErrorData {
  if (error instanceof PlumbError) {
    return { name: error.name, message: error.message, code: error.code };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  let message: string;
  try {
    message = String(error);
  } catch {
    message = Object.prototype.toString.call(error);
  }
  return { name: "Error", message };
}

/** The error {@linkcode ErrorData} describes: a `PlumbError` when it has a code. */
export function toError(data: ErrorData): Error {
  const error = data.code === undefined
    ? new Error(data.message)
    : new PlumbError(data.code, data.message);
  error.name = data.name;
  return error;
}
