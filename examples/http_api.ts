/**
 * JSON endpoints of your own for `examples/http.json`: a handler reads an
 * `HttpRequest` value and writes an `HttpResponse` value, and `http/render`
 * turns it into bytes on the connection. The argument says which endpoint a
 * node is (the router sends each its own requests):
 *
 * - `hello`: `{"message":"Hello, N!"}` for `?name=N` (`N` defaults to `world`).
 * - `echo`: the request's JSON body back, as
 *   `{"method":"POST","path":"/api/echo","body":...}`; a body that is not
 *   JSON gets 400.
 * - `upload`: counts and hashes the body, of any size the parser takes:
 *   `{"bytes":N,"sha256":"<hex>"}`. A body longer than the parser's
 *   `--max-body-bytes` comes as `request.stream`, and is read piece by piece
 *   as it arrives, never whole.
 * @module
 */
import { createHash } from "node:crypto";
import { defineServlet, PlumbError } from "../mod.ts";
import {
  HTTP_REQUEST,
  HTTP_RESPONSE,
  type HttpRequest,
  type HttpResponse,
  jsonResponse,
  textResponse,
} from "../servlets/http/types.ts";

const decoder = new TextDecoder();
const ENDPOINTS = ["hello", "echo", "upload"];

export default defineServlet({
  description: "a JSON endpoint: hello (a greeting), echo (the JSON body back), upload (its size)",
  init(args, env) {
    if (args.length !== 1 || !ENDPOINTS.includes(args[0])) {
      throw new PlumbError(
        "PLUMB_SERVLET_INIT_FAILED",
        `http_api: args are ["hello"], ["echo"] or ["upload"], got ${JSON.stringify(args)}`,
      );
    }
    return {
      endpoint: args[0], // which endpoint the node is
      input: env.input("in", { type: HTTP_REQUEST }), // the routed request
      output: env.output("out", { type: HTTP_RESPONSE }),
    };
  },
  async exec(ctx, task) {
    const request = await task.readValue(ctx.input); // an HttpRequest
    if (request === null) return;
    const stream = request.stream;
    if (stream !== undefined && ctx.endpoint === "upload") {
      // A large body streams in as it arrives, and is hashed piece by piece.
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const piece of stream) {
        hash.update(piece);
        bytes += piece.length;
      }
      await task.writeValue(ctx.output, jsonResponse({ bytes, sha256: hash.digest("hex") }));
      return;
    }
    if (stream !== undefined && ctx.endpoint === "echo") {
      // Longer than the parser keeps whole: more than this endpoint echoes.
      await stream.cancel();
      await task.writeValue(ctx.output, textResponse(413, "the body is too long to echo"));
      return;
    }
    await task.writeValue(ctx.output, answer(ctx.endpoint, request));
  },
  // The same answers as a plain call (see ServletDefinition.step): a request whose body is
  // all here is answered at once; a streamed one (which the parser's step never makes) runs exec.
  step(ctx, task) {
    const request = task.value(ctx.input);
    if (request === undefined || request.stream !== undefined) return false;
    task.write(ctx.output, answer(ctx.endpoint, request));
  },
});

/** The answer of an endpoint to a request whose body is all in `body`. */
function answer(endpoint: string, request: HttpRequest): HttpResponse {
  if (endpoint === "hello") {
    // No query, no name: the usual request makes no URLSearchParams.
    const name = request.query === ""
      ? "world"
      : new URLSearchParams(request.query).get("name") ?? "world";
    return jsonResponse({ message: `Hello, ${name}!` });
  }
  if (endpoint === "upload") {
    const hash = createHash("sha256").update(request.body);
    return jsonResponse({ bytes: request.body.length, sha256: hash.digest("hex") });
  }
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(request.body));
  } catch {
    return textResponse(400, "the body is not JSON");
  }
  return jsonResponse({ method: request.method, path: request.path, body });
}
