/**
 * The values the HTTP servlets pass each other over their pipes (with
 * `task.writeValue`/`task.readValue`): a parsed {@linkcode HttpRequest}, the
 * {@linkcode HttpHead} the parser tells `http/render` about each exchange, and
 * the {@linkcode HttpResponse} a handler answers with.
 *
 * A handler of your own reads an `HttpRequest` and writes an `HttpResponse`,
 * on ports declared with {@linkcode HTTP_REQUEST} and
 * {@linkcode HTTP_RESPONSE}, which type them:
 *
 * @example
 * ```ts
 * import { defineServlet } from "@plumb/plumb";
 * import { HTTP_REQUEST, HTTP_RESPONSE } from "@plumb/plumb/http";
 *
 * export default defineServlet({
 *   init(_args, env) {
 *     return {
 *       request: env.input("request", { type: HTTP_REQUEST }),
 *       response: env.output("response", { type: HTTP_RESPONSE }),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     const request = await task.readValue(ctx.request); // an HttpRequest
 *     if (request === null) return;
 *     await task.writeValue(ctx.response, {
 *       status: 200,
 *       headers: { "content-type": "text/plain; charset=utf-8" },
 *       body: `you asked for ${request.path}\n`,
 *     });
 *   },
 * });
 * ```
 * @module
 */
import { type PipeType, pipeType } from "../../mod.ts";

/**
 * `http/request`: a parsed {@linkcode HttpRequest} as a value (so `json` on a
 * byte pipe). A port declared with it is a `Port<HttpRequest>`, and the node
 * that declares it registers the type for the graph check.
 *
 * @example
 * ```ts
 * import { HTTP_REQUEST } from "@plumb/plumb/http";
 * import { assertEquals } from "@std/assert";
 * assertEquals([HTTP_REQUEST.name, HTTP_REQUEST.extends], ["http/request", "json"]);
 * ```
 */
export const HTTP_REQUEST: PipeType<HttpRequest> = pipeType<HttpRequest>("http/request", "json");

/**
 * `http/head`: what `http/parser` tells `http/render` of each exchange, an
 * {@linkcode HttpHead} value.
 *
 * @example
 * ```ts
 * import { HTTP_HEAD } from "@plumb/plumb/http";
 * import { assertEquals } from "@std/assert";
 * assertEquals(HTTP_HEAD.extends, "json");
 * ```
 */
export const HTTP_HEAD: PipeType<HttpHead> = pipeType<HttpHead>("http/head", "json");

/**
 * `http/response`: an {@linkcode HttpResponse} value, and after one without a
 * `body`, the body's bytes (so it extends `bytes`). A port declared with it
 * is a `Port<HttpResponse | Uint8Array>`: `task.writeValue(port, response)`
 * and `task.write(port, bytes)` for a streamed body; `task.write(port,
 * "text")` is a type error.
 *
 * @example
 * ```ts
 * import { HTTP_RESPONSE } from "@plumb/plumb/http";
 * import { assertEquals } from "@std/assert";
 * assertEquals([HTTP_RESPONSE.name, HTTP_RESPONSE.extends], ["http/response", "bytes"]);
 * ```
 */
export const HTTP_RESPONSE: PipeType<HttpResponse | Uint8Array> = pipeType<
  HttpResponse | Uint8Array
>("http/response", "bytes");

/**
 * The pipe types of the HTTP servlets, by name, each to the type it extends:
 * what {@linkcode HTTP_REQUEST}, {@linkcode HTTP_HEAD} and
 * {@linkcode HTTP_RESPONSE} register.
 *
 * @example
 * ```ts
 * import { HTTP_PIPE_TYPES } from "@plumb/plumb/http";
 * import { assertEquals } from "@std/assert";
 * assertEquals(HTTP_PIPE_TYPES["http/request"], "json");
 * ```
 */
export const HTTP_PIPE_TYPES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries([HTTP_REQUEST, HTTP_HEAD, HTTP_RESPONSE].map((t) => [t.name, t.extends])),
);

