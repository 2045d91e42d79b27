/**
 * Values on pipes: what `task.writeValue` puts on a pipe and `task.readValue`
 * takes off it. Between two servlets on an in-memory pipe a value is handed
 * over as the object itself (no copy, no encoding), as Plumber hands a
 * request-local object over by its token. Wherever a pipe carries bytes (a
 * connection, a file, a servlet that reads bytes) a value travels as one line
 * of JSON, in which a `Uint8Array` is `{"$bytes": "<base64>"}`; this module is
 * that encoding.
 * @module
 */
import { PipeError } from "./errors.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "./pipe.ts";

const encoder = new TextEncoder();

/** The key of an encoded `Uint8Array`. */
const BYTES_KEY = "$bytes";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { [BYTES_KEY]: toBase64(value) };
  if (value instanceof ReadableStream || typeof value === "function") {
    throw new PipeError(
      "PLUMB_VALUE_NOT_JSON",
      "a value holding a stream or a function cannot be written as JSON; connect the port to a " +
        "servlet that reads values (task.readValue) over an in-memory pipe",
    );
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (
    typeof value === "object" && value !== null && !Array.isArray(value) &&
    typeof (value as Record<string, unknown>)[BYTES_KEY] === "string" &&
    Object.keys(value).length === 1
  ) {
    return fromBase64((value as Record<string, string>)[BYTES_KEY]);
  }
  return value;
}

/**
 * A value as one line of JSON, `\n` included.
 *
 * @example
 * ```ts
 * import { encodeValue } from "./value_codec.ts";
 *
 * console.log(encodeValue({ body: new Uint8Array([104, 105]) })); // {"body":{"$bytes":"aGk="}}\n
 * ```
 */
export function encodeValue(value: unknown): string {
  const json = JSON.stringify(value, replacer);
  if (json === undefined) {
    throw new PipeError(
      "PLUMB_VALUE_TYPE",
      `a value of type ${typeof value} cannot be written as JSON`,
    );
  }
  return `${json}\n`;
}

/**
 * The value of one line of JSON, as {@linkcode encodeValue} wrote it.
 * @throws {SyntaxError} when the line is not JSON
 */
export function decodeValue(line: string): unknown {
  return JSON.parse(line, reviver);
}

/**
 * A value queued on an in-memory pipe. Its `length` is what it counts
 * against the pipe's bound, as a chunk of that many bytes would.
 */
export class QueuedValue {
  /** What a queued value counts against the pipe's bound, in bytes. */
  static readonly SIZE = 256;
  /** The value itself. */
  readonly value: unknown;
  /**
   * Queues a value.
   * @param value the value written
   */
  constructor(value: unknown) {
    this.value = value;
  }
  /** What the value counts against the pipe's bound. */
  get length(): number {
    return QueuedValue.SIZE;
  }
  /** The value as a line of JSON, for a reader that wants text or bytes. */
  text(): string {
    return encodeValue(this.value);
  }
}

/**
 * Writes a value to any output handle: as the object to one that takes
 * values, else as a line of JSON.
 */
export function writeValueTo(handle: OutputHandle, value: unknown): Promise<void> {
  if (handle.writeValue) return handle.writeValue(value);
  const text = encodeValue(value);
  return handle.writeText ? handle.writeText(text) : handle.write(encoder.encode(text));
}

/** Writes text to any output handle: as text to one that keeps it, else as UTF-8. */
export function writeTextTo(handle: OutputHandle, text: string): Promise<void> {
  return handle.writeText ? handle.writeText(text) : handle.write(encoder.encode(text));
}

/**
 * Copies the rest of an input to an output as it was written: values stay
 * objects and text stays text where both handles can carry them. Resolves
 * true when anything was copied.
 */
export async function forwardAll(input: InputHandle, output: OutputHandle): Promise<boolean> {
  // The usual forward, one chunk then the end, runs no loop: when a short-lived
  // async function's loop goes round, V8 keeps much more of each request alive
  // through a young-generation collection (pauses of tens of milliseconds under
  // 256 connections, measured). More chunks go on in a loop of its own.
  const first = await nextChunk(input);
  if (first === null) return false;
  const written = writeChunk(output, first);
  // A write the pipe took at once is not waited for: a tick less per chunk.
  if (written !== RESOLVED) await written;
  const second = await nextChunk(input);
  if (second !== null) await forwardRest(input, output, second);
  return true;
}

/** The next chunk of `input` as it was written (bytes when it cannot say). */
export function nextChunk(input: InputHandle): Promise<Uint8Array | string | QueuedValue | null> {
  return input.readChunk ? input.readChunk() : input.read();
}

/** Writes a chunk as it was read: bytes, text or a value. */
function writeChunk(output: OutputHandle, chunk: Uint8Array | string | QueuedValue): Promise<void> {
  return chunk instanceof Uint8Array
    ? output.write(chunk)
    : typeof chunk === "string"
    ? writeTextTo(output, chunk)
    : writeValueTo(output, chunk.value);
}

/** `forwardAll` from its second chunk on. */
async function forwardRest(
  input: InputHandle,
  output: OutputHandle,
  second: Uint8Array | string | QueuedValue,
): Promise<void> {
  for (let chunk: typeof second | null = second; chunk !== null; chunk = await nextChunk(input)) {
    const written = writeChunk(output, chunk);
    if (written !== RESOLVED) await written;
  }
}
