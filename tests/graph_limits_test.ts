/**
 * Graphs as code, attacked (issue 20): a graph too large or nested too deep
 * is one short line, not a stack overflow or a megabyte of brackets; a long
 * chain within the limits is checked and served; names that are Object's own
 * (`constructor`, `__proto__`) are names like any other; servlets are loaded
 * only from specifiers a Deno flag confines.
 * @module
 */
import { checkGraph, type GraphSpec } from "../host/mod.ts";
import { contentType } from "../servlets/http/mod.ts";
import { simulate } from "../testing/mod.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { path, runCli } from "./helpers.ts";

/** A chain of `n` echo nodes, first to last. */
function chain(n: number): GraphSpec {
  const nodes: GraphSpec["nodes"] = {};
  for (let i = 0; i < n; i++) nodes[`n${i}`] = { servlet: "echo" };
  const edges = Array.from(
    { length: n - 1 },
    (_, i) => ({ from: `n${i}.out`, to: `n${i + 1}.in` }),
  );
  return { nodes, edges, input: "n0.in", output: `n${n - 1}.out` };
}

Deno.test("graph limits: 10000 nodes in a chain are checked (no stack overflow) and answer; 10001 is one line", async () => {
  const checked = await checkGraph(chain(10000));
  assertEquals(checked.nodes.length, 10000);
  await using sim = await simulate(chain(2000));
  await using client = await sim.connect();
  await client.send("through 2000 nodes\n");
  assertEquals(await client.readLine(), "through 2000 nodes\n");
  await assertRejects(
    () => checkGraph(chain(10001)),
    Error,
    'graph: "nodes" has 10001 entries, more than 10000; split the service into several graphs',
  );
});

Deno.test("graph limits: nesting past 32 levels is refused with where, in one short line", async () => {
  const deep: unknown[] = [];
  let inner = deep;
  for (let i = 0; i < 100000; i++) {
    const next: unknown[] = [];
    inner.push(next);
    inner = next;
  }
  const graph = {
    nodes: { a: { servlet: "echo" } },
    input: "a.in",
    output: "a.out",
    listeners: [{ module: "tcp", options: { allow: deep } }],
  } as unknown as GraphSpec;
  const message = await checkGraph(graph).then(() => "", (error: Error) => error.message);
  assert(message.length < 300, `a message of ${message.length} characters`);
  assert(
    message.startsWith("graph: nested more than 32 levels deep at listeners.0.options.allow.0.0."),
    message,
  );
  // A graph that holds itself is measured too.
  const loop: Record<string, unknown> = {
    nodes: { a: { servlet: "echo" } },
    input: "a.in",
    output: "a.out",
  };
  loop.description = loop;
  await assertRejects(
    () => checkGraph(loop as unknown as GraphSpec),
    Error,
    "nested more than 32 levels deep at description.description.",
  );
});

Deno.test("graph limits: names that are Object's own are names like any other", async () => {
  await using sim = await simulate({
    nodes: {
      constructor: { servlet: "echo" },
      ["__proto__"]: { servlet: "transform", args: ["upper"] },
    },
    edges: [{ from: "constructor.out", to: "__proto__.in" }],
    input: "constructor.in",
    output: "__proto__.out",
  } as unknown as GraphSpec);
  await using client = await sim.connect();
  await client.send("own names\n");
  assertEquals(await client.readLine(), "OWN NAMES\n");
  for (
    const [graph, message] of [
      [
        { nodes: { a: { servlet: "constructor" } }, input: "a.in", output: "a.out" },
        'node "a": unknown servlet "constructor"',
      ],
      [{
        nodes: { a: { servlet: "transform", args: ["constructor"] } },
        input: "a.in",
        output: "a.out",
      }, 'unknown transform "constructor"'],
      [{
        nodes: { a: { servlet: "echo" } },
        input: "a.in",
        output: "a.out",
        listeners: [{ module: "constructor" }],
      }, 'unknown module "constructor"'],
      [{
        nodes: { a: { servlet: "echo" } },
        input: "a.in",
        output: "a.out",
        listeners: [{ module: "tcp", options: { toString: 1 } }],
      }, 'unknown option "toString"'],
      [
        { nodes: { a: { servlet: "echo" } }, input: "a.constructor", output: "a.out" },
        'node "a" has no port "constructor"',
      ],
    ] as const
  ) {
    await assertRejects(() => checkGraph(graph as unknown as GraphSpec), Error, message);
  }
});

Deno.test("graph as code: data:, node: and http: servlets are refused; a file needs --allow-read of it", async () => {
  for (
    const specifier of [
      "data:text/javascript,export default 1",
      "node:fs",
      "http://127.0.0.1:9/x.ts",
      "blob:x",
    ]
  ) {
    const scheme = specifier.slice(0, specifier.indexOf(":") + 1);
    await assertRejects(
      () => checkGraph({ nodes: { a: { servlet: specifier } }, input: "a.in", output: "a.out" }),
      Error,
      `a servlet is loaded from a built-in name, a path, or a file:, https:, jsr:, npm: specifier, not ${scheme}`,
    );
  }
  // examples/upper.json names ./upper.ts: readable only with --allow-read of it.
  const result = await runCli(["examples/upper.json", "--check"], [
    "--allow-read=examples/upper.json",
  ]);
  assertEquals(result.code, 2);
  assert(result.stderr.includes("upper.ts"), result.stderr);
  assert(result.stderr.includes("--allow-read"), result.stderr);
});

Deno.test("client words that are Object's own: ELIZA hears them as words, a file type is a file type", async () => {
  await using sim = await simulate(path("examples/eliza.json"));
  await using client = await sim.connect();
  await client.readLine(); // the greeting
  await client.send("I feel constructor\n");
  assertEquals(await client.readLine(), "Tell me more about such feelings.\n");
  await client.send("you are hasOwnProperty\n");
  assertEquals(await client.readLine(), "What makes you think I am hasownproperty?\n");
  assertEquals(contentType("a.constructor"), "application/octet-stream");
  assertEquals(contentType("a.__proto__"), "application/octet-stream");
});
