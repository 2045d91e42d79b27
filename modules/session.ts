/**
 * The request loop of one connection-like resource (a TCP or Unix
 * connection, an adopted socket, standard input and output): one readiness
 * is one request; with `PERSIST` on the output companion when a request ends
 * the resource is kept and the next bytes start the next request, else it is
 * closed once the reply is flushed.
 * @module
 */
import { ByteReader } from "../kernel/byte_reader.ts";
import type { ConnectionLink } from "../kernel/connection.ts";
import type { PushLink } from "../kernel/connection_handle.ts";
import { ASYNC, PERSIST } from "../kernel/flags.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "../kernel/pipe.ts";
import { ANSWERED_FAILED, ANSWERED_OK } from "../kernel/request.ts";
import { type ByteChannel, isGone, lingerOrClose, writeAll } from "./channel.ts";
import { KeptState } from "../kernel/kept_state.ts";
import { LARGE_READ_BUFFER, ReadBuffers } from "./read_buffers.ts";
import { joinChunks, ReplySlab } from "./reply_slab.ts";
import type { Deadline } from "../kernel/servlet.ts";
import type { ListenContext, RequestEvent, RequestInfo } from "./module.ts";

const encoder = new TextEncoder();
const NO_LINE: Promise<string | null> = Promise.resolve(null);

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
   * Written when a request fails before writing anything; `{reason}` is
   * replaced by a few safe words. Default: nothing.
   */
  errorReply?: string;
  /**
   * After a failed request: `continue` (the default) goes on to the next
   * request as `PERSIST` says, `close` closes the session once the error
   * reply is written. A line longer than the limit always closes.
   */
  onError?: "close" | "continue";
  /**
   * Bytes written outside requests (server push) that may wait for a client
   * that does not read; past them the session is closed. Default 1 MiB.
   */
  pushBuffer?: number;
}

/** Default of {@linkcode SessionOptions.pushBuffer}: 1 MiB. */
export const DEFAULT_PUSH_BUFFER = 1 << 20;

/** Told when a write behind ends: `error` for one that failed with the peer still there. */
type WriteSettled = (error?: unknown) => void;

/** A deadline set on a session with `DEADLINE`: when (`performance.now()` ms), why, and what to write. */
interface SessionDeadline {
  readonly at: number;
  readonly reason: string;
  readonly reply: Uint8Array | undefined;
}

/** A coarse clock: the pool's tick count, cheap to read on every read. */
export interface Clock {
  /** Ticks so far. */
  tick: number;
}

/**
 * The input companion: the bytes of this request's readiness. No read waits
 * for bytes the client has not sent yet, except `readLine` finishing a line
 * that the readiness cut in two; so `eof` and the reads agree.
 */
