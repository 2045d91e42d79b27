/**
 * Value steps (`kernel/value_steps.ts`): a request whose bytes are all here,
 * through a graph whose entry node has a `step`, runs as plain calls, all or
 * nothing; anything the steps cannot answer runs `exec` from the start, as if
 * no step had run. Over real TCP connections, exact replies.
 *
 * `tests/fixtures/step_or_exec.ts` answers `step: ...` from its step and
 * `exec: ...` from its exec, so these tests see which path ran;
 * `tests/fixtures/step_tail.ts` (and `exec_tail.ts`, the same without a
 * step) is a second node reading its value.
 */
import { assert, assertEquals } from "./assert.ts";
import { simulate, TcpClient, type TestClient } from "../testing/mod.ts";
import { serve } from "../host/mod.ts";
import { DECLINES_TO_REST, REST_REQUESTS } from "../kernel/value_steps.ts";
import type { GraphSpec } from "../kernel/graph.ts";

const tcp = { transport: "tcp", logLevel: "info" } as const;
const ENTRY = "./tests/fixtures/step_or_exec.ts";

/** The fixture alone, as the whole graph. */
const single: GraphSpec = { nodes: { n: { servlet: ENTRY } }, input: "n.in", output: "n.out" };

/** The fixture writing a value to a tail node, which answers. */
function withTail(tail: string): GraphSpec {
  return {
    nodes: { n: { servlet: ENTRY, args: ["value"] }, tail: { servlet: tail } },
    edges: [{ from: "n.out", to: "tail.in" }],
    input: "n.in",
    output: "tail.out",
  };
}

/** `text` and a line end in one write, then `count` reply lines. */
async function ask(c: TestClient, text: string, count = 1): Promise<string[]> {
  await c.send(`${text}\n`);
  return await c.readLines(count);
}

Deno.test("value steps: a request all here runs the steps, and a second node reads the value", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  assertEquals(await ask(c, "hi"), ["step: hi\n"]);
  assertEquals(await ask(c, "twice", 2), ["step: twice\n", "step: twice\n"]);
  await using chained = await simulate(withTail("./tests/fixtures/step_tail.ts"), tcp);
  await using d = await chained.connect();
  assertEquals(await ask(d, "hi"), ["tail step: step: hi\n"]);
});

Deno.test("value steps: a step that declines, throws or returns a promise leaves the request to exec", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  await using other = await sim.connect();
  for (const text of ["decline", "throw", "promise", "reject", "object", "caught"]) {
    assertEquals(await ask(c, text), [`exec: ${text}\n`], text);
  }
  // Nothing of the thrown-away runs was reported: exec answered each, and the host goes on.
  assertEquals(sim.logs.filter((line) => line.includes("PLUMB_REQUEST_FAILED")), []);
  assertEquals(await ask(c, "after"), ["step: after\n"]);
  assertEquals(await ask(other, "else"), ["step: else\n"]);
});

Deno.test("value steps: a failure is exec's, reported once by node, and the connection goes on", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  const [reply] = await ask(c, "fail");
  assert(reply.startsWith("error: "), reply);
  const failures = sim.logs.filter((line) => line.includes("PLUMB_REQUEST_FAILED"));
  assertEquals(failures.length, 1, failures.join("\n"));
  assert(failures[0].includes(`node "n"`) && failures[0].includes("fail requested"), failures[0]);
  assertEquals(await ask(c, "after"), ["step: after\n"]);
});

Deno.test("value steps: a run thrown away leaves no PERSIST vote; one kept closes the connection", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  // The step said close, then declined: exec's word (keep) is the one that counts.
  assertEquals(await ask(c, "vote"), ["exec: vote\n"]);
  assertEquals(await ask(c, "still open"), ["step: still open\n"]);
  // A step that says close and answers: the reply, then the end.
  assertEquals(await ask(c, "close"), ["step: close\n"]);
  assertEquals(await c.readToEnd(), "");
});

Deno.test("value steps: a graph whose runs keep being thrown away rests, then tries again", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  for (let i = 0; i < DECLINES_TO_REST; i++) {
    assertEquals(await ask(c, "decline"), ["exec: decline\n"]);
  }
  // Resting: exec answers without the steps being tried, then they are tried again.
  for (let i = 0; i < REST_REQUESTS; i++) assertEquals(await ask(c, "hi"), ["exec: hi\n"]);
  assertEquals(await ask(c, "awake"), ["step: awake\n"]);
  // A run kept starts the count again.
  for (let i = 1; i < DECLINES_TO_REST; i++) await ask(c, "decline");
  assertEquals(await ask(c, "kept"), ["step: kept\n"]);
  assertEquals(await ask(c, "decline"), ["exec: decline\n"]);
  assertEquals(await ask(c, "still"), ["step: still\n"]);
});

