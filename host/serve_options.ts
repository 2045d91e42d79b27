/**
 * The options of {@linkcode serve}, {@linkcode checkGraph}, `Host.load` and
 * the CLI's overrides, in one place.
 * @module
 */
import type { Logger, LogLevel } from "../kernel/log.ts";
import type { IoModule } from "../modules/module.ts";
import type { SessionListenerOptions } from "../modules/session_options.ts";

/** Options of `serve`, `Host.start` and `checkGraph`. */
export interface ServeOptions {
  /** Overrides the `host` option of the first listener. */
  host?: string;
  /** Overrides the `port` option of the first listener (0 = any free port). */
  port?: number;
  /** The most verbose log level written. Default `info`. */
  logLevel?: LogLevel;
  /** Where log lines go; default standard error at `logLevel`. */
  logger?: Logger;
  /**
   * For a graph given as an object: the URL that relative servlet paths
   * resolve against. Default: the current directory.
   */
  base?: URL;
  /**
   * Serve standard input and output as one connection instead of the graph's
   * listeners (a terminal, or inetd/xinetd/tcpserver "nowait"). The first
   * listener's session options (`ttl`, `maxMessageSize`, `open`,
   * `requestTimeout`, `writeTimeout`, `errorReply`, `onError`) carry over.
   */
  stdio?: boolean;
  /**
   * Adopt the inherited listening socket on this descriptor for the first
   * (`tcp`) listener: 3 under systemd socket activation, 0 under inetd "wait".
   */
  listenFd?: number;
  /**
   * Stop after this many milliseconds with no open connection (the article's
   * inetd "wait" server with an idle timeout). Open sessions are never cut.
   */
  idleExitMs?: number;
  /**
   * Listen on every `tcp` listener with `reusePort` (`SO_REUSEPORT`), so that
   * other hosts can share the ports: how `--workers` runs one host per
   * worker. Needs `deno run --unstable-net`.
   */
  reusePort?: boolean;
  /**
   * Port of each listener, by position, overriding the graph's (and `port`):
   * `--workers` starts its first worker, then gives the others the ports it
   * got, as its `Host.urls` report them.
   */
  ports?: readonly number[];
  /**
   * I/O modules of your own, by the name a listener uses, beside (or instead
   * of) the built-in `tcp`, `unix`, `stdio` and `file`. (To run a graph in
   * memory, with no listener at all, use `Host.load`.)
   */
  modules?: Readonly<Record<string, IoModule<unknown>>>;
}

/** Options of `Host.load`, which serves a graph in memory only: no listener, no socket. */
export interface LoadOptions
  extends Pick<ServeOptions, "logLevel" | "logger" | "base" | "idleExitMs"> {
  /**
   * Session options of the in-memory connections (`ttl`, `maxMessageSize`,
   * `open`, `requestTimeout`, `writeTimeout`, `errorReply`, `onError`), over those of the
   * graph's first listener (so a graph whose listener says `"open": true`
   * greets each connection).
   */
  session?: Partial<SessionListenerOptions>;
}