class SessionInput implements InputHandle {
  flags = 0;
  touched = 0;
  readonly #reader: ByteReader;
  readonly #channel: ByteChannel;
  /** True for an `open` request, whose input is empty. */
  empty = false;
  constructor(reader: ByteReader, channel: ByteChannel) {
    this.#reader = reader;
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
  /** A whole line, waiting for the rest of a cut one; `null` when nothing is buffered. */
  readLine(): Promise<string | null> {
    return this.empty || this.#reader.buffered === 0 ? NO_LINE : this.#reader.readLine();
  }
  /** The readiness, when it is exactly one whole line. */
  wholeLine(): string | undefined {
    return this.empty ? undefined : this.#reader.takeWholeLine();
  }
  /** The readiness, without taking it. */
  peekReadiness(): Uint8Array | undefined {
    return this.empty ? undefined : this.#reader.peekBuffered();
  }
  takeReadiness(): void {
    this.#reader.dropBuffered();
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
  readonly #channel: ByteChannel;
  /** Told once, when a write finds the peer gone. */
  readonly #onGone: () => void;
  /**
   * The first chunk buffered, kept apart from the rest: the usual reply is
   * one chunk, and an array's `push` and truncation cost about 35 ns more than
   * a field.
   */
  #first: Uint8Array | undefined;
  /** The chunks buffered after `#first`. */
  #rest: Uint8Array[] = [];
  /** Where short text replies are encoded, made at the first one. */
  #slab: ReplySlab | undefined;
  #size = 0;
  /** Bytes handed to a flush and not yet written. */
  #inFlight = 0;
  #flushing: Promise<void> = RESOLVED;
  /** The bytes of the send under way (sends go one at a time, each behind the last). */
  #sending: Uint8Array | undefined;
  /** Told when the send under way ends, for a flush behind ({@linkcode flushBehind}). */
  #settled: WriteSettled | undefined;
  /** Bytes written to the channel so far, over every request of the session. */
  bytesOut = 0;
  /** True while a write to the channel is under way. */
  writing = false;
  /** The clock's tick when the current write started. */
  writingSince = 0;
  readonly #clock: Clock;

  constructor(channel: ByteChannel, clock: Clock, onGone: () => void) {
    this.#channel = channel;
    this.#clock = clock;
    this.#onGone = onGone;
  }

  /** The module's `cntl` answers, worked out when first asked for. */
  get module(): Readonly<Record<string, unknown>> | undefined {
    return this.#channel.module;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.written = true;
    if (this.gone || chunk.length === 0) return RESOLVED;
    return this.#push(chunk);
  }

  /** Text, encoded into the session's reply slab when it is short ASCII. */
  writeText(text: string): Promise<void> {
    this.written = true;
    if (this.gone || text.length === 0) return RESOLVED;
    return this.#push((this.#slab ??= new ReplySlab()).encode(text));
  }

  #push(chunk: Uint8Array): Promise<void> {
    // A chunk of at least the high-water mark (a file's body) is written as it is, in a
    // write of its own: joined with the bytes before it (a head) it would be copied.
    if (chunk.length >= WRITE_HIGH_WATER && this.#size > 0) this.flush();
    this.#buffer(chunk);
    // Bounded: past the high-water mark (counting bytes still being written by an
    // earlier, ASYNC, flush) the writer waits until everything before it is written.
    return this.#size + this.#inFlight >= WRITE_HIGH_WATER ? this.flush() : RESOLVED;
  }

  touch(): void {
    this.written = true;
  }

  /** Queues bytes written outside a request (server push): not the request's reply. */
  push(chunk: Uint8Array): void {
    if (this.gone || chunk.length === 0) return;
    this.#buffer(chunk);
  }

  /** Adds `chunk` (not empty) to what the next flush writes. */
  #buffer(chunk: Uint8Array): void {
    if (this.#first === undefined) this.#first = chunk;
    else this.#rest.push(chunk);
    this.#size += chunk.length;
  }

  /** Bytes buffered or being written. */
  get backlog(): number {
    return this.#size + this.#inFlight;
  }

  /** True when bytes wait to be written, or a write is under way. */
  get pending(): boolean {
    return this.#size > 0 || this.#inFlight > 0;
  }

  /** Writes out what is buffered; a gone peer is recorded, never thrown. */
  flush(): Promise<void> {
    if (this.#size === 0) return this.#flushing;
    const first = this.#first!;
    const rest = this.#rest;
    let data = first;
    if (rest.length > 0) {
      rest.unshift(first);
      data = joinChunks(rest, this.#size);
      rest.length = 0;
    }
    this.#first = undefined;
    this.#size = 0;
    this.#inFlight += data.length;
    // Behind any earlier flush not yet done, including one chained but not yet
    // started: a flush that skipped it would write its bytes out of order.
    return this.#flushing = this.#inFlight > data.length
      ? this.#flushing.then(() => this.#send(data))
      : this.#send(data);
  }

  /**
   * Writes out what is buffered, as `flush` does, and tells `settled` when
   * the write ends instead of rejecting: for a reply written behind the next
   * read, which nobody awaits. The usual reply, the only bytes waiting, costs
   * one promise (the write's) and no closure.
   */
  flushBehind(settled: WriteSettled): void {
    if (this.#inFlight === 0 && this.#size > 0) {
      this.#settled = settled;
      this.flush();
      return;
    }
    this.flush().then(() => settled(), settled);
  }

  /**
   * Writes `data` in one write when the channel takes it all (the usual case,
   * without an async frame of its own), else in as many as it takes. One
   * send at a time: the next starts once this one has ended.
   */
  #send(data: Uint8Array): Promise<void> {
    if (this.gone) {
      this.#sent(data, false);
      this.#tell();
      return RESOLVED;
    }
    this.writing = true;
    this.writingSince = this.#clock.tick;
    this.#sending = data;
    let written: Promise<number>;
    try {
      written = this.#channel.write(data);
    } catch (error) {
      written = Promise.reject(error);
    }
    return written.then(this.#onWritten, this.#onFailed);
  }

  /** The channel took `n` bytes of the send under way: the rest, if any, goes in more writes. */
  readonly #onWritten = (n: number): void | Promise<void> => {
    const data = this.#sending!;
    if (n === data.length) {
      this.#sent(data, true);
      this.#tell();
      return;
    }
    return writeAll(this.#channel, data.subarray(n)).then(() => {
      this.#sent(data, true);
      this.#tell();
    }, this.#onFailed);
  };

  /** The send under way failed. */
  readonly #onFailed = (error: unknown): void => this.#failed(this.#sending!, error);

  /** Tells the flush behind, if the send under way was one, that it ended (`error`: how it failed). */
  #tell(error?: unknown): void {
    const settled = this.#settled;
    if (settled === undefined) return;
    this.#settled = undefined;
    settled(error);
  }

  /** A send of `data` is over (`written`: all of it went out). */
  #sent(data: Uint8Array, written: boolean): void {
    if (written) this.bytesOut += data.length;
    this.#sending = undefined;
    this.writing = false;
    this.#inFlight -= data.length;
    // Nothing written from the reply slab waits any more: another session may have it.
    if (this.#inFlight === 0 && this.#size === 0) this.#slab?.release();
  }

  /**
   * A send of `data` failed: a gone peer is recorded, any other error thrown
   * (or told to the flush behind, whose send never rejects).
   */
  #failed(data: Uint8Array, error: unknown): void {
    this.#sent(data, false);
    if (!isGone(error)) {
      if (this.#settled === undefined) throw error;
      this.#tell(error);
      return;
    }
    this.gone = true;
    this.#onGone();
    this.#tell();
  }

  /** Prepares the handle for the next request. */
  reset(): void {
    this.written = false;
  }
}

/**
 * What a request is told about its connection; the peer's name and the
 * request's signal are worked out when asked for.
 */
class SessionRequestInfo implements RequestInfo {
  readonly event: RequestEvent;
  readonly connection: Session;
  constructor(session: Session, event: RequestEvent) {
    this.connection = session;
    this.event = event;
  }
  get peer(): string {
    return this.connection.channel.peer;
  }
  get signal(): AbortSignal {
    return this.connection.requestSignal();
  }
}

/** Why a request's signal aborts: an `AbortError` (or a `TimeoutError`) saying what happened. */
function abortReason(message: string, name = "AbortError"): DOMException {
  return new DOMException(message, name);
}

/** One connection-like resource and its request loop. */
export class Session implements ConnectionLink, PushLink {
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
  /** True when the session ended because its last request failed. */
  closedOnFailure = false;
  /**
   * The clock's tick when the reply of a time limit (before its close)
   * started to be written; -1 while none is. The pool bounds that write.
   */
  closingSince = -1;
  /**
   * Set when the session closed after its last reply by a lingering close
   * (the channel is still read for what the client sends, for a bounded
   * time); resolves once the channel is closed.
   */
  lingering: Promise<void> | undefined;
  /** Told once the session has closed (`serve`'s `ended`). */
  #ended: ((session: Session) => void) | undefined;
  readonly #errorReply: string;
  readonly #closeOnError: boolean;
  readonly #buffers = new ReadBuffers();
  readonly #reader: ByteReader;
  readonly #input: SessionInput;
  readonly #output: SessionOutput;
  readonly #clock: Clock;
  readonly #open: boolean;
  readonly #keepAlways: boolean;
  #draining: Promise<void> = RESOLVED;
  /** True while the last request's reply is written behind the next read (see `#replyBehind`). */
  #replying = false;
  /** The failure `#logFailure` logged last. */
  #loggedFailure: unknown;
  #openInfo: RequestInfo | undefined;
  #dataInfo: RequestInfo | undefined;
  /** Each node's state on this connection, by node name; made when first used. */
  #slots: Map<string, KeptState> | undefined;
  /** The nodes' words on keeping the connection after the current request (kept for the next). */
  #votes: Map<string, boolean> | undefined;
  /** The current request's cancellation, made when a servlet first asks for its signal. */
  #abort: AbortController | undefined;
  /** Why the peer is gone, once a read or write found it so. */
  #goneBecause: string | undefined;
  #deadline: SessionDeadline | undefined;
  /** Server push: bytes written while a request ran, sent after its reply, and their writers. */
  #pushed: Uint8Array[] = [];
  #pushedBytes = 0;
  #pushWaiters: (() => void)[] = [];
  readonly #pushBuffer: number;
  /** Set when the servlet asked to close while a request ran: closed after its reply. */
  #ending = false;
  #whenClosed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #log: ListenContext["log"] | undefined;

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
    this.#input = new SessionInput(this.#reader, channel);
    this.#output = new SessionOutput(
      channel,
      clock,
      () => this.#gone("the client has gone (a reply could not be written)"),
    );
    this.#errorReply = options.errorReply ?? "";
    this.#pushBuffer = options.pushBuffer ?? DEFAULT_PUSH_BUFFER;
    this.#closeOnError = options.onError === "close";
  }

