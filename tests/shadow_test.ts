/**
 * The full dataflow model, over connections in memory (the testing kit's
 * `simulate`: the host's own session code and scheduler, no socket): SHADOW
 * outputs, DISABLED shadows routing a request down one branch, the dataflow
 * servlets, and the rewrite of fan-out and fan-in into dup and firstnonempty
 * nodes.
 */
import { assert, assertEquals } from "./assert.ts";
import { simulate } from "../testing/mod.ts";
import { progress } from "./fixtures/gen.ts";
import { calls, spy } from "./fixtures/spy.ts";
import { lateShadowErrors } from "./fixtures/late_shadow.ts";

Deno.test("fan-out: one output feeding two inputs is rewritten into dataflow/dup; both get every byte", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      left: spy("left"),
      right: spy("right"),
    },
    edges: [
      { from: "split.out", to: "left.in" },
      { from: "split.out", to: "right.in" },
    ],
    input: "split.in",
    output: "left.out",
  });
  assertEquals(sim.host.graph.nodes.toSorted(), ["left", "right", "split", "split~out~dup"]);
  await using c = await sim.connect();
  await c.send("same bytes\n");
  assertEquals(await c.readLine(), "left saw same bytes\n");
  assertEquals(calls.toSorted(), ["left: same bytes\n", "right: same bytes\n"]);
});

Deno.test("fan-out with a slow branch: the writer waits for it, memory stays bounded", async () => {
  progress.written = progress.slowRead = progress.maxGap = 0;
  await using sim = await simulate({
    nodes: {
      gen: { servlet: "./tests/fixtures/gen.ts" },
      slow: { servlet: "./tests/fixtures/slow.ts" },
      fast: { servlet: "./tests/fixtures/count.ts" },
    },
    edges: [
      { from: "gen.out", to: "slow.in" },
      { from: "gen.out", to: "fast.in" },
    ],
    input: "gen.in",
    output: "fast.out",
  });
  await using c = await sim.connect();
  const total = 4 * 1024 * 1024;
  await c.send(`${total}\n`);
  assertEquals(await c.readLine(), `count=${total}\n`);
  // Never more in flight than the two pipes' bounds (64 KiB each) and a chunk or two.
  assert(progress.maxGap <= 2 * 65536 + 3 * 4096, `gap reached ${progress.maxGap} bytes`);
  assert(progress.written === total);
});

Deno.test("demux routes each line down one branch; fan-in joins the branches back", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      route: { servlet: "dataflow/demux", args: ["/^a/", "bee"] },
      up: { servlet: "transform", args: ["upper"] },
      rev: { servlet: "transform", args: ["reverse"] },
      other: spy("other"),
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "route.out0", to: "up.in" },
      { from: "route.out1", to: "rev.in" },
      { from: "route.default", to: "other.in" },
      { from: "up.out", to: "reply.in" },
      { from: "rev.out", to: "reply.in" },
      { from: "other.out", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
  });
  assert(sim.host.graph.nodes.includes("reply~in~join"));
  await using c = await sim.connect();
  await c.send("apple\nbee\nbeetle\n");
  assertEquals(await c.readLine(), "APPLE\n");
  assertEquals(await c.readLine(), "eeb\n");
  assertEquals(await c.readLine(), "other saw beetle\n");
  assertEquals(
    calls,
    ["other: beetle\n"],
    "the default branch ran only for the line that matched nothing",
  );
});

Deno.test("a shadow enabled after its target was written fails the request with a clear error", async () => {
  lateShadowErrors.length = 0;
  await using sim = await simulate({
    nodes: { late: { servlet: "./tests/fixtures/late_shadow.ts" } },
    input: "late.in",
    output: "late.out",
  });
  await using c = await sim.connect();
  await c.send("x\n");
  assertEquals(
    await c.readLine(),
    "first\n",
    "what was written before is delivered (and the connection goes on)",
  );
  assertEquals(lateShadowErrors, [
    `node "late": shadow port "copy" was enabled after its target was written; ` +
    `clear DISABLED before the first write, so that it carries every byte`,
  ]);
});

