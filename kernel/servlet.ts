/**
 * The servlet API: {@linkcode defineServlet}, ports, the init environment and
 * the task an exec call receives.
 * @module
 */
import type { Connection } from "./connection.ts";

/** A port descriptor, returned by {@linkcode InitEnv.define} and used in `exec`. */
export interface Port {
  /** The descriptor: index of the port in its node, as Plumber's `pipe_t`. */
  readonly id: number;
  /** The port's name, unique in its node. */
  readonly name: string;
  /** The declared flags (direction, `PERSIST`, ...). */
  readonly flags: number;
  /** The declared type name, if any (S6). */
  readonly type: string | undefined;
}

/** What `init` receives besides its arguments. */
export interface InitEnv {
  /** The node's name in the graph. */
  readonly node: string;
  /** The graph file's URL: resolve a relative path in the arguments against it. */
  readonly base: URL;
  /**
   * A path from the arguments as a file path: an absolute one as it is, a
   * relative one against the graph file's folder. Throws a `PlumbError`
   * naming `what` when the path is relative and the graph is not a file.
   *
   * @param path what the arguments say, for example `"./www"`
   * @param what for messages, for example `"root"`
   */
  path(path: string, what?: string): string;
  /**
   * Declares a port. Allowed only while `init` runs.
   *
   * @param name unique name of the port in this node
   * @param flags `INPUT` or `OUTPUT`, optionally with `PERSIST`
   * @param type optional type name of what the port carries
   * @returns the port's descriptor, to keep in the context
   */
  define(name: string, flags: number, type?: string): Port;
}

/**
 * What started a request: `data` (bytes arrived) or `open` (a connection
 * opened, on a listener with the `open` option: a chance to greet the client
 * before it says anything).
 */
export type RequestEvent = "open" | "data";

/** One request's view of a node's ports, given to `exec`. */
export interface Task {
  /** What started this request. */
  readonly event: RequestEvent;
  /**
   * The connection this request came from (a TCP or Unix connection,
   * standard input and output, the run of an input file), reachable from
   * every node of the graph: this node's state on it, a word on keeping it,
   * the peer. `null` when the request has no connection (a request run in
   * memory without one): there `PUSH_STATE` keeps nothing and `POP_STATE`
   * gives `undefined`.
   */
  readonly connection: Connection | null;
  /**
   * Aborts when this request's connection closes (the client resets it, a
   * reply cannot be written, the ttl), its `requestTimeout` passes, or the
   * host stops serving it. Hand it to what the request starts:
   * `fetch(url, { signal: task.signal })`. A client that only half-closes
   * (sends its end of input) is still answered, so that alone does not abort it.
   */
  readonly signal: AbortSignal;
  /** The next chunk of an input, or `null` at the end of this request's input. */
  read(port: Port): Promise<Uint8Array | null>;
  /**
   * The next line of an input without its `\n` or `\r\n`, or `null` at the end.
   * UTF-8 safe when a character is split across chunks.
   */
  readLine(port: Port): Promise<string | null>;
  /** True when the next `read` of the input would return `null`. */
  eof(port: Port): Promise<boolean>;
  /** Writes bytes or a string (as UTF-8) to an output; resolves when the pipe can take more. */
  write(port: Port, data: Uint8Array | string): Promise<void>;
  /**
   * The next value of an input, or `null` at the end. A value written with
   * `writeValue` on an in-memory pipe arrives as the object itself; bytes or
   * text there are read as one line of JSON (as `writeValue` encodes a value
   * for a connection or file). The caller names the type it expects; it is
   * not checked. Treat a value read as read-only: a shadow's reader gets the
   * same object.
   * @throws {PipeError} when the line read is not JSON
   */
  readValue<T = unknown>(port: Port): Promise<T | null>;
  /**
   * Writes a value (an object, array, string, number or boolean; not `null`
   * or `undefined`, which `readValue` uses for the end). A reader that reads
   * values over an in-memory pipe gets the object itself; anything else gets
   * one line of JSON, in which a `Uint8Array` is `{"$bytes": "<base64>"}`.
   */
  writeValue(port: Port, value: unknown): Promise<void>;
  /**
   * Copies the rest of an input to an output as it was written: values stay
   * objects and text stays text (bytes where a side carries only bytes), with
   * backpressure. Resolves true when anything was copied. How
   * `dataflow/dup` and `dataflow/firstnonempty` pass on what they are given.
   */
  forward(from: Port, to: Port): Promise<boolean>;
  /**
   * Reads the rest of an input as it was written (values stay objects, text
   * stays text) and keeps none of it: what the input's `SHADOW` ports carry.
   * Resolves true when anything was read. How `dataflow/dup` copies its input.
   */
  drain(port: Port): Promise<boolean>;
  /**
   * Reads no more of an input in this request: what its writer queued and
   * writes later is dropped, and a writer waiting on the full pipe goes on.
   * What `dataflow/firstnonempty` does with the inputs after the one it
   * copies. (`task.readable(port).cancel()` does the same, through a stream.)
   */
  release(port: Port): void;
  /**
   * The rest of an input as a byte `ReadableStream` (`type: "bytes"`): it
   * reads only when its reader asks (the pipe's bound holds), each chunk its
   * reader's own; a BYOB reader (`getReader({ mode: "byob" })`) gets at most
   * its buffer's size per read. Pipe it through the platform's streams
   * (`TextDecoderStream`, `DecompressionStream`, ...); cancelling it tells
   * the writer that nothing more will be read.
   */
  readable(port: Port): ReadableStream<Uint8Array<ArrayBuffer>>;
  /**
   * An output as a `WritableStream`, with the pipe's backpressure (a write
   * resolves when the pipe can take more); closing it does not end the task.
   */
  writable(port: Port): WritableStream<Uint8Array>;
  /** Reads this request's flags of a port. */
  cntl(port: Port, op: "GET_FLAGS"): number;
  /** Sets or clears flag bits of a port for this request only; returns the new flags. */
  cntl(port: Port, op: "SET_FLAG" | "CLR_FLAG", flags: number): number;
  /**
   * `PUSH_STATE`: keeps `state` with the request's connection for later
   * requests, as this node's state (any port of the node reaches the same
   * slot, see {@linkcode Task.connection}); `dispose` is called with it when
   * the connection closes or another state replaces it. A request with no
   * connection keeps nothing: the state is disposed at once.
   */
  cntl(port: Port, op: "PUSH_STATE", state: unknown, dispose?: (state: unknown) => void): void;
  /** `POP_STATE`: takes back this node's state kept with the connection, or `undefined`. */
  cntl(port: Port, op: "POP_STATE"): unknown;
  /**
   * `EOM`: the message ended at `offset` of `data` (bytes this task read from
   * the input): the bytes after it are given back, unread, and start the next
   * request on the same connection.
   */
  cntl(port: Port, op: "EOM", data: Uint8Array, offset: number): void;
  /**
   * A module's own operation, addressed by module path: `tcp/peer` and
   * `tcp/local` (`"127.0.0.1:5000"`), `unix/path` (the socket file).
   */
  cntl(port: Port, op: `${string}/${string}`): unknown;
  /** The typed form of `cntl(port, PUSH_STATE, state, dispose)`. */
  pushState<S>(port: Port, state: S, dispose?: (state: S) => void): void;
  /** The typed form of `cntl(port, POP_STATE)`: the caller names the type it pushed. */
  popState<S>(port: Port): S | undefined;
}

