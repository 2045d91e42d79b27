/**
 * The errors plumb raises. Each says what was wrong and what to do about it.
 * @module
 */

/** Base class of every error plumb raises on purpose. */
export class PlumbError extends Error {
  /**
   * Makes the error.
   * @param message what was wrong and what to do
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlumbError";
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
   * @param message one line: `FILE: what is wrong`
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message.replace(/\r/g, "\\r").replace(/\n/g, "\\n"), options);
    this.name = "GraphError";
  }
}

/** A servlet broke the pipe API (for example changed a port's direction at exec time). */
export class PipeError extends PlumbError {
  /**
   * Makes the error.
   * @param message what the servlet did and what to do instead
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
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
   * @param what what the host tried to do
   * @param flag the exact flag to add
   */
  constructor(what: string, flag: string) {
    super(`${what}: permission denied; run deno with ${flag}`);
    this.name = "PermissionHint";
    this.flag = flag;
  }
}
