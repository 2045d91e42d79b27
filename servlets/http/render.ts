/**
 * `http/render`: turns an {@linkcode HttpResponse} into HTTP/1.1 bytes on the
 * connection: the status line, the handler's header fields, `date`, the body
 * framed by `content-length` (a body given whole, or a streamed one whose
 * `length` is known) or chunked (a streamed one of unknown length), and
 * `connection` from the `PERSIST` flag on the connection when the parser has
 * ended: `close` when it is off (HTTP/1.1), `keep-alive` when it is on
 * (HTTP/1.0).
 *
 * When no response comes (the router found no route to a handler) it answers
 * 404; when the handler failed, 500 and the connection is closed. A request
 * the parser could not read is answered with the parser's error reply.
 * `HEAD` gets the header fields of the body it would get, without the body.
 * A reply with a text body made twice in a row is kept as bytes, and written
 * from them while it stays the same (by the step, the usual path).
 *
 * Ports: `head` (input, `http/head`, from `http/parser`), `in` (input,
 * `http/response`), `out` (output, `bytes`: the connection).
 *
 * @example
 * ```json
 * { "servlet": "http/render" }
 * ```
 * @module
 */
import { defineServlet, PlumbError } from "../../mod.ts";
import {
  HTTP_HEAD,
  HTTP_RESPONSE,
  type HttpHead,
  type HttpResponse,
  STATUS_TEXT,
  textResponse,
} from "./types.ts";

/** The UTF-8 length of a string, without encoding it. */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a pair: 4 bytes for 2 units
        i++;
      } else n += 2;
    } else n += 2; // 3 bytes (a lone surrogate is encoded as U+FFFD, 3 bytes too)
  }
  return n;
}
/** What a response without a parser is rendered as: HTTP/1.1, keep-alive by the flag. */
const DEFAULT_HEAD: HttpHead = { method: "GET", version: "1.1" };

/** The interim response to `Expect: 100-continue`. */
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";
/** Header fields the renderer writes itself. */
const OWN_FIELDS = new Set(["content-length", "transfer-encoding", "connection", "date"]);

let dateSecond = -1;
let dateText = "";
/**
 * True while the clock was read in this turn of the event loop: the replies
 * of one turn (a batch of reads) share one reading, and the next turn reads
 * it again. Reading the clock (`Date.now()`) costs 50 ns in Deno.
 */
let dateRead = false;
/**
 * The status line and `date` field of each status with its standard reason,
 * made at most once a second: what most responses start with.
 */
let statusLines: string[] = [];

/** The clock is to be read again: queued as a microtask, run once the turn's work is done. */
function dateStale(): void {
  dateRead = false;
}

/** The `date` field value, made once a second (and the status lines with it). */
function httpDate(): string {
  if (dateRead) return dateText;
  dateRead = true;
  queueMicrotask(dateStale);
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
    statusLines = [];
  }
  return dateText;
}

/** A header field as the renderer last wrote it: its value, and its line (checked). */
interface FieldLine {
  value: string;
  /** `name: value` and CRLF; empty for a field the renderer writes itself. */
  line: string;
}

/**
 * The last line written of each field name (most responses repeat the same
 * fields with the same values): a name and value seen before are not checked
 * again. At most {@linkcode MAX_FIELD_LINES} names are kept, each with a value
 * of at most {@linkcode MAX_FIELD_VALUE} units.
 */
const fieldLines = new Map<string, FieldLine>();
const MAX_FIELD_LINES = 256;
const MAX_FIELD_VALUE = 256;

/** True when the text holds a CR or an LF. */
function hasLineBreak(text: string): boolean {
  return text.includes("\n") || text.includes("\r");
}

/**
 * A head's lines as {@linkcode headLines} leaves them: the status line (with
 * `date`), then each field's line, the same strings from one response to the
 * next while they are the same (they are kept above).
 */
const lines: string[] = [];

/**
 * Puts the status line and the handler's fields, checked for line breaks
 * (response splitting), in {@linkcode lines}; returns how many.
 */
