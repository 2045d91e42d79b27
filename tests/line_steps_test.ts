/**
 * Line steps (`kernel/line_steps.ts`): a request whose input is one whole
 * line, through a graph whose every node has a `line` step, runs as plain
 * calls; anything else runs `exec`. Over real TCP connections, exact replies.
 *
 * `tests/fixtures/line_or_exec.ts` answers `line: ...` from its line step and
 * `exec: ...` from its exec, so these tests see which path ran. Two lines in
 * one write make the first request's input two lines (exec) and the second
 * one line (a line step).
 */
import { assert, assertEquals } from "./assert.ts";
import { simulate, TcpClient, type TestClient } from "../testing/mod.ts";
import { serve } from "../host/mod.ts";
import type { GraphSpec } from "../kernel/graph.ts";

const tcp = { transport: "tcp", logLevel: "info" } as const;

/** One node of the fixture, as the whole graph. */
function fixture(how = "plain"): GraphSpec {
  return {
    nodes: { n: { servlet: "./tests/fixtures/line_or_exec.ts", args: [how] } },
    input: "n.in",
    output: "n.out",
  };
}

/** `text` sent in one write, then `count` reply lines. */
async function ask(c: TestClient, text: string | Uint8Array, count = 1): Promise<string[]> {
  await c.send(text);
  return await c.readLines(count);
}

Deno.test("line steps: one whole line runs the line step; two lines in one read run exec first", async () => {
  await using sim = await simulate(fixture(), tcp);
  await using c = await sim.connect();
  assertEquals(await ask(c, "one\n"), ["line: one\n"]);
  assertEquals(await ask(c, "a\nb\n", 2), ["exec: a\n", "line: b\n"]);
  // \r\n is a line end too, and the step sees the line without it.
  assertEquals(await ask(c, "crlf\r\n"), ["line: crlf\n"]);
});

Deno.test("line steps: input the step would see otherwise than exec runs exec", async () => {
  await using sim = await simulate(fixture(), tcp);
  await using c = await sim.connect();
  // Invalid UTF-8, and a byte order mark: decoding would change them.
  const bad = new Uint8Array([0x61, 0xff, 0x62, 0x0a]);
  assertEquals(await ask(c, bad), ["exec: a\ufffdb\n"]);
  assertEquals(await ask(c, "\ufeffbom\n"), ["exec: bom\n"]);
  // Valid UTF-8 beyond ASCII, short and long, takes the step.
  assertEquals(await ask(c, "héllo ✓\n"), ["line: héllo ✓\n"]);
  const long = "ü".repeat(40);
  assertEquals(await ask(c, `${long}\n`), [`line: ${long}\n`]);
});

Deno.test("line steps: a node without one, a bound signal, or a graph under --admin runs exec", async () => {
  const graphs: GraphSpec[] = [
    {
      nodes: {
        n: { servlet: "./tests/fixtures/line_or_exec.ts" },
        tail: { servlet: "./tests/fixtures/fail.ts" }, // no line step
      },
      edges: [{ from: "n.out", to: "tail.in" }],
      input: "n.in",
      output: "tail.out",
    },
    {
      nodes: { n: { servlet: "./tests/fixtures/line_or_exec.ts" }, quiet: { servlet: "hello" } },
      edges: [{ from: "n.__null__", to: "quiet.in" }],
      input: "n.in",
      output: "n.out",
    },
  ];
  const expected = [["ok: exec: x\n"], ["exec: x\n"]];
  for (const [i, graph] of graphs.entries()) {
    await using sim = await simulate(graph, tcp);
    await using c = await sim.connect();
    assertEquals(await ask(c, "x\n"), expected[i]);
  }
  const host = await serve({
    ...fixture(),
    listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }],
  }, { logLevel: "error", metrics: true });
  try {
    await using c = await TcpClient.connect(Number(new URL(host.urls[0]).port));
    assertEquals(await ask(c, "x\n"), ["exec: x\n"]);
  } finally {
    await host.close();
  }
});

Deno.test("line steps: the example graphs answer the same through steps and through exec", async () => {
  const inputs = ["Plumber", "!shout", "?flip", "héllo ✓", "", "a\tb", "mIxEd CaSe"];
  for (const file of ["examples/pipeline.json", "examples/router.json"]) {
    const graph = JSON.parse(await Deno.readTextFile(file)) as GraphSpec;
    delete graph.listeners;
    await using sim = await simulate(graph, tcp);
    await using c = await sim.connect();
    for (const line of inputs) {
      // Twice in one write: the first through exec, the second through the steps.
      const [viaExec, viaSteps] = await ask(c, `${line}\n${line}\n`, 2);
      assertEquals(viaSteps, viaExec, `${file}: ${JSON.stringify(line)}`);
      assertEquals(
        await ask(c, `${line}\r\n`),
        [viaExec],
        `${file}: ${JSON.stringify(line)}\\r\\n`,
      );
    }
    const pipeline = file.includes("pipeline");
    assertEquals(await ask(c, "Plumber\n"), [pipeline ? "Hello, PLUMBER\n" : "Hello, Plumber\n"]);
    assertEquals(await ask(c, "!hey\n"), [pipeline ? "Hello, !HEY\n" : "!HEY\n"]);
    assertEquals(await ask(c, "?abc\n"), [pipeline ? "Hello, ?ABC\n" : "cba?\n"]);
  }
});

