/**
 * Failures a user can cause: a servlet that throws or rejects, a line over
 * the limit, garbage bytes (over connections in memory, the testing kit's
 * `simulate`, which runs the host's own session code), a client that goes
 * away mid-reply (over a real socket). Each fails only its own request; the
 * host keeps serving everyone else.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, oneNode, startHost } from "./helpers.ts";
import { simulate, type SimulateOptions, type Simulation } from "../testing/mod.ts";
import fail from "./fixtures/fail.ts";
import misbehave, { lateErrors } from "./fixtures/misbehave.ts";

/** The fail fixture as a graph of one node `n`, served in memory. */
function failGraph(options: SimulateOptions = {}): Promise<Simulation> {
  return simulate(fail, { node: "n", ...options });
}

/** The misbehave fixture (with `args`) as a graph of one node `n`, served in memory. */
function misbehaving(args: string[] = []): Promise<Simulation> {
  return simulate(misbehave, { node: "n", args });
}

Deno.test("a servlet that throws fails only its request; the host keeps serving", async () => {
  await using sim = await failGraph();
  await using other = await sim.connect();
  await other.send("before\n");
  assertEquals(await other.readLine(), "ok: before\n");

  await using bad = await sim.connect();
  await bad.send("good\n");
  assertEquals(await bad.readLine(), "ok: good\n");
  await bad.send("boom\n");
  assertEquals(
    await bad.readLine(),
    "error: request failed\n",
    "the failed request's client is told so (errorReply)",
  );
  await bad.send("good again\n");
  assertEquals(
    await bad.readLine(),
    "ok: good again\n",
    "the persistent connection goes on to the next request (onError: continue)",
  );
  assert(
    sim.logs.some((l) =>
      l.startsWith("plumb error:") && l.includes(`node "n"`) && l.includes("Error: boom requested")
    ),
  );

  await other.send("after\n");
  assertEquals(await other.readLine(), "ok: after\n");
  await using again = await sim.connect();
  await again.send("new\n");
  assertEquals(await again.readLine(), "ok: new\n");
});

Deno.test("a servlet that rejects fails only its request", async () => {
  await using sim = await failGraph();
  await using bad = await sim.connect();
  await bad.send("reject\n");
  assertEquals(await bad.readLine(), "error: request failed\n");
  assert(sim.logs.some((l) => l.includes("RangeError: rejected on purpose")));
  await bad.send("then\n");
  assertEquals(await bad.readLine(), "ok: then\n");
  await using good = await sim.connect();
  await good.send("fine\n");
  assertEquals(await good.readLine(), "ok: fine\n");
});

Deno.test("a servlet that fails after writing: what it wrote is delivered, no error reply, and it goes on", async () => {
  await using sim = await failGraph();
  await using c = await sim.connect();
  await c.send("half\nnext\n");
  assertEquals(await c.readLine(), "partial ok: next\n");
});

Deno.test('onError "close": a failed request closes its connection after the error reply', async () => {
  await using sim = await failGraph({ session: { onError: "close" } });
  await using c = await sim.connect();
  await c.send("good\n");
  assertEquals(await c.readLine(), "ok: good\n");
  await c.send("boom\nnever\n");
  assertEquals(await c.readToEnd(), "error: request failed\n");
  await using d = await sim.connect();
  await d.send("half\nnever\n");
  assertEquals(await d.readToEnd(), "partial ", "what it wrote is delivered, then it closes");
});

Deno.test('onError: a value other than "continue" or "close" is refused with the listener named', async () => {
  const error = await startHost(oneNode("hello", [], { onError: "ignore" })).then(
    () => undefined,
    (e: Error) => e,
  );
  assertEquals(
    error?.message,
    'graph: listener 1 (tcp): option "onError" must be one of "continue", "close", got "ignore" ' +
      "(after a failed request: go on to the next one, or close the connection)",
  );
});

