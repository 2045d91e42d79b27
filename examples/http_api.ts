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
 * @module
 */
import { defineServlet, PlumbError } from "../mod.ts";
import { HTTP_REQUEST, HTTP_RESPONSE, jsonResponse, textResponse } from "../servlets/http/types.ts";

const decoder = new TextDecoder();

export default defineServlet({
  description: "a JSON endpoint: hello (a greeting) or echo (the JSON body back)",
  init(args, env) {
    if (args.length !== 1 || (args[0] !== "hello" && args[0] !== "echo")) {
      throw new PlumbError(
        "PLUMB_SERVLET_INIT_FAILED",
        `http_api: args are ["hello"] or ["echo"], got ${JSON.stringify(args)}`,
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
    if (ctx.endpoint === "hello") {
      const name = new URLSearchParams(request.query).get("name") ?? "world";
      await task.writeValue(ctx.output, jsonResponse({ message: `Hello, ${name}!` }));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(request.body));
    } catch {
      await task.writeValue(ctx.output, textResponse(400, "the body is not JSON"));
      return;
    }
    const echo = { method: request.method, path: request.path, body };
    await task.writeValue(ctx.output, jsonResponse(echo));
  },
});
