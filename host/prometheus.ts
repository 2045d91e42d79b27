/**
 * A host's metrics in the Prometheus text exposition format (version 0.0.4),
 * what the admin listener's `/metrics` serves. With `--workers`, each series
 * carries a `worker` label (`sum by` adds them up).
 * @module
 */
import { EXEC_BUCKETS, type MetricsSnapshot } from "./metrics.ts";

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The options that refuse connections, each a value of the `reason` label. */
export const REFUSAL_REASONS: readonly string[] = [
  "allow",
  "deny",
  "maxConnections",
  "maxPerSource",
  "maxRatePerSource",
];

/** One host's snapshot, and its worker's number under `--workers`. */
export interface Scrape {
  /** The worker (1, 2, ...), or absent for a host serving alone. */
  readonly worker?: number;
  readonly snapshot: MetricsSnapshot;
}

type Labels = Record<string, string | number>;

function escape(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escape(String(v))}"`).join(",")}}`;
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : "-Inf";
}

/** The text of one metric family: its help, its type and its samples. */
class Family {
  readonly #lines: string[];
  readonly #name: string;

  constructor(name: string, type: "counter" | "gauge" | "histogram", help: string) {
    this.#name = name;
    this.#lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  }

  sample(labels: Labels, value: number, suffix = ""): void {
    this.#lines.push(`${this.#name}${suffix}${labelText(labels)} ${number(value)}`);
  }

  get text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/**
 * The exposition of `scrapes` (one per host or worker) and of the process's
 * `memory`.
 */
export function prometheusText(scrapes: readonly Scrape[], memory: Deno.MemoryUsage): string {
  const open = new Family("plumb_connections_open", "gauge", "Connections open now.");
  const accepted = new Family(
    "plumb_connections_accepted_total",
    "counter",
    "Connections accepted and served.",
  );
  const refused = new Family(
    "plumb_connections_refused_total",
    "counter",
    "Connections accepted and closed unserved, by the listener option that refused them.",
  );
  const received = new Family(
    "plumb_listener_received_bytes_total",
    "counter",
    "Bytes read from the listener's connections.",
  );
  const sent = new Family(
    "plumb_listener_sent_bytes_total",
    "counter",
    "Bytes written to the listener's connections.",
  );
  const requests = new Family(
    "plumb_node_requests_total",
    "counter",
    "Execs of the node's servlet (requests that reached the node).",
  );
  const failures = new Family(
    "plumb_node_failures_total",
    "counter",
    "Execs that failed by themselves (not because a node before them failed).",
  );
  const exec = new Family(
    "plumb_node_exec_seconds",
    "histogram",
    "Time from the start of the node's exec to its end, waits on its pipes included; " +
      "over 1000 execs a second, one in 8 is timed.",
  );
  const edgeBytes = new Family(
    "plumb_edge_bytes_total",
    "counter",
    "Bytes written into the edge's pipes (text counts its length, a value 256).",
  );
  const edgeWrites = new Family(
    "plumb_edge_writes_total",
    "counter",
    "Writes into the edge's pipes: chunks of bytes or text, or values.",
  );
  const edgePeak = new Family(
    "plumb_edge_queue_peak_bytes",
    "gauge",
    "The most bytes one pipe of the edge held queued at once since the host started.",
  );
  const reloads = new Family(
    "plumb_reloads_total",
    "counter",
    "Reloads of the graph, by result: ok (new connections get the new graph) or failed.",
  );
  const generation = new Family(
    "plumb_graph_generation",
    "gauge",
    "The graph served to new connections: 1, then one more per reload.",
  );
  const heap = new Family(
    "plumb_heap_used_bytes",
    "gauge",
    "JavaScript heap in use in the isolate that serves the admin listener.",
  );
  for (const { worker, snapshot } of scrapes) {
    const w: Labels = worker === undefined ? {} : { worker };
    for (const l of snapshot.listeners) {
      const labels = { ...w, listener: l.url };
      open.sample(labels, l.open);
      accepted.sample(labels, l.accepted);
      for (const reason of REFUSAL_REASONS) {
        refused.sample({ ...labels, reason }, l.refused[reason] ?? 0);
      }
      received.sample(labels, l.bytesIn);
      sent.sample(labels, l.bytesOut);
    }
    for (const n of snapshot.nodes) {
      const labels = { ...w, node: n.name };
      requests.sample(labels, n.requests);
      failures.sample(labels, n.failures);
      let cumulative = 0;
      EXEC_BUCKETS.forEach((bound, i) => {
        cumulative += n.buckets[i];
        exec.sample({ ...labels, le: String(bound) }, cumulative, "_bucket");
      });
      exec.sample({ ...labels, le: "+Inf" }, n.timed, "_bucket");
      exec.sample(labels, n.seconds, "_sum");
      exec.sample(labels, n.timed, "_count");
    }
    for (const e of snapshot.edges) {
      const labels = { ...w, from: e.from, to: e.to };
      edgeBytes.sample(labels, e.bytes);
      edgeWrites.sample(labels, e.writes);
      edgePeak.sample(labels, e.peak);
    }
    reloads.sample({ ...w, result: "ok" }, snapshot.reloads.ok);
    reloads.sample({ ...w, result: "failed" }, snapshot.reloads.failed);
    generation.sample(w, snapshot.generation);
  }
  heap.sample({}, memory.heapUsed);
  const resident = new Family(
    "process_resident_memory_bytes",
    "gauge",
    "Resident memory size of the process, in bytes.",
  );
  resident.sample({}, memory.rss);
  const families = [
    open,
    accepted,
    refused,
    received,
    sent,
    requests,
    failures,
    exec,
    edgeBytes,
    edgeWrites,
    edgePeak,
    reloads,
    generation,
    heap,
    resident,
  ];
  return families.map((f) => f.text).join("");
}
