/**
 * A closed-loop load generator for line servers on 127.0.0.1. Each of C
 * keep-alive connections keeps one request in flight: it writes a line
 * (`Plumber\n`, or `--line TEXT`), reads up to the reply's `\n`, records the
 * latency and starts over. After a warmup it measures for a fixed time, stops
 * by itself, closes every connection and prints one JSON line:
 *
 * ```json
 * {"requests":1,"seconds":5,"rps":1,"p50_ms":1,"p99_ms":1,"errors":0,"cpu_ms":1,"conns":16}
 * ```
 *
 * Every reply must be `--expect TEXT` (default `Hello, Plumber`): the first
 * one is compared byte by byte, the others by length. `--expect ""` takes any
 * one line as the reply, for servers whose replies vary. Bytes after a
 * reply's `\n` that do not end a line, such as a prompt, are the start of the
 * next reply; a whole second line is an error. With `--greeting`, each
 * connection first reads one line and drops it, for servers that greet.
 *
 * `cpu_ms` is this process's own user+system CPU time during the measured
 * window; with `--server-pid PID` the JSON also holds `server_cpu_ms`, the
 * CPU time of that process in the same window (Linux; needs `--allow-run=cat`).
 * With `--server-tree` as well, `server_cpu_ms` also counts the processes the
 * server forked, for servers with a process per connection.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/load.ts --port 12345 --conns 16 --seconds 5
 * deno run --allow-net=127.0.0.1 --allow-run=cat bench/load.ts --port 12000 --greeting \
 *   --line "I am feeling sad today" --expect "" --server-pid 4242 --server-tree
 * ```
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { numberFlag } from "./flags.ts";
import { LatencyHistogram } from "./histogram.ts";
import { cpuTimeMs, treeCpuTimeMs } from "./proc.ts";

/** The only host this tool sends load to. */
const HOSTNAME = "127.0.0.1";
/** Most connections one run may open. */
const MAX_CONNS = 10000;
/** Longest measured window, in seconds, so that every run is bounded. */
const MAX_SECONDS = 600;
/** How long in-flight requests may take to finish once the window closed, in ms. */
const DRAIN_MS = 2000;
const LF = 0x0a;
const encoder = new TextEncoder();

/** The command line of a run. */
interface LoadOptions {
  port: number;
  conns: number;
  seconds: number;
  warmup: number;
  /** The request line, with its `\n`. */
  request: Uint8Array;
  /** The reply line expected, with its `\n`; empty when any one line will do. */
  expect: Uint8Array;
  /** Read and drop one line after connecting, before the first request. */
  greeting: boolean;
  serverPid: number | undefined;
  /** Count the CPU time of the server's children too. */
  serverTree: boolean;
}

/** The JSON line that `load.ts` prints. */
export interface LoadResult {
  /** Replies received in the measured window. */
  requests: number;
  /** Length of the measured window, in seconds. */
  seconds: number;
  /** `requests / seconds`, rounded. */
  rps: number;
  /** Median latency from writing a request to reading its reply's `\n`, in ms. */
  p50_ms: number;
  /** 99th percentile latency, in ms. */
  p99_ms: number;
  /** Failed connects, dropped connections and wrong replies, warmup included. */
  errors: number;
  /** This process's user+system CPU time in the measured window, in ms. */
  cpu_ms: number;
  /** Connections open at the start. */
  conns: number;
  /**
   * CPU time of `--server-pid` in the measured window, in ms (10 ms steps), when known;
   * with `--server-tree`, of its children too.
   */
  server_cpu_ms?: number;
}

const WARMUP = 0;
const MEASURE = 1;
const STOP = 2;

/** State shared by every connection's loop. */
class Run {
  phase = WARMUP;
  requests = 0;
  errors = 0;
  readonly latencies = new LatencyHistogram();
  readonly errorMessages = new Map<string, number>();

  /** Counts an error, keeping its message for the summary on stderr. */
  fail(message: string): void {
    this.errors++;
    this.errorMessages.set(message, (this.errorMessages.get(message) ?? 0) + 1);
  }
}

