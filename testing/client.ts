/**
 * The test client: one interface for a connection to a host under test, over
 * a real TCP socket ({@linkcode TcpClient}) or in memory
 * ({@linkcode MemoryClient}, over `Host.connect`), reading replies line by line.
 * @module
 */
import type { MemoryConnection } from "../host/host.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** A client connection to a host under test. */
export interface TestClient extends AsyncDisposable {
  /** Who the host sees at the other end (`127.0.0.1:50312`, `memory:1`). */
  readonly peer: string;
  /** Sends bytes or a string (as UTF-8), all of it. */
  send(data: string | Uint8Array): Promise<void>;
  /** The next reply line with its `\n`, or `null` when the host closed first. */
  readLine(): Promise<string | null>;
  /** The next `count` reply lines, each with its `\n`; fewer if the host closed first. */
  readLines(count: number): Promise<string[]>;
  /** Every reply byte until the host closes the connection, as text. */
  readToEnd(): Promise<string>;
  /** The next `count` reply bytes; fewer if the host closed first. */
  readBytes(count: number): Promise<Uint8Array>;
  /** True when the host closed the connection with nothing more to read. */
  closedByServer(): Promise<boolean>;
  /** Half-closes: the host reads the end of input, and the client can still read replies. */
  closeWrite(): Promise<void>;
  /** Closes both directions; calls after the first do nothing. */
  close(): void;
}

/**
 * The line reading every client shares: a subclass says how to receive a
 * chunk and how to send bytes.
 */
export abstract class BufferedClient implements TestClient {
  abstract readonly peer: string;
  #pending: Uint8Array = EMPTY;
  #closed = false;

  /** The next chunk from the host, or `null` at the end. */
  protected abstract receive(): Promise<Uint8Array | null>;
  /** Sends all of `bytes`. */
  protected abstract transmit(bytes: Uint8Array): Promise<void>;
  /** Half-closes the connection. */
  abstract closeWrite(): Promise<void>;
  /** Closes the underlying connection. */
  protected abstract shut(): void;

  /** Sends bytes or a string (as UTF-8), all of it. */
  send(data: string | Uint8Array): Promise<void> {
    return this.transmit(typeof data === "string" ? encoder.encode(data) : data);
  }

