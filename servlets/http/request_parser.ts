/**
 * HTTP/1.x request parsing for `http/parser` (RFC 9112), incremental: a
 * {@linkcode RequestReader} is given a connection's bytes piece by piece and
 * keeps its place between pieces, so that each byte is looked at a bounded
 * number of times however the request is cut, one byte per read included.
 *
 * The head (any empty lines before the request line included) is bounded by
 * `maxHeaderBytes`, the body (framed by `content-length` or chunked transfer
 * coding) by `maxBodyBytes`. Only space and tab are whitespace around a
 * field value, and framing that another HTTP reader might take otherwise is
 * refused rather than guessed at: `Transfer-Encoding` with `Content-Length`,
 * in HTTP/1.0, or other than `chunked`; a `Content-Length` list or sign;
 * folded lines; a chunk line not ended by CRLF. The path is normalised once,
 * here (see `path.ts`).
 * @module
 */
import type { BufferBudget } from "./_buffer_budget.ts";
import { decodeUtf8 } from "./_utf8.ts";
import { normalizePath } from "./path.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";
import { textResponse } from "./types.ts";

/** Limits of one request. */
export interface RequestLimits {
  /**
   * Longest head in bytes: empty lines before the request, the request line
   * and the header fields (else 431; a request line alone too long: 414).
   */
  maxHeaderBytes: number;
  /** Longest body read whole into `body`, in bytes (else streamed, or 413). */
  maxBodyBytes: number;
  /**
   * Longest body streamed, in bytes: a body longer than `maxBodyBytes` and
   * no longer than this is handed out in pieces as it arrives (see
   * {@linkcode RequestReader.streaming}); 0 or absent: none is (413).
   */
  maxStreamBytes?: number;
}

/**
 * What a piece of a request gave: the request and where it ended in that
 * piece (the bytes after it start the next request), more bytes needed, or
 * the reply that refuses the request.
 */
export type ParseOutcome =
  | { kind: "request"; request: HttpRequest; end: number }
  | { kind: "more" }
  | { kind: "error"; response: HttpResponse };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const SEMICOLON = 0x3b;
const DEL = 0x7f;
const COMMA = 0x2c;
const COLON = 0x3a;
const DOT = 0x2e;
const SLASH = 0x2f;
const HASH = 0x23;
const QUESTION = 0x3f;
const PERCENT = 0x25;
const ZERO = 0x30;
const ONE = 0x31;
const EMPTY = new Uint8Array(0);
const MORE: ParseOutcome = Object.freeze({ kind: "more" });
const NO_PIECES: readonly Uint8Array[] = Object.freeze([]);
/**
 * The characters of a token (RFC 9110 5.6.2), by code: 1 for a token
 * character, 2 for an upper-case letter (a token character too), 0 for the rest.
 */
const TOKEN_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
    table[c.charCodeAt(0)] = 1;
  }
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 2;
  return table;
})();
/** The methods most requests use, by length, as constants: their text is not sliced out of each head. */
const METHODS_BY_LENGTH: readonly (readonly string[] | undefined)[] = byLength([
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
]);
/** Common field names, lower-case, by length (see {@linkcode knownField}). */
const FIELDS_BY_LENGTH: readonly (readonly string[] | undefined)[] = byLength([
  "host",
  "accept",
  "accept-encoding",
  "accept-language",
  "authorization",
  "cache-control",
  "connection",
  "content-length",
  "content-type",
  "cookie",
  "expect",
  "if-modified-since",
  "if-none-match",
  "origin",
  "referer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
]);

/** `words` grouped by their length, in their order. */
function byLength(words: readonly string[]): (string[] | undefined)[] {
  const table: (string[] | undefined)[] = [];
  for (const word of words) (table[word.length] ??= []).push(word);
  return table;
}
/** Longest chunk-size line, extensions and CRLF included. */
const MAX_CHUNK_LINE = 1024;
/** Framing a chunked body may add to twice its length: size lines, extensions, trailers. */
const FRAMING_SLACK = 65536;
/** Smallest body buffer, when a body is not all in one piece. */
const MIN_BODY_BUFFER = 16384;
/** Smallest head buffer, when a head is not all in one piece. */
const MIN_HEAD_BUFFER = 1024;

// Where the reader is.
const HEAD: number = 0;
const LENGTH_BODY: number = 1;
const CHUNK_SIZE: number = 2;
const CHUNK_BWS: number = 3;
const CHUNK_EXT: number = 4;
const CHUNK_SIZE_LF: number = 5;
const CHUNK_DATA: number = 6;
const CHUNK_DATA_CR: number = 7;
const CHUNK_DATA_LF: number = 8;
const TRAILER: number = 9;
const TRAILER_LF: number = 10;
const DONE: number = 11;

