/**
 * The WebSocket framing of `servlets/websocket/` on a real socket: a small
 * echo server built from the parser and the encoder, driven by the npm `ws`
 * client (a well-kept implementation) and by hand-made malformed frames.
 * @module
 */
import { assertEquals } from "@std/assert";
import WebSocket from "ws";
import {
  CLOSE,
  closeFrame,
  encodeFrame,
  FrameParser,
  OPCODE,
} from "../servlets/websocket/frame.ts";
import { badRequest, parseHead, upgradeReply } from "../servlets/websocket/handshake.ts";

const MAX = 100_000;
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** Serves one connection: the handshake, then echoes every message, answers pings, closes. */
async function serveOne(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(65536);
  let head = new Uint8Array(0);
  let rest = new Uint8Array(0);
  const write = (bytes: Uint8Array | string) =>
    conn.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      const all = new Uint8Array(head.length + n);
      all.set(head);
      all.set(buf.subarray(0, n), head.length);
      const end = new TextDecoder().decode(all).indexOf("\r\n\r\n");
      if (end < 0) {
        head = all;
        continue;
      }
      head = all.subarray(0, end);
      rest = all.subarray(end + 4);
      break;
    }
    const parsed = parseHead(new TextDecoder().decode(head).split("\r\n"));
    const answer = parsed === null ? { refused: "not HTTP" } : await upgradeReply(parsed);
    if ("refused" in answer) {
      await write(badRequest(answer.refused));
      return;
    }
    await write(answer.reply);
    const parser = new FrameParser({ maxMessageBytes: MAX });
    let bytes: Uint8Array | null = rest;
    while (bytes !== null) {
      for (const event of parser.push(bytes)) {
        if (event.kind === "text") await write(encodeFrame(OPCODE.text, event.data));
        else if (event.kind === "binary") await write(encodeFrame(OPCODE.binary, event.data));
        else if (event.kind === "ping") await write(encodeFrame(OPCODE.pong, event.data));
        else if (event.kind === "close") {
          await write(closeFrame(event.code === 1005 ? CLOSE.normal : event.code, event.reason));
          return;
        }
      }
      const n = await conn.read(buf);
      bytes = n === null ? null : buf.slice(0, n);
    }
  } catch {
    // The client went away.
  } finally {
    conn.close();
  }
}

/** An echo server on a free port; `close` waits for its connections. */
function echoServer(): { port: number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) served.push(serveOne(conn));
    } catch {
      // Closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      await accepting;
      await Promise.all(served);
    },
  };
}

/** Opens a `ws` client and collects what it receives. */
function wsClient(port: number): Promise<{
  ws: WebSocket;
  next: () => Promise<{ data: Buffer; binary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const queue: { data: Buffer; binary: boolean }[] = [];
  const waiting: ((m: { data: Buffer; binary: boolean }) => void)[] = [];
  ws.on("message", (data: Buffer, binary: boolean) => {
    const m = { data, binary };
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  );
  return new Promise((resolve, reject) => {
    ws.on("open", () =>
      resolve({
        ws,
        next: () =>
          queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r)),
        closed,
      }));
    ws.on("error", reject);
  });
}

Deno.test("ws: text, UTF-8, binary, 64 KiB+, fragments, ping and close round-trip", async () => {
  const server = echoServer();
  const { ws, next, closed } = await wsClient(server.port);
  ws.send("héllo wörld ✓ 😀");
  let m = await next();
  assertEquals([m.binary, m.data.toString("utf8")], [false, "héllo wörld ✓ 😀"]);
  ws.send(new Uint8Array([0, 1, 2, 255]));
  m = await next();
  assertEquals([m.binary, [...m.data]], [true, [0, 1, 2, 255]]);
  const big = "x".repeat(70_000);
  ws.send(big);
  m = await next();
  assertEquals(m.data.toString("utf8"), big);
  const medium = "y".repeat(300);
  ws.send(medium);
  assertEquals((await next()).data.toString("utf8"), medium);
  // Fragments: one message in three frames.
  ws.send("one ", { fin: false });
  ws.send("two ", { fin: false });
  ws.send("three", { fin: true });
  assertEquals((await next()).data.toString("utf8"), "one two three");
  const pong = new Promise<string>((resolve) =>
    ws.on("pong", (data: Buffer) => resolve(data.toString()))
  );
  ws.ping("are you there");
  assertEquals(await pong, "are you there");
  ws.close(4001, "done here");
  assertEquals(await closed, { code: 4001, reason: "done here" });
  await server.close();
});

Deno.test("ws: a message over the size limit closes with 1009", async () => {
  const server = echoServer();
  const { ws, closed } = await wsClient(server.port);
  ws.send("z".repeat(MAX + 1));
  assertEquals((await closed).code, 1009);
  await server.close();
});

