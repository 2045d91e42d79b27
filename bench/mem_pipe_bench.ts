/**
 * Micro-benchmark of the kernel's request path and its mem pipes, with no
 * sockets: one request through a chain of 1, 3 and 10 `echo` nodes (each
 * copies its input to its output chunk by chunk, so bytes are streamed, not
 * split into lines), with three payloads: a small line (`Plumber\n`, 8
 * bytes), 64 KiB in one chunk (as one read of a connection would hand it
 * over), and the same 64 KiB in 16 chunks of 4 KiB (per-chunk cost). Chunks are
 * passed by reference, never copied, so the one-chunk 64 KiB case costs about
 * what the small line does; the chunked case shows the cost per chunk.
 *
 * The graph is built as the host builds it from a `graph.json` file
 * (`validateGraph`, `rewriteFans`, `loadNodes`, `compilePlan`), and each
 * iteration drives `runRequest(plan, input, output, report)` with a minimal
 * module companion pair: an input that holds the payload (read through the
 * kernel's `ByteReader`, like a session's input) and an output that counts the
 * bytes. A chain of N nodes has N - 1 mem pipes; a chain of 1 takes the
 * scheduler's one-node fast path and has none, so it measures the fixed cost of
 * a request.
 *
 * Each group (`chain N, SIZE`) compares three ways of moving the same bytes
 * through N pass-through stages:
 *
 * - `plumb mem pipe`: the kernel, as above;
 * - `plumb line servlets` (small line only): the same chain of `line` nodes,
 *   each reading a line and writing it as text, which the mem pipes pass on as
 *   text (no encoding and decoding between nodes);
 * - `web streams` (the baseline): N chained `TransformStream`s that pass each
 *   chunk on, the Web Streams the servlet API also offers;
 * - `async calls`: N awaited async pass-through functions, the floor of N
 *   asynchronous hops.
 *
 * A last group runs the example graphs of `deno task bench` (`hello`,
 * `pipeline`, `router`), 16 requests of `Plumber\n` in flight at once as 16
 * connections would have them, against `hello`: what the nodes, pipes and
 * fans of a graph cost per request with no socket in the way. Each runs twice:
 * as a connection runs a line that arrived whole (the kernel's line steps,
 * `kernel/line_steps.ts`, since every node of these graphs has one), and with
 * `, exec` through every node's `exec` (tasks, pipes and promises).
 *
 * Before anything is timed, every path is run once and its output compared
 * with the payload, so a broken path fails the run instead of being measured;
 * each timed run also checks the number of bytes that came out.
 *
 * A last group runs `examples/http.json` on `GET /api/hello`, through the
 * value steps of its nodes (`kernel/value_steps.ts`) and through their `exec`.
 *
 * The servlets are imported statically here, so the loader's dynamic
 * `import()` of each finds it loaded and reads no file; only `http/static`'s
 * init reads its root, `examples/www` (`--allow-read=examples/www`).
 *
 * ```sh
 * deno task bench:pipe
 * deno bench bench/mem_pipe_bench.ts --filter "chain 10"
 * ```
 * @module
 */
import { ByteReader } from "../kernel/byte_reader.ts";
import { validateGraph } from "../kernel/graph.ts";
import { loadNodes } from "../kernel/loader.ts";
import { resolveServlet } from "../host/servlet_registry.ts";
import type { InputHandle, OutputHandle } from "../kernel/pipe.ts";
import { compilePlan, type Plan, type PlanNode } from "../kernel/plan.ts";
import { rewriteFans } from "../kernel/rewrite.ts";
import { describeError, runRequest } from "../kernel/scheduler.ts";
// Static, so the loader's dynamic import of the built-in finds it loaded: no --allow-read.
import "../servlets/echo.ts";
import "../servlets/line.ts";
import "../servlets/hello.ts";
import "../servlets/transform.ts";
import "../servlets/dataflow/demux.ts";
import "../servlets/http/parser.ts";
import "../servlets/http/router.ts";
import "../servlets/http/static.ts";
import "../servlets/http/render.ts";
import "../examples/http_api.ts";
import httpGraph from "../examples/http.json" with { type: "json" };
import helloGraph from "../examples/hello.json" with { type: "json" };
import pipelineGraph from "../examples/pipeline.json" with { type: "json" };
import routerGraph from "../examples/router.json" with { type: "json" };

