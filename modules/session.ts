/**
 * The request loop of one connection-like resource (a TCP or Unix
 * connection, an adopted socket, standard input and output): one readiness
 * is one request; with `PERSIST` on the output companion when a request ends
 * the resource is kept and the next bytes start the next request, else it is
 * closed once the reply is flushed.
 * @module
 */
import { ByteReader, concatBytes } from "../kernel/byte_reader.ts";
import { ASYNC, PERSIST } from "../kernel/flags.ts";
import { type InputHandle, type OutputHandle, RESOLVED, type StateSlot } from "../kernel/pipe.ts";
import { type ByteChannel, isGone, writeAll } from "./channel.ts";
import { KeptState } from "../kernel/kept_state.ts";
import { ReadBuffers } from "./read_buffers.ts";

const encoder = new TextEncoder();
import type { ListenContext, RequestEvent, RequestInfo } from "./module.ts";

/** Reply bytes buffered before a write waits for the channel. */
const WRITE_HIGH_WATER = 65536;

/** How a session serves its requests. */
export interface SessionOptions {
  /** Longest line a request may read, in bytes. */
  maxLineBytes: number;
  /** Run one request with an empty input and the `open` event before reading anything. */
  open: boolean;
  /** Go on after every request, `PERSIST` or not (a file: each line is a request). */
  keepAlways?: boolean;
  /** Seconds a request may take before the session is closed. Default: no limit. */
  requestTimeout?: number;
  /** Seconds a write may wait for the peer to read before the session is closed. Default: no limit. */
  writeTimeout?: number;
  /**
   * Written when a request fails before writing anything (then the session
   * closes); `{reason}` is replaced by a few safe words. Default: nothing.
   */
  errorReply?: string;
}

/** How long the error reply of a timed-out request may take to write before the close, in ms. */
const TIMEOUT_REPLY_MS = 1000;

/** A coarse clock: the pool's tick count, cheap to read on every read. */
export interface Clock {
  /** Ticks so far. */
  tick: number;
}

