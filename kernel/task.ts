/**
 * The kernel's implementation of {@linkcode Task}: checks each call against the
 * node's declared ports and the task's lifetime, then goes to the handle.
 * @module
 */
import { type Connection, NEVER_ABORTED, NodeConnection } from "./connection.ts";
import { PipeError } from "./errors.ts";
import { AWAIT_BEFORE_RETURN, checkNotShadow, checkPort, checkShadow } from "./_port_checks.ts";
import {
  CLR_FLAG,
  type CntlOp,
  DEADLINE,
  DISABLED,
  EOM,
  FIXED_FLAGS,
  GET_FLAGS,
  KNOWN_FLAGS,
  type ModuleOp,
  OUTPUT,
  PERSIST,
  POP_STATE,
  PUSH_STATE,
  SET_FLAG,
  SHADOW,
} from "./flags.ts";
import type { HandleState, InputHandle, OutputHandle, StateSlot } from "./pipe.ts";
import type { RequestInfo } from "./request.ts";
import type { Deadline, Port, RequestEvent, Task } from "./servlet.ts";
import { readableFrom, writableTo } from "./stream_util.ts";
import {
  decodeValue,
  forwardAll,
  nextChunk,
  QueuedValue,
  writeTextTo,
  writeValueTo,
} from "./value_codec.ts";

/** Reads `input` to its end. */
async function drainRest(input: InputHandle): Promise<void> {
  while ((await nextChunk(input)) !== null) {
    // Dropped.
  }
}

/** A handle of either direction. */
export type Handle = InputHandle | OutputHandle;

/** One exec call's task: the node's ports bound to this request's handles. */
export class TaskImpl implements Task {
  readonly event: RequestEvent;
  readonly #node: string;
  readonly #ports: readonly Port[];
  readonly #handles: readonly Handle[];
  readonly #info: RequestInfo | undefined;
  #connection: NodeConnection | undefined;
  #signal: AbortSignal | undefined;
  #ended = false;

  /**
   * @param node the node's name, for messages and its state on the connection
   * @param ports the node's declared ports, by descriptor
   * @param handles this request's handle of each port, by descriptor
   * @param event what started the request
   * @param info the request's connection and signal, when it has them
   */
  constructor(
    node: string,
    ports: readonly Port[],
    handles: readonly Handle[],
    event: RequestEvent = "data",
    info?: RequestInfo,
  ) {
    this.event = event;
    this.#node = node;
    this.#ports = ports;
    this.#handles = handles;
    this.#info = info;
  }

  get connection(): Connection | null {
    const link = this.#info?.connection;
    if (link === undefined) return null;
    return this.#connection ??= new NodeConnection(this.#node, link, () => this.#ended);
  }

  get signal(): AbortSignal {
    return this.#signal ??= this.#info?.signal ?? NEVER_ABORTED;
  }

  /** Where `PUSH_STATE` on a port keeps its value: the node's slot on the connection, if any. */
  #stateSlot(handle: HandleState): StateSlot | undefined {
    const link = this.#info?.connection;
    return link === undefined ? handle.state : link.stateOf(this.#node);
  }

  pushState<S>(port: Port, state: S, dispose?: (state: S) => void): void {
    this.cntl(port, PUSH_STATE, state, dispose as ((state: unknown) => void) | undefined);
  }

  popState<S>(port: Port): S | undefined {
    return this.cntl(port, POP_STATE) as S | undefined;
  }

  /** Ends the task: later calls fail with a clear error. */
  end(): void {
    this.#ended = true;
  }

