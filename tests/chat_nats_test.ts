/**
 * `examples/nats/chat.json`: one chat room on two hosts joined by a real
 * `nats-server` started here, with TCP clients on each host: lines, `/me`,
 * join and leave notices and `/who` across hosts, nicknames unique across
 * hosts (NATS KV), and the server stopped mid-run (each host chats on
 * locally and logs it) and started again (the hosts reconnect, log it, and
 * the room is one again).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, path, startHost, type TestHost, waitForLog } from "./helpers.ts";
import { HAVE_NATS_SERVER, type NatsServer, startNatsServer } from "./nats_server.ts";
import { assertDocumented, readEntries } from "./docs/troubleshooting.ts";
import type { GraphSpec } from "../host/mod.ts";

const ignore = !HAVE_NATS_SERVER;
const GREETING = "Welcome to the plumb chat. What is your nickname?";
const HELP = "/who /nick NAME /me ACTION /quit";

/** The client's next line without its newline; fails after 10 s without one. */
async function next(client: Client): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no line in 10 s")), 10_000);
  });
  try {
    const line = await Promise.race([client.readLine(), late]);
    return line === null ? null : line.replace(/\r?\n$/, "");
  } finally {
    clearTimeout(timer);
  }
}

/** The example's room on a free port, against `server`. */
function chatHost(server: NatsServer): Promise<TestHost> {
  const graph = JSON.parse(Deno.readTextFileSync(path("examples/nats/chat.json"))) as GraphSpec;
  const args = graph.nodes.room.args!;
  args[args.indexOf("--nats") + 1] = server.url;
  return startHost(graph);
}

/** Connects, reads the greeting, gives `nick`; returns the client and its welcome line. */
async function join(host: TestHost, nick: string): Promise<[Client, string]> {
  const client = await Client.connect(host.port);
  assertEquals(await next(client), GREETING);
  await client.send(`${nick}\r\n`);
  const welcome = await next(client);
  assert(welcome?.startsWith(`* you are ${nick}; in the room: `), welcome ?? "closed");
  return [client, welcome!];
}

/**
 * Asks `/who` until the room's list is `expected` (the other host's news
 * travels over NATS), and returns the last answer; at most 100 times.
 */
async function whoUntil(client: Client, expected: string): Promise<string> {
  let answer: string | null = null;
  for (let i = 0; i < 100 && answer !== `* in the room: ${expected}`; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await client.send("/who\n");
    answer = await next(client);
  }
  return answer ?? "closed";
}

Deno.test({
  name: "chat over NATS: a user on host A sees a user on host B: lines, /me, joins, leaves, /who",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using a = await chatHost(server);
    await using b = await chatHost(server);
    const [ann] = await join(a, "ann");
    const [bob, bobWelcome] = await join(b, "bob");
    assert(bobWelcome.endsWith(`. ${HELP}`), bobWelcome);
    assertEquals(await next(ann), "* bob has joined");
    assertEquals(await whoUntil(bob, "ann, bob"), "* in the room: ann, bob");
    assertEquals(await whoUntil(ann, "ann, bob"), "* in the room: ann, bob");
    await ann.send("hello from A ✓\r\n/me waves\r\n");
    assertEquals([await next(bob), await next(bob)], ["<ann> hello from A ✓", "* ann waves"]);
    assertEquals([await next(ann), await next(ann)], ["<ann> hello from A ✓", "* ann waves"]);
    await bob.send("hi from B\n/nick Bøb\n");
    assertEquals([await next(ann), await next(ann)], [
      "<bob> hi from B",
      "* bob is now known as Bøb",
    ]);
    assertEquals([await next(bob), await next(bob)], [
      "<bob> hi from B",
      "* bob is now known as Bøb",
    ]);
    assertEquals(await whoUntil(ann, "Bøb, ann"), "* in the room: Bøb, ann");
    // A second user on A sees both hosts' users in its welcome.
    const [cat, catWelcome] = await join(a, "cat");
    assertEquals(catWelcome, `* you are cat; in the room: Bøb, ann, cat. ${HELP}`);
    assertEquals(await next(ann), "* cat has joined");
    assertEquals(await next(bob), "* cat has joined");
    await cat.send("/quit\n");
    assertEquals(await next(cat), "* bye");
    assertEquals(await next(ann), "* cat has left (quit)");
    assertEquals(await next(bob), "* cat has left (quit)");
    assertEquals(await whoUntil(bob, "Bøb, ann"), "* in the room: Bøb, ann");
    ann.close();
    assertEquals(await next(bob), "* ann has left (connection closed)");
    bob.close();
    cat.close();
  },
});

Deno.test({
  name:
    "chat over NATS: a nickname held on the other host is refused; one claimed at once on both goes to one",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using a = await chatHost(server);
    await using b = await chatHost(server);
    const [ann] = await join(a, "ann");
    const taker = await Client.connect(b.port);
    assertEquals(await next(taker), GREETING);
    await taker.send("ANN\n");
    assertEquals(await next(taker), 'nickname "ANN" is taken; choose another:');
    // Two users, one on each host, ask for one new nickname at the same moment: KV create is atomic.
    const other = await Client.connect(a.port);
    assertEquals(await next(other), GREETING);
    await Promise.all([taker.send("zed\n"), other.send("Zed\n")]);
    const answers = [await next(taker), await next(other)];
    const welcomed = answers.filter((line) => line?.startsWith("* you are "));
    const refused = answers.filter((line) => / is taken; choose another:$/.test(line ?? ""));
    assertEquals([welcomed.length, refused.length], [1, 1], answers.join(" | "));
    // ann, on A, is told of the winner, wherever it is; /nick to its nickname is refused.
    const winner = welcomed[0]!.slice("* you are ".length, "* you are ".length + 3);
    assertEquals(await next(ann), `* ${winner} has joined`);
    await ann.send("/nick zed\n");
    assertEquals(await next(ann), '* nickname "zed" is taken; you are still ann');
    ann.close();
    taker.close();
    other.close();
  },
});

