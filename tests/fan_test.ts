/**
 * Fan-out and fan-in as the kernel runs them (`kernel/edge_handles.ts`): the
 * producer of a fan-out writes its branches' pipes, the consumer of a fan-in
 * reads the first branch, in the file's order, that carries anything. Over
 * real TCP connections (the testing kit's `simulate` with `transport: "tcp"`),
 * exact replies.
 */
import { assert, assertEquals } from "./assert.ts";
import { simulate, TcpClient } from "../testing/mod.ts";
import { serve } from "../host/mod.ts";
import { calls, spy } from "./fixtures/spy.ts";

const tcp = { transport: "tcp", logLevel: "info" } as const;

Deno.test("fan-in prefers its branches in the file's order, not in the order they answer", async () => {
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      slow: { servlet: "./tests/fixtures/delay.ts" },
      fast: { servlet: "transform", args: ["upper"] },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "split.out", to: "slow.in" },
      { from: "split.out", to: "fast.in" },
      { from: "slow.out", to: "reply.in" },
      { from: "fast.out", to: "reply.in" },
    ],
    input: "split.in",
    output: "reply.out",
  }, tcp);
  await using c = await sim.connect();
  // `fast` answers at once and `slow` 40 ms later; the join waits for `slow`, listed first.
  await c.send("40\n");
  assertEquals(await c.readLine(), "slept 40\n");
  await c.send("5\n");
  assertEquals(await c.readLine(), "slept 5\n");
});

Deno.test("fan-in: a branch that failed before writing counts as empty, the next one answers", async () => {
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      strict: { servlet: "./tests/fixtures/fail.ts" },
      loud: { servlet: "transform", args: ["upper"] },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "split.out", to: "strict.in" },
      { from: "split.out", to: "loud.in" },
      { from: "strict.out", to: "reply.in" },
      { from: "loud.out", to: "reply.in" },
    ],
    input: "split.in",
    output: "reply.out",
  }, tcp);
  await using c = await sim.connect();
  await c.send("fine\n");
  assertEquals(await c.readLine(), "ok: fine\n");
  await c.send("boom\n");
  assertEquals(await c.readLine(), "BOOM\n");
  const failures = sim.logs.filter((line) => line.includes("PLUMB_REQUEST_FAILED"));
  assertEquals(failures.length, 1, failures.join("\n"));
  assert(failures[0].includes(`node "strict"`), failures[0]);
  await c.send("again\n");
  assertEquals(await c.readLine(), "ok: again\n");
});

Deno.test("fan-out: a producer that fails after writing is the one failure reported; the connection goes on", async () => {
  await using sim = await simulate({
    nodes: {
      maybe: { servlet: "./tests/fixtures/fail.ts" },
      left: { servlet: "echo" },
      right: { servlet: "transform", args: ["upper"] },
    },
    edges: [
      { from: "maybe.out", to: "left.in" },
      { from: "maybe.out", to: "right.in" },
    ],
    input: "maybe.in",
    output: "left.out",
  }, tcp);
  await using c = await sim.connect();
  await c.send("first\n");
  assertEquals(await c.readLine(), "ok: first\n");
  // "half" writes the start of a line, then throws: the partial reply went out
  // (so no error reply), the request fails, and the connection goes on.
  await c.send("half\n");
  await c.send("next\n");
  assertEquals(await c.readLine(), "partial ok: next\n");
  const failures = sim.logs.filter((line) => line.includes("PLUMB_REQUEST_FAILED"));
  assertEquals(failures.length, 1, failures.join("\n"));
  assert(failures[0].includes(`node "maybe"`), failures[0]);
});

Deno.test("fan-out of a __null__ signal starts every branch; the fan-in takes the branch that ran", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      route: { servlet: "./tests/fixtures/router.ts" },
      n1: spy("n1"),
      n2: spy("n2"),
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "route.__null__", to: "n1.in" },
      { from: "route.__null__", to: "n2.in" },
      { from: "route.a", to: "reply.in" },
      { from: "n1.out", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
  }, tcp);
  await using c = await sim.connect();
  // An empty line: the router writes nothing, so __null__ fires down both branches.
  await c.send("\nabc\n");
  assertEquals(await c.readLine(), "n1 saw \n");
  assertEquals(await c.readLine(), "abc\n");
  assertEquals(calls.toSorted(), ["n1: ", "n2: "]);
});

Deno.test("metrics: the kernel's fan nodes run no servlet and are not counted; their branches are", async () => {
  const host = await serve("examples/router.json", { port: 0, logLevel: "error", metrics: true });
  try {
    await using c = await TcpClient.connect(Number(new URL(host.urls[0]).port));
    await c.send("?abc\n");
    assertEquals(await c.readLine(), "cba?\n");
    const snapshot = host.metrics()!;
    assertEquals(
      snapshot.nodes.map((n) => [n.name, n.requests]).toSorted(),
      [["audit", 1], ["flip", 1], ["greet", 0], ["reply", 1], ["route", 1], ["shout", 0], [
        "split",
        1,
      ]],
    );
    const edges = snapshot.edges.filter((e) => e.writes > 0).map((e) => `${e.from} -> ${e.to}`);
    assertEquals(edges.toSorted(), [
      "flip.out -> reply~in~join.in1",
      "route.out1 -> flip.in",
      "split~out~dup.out0 -> route.in",
      "split~out~dup.out1 -> audit.in",
    ]);
  } finally {
    await host.close();
  }
});
