/**
 * The `nats` module and the `nats/publish` servlet against a real
 * `nats-server` started by the test: a NATS request answered by the graph,
 * a queue group sharing requests between two hosts, a message with no reply
 * subject, publishing what a node reads, and an outage of the server.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { assertDocumented, readEntries } from "./docs/troubleshooting.ts";
import { Client, startHost, waitForLog } from "./helpers.ts";
import { HAVE_NATS_SERVER, startNatsServer } from "./nats_server.ts";
import type { GraphSpec } from "../host/mod.ts";
import { defineServlet } from "../mod.ts";

const ignore = !HAVE_NATS_SERVER;

/** `transform upper` over tcp, and as a NATS service on `subject` (in `queue`, if given). */
function upperGraph(servers: string, subject: string, queue?: string): GraphSpec {
  return {
    nodes: { n: { servlet: "transform", args: ["upper"] } },
    input: "n.in",
    output: "n.out",
    listeners: [
      { module: "tcp", options: {} },
      { module: "nats", options: { servers, subject, ...(queue ? { queue } : {}) } },
    ],
  };
}

Deno.test({
  name: "nats: a request on the subject is answered by the graph",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using h = await startHost(upperGraph(server.url, "plumb.upper"));
    assertEquals(h.host.urls[1], `${server.url}/plumb.upper`);
    const nc = await server.client();
    const reply = await nc.request("plumb.upper", "hello\nworld\n", { timeout: 5000 });
    assertEquals(reply.string(), "HELLO\nWORLD\n");
    // An empty message runs no request: its reply is empty.
    assertEquals((await nc.request("plumb.upper", "", { timeout: 5000 })).data.length, 0);
    // The last line needs no newline; the reply is what the graph wrote.
    assertEquals(
      (await nc.request("plumb.upper", "no newline", { timeout: 5000 })).string(),
      "NO NEWLINE\n",
    );
    // The tcp listener serves as before.
    await using client = await Client.connect(h.port);
    await client.send("tcp\n");
    assertEquals(await client.readLine(), "TCP\n");
  },
});

Deno.test({
  name: "nats: hosts in one queue group share the requests, each answered once",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    const lower = upperGraph(server.url, "plumb.case", "workers");
    lower.nodes.n.args = ["lower"];
    await using upper = await startHost(upperGraph(server.url, "plumb.case", "workers"));
    await using lowerHost = await startHost(lower);
    const nc = await server.client();
    const replies: string[] = [];
    for (let i = 0; i < 40; i++) {
      replies.push((await nc.request("plumb.case", `Hi ${i}\n`, { timeout: 5000 })).string());
    }
    const byUpper = replies.filter((r, i) => r === `HI ${i}\n`).length;
    const byLower = replies.filter((r, i) => r === `hi ${i}\n`).length;
    assertEquals(byUpper + byLower, 40);
    assert(byUpper > 0 && byLower > 0, `one host took all 40 (upper ${byUpper}, lower ${byLower})`);
    assertEquals(upper.host.urls[1], `${server.url}/plumb.case?queue=workers`);
    assert(lowerHost.host.urls.length === 2);
  },
});

Deno.test({
  name: "nats: a failing request gets the error reply; the listener serves on",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using h = await startHost({
      nodes: { n: { servlet: "transform", args: ["upper"] } },
      input: "n.in",
      output: "n.out",
      listeners: [
        { module: "tcp", options: {} },
        {
          module: "nats",
          options: { servers: server.url, subject: "plumb.up", maxMessageSize: 8 },
        },
      ],
    });
    const nc = await server.client();
    const long = await nc.request("plumb.up", "far too long a line\n", { timeout: 5000 });
    assertEquals(long.string(), "error: line longer than 8 bytes\n");
    assertEquals((await nc.request("plumb.up", "ok\n", { timeout: 5000 })).string(), "OK\n");
    await waitForLog(h, "nats:plumb.up");
  },
});

