/**
 * The strongest Deno baseline of the benchmark (`raw bytes`): a plain
 * `Deno.listen` line server that answers each line `X\n` (or `X\r\n`) with
 * `Hello, X\n` without ever making a string: lines are split on bytes, each
 * reply is copied byte by byte into one buffer, and all the replies to the
 * lines of one read go out in a single write. Each connection has a read
 * buffer of its own (16 KiB unless `--read-buffer`), allocated once, and no
 * delay.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_bytes_server.ts --port 0 --read-buffer 1024
 * ```
 * Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections and
 * exits 0 on SIGTERM or SIGINT.
 * @module
 */
import { closeQuietly, MAX_LINE_BYTES, serveRaw, writeAll } from "./raw_listen.ts";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const HELLO = new TextEncoder().encode("Hello, ");

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The replies to the whole lines of `bytes`, in one buffer, and where the
 * incomplete rest starts; `null` replies when there is no whole line.
 */
function replies(bytes: Uint8Array): { reply: Uint8Array | null; rest: number } {
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
  const reply = new Uint8Array(size);
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

/** Answers every line of one connection until the peer closes it. */
async function serveConnection(conn: Deno.TcpConn, readBuffer: number): Promise<void> {
  const buffer = new Uint8Array(readBuffer);
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
      const { reply, rest } = replies(bytes);
      if (reply !== null) await writeAll(conn, reply);
      if (bytes.length - rest > MAX_LINE_BYTES) break;
      partial = rest === bytes.length ? EMPTY : bytes.slice(rest);
    }
  } catch {
    // The peer is gone or the server is stopping: drop the connection.
  } finally {
    closeQuietly(conn);
  }
}

if (import.meta.main) await serveRaw("raw_bytes_server", Deno.args, serveConnection);
