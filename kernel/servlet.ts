/**
 * The servlet API: {@linkcode defineServlet}, ports, the init environment and
 * the task an exec call receives.
 * @module
 */
import type { Connection } from "./connection.ts";
import type { KeyValueStore } from "./store.ts";
import type { Code } from "./codes.ts";
import type { LogLevel } from "./log.ts";

/**
 * A port descriptor, returned by {@linkcode InitEnv.input},
 * {@linkcode InitEnv.output} or {@linkcode InitEnv.define} and used in `exec`.
 *
 * `T` is what the port carries, for the compiler only: a port declared with a
 * {@linkcode PipeType} made by {@linkcode pipeType} is a `Port<T>` of that
 * type's values, so {@linkcode Task.readValue} returns a `T` and
 * {@linkcode Task.writeValue} takes one, and `write`, `read` and `readLine`
 * take it only when `T` includes `Uint8Array` or `string`. A port declared
 * with a type name or none is a `Port` (`Port<unknown>`): it carries anything,
 * bytes, text and values whose type the reader names (`readValue<T>`).
 *
 * @example
 * ```ts
 * import { defineServlet, pipeType, type Port } from "@plumb/plumb";
 * import { assertEquals } from "@std/assert";
 *
 * interface Order {
 *   item: string;
 *   count: number;
 * }
 * const ORDER = pipeType<Order>("shop/order", "json");
 *
 * const checkout = defineServlet({
 *   init(_args, env) {
 *     const orders: Port<Order> = env.input("in", { type: ORDER });
 *     return { orders, out: env.output("out") };
 *   },
 *   async exec(ctx, task) {
 *     for await (const order of task.values(ctx.orders)) {
 *       await task.write(ctx.out, `${order.count} x ${order.item}\n`); // order is an Order
 *     }
 *   },
 * });
 * assertEquals(typeof checkout.exec, "function");
 * ```
 */
export interface Port<T = unknown> {
  /** The descriptor: index of the port in its node, as Plumber's `pipe_t`. */
  readonly id: number;
  /** The port's name, unique in its node. */
  readonly name: string;
  /**
   * Another name the graph may use for the port, unique in its node too: the
   * positional `out0` of a route that the graph named (`dataflow/demux`,
   * `http/router`). Most ports have none.
   */
  readonly alias?: string;
  /** The declared flags (direction, `PERSIST`, ...). */
  readonly flags: number;
  /** The declared type name, if any (S6). */
  readonly type: string | undefined;
  /**
   * For the compiler only, never set: what the port carries. A function's
   * parameter, so that a `Port<A>` is used where a `Port<B>` is wanted when
   * every `B` is an `A` (an untyped `Port` goes anywhere).
   */
  readonly carries?: (value: T) => void;
}

/**
 * A port of any type: what the task's calls that move no data take
 * (`cntl`, `eof`, `forward`, `keepAlive`, ...).
 */
export type AnyPort = Port<never>;

/**
 * A pipe type as a value: its name, the type it extends, and (for the
 * compiler) the TypeScript type `T` of what it carries. Made by
 * {@linkcode pipeType}; a port declared with one is a `Port<T>`, and the
 * type is registered for the graph check by the node that declares it.
 */
export interface PipeType<T> {
  /** The type's name, as ports and a graph's `"types"` write it: `"http/request"`. */
  readonly name: string;
  /** The name of the type it extends: `"json"` for values, `"bytes"` for values and bytes. */
  readonly extends: string;
  /** For the compiler only, never set: what a port of this type carries. */
  readonly carries?: (value: T) => void;
}

/**
 * Makes a typed pipe type: what a servlet family exports so that the ports
 * declared with it are typed by it, and the graph knows the name without a
 * `"types"` entry. `T` is what travels: a value type (extend `"json"`), or
 * a value and then the bytes of a body (`T | Uint8Array`, extend `"bytes"`,
 * as `http/response` does).
 *
 * @param name the type's name: `family/what`
 * @param extendsType the name of the type it extends, for example `"json"`
 *
 * @example
 * ```ts
 * import { pipeType } from "@plumb/plumb";
 * import { assertEquals } from "@std/assert";
 *
 * interface Reading {
 *   sensor: string;
 *   celsius: number;
 * }
 * const READING = pipeType<Reading>("weather/reading", "json");
 * assertEquals([READING.name, READING.extends], ["weather/reading", "json"]);
 * ```
 */
