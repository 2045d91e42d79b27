/**
 * A floor for `bench/http.ts` on `GET /api/hello` (and, below, on a large
 * file): the least a JavaScript HTTP server on `Deno.listen` does. Each
 * connection reads into one buffer; every request head in a read (up to its
 * empty line) is answered with `{"message":"Hello, world!"}` as
 * `application/json`, with `date` (made once a second) and `content-length`,
 * and the replies of one read go out in one write, encoded into a buffer the
 * connection keeps (as `raw_bytes_server.ts` does, and for the same reason).
 * It parses nothing: the
 * method, target and fields are not looked at, bodies are not read, a head
 * cut across two reads is dropped. It is not a server anyone should run; it
 * shows what the socket and Deno's event loop cost, under everything
 * `Deno.serve`, `node:http` and plumb do.
 *
 * With `--file PATH` it is the floor for a large file instead: every request
 * head is answered with that file (`application/octet-stream`, with
 * `content-length` and `last-modified`), opened and read at each request as
 * the other servers do, the head and the file's bytes in one write from a
 * buffer of 1 MiB that the connection keeps (it can: nothing else holds the
 * bytes once the write is done). `--fresh` takes a new buffer for each reply
 * instead, as a server must that hands the bytes on to code it does not own.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_http_server.ts --port 0
 * deno run --allow-net=127.0.0.1 --allow-read bench/raw_http_server.ts --port 0 --file bench/results/www/1mb.bin
 * ```
 * Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections, and
 * exits 0 on SIGTERM or SIGINT.
 * @module
 */
import { parseArgs } from "node:util";
import { writeAll } from "./raw_listen.ts";

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

/** A reply's buffer, and the most file bytes one write takes, in the file floor. */
const FILE_BUFFER_BYTES = 1048576;
/** Room for the head in front of the file's bytes. */
const HEAD_ROOM = 512;

/**
 * Answers one request with the file at `path`, from `kept` (a buffer the
 * connection keeps) or, without it, a new buffer.
 */
async function sendFile(conn: Deno.Conn, path: string, kept?: Uint8Array): Promise<void> {
  using file = await Deno.open(path);
  const info = await file.stat();
  const head = `HTTP/1.1 200 OK\r\ndate: ${new Date().toUTCString()}\r\n` +
    `content-type: application/octet-stream\r\ncontent-length: ${info.size}\r\n` +
    `last-modified: ${(info.mtime ?? new Date(0)).toUTCString()}\r\n\r\n`;
  const buffer = kept ?? new Uint8Array(HEAD_ROOM + FILE_BUFFER_BYTES);
  let start = encoder.encodeInto(head, buffer).written;
  let left = info.size;
  while (left > 0) {
    let end = start;
    while (end < buffer.length && left > 0) {
      const n = await file.read(buffer.subarray(end, Math.min(buffer.length, end + left)));
      if (n === null) throw new Error(`${path}: shorter than its size`);
      end += n;
      left -= n;
    }
    await writeAll(conn, buffer.subarray(0, end));
    start = 0;
  }
}

/** Size of a connection's reply buffer, in bytes; more replies at once are encoded apart. */
const REPLY_BUFFER = 4096;

async function serve(conn: Deno.Conn, file: string | undefined, fresh: boolean): Promise<void> {
  const buffer = new Uint8Array(16384);
  const out = file === undefined ? new Uint8Array(REPLY_BUFFER) : undefined;
  const kept = file !== undefined && !fresh
    ? new Uint8Array(HEAD_ROOM + FILE_BUFFER_BYTES)
    : undefined;
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const count = heads(buffer, n);
      if (count === 0) continue;
      if (file !== undefined) {
        for (let i = 0; i < count; i++) await sendFile(conn, file, kept);
        continue;
      }
      const reply = replyHead() + BODY;
      const text = count === 1 ? reply : reply.repeat(count);
      const { read, written } = encoder.encodeInto(text, out!);
      await writeAll(conn, read === text.length ? out!.subarray(0, written) : encoder.encode(text));
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

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string" }, file: { type: "string" }, fresh: { type: "boolean" } },
});
const listener = Deno.listen({ hostname: HOSTNAME, port: Number(values.port ?? 0) });
const stop = (): void => {
  listener.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
console.log(`listening on tcp://${HOSTNAME}:${(listener.addr as Deno.NetAddr).port}`);
for await (const conn of listener) serve(conn, values.file, values.fresh === true);