  /** Who is at the other end (the channel's peer). */
  get peer(): string {
    return this.channel.peer;
  }

  stateOf(node: string): KeptState {
    const slots = this.#slots ??= new Map();
    let slot = slots.get(node);
    if (slot === undefined) {
      slot = new KeptState();
      // Closed already (the ttl closed it while the request ran): nothing to keep a state with.
      if (this.closed) slot.close();
      slots.set(node, slot);
    }
    return slot;
  }

  keepsState(): boolean {
    const slots = this.#slots;
    if (slots === undefined) return false;
    for (const slot of slots.values()) if (slot.value !== undefined) return true;
    return false;
  }

  keepAlive(node: string, keep: boolean): void {
    (this.#votes ??= new Map()).set(node, keep);
  }

  /**
   * The current request's signal, made on first call; while it may abort,
   * the session watches the channel so that a reset is seen mid-request.
   */
  requestSignal(): AbortSignal {
    let abort = this.#abort;
    if (abort === undefined) {
      abort = this.#abort = new AbortController();
      if (this.closed) abort.abort(this.#closedReason());
      else this.#watch();
    }
    return abort.signal;
  }

  /**
   * Keeps a read of the channel under way while a request whose signal was
   * asked for runs: its bytes are held for the next request, and a reset
   * aborts the signal. Stops once a read's worth is held (backpressure).
   */
  #watch(): void {
    const reader = this.#reader;
    if (this.#abort === undefined || this.closed || reader.held >= LARGE_READ_BUFFER) return;
    // A read under way (the rest of a cut line) watches too; after it, watch again.
    reader.prefetch()?.then(() => this.#watch(), () => {});
  }

  /** Why a request's signal aborts when the session is closed. */
  #closedReason(): DOMException {
    const why = this.closedBecause ?? this.#goneBecause ?? "the host stops serving it";
    return abortReason(`the connection closed (${why})`);
  }

  /** The peer is gone: the request's signal aborts. */
  #gone(because: string): void {
    this.#goneBecause ??= because;
    this.#abort?.abort(abortReason(because));
  }

  /** Sets or clears the session's deadline (`DEADLINE`). */
  deadline(deadline: Deadline | null): void {
    if (deadline === null) {
      this.#deadline = undefined;
      return;
    }
    const { seconds, reason, reply } = deadline;
    this.#deadline = {
      at: performance.now() + seconds * 1000,
      reason,
      reply: typeof reply === "string" ? encoder.encode(reply) : reply?.slice(),
    };
  }

