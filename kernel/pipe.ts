/**
 * Pipe handles: one request's end of a pipe, as the kernel sees it. Modules
 * (tcp, mem, ...) implement these; servlets reach them only through
 * {@linkcode Task}, which checks ports, direction and task lifetime.
 * @module
 */
import { SHARED_FLAGS } from "./flags.ts";
import type { QueuedValue } from "./value_codec.ts";

/**
 * A value kept with the resource under a handle across requests (a
 * connection's session state): what `PUSH_STATE` and `POP_STATE` reach.
 */
export interface StateSlot {
  /**
   * Keeps `value` with the resource. `dispose` is called with it when the
   * resource closes, or when another value replaces it.
   */
  push(value: unknown, dispose?: (value: unknown) => void): void;
  /** Takes the kept value back (`undefined` when there is none); the slot is then empty. */
  pop(): unknown;
}

/** Common state of an input or output handle. */
export interface HandleState {
  /** This request's flags of the handle (declared flags plus exec-time changes). */
  flags: number;
  /** Flag bits that an exec task changed explicitly in this request. */
  touched: number;
  /** The resource's state slot; absent for pipes with no lasting resource (mem pipes). */
  readonly state?: StateSlot;
  /**
   * The module's own `cntl` answers, by module path (`tcp/peer`, `unix/path`);
   * absent for mem pipes.
   */
  readonly module?: Readonly<Record<string, unknown>>;
}

/** The reading end of a pipe for one request. */
export interface InputHandle extends HandleState {
  /** The next chunk, or `null` at the end of this request's input. */
  read(): Promise<Uint8Array | null>;
  /** The next line without its end of line, or `null` at the end of this request's input. */
  readLine(): Promise<string | null>;
  /** True when the next `read` would return `null`. */
  eof(): Promise<boolean>;
  /**
   * The next value written with `writeValue`, as queued; or, when the pipe
   * holds bytes or text there, the next line (JSON, for the task to decode);
   * `null` at the end. Optional: the kernel reads a line for a handle without it.
   */
  readValue?(): Promise<QueuedValue | string | null>;
  /**
   * The next chunk as it was written: bytes, text or a value; `null` at the
   * end. Optional: the kernel reads bytes from a handle without it.
   */
  readChunk?(): Promise<Uint8Array | string | QueuedValue | null>;
  /**
   * Waits for more bytes when what was read ends inside a line (a line the
   * network cut in two, on a connection whose `read` ends with what has
   * arrived): true once some arrived, false at the end. Optional: a handle
   * whose `read` waits for its writer (a mem pipe) needs none.
   */
  more?(): Promise<boolean>;
  /**
   * When all this request's input is one whole line of valid UTF-8, takes
   * it and returns it with its end; otherwise `undefined`, and nothing is
   * taken. Optional:
   * the kernel then runs a graph of line steps only through `exec`.
   */
  wholeLine?(): string | undefined;
  /**
   * All this request's input, when it is here: what `read` would hand out,
   * without taking it; `undefined` when nothing is buffered. A view of the
   * handle's buffer, valid until the request ends (the kernel copies what
   * outlives it). Optional: the kernel then runs a graph of value steps
   * only through `exec`.
   */
  peekReadiness?(): Uint8Array | undefined;
  /** Takes what {@linkcode InputHandle.peekReadiness} showed, as reads would have. */
  takeReadiness?(): void;
  /** Gives bytes back, to be read first (by the next request, for a connection): `EOM`. */
  unread(bytes: Uint8Array): void;
  /** Called by the kernel when the task that reads the handle has ended (or its stream was cancelled). */
  release(): void;
}

/** The writing end of a pipe for one request. */
export interface OutputHandle extends HandleState {
  /** True once anything (even zero bytes) was written in this request. */
  readonly written: boolean;
  /** Writes bytes; resolves when the pipe can take more (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Writes text, for a handle that can carry it without encoding it (an
   * in-memory pipe, whose reader may want lines again). Optional: the kernel
   * UTF-8-encodes text written to a handle without it and calls `write`.
   */
  writeText?(text: string): Promise<void>;
  /**
   * Writes a value, handed over as the object itself. Optional: the kernel
   * writes a line of JSON to a handle without it.
   */
  writeValue?(value: unknown): Promise<void>;
  /** Marks the handle as written without writing bytes (signal outputs). */
  touch(): void;
}

/** A resolved promise, shared so that synchronous writes allocate nothing. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** An unconnected input: reads as empty. */
export class EmptyInput implements InputHandle {
  flags = 0;
  touched = 0;
  read(): Promise<Uint8Array | null> {
    return Promise.resolve(null);
  }
  readLine(): Promise<string | null> {
    return Promise.resolve(null);
  }
  eof(): Promise<boolean> {
    return Promise.resolve(true);
  }
  unread(_bytes: Uint8Array): void {}
  release(): void {}
}

/** An unconnected output: discards what is written, remembers that it was. */
export class DiscardOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  write(_chunk: Uint8Array): Promise<void> {
    this.written = true;
    return RESOLVED;
  }
  writeText(_text: string): Promise<void> {
    this.written = true;
    return RESOLVED;
  }
  writeValue(_value: unknown): Promise<void> {
    this.written = true;
    return RESOLVED;
  }
  touch(): void {
    this.written = true;
  }
}

/**
 * Copies the shared flags (`PERSIST`) of a request's input handle to its
 * output companion, unless the request set them on the output itself.
 *
 * @example
 * ```ts
 * import { copySharedFlags, DiscardOutput, EmptyInput } from "./pipe.ts";
 * import { PERSIST } from "./flags.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const input = new EmptyInput();
 * const output = new DiscardOutput();
 * input.flags = PERSIST;
 * copySharedFlags(input, output);
 * assertEquals(output.flags & PERSIST, PERSIST);
 * ```
 */
export function copySharedFlags(input: InputHandle, output: OutputHandle): void {
  const copy = SHARED_FLAGS & ~output.touched;
  output.flags = (output.flags & ~copy) | (input.flags & copy);
}
