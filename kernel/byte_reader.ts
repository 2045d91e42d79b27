/**
 * A buffered byte reader with UTF-8-safe line splitting, shared by every pipe
 * kind (connections and in-memory pipes).
 * @module
 */
import { MessageTooLongError } from "./errors.ts";

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
 * Reads chunks and lines from a pull source. A line ends at `\n` or `\r\n`;
 * it is decoded only once complete, so a character split across chunks is
 * decoded whole. Invalid UTF-8 becomes U+FFFD, never an error.
 */
export class ByteReader {
  #pending: Uint8Array = EMPTY;
  #ended = false;
  readonly #pull: PullChunk;
  readonly #volatile: boolean;
  /** Longest line accepted, in bytes. */
  readonly maxLineBytes: number;

  /**
   * @param pull returns the next chunk, or `null` at the end of the source
   * @param options limits and memory ownership
   */
  constructor(pull: PullChunk, options: ByteReaderOptions = {}) {
    this.#pull = pull;
    this.#volatile = options.volatile ?? false;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Bytes read from the source and not yet consumed. */
  get buffered(): number {
    return this.#pending.length;
  }

  /** True once the source has reported its end. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Pulls one chunk into the buffer; false at the end of the source. */
  async fill(): Promise<boolean> {
    if (this.#ended) return false;
    if (this.#volatile && this.#pending.length > 0) this.#pending = this.#pending.slice();
    const chunk = await this.#pull();
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
    return this.#volatile ? p.slice() : p;
  }

  /** The next chunk: what is buffered, else one pulled from the source; `null` at the end. */
  async read(): Promise<Uint8Array | null> {
    if (this.#pending.length === 0 && !(await this.fill())) return null;
    return this.takeBuffered();
  }

  /** True when no byte is buffered and the source has ended. Pulls to find out. */
  async eof(): Promise<boolean> {
    return this.#pending.length === 0 && !(await this.fill());
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

  /** A complete line from the buffer (searching from `from`), or undefined when there is none yet. */
  #bufferedLine(from: number): string | undefined {
    const p = this.#pending;
    const nl = p.indexOf(LF, from);
    if (nl < 0) {
      if (p.length > this.maxLineBytes) throw new MessageTooLongError(this.maxLineBytes);
      return undefined;
    }
    const end = nl > 0 && p[nl - 1] === CR ? nl - 1 : nl;
    if (end > this.maxLineBytes) throw new MessageTooLongError(this.maxLineBytes);
    this.#pending = nl + 1 === p.length ? EMPTY : p.subarray(nl + 1);
    return decoder.decode(p.subarray(0, end));
  }

  async #readLineSlow(): Promise<string | null> {
    for (;;) {
      const from = this.#pending.length;
      if (!(await this.fill())) {
        const p = this.#pending;
        if (p.length === 0) return null;
        this.#pending = EMPTY;
        return decoder.decode(p);
      }
      const line = this.#bufferedLine(from);
      if (line !== undefined) return line;
    }
  }

  /** Puts bytes back in front of the buffer, to be read first. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pending = this.#pending.length === 0 ? bytes : concatBytes(bytes, this.#pending);
  }
}
