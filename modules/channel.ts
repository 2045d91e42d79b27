/**
 * Byte channels: the two-way byte streams a connection-like module serves
 * requests over (a TCP or Unix connection, an adopted socket, standard
 * input and output).
 * @module
 */
import type { Socket } from "node:net";

/** A two-way byte stream. */
export interface ByteChannel {
  /** Reads into `buffer`; the byte count, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; the byte count written. */
  write(data: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
  /** Who is at the other end, for logs: `127.0.0.1:5000`, `unix:/run/x.sock`, `stdio`. */
  readonly peer: string;
  /** The peer's IP address without the port (`127.0.0.1`, `::1`); absent when it has none. */
  readonly address?: string;
  /** Answers to the module's own `cntl` operations, by module path (`tcp/peer`). */
  readonly module?: Readonly<Record<string, unknown>>;
}

/** True for the errors that mean the other end is gone, which are not failures of the host. */
export function isGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.NotConnected ||
    (error instanceof Error && /EPIPE|ECONNRESET|destroyed|write after end/.test(error.message));
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
    this.#conn.close();
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

/**
 * A `node:net` socket (from an adopted listening descriptor) as a channel:
 * reads pull `data` events one at a time, pausing the socket between reads so
 * that its buffering stays bounded.
 */
export function socketChannel(socket: Socket): ByteChannel {
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.pause();
  socket.on("data", (data: Uint8Array) => {
    chunks.push(data);
    socket.pause();
    notify();
  });
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("error", (error: Error) => {
    failure = error;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  const peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
  const module = Object.freeze({
    "tcp/peer": peer,
    "tcp/local": `${socket.localAddress ?? "?"}:${socket.localPort ?? "?"}`,
  });
  return {
    peer,
    address: socket.remoteAddress,
    module,
    async read(buffer: Uint8Array): Promise<number | null> {
      while (chunks.length === 0) {
        if (failure) throw new Deno.errors.ConnectionReset(failure.message);
        if (ended) return null;
        const waiting = new Promise<void>((resolve) => wake = resolve);
        socket.resume();
        await waiting;
      }
      const chunk = chunks[0];
      const n = Math.min(buffer.length, chunk.length);
      buffer.set(chunk.subarray(0, n));
      if (n === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(n);
      return n;
    },
    write(data: Uint8Array): Promise<number> {
      if (socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("socket closed"));
      return new Promise((resolve, reject) => {
        socket.write(data, (error?: Error | null) => {
          if (error) reject(new Deno.errors.BrokenPipe(error.message));
          else resolve(data.length);
        });
      });
    },
    close(): void {
      socket.destroy();
      ended = true;
      notify();
    },
  };
}