export function pipeType<T>(name: string, extendsType: string): PipeType<T> {
  return Object.freeze({ name, extends: extendsType });
}

/** What {@linkcode InitEnv.input} and {@linkcode InitEnv.output} take besides a name. */
export interface PortOptions<T> {
  /**
   * What the port carries: a type name (`"text/line"`, `"$T"`, a graph's own)
   * or a {@linkcode PipeType}, which types the port as `Port<T>`. Default: a
   * shadow takes its target's type, any other port none.
   */
  readonly type?: string | PipeType<T>;
  /**
   * Keep the resource for the next request (`PERSIST`): on an input, the TCP
   * connection stays open after the reply. Default `false`.
   */
  readonly persist?: boolean;
  /** Another name the graph may use for the port, as {@linkcode Port.alias}. */
  readonly alias?: string;
}

/** What {@linkcode InitEnv.output} takes besides a name. */
export interface OutputOptions<T> extends PortOptions<T> {
  /**
   * Carry what this other port of the node, declared before it, carries
   * (`SHADOW`): a copy for another branch of the graph of what an output
   * writes, or of what an input reads (its writer's, as it was written).
   */
  readonly shadowOf?: Port<T>;
  /**
   * A shadow that carries nothing in a request until `task.enable(port)`
   * (`DISABLED`): how a router picks one branch. Default `false`.
   */
  readonly disabled?: boolean;
  /** Writes complete asynchronously: the task may end before they are flushed (`ASYNC`). */
  readonly async?: boolean;
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
   * Declares an input port. Allowed only while `init` runs.
   *
   * @param name unique name of the port in this node
   * @param options its type, and `persist` to keep the connection
   * @returns the port's descriptor, to keep in the context
   *
   * @example
   * ```ts ignore
   * const input = env.input("in", { persist: true, type: "text/line" });
   * ```
   */
  input<T = unknown>(name: string, options?: PortOptions<T>): Port<T>;
  /**
   * Declares an output port: a plain one, or a shadow of another output or
   * of an input (`shadowOf`), which starts `disabled` when a request should
   * pick it.
   * Allowed only while `init` runs.
   *
   * @param name unique name of the port in this node
   * @param options its type, `shadowOf`, `disabled`, `persist`, `async`, `alias`
   * @returns the port's descriptor, to keep in the context
   *
   * @example
   * ```ts ignore
   * const out = env.output("out", { type: "text/line" });
   * const copy = env.output("copy", { shadowOf: out, disabled: true });
   * ```
   */
  output<T = unknown>(name: string, options?: OutputOptions<T>): Port<T>;
  /**
   * Declares a port in the wire form: Plumber's flag word. Allowed only while
   * `init` runs. {@linkcode InitEnv.input} and {@linkcode InitEnv.output} say
   * the same with options.
   *
   * @param name unique name of the port in this node
   * @param flags `INPUT` or `OUTPUT`, optionally with `PERSIST`; for a shadow
   *   `OUTPUT | SHADOW | target.id`, with `DISABLED` to start it off
   * @param type optional type name of what the port carries
   * @returns the port's descriptor, to keep in the context
   */
  define(name: string, flags: number, type?: string): Port;
  /**
   * A key-value bucket shared beyond this node: by every node of the host
   * that opens the same name, and further when the host's store is shared
   * (the operator's choice, `--store`). May be kept and used in `exec`.
   *
   * @param bucket the bucket's name: 1-64 letters, digits, `-` or `_`
   *   (default `"default"`)
   * @returns the bucket
   *
   * @example
   * ```ts ignore
   * const nicks = env.store("chat");
   * if (!await nicks.create("ada", "here")) throw new Error("taken");
   * ```
   */
  store(bucket?: string): KeyValueStore;
  /**
   * Writes one line to the host's log, naming the node: for what a servlet
   * holds outside any request (a connection to a message bus) and must say
   * when it is lost and found again. May be kept and used after `init`.
   *
   * @param level how severe: `error`, `warn`, `info` or `debug`
   * @param code the line's code, with its entry in `docs/troubleshooting.md`
   * @param message the line, after `node "NAME": `
   *
   * @example
   * ```ts ignore
   * env.log("warn", "PLUMB_NATS_DISCONNECTED", "lost the NATS server; retrying");
   * ```
   */
  log(level: LogLevel, code: Code, message: string): void;
}