function fail(status: number, detail: string): ParseOutcome {
  return { kind: "error", response: textResponse(status, detail) };
}

/** The head, parsed: the request (its body still empty) and how its body is framed. */
interface Head {
  request: HttpRequest;
  /** The body's length (`content-length`, 0 when there is none), or -1 when it is chunked. */
  length: number;
  /** Where the head's first empty line ends: an index into the bytes parsed (not from the head's start). */
  end: number;
}

/**
 * The method of a request line that starts at `from` in `bytes` and whose
 * method ends at `end` (`text` as for {@linkcode textOf}): a constant when it
 * is a common one.
 */
function methodOf(text: string | undefined, from: number, bytes: Uint8Array, end: number): string {
  const length = end - from;
  const known = length < METHODS_BY_LENGTH.length ? METHODS_BY_LENGTH[length] : undefined;
  if (known !== undefined) {
    for (const method of known) if (hasAsciiAt(bytes, from, method)) return method;
  }
  return textOf(text, from, bytes, from, end);
}

/** True when `bytes` from `at` hold the ASCII `word`. */
function hasAsciiAt(bytes: Uint8Array, at: number, word: string): boolean {
  if (at + word.length > bytes.length) return false;
  for (let i = 0; i < word.length; i++) if (bytes[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * The lower-cased name of the field whose name is `bytes` from `at` to `end`
 * (token characters) when it is a common one: a constant, so neither a string
 * nor a lower-cased copy is made, and the headers object is keyed by an
 * interned string. `undefined` for any other name.
 */
function knownField(bytes: Uint8Array, at: number, end: number): string | undefined {
  const length = end - at;
  const names = length < FIELDS_BY_LENGTH.length ? FIELDS_BY_LENGTH[length] : undefined;
  if (names === undefined) return undefined;
  for (const name of names) {
    let i = 0;
    // A token character ORed with 0x20 is a lower-case letter only if it was that
    // letter in either case; the names hold only lower-case letters and "-".
    while (i < length && (bytes[at + i] | 0x20) === name.charCodeAt(i)) i++;
    if (i === length) return name;
  }
  return undefined;
}

/** True when `list` (a field value) holds `token` as one of its comma-separated items. */
function hasItem(list: string, token: string): boolean {
  const text = list.toLowerCase();
  for (let at = text.indexOf(token); at >= 0; at = text.indexOf(token, at + 1)) {
    const before = at === 0 ? SP : text.charCodeAt(at - 1);
    const after = at + token.length === text.length ? SP : text.charCodeAt(at + token.length);
    if (
      (before === SP || before === HTAB || before === COMMA) &&
      (after === SP || after === HTAB || after === COMMA)
    ) return true;
  }
  return false;
}

/**
 * The decode of `bytes` from `start` to `end` (both next to ASCII bytes): a
 * slice of `text`, the decode of the bytes from `from` on, when each of those
 * bytes decoded to one unit (so a byte's index is its unit's); else
 * (`text` undefined) a decode of its own.
 */
function textOf(
  text: string | undefined,
  from: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): string {
  return text === undefined
    ? decodeUtf8(bytes.subarray(start, end))
    : text.slice(start - from, end - from);
}

/**
 * Where the field value that starts at `at` ends: the index of its line's
 * CRLF or LF, or -1 when a control character other than tab, or DEL, comes
 * first (what a value may not hold); `to` when neither comes before it
 * (never, in a head: its empty line ends before `to`).
 */
function valueEnd(bytes: Uint8Array, at: number, to: number): number {
  for (let i = at; i < to; i++) {
    const c = bytes[i];
    // Visible ASCII and space, and the bytes of UTF-8 beyond ASCII, the usual.
    if ((c >= SP && c !== DEL) || c === HTAB) continue;
    return c === LF || (c === CR && bytes[i + 1] === LF) ? i : -1;
  }
  return to;
}

/**
 * True when `chunk` may be a head whole, as most requests come: its request
 * line first (no empty line before it), an empty line (CRLF) last, no longer
 * than `max`. Such a piece is parsed as it is, its lines not looked for one
 * by one first. The head ends at the piece's first empty line
 * ({@linkcode Head.end}, where the parse stops): the piece's end when it is
 * one head alone; earlier when a body or a pipelined request follows.
 */
function wholeHead(chunk: Uint8Array, max: number): boolean {
  const n = chunk.length;
  return n <= max && n >= 4 && chunk[n - 1] === LF && chunk[n - 2] === CR &&
    chunk[n - 3] === LF && chunk[0] !== CR && chunk[0] !== LF;
}

/**
 * Parses a complete head: `bytes` from `from` (its request line) through its
 * first empty line, which ends at or before `to`. The structure is read from
 * the bytes; the range is decoded once, and each string (the target, a
 * value) is a slice of that text, or decoded from its own bytes when a
 * byte's index is not its unit's (see {@linkcode textOf}). Every byte that
 * delimits (space, colon, CR, LF) is ASCII, and UTF-8 never holds an ASCII
 * byte inside a sequence, so the two decodes agree.
 */
function parseHead(
  bytes: Uint8Array,
  from: number,
  to: number,
  limits: RequestLimits,
): Head | ParseOutcome {
  const whole = decodeUtf8(bytes.subarray(from, to));
  const text = whole.length === to - from ? whole : undefined;
  // The request line: a token, one space, visible ASCII, one space, HTTP/d.d, CRLF or LF.
  // Every loop below stops at the head's empty line, which ends before `to`.
  let sp = from;
  while (sp < to) {
    const c = bytes[sp];
    if (c >= 128 || TOKEN_CHARS[c] === 0) break;
    sp++;
  }
  if (sp === from || bytes[sp] !== SP) return fail(400, "malformed request line");
  let t = sp + 1;
  // An origin-form target's query ("?", before any "#"), fragment ("#"), and whether its
  // path has anything to decode or resolve ("%", "//", "/."), found in the same scan.
  let query = -1;
  let fragment = -1;
  let plain = true;
  let previous = SP;
  while (t < to) {
    const c = bytes[t];
    if (c < 0x21 || c > 0x7e) break;
    if (c === HASH) {
      if (fragment < 0) fragment = t;
    } else if (c === QUESTION) {
      if (query < 0 && fragment < 0) query = t;
    } else if (
      query < 0 && fragment < 0 &&
      (c === PERCENT || (previous === SLASH && (c === SLASH || c === DOT)))
    ) plain = false;
    previous = c;
    t++;
  }
  const versionAt = t + 1; // "HTTP/d.d"
  const major = bytes[versionAt + 5];
  const minor = bytes[versionAt + 7];
  const afterVersion = versionAt + 8;
  const eol = bytes[afterVersion] === LF
    ? afterVersion
    : bytes[afterVersion] === CR && bytes[afterVersion + 1] === LF
    ? afterVersion + 1
    : -1;
  if (
    t === sp + 1 || bytes[t] !== SP || !hasAsciiAt(bytes, versionAt, "HTTP/") ||
    bytes[versionAt + 6] !== DOT || !isDigit(major) || !isDigit(minor) || eol < 0
  ) return fail(400, "malformed request line");
  if (major !== ONE) {
    return fail(505, `HTTP/${String.fromCharCode(major)}.${String.fromCharCode(minor)}`);
  }
  const method = methodOf(text, from, bytes, sp);
  const target = textOf(text, from, bytes, sp + 1, t);
  const version = minor === ZERO ? "1.0" : "1.1";
  // Deno has no `__proto__` setter: a field of that name (or "constructor") is an own
  // property like any other, and fields are looked up with Object.hasOwn.
  const headers: Record<string, string> = {};
  let hosts = 0;
  // Each field line, up to the empty line (CRLF or LF) that ends the head.
  let at = eol + 1;
  for (;;) {
    const first = bytes[at];
    if (first === LF || (first === CR && bytes[at + 1] === LF)) {
      at += first === LF ? 1 : 2;
      break;
    }
    // The name: a token up to the colon; upper-case letters seen make it lower-cased.
    let colon = at;
    let upper = false;
    for (; colon < to; colon++) {
      const c = bytes[colon];
      const kind = c < 128 ? TOKEN_CHARS[c] : 0;
      if (kind === 0) break;
      if (kind === 2) upper = true;
    }
    if (colon === at || bytes[colon] !== COLON) {
      return fail(
        400,
        first === SP || first === HTAB ? "folded header line" : "malformed header line",
      );
    }
    // The value, to its line's end.
    let end = valueEnd(bytes, colon + 1, to);
    if (end < 0) {
      return fail(400, `control character in header "${textOf(text, from, bytes, at, colon)}"`);
    }
    const lf = bytes[end] === LF ? end : end + 1;
    // Optional whitespace around the value is space and tab only (RFC 9110 5.6.3).
    let start = colon + 1;
    while (start < end && (bytes[start] === SP || bytes[start] === HTAB)) start++;
    while (end > start && (bytes[end - 1] === SP || bytes[end - 1] === HTAB)) end--;
    const value = textOf(text, from, bytes, start, end);
    const known = knownField(bytes, at, colon);
    const name = known ?? textOf(text, from, bytes, at, colon);
    at = lf + 1;
    if (known !== undefined) {
      // No common name is a property of Object.prototype: a plain read tells if it is here.
      const before = headers[known];
      headers[known] = before === undefined ? value : `${before}, ${value}`;
      if (known === "host") hosts++;
      continue;
    }
    // Any other name (`host` is a common one: counted above).
    const key = upper ? name.toLowerCase() : name;
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]}, ${value}` : value;
  }
  if (hosts > 1 || (version === "1.1" && hosts === 0)) {
    return fail(400, hosts > 1 ? "more than one Host header" : "missing Host header");
  }
  let path: string;
  let q: string;
  if (bytes[sp + 1] === SLASH) {
    // Origin form, as almost every request comes: the scan above found its parts.
    const pathEnd = query >= 0 ? query : fragment >= 0 ? fragment : t;
    path = pathEnd === t ? target : textOf(text, from, bytes, sp + 1, pathEnd);
    q = query < 0 ? "" : textOf(text, from, bytes, query + 1, fragment >= 0 ? fragment : t);
  } else {
    let rawPath = target;
    const absolute = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
    if (absolute !== null) rawPath = absolute[1].startsWith("/") ? absolute[1] : `/${absolute[1]}`;
    else if (!(target === "*" && method === "OPTIONS")) {
      return fail(400, "malformed request target");
    }
    const hash = rawPath.indexOf("#");
    if (hash >= 0) rawPath = rawPath.slice(0, hash);
    const at = rawPath.indexOf("?");
    path = at >= 0 ? rawPath.slice(0, at) : rawPath;
    q = at >= 0 ? rawPath.slice(at + 1) : "";
    plain = !(path.includes("%") || path.includes("//") || path.includes("/."));
  }
  // Visible ASCII already (the request line's check): a path with nothing to decode or
  // resolve is normal as it is.
  if (path !== "*" && !plain) {
    try {
      path = normalizePath(path);
    } catch (error) {
      return fail(400, (error as Error).message);
    }
  }
  // Common names (see knownField), none a property of Object.prototype: read as they are.
  const connection: string | undefined = headers.connection;
  const keepAlive = version === "1.1"
    ? connection === undefined || !hasItem(connection, "close")
    : connection !== undefined && hasItem(connection, "keep-alive");
  const request: HttpRequest = {
    method,
    target,
    path,
    query: q,
    version,
    headers,
    body: EMPTY,
    keepAlive,
    params: {},
  };
  const te: string | undefined = headers["transfer-encoding"];
  const cl: string | undefined = headers["content-length"];
  if (te !== undefined) {
    if (version === "1.0") return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (cl !== undefined) return fail(400, "both Transfer-Encoding and Content-Length");
    if (te.toLowerCase() !== "chunked") return fail(501, `transfer coding "${te}"`);
    return { request, length: -1, end: at };
  }
  if (cl === undefined) return { request, length: 0, end: at };
  if (!/^\d{1,15}$/.test(cl)) return fail(400, "malformed Content-Length");
  const length = Number(cl);
  const max = Math.max(limits.maxBodyBytes, limits.maxStreamBytes ?? 0);
  if (length > max) return fail(413, `body of ${length} bytes, more than ${max}`);
  return { request, length, end: at };
}

/** True for the code of a decimal digit. */
function isDigit(c: number): boolean {
  return c >= ZERO && c <= ZERO + 9;
}

/**
 * True when the request's client waits to be told to send its body
 * (`Expect: 100-continue`, RFC 9110 §10.1.1); an HTTP/1.0 request's
 * expectation is ignored.
 *
 * @example
 * ```ts
 * import { expectsContinue } from "./request_parser.ts";
 * import type { HttpRequest } from "./types.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const request = { version: "1.1", headers: { expect: "100-Continue" } } as unknown as HttpRequest;
 * assertEquals(expectsContinue(request), true);
 * ```
 */
export function expectsContinue(request: HttpRequest): boolean {
  const expect = own(request.headers, "expect");
  return request.version === "1.1" && expect !== undefined &&
    expect.split(",").some((e) => e.trim().toLowerCase() === "100-continue");
}

/** A field's value, if the request has that field. */
function own(headers: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(headers, key) ? headers[key] : undefined;
}

/** The value of a hex digit, or -1. */
function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Reads one request from pieces of a connection, keeping its place between
 * pieces: each byte is scanned once for the end of the head, decoded once
 * with it, copied once into the body (not at all when the whole body is in
 * one piece). What it holds while the request is not all here is taken from
 * a {@linkcode BufferBudget}, if given.
 *
 * @example
 * ```ts
 * import { RequestReader } from "./request_parser.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const reader = new RequestReader({ maxHeaderBytes: 8192, maxBodyBytes: 1024 });
 * const bytes = new TextEncoder().encode("GET /a//b HTTP/1.1\r\nHost: x\r\n\r\nGET /next");
 * let outcome = reader.feed(bytes.subarray(0, 10));
 * assertEquals(outcome.kind, "more");
 * outcome = reader.feed(bytes.subarray(10));
 * assertEquals(outcome.kind === "request" && outcome.request.path, "/a/b");
 * assertEquals(outcome.kind === "request" && outcome.end, 21); // "GET /next" starts there
 * ```
 */
export class RequestReader {
  /**
   * Bytes looked at so far, each pass counted (scans, copies, decoding): a
   * measure of the work done, linear in the bytes fed.
   */
  examined = 0;
  readonly #limits: RequestLimits;
  readonly #budget: BufferBudget | undefined;
  #state = HEAD;
  /** Bytes fed so far. */
  #fed = 0;
  /** Bytes taken from the budget. */
  #held = 0;
  // The head, while it is not all here.
  #head: Uint8Array = EMPTY;
  #headLength = 0;
  #scanned = 0;
  #lineStart = 0;
  #headStart = 0;
  #lines = 0;
  // The body.
  #request: HttpRequest | undefined;
  #length = 0;
  #body: Uint8Array = EMPTY;
  #bodyLength = 0;
  #chunkSize = 0;
  #digits = 0;
  #lineLength = 0;
  #trailerBytes = 0;
  #section = 0;
  // A body streamed: the pieces not handed out yet (views of what was fed).
  #streaming = false;
  #pieces: Uint8Array[] | undefined; // made when the body is streamed

  /**
   * @param limits the size limits
   * @param budget where the bytes held between pieces are taken from, if anywhere
   */
  constructor(limits: RequestLimits, budget?: BufferBudget) {
    this.#limits = limits;
    this.#budget = budget;
  }

  /** True once any byte was fed. */
  get started(): boolean {
    return this.#fed > 0;
  }

  /** `head` until the head is all here, then `body`. */
  get phase(): "head" | "body" {
    return this.#state === HEAD ? "head" : "body";
  }

  /** Bytes held from the budget now. */
  get held(): number {
    return this.#held;
  }

  /** The request, once its head is parsed (its body may still be coming). */
  get request(): HttpRequest | undefined {
    return this.#request;
  }

  /** Bytes of the body taken so far (de-chunked). */
  get bodyBytes(): number {
    return this.#bodyLength;
  }

  /**
   * True once the body is known to be longer than `maxBodyBytes` (its
   * `content-length` says so, or its chunks have added up to more) and the
   * limits allow streaming it: from then on its bytes are not kept, but
   * handed out by {@linkcode RequestReader.takePieces}, and the request's
   * `body` stays empty.
   */
  get streaming(): boolean {
    return this.#streaming;
  }

  /**
   * The body's bytes fed since the last call, while {@linkcode
   * RequestReader.streaming}: views of the pieces fed (copied by nobody),
   * which the caller hands on.
   */
  takePieces(): readonly Uint8Array[] {
    const pieces = this.#pieces;
    if (pieces === undefined || pieces.length === 0) return NO_PIECES;
    this.#pieces = undefined;
    return pieces;
  }

  /**
   * Takes the next piece. After a `request` or `error` outcome the reader is
   * done, and has given back what it held.
   */
  feed(chunk: Uint8Array): ParseOutcome {
    if (this.#state === DONE) throw new Error("RequestReader: fed after its request ended");
    this.#fed += chunk.length;
    let at = 0;
    if (this.#state === HEAD) {
      const end = this.#feedHead(chunk);
      if (typeof end !== "number") return this.#finish(end);
      if (end < 0) return MORE;
      at = end;
      if (this.#state === LENGTH_BODY && this.#length === 0) return this.#complete(at);
    }
    const end = this.#state === LENGTH_BODY
      ? this.#feedLength(chunk, at)
      : this.#feedChunked(chunk, at);
    if (typeof end !== "number") return this.#finish(end);
    return end < 0 ? MORE : this.#complete(end);
  }

  /** Gives back what the reader holds from the budget (a connection closed mid-request). */
  release(): void {
    if (this.#held > 0) this.#budget?.give(this.#held);
    this.#held = 0;
  }

  #finish(outcome: ParseOutcome): ParseOutcome {
    this.#state = DONE;
    this.#head = this.#body = EMPTY;
    this.release();
    return outcome;
  }

  #complete(end: number): ParseOutcome {
    const request = this.#request as HttpRequest;
    if (this.#bodyLength > 0 && !this.#streaming) {
      request.body = this.#body.subarray(0, this.#bodyLength);
    }
    return this.#finish({ kind: "request", request, end });
  }

  /** Takes `n` more bytes from the budget; false when it has not got them. */
  #hold(n: number): boolean {
    if (this.#budget !== undefined && !this.#budget.take(n)) return false;
    this.#held += n;
    return true;
  }

  #overBudget(): ParseOutcome {
    return fail(503, "too many requests are arriving at once; try again later");
  }

  /** A buffer with room for `need` bytes, keeping the first `length` of `buffer`. */
  #grow(
    buffer: Uint8Array,
    length: number,
    need: number,
    min: number,
    cap: number,
  ): Uint8Array | undefined {
    const size = Math.min(cap, Math.max(need, buffer.length * 2, min));
    if (!this.#hold(size - buffer.length)) return undefined;
    const grown = new Uint8Array(size);
    grown.set(buffer.subarray(0, length));
    this.examined += length;
    return grown;
  }

  #appendHead(bytes: Uint8Array): boolean {
    const need = this.#headLength + bytes.length;
    if (need > this.#head.length) {
      const max = this.#limits.maxHeaderBytes + 1;
      const grown = this.#grow(this.#head, this.#headLength, need, MIN_HEAD_BUFFER, max);
      if (grown === undefined) return false;
      this.#head = grown;
    }
    this.#head.set(bytes, this.#headLength);
    this.#headLength = need;
    this.examined += bytes.length;
    return true;
  }

  /**
   * Scans the new bytes of the head for its end: the offset in `chunk` just
   * after it, -1 when it is not all here, or an error.
   */
  #feedHead(chunk: Uint8Array): number | ParseOutcome {
    const max = this.#limits.maxHeaderBytes;
    const before = this.#headLength;
    if (before === 0 && this.#scanned === 0) {
      if (wholeHead(chunk, max)) {
        const head = parseHead(chunk, 0, chunk.length, this.#limits);
        // Where the head ends in the piece: the piece's end, or where a body or the next
        // request starts. A head refused is refused alike by the scan below, which would
        // find the same first empty line.
        const end = "kind" in head ? chunk.length : head.end;
        this.examined += 3 * end; // decoded, then parsed: as the scan below counts a head
        return this.#headed(head, end);
      }
    }
    let buf = chunk;
    if (before > 0) {
      // Never more than one byte past the limit is kept: that byte says the head is too long.
      if (!this.#appendHead(chunk.subarray(0, Math.min(chunk.length, max + 1 - before)))) {
        return this.#overBudget();
      }
      buf = this.#head.subarray(0, this.#headLength);
    }
    for (;;) {
      const lf = buf.indexOf(LF, this.#scanned);
      if (lf < 0 || lf >= max) {
        this.examined += (lf < 0 ? buf.length : lf + 1) - this.#scanned;
        if (lf >= 0 || buf.length > max) return this.#headTooLong();
        if (before === 0 && !this.#appendHead(buf)) return this.#overBudget();
        this.#scanned = buf.length;
        return -1;
      }
      this.examined += lf + 1 - this.#scanned;
      this.#scanned = lf + 1;
      const start = this.#lineStart;
      const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
      this.#lineStart = lf + 1;
      if (end > start) {
        this.#lines++;
      } else if (this.#lines === 0) {
        this.#headStart = lf + 1; // an empty line before the request: skipped, but counted
      } else {
        this.examined += 2 * (lf + 1 - this.#headStart); // decoded, then split into lines
        return this.#headed(parseHead(buf, this.#headStart, lf + 1, this.#limits), lf + 1 - before);
      }
    }
  }

  /** The head is parsed (or refused): the body comes next, from `end` in the piece. */
  #headed(parsed: Head | ParseOutcome, end: number): number | ParseOutcome {
    if ("kind" in parsed) return parsed;
    this.#request = parsed.request;
    this.#head = EMPTY;
    this.release(); // what the head held; the body takes its own
    if (parsed.length < 0) this.#state = CHUNK_SIZE;
    else {
      this.#state = LENGTH_BODY;
      this.#length = parsed.length;
      this.#streaming = parsed.length > this.#limits.maxBodyBytes;
    }
    return end;
  }

  #headTooLong(): ParseOutcome {
    const max = this.#limits.maxHeaderBytes;
    if (this.#lines > 0) return fail(431, `header longer than ${max} bytes`);
    return this.#headStart === 0
      ? fail(414, `request line longer than ${max} bytes`)
      : fail(431, `header longer than ${max} bytes (empty lines before the request count)`);
  }

  /** Room for `n` more body bytes, up to `cap` in all; false when the budget is spent. */
  #bodyRoom(n: number, cap: number): boolean {
    const need = this.#bodyLength + n;
    if (need <= this.#body.length) return true;
    const grown = this.#grow(this.#body, this.#bodyLength, need, MIN_BODY_BUFFER, cap);
    if (grown === undefined) return false;
    this.#body = grown;
    return true;
  }

  /** A `content-length` body: the offset in `chunk` where it ends, -1 for more, or an error. */
  #feedLength(chunk: Uint8Array, at: number): number | ParseOutcome {
    const need = this.#length - this.#bodyLength;
    const available = chunk.length - at;
    if (this.#streaming) {
      // Handed on as it comes: a view of the piece, kept by nobody here.
      const take = Math.min(need, available);
      if (take > 0) (this.#pieces ??= []).push(chunk.subarray(at, at + take));
      this.#bodyLength += take;
      return this.#bodyLength === this.#length ? at + take : -1;
    }
    if (this.#bodyLength === 0 && available >= need) {
      // All here in one piece: the body is a view of it, copied by nobody.
      this.#body = chunk.subarray(at, at + need);
      this.#bodyLength = need;
      return at + need;
    }
    const take = Math.min(need, available);
    if (!this.#bodyRoom(take, this.#length)) return this.#overBudget();
    this.#body.set(chunk.subarray(at, at + take), this.#bodyLength);
    this.#bodyLength += take;
    this.examined += take;
    return this.#bodyLength === this.#length ? at + take : -1;
  }

  /**
   * A chunked body longer than `maxBodyBytes`: streamed from now on, when
   * the limits allow it (what was kept becomes the first piece); false when
   * they do not.
   */
  #startStreaming(): boolean {
    if ((this.#limits.maxStreamBytes ?? 0) <= this.#limits.maxBodyBytes) return false;
    this.#streaming = true;
    if (this.#bodyLength > 0) (this.#pieces ??= []).push(this.#body.subarray(0, this.#bodyLength));
    this.#body = EMPTY;
    this.release(); // the kept bytes are the reader's of the stream now
    return true;
  }

  /** A chunked body: the offset in `chunk` where it ends, -1 for more, or an error. */
  #feedChunked(chunk: Uint8Array, at: number): number | ParseOutcome {
    let maxBody = this.#streaming
      ? this.#limits.maxStreamBytes as number
      : this.#limits.maxBodyBytes;
    let bound = 2 * maxBody + FRAMING_SLACK;
    let i = at;
    while (i < chunk.length) {
      if (this.#state === CHUNK_DATA) {
        const take = Math.min(this.#chunkSize, chunk.length - i);
        if (this.#streaming) {
          if (take > 0) (this.#pieces ??= []).push(chunk.subarray(i, i + take));
        } else {
          if (!this.#bodyRoom(take, maxBody)) return this.#overBudget();
          this.#body.set(chunk.subarray(i, i + take), this.#bodyLength);
          this.examined += take;
        }
        this.#bodyLength += take;
        this.#chunkSize -= take;
        this.#section += take;
        i += take;
        if (this.#chunkSize === 0) this.#state = CHUNK_DATA_CR;
        continue;
      }
      const b = chunk[i++];
      this.#section++;
      this.examined++;
      if (this.#section > bound) {
        return fail(413, `chunked body framing longer than ${bound} bytes`);
      }
      if (this.#state <= CHUNK_SIZE_LF && ++this.#lineLength > MAX_CHUNK_LINE) {
        return fail(400, "malformed chunk size");
      }
      switch (this.#state) {
        case CHUNK_SIZE: {
          const digit = hexDigit(b);
          if (digit >= 0) {
            this.#chunkSize = this.#chunkSize * 16 + digit;
            this.#digits++;
            if (this.#bodyLength + this.#chunkSize > maxBody) {
              if (this.#streaming || !this.#startStreaming()) {
                return fail(413, `chunked body of more than ${maxBody} bytes`);
              }
              maxBody = this.#limits.maxStreamBytes as number;
              bound = 2 * maxBody + FRAMING_SLACK;
              if (this.#bodyLength + this.#chunkSize > maxBody) {
                return fail(413, `chunked body of more than ${maxBody} bytes`);
              }
            }
          } else if (this.#digits === 0) return fail(400, "malformed chunk size");
          else if (b === SP || b === HTAB) this.#state = CHUNK_BWS;
          else if (b === SEMICOLON) this.#state = CHUNK_EXT;
          else if (b === CR) this.#state = CHUNK_SIZE_LF;
          else return fail(400, "malformed chunk size");
          break;
        }
        case CHUNK_BWS:
          if (b === SEMICOLON) this.#state = CHUNK_EXT;
          else if (b === CR) this.#state = CHUNK_SIZE_LF;
          else if (b !== SP && b !== HTAB) return fail(400, "malformed chunk size");
          break;
        case CHUNK_EXT:
          if (b === CR) this.#state = CHUNK_SIZE_LF;
          else if ((b < SP && b !== HTAB) || b === DEL) return fail(400, "malformed chunk size");
          break;
        case CHUNK_SIZE_LF:
          if (b !== LF) return fail(400, "malformed chunk size");
          this.#state = this.#chunkSize === 0 ? TRAILER : CHUNK_DATA;
          this.#digits = 0;
          this.#lineLength = 0;
          break;
        case CHUNK_DATA_CR:
          if (b !== CR) return fail(400, "chunk data longer than its size");
          this.#state = CHUNK_DATA_LF;
          break;
        case CHUNK_DATA_LF:
          if (b !== LF) return fail(400, "chunk data longer than its size");
          this.#state = CHUNK_SIZE;
          this.#lineLength = 0;
          break;
        case TRAILER:
          // Trailer fields, up to an empty line: read and dropped.
          if (++this.#trailerBytes > this.#limits.maxHeaderBytes) {
            return fail(431, "trailer too long");
          }
          if (b === CR) this.#state = TRAILER_LF;
          else if ((b < SP && b !== HTAB) || b === DEL) return fail(400, "malformed trailer");
          else this.#lineLength++;
          break;
        case TRAILER_LF:
          if (b !== LF) return fail(400, "malformed trailer");
          if (this.#lineLength === 0) return i;
          this.#lineLength = 0;
          this.#state = TRAILER;
          break;
      }
    }
    return -1;
  }
}

/**
 * The request that `bytes` are, when they are one whole request and nothing
 * more, its body (if any) read whole: what a {@linkcode RequestReader} fed
 * `bytes` would give, without making one for the usual request (a head
 * alone). Otherwise `undefined`: a request cut or followed by more, streamed
 * or refused is a reader's to read, piece by piece. A body framed by
 * `content-length` is a view of `bytes`; a chunked one, de-chunked, is the
 * reader's own (taken from `budget` while it is read, as the reader takes it,
 * and given back whether or not the request was whole).
 *
 * @example
 * ```ts
 * import { wholeRequest } from "./request_parser.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const limits = { maxHeaderBytes: 8192, maxBodyBytes: 1024 };
 * const bytes = new TextEncoder().encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
 * assertEquals(wholeRequest(bytes, limits)?.path, "/a");
 * assertEquals(wholeRequest(bytes.subarray(0, 20), limits), undefined); // cut
 * ```
 */
export function wholeRequest(
  bytes: Uint8Array,
  limits: RequestLimits,
  budget?: BufferBudget,
): HttpRequest | undefined {
  if (wholeHead(bytes, limits.maxHeaderBytes)) {
    const head = parseHead(bytes, 0, bytes.length, limits);
    // A head alone, as most requests without a body come: the reader would parse it so.
    if ("kind" in head) return undefined;
    if (head.end === bytes.length) return head.length === 0 ? head.request : undefined;
    // A request pipelined behind a head without a body: not one request.
    if (head.length === 0) return undefined;
  }
  const reader = new RequestReader(limits, budget);
  const outcome = reader.feed(bytes);
  if (outcome.kind === "request" && outcome.end === bytes.length && !reader.streaming) {
    return outcome.request;
  }
  reader.release(); // what a request not all here took from the budget: a reader's to take again
  return undefined;
}

/**
 * Parses one request from the start of `buf`: a {@linkcode RequestReader}
 * given the whole buffer at once.
 *
 * @param buf the bytes of the request, and perhaps of more after it
 * @param limits the size limits
 *
 * @example
 * ```ts
 * import { parseRequest } from "@plumb/plumb/http";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new TextEncoder().encode("GET /a/%2e%2e/b?c=1 HTTP/1.1\r\nHost: x\r\n\r\n");
 * const outcome = parseRequest(bytes, { maxHeaderBytes: 8192, maxBodyBytes: 1024 });
 * assertEquals(outcome.kind === "request" && outcome.request.path, "/b");
 * ```
 */
export function parseRequest(buf: Uint8Array, limits: RequestLimits): ParseOutcome {
  return new RequestReader(limits).feed(buf);
}
