/**
 * A floor for `bench/http.ts` on `GET /api/hello`: the least a JavaScript
 * HTTP server on `Deno.listen` does. Each connection reads into one buffer;
 * every request head in a read (up to its empty line) is answered with
 * `{"message":"Hello, world!"}` as `application/json`, with `date` (made once
 * a second) and `content-length`, and the replies of one read go out in one
 * write. It parses nothing: the method, target and fields are not looked at,
 * bodies are not read, a head cut across two reads is dropped. It is not a
 * server anyone should run; it shows what the socket and Deno's event loop
 * cost, under everything `Deno.serve`, `node:http` and plumb do.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_http_server.ts --port 0
 * ```
 * Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections, and
 * exits 0 on SIGTERM or SIGINT.
 * @module
 */
import { parseArgs } from "node:util";

const HOSTNAME = "127.0.0.1";
const BODY = JSON.stringify({ message: "Hello, world!" });
const encoder = new TextEncoder();

let second = -1;
let head = "";

/** The reply's head, its `date` made once a second. */
function replyHead(): string {
  const now = Date.now();
  const current = Math.floor(now / 1000);
  if (current !== second) {
    second = current;
    head = `HTTP/1.1 200 OK\r\ndate: ${new Date(now).toUTCString()}\r\n` +
      `content-type: application/json\r\ncontent-length: ${BODY.length}\r\n\r\n`;
  }
  return head;
}

/** The number of request heads that end in `bytes` (each at an empty line). */
function heads(bytes: Uint8Array, n: number): number {
  let count = 0;
  for (let i = 3; i < n; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      count++;
    }
  }
  return count;
}

async function serve(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const count = heads(buffer, n);
      if (count === 0) continue;
      const reply = replyHead() + BODY;
      await conn.write(encoder.encode(count === 1 ? reply : reply.repeat(count)));
    }
  } catch {
    // The client went: nothing to answer.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
const listener = Deno.listen({ hostname: HOSTNAME, port: Number(values.port ?? 0) });
const stop = (): void => {
  listener.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
console.log(`listening on tcp://${HOSTNAME}:${(listener.addr as Deno.NetAddr).port}`);
for await (const conn of listener) serve(conn);