  #handle(port: Port, output: boolean, verb: string): Handle {
    checkPort(
      this.#node,
      this.#ports,
      port,
      output,
      verb,
      this.#ended ? AWAIT_BEFORE_RETURN : undefined,
    );
    return this.#handles[port.id];
  }

  // The promise-returning calls reject rather than throw, so that a misuse
  // (for example a write from a timer after the task ended) is an error the
  // servlet can catch like any other, never an exception outside its promise.

  read(port: Port): Promise<Uint8Array | null> {
    try {
      return (this.#handle(port, false, "read") as InputHandle).read();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  readLine(port: Port): Promise<string | null> {
    try {
      return (this.#handle(port, false, "readLine") as InputHandle).readLine();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  eof(port: Port): Promise<boolean> {
    try {
      return (this.#handle(port, false, "eof") as InputHandle).eof();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  more(port: Port): Promise<boolean> {
    try {
      const handle = this.#handle(port, false, "more") as InputHandle;
      return handle.more ? handle.more() : handle.eof().then((end) => !end);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  readValue<T = unknown>(port: Port): Promise<T | null> {
    try {
      const handle = this.#handle(port, false, "readValue") as InputHandle;
      const next = handle.readValue ? handle.readValue() : handle.readLine();
      return next.then((item) => this.#value(port, item) as T | null);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Checks what `DEADLINE` was given. */
  #deadline(port: Port, arg: unknown): Deadline | null {
    if (arg === null) return null;
    const d = arg as Partial<Deadline> | undefined;
    if (
      typeof d !== "object" || typeof d.seconds !== "number" || !(d.seconds > 0) ||
      !Number.isFinite(d.seconds) || typeof d.reason !== "string" ||
      !(d.reply === undefined || typeof d.reply === "string" || d.reply instanceof Uint8Array)
    ) {
      throw new PipeError(
        "PLUMB_PIPE_DEADLINE_ARGS",
        `node "${this.#node}": DEADLINE on port "${port.name}" takes null or ` +
          `{seconds, reason, reply?}: seconds above 0, a reason, and bytes or text to reply`,
      );
    }
    return d as Deadline;
  }

  #value(port: Port, item: QueuedValue | string | null): unknown {
    if (item === null || item instanceof QueuedValue) return item?.value ?? null;
    try {
      return decodeValue(item);
    } catch (error) {
      throw new PipeError(
        "PLUMB_PIPE_NOT_JSON",
        `node "${this.#node}": readValue on port "${port.name}" read a line that is not JSON ` +
          `(${(error as Error).message}); its writer must write values or lines of JSON`,
      );
    }
  }

  /** The handle of an output to write, refusing a SHADOW port. */
  #writable(port: Port, verb: string): OutputHandle {
    const handle = this.#handle(port, true, verb) as OutputHandle;
    checkNotShadow(this.#node, port, verb);
    return handle;
  }

  forward(from: Port, to: Port): Promise<boolean> {
    try {
      const input = this.#handle(from, false, "forward") as InputHandle;
      return forwardAll(input, this.#writable(to, "forward"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async drain(port: Port): Promise<boolean> {
    const input = this.#handle(port, false, "drain") as InputHandle;
    // One chunk then the end without a loop (see forwardAll: a loop that goes
    // round in a short-lived async function costs V8 much more garbage collection).
    if ((await nextChunk(input)) === null) return false;
    if ((await nextChunk(input)) !== null) await drainRest(input);
    return true;
  }

  release(port: Port): void {
    (this.#handle(port, false, "release") as InputHandle).release();
  }

  writeValue(port: Port, value: unknown): Promise<void> {
    try {
      const handle = this.#writable(port, "writeValue");
      if (value === null || value === undefined) {
        throw new PipeError(
          "PLUMB_PIPE_NULL_VALUE",
          `node "${this.#node}": writeValue on port "${port.name}" with ${value}; ` +
            `write an object, array, string, number or boolean (null is how readValue says "the end")`,
        );
      }
      return writeValueTo(handle, value);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  write(port: Port, data: Uint8Array | string): Promise<void> {
    try {
      const handle = this.#writable(port, "write");
      if (typeof data !== "string") return handle.write(data);
      return writeTextTo(handle, data);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The input as a byte stream; it reads through this task, so it ends with the task. */
  readable(port: Port): ReadableStream<Uint8Array<ArrayBuffer>> {
    const handle = this.#handle(port, false, "readable") as InputHandle;
    return readableFrom(
      () => this.read(port),
      (rest) => handle.unread(rest),
      () => handle.release(),
    );
  }

  writable(port: Port): WritableStream<Uint8Array> {
    this.#handle(port, true, "writable");
    return writableTo((chunk) => this.write(port, chunk));
  }

  cntl(port: Port, op: "GET_FLAGS"): number;
  cntl(port: Port, op: "SET_FLAG" | "CLR_FLAG", flags: number): number;
  cntl(port: Port, op: "PUSH_STATE", state: unknown, dispose?: (state: unknown) => void): void;
  cntl(port: Port, op: "POP_STATE"): unknown;
  cntl(port: Port, op: "EOM", data: Uint8Array, offset: number): void;
  cntl(port: Port, op: "DEADLINE", deadline: Deadline | null): void;
  cntl(port: Port, op: ModuleOp): unknown;
  cntl(port: Port, op: CntlOp, arg?: unknown, extra?: unknown): unknown {
    const handle: HandleState = this.#handle(port, (port?.flags & OUTPUT) !== 0, "cntl");
    if (op === GET_FLAGS) return handle.flags;
    if (op === EOM) {
      if (port.flags & OUTPUT) {
        throw new PipeError(
          "PLUMB_PIPE_EOM_OUTPUT",
          `node "${this.#node}": EOM on output port "${port.name}"; it ends what an input read`,
        );
      }
      if (
        !(arg instanceof Uint8Array) || typeof extra !== "number" || extra < 0 || extra > arg.length
      ) {
        throw new PipeError(
          "PLUMB_PIPE_EOM_ARGS",
          `node "${this.#node}": EOM takes the bytes read and the offset where the message ended ` +
            `(0 to their length): task.cntl(port, EOM, bytes, offset)`,
        );
      }
      (handle as InputHandle).unread(arg.subarray(extra));
      return undefined;
    }
    if (op === DEADLINE) {
      const deadline = this.#deadline(port, arg);
      this.#info?.connection?.deadline?.(deadline);
      return undefined;
    }
    if (op.includes("/")) {
      const answers = handle.module;
      if (answers === undefined || !(op in answers)) {
        const known = answers === undefined
          ? "none: it is an in-memory pipe or a file"
          : Object.keys(answers).join(", ") || "none";
        throw new PipeError(
          "PLUMB_PIPE_NO_OPERATION",
          `node "${this.#node}": port "${port.name}" has no "${op}" operation; its module's are ${known}`,
        );
      }
      return answers[op];
    }
    const dispose = extra as ((state: unknown) => void) | undefined;
    if (op === PUSH_STATE) {
      const slot = this.#stateSlot(handle);
      if (slot) slot.push(arg, dispose);
      else dispose?.(arg);
      return undefined;
    }
    if (op === POP_STATE) return this.#stateSlot(handle)?.pop();
    const flags = typeof arg === "number" ? arg : 0;
    if (op !== SET_FLAG && op !== CLR_FLAG) {
      throw new PipeError(
        "PLUMB_PIPE_UNKNOWN_CNTL",
        `node "${this.#node}": unknown cntl operation ${JSON.stringify(op)}`,
      );
    }
    if (flags & FIXED_FLAGS) {
      const what = flags & OUTPUT ? "the direction (OUTPUT)" : "SHADOW";
      throw new PipeError(
        "PLUMB_PIPE_FIXED_FLAG",
        `node "${this.#node}": cannot ${op} ${what} on port "${port.name}" at exec time; ` +
          `direction and SHADOW are fixed when init declares the port`,
      );
    }
    if ((flags & DISABLED) && !(port.flags & SHADOW)) {
      throw new PipeError(
        "PLUMB_PIPE_DISABLE_NOT_SHADOW",
        `node "${this.#node}": ${op} DISABLED on port "${port.name}", which is not a SHADOW output`,
      );
    }
    if (flags & ~KNOWN_FLAGS) {
      throw new PipeError(
        "PLUMB_PIPE_UNKNOWN_FLAGS",
        `node "${this.#node}": ${op} with unknown flag bits 0x${
          (flags & ~KNOWN_FLAGS).toString(16)
        } ` +
          `on port "${port.name}"; use the flag constants from mod.ts`,
      );
    }
    handle.flags = op === SET_FLAG ? handle.flags | flags : handle.flags & ~flags;
    handle.touched |= flags;
    // PERSIST changed at exec time, on any port, is the node's word on the connection.
    if (flags & PERSIST) this.#info?.connection?.keepAlive(this.#node, op === SET_FLAG);
    return handle.flags;
  }

  // The sugar over the calls above: iterators over an input, and flags by name.

  // A line is read only while the request's input has more: on a connection,
  // readLine would wait for the next readiness, which is the next request's.

  async *lines(port: Port): AsyncGenerator<string, void, undefined> {
    while (!(await this.eof(port))) {
      const line = await this.readLine(port);
      if (line === null) return;
      yield line;
    }
  }

  async *chunks(port: Port): AsyncGenerator<Uint8Array, void, undefined> {
    for (let chunk = await this.read(port); chunk !== null; chunk = await this.read(port)) {
      yield chunk;
    }
  }

  async *values<T>(port: Port): AsyncGenerator<T, void, undefined> {
    while (!(await this.eof(port))) {
      const value = await this.readValue<T>(port);
      if (value === null) return;
      yield value;
    }
  }

  keepAlive(port: Port, keep?: boolean): boolean {
    const flags = keep === undefined
      ? this.cntl(port, GET_FLAGS)
      : this.cntl(port, keep ? SET_FLAG : CLR_FLAG, PERSIST);
    return (flags & PERSIST) !== 0;
  }

  enable(port: Port, enabled = true): void {
    if (port != null && this.#ports[port.id] === port) checkShadow(this.#node, port);
    this.cntl(port, enabled ? CLR_FLAG : SET_FLAG, DISABLED);
  }
}
