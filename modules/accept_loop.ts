/**
 * A listener that accepts connections and serves each as a session: the
 * shared part of the `tcp`, `tls` and `unix` modules and of an adopted
 * listening socket.
 * @module
 */
import { type ByteChannel, writeAll } from "./channel.ts";
import { ConnectionLog, type ConnectionLogOptions } from "./connection_log.ts";
import {
  Admission,
  type ConnectionLimitOptions,
  type Refusal,
  type SourceRuleOptions,
} from "./listener_limits.ts";
import type { ListenContext, Listener, ListenerStats } from "./module.ts";
import {
  ProxiedChannel,
  type ProxyProtocolOptions,
  readProxyHeader,
  TrustedProxies,
} from "./proxy_protocol.ts";
import { type SessionHooks, SessionPool } from "./session_pool.ts";
import type { Session, SessionOptions } from "./session.ts";

/** A source of accepted connections. */
export interface Acceptor {
  /** The next connection; rejects once closed. */
  accept(): Promise<ByteChannel>;
  /** Stops accepting. */
  close(): void;
  /**
   * Turns an accepted connection that is to be served (or told its
   * `refuseMessage`) into the channel its session reads and writes: a TLS
   * listener starts the handshake here, after the access rules and limits
   * have let the connection in. Absent: served as accepted.
   */
  secure?(channel: ByteChannel): ByteChannel;
}

/**
 * A listener's limits, access rules, connection log and PROXY protocol
 * options; each absent one does not apply.
 */
export type ListenerPolicy = Partial<
  ConnectionLimitOptions & SourceRuleOptions & ConnectionLogOptions & ProxyProtocolOptions
>;

/** How long a refused connection's `refuseMessage` may take to write, in milliseconds. */
const REFUSE_WRITE_MS = 1000;

/**
 * Serves every connection an {@linkcode Acceptor} accepts, within the
 * listener's limits and access rules. With none of them, and connection
 * lines not logged, a connection costs the accept loop nothing more.
 */
export class AcceptingListener implements Listener {
  readonly url: string;
  readonly done: Promise<void>;
  readonly #acceptor: Acceptor;
  readonly #context: ListenContext;
  readonly #pool: SessionPool;
  readonly #accepting: Promise<void>;
  readonly #onClose: () => void;
  readonly #connectionLog: ConnectionLog;
  /** Checks each accepted connection; `undefined` when there is nothing to check. */
  readonly #admission: Admission | undefined;
  /** `maxConnections` when new connections wait for a free place. */
  readonly #waitAt: number | undefined;
  /** While full, connections with no reply this many milliseconds after they opened are closed. */
  readonly #evictAfterMs: number;
  readonly #refuseMessage: Uint8Array | undefined;
  /** Refused connections still being told `refuseMessage`. */
  readonly #refusing = new Set<Promise<void>>();
  /** The proxies trusted to send PROXY headers, when every connection must start with one. */
  readonly #proxies: TrustedProxies | undefined;
  /** Connections whose PROXY header is being read, each with the promise of its reading. */
  readonly #opening = new Map<ByteChannel, Promise<void>>();
  /** Wakes the accept loop waiting for a free place. */
  #vacancy: (() => void) | undefined;
  #finished: () => void = () => {};
  #closing: Promise<void> | undefined;
  /** Connections refused, by the option that refused them. */
  readonly #refused: Record<string, number> = {};

