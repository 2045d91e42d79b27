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
import { ByteReader } from "../kernel/byte_reader.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "../kernel/pipe.ts";
import { readableFrom } from "../kernel/stream_util.ts";

/** Options of a {@linkcode MemPipe}. */
export interface MemPipeOptions {
  /** Bytes queued before a writer waits. Default 65536. */
  highWaterMark?: number;
  /** Longest line the reader's `readLine` accepts, in bytes. Default 65536. */
  maxLineBytes?: number;
  /** Called once, on the first write (or touch) of the request. */
  onFirstWrite?: () => void;
}

/** Default queue bound of a mem pipe, in bytes. */
export const MEM_HIGH_WATER_MARK = 65536;

const NONE = 0;
const CLOSED = 1;
const ERRORED = 2;
const CANCELLED = 3;

/**
 * One edge of one request: a bounded in-memory pipe with an output handle for
 * the producer and an input handle for the consumer.
 */
export class MemPipe {
  /** The producer's handle. */
  readonly output: MemOutput;
  /** The consumer's handle. */
  readonly input: MemInput;
  readonly #highWaterMark: number;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #end = NONE;
  #reason: unknown;
  #reader: { resolve: (chunk: Uint8Array | null) => void; reject: (e: unknown) => void } | null =
    null;
  #writer: (() => void) | null = null;

  /** @param options queue bound, line limit and first-write callback */
  constructor(options: MemPipeOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? MEM_HIGH_WATER_MARK;
    this.output = new MemOutput(this, options.onFirstWrite);
    this.input = new MemInput(this, options.maxLineBytes);
  }

  /** Bytes queued and not yet read. */
  get queued(): number {
    return this.#queued;
  }

  /** Queues a chunk; resolves once the queue is below its bound. Discarded after the reader stopped. */
  push(chunk: Uint8Array): Promise<void> {
    if (this.#end !== NONE || chunk.length === 0) return RESOLVED;
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      reader.resolve(chunk);
      return RESOLVED;
    }
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued < this.#highWaterMark) return RESOLVED;
    return new Promise((resolve) => this.#writer = resolve);
  }

  /** The next chunk, waiting for the writer; `null` after `close`. Rejects after `error`. */
  pull(): Promise<Uint8Array | null> {
    if (this.#chunks.length > 0) {
      const chunk = this.#chunks.shift()!;
      this.#queued -= chunk.length;
      if (this.#writer !== null && this.#queued < this.#highWaterMark) this.#wakeWriter();
      return Promise.resolve(chunk);
    }
    if (this.#end === ERRORED) return Promise.reject(this.#reason);
    if (this.#end !== NONE) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#reader = { resolve, reject });
  }

  #wakeWriter(): void {
    const writer = this.#writer;
    this.#writer = null;
    writer?.();
  }

  /** Ends the pipe: the reader sees the end after the queued bytes. */
  close(): void {
    if (this.#end !== NONE) return;
    this.#end = CLOSED;
    this.#reader?.resolve(null);
    this.#reader = null;
  }

  /** Fails the pipe: queued bytes are dropped and the reader's next read rejects with `reason`. */
  error(reason: unknown): void {
    if (this.#end !== NONE) return;
    this.#end = ERRORED;
    this.#reason = reason;
    this.#chunks = [];
    this.#queued = 0;
    this.#reader?.reject(reason);
    this.#reader = null;
    this.#wakeWriter();
  }

  /** The reader is done: queued and later bytes are discarded and a waiting writer goes on. */
  cancel(): void {
    if (this.#end === NONE) this.#end = CANCELLED;
    this.#chunks = [];
    this.#queued = 0;
    this.#wakeWriter();
  }
}

/** The producer's end of a {@linkcode MemPipe}. */
export class MemOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  readonly #pipe: MemPipe;
  readonly #onFirstWrite: (() => void) | undefined;

  /**
   * @param pipe the pipe written to
   * @param onFirstWrite called on the first write or touch
   */
  constructor(pipe: MemPipe, onFirstWrite?: () => void) {
    this.#pipe = pipe;
    this.#onFirstWrite = onFirstWrite;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.touch();
    return this.#pipe.push(chunk);
  }

  touch(): void {
    if (this.written) return;
    this.written = true;
    this.#onFirstWrite?.();
  }
}

/** The consumer's end of a {@linkcode MemPipe}. */
export class MemInput implements InputHandle {
  flags = 0;
  touched = 0;
  readonly #pipe: MemPipe;
  readonly #bytes: ByteReader;

  /**
   * @param pipe the pipe read from
   * @param maxLineBytes longest line `readLine` accepts
   */
  constructor(pipe: MemPipe, maxLineBytes?: number) {
    this.#pipe = pipe;
    this.#bytes = new ByteReader(() => pipe.pull(), { maxLineBytes });
  }

  read(): Promise<Uint8Array | null> {
    return this.#bytes.read();
  }
  readLine(): Promise<string | null> {
    return this.#bytes.readLine();
  }
  eof(): Promise<boolean> {
    return this.#bytes.eof();
  }
  readable(): ReadableStream<Uint8Array> {
    return readableFrom(() => this.#bytes.read(), () => this.#pipe.cancel());
  }
  release(): void {
    this.#pipe.cancel();
  }
}
