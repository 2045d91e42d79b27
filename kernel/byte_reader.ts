/**
 * A buffered byte reader with UTF-8-safe line splitting, shared by every pipe
 * kind (connections and in-memory pipes).
 * @module
 */
import { MessageTooLongError, PipeError } from "./errors.ts";

const EMPTY = new Uint8Array(0);
const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder();

/** Pulls the next chunk from a source, or `null` at its end. */
export type PullChunk = () => Promise<Uint8Array | null>;

/** Options of a {@linkcode ByteReader}. */
export interface ByteReaderOptions {
  /** Longest line `readLine` accepts, in bytes without its end of line. Default 65536. */
  maxLineBytes?: number;
  /**
   * The source reuses the memory of the chunks it returns on its next pull
   * (a read buffer). The reader then copies what it keeps or hands out.
   * Default false.
   */
  volatile?: boolean;
}

/** Default limit of a line, in bytes. */
export const DEFAULT_MAX_LINE_BYTES = 65536;

/** Joins two byte arrays into a new one. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Lines of at most this many bytes are decoded in JavaScript when they are
 * ASCII: a call into the decoder costs more than the loop (and longer
 * strings would be built in pieces).
 */
const SHORT_LINE = 12;

/**
 * The first `end` bytes of `bytes` as text when they are ASCII and hold no
 * line feed, built in one pass (`Uint8Array.indexOf` alone costs more than
 * the loop): `null` at a line feed, `undefined` at a byte beyond ASCII (the
 * caller decodes). For short text only (see {@linkcode SHORT_LINE}).
 */
function shortAscii(bytes: Uint8Array, end: number): string | null | undefined {
  let text = "";
  for (let i = 0; i < end; i++) {
    const byte = bytes[i];
    if (byte === LF) return null;
    if (byte >= 0x80) return undefined;
    text += String.fromCharCode(byte);
  }
  return text;
}

/** The first `end` bytes of `bytes` (no line feed among them) as text (UTF-8). */
function decodeLine(bytes: Uint8Array, end: number): string {
  const text = end <= SHORT_LINE ? shortAscii(bytes, end) : undefined;
  return typeof text === "string" ? text : decoder.decode(bytes.subarray(0, end));
}

const exactDecoder = new TextDecoder("utf-8", { fatal: true });

