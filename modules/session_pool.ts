/**
 * The open sessions of one listener: starts them, closes the idle ones after
 * the ttl, and closes them all, bounded, when the listener stops.
 * @module
 */
import type { ByteChannel } from "./channel.ts";
import type { ListenContext, Listener, PinnedGraph } from "./module.ts";
import { type Clock, Session, type SessionOptions } from "./session.ts";

/**
 * Seconds the reply of a time limit (a 408, an error reply) may take to be
 * written before its session is closed without it: a client that does not
 * read. Generous, as a host with thousands of them to write at once on a
 * loaded machine takes a while to write the last one.
 */
const CLOSING_REPLY_SECONDS = 5;

/** Told as each session of a pool starts and ends (connection logs and limits). */
export interface SessionHooks {
  /** A session starts; returns the context to serve it with (`context`, or a wrapper of it). */
  started(session: Session, context: ListenContext): ListenContext;
  /** A session has ended and left the pool; `closing` when the pool was closing. */
  ended(session: Session, closing: boolean): void;
}

/** The sessions of a listener. */
export class SessionPool {
  readonly #context: ListenContext;
  readonly #options: SessionOptions;
  readonly #ttl: number;
  readonly #ttlTicks: number;
  /** Ticks a request may take; 0 for no limit. */
  readonly #requestTicks: number;
  /** Ticks a write may wait for the peer; 0 for no limit. */
  readonly #writeTicks: number;
  /**
   * Ticks the reply of a time limit may take; at least two, so that a host
   * too busy to turn its event loop for a while (thousands of connections
   * timing out at once) does not close before the write was even tried.
   */
  readonly #closingTicks: number;
  readonly #clock: Clock = { tick: 0 };
  /** The open sessions, each with its pin of the graph it was served. */
  readonly #open = new Map<Session, PinnedGraph | undefined>();
  /** The channels of ended sessions still closing by a lingering close: cut when the pool closes. */
  readonly #lingering = new Set<ByteChannel>();
  /** Told once no session is open any more (`close` waiting for the last ones). */
  #emptied: (() => void)[] = [];
  /** The context of the sessions of the graph served now, made once per graph (reload). */
  #graphContext: { handle: ListenContext["handle"]; context: ListenContext } | undefined;
  /** Whether the pool is closing, as each session asks it (one function for them all). */
  readonly #isClosing = (): boolean => this.#closing;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #hooks: SessionHooks | undefined;
  #closing = false;
  /** Sessions started, and the bytes of the ended ones: counted per session, never per request. */
  #started = 0;
  #endedBytesIn = 0;
  #endedBytesOut = 0;

  /**
   * @param context the host's handler and log
   * @param options each session's options
   * @param ttl seconds an idle session is kept
   * @param hooks told as each session starts and ends, if given
   */
  constructor(
    context: ListenContext,
    options: SessionOptions,
    ttl: number,
    hooks?: SessionHooks,
  ) {
    this.#context = context;
    this.#hooks = hooks;
    this.#options = options;
    this.#ttl = ttl;
    // A tick is a quarter of the shortest limit (10 ms to 1 s): each limit
    // bites within a quarter of its length, at the cost of one timer per listener.
    const shortest = Math.min(ttl, options.requestTimeout ?? ttl, options.writeTimeout ?? ttl);
    const every = Math.min(1000, Math.max(10, shortest * 250));
    const ticks = (seconds: number | undefined): number =>
      seconds === undefined ? 0 : Math.max(1, Math.ceil((seconds * 1000) / every));
    this.#ttlTicks = ticks(ttl);
    this.#requestTicks = ticks(options.requestTimeout);
    this.#writeTicks = ticks(options.writeTimeout);
    this.#closingTicks = Math.max(2, ticks(CLOSING_REPLY_SECONDS));
    this.#sweeper = setInterval(() => this.#sweep(), every);
  }

  /** Open sessions. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Closes the sessions that have written no reply yet, are between
   * requests, and opened at least `ms` milliseconds ago (a slow or silent
   * client): to make room while the listener is full. Returns how many.
   */
  evictUnanswered(ms: number): number {
    const before = performance.now() - ms;
    let closed = 0;
    for (const session of this.#open.keys()) {
      if (
        session.idle && !session.closed && session.bytesOut === 0 && !session.replying &&
        session.startedAt <= before
      ) {
        session.close("no reply while the listener was full");
        closed++;
      }
    }
    return closed;
  }

