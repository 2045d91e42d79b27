/**
 * A connection reads into a small buffer of its own while idle and a large
 * shared one while busy (`modules/read_buffers.ts`): over real TCP, lines
 * around and far above the small buffer's size, in one write, in pieces and
 * back to back, are answered whole, and connections that take turns with the
 * shared buffers never see each other's bytes.
 */
import { assertEquals } from "./assert.ts";
import { Client, startHost } from "./helpers.ts";
import {
  GROWN_READ_BUFFER,
  LARGE_READ_BUFFER,
  SMALL_READ_BUFFER,
} from "../modules/read_buffers.ts";

/** A line of `n` bytes made of `letter`. */
function line(letter: string, n: number): string {
  return letter.repeat(n);
}

const SIZES = [
  1,
  SMALL_READ_BUFFER - 2,
  SMALL_READ_BUFFER - 1,
  SMALL_READ_BUFFER,
  SMALL_READ_BUFFER + 1,
  LARGE_READ_BUFFER - 1,
  LARGE_READ_BUFFER + 1,
  3 * LARGE_READ_BUFFER + 17,
  60000,
];

Deno.test("hello: lines of every size around the read buffers are answered whole, in order", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  for (const [i, n] of SIZES.entries()) {
    const text = line("abcdefghij"[i % 10], n);
    await c.send(`${text}\n`);
    assertEquals(await c.readLine(), `Hello, ${text}\n`);
    // A short line right after a long one: back on the small buffer.
    await c.send("x\n");
    assertEquals(await c.readLine(), "Hello, x\n");
  }
});

Deno.test("hello: long lines back to back in one write, then a short one", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  const lines = SIZES.map((n, i) => line("klmnopqrst"[i % 10], n));
  await c.send(lines.map((l) => `${l}\r\n`).join("") + "end\n");
  for (const l of lines) assertEquals(await c.readLine(), `Hello, ${l}\n`);
  assertEquals(await c.readLine(), "Hello, end\n");
});

Deno.test("hello: connections taking turns on the shared buffers keep their own bytes", async () => {
  await using h = await startHost("examples/hello.json");
  const clients = await Promise.all([0, 1, 2, 3].map(() => Client.connect(h.port)));
  try {
    for (let round = 0; round < 3; round++) {
      const texts = clients.map((_, i) => line("ABCD"[i], LARGE_READ_BUFFER + 1000 * i + round));
      await Promise.all(clients.map((c, i) => c.send(`${texts[i]}\n`)));
      const replies = await Promise.all(clients.map((c) => c.readLine()));
      assertEquals(replies, texts.map((t) => `Hello, ${t}\n`));
    }
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
});

Deno.test("a connection whose own buffer was filled reads a little more at once from then on", async () => {
  // tests/fixtures/step_or_exec.ts answers each read's bytes as one message (`step: ...`), so
  // the replies show how the bytes were read.
  await using h = await startHost({
    nodes: { n: { servlet: "./tests/fixtures/step_or_exec.ts" } },
    input: "n.in",
    output: "n.out",
  });
  await using c = await Client.connect(h.port);
  const size = 2 * SMALL_READ_BUFFER;
  // The first time, the small buffer takes what it can, and a large one the rest.
  await c.send(`${"a".repeat(size - 1)}\n`);
  assertEquals(await c.readLine(), `step: ${"a".repeat(SMALL_READ_BUFFER)}\n`);
  assertEquals(await c.readLine(), `step: ${"a".repeat(size - 1 - SMALL_READ_BUFFER)}\n`);
  // From then on its own buffer holds such a message whole; a larger one is still cut.
  for (const letter of "bcd") {
    await c.send(`${letter.repeat(size - 1)}\n`);
    assertEquals(await c.readLine(), `step: ${letter.repeat(size - 1)}\n`);
  }
  await c.send(`${"e".repeat(GROWN_READ_BUFFER)}\n`);
  assertEquals(await c.readLine(), `step: ${"e".repeat(GROWN_READ_BUFFER)}\n`);
  assertEquals(await c.readLine(), "step: \n");
});
