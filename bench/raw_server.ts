/**
 * The baseline of the benchmark: a plain `Deno.listen` line server that
 * answers each line `X\n` (or `X\r\n`) with `Hello, X\n`, written in the style
 * of plumb's tcp module (a reused 16 KiB read buffer, lines split on bytes,
 * one shared TextDecoder, a write-all loop, no delay) but without a kernel.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_server.ts --port 0
 * ```
 * Prints `listening on tcp://127.0.0.1:PORT` once it accepts connections and
 * exits 0 on SIGTERM or SIGINT.
 * @module
 */
import { parseArgs } from "node:util";

const HOSTNAME = "127.0.0.1";
/** Size of each connection's read buffer, in bytes, as in plumb's tcp module. */
const READ_BUFFER = 16384;
/** Longest line accepted, in bytes, as plumb's default `maxMessageSize`. */
const MAX_LINE_BYTES = 65536;
const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Answers every line of one connection until the peer closes it. */
async function serveConnection(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(READ_BUFFER);
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
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** Listens until SIGTERM or SIGINT, then closes everything and exits 0. */
async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { port: { type: "string" } } });
  const port = Number(values.port ?? "0");
  if (!/^\d+$/.test(values.port ?? "0") || port > 65535) {
    console.error(
      `raw_server: --port must be a whole number from 0 to 65535, got "${values.port}"`,
    );
    Deno.exit(2);
  }
  const listener = Deno.listen({ hostname: HOSTNAME, port, transport: "tcp" });
  const open = new Set<Deno.TcpConn>();
  const stop = (): void => {
    listener.close();
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(`listening on tcp://${HOSTNAME}:${listener.addr.port}`);
  for await (const conn of listener) {
    open.add(conn);
    serveConnection(conn).finally(() => open.delete(conn));
  }
}

if (import.meta.main) await main(Deno.args);