  /** True once `close` was called. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Sessions started so far, and the bytes read and written by all of them, open and ended. */
  stats(): { accepted: number; bytesIn: number; bytesOut: number } {
    let bytesIn = this.#endedBytesIn;
    let bytesOut = this.#endedBytesOut;
    for (const session of this.#open.keys()) {
      bytesIn += session.bytesIn;
      bytesOut += session.bytesOut;
    }
    return { accepted: this.#started, bytesIn, bytesOut };
  }

  /**
   * Serves a new channel. What the pool keeps per session is the least it
   * can (an entry in the map of open sessions, and its pin of the graph): an
   * idle connection's memory is mostly this.
   */
  serve(channel: ByteChannel): void {
    const session = new Session(channel, this.#options, this.#clock);
    this.#started++;
    this.#context.connections(1);
    // The graph served now stays this session's graph, whatever a reload does meanwhile.
    const pinned = this.#context.pin?.();
    this.#open.set(session, pinned);
    const context = pinned ? this.#contextOf(pinned.handle) : this.#context;
    const hooks = this.#hooks;
    const started = hooks === undefined ? context : hooks.started(session, context);
    session.serve(started, this.#isClosing, this.#sessionEnded);
  }

  /** Resolves once no session is open (at once when none is). */
  emptied(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptied.push(resolve));
  }

  /** The listener's context with `handle` (a pinned graph's), shared by the sessions of that graph. */
  #contextOf(handle: ListenContext["handle"]): ListenContext {
    const cached = this.#graphContext;
    if (cached !== undefined && cached.handle === handle) return cached.context;
    const context = { ...this.#context, handle };
    this.#graphContext = { handle, context };
    return context;
  }

  /** A session has ended: it leaves the pool, its graph is released, the hooks are told. */
  readonly #sessionEnded = (session: Session): void => {
    const pinned = this.#open.get(session);
    this.#open.delete(session);
    this.#endedBytesIn += session.bytesIn;
    this.#endedBytesOut += session.bytesOut;
    this.#context.connections(-1);
    pinned?.release();
    this.#hooks?.ended(session, this.#closing);
    const lingering = session.lingering;
    if (lingering !== undefined) {
      const channel = session.channel;
      if (this.#closing) this.#cut(channel);
      else {
        this.#lingering.add(channel);
        lingering.then(() => this.#lingering.delete(channel));
      }
    }
    if (this.#open.size === 0 && this.#emptied.length > 0) {
      for (const emptied of this.#emptied.splice(0)) emptied();
    }
  };

  /** Ends a lingering close now. */
  #cut(channel: ByteChannel): void {
    this.#lingering.delete(channel);
    try {
      channel.close();
    } catch {
      // Closed already.
    }
  }

  #sweep(): void {
    const now = ++this.#clock.tick;
    const log = this.#context.log;
    const ms = performance.now();
    for (const session of this.#open.keys()) {
      if (session.closingSince >= 0) {
        if (now - session.closingSince >= this.#closingTicks) session.close();
        continue;
      }
      // A reply written behind the next read is part of its request (see Session.replying).
      const busy = !session.idle || session.replying;
      const overdue = busy ? undefined : session.overdue(ms);
      if (overdue !== undefined) {
        log.log("warn", "PLUMB_DEADLINE", `${session.channel.peer}: ${overdue}, closing`);
        session.expire();
      } else if (
        session.reading && !session.replying && now - session.readingSince >= this.#ttlTicks
      ) {
        log.log(
          "debug",
          "PLUMB_TIMEOUT_IDLE",
          `${session.channel.peer}: idle for ${this.#ttl} s (ttl), closing`,
          { peer: session.channel.peer },
        );
        session.close("ttl");
      } else if (
        this.#writeTicks > 0 && session.writing && now - session.writingSince >= this.#writeTicks
      ) {
        log.log(
          "warn",
          "PLUMB_TIMEOUT_WRITE",
          `${session.channel.peer}: did not read its reply for ${this.#options.writeTimeout} s ` +
            `(writeTimeout), closing`,
          { peer: session.channel.peer },
        );
        session.close("writeTimeout");
      } else if (
        this.#requestTicks > 0 && busy && now - session.requestSince >= this.#requestTicks
      ) {
        log.log(
          "warn",
          "PLUMB_TIMEOUT_REQUEST",
          `${session.channel.peer}: request took longer than ${this.#options.requestTimeout} s ` +
            `(requestTimeout), closing`,
          { peer: session.channel.peer },
        );
        session.timeOut(`request took longer than ${this.#options.requestTimeout} s`);
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
    for (const channel of this.#lingering) this.#cut(channel);
    for (const session of this.#open.keys()) if (session.idle) session.closeAfterReply();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([this.emptied(), grace]);
    clearTimeout(timer);
    for (const session of this.#open.keys()) session.close();
    const settled = new Promise<void>((resolve) => timer = setTimeout(resolve, 1000));
    await Promise.race([this.emptied(), settled]);
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
  pool.serve(channel);
  const served = pool.emptied();
  let closing: Promise<void> | undefined;
  return {
    url,
    get connections(): number {
      return pool.size;
    },
    stats: () => ({ ...pool.stats(), refused: {} }),
    done: served.then(() => pool.close(0)),
    close(graceMs = 5000): Promise<void> {
      return closing ??= pool.close(graceMs);
    },
  };
}