Deno.test({
  name:
    "chat over NATS: with the server stopped each host chats on locally and logs it; restarted, the room is one again",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using a = await chatHost(server);
    await using b = await chatHost(server);
    const [ann] = await join(a, "ann");
    const [amy] = await join(a, "amy");
    assertEquals(await next(ann), "* amy has joined");
    const [bob] = await join(b, "bob");
    assertEquals([await next(ann), await next(amy)], ["* bob has joined", "* bob has joined"]);
    const [ben] = await join(b, "ben");
    assertEquals(await next(bob), "* ben has joined");
    assertEquals([await next(ann), await next(amy)], ["* ben has joined", "* ben has joined"]);
    assertEquals(await whoUntil(bob, "amy, ann, ben, bob"), "* in the room: amy, ann, ben, bob");

    await server.stop();
    const entries = readEntries();
    const lost =
      /^plumb warn: PLUMB_NATS_DISCONNECTED node "room": chat: lost the NATS server 127\.0\.0\.1:\d+; serving local clients and reconnecting$/;
    for (const host of [a, b]) {
      const line = await waitForLog(host, "PLUMB_NATS_DISCONNECTED");
      assert(lost.test(line), line);
      assertDocumented(entries, line, "PLUMB_NATS_DISCONNECTED");
    }
    // Each host's users go on talking among themselves.
    await ann.send("only A hears this\n");
    assertEquals([await next(ann), await next(amy)], [
      "<ann> only A hears this",
      "<ann> only A hears this",
    ]);
    await ben.send("/me stays on B\n");
    assertEquals([await next(ben), await next(bob)], ["* ben stays on B", "* ben stays on B"]);
    // A new nickname cannot be checked with the other hosts: it waits for the server.
    const zoe = await Client.connect(a.port);
    assertEquals(await next(zoe), GREETING);
    await zoe.send("zoe\n");
    assertEquals(
      await next(zoe),
      'nickname "zoe" cannot be checked with the other hosts now; choose another:',
    );

    await server.start();
    const back =
      /^plumb info: PLUMB_NATS_RECONNECTED node "room": chat: reconnected to the NATS server 127\.0\.0\.1:\d+$/;
    for (const host of [a, b]) {
      const line = await waitForLog(host, "PLUMB_NATS_RECONNECTED");
      assert(back.test(line), line);
      assertDocumented(entries, line, "PLUMB_NATS_RECONNECTED");
    }
    // One room again: the roll call, a new nickname claimed across hosts, lines across hosts.
    assertEquals(await whoUntil(bob, "amy, ann, ben, bob"), "* in the room: amy, ann, ben, bob");
    assertEquals(await whoUntil(amy, "amy, ann, ben, bob"), "* in the room: amy, ann, ben, bob");
    await zoe.send("zoe\n");
    assertEquals(
      await next(zoe),
      `* you are zoe; in the room: amy, ann, ben, bob, zoe. ${HELP}`,
    );
    assertEquals([await next(ann), await next(amy)], ["* zoe has joined", "* zoe has joined"]);
    assertEquals([await next(bob), await next(ben)], ["* zoe has joined", "* zoe has joined"]);
    await ann.send("back together\n");
    assertEquals([await next(bob), await next(ben)], [
      "<ann> back together",
      "<ann> back together",
    ]);
    await bob.send("welcome back\n");
    assertEquals([await next(ann), await next(zoe)], [
      "<ann> back together",
      "<ann> back together",
    ]);
    assertEquals([await next(ann), await next(zoe)], ["<bob> welcome back", "<bob> welcome back"]);
    for (const client of [ann, amy, bob, ben, zoe]) client.close();
  },
});

Deno.test({
  name:
    "chat over NATS: messages on the room's subject that are not a host's (garbage, nicks not a list) are dropped; the room serves on",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using a = await chatHost(server);
    const [ann] = await join(a, "ann");
    const nc = await server.client();
    for (
      const text of [
        "not json",
        "null",
        "42",
        '{"kind":"hello","nicks":["no from"]}',
        '{"from":"evil","kind":"hello","nicks":5}',
        '{"from":"evil","kind":"roster","nicks":{"a":1}}',
        '{"from":"evil","kind":"roster","nicks":["mallory",7,null]}',
        '{"from":"evil","kind":"event","line":"<mallory> hi"}',
      ]
    ) {
      nc.publish("plumb.chat.lobby", text);
    }
    await nc.flush();
    // The one well-formed line reaches ann; the rest changed nothing but the roster's strings.
    assertEquals(await next(ann), "<mallory> hi");
    await using b = await chatHost(server);
    const [bob] = await join(b, "bob");
    assertEquals(await next(ann), "* bob has joined");
    await bob.send("still one room\n");
    assertEquals(await next(ann), "<bob> still one room");
    assertEquals(await whoUntil(ann, "ann, bob, mallory"), "* in the room: ann, bob, mallory");
    for (const line of a.logs) assert(!/PLUMB_(UNCAUGHT|NATS_DISCONNECTED)/.test(line), line);
    ann.close();
    bob.close();
  },
});