/** One HTTP/1.x request, as `http/parser` read it. */
export interface HttpRequest {
  /** The method, as sent (`GET`, `POST`, ...). */
  method: string;
  /** The request target, as sent (`/a%20b?x=1`). */
  target: string;
  /**
   * The target's path, normalised by `http/parser`: percent-decoded, with no
   * `.`, `..` or empty segments (`/a%20b//./c` is `/a b/c`). What
   * `http/router` matches and `http/static` serves; `target` keeps it as sent.
   */
  path: string;
  /** The target's query without its `?` (`x=1`), or `""`. */
  query: string;
  /** The protocol version: `"1.1"` or `"1.0"`. */
  version: "1.0" | "1.1";
  /**
   * The header fields by lower-case name; a field sent more than once has its
   * values joined with `, `.
   */
  headers: Record<string, string>;
  /** The body, de-chunked; empty when there is none, or when it is streamed. */
  body: Uint8Array;
  /**
   * The body as it arrives, when it is longer than `http/parser`'s
   * `--max-body-bytes` and no longer than its `--max-stream-bytes` (else
   * absent): its pieces, de-chunked, with the connection's backpressure (the
   * parser reads the connection only as this stream is read). Read it to its
   * end, or cancel it (the connection is then closed after the reply): the
   * reply is written once the body has been read. It errors when the body
   * cannot be read to its end (the client went, `--body-timeout` passed, bad
   * chunk framing, too long); the client then gets the parser's error reply.
   */
  stream?: ReadableStream<Uint8Array>;
  /** Whether the client wants the connection kept after this exchange. */
  keepAlive: boolean;
  /**
   * What `http/router` matched: a `:name` segment's value by name, and `*`
   * for the rest of the path under a `/prefix/*` route (decoded, as `path`).
   */
  params: Record<string, string>;
}

/** A response, as a handler writes it to `http/render`. */
export interface HttpResponse {
  /** The status code (200, 404, ...). */
  status: number;
  /** The reason phrase; default the standard one for the status. */
  reason?: string;
  /**
   * Header fields by name. `content-length`, `transfer-encoding` and
   * `connection` are the renderer's and are ignored here.
   */
  headers?: Record<string, string>;
  /**
   * The body. When absent, the bytes written to the same port after this
   * value are the body, streamed: sent with `content-length` when `length`
   * is given, else chunked (HTTP/1.1) or ended by closing (HTTP/1.0).
   */
  body?: string | Uint8Array;
  /** The length of a streamed body, in bytes, when known. */
  length?: number;
}

/** What `http/render` needs to know of the exchange it answers. */
export interface HttpHead {
  /** The request's method (`HEAD` is answered without a body). */
  method: string;
  /** The request's protocol version. */
  version: "1.0" | "1.1";
  /** Set when the request could not be read: the response to send instead, and close. */
  error?: HttpResponse;
  /**
   * Set when the client waits to be told to send its body (`Expect:
   * 100-continue`): the exchange is only the interim `100 Continue`, and the
   * request goes on in the next one.
   */
  continue?: boolean;
  /**
   * The request's body stream, when it is streamed (`HttpRequest.stream`):
   * render cancels it when the response is complete and no handler reads it
   * (no route took the request), so that the parser stops waiting for a
   * reader.
   */
  stream?: ReadableStream<Uint8Array>;
}

/** The reason phrases of the status codes the servlets use, and the common ones. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/**
 * A short plain-text response for a status: `404 Not Found` and why.
 *
 * @example
 * ```ts
 * import { textResponse } from "@plumb/plumb/http";
 *
 * const reply = textResponse(404, "no such page");
 * console.log(reply.body); // "404 Not Found: no such page\n"
 * ```
 */
export function textResponse(
  status: number,
  detail?: string,
  headers: Record<string, string> = {},
): HttpResponse {
  const head = `${status} ${STATUS_TEXT[status] ?? "Unknown"}`;
  return {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    body: detail === undefined ? `${head}\n` : `${head}: ${detail}\n`,
  };
}

/**
 * A JSON response: the value as the body, with its content type.
 *
 * @example
 * ```ts
 * import { jsonResponse } from "@plumb/plumb/http";
 *
 * console.log(jsonResponse({ ok: true }).body); // '{"ok":true}'
 * ```
 */
export function jsonResponse(value: unknown, status = 200): HttpResponse {
  return {
    status,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
  };
}
