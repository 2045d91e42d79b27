/**
 * The host's socket-free entry (`Host.load`, `Host.connect`, `Host.request`):
 * a graph run in memory by the same session code as a TCP connection, with
 * the first listener's session options, reload and close as on a host that
 * listens; and `connect` on a host that does listen.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { GraphError } from "../mod.ts";
import { createLogger, type GraphSpec, Host, type MemoryConnection } from "../host/mod.ts";
import { disposed } from "./fixtures/counter.ts";

const decoder = new TextDecoder();
const QUIET = { logLevel: "error" } as const;

/** Options whose logger keeps the lines in `logs` instead of printing them. */
function kept(): { logs: string[]; logger: ReturnType<typeof createLogger> } {
  const logs: string[] = [];
  return { logs, logger: createLogger("info", (line) => logs.push(line)) };
}

/** Reads reply chunks until `count` lines have come (or the host closed); returns them joined. */
async function lines(conn: MemoryConnection, count: number): Promise<string> {
  let text = "";
  while (text.split("\n").length - 1 < count) {
    const chunk = await conn.readText();
    if (chunk === null) break;
    text += chunk;
  }
  return text;
}

/** A graph of one node, with no listener at all. */
function oneNode(servlet: string, args: string[] = []): GraphSpec {
  return { nodes: { n: { servlet, args } }, input: "n.in", output: "n.out" };
}

Deno.test("Host.load runs a graph with no listener: PERSIST keeps the connection, state stays with it", async () => {
  disposed.length = 0;
  await using host = await Host.load(oneNode("./tests/fixtures/counter.ts"), QUIET);
  assertEquals([host.urls, host.graph.listeners, host.graph.nodes], [[], [], ["n"]]);
  await using a = host.connect();
  await using b = host.connect();
  await a.write("x\n");
  assertEquals(await lines(a, 1), "1: x\n");
  await b.write("y\n");
  assertEquals(await lines(b, 1), "1: y\n");
  await a.write("z\n");
  assertEquals(await lines(a, 1), "2: z\n");
  a.close();
  b.close();
  await host.close();
  assertEquals(disposed.sort(), ["disposed 1", "disposed 2"]);
});

Deno.test("Host.request: one connection, the input half-closed, every reply byte", async () => {
  await using host = await Host.load("examples/pipeline.json", QUIET);
  const reply = await host.request("a\nb\n");
  assertEquals(decoder.decode(reply), "Hello, A\nHello, B\n");
  // Echo without PERSIST closes after its first reply: the rest is not read.
  await using echo = await Host.load(oneNode("echo", ["close"]), QUIET);
  assertEquals(decoder.decode(await echo.request("once")), "once");
});

Deno.test("Host.load: the first listener's session options, options.session over them", async () => {
  await using eliza = await Host.load("examples/eliza.json", QUIET);
  await using greeted = eliza.connect();
  assertEquals(await greeted.readText(), "How do you do. Please tell me your problem.\n");
  await greeted.write("bye\n");
  assertEquals(await greeted.readText(), "Goodbye. It was nice talking to you.\n");
  assertEquals(await greeted.read(), null, "bye clears PERSIST: the host closed");

  await using quiet = await Host.load("examples/eliza.json", {
    ...QUIET,
    session: { open: false },
  });
  await using plain = quiet.connect();
  await plain.write("bye\n");
  assertEquals(await plain.readText(), "Goodbye. It was nice talking to you.\n");

  const { logs, logger } = kept();
  await using short = await Host.load("examples/hello.json", {
    logger,
    session: { maxMessageSize: 4 },
  });
  assertEquals(
    decoder.decode(await short.request("123456\n")),
    "error: line longer than 4 bytes\n",
  );
  assertMatch(logs.join("\n"), /node "greet" \(hello\) failed a request from memory:1: .*longer/);
  const bad = await Host.load("examples/hello.json", { ...QUIET, session: { ttl: -1 } })
    .then(() => undefined, (error) => error);
  assert(bad instanceof GraphError);
  assertEquals(
    bad.message,
    `examples/hello.json: in-memory connections: option "ttl" must be at least 0.001, got -1 ` +
      `(seconds an idle persistent connection is kept)`,
  );
});

Deno.test("Host.load: a failing request gets the error reply and the others go on", async () => {
  const { logs, logger } = kept();
  await using host = await Host.load(oneNode("./tests/fixtures/fail.ts"), { logger });
  await using ok = host.connect({ peer: "steady" });
  assertEquals(
    decoder.decode(await host.request("boom\n", { peer: "failing" })),
    "error: request failed\n",
  );
  assertEquals(logs, [
    `plumb error: PLUMB_REQUEST_FAILED node "n" (./tests/fixtures/fail.ts) failed a request from failing: ` +
    `Error: boom requested`,
  ]);
  await ok.write("fine\n");
  assertEquals(await lines(ok, 1), "ok: fine\n");
});

Deno.test("Host.load: reload gives new connections the new graph, an open one keeps its own", async () => {
  await using host = await Host.load(oneNode("hello"), QUIET);
  await using before = host.connect();
  await before.write("a\n");
  assertEquals(await lines(before, 1), "Hello, a\n");
  const result = await host.reload(oneNode("transform", ["upper"]));
  assertEquals([result.reloaded, result.draining, result.listenersChanged], [true, 1, false]);
  assertEquals(decoder.decode(await host.request("b\n")), "B\n");
  await before.write("c\n");
  assertEquals(await lines(before, 1), "Hello, c\n");
});

Deno.test("close ends idle in-memory connections; connect afterwards is refused", async () => {
  const host = await Host.load(oneNode("hello"), QUIET);
  const conn = host.connect();
  await conn.write("a\n");
  assertEquals(await lines(conn, 1), "Hello, a\n");
  await host.close();
  assertEquals(await conn.read(), null, "the host closed the connection");
  await host.finished;
  assertThrows(() => host.connect(), {
    name: "PlumbError",
    message: "graph: cannot connect: the host is closing or closed",
  });
});

Deno.test("a host that listens also takes connections in memory, served alike", async () => {
  await using host = await Host.start("examples/hello.json", { ...QUIET, port: 0 });
  const port = Number(new URL(host.urls[0].replace("tcp:", "http:")).port);
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  await tcp.write(new TextEncoder().encode("tcp\n"));
  const buffer = new Uint8Array(64);
  const n = await tcp.read(buffer);
  tcp.close();
  assertEquals(decoder.decode(buffer.subarray(0, n ?? 0)), "Hello, tcp\n");
  assertEquals(decoder.decode(await host.request("memory\n")), "Hello, memory\n");
});
