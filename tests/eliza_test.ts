/**
 * ELIZA served in memory (the testing kit's `simulate`: the host's own
 * session code, no socket; `testing_kit_test.ts` checks the same graph over
 * TCP alike): the greeting before input, a scripted conversation with exact
 * replies, quit words, per-connection memory with 100 sessions at once, a
 * script given as an argument, and session state released on close.
 */
import { assert, assertEquals } from "./assert.ts";
import { Host } from "../host/mod.ts";
import { simulate } from "../testing/mod.ts";
import eliza from "../servlets/eliza.ts";
import counter, { disposed } from "./fixtures/counter.ts";

const GREETING = "How do you do. Please tell me your problem.\n";

Deno.test("eliza: the greeting comes before the client types anything", async () => {
  await using sim = await simulate("examples/eliza.json");
  await using c = await sim.connect();
  assertEquals(await c.readLine(), GREETING);
});

Deno.test("eliza: a scripted conversation, reply by reply", async () => {
  await using sim = await simulate("examples/eliza.json");
  await using c = await sim.connect();
  assertEquals(await c.readLine(), GREETING);
  const conversation: [string, string][] = [
    ["I am a human being.", "How long have you been a human being?"],
    ["About 39 years.", "I'm not sure I understand you fully."],
    ["It started when I was born...", "Why do you tell me you were born now?"],
    ["Because you asked.", "Is that the real reason?"],
    ["Yes, my mother is getting on my nerves.", "Tell me more about your family."],
    ["I have a dog too.", "You say you have a dog too?"],
    ["I remember the war", "Do you often think of the war?"],
    ["You are a computer", "Do computers worry you?"],
    ["Everybody hates me", "Really, everybody?"],
    ["I dreamt I could fly", "Really, you could fly?"],
    ["Perhaps", "You don't seem quite certain."],
    ["ok", "Let's discuss further why your mother is getting on your nerves."],
    ["I am a human being.", "Is it because you are a human being that you came to me?"],
    ["well", "Please go on."],
  ];
  for (const [said, reply] of conversation) {
    await c.send(`${said}\r\n`);
    assertEquals(await c.readLine(), `${reply}\n`, said);
  }
  await c.send("bye\r\n");
  assertEquals(await c.readToEnd(), "Goodbye. It was nice talking to you.\n");
});

Deno.test("eliza: every quit word ends the session with a goodbye", async () => {
  await using sim = await simulate("examples/eliza.json");
  for (const word of ["bye", "Goodbye", "QUIT", "exit!"]) {
    await using c = await sim.connect();
    assertEquals(await c.readLine(), GREETING);
    await c.send(`${word}\nnever answered\n`);
    assertEquals(await c.readToEnd(), "Goodbye. It was nice talking to you.\n", word);
  }
});

Deno.test("eliza: 100 concurrent sessions each keep their own memory", async () => {
  await using sim = await simulate("examples/eliza.json");
  const clients = await Promise.all(Array.from({ length: 100 }, () => sim.connect()));
  try {
    await Promise.all(clients.map(async (c, i) => {
      assertEquals(await c.readLine(), GREETING);
      await c.send(`My cat${i} is lost\n`);
      assertEquals(await c.readLine(), `Your cat${i} is lost?\n`);
    }));
    // Every session now says something with no keyword: each hears its own topic back.
    await Promise.all(clients.map(async (c, i) => {
      await c.send("hmm\n");
      assertEquals(await c.readLine(), `Let's discuss further why your cat${i} is lost.\n`);
      await c.send("hmm\n");
      assertEquals(await c.readLine(), "I'm not sure I understand you fully.\n");
    }));
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("eliza: another script, given as a JSON file argument", async () => {
  await using sim = await simulate(eliza, {
    args: ["./tests/fixtures/tiny_script.json"],
    session: { open: true },
  });
  await using c = await sim.connect();
  assertEquals(await c.readLine(), "Speak.\n");
  for (
    const [said, reply] of [
      ["my mum is away", "Your mother, you say?"],
      ["my father too", "Tell me about others."],
      ["my car", "Yours?"],
      ["what", "Go on."],
      ["what", "And?"],
      ["what", "Go on."],
    ]
  ) {
    await c.send(`${said}\n`);
    assertEquals(await c.readLine(), `${reply}\n`, said);
  }
  await c.send("stop\n");
  assertEquals(await c.readToEnd(), "Bye then.\n");
});

Deno.test("PUSH_STATE/POP_STATE: state lives with its connection and is disposed when it closes", async () => {
  disposed.length = 0;
  await using sim = await simulate(counter);
  await using a = await sim.connect();
  await using b = await sim.connect();
  await a.send("x\n");
  assertEquals(await a.readLine(), "1: x\n");
  await b.send("y\n");
  assertEquals(await b.readLine(), "1: y\n");
  await a.send("z\n");
  assertEquals(await a.readLine(), "2: z\n");
  assertEquals(disposed, []);
  await a.closeWrite();
  assertEquals(await a.readToEnd(), "");
  while (disposed.length === 0) await new Promise((r) => setTimeout(r, 5));
  assertEquals(disposed, ["disposed 2"]);
  await b.send("w\n");
  assertEquals(await b.readLine(), "2: w\n");
});

Deno.test("eliza: a script that does not parse stops start-up with the node and the cause", async () => {
  const spec = {
    nodes: { n: { servlet: "eliza", args: ["./tests/fixtures/graphs/bad_json.json"] } },
    input: "n.in",
    output: "n.out",
  };
  const error = await Host.load(spec).then(() => undefined, (e: Error) => e);
  assert(error);
  assertEquals(error.name, "GraphError");
  assert(
    /^graph: node "n": init of servlet "eliza" failed: PLUMB_ELIZA_SCRIPT ELIZA script \/.*bad_json\.json: Expected double-quoted property name/
      .test(error.message),
    error.message,
  );
});
