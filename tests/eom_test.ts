/**
 * EOM and module cntl operations: length-prefixed framing where the bytes
 * after a message start the next request (over connections in memory, the
 * testing kit's `simulate`, which runs the host's own session code), and the
 * TCP and Unix modules' own operations over real sockets.
 */
import { assertEquals } from "./assert.ts";
import { Client, concat, oneNode, startHost } from "./helpers.ts";
import { simulate } from "../testing/mod.ts";
import framer from "./fixtures/framer.ts";

function frame(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(2 + body.length);
  out[0] = body.length >> 8;
  out[1] = body.length & 0xff;
  out.set(body, 2);
  return out;
}

Deno.test("EOM: two length-prefixed messages in one write are two requests, in order", async () => {
  await using sim = await simulate(framer);
  await using c = await sim.connect();
  await c.send(concat(frame("first"), frame("second"), frame("third")));
  assertEquals(await c.readLine(), "got first\n");
  assertEquals(await c.readLine(), "got second\n");
  assertEquals(await c.readLine(), "got third\n");
});

Deno.test("EOM: a message split across writes waits for its rest, then the bytes after it go on", async () => {
  await using sim = await simulate(framer);
  await using c = await sim.connect();
  const both = concat(frame("hello, framed world"), frame("next"));
  await c.send(both.subarray(0, 7));
  await new Promise((r) => setTimeout(r, 30));
  await c.send(both.subarray(7));
  assertEquals(await c.readLine(), "got hello, framed world\n");
  assertEquals(await c.readLine(), "got next\n");
});

Deno.test("module cntl: tcp/peer and tcp/local answer with the connection's addresses", async () => {
  await using h = await startHost(oneNode("./tests/fixtures/whoami.ts"));
  await using c = await Client.connect(h.port);
  await c.send("tcp/peer tcp/local unix/path\n");
  const local = c.conn.localAddr as Deno.NetAddr;
  assertEquals(
    await c.readLine(),
    `tcp/peer=127.0.0.1:${local.port} tcp/local=127.0.0.1:${h.port} ` +
      `error: node "n": port "in" has no "unix/path" operation; its module's are tcp/peer, tcp/local\n`,
  );
});

Deno.test("module cntl: unix/path on a Unix socket", async () => {
  const socket = "/tmp/plumb-test.sock";
  await using _h = await startHost(
    {
      ...oneNode("./tests/fixtures/whoami.ts"),
      listeners: [{ module: "unix", options: { path: socket } }],
    },
    { host: undefined, port: undefined },
  );
  const conn = await Deno.connect({ transport: "unix", path: socket });
  await conn.write(new TextEncoder().encode("unix/path tcp/peer\n"));
  const buffer = new Uint8Array(1024);
  let reply = "";
  while (!reply.endsWith("\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    reply += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  assertEquals(
    reply,
    `unix/path=${socket} error: node "n": port "in" has no "tcp/peer" operation; its module's are unix/path\n`,
  );
});

Deno.test("module cntl: a mem pipe has no module operations, and says so", async () => {
  await using sim = await simulate({
    nodes: { split: { servlet: "line" }, who: { servlet: "./tests/fixtures/whoami.ts" } },
    edges: [{ from: "split.out", to: "who.in" }],
    input: "split.in",
    output: "who.out",
  });
  await using c = await sim.connect();
  await c.send("tcp/peer\n");
  assertEquals(
    await c.readLine(),
    `error: node "who": port "in" has no "tcp/peer" operation; its module's are none: it is an in-memory pipe or a file\n`,
  );
});
