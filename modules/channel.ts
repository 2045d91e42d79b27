/**
 * Byte channels: the two-way byte streams a connection-like module serves
 * requests over (a TCP or Unix connection, an adopted socket, standard
 * input and output).
 * @module
 */
import type { Socket } from "node:net";
import { concatBytes } from "../kernel/byte_reader.ts";

/** A two-way byte stream. */
export interface ByteChannel {
  /** Reads into `buffer`; the byte count, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; the byte count written. */
  write(data: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
  /**
   * Closes after the host's last reply without cutting it (a lingering
   * close): ends the writing side at once (the client reads the reply and
   * then the end), reads and drops what the client still sends for at most
   * {@linkcode LINGER_MS} and {@linkcode LINGER_BYTES}, then closes. Closing
   * the input the client still sends would answer it with a reset, and a
   * reset may cost the client the reply not read yet. `close()` cuts it
   * short. Resolves once closed. Absent: the channel just closes (see
   * {@linkcode lingerOrClose}).
   */
  linger?(): Promise<void>;
  /** Who is at the other end, for logs: `127.0.0.1:5000`, `unix:/run/x.sock`, `stdio`. */
  readonly peer: string;
  /** The peer's IP address without the port (`127.0.0.1`, `::1`); absent when it has none. */
  readonly address?: string;
  /** Answers to the module's own `cntl` operations, by module path (`tcp/peer`). */
  readonly module?: Readonly<Record<string, unknown>>;
  /**
   * The proxy the connection came through (`127.0.0.1:41000`), when a PROXY
   * protocol header named the client; `peer` and `address` are then the client's.
   */
  readonly via?: string;
  /**
   * True when a PROXY header said `LOCAL`: the proxy opened the connection for
   * itself (a health check), for no client. Its connection line is a `debug` one.
   */
  readonly proxyLocal?: boolean;
}

/** True for the errors that mean the other end is gone, which are not failures of the host. */
export function isGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.NotConnected ||
    (error instanceof Error && /EPIPE|ECONNRESET|destroyed|write after end/.test(error.message));
}

/** Longest a lingering close waits for the client to stop sending, in milliseconds. */
export const LINGER_MS = 2000;

/**
 * Most bytes a lingering close reads and drops before it closes anyway:
 * small, as each costs the host a read; what a client sends after a reply
 * is mostly a pipelined request or two, not the rest of a large upload.
 */
export const LINGER_BYTES = 65536;

/** What a lingering close reads into: shared, as what is read is dropped. */
const DROPPED = new Uint8Array(16384);

/**
 * Closes `channel` after the host's last reply: lingering (see
 * {@linkcode ByteChannel.linger}) when it can, else at once. Never throws;
 * resolves once closed.
 */
export function lingerOrClose(channel: ByteChannel): Promise<void> {
  try {
    if (channel.linger !== undefined) return channel.linger();
    channel.close();
  } catch {
    // Closed already.
  }
  return Promise.resolve();
}

/** Writes all of `data`. */
export async function writeAll(channel: ByteChannel, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await channel.write(data.subarray(offset));
}

function hostPort(addr: Deno.Addr): string {
  const net = addr as Deno.NetAddr;
  return `${net.hostname.includes(":") ? `[${net.hostname}]` : net.hostname}:${net.port}`;
}

/**
 * A Deno connection (TCP or Unix) as a channel. What only logs and `cntl`
 * need (the peer's name, the module's answers) is worked out on first use,
 * so a connection that is served and closed without either costs nothing more.
 */