function headLines(response: HttpResponse): number {
  const status = response.status;
  const date = httpDate();
  let text: string;
  if (
    response.reason === undefined && typeof status === "number" &&
    statusLines[status] !== undefined
  ) {
    text = statusLines[status];
  } else {
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw new PlumbError(
        "PLUMB_HTTP_RENDER_STATUS",
        `http/render: status ${status} is not a 3-digit status code`,
      );
    }
    const reason = response.reason ?? STATUS_TEXT[status] ?? "Unknown";
    if (response.reason !== undefined && hasLineBreak(reason)) {
      throw new PlumbError(
        "PLUMB_HTTP_RENDER_REASON",
        `http/render: the reason phrase of status ${status} holds a line break`,
      );
    }
    text = `HTTP/1.1 ${status} ${reason}\r\ndate: ${date}\r\n`;
    if (response.reason === undefined) statusLines[status] = text;
  }
  lines[0] = text;
  let count = 1;
  const headers = response.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = String(headers[name]);
      let seen = fieldLines.get(name);
      if (seen === undefined || seen.value !== value) {
        const own = OWN_FIELDS.has(name.toLowerCase());
        if (!own && (hasLineBreak(name) || hasLineBreak(value))) {
          throw new PlumbError(
            "PLUMB_HTTP_RENDER_HEADER",
            `http/render: header "${name.trim()}" holds a line break`,
          );
        }
        seen = { value, line: own ? "" : `${name}: ${value}\r\n` };
        if (
          value.length <= MAX_FIELD_VALUE &&
          (fieldLines.size < MAX_FIELD_LINES || fieldLines.has(name))
        ) fieldLines.set(name, seen);
      }
      lines[count++] = seen.line;
    }
  }
  return count;
}

/** The first `count` of {@linkcode lines}, joined. */
function joinLines(count: number): string {
  let text = lines[0];
  for (let i = 1; i < count; i++) text += lines[i];
  return text;
}

/** The status line and the handler's fields, checked for line breaks (response splitting). */
function headText(response: HttpResponse): string {
  return joinLines(headLines(response));
}

/**
 * A response as the bytes of a reply that ends its connection: status line,
 * fields, `date`, `content-length` and `connection: close`, then its body (a
 * string, or nothing). For a reply written without `http/render`, such as
 * the 408 that `http/parser` leaves with a connection's deadline.
 *
 * @example
 * ```ts
 * import { closingReply } from "./render.ts";
 * import { textResponse } from "./types.ts";
 * import { assertMatch } from "@std/assert";
 *
 * const reply = closingReply(textResponse(408, "too slow"));
 * assertMatch(reply, /^HTTP\/1.1 408 Request Timeout\r\n/);
 * assertMatch(reply, /connection: close\r\n\r\n408 Request Timeout: too slow\n$/);
 * ```
 */
export function closingReply(response: HttpResponse): string {
  const body = typeof response.body === "string" ? response.body : "";
  return `${headText(response)}content-length: ${
    utf8Length(body)
  }\r\nconnection: close\r\n\r\n${body}`;
}

/** The longest reply a render node keeps as bytes, in UTF-16 units. */
const MAX_KEPT_REPLY = 16384;

const encoder = new TextEncoder();

/**
 * The last reply with a text body that a render node made, and its bytes once
 * it made the same reply twice in a row: the same status line and `date`
 * (made once a second), the same fields, framing and text. A node that keeps
 * answering the same (a health check, a fixed JSON answer) writes those bytes
 * again, without making and encoding the head each time; a node whose replies
 * differ keeps only the last one's parts. The bytes are never changed once
 * made: they may be written to several connections at once. Only the step
 * writes them: the kernel hands a step's bytes to a node behind it as a copy
 * (a node may change the bytes it reads), where exec's go on as they are.
 */
class LastReply {
  readonly #lines: string[] = [];
  /** The framing's choices: see {@linkcode shapeOf}. */
  #shape = -1;
  #text = "";
  #bytes: Uint8Array | undefined;

  /** True when the reply of these parts ({@linkcode lines}, `shape`, `text`) is the last one. */
  #same(count: number, shape: number, text: string): boolean {
    const kept = this.#lines;
    if (shape !== this.#shape || count !== kept.length || text !== this.#text) return false;
    for (let i = 0; i < count; i++) if (lines[i] !== kept[i]) return false;
    return true;
  }

  /** The bytes of the reply of these parts, when it is the last one and they were made. */
  match(count: number, shape: number, text: string): Uint8Array | undefined {
    const bytes = this.#bytes;
    return bytes !== undefined && this.#same(count, shape, text) ? bytes : undefined;
  }

