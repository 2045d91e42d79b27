/**
 * The reply written behind the next read (`Session.#replyBehind`): a
 * request's reply is written while the session already waits for the next
 * request's bytes, and the next request runs only once that reply is out.
 * Each case tries to break it over real connections and asserts the exact
 * bytes the client gets: pipelined requests, replies larger than the socket
 * buffers to a client that reads slowly or not at all, the host stopping
 * mid-reply, server push, half-closes and resets, and the time limits.
 */
import { assert, assertEquals } from "./assert.ts";
import { defineServlet, INPUT, OUTPUT, PERSIST } from "../mod.ts";
import { simulate } from "../testing/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes all of `data`; false once the connection was reset or closed. */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<boolean> {
  try {
    for (let sent = 0; sent < data.length;) sent += await conn.write(data.subarray(sent));
    return true;
  } catch {
    return false;
  }
}

/** Resolves once `value()` has not changed for `quietMs` (a write stuck on a client that does not read). */
async function settled(value: () => number, quietMs = 300): Promise<number> {
  let last = value();
  for (let quiet = 0; quiet < quietMs; quiet += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (value() !== last) {
      last = value();
      quiet = 0;
    }
  }
  return last;
}

/** Requests run by {@linkcode sixty}. */
let sixtyRuns = 0;
/** Replies 60000 bytes of "y" to each line: under the write high-water mark, so all written behind. */
const sixty = defineServlet({
  init: (_args, env) => ({
    input: env.define("in", INPUT | PERSIST),
    output: env.define("out", OUTPUT),
  }),
  async exec(ctx, task): Promise<void> {
    await task.readLine(ctx.input);
    sixtyRuns++;
    await task.write(ctx.output, new Uint8Array(60000).fill(0x79));
  },
});

Deno.test("a client reset while its reply is written behind: the request it pipelined after is not run", async () => {
  await using sim = await simulate(sixty, { transport: "tcp" });
  sixtyRuns = 0;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
  // 400 requests in one write, 24 MB of replies the client does not read: the host's
  // writes stick once the socket buffers are full, with a reply being written behind
  // and the next requests buffered.
  assert(await writeAll(conn, encoder.encode("go\n".repeat(400))));
  const ran = await settled(() => sixtyRuns);
  assert(ran > 0 && ran < 400, `${ran} requests ran`);
  conn.close(); // bytes unread: a reset
  await sim.waitForLog("PLUMB_CONN_ENDED");
  assertEquals(sixtyRuns, ran, "a request ran after its connection was reset");
});
