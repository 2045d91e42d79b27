/**
 * Where the command line writes its log lines: standard error, a file
 * (`--log-file`), or nowhere when standard error is `--stdio`'s connection.
 * inetd, xinetd (and socat's `EXEC:...,stderr`, or systemd's `Accept=yes`
 * unless told otherwise) hand the client's socket over as descriptors 0, 1
 * and 2: a log line written there would be read by the client.
 * @module
 */
import { fstatSync } from "node:fs";
import { PermissionHint, PlumbError } from "../kernel/errors.ts";

/**
 * True when standard error is the socket that standard input or output is:
 * the connection `--stdio` serves, under inetd or xinetd. A terminal, a pipe
 * or a file is not (a terminal is the person at it, who reads the log).
 *
 * @example
 * ```ts
 * import { stderrIsConnection } from "./log_sink.ts";
 * import { assertEquals } from "@std/assert";
 * // A test runs with standard error on a terminal or a pipe, never on a socket with its input.
 * assertEquals(stderrIsConnection(), false);
 * ```
 */
export function stderrIsConnection(): boolean {
  try {
    const err = fstatSync(2);
    if (!err.isSocket()) return false;
    return [0, 1].some((fd) => {
      const other = fstatSync(fd);
      return other.isSocket() && other.dev === err.dev && other.ino === err.ino;
    });
  } catch {
    return false; // No such descriptor, or a system that cannot say: not the connection.
  }
}

/**
 * Opens `path` to append log lines to, one line per write, and returns the
 * function that writes a line. Throws a {@linkcode PermissionHint} naming the
 * flag without write permission for it, and a {@linkcode PlumbError} when it
 * cannot be opened (a missing directory).
 *
 * @example
 * ```ts
 * import { logFileSink } from "./log_sink.ts";
 * import { PlumbError } from "../kernel/errors.ts";
 * import { assertThrows } from "@std/assert";
 * // No write permission there, or no such directory: a one-line error either way.
 * assertThrows(() => logFileSink("/no/such/dir/plumb.log"), PlumbError);
 * ```
 */
export function logFileSink(path: string): (line: string) => void {
  if (Deno.permissions.querySync({ name: "write", path }).state !== "granted") {
    throw new PermissionHint(
      "PLUMB_PERMISSION_LOG_FILE",
      `cannot write the log file ${path}`,
      `--allow-write=${path}`,
    );
  }
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { append: true, create: true });
  } catch (error) {
    throw new PlumbError(
      "PLUMB_LOG_FILE_OPEN",
      `cannot open the log file ${path}: ${(error as Error).message}`,
    );
  }
  const encoder = new TextEncoder();
  return (line: string): void => {
    const bytes = encoder.encode(`${line}\n`);
    try {
      for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
    } catch {
      // A full disk, say: the line is lost, and the host goes on serving.
    }
  };
}