  /**
   * A reply made anew, whole (`reply`): its bytes when it is the last one
   * made again (they are kept), else undefined (the reply is written as text).
   */
  made(count: number, shape: number, text: string, reply: string): Uint8Array | undefined {
    if (this.#same(count, shape, text)) {
      if (reply.length > MAX_KEPT_REPLY) return undefined;
      return this.#bytes = encoder.encode(reply);
    }
    const kept = this.#lines;
    kept.length = count;
    for (let i = 0; i < count; i++) kept[i] = lines[i];
    this.#shape = shape;
    this.#text = text;
    this.#bytes = undefined;
    return undefined;
  }
}

/** The framing's choices that shape a head after its fields, as bits. */
function shapeOf(exchange: HttpHead, persist: boolean, bodyless: boolean): number {
  const version = exchange.version === "1.1" ? 1 : exchange.version === "1.0" ? 2 : 0;
  return version | (persist ? 4 : 0) | (bodyless ? 8 : 0);
}

/** How a response goes out: its head, whole, and what follows it. */
interface Framing {
  /** The status line and every field, and the empty line (empty when `reply` is set). */
  head: string;
  /** The whole reply, head and text body, as the node's {@linkcode LastReply} kept it. */
  reply: Uint8Array | undefined;
  /** False when the connection is to close after it. */
  persist: boolean;
  /** True when no body follows the head (`HEAD`, 1xx, 204, 304). */
  bodyless: boolean;
  /** A body given as text. */
  text: string | undefined;
  /** A body given as bytes. */
  body: Uint8Array | undefined;
  /** The body's length in bytes, when known. */
  length: number | undefined;
  /** True when the body is streamed in chunks (its length unknown, HTTP/1.1). */
  chunked: boolean;
}

/**
 * Frames a response for the exchange: status line, fields, `content-length`
 * or chunks, `connection`. `persist` is whether the connection is kept so
 * far; the framing may close it (a body of unknown length in HTTP/1.0). A
 * reply with a text body the node made just before comes as the bytes
 * `last` kept of it.
 * @throws {PlumbError} when the response cannot be written as it is
 */
function frame(
  exchange: HttpHead,
  response: HttpResponse,
  persist: boolean,
  last: LastReply | undefined,
): Framing {
  const count = headLines(response);
  const status = response.status;
  const bodyless = exchange.method === "HEAD" || status < 200 || status === 204 || status === 304;
  const text = typeof response.body === "string" ? response.body : undefined;
  // A text body has a length: the framing keeps persist as it is, and the shape holds to the end.
  const shape = text === undefined || last === undefined ? 0 : shapeOf(exchange, persist, bodyless);
  if (text !== undefined && last !== undefined) {
    const reply = last.match(count, shape, text);
    if (reply !== undefined) {
      return {
        head: "",
        reply,
        persist,
        bodyless,
        text,
        body: undefined,
        length: undefined,
        chunked: false,
      };
    }
  }
  let head = joinLines(count);
  const body = typeof response.body === "string" ? undefined : response.body;
  const length = text !== undefined ? utf8Length(text) : body?.length ?? response.length;
  const chunked = text === undefined && body === undefined && length === undefined && !bodyless &&
    exchange.version === "1.1";
  if (length === undefined && !bodyless && !chunked) persist = false;
  if (length !== undefined && status !== 204 && status !== 304 && status >= 200) {
    head += `content-length: ${length}\r\n`;
  }
  if (chunked) head += "transfer-encoding: chunked\r\n";
  if (!persist) {
    if (exchange.version === "1.1") head += "connection: close\r\n";
  } else if (exchange.version === "1.0") head += "connection: keep-alive\r\n";
  head += "\r\n";
  const reply = text === undefined || last === undefined
    ? undefined
    : last.made(count, shape, text, bodyless ? head : head + text);
  return { head, reply, persist, bodyless, text, body, length, chunked };
}

/** The response when no handler answered: the router found no route to one. */
function unanswered(): HttpResponse {
  return textResponse(404, "no handler answered");
}

