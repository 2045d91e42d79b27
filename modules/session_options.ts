/**
 * The options every connection-like listener (`tcp`, `unix`, `stdio`) takes
 * for its sessions: how long an idle connection is kept, how long a line may
 * be, how long a request and a write may take, what a client is told when
 * its request fails, and whether its connection then goes on.
 * @module
 */
import { DEFAULT_MAX_LINE_BYTES } from "../kernel/byte_reader.ts";
import type { OptionsOf, OptionSpecs } from "./options.ts";
import type { SessionOptions } from "./session.ts";

/** The session options of a connection-like listener, declared. */
export const SESSION_OPTIONS = {
  ttl: {
    type: "number",
    min: 0.001,
    default: 240,
    what: "seconds an idle persistent connection is kept",
    doc: "Seconds an idle persistent connection is kept.",
  },
  maxMessageSize: {
    type: "number",
    integer: true,
    min: 1,
    default: DEFAULT_MAX_LINE_BYTES,
    what: "longest line in bytes",
    doc: "Longest line a request may read, in bytes.",
  },
  open: {
    type: "boolean",
    default: false,
    what: "run an open request (a greeting) when a connection opens",
    doc: "Run one request with the open event when a connection opens " +
      "(a greeting before the client types).",
  },
  requestTimeout: {
    type: "number",
    min: 0.001,
    default: 60,
    what: "seconds a request may take before its connection is closed",
    doc: "Seconds a request may take, from its first byte until its servlets are done; " +
      "then the connection is closed (slowloris, a servlet that never resolves).",
  },
  writeTimeout: {
    type: "number",
    min: 0.001,
    default: 30,
    what: "seconds a reply may wait for the client to read it",
    doc: "Seconds a reply may wait for the client to read it; then the connection is closed.",
  },
  errorReply: {
    type: "string",
    default: "error: {reason}\n",
    what: 'what a client is told when its request fails ("" for nothing)',
    doc: "Written when a request fails before writing anything; {reason} is a few safe " +
      'words. "" writes nothing.',
  },
  onError: {
    type: "string",
    values: ["continue", "close"],
    default: "continue",
    what: "after a failed request: go on to the next one, or close the connection",
    doc: "What a failed request does to its connection: continue (the default) goes on to " +
      "the next request as PERSIST says (a failure fails that request only); close closes " +
      "the connection after the error reply. A line longer than maxMessageSize and a request " +
      "past requestTimeout always close it.",
  },
  pushBuffer: {
    type: "number",
    integer: true,
    min: 1,
    default: 1048576,
    what: "bytes written outside requests that may wait for a client that does not read",
    doc: "Bytes a servlet wrote outside any request (server push: chat lines, notifications) " +
      "that may wait for a client that does not read; past them the connection is closed.",
  },
} as const satisfies OptionSpecs;

/** Session options of a connection-like listener, parsed (see {@linkcode SESSION_OPTIONS}). */
export type SessionListenerOptions = OptionsOf<typeof SESSION_OPTIONS>;

/** What a session is given, from a listener's session options. */
export function sessionSettings(options: SessionListenerOptions): SessionOptions {
  return {
    maxLineBytes: options.maxMessageSize,
    open: options.open,
    requestTimeout: options.requestTimeout,
    writeTimeout: options.writeTimeout,
    errorReply: options.errorReply,
    onError: options.onError,
    pushBuffer: options.pushBuffer,
  };
}