/** The chain lengths measured. */
const CHAINS: readonly number[] = [1, 3, 10];

/** The payloads measured, by label. */
const PAYLOADS: readonly Payload[] = [
  payload("small line", new TextEncoder().encode("Plumber\n"), 8),
  payload("64 KiB", filled(64 * 1024), 64 * 1024),
  payload("64 KiB in 4 KiB chunks", filled(64 * 1024), 4 * 1024),
];

/** A payload: all its bytes, and the chunks the request's input hands them over in. */
interface Payload {
  readonly label: string;
  readonly bytes: Uint8Array;
  readonly chunks: readonly Uint8Array[];
}

/** `bytes` cut into chunks of `chunkSize` (views, no copies). */
function payload(label: string, bytes: Uint8Array, chunkSize: number): Payload {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) {
    chunks.push(bytes.subarray(at, at + chunkSize));
  }
  return { label, bytes, chunks };
}

/** `size` bytes of printable text with a newline every 64 bytes. */
function filled(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 64 === 63 ? 0x0a : 0x41 + (i % 26);
  return bytes;
}

/** The input companion: this request's payload chunk by chunk, then the end of input. */
class PayloadInput implements InputHandle {
  flags = 0;
  touched = 0;
  protected readonly reader: ByteReader;

  constructor(chunks: readonly Uint8Array[]) {
    let next = 0;
    this.reader = new ByteReader(() => Promise.resolve(chunks[next++] ?? null));
  }

  read(): Promise<Uint8Array | null> {
    return this.reader.read();
  }
  readLine(): Promise<string | null> {
    return this.reader.readLine();
  }
  eof(): Promise<boolean> {
    return this.reader.eof();
  }
  unread(bytes: Uint8Array): void {
    this.reader.unread(bytes.slice());
  }
  release(): void {}
}

/**
 * The same input with all its chunks already buffered, as a connection's
 * input is, and which hands them over as one whole line, or shows them all,
 * when asked: the kernel's line steps (`kernel/line_steps.ts`) or value
 * steps (`kernel/value_steps.ts`) then run the request.
 */
class WholeInput extends PayloadInput {
  constructor(chunks: readonly Uint8Array[]) {
    super([]);
    for (const chunk of chunks) this.reader.supply(chunk);
  }

  wholeLine(): string | undefined {
    return this.reader.takeWholeLine();
  }

  peekReadiness(): Uint8Array | undefined {
    return this.reader.peekBuffered();
  }

  takeReadiness(): void {
    this.reader.dropBuffered();
  }
}

/** The output companion: counts the bytes of the reply, and keeps them when asked to. */
class CountingOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  bytes = 0;
  readonly chunks: Uint8Array[] | undefined;

  constructor(keep = false) {
    this.chunks = keep ? [] : undefined;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.written = true;
    this.bytes += chunk.length;
    this.chunks?.push(chunk);
    return Promise.resolve();
  }
  touch(): void {
    this.written = true;
  }
}

/** Fails the request's run: a node's exec failed. */
function report(node: PlanNode, error: unknown): void {
  throw new Error(`bench: node "${node.name}" failed: ${describeError(error)}`);
}

/** A chain of `n` `servlet` nodes, `e1.out -> e2.in -> ... -> en`, compiled as the host does. */
async function chain(n: number, servlet = "echo"): Promise<Plan> {
  const nodes: Record<string, { servlet: string }> = {};
  const edges: { from: string; to: string }[] = [];
  for (let i = 1; i <= n; i++) {
    nodes[`e${i}`] = { servlet };
    if (i > 1) edges.push({ from: `e${i - 1}.out`, to: `e${i}.in` });
  }
  const file = `chain-${n}.json`;
  const spec = validateGraph(file, { nodes, edges, input: "e1.in", output: `e${n}.out` });
  const rewritten = rewriteFans(file, spec);
  const loaded = await loadNodes(file, new URL(import.meta.url), rewritten.spec, resolveServlet);
  return compilePlan(file, rewritten.spec, loaded, rewritten.labels);
}