class ConnChannel implements ByteChannel {
  readonly #conn: Deno.Conn;
  #peer: string | undefined;
  #module: Readonly<Record<string, unknown>> | undefined;
  /** Ends a lingering close now; set while one is under way. */
  #cut: (() => void) | undefined;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get peer(): string {
    if (this.#peer === undefined) {
      const addr = this.#conn.remoteAddr;
      this.#peer = addr.transport === "tcp"
        ? hostPort(addr)
        : `unix:${(addr as Deno.UnixAddr).path || "(unnamed)"}`;
    }
    return this.#peer;
  }

  get address(): string | undefined {
    const addr = this.#conn.remoteAddr;
    return addr.transport === "tcp" ? addr.hostname : undefined;
  }

  get module(): Readonly<Record<string, unknown>> {
    return this.#module ??= Object.freeze(
      this.#conn.remoteAddr.transport === "tcp"
        ? { "tcp/peer": this.peer, "tcp/local": hostPort(this.#conn.localAddr) }
        : { "unix/path": (this.#conn.localAddr as Deno.UnixAddr).path },
    );
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data);
  }

  close(): void {
    if (this.#cut !== undefined) this.#cut();
    else this.#conn.close();
  }

  linger(): Promise<void> {
    const conn = this.#conn;
    const cut = (): void => {
      if (this.#cut !== cut) return;
      this.#cut = undefined;
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    };
    this.#cut = cut;
    const timer = setTimeout(cut, LINGER_MS);
    return (async (): Promise<void> => {
      try {
        await conn.closeWrite();
        for (let left = LINGER_BYTES; left > 0;) {
          const n = await conn.read(DROPPED);
          if (n === null) break;
          left -= n;
        }
      } catch {
        // Reset, or cut short by close(): closed all the same.
      }
      cut();
    })();
  }
}

/** A Deno connection (TCP or Unix) as a channel. */
export function connChannel(conn: Deno.Conn): ByteChannel {
  return new ConnChannel(conn);
}

/** The process's standard input and output as one channel (a terminal, or a socket under inetd). */
export function stdioChannel(): ByteChannel {
  // Standard input cannot be closed under a pending read, so closing the
  // channel ends the read it is waiting on instead.
  let close: () => void = () => {};
  const closed = new Promise<null>((resolve) => close = () => resolve(null));
  let isClosed = false;
  return {
    peer: "stdio",
    module: Object.freeze({}),
    read: (buffer) =>
      isClosed ? Promise.resolve(null) : Promise.race([Deno.stdin.read(buffer), closed]),
    write: (data) => Deno.stdout.write(data),
    close(): void {
      isClosed = true;
      close();
    },
  };
}

/** What a {@linkcode SocketChannel} tells about its peer, when not the socket's own addresses. */
export interface SocketNames {
  /** Who is at the other end, for logs. */
  readonly peer: string;
  /** The peer's IP address without the port. */
  readonly address?: string;
  /** The proxy the connection came through, when a PROXY header named the client. */
  readonly via?: string;
  /** The module's `cntl` answers, worked out when first asked for. */
  readonly module: () => Readonly<Record<string, unknown>>;
  /** Close by ending the stream before letting go of it (a TLS session's `close_notify`). */
  readonly graceful?: boolean;
  /** The connection is a proxy's own (see {@linkcode ByteChannel.proxyLocal}). */
  readonly proxyLocal?: boolean;
}

/** How long a graceful close may wait for its last bytes to be written, in milliseconds. */
const GRACEFUL_CLOSE_MS = 1000;

/**
 * A `node:net` socket (from an adopted listening descriptor, or a `tls`
 * listener's, plain or TLS) as a channel: reads pull `data` events one at a
 * time, pausing the socket between reads so that its buffering stays bounded.
 */
export class SocketChannel implements ByteChannel {
  readonly peer: string;
  readonly address: string | undefined;
  readonly via: string | undefined;
  readonly proxyLocal: boolean;
  readonly #socket: Socket;
  readonly #graceful: boolean;
  readonly #names: () => Readonly<Record<string, unknown>>;
  #module: Readonly<Record<string, unknown>> | undefined;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  /** Ends a lingering close now; set while one is under way. */
  #cut: (() => void) | undefined;
  readonly #onData = (data: Uint8Array): void => {
    this.#chunks.push(data);
    this.#socket.pause();
    this.#notify();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };
  readonly #onError = (error: Error): void => {
    this.#failure = error;
    this.#notify();
  };

  /**
   * @param socket the socket, paused
   * @param names the peer's names, when not the socket's own addresses
   */
  constructor(socket: Socket, names?: SocketNames) {
    this.#socket = socket;
    const peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.peer = names?.peer ?? peer;
    this.address = names === undefined ? socket.remoteAddress : names.address;
    this.via = names?.via;
    this.#graceful = names?.graceful ?? false;
    this.proxyLocal = names?.proxyLocal ?? false;
    this.#names = names?.module ?? ((): Readonly<Record<string, unknown>> => ({
      "tcp/peer": peer,
      "tcp/local": `${socket.localAddress ?? "?"}:${socket.localPort ?? "?"}`,
    }));
    socket.pause();
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    socket.on("close", this.#onEnd);
  }

  /** The module's `cntl` answers, worked out when first asked for. */
  get module(): Readonly<Record<string, unknown>> {
    return this.#module ??= Object.freeze(this.#names());
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    const chunks = this.#chunks;
    while (chunks.length === 0) {
      if (this.#failure) throw new Deno.errors.ConnectionReset(this.#failure.message);
      if (this.#ended) return null;
      const waiting = new Promise<void>((resolve) => this.#wake = resolve);
      this.#socket.resume();
      await waiting;
    }
    const chunk = chunks[0];
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) chunks.shift();
    else chunks[0] = chunk.subarray(n);
    return n;
  }

  write(data: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("socket closed"));
    return new Promise((resolve, reject) => {
      socket.write(data, (error?: Error | null) => {
        if (error) reject(new Deno.errors.BrokenPipe(error.message));
        else resolve(data.length);
      });
    });
  }

  close(): void {
    if (this.#cut !== undefined) {
      this.#cut();
      return;
    }
    const socket = this.#socket;
    if (this.#graceful && !socket.destroyed && socket.writable) {
      // TLS: end with close_notify (a client that reads to the end of the stream tells a
      // clean end from a cut), then let go of the socket once that is written, or after
      // GRACEFUL_CLOSE_MS when the peer does not read it.
      const timer = setTimeout(() => socket.destroy(), GRACEFUL_CLOSE_MS);
      socket.once("close", () => clearTimeout(timer));
      socket.end(() => socket.destroy());
    } else {
      socket.destroy();
    }
    this.#ended = true;
    this.#notify();
  }

  linger(): Promise<void> {
    const socket = this.#socket;
    // Reads see the end from now on: what comes is dropped.
    socket.off("data", this.#onData);
    this.#chunks = [];
    this.#ended = true;
    this.#notify();
    if (socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      let left = LINGER_BYTES;
      const cut = (): void => {
        if (this.#cut !== cut) return;
        this.#cut = undefined;
        clearTimeout(timer);
        socket.off("data", drop);
        socket.off("end", cut);
        socket.off("close", cut);
        socket.destroy();
        resolve();
      };
      const drop = (data: Uint8Array): void => {
        left -= data.length;
        if (left <= 0) cut();
      };
      this.#cut = cut;
      const timer = setTimeout(cut, LINGER_MS);
      socket.on("data", drop);
      socket.once("end", cut);
      socket.once("close", cut);
      // The end of the writing side (after TLS's close_notify, on a TLS socket).
      socket.end();
      socket.resume();
    });
  }

  /**
   * Gives the socket back, paused, for another layer to read (a TLS session
   * on top of it): the channel lets go of it, and `first` (bytes read from the
   * channel that belong to that layer) and the bytes the channel held unread
   * are put back to be read first. The channel must not be used after.
   */
  detach(first?: Uint8Array): Socket {
    const socket = this.#socket;
    socket.pause();
    socket.off("data", this.#onData);
    socket.off("end", this.#onEnd);
    socket.off("error", this.#onError);
    socket.off("close", this.#onEnd);
    // A failure of the bare socket is the next layer's to report; none may go unheard.
    socket.on("error", () => {});
    const pending = [first ?? new Uint8Array(0), ...this.#chunks.splice(0)];
    const size = pending.reduce((sum, chunk) => sum + chunk.length, 0);
    if (size > 0) socket.unshift(pending.length === 1 ? pending[0] : pending.reduce(concatBytes));
    return socket;
  }
}

/** A `node:net` socket as a channel: a {@linkcode SocketChannel} named by the socket's addresses. */
export function socketChannel(socket: Socket): SocketChannel {
  return new SocketChannel(socket);
}
