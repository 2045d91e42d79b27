/**
 * The pipe machinery without a network: line splitting across every chunking,
 * the mem pipe's bounded buffering, and the `TextLineStream` stand-in.
 */
import { ByteReader } from "../kernel/byte_reader.ts";
import { MessageTooLongError } from "../mod.ts";
import { TextLineStream } from "../kernel/_text_line_stream.ts";
import { MemPipe } from "../kernel/mem_pipe.ts";
import { readableFrom } from "../kernel/stream_util.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";

const encoder = new TextEncoder();

/** A reader over `bytes` cut at `cuts`; `volatile` reuses one buffer as a socket read does. */
function readerOver(
  bytes: Uint8Array,
  cuts: number[],
  volatile: boolean,
  max?: number,
): ByteReader {
  const bounds = [0, ...cuts, bytes.length];
  let i = 0;
  const scratch = new Uint8Array(bytes.length);
  return new ByteReader(() => {
    if (i + 1 >= bounds.length) return Promise.resolve(null);
    const piece = bytes.subarray(bounds[i], bounds[++i]);
    if (!volatile) return Promise.resolve(piece.slice());
    scratch.fill(0);
    scratch.set(piece);
    return Promise.resolve(scratch.subarray(0, piece.length));
  }, { volatile, maxLineBytes: max });
}

async function lines(reader: ByteReader): Promise<string[]> {
  const out: string[] = [];
  for (let l = await reader.readLine(); l !== null; l = await reader.readLine()) out.push(l);
  return out;
}

Deno.test("readLine: every two-cut chunking of mixed \\n, \\r\\n and UTF-8 gives the same lines", async () => {
  const text = "Plumber\r\nworld\n世界\r\n\nlast";
  const bytes = encoder.encode(text);
  const expected = ["Plumber", "world", "世界", "", "last"];
  for (const volatile of [false, true]) {
    for (let a = 1; a < bytes.length; a++) {
      for (let b = a; b < bytes.length; b++) {
        assertEquals(await lines(readerOver(bytes, [a, b], volatile)), expected, `cuts ${a},${b}`);
      }
    }
  }
});

Deno.test("readLine: random chunkings of random text round-trip", async () => {
  let seed = 42;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = ["a", "é", "世", "😀", " ", "\n", "\r\n"];
  for (let round = 0; round < 200; round++) {
    const parts = Array.from(
      { length: 40 },
      () => alphabet[Math.floor(random() * alphabet.length)],
    );
    const text = parts.join("") + "\n";
    const bytes = encoder.encode(text);
    const cuts = [
      ...new Set(Array.from({ length: 5 }, () => 1 + Math.floor(random() * (bytes.length - 1)))),
    ]
      .sort((x, y) => x - y);
    const expected = text.split(/\r?\n/).slice(0, -1);
    assertEquals(await lines(readerOver(bytes, cuts, true)), expected);
  }
});

Deno.test("readLine: a line over the limit is refused with MessageTooLongError", async () => {
  const reader = readerOver(encoder.encode("short\n" + "x".repeat(100) + "\n"), [3, 50], true, 64);
  assertEquals(await reader.readLine(), "short");
  await assertRejects(() => reader.readLine(), MessageTooLongError);
});

Deno.test("read: chunks handed out survive the source reusing its buffer", async () => {
  const reader = readerOver(encoder.encode("abcdef"), [2, 4], true);
  const chunks: Uint8Array[] = [];
  for (let c = await reader.read(); c !== null; c = await reader.read()) chunks.push(c);
  assertEquals(chunks.map((c) => new TextDecoder().decode(c)), ["ab", "cd", "ef"]);
});

Deno.test("mem pipe: a fast writer waits for a slow reader; the queue stays bounded", async () => {
  const pipe = new MemPipe({ highWaterMark: 4096 });
  const chunk = new Uint8Array(1024);
  let written = 0;
  let read = 0;
  let maxQueued = 0;
  const writer = (async (): Promise<void> => {
    for (let i = 0; i < 1000; i++) {
      await pipe.output.write(chunk);
      written += chunk.length;
      maxQueued = Math.max(maxQueued, written - read);
    }
    pipe.close();
  })();
  for (let c = await pipe.input.read(); c !== null; c = await pipe.input.read()) {
    read += c.length;
    if (read % 65536 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await writer;
  assertEquals(read, 1000 * 1024);
  assert(maxQueued <= 4096 + 1024, `queued up to ${maxQueued} bytes`);
});

Deno.test("mem pipe: a reader that stops early releases a waiting writer", async () => {
  const pipe = new MemPipe({ highWaterMark: 1024 });
  const writer = (async (): Promise<void> => {
    for (let i = 0; i < 100; i++) await pipe.output.write(new Uint8Array(1024));
  })();
  await pipe.input.read();
  pipe.input.release();
  await writer; // would hang if the release did not wake it
  assertEquals(pipe.output.written, true);
});

Deno.test("mem pipe: writers waiting at the same time are all released as the reader drains", async () => {
  const pipe = new MemPipe({ highWaterMark: 1024 });
  const writes = Promise.all([
    pipe.output.write(new Uint8Array(4096)),
    pipe.output.write(new Uint8Array(4096)),
  ]).then(() => pipe.close());
  let read = 0;
  for (let c = await pipe.input.read(); c !== null; c = await pipe.input.read()) read += c.length;
  await writes; // would hang if the second writer's wake-up replaced the first's
  assertEquals(read, 8192);
});

Deno.test("mem pipe: the consumer may take the port as a ReadableStream", async () => {
  const pipe = new MemPipe();
  const stream = readableFrom(
    () => pipe.input.read(),
    (rest) => pipe.input.unread(rest),
    () => pipe.input.release(),
  );
  const text = stream.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  const collected = Array.fromAsync(text);
  await pipe.output.write(encoder.encode("one\r\ntw"));
  await pipe.output.write(encoder.encode("o\nthree"));
  pipe.close();
  assertEquals(await collected, ["one", "two", "three"]);
});

Deno.test("TextLineStream: \\n, \\r\\n, and lone \\r with allowCR across chunks", async () => {
  const split = (chunks: string[], allowCR = false): Promise<string[]> =>
    Array.fromAsync(ReadableStream.from(chunks).pipeThrough(new TextLineStream({ allowCR })));
  assertEquals(await split(["a\r", "\nb\n", "c"]), ["a", "b", "c"]);
  assertEquals(await split(["a\rb\r", "\nc\r"], true), ["a", "b", "c"]);
  assertEquals(await split(["a\rb\n"]), ["a\rb"]);
});

Deno.test("mem pipe: abort fails a waiting writer, the reader and every later write; the queue never grew", async () => {
  const pipe = new MemPipe({ highWaterMark: 1024 });
  await pipe.output.write(new Uint8Array(512));
  const waiting = pipe.output.write(new Uint8Array(1024)); // at the bound: waits
  assertEquals(pipe.stalled, true);
  const reason = new Error("deadlocked");
  pipe.abort(reason);
  await assertRejects(() => waiting, Error, "deadlocked");
  await assertRejects(() => pipe.output.write(new Uint8Array(1)), Error, "deadlocked");
  await assertRejects(() => pipe.input.read(), Error, "deadlocked");
  assertEquals(pipe.queued, 0);
});
