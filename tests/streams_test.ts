/**
 * Ports as Web Streams over real TCP: `task.readable` and `task.writable`
 * compose with the platform's own streams (`CompressionStream`,
 * `DecompressionStream`, `pipeTo`) across a graph, 10 MB arriving exactly;
 * `task.readable` is a byte stream that takes BYOB reads.
 */
import { assertEquals } from "./assert.ts";
import { Client, startHost } from "./helpers.ts";
import { payload } from "./fixtures/stream_stage.ts";
import type { GraphSpec } from "../host/mod.ts";

const STAGE = "./tests/fixtures/stream_stage.ts";

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("streams: 10 MB piped through source -> gzip -> gunzip (three nodes, pipeTo at each) arrive exactly", async () => {
  await using h = await startHost({
    nodes: {
      source: { servlet: STAGE, args: ["source"] },
      zip: { servlet: STAGE, args: ["gzip"] },
      unzip: { servlet: STAGE, args: ["gunzip"] },
    },
    edges: [
      { from: "source.out", to: "zip.in" },
      { from: "zip.out", to: "unzip.in" },
    ],
    input: "source.in",
    output: "unzip.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  const size = 10 * 1024 * 1024;
  await c.send(`${size}\n`);
  const got = new Uint8Array(size);
  for (let at = 0; at < size;) {
    const piece = await c.readBytes(Math.min(65536, size - at));
    if (piece.length === 0) throw new Error(`the host closed after ${at} bytes`);
    got.set(piece, at);
    at += piece.length;
  }
  assertEquals(await sha256(got), await sha256(payload(size)));
  // The connection goes on: a second request through the same streams.
  await c.send("11\n");
  assertEquals(await c.readBytes(11), payload(11));
});

/** A `byob` stage with a buffer of `size` bytes, fed by `feeder` (a node) or by the connection. */
function byob(size: number, feeder?: string): GraphSpec {
  const nodes: GraphSpec["nodes"] = { read: { servlet: STAGE, args: ["byob", String(size)] } };
  if (feeder === undefined) {
    return { nodes, input: "read.in", output: "read.out", listeners: [{ module: "tcp" }] };
  }
  nodes.feed = { servlet: feeder };
  return {
    nodes,
    edges: [{ from: "feed.out", to: "read.in" }],
    input: "feed.in",
    output: "read.out",
    listeners: [{ module: "tcp" }],
  };
}

Deno.test("streams: a BYOB reader of a connection gets at most its buffer's size per read, and every byte", async () => {
  await using h = await startHost(byob(5));
  await using c = await Client.connect(h.port);
  await c.send("abcdefghijkl\n");
  assertEquals(await c.readLine(), "5,5,3 abcdefghijkl\n");
});

Deno.test("streams: a BYOB reader of an in-memory pipe, fed line by line", async () => {
  await using h = await startHost(byob(4, "line"));
  await using c = await Client.connect(h.port);
  await c.send("héllo wörld\n");
  // "héllo wörld\n" is 14 bytes: reads of 4, 4, 4, 2; the decoder joins the split characters.
  assertEquals(await c.readLine(), "4,4,4,2 héllo wörld\n");
});
