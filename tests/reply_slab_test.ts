/**
 * Short replies are copied into a reply slab shared through a pool
 * (`modules/reply_slab.ts`) and written as views of it: over real TCP, a
 * reply that mixes slab text, text encoded apart and bytes arrives whole and
 * in order, one longer than the slab too, and connections that take turns
 * with the pooled slabs never see each other's bytes.
 */
import { assertEquals } from "./assert.ts";
import { Client, oneNode, startHost } from "./helpers.ts";
import { SLAB_BYTES } from "../modules/reply_slab.ts";

/** The lines `lines_out` answers to `N WORD`, then `end`. */
function expected(count: number, word: string): string[] {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    lines.push(i % 11 === 0 ? `${word} ${i} 世界\n` : `${word} ${i}\n`);
  }
  return [...lines, "end\n"];
}

Deno.test("a reply of text and bytes, short and long, past the slab's size, arrives whole", async () => {
  await using h = await startHost(oneNode("./tests/fixtures/lines_out.ts"));
  await using c = await Client.connect(h.port);
  // Lines of about 10 bytes: the first ones fill the slab, the rest are encoded apart.
  const count = Math.ceil((2 * SLAB_BYTES) / 10);
  // Lines past 48 characters are copied by the encoder, ASCII or not: they too fill the slab.
  for (const word of ["alpha", "b", "w".repeat(60), "語".repeat(50)]) {
    await c.send(`${count} ${word}\n`);
    assertEquals(await c.readLines(count + 1), expected(count, word));
  }
  await c.send("1 x\n");
  assertEquals(await c.readLines(2), expected(1, "x"));
});

Deno.test("connections taking turns on the pooled slabs keep their own replies", async () => {
  await using h = await startHost(oneNode("./tests/fixtures/lines_out.ts"));
  const words = ["red", "green", "blue", "cyan", "magenta", "yellow", "black", "white"];
  const clients = await Promise.all(words.map(() => Client.connect(h.port)));
  try {
    for (let round = 1; round <= 5; round++) {
      await Promise.all(clients.map((c, i) => c.send(`${round * 3} ${words[i]}\n`)));
      const replies = await Promise.all(clients.map((c) => c.readLines(round * 3 + 1)));
      assertEquals(replies, words.map((word) => expected(round * 3, word)));
    }
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
});

Deno.test("hello over many connections at once: every greeting is its own", async () => {
  await using h = await startHost("examples/hello.json");
  const clients = await Promise.all(Array.from({ length: 32 }, () => Client.connect(h.port)));
  try {
    for (let round = 0; round < 20; round++) {
      await Promise.all(clients.map((c, i) => c.send(`client${i}-round${round}\n`)));
      const replies = await Promise.all(clients.map((c) => c.readLine()));
      assertEquals(replies, clients.map((_, i) => `Hello, client${i}-round${round}\n`));
    }
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
});
