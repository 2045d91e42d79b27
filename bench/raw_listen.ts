/**
 * What the raw baselines of `bench/run.ts` (`raw_server.ts`,
 * `raw_bytes_server.ts`) share: their command line (`--port P`,
 * `--read-buffer BYTES`), the listener on 127.0.0.1, the `listening on` line
 * and the exit on SIGTERM or SIGINT; and, with `raw_http_server.ts`, the
 * write of a whole buffer.
 * @module
 */
import { parseArgs } from "node:util";

const HOSTNAME = "127.0.0.1";
/** Default size of each connection's read buffer, in bytes, as in plumb's tcp module. */
export const DEFAULT_READ_BUFFER = 16384;
/** Longest line accepted, in bytes, as plumb's default `maxMessageSize`. */
export const MAX_LINE_BYTES = 65536;

/** Serves one connection until the peer closes it; `readBuffer` is the read buffer's size. */
export type ServeConnection = (conn: Deno.TcpConn, readBuffer: number) => Promise<void>;

/** Writes all of `data` to `conn`, in as many writes as it takes. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * Parses `args`, listens, prints `listening on tcp://127.0.0.1:PORT` and
 * serves every connection with `serve` until SIGTERM or SIGINT, then closes
 * everything and returns; exits 2 naming the flag on a bad command line.
 */
export async function serveRaw(
  name: string,
  args: string[],
  serve: ServeConnection,
): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { port: { type: "string" }, "read-buffer": { type: "string" } },
  });
  const port = Number(values.port ?? "0");
  if (!/^\d+$/.test(values.port ?? "0") || port > 65535) {
    console.error(`${name}: --port must be a whole number from 0 to 65535, got "${values.port}"`);
    Deno.exit(2);
  }
  const readBufferText = values["read-buffer"] ?? String(DEFAULT_READ_BUFFER);
  const readBuffer = Number(readBufferText);
  if (!/^\d+$/.test(readBufferText) || readBuffer < 16 || readBuffer > 1048576) {
    console.error(
      `${name}: --read-buffer must be a whole number of bytes from 16 to 1048576, ` +
        `got "${readBufferText}"`,
    );
    Deno.exit(2);
  }
  const listener = Deno.listen({ hostname: HOSTNAME, port, transport: "tcp" });
  const open = new Set<Deno.TcpConn>();
  // Stopping closes everything and lets the process end by itself (so that
  // `deno run --cpu-prof` writes its profile, which `Deno.exit` can prevent).
  const stop = (): void => {
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
    listener.close();
    for (const conn of open) closeQuietly(conn);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(`listening on tcp://${HOSTNAME}:${listener.addr.port}`);
  try {
    for await (const conn of listener) {
      open.add(conn);
      serve(conn, readBuffer).finally(() => open.delete(conn));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
