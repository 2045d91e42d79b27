/**
 * What a host counts when it is watched (`--admin`): per node, the requests
 * it ran, the ones it failed, a histogram of its exec times (sampled under
 * load) and its recent errors; per edge, the bytes its pipes carried and the most they queued;
 * the reloads. Counting is switched on by decorating a generation's plan
 * ({@linkcode HostMetrics.observe}): a host that is not watched runs the
 * plan as compiled, and its scheduler does no extra work.
 * @module
 */
import { MemPipe, type MemPipeOptions } from "../kernel/mem_pipe.ts";
import type { Chunk } from "../kernel/mem_pipe.ts";
import { SIGNAL_PORTS } from "../kernel/loader.ts";
import type { Plan, PlanNode } from "../kernel/plan.ts";
import { describeError, UpstreamError } from "../kernel/scheduler.ts";
import type { Servlet, Task } from "../kernel/servlet.ts";
import type { Listener } from "../modules/module.ts";

/** Upper bounds of the exec time histogram's buckets, in seconds (then `+Inf`). */
export const EXEC_BUCKETS: readonly number[] = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Recent errors kept per node. */
export const RECENT_ERRORS = 10;

/**
 * Execs a second above which a node's execs are sampled for their time:
 * reading the clock twice costs about as much as hello's exec itself.
 */
export const TIME_EVERY_BELOW = 1000;
/** Under load, one exec in this many is timed (a power of two). */
export const SAMPLE_EVERY = 8;

/** One failure of a node, as the admin page lists it. */
export interface NodeError {
  /** When, as an ISO 8601 time. */
  readonly time: string;
  /** What the exec threw, in one line. */
  readonly message: string;
}

/** What one node has counted since the host started (over every generation of the graph). */
export interface NodeMetrics {
  /** The node's name. */
  readonly name: string;
  /** Execs run (a node that a request never reached does not count). */
  readonly requests: number;
  /** Execs that failed by themselves (not because a node before them failed). */
  readonly failures: number;
  /**
   * Execs timed: every exec while the node runs fewer than
   * {@linkcode TIME_EVERY_BELOW} a second, one in {@linkcode SAMPLE_EVERY} above.
   */
  readonly timed: number;
  /** Timed execs per bucket of {@linkcode EXEC_BUCKETS}, not cumulative; the last is over the last bound. */
  readonly buckets: readonly number[];
  /** The sum of the timed execs' times, in seconds. */
  readonly seconds: number;
  /** The last {@linkcode RECENT_ERRORS} failures, oldest first. */
  readonly errors: readonly NodeError[];
}

/** What one edge has carried since the host started. */
export interface EdgeMetrics {
  /** The producing port, `node.port`. */
  readonly from: string;
  /** The consuming port, `node.port`. */
  readonly to: string;
  /**
   * Bytes written into its pipes: text counts its UTF-16 length, and a value
   * what it counts against the pipe's bound (256), not its encoded length.
   */
  readonly bytes: number;
  /** Writes into its pipes: chunks of bytes or text, or values. */
  readonly writes: number;
  /** The most any one of its pipes held queued at once, in bytes: its high-water mark. */
  readonly peak: number;
}

/** What one listener has counted. */
export interface ListenerMetrics {
  /** Where it listens, as `Host.urls` says it. */
  readonly url: string;
  /** Connections open now. */
  readonly open: number;
  /** Connections accepted and served. */
  readonly accepted: number;
  /** Connections refused, by the option that refused them. */
  readonly refused: Readonly<Record<string, number>>;
  /** Bytes read from its connections. */
  readonly bytesIn: number;
  /** Bytes written to its connections. */
  readonly bytesOut: number;
}

