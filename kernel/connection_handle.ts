/**
 * Writes to a connection outside of any request (server push): a servlet
 * keeps a {@linkcode ConnectionHandle} of the connection a request came from
 * and writes to it later, from a timer or another client's request.
 * @module
 */

/**
 * What a module gives the kernel for writes outside a request (the module's
 * side of {@linkcode ConnectionHandle}).
 */
export interface PushLink {
  /** Who is at the other end. */
  readonly peer: string;
  /** True once the connection has closed. */
  readonly closed: boolean;
  /**
   * Queues bytes after the replies of the connection's requests (never
   * inside one); resolves once written, or once dropped because the
   * connection closed.
   */
  send(bytes: Uint8Array): Promise<void>;
  /** Closes the connection once what was sent before is written. */
  end(): Promise<void>;
  /** Resolves when the connection has closed. */
  whenClosed(): Promise<void>;
}

/**
 * A connection a servlet can write to outside of any request:
 * `task.connection.handle()`. Writes are queued in order with the replies
 * of the connection's own requests, never inside one: once a request of the
 * connection has started its reply, they wait for its end. A client that does not read is
 * dropped, not buffered without end: when the bytes waiting for it pass the
 * listener's `pushBuffer`, or a write waits longer than its `writeTimeout`,
 * the connection is closed and {@linkcode ConnectionHandle.closed} resolves.
 *
 * @example
 * ```ts
 * import { handleOf, type PushLink } from "./connection_handle.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sent: string[] = [];
 * let closed = false;
 * const link: PushLink = {
 *   peer: "192.0.2.1:5000",
 *   get closed() {
 *     return closed;
 *   },
 *   send: (bytes) => (sent.push(new TextDecoder().decode(bytes)), Promise.resolve()),
 *   end: () => ((closed = true), Promise.resolve()),
 *   whenClosed: () => Promise.resolve(),
 * };
 * const handle = handleOf(link);
 * await handle.write("tick\n");
 * await handle.close();
 * assertEquals([sent, handle.isClosed], [["tick\n"], true]);
 * ```
 */
export interface ConnectionHandle {
  /** Who is at the other end. */
  readonly peer: string;
  /** True once the connection has closed. */
  readonly isClosed: boolean;
  /** Resolves when the connection has closed (the client left, it was dropped, the host stopped). */
  readonly closed: Promise<void>;
  /**
   * Writes bytes or text (UTF-8). Resolves once written, or once dropped
   * because the connection is closed: it never rejects, so a broadcast need
   * not await each client. Errors are the connection's: watch `closed`.
   */
  write(data: Uint8Array | string): Promise<void>;
  /** Closes the connection once everything written before is out. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/** The handle over a module's link. */
class LinkHandle implements ConnectionHandle {
  readonly #link: PushLink;
  #closed: Promise<void> | undefined;
  constructor(link: PushLink) {
    this.#link = link;
  }
  get peer(): string {
    return this.#link.peer;
  }
  get isClosed(): boolean {
    return this.#link.closed;
  }
  get closed(): Promise<void> {
    return this.#closed ??= this.#link.whenClosed();
  }
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return bytes.length === 0 ? Promise.resolve() : this.#link.send(bytes);
  }
  close(): Promise<void> {
    return this.#link.end();
  }
}

/** The {@linkcode ConnectionHandle} of a module's {@linkcode PushLink}. */
export function handleOf(link: PushLink): ConnectionHandle {
  return new LinkHandle(link);
}