  /**
   * @param url where it listens, for the `listening on` line
   * @param acceptor the accepted connections
   * @param context the host's handler and log
   * @param options each session's options
   * @param ttl seconds an idle session is kept
   * @param onClose called once the listener has stopped (to remove a socket file, say)
   * @param policy limits, access rules and connection log options
   */
  constructor(
    url: string,
    acceptor: Acceptor,
    context: ListenContext,
    options: SessionOptions,
    ttl: number,
    onClose: () => void = () => {},
    policy: ListenerPolicy = {},
  ) {
    this.url = url;
    this.#acceptor = acceptor;
    this.#context = context;
    this.#onClose = onClose;
    this.#connectionLog = new ConnectionLog(url, context.log, policy);
    this.#admission = Admission.create(policy);
    this.#waitAt = policy.overflow === "refuse" ? undefined : policy.maxConnections;
    this.#evictAfterMs = (policy.evictAfter ?? 10) * 1000;
    this.#proxies = policy.proxyProtocol === undefined
      ? undefined
      : new TrustedProxies(policy.proxyProtocol);
    this.#refuseMessage = policy.refuseMessage
      ? new TextEncoder().encode(policy.refuseMessage)
      : undefined;
    const hooked = this.#connectionLog.enabled || this.#admission?.countsOpen ||
      this.#waitAt !== undefined;
    const hooks: SessionHooks = {
      started: (session, sessionContext) => this.#started(session, sessionContext),
      ended: (session, closing) => this.#ended(session, closing),
    };
    this.#pool = new SessionPool(context, options, ttl, hooked ? hooks : undefined);
    this.done = new Promise((resolve) => this.#finished = resolve);
    this.#accepting = this.#accept();
  }

  get connections(): number {
    return this.#pool.size;
  }

  stats(): ListenerStats {
    return { ...this.#pool.stats(), refused: { ...this.#refused } };
  }

  /** A session starts: it is served with the listener's context. */
  #started(_session: Session, context: ListenContext): ListenContext {
    return context;
  }

  /** A session has ended: its source and its place are free, and its line is logged. */
  #ended(session: Session, closing: boolean): void {
    if (this.#admission?.countsOpen) this.#admission.release(session.channel.address);
    this.#connectionLog.ended(session, closing);
    this.#wake();
  }

  /** Wakes the accept loop if it waits for a free place. */
  #wake(): void {
    const wake = this.#vacancy;
    this.#vacancy = undefined;
    wake?.();
  }