/** Everything a host has counted, at one moment: plain data (it crosses from a worker as is). */
export interface MetricsSnapshot {
  /** When, in milliseconds since the epoch. */
  readonly time: number;
  /** The graph's generation: 1, then one more per reload. */
  readonly generation: number;
  /** Each listener, in the graph's order. */
  readonly listeners: readonly ListenerMetrics[];
  /** Each node seen since the host started, over every generation of the graph. */
  readonly nodes: readonly NodeMetrics[];
  /** Each edge seen since the host started. */
  readonly edges: readonly EdgeMetrics[];
  /** Reloads that replaced the graph, and reloads that kept the old one. */
  readonly reloads: { readonly ok: number; readonly failed: number };
}

/** A node's counters. */
class NodeCounters {
  readonly name: string;
  requests = 0;
  failures = 0;
  timed = 0;
  seconds = 0;
  readonly buckets: number[] = new Array(EXEC_BUCKETS.length + 1).fill(0);
  readonly errors: NodeError[] = [];
  /** An exec is timed when `requests & mask` is 0: every one, or one in {@linkcode SAMPLE_EVERY}. */
  mask = 0;
  /** Since when, and from which request count, the rate that sets `mask` is measured. */
  #windowStart = performance.now();
  #windowRequests = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** A timed exec, started at `started` (`performance.now()`), has ended. */
  done(started: number): void {
    const now = performance.now();
    const seconds = (now - started) / 1000;
    this.timed++;
    this.seconds += seconds;
    let bucket = 0;
    while (bucket < EXEC_BUCKETS.length && seconds > EXEC_BUCKETS[bucket]) bucket++;
    this.buckets[bucket]++;
    if (now - this.#windowStart >= 1000) {
      const rate = (this.requests - this.#windowRequests) * 1000 / (now - this.#windowStart);
      this.mask = rate >= TIME_EVERY_BELOW ? SAMPLE_EVERY - 1 : 0;
      this.#windowStart = now;
      this.#windowRequests = this.requests;
    }
  }

  /** An exec failed (told by the scheduler's failure report). */
  failed(error: unknown): void {
    if (error instanceof UpstreamError) return;
    this.failures++;
    if (this.errors.length === RECENT_ERRORS) this.errors.shift();
    this.errors.push({ time: new Date().toISOString(), message: describeError(error) });
  }

  snapshot(): NodeMetrics {
    const { name, requests, failures, timed, seconds } = this;
    return {
      name,
      requests,
      failures,
      timed,
      seconds,
      buckets: [...this.buckets],
      errors: [...this.errors],
    };
  }
}

/** An edge's counters. */
class EdgeCounters {
  readonly from: string;
  readonly to: string;
  bytes = 0;
  writes = 0;
  peak = 0;

  constructor(from: string, to: string) {
    this.from = from;
    this.to = to;
  }

  snapshot(): EdgeMetrics {
    const { from, to, bytes, writes, peak } = this;
    return { from, to, bytes, writes, peak };
  }
}

/** A mem pipe that adds what is written into it to its edge's counters. */
class CountingMemPipe extends MemPipe {
  readonly #counters: EdgeCounters;

  constructor(options: MemPipeOptions, counters: EdgeCounters) {
    super(options);
    this.#counters = counters;
  }