Deno.test("value steps: a node without a step, or an edge written twice, runs the whole request through exec", async () => {
  await using sim = await simulate(withTail("./tests/fixtures/exec_tail.ts"), tcp);
  await using c = await sim.connect();
  // The entry's step ran and was thrown away: its value never reached the tail.
  assertEquals(await ask(c, "hi"), ["tail exec: exec: hi\n"]);
  await using chained = await simulate(withTail("./tests/fixtures/step_tail.ts"), tcp);
  await using d = await chained.connect();
  // undefined on an edge is exec's to write, even when the step catches the throw.
  assertEquals(await ask(d, "caught"), ["tail exec: exec: caught\n"]);
  // Twice through exec too: the tail's exec reads one value.
  assertEquals(await ask(d, "twice"), ["tail exec: exec: twice\n"]);
  assertEquals(await ask(d, "once"), ["tail step: step: once\n"]);
});

Deno.test("value steps: while a node keeps a state with the connection, its requests run exec", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  assertEquals(await ask(c, "state"), ["exec: state\n"]);
  // exec kept a state: the next request is exec's, and takes it back.
  assertEquals(await ask(c, "next"), ["exec: next (kept state)\n"]);
  assertEquals(await ask(c, "then"), ["step: then\n"]);
});

Deno.test("value steps: a task kept past its step is refused (PLUMB_PIPE_AFTER_END)", async () => {
  await using sim = await simulate(single, tcp);
  await using c = await sim.connect();
  assertEquals(await ask(c, "keep"), ["step: keep\n"]);
  assertEquals(await ask(c, "late"), ["step: late PLUMB_PIPE_AFTER_END\n"]);
});

Deno.test("value steps: under --admin (counted pipes) every request runs exec", async () => {
  const host = await serve({
    ...single,
    listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }],
  }, { logLevel: "error", metrics: true });
  try {
    await using c = await TcpClient.connect(Number(new URL(host.urls[0]).port));
    assertEquals(await ask(c, "x"), ["exec: x\n"]);
  } finally {
    await host.close();
  }
});

Deno.test("value steps: examples/http.json answers the same through steps and through exec", async () => {
  const graph = JSON.parse(await Deno.readTextFile("examples/http.json")) as GraphSpec;
  delete graph.listeners;
  graph.nodes.files.args = ["./examples/www"];
  graph.nodes.hello.servlet =
    graph.nodes.echo.servlet =
    graph.nodes.upload.servlet =
      "./examples/http_api.ts";
  const requests = [
    "GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/hello?name=Ada HTTP/1.1\r\nHost: x\r\n\r\n",
    "HEAD /api/hello HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/nope HTTP/1.1\r\nHost: x\r\n\r\n",
    'POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{"a":1}',
    "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nnot",
    "POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "GET /api/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  ];
  await using sim = await simulate(graph, tcp);
  for (const request of requests) {
    // Twice in one write: the first through exec (the bytes are more than one request), the
    // second through the steps (what is left is one whole request).
    await using c = await sim.connect();
    await c.send(request + request);
    // Not a condition of the test: a close request sent at once could join the pair's read.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await c.send("GET /api/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const replies = (await c.readToEnd()).replace(/date: [^\r]*/g, "date: D").split(
      /(?=HTTP\/1\.1 )/,
    );
    assertEquals(replies.length, 3, `${request}: ${replies.join("|")}`);
    assertEquals(replies[1], replies[0], JSON.stringify(request));
  }
});

Deno.test("value steps: http/parser's step keeps to --max-buffered-bytes, as its exec does", async () => {
  const graph = JSON.parse(await Deno.readTextFile("examples/http.json")) as GraphSpec;
  delete graph.listeners;
  graph.nodes.parse.args = ["--max-buffered-bytes", "16"];
  graph.nodes.files.args = ["./examples/www"];
  graph.nodes.hello.servlet =
    graph.nodes.echo.servlet =
    graph.nodes.upload.servlet =
      "./examples/http_api.ts";
  await using sim = await simulate(graph, tcp);
  await using c = await sim.connect();
  // A chunked body of 20 bytes, all in one write: more than the budget, whichever path reads it.
  const body = "14\r\n" + "x".repeat(20) + "\r\n0\r\n\r\n";
  await c.send(`POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  const reply = await c.readToEnd();
  assert(reply.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), reply);
});