/** `bytes` as text, or `undefined` when they are not valid UTF-8 (decoding would change them). */
function decodeExactly(bytes: Uint8Array): string | undefined {
  // A byte order mark: readLine's decoder drops it where forwarding keeps it.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return undefined;
  try {
    return exactDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Reads chunks and lines from a pull source. A line ends at `\n` or `\r\n`;
 * it is decoded only once complete, so a character split across chunks is
 * decoded whole. Invalid UTF-8 becomes U+FFFD, never an error.
 */
export class ByteReader {
  #pending: Uint8Array = EMPTY;
  /** Bytes pulled by {@linkcode ByteReader.prefetch}, held back from the readers (copies). */
  #held: Uint8Array = EMPTY;
  /** The pull under way was started by `prefetch` and its chunk is to be held. */
  #hold = false;
  #ended = false;
  #filling: Promise<boolean> | null = null;
  #generation = 0;
  #consumed = 0;
  readonly #pull: PullChunk;
  readonly #volatile: boolean;
  /** Longest line accepted, in bytes. */
  readonly maxLineBytes: number;
  /** True once a line longer than `maxLineBytes` was refused. */
  overflowed = false;

  /**
   * @param pull returns the next chunk, or `null` at the end of the source
   * @param options limits and memory ownership
   */
  constructor(pull: PullChunk, options: ByteReaderOptions = {}) {
    this.#pull = pull;
    this.#volatile = options.volatile ?? false;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** True while a pull from the source is under way. */
  get filling(): boolean {
    return this.#filling !== null;
  }

  /** Bytes read from the source and not yet consumed. */
  get buffered(): number {
    return this.#pending.length;
  }

  /**
   * Bytes a {@linkcode ByteReader.prefetch} pulled and the readers do not see
   * yet: the next `fill` hands them over first.
   */
  get held(): number {
    return this.#held.length;
  }

  /** True while the pull under way was started by `prefetch` and its chunk will be held. */
  get holding(): boolean {
    return this.#hold;
  }

  /** True once the source has reported its end. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes handed out so far (by `read`, `takeBuffered` and `readLine`), less those put back. */
  get consumed(): number {
    return this.#consumed;
  }

  /**
   * Ends the current readers: a `read`, `readLine` or `eof` still waiting for
   * the source fails with a {@linkcode PipeError} once it wakes, and takes no
   * bytes. A module calls this when a request ends, so that a read left
   * behind by a finished task cannot take the next request's bytes.
   */
  endReaders(): void {
    this.#generation++;
  }

  #check(generation: number): void {
    if (generation !== this.#generation) {
      throw new PipeError(
        "PLUMB_PIPE_READ_PENDING",
        "a read was still waiting when its task ended; await every read in exec",
      );
    }
  }

  /**
   * Pulls one chunk into the buffer; false at the end of the source. A call
   * while a pull is under way shares it, so the source is never read twice at once.
   */
  fill(): Promise<boolean> {
    if (this.#held.length > 0) {
      // What a prefetch pulled comes first, and at once.
      const held = this.#held;
      this.#held = EMPTY;
      this.#pending = this.#pending.length === 0 ? held : concatBytes(this.#pending, held);
      return Promise.resolve(true);
    }
    // A prefetch under way now pulls for the readers.
    this.#hold = false;
    return this.#filling ??= this.#fill();
  }

  /**
   * Starts pulling the next chunk without handing it to the readers: it is
   * held until the next `fill`. A module uses it to watch a connection while
   * a request runs (to learn that the peer has gone) without giving the
   * request bytes that arrived after it started. While a pull is under way
   * it starts none and returns that one, unchanged.
   * @returns the pull, resolving false at the end of the source; `undefined` once it has ended
   */
  prefetch(): Promise<boolean> | undefined {
    if (this.#filling !== null) return this.#filling;
    if (this.#ended) return undefined;
    this.#hold = true;
    return this.#filling = this.#fill();
  }

  async #fill(): Promise<boolean> {
    try {
      if (this.#ended) return false;
      if (this.#volatile && this.#pending.length > 0) this.#pending = this.#pending.slice();
      const chunk = await this.#pull();
      if (chunk === null) {
        this.#ended = true;
        return false;
      }
      if (this.#hold) {
        const kept = this.#volatile ? chunk.slice() : chunk;
        this.#held = this.#held.length === 0 ? kept : concatBytes(this.#held, kept);
      } else {
        this.#pending = this.#pending.length === 0 ? chunk : concatBytes(this.#pending, chunk);
      }
      return true;
    } finally {
      this.#filling = null;
      this.#hold = false;
    }
  }

  /**
   * Takes a chunk that the reader's owner read from the source itself, as if
   * pulled (`null`: the source has ended); false at the end. For an owner
   * that waits for a source's next bytes without a pull of the reader's own:
   * only while no pull is under way and nothing is held. The owner may reuse
   * the chunk's memory only once nothing is buffered (a volatile source).
   */
  supply(chunk: Uint8Array | null): boolean {
    if (chunk === null) {
      this.#ended = true;
      return false;
    }
    this.#pending = this.#pending.length === 0 ? chunk : concatBytes(this.#pending, chunk);
    return true;
  }

  /** Takes what is buffered without pulling; `null` when nothing is. */
  takeBuffered(): Uint8Array | null {
    const p = this.#pending;
    if (p.length === 0) return null;
    this.#pending = EMPTY;
    this.#consumed += p.length;
    return this.#volatile ? p.slice() : p;
  }

  /**
   * What is buffered, without taking it; `undefined` when nothing is. A
   * view, never a copy: for a volatile source it is valid only until the
   * next pull, so the caller copies what it keeps.
   */
  peekBuffered(): Uint8Array | undefined {
    const p = this.#pending;
    return p.length === 0 ? undefined : p;
  }

  /** Takes what is buffered, unread: what a {@linkcode ByteReader.peekBuffered} showed. */
  dropBuffered(): void {
    this.#consumed += this.#pending.length;
    this.#pending = EMPTY;
  }

  /** The next chunk: what is buffered, else one pulled from the source; `null` at the end. */
  read(): Promise<Uint8Array | null> {
    if (this.#pending.length > 0) return Promise.resolve(this.takeBuffered());
    return this.#readSlow();
  }

  async #readSlow(): Promise<Uint8Array | null> {
    const generation = this.#generation;
    const more = await this.fill();
    this.#check(generation);
    return more ? this.takeBuffered() : null;
  }

  /** True when no byte is buffered and the source has ended. Pulls to find out. */
  async eof(): Promise<boolean> {
    if (this.#pending.length > 0) return false;
    const generation = this.#generation;
    const more = await this.fill();
    this.#check(generation);
    return !more;
  }

  /**
   * The next line without its `\n` or `\r\n`; the last line of a source may
   * lack an end of line. `null` at the end of the source.
   * @throws {MessageTooLongError} when a line is longer than `maxLineBytes`
   */
  readLine(): Promise<string | null> {
    try {
      const line = this.#bufferedLine(0);
      if (line !== undefined) return Promise.resolve(line);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#readLineSlow();
  }

  /**
   * What is buffered, when it is exactly one line (its only `\n` is its last
   * byte) of valid UTF-8 within `maxLineBytes`: taken, and returned as text
   * with its end; otherwise `undefined`, and nothing is taken.
   */
  takeWholeLine(): string | undefined {
    const p = this.#pending;
    const last = p.length - 1;
    if (last < 0 || p[last] !== LF) return undefined;
    const end = last > 0 && p[last - 1] === CR ? last - 1 : last;
    if (end > this.maxLineBytes) return undefined;
    // A short ASCII line is checked for an earlier line feed as it is decoded.
    const ascii = last < SHORT_LINE ? shortAscii(p, last) : undefined;
    if (ascii === null) return undefined; // a line feed before the last byte
    let text: string | undefined;
    if (ascii !== undefined) text = ascii + "\n";
    else {
      if (p.indexOf(LF) !== last) return undefined;
      text = decodeExactly(p);
      if (text === undefined) return undefined;
    }
    this.#pending = EMPTY;
    this.#consumed += p.length;
    return text;
  }

  /** A complete line from the buffer (searching from `from`), or undefined when there is none yet. */
  #bufferedLine(from: number): string | undefined {
    const p = this.#pending;
    const nl = p.indexOf(LF, from);
    if (nl < 0) {
      // A \r last may be the first half of the line's \r\n: it does not count yet.
      const length = p.length > 0 && p[p.length - 1] === CR ? p.length - 1 : p.length;
      if (length > this.maxLineBytes) throw this.#tooLong();
      return undefined;
    }
    const end = nl > 0 && p[nl - 1] === CR ? nl - 1 : nl;
    if (end > this.maxLineBytes) throw this.#tooLong();
    this.#pending = nl + 1 === p.length ? EMPTY : p.subarray(nl + 1);
    this.#consumed += nl + 1;
    return decodeLine(p, end);
  }

  #tooLong(): MessageTooLongError {
    this.overflowed = true;
    return new MessageTooLongError(this.maxLineBytes);
  }

  async #readLineSlow(): Promise<string | null> {
    const generation = this.#generation;
    for (;;) {
      const from = this.#pending.length;
      const more = await this.fill();
      this.#check(generation);
      if (!more) {
        const p = this.#pending;
        if (p.length === 0) return null;
        if (p.length > this.maxLineBytes) throw this.#tooLong(); // a last line without \n, \r and all
        this.#pending = EMPTY;
        this.#consumed += p.length;
        return decoder.decode(p);
      }
      const line = this.#bufferedLine(from);
      if (line !== undefined) return line;
    }
  }

  /** Puts bytes back in front of the buffer, to be read first. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#consumed -= bytes.length;
    this.#pending = this.#pending.length === 0 ? bytes : concatBytes(bytes, this.#pending);
  }
}
