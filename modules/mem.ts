/**
 * The `mem` module: the in-memory pipe that joins two servlets along a graph
 * edge, built on a Web Streams `ReadableStream` with a bounded queue.
 *
 * The writer enqueues into the stream's controller and waits while the queue
 * holds `highWaterMark` bytes or more, so a fast producer cannot grow memory
 * without bound. The reader pulls through a {@linkcode ByteReader}, or takes
 * the stream itself when the servlet asks for a `ReadableStream`.
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

/**
 * One edge of one request: a bounded in-memory pipe with an output handle for
 * the producer and an input handle for the consumer.
 */
export class MemPipe {
  /** The consumer's end: a byte stream with a bounded queue. */
  readonly stream: ReadableStream<Uint8Array>;
  /** The producer's handle. */
  readonly output: MemOutput;
  /** The consumer's handle. */
  readonly input: MemInput;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #resume: (() => void) | null = null;
  #done = false;

  /** @param options queue bound, line limit and first-write callback */
  constructor(options: MemPipeOptions = {}) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller): void => {
          this.#controller = controller;
        },
        pull: (): void => this.#wake(),
        cancel: (): void => {
          this.#done = true;
          this.#wake();
        },
      },
      new ByteLengthQueuingStrategy({
        highWaterMark: options.highWaterMark ?? MEM_HIGH_WATER_MARK,
      }),
    );
    this.output = new MemOutput(this, options.onFirstWrite);
    this.input = new MemInput(this.stream, options.maxLineBytes);
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }

  /** Enqueues a chunk; resolves once the queue is below its bound. */
  push(chunk: Uint8Array): Promise<void> {
    if (this.#done) return RESOLVED;
    if (chunk.length > 0) this.#controller.enqueue(chunk);
    if ((this.#controller.desiredSize ?? 1) > 0) return RESOLVED;
    return new Promise((resolve) => {
      this.#resume = resolve;
    });
  }

  /** Ends the stream: the reader sees the end after the queued bytes. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.close();
    this.#wake();
  }

  /** Fails the stream: the reader's next read rejects with `reason`. */
  error(reason: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.error(reason);
    this.#wake();
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
  readonly #stream: ReadableStream<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #bytes: ByteReader | null = null;
  readonly #maxLineBytes: number | undefined;

  /**
   * @param stream the pipe's stream
   * @param maxLineBytes longest line `readLine` accepts
   */
  constructor(stream: ReadableStream<Uint8Array>, maxLineBytes?: number) {
    this.#stream = stream;
    this.#maxLineBytes = maxLineBytes;
  }

  #byteReader(): ByteReader {
    if (this.#bytes) return this.#bytes;
    const reader = this.#reader = this.#stream.getReader();
    return this.#bytes = new ByteReader(async () => {
      const { value, done } = await reader.read();
      return done ? null : value;
    }, { maxLineBytes: this.#maxLineBytes });
  }

  read(): Promise<Uint8Array | null> {
    return this.#byteReader().read();
  }
  readLine(): Promise<string | null> {
    return this.#byteReader().readLine();
  }
  eof(): Promise<boolean> {
    return this.#byteReader().eof();
  }
  readable(): ReadableStream<Uint8Array> {
    if (this.#bytes === null && !this.#stream.locked) return this.#stream;
    const bytes = this.#byteReader();
    return readableFrom(() => bytes.read());
  }
  release(): void {
    if (this.#reader) this.#reader.cancel().catch(() => {});
    else if (!this.#stream.locked) this.#stream.cancel().catch(() => {});
  }
}
