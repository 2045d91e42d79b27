/**
 * Writing an I/O module: the interface between the host and a module that
 * turns outside events (connections, lines of a file) into requests, the
 * pipe handles it gives the kernel for each, and the built-in modules.
 *
 * @example
 * ```ts
 * import { IO_MODULES } from "@plumb/plumb/modules";
 * import { assertEquals } from "@std/assert";
 * assertEquals(Object.keys(IO_MODULES), ["tcp", "unix", "stdio", "file"]);
 * ```
 * @module
 */
export type {
  IoModule,
  ListenContext,
  Listener,
  PinnedGraph,
  RequestEvent,
  RequestHandler,
  RequestInfo,
} from "./module.ts";
export type { HandleState, InputHandle, OutputHandle, StateSlot } from "../kernel/pipe.ts";
export type { ConnectionLink } from "../kernel/connection.ts";
export { KeptState } from "../kernel/kept_state.ts";
export { QueuedValue } from "../kernel/value_codec.ts";
export { IO_MODULES } from "./registry.ts";
export { tcp, type TcpOptions } from "./tcp.ts";
export { unix, type UnixOptions } from "./unix.ts";
export { stdio, type StdioOptions } from "./stdio.ts";
export { file, type FileOptions } from "./file.ts";
export type { SessionListenerOptions } from "./session_options.ts";
export type { ConnectionLimitOptions, Overflow, SourceRuleOptions } from "./listener_limits.ts";
export type { ConnectionLogOptions } from "./connection_log.ts";