Deno.test("line steps: a fan-in takes the first branch in the file's order, as exec does", async () => {
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      low: { servlet: "transform", args: ["lower"] },
      up: { servlet: "transform", args: ["upper"] },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "split.out", to: "low.in" },
      { from: "split.out", to: "up.in" },
      { from: "low.out", to: "reply.in" },
      { from: "up.out", to: "reply.in" },
    ],
    input: "split.in",
    output: "reply.out",
  }, tcp);
  await using c = await sim.connect();
  assertEquals(await ask(c, "MiXeD\nMiXeD\n", 2), ["mixed\n", "mixed\n"]);
});

Deno.test("line steps: a step that throws fails its request only, reported once by node", async () => {
  await using sim = await simulate({
    nodes: {
      split: { servlet: "line" },
      n: { servlet: "./tests/fixtures/line_or_exec.ts" },
    },
    edges: [{ from: "split.out", to: "n.in" }],
    input: "split.in",
    output: "n.out",
  }, tcp);
  await using c = await sim.connect();
  await using other = await sim.connect();
  const [reply] = await ask(c, "boom\n");
  assert(reply.startsWith("error: "), reply);
  const failures = sim.logs.filter((line) => line.includes("PLUMB_REQUEST_FAILED"));
  assertEquals(failures.length, 1, failures.join("\n"));
  assert(failures[0].includes(`node "n"`) && failures[0].includes("boom requested"), failures[0]);
  assertEquals(await ask(c, "after\n"), ["line: after\n"]);
  assertEquals(await ask(other, "else\n"), ["line: else\n"]);
});

Deno.test("line steps: a step that breaks the rules fails with one line naming node and port", async () => {
  const cases = [
    ["twice", "PLUMB_LINE_STEP", `node "n": its line step wrote a second line on port "out"; `],
    // Port descriptor 40: past the bits a step keeps for its first 31 ports.
    ["wide", "PLUMB_LINE_STEP", `node "n": its line step wrote a second line on port "out"; `],
    ["lines", "PLUMB_LINE_STEP", `wrote "line: x\\nand more\\n" (not one line) on port "out"`],
    ["unended", "PLUMB_LINE_STEP", `wrote "line: x" (not one line) on port "out"`],
    ["shadow", "PLUMB_PIPE_WRITE_SHADOW", `node "n": cannot write SHADOW port "copy"`],
    ["promise", "PLUMB_LINE_STEP", `node "n": its line step returned a promise; `],
  ];
  for (const [how, code, text] of cases) {
    await using sim = await simulate(fixture(how), tcp);
    await using c = await sim.connect();
    // A step that wrote before it broke a rule has written (no error reply), as exec would.
    const [reply] = await ask(c, "x\n");
    if (how === "twice" || how === "wide") assertEquals(reply, "line: x\n");
    else assert(reply.startsWith("error: "), `${how}: ${reply}`);
    const line = await sim.waitForLog(code);
    assert(line.includes(text), `${how}: ${line}`);
    // The connection goes on; exec still answers where the step cannot.
    assertEquals(await ask(c, "y\nz\n", 1), ["exec: y\n"], how);
  }
});

Deno.test("line steps: a line too long between nodes fails as exec's readLine does", async () => {
  const graph: GraphSpec = {
    nodes: {
      n: { servlet: "./tests/fixtures/line_or_exec.ts", args: ["grow"] },
      shout: { servlet: "transform", args: ["upper"] },
    },
    edges: [{ from: "n.out", to: "shout.in" }],
    input: "n.in",
    output: "shout.out",
  };
  await using sim = await simulate(graph, tcp);
  await using c = await sim.connect();
  // n writes a line of 70,000 bytes either way; shout reads lines of at most 65,536.
  const [viaExec, viaSteps] = await ask(c, "a\nb\n", 2);
  assert(viaExec.startsWith("error: "), viaExec.slice(0, 80));
  assertEquals(viaSteps, viaExec);
  const failures = sim.logs.filter((line) => line.includes("PLUMB_REQUEST_FAILED"));
  assertEquals(failures.length, 2, failures.join("\n"));
  assert(failures[0].includes(`node "shout"`), failures[0]);
  assertEquals(failures[1].replace(/^.*?node/, ""), failures[0].replace(/^.*?node/, ""));
});
