/**
 * The `tcp` module: `Deno.listen` connections as requests. One readiness of a
 * connection is one request; with `PERSIST` on the output companion when the
 * request ends the connection stays open and the next bytes start the next
 * request, else it is closed once the reply is flushed.
 * @module
 */
import { ByteReader, concatBytes, DEFAULT_MAX_LINE_BYTES } from "../kernel/byte_reader.ts";
import { PermissionHint } from "../kernel/errors.ts";
import { PERSIST } from "../kernel/flags.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "../kernel/pipe.ts";
import type { IoModule, ListenContext, Listener } from "./module.ts";
import { checkOptions, type OptionRule } from "./options.ts";

/** Options of a `tcp` listener. */
export interface TcpOptions {
  /** Address to listen on. Default `127.0.0.1`; `0.0.0.0` for every interface. */
  host: string;
  /** Port to listen on; 0 picks a free one (printed on start). Default 0. */
  port: number;
  /** Seconds an idle persistent connection is kept. Default 240, as in Plumber. */
  ttl: number;
  /** Longest line or message a request may read, in bytes. Default 65536. */
  maxMessageSize: number;
}

/** Default idle time of a persistent connection, in seconds. */
export const DEFAULT_TTL = 240;

const RULES: Record<keyof TcpOptions, OptionRule> = {
  host: { type: "string", description: "address to listen on, for example 127.0.0.1" },
  port: {
    type: "number",
    integer: true,
    min: 0,
    max: 65535,
    description: "TCP port, 0 = any free port",
  },
  ttl: { type: "number", min: 0.001, description: "seconds an idle persistent connection is kept" },
  maxMessageSize: { type: "number", integer: true, min: 1, description: "longest line in bytes" },
};

/** Size of each connection's read buffer, in bytes. */
const READ_BUFFER = 16384;
/** Reply bytes buffered before a write waits for the socket. */
const WRITE_HIGH_WATER = 65536;

function isGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.NotConnected;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** The input companion of a connection: this request's buffered bytes. */
class TcpInput implements InputHandle {
  flags = 0;
  touched = 0;
  readonly #reader: ByteReader;
  constructor(reader: ByteReader) {
    this.#reader = reader;
  }
  /** What is buffered now; `null` when nothing is (the end of this readiness). */
  read(): Promise<Uint8Array | null> {
    return Promise.resolve(this.#reader.takeBuffered());
  }
  /** A whole line, waiting for the rest of it if needed. */
  readLine(): Promise<string | null> {
    return this.#reader.readLine();
  }
  eof(): Promise<boolean> {
    return Promise.resolve(this.#reader.buffered === 0);
  }
  release(): void {}
}

/** The output companion of a connection: buffers a request's reply and flushes it. */
class TcpOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  /** Set once a write failed because the peer is gone. */
  gone = false;
  readonly #conn: Deno.Conn;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #flushing: Promise<void> = RESOLVED;
  #busy = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.written = true;
    if (this.gone || chunk.length === 0) return RESOLVED;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    return this.#size >= WRITE_HIGH_WATER ? this.flush() : RESOLVED;
  }

  touch(): void {
    this.written = true;
  }

  /** Writes out what is buffered; a gone peer is recorded, never thrown. */
  flush(): Promise<void> {
    if (this.#size === 0) return this.#flushing;
    const chunks = this.#chunks;
    const data = chunks.length === 1 ? chunks[0] : chunks.reduce(concatBytes);
    this.#chunks = [];
    this.#size = 0;
    return this.#flushing = this.#busy
      ? this.#flushing.then(() => this.#send(data))
      : this.#send(data);
  }

  async #send(data: Uint8Array): Promise<void> {
    if (this.gone) return;
    this.#busy = true;
    try {
      await writeAll(this.#conn, data);
    } catch (error) {
      if (!isGone(error)) throw error;
      this.gone = true;
    } finally {
      this.#busy = false;
    }
  }

  /** Prepares the handle for the next request. */
  reset(): void {
    this.written = false;
  }
}

/** A coarse clock: the idle sweeper's tick count, cheap to read on every socket read. */
interface Clock {
  tick: number;
}

/** One accepted connection and its request loop. */
class TcpConnection {
  readonly conn: Deno.TcpConn;
  readonly peer: string;
  /** True while waiting for bytes from the peer. */
  reading = false;
  /** True while no request is in flight (between requests). */
  idle = true;
  /** The listener's clock tick when the current wait for bytes started. */
  readingSince = 0;
  closed = false;
  readonly #buffer = new Uint8Array(READ_BUFFER);
  readonly #reader: ByteReader;
  readonly #input: TcpInput;
  readonly #output: TcpOutput;

  readonly #clock: Clock;

  constructor(conn: Deno.TcpConn, maxLineBytes: number, clock: Clock) {
    this.conn = conn;
    this.#clock = clock;
    const addr = conn.remoteAddr;
    this.peer = `${addr.hostname}:${addr.port}`;
    this.#reader = new ByteReader(() => this.#pull(), { volatile: true, maxLineBytes });
    this.#input = new TcpInput(this.#reader);
    this.#output = new TcpOutput(conn);
  }