Deno.test({
  name: "nats/publish: each line read is published, and passed on",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    const nc = await server.client();
    const subscription = nc.subscribe("plumb.said", { max: 2 });
    await nc.flush();
    await using h = await startHost({
      nodes: {
        n: { servlet: "nats/publish", args: ["--servers", server.url, "--subject", "plumb.said"] },
      },
      input: "n.in",
      output: "n.out",
      listeners: [{ module: "tcp", options: {} }],
    });
    await using client = await Client.connect(h.port);
    await client.send("first line\nsecond, é\n");
    assertEquals(await client.readLine(), "first line\n");
    assertEquals(await client.readLine(), "second, é\n");
    const got: string[] = [];
    for await (const msg of subscription) got.push(msg.string());
    assertEquals(got, ["first line", "second, é"]);
  },
});

Deno.test({
  name:
    "nats: with the server stopped the host serves tcp and logs it; restarted, requests come again",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using h = await startHost(upperGraph(server.url, "plumb.upper", "workers"));
    const entries = readEntries();
    await server.stop();
    const lost = await waitForLog(h, "PLUMB_NATS_DISCONNECTED");
    assertMatch(
      lost,
      /^plumb warn: PLUMB_NATS_DISCONNECTED nats listener on plumb\.upper \(queue workers\): lost the NATS server 127\.0\.0\.1:\d+; serving local clients and reconnecting$/,
    );
    assertDocumented(entries, lost, "PLUMB_NATS_DISCONNECTED");
    {
      await using client = await Client.connect(h.port);
      await client.send("still served\n");
      assertEquals(await client.readLine(), "STILL SERVED\n");
    }
    await server.start();
    const back = await waitForLog(h, "PLUMB_NATS_RECONNECTED");
    assertMatch(
      back,
      /^plumb info: PLUMB_NATS_RECONNECTED nats listener on plumb\.upper \(queue workers\): reconnected to the NATS server 127\.0\.0\.1:\d+$/,
    );
    assertDocumented(entries, back, "PLUMB_NATS_RECONNECTED");
    const nc = await server.client();
    const reply = await nc.request("plumb.upper", "again\n", { timeout: 5000 });
    assertEquals(reply.string(), "AGAIN\n");
  },
});

Deno.test({
  name: "nats: maxInFlight bounds the messages served at once; the others wait their turn",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    let running = 0;
    let most = 0;
    const slow = defineServlet({
      init: (_args, env) => ({ input: env.input("in"), output: env.output("out") }),
      async exec(ctx, task) {
        running++;
        most = Math.max(most, running);
        const line = await task.readLine(ctx.input);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running--;
        await task.write(ctx.output, `done ${line}\n`);
      },
    });
    await using _h = await startHost({
      nodes: { n: { servlet: slow } },
      input: "n.in",
      output: "n.out",
      listeners: [
        { module: "tcp", options: {} },
        { module: "nats", options: { servers: server.url, subject: "plumb.slow", maxInFlight: 2 } },
      ],
    });
    const nc = await server.client();
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => nc.request("plumb.slow", `${i}\n`, { timeout: 5000 })),
    );
    assertEquals(
      replies.map((r) => r.string()),
      Array.from({ length: 12 }, (_, i) => `done ${i}\n`),
    );
    assert(most <= 2, `${most} served at once`);
  },
});

