/**
 * HTTP/1.x request parsing over a byte buffer, for `http/parser`: the head
 * (request line and header fields, RFC 9112), then a body framed by
 * `content-length` or chunked transfer coding. Parsing may stop for more
 * bytes at any point and go on later from the same buffer grown, with the
 * head it already parsed.
 * @module
 */
import type { HttpRequest, HttpResponse } from "./types.ts";
import { textResponse } from "./types.ts";

/** Limits of one request. */
export interface RequestLimits {
  /** Longest request line plus header fields, in bytes (else 431; a long request line alone: 414). */
  maxHeaderBytes: number;
  /** Longest body, in bytes (else 413). */
  maxBodyBytes: number;
}

/** A parsed head: the request without its body, and how the body is framed. */
export interface ParsedHead {
  /** The request, its `body` still empty. */
  request: HttpRequest;
  /** Where the body starts in the buffer. */
  bodyStart: number;
  /** The body's length (`content-length`), or -1 for a chunked body. */
  length: number;
}

/** The outcome of a parse: a request and where it ended, more bytes needed, or an error reply. */
export type ParseOutcome =
  | { kind: "request"; request: HttpRequest; end: number }
  | { kind: "more"; head: ParsedHead | undefined }
  | { kind: "error"; response: HttpResponse };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/;
/** Characters a field value may not hold: controls other than tab, and DEL. */
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Longest chunk-size line, extensions included. */
const MAX_CHUNK_LINE = 1024;

function fail(status: number, detail: string): ParseOutcome {
  return { kind: "error", response: textResponse(status, detail) };
}