  /**
   * Resolves once fewer than `maxConnections` are open (or the listener
   * closes). Meanwhile the connections that have had no reply `evictAfter`
   * seconds after they opened are closed, a quarter of `evictAfter` apart at
   * most: they go first.
   */
  async #waitForVacancy(open: number, max: number): Promise<void> {
    this.#connectionLog.waiting(open, max);
    const vacancy = new Promise<void>((resolve) => this.#vacancy = resolve);
    const evict = (): void => {
      const closed = this.#pool.evictUnanswered(this.#evictAfterMs);
      if (closed > 0) {
        this.#context.log.log(
          "info",
          "PLUMB_CONN_EVICTED",
          `${this.url}: closed ${closed} ${closed === 1 ? "connection" : "connections"} with ` +
            `no reply after ${this.#evictAfterMs / 1000} s to make room (maxConnections ${max})`,
        );
      }
    };
    evict();
    const timer = setInterval(evict, Math.min(1000, Math.max(10, this.#evictAfterMs / 4)));
    try {
      await vacancy;
    } finally {
      clearInterval(timer);
    }
  }

  /** Closes a connection that is not served, after its `refuseMessage` if a limit refused it. */
  #refuse(accepted: ByteChannel, refusal: Refusal): void {
    this.#refused[refusal.rule] = (this.#refused[refusal.rule] ?? 0) + 1;
    this.#connectionLog.refused(accepted, refusal.end, refusal.reason);
    const message = this.#refuseMessage;
    if (message === undefined || refusal.end === "denied") return closeQuietly(accepted);
    // Over TLS, the message is told once the handshake is done.
    const channel = this.#acceptor.secure?.(accepted) ?? accepted;
    const close = (): void => closeQuietly(channel);
    // The message is short and the connection new: it fits the socket's buffer. A
    // peer that still does not take it is closed after REFUSE_WRITE_MS regardless.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = Promise.race([
      writeAll(channel, message).catch(() => {}),
      new Promise<void>((resolve) => timer = setTimeout(resolve, REFUSE_WRITE_MS)),
    ]).then(() => {
      clearTimeout(timer);
      close();
      this.#refusing.delete(done);
    });
    this.#refusing.add(done);
  }

  async #accept(): Promise<void> {
    let backoff = 0;
    for (;;) {
      const max = this.#waitAt;
      // Connections still sending their PROXY header count as open.
      if (max !== undefined && this.#pool.size + this.#opening.size >= max) {
        // Stop accepting: new connections wait in the kernel's backlog meanwhile.
        await this.#waitForVacancy(this.#pool.size + this.#opening.size, max);
        if (this.#pool.closing) return;
        continue;
      }
      let channel: ByteChannel;
      try {
        channel = await this.#acceptor.accept();
        backoff = 0;
      } catch (error) {
        if (this.#pool.closing) return;
        if (
          error instanceof Deno.errors.NotConnected ||
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.ConnectionAborted
        ) {
          // The client was gone before its connection was accepted (a load balancer's
          // health check that connects and resets): that connection's end, not the loop's.
          this.#context.log.log(
            "debug",
            "PLUMB_ACCEPT_GONE",
            `${this.url}: a connection ended before it was accepted: ${(error as Error).message}`,
          );
          continue;
        }
        // Out of file descriptors, say: wait before trying again (10 ms doubling
        // up to 1 s), and log once per wait rather than once per failure.
        backoff = Math.min(1000, backoff === 0 ? 10 : backoff * 2);
        this.#context.log.log(
          "error",
          "PLUMB_ACCEPT_FAILED",
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
      if (this.#proxies !== undefined) this.#unwrap(channel, this.#proxies);
      else this.#admit(channel);
    }
  }

  /**
   * Serves a connection the access rules and limits let in (by its peer's
   * address: the client's, after a PROXY header), or refuses it.
   */
  #admit(channel: ByteChannel): void {
    if (this.#admission !== undefined) {
      const refusal = this.#admission.admit(channel.address, this.#pool.size);
      if (refusal !== undefined) return this.#refuse(channel, refusal);
    }
    const served = this.#acceptor.secure?.(channel) ?? channel;
    this.#pool.serve(this.#connectionLog.enabled ? this.#connectionLog.watch(served) : served);
  }

  /**
   * Reads the PROXY header of a connection from a trusted proxy, without
   * holding up the accept loop, then admits the connection as the client's;
   * closes it, with a log line, when it comes from elsewhere or its header
   * is wrong.
   */
  #unwrap(channel: ByteChannel, proxies: TrustedProxies): void {
    const untrusted = proxies.untrusted(channel.address);
    if (untrusted !== undefined) {
      this.#connectionLog.rejected(channel, "PLUMB_PROXY_UNTRUSTED", untrusted);
      return closeQuietly(channel);
    }
    const opening = readProxyHeader(channel).then((result) => {
      this.#opening.delete(channel);
      if (!(result instanceof ProxiedChannel)) {
        this.#connectionLog.rejected(channel, result.code, result.reason, result.quiet);
        closeQuietly(channel);
      } else if (this.#pool.closing) closeQuietly(channel);
      else this.#admit(result);
      this.#wake();
    });
    this.#opening.set(channel, opening);
  }

  close(graceMs = 5000): Promise<void> {
    return this.#closing ??= (async () => {
      const pool = this.#pool.close(graceMs);
      this.#acceptor.close();
      this.#vacancy?.();
      await this.#accepting;
      const opening = [...this.#opening.values()];
      for (const channel of this.#opening.keys()) closeQuietly(channel);
      await Promise.all(opening);
      await pool;
      await Promise.all(this.#refusing);
      this.#connectionLog.flush();
      this.#onClose();
      this.#finished();
    })();
  }
}

/** Closes a channel that may be closed already. */
function closeQuietly(channel: ByteChannel): void {
  try {
    channel.close();
  } catch {
    // Already gone.
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