/**
 * What a servlet module describes: `init` once per node, `exec` once per
 * request that reaches the node, `unload` at shutdown. `C` is the context that
 * `init` returns.
 */
export interface ServletDefinition<C> {
  /** One line saying what the servlet does. */
  readonly description?: string;
  /**
   * Pipe types this servlet's family adds to the kernel's (`bytes`, `text`,
   * `text/line`, `json`): type name to the name of the type it extends, as a
   * graph's `"types"` says them. Servlets that register the same name must
   * agree on what it extends.
   */
  readonly types?: Readonly<Record<string, string>>;
  /**
   * Declares the ports and builds the node's context.
   * @param args the node's `args` from the graph
   * @param env the node's name and `define`
   */
  init(args: readonly string[], env: InitEnv): C | Promise<C>;
  /** Handles one request. Throwing or rejecting fails this request only. */
  exec(ctx: C, task: Task): void | Promise<void>;
  /** Releases what `init` acquired. */
  unload?(ctx: C): void | Promise<void>;
}

/** Marks a value made by {@linkcode defineServlet}, across copies of plumb's modules. */
const SERVLET_BRAND: unique symbol = Symbol.for("plumb.servlet");

/**
 * A servlet, as made by {@linkcode defineServlet}: the default export of a
 * servlet module. (At run time it also carries a private brand, so that a
 * plain object is not taken for one.)
 */
export type Servlet<C> = Readonly<ServletDefinition<C>>;

/**
 * Makes a servlet. The type of what `init` returns flows into `exec` and
 * `unload` with no casts.
 *
 * @example
 * ```ts
 * import { defineServlet, INPUT, OUTPUT, PERSIST } from "@plumb/plumb";
 *
 * export default defineServlet({
 *   init(_args, env) {
 *     return {
 *       input: env.define("in", INPUT | PERSIST),
 *       output: env.define("out", OUTPUT),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     const line = await task.readLine(ctx.input);
 *     if (line !== null) await task.write(ctx.output, `Hello, ${line}\n`);
 *   },
 * });
 * ```
 */
export function defineServlet<C>(definition: ServletDefinition<C>): Servlet<C> {
  return Object.freeze({ ...definition, [SERVLET_BRAND]: true as const }) as Servlet<C>;
}

/** True when `value` was made by {@linkcode defineServlet}. */
export function isServlet(value: unknown): value is Servlet<unknown> {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[SERVLET_BRAND] === true;
}
