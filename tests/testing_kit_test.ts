// deno-lint-ignore-file explicit-function-return-type -- servlets written as a user would: the context type is inferred from init
/**
 * The testing kit itself (`testing.ts`): the servlet harness reports outputs,
 * flags, signals, state and unread bytes as the kernel would see them, and a
 * simulated graph behaves the same in memory as over a real socket.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import {
  CLR_FLAG,
  defineServlet,
  DISABLED,
  EOM,
  GraphError,
  INPUT,
  OUTPUT,
  PERSIST,
  SET_FLAG,
  SHADOW,
} from "../mod.ts";
import { runServlet, ServletHarness, simulate, type TestClient } from "../testing/mod.ts";
import counter, { disposed } from "./fixtures/counter.ts";

const greet = defineServlet({
  init(_args, env) {
    return { input: env.define("in", INPUT | PERSIST), output: env.define("out", OUTPUT) };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line === "boom") throw new Error("boom was sent");
    if (line === "quit") task.cntl(ctx.input, CLR_FLAG, PERSIST);
    if (line) await task.write(ctx.output, `hi ${line}\n`);
  },
});

Deno.test("runServlet: outputs, flags, persist and signals of one request", async () => {
  const ok = await runServlet(greet, { in: "ann\n" });
  assertEquals(ok.outputs, { out: "hi ann\n" });
  assertEquals(ok.written, ["out"]);
  // The output is the graph's: the kernel copied the input's PERSIST to it.
  assertEquals(ok.flags, { in: INPUT | PERSIST, out: OUTPUT | PERSIST });
  assertEquals([ok.persist, ok.signal, ok.error], [true, undefined, undefined]);

  const quit = await runServlet(greet, { in: "quit\n" });
  assertEquals([quit.outputs.out, quit.flags.in, quit.persist], ["hi quit\n", INPUT, false]);

  const silent = await runServlet(greet, { in: "\n" });
  assertEquals([silent.written, silent.signal], [[], "__null__"]);

  const failed = await runServlet(greet, { in: "boom\n" });
  assertEquals(failed.signal, "__error__");
  assertEquals((failed.error as Error).message, "boom was sent");
});

Deno.test("a harness is one connection: state and unread bytes carry over, reset ends it", async () => {
  disposed.length = 0;
  await using h = await ServletHarness.start(counter);
  // Two lines in one request: the second is left unread and starts the next.
  const first = await h.exec({ in: "a\nb\n" });
  assertEquals([first.outputs.out, first.unread.in], ["1: a\n", "b\n"]);
  const second = await h.exec();
  assertEquals([second.outputs.out, second.unread.in], ["2: b\n", ""]);
  assertEquals(h.state, { count: 2 });
  h.reset();
  assertEquals([h.state, disposed], [undefined, ["disposed 2"]]);
  assertEquals((await h.exec({ in: "c\n" })).outputs.out, "1: c\n");
  await h.close();
  assertEquals(disposed, ["disposed 2", "disposed 1"]);
});

Deno.test("harness: EOM gives bytes back, the open event reads empty, module answers", async () => {
  const framer = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
    },
    async exec(ctx, task): Promise<void> {
      if (task.event === "open") {
        await task.write(ctx.output, `welcome ${task.cntl(ctx.input, "tcp/peer")}\n`);
        return;
      }
      const bytes = await task.read(ctx.input);
      if (bytes === null) return;
      const end = Math.min(3, bytes.length);
      task.cntl(ctx.input, EOM, bytes, end);
      task.cntl(ctx.output, SET_FLAG, PERSIST);
      await task.write(ctx.output, bytes.subarray(0, end));
    },
  });
  await using h = await ServletHarness.start(framer, { module: { "tcp/peer": "192.0.2.1:5000" } });
  assertEquals((await h.exec({}, { event: "open" })).outputs.out, "welcome 192.0.2.1:5000\n");
  const r = await h.exec({ in: ["ab", "cdef"] });
  // One read takes one chunk: "ab" is shorter than 3, so all of it is written
  // and nothing given back; "cdef" was never read.
  assertEquals([r.outputs.out, r.unread.in, r.persist], ["ab", "cdef", true]);
  const next = await h.exec();
  assertEquals([next.outputs.out, next.unread.in], ["cde", "f"]);
});

Deno.test("harness: an open request runs every node, yet reports the signal the kernel fired", async () => {
  const greeter = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
    },
    async exec(ctx, task): Promise<void> {
      if (task.event === "open") await task.write(ctx.output, "welcome\n");
    },
  });
  const greeted = await runServlet(greeter, {}, { event: "open" });
  assertEquals([greeted.outputs.out, greeted.signal], ["welcome\n", undefined]);
  const quiet = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
    },
    exec(): void {},
  });
  assertEquals((await runServlet(quiet, {}, { event: "open" })).signal, "__null__");
  const failing = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
    },
    exec(): void {
      throw new Error("boom on open");
    },
  });
  assertEquals((await runServlet(failing, {}, { event: "open" })).signal, "__error__");
});

Deno.test("harness: task.connection keeps the servlet's state, and its keepAlive word is persist", async () => {
  const memo = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT | PERSIST), output: env.define("out", OUTPUT) };
    },
    async exec(ctx, task): Promise<void> {
      const line = await task.readLine(ctx.input);
      if (line === null) return;
      const connection = task.connection!;
      const before = connection.state<string>() ?? "nothing";
      connection.setState(line);
      if (line === "bye") connection.keepAlive(false);
      await task.write(ctx.output, `${connection.peer}: ${before} -> ${line}\n`);
    },
  });
  await using h = await ServletHarness.start(memo, { module: { "tcp/peer": "192.0.2.1:5000" } });
  const a = await h.exec({ in: "a\n" });
  assertEquals([a.outputs.out, a.persist], ["192.0.2.1:5000: nothing -> a\n", true]);
  assertEquals(h.state, "a");
  const bye = await h.exec({ in: "bye\n" });
  assertEquals([bye.outputs.out, bye.persist], ["192.0.2.1:5000: a -> bye\n", false]);
  const after = await h.exec({ in: "b\n" });
  assertEquals(after.persist, true, "a word speaks for its request only");
  h.reset();
  assertEquals(h.state, undefined);
});

Deno.test("harness: a SHADOW shows its target's bytes unless it stays DISABLED", async () => {
  await using demux = await ServletHarness.start("dataflow/demux", { args: ["/^!/"] });
  const shout = await demux.exec({ in: "!hey\n" });
  assertEquals([shout.outputs.out0, shout.outputs.default], ["!hey\n", ""]);
  assertEquals(shout.written, ["data", "out0"]);
  const other = await demux.exec({ in: "hey\n" });
  assertEquals([other.outputs.out0, other.outputs.default], ["", "hey\n"]);
});

Deno.test("harness: the scheduler's own rules decide PERSIST, shadows and signals", async () => {
  const shouter = defineServlet({
    init(_args, env) {
      const input = env.define("in", INPUT | PERSIST);
      const output = env.define("out", OUTPUT);
      const loud = env.define("loud", OUTPUT | SHADOW | DISABLED | output.id);
      return { input, output, loud };
    },
    async exec(ctx, task): Promise<void> {
      const line = await task.readLine(ctx.input);
      if (line === "drop") task.cntl(ctx.output, CLR_FLAG, PERSIST);
      if (line === "loud") task.cntl(ctx.loud, CLR_FLAG, DISABLED);
      if (line !== "silent") await task.write(ctx.output, `${line}\n`);
      // Enabling a shadow after its target was written is refused by the kernel's tee.
      if (line === "late") task.cntl(ctx.loud, CLR_FLAG, DISABLED);
      if (line === "late") await task.write(ctx.output, "again\n");
    },
  });
  await using h = await ServletHarness.start(shouter);
  const loud = await h.exec({ in: "loud\n" });
  assertEquals([loud.outputs, loud.written], [{ out: "loud\n", loud: "loud\n" }, ["out", "loud"]]);
  // PERSIST cleared on the output itself wins over the input's, which stays set.
  const drop = await h.exec({ in: "drop\n" });
  assertEquals([drop.persist, drop.flags.in, drop.flags.out], [false, INPUT | PERSIST, OUTPUT]);
  assertEquals((await h.exec({ in: "silent\n" })).signal, "__null__");
  const late = await h.exec({ in: "late\n" });
  assertEquals([late.signal, late.outputs.out, late.written], ["__error__", "late\n", ["out"]]);
  assertMatch(String(late.error), /shadow port "loud" was enabled after its target was written/);
});

Deno.test("harness: a sink runs with no output; a servlet with no input cannot be run", async () => {
  const seen: string[] = [];
  const sink = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT) };
    },
    async exec(ctx, task): Promise<void> {
      seen.push(String(await task.readLine(ctx.input)));
    },
  });
  const r = await runServlet(sink, { in: "kept\n" });
  assertEquals([seen, r.outputs, r.written, r.persist, r.signal], [
    ["kept"],
    {},
    [],
    false,
    "__null__",
  ]);
  const source = defineServlet({
    init(_args, env) {
      return { output: env.define("out", OUTPUT) };
    },
    exec(): void {},
  });
  const error = await ServletHarness.start(source).then(() => undefined, (e) => e);
  assert(error instanceof GraphError);
  assertEquals(
    error.message,
    'test: node "servlet": the servlet declares no input port; a graph runs a node only when ' +
      "one of its inputs is written, so no request can reach it",
  );
});

Deno.test("harness: init failures and bad ports are the host's messages", async () => {
  await assertRejects(
    () => ServletHarness.start("transform", { args: ["sideways"] }),
    GraphError,
    'test: node "servlet": init of servlet "transform" failed',
  );
  await using h = await ServletHarness.start(greet);
  await assertRejects(() => h.exec({ inn: "x" }), Error, 'no port "inn"; its ports are in, out');
  await assertRejects(() => h.exec({ out: "x" }), Error, 'port "out" is an output');
});

/** Runs `talk` against the same graph in memory and over TCP; both must give the same result. */
async function bothWays<T>(
  graph: string,
  talk: (client: TestClient) => Promise<T>,
): Promise<T> {
  const results: T[] = [];
  for (const transport of ["memory", "tcp"] as const) {
    await using sim = await simulate(graph, { transport });
    await using client = await sim.connect();
    results.push(await talk(client));
  }
  assertEquals(results[0], results[1]);
  return results[0];
}