function usage(message: string): never {
  console.error(
    `load: ${message}\nusage: load.ts --port N [--conns C] [--seconds S] [--warmup W] ` +
      `[--line Plumber] [--expect "Hello, Plumber"] [--greeting] [--host 127.0.0.1] ` +
      `[--server-pid PID [--server-tree]]`,
  );
  Deno.exit(2);
}

function parseOptions(args: string[]): LoadOptions {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        conns: { type: "string" },
        seconds: { type: "string" },
        warmup: { type: "string" },
        line: { type: "string" },
        expect: { type: "string" },
        greeting: { type: "boolean" },
        "server-pid": { type: "string" },
        "server-tree": { type: "boolean" },
      },
    });
    if (values.host !== undefined && values.host !== HOSTNAME) {
      throw new Error(`only ${HOSTNAME} may be loaded, got --host ${values.host}`);
    }
    if (values.port === undefined) throw new Error("--port is required");
    let conns = numberFlag(values.conns, "conns", 16, { min: 1, max: 1e9, integer: true });
    if (conns > MAX_CONNS) {
      console.error(`load: --conns ${conns} capped at ${MAX_CONNS}`);
      conns = MAX_CONNS;
    }
    const pid = values["server-pid"];
    if (values["server-tree"] && pid === undefined) {
      throw new Error("--server-tree needs --server-pid");
    }
    const line = values.line ?? "Plumber";
    const expect = values.expect ?? "Hello, Plumber";
    if (/[\r\n]/.test(line + expect)) throw new Error("--line and --expect must be one line each");
    return {
      port: numberFlag(values.port, "port", 0, { min: 1, max: 65535, integer: true }),
      conns,
      seconds: numberFlag(values.seconds, "seconds", 5, { min: 0.1, max: MAX_SECONDS }),
      warmup: numberFlag(values.warmup, "warmup", 1, { min: 0, max: MAX_SECONDS }),
      request: encoder.encode(`${line}\n`),
      expect: expect === "" ? new Uint8Array(0) : encoder.encode(`${expect}\n`),
      greeting: values.greeting ?? false,
      serverPid: pid === undefined
        ? undefined
        : numberFlag(pid, "server-pid", 0, { min: 1, max: 2 ** 31, integer: true }),
      serverTree: values["server-tree"] ?? false,
    };
  } catch (error) {
    usage((error as Error).message);
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = await conn.write(data);
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

function sameBytes(a: Uint8Array, b: Uint8Array, length: number): boolean {
  if (length !== b.length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A connection's received bytes, taken one line at a time. */
class LineReader {
  readonly buffer: Uint8Array;
  /** Bytes held at the start of `buffer`: the current line and what came after it. */
  held = 0;
  readonly #conn: Deno.Conn;

  constructor(conn: Deno.Conn, size: number) {
    this.#conn = conn;
    this.buffer = new Uint8Array(size);
  }

  /**
   * Reads until the bytes held contain a `\n` and returns the length of the
   * line they start with, `\n` included.
   */
  async line(): Promise<number> {
    const buffer = this.buffer;
    let scanned = 0;
    for (;;) {
      for (let i = scanned; i < this.held; i++) if (buffer[i] === LF) return i + 1;
      scanned = this.held;
      if (this.held === buffer.length) throw new Error(`reply longer than ${buffer.length} bytes`);
      const n = await this.#conn.read(this.held === 0 ? buffer : buffer.subarray(this.held));
      if (n === null) throw new Error("server closed the connection");
      this.held += n;
    }
  }

  /**
   * Drops the first `length` bytes, a line. What follows must not be a whole
   * line, since each request gets one; a part of one (a prompt) is kept as the
   * start of the next.
   */
  consume(length: number): void {
    if (length === this.held) {
      this.held = 0;
      return;
    }
    for (let i = length; i < this.held; i++) {
      if (this.buffer[i] === LF) throw new Error("more than one line for one request");
    }
    this.buffer.copyWithin(0, length, this.held);
    this.held -= length;
  }
}

/**
 * One connection's closed loop: a request, its whole reply, repeat until the
 * run stops. With an expected reply, every reply must be one line as long as
 * it; the first is also compared byte by byte.
 */
async function drive(conn: Deno.TcpConn, run: Run, options: LoadOptions): Promise<void> {
  const { request, expect } = options;
  const reader = new LineReader(conn, Math.max(4096, 2 * expect.length));
  let first = true;
  try {
    if (options.greeting) reader.consume(await reader.line());
    while (run.phase !== STOP) {
      const start = performance.now();
      await writeAll(conn, request);
      const length = await reader.line();
      const latency = performance.now() - start;
      if (
        expect.length > 0 &&
        (first ? !sameBytes(reader.buffer, expect, length) : length !== expect.length)
      ) {
        const text = new TextDecoder().decode(reader.buffer.subarray(0, length));
        const reply = JSON.stringify(text);
        run.fail(`unexpected reply ${reply.length > 80 ? reply.slice(0, 80) + "..." : reply}`);
      }
      reader.consume(length);
      first = false;
      if (run.phase === MEASURE) {
        run.requests++;
        run.latencies.recordMs(latency);
      }
    }
  } catch (error) {
    if (run.phase !== STOP) run.fail((error as Error).message);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed at the end of the drain.
    }
  }
}

function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

async function connectAll(options: LoadOptions, run: Run): Promise<Deno.TcpConn[]> {
  const attempts = await Promise.allSettled(
    Array.from(
      { length: options.conns },
      () => Deno.connect({ hostname: HOSTNAME, port: options.port }),
    ),
  );
  const conns: Deno.TcpConn[] = [];
  for (const attempt of attempts) {
    if (attempt.status === "fulfilled") {
      conns.push(attempt.value);
      try {
        attempt.value.setNoDelay(true);
      } catch {
        // The server already dropped it; the first read will say so.
      }
    } else {
      run.fail(`connect failed: ${(attempt.reason as Error).message}`);
    }
  }
  return conns;
}

/** Runs the load described by `options` and returns its result. */
async function load(options: LoadOptions): Promise<LoadResult> {
  const run = new Run();
  const conns = await connectAll(options, run);
  if (conns.length === 0) {
    for (const [message, count] of run.errorMessages) console.error(`load: ${count} x ${message}`);
    throw new Error(`no connection to ${HOSTNAME}:${options.port}`);
  }
  const loops = conns.map((conn) => drive(conn, run, options));
  const finished = Promise.all(loops);

  await sleep(options.warmup * 1000);
  const serverCpu = (pid: number): Promise<number | null> =>
    options.serverTree ? treeCpuTimeMs(pid) : cpuTimeMs(pid);
  const serverCpuStart = options.serverPid === undefined
    ? null
    : await serverCpu(options.serverPid);
  run.phase = MEASURE;
  const cpuStart = ownCpuMs();
  const start = performance.now();

  await sleep(options.seconds * 1000);
  run.phase = STOP;
  const seconds = (performance.now() - start) / 1000;
  const cpuMs = ownCpuMs() - cpuStart;
  const serverCpuEnd = options.serverPid === undefined ? null : await serverCpu(options.serverPid);

  // Let each connection finish its request in flight, then close what is left.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([finished, new Promise((resolve) => timer = setTimeout(resolve, DRAIN_MS))]);
  clearTimeout(timer);
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Its loop closed it.
    }
  }
  await finished;

  for (const [message, count] of run.errorMessages) console.error(`load: ${count} x ${message}`);
  const result: LoadResult = {
    requests: run.requests,
    seconds: round3(seconds),
    rps: Math.round(run.requests / seconds),
    p50_ms: round3(run.latencies.percentileMs(0.5)),
    p99_ms: round3(run.latencies.percentileMs(0.99)),
    errors: run.errors,
    cpu_ms: Math.round(cpuMs),
    conns: conns.length,
  };
  if (serverCpuStart !== null && serverCpuEnd !== null) {
    result.server_cpu_ms = serverCpuEnd - serverCpuStart;
  }
  return result;
}

if (import.meta.main) {
  try {
    console.log(JSON.stringify(await load(parseOptions(Deno.args))));
  } catch (error) {
    console.error(`load: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
