/**
 * In-memory pipes carry text a servlet writes as text, to be read as lines
 * without encoding and decoding at every pipe: these tests check that text,
 * bytes, partial lines, `\r\n` and the line limit still read exactly as the
 * bytes they stand for, through a real graph served in memory (the testing
 * kit's `simulate`).
 */
import { assertEquals } from "./assert.ts";
import type { GraphSpec } from "../host/mod.ts";
import { simulate } from "../testing/mod.ts";

/** `pieces` (with `mode`) feeding a node that upper-cases every line it reads. */
function piecesThenShout(mode: string, args: string[] = []): GraphSpec {
  return {
    nodes: {
      p: { servlet: "./tests/fixtures/pieces.ts", args: [mode, ...args] },
      shout: { servlet: "transform", args: ["upper"] },
    },
    edges: [{ from: "p.out", to: "shout.in" }],
    input: "p.in",
    output: "shout.out",
  };
}

Deno.test("text and bytes written in pieces read back as the same lines, in order", async () => {
  await using sim = await simulate(piecesThenShout("mixed"));
  await using c = await sim.connect();
  await c.send("héllo wörld\n");
  assertEquals(await c.readLine(), "HÉLLO WÖRLD\n");
  assertEquals(await c.readLine(), "HÉLLO WÖRLD\n");
  await c.send("日本語\n");
  assertEquals(await c.readLine(), "日本語\n");
  assertEquals(await c.readLine(), "日本語\n");
});

Deno.test("bytes queued before text are read first", async () => {
  await using sim = await simulate(piecesThenShout("bytes"));
  await using c = await sim.connect();
  await c.send("abc\n");
  assertEquals(await c.readLine(), "ABC\n");
  assertEquals(await c.readLine(), "ABC\n");
});

Deno.test("the line limit counts the bytes of text lines, not their characters", async () => {
  // A mem pipe takes lines of up to 65,536 bytes. 30,000 characters of é are
  // 60,000 bytes: within it. 40,000 are 80,000 bytes: over it, though fewer
  // characters than the limit.
  await using sim = await simulate(piecesThenShout("long", ["30000"]));
  await using c = await sim.connect();
  await c.send("x\n");
  assertEquals(await c.readLine(), `${"É".repeat(30000)}\n`);

  await using over = await simulate(piecesThenShout("long", ["40000"]));
  await using d = await over.connect();
  await d.send("x\n");
  assertEquals(await d.readLine(), "error: request failed\n");
  assertEquals(
    over.logs.filter((l) => l.includes('node "shout"') && l.includes("65536")).length,
    1,
    over.logs.join("\n"),
  );
});
