/**
 * The strongest Deno baseline of the benchmark (`raw bytes`): a plain
 * `Deno.listen` line server that answers each line `X\n` (or `X\r\n`) with
 * `Hello, X\n` without ever making a string: lines are split on bytes, each
 * reply is copied byte by byte into one buffer, and all the replies to the
 * lines of one read go out in a single write. Each connection has a read
 * buffer of its own (16 KiB unless `--read-buffer`) while it is open, taken
 * from a pool and given back when it closes (a new one costs a connection
 * about a fifth of its time when each request has its own), and no delay.
 * The replies are copied into a 2 KiB buffer taken from a pool the
 * connections share and given back once written (only larger replies get a
 * buffer of their own): a typed array made for each write costs Deno's
 * `write` about a tenth of the request (measured: 7.0 against 6.4 µs of
 * server CPU per request at C=256).
 *
 * With `--strings` (`raw strings`) each line is decoded to a string and its
 * reply made as one (`Hello, ${line}\n`) and encoded into the pooled buffer:
 * the least a server whose handlers take and give text (as plumb's servlets
 * do) adds to `raw bytes`.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_bytes_server.ts --port 0 --read-buffer 1024
 * deno run --allow-net=127.0.0.1 bench/raw_bytes_server.ts --port 0 --strings
 * ```
 * Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections and
 * exits 0 on SIGTERM or SIGINT.
 * @module
 */
import { closeQuietly, MAX_LINE_BYTES, serveRaw, writeAll } from "./raw_listen.ts";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HELLO = encoder.encode("Hello, ");
/** Size of the pooled reply buffers, in bytes. */
const REPLY_BUFFER = 2048;
/** Reply buffers not in use; as many as connections write at once. */
const freeReplyBuffers: Uint8Array[] = [];
/** Read buffers of closed connections, for the next ones. */
const freeReadBuffers: Uint8Array[] = [];

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The replies to the whole lines of `bytes`, in one buffer (a view of
 * `pooled` when they fit in it), and where the incomplete rest starts; `null`
 * replies when there is no whole line.
 */
function replies(
  bytes: Uint8Array,
  pooled: Uint8Array,
): { reply: Uint8Array | null; rest: number } {
  // First pass: how long the replies are together.
  let size = 0;
  let start = 0;
  for (let nl = bytes.indexOf(LF); nl >= 0; nl = bytes.indexOf(LF, start)) {
    const end = nl > start && bytes[nl - 1] === CR ? nl - 1 : nl;
    size += HELLO.length + end - start + 1;
    start = nl + 1;
  }
  const rest = start;
  if (rest === 0) return { reply: null, rest };
  // Second pass: copy.
  const reply = size <= pooled.length ? pooled.subarray(0, size) : new Uint8Array(size);
  let at = 0;
  start = 0;
  while (start < rest) {
    const nl = bytes.indexOf(LF, start);
    const end = nl > start && bytes[nl - 1] === CR ? nl - 1 : nl;
    reply.set(HELLO, at);
    at += HELLO.length;
    reply.set(bytes.subarray(start, end), at);
    at += end - start;
    reply[at++] = LF;
    start = nl + 1;
  }
  return { reply, rest };
}

/**
 * What {@linkcode replies} gives, through strings: each line decoded, its
 * reply made as text, all of them encoded into `pooled` when they fit.
 */
function stringReplies(
  bytes: Uint8Array,
  pooled: Uint8Array,
): { reply: Uint8Array | null; rest: number } {
  let text = "";
  let start = 0;
  for (let nl = bytes.indexOf(LF); nl >= 0; nl = bytes.indexOf(LF, start)) {
    const end = nl > start && bytes[nl - 1] === CR ? nl - 1 : nl;
    text += `Hello, ${decoder.decode(bytes.subarray(start, end))}\n`;
    start = nl + 1;
  }
  if (start === 0) return { reply: null, rest: start };
  const { read, written } = encoder.encodeInto(text, pooled);
  return {
    reply: read === text.length ? pooled.subarray(0, written) : encoder.encode(text),
    rest: start,
  };
}

/** `--strings`: lines go through strings. */
const STRINGS = "--strings";
const answer = Deno.args.includes(STRINGS) ? stringReplies : replies;

/** Answers every line of one connection until the peer closes it. */
async function serveConnection(conn: Deno.TcpConn, readBuffer: number): Promise<void> {
  const buffer = freeReadBuffers.pop() ?? new Uint8Array(readBuffer);
  /** Bytes of an incomplete line, copied out of `buffer`. */
  let partial = EMPTY;
  try {
    conn.setNoDelay(true);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const bytes = partial.length === 0
        ? buffer.subarray(0, n)
        : joinBytes(partial, buffer.subarray(0, n));
      const pooled = freeReplyBuffers.pop() ?? new Uint8Array(REPLY_BUFFER);
      const { reply, rest } = answer(bytes, pooled);
      try {
        if (reply !== null) await writeAll(conn, reply);
      } finally {
        freeReplyBuffers.push(pooled);
      }
      if (bytes.length - rest > MAX_LINE_BYTES) break;
      partial = rest === bytes.length ? EMPTY : bytes.slice(rest);
    }
  } catch {
    // The peer is gone or the server is stopping: drop the connection.
  } finally {
    closeQuietly(conn);
    freeReadBuffers.push(buffer);
  }
}

if (import.meta.main) {
  const args = Deno.args.filter((arg) => arg !== STRINGS);
  await serveRaw("raw_bytes_server", args, serveConnection);
}