  async #pull(): Promise<Uint8Array | null> {
    this.reading = true;
    this.readingSince = this.#clock.tick;
    try {
      const n = await this.conn.read(this.#buffer);
      return n === null ? null : this.#buffer.subarray(0, n);
    } catch (error) {
      if (isGone(error)) return null;
      throw error;
    } finally {
      this.reading = false;
    }
  }

  /** Serves requests until the peer goes, `PERSIST` is off, or the host closes. */
  async serve(context: ListenContext, closing: () => boolean): Promise<void> {
    const reader = this.#reader;
    const output = this.#output;
    try {
      for (;;) {
        if (reader.buffered === 0 && !(await reader.fill())) break;
        if (closing()) break;
        this.idle = false;
        output.reset();
        const consumed = reader.consumed;
        const ok = await context.handle(this.#input, output, this.peer);
        reader.endReaders(); // a read the request left waiting must not take the next one's bytes
        await output.flush();
        this.idle = true;
        if (!ok || output.gone || !(output.flags & PERSIST) || closing()) break;
        // A request that read nothing leaves the same bytes: wait for new ones
        // rather than run it again on them at once.
        if (reader.consumed === consumed && !(await reader.fill())) break;
        if (reader.buffered === 0 && reader.ended) break;
      }
    } catch (error) {
      context.log.log(
        "warn",
        `tcp ${this.peer}: connection failed: ${(error as Error)?.message ?? error}`,
      );
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the peer or the sweeper.
    }
  }
}

class TcpListener implements Listener {
  readonly url: string;
  readonly #listener: Deno.TcpListener;
  readonly #context: ListenContext;
  readonly #ttl: number;
  readonly #ttlTicks: number;
  readonly #clock: Clock = { tick: 0 };
  readonly #maxLineBytes: number;
  readonly #open = new Set<TcpConnection>();
  readonly #served = new Set<Promise<void>>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #closing = false;
  readonly #accepting: Promise<void>;

  constructor(listener: Deno.TcpListener, options: TcpOptions, context: ListenContext) {
    this.#listener = listener;
    this.#context = context;
    this.#ttl = options.ttl;
    this.#maxLineBytes = options.maxMessageSize;
    const addr = listener.addr;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.url = `tcp://${host}:${addr.port}`;
    const every = Math.min(1000, Math.max(10, options.ttl * 250));
    this.#ttlTicks = Math.ceil((options.ttl * 1000) / every);
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#accepting = this.#accept();
  }

  get connections(): number {
    return this.#open.size;
  }

  async #accept(): Promise<void> {
    let backoff = 0;
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#closing) return;
        // Out of file descriptors, say: wait before trying again (10 ms doubling
        // up to 1 s), and log once per wait rather than once per failure.
        backoff = Math.min(1000, backoff === 0 ? 10 : backoff * 2);
        this.#context.log.log(
          "error",
          `${this.url}: accept failed: ${(error as Error).message}; retrying in ${backoff} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoff));
        if (this.#closing) return;
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // The peer may already be gone; the read will say so.
      }
      const connection = new TcpConnection(conn, this.#maxLineBytes, this.#clock);
      this.#open.add(connection);
      const served = connection.serve(this.#context, () => this.#closing).finally(() => {
        this.#open.delete(connection);
        this.#served.delete(served);
      });
      this.#served.add(served);
    }
  }

  #sweep(): void {
    const now = ++this.#clock.tick;
    for (const connection of this.#open) {
      if (connection.reading && now - connection.readingSince >= this.#ttlTicks) {
        this.#context.log.log(
          "debug",
          `tcp ${connection.peer}: idle for ${this.#ttl} s (ttl), closing`,
        );
        connection.close();
      }
    }
  }

  async close(graceMs = 5000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#sweeper);
    this.#listener.close();
    await this.#accepting;
    for (const connection of this.#open) if (connection.idle) connection.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([Promise.all(this.#served), grace]);
    clearTimeout(timer);
    for (const connection of this.#open) connection.close();
    // A request whose servlet never resolves cannot be waited for: closing its
    // connection ends its reads and writes, and the host stops without it.
    const settled = new Promise<void>((resolve) => timer = setTimeout(resolve, 1000));
    await Promise.race([Promise.all(this.#served), settled]);
    clearTimeout(timer);
  }
}

/** The `tcp` module. */
export const tcp: IoModule<TcpOptions> = {
  name: "tcp",
  parseOptions(options: Record<string, unknown>, where: string): TcpOptions {
    checkOptions(options, RULES, where);
    return {
      host: (options.host as string | undefined) ?? "127.0.0.1",
      port: (options.port as number | undefined) ?? 0,
      ttl: (options.ttl as number | undefined) ?? DEFAULT_TTL,
      maxMessageSize: (options.maxMessageSize as number | undefined) ?? DEFAULT_MAX_LINE_BYTES,
    };
  },
  listen(options: TcpOptions, context: ListenContext): Promise<Listener> {
    const port = options.port === 0 ? "" : `:${options.port}`;
    const status = Deno.permissions.querySync({ name: "net", host: `${options.host}${port}` });
    if (status.state !== "granted") {
      throw new PermissionHint(
        `cannot listen on tcp://${options.host}${port}`,
        `--allow-net=${options.host}${port}`,
      );
    }
    const listener = Deno.listen({ hostname: options.host, port: options.port, transport: "tcp" });
    return Promise.resolve(new TcpListener(listener, options, context));
  },
};
