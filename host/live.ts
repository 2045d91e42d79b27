/**
 * What the admin page shows as it changes: rates, p99 exec times and errors
 * over the last interval, worked out from two snapshots of a host's metrics
 * (or of the sum of its workers'), and sent to the page as server-sent events.
 * @module
 */
import {
  EXEC_BUCKETS,
  type ListenerMetrics,
  type MetricsSnapshot,
  type NodeError,
  type NodeMetrics,
  RECENT_ERRORS,
} from "./metrics.ts";

/** A node, live. */
export interface LiveNode {
  /** Execs since the host started. */
  readonly requests: number;
  /** Failures since the host started. */
  readonly failures: number;
  /** Execs per second over the last interval. */
  readonly rate: number;
  /** Failures per second over the last interval. */
  readonly failureRate: number;
  /** The 99th percentile of the exec times of the last interval, in seconds; null when none ran. */
  readonly p99: number | null;
  /** The most recent failures, oldest first. */
  readonly errors: readonly NodeError[];
}

/** An edge, live. */
export interface LiveEdge {
  /** `node.port` */
  readonly from: string;
  /** `node.port` */
  readonly to: string;
  /** Bytes since the host started. */
  readonly bytes: number;
  /** Bytes per second over the last interval. */
  readonly rate: number;
  /** Writes (chunks or values) per second over the last interval. */
  readonly writeRate: number;
  /** The most one of its pipes queued, in bytes. */
  readonly peak: number;
}

/** A listener, live. */
export interface LiveListener {
  readonly url: string;
  /** Connections open now. */
  readonly open: number;
  /** Connections accepted since the host started. */
  readonly accepted: number;
  /** Connections refused since the host started, for any reason. */
  readonly refused: number;
  /** Bytes read per second over the last interval. */
  readonly inRate: number;
  /** Bytes written per second over the last interval. */
  readonly outRate: number;
}

/** One server-sent event of the admin page. */
export interface LiveView {
  /** When, in milliseconds since the epoch. */
  readonly time: number;
  readonly generation: number;
  /** Workers whose counts are summed here (1 without `--workers`). */
  readonly workers: number;
  /** By node name. */
  readonly nodes: Readonly<Record<string, LiveNode>>;
  readonly edges: readonly LiveEdge[];
  readonly listeners: readonly LiveListener[];
  readonly reloads: { readonly ok: number; readonly failed: number };
}

/**
 * The `q` quantile (0..1) of the exec times counted in `buckets` (per bucket
 * of {@linkcode EXEC_BUCKETS}, the last over its last bound), interpolated
 * within its bucket as Prometheus' `histogram_quantile` does; null when the
 * buckets are empty. A quantile in the last bucket is its lower bound.
 */
export function quantile(q: number, buckets: readonly number[]): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (below + buckets[i] >= rank && buckets[i] > 0) {
      if (i === EXEC_BUCKETS.length) return EXEC_BUCKETS[i - 1];
      const lower = i === 0 ? 0 : EXEC_BUCKETS[i - 1];
      return lower + (EXEC_BUCKETS[i] - lower) * ((rank - below) / buckets[i]);
    }
    below += buckets[i];
  }
  return EXEC_BUCKETS[EXEC_BUCKETS.length - 1];
}

function keyed<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]));
}

const edgeKey = (e: { from: string; to: string }): string => `${e.from}\n${e.to}`;

