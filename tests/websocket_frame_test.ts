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
import { GREETING } from "../servlets/chat/room.ts";
import { CHAT_PAGE } from "../servlets/chat/page.ts";
import { chatHost, joinAs, nextLine, nextLines } from "./chat_host.ts";
import { Client } from "./helpers.ts";

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

/** How long a raw client waits for the server to close: a guard against a hang, not a measure. */
const HANG_GUARD_MS = 10_000;
const HANDSHAKE = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A frame from the server: its opcode and payload (a server's frames are whole and unmasked). */
interface ServerFrame {
  opcode: number;
  data: Uint8Array;
}

/**
 * A WebSocket client on a raw socket: the handshake and `first` go out in one
 * write (frames may follow the head at once), then frames are sent as given
 * and the server's read one by one.
 */
class RawClient implements AsyncDisposable {
  readonly #conn: Deno.Conn;
  #pending: Uint8Array = new Uint8Array(0);

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects to `port`, sends the handshake and `first`, and reads the 101 reply. */
  static async open(port: number, first: Uint8Array = new Uint8Array(0)): Promise<RawClient> {
    const client = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    await client.send(concat(new TextEncoder().encode(HANDSHAKE), first));
    let end = -1;
    while ((end = new TextDecoder().decode(client.#pending).indexOf("\r\n\r\n")) < 0) {
      if (!(await client.#fill())) throw new Error("the server closed during the handshake");
    }
    const head = new TextDecoder().decode(client.#pending.subarray(0, end));
    assertEquals(head.split("\r\n")[0], "HTTP/1.1 101 Switching Protocols", head);
    client.#pending = client.#pending.slice(end + 4);
    return client;
  }

  /** Sends all of `bytes`. */
  async send(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  async #fill(): Promise<boolean> {
    const buf = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.#conn.read(buf);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return false;
      throw error;
    }
    if (n === null) return false;
    this.#pending = concat(this.#pending, buf.subarray(0, n));
    return true;
  }

  /**
   * The server's next frame, or `null` once it closed the connection; fails
   * after `HANG_GUARD_MS` without either (a guard against a hang, not a measure).
   */
  async frame(): Promise<ServerFrame | null> {
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      this.#conn.close();
    }, HANG_GUARD_MS);
    try {
      return await this.#frame();
    } catch (error) {
      if (!hung) throw error;
      throw new Error(`no frame and no close from the server in ${HANG_GUARD_MS} ms`);
    } finally {
      clearTimeout(guard);
    }
  }

  async #frame(): Promise<ServerFrame | null> {
    for (;;) {
      const b = this.#pending;
      if (b.length >= 2) {
        assertEquals(b[1] & 0x80, 0, "a server's frame is not masked");
        let length = b[1] & 0x7f;
        let at = 2;
        if (length === 126 && b.length >= 4) [length, at] = [(b[2] << 8) | b[3], 4];
        else if (length === 127 && b.length >= 10) {
          [length, at] = [Number(new DataView(b.buffer, b.byteOffset).getBigUint64(2)), 10];
        }
        if ((length < 126 || at > 2) && b.length >= at + length) {
          assertEquals(b[0] & 0xf0, 0x80, "a server's frame is whole, no reserved bits");
          this.#pending = b.slice(at + length);
          return { opcode: b[0] & 0x0f, data: b.slice(at, at + length) };
        }
      }
      if (!(await this.#fill())) {
        assertEquals(this.#pending.length, 0, "bytes after the last whole frame");
        return null;
      }
    }
  }

  /** Every frame the server sends until it closes the connection. */
  async rest(): Promise<ServerFrame[]> {
    const frames: ServerFrame[] = [];
    try {
      for (let f = await this.frame(); f !== null; f = await this.frame()) frames.push(f);
    } catch (error) {
      throw new Error(`${(error as Error).message}; it sent ${show(frames)}`, { cause: error });
    }
    return frames;
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // Closed by the guard.
    }
    return Promise.resolve();
  }
}

/** Frames as a failure shows them: opcode and text. */
function show(frames: readonly ServerFrame[]): string {
  return JSON.stringify(frames.map((f) => [f.opcode, new TextDecoder().decode(f.data)]));
}

/** True when two frames are the same. */
function equal(a: ServerFrame, b: ServerFrame): boolean {
  return a.opcode === b.opcode && a.data.length === b.data.length &&
    a.data.every((byte, i) => byte === b.data[i]);
}

/** A text frame from the server, as the tests compare them. */
function textOf(text: string): ServerFrame {
  return { opcode: OPCODE.text, data: new TextEncoder().encode(text) };
}

/** The close code of a close frame (`undefined` for another frame). */
function closeCodeOf(frame: ServerFrame | undefined): number | undefined {
  if (frame?.opcode !== OPCODE.close) return undefined;
  return (frame.data[0] << 8) | frame.data[1];
}

/** Sends the handshake and `frames` on a raw socket; returns the frames the server answered. */
async function rawExchange(port: number, frames: Uint8Array): Promise<ServerFrame[]> {
  await using client = await RawClient.open(port, frames);
  return await client.rest();
}

const text = (data: string, options: { fin?: boolean } = {}) =>
  encodeFrame(OPCODE.text, data, { mask: MASK, ...options });
const masked = (opcode: number, data: string | number[], options: { fin?: boolean } = {}) =>
  encodeFrame(opcode, typeof data === "string" ? data : new Uint8Array(data), {
    mask: MASK,
    ...options,
  });
/** A frame of `opcode` with reserved bits `rsv` (0x40, 0x20, 0x10) set. */
const reserved = (rsv: number) => Uint8Array.from(text("hi"), (b, i) => i === 0 ? b | rsv : b);
/** The head of a masked text frame whose 64-bit length is `n`, without the payload. */
function announcing(n: number): Uint8Array {
  const head = new Uint8Array(14);
  head[0] = 0x81;
  head[1] = 0xff;
  new DataView(head.buffer).setBigUint64(2, BigInt(n));
  head.set(MASK, 10);
  return head;
}
/** A masked close frame with `code` and no reason. */
const closeWith = (code: number) => masked(OPCODE.close, [code >> 8, code & 0xff]);

/** RFC 6455's refusals: the frames a client sends, and the close code the server answers with. */
const REFUSALS: readonly (readonly [string, Uint8Array, number])[] = [
  ["an unmasked frame", encodeFrame(OPCODE.text, "hi"), 1002],
  ["an unmasked close frame", encodeFrame(OPCODE.close, new Uint8Array([3, 232])), 1002],
  ["reserved bit 1 set", reserved(0x40), 1002],
  ["reserved bit 2 set", reserved(0x20), 1002],
  ["reserved bit 3 set", reserved(0x10), 1002],
  ["an unknown opcode", masked(0x3, "hi"), 1002],
  ["an unknown control opcode", masked(0xb, "hi"), 1002],
  ["a fragmented ping", masked(OPCODE.ping, "hi", { fin: false }), 1002],
  ["a fragmented close", masked(OPCODE.close, [3, 232], { fin: false }), 1002],
  ["a ping over 125 bytes", masked(OPCODE.ping, "p".repeat(126)), 1002],
  ["a pong over 125 bytes", masked(OPCODE.pong, "p".repeat(126)), 1002],
  ["a close frame over 125 bytes", masked(OPCODE.close, [3, 232, ...Array(124).fill(0x61)]), 1002],
  ["a continuation with nothing under way", masked(0, "hi"), 1002],
  ["a new message inside a fragmented one", concat(text("a", { fin: false }), text("b")), 1002],
  ["text that is not UTF-8", masked(OPCODE.text, [0x68, 0xc3, 0x28]), 1007],
  ["an encoded surrogate in text", masked(OPCODE.text, [0xed, 0xa0, 0x80]), 1007],
  [
    "a character cut between fragments then a bad byte",
    concat(masked(OPCODE.text, [0xe2, 0x9c], { fin: false }), masked(0, [0x41])),
    1007,
  ],
  ["a close reason that is not UTF-8", masked(OPCODE.close, [3, 232, 0xff]), 1007],
  ["close code 1005 (reserved)", closeWith(1005), 1002],
  ["close code 999", closeWith(999), 1002],
  ["close code 1004 (reserved)", closeWith(1004), 1002],
  ["close code 1006 (reserved)", closeWith(1006), 1002],
  ["close code 1015 (reserved)", closeWith(1015), 1002],
  ["close code 2999", closeWith(2999), 1002],
  ["close code 5000", closeWith(5000), 1002],
  ["a close frame of one byte", masked(OPCODE.close, [3]), 1002],
  [
    "a 64-bit length with the top bit set",
    Uint8Array.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, ...MASK]),
    1009,
  ],
  [
    `a frame that announces ${MAX + 1} bytes`,
    announcing(MAX + 1),
    1009,
  ],
  [
    "fragments adding up past the limit",
    concat(text("a".repeat(MAX), { fin: false }), text("b")),
    1009,
  ],
];

for (const [name, frames, code] of REFUSALS) {
  Deno.test(`ws: ${name} closes with ${code}`, async () => {
    const server = echoServer();
    const answer = await rawExchange(server.port, frames);
    assertEquals(answer.map(closeCodeOf), [code]);
    await server.close();
  });
}

// The same refusals from the chat (examples/chat.json), over its WebSocket
// port: the greeting, then the close frame, then the connection ends.
for (const [name, frames, code] of REFUSALS) {
  Deno.test(`chat ws: ${name} closes with ${code}`, async () => {
    await using h = await chatHost(["--idle", "0", "--max-message", String(MAX)]);
    const answer = await rawExchange(h.webPort, frames);
    assertEquals(answer.length, 2, show(answer));
    assertEquals(answer[0], textOf(GREETING));
    assertEquals(closeCodeOf(answer[1]), code);
  });
}

/** A chat user on a raw WebSocket who gave `nick`: its greeting and welcome are read. */
async function joinWs(port: number, nick: string): Promise<RawClient> {
  const client = await RawClient.open(port, text(nick));
  assertEquals(await client.frame(), textOf(GREETING));
  const welcome = await client.frame();
  const line = new TextDecoder().decode(welcome?.data);
  assertEquals(line.startsWith(`* you are ${nick}; in the room: `), true, line);
  return client;
}

Deno.test("chat ws: the others are told why a WebSocket user left, with the close code sent", async () => {
  await using h = await chatHost(["--idle", "0"]);
  await using cat = await joinAs(h.port, "cat");
  const leaving: [string, Uint8Array, number, string][] = [
    ["binary", masked(OPCODE.binary, [1, 2, 3]), 1003, "sent binary"],
    [
      "unmasked",
      encodeFrame(OPCODE.text, "hi"),
      1002,
      "protocol error: a client frame must be masked",
    ],
    [
      "bad UTF-8",
      masked(OPCODE.text, [0xff]),
      1007,
      "protocol error: a text message that is not UTF-8",
    ],
    ["close 1000", closeWith(1000), 1000, "quit"],
    ["close, no code", masked(OPCODE.close, []), 1000, "quit"],
    ["close 1001, a page closed", closeWith(1001), 1001, "page closed"],
    ["close 4000", closeWith(4000), 4000, "quit"],
  ];
  for (const [what, frames, code, why] of leaving) {
    await using dan = await joinWs(h.webPort, "dan");
    assertEquals(await nextLine(cat), "* dan has joined", what);
    await dan.send(frames);
    assertEquals((await dan.rest()).map(closeCodeOf), [code], what);
    assertEquals(await nextLine(cat), `* dan has left (${why})`, what);
  }
});

Deno.test("chat ws: pings get their data back, a message of lines is lines, 65536 bytes at most", async () => {
  await using h = await chatHost(["--idle", "0"]);
  await using cat = await joinAs(h.port, "cat");
  await using dan = await joinWs(h.webPort, "dan");
  assertEquals(await nextLine(cat), "* dan has joined");
  await dan.send(masked(OPCODE.ping, "are you there ✓"));
  assertEquals(await dan.frame(), {
    opcode: OPCODE.pong,
    data: new TextEncoder().encode("are you there ✓"),
  });
  // A pong nobody asked for is ignored; a message of two lines is two lines.
  await dan.send(concat(masked(OPCODE.pong, "unasked"), text("one\ntwo")));
  assertEquals(await nextLines(cat, 2), ["<dan> one", "<dan> two"]);
  assertEquals([await dan.frame(), await dan.frame()], [textOf("<dan> one"), textOf("<dan> two")]);
  // The default limit: a message of 65536 bytes is a line, one more byte closes with 1009.
  const most = "é".repeat(32768);
  await dan.send(text(most));
  assertEquals(await nextLine(cat), `<dan> ${most}`);
  assertEquals(await dan.frame(), textOf(`<dan> ${most}`));
  await dan.send(text(`${most}!`));
  assertEquals((await dan.rest()).map(closeCodeOf), [1009]);
  assertEquals(await nextLine(cat), "* dan has left (protocol error: message over 65536 bytes)");
});

Deno.test("chat ws: a silent WebSocket user is kicked after --idle seconds; pings do not count", async () => {
  await using h = await chatHost(["--idle", "1"]);
  await using dan = await joinWs(h.webPort, "dan");
  // Pings every 100 ms, for at most HANG_GUARD_MS (a guard, not a measure): were
  // pings activity, the idle notice would only come after they stop.
  let noticed = false;
  let expired = false;
  const pinger = (async () => {
    const end = Date.now() + HANG_GUARD_MS;
    while (!noticed) {
      if (Date.now() > end) {
        expired = true;
        return;
      }
      // A ping that crosses the server's close may find the socket gone.
      await dan.send(masked(OPCODE.ping, "still here")).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const frames: ServerFrame[] = [];
  try {
    let f = await dan.frame();
    for (; f?.opcode === OPCODE.pong; f = await dan.frame()) frames.push(f);
    if (f !== null) frames.push(f);
  } finally {
    noticed = true;
    await pinger;
  }
  assertEquals(expired, false, "the idle notice came only once the pings stopped");
  frames.push(...await dan.rest());
  const pong = { opcode: OPCODE.pong, data: new TextEncoder().encode("still here") };
  assertEquals(frames.filter((f) => f.opcode === OPCODE.pong).every((f) => equal(f, pong)), true);
  assertEquals(frames.filter((f) => f.opcode !== OPCODE.pong), [
    textOf("* idle for 1 s: disconnected"),
    { opcode: OPCODE.close, data: closeFrame(1000, "bye").subarray(2) },
  ]);
});

Deno.test("chat ws: a refused upgrade is a 400 that says why; any other request gets the page", async () => {
  await using h = await chatHost(["--idle", "0"]);
  await using refused = await Client.connect(h.webPort);
  await refused.send(HANDSHAKE.replace("Version: 13", "Version: 8"));
  assertEquals(
    await refused.readToEnd(),
    badRequest("Sec-WebSocket-Version must be 13"),
  );
  await using page = await Client.connect(h.webPort);
  await page.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const body = new TextEncoder().encode(CHAT_PAGE);
  assertEquals(
    await page.readToEnd(),
    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n" +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${CHAT_PAGE}`,
  );
});

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
  assertEquals(answer, [
    { opcode: OPCODE.pong, data: new TextEncoder().encode("p") },
    textOf("abcd"),
    { opcode: OPCODE.close, data: new Uint8Array([0x03, 0xe8]) },
  ]);
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