/**
 * What started a request: `data` (bytes arrived) or `open` (a connection
 * opened, on a listener with the `open` option: a chance to greet the client
 * before it says anything).
 */
export type RequestEvent = "open" | "data";

/**
 * A deadline on a connection, set with `task.cntl(port, DEADLINE, deadline)`:
 * if it passes while the connection waits for the client's bytes (between
 * requests, not while one runs), the host logs `reason`, writes `reply` and
 * closes the connection. It holds across requests until set again or
 * cleared with `null`. How `http/parser` bounds a request that arrives too
 * slowly.
 *
 * @example
 * ```ts
 * import type { Deadline } from "@plumb/plumb";
 * import { assertEquals } from "@std/assert";
 *
 * const deadline: Deadline = {
 *   seconds: 10,
 *   reason: "request head took longer than 10 s",
 *   reply: "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
 * };
 * assertEquals(deadline.seconds, 10);
 * ```
 */
export interface Deadline {
  /** Seconds from now, above 0. */
  readonly seconds: number;
  /** Why the connection is closed, for the log line (`request head took longer than 10 s`). */
  readonly reason: string;
  /** Written to the connection just before it is closed, if given. */
  readonly reply?: Uint8Array | string;
}

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
  read(port: Port<Uint8Array>): Promise<Uint8Array | null>;
  /**
   * The next line of an input without its `\n` or `\r\n`, or `null` at the end.
   * UTF-8 safe when a character is split across chunks.
   */
  readLine(port: Port<string>): Promise<string | null>;
  /** True when the next `read` of the input would return `null`. */
  eof(port: AnyPort): Promise<boolean>;
  /**
   * Waits for more of an input once this request's reads have taken all that
   * has arrived: on a connection, whose reads end with what one readiness
   * brought, the rest of a message cut in two (`http/parser` streams a large
   * body so). True when the next `read` has bytes, false at the input's end.
   * On an in-memory pipe, whose reads wait for their writer anyway, it only
   * says whether the next read has bytes.
   */
  more(port: Port<Uint8Array>): Promise<boolean>;
  /**
   * Writes bytes or a string (as UTF-8) to an output; resolves when the pipe
   * can take more. A port typed by a {@linkcode PipeType} takes bytes only
   * when its type includes `Uint8Array` (the body after an `http/response`),
   * a string only when it includes `string`.
   */
  write(port: Port<Uint8Array>, data: Uint8Array): Promise<void>;
  /** Writes a string, as UTF-8. */
  write(port: Port<string>, data: string): Promise<void>;
  /** Writes bytes or a string (as UTF-8). */
  write(port: Port<Uint8Array | string>, data: Uint8Array | string): Promise<void>;
  /**
   * The next value of an input, or `null` at the end. A value written with
   * `writeValue` on an in-memory pipe arrives as the object itself; bytes or
   * text there are read as one line of JSON (as `writeValue` encodes a value
   * for a connection or file). On a typed `Port<T>` the value is a `T`; on an
   * untyped port the caller names the type it expects (`readValue<T>`), and
   * it is not checked. Treat a value read as read-only: a shadow's reader
   * gets the same object.
   * @throws {PipeError} when the line read is not JSON
   */
  readValue<T = unknown>(port: Port<T>): Promise<T | null>;
  /**
   * Writes a value (an object, array, string, number or boolean; not `null`
   * or `undefined`, which `readValue` uses for the end): a `T` on a typed
   * `Port<T>`. A reader that reads values over an in-memory pipe gets the
   * object itself; anything else gets one line of JSON, in which a
   * `Uint8Array` is `{"$bytes": "<base64>"}`.
   */
  writeValue<T>(port: Port<T>, value: T): Promise<void>;
  /**
   * Copies the rest of an input to an output as it was written: values stay
   * objects and text stays text (bytes where a side carries only bytes), with
   * backpressure. Resolves true when anything was copied. How
   * `dataflow/dup` and `dataflow/firstnonempty` pass on what they are given.
   */
  forward(from: AnyPort, to: AnyPort): Promise<boolean>;
  /**
   * Reads the rest of an input as it was written (values stay objects, text
   * stays text) and keeps none of it: what the input's `SHADOW` ports carry.
   * Resolves true when anything was read. How `dataflow/dup` copies its input.
   */
  drain(port: AnyPort): Promise<boolean>;
  /**
   * Reads no more of an input in this request: what its writer queued and
   * writes later is dropped, and a writer waiting on the full pipe goes on.
   * What `dataflow/firstnonempty` does with the inputs after the one it
   * copies. (`task.readable(port).cancel()` does the same, through a stream.)
   */
  release(port: AnyPort): void;
  /**
   * The rest of an input as a byte `ReadableStream` (`type: "bytes"`): it
   * reads only when its reader asks (the pipe's bound holds), each chunk its
   * reader's own; a BYOB reader (`getReader({ mode: "byob" })`) gets at most
   * its buffer's size per read. Pipe it through the platform's streams
   * (`TextDecoderStream`, `DecompressionStream`, ...); cancelling it tells
   * the writer that nothing more will be read.
   */
  readable(port: Port<Uint8Array>): ReadableStream<Uint8Array<ArrayBuffer>>;
  /**
   * An output as a `WritableStream`, with the pipe's backpressure (a write
   * resolves when the pipe can take more); closing it does not end the task.
   */
  writable(port: Port<Uint8Array>): WritableStream<Uint8Array>;
  /** Reads this request's flags of a port. */
  cntl(port: AnyPort, op: "GET_FLAGS"): number;
  /** Sets or clears flag bits of a port for this request only; returns the new flags. */
  cntl(port: AnyPort, op: "SET_FLAG" | "CLR_FLAG", flags: number): number;
  /**
   * `PUSH_STATE`: keeps `state` with the request's connection for later
   * requests, as this node's state (any port of the node reaches the same
   * slot, see {@linkcode Task.connection}); `dispose` is called with it when
   * the connection closes or another state replaces it. A request with no
   * connection keeps nothing: the state is disposed at once.
   */
  cntl(port: AnyPort, op: "PUSH_STATE", state: unknown, dispose?: (state: unknown) => void): void;
  /** `POP_STATE`: takes back this node's state kept with the connection, or `undefined`. */
  cntl(port: AnyPort, op: "POP_STATE"): unknown;
  /**
   * `EOM`: the message ended at `offset` of `data` (bytes this task read from
   * the input): the bytes after it are given back, unread, and start the next
   * request on the same connection.
   */
  cntl(port: AnyPort, op: "EOM", data: Uint8Array, offset: number): void;
  /**
   * `DEADLINE`: sets a {@linkcode Deadline} on the connection under the port,
   * or clears it with `null`. Does nothing where there is no connection.
   */
  cntl(port: Port, op: "DEADLINE", deadline: Deadline | null): void;
  /**
   * A module's own operation, addressed by module path: `tcp/peer` and
   * `tcp/local` (`"127.0.0.1:5000"`), `unix/path` (the socket file).
   */
  cntl(port: AnyPort, op: `${string}/${string}`): unknown;
  /** The typed form of `cntl(port, PUSH_STATE, state, dispose)`. */
  pushState<S>(port: AnyPort, state: S, dispose?: (state: S) => void): void;
  /** The typed form of `cntl(port, POP_STATE)`: the caller names the type it pushed. */
  popState<S>(port: AnyPort): S | undefined;
  /**
   * The lines of an input, each without its `\n` or `\r\n`, to the end of
   * this request's input: `for await (const line of task.lines(port))`.
   * UTF-8 safe; a loop left early leaves the rest unread (on a connection,
   * for the next request). A `readLine` loop does the same with fewer awaits
   * per line: the built-ins on the hot path keep to it.
   */
  lines(port: Port<string>): AsyncIterableIterator<string>;
  /** The chunks of an input, to the end of this request's input. */
  chunks(port: Port<Uint8Array>): AsyncIterableIterator<Uint8Array>;
  /** The values of an input (as {@linkcode Task.readValue} reads them), to the end. */
  values<T = unknown>(port: Port<T>): AsyncIterableIterator<T>;
  /**
   * Whether the resource under the port is kept after this request
   * (`PERSIST`), and with `keep`, sets it for this request only:
   * `task.keepAlive(ctx.input, false)` closes the connection after the reply.
   * The same as `cntl(port, SET_FLAG | CLR_FLAG, PERSIST)`.
   * @returns whether it is kept, after the change
   */
  keepAlive(port: AnyPort, keep?: boolean): boolean;
  /**
   * Turns a `disabled` shadow on for this request (or off again with
   * `false`), before its target is written: how a router picks its branch.
   * The same as `cntl(port, CLR_FLAG | SET_FLAG, DISABLED)`.
   */
  enable(port: AnyPort, enabled?: boolean): void;
}

