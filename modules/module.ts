/**
 * The interface between the kernel and an I/O module: a module turns outside
 * events into requests, giving the kernel an input/output companion pair for
 * each one.
 * @module
 */
import type { Logger } from "../kernel/log.ts";
import type { RequestEvent } from "../kernel/servlet.ts";
import type { RequestHandler, RequestInfo } from "../kernel/request.ts";
import type { OptionsOf, OptionSpecs } from "./options.ts";
export type { RequestEvent, RequestHandler, RequestInfo };

/** What a module's listener gets from the host. */
export interface ListenContext {
  /** Runs a request. */
  readonly handle: RequestHandler;
  /** The host's log. */
  readonly log: Logger;
  /** The graph file's URL: relative paths in options resolve against it. */
  readonly base: URL;
  /** Told when a connection opens (+1) or closes (-1), for the host's idle exit. */
  readonly connections: (change: 1 | -1) => void;
  /**
   * Pins a new connection to the graph served now, so that a reload of the
   * host's graph does not change it mid-conversation: the connection's
   * requests go to the returned `handle` (not to {@linkcode ListenContext.handle},
   * which always runs the newest graph), and it calls `release` once it has
   * ended, after which an older graph's nodes may be unloaded.
   */
  readonly pin?: () => PinnedGraph;
}

/** A connection's hold on the graph that was served when it opened. */
export interface PinnedGraph {
  /** Runs a request through that graph. */
  readonly handle: RequestHandler;
  /** The connection has ended; calls after the first do nothing. */
  release(): void;
}

/** What a listener has counted since it started, for the host's metrics (`--admin`). */
export interface ListenerStats {
  /** Connections accepted and served. */
  readonly accepted: number;
  /**
   * Connections accepted and closed unserved, by the option that refused
   * them: `allow`, `deny`, `maxConnections`, `maxPerSource`, `maxRatePerSource`.
   */
  readonly refused: Readonly<Record<string, number>>;
  /** Bytes read from its connections, open and ended. */
  readonly bytesIn: number;
  /** Bytes written to its connections, open and ended. */
  readonly bytesOut: number;
}

/** A running listener. */
export interface Listener {
  /** Where it listens, for example `tcp://127.0.0.1:12345`. */
  readonly url: string;
  /** Open connections (or other resources) right now. */
  readonly connections: number;
  /** What it has counted so far; a listener that counts nothing leaves it out. */
  stats?(): ListenerStats;
  /**
   * Stops accepting, closes idle resources, lets requests in flight finish for
   * up to `graceMs`, then closes the rest.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Resolves when the listener will serve nothing more: once closed, or when
   * a finite source (standard input, an input file) is used up.
   */
  readonly done: Promise<void>;
  /**
   * Reads again what the listener read from files when it started (a `tls`
   * listener's certificate and key), as a reload of the host asks; logs what
   * it did, and keeps what it had when the files are bad. Never rejects.
   * Absent: nothing to read again.
   */
  reload?(): Promise<void>;
}

/** An I/O module: validates its options and starts listeners. */
export interface IoModule<O> {
  /** The name a graph's listener uses, for example `tcp`. */
  readonly name: string;
  /**
   * The module's options, declared (`{...} as const satisfies OptionSpecs`),
   * when it declares them: a built-in module's part of `graph.schema.json` is
   * made from it, and its table in the docs is checked against it.
   */
  readonly options?: OptionSpecs;
  /**
   * Checks a listener's options; throws a `GraphError` naming `where` and the option.
   * @param where for messages, for example `graph.json: listener 1 (tcp)`
   */
  parseOptions(options: Record<string, unknown>, where: string): O;
  /** Starts listening. */
  listen(options: O, context: ListenContext): Promise<Listener>;
}

/**
 * A module whose options are declared as `D`: it parses them with
 * `parseOptions(D, ...)` and listens with what that returns.
 */
export interface DeclaredModule<D extends OptionSpecs> extends IoModule<OptionsOf<D>> {
  /** The module's options, declared. */
  readonly options: D;
}