/** The sum of the snapshots of several workers serving one graph. */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  if (snapshots.length === 1) return snapshots[0];
  const nodes = new Map<string, NodeMetrics>();
  for (const s of snapshots) {
    for (const n of s.nodes) {
      const seen = nodes.get(n.name);
      nodes.set(
        n.name,
        seen === undefined ? n : {
          name: n.name,
          requests: seen.requests + n.requests,
          failures: seen.failures + n.failures,
          timed: seen.timed + n.timed,
          seconds: seen.seconds + n.seconds,
          buckets: seen.buckets.map((b, i) => b + n.buckets[i]),
          errors: [...seen.errors, ...n.errors].sort((a, b) => a.time.localeCompare(b.time))
            .slice(-RECENT_ERRORS),
        },
      );
    }
  }
  const edges = new Map<string, MetricsSnapshot["edges"][number]>();
  for (const s of snapshots) {
    for (const e of s.edges) {
      const seen = edges.get(edgeKey(e));
      edges.set(
        edgeKey(e),
        seen === undefined ? e : {
          ...e,
          bytes: seen.bytes + e.bytes,
          writes: seen.writes + e.writes,
          peak: Math.max(seen.peak, e.peak),
        },
      );
    }
  }
  const listeners = snapshots[0].listeners.map((l, i): ListenerMetrics => {
    const all = snapshots.map((s) => s.listeners[i]).filter((x) => x !== undefined);
    const refused: Record<string, number> = {};
    for (const x of all) {
      for (const [reason, n] of Object.entries(x.refused)) {
        refused[reason] = (refused[reason] ?? 0) + n;
      }
    }
    return {
      url: l.url,
      open: all.reduce((a, x) => a + x.open, 0),
      accepted: all.reduce((a, x) => a + x.accepted, 0),
      refused,
      bytesIn: all.reduce((a, x) => a + x.bytesIn, 0),
      bytesOut: all.reduce((a, x) => a + x.bytesOut, 0),
    };
  });
  return {
    time: Math.max(...snapshots.map((s) => s.time)),
    generation: Math.max(...snapshots.map((s) => s.generation)),
    listeners,
    nodes: [...nodes.values()],
    edges: [...edges.values()],
    reloads: {
      ok: Math.max(...snapshots.map((s) => s.reloads.ok)),
      failed: Math.max(...snapshots.map((s) => s.reloads.failed)),
    },
  };
}

/**
 * What changed from `before` (undefined for the first event: rates are then
 * zero) to `now`.
 */
export function liveView(
  before: MetricsSnapshot | undefined,
  now: MetricsSnapshot,
  workers = 1,
): LiveView {
  const seconds = before === undefined ? 0 : Math.max(0.001, (now.time - before.time) / 1000);
  // Per second since `before`; a node, edge or listener new since then counted from 0.
  const per = (a: number, b: number | undefined): number =>
    seconds === 0 ? 0 : Math.max(0, a - (b ?? 0)) / seconds;
  const oldNodes = keyed(before?.nodes ?? [], (n) => n.name);
  const oldEdges = keyed(before?.edges ?? [], edgeKey);
  const oldListeners = keyed(before?.listeners ?? [], (l) => l.url);
  const nodes: Record<string, LiveNode> = {};
  for (const n of now.nodes) {
    const old = oldNodes.get(n.name);
    const delta = old === undefined ? n.buckets : n.buckets.map((b, i) => b - old.buckets[i]);
    nodes[n.name] = {
      requests: n.requests,
      failures: n.failures,
      rate: per(n.requests, old?.requests),
      failureRate: per(n.failures, old?.failures),
      p99: before === undefined ? null : quantile(0.99, delta),
      errors: n.errors,
    };
  }
  return {
    time: now.time,
    generation: now.generation,
    workers,
    nodes,
    edges: now.edges.map((e) => {
      const old = oldEdges.get(edgeKey(e));
      return {
        from: e.from,
        to: e.to,
        bytes: e.bytes,
        rate: per(e.bytes, old?.bytes),
        writeRate: per(e.writes, old?.writes),
        peak: e.peak,
      };
    }),
    listeners: now.listeners.map((l) => {
      const old = oldListeners.get(l.url);
      return {
        url: l.url,
        open: l.open,
        accepted: l.accepted,
        refused: Object.values(l.refused).reduce((a, b) => a + b, 0),
        inRate: per(l.bytesIn, old?.bytesIn),
        outRate: per(l.bytesOut, old?.bytesOut),
      };
    }),
    reloads: now.reloads,
  };
}