/** Sends the handshake and `frames` on a raw socket; returns the frames the server answered. */
async function rawExchange(port: number, frames: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  await conn.write(frames);
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    chunks.push(...buf.subarray(0, n));
  }
  conn.close();
  const all = new Uint8Array(chunks);
  const end = new TextDecoder().decode(all).indexOf("\r\n\r\n");
  return all.subarray(end + 4);
}

/** The close code of the server's close frame at the end of `bytes`. */
function closeCodeOf(bytes: Uint8Array): number {
  assertEquals(bytes[0], 0x88, "a close frame");
  return (bytes[2] << 8) | bytes[3];
}

const text = (data: string, options: { fin?: boolean } = {}) =>
  encodeFrame(OPCODE.text, data, { mask: MASK, ...options });

for (
  const [name, frames, code] of [
    ["an unmasked frame", encodeFrame(OPCODE.text, "hi"), 1002],
    ["reserved bits set", Uint8Array.from(text("hi"), (b, i) => i === 0 ? b | 0x40 : b), 1002],
    ["an unknown opcode", encodeFrame(0x3, "hi", { mask: MASK }), 1002],
    ["an unknown control opcode", encodeFrame(0xb, "hi", { mask: MASK }), 1002],
    ["a fragmented ping", encodeFrame(OPCODE.ping, "hi", { mask: MASK, fin: false }), 1002],
    ["a ping over 125 bytes", encodeFrame(OPCODE.ping, "p".repeat(126), { mask: MASK }), 1002],
    ["a continuation with nothing under way", encodeFrame(0, "hi", { mask: MASK }), 1002],
    ["a new message inside a fragmented one", concat(text("a", { fin: false }), text("b")), 1002],
    [
      "text that is not UTF-8",
      encodeFrame(OPCODE.text, new Uint8Array([0x68, 0xc3, 0x28]), { mask: MASK }),
      1007,
    ],
    [
      "a character cut between fragments then a bad byte",
      concat(
        encodeFrame(OPCODE.text, new Uint8Array([0xe2, 0x9c]), { mask: MASK, fin: false }),
        encodeFrame(0, new Uint8Array([0x41]), { mask: MASK }),
      ),
      1007,
    ],
    [
      "a close code that is not allowed",
      encodeFrame(OPCODE.close, new Uint8Array([3, 237]), { mask: MASK }),
      1002,
    ],
    [
      "a close frame of one byte",
      encodeFrame(OPCODE.close, new Uint8Array([3]), { mask: MASK }),
      1002,
    ],
    [
      "a 64-bit length with the top bit set",
      Uint8Array.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, ...MASK]),
      1009,
    ],
    [
      "fragments adding up past the limit",
      concat(text("a".repeat(MAX), { fin: false }), text("b")),
      1009,
    ],
  ] as const
) {
  Deno.test(`ws: ${name} closes with ${code}`, async () => {
    const server = echoServer();
    const answer = await rawExchange(server.port, frames);
    assertEquals(closeCodeOf(answer), code);
    await server.close();
  });
}

Deno.test("ws: a ping between fragments is answered, and the message still arrives whole", async () => {
  const server = echoServer();
  const answer = await rawExchange(
    server.port,
    concat(
      concat(text("ab", { fin: false }), encodeFrame(OPCODE.ping, "p", { mask: MASK })),
      concat(
        encodeFrame(0, "cd", { mask: MASK }),
        encodeFrame(OPCODE.close, new Uint8Array(0), { mask: MASK }),
      ),
    ),
  );
  assertEquals([...answer], [0x8a, 1, 0x70, 0x81, 4, 0x61, 0x62, 0x63, 0x64, 0x88, 2, 0x03, 0xe8]);
  await server.close();
});

Deno.test("ws: a frame fed one byte at a time is parsed the same", () => {
  const parser = new FrameParser({ maxMessageBytes: MAX });
  const frame = text("x".repeat(200) + "é");
  const events = [];
  for (const byte of frame) events.push(...parser.push(new Uint8Array([byte])));
  assertEquals(events, [{ kind: "text", data: "x".repeat(200) + "é" }]);
});

Deno.test("ws: handshakes that are refused say why", async () => {
  const head = (extra: string[]) => parseHead(["GET / HTTP/1.1", "Host: x", ...extra])!;
  const good = [
    "Upgrade: websocket",
    "Connection: keep-alive, Upgrade",
    "Sec-WebSocket-Version: 13",
  ];
  assertEquals(await upgradeReply(head([...good, "Sec-WebSocket-Key: c2hvcnQ="])), {
    refused: "Sec-WebSocket-Key must be 16 bytes in base64",
  });
  assertEquals(
    await upgradeReply(
      head(["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 8"]),
    ),
    { refused: "Sec-WebSocket-Version must be 13" },
  );
  assertEquals(await upgradeReply(head(["Connection: Upgrade"])), {
    refused: "no Upgrade: websocket header",
  });
  assertEquals(parseHead(["hello there"]), null);
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
