/**
 * The host's log: one line per event on standard error, filtered by level,
 * as text (`plumb LEVEL: CODE message`) or as JSON lines (one object a line,
 * fields `time`, `level`, `code`, `node`, `peer`, `message`).
 * @module
 */
import type { Code } from "./codes.ts";

/** Log levels, most severe first. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** The levels in order of severity, most severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

/** How log lines are written: `plumb LEVEL: CODE message`, or one JSON object a line. */
export type LogFormat = "text" | "json";

/** The formats, the default first. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/**
 * What a log line is about, beside its message: the `node` and `peer` fields
 * of its JSON form (null there when absent), and more fields after them. The
 * text form says all of it in the message already.
 */
export interface LogContext {
  /** The node the line is about. */
  readonly node?: string;
  /** The client the line is about, as `ADDRESS:PORT` (`127.0.0.1:51234`). */
  readonly peer?: string;
  /** More fields of the JSON form, after the six that every line has. */
  readonly fields?: Readonly<Record<string, string | number | boolean | null>>;
}

/** Where the host writes its log lines. */
export interface Logger {
  /** The most verbose level written. */
  readonly level: LogLevel;
  /** How lines are written; absent means `"text"`. */
  readonly format?: LogFormat;
  /** True when lines of `level` are written (to skip building messages that would be dropped). */
  enabled(level: LogLevel): boolean;
  /**
   * Writes one line at `level`: `message`, with the code of its entry in
   * `docs/troubleshooting.md`, and what it is about (`context`).
   */
  log(level: LogLevel, code: Code, message: string, context?: LogContext): void;
  /**
   * Writes `line` as it is, without the `plumb LEVEL:` prefix, if lines of
   * `level` are written: a JSON line, say. A logger without it gets `log`
   * (with the code the line holds).
   */
  write?(level: LogLevel, line: string): void;
}

/**
 * One log line as `format` writes it. Text: `plumb LEVEL: CODE message`. JSON:
 * one object with the fields `time` (ISO 8601, UTC), `level`, `code`, `node`,
 * `peer` and `message`, always these six in this order (`node` and `peer`
 * null when the line is about none), then the context's other fields.
 *
 * @example
 * ```ts
 * import { formatLogLine } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 * const time = new Date(Date.UTC(2025, 0, 1, 12));
 * const line = formatLogLine("json", "error", "PLUMB_REQUEST_FAILED", "it failed", {
 *   node: "greet",
 *   peer: "127.0.0.1:51234",
 * }, time);
 * assertEquals(JSON.parse(line), {
 *   time: "2025-01-01T12:00:00.000Z",
 *   level: "error",
 *   code: "PLUMB_REQUEST_FAILED",
 *   node: "greet",
 *   peer: "127.0.0.1:51234",
 *   message: "it failed",
 * });
 * assertEquals(
 *   formatLogLine("text", "error", "PLUMB_REQUEST_FAILED", "it failed"),
 *   "plumb error: PLUMB_REQUEST_FAILED it failed",
 * );
 * ```
 */
export function formatLogLine(
  format: LogFormat,
  level: LogLevel,
  code: Code,
  message: string,
  context?: LogContext,
  time: Date = new Date(),
): string {
  if (format === "text") return `plumb ${level}: ${code} ${message}`;
  const record: Record<string, unknown> = {
    time: time.toISOString(),
    level,
    code,
    node: context?.node ?? null,
    peer: context?.peer ?? null,
    message,
  };
  for (const [name, value] of Object.entries(context?.fields ?? {})) {
    if (!(name in record)) record[name] = value;
  }
  return JSON.stringify(record);
}

/**
 * A logger that writes lines of `level` and more severe ones to `sink`
 * (standard error by default), as `format` says (see {@linkcode formatLogLine}).
 *
 * @example
 * ```ts
 * import { createLogger } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 * const lines: string[] = [];
 * const log = createLogger("info", (line) => lines.push(line));
 * log.log("debug", "PLUMB_TIMEOUT_IDLE", "dropped");
 * log.log("warn", "PLUMB_CONN_FAILED", "kept", { peer: "127.0.0.1:51234" });
 * assertEquals(lines, ["plumb warn: PLUMB_CONN_FAILED kept"]);
 *
 * const json: string[] = [];
 * createLogger("info", (line) => json.push(line), "json")
 *   .log("warn", "PLUMB_CONN_FAILED", "kept", { peer: "127.0.0.1:51234" });
 * const { time: _, ...record } = JSON.parse(json[0]);
 * assertEquals(record, {
 *   level: "warn",
 *   code: "PLUMB_CONN_FAILED",
 *   node: null,
 *   peer: "127.0.0.1:51234",
 *   message: "kept",
 * });
 * ```
 */
export function createLogger(
  level: LogLevel = "info",
  sink: (line: string) => void = (line) => console.error(line),
  format: LogFormat = "text",
): Logger {
  const max = LOG_LEVELS.indexOf(level);
  return {
    level,
    format,
    enabled: (l: LogLevel): boolean => LOG_LEVELS.indexOf(l) <= max,
    log(l: LogLevel, code: Code, message: string, context?: LogContext): void {
      if (LOG_LEVELS.indexOf(l) <= max) sink(formatLogLine(format, l, code, message, context));
    },
    write(l: LogLevel, line: string): void {
      if (LOG_LEVELS.indexOf(l) <= max) sink(line);
    },
  };
}
