/**
 * The options every connection-like listener (`tcp`, `unix`, `stdio`) takes
 * for its sessions: how long an idle connection is kept, how long a line may
 * be, how long a request and a write may take, what a client is told when
 * its request fails, and whether its connection then goes on.
 * @module
 */
import { DEFAULT_MAX_LINE_BYTES } from "../kernel/byte_reader.ts";
import type { OptionRule } from "./options.ts";
import type { SessionOptions } from "./session.ts";

/** Session options of a connection-like listener, as written in `graph.json`. */
export interface SessionListenerOptions {
  /** Seconds an idle persistent connection is kept. Default 240, as in Plumber. */
  ttl: number;
  /** Longest line or message a request may read, in bytes. Default 65536. */
  maxMessageSize: number;
  /**
   * Run one request with the `open` event and an empty input when a connection
   * opens, before the client sends anything (a greeting). Default false.
   */
  open: boolean;
  /**
   * Seconds a request may take, from its first byte until its servlets are
   * done; then the connection is closed. A line trickled a byte at a time
   * (slowloris) ends here. Default 60.
   */
  requestTimeout: number;
  /**
   * Seconds a reply may wait for the client to read it; then the connection
   * is closed. A client that never reads holds at most 64 KiB of replies
   * meanwhile. Default 30.
   */
  writeTimeout: number;
  /**
   * Written to the client when a request fails before it wrote anything;
   * `{reason}` becomes what went wrong in a few safe words (`line longer
   * than 65536 bytes`, `request failed`, `request took longer than 60 s`).
   * `""` writes nothing. Default `"error: {reason}\n"`.
   */
  errorReply: string;
  /**
   * What a failed request does to its connection: `continue` (the default)
   * goes on to the next request, as `PERSIST` says (a failure fails that
   * request only); `close` closes the connection after the error reply. A
   * line longer than `maxMessageSize` and a request past `requestTimeout`
   * always close it.
   */
  onError: "close" | "continue";
}

/** Default of `ttl`, in seconds. */
export const DEFAULT_TTL = 240;
/** Default of `requestTimeout`, in seconds. */
export const DEFAULT_REQUEST_TIMEOUT = 60;
/** Default of `writeTimeout`, in seconds. */
export const DEFAULT_WRITE_TIMEOUT = 30;
/** Default of `errorReply`. */
export const DEFAULT_ERROR_REPLY = "error: {reason}\n";
/** Default of `onError`. */
export const DEFAULT_ON_ERROR = "continue";

/** Option rules of the session options, for `checkOptions`. */
export const SESSION_RULES: Record<keyof SessionListenerOptions, OptionRule> = {
  ttl: { type: "number", min: 0.001, description: "seconds an idle persistent connection is kept" },
  maxMessageSize: { type: "number", integer: true, min: 1, description: "longest line in bytes" },
  open: {
    type: "boolean",
    description: "run an open request (a greeting) when a connection opens",
  },
  requestTimeout: {
    type: "number",
    min: 0.001,
    description: "seconds a request may take before its connection is closed",
  },
  writeTimeout: {
    type: "number",
    min: 0.001,
    description: "seconds a reply may wait for the client to read it",
  },
  errorReply: {
    type: "string",
    description: 'what a client is told when its request fails ("" for nothing)',
  },
  onError: {
    type: "string",
    values: ["continue", "close"],
    description: "after a failed request: go on to the next one, or close the connection",
  },
};

/** Reads the session options from a listener's checked options, with their defaults. */
export function sessionOptions(options: Record<string, unknown>): SessionListenerOptions {
  return {
    ttl: (options.ttl as number | undefined) ?? DEFAULT_TTL,
    maxMessageSize: (options.maxMessageSize as number | undefined) ?? DEFAULT_MAX_LINE_BYTES,
    open: (options.open as boolean | undefined) ?? false,
    requestTimeout: (options.requestTimeout as number | undefined) ?? DEFAULT_REQUEST_TIMEOUT,
    writeTimeout: (options.writeTimeout as number | undefined) ?? DEFAULT_WRITE_TIMEOUT,
    errorReply: (options.errorReply as string | undefined) ?? DEFAULT_ERROR_REPLY,
    onError: (options.onError as "close" | "continue" | undefined) ?? DEFAULT_ON_ERROR,
  };
}

/** What a session is given, from a listener's session options. */
export function sessionSettings(options: SessionListenerOptions): SessionOptions {
  return {
    maxLineBytes: options.maxMessageSize,
    open: options.open,
    requestTimeout: options.requestTimeout,
    writeTimeout: options.writeTimeout,
    errorReply: options.errorReply,
    onError: options.onError,
  };
}
