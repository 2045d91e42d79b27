/**
 * In-memory connections: a graph served with no socket. Each connection is
 * a {@linkcode ByteChannel} at the host's end, served by the same session
 * code as a TCP connection (keep-alive by `PERSIST`, pipelined requests,
 * `EOM`, per-connection state, the `open` greeting, `ttl` and the time
 * limits, the error reply), and a {@linkcode MemoryConnection} at the
 * client's end, with what a socket gives (reads of what was sent,
 * half-close, backpressure on replies the client has not read).
 * @module
 */
import type { ByteChannel } from "./channel.ts";
import type { ListenContext, Listener } from "./module.ts";
import { parseOptions } from "./options.ts";
import { SessionPool } from "./session_pool.ts";
import {
  SESSION_OPTIONS,
  type SessionListenerOptions,
  sessionSettings,
} from "./session_options.ts";

/** Reply bytes the host may write ahead of the client's reads before its writes wait. */
export const MEMORY_WINDOW = 65536;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes in flight one way: chunks in order, the end, and who waits for what. */
class ByteQueue {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;
  #ended = false;
  #broken = false;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  /** True once the reading end went away: writes fail. */
  get broken(): boolean {
    return this.#broken;
  }

  push(bytes: Uint8Array): void {
    if (this.#ended || bytes.length === 0) return;
    this.#chunks.push(bytes.slice());
    this.#size += bytes.length;
    this.#wake();
  }

  /** No more bytes will come: reads return `null` once the queue is drained. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** The reading end is gone: the queue ends, and writers waiting for room fail. */
  break(): void {
    this.#broken = true;
    this.#chunks.length = 0;
    this.#size = 0;
    this.end();
  }

  #wake(): void {
    const reader = this.#wakeReader;
    const writer = this.#wakeWriter;
    this.#wakeReader = this.#wakeWriter = undefined;
    reader?.();
    writer?.();
  }

  /** The next chunk, at most `max` bytes of it; `null` at the end. */
  async take(max = Infinity): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wakeReader = resolve);
    }
    const first = this.#chunks[0];
    const chunk = first.length <= max ? first : first.subarray(0, max);
    if (chunk === first) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(max);
    this.#size -= chunk.length;
    this.#wake();
    return chunk;
  }

  /** Resolves once at most `limit` bytes wait to be read (or the reader is gone). */
  async room(limit: number): Promise<void> {
    while (this.#size > limit && !this.#broken) {
      await new Promise<void>((resolve) => this.#wakeWriter = resolve);
    }
  }
}

/**
 * The client's end of an in-memory connection to a host: what `Host.connect`
 * returns. Write request bytes, read reply bytes as the host writes them,
 * half-close with `closeWrite`, `close` when done.
 *
 * @example
 * ```ts
 * import { Host } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 *
 * await using host = await Host.load("examples/hello.json");
 * await using conn = host.connect();
 * await conn.write("Plumber\n");
 * assertEquals(await conn.readText(), "Hello, Plumber\n");
 * ```
 */
export interface MemoryConnection extends AsyncDisposable {
  /** Who the host sees at the other end (`memory:1`), in its logs. */
  readonly peer: string;
  /**
   * Sends bytes, or text as UTF-8, to the host. After `closeWrite` or
   * `close`, what is sent is lost, as on a socket whose peer has closed.
   */
  write(data: string | Uint8Array): Promise<void>;
  /** The next chunk of reply bytes, as the host wrote it; `null` once the host has closed. */
  read(): Promise<Uint8Array | null>;
  /** The next chunk of reply bytes as text (UTF-8); `null` once the host has closed. */
  readText(): Promise<string | null>;
  /** Every reply byte until the host closes the connection. */
  readAll(): Promise<Uint8Array>;
  /** Half-closes: the host reads the end of input, and replies can still be read. */
  closeWrite(): Promise<void>;
  /** Closes both directions; calls after the first do nothing. */
  close(): void;
}

/** The client's end, over the two queues. */
class ClientEnd implements MemoryConnection {
  readonly peer: string;
  readonly #toHost: ByteQueue;
  readonly #fromHost: ByteQueue;
  #closed = false;

