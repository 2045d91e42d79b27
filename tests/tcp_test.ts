/**
 * The tcp module's request semantics, over real TCP: the seed's telnet
 * transcript, keep-alive by PERSIST, pipelining, half-close, ttl.
 */
import { assertEquals } from "./assert.ts";
import { Client, oneNode, startHost, waitForLog } from "./helpers.ts";
import { createConnection, type Socket } from "node:net";

const encoder = new TextEncoder();

Deno.test("hello: the seed's telnet transcript, CRLF as telnet sends it", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  await c.send("Plumber\r\n");
  assertEquals(await c.readLine(), "Hello, Plumber\n");
  await c.send("world\r\n");
  assertEquals(await c.readLine(), "Hello, world\n");
  await c.send("世界\r\n");
  assertEquals(await c.readLine(), "Hello, 世界\n");
});

Deno.test("hello: 世界 split inside a character across two writes", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  const bytes = encoder.encode("世界\r\n"); // e4 b8 96 e7 95 8c 0d 0a
  await c.send(bytes.subarray(0, 4));
  await new Promise((r) => setTimeout(r, 50));
  await c.send(bytes.subarray(4));
  assertEquals(await c.readLine(), "Hello, 世界\n");
  await c.send("Plumber\n");
  assertEquals(await c.readLine(), "Hello, Plumber\n");
});

Deno.test("hello: several lines in one write are answered in order", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  await c.send("a\nb\r\nc\nd\n");
  for (const name of ["a", "b", "c", "d"]) assertEquals(await c.readLine(), `Hello, ${name}\n`);
});

Deno.test("hello: a client that sends lines and half-closes gets every reply, then EOF", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  await c.send("one\ntwo\n");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "Hello, one\nHello, two\n");
});

Deno.test("hello: a last line without end of line, then half-close, is answered", async () => {
  await using h = await startHost("examples/hello.json");
  await using c = await Client.connect(h.port);
  await c.send("tail");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "Hello, tail\n");
});

Deno.test("no PERSIST: the connection closes after one reply", async () => {
  await using h = await startHost(oneNode("echo", ["close"]));
  await using c = await Client.connect(h.port);
  await c.send("first\n");
  assertEquals(await c.readToEnd(), "first\n");
});

Deno.test("PERSIST: an echo connection serves many requests", async () => {
  await using h = await startHost("examples/echo.json");
  await using c = await Client.connect(h.port);
  for (let i = 0; i < 50; i++) {
    await c.send(`ping ${i}\n`);
    assertEquals(await c.readLine(), `ping ${i}\n`);
  }
});

Deno.test("three-node pipeline: split -> upper-case -> greet, kept alive", async () => {
  await using h = await startHost("examples/pipeline.json");
  await using c = await Client.connect(h.port);
  await c.send("Plumber\r\n");
  assertEquals(await c.readLine(), "Hello, PLUMBER\n");
  await c.send("world\nstraße\n");
  assertEquals(await c.readLine(), "Hello, WORLD\n");
  assertEquals(await c.readLine(), "Hello, STRASSE\n");
});

Deno.test("ttl: an idle persistent connection is closed after ttl", async () => {
  await using h = await startHost(oneNode("hello", [], { ttl: 0.2 }));
  await using c = await Client.connect(h.port);
  await c.send("early\n");
  assertEquals(await c.readLine(), "Hello, early\n");
  assertEquals(await c.closedByServer(), true);
  // The log says it was the ttl that closed it, not something else.
  assertEquals(h.logs.some((l) => l.includes("idle for 0.2 s (ttl), closing")), true);
});

Deno.test("many concurrent connections are each served in order", async () => {
  await using h = await startHost("examples/hello.json");
  const clients = await Promise.all(Array.from({ length: 50 }, () => Client.connect(h.port)));
  try {
    await Promise.all(clients.map(async (c, i) => {
      for (let k = 0; k < 5; k++) {
        await c.send(`c${i}-${k}\n`);
        assertEquals(await c.readLine(), `Hello, c${i}-${k}\n`);
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("a servlet may take its ports as ReadableStream and WritableStream", async () => {
  await using h = await startHost(oneNode("./tests/fixtures/streams.ts"));
  await using c = await Client.connect(h.port);
  await c.send("one\r\ntwo\n");
  assertEquals(await c.readLine(), "1: ONE\n");
  assertEquals(await c.readLine(), "2: TWO\n");
  await c.send("three\n");
  assertEquals(await c.readLine(), "1: THREE\n", "each readiness is a new request");
});

Deno.test("a connection reset before it is accepted (a balancer's health check) is no accept failure", async () => {
  // maxConnections 1 holds the second connection in the backlog, where it is reset: the accept
  // that takes it then fails with ENOTCONN, the end of that connection and not of the loop.
  await using h = await startHost(oneNode("hello", [], { maxConnections: 1 }));
  const first = await Client.connect(h.port);
  await first.send("one\n");
  assertEquals(await first.readLine(), "Hello, one\n");
  const reset: Socket = createConnection({ host: "127.0.0.1", port: h.port });
  await new Promise((resolve) => reset.once("connect", resolve));
  const closed = new Promise((resolve) => reset.once("close", resolve));
  reset.resetAndDestroy();
  await closed;
  first.close();
  await waitForLog(h, "a connection ended before it was accepted");
  await using next = await Client.connect(h.port);
  await next.send("two\n");
  assertEquals(await next.readLine(), "Hello, two\n");
  assertEquals(h.logs.filter((l) => l.includes("accept failed")), []);
});
