/**
 * Values on pipes (`task.writeValue`, `task.readValue`, `task.forward`): the
 * object itself between servlets on in-memory pipes, through fan-out (dup) and
 * fan-in (firstnonempty) too; one line of JSON (a `Uint8Array` as `$bytes`)
 * wherever a pipe carries bytes: a connection, a servlet that reads lines.
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PERSIST, type Port } from "../mod.ts";
import type { GraphSpec } from "../host/mod.ts";
import { simulate } from "../testing/mod.ts";
import { assertEquals, assertMatch } from "./assert.ts";

/** The objects `make` wrote, to check that `check` got the very same. */
const made = new WeakSet<object>();

/** A node's two ports. */
interface InOut {
  input: Port;
  output: Port;
}

interface Made {
  line: string;
  bytes: Uint8Array;
}

/** Reads a line and writes it as a value holding bytes (`null!` writes null). */
const make = defineServlet({
  init(_args, env): InOut {
    return { input: env.define("in", INPUT | PERSIST), output: env.define("out", OUTPUT) };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line === null) return;
    if (line === "null!") {
      await task.writeValue(ctx.output, null);
      return;
    }
    const value: Made = { line, bytes: new TextEncoder().encode(line) };
    made.add(value);
    await task.writeValue(ctx.output, value);
  },
});

/** Reads a value and says what it got, as a line; with the argument `next`, what a second read gives. */
const check = defineServlet({
  init(args, env): InOut & { next: boolean } {
    return {
      next: args.includes("next"),
      input: env.define("in", INPUT | PERSIST),
      output: env.define("out", OUTPUT),
    };
  },
  async exec(ctx, task): Promise<void> {
    const value = await task.readValue<Made>(ctx.input);
    if (value === null) return;
    const same = made.has(value) ? "same object" : "a copy";
    const bytes = value.bytes instanceof Uint8Array
      ? new TextDecoder().decode(value.bytes)
      : "no bytes";
    const next = ctx.next ? `; next ${await task.readValue(ctx.input)}` : "";
    await task.write(
      ctx.output,
      `${same}: ${value.line} (${bytes})${next}
`,
    );
  },
});

function tcp(graph: Omit<GraphSpec, "listeners">): GraphSpec {
  return { ...graph, listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }] };
}

Deno.test("values: a value crosses an in-memory pipe as the object itself", async () => {
  await using sim = await simulate(
    tcp({
      nodes: { make: { servlet: make }, check: { servlet: check, args: ["next"] } },
      edges: [{ from: "make.out", to: "check.in" }],
      input: "make.in",
      output: "check.out",
    }),
    { transport: "tcp" },
  );
  await using client = await sim.connect();
  await client.send("abc\n");
  assertEquals(await client.readLine(), "same object: abc (abc); next null\n");
});

Deno.test("values: fan-out (dup) and fan-in (firstnonempty) pass the same object on", async () => {
  await using sim = await simulate(
    tcp({
      nodes: {
        make: { servlet: make },
        left: { servlet: check, args: ["next"] },
        right: { servlet: check, args: ["next"] },
        join: { servlet: "echo" },
      },
      edges: [
        { from: "make.out", to: "left.in" },
        { from: "make.out", to: "right.in" },
        { from: "left.out", to: "join.in" },
        { from: "right.out", to: "join.in" },
      ],
      input: "make.in",
      output: "join.out",
    }),
    { transport: "tcp" },
  );
  await using client = await sim.connect();
  await client.send("fan\n");
  assertEquals(await client.readLine(), "same object: fan (fan); next null\n");
  const forwarded = await simulate(
    tcp({
      nodes: {
        make: { servlet: make },
        other: { servlet: make },
        check: { servlet: check, args: ["next"] },
      },
      edges: [{ from: "make.out", to: "check.in" }, { from: "other.out", to: "check.in" }],
      input: "make.in",
      output: "check.out",
    }),
    { transport: "tcp" },
  );
  await using joined = await forwarded.connect();
  await joined.send("join\n");
  assertEquals(await joined.readLine(), "same object: join (join); next null\n");
  await forwarded.close();
});

Deno.test("values: to a connection, or to a servlet that reads lines, a value is one line of JSON", async () => {
  await using direct = await simulate(make, { transport: "tcp" });
  await using client = await direct.connect();
  await client.send("hi\n");
  assertEquals(await client.readLine(), '{"line":"hi","bytes":{"$bytes":"aGk="}}\n');
  await using shouted = await simulate(
    tcp({
      nodes: { make: { servlet: make }, shout: { servlet: "transform", args: ["upper"] } },
      edges: [{ from: "make.out", to: "shout.in" }],
      input: "make.in",
      output: "shout.out",
    }),
    { transport: "tcp" },
  );
  await using second = await shouted.connect();
  await second.send("hi\n");
  assertEquals(await second.readLine(), '{"LINE":"HI","BYTES":{"$BYTES":"AGK="}}\n');
});

Deno.test("values: JSON lines from a connection are read as values; a line that is not JSON fails that request only", async () => {
  await using sim = await simulate(check, { transport: "tcp", logLevel: "error" });
  await using client = await sim.connect();
  await client.send('{"line":"from the wire","bytes":{"$bytes":"d2lyZQ=="}}\n');
  assertEquals(await client.readLine(), "a copy: from the wire (wire)\n");
  await using bad = await sim.connect();
  await bad.send("not json\n");
  assertEquals(await bad.readLine(), "error: request failed\n");
  await bad.send('{"line":"after it","bytes":{"$bytes":""}}\n');
  assertEquals(await bad.readLine(), "a copy: after it ()\n", "the connection goes on");
  assertMatch(
    await sim.waitForLog("is not JSON"),
    /node "servlet": readValue on port "in" read a line that is not JSON \(.+\); its writer must write values or lines of JSON/,
  );
  await client.send('{"line":"still served","bytes":{"$bytes":""}}\n');
  assertEquals(await client.readLine(), "a copy: still served ()\n");
});

Deno.test("values: writeValue of null is refused with a clear message", async () => {
  await using sim = await simulate(make, { transport: "tcp", logLevel: "error" });
  await using client = await sim.connect();
  await client.send("null!\n");
  assertEquals(await client.readLine(), "error: request failed\n");
  await sim.waitForLog(
    'writeValue on port "out" with null; write an object, array, string, number or boolean',
  );
});
