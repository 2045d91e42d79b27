/**
 * The lingering close: when the host closes a connection after its last
 * reply (an error reply, a time limit's reply, a reply without `PERSIST`)
 * while the client is still sending, the client reads the whole reply and
 * then a clean end. Closing a socket with input not read makes the kernel
 * reset the connection and drop what the host wrote but the client has not
 * taken yet; so the host ends its writing side, reads and drops what still
 * comes (bounded in time and bytes), then closes. Each case leaves bytes
 * unread in the host's socket as it closes, over real TCP: without the
 * lingering close, a large reply is cut, and the client is reset.
 */
import { assert, assertEquals } from "./assert.ts";
import { oneNode, startHost, waitForLog } from "./helpers.ts";
import { defineServlet } from "../mod.ts";
import { LINGER_BYTES } from "../modules/channel.ts";
import { simulate } from "../testing/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Everything the client reads until the end, and whether that end was a reset. */
async function readToEnd(conn: Deno.TcpConn): Promise<{ text: string; reset: boolean }> {
  let text = "";
  const buffer = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return { text, reset: false };
      text += decoder.decode(buffer.subarray(0, n));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    return { text, reset: true };
  }
}

/** Writes all of `data`; false when the connection was reset or closed before. */
async function writeAll(conn: Deno.TcpConn, data: Uint8Array): Promise<boolean> {
  try {
    for (let sent = 0; sent < data.length;) sent += await conn.write(data.subarray(sent));
    return true;
  } catch {
    return false;
  }
}

/** Replies 1 MiB of "x" and a newline to a line, then the connection closes (no `PERSIST`). */
const BIG = 1 << 20;
const bigReply = defineServlet({
  init: (_args, env) => ({ input: env.input("in"), output: env.output("out") }),
  async exec(ctx, task): Promise<void> {
    await task.readLine(ctx.input);
    await task.write(ctx.output, new Uint8Array(BIG).fill(0x78));
    await task.write(ctx.output, "\n");
  },
});

Deno.test("a large last reply the client has not taken yet as the host closes reaches it whole", async () => {
  await using sim = await simulate(bigReply, { transport: "tcp" });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
  assert(await writeAll(conn, encoder.encode("go\n")));
  // The reply has started: the request reads nothing more, so the next bytes stay unread in
  // the host's socket, and most of the reply waits there for the client to read.
  const first = new Uint8Array(1);
  assertEquals(await conn.read(first), 1);
  assert(await writeAll(conn, encoder.encode("more\n")));
  await sim.waitForLog("closed by server");
  const { text, reset } = await readToEnd(conn);
  conn.close();
  assertEquals(text.length, BIG, "the rest of the reply (after its first byte) was cut");
  assertEquals(reset, false, "the reply ended with a reset, not a clean end");
});

Deno.test("requestTimeout: a client that sent more while its request hung gets the error reply and is not reset", async () => {
  await using h = await startHost(
    oneNode("./tests/fixtures/misbehave.ts", [], { requestTimeout: 0.2 }),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  // The request hangs without reading: what comes after its line, more than the host's
  // first read takes, stays unread in the host's socket.
  const bytes = new Uint8Array(32768).fill(0x78);
  bytes.set(encoder.encode("hang\n"));
  assert(await writeAll(conn, bytes));
  const { text, reset } = await readToEnd(conn);
  assertEquals(text, "error: request took longer than 0.2 s\n");
  assertEquals(reset, false, "the reply ended with a reset, not a clean end");
  // The host still reads (and drops) what the client sends after the reply: no reset.
  assert(await writeAll(conn, encoder.encode("after\n")), "the client was reset");
  conn.close();
  await waitForLog(h, "(requestTimeout), closing");
});

Deno.test("a line over maxMessageSize: the client still sending it gets the error reply and is not reset", async () => {
  await using h = await startHost(
    oneNode("./tests/fixtures/misbehave.ts", [], { maxMessageSize: 1024 }),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  // 32 KiB without a newline: the host reads past 1 KiB, answers and closes with the rest unread.
  const sending = writeAll(conn, new Uint8Array(32768).fill(0x78));
  const { text, reset } = await readToEnd(conn);
  assertEquals(await sending, true, "the client was reset while sending its line");
  assertEquals(text, "error: line longer than 1024 bytes\n");
  assertEquals(reset, false, "the reply ended with a reset, not a clean end");
  assert(await writeAll(conn, encoder.encode("after\n")), "the client was reset");
  conn.close();
});

Deno.test("a lingering close is bounded: a client that keeps sending after its reply is cut off", async () => {
  await using h = await startHost(
    oneNode("./tests/fixtures/misbehave.ts", [], { maxMessageSize: 1024 }),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  const chunk = new Uint8Array(65536).fill(0x78);
  const reading = readToEnd(conn);
  // Unbounded, the host would read this client for as long as it sends (the time bound
  // would stop it too, but far later than these bytes take on a loopback).
  let sent = 0;
  while (sent < 64 * LINGER_BYTES && await writeAll(conn, chunk)) sent += chunk.length;
  const { text } = await reading;
  conn.close();
  assertEquals(text, "error: line longer than 1024 bytes\n");
  assert(sent < 64 * LINGER_BYTES, `the host read ${sent} bytes after its reply and kept reading`);
  await using next = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  assert(await writeAll(next, encoder.encode("fine\n")));
  const buffer = new Uint8Array(64);
  const n = await next.read(buffer);
  assertEquals(decoder.decode(buffer.subarray(0, n ?? 0)), "ok: fine\n");
});
