/**
 * A baseline of the benchmark (`raw lines`): a plain `Deno.listen` line server
 * that answers each line `X\n` (or `X\r\n`) with `Hello, X\n`, written in the
 * style of plumb's tcp module (a reused read buffer, 16 KiB unless
 * `--read-buffer`, lines split on bytes, each decoded to a string by one
 * shared TextDecoder, one awaited write-all of its encoded reply per line, no
 * delay) but without a kernel. `raw_bytes_server.ts` is the faster baseline.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_server.ts --port 0
 * ```
 * Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections and
 * exits 0 on SIGTERM or SIGINT.
 * @module
 */
import { closeQuietly, MAX_LINE_BYTES, serveRaw, writeAll } from "./raw_listen.ts";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
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
      let start = 0;
      for (let nl = bytes.indexOf(LF); nl >= 0; nl = bytes.indexOf(LF, start)) {
        const end = nl > start && bytes[nl - 1] === CR ? nl - 1 : nl;
        const line = decoder.decode(bytes.subarray(start, end));
        await writeAll(conn, encoder.encode(`Hello, ${line}\n`));
        start = nl + 1;
      }
      if (bytes.length - start > MAX_LINE_BYTES) break;
      partial = start === bytes.length ? EMPTY : bytes.slice(start);
    }
  } catch {
    // The peer is gone or the server is stopping: drop the connection.
  } finally {
    closeQuietly(conn);
  }
}

if (import.meta.main) await serveRaw("raw_server", Deno.args, serveConnection);