/** An example graph file's graph, compiled as the host does. */
async function example(file: string, graph: unknown): Promise<Plan> {
  const spec = validateGraph(file, graph);
  const rewritten = rewriteFans(file, spec);
  const base = new URL(`../${file}`, import.meta.url);
  const loaded = await loadNodes(file, base, rewritten.spec, resolveServlet);
  return compilePlan(file, rewritten.spec, loaded, rewritten.labels);
}

/** The example graphs measured, with the reply each gives to `Plumber\n`. */
const EXAMPLES = [
  { file: "examples/hello.json", graph: helloGraph, reply: "Hello, Plumber\n" },
  { file: "examples/pipeline.json", graph: pipelineGraph, reply: "Hello, PLUMBER\n" },
  { file: "examples/router.json", graph: routerGraph, reply: "Hello, Plumber\n" },
];

/** Requests in flight at once in the example graphs' group, as 16 connections would have them. */
const IN_FLIGHT = 16;

/** `IN_FLIGHT` requests through the plan at once; returns the bytes of all the replies. */
async function concurrentOnce(
  plan: Plan,
  chunks: readonly Uint8Array[],
  whole: boolean,
): Promise<number> {
  const runs: Promise<number>[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) {
    runs.push(plumbOnce(plan, chunks, new CountingOutput(), whole));
  }
  let bytes = 0;
  for (const n of await Promise.all(runs)) bytes += n;
  return bytes;
}

/** One request through the plan; returns the bytes of the reply. */
async function plumbOnce(
  plan: Plan,
  chunks: readonly Uint8Array[],
  output: CountingOutput,
  whole = false,
): Promise<number> {
  const input = whole ? new WholeInput(chunks) : new PayloadInput(chunks);
  const ok = await runRequest(plan, input, output, report);
  if (!ok) throw new Error("bench: the request failed");
  return output.bytes;
}

