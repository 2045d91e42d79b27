/**
 * The `mem` module: the in-memory pipe that joins two servlets along a graph
 * edge, for one request.
 *
 * A mem pipe is a bounded queue of chunks: a writer waits while the queue
 * holds `highWaterMark` bytes or more, so a fast producer cannot grow memory
 * without bound. A servlet sees it as Web Streams: `task.readable(port)` is a
 * `ReadableStream` over the queue and `task.writable(port)` a
 * `WritableStream` into it, both with the queue's backpressure. The stream
 * objects are made only when a servlet asks for them; `read`, `readLine` and
 * `write` go to the queue directly, so the per-request path pays for no
 * stream machinery it does not use.
 * @module
 */
import { ByteReader, DEFAULT_MAX_LINE_BYTES } from "./byte_reader.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "./pipe.ts";
import { QueuedValue } from "./value_codec.ts";

/** Options of a {@linkcode MemPipe}. */
export interface MemPipeOptions {
  /** Bytes queued before a writer waits. Default 65536. */
  highWaterMark?: number;
  /** Longest line the reader's `readLine` accepts, in bytes. Default 65536. */
  maxLineBytes?: number;
  /** Called once, on the first write (or touch) of the request. */
  onFirstWrite?: () => void;
  /** Told when a reader or writer starts and stops waiting on this pipe. */
  monitor?: WaitMonitor;
  /** The pipe's number for its monitor (the scheduler's edge index). Default -1. */
  id?: number;
}

/**
 * Watches the waits of a request's pipes, so that the kernel can see when
 * every running node waits on a pipe (a deadlock of bounded pipes, which it
 * fails with {@linkcode MemPipe.abort}; the bound is never lifted).
 */
export interface WaitMonitor {
  /** A reader (`writer` false) or writer (`writer` true) of `pipe` starts waiting. */
  wait(pipe: MemPipe, writer: boolean): void;
  /**
   * The first write (or touch) of `pipe` in its request, when its options
   * name no `onFirstWrite`: one method for every pipe of a request instead of
   * a closure each.
   */
  firstWrite?(pipe: MemPipe): void;
  /** A reader or writer of `pipe` stops waiting. */
  resume(pipe: MemPipe, writer: boolean): void;
}

/** Default queue bound of a mem pipe, in bytes. */
export const MEM_HIGH_WATER_MARK = 65536;

const NONE = 0;
const CLOSED = 1;
const ERRORED = 2;
const CANCELLED = 3;
const ABORTED = 4;

/**
 * A queued chunk: bytes, text a servlet wrote (kept as text until a reader
 * wants bytes), or a value (kept as the object until a reader wants text).
 */
export type Chunk = Uint8Array | string | QueuedValue;

const encoder = new TextEncoder();

/** A reader waiting on a pipe: `then`, when given, maps the chunk (or the end) to its answer. */
interface Waiting {
  resolve: (answer: unknown) => void;
  reject: (reason: unknown) => void;
  then: ((chunk: Chunk | null) => unknown) | undefined;
}

/** Settled answers, shared so that a read answered at once allocates no promise of its own. */
const NULL: Promise<null> = Promise.resolve(null);
const TRUE: Promise<boolean> = Promise.resolve(true);
const FALSE: Promise<boolean> = Promise.resolve(false);

function toBytes(chunk: Chunk): Uint8Array {
  if (typeof chunk === "string") return encoder.encode(chunk);
  return chunk instanceof QueuedValue ? encoder.encode(chunk.text()) : chunk;
}

/**
 * One edge of one request: a bounded in-memory pipe with an output handle for
 * the producer and an input handle for the consumer.
 *
 * Text a servlet writes is queued as text and handed to a `readLine` as is, so
 * a chain of line servlets encodes and decodes each line once (at the
 * connection), not at every pipe; a `read` gets it as UTF-8 bytes. A string's
 * length counts against the bound as its byte count would.
 */
export class MemPipe {
  /** The producer's handle. */
  readonly output: MemOutput;
  /** The consumer's handle. */
  readonly input: MemInput;
  readonly #highWaterMark: number;
  #chunks: Chunk[] = [];
  #queued = 0;
  #end = NONE;
  #reason: unknown;
  /**
   * The reader waiting for a chunk (`pull`), or for anything queued (the
   * others: told of the chunk once it is queued, they take what they want of
   * it at once, in the writer's call).
   */
  #reader: Waiting | null = null;
  /** The waiting reader takes text (it is told of queued chunks), not only bytes (`pull`). */
  #readerTakesText = false;
  #writers: { resolve: () => void; reject: (reason: unknown) => void }[] | undefined;
  readonly #monitor: WaitMonitor | undefined;
  readonly #onFirstWrite: (() => void) | undefined;
  /** The pipe's number for its monitor (the scheduler's edge index). */
  readonly id: number;