Deno.test("typed pipes: a graph type that extends text/line flows into hello's text/line input", async () => {
  await using sim = await simulate({
    types: { "chat/line": "text/line", "chat/shout": "chat/line" },
    nodes: {
      say: { servlet: "./tests/fixtures/typed.ts", args: ["-", "chat/shout"] },
      greet: { servlet: "hello" },
    },
    edges: [{ from: "say.out", to: "greet.in" }],
    input: "say.in",
    output: "greet.out",
  });
  await using c = await sim.connect();
  await c.send("typed\n");
  assertEquals(await c.readLine(), "Hello, typed\n");
});

Deno.test("examples/router.json: a dup taps each line, demux routes it, the branches join back", async () => {
  await using sim = await simulate("examples/router.json");
  await using c = await sim.connect();
  await c.send("!hey\r\n?abc\nPlumber\n");
  assertEquals(await c.readLine(), "!HEY\n");
  assertEquals(await c.readLine(), "cba?\n");
  assertEquals(await c.readLine(), "Hello, Plumber\n");
});

Deno.test("writing a SHADOW port directly is refused: a shadow carries its target's bytes only", async () => {
  lateShadowErrors.length = 0;
  await using sim = await simulate({
    nodes: { late: { servlet: "./tests/fixtures/late_shadow.ts", args: ["direct"] } },
    input: "late.in",
    output: "late.out",
  });
  await using c = await sim.connect();
  await c.send("x\n");
  assertEquals(await c.readLine(), "done\n");
  assertEquals(lateShadowErrors, [
    `node "late": cannot write SHADOW port "copy"; write its target, and the shadow carries the same bytes`,
  ]);
});

Deno.test("a fan-out that fans back in (a diamond) carries large requests without deadlock", async () => {
  await using sim = await simulate({
    nodes: {
      gen: { servlet: "./tests/fixtures/gen.ts" },
      a: { servlet: "echo" },
      b: { servlet: "echo" },
      count: { servlet: "./tests/fixtures/count.ts" },
    },
    edges: [
      { from: "gen.out", to: "a.in" },
      { from: "gen.out", to: "b.in" },
      { from: "a.out", to: "count.in" },
      { from: "b.out", to: "count.in" },
    ],
    input: "gen.in",
    output: "count.out",
  });
  await using c = await sim.connect();
  for (const size of [1000, 1048576, 4 * 1048576]) {
    await c.send(`${size}\n`);
    assertEquals(await c.readLine(), `count=${size}\n`);
  }
});

Deno.test("__null__ passes through a fan-out: every handler wired to it runs", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      route: { servlet: "./tests/fixtures/router.ts" },
      one: spy("one"),
      two: spy("two"),
      reply: spy("reply"),
    },
    edges: [
      { from: "route.__null__", to: "one.in" },
      { from: "route.__null__", to: "two.in" },
      { from: "route.a", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
  });
  await using c = await sim.connect();
  await c.send("\nabc\n");
  assertEquals(await c.readLine(), "reply saw abc\n");
  assertEquals(calls.toSorted(), ["one: ", "reply: abc\n", "two: "]);
});

Deno.test("a fan-in prefers its inputs in the order the file lists their edges", async () => {
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      up: { servlet: "transform", args: ["upper"] },
      low: { servlet: "transform", args: ["lower"] },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "up.out", to: "reply.in" },
      { from: "low.out", to: "reply.in" },
      { from: "split.out", to: "low.in" },
      { from: "split.out", to: "up.in" },
    ],
    input: "split.in",
    output: "reply.out",
  });
  await using c = await sim.connect();
  await c.send("MiXeD\n");
  assertEquals(await c.readLine(), "MIXED\n");
});
