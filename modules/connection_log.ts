/**
 * Connection logging, after xinetd's `log_on_success`/`log_on_failure`: one
 * line per connection when it ends, with the peer, how long it lasted, its
 * requests, the bytes each way and how it ended; a refused or denied
 * connection gets a line naming the rule. As text, or as JSON lines.
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import {
  formatLogLine,
  LOG_LEVELS,
  type LogContext,
  type Logger,
  type LogLevel,
} from "../kernel/log.ts";
import { type ByteChannel, isGone, lingerOrClose } from "./channel.ts";
import type { OptionsOf, OptionSpecs } from "./options.ts";
import type { Session } from "./session.ts";

/** How a listener writes its connection lines, declared. */
export const CONNECTION_LOG_OPTIONS = {
  log: {
    type: "string",
    values: LOG_LEVELS,
    default: "debug",
    what: "the level of the line logged as each connection ends",
    doc: "Level of the line logged as each connection ends (peer, duration, requests, bytes " +
      "in and out, how it ended). Refused and denied connections are logged at info, or at " +
      "this level if more severe.",
  },
  logFormat: {
    type: "string",
    values: ["text", "json"],
    default: "text",
    what: "connection lines as text or as JSON lines",
    doc: "Connection lines as text, or as JSON lines (one object per line, without the " +
      "plumb prefix). A host started with --log-format json writes every line as JSON.",
  },
} as const satisfies OptionSpecs;

/** How a listener writes its connection lines, parsed (see {@linkcode CONNECTION_LOG_OPTIONS}). */
export type ConnectionLogOptions = OptionsOf<typeof CONNECTION_LOG_OPTIONS>;

/**
 * How a connection ended: the peer closed it, the server did (`PERSIST` off),
 * it was idle past the `ttl`, a time limit cut it (`timeout`), a request
 * failed (`error`), the host stopped (`shutdown`), or it was never served:
 * `denied` by the access rules, refused by a `limit`, or rejected for its
 * PROXY header (`proxy`: from a proxy not trusted, a header malformed,
 * missing or late).
 */
export type ConnectionEnd =
  | "peer"
  | "server"
  | "ttl"
  | "timeout"
  | "error"
  | "shutdown"
  | "denied"
  | "limit"
  | "proxy";

const ENDED: Record<ConnectionEnd, string> = {
  peer: "closed by peer",
  server: "closed by server",
  ttl: "idle (ttl)",
  timeout: "timed out",
  error: "request failed",
  shutdown: "host stopping",
  denied: "denied",
  limit: "refused",
  proxy: "rejected",
};

/** ` via PROXY` for a connection a PROXY header named the client of, else `""`. */
function via(channel: ByteChannel): string {
  return channel.via === undefined ? "" : ` via ${channel.via}`;
}

/**
 * A channel that notes how it ended: whether the peer closed it (end of
 * input, a reset) or it failed, as opposed to being closed by the server.
 */
export class WatchedChannel implements ByteChannel {
  readonly peer: string;
  readonly address: string | undefined;
  readonly via: string | undefined;
  readonly proxyLocal: boolean | undefined;
  readonly #inner: ByteChannel;
  /** The peer closed its side or reset the connection. */
  peerClosed = false;
  /** A read or write failed other than by the peer going. */
  failed = false;
  /** The server closed the channel. */
  closedHere = false;

  /** @param inner the channel watched */
  constructor(inner: ByteChannel) {
    this.#inner = inner;
    this.peer = inner.peer;
    this.address = inner.address;
    this.via = inner.via;
    this.proxyLocal = inner.proxyLocal;
  }

  /** The module's `cntl` answers, asked of the channel watched when asked for (after a TLS handshake). */
  get module(): Readonly<Record<string, unknown>> | undefined {
    return this.#inner.module;
  }

  #failure(error: unknown): never {
    if (!this.closedHere) {
      if (isGone(error)) this.peerClosed = true;
      else this.failed = true;
    }
    throw error;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    let n: number | null;
    try {
      n = await this.#inner.read(buffer);
    } catch (error) {
      this.#failure(error);
    }
    if (n === null && !this.closedHere) this.peerClosed = true;
    return n;
  }

  async write(data: Uint8Array): Promise<number> {
    try {
      return await this.#inner.write(data);
    } catch (error) {
      this.#failure(error);
    }
  }

  linger(): Promise<void> {
    this.closedHere = true;
    return lingerOrClose(this.#inner);
  }

  close(): void {
    this.closedHere = true;
    this.#inner.close();
  }
}

/** Lines about refused and denied connections written at most per second; then they are counted. */
export const FAILURE_LINES_PER_SECOND = 100;

/** The connection lines of one listener. */
export class ConnectionLog {
  readonly #url: string;
  readonly #log: Logger;
  readonly #level: LogLevel;
  readonly #failureLevel: LogLevel;
  /** Lines are written as JSON though the host's log is text (`logFormat: "json"`). */
  readonly #json: boolean;
  /** True when a line is written as each connection ends (the level is logged). */
  readonly enabled: boolean;
  #window = 0;
  #inWindow = 0;
  #suppressed = 0;
  #lastWait = -Infinity;