/** The input companion: this request's buffered bytes. */
class SessionInput implements InputHandle {
  flags = 0;
  touched = 0;
  readonly state: StateSlot;
  readonly #reader: ByteReader;
  readonly #channel: ByteChannel;
  /** True for an `open` request, whose input is empty. */
  empty = false;
  constructor(reader: ByteReader, state: StateSlot, channel: ByteChannel) {
    this.#reader = reader;
    this.state = state;
    this.#channel = channel;
  }
  /** The module's `cntl` answers, worked out when first asked for. */
  get module(): Readonly<Record<string, unknown>> | undefined {
    return this.#channel.module;
  }
  /** What is buffered now; `null` when nothing is (the end of this readiness). */
  read(): Promise<Uint8Array | null> {
    return Promise.resolve(this.empty ? null : this.#reader.takeBuffered());
  }
  /** A whole line, waiting for the rest of it if needed. */
  readLine(): Promise<string | null> {
    return this.empty ? Promise.resolve(null) : this.#reader.readLine();
  }
  eof(): Promise<boolean> {
    return Promise.resolve(this.empty || this.#reader.buffered === 0);
  }
  /** Waits for the connection's next bytes (the rest of a cut line); false at its end. */
  more(): Promise<boolean> {
    return this.empty ? Promise.resolve(false) : this.#reader.fill();
  }
  unread(bytes: Uint8Array): void {
    this.#reader.unread(bytes.slice());
  }
  release(): void {}
}

/** The output companion: buffers a request's reply and flushes it. */
class SessionOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  /** Set once a write failed because the peer is gone. */
  gone = false;
  readonly state: StateSlot;
  readonly #channel: ByteChannel;
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** Bytes handed to a flush and not yet written. */
  #inFlight = 0;
  #flushing: Promise<void> = RESOLVED;
  #busy = false;
  /** Bytes written to the channel so far, over every request of the session. */
  bytesOut = 0;
  /** True while a write to the channel is under way. */
  writing = false;
  /** The clock's tick when the current write started. */
  writingSince = 0;
  readonly #clock: Clock;

  constructor(channel: ByteChannel, state: StateSlot, clock: Clock) {
    this.#channel = channel;
    this.state = state;
    this.#clock = clock;
  }

  /** The module's `cntl` answers, worked out when first asked for. */
  get module(): Readonly<Record<string, unknown>> | undefined {
    return this.#channel.module;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.written = true;
    if (this.gone || chunk.length === 0) return RESOLVED;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    // Bounded: past the high-water mark (counting bytes still being written by an
    // earlier, ASYNC, flush) the writer waits until everything before it is written.
    return this.#size + this.#inFlight >= WRITE_HIGH_WATER ? this.flush() : RESOLVED;
  }

  touch(): void {
    this.written = true;
  }

  /** True when bytes wait to be written, or a write is under way. */
  get pending(): boolean {
    return this.#size > 0 || this.#inFlight > 0;
  }

  /** Writes out what is buffered; a gone peer is recorded, never thrown. */
  flush(): Promise<void> {
    if (this.#size === 0) return this.#flushing;
    const chunks = this.#chunks;
    const data = chunks.length === 1 ? chunks[0] : chunks.reduce(concatBytes);
    this.#chunks = [];
    this.#size = 0;
    this.#inFlight += data.length;
    return this.#flushing = this.#busy
      ? this.#flushing.then(() => this.#send(data))
      : this.#send(data);
  }

  async #send(data: Uint8Array): Promise<void> {
    this.#busy = true;
    try {
      if (!this.gone) {
        this.writing = true;
        this.writingSince = this.#clock.tick;
        await writeAll(this.#channel, data);
        this.bytesOut += data.length;
      }
    } catch (error) {
      if (!isGone(error)) throw error;
      this.gone = true;
    } finally {
      this.writing = false;
      this.#busy = false;
      this.#inFlight -= data.length;
    }
  }

  /** Prepares the handle for the next request. */
  reset(): void {
    this.written = false;
  }
}

/** What a request is told about its connection; the peer's name is worked out when asked for. */
class SessionRequestInfo implements RequestInfo {
  readonly event: RequestEvent;
  readonly #channel: ByteChannel;
  constructor(channel: ByteChannel, event: RequestEvent) {
    this.#channel = channel;
    this.event = event;
  }
  get peer(): string {
    return this.#channel.peer;
  }
}

/** One connection-like resource and its request loop. */
export class Session implements StateSlot {
  readonly channel: ByteChannel;
  /** True while waiting for bytes from the peer. */
  reading = false;
  /** True while no request is in flight (between requests). */
  idle = true;
  /** The clock's tick when the current wait for bytes started. */
  readingSince = 0;
  closed = false;
  /** Requests served (an `open` request counts). */
  requests = 0;
  /** Bytes read from the channel. */
  bytesIn = 0;
  /** When the session started, in `performance.now()` milliseconds. */
  readonly startedAt: number = performance.now();
  /** The clock's tick when the current request started. */
  requestSince = 0;
  /** Why the session was closed from outside (the ttl, a time limit), if it was. */
  closedBecause: string | undefined;
  /** Ends `serve` when the session is closed from outside. */
  #closedSignal: () => void = () => {};
  readonly #errorReply: string;
  readonly #buffers = new ReadBuffers();
  readonly #reader: ByteReader;
  readonly #input: SessionInput;
  readonly #output: SessionOutput;
  readonly #clock: Clock;
  readonly #open: boolean;
  readonly #keepAlways: boolean;
  #draining: Promise<void> = RESOLVED;
  #openInfo: RequestInfo | undefined;
  #dataInfo: RequestInfo | undefined;
  readonly #kept = new KeptState();

  /**
   * @param channel the bytes both ways
   * @param options line limit and whether to run an `open` request
   * @param clock the pool's clock, for the idle ttl
   */
  constructor(channel: ByteChannel, options: SessionOptions, clock: Clock) {
    this.channel = channel;
    this.#clock = clock;
    this.#open = options.open;
    this.#keepAlways = options.keepAlways ?? false;
    this.#reader = new ByteReader(() => this.#pull(), {
      volatile: true,
      maxLineBytes: options.maxLineBytes,
    });
    this.#input = new SessionInput(this.#reader, this, channel);
    this.#output = new SessionOutput(channel, this, clock);
    this.#errorReply = options.errorReply ?? "";
  }

  push(value: unknown, dispose?: (value: unknown) => void): void {
    if (this.closed) {
      // The resource is gone (the ttl closed it while the request ran): nothing to keep it with.
      try {
        dispose?.(value);
      } catch {
        // As in close(): a failing dispose changes nothing.
      }
      return;
    }
    this.#kept.push(value, dispose);
  }

  pop(): unknown {
    return this.#kept.pop();
  }

  async #pull(): Promise<Uint8Array | null> {
    if (this.closed) return null;
    this.reading = true;
    this.readingSince = this.#clock.tick;
    try {
      const n = await this.channel.read(this.#buffers.next());
      if (n === null || this.closed) return null;
      this.bytesIn += n;
      return this.#buffers.view(n);
    } catch (error) {
      if (isGone(error)) return null;
      throw error;
    } finally {
      this.reading = false;
    }
  }

