/**
 * A JSON endpoint of your own for `examples/http.json`: a handler reads an
 * `HttpRequest` value and writes an `HttpResponse` value, and `http/render`
 * turns it into bytes on the connection.
 *
 * - `GET /api/hello?name=N`: `{"message":"Hello, N!"}` (`N` defaults to `world`).
 * - `POST /api/echo` with a JSON body: `{"method":"POST","path":"/api/echo","body":...}`;
 *   a body that is not JSON gets 400.
 * @module
 */
import { defineServlet, INPUT, OUTPUT, type Port } from "../mod.ts";
import { type HttpRequest, jsonResponse, textResponse } from "../servlets/http/types.ts";

/** The context of an API node. */
export interface ApiContext {
  /** The routed request. */
  input: Port;
  /** The response. */
  output: Port;
}

const decoder = new TextDecoder();

export default defineServlet({
  description: "a JSON endpoint: GET /api/hello, POST /api/echo",
  init(_args, env): ApiContext {
    return {
      input: env.define("in", INPUT, "http/request"),
      output: env.define("out", OUTPUT, "http/response"),
    };
  },
  async exec(ctx, task): Promise<void> {
    const request = await task.readValue<HttpRequest>(ctx.input);
    if (request === null) return;
    if (request.path === "/api/hello") {
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
