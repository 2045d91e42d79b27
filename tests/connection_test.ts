/**
 * The connection at every node, not only the first (SPEC S3): state per node
 * per connection (`PUSH_STATE`/`POP_STATE` on any port, or `task.connection`),
 * keeping or ending the connection from any node, the peer, the `open`
 * greeting reaching every node; ELIZA behind a line splitter behaves exactly
 * as ELIZA alone. And a request with no connection says so.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, ROOT, startHost } from "./helpers.ts";
import type { GraphSpec } from "../host/mod.ts";
import { load } from "../host/load.ts";
import { unloadNodes } from "../kernel/loader.ts";
import { MemPipe } from "../kernel/mem_pipe.ts";
import { runRequest } from "../kernel/scheduler.ts";
import { disposedTallies } from "./fixtures/tally.ts";
import { disposed } from "./fixtures/counter.ts";

const GREETING = "How do you do. Please tell me your problem.\n";

/** `eliza` alone, greeting on connect. */
const ELIZA_ALONE: GraphSpec = {
  nodes: { doctor: { servlet: "eliza" } },
  input: "doctor.in",
  output: "doctor.out",
  listeners: [{ module: "tcp", options: { open: true } }],
};

/** `line -> eliza`: ELIZA behind a line splitter, the connection bound to `line`. */
const ELIZA_BEHIND_LINE: GraphSpec = {
  nodes: { split: { servlet: "line" }, doctor: { servlet: "eliza" } },
  edges: [{ from: "split.out", to: "doctor.in" }],
  input: "split.in",
  output: "doctor.out",
  listeners: [{ module: "tcp", options: { open: true } }],
};

/**
 * Talks to ELIZA over TCP: the greeting, then each line and its reply, then
 * what comes after the last line until the server closes.
 */
async function conversation(graph: GraphSpec, lines: string[]): Promise<string[]> {
  await using h = await startHost(graph);
  await using c = await Client.connect(h.port);
  const transcript = [`< ${await c.readLine()}`];
  for (const line of lines) {
    await c.send(`${line}\n`);
    transcript.push(`> ${line}\n`, `< ${await c.readLine()}`);
  }
  transcript.push(`closed after: ${JSON.stringify(await c.readToEnd())}`);
  return transcript;
}

Deno.test("line -> eliza talks exactly as eliza alone: greeting, memory, bye closes", async () => {
  const lines = [
    "I am sad",
    "ok",
    "My mother does not like me",
    "ok",
    "ok",
    "ok",
    "I remember my father",
    "ok",
    "ok",
    "bye",
  ];
  const alone = await conversation(ELIZA_ALONE, lines);
  const behind = await conversation(ELIZA_BEHIND_LINE, lines);
  assertEquals(behind, alone);
  assertEquals(alone[0], `< ${GREETING}`);
  assertEquals(alone.at(-2), "< Goodbye. It was nice talking to you.\n");
  assertEquals(alone.at(-1), 'closed after: ""', "bye closes the connection");
  // The conversation has a memory: the "ok"s do not all get the same first fallback.
  const okReplies = new Set(alone.filter((_, i) => alone[i - 1] === "> ok\n"));
  assert(okReplies.size > 2, alone.join(""));
  assert(
    alone.includes("< Let's discuss further why your mother does not like you.\n"),
    `ELIZA came back to the mother from its memory:\n${alone.join("")}`,
  );
});

Deno.test("two connections to line -> eliza each keep their own conversation", async () => {
  await using h = await startHost(ELIZA_BEHIND_LINE);
  await using a = await Client.connect(h.port);
  await using b = await Client.connect(h.port);
  assertEquals([await a.readLine(), await b.readLine()], [GREETING, GREETING]);
  await a.send("My cat is lost\n");
  assertEquals(await a.readLine(), "Your cat is lost?\n");
  await b.send("ok\n");
  assertEquals(await b.readLine(), "I'm not sure I understand you fully.\n", "a's cat is not b's");
  await a.send("ok\n");
  assertEquals(await a.readLine(), "Let's discuss further why your cat is lost.\n", "a remembers");
});

/** `line -> first -> second`: two tallies, each numbering lines in its own state. */
function twoTallies(tcp: Record<string, unknown> = {}): GraphSpec {
  return {
    nodes: {
      split: { servlet: "line" },
      first: { servlet: "./tests/fixtures/tally.ts" },
      second: { servlet: "./tests/fixtures/tally.ts" },
    },
    edges: [{ from: "split.out", to: "first.in" }, { from: "first.out", to: "second.in" }],
    input: "split.in",
    output: "second.out",
    listeners: [{ module: "tcp", options: tcp }],
  };
}