  /** @param options queue bound, line limit, first-write callback, wait monitor and id */
  constructor(options: MemPipeOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? MEM_HIGH_WATER_MARK;
    this.#monitor = options.monitor;
    this.id = options.id ?? -1;
    this.#onFirstWrite = options.onFirstWrite;
    this.output = new MemOutput(this);
    this.input = new MemInput(this, options.maxLineBytes);
  }

  /** Bytes queued and not yet read (a string counts its length). */
  get queued(): number {
    return this.#queued;
  }

  /** Queues a chunk; resolves once the queue is below its bound. Discarded after the reader stopped. */
  push(chunk: Chunk): Promise<void> {
    if (this.#end !== NONE) return this.#end === ABORTED ? Promise.reject(this.#reason) : RESOLVED;
    if (chunk.length === 0) return RESOLVED;
    const reader = this.#reader;
    if (reader !== null && !this.#readerTakesText) {
      this.#reader = null;
      this.#monitor?.resume(this, false);
      reader.resolve(toBytes(chunk));
      return RESOLVED;
    }
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (reader !== null) this.#settleReader(chunk);
    if (this.#queued < this.#highWaterMark) return RESOLVED;
    return new Promise((resolve, reject) => {
      (this.#writers ??= []).push({ resolve, reject });
      this.#monitor?.wait(this, true);
    });
  }

  /**
   * How a fan-in join sees this pipe as one of its inputs: `"data"` when a
   * chunk is queued (or the pipe was aborted, so that a read says why),
   * `"empty"` when it ended with nothing queued or failed (a producer that
   * failed counts as empty), `"pending"` while neither is known.
   */
  get joinState(): "data" | "empty" | "pending" {
    if (this.#chunks.length > 0 || this.#end === ABORTED) return "data";
    return this.#end === NONE ? "pending" : "empty";
  }

  /** True while a writer waits for the reader (the queue is at its bound). */
  get stalled(): boolean {
    return this.#writers !== undefined && this.#writers.length > 0;
  }

  /**
   * Fails the pipe for both ends: a waiting reader and every waiting writer
   * reject with `reason`, and so does every later read or write. The kernel's
   * answer when every running node of a request waits on a pipe (a deadlock):
   * the request fails, and no queue ever grows past its bound.
   */
  abort(reason: unknown): void {
    if (this.#end === ABORTED) return;
    this.#end = ABORTED;
    this.#reason = reason;
    this.#chunks = [];
    this.#queued = 0;
    this.#settleReader(null, reason);
    const writers = this.#writers;
    if (writers === undefined) return;
    this.#writers = undefined;
    for (const writer of writers) {
      this.#monitor?.resume(this, true);
      writer.reject(reason);
    }
  }

  #dequeued(length: number): void {
    this.#queued -= length;
    if (this.#writers !== undefined && this.#queued < this.#highWaterMark) this.#wakeWriters();
  }

  /** The next chunk as bytes, waiting for the writer; `null` after `close`. Rejects after `error`. */
  pull(): Promise<Uint8Array | null> {
    if (this.#chunks.length > 0) {
      const chunk = this.#chunks.shift()!;
      this.#dequeued(chunk.length);
      return Promise.resolve(toBytes(chunk));
    }
    return this.#wait(false) as Promise<Uint8Array | null>;
  }

  /**
   * The next chunk as it was queued (bytes, text or a value), waiting for the
   * writer; `null` after `close`. Rejects after `error`.
   */
  pullRaw(): Promise<Chunk | null> {
    if (this.#chunks.length > 0) return Promise.resolve(this.#shift());
    return this.#waitThen((chunk) => chunk === null ? null : this.#shift());
  }

  /** Takes the chunk at the front of the queue. */
  #shift(): Chunk {
    const chunk = this.#chunks.shift()!;
    this.#dequeued(chunk.length);
    return chunk;
  }

  /**
   * True once the pipe has ended with nothing queued, false as soon as a
   * chunk is queued; takes nothing. Rejects after `error`.
   */
  atEnd(): Promise<boolean> {
    if (this.#chunks.length > 0) return FALSE;
    if (this.#end === CLOSED || this.#end === CANCELLED) return TRUE;
    return this.#waitThen((chunk) => chunk === null);
  }

  /** The producer wrote (or touched) the pipe for the first time: its `onFirstWrite`, else its monitor is told. */
  firstWrite(): void {
    if (this.#onFirstWrite !== undefined) this.#onFirstWrite();
    else this.#monitor?.firstWrite?.(this);
  }

  /** True once the pipe has ended without an error and nothing is queued: every read says `null`. */
  get drained(): boolean {
    return this.#chunks.length === 0 && (this.#end === CLOSED || this.#end === CANCELLED);
  }

  /**
   * Resolves once a chunk is queued or the pipe has ended (then, or after
   * `error`, the next `pull` says how); takes nothing.
   */
  ready(): Promise<unknown> {
    if (this.#chunks.length > 0 || this.#end !== NONE) return RESOLVED;
    return this.#wait(true).catch(() => {});
  }

  /**
   * Waits for a chunk to be queued or the pipe to end (`null`), then answers
   * with `then` of it, called at once in the writer's (or closer's) call, so
   * that it can take what it wants off the queue without another wait.
   * Rejects after `error`.
   */
  waitThen<T>(then: (chunk: Chunk | null) => T | PromiseLike<T>): Promise<T> {
    return this.#waitThen(then);
  }

  #waitThen<T>(then: (chunk: Chunk | null) => T | PromiseLike<T>): Promise<T> {
    if (this.#end === ERRORED || this.#end === ABORTED) return Promise.reject(this.#reason);
    if (this.#end !== NONE) {
      try {
        return Promise.resolve(then(null));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.#reader = { resolve: resolve as (answer: unknown) => void, reject, then };
      this.#readerTakesText = true;
      this.#monitor?.wait(this, false);
    });
  }

  #wait(takesText: boolean): Promise<Chunk | null> {
    if (this.#end === ERRORED || this.#end === ABORTED) return Promise.reject(this.#reason);
    if (this.#end !== NONE) return NULL;
    return new Promise((resolve, reject) => {
      this.#reader = { resolve: resolve as (answer: unknown) => void, reject, then: undefined };
      this.#readerTakesText = takesText;
      this.#monitor?.wait(this, false);
    });
  }

  /**
   * Takes one whole line off the front of the queue when it starts with text
   * holding a `\n` within `maxUnits` UTF-16 units; `undefined` otherwise (bytes
   * first, no line end yet, or too long to tell without encoding).
   */
  takeTextLine(maxUnits: number): string | undefined {
    let head = this.#chunks[0];
    if (head instanceof QueuedValue) {
      // A value read as a line: its JSON text, counted as what it is now.
      const text = head.text();
      this.#queued += text.length - head.length;
      this.#chunks[0] = head = text;
    }
    if (typeof head !== "string") return undefined;
    const nl = head.indexOf("\n");
    if (nl < 0 || nl > maxUnits) return undefined;
    if (nl + 1 === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.slice(nl + 1);
    this.#dequeued(nl + 1);
    return nl > 0 && head.charCodeAt(nl - 1) === 0x0d ? head.slice(0, nl - 1) : head.slice(0, nl);
  }

  /** Takes a value off the front of the queue; `undefined` when the queue starts with anything else. */
  takeValue(): QueuedValue | undefined {
    const head = this.#chunks[0];
    if (!(head instanceof QueuedValue)) return undefined;
    this.#chunks.shift();
    this.#dequeued(head.length);
    return head;
  }

  #wakeWriters(): void {
    const writers = this.#writers;
    if (writers === undefined) return;
    this.#writers = undefined;
    for (const writer of writers) {
      this.#monitor?.resume(this, true);
      writer.resolve();
    }
  }

  #settleReader(chunk: Chunk | null, reason?: unknown): void {
    const reader = this.#reader;
    if (reader === null) return;
    this.#reader = null;
    this.#monitor?.resume(this, false);
    if (reason !== undefined) reader.reject(reason);
    else if (reader.then === undefined) reader.resolve(chunk);
    else {
      try {
        reader.resolve(reader.then(chunk));
      } catch (error) {
        reader.reject(error);
      }
    }
  }

  /** Ends the pipe: the reader sees the end after the queued bytes. */
  close(): void {
    if (this.#end !== NONE) return;
    this.#end = CLOSED;
    this.#settleReader(null);
  }

  /** Fails the pipe: queued bytes are dropped and the reader's next read rejects with `reason`. */
  error(reason: unknown): void {
    if (this.#end !== NONE) return;
    this.#end = ERRORED;
    this.#reason = reason;
    this.#chunks = [];
    this.#queued = 0;
    this.#settleReader(null, reason ?? new Error("pipe failed"));
    this.#wakeWriters();
  }

  /** The reader is done: queued and later bytes are discarded and a waiting writer goes on. */
  cancel(): void {
    if (this.#end === NONE) this.#end = CANCELLED;
    if (this.#chunks.length > 0) this.#chunks = [];
    this.#queued = 0;
    this.#wakeWriters();
  }
}

/** The producer's end of a {@linkcode MemPipe}. */
export class MemOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  readonly #pipe: MemPipe;

  /** @param pipe the pipe written to, told of the first write or touch */
  constructor(pipe: MemPipe) {
    this.#pipe = pipe;
  }

  // The chunk is queued before the first write starts the reader, so that the
  // reader finds it there instead of waiting for it (no wait to register and end).

  write(chunk: Uint8Array): Promise<void> {
    const done = this.#pipe.push(chunk);
    this.touch();
    return done;
  }

  writeText(text: string): Promise<void> {
    const done = this.#pipe.push(text);
    this.touch();
    return done;
  }

  writeValue(value: unknown): Promise<void> {
    const done = this.#pipe.push(new QueuedValue(value));
    this.touch();
    return done;
  }

  touch(): void {
    if (this.written) return;
    this.written = true;
    this.#pipe.firstWrite();
  }
}

/** The consumer's end of a {@linkcode MemPipe}. */
export class MemInput implements InputHandle {
  flags = 0;
  touched = 0;
  readonly #pipe: MemPipe;
  readonly #maxLineBytes: number | undefined;
  /** The byte reader, made on first need: lines written as text never need it. */
  #reader: ByteReader | undefined;

  /**
   * @param pipe the pipe read from
   * @param maxLineBytes longest line `readLine` accepts
   */
  constructor(pipe: MemPipe, maxLineBytes?: number) {
    this.#pipe = pipe;
    this.#maxLineBytes = maxLineBytes;
  }

  get #bytes(): ByteReader {
    return this.#reader ??= new ByteReader(() => this.#pipe.pull(), {
      maxLineBytes: this.#maxLineBytes,
    });
  }

  /** True when the byte reader holds bytes, which come before anything still queued. */
  get #bytesBuffered(): boolean {
    return this.#reader !== undefined && this.#reader.buffered > 0;
  }

  /**
   * A line written as text, taken as is when no bytes are buffered ahead of it;
   * `undefined` when the next line must go through the byte reader.
   */
  #textLine(): string | undefined {
    if (this.#bytesBuffered) return undefined;
    // A UTF-16 unit is at most 3 UTF-8 bytes: a longer line is checked as bytes.
    return this.#pipe.takeTextLine(
      Math.floor((this.#maxLineBytes ?? DEFAULT_MAX_LINE_BYTES) / 3),
    );
  }

  read(): Promise<Uint8Array | null> {
    return this.#bytes.read();
  }
  readLine(): Promise<string | null> {
    // Text written by a servlet is read as text while no bytes are buffered
    // ahead of it; anything else goes through the byte reader.
    const line = this.#textLine();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#pipe.queued === 0 && !this.#bytesBuffered) {
      // The end, the usual way a line loop stops: no byte reader to make and pull from.
      if (this.#pipe.drained) return NULL;
      return this.#pipe.waitThen(this.#lineNow ??= () => this.#lineAfterWait());
    }
    return this.#bytes.readLine();
  }
  #lineNow: (() => string | null | Promise<string | null>) | undefined;
  /** A waiting `readLine` told that a chunk came or the pipe ended: the line, taken at once. */
  #lineAfterWait(): string | null | Promise<string | null> {
    return this.#pipe.drained && !this.#bytesBuffered
      ? null
      : this.#textLine() ?? this.#bytes.readLine();
  }
  readValue(): Promise<QueuedValue | string | null> {
    // A value is handed over as is while no bytes are buffered ahead of it.
    const value = this.#bytesBuffered ? undefined : this.#pipe.takeValue();
    if (value !== undefined) return Promise.resolve(value);
    if (this.#pipe.queued === 0 && !this.#bytesBuffered) {
      if (this.#pipe.drained) return NULL;
      return this.#pipe.waitThen(this.#valueNow ??= () => this.#valueAfterWait());
    }
    return this.readLine();
  }
  #valueNow: (() => QueuedValue | string | null | Promise<QueuedValue | string | null>) | undefined;
  /** A waiting `readValue` told that a chunk came or the pipe ended: the value, taken at once. */
  #valueAfterWait(): QueuedValue | string | null | Promise<QueuedValue | string | null> {
    return this.#pipe.drained && !this.#bytesBuffered
      ? null
      : this.#pipe.takeValue() ?? this.readLine();
  }
  readChunk(): Promise<Chunk | null> {
    return this.#bytesBuffered ? this.#bytes.read() : this.#pipe.pullRaw();
  }
  eof(): Promise<boolean> {
    // Answered without taking anything off the queue, so a value stays a value.
    return this.#bytesBuffered ? Promise.resolve(false) : this.#pipe.atEnd();
  }
  unread(bytes: Uint8Array): void {
    this.#bytes.unread(bytes);
  }
  release(): void {
    this.#pipe.cancel();
  }
}