/** The end of the head: the index just after its empty line, or -1 when it is not all here. */
function headEnd(buf: Uint8Array, from: number): number {
  for (let i = buf.indexOf(LF, from); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (buf[i + 1] === LF) return i + 2;
    if (buf[i + 1] === CR && buf[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** Skips the empty lines a client may send before a request (RFC 9112 2.2). */
function skipEmptyLines(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length && (buf[i] === LF || (buf[i] === CR && buf[i + 1] === LF))) {
    i += buf[i] === CR ? 2 : 1;
  }
  return i;
}

/**
 * Parses the head at the start of `buf`; `undefined` when it is not all here
 * yet (and within the limits).
 */
export function parseHead(
  buf: Uint8Array,
  limits: RequestLimits,
): ParsedHead | ParseOutcome | undefined {
  const start = skipEmptyLines(buf);
  const end = headEnd(buf, start);
  if (end < 0) {
    if (buf.length - start <= limits.maxHeaderBytes) return undefined;
    return buf.indexOf(LF, start) < 0
      ? fail(414, `request line longer than ${limits.maxHeaderBytes} bytes`)
      : fail(431, `header longer than ${limits.maxHeaderBytes} bytes`);
  }
  if (end - start > limits.maxHeaderBytes) {
    return fail(431, `header longer than ${limits.maxHeaderBytes} bytes`);
  }
  const lines = decoder.decode(buf.subarray(start, end)).split("\n");
  const first = lines[0].endsWith("\r") ? lines[0].slice(0, -1) : lines[0];
  const match = REQUEST_LINE.exec(first);
  if (match === null || !TOKEN.test(match[1])) {
    return fail(400, "malformed request line");
  }
  const [, method, target, major, minor] = match;
  if (major !== "1") return fail(505, `HTTP/${major}.${minor}`);
  const version = minor === "0" ? "1.0" : "1.1";
  const headers: Record<string, string> = {};
  let hosts = 0;
  for (let i = 1; i < lines.length - 2; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      return fail(
        400,
        line[0] === " " || line[0] === "\t" ? "folded header line" : "malformed header line",
      );
    }
    const value = line.slice(colon + 1).trim();
    if (BAD_VALUE.test(value)) return fail(400, `control character in header "${name}"`);
    const key = name.toLowerCase();
    if (key === "host") hosts++;
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  if (hosts > 1 || (version === "1.1" && hosts === 0)) {
    return fail(400, hosts > 1 ? "more than one Host header" : "missing Host header");
  }
  let path = target;
  if (!target.startsWith("/")) {
    const absolute = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
    if (absolute !== null) path = absolute[1] === "" ? "/" : absolute[1];
    else if (!(target === "*" && method === "OPTIONS")) {
      return fail(400, "malformed request target");
    }
  }
  const hash = path.indexOf("#");
  if (hash >= 0) path = path.slice(0, hash);
  const q = path.indexOf("?");
  const connection = headers.connection?.toLowerCase() ?? "";
  const keepAlive = version === "1.1"
    ? !/(^|[\s,])close($|[\s,])/.test(connection)
    : /(^|[\s,])keep-alive($|[\s,])/.test(connection);
  const request: HttpRequest = {
    method,
    target,
    path: q >= 0 ? path.slice(0, q) : path,
    query: q >= 0 ? path.slice(q + 1) : "",
    version,
    headers,
    body: EMPTY,
    keepAlive,
    params: {},
  };
  const te = headers["transfer-encoding"];
  const cl = headers["content-length"];
  if (te !== undefined) {
    if (cl !== undefined) return fail(400, "both Transfer-Encoding and Content-Length");
    if (te.toLowerCase() !== "chunked") return fail(501, `transfer coding "${te}"`);
    return { request, bodyStart: end, length: -1 };
  }
  if (cl === undefined) return { request, bodyStart: end, length: 0 };
  const values = cl.split(",").map((v) => v.trim());
  if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) {
    return fail(400, "malformed Content-Length");
  }
  const length = Number(values[0]);
  if (length > limits.maxBodyBytes) {
    return fail(413, `body of ${length} bytes, more than ${limits.maxBodyBytes}`);
  }
  return { request, bodyStart: end, length };
}

/** A de-chunked body and where it ended, `undefined` for more bytes, or an error. */
function parseChunked(
  buf: Uint8Array,
  start: number,
  limits: RequestLimits,
): { body: Uint8Array; end: number } | ParseOutcome | undefined {
  const parts: Uint8Array[] = [];
  let size = 0;
  let at = start;
  for (;;) {
    const lf = buf.indexOf(LF, at);
    if (lf < 0) {
      return buf.length - at > MAX_CHUNK_LINE ? fail(400, "malformed chunk size") : undefined;
    }
    if (lf - at > MAX_CHUNK_LINE) return fail(400, "malformed chunk size");
    const line = decoder.decode(buf.subarray(at, lf)).replace(/\r$/, "");
    const hex = /^([0-9a-fA-F]{1,8})[ \t]*(;.*)?$/.exec(line);
    if (hex === null) return fail(400, "malformed chunk size");
    const n = parseInt(hex[1], 16);
    at = lf + 1;
    if (n === 0) break;
    size += n;
    if (size > limits.maxBodyBytes) {
      return fail(413, `chunked body of more than ${limits.maxBodyBytes} bytes`);
    }
    if (buf.length < at + n + 1) return undefined;
    parts.push(buf.subarray(at, at + n));
    at += n;
    if (buf[at] === CR) at++;
    if (at >= buf.length) return undefined;
    if (buf[at] !== LF) return fail(400, "chunk data longer than its size");
    at++;
  }
  // Trailer fields, up to an empty line; read and dropped.
  for (;;) {
    const lf = buf.indexOf(LF, at);
    if (lf < 0) {
      return buf.length - at > limits.maxHeaderBytes ? fail(431, "trailer too long") : undefined;
    }
    const empty = lf === at || (lf === at + 1 && buf[at] === CR);
    at = lf + 1;
    if (empty) break;
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return { body, end: at };
}

/**
 * Parses one request from the start of `buf`.
 *
 * @param buf the bytes read so far, from the start of the request
 * @param limits the size limits
 * @param head the head an earlier call parsed from the same buffer, if any
 *
 * @example
 * ```ts
 * import { parseRequest } from "@plumb/plumb/http";
 *
 * const bytes = new TextEncoder().encode("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n");
 * const outcome = parseRequest(bytes, { maxHeaderBytes: 8192, maxBodyBytes: 1024 });
 * if (outcome.kind === "request") console.log(outcome.request.path); // "/a"
 * ```
 */
export function parseRequest(
  buf: Uint8Array,
  limits: RequestLimits,
  head?: ParsedHead,
): ParseOutcome {
  if (head === undefined) {
    const parsed = parseHead(buf, limits);
    if (parsed === undefined) return { kind: "more", head: undefined };
    if ("kind" in parsed) return parsed;
    head = parsed;
  }
  const { request, bodyStart, length } = head;
  if (length >= 0) {
    const end = bodyStart + length;
    if (buf.length < end) return { kind: "more", head };
    request.body = length === 0 ? EMPTY : buf.subarray(bodyStart, end);
    return { kind: "request", request, end };
  }
  const chunked = parseChunked(buf, bodyStart, limits);
  if (chunked === undefined) {
    // Tiny chunks with long extensions: the framing, too, is bounded.
    if (buf.length - bodyStart > 2 * limits.maxBodyBytes + 65536) {
      return fail(413, `chunked body framing longer than ${2 * limits.maxBodyBytes + 65536} bytes`);
    }
    return { kind: "more", head };
  }
  if ("kind" in chunked) return chunked;
  request.body = chunked.body;
  return { kind: "request", request, end: chunked.end };
}