Deno.test("simulate: pipelined lines, in memory and over TCP alike", async () => {
  const replies = await bothWays("examples/pipeline.json", async (c) => {
    await c.send("a\nb\nc\n");
    return await c.readLines(3);
  });
  assertEquals(replies, ["Hello, A\n", "Hello, B\n", "Hello, C\n"]);
});

Deno.test("simulate: the first listener's open option greets, bye closes", async () => {
  const talk = await bothWays("examples/eliza.json", async (c) => {
    const greeting = await c.readLine();
    await c.send("bye\n");
    return [greeting, await c.readLine(), await c.closedByServer()];
  });
  assertEquals(talk, [
    "How do you do. Please tell me your problem.\n",
    "Goodbye. It was nice talking to you.\n",
    true,
  ]);
});

Deno.test("simulate: a line over the limit gets the error reply and the log says why", async () => {
  for (const transport of ["memory", "tcp"] as const) {
    await using sim = await simulate("examples/hello.json", {
      transport,
      session: { maxMessageSize: 8 },
    });
    assertEquals(await sim.exchange("123456789012\n"), "error: line longer than 8 bytes\n");
    await sim.waitForLog("longer than 8 bytes");
  }
});

Deno.test("simulate: one servlet as a graph, several connections each with its own state", async () => {
  await using sim = await simulate(counter);
  await using a = await sim.connect();
  await using b = await sim.connect();
  await a.send("x\n");
  await b.send("y\n");
  await a.send("z\n");
  assertEquals(await a.readLines(2), ["1: x\n", "2: z\n"]);
  assertEquals(await b.readLine(), "1: y\n");
});

Deno.test("simulate: a client that never reads holds the host's writes (backpressure), then writeTimeout", async () => {
  await using sim = await simulate("examples/echo.json", { session: { writeTimeout: 0.2 } });
  await using c = await sim.connect();
  await c.send(`${"x".repeat(60000)}\n`.repeat(4));
  await sim.waitForLog("writeTimeout");
  const got = await c.readToEnd();
  assert(got.length < 4 * 60001, `got ${got.length} bytes`);
});
