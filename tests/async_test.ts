/**
 * ASYNC outputs over real TCP with a client that reads slowly: the task ends
 * before its reply is written, the next request runs meanwhile, replies
 * arrive whole and in order, and the writer is held back once the
 * per-connection buffer is full (memory stays bounded).
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, oneNode, startHost } from "./helpers.ts";
import { bulkEvents } from "./fixtures/bulk.ts";

/** Reads replies of one repeated digit ending in `\n`, checking every byte, pausing between reads. */
class Replies {
  readonly #conn: Deno.TcpConn;
  #rest = new Uint8Array(0);
  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }
  async next(pause: () => Promise<void>): Promise<{ digit: string; bytes: number }> {
    let bytes = 0;
    let digit = -1;
    const buffer = new Uint8Array(65536);
    for (;;) {
      let chunk = this.#rest;
      this.#rest = new Uint8Array(0);
      if (chunk.length === 0) {
        const n = await this.#conn.read(buffer);
        if (n === null) throw new Error("closed before the end of the reply");
        chunk = buffer.subarray(0, n);
        await pause();
      }
      const nl = chunk.indexOf(10);
      const body = nl >= 0 ? chunk.subarray(0, nl) : chunk;
      if (digit < 0 && body.length > 0) digit = body[0];
      assert(body.every((b) => b === digit), "a reply holds its own request's bytes only");
      bytes += body.length;
      if (nl >= 0) {
        this.#rest = chunk.slice(nl + 1);
        return { digit: digit < 0 ? "" : String.fromCharCode(digit), bytes };
      }
    }
  }
}

Deno.test("ASYNC: the task ends before a slow reader has its reply; order and bounds hold", async () => {
  bulkEvents.length = 0;
  await using h = await startHost(oneNode("./tests/fixtures/bulk.ts", ["async"]));
  await using c = await Client.connect(h.port);
  await c.send("32\n");
  // The client reads nothing yet: 32 MiB cannot all be buffered, so the writer is held back.
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(bulkEvents, ["start 1"], "the writer waits for the reader: the buffer is bounded");
  const replies = new Replies(c.conn);
  let read = 0;
  const first = await replies.next(async () => {
    if (++read % 64 === 0) await new Promise((r) => setTimeout(r, 1));
  });
  assertEquals(first, { digit: "1", bytes: 32 * 1024 * 1024 });
  assertEquals(bulkEvents, ["start 1", "end 1"]);
  await c.send("1\n1\n");
  const second = await replies.next(() => Promise.resolve());
  const third = await replies.next(() => Promise.resolve());
  assertEquals([second, third], [{ digit: "2", bytes: 1048576 }, { digit: "3", bytes: 1048576 }]);
});

Deno.test("ASYNC: the next request runs while the last reply is still being written", async () => {
  bulkEvents.length = 0;
  await using h = await startHost(oneNode("./tests/fixtures/bulk.ts", ["async"]));
  await using c = await Client.connect(h.port);
  await c.send("8\n0\n");
  // Read the first reply slowly; by the time it is all here, request 2 has long run.
  const replies = new Replies(c.conn);
  const seen: string[][] = [];
  const first = await replies.next(async () => {
    seen.push([...bulkEvents]);
    await new Promise((r) => setTimeout(r, 2));
  });
  assertEquals(first.bytes, 8 * 1024 * 1024);
  assert(
    seen.some((events) => events.includes("end 2")),
    "request 2 ended before request 1's reply was all read",
  );
  const second = await replies.next(() => Promise.resolve());
  assertEquals(second, { digit: "", bytes: 0 });
});

Deno.test("without ASYNC, big pipelined replies are delivered whole and in order too", async () => {
  bulkEvents.length = 0;
  await using h = await startHost(oneNode("./tests/fixtures/bulk.ts"));
  await using c = await Client.connect(h.port);
  await c.send("8\n0\n2\n");
  const replies = new Replies(c.conn);
  let read = 0;
  const pause = async (): Promise<void> => {
    if (++read % 32 === 0) await new Promise((r) => setTimeout(r, 1));
  };
  assertEquals(await replies.next(pause), { digit: "1", bytes: 8 * 1024 * 1024 });
  assertEquals(await replies.next(pause), { digit: "", bytes: 0 });
  assertEquals(await replies.next(pause), { digit: "3", bytes: 2 * 1024 * 1024 });
});