/**
 * Where a servlet's {@linkcode ServletDefinition.line} step writes: at most
 * one line per output port, ending `\n`.
 *
 * @example
 * ```ts
 * import { defineServlet, type LineOutput, type Port } from "@plumb/plumb";
 * import { assertEquals } from "@std/assert";
 *
 * const shout = defineServlet({
 *   init(_args, env) {
 *     return {
 *       input: env.input("in", { persist: true, type: "text/line" }),
 *       output: env.output("out", { type: "text/line" }),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     const line = await task.readLine(ctx.input);
 *     if (line !== null) await task.write(ctx.output, `${line.toUpperCase()}\n`);
 *   },
 *   line(ctx, line, out) {
 *     out.write(ctx.output, `${line.toUpperCase()}\n`);
 *   },
 * });
 * // The kernel passes its own out; this one records what the step writes.
 * const written: string[] = [];
 * const out: LineOutput = { write: (_port, line) => void written.push(line), forward() {}, enable() {} };
 * const port = {} as Port;
 * shout.line!({ input: port, output: port }, "hi", out);
 * assertEquals(written, ["HI\n"]);
 * ```
 */
export interface LineOutput {
  /**
   * Writes one line (ending `\n`, with no other `\n`) on an output port, as
   * `task.write` would. Writing a port twice, or text that is not one line,
   * fails the request (`PLUMB_LINE_STEP`): such a servlet keeps to `exec`.
   */
  write(port: Port<string>, line: string): void;
  /** Writes the step's input line as it came, with its own end, as `task.forward` would. */
  forward(port: Port<string>): void;
  /** Turns a `disabled` shadow on for this request, before its target is written, as `task.enable`. */
  enable(port: AnyPort, enabled?: boolean): void;
}