  async #request(context: ListenContext, event: RequestEvent): Promise<boolean> {
    const output = this.#output;
    this.idle = false;
    this.requests++;
    this.requestSince = this.#clock.tick;
    output.reset();
    this.#input.empty = event === "open";
    const ok = await context.handle(
      this.#input,
      output,
      event === "open"
        ? this.#openInfo ??= new SessionRequestInfo(this.channel, "open")
        : this.#dataInfo ??= new SessionRequestInfo(this.channel, "data"),
    );
    this.#reader.endReaders(); // a read the request left waiting must not take the next one's bytes
    if (!ok && !output.written && !this.closed && this.#errorReply !== "") {
      const reason = this.#reader.overflowed
        ? `line longer than ${this.#reader.maxLineBytes} bytes`
        : "request failed";
      await output.write(this.#errorBytes(reason));
    }
    if (output.pending) {
      // ASYNC: the request is over before its reply is written; the next one may
      // start, and its bytes queue behind (order kept, memory bounded by write()).
      if (output.flags & ASYNC) {
        this.#draining = output.flush().catch((error) =>
          context.log.log(
            "warn",
            "PLUMB_CONN_WRITE_FAILED",
            `${this.channel.peer}: write failed: ${(error as Error).message}`,
            { peer: this.channel.peer },
          )
        );
      } else await output.flush();
    }
    this.idle = true;
    // A file goes on after a failed line: that request failed, not the batch.
    if (this.#keepAlways) return !output.gone;
    return ok && !output.gone && (output.flags & PERSIST) !== 0;
  }

  /**
   * Serves requests until the peer goes, `PERSIST` is off, or `closing()` says
   * to stop. Resolves at once when the session is closed from outside (a time
   * limit), even while a servlet never resolves.
   */
  serve(context: ListenContext, closing: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      this.#closedSignal = resolve;
      this.#serve(context, closing).then(resolve);
    });
  }

  async #serve(context: ListenContext, closing: () => boolean): Promise<void> {
    const reader = this.#reader;
    try {
      let go = !this.#open || await this.#request(context, "open");
      while (go) {
        if (reader.buffered === 0 && !(await reader.fill())) break;
        if (closing()) break;
        const consumed = reader.consumed;
        if (!(await this.#request(context, "data")) || closing()) break;
        // A request that read nothing leaves the same bytes: wait for new ones
        // rather than run it again on them at once.
        if (reader.consumed === consumed && !(await reader.fill())) break;
        go = reader.buffered > 0 || !reader.ended;
      }
      await this.#draining; // what ASYNC requests left to write is written before closing
      await this.#output.flush();
    } catch (error) {
      context.log.log(
        "warn",
        "PLUMB_CONN_FAILED",
        `${this.channel.peer}: connection failed: ${(error as Error)?.message ?? error}`,
        { peer: this.channel.peer },
      );
    } finally {
      this.close();
      // No read into the buffers is under way now (unless a servlet left one
      // waiting) and no unread byte points into them (a servlet still running
      // could read them later): they can serve another session.
      if (!this.reading && !reader.filling && reader.buffered === 0) this.#buffers.release();
    }
  }

  /** Bytes written to the channel. */
  get bytesOut(): number {
    return this.#output.bytesOut;
  }

  /** True while a reply is being written to the channel. */
  get writing(): boolean {
    return this.#output.writing;
  }

  /** The clock's tick when the write under way started. */
  get writingSince(): number {
    return this.#output.writingSince;
  }

  /** The error reply with `{reason}` filled in, as bytes. */
  #errorBytes(reason: string): Uint8Array {
    return encoder.encode(this.#errorReply.replaceAll("{reason}", reason));
  }

  /**
   * Ends a request that took too long: tells the client why (the `errorReply`,
   * when the request wrote nothing; bounded in time), then closes.
   */
  timeOut(reason: string): void {
    if (this.closed) return;
    this.closedBecause = reason;
    if (this.#errorReply === "" || this.#output.written || this.#output.pending) {
      this.close();
      return;
    }
    const reply = this.#errorBytes(reason);
    const timer = setTimeout(() => this.close(), TIMEOUT_REPLY_MS);
    writeAll(this.channel, reply).catch(() => {}).finally(() => {
      clearTimeout(timer);
      this.close();
    });
  }

  /** Closes the channel and disposes of the session state; `because` says why, for the log. */
  close(because?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBecause ??= because;
    this.#closedSignal();
    this.#kept.dispose();
    try {
      this.channel.close();
    } catch {
      // Already closed by the peer or the sweeper.
    }
  }
}