  constructor(peer: string, toHost: ByteQueue, fromHost: ByteQueue) {
    this.peer = peer;
    this.#toHost = toHost;
    this.#fromHost = fromHost;
  }

  write(data: string | Uint8Array): Promise<void> {
    this.#toHost.push(typeof data === "string" ? encoder.encode(data) : data);
    return Promise.resolve();
  }

  read(): Promise<Uint8Array | null> {
    return this.#fromHost.take();
  }

  async readText(): Promise<string | null> {
    const chunk = await this.read();
    return chunk === null ? null : decoder.decode(chunk);
  }

  async readAll(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) {
      chunks.push(chunk);
      size += chunk.length;
    }
    if (chunks.length === 1) return chunks[0];
    const all = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
  }

  closeWrite(): Promise<void> {
    this.#toHost.end();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#toHost.end();
    this.#fromHost.break();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Options of one in-memory connection. */
export interface ConnectOptions {
  /** What the host's logs call the client. Default `memory:1`, `memory:2`, ... */
  peer?: string;
  /**
   * Answers to the module `cntl` operations servlets may ask for, by module
   * path (`{"tcp/peer": "192.0.2.1:5000"}` to test a servlet that asks for its
   * peer). Default none: a servlet that asks fails, naming what there is.
   */
  module?: Readonly<Record<string, unknown>>;
}

/** Both ends of one in-memory connection: the host's channel and the client's connection. */
function memoryPair(
  peer: string,
  module: Readonly<Record<string, unknown>>,
): { channel: ByteChannel; connection: MemoryConnection } {
  const toHost = new ByteQueue();
  const fromHost = new ByteQueue();
  const answers = Object.freeze({ ...module });
  const channel: ByteChannel = {
    peer,
    module: answers,
    async read(buffer: Uint8Array): Promise<number | null> {
      const chunk = await toHost.take(buffer.length);
      if (chunk === null) return null;
      buffer.set(chunk);
      return chunk.length;
    },
    async write(data: Uint8Array): Promise<number> {
      if (fromHost.broken) throw new Deno.errors.BrokenPipe(`${peer} has closed the connection`);
      fromHost.push(data);
      await fromHost.room(MEMORY_WINDOW);
      if (fromHost.broken) throw new Deno.errors.BrokenPipe(`${peer} has closed the connection`);
      return data.length;
    },
    close(): void {
      toHost.break();
      fromHost.end();
    },
  };
  return { channel, connection: new ClientEnd(peer, toHost, fromHost) };
}

/**
 * Checks the session options of in-memory connections (those of the
 * connection-like listeners: `ttl`, `maxMessageSize`, `open`,
 * `requestTimeout`, `writeTimeout`, `errorReply`, `onError`) and fills in their
 * defaults; throws a one-line `GraphError` naming `where` and the option.
 */
export function memoryOptions(
  options: Readonly<Record<string, unknown>>,
  where: string,
): SessionListenerOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return parseOptions(SESSION_OPTIONS, given, where);
}

/**
 * The listener of a host's in-memory connections: each {@linkcode connect}
 * opens one, served by a session of its pool like an accepted socket.
 */
export class MemoryListener implements Listener {
  readonly url = "memory:";
  readonly done: Promise<void>;
  readonly #pool: SessionPool;
  #count = 0;
  #closing: Promise<void> | undefined;
  #stopped: () => void = () => {};

  /**
   * @param options the session options of its connections
   * @param context the host's handler and log
   */
  constructor(options: SessionListenerOptions, context: ListenContext) {
    this.#pool = new SessionPool(context, sessionSettings(options), options.ttl);
    this.done = new Promise<void>((resolve) => this.#stopped = resolve);
  }

  /** Open connections right now. */
  get connections(): number {
    return this.#pool.size;
  }

  /** Opens a connection (the host refuses to once it is closing). */
  connect(options: ConnectOptions = {}): MemoryConnection {
    const peer = options.peer ?? `memory:${++this.#count}`;
    const { channel, connection } = memoryPair(peer, options.module ?? {});
    this.#pool.serve(channel);
    return connection;
  }

  /** Closes idle connections, lets requests in flight finish (up to `graceMs`), then the rest. */
  close(graceMs = 5000): Promise<void> {
    return this.#closing ??= this.#pool.close(graceMs).then(() => this.#stopped());
  }
}