  /** The reason of a deadline that has passed by `now` (`performance.now()` ms), if one has. */
  overdue(now: number): string | undefined {
    const deadline = this.#deadline;
    return deadline !== undefined && now >= deadline.at ? deadline.reason : undefined;
  }

  /**
   * Ends the session at its deadline: writes the deadline's reply (bounded
   * in time, and only between requests with nothing left to write), then
   * closes.
   */
  expire(): Promise<void> {
    const deadline = this.#deadline;
    this.#deadline = undefined;
    if (deadline === undefined) return RESOLVED;
    return this.#closeWith(deadline.reason, this.#output.pending ? undefined : deadline.reply);
  }

  /** Writes outside a request go through the session itself: `task.connection.handle()`. */
  get push(): PushLink {
    return this;
  }

  /**
   * Server push: writes `bytes` outside any request, never inside a reply:
   * after the reply of the request under way once it has written, else now;
   * resolves once written or dropped.
   * A client that lets more than `pushBuffer` bytes wait behind a write stuck
   * for a tick of the pool's clock, or more than 4 times it at all, is closed.
   */
  send(bytes: Uint8Array): Promise<void> {
    const output = this.#output;
    if (this.closed || output.gone) return RESOLVED;
    const waiting = this.#pushedBytes + output.backlog + bytes.length;
    // A burst the host has not had a turn to write yet is not a client that does not
    // read: over pushBuffer, drop only behind a write stuck for a tick, or past 4 times it.
    const stuck = output.writing && this.#clock.tick > output.writingSince;
    if (waiting > this.#pushBuffer && (stuck || waiting > 4 * this.#pushBuffer)) {
      this.#log?.log(
        "warn",
        "PLUMB_CONN_PUSH_OVERFLOW",
        `${this.channel.peer}: ${waiting} bytes wait to be written, over the push buffer of ` +
          `${this.#pushBuffer} bytes (pushBuffer); the client does not read, closing`,
        { peer: this.channel.peer },
      );
      this.close("pushBuffer");
      return RESOLVED;
    }
    // Inside a reply never: once the request under way has written, wait for its end.
    // Before it writes, the bytes go out now (a chat's requests often write nothing).
    if (!this.idle && output.written) {
      this.#pushed.push(bytes);
      this.#pushedBytes += bytes.length;
      return new Promise((resolve) => this.#pushWaiters.push(resolve));
    }
    output.push(bytes);
    return output.flush().catch(() => {});
  }

