/**
 * The errors plumb raises. Each says what was wrong and what to do about it,
 * and carries the code of its entry in `docs/troubleshooting.md`.
 * @module
 */
import type { Code } from "./codes.ts";

/**
 * Base class of every error plumb raises on purpose. The message is one line
 * without the code; plumb prints them as `CODE message` (see
 * {@linkcode lineOf}).
 *
 * @example
 * ```ts
 * import { lineOf, PlumbError } from "./errors.ts";
 * import { assertEquals } from "@std/assert";
 * const error = new PlumbError("PLUMB_EXEC_NO_PROGRAM", "exec: no program given");
 * assertEquals(error.code, "PLUMB_EXEC_NO_PROGRAM");
 * assertEquals(lineOf(error), "PLUMB_EXEC_NO_PROGRAM exec: no program given");
 * ```
 */
export class PlumbError extends Error {
  /** The code of the message, which keys its entry in `docs/troubleshooting.md`. */
  readonly code: Code;
  /**
   * Makes the error.
   * @param code the code of the message
   * @param message what was wrong and what to do
   */
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlumbError";
    this.code = code;
  }
}

/**
 * A graph file or graph definition that cannot be served. The message is one
 * line naming the file, the node and the port.
 */
export class GraphError extends PlumbError {
  /**
   * Makes the error. Line breaks that came in with a name from the graph
   * file are written `\n`, so the message stays one line.
   * @param code the code of the message
   * @param message one line: `FILE: what is wrong`
   */
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(code, message.replace(/\r/g, "\\r").replace(/\n/g, "\\n"), options);
    this.name = "GraphError";
  }
}

/** A servlet broke the pipe API (for example changed a port's direction at exec time). */
export class PipeError extends PlumbError {
  /**
   * Makes the error.
   * @param code the code of the message
   * @param message what the servlet did and what to do instead
   */
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "PipeError";
  }
}

/** A line or message was longer than the limit of the port that carried it. */
export class MessageTooLongError extends PlumbError {
  /** The limit, in bytes, that was passed. */
  readonly limit: number;
  /**
   * Makes the error.
   * @param limit the limit in bytes that the message passed
   */
  constructor(limit: number) {
    super(
      "PLUMB_LINE_TOO_LONG",
      `line longer than ${limit} bytes with no end of line; ` +
        `raise the listener's "maxMessageSize" option if such lines are expected`,
    );
    this.name = "MessageTooLongError";
    this.limit = limit;
  }
}

/** A permission that the host needs was not granted; the message names the flag to add. */
export class PermissionHint extends PlumbError {
  /** The exact command-line flag to add, for example `--allow-net=127.0.0.1:12345`. */
  readonly flag: string;
  /**
   * Makes the error.
   * @param code the code of the message
   * @param what what the host tried to do
   * @param flag the exact flag to add
   */
  constructor(code: Code, what: string, flag: string) {
    super(code, `${what}: permission denied; run deno with ${flag}`);
    this.name = "PermissionHint";
    this.flag = flag;
  }
}

/** The first line of a thrown value's message, whatever was thrown. */
function firstLine(error: unknown): string {
  try {
    return (error instanceof Error ? error.message : String(error)).split("\n")[0];
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/**
 * A thrown value as the {@linkcode PlumbError} plumb reports: a plumb error
 * as it is, a missing permission (Deno's `NotCapable`) as
 * `PLUMB_PERMISSION`, anything else as `PLUMB_UNEXPECTED`. The message is
 * one line; the value thrown is the `cause`.
 *
 * @example
 * ```ts
 * import { toPlumbError } from "./errors.ts";
 * import { assertEquals } from "@std/assert";
 * const error = toPlumbError(new TypeError("x is undefined\n    at f (a.ts:1:1)"));
 * assertEquals(error.code, "PLUMB_UNEXPECTED");
 * assertEquals(error.message, "unexpected failure: x is undefined");
 * ```
 */
export function toPlumbError(error: unknown): PlumbError {
  if (error instanceof PlumbError) return error;
  if (error instanceof Deno.errors.NotCapable) {
    return new PlumbError(
      "PLUMB_PERMISSION",
      `${firstLine(error)}; run deno with the flag it names`,
      { cause: error },
    );
  }
  return new PlumbError("PLUMB_UNEXPECTED", `unexpected failure: ${firstLine(error)}`, {
    cause: error,
  });
}

/**
 * Runs `promise` to its end; a failure is rethrown as {@linkcode toPlumbError}
 * makes it, so a library call fails with the line the CLI prints.
 */
export function withPlumbErrors<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error) => {
    throw toPlumbError(error);
  });
}

/**
 * True for a failure the user fixes in the graph, the options or deno's
 * permissions (the CLI exits with status 2 for it).
 */
export function isUsageError(error: unknown): boolean {
  return error instanceof GraphError || error instanceof PermissionHint ||
    (error instanceof PlumbError && error.code === "PLUMB_PERMISSION");
}

/**
 * How plumb writes a thrown value inside a line: `CODE message` for a
 * {@linkcode PlumbError}, the first line of the message for anything else.
 */
export function lineOf(error: unknown): string {
  if (error instanceof PlumbError) return `${error.code} ${firstLine(error)}`;
  return firstLine(error);
}