Deno.test({
  name: "nats: a plain publish runs the graph on every subscribed host, or on one of a queue group",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    /** A host whose graph publishes each line it is sent on `plumb.in` to `plumb.seen`. */
    const relay = (queue?: string): GraphSpec => ({
      nodes: {
        n: { servlet: "nats/publish", args: ["--servers", server.url, "--subject", "plumb.seen"] },
      },
      input: "n.in",
      output: "n.out",
      listeners: [
        { module: "tcp", options: {} },
        {
          module: "nats",
          options: { servers: server.url, subject: "plumb.in", ...(queue ? { queue } : {}) },
        },
      ],
    });
    const nc = await server.client();
    const seen: string[] = [];
    const watcher = nc.subscribe("plumb.seen", {
      callback: (_e, msg) => void seen.push(msg.string()),
    });
    await nc.flush();
    {
      await using _a = await startHost(relay());
      await using _b = await startHost(relay());
      nc.publish("plumb.in", "to everyone\n");
      // A request after the publish, answered by one of them, then both copies are in.
      await nc.request("plumb.in", "marker\n", { timeout: 5000 });
      await waitUntil(() => seen.filter((s) => s === "to everyone").length === 2);
      assertEquals(seen.filter((s) => s === "to everyone").length, 2);
    }
    seen.length = 0;
    {
      await using _a = await startHost(relay("relays"));
      await using _b = await startHost(relay("relays"));
      for (let i = 0; i < 10; i++) nc.publish("plumb.in", `once ${i}\n`);
      // Then 10 requests, each answered after the publishes before it were taken: had every
      // host taken every message, the copies would be in by the end.
      for (let i = 0; i < 10; i++) await nc.request("plumb.in", `asked ${i}\n`, { timeout: 5000 });
      await waitUntil(() => seen.length >= 20);
      const expected = Array.from({ length: 10 }, (_, i) => [`once ${i}`, `asked ${i}`]).flat();
      assertEquals(seen.sort(), expected.sort());
    }
    watcher.unsubscribe();
  },
});

/** Waits until `done()` holds, for at most 5 s. */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

Deno.test({
  name: "nats/publish --request: a graph on one host calls the graph another host serves",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using _service = await startHost(upperGraph(server.url, "plumb.upper"));
    const caller = (subject: string): GraphSpec => ({
      nodes: {
        call: {
          servlet: "nats/publish",
          args: ["--servers", server.url, "--subject", subject, "--request", "5"],
        },
      },
      input: "call.in",
      output: "call.out",
      listeners: [{ module: "tcp", options: {} }],
    });
    await using h = await startHost(caller("plumb.upper"));
    await using client = await Client.connect(h.port);
    await client.send("from host a\nand again\n");
    assertEquals(await client.readLines(2), ["FROM HOST A\n", "AND AGAIN\n"]);
    // No one serves the subject: the request fails with its code, the host goes on.
    await using lonely = await startHost(caller("plumb.nobody"));
    await using asker = await Client.connect(lonely.port);
    await asker.send("anyone?\n");
    assertEquals(await asker.readLine(), "error: request failed\n");
    const line = await waitForLog(lonely, "PLUMB_NATS_REQUEST_FAILED");
    const inner = line.slice(line.indexOf("PLUMB_NATS_REQUEST_FAILED"));
    assertDocumented(readEntries(), inner, "PLUMB_NATS_REQUEST_FAILED");
    assertMatch(
      inner,
      /^PLUMB_NATS_REQUEST_FAILED nats\/publish: request on plumb\.nobody failed: /,
    );
  },
});

Deno.test({
  name:
    "nats: a reply past the server's max_payload is not dropped in silence: the requester is told at once, the host logs it, and serves on",
  ignore,
  async fn() {
    await using server = await startNatsServer();
    await using h = await startHost({
      nodes: { n: { servlet: "./tests/fixtures/big.ts" } }, // 4 MiB a line
      input: "n.in",
      output: "n.out",
      listeners: [
        { module: "tcp", options: {} },
        { module: "nats", options: { servers: server.url, subject: "plumb.big" } },
      ],
    });
    const nc = await server.client();
    for (let i = 1; i <= 2; i++) {
      // Without the check the server refuses the reply and the request waits out its timeout.
      const reply = await nc.request("plumb.big", "x\n", { timeout: 30_000 });
      assertEquals(reply.string(), "error: reply longer than 1048576 bytes\n");
      const lines = h.logs.filter((l) => l.includes(" PLUMB_NATS_REPLY_TOO_LONG "));
      assertEquals(lines.length, i, h.logs.join("\n"));
      assertDocumented(readEntries(), lines[0], "PLUMB_NATS_REPLY_TOO_LONG");
      assertMatch(
        lines[0],
        /nats listener on plumb\.big: the reply to a message on plumb\.big is 4194305 bytes, more than the NATS server's max_payload of 1048576; the requester is told so$/,
      );
    }
  },
});
