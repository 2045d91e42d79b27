/**
 * Time limits and error replies of a connection: a request that takes too
 * long (a line trickled a byte at a time, a servlet that never resolves), a
 * client that never reads its replies, and what a client is told when its
 * request fails. Each is provoked for real over TCP, and each leaves the host
 * serving everyone else.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, oneNode, startHost, waitForLog } from "./helpers.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Serves one more client, to show the host is still fine. */
async function stillServes(port: number, line = "next"): Promise<void> {
  await using c = await Client.connect(port);
  await c.send(`${line}\n`);
  assertEquals(await c.readLine(), `Hello, ${line}\n`);
}

Deno.test("slowloris: a line trickled a byte at a time is cut at requestTimeout, with a reply", async () => {
  await using h = await startHost(oneNode("hello", [], { requestTimeout: 0.3 }));
  await using c = await Client.connect(h.port);
  // A byte every 50 ms keeps the connection busy (no ttl applies) but never ends the line.
  let closed = false;
  const trickle = (async (): Promise<void> => {
    for (let i = 0; i < 100 && !closed; i++) {
      try {
        await c.send("a");
      } catch {
        return; // the host closed the connection
      }
      await sleep(50);
    }
  })();
  const reply = await c.readToEnd();
  closed = true;
  await trickle;
  assertEquals(reply, "error: request took longer than 0.3 s\n");
  assert(
    h.logs.some((l) => l.includes("request took longer than 0.3 s (requestTimeout), closing")),
    h.logs.join("\n"),
  );
  await stillServes(h.port);
});

Deno.test("a servlet that never resolves fails its request at requestTimeout; others are served", async () => {
  await using h = await startHost(
    oneNode("./tests/fixtures/misbehave.ts", [], { requestTimeout: 0.2 }),
  );
  await using c = await Client.connect(h.port);
  await c.send("hang\n");
  assertEquals(await c.readToEnd(), "error: request took longer than 0.2 s\n");
  await using d = await Client.connect(h.port);
  await d.send("fine\n");
  assertEquals(await d.readLine(), "ok: fine\n");
});

Deno.test("a client that never reads its replies is closed after writeTimeout", async () => {
  // big.ts replies 4 MiB per line: far more than the socket buffers hold.
  await using h = await startHost(
    oneNode("./tests/fixtures/big.ts", [], { writeTimeout: 0.3 }),
  );
  const c = await Client.connect(h.port);
  await c.send("more\n");
  // Do not read. The host gives up on the write and closes.
  await waitForLog(h, "did not read its reply for 0.3 s (writeTimeout), closing");
  // What the client then reads is less than the 4 MiB reply and ends: the host closed it.
  const got = await c.readToEnd();
  assert(got.length < 4 * 1024 * 1024, `read ${got.length} bytes`);
  c.close();
  await using d = await Client.connect(h.port);
  await d.send("x\n");
  assertEquals((await d.readLine())?.length, 65536 * 64 + 1);
});

Deno.test("errorReply: a template with {reason}, or nothing at all", async () => {
  await using custom = await startHost(
    oneNode("./tests/fixtures/fail.ts", [], { errorReply: "ERR {reason}!\r\n" }),
  );
  await using c = await Client.connect(custom.port);
  await c.send("boom\n");
  assertEquals(await c.readLine(), "ERR request failed!\r\n");

  await using silent = await startHost(oneNode("./tests/fixtures/fail.ts", [], { errorReply: "" }));
  await using d = await Client.connect(silent.port);
  await d.send("boom\n");
  await d.send("after\n");
  assertEquals(await d.readLine(), "ok: after\n", "nothing for the failure, then the next reply");
});