Deno.test("a line longer than maxMessageSize fails its request with a clear log line", async () => {
  await using sim = await failGraph({ session: { maxMessageSize: 1024 } });
  await using c = await sim.connect();
  await c.send("x".repeat(5000));
  assertEquals(await c.readToEnd(), "error: line longer than 1024 bytes\n");
  assert(
    sim.logs.some((l) =>
      l.includes("MessageTooLongError: PLUMB_LINE_TOO_LONG line longer than 1024 bytes") &&
      l.includes("maxMessageSize")
    ),
  );
  await using good = await sim.connect();
  await good.send(`${"y".repeat(1024)}\n`);
  assertEquals(await good.readLine(), `ok: ${"y".repeat(1024)}\n`);
});

Deno.test("garbage and invalid UTF-8 become replacement characters, not a crash", async () => {
  await using sim = await simulate("examples/hello.json");
  await using c = await sim.connect();
  await c.send(new Uint8Array([0xff, 0xfe, 0x41, 0xc3, 0x0a]));
  assertEquals(await c.readLine(), "Hello, \uFFFD\uFFFDA\uFFFD\n");
  await c.send(new Uint8Array([0x00, 0x01, 0x1b, 0x5b, 0x0a]));
  assertEquals(await c.readLine(), "Hello, \u0000\u0001\u001b[\n");
});

Deno.test("a client that disconnects mid-reply does not disturb the host", async () => {
  await using h = await startHost(oneNode("./tests/fixtures/big.ts"));
  for (let i = 0; i < 3; i++) {
    const c = await Client.connect(h.port);
    await c.send("go\n");
    const first = new Uint8Array(1000);
    assert((await c.conn.read(first)) !== null);
    c.close(); // gone with most of 4 MiB unread
  }
  await using good = await Client.connect(h.port);
  await good.send("go\n");
  const line = await good.readLine();
  assertEquals(line?.length, 64 * 65536 + 1);
  assert(
    !h.logs.some((l) => l.startsWith("plumb error:") || l.startsWith("plumb warn:")),
    h.logs.join("\n"),
  );
});

Deno.test("a write after the task ended fails that write only, as a rejection the servlet can catch", async () => {
  lateErrors.length = 0;
  await using sim = await misbehaving();
  await using c = await sim.connect();
  await c.send("late\n");
  assertEquals(await c.readLine(), "ok: late\n");
  while (lateErrors.length === 0) await new Promise((r) => setTimeout(r, 10));
  assertEquals(lateErrors, [
    `node "n": write on port "out" after its task ended; await every read and write before exec returns`,
  ]);
  await c.send("next\n");
  assertEquals(await c.readLine(), "ok: next\n");
});

Deno.test("a servlet that throws a value that cannot be printed fails only its request", async () => {
  await using sim = await misbehaving();
  await using bad = await sim.connect();
  await bad.send("odd\n");
  assertEquals(await bad.readLine(), "error: request failed\n");
  assert(
    sim.logs.some((l) => l.includes(`node "n"`) && l.includes("[object Object]")),
    sim.logs.join("\n"),
  );
  await using good = await sim.connect();
  await good.send("fine\n");
  assertEquals(await good.readLine(), "ok: fine\n");
});

Deno.test("close() is bounded even when a servlet never resolves", async () => {
  const sim = await misbehaving();
  const c = await sim.connect();
  await c.send("hang\n");
  await c.send("");
  await sim.close(50); // would never return if it waited for the hung exec
  assertEquals(await c.closedByServer(), true);
  c.close();
});

Deno.test("a read abandoned by its task does not take the next request's bytes", async () => {
  await using sim = await misbehaving(["race"]);
  await using c = await sim.connect();
  await c.send("par");
  assertEquals(await c.readLine(), "got (timeout)\n");
  await c.send("tial\nsecond\n");
  assertEquals(await c.readLine(), "got partial\n");
  assertEquals(await c.readLine(), "got second\n");
  await c.send("third\n");
  assertEquals(await c.readLine(), "got third\n");
});

Deno.test("a servlet that never reads its PERSIST input runs once per arrival, not in a loop", async () => {
  await using sim = await misbehaving(["quiet"]);
  await using c = await sim.connect();
  await c.send("x\n");
  assertEquals(await c.readLine(), "hi\n");
  await c.send("y\n");
  assertEquals(await c.readLine(), "hi\n");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "");
});
