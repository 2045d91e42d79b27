/**
 * Flag semantics: Plumber's bit values, per-request GET/SET/CLR, fixed flags
 * refused at exec time, and the shared PERSIST flag copied from the request's
 * input to its output companion, over connections in memory (the testing
 * kit's `simulate`: the host's own session code, no socket).
 */
import {
  ASYNC,
  DISABLED,
  flagNames,
  INPUT,
  OUTPUT,
  PERSIST,
  SHADOW,
  SHARED_FLAGS,
} from "../mod.ts";
import { simulate, type Simulation } from "../testing/mod.ts";
import { assertEquals } from "./assert.ts";
import flags from "./fixtures/flags.ts";

/** The flags fixture as a graph of one node `n`. */
function flagsGraph(args: string[] = []): Promise<Simulation> {
  return simulate(flags, { node: "n", args });
}

Deno.test("flag values are Plumber's", () => {
  assertEquals([INPUT, OUTPUT, PERSIST, ASYNC, SHADOW, DISABLED], [
    0x00000,
    0x10000,
    0x20000,
    0x40000,
    0x80000,
    0x100000,
  ]);
  assertEquals(SHARED_FLAGS, PERSIST);
  assertEquals(flagNames(OUTPUT | PERSIST), "OUTPUT|PERSIST");
});

Deno.test("GET_FLAGS shows the declaration; CLR_FLAG changes this request only", async () => {
  await using sim = await flagsGraph();
  await using c = await sim.connect();
  await c.send("get\n");
  assertEquals(await c.readLine(), "in=0x20000 out=0x10000\n");
  await c.send("keep-out\n");
  assertEquals(await c.readLine(), "out=0x30000\n");
  await c.send("get\n");
  assertEquals(
    await c.readLine(),
    "in=0x20000 out=0x10000\n",
    "the change did not outlive its request",
  );
});

Deno.test("clearing PERSIST on the input closes the connection after the reply", async () => {
  await using sim = await flagsGraph();
  await using c = await sim.connect();
  await c.send("close\nget\n");
  assertEquals(await c.readToEnd(), "in=0x0\n");
});

Deno.test("PERSIST set on the output at exec time wins over the input's", async () => {
  await using sim = await flagsGraph(["no-persist"]);
  await using c = await sim.connect();
  await c.send("keep-out\n");
  assertEquals(await c.readLine(), "out=0x30000\n");
  await c.send("get\n");
  assertEquals(await c.readToEnd(), "in=0x0 out=0x10000\n", "without keep-out it closes");
});

Deno.test("PERSIST cleared on the output wins over the input's", async () => {
  await using sim = await flagsGraph();
  await using c = await sim.connect();
  await c.send("drop-out\nget\n");
  assertEquals(await c.readToEnd(), "out=0x10000\n");
});

Deno.test("direction and SHADOW cannot change at exec time; the error says so", async () => {
  await using sim = await flagsGraph();
  await using c = await sim.connect();
  await c.send("direction\n");
  assertEquals(
    await c.readLine(),
    `error: node "n": cannot SET_FLAG the direction (OUTPUT) on port "in" at exec time; ` +
      `direction and SHADOW are fixed when init declares the port\n`,
  );
  await c.send("shadow\n");
  assertEquals(
    await c.readLine(),
    `error: node "n": cannot SET_FLAG SHADOW on port "out" at exec time; ` +
      `direction and SHADOW are fixed when init declares the port\n`,
  );
  await c.send("write-input\n");
  assertEquals(
    await c.readLine(),
    `error: node "n": cannot write port "in", it is an input port\n`,
  );
});

Deno.test("PERSIST travels from the entry node's input to another node's output", async () => {
  // split.in is declared PERSIST; greet.out is not: the connection stays open
  // because the shared flag is copied to the output companion.
  await using sim = await simulate("examples/pipeline.json");
  await using c = await sim.connect();
  for (const word of ["a", "b", "c"]) {
    await c.send(`${word}\n`);
    assertEquals(await c.readLine(), `Hello, ${word.toUpperCase()}\n`);
  }
});