/** The payload through `n` chained pass-through `TransformStream`s; returns the bytes out. */
async function streamsOnce(
  n: number,
  chunks: readonly Uint8Array[],
  keep?: Uint8Array[],
): Promise<number> {
  let readable = new ReadableStream<Uint8Array>({
    start(controller): void {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  for (let i = 0; i < n; i++) readable = readable.pipeThrough(new TransformStream<Uint8Array>());
  let bytes = 0;
  for await (const chunk of readable) {
    bytes += chunk.length;
    keep?.push(chunk);
  }
  return bytes;
}

/** An async pass-through stage. */
function pass(chunk: Uint8Array): Promise<Uint8Array> {
  return Promise.resolve(chunk);
}

/** The payload through `n` awaited async calls; returns the bytes out. */
async function callsOnce(
  n: number,
  chunks: readonly Uint8Array[],
  keep?: Uint8Array[],
): Promise<number> {
  let bytes = 0;
  for (let chunk of chunks) {
    for (let i = 0; i < n; i++) chunk = await pass(chunk);
    bytes += chunk.length;
    keep?.push(chunk);
  }
  return bytes;
}

/** Throws unless `chunks` joined are exactly `expected`. */
function assertBytes(what: string, chunks: readonly Uint8Array[], expected: Uint8Array): void {
  const size = chunks.reduce((sum, c) => sum + c.length, 0);
  const joined = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.length;
  }
  if (size !== expected.length || !joined.every((b, i) => b === expected[i])) {
    throw new Error(`bench: ${what}: got ${size} bytes, not the ${expected.length} sent`);
  }
}

/** Throws unless a timed run moved exactly the payload's size. */
function expectSize(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`bench: ${what}: ${got} bytes out, ${want} in`);
}

// Setup, not timed: build each chain and check every path's output once.
const plans = new Map<number, Plan>();
const linePlans = new Map<number, Plan>();
for (const n of CHAINS) {
  const plan = await chain(n);
  const linePlan = await chain(n, "line");
  const small = PAYLOADS[0];
  const lines = new CountingOutput(true);
  await plumbOnce(linePlan, small.chunks, lines);
  assertBytes(`plumb line servlets, chain ${n}`, lines.chunks!, small.bytes);
  linePlans.set(n, linePlan);
  if (plan.nodes.length !== n || plan.edges.length !== n - 1) {
    throw new Error(`bench: chain ${n} compiled to ${plan.nodes.length} nodes`);
  }
  plans.set(n, plan);
  for (const { label, bytes, chunks } of PAYLOADS) {
    const output = new CountingOutput(true);
    await plumbOnce(plan, chunks, output);
    assertBytes(`plumb, chain ${n}, ${label}`, output.chunks!, bytes);
    const streamed: Uint8Array[] = [];
    await streamsOnce(n, chunks, streamed);
    assertBytes(`web streams, chain ${n}, ${label}`, streamed, bytes);
    const called: Uint8Array[] = [];
    await callsOnce(n, chunks, called);
    assertBytes(`async calls, chain ${n}, ${label}`, called, bytes);
  }
}

for (const n of CHAINS) {
  const plan = plans.get(n)!;
  for (const { label, bytes, chunks } of PAYLOADS) {
    const group = `chain ${n}, ${label}`;
    Deno.bench({
      name: `plumb mem pipe (${group})`,
      group,
      async fn(): Promise<void> {
        expectSize(group, await plumbOnce(plan, chunks, new CountingOutput()), bytes.length);
      },
    });
    if (label === PAYLOADS[0].label) {
      const linePlan = linePlans.get(n)!;
      Deno.bench({
        name: `plumb line servlets (${group})`,
        group,
        async fn(): Promise<void> {
          expectSize(group, await plumbOnce(linePlan, chunks, new CountingOutput()), bytes.length);
        },
      });
    }
    Deno.bench({
      name: `web streams (${group})`,
      group,
      baseline: true,
      async fn(): Promise<void> {
        expectSize(group, await streamsOnce(n, chunks), bytes.length);
      },
    });
    Deno.bench({
      name: `async calls (${group})`,
      group,
      async fn(): Promise<void> {
        expectSize(group, await callsOnce(n, chunks), bytes.length);
      },
    });
  }
}

// The example graphs of `deno task bench`, without sockets: what their nodes
// and pipes cost per request beyond the one-node hello.
const small = PAYLOADS[0];
for (const { file, graph, reply } of EXAMPLES) {
  const plan = await example(file, graph);
  const group = `example graphs, ${IN_FLIGHT} requests in flight`;
  for (const whole of [true, false]) {
    const output = new CountingOutput(true);
    await plumbOnce(plan, small.chunks, output, whole);
    assertBytes(file, output.chunks!, new TextEncoder().encode(reply));
    Deno.bench({
      name: `plumb ${file}${whole ? "" : ", exec"}`,
      group,
      baseline: whole && file === "examples/hello.json",
      async fn(): Promise<void> {
        expectSize(file, await concurrentOnce(plan, small.chunks, whole), IN_FLIGHT * reply.length);
      },
    });
  }
}

// examples/http.json answering `GET /api/hello`, without sockets: what the value steps
// (kernel/value_steps.ts) save over the same nodes' exec.
const http = await example("examples/http.json", httpGraph);
const get = new TextEncoder().encode("GET /api/hello HTTP/1.1\r\nHost: bench\r\n\r\n");
const answer = /^HTTP\/1\.1 200 OK\r\ndate: [^\r]+\r\ncontent-type: application\/json\r\n/;
for (const whole of [true, false]) {
  const output = new CountingOutput(true);
  await plumbOnce(http, [get], output, whole);
  const text = new TextDecoder().decode(output.chunks![0]);
  if (!answer.test(text) || !text.endsWith('\r\n\r\n{"message":"Hello, world!"}')) {
    throw new Error(`bench: examples/http.json answered ${JSON.stringify(text)}`);
  }
  const size = output.bytes;
  Deno.bench({
    name: `plumb examples/http.json GET /api/hello${whole ? "" : ", exec"}`,
    group: `examples/http.json, ${IN_FLIGHT} requests in flight`,
    baseline: whole,
    async fn(): Promise<void> {
      expectSize("examples/http.json", await concurrentOnce(http, [get], whole), IN_FLIGHT * size);
    },
  });
}
