/**
 * The open sessions of one listener: starts them, closes the idle ones after
 * the ttl, and closes them all, bounded, when the listener stops.
 * @module
 */
import type { ByteChannel } from "./channel.ts";
import type { ListenContext, Listener } from "./module.ts";
import { type Clock, Session, type SessionOptions } from "./session.ts";

/** The sessions of a listener. */
export class SessionPool {
  readonly #context: ListenContext;
  readonly #options: SessionOptions;
  readonly #ttl: number;
  readonly #ttlTicks: number;
  readonly #clock: Clock = { tick: 0 };
  readonly #open = new Set<Session>();
  readonly #served = new Set<Promise<void>>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #closing = false;

  /**
   * @param context the host's handler and log
   * @param options each session's options
   * @param ttl seconds an idle session is kept
   */
  constructor(context: ListenContext, options: SessionOptions, ttl: number) {
    this.#context = context;
    this.#options = options;
    this.#ttl = ttl;
    const every = Math.min(1000, Math.max(10, ttl * 250));
    this.#ttlTicks = Math.ceil((ttl * 1000) / every);
    this.#sweeper = setInterval(() => this.#sweep(), every);
  }

  /** Open sessions. */
  get size(): number {
    return this.#open.size;
  }

  /** True once `close` was called. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Serves a new channel; resolves when its session ends. */
  serve(channel: ByteChannel): Promise<void> {
    const session = new Session(channel, this.#options, this.#clock);
    this.#open.add(session);
    this.#context.connections(1);
    const served = session.serve(this.#context, () => this.#closing).finally(() => {
      this.#open.delete(session);
      this.#served.delete(served);
      this.#context.connections(-1);
    });
    this.#served.add(served);
    return served;
  }

  #sweep(): void {
    const now = ++this.#clock.tick;
    for (const session of this.#open) {
      if (session.reading && now - session.readingSince >= this.#ttlTicks) {
        this.#context.log.log(
          "debug",
          `${session.channel.peer}: idle for ${this.#ttl} s (ttl), closing`,
        );
        session.close();
      }
    }
  }

  /**
   * Closes idle sessions at once, lets requests in flight finish for up to
   * `graceMs`, then closes the rest. A request whose servlet never resolves
   * cannot be waited for: closing its channel ends its reads and writes, and
   * the pool stops without it.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    for (const session of this.#open) if (session.idle) session.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([Promise.all(this.#served), grace]);
    clearTimeout(timer);
    for (const session of this.#open) session.close();
    const settled = new Promise<void>((resolve) => timer = setTimeout(resolve, 1000));
    await Promise.race([Promise.all(this.#served), settled]);
    clearTimeout(timer);
  }
}

/**
 * A listener with one session over one channel (standard input and output,
 * a file): done when that session ends.
 *
 * @param url what the listener serves, for the log
 * @param channel the one channel
 * @param context the host's handler and log
 * @param options the session's options
 * @param ttl seconds of silence after which the session ends
 */
export function singleSessionListener(
  url: string,
  channel: ByteChannel,
  context: ListenContext,
  options: SessionOptions,
  ttl: number,
): Listener {
  const pool = new SessionPool(context, options, ttl);
  const served = pool.serve(channel);
  let closing: Promise<void> | undefined;
  return {
    url,
    get connections(): number {
      return pool.size;
    },
    done: served.then(() => pool.close(0)),
    close(graceMs = 5000): Promise<void> {
      return closing ??= pool.close(graceMs);
    },
  };
}
