/**
 * Reloading a served graph without stopping (what `SIGHUP` asks of the CLI):
 * the generations of a host's graph. Each connection is pinned to the
 * generation that was served when it opened; a reload makes a new generation
 * current for new connections, and an older one's nodes are unloaded once its
 * last connection has ended.
 * @module
 */
import { type LoadedNode, unloadNodes } from "../kernel/loader.ts";
import type { PinnedGraph, RequestHandler } from "../modules/module.ts";
import type { Code } from "../kernel/codes.ts";
import { lineOf, toPlumbError } from "../kernel/errors.ts";
import type { CheckedGraph } from "./load.ts";

/** What {@linkcode Host.reload} did. */
export interface ReloadResult {
  /**
   * True when new connections now get the re-read graph; false when it could
   * not be loaded or checked (or the host is closing) and the old one is kept.
   */
  readonly reloaded: boolean;
  /** One line saying what happened, as the host logged it (after the line's code). */
  readonly message: string;
  /**
   * Why nothing was reloaded: the message `--check` would print for the new
   * graph (undefined when `reloaded`).
   */
  readonly reason?: string;
  /**
   * The listeners of the re-read graph differ from those served (module,
   * address, port or session options). Listening sockets are never reopened
   * by a reload: the old ones are kept, and the change needs a restart.
   */
  readonly listenersChanged: boolean;
  /** The nodes or edges of the re-read graph differ from those served before. */
  readonly graphChanged: boolean;
  /** Open connections still served by earlier graphs; those finish on them. */
  readonly draining: number;
  /** The graph new connections get now: the new one when `reloaded`, else the one kept. */
  readonly graph: CheckedGraph;
}

/** A listener of a loaded graph, as far as comparing them needs. */
export interface ListenerShape {
  /** The module. */
  readonly module: { readonly name: string };
  /** Its parsed options. */
  readonly options: unknown;
}

/**
 * Says how the listeners of a re-read graph differ from those served, one
 * clause per difference (`listener 1 (tcp): port 12000 -> 12001`), or
 * undefined when they are the same.
 */
export function listenerChanges(
  served: readonly ListenerShape[],
  next: readonly ListenerShape[],
): string | undefined {
  const changes: string[] = [];
  for (let i = 0; i < Math.max(served.length, next.length); i++) {
    const [a, b] = [served[i], next[i]];
    if (b === undefined) changes.push(`listener ${i + 1} (${a.module.name}) removed`);
    else if (a === undefined) changes.push(`listener ${i + 1} (${b.module.name}) added`);
    else if (a.module.name !== b.module.name) {
      changes.push(`listener ${i + 1}: module ${a.module.name} -> ${b.module.name}`);
    } else {
      const [before, after] = [asRecord(a.options), asRecord(b.options)];
      const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
      const differ = keys.filter((k) => show(before[k]) !== show(after[k]));
      if (differ.length > 0) {
        changes.push(
          `listener ${i + 1} (${a.module.name}): ` +
            differ.map((k) => `${k} ${show(before[k])} -> ${show(after[k])}`).join(", "),
        );
      }
    }
  }
  return changes.length === 0 ? undefined : changes.join("; ");
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? value as Record<string, unknown> : {};
}

function show(value: unknown): string {
  return value === undefined ? "(none)" : JSON.stringify(value);
}

/**
 * The one line `--check` prints for a graph that cannot be served (without
 * its `plumb: ` prefix), code first: a plumb error's own message, a missing
 * permission with the flag to add, anything else named as unexpected.
 */
export function failureReason(error: unknown): string {
  return lineOf(toPlumbError(error));
}

/**
 * One connection's pin of a generation: a small object, not a closure, as
 * every open connection holds one.
 */
class Pin implements PinnedGraph {
  readonly handle: RequestHandler;
  #generation: Generation | undefined;

  constructor(generation: Generation) {
    this.handle = generation.handle;
    this.#generation = generation;
  }

  release(): void {
    const generation = this.#generation;
    this.#generation = undefined;
    generation?.unpin();
  }
}

/** One loaded graph, and the connections pinned to it. */
export class Generation {
  /** 1 for the graph served at start, then one more per reload. */
  readonly number: number;
  /** Runs a request through this generation's graph. */
  readonly handle: RequestHandler;
  readonly #nodes: readonly LoadedNode[];
  readonly #report: (code: Code, message: string, node: string) => void;
  #pinned = 0;
  #retired = false;
  #unloading: Promise<void> | undefined;
  #onDrained: () => void = () => {};
  #retiredDone: () => void = () => {};

  /**
   * @param number the generation's number, for logs
   * @param nodes its loaded nodes, unloaded once it is retired and unused
   * @param handle runs a request through its graph
   * @param report where unload failures go (with the node that failed)
   */
  constructor(
    number: number,
    nodes: readonly LoadedNode[],
    handle: RequestHandler,
    report: (code: Code, message: string, node: string) => void,
  ) {
    this.number = number;
    this.#nodes = nodes;
    this.handle = handle;
    this.#report = report;
  }

  /** Connections pinned to this generation now. */
  get pinned(): number {
    return this.#pinned;
  }

  /** Pins a new connection to this generation, until it calls `release`. */
  pin(): PinnedGraph {
    this.#pinned++;
    return new Pin(this);
  }

  /** A pin was released. */
  unpin(): void {
    this.#pinned--;
    this.#drained();
  }

  /**
   * No new connection will get this generation: unloads its nodes now if no
   * connection holds it, else once the last one ends.
   * @param onDrained called when its last connection has ended (or at once
   *   when none holds it), just before its nodes are unloaded
   * @returns resolves once its nodes are unloaded
   */
  retire(onDrained: () => void): Promise<void> {
    this.#retired = true;
    this.#onDrained = onDrained;
    const done = new Promise<void>((resolve) => this.#retiredDone = resolve);
    this.#drained();
    return done;
  }

  #drained(): void {
    if (!this.#retired || this.#pinned > 0) return;
    if (this.#unloading === undefined) this.#onDrained();
    this.unload().then(this.#retiredDone);
  }

  /** Unloads its nodes, once; later calls return the same promise. */
  unload(): Promise<void> {
    return this.#unloading ??= unloadNodes(this.#nodes, this.#report);
  }
}