/**
 * What a value step is handed (see {@linkcode ServletDefinition.step}): the
 * values that reached the node's inputs, and its writes, as a task in small.
 * Nothing it does takes effect until every step of the request has returned:
 * a step that declines (returns `false`), throws or returns a promise, or a
 * value that reaches a node without a step, sends the whole request to
 * `exec`, as if no step had run.
 *
 * @example
 * ```ts
 * import { defineServlet, type Port, type StepTask } from "@plumb/plumb";
 * import { assertEquals } from "@std/assert";
 *
 * const double = defineServlet({
 *   init(_args, env) {
 *     return { input: env.input("in") as Port<number>, output: env.output("out") as Port<number> };
 *   },
 *   async exec(ctx, task) {
 *     const n = await task.readValue(ctx.input);
 *     if (n !== null) await task.writeValue(ctx.output, n * 2);
 *   },
 *   step(ctx, task) {
 *     const n = task.value(ctx.input);
 *     if (n === undefined) return false; // nothing to double: exec decides
 *     task.write(ctx.output, n * 2);
 *   },
 * });
 * // The kernel passes its own task; this one hands over 21 and records the write.
 * const written: unknown[] = [];
 * const task: StepTask = {
 *   value: <T>() => 21 as T,
 *   write: (_port, value) => void written.push(value),
 *   enable() {},
 *   keepAlive: () => true,
 * };
 * const port = {} as Port<number>;
 * double.step!({ input: port, output: port }, task);
 * assertEquals(written, [42]);
 * ```
 */
