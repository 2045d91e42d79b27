/**
 * Writing an I/O module: the interface between the host and a module that
 * turns outside events (connections, lines of a file) into requests, the
 * pipe handles it gives the kernel for each, and the built-in modules.
 *
 * @example
 * ```ts
 * import { IO_MODULES } from "@plumb/plumb/modules";
 * import { assertEquals } from "@std/assert";
 * assertEquals(Object.keys(IO_MODULES), ["tcp", "tls", "unix", "stdio", "file", "nats"]);
 * ```
 * @module
 */
export type {
  DeclaredModule,
  IoModule,
  ListenContext,
  Listener,
  ListenerStats,
  PinnedGraph,
  RequestEvent,
  RequestHandler,
  RequestInfo,
} from "./module.ts";
export type { HandleState, InputHandle, OutputHandle, StateSlot } from "../kernel/pipe.ts";
export type { ConnectionLink } from "../kernel/connection.ts";
export type { PushLink } from "../kernel/connection_handle.ts";
export { KeptState } from "../kernel/kept_state.ts";
export { QueuedValue } from "../kernel/value_codec.ts";
export {
  type DefaultedNames,
  type JsonSchema,
  type OptionalNames,
  type OptionFields,
  type OptionsInputOf,
  type OptionsOf,
  type OptionSpec,
  type OptionSpecs,
  optionsSchema,
  type OptionType,
  parseOptions,
  type RequiredNames,
  type ValueOf,
} from "./options.ts";
export { BUILTIN_MODULES, IO_MODULES } from "./registry.ts";
export { tcp, TCP_OPTIONS, type TcpOptions } from "./tcp.ts";
export { tls, TLS_OPTIONS, type TlsOptions } from "./tls.ts";
export { unix, UNIX_OPTIONS, type UnixOptions } from "./unix.ts";
export { stdio, STDIO_OPTIONS, type StdioOptions } from "./stdio.ts";
export { file, FILE_OPTIONS, type FileOptions } from "./file.ts";
export { nats, NATS_OPTIONS, type NatsOptions } from "./nats.ts";
export { natsStore, type NatsStoreOptions } from "./nats_store.ts";
export { SESSION_OPTIONS, type SessionListenerOptions } from "./session_options.ts";
export {
  CONNECTION_LIMIT_OPTIONS,
  type ConnectionLimitOptions,
  type Overflow,
  SOURCE_RULE_OPTIONS,
  type SourceRuleOptions,
} from "./listener_limits.ts";
export { CONNECTION_LOG_OPTIONS, type ConnectionLogOptions } from "./connection_log.ts";
export { PROXY_PROTOCOL_OPTIONS, type ProxyProtocolOptions } from "./proxy_protocol.ts";
