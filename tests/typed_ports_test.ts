/**
 * `Port<T>` at compile time: a port declared with a `pipeType` is typed by
 * it, so a wrong call is a type error, not a failed request. Every
 * `@ts-expect-error` below is checked by `deno check` (and `deno test`): a
 * call that compiled would make the directive unused, which is an error too.
 * The misuses sit in functions that never run; the tests run the right uses.
 */
import {
  type AnyPort,
  defineServlet,
  type InitEnv,
  pipeType,
  type Port,
  type Task,
} from "../mod.ts";
import {
  HTTP_REQUEST,
  HTTP_RESPONSE,
  type HttpRequest,
  type HttpResponse,
  jsonResponse,
} from "../servlets/http/mod.ts";
import { runServlet } from "../testing/mod.ts";
import { assertEquals } from "./assert.ts";

/** An HTTP handler's ports, as `env.input`/`env.output` type them: a response, then body bytes. */
function httpPorts(
  env: InitEnv,
): { request: Port<HttpRequest>; response: Port<HttpResponse | Uint8Array> } {
  const request = env.input("in", { type: HTTP_REQUEST });
  const response = env.output("out", { type: HTTP_RESPONSE });
  return { request, response };
}

/** What an HTTP handler may not do with its typed ports. Never called. */
async function _httpMisuse(task: Task, env: InitEnv): Promise<void> {
  const request = env.input("in", { type: HTTP_REQUEST });
  const response = env.output("out", { type: HTTP_RESPONSE });
  // @ts-expect-error a response port carries a response value, not text
  await task.write(response, "hello");
  // @ts-expect-error nor a string as a value
  await task.writeValue(response, "hello");
  // @ts-expect-error nor a request
  await task.writeValue(response, { method: "GET" } as HttpRequest);
  // @ts-expect-error a request port carries values, not lines
  await task.readLine(request);
  // @ts-expect-error nor chunks of bytes
  await task.read(request);
  // @ts-expect-error nor values of another type
  await task.readValue<{ other: true }>(request);
  // @ts-expect-error a typed port is not an untyped one, which takes anything
  const untyped: Port = request;
  // A port of responses only takes no body bytes.
  const only: Port<HttpResponse> = response;
  // @ts-expect-error so bytes are refused
  await task.write(only, new Uint8Array(0));
  void untyped;
}

/** What the typed ports do take. Never called; the test below runs the same. */
async function _httpUse(task: Task, env: InitEnv): Promise<void> {
  const { request, response } = httpPorts(env);
  const value = await task.readValue(request); // HttpRequest | null, no type argument
  if (value === null) return;
  const path: string = value.path;
  await task.writeValue(response, jsonResponse({ path }));
  await task.writeValue(response, { status: 200, length: 2 });
  await task.write(response, new Uint8Array([104, 105])); // a streamed body's bytes
  for await (const next of task.values(request)) void next.method;
  await task.forward(request, response); // moving data as it is: any ports
  task.keepAlive(request, false);
}

/** A port of a type of your own, and the untyped ports of the wire form. Never called. */
async function _ownTypes(task: Task, env: InitEnv): Promise<void> {
  interface Reading {
    sensor: string;
    celsius: number;
  }
  const READING = pipeType<Reading>("weather/reading", "json");
  const readings = env.input("in", { type: READING });
  const copy = env.output("copy", { shadowOf: env.output("out", { type: READING }) });
  for await (const reading of task.values(readings)) {
    const celsius: number = reading.celsius;
    await task.writeValue(copy, { sensor: reading.sensor, celsius });
    // @ts-expect-error a shadow takes its target's type
    await task.writeValue(copy, { sensor: reading.sensor });
  }
  // An untyped port (a type name, or none) carries anything, named by the reader.
  const lines = env.input("lines", { type: "text/line" });
  const any: AnyPort = lines;
  void any;
  for await (const line of task.lines(lines)) void line.toUpperCase();
  const item = await task.readValue<Reading>(lines);
  if (item !== null) void item.sensor;
  const wire: Port = env.define("raw", 0);
  await task.write(wire, "text");
  await task.write(wire, new Uint8Array(0));
  await task.writeValue(wire, { any: "value" });
}

Deno.test("typed ports: a handler on HTTP_REQUEST/HTTP_RESPONSE reads a request and answers", async () => {
  const handler = defineServlet({
    init(_args, env) {
      return httpPorts(env);
    },
    async exec(ctx, task) {
      const request = await task.readValue(ctx.request);
      if (request !== null) await task.writeValue(ctx.response, jsonResponse(request.path));
    },
  });
  // runServlet's inputs are text: a request is a line of JSON there.
  const result = await runServlet(handler, { in: '{"path":"/a"}\n' });
  assertEquals(result.error, undefined);
  assertEquals(JSON.parse(result.outputs.out), {
    status: 200,
    headers: { "content-type": "application/json" },
    body: '"/a"',
  });
  assertEquals([_httpMisuse, _httpUse, _ownTypes].map((f) => typeof f), [
    "function",
    "function",
    "function",
  ]);
});
