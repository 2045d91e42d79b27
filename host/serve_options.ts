/**
 * The options of {@linkcode serve}, {@linkcode checkGraph}, `Host.load` and
 * the CLI's overrides, in one place.
 * @module
 */
import type { LogFormat, Logger, LogLevel } from "../kernel/log.ts";
import type { IoModule } from "../modules/module.ts";
import type { StoreBackend } from "../kernel/store.ts";
import type { SessionListenerOptions } from "../modules/session_options.ts";

/** Where the admin listener (`--admin`) serves the page, `/metrics` and `/health`. */
export interface AdminOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /**
   * Allow an address that is not a loopback one (`--admin-public`): the page
   * shows the graph, its servlets' arguments and their errors to whoever can
   * reach it. Default false.
   */
  public?: boolean;
}

/** Options of `serve`, `Host.start` and `checkGraph`. */
export interface ServeOptions {
  /** Overrides the `host` option of the first listener. */
  host?: string;
  /** Overrides the `port` option of the first listener (0 = any free port). */
  port?: number;
  /** The most verbose log level written. Default `info`. */
  logLevel?: LogLevel;
  /**
   * How log lines are written: `text` (`plumb LEVEL: CODE message`, the
   * default) or `json` (one object a line: `time`, `level`, `code`, `node`,
   * `peer`, `message`). Every line of the host, connection lines included.
   */
  logFormat?: LogFormat;
  /** Where log lines go; default standard error at `logLevel`, as `logFormat` says. */
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
   * of) the built-in `tcp`, `tls`, `unix`, `stdio`, `file` and `nats`. (To run a graph in
   * memory, with no listener at all, use `Host.load`.)
   */
  modules?: Readonly<Record<string, IoModule<unknown>>>;
  /**
   * Where the buckets of `env.store` live (`--store`). Default: a back end in
   * this process that the host makes, shared by every node of the host, kept
   * across reloads and closed when the host stops. A back end given here is
   * the caller's: the host never closes it, so several hosts (or one host
   * started again) may share it; close it once they have stopped.
   */
  store?: StoreBackend;
  /**
   * Serve the admin page, `/metrics` (Prometheus) and `/health` on this
   * address, in the same process and outside the graph's limits (`--admin`).
   * Implies `metrics`.
   */
  admin?: AdminOptions;
  /**
   * Count requests, failures and exec times per node and bytes per edge, for
   * `Host.metrics()` (`--workers`' workers do, for the supervisor's admin
   * listener). Off by default: a host not counting does no extra work per request.
   */
  metrics?: boolean;
}

/** Options of `Host.load`, which serves a graph in memory only: no listener, no socket. */
export interface LoadOptions extends
  Pick<
    ServeOptions,
    "logLevel" | "logFormat" | "logger" | "base" | "idleExitMs" | "metrics" | "store"
  > {
  /**
   * Session options of the in-memory connections (`ttl`, `maxMessageSize`,
   * `open`, `requestTimeout`, `writeTimeout`, `errorReply`, `onError`), over those of the
   * graph's first listener (so a graph whose listener says `"open": true`
   * greets each connection).
   */
  session?: Partial<SessionListenerOptions>;
}
