/**
 * SHADOW ports of inputs over real TCP: a shadow carries exactly the bytes
 * its node read (ends of line as sent, bytes given back with EOM left out),
 * a DISABLED one carries nothing, and the zero-copy echo example.
 */
import { assertEquals } from "./assert.ts";
import { Client, startHost } from "./helpers.ts";
import { calls, spy } from "./fixtures/spy.ts";
import { tapErrors } from "./fixtures/tap.ts";
import type { GraphSpec } from "../host/mod.ts";

/** `tap` (with `args`) answering the client, its `copy` shadow read by a spy. */
function tapped(args: string[]): GraphSpec {
  return {
    nodes: { tap: { servlet: "./tests/fixtures/tap.ts", args }, seen: spy("copy") },
    edges: [{ from: "tap.copy", to: "seen.in" }],
    input: "tap.in",
    output: "tap.out",
    listeners: [{ module: "tcp" }],
  };
}

Deno.test("examples/zero_copy_echo.json: the client gets back exactly the bytes it sent, request after request", async () => {
  await using h = await startHost("examples/zero_copy_echo.json");
  await using c = await Client.connect(h.port);
  const sent = [
    new TextEncoder().encode("hello\r\nworld\n"),
    new Uint8Array([0, 0xff, 0xc3, 0x28, 0x0d, 0x0a, 0x80]), // NUL, bytes that are not UTF-8
    new TextEncoder().encode("no end of line, 世界"),
  ];
  for (const bytes of sent) {
    await c.send(bytes);
    assertEquals(await c.readBytes(bytes.length), bytes);
  }
});

Deno.test("a shadow of an input carries exactly what readLine took, \\r\\n as sent; the rest starts the next request", async () => {
  calls.length = 0;
  await using h = await startHost(tapped(["copy"]));
  await using c = await Client.connect(h.port);
  await c.send("one\r\ntwo\n");
  assertEquals(await c.readLine(), "tapped one\n");
  assertEquals(await c.readLine(), "tapped two\n");
  assertEquals(calls, ["copy: one\r\n", "copy: two\n"]);
});

Deno.test("a shadow of an input: a line cut in two across writes is read whole and carried whole", async () => {
  calls.length = 0;
  await using h = await startHost(tapped(["copy"]));
  await using c = await Client.connect(h.port);
  await c.send("o");
  await new Promise((r) => setTimeout(r, 30));
  await c.send("ne\r\ntwo\n");
  assertEquals(await c.readLine(), "tapped one\n");
  assertEquals(await c.readLine(), "tapped two\n");
  assertEquals(calls, ["copy: one\r\n", "copy: two\n"]);
});

Deno.test("a shadow of an input leaves out the bytes given back with EOM", async () => {
  calls.length = 0;
  await using h = await startHost(tapped(["copy", "eom"]));
  await using c = await Client.connect(h.port);
  await c.send("a\nbc\n");
  assertEquals(await c.readLine(), "tapped a\n");
  assertEquals(await c.readLine(), "tapped bc\n");
  assertEquals(calls, ["copy: a\n", "copy: bc\n"]);
});

Deno.test("a DISABLED shadow of an input carries nothing, and the node behind it does not run", async () => {
  calls.length = 0;
  await using h = await startHost(tapped([]));
  await using c = await Client.connect(h.port);
  await c.send("one\ntwo\n");
  assertEquals(await c.readLine(), "tapped one\n");
  assertEquals(await c.readLine(), "tapped two\n");
  assertEquals(calls, []);
});

Deno.test("a shadow of an input enabled after the first read is refused at the next read", async () => {
  calls.length = 0;
  tapErrors.length = 0;
  await using h = await startHost(tapped(["late"]));
  await using c = await Client.connect(h.port);
  await c.send("one\n");
  assertEquals(await c.readLine(), "tapped one\n");
  assertEquals(tapErrors, [
    `node "tap": shadow port "copy" was enabled after its target was read; ` +
    `clear DISABLED before the first read, so that it carries every byte`,
  ]);
});