  override push(chunk: Chunk): Promise<void> {
    const done = super.push(chunk);
    const counters = this.#counters;
    counters.bytes += chunk.length;
    counters.writes++;
    if (this.queued > counters.peak) counters.peak = this.queued;
    return done;
  }
}

/**
 * The servlet of a node, counted: each exec adds to `counters.requests`, and
 * the ones its mask picks are timed. An untimed exec costs an addition and a
 * test: the exec's own promise is returned as it is.
 */
function counted(servlet: Servlet<unknown>, counters: NodeCounters): Servlet<unknown> {
  const exec = servlet.exec;
  const done = (started: number): void => counters.done(started);
  return Object.create(servlet, {
    exec: {
      value(ctx: unknown, task: Task): void | Promise<void> {
        if ((counters.requests++ & counters.mask) !== 0) return exec.call(servlet, ctx, task);
        const started = performance.now();
        const running = exec.call(servlet, ctx, task);
        if (!(running instanceof Promise)) return done(started);
        return running.then(() => done(started), (error) => {
          done(started);
          throw error;
        });
      },
    },
  });
}

/** `node.port` of a node's slot (a declared port or a signal output). */
export function slotName(node: PlanNode, slot: number): string {
  const port = slot < node.ports.length
    ? node.ports[slot].name
    : SIGNAL_PORTS[slot - node.ports.length];
  return `${node.name}.${port}`;
}

/**
 * A host's counters, kept by node name and edge across reloads, so that
 * every counter only grows.
 *
 * @example
 * ```ts
 * import { serve } from "@plumb/plumb/host";
 * import { assertEquals } from "@std/assert";
 * const host = await serve("examples/hello.json", { port: 0, logLevel: "error", metrics: true });
 * const conn = await Deno.connect({ port: Number(new URL(host.urls[0]).port) });
 * await conn.write(new TextEncoder().encode("Plumber\n"));
 * await conn.read(new Uint8Array(64));
 * conn.close();
 * assertEquals(host.metrics()?.nodes.map((n) => [n.name, n.requests]), [["greet", 1]]);
 * await host.close();
 * ```
 */
export class HostMetrics {
  readonly #nodes = new Map<string, NodeCounters>();
  readonly #edges = new Map<string, EdgeCounters>();
  #reloadsOk = 0;
  #reloadsFailed = 0;

  /**
   * The plan, decorated so that running it counts: each node's servlet is
   * timed and each edge's pipes count their bytes.
   */
  observe(plan: Plan): Plan {
    // The nodes the loader adds for a fan-out or fan-in run no servlet (the
    // kernel writes and reads their branches' pipes), and the edge into a
    // fan-out or out of a fan-in has no pipe: neither is counted.
    const nodes = plan.nodes.map((node) => {
      if (node.fan !== undefined) return node;
      let counters = this.#nodes.get(node.name);
      if (counters === undefined) {
        this.#nodes.set(node.name, counters = new NodeCounters(node.name));
      }
      return { ...node, servlet: counted(node.servlet, counters) };
    });
    const edges = plan.edges.map((edge) => {
      if (edge.fan >= 0) return undefined;
      const from = slotName(plan.nodes[edge.from], edge.fromSlot);
      const to = slotName(plan.nodes[edge.to], edge.toPort);
      const key = `${from}\n${to}`;
      let counters = this.#edges.get(key);
      if (counters === undefined) this.#edges.set(key, counters = new EdgeCounters(from, to));
      return counters;
    });
    return {
      ...plan,
      nodes,
      newPipe: (edge, options) => new CountingMemPipe(options, edges[edge]!),
    };
  }

  /** Node `node`'s exec failed with `error` (a failure because a node before it failed is not counted). */
  failed(node: string, error: unknown): void {
    this.#nodes.get(node)?.failed(error);
  }

  /** A reload replaced the graph (`ok`) or kept the old one. */
  reloaded(ok: boolean): void {
    if (ok) this.#reloadsOk++;
    else this.#reloadsFailed++;
  }

  /** Everything counted so far, with the listeners' counts and the generation served. */
  snapshot(listeners: readonly Listener[], generation: number): MetricsSnapshot {
    return {
      time: Date.now(),
      generation,
      listeners: listeners.map((listener) => {
        const stats = listener.stats?.() ?? { accepted: 0, refused: {}, bytesIn: 0, bytesOut: 0 };
        return { url: listener.url, open: listener.connections, ...stats };
      }),
      nodes: [...this.#nodes.values()].map((n) => n.snapshot()),
      edges: [...this.#edges.values()].map((e) => e.snapshot()),
      reloads: { ok: this.#reloadsOk, failed: this.#reloadsFailed },
    };
  }
}