  async #fill(): Promise<boolean> {
    const chunk = await this.receive();
    if (chunk === null) return false;
    const next = new Uint8Array(this.#pending.length + chunk.length);
    next.set(this.#pending);
    next.set(chunk, this.#pending.length);
    this.#pending = next;
    return true;
  }

  /** The next reply line with its `\n`, or `null` when the host closed first. */
  async readLine(): Promise<string | null> {
    for (;;) {
      const nl = this.#pending.indexOf(10);
      if (nl >= 0) {
        const line = decoder.decode(this.#pending.subarray(0, nl + 1));
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** The next `count` reply lines, each with its `\n`; fewer if the host closed first. */
  async readLines(count: number): Promise<string[]> {
    const lines: string[] = [];
    while (lines.length < count) {
      const line = await this.readLine();
      if (line === null) break;
      lines.push(line);
    }
    return lines;
  }

  /** The next `count` reply bytes; fewer if the host closed first. */
  async readBytes(count: number): Promise<Uint8Array> {
    while (this.#pending.length < count && await this.#fill());
    const bytes = this.#pending.slice(0, count);
    this.#pending = this.#pending.slice(bytes.length);
    return bytes;
  }

  /** Every reply byte until the host closes the connection, as text. */
  async readToEnd(): Promise<string> {
    while (await this.#fill());
    const text = decoder.decode(this.#pending);
    this.#pending = EMPTY;
    return text;
  }

  /** True when the host closed the connection with nothing more to read. */
  async closedByServer(): Promise<boolean> {
    return this.#pending.length === 0 && !(await this.#fill());
  }

  /** Closes both directions; calls after the first do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.shut();
  }

  /** Closes the connection: `await using client = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * A client over a socket: any `Deno.Conn` (TCP, TLS, Unix), for a listener
 * the kit has no shortcut for.
 *
 * @example
 * ```ts
 * import { Host } from "@plumb/plumb/host";
 * import { SocketClient } from "@plumb/plumb/testing";
 * import { assertEquals } from "@std/assert";
 *
 * await using host = await Host.start("examples/hello.json", { port: 0, logLevel: "error" });
 * const port = Number(new URL(host.urls[0]).port);
 * await using client = new SocketClient(await Deno.connect({ hostname: "127.0.0.1", port }));
 * await client.send("Plumber\n");
 * assertEquals(await client.readLine(), "Hello, Plumber\n");
 * ```
 */
export class SocketClient<C extends Deno.Conn = Deno.Conn> extends BufferedClient {
  /** The connection, for what the line interface does not cover. */
  readonly conn: C;
  readonly #buffer = new Uint8Array(65536);

  /** Wraps a connected socket; the client closes it. */
  constructor(conn: C) {
    super();
    this.conn = conn;
  }

  /** The client's own address, as the host sees it: `127.0.0.1:50312` (a Unix socket: its path or `unix`). */
  get peer(): string {
    const local = this.conn.localAddr;
    if ("hostname" in local) return `${local.hostname}:${local.port}`;
    return "path" in local && local.path !== "" ? local.path : "unix";
  }

  /** The next chunk the host sent; `null` at the end (a reset counts as the end). */
  protected async receive(): Promise<Uint8Array | null> {
    let n: number | null;
    try {
      n = await this.conn.read(this.#buffer);
    } catch (error) {
      if (
        error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.UnexpectedEof
      ) return null;
      throw error;
    }
    return n === null ? null : this.#buffer.slice(0, n);
  }

  /** Writes all of `bytes` to the socket. */
  protected async transmit(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Half-closes the socket: the host reads the end of input. */
  closeWrite(): Promise<void> {
    return this.conn.closeWrite();
  }

  /** Closes the socket. */
  protected shut(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * A real TCP client.
 *
 * @example
 * ```ts ignore
 * await using client = await TcpClient.connect(12345);
 * await client.send("Plumber\n");
 * console.log(await client.readLine()); // "Hello, Plumber\n"
 * ```
 */
export class TcpClient extends SocketClient<Deno.TcpConn> {
  /** Connects to `hostname` (default `127.0.0.1`) on `port`. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<TcpClient> {
    return new TcpClient(await Deno.connect({ hostname, port }));
  }
}

/**
 * A client over an in-memory connection of a host (`Host.connect`): no
 * socket; the host serves it with the same session code as a TCP connection.
 *
 * @example
 * ```ts
 * import { Host } from "@plumb/plumb/host";
 * import { MemoryClient } from "@plumb/plumb/testing";
 * import { assertEquals } from "@std/assert";
 *
 * await using host = await Host.load("examples/hello.json", { logLevel: "error" });
 * await using client = new MemoryClient(host.connect());
 * await client.send("Plumber\nworld\n");
 * assertEquals(await client.readLines(2), ["Hello, Plumber\n", "Hello, world\n"]);
 * ```
 */
export class MemoryClient extends BufferedClient {
  /** The in-memory connection, for what the line interface does not cover. */
  readonly connection: MemoryConnection;

  /**
   * Wraps an in-memory connection.
   * @param connection a connection from `Host.connect`
   */
  constructor(connection: MemoryConnection) {
    super();
    this.connection = connection;
  }

  /** Who the host sees at the other end: `memory:1`, unless `connect` named it. */
  get peer(): string {
    return this.connection.peer;
  }

  /** The next chunk the host wrote; `null` once it has closed. */
  protected receive(): Promise<Uint8Array | null> {
    return this.connection.read();
  }

  /** Sends all of `bytes`. */
  protected transmit(bytes: Uint8Array): Promise<void> {
    return this.connection.write(bytes);
  }

  /** Half-closes: the host reads the end of input. */
  closeWrite(): Promise<void> {
    return this.connection.closeWrite();
  }

  /** Closes the connection. */
  protected shut(): void {
    this.connection.close();
  }
}