export default defineServlet({
  description: "writes an HTTP response: status, fields, length or chunks, keep-alive by PERSIST",
  init(_args, env) {
    return {
      head: env.input("head", { type: HTTP_HEAD }), // the exchange, from the parser
      input: env.input("in", { type: HTTP_RESPONSE }),
      output: env.output("out", { type: "bytes" }), // the connection
      last: new LastReply(), // the last reply with a text body, and its bytes
    };
  },
  async exec(ctx, task) {
    const exchange = await task.readValue(ctx.head) ?? DEFAULT_HEAD;
    if (exchange.continue === true) {
      // The interim answer alone: the client sends the body, and the request goes on.
      await task.write(ctx.output, CONTINUE);
      return;
    }
    let response: HttpResponse;
    let failed = exchange.error !== undefined;
    if (exchange.error !== undefined) {
      response = exchange.error;
      task.release(ctx.input);
    } else {
      try {
        response = await task.readValue<HttpResponse>(ctx.input) ?? unanswered();
      } catch {
        // The handler failed (the host logs why): the client is told, and the connection closed.
        response = textResponse(500);
        failed = true;
      }
      // A streamed request body that no handler reads (none answered, or one answered whole
      // without it): the parser is told to read no more of it, and keeps no connection.
      const stream = exchange.stream;
      if (stream !== undefined && !stream.locked && (failed || response.body !== undefined)) {
        stream.cancel().catch(() => {});
      }
    }
    // The head's pipe ends when the parser has: only then is its PERSIST on the connection.
    // A second head is the parser's late word: the body it streamed could not be read.
    if (!(await task.eof(ctx.head))) {
      const late = await task.readValue(ctx.head);
      if (late?.error !== undefined) {
        response = late.error;
        failed = true;
        task.release(ctx.input);
      }
    }
    let framing: Framing;
    try {
      // Not the kept bytes: exec writes on a pipe, whose reader may change what it reads.
      framing = frame(exchange, response, !failed && task.keepAlive(ctx.output), undefined);
    } catch (error) {
      // A response that cannot be written as it is: the client gets a 500, the host logs why.
      task.keepAlive(ctx.output, false);
      const body = "500 Internal Server Error\n";
      await task.write(
        ctx.output,
        `${headText(textResponse(500))}content-length: ${body.length}\r\nconnection: close\r\n\r\n${
          exchange.method === "HEAD" ? "" : body
        }`,
      );
      throw error;
    }
    const { head, bodyless, text, body, length, chunked } = framing;
    if (!framing.persist) task.keepAlive(ctx.output, false);
    if (bodyless) {
      await task.write(ctx.output, head);
      return;
    }
    if (text !== undefined) {
      // One string, encoded once, written once.
      await task.write(ctx.output, head + text);
      return;
    }
    // The head, then the body as it is: a connection joins a short body to its head, and
    // writes a large one (a file's 1 MiB) in a write of its own, uncopied.
    await task.write(ctx.output, head);
    if (body !== undefined) {
      await task.write(ctx.output, body);
      return;
    }
    let sent = 0;
    // A client that has gone stops the copy (and, through the pipe, the node that streams).
    const signal = task.signal;
    for await (const chunk of task.chunks(ctx.input)) {
      if (signal.aborted) break;
      if (chunked) {
        await task.write(ctx.output, `${chunk.length.toString(16)}\r\n`);
        await task.write(ctx.output, chunk);
        await task.write(ctx.output, "\r\n");
      } else await task.write(ctx.output, chunk);
      sent += chunk.length;
    }
    if (signal.aborted) {
      // Gone: nothing to finish, and nothing to report; the writer is let go at once.
      task.release(ctx.input);
      task.keepAlive(ctx.output, false);
      return;
    }
    if (chunked) await task.write(ctx.output, "0\r\n\r\n");
    else if (length !== undefined && sent !== length) {
      task.keepAlive(ctx.output, false);
      throw new PlumbError(
        "PLUMB_HTTP_RENDER_LENGTH",
        `http/render: the body was ${sent} bytes, its length said ${length}`,
      );
    }
  },
  // A whole response as a step. The parser's odd words (an error, 100 Continue, a streamed
  // body) and a streamed response run exec; so does one headText refuses (exec writes the 500).
  step(ctx, task) {
    const exchange = task.value(ctx.head) ?? DEFAULT_HEAD;
    if (exchange.continue === true || exchange.error !== undefined || exchange.stream) return false;
    const response = task.value(ctx.input) ?? unanswered();
    if (response instanceof Uint8Array) return false; // bytes before a response: exec's to refuse
    const framing = frame(exchange, response, task.keepAlive(ctx.output), ctx.last);
    const { head, reply, text, body } = framing;
    if (!framing.bodyless && text === undefined && body === undefined) return false;
    if (!framing.persist) task.keepAlive(ctx.output, false);
    if (reply !== undefined) task.write(ctx.output, reply);
    else if (framing.bodyless) task.write(ctx.output, head);
    else if (text !== undefined) task.write(ctx.output, head + text);
    else {
      task.write(ctx.output, head);
      task.write(ctx.output, body!);
    }
  },
});
