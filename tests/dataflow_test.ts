/**
 * The kernel's request semantics across edges: a node none of whose inputs
 * was written does not run; `__null__` and `__error__` fire and can be wired.
 * Served in memory by the testing kit (`simulate`): the host's own session
 * and scheduler, no socket.
 */
import { assertEquals } from "./assert.ts";
import { calls, spy } from "./fixtures/spy.ts";
import { Client, startHost, waitForLog } from "./helpers.ts";
import type { GraphSpec } from "../host/mod.ts";
import { simulate } from "../testing/mod.ts";

/** A node that fails on demand, feeding an upper-casing node that writes the reply. */
const FAIL_THEN_SHOUT: GraphSpec = {
  nodes: {
    f: { servlet: "./tests/fixtures/fail.ts" },
    shout: { servlet: "transform", args: ["upper"] },
  },
  edges: [{ from: "f.out", to: "shout.in" }],
  input: "f.in",
  output: "shout.out",
};

Deno.test("a node whose input was never written in a request does not run", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      route: { servlet: "./tests/fixtures/router.ts" },
      left: spy("left"),
      right: spy("right"),
    },
    edges: [
      { from: "route.a", to: "left.in" },
      { from: "route.b", to: "right.in" },
    ],
    input: "route.in",
    output: "left.out",
  });
  await using c = await sim.connect();
  await c.send("apple\n");
  assertEquals(await c.readLine(), "left saw apple\n");
  assertEquals(calls, ["left: apple\n"]);
  await c.send("berry\n");
  // right ran (its output is unconnected), left did not: no reply, the connection stays.
  await c.send("avocado\n");
  assertEquals(await c.readLine(), "left saw avocado\n");
  assertEquals(calls, ["left: apple\n", "right: berry\n", "left: avocado\n"]);
});

Deno.test("cancellation cascades: nodes behind a node that did not run do not run either", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      route: { servlet: "./tests/fixtures/router.ts" },
      first: spy("first"),
      second: spy("second"),
      reply: spy("reply"),
    },
    edges: [
      { from: "route.b", to: "first.in" },
      { from: "first.out", to: "second.in" },
      { from: "route.a", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
  });
  await using c = await sim.connect();
  await c.send("a1\n");
  assertEquals(await c.readLine(), "reply saw a1\n");
  await c.send("b1\na2\n");
  assertEquals(await c.readLine(), "reply saw a2\n");
  assertEquals(calls, ["reply: a1\n", "first: b1\n", "second: first saw b1\n", "reply: a2\n"]);
});

Deno.test("__null__ fires when a successful exec wrote no output", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      route: { servlet: "./tests/fixtures/router.ts" },
      empty: spy("nothing-written"),
      reply: spy("reply"),
    },
    edges: [
      { from: "route.__null__", to: "empty.in" },
      { from: "route.a", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
  });
  await using c = await sim.connect();
  await c.send("\nabc\n");
  assertEquals(await c.readLine(), "reply saw abc\n");
  assertEquals(calls, ["nothing-written: ", "reply: abc\n"]);
});

Deno.test("__error__ carries the failure to a node wired to it", async () => {
  calls.length = 0;
  await using sim = await simulate({
    nodes: {
      f: { servlet: "./tests/fixtures/fail.ts" },
      errors: spy("errors"),
    },
    edges: [{ from: "f.__error__", to: "errors.in" }],
    input: "f.in",
    output: "f.out",
  });
  await using c = await sim.connect();
  await c.send("fine\n");
  assertEquals(await c.readLine(), "ok: fine\n");
  assertEquals(calls, []);
  await c.send("boom\n");
  // The failure went to the spy, not to the client: the client is told its request failed.
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(calls, ["errors: f: boom requested\n"]);
  await c.send("again\n");
  assertEquals(await c.readLine(), "ok: again\n", "the connection goes on");
});