Deno.test("task.connection: two nodes of one graph keep their own state; disposed when it closes", async () => {
  disposedTallies.length = 0;
  await using h = await startHost(twoTallies());
  await using a = await Client.connect(h.port);
  await using b = await Client.connect(h.port);
  await a.send("x\n");
  assertEquals(await a.readLine(), "second:1 first:1 x\n");
  await a.send("y\n");
  assertEquals(await a.readLine(), "second:2 first:2 y\n", "neither clobbered the other");
  await b.send("z\n");
  assertEquals(await b.readLine(), "second:1 first:1 z\n", "another connection starts afresh");
  await a.send("bye\n");
  assertEquals(await a.readLine(), "second:3 first:3 bye\n");
  assertEquals(await a.closedByServer(), true, "keepAlive(false) in a node behind the first");
  while (disposedTallies.length < 2) await new Promise((r) => setTimeout(r, 5));
  assertEquals(disposedTallies.sort(), ["first 3", "second 3"]);
  await b.send("w\n");
  assertEquals(await b.readLine(), "second:2 first:2 w\n");
});

Deno.test("task.connection.peer is the client's address, in any node", async () => {
  await using h = await startHost(twoTallies());
  await using c = await Client.connect(h.port);
  await c.send("peer\n");
  assertEquals(await c.readLine(), `second:1 first:1 peer ${c.peer}\n`);
});

Deno.test("task.connection.keepAlive(true) in a later node keeps a connection the first would close", async () => {
  const graph = (keep: string[]): GraphSpec => ({
    nodes: {
      copy: { servlet: "echo", args: ["close"] }, // its input is not PERSIST: one reply, then close
      count: { servlet: "./tests/fixtures/tally.ts", args: keep },
    },
    edges: [{ from: "copy.out", to: "count.in" }],
    input: "copy.in",
    output: "count.out",
    listeners: [{ module: "tcp" }],
  });
  {
    await using h = await startHost(graph([]));
    await using c = await Client.connect(h.port);
    await c.send("one\n");
    assertEquals(await c.readToEnd(), "count:1 one\n", "the flags decide: no PERSIST, it closes");
  }
  await using h = await startHost(graph(["keep"]));
  await using c = await Client.connect(h.port);
  await c.send("one\n");
  assertEquals(await c.readLine(), "count:1 one\n");
  await c.send("two\n");
  assertEquals(await c.readLine(), "count:2 two\n");
  await c.send("bye\n");
  assertEquals(await c.readToEnd(), "count:3 bye\n");
});

Deno.test("PUSH_STATE on a mem-pipe port keeps the state with the connection, and disposes it at close", async () => {
  disposed.length = 0;
  await using h = await startHost({
    nodes: { split: { servlet: "line" }, count: { servlet: "./tests/fixtures/counter.ts" } },
    edges: [{ from: "split.out", to: "count.in" }],
    input: "split.in",
    output: "count.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("a\nb\n");
  assertEquals(await c.readLines(2), ["1: a\n", "2: b\n"]);
  assertEquals(disposed, [], "kept, not disposed at once");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "");
  while (disposed.length === 0) await new Promise((r) => setTimeout(r, 5));
  assertEquals(disposed, ["disposed 2"]);
});

Deno.test("a request with no connection: task.connection is null, PUSH_STATE keeps nothing", async () => {
  disposed.length = 0;
  const loaded = await load({
    nodes: { count: { servlet: "./tests/fixtures/counter.ts" } },
    input: "count.in",
    output: "count.out",
  }, { base: ROOT });
  const tally = await load({
    nodes: { t: { servlet: "./tests/fixtures/tally.ts" } },
    input: "t.in",
    output: "t.out",
  }, { base: ROOT });
  try {
    const run = async (plan: typeof loaded.plan, line: string): Promise<string> => {
      const input = new MemPipe();
      await input.output.write(new TextEncoder().encode(line));
      input.close();
      const reply = new MemPipe({ highWaterMark: 1 << 20 });
      const ok = await runRequest(plan, input.input, reply.output, () => {});
      reply.close();
      assert(ok);
      let text = "";
      for (let c = await reply.input.read(); c !== null; c = await reply.input.read()) {
        text += new TextDecoder().decode(c);
      }
      return text;
    };
    assertEquals(await run(loaded.plan, "a\n"), "1: a\n");
    assertEquals(disposed, ["disposed 1"], "PUSH_STATE with no connection disposes at once");
    assertEquals(await run(loaded.plan, "b\n"), "1: b\n", "and POP_STATE finds nothing");
    assertEquals(await run(tally.plan, "x\n"), "t: no connection\n");
  } finally {
    await unloadNodes(loaded.plan.nodes);
    await unloadNodes(tally.plan.nodes);
  }
});
