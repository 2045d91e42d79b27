/**
 * The host's log: one line per event on standard error, filtered by level.
 * @module
 */
import type { Code } from "./codes.ts";

/** Log levels, most severe first. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** The levels in order of severity, most severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

/** Where the host writes its log lines. */
export interface Logger {
  /** The most verbose level written. */
  readonly level: LogLevel;
  /** True when lines of `level` are written (to skip building messages that would be dropped). */
  enabled(level: LogLevel): boolean;
  /** Writes one line at `level`: `message`, with the code of its entry in `docs/troubleshooting.md`. */
  log(level: LogLevel, code: Code, message: string): void;
  /**
   * Writes `line` as it is, without the `plumb LEVEL:` prefix, if lines of
   * `level` are written: a JSON line, say. A logger without it gets `log`
   * (with the code the line holds).
   */
  write?(level: LogLevel, line: string): void;
}

/**
 * A logger that writes `plumb LEVEL: CODE message` lines to `sink` (standard error by default).
 *
 * @example
 * ```ts
 * import { createLogger } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 * const lines: string[] = [];
 * const log = createLogger("info", (line) => lines.push(line));
 * log.log("debug", "PLUMB_TIMEOUT_IDLE", "dropped");
 * log.log("warn", "PLUMB_CONN_FAILED", "kept");
 * assertEquals(lines, ["plumb warn: PLUMB_CONN_FAILED kept"]);
 * ```
 */
export function createLogger(
  level: LogLevel = "info",
  sink: (line: string) => void = (line) => console.error(line),
): Logger {
  const max = LOG_LEVELS.indexOf(level);
  return {
    level,
    enabled: (l: LogLevel): boolean => LOG_LEVELS.indexOf(l) <= max,
    log(l: LogLevel, code: Code, message: string): void {
      if (LOG_LEVELS.indexOf(l) <= max) sink(`plumb ${l}: ${code} ${message}`);
    },
    write(l: LogLevel, line: string): void {
      if (LOG_LEVELS.indexOf(l) <= max) sink(line);
    },
  };
}