export interface StepTask {
  /**
   * What reached an input port: the value its producer wrote, or, on the
   * graph's input, the request's bytes as one `Uint8Array` (what exec's
   * reads would get: the bytes buffered for this request, which may be part
   * of a message or several; a step declines what is not exactly one);
   * `undefined` when nothing did. The request's bytes are a view of the
   * connection's read buffer, reused once the request has ended: a value
   * that keeps some of them past the run holds a copy (`slice()`), and
   * nothing writes into them (exec reads them as they came if the run is
   * thrown away). The replies are copied for you.
   */
  value<T>(port: Port<T>): T | undefined;
  /**
   * Writes a value on an output port, as `task.writeValue` (or, for the
   * graph's output, `task.write` with text or bytes) would. An edge takes
   * one value; the graph's output takes any number of writes of text or
   * bytes, in order. A second value on an edge, `null` or `undefined`, or anything but
   * text or bytes on the graph's output sends the request to `exec` (even if
   * the step catches what this throws).
   */
  write<T>(port: Port<T>, value: T): void;
  /** Turns a `disabled` shadow on for this request, before its target is written, as `task.enable`. */
  enable(port: AnyPort, enabled?: boolean): void;
  /** Reads, or sets, `PERSIST` on a port for this request, as `task.keepAlive`. */
  keepAlive(port: AnyPort, keep?: boolean): boolean;
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
   * Declares the ports and builds the node's context.
   * @param args the node's `args` from the graph
   * @param env the node's name, `input`, `output` and `define`
   */
  init(args: readonly string[], env: InitEnv): C | Promise<C>;
  /** Handles one request. Throwing or rejecting fails this request only. */
  exec(ctx: C, task: Task): void | Promise<void>;
  /**
   * Optional: the same request as `exec` when its input is one whole line,
   * as a plain synchronous call. Given the line without its end, it writes
   * what `exec` would write, through `out`. When every node of a graph has
   * one and a request's input is exactly one line, the kernel runs the
   * request as these calls, with no task, pipe or promise per node (fans
   * included); any other request runs `exec`. Define it only when `exec`,
   * given that one line, writes the same lines on the same ports. It is
   * synchronous: an `async` one is never run as a step (the node runs
   * `exec`), and one that returns a promise fails its request.
   */
  line?(ctx: C, line: string, out: LineOutput): void;
  /**
   * Optional: the same request as `exec` over values, as a plain synchronous
   * call, for the requests it can answer at once. It reads what reached its
   * inputs (`task.value`) and writes what `exec` would write; it returns
   * `false` to decline a request, which then runs through `exec` from its
   * start. When the graph's entry node has one and a request's bytes are
   * buffered, the kernel runs the nodes' steps in topological order, with no
   * task, pipe or promise per node, and commits their writes only when all
   * have returned; a node reached without a step, a step that declines,
   * throws or returns anything but `true` or nothing, a write `exec` must
   * make (see {@linkcode StepTask.write}), or a connection that keeps a
   * node's state (`PUSH_STATE`, `connection.setState`) sends the request to
   * `exec` instead, with nothing of the steps kept. So a step must do
   * nothing but through `task`: it may run and be thrown away. After 32
   * runs in a row thrown away, a graph's steps rest for 4,096 requests.
   */
  step?(ctx: C, task: StepTask): boolean | void;
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
 * import { defineServlet } from "@plumb/plumb";
 * import { assertEquals } from "@std/assert";
 *
 * const greeter = defineServlet({
 *   init(_args, env) {
 *     return {
 *       input: env.input("in", { persist: true, type: "text/line" }),
 *       output: env.output("out", { type: "text/line" }),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     for await (const line of task.lines(ctx.input)) {
 *       await task.write(ctx.output, `Hello, ${line}\n`);
 *     }
 *   },
 * });
 * assertEquals(typeof greeter.init, "function");
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
