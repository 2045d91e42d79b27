/**
 * HTTP/1.1 as servlets: the values `http/parser`, `http/router`,
 * `http/static` and `http/render` pass each other, and the helpers a handler
 * of your own uses to answer. A graph joins them (see `examples/http.json`):
 *
 * ```text
 * connection → http/parser ─out→ http/router ─out0→ your handler ─→ http/render → connection
 *                          └head────────────────────────────────────↗
 * ```
 *
 * @example
 * ```ts
 * import { jsonResponse, type HttpRequest } from "@plumb/plumb/http";
 *
 * function answer(request: HttpRequest) {
 *   return jsonResponse({ path: request.path });
 * }
 * console.log(answer({ path: "/a" } as HttpRequest).body); // '{"path":"/a"}'
 * ```
 * @module
 */
export {
  HTTP_HEAD,
  HTTP_PIPE_TYPES,
  HTTP_REQUEST,
  HTTP_RESPONSE,
  type HttpHead,
  type HttpRequest,
  type HttpResponse,
  jsonResponse,
  STATUS_TEXT,
  textResponse,
} from "./types.ts";
export { type ParseOutcome, parseRequest, type RequestLimits } from "./request_parser.ts";
export { compileRoute, matchRoute, type Route } from "./router.ts";
export { contentType, MIME_TYPES } from "./mime.ts";
