/**
 * An in-memory connection: a {@linkcode ByteChannel} for the host's session
 * code at one end and a {@linkcode TestClient} at the other, with what a
 * socket gives a session (reads of what was sent, half-close, backpressure
 * on replies the client has not read) and no socket.
 * @module
 */
import type { ByteChannel } from "../modules/channel.ts";
import { BufferedClient } from "./client.ts";

/** Reply bytes the host may write ahead of the client's reads before its writes wait. */
export const MEMORY_WINDOW = 65536;

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

/** The client end of an in-memory connection. */
export class MemoryClient extends BufferedClient {
  readonly peer: string;
  readonly #toHost: ByteQueue;
  readonly #fromHost: ByteQueue;

  /** @internal Made by {@linkcode memoryConnection}. */
  constructor(peer: string, toHost: ByteQueue, fromHost: ByteQueue) {
    super();
    this.peer = peer;
    this.#toHost = toHost;
    this.#fromHost = fromHost;
  }

  protected receive(): Promise<Uint8Array | null> {
    return this.#fromHost.take();
  }

  protected transmit(bytes: Uint8Array): Promise<void> {
    // Like a socket whose peer has closed: what is sent is lost.
    this.#toHost.push(bytes);
    return Promise.resolve();
  }

  closeWrite(): Promise<void> {
    this.#toHost.end();
    return Promise.resolve();
  }

  protected shut(): void {
    this.#toHost.end();
    this.#fromHost.break();
  }
}

/** Both ends of an in-memory connection. */
export interface MemoryConnection {
  /** The host's end, served by a session as a socket would be. */
  readonly channel: ByteChannel;
  /** The client's end. */
  readonly client: MemoryClient;
}

/**
 * Makes an in-memory connection.
 *
 * @param peer what the host's logs call the client
 * @param module answers to the module `cntl` operations servlets may ask
 *   (`{"tcp/peer": "192.0.2.1:5000"}` to test a servlet that asks for its peer)
 */
export function memoryConnection(
  peer: string,
  module: Readonly<Record<string, unknown>> = {},
): MemoryConnection {
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
  return { channel, client: new MemoryClient(peer, toHost, fromHost) };
}
