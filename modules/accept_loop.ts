/**
 * A listener that accepts connections and serves each as a session: the
 * shared part of the `tcp` and `unix` modules and of an adopted listening
 * socket.
 * @module
 */
import type { ByteChannel } from "./channel.ts";
import type { ListenContext, Listener } from "./module.ts";
import { SessionPool } from "./session_pool.ts";
import type { SessionOptions } from "./session.ts";

/** A source of accepted connections. */
export interface Acceptor {
  /** The next connection; rejects once closed. */
  accept(): Promise<ByteChannel>;
  /** Stops accepting. */
  close(): void;
}

/** Serves every connection an {@linkcode Acceptor} accepts. */
export class AcceptingListener implements Listener {
  readonly url: string;
  readonly done: Promise<void>;
  readonly #acceptor: Acceptor;
  readonly #context: ListenContext;
  readonly #pool: SessionPool;
  readonly #accepting: Promise<void>;
  readonly #onClose: () => void;
  #finished: () => void = () => {};
  #closing: Promise<void> | undefined;

  /**
   * @param url where it listens, for the `listening on` line
   * @param acceptor the accepted connections
   * @param context the host's handler and log
   * @param options each session's options
   * @param ttl seconds an idle session is kept
   * @param onClose called once the listener has stopped (to remove a socket file, say)
   */
  constructor(
    url: string,
    acceptor: Acceptor,
    context: ListenContext,
    options: SessionOptions,
    ttl: number,
    onClose: () => void = () => {},
  ) {
    this.url = url;
    this.#acceptor = acceptor;
    this.#context = context;
    this.#onClose = onClose;
    this.#pool = new SessionPool(context, options, ttl);
    this.done = new Promise((resolve) => this.#finished = resolve);
    this.#accepting = this.#accept();
  }

  get connections(): number {
    return this.#pool.size;
  }

  async #accept(): Promise<void> {
    let backoff = 0;
    for (;;) {
      let channel: ByteChannel;
      try {
        channel = await this.#acceptor.accept();
        backoff = 0;
      } catch (error) {
        if (this.#pool.closing) return;
        // Out of file descriptors, say: wait before trying again (10 ms doubling
        // up to 1 s), and log once per wait rather than once per failure.
        backoff = Math.min(1000, backoff === 0 ? 10 : backoff * 2);
        this.#context.log.log(
          "error",
          `${this.url}: accept failed: ${(error as Error).message}; retrying in ${backoff} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoff));
        if (this.#pool.closing) return;
        continue;
      }
      if (this.#pool.closing) {
        channel.close();
        return;
      }
      this.#pool.serve(channel);
    }
  }

  close(graceMs = 5000): Promise<void> {
    return this.#closing ??= (async () => {
      const pool = this.#pool.close(graceMs);
      this.#acceptor.close();
      await this.#accepting;
      await pool;
      this.#onClose();
      this.#finished();
    })();
  }
}

/** A Deno listener (`Deno.listen`, TCP or Unix) as an acceptor. */
export function denoAcceptor(
  listener: Deno.Listener,
  toChannel: (conn: Deno.Conn) => ByteChannel,
): Acceptor {
  return {
    accept: async () => toChannel(await listener.accept()),
    close: () => {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  };
}