Deno.test("a failing node makes the nodes reading its output fail quietly, not hang", async () => {
  await using sim = await simulate(FAIL_THEN_SHOUT);
  await using c = await sim.connect();
  await c.send("x\n");
  assertEquals(await c.readLine(), "OK: X\n");
  await c.send("half\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  await c.send("y\n");
  assertEquals(await c.readLine(), "OK: Y\n");
  assertEquals(sim.logs.filter((l) => l.startsWith("plumb error:")).length, 1, sim.logs.join("\n"));
  assertEquals(sim.logs.some((l) => l.includes(`node "shout" stopped: UpstreamError`)), true);
});

Deno.test("a failure before anything was written is told, not left waiting, and the connection goes on", async () => {
  await using sim = await simulate(FAIL_THEN_SHOUT);
  await using c = await sim.connect();
  await c.send("boom\n");
  assertEquals(
    await c.readLine(),
    "error: request failed\n",
    "shout did not run; the unhandled failure is told (errorReply)",
  );
  await c.send("fine\n");
  assertEquals(await c.readLine(), "OK: FINE\n");
});

Deno.test("a diamond whose join reads its branches out of order: small requests pass, a deadlock fails one request with the nodes and pipes named", async () => {
  await using h = await startHost({
    nodes: {
      fork: { servlet: "./tests/fixtures/fork.ts" },
      copy: { servlet: "echo" },
      join: { servlet: "./tests/fixtures/join.ts" },
    },
    edges: [
      { from: "fork.a", to: "copy.in" },
      { from: "copy.out", to: "join.a" },
      { from: "fork.b", to: "join.b" },
    ],
    input: "fork.in",
    output: "join.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("1000\n"); // fits in the pipes' bounds: join reads b, then a
  assertEquals(await c.readLine(), "b=2 a=1000\n");
  // Far past two 64 KiB pipe bounds: fork waits on a full fork.a, copy on a full
  // join.a, join on fork.b, which fork writes only at the end. No pipe grows
  // past its bound: the request fails, with one line saying who waits on what.
  await c.send("400000\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  const line = await waitForLog(h, "request deadlocked");
  assertEquals(
    line.slice(line.indexOf("request deadlocked")),
    `request deadlocked: every running node waits on a bounded pipe: ` +
      `"fork" writes "fork.a" -> "copy.in" (full, 65536 bytes); ` +
      `"copy" writes "copy.out" -> "join.a" (full, 65536 bytes); ` +
      `"join" reads "fork.b" -> "join.b" (empty); ` +
      `read the inputs in the order they are written, or release an input you will not read`,
  );
  assertEquals(h.logs.filter((l) => l.includes("deadlocked")).length, 1, h.logs.join("\n"));
  // The host goes on serving: a new connection's small request is answered.
  await using d = await Client.connect(h.port);
  await d.send("10\n");
  assertEquals(await d.readLine(), "b=2 a=10\n");
});

Deno.test("GET_FLAGS inside a pipeline: a node's own declared flags, and the shared PERSIST once the entry node ended", async () => {
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      f: { servlet: "./tests/fixtures/flags.ts" },
    },
    edges: [{ from: "split.out", to: "f.in" }],
    input: "split.in",
    output: "f.out",
  });
  await using c = await sim.connect();
  await c.send("keep-out\nget-at-end\n");
  assertEquals(await c.readLine(), "out=0x30000\n");
  // f.in is a mem pipe with f's declared INPUT | PERSIST. f.out is the graph's
  // output: OUTPUT, plus the PERSIST of the connection, copied from the graph's
  // input (split.in) when split ended.
  assertEquals(await c.readLine(), "in=0x20000 out=0x30000\n");
});

Deno.test("__error__ wired to an error reply: a failed request is answered and the connection kept", async () => {
  await using sim = await simulate({
    nodes: {
      f: { servlet: "./tests/fixtures/fail.ts" },
      sorry: { servlet: "./tests/fixtures/apology.ts" },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "f.out", to: "reply.in" },
      { from: "f.__error__", to: "sorry.in" },
      { from: "sorry.out", to: "reply.in" },
    ],
    input: "f.in",
    output: "reply.out",
  });
  await using c = await sim.connect();
  await c.send("fine\nboom\nagain\n");
  assertEquals(await c.readLine(), "ok: fine\n");
  assertEquals(await c.readLine(), "sorry, that failed (f: boom requested)\n");
  assertEquals(await c.readLine(), "ok: again\n");
});

Deno.test("on a connection's opening a node fed only by __error__ does not run: no apology as a greeting", async () => {
  // The client hears only the apologies: f's own replies go nowhere.
  await using sim = await simulate({
    nodes: {
      f: { servlet: "./tests/fixtures/fail.ts" },
      sorry: { servlet: "./tests/fixtures/apology.ts" },
    },
    edges: [{ from: "f.__error__", to: "sorry.in" }],
    input: "f.in",
    output: "sorry.out",
  }, { session: { open: true } });
  await using c = await sim.connect();
  await c.send("boom\n");
  assertEquals(await c.readLine(), "sorry, that failed (f: boom requested)\n");
});