  /**
   * @param url the listener, for the lines
   * @param log the host's log
   * @param options level and format (defaults as {@linkcode CONNECTION_LOG_OPTIONS} declares)
   */
  constructor(url: string, log: Logger, options: Partial<ConnectionLogOptions> = {}) {
    this.#url = url;
    this.#log = log;
    this.#level = options.log ?? CONNECTION_LOG_OPTIONS.log.default;
    this.#failureLevel = LOG_LEVELS.indexOf(this.#level) < LOG_LEVELS.indexOf("info")
      ? this.#level
      : "info";
    this.#json = options.logFormat === "json" && log.format !== "json";
    this.enabled = log.enabled(this.#level);
  }

  /** Wraps a new connection's channel to see how it ends (only when {@linkcode enabled}). */
  watch(channel: ByteChannel): WatchedChannel {
    return new WatchedChannel(channel);
  }

  /** Writes the line of a session that has ended; `closing` when the listener was stopping. */
  ended(session: Session, closing: boolean): void {
    const channel = session.channel;
    if (!this.enabled || !(channel instanceof WatchedChannel)) return;
    const because = session.closedBecause;
    const end: ConnectionEnd = because === "ttl"
      ? "ttl"
      : because !== undefined
      ? "timeout"
      : channel.failed || session.closedOnFailure
      ? "error"
      : channel.peerClosed
      ? "peer"
      : closing
      ? "shutdown"
      : "server";
    const seconds = (performance.now() - session.startedAt) / 1000;
    const { requests, bytesIn, bytesOut } = session;
    // A proxy's own connection (a health check) is not a client's: a debug line.
    const level = channel.proxyLocal ? "debug" : this.#level;
    if (!this.#log.enabled(level)) return;
    const how = end === "timeout" ? `timed out (${because})` : ENDED[end];
    this.#write(
      level,
      "PLUMB_CONN_ENDED",
      `connection from ${channel.peer}${via(channel)} to ${this.#url} ended: ${how} after ${
        seconds.toFixed(3)
      } s, ${requests} ${requests === 1 ? "request" : "requests"}, ${bytesIn} bytes in, ` +
        `${bytesOut} bytes out`,
      {
        peer: channel.peer,
        fields: {
          listener: this.#url,
          ...(channel.via === undefined ? {} : { via: channel.via }),
          end,
          ...(end === "timeout" ? { reason: because ?? null } : {}),
          seconds: Number(seconds.toFixed(3)),
          requests,
          bytesIn,
          bytesOut,
        },
      },
    );
  }

  /** Writes the line of a connection that is not served: denied, or refused by a limit. */
  refused(channel: ByteChannel, end: "denied" | "limit", reason: string): void {
    this.#notServed(
      channel,
      end,
      end === "denied" ? "PLUMB_CONN_DENIED" : "PLUMB_CONN_REFUSED",
      reason,
    );
  }

  /**
   * Writes the line of a connection rejected for its PROXY header, under
   * `code`; a `quiet` one (closed before sending anything, as a balancer's
   * health check does) at `debug`.
   */
  rejected(channel: ByteChannel, code: Code, reason: string, quiet = false): void {
    this.#notServed(channel, "proxy", code, reason, quiet ? "debug" : undefined);
  }

  #notServed(
    channel: ByteChannel,
    end: "denied" | "limit" | "proxy",
    code: Code,
    reason: string,
    at?: LogLevel,
  ): void {
    const level = at ?? this.#failureLevel;
    if (!this.#log.enabled(level) || !this.#withinBudget()) return;
    this.#write(
      level,
      code,
      `connection from ${channel.peer}${via(channel)} to ${this.#url} ${ENDED[end]}: ${reason}`,
      {
        peer: channel.peer,
        fields: {
          listener: this.#url,
          ...(channel.via === undefined ? {} : { via: channel.via }),
          end,
          reason,
          seconds: 0,
          requests: 0,
          bytesIn: 0,
          bytesOut: 0,
        },
      },
    );
  }

  /**
   * Says that the listener stopped accepting because `open` connections are
   * open, the most `maxConnections` (`max`) allows (at most once in 10 s).
   */
  waiting(open: number, max: number): void {
    const now = performance.now();
    if (now - this.#lastWait < 10_000) return;
    this.#lastWait = now;
    this.#log.log(
      "info",
      "PLUMB_CONN_WAITING",
      `${this.#url}: ${open} ${open === 1 ? "connection" : "connections"} open ` +
        `(maxConnections ${max}); ` +
        `new connections wait until one closes`,
    );
  }

  /** Writes the count of failure lines left out, if any (when the listener stops). */
  flush(): void {
    if (this.#suppressed === 0) return;
    this.#log.log(
      this.#failureLevel,
      "PLUMB_CONN_NOT_LOGGED",
      `${this.#url}: ${this.#suppressed} more refused or denied connections not logged ` +
        `(over ${FAILURE_LINES_PER_SECOND} lines a second)`,
    );
    this.#suppressed = 0;
  }

  /** True when one more failure line fits this second's budget; counts it if not. */
  #withinBudget(): boolean {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#window) {
      this.flush();
      this.#window = second;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= FAILURE_LINES_PER_SECOND) {
      this.#suppressed++;
      return false;
    }
    this.#inWindow++;
    return true;
  }

  /**
   * Writes a connection line: through the host's log, or, for a listener
   * that asks for JSON on a host that writes text, as a JSON line of its own.
   */
  #write(level: LogLevel, code: Code, message: string, context: LogContext): void {
    if (!this.#json) return this.#log.log(level, code, message, context);
    const line = formatLogLine("json", level, code, message, context);
    if (this.#log.write !== undefined) this.#log.write(level, line);
    else this.#log.log(level, code, line);
  }
}
