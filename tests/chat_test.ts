/**
 * `examples/chat.json` over real TCP: nicknames, commands and notices as a
 * client sees them, 50 clients at once, 1,000 lines to 100 clients complete
 * and in order, a client that never reads (dropped, the room goes on), a
 * client that leaves mid-broadcast, and the idle kick.
 * @module
 */
import { assertEquals } from "@std/assert";
import { Client, waitForLog } from "./helpers.ts";
import { chatHost, joinAs, nextLine, nextLines } from "./chat_host.ts";
import { GREETING } from "../servlets/chat/room.ts";

Deno.test("chat: a nickname is refused while taken, lines and commands as a client sees them", async () => {
  await using h = await chatHost();
  await using ann = await joinAs(h.port, "ann");
  await using bob = await Client.connect(h.port);
  assertEquals(await nextLine(bob), GREETING);
  await bob.send("ANN\r\n");
  assertEquals(await nextLine(bob), 'nickname "ANN" is taken; choose another:');
  await bob.send("Bøb\r\n");
  assertEquals(
    await nextLine(bob),
    "* you are Bøb; in the room: Bøb, ann. /who /nick NAME /me ACTION /quit",
  );
  assertEquals(await nextLine(ann), "* Bøb has joined");
  await ann.send("hello ✓\r\n/me waves\r\n");
  assertEquals(await nextLines(bob, 2), ["<ann> hello ✓", "* ann waves"]);
  assertEquals(await nextLines(ann, 2), ["<ann> hello ✓", "* ann waves"]);
  await bob.send("/who\n/nick bob\n");
  assertEquals(await nextLines(bob, 2), ["* in the room: Bøb, ann", "* Bøb is now known as bob"]);
  assertEquals(await nextLine(ann), "* Bøb is now known as bob");
  await bob.send("/quit\n");
  assertEquals(await nextLine(bob), "* bye");
  assertEquals(await bob.closedByServer(), true);
  assertEquals(await nextLine(ann), "* bob has left (quit)");
});

Deno.test("chat: 50 concurrent clients each see all 50 lines", async () => {
  await using h = await chatHost();
  const clients = await Promise.all(
    Array.from({ length: 50 }, (_, i) => joinAs(h.port, `u${i}`)),
  );
  // Every client has its welcome: all 50 are in the room, and a line now reaches all of them.
  await Promise.all(clients.map((client, i) => client.send(`hello from u${i}\r\n`)));
  await Promise.all(clients.map(async (client, i) => {
    const said = new Set<string>();
    while (said.size < 50) {
      const line = await nextLine(client);
      if (line === null) throw new Error(`u${i} closed early`);
      if (line.startsWith("<")) said.add(line);
    }
    assertEquals(
      [...said].sort(),
      Array.from({ length: 50 }, (_, j) => `<u${j}> hello from u${j}`).sort(),
    );
  }));
  for (const client of clients) client.close();
});

/** Reads until `count` lines starting with `prefix` came; returns them in order. */
async function linesStarting(client: Client, prefix: string, count: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < count) {
    const line = await nextLine(client);
    if (line === null) throw new Error(`closed after ${got.length} of ${count} lines`);
    if (line.startsWith(prefix)) got.push(line);
  }
  return got;
}

Deno.test("chat: 1,000 lines to 100 clients arrive complete and in order", async () => {
  await using h = await chatHost();
  const clients = await Promise.all(Array.from({ length: 100 }, (_, i) => joinAs(h.port, `c${i}`)));
  const lines = Array.from({ length: 1000 }, (_, i) => `m${i} ${"é".repeat(i % 40 + 1)}`);
  // In a few large writes, so that requests carry many lines each.
  for (let i = 0; i < 1000; i += 250) {
    await clients[0].send(lines.slice(i, i + 250).map((l) => `${l}\r\n`).join(""));
  }
  const expected = lines.map((l) => `<c0> ${l}`);
  await Promise.all(clients.map(async (client) => {
    assertEquals(await linesStarting(client, "<c0> ", 1000), expected);
  }));
  for (const client of clients) client.close();
});

Deno.test("chat: a client that never reads is dropped; the others get every line", async () => {
  await using h = await chatHost(undefined, { pushBuffer: 262144, writeTimeout: 30 });
  await using talker = await joinAs(h.port, "talker");
  await using _sleepy = await joinAs(h.port, "sleepy"); // never reads again
  assertEquals(await nextLine(talker), "* sleepy has joined");
  const line = "z".repeat(1000);
  // 8 MB to sleepy in all: more than the socket buffers and the push buffer hold.
  const total = 8000;
  const sending = (async () => {
    for (let i = 0; i < total; i += 100) {
      await talker.send(Array.from({ length: 100 }, (_, j) => `${i + j} ${line}\r\n`).join(""));
    }
  })();
  const seen: string[] = [];
  let left = "";
  while (seen.length < total) {
    const got = await nextLine(talker);
    if (got === null) throw new Error("talker closed");
    if (got.startsWith("<talker> ")) seen.push(got.slice(9, got.indexOf(" ", 9)));
    else if (got.startsWith("* sleepy has left")) left = got;
  }
  await sending;
  assertEquals(seen, Array.from({ length: total }, (_, i) => String(i)));
  assertEquals(left, "* sleepy has left (connection closed)");
  await waitForLog(h, /PLUMB_CONN_PUSH_OVERFLOW .*over the push buffer of 262144 bytes/);
});

Deno.test("chat: a client that leaves mid-broadcast; the room goes on", async () => {
  await using h = await chatHost();
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => joinAs(h.port, `p${i}`)));
  const leaver = clients.pop()!;
  const talker = clients[0];
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i}\r\n`);
  await talker.send(lines.slice(0, 250).join(""));
  leaver.close(); // mid-broadcast, with lines unread
  await talker.send(lines.slice(250).join(""));
  // The leave notice comes between two lines of the broadcast, wherever the server saw it.
  await Promise.all(clients.map(async (client, k) => {
    const got: string[] = [];
    const left: string[] = [];
    while (got.length < 500 || left.length === 0) {
      const line = await nextLine(client);
      if (line === null) throw new Error(`p${k} closed after ${got.length} lines`);
      if (line.startsWith("<p0> ")) got.push(line);
      else if (line.startsWith("* p19 has left")) left.push(line);
    }
    assertEquals(got, lines.map((l) => `<p0> ${l.trim()}`));
    assertEquals(left, ["* p19 has left (connection closed)"]);
  }));
  await using late = await joinAs(h.port, "p19"); // the nickname is free again
  await late.send("/who\n");
  assertEquals((await linesStarting(late, "* in the room", 1))[0].split(", ").length, 20);
  for (const client of clients) client.close();
});

Deno.test("chat: a silent client is kicked after --idle seconds", async () => {
  await using h = await chatHost(["--idle", "0.3"]);
  await using quiet = await joinAs(h.port, "quiet");
  assertEquals(await nextLine(quiet), "* idle for 0.3 s: disconnected");
  assertEquals(await quiet.closedByServer(), true);
});

Deno.test("chat: bad arguments are one clear message", async () => {
  let message = "";
  try {
    await using _h = await chatHost(["--idle", "soon"]);
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(
    message.endsWith(
      `chat: arguments are --idle SECONDS and --max-message BYTES (numbers >= 0), --nats URL and ` +
        `--room NAME (1-32 letters, digits, "-" or "_"), got ["--idle","soon"]`,
    ),
    true,
    message,
  );
});