  /** Writes what was pushed while a request ran, after its reply. */
  #sendPushed(): void {
    const output = this.#output;
    for (const bytes of this.#pushed) output.push(bytes);
    const waiters = this.#pushWaiters;
    this.#pushed = [];
    this.#pushedBytes = 0;
    this.#pushWaiters = [];
    const written = output.flush().catch(() => {});
    for (const resolve of waiters) written.then(resolve);
  }

  /** Closes the session once what was pushed and replied before is written. */
  end(): Promise<void> {
    if (this.closed) return RESOLVED;
    if (!this.idle) {
      this.#ending = true;
      return this.whenClosed();
    }
    return this.#output.flush().then(
      () => this.#close("closed by the servlet", true),
      () => this.close("closed by the servlet"),
    );
  }

  /** Resolves when the session has closed. */
  whenClosed(): Promise<void> {
    if (this.closed) return RESOLVED;
    return this.#whenClosed ??= new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  async #pull(): Promise<Uint8Array | null> {
    if (this.closed) return null;
    // A read that only watches the connection during a request is not idle waiting.
    this.reading = !this.#reader.holding;
    this.readingSince = this.#clock.tick;
    try {
      return this.#received(await this.channel.read(this.#buffers.next()));
    } catch (error) {
      return this.#readFailed(error);
    } finally {
      this.reading = false;
    }
  }

  /** The bytes of a read of `n` (`null`: the end) into the buffer `#buffers.next()` gave. */
  #received(n: number | null): Uint8Array | null {
    if (n === null || this.closed) return null;
    this.bytesIn += n;
    return this.#buffers.view(n);
  }

  /** A read failed: the end when the peer is gone, else the error. */
  #readFailed(error: unknown): null {
    if (!isGone(error)) throw error;
    this.#gone(`the client has gone (${(error as Error).message || "connection reset"})`);
    return null;
  }

  /** Waits for the next bytes between requests: idle, so the ttl applies. */
  #fillIdle(): Promise<boolean> {
    const reader = this.#reader;
    if (reader.filling && reader.held === 0) {
      // The watch of the last request is the wait for the next one.
      this.reading = true;
      this.readingSince = this.#clock.tick;
    }
    return reader.fill();
  }

  /**
   * True when the wait for the next request's bytes can be a read of the
   * session's own: nothing buffered or held, no pull or watch under way.
   */
  #canReadIdle(): boolean {
    const reader = this.#reader;
    return reader.buffered === 0 && !reader.filling && reader.held === 0 && !reader.ended &&
      !this.closed;
  }

  /**
   * Runs one request; resolves whether to keep the connection. An answer
   * known at once (line and value steps) gives its word at once, not as a
   * promise: the usual keep-alive request costs no promise of the session's.
   */
  #request(context: ListenContext, event: RequestEvent): boolean | Promise<boolean> {
    const output = this.#output;
    this.idle = false;
    this.requests++;
    this.requestSince = this.#clock.tick;
    output.reset();
    if (this.#votes !== undefined && this.#votes.size > 0) this.#votes.clear();
    this.#abort = undefined;
    this.#input.empty = event === "open";
    const answer = context.handle(
      this.#input,
      output,
      event === "open"
        ? this.#openInfo ??= new SessionRequestInfo(this, "open")
        : this.#dataInfo ??= new SessionRequestInfo(this, "data"),
    );
    // An answer known at once (line and value steps) is not waited for.
    if (answer === ANSWERED_OK) return this.#answered(context, true);
    if (answer === ANSWERED_FAILED) return this.#answered(context, false);
    return answer.then((ok) => this.#answered(context, ok));
  }

  /** The request's nodes are done (`ok`: it succeeded): its error reply, if it needs one. */
  #answered(context: ListenContext, ok: boolean): boolean | Promise<boolean> {
    this.#abort = undefined; // the request is over: nothing more aborts its signal
    this.#reader.endReaders(); // a read the request left waiting must not take the next one's bytes
    const output = this.#output;
    if (!ok && !output.written && !this.closed && this.#errorReply !== "") {
      const reason = this.#reader.overflowed
        ? `line longer than ${this.#reader.maxLineBytes} bytes`
        : "request failed";
      const written = output.write(this.#errorBytes(reason));
      if (written !== RESOLVED) return written.then(() => this.#over(context, ok));
    }
    return this.#over(context, ok);
  }

  /** The request is over: its reply is written (or on its way), and the connection kept or not. */
  #over(context: ListenContext, ok: boolean): boolean {
    const output = this.#output;
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
      } else this.#replyBehind();
    }
    if (this.#pushedBytes > 0) this.#sendPushed();
    this.idle = true;
    if (this.#ending) return false;
    // A file goes on after a failed line: that request failed, not the batch.
    if (this.#keepAlways) return !output.gone;
    if (output.gone || this.#goneBecause !== undefined) return false;
    // A failure fails its request only, unless the listener says to close (or the
    // line was too long to find where the next request starts).
    const keep = (ok || !(this.#closeOnError || this.#reader.overflowed)) && this.#keep(output);
    this.closedOnFailure = !ok && !keep;
    return keep;
  }

  /**
   * Writes the request's reply without waiting for the write to end: the
   * next read starts at once, and the next request runs only once the reply
   * is out (`#serve` waits for it), so one reply is in flight at a time, as
   * if it were awaited here. A write takes one system call, but its end comes
   * back an event-loop turn later: the connection's next read need not wait
   * for that turn. A write that fails with the peer still there closes the
   * session; `#serve` reports it.
   */
  #replyBehind(): void {
    this.#replying = true;
    this.#output.flushBehind(this.#replied);
  }

  /** The reply written behind is out (or failed, `error` saying why, with the peer still there). */
  readonly #replied = (error?: unknown): void => {
    this.#replying = false;
    if (error !== undefined) {
      if (this.#log !== undefined) this.#logFailure(this.#log, error);
      this.close();
      return;
    }
    // The wait for the next request starts now: the ttl counts from here.
    if (this.reading) this.readingSince = this.#clock.tick;
  };

  /**
   * Logs that the connection failed, once per error: a write behind that
   * failed is told to `#replied`, and may reach `#serve` too (through a flush
   * chained behind it).
   */
  #logFailure(log: ListenContext["log"], error: unknown): void {
    if (error === this.#loggedFailure) return;
    this.#loggedFailure = error;
    log.log(
      "warn",
      "PLUMB_CONN_FAILED",
      `${this.channel.peer}: connection failed: ${(error as Error)?.message ?? error}`,
      { peer: this.channel.peer },
    );
  }

  /**
   * Settles once the reply written behind is out: the output's flush, which
   * the write ends. A failure was told to `#replied`, which logged it; when
   * it also rejects here (a flush chained behind an earlier one), `#logFailure`
   * does not log it twice.
   */
  #replyOut(): Promise<void> {
    return this.#output.flush();
  }

  /** True while the last request's reply is written behind the next read. */
  get replying(): boolean {
    return this.#replying;
  }

  /**
   * Closes the session once its replies are out (now if none is being
   * written): the one written behind the next read, and an ASYNC one its
   * request left being written (on host stop, as a request in flight would).
   */
  closeAfterReply(): void {
    if (!this.#replying && this.#draining === RESOLVED) this.close();
    else {
      const replying = this.#replying ? this.#replyOut() : RESOLVED;
      Promise.allSettled([replying, this.#draining]).then(() => this.close());
    }
  }

  /** Whether to keep the connection after a request: the nodes' words, else `PERSIST`. */
  #keep(output: SessionOutput): boolean {
    const votes = this.#votes;
    if (votes === undefined || votes.size === 0) return (output.flags & PERSIST) !== 0;
    for (const keep of votes.values()) if (!keep) return false;
    return true;
  }

  /**
   * Serves requests until the peer goes, `PERSIST` is off, or `closing()` says
   * to stop; then tells `ended`, a microtask after the session closed. So
   * when the session is closed from outside (a time limit) `ended` is told
   * at once, even while a servlet never resolves. A field, not a promise: an
   * idle connection holds nothing more.
   */
  serve(
    context: ListenContext,
    closing: () => boolean,
    ended: (session: Session) => void,
  ): void {
    this.#ended = ended;
    this.#log = context.log;
    this.#serve(context, closing);
  }

  async #serve(context: ListenContext, closing: () => boolean): Promise<void> {
    const reader = this.#reader;
    /** The last request said to close: close after its reply without cutting it. */
    let linger = false;
    try {
      let go = !this.#open || await this.#request(context, "open");
      linger = !go;
      while (go) {
        if (this.#canReadIdle()) {
          // The hot path of a keep-alive connection: the session reads the next
          // request's bytes itself, without a pull of the reader's (one await deep).
          this.reading = true;
          this.readingSince = this.#clock.tick;
          let chunk: Uint8Array | null;
          try {
            chunk = this.#received(await this.channel.read(this.#buffers.next()));
          } catch (error) {
            chunk = this.#readFailed(error);
          } finally {
            this.reading = false;
          }
          if (!reader.supply(chunk)) break;
        } else if (reader.buffered === 0 && !(await this.#fillIdle())) break;
        // The last reply is out before anything else happens on the connection.
        if (this.#replying) {
          await this.#replyOut();
          // A reply that could not be written (the peer is gone) ends the session, as
          // when it was awaited in `#over`: a request pipelined behind it is not run.
          if (this.closed || this.#output.gone) break;
        }
        if (closing()) break;
        const overdue = this.#deadline === undefined ? undefined : this.overdue(performance.now());
        if (overdue !== undefined) {
          // Bytes came, but after the deadline: the request they go on is not run.
          context.log.log("warn", "PLUMB_DEADLINE", `${this.channel.peer}: ${overdue}, closing`);
          await this.expire();
          break;
        }
        const consumed = reader.consumed;
        const kept = this.#request(context, "data");
        if (!(kept === true || (kept !== false && await kept))) {
          linger = true;
          break;
        }
        if (closing()) break;
        // A request that read nothing leaves the same bytes: wait for new ones
        // rather than run it again on them at once.
        if (reader.consumed === consumed && !(await this.#fillIdle())) break;
        go = reader.buffered > 0 || reader.held > 0 || !reader.ended;
      }
      await this.#draining; // what ASYNC requests left to write is written before closing
      await this.#output.flush();
      // Not when the client has gone or ended its side (nothing more can come), nor when
      // nothing was written, nor when the host stops.
      if (
        linger && this.bytesOut > 0 && !this.#output.gone && this.#goneBecause === undefined &&
        !reader.ended && !closing()
      ) this.#close(undefined, true);
    } catch (error) {
      this.#logFailure(context.log, error);
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
    const silent = this.#errorReply === "" || this.#output.written || this.#output.pending;
    this.#closeWith(reason, silent ? undefined : this.#errorBytes(reason));
  }

  /**
   * Closes for `reason`, after writing `reply` (if any: the pool closes the
   * session if it is not written in time, see {@linkcode closingSince}); a
   * reply written, the close lingers (see {@linkcode ByteChannel.linger}).
   */
  #closeWith(reason: string, reply: Uint8Array | undefined): Promise<void> {
    if (this.closed) return RESOLVED;
    this.closedBecause = reason;
    this.#abort?.abort(abortReason(reason, "TimeoutError"));
    if (reply === undefined) {
      this.close();
      return RESOLVED;
    }
    this.closingSince = this.#clock.tick;
    return writeAll(this.channel, reply).then(
      () => this.#close(undefined, true),
      () => this.close(),
    );
  }

  /** Closes the channel and disposes of the session state; `because` says why, for the log. */
  close(because?: string): void {
    this.#close(because, false);
  }

  /**
   * Closes as {@linkcode close}; with `linger`, after the host's last reply:
   * the channel is closed without cutting that reply (a lingering close).
   */
  #close(because: string | undefined, linger: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBecause ??= because;
    this.#abort?.abort(this.#closedReason());
    if (this.#slots !== undefined) { for (const slot of this.#slots.values()) slot.close(); }
    this.#resolveClosed?.();
    for (const resolve of this.#pushWaiters) resolve();
    this.#pushWaiters = [];
    if (linger) {
      this.lingering = lingerOrClose(this.channel);
    } else {
      try {
        this.channel.close();
      } catch {
        // Already closed by the peer or the sweeper.
      }
    }
    const ended = this.#ended;
    this.#ended = undefined;
    if (ended !== undefined) queueMicrotask(() => ended(this));
  }
}
