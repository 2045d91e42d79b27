/**
 * A closed-loop load generator for line servers on 127.0.0.1, in Deno. The
 * benchmark (`run.ts`) uses `loadgen.c`, which speaks the same command line
 * and prints the same JSON at a fraction of the CPU, and falls back to this
 * one when there is no C compiler.
 *
 * `--mode keepalive` (the default): each of C keep-alive connections keeps one
 * request in flight: it writes a line (`Plumber\n`, or `--line TEXT`), reads up
 * to the reply's `\n`, records the latency and starts over. After a warmup it
 * measures for a fixed time, stops by itself, closes every connection and
 * prints one JSON line:
 *
 * ```json
 * {"requests":1,"seconds":5,"rps":1,"p50_ms":1,"p99_ms":1,"p999_ms":1,"max_ms":1,"errors":0,"cpu_ms":1,"conns":16}
 * ```
 *
 * `--mode connect`: each of C slots opens a new connection per request
 * (connect, write the line, read the reply, close, repeat); the latency runs
 * from the connect. The JSON adds `connect_errors`, `time_wait_max` and
 * `slowest_second` (see {@linkcode LoadResult}). This one cannot pick source
 * addresses (`loadgen --sources N` can), so on 127.0.0.1 it meets the limit of
 * ephemeral ports held in TIME_WAIT sooner.
 *
 * `--mode idle` (needs `--server-pid`): a keep-alive warmup over at most 16
 * connections, then the server's resident memory, then C connections that
 * each send one request, read the reply and stay open and idle for
 * `--seconds`; the JSON adds the resident memory before, once all are idle
 * and at the end of the hold, and how many were still open.
 *
 * Every reply must be `--expect TEXT` (default `Hello, Plumber`): the first
 * one of a connection is compared byte by byte, the others by length.
 * `--expect ""` takes any one line as the reply, for servers whose replies
 * vary. Bytes after a reply's `\n` that do not end a line, such as a prompt,
 * are the start of the next reply; a whole second line is an error. With
 * `--greeting`, each connection first reads one line and drops it, for
 * servers that greet.
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
 * deno run --allow-net=127.0.0.1 --allow-run=cat bench/load.ts --port 12345 --mode idle \
 *   --conns 10000 --server-pid 4242
 * ```
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { numberFlag } from "./flags.ts";
import { LatencyHistogram } from "./histogram.ts";
import { cpuTimeMs, machineCpuMs, residentKiB, timeWaitCount, treeCpuTimeMs } from "./proc.ts";

/** The only host this tool sends load to. */
const HOSTNAME = "127.0.0.1";
/** Most connections one run may open. */
const MAX_CONNS = 10000;
/** Longest measured window, in seconds, so that every run is bounded. */
const MAX_SECONDS = 600;
/** How long in-flight requests may take to finish once the window closed, in ms. */
const DRAIN_MS = 2000;
/** A connect-mode slot waits this long after an error before it tries again, in ms. */
const RETRY_MS = 10;
/** Idle mode: connections between connect and reply at once. */
const IDLE_PENDING = 128;
/** Idle mode: connections of the warmup, at most. */
const IDLE_WARMUP_CONNS = 16;
/** Idle mode: how long opening every connection may take, in ms. */
const IDLE_OPEN_LIMIT_MS = 20000;
/** Connect mode: how often TIME_WAIT sockets are counted, in ms. */
const SOCKSTAT_MS = 1000;
const LF = 0x0a;
const encoder = new TextEncoder();

/** How each connection is used. */
export type LoadMode = "keepalive" | "connect" | "idle";
const MODES: readonly LoadMode[] = ["keepalive", "connect", "idle"];

/** The command line of a run. */
interface LoadOptions {
  mode: LoadMode;
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

/** The JSON line that `load.ts` and `loadgen.c` print. */
export interface LoadResult {
  /** Replies received in the measured window (idle mode: while opening). */
  requests: number;
  /** Length of the measured window (idle mode: of the hold), in seconds. */
  seconds: number;
  /** `requests / seconds`, rounded; 0 in idle mode. */
  rps: number;
  /**
   * Median latency from writing a request (connect and idle modes: from
   * connecting) to reading its reply's `\n`, in ms.
   */
  p50_ms: number;
  /** 99th percentile latency, in ms. */
  p99_ms: number;
  /** 99.9th percentile latency, in ms. */
  p999_ms: number;
  /** The slowest request, in ms (the middle of its histogram bucket). */
  max_ms: number;
  /** Failed connects, dropped connections and wrong replies, warmup included. */
  errors: number;
  /** This process's user+system CPU time in the measured window, in ms. */
  cpu_ms: number;
  /** Connections open at the start (connect and idle modes: slots, connections asked for). */
  conns: number;
  /**
   * CPU time of `--server-pid` in the measured window, in ms (10 ms steps), when known;
   * with `--server-tree`, of its children too.
   */
  server_cpu_ms?: number;
  /**
   * Busy CPU time of all processors in the measured window, in ms (10 ms
   * steps, from `/proc/stat`): what `cpu_ms` and `server_cpu_ms` leave of it,
   * other processes took.
   */
  machine_cpu_ms?: number;
  /** Connect mode: connects that failed (part of `errors`). */
  connect_errors?: number;
  /** Connect mode: the most TCP sockets in TIME_WAIT seen in this network namespace. */
  time_wait_max?: number;
  /** Connect mode: replies in the slowest whole second of the window, to see the rate held. */
  slowest_second?: number;
  /** Idle mode: connections answered and held open when the hold began. */
  idle_conns?: number;
  /** Idle mode: connections still open, with nothing received, at the end of the hold. */
  open_at_end?: number;
  /** Idle mode: the server's VmRSS in KiB after the warmup, before opening the connections. */
  rss_before_kib?: number;
  /** Idle mode: the server's VmRSS in KiB once every connection was answered. */
  rss_loaded_kib?: number;
  /** Idle mode: the server's VmRSS in KiB at the end of the hold. */
  rss_idle_kib?: number;
  /** Idle mode: how long opening the connections took, in seconds. */
  open_seconds?: number;
}

const WARMUP = 0;
const MEASURE = 1;
const STOP = 2;

/** State shared by every connection's loop. */
class Run {
  phase = WARMUP;
  requests = 0;
  errors = 0;
  connectErrors = 0;
  /** When the measured window started, from `performance.now()`. */
  measureStart = 0;
  /** Replies in each second of the measured window. */
  readonly perSecond: number[] = [];
  readonly latencies = new LatencyHistogram();
  readonly errorMessages = new Map<string, number>();

  /** Counts an error, keeping its message for the summary on stderr. */
  fail(message: string): void {
    this.errors++;
    this.errorMessages.set(message, (this.errorMessages.get(message) ?? 0) + 1);
  }

  /** Counts a reply whose request started at `start` (from `performance.now()`). */
  replied(start: number): void {
    if (this.phase !== MEASURE) return;
    const now = performance.now();
    this.requests++;
    this.latencies.recordMs(now - start);
    const second = Math.floor((now - this.measureStart) / 1000);
    if (second >= 0 && second < MAX_SECONDS) {
      this.perSecond[second] = (this.perSecond[second] ?? 0) + 1;
    }
  }

  printErrors(): void {
    for (const [message, count] of this.errorMessages) console.error(`load: ${count} x ${message}`);
  }
}

function usage(message: string): never {
  console.error(
    `load: ${message}\nusage: load.ts --port N [--conns C] [--seconds S] [--warmup W] ` +
      `[--line Plumber] [--expect "Hello, Plumber"] [--greeting] [--host 127.0.0.1] ` +
      `[--server-pid PID [--server-tree]] [--mode keepalive|connect|idle]`,
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
        mode: { type: "string" },
        sources: { type: "string" },
      },
    });
    if (values.host !== undefined && values.host !== HOSTNAME) {
      throw new Error(`only ${HOSTNAME} may be loaded, got --host ${values.host}`);
    }
    if (values.port === undefined) throw new Error("--port is required");
    if (values.sources !== undefined && values.sources !== "1") {
      throw new Error("load.ts connects from 127.0.0.1 only; loadgen.c takes --sources N");
    }
    const mode = (values.mode ?? "keepalive") as LoadMode;
    if (!MODES.includes(mode)) {
      throw new Error(`--mode must be ${MODES.join(", ")}, got "${values.mode}"`);
    }
    let conns = numberFlag(values.conns, "conns", 16, { min: 1, max: 1e9, integer: true });
    if (conns > MAX_CONNS) {
      console.error(`load: --conns ${conns} capped at ${MAX_CONNS}`);
      conns = MAX_CONNS;
    }
    const pid = values["server-pid"];
    if (values["server-tree"] && pid === undefined) {
      throw new Error("--server-tree needs --server-pid");
    }
    if (mode === "idle" && pid === undefined) throw new Error("--mode idle needs --server-pid");
    const line = values.line ?? "Plumber";
    const expect = values.expect ?? "Hello, Plumber";
    if (/[\r\n]/.test(line + expect)) throw new Error("--line and --expect must be one line each");
    return {
      mode,
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

  constructor(conn: Deno.Conn, options: LoadOptions) {
    this.#conn = conn;
    this.buffer = new Uint8Array(Math.max(4096, 2 * options.expect.length));
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
 * Checks the reply line of `length` bytes at the start of `reader`'s buffer
 * (byte by byte when it is the connection's `first`, else by length) and
 * drops it.
 */
function takeReply(
  reader: LineReader,
  length: number,
  first: boolean,
  run: Run,
  options: LoadOptions,
): void {
  const expect = options.expect;
  if (
    expect.length > 0 &&
    (first ? !sameBytes(reader.buffer, expect, length) : length !== expect.length)
  ) {
    const text = new TextDecoder().decode(reader.buffer.subarray(0, length));
    const reply = JSON.stringify(text);
    run.fail(`unexpected reply ${reply.length > 80 ? reply.slice(0, 80) + "..." : reply}`);
  }
  reader.consume(length);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * One connection's closed loop: a request, its whole reply, repeat until the
 * run stops. With an expected reply, every reply must be one line as long as
 * it; the first is also compared byte by byte.
 */
async function drive(conn: Deno.TcpConn, run: Run, options: LoadOptions): Promise<void> {
  const reader = new LineReader(conn, options);
  let first = true;
  try {
    if (options.greeting) reader.consume(await reader.line());
    while (run.phase !== STOP) {
      const start = performance.now();
      await writeAll(conn, options.request);
      takeReply(reader, await reader.line(), first, run, options);
      first = false;
      run.replied(start);
    }
  } catch (error) {
    if (run.phase !== STOP) run.fail((error as Error).message);
  } finally {
    closeQuietly(conn);
  }
}

/** Connects to the server with no delay; counts a failure and rethrows it. */
async function connect(run: Run, options: LoadOptions): Promise<Deno.TcpConn> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: HOSTNAME, port: options.port });
  } catch (error) {
    run.connectErrors++;
    if (run.phase !== STOP) run.fail(`connect failed: ${(error as Error).message}`);
    throw error;
  }
  try {
    conn.setNoDelay(true);
  } catch {
    // The server already dropped it; the first read will say so.
  }
  return conn;
}

/**
 * Connects, reads the greeting if any, sends one request and takes its reply;
 * returns the open connection, or `null` after counting the failure.
 */
async function oneRequest(
  run: Run,
  options: LoadOptions,
): Promise<{ conn: Deno.TcpConn; reader: LineReader } | null> {
  const start = performance.now();
  let conn: Deno.TcpConn;
  try {
    conn = await connect(run, options);
  } catch {
    return null;
  }
  const reader = new LineReader(conn, options);
  try {
    if (options.greeting) reader.consume(await reader.line());
    await writeAll(conn, options.request);
    takeReply(reader, await reader.line(), true, run, options);
    run.replied(start);
    return { conn, reader };
  } catch (error) {
    if (run.phase !== STOP) run.fail((error as Error).message);
    closeQuietly(conn);
    return null;
  }
}

/** One connect-mode slot: a new connection per request until the run stops. */
async function driveConnect(run: Run, options: LoadOptions): Promise<void> {
  while (run.phase !== STOP) {
    const done = await oneRequest(run, options);
    if (done === null) await sleep(RETRY_MS);
    else closeQuietly(done.conn);
  }
}

function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise`, at most `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

async function connectAll(count: number, options: LoadOptions, run: Run): Promise<Deno.TcpConn[]> {
  const attempts = await Promise.allSettled(
    Array.from({ length: count }, () => connect(run, options)),
  );
  return attempts.flatMap((attempt) => attempt.status === "fulfilled" ? [attempt.value] : []);
}

/** The server's CPU time so far, as `--server-pid` and `--server-tree` ask, or `null`. */
function serverCpu(options: LoadOptions): Promise<number | null> {
  if (options.serverPid === undefined) return Promise.resolve(null);
  return options.serverTree ? treeCpuTimeMs(options.serverPid) : cpuTimeMs(options.serverPid);
}

/** The measured window: CPU times and length, for the JSON line. */
interface Window {
  seconds: number;
  cpuMs: number;
  serverCpuMs: number | null;
  machineCpuMs: number | null;
}

/** Measures for `options.seconds` from now, with `run` in its MEASURE phase, then stops it. */
async function measureWindow(run: Run, options: LoadOptions, stop = true): Promise<Window> {
  const serverCpuStart = await serverCpu(options);
  const machineCpuStart = await machineCpuMs();
  run.phase = MEASURE;
  const cpuStart = ownCpuMs();
  const start = run.measureStart = performance.now();
  await sleep(options.seconds * 1000);
  if (stop) run.phase = STOP;
  const seconds = (performance.now() - start) / 1000;
  const cpuMs = ownCpuMs() - cpuStart;
  const machineCpuEnd = await machineCpuMs();
  const serverCpuEnd = await serverCpu(options);
  return {
    seconds,
    cpuMs,
    serverCpuMs: serverCpuStart === null || serverCpuEnd === null
      ? null
      : serverCpuEnd - serverCpuStart,
    machineCpuMs: machineCpuStart === null || machineCpuEnd === null
      ? null
      : machineCpuEnd - machineCpuStart,
  };
}

/** The JSON line common to the modes. */
function result(run: Run, window: Window, conns: number, rps = true): LoadResult {
  const out: LoadResult = {
    requests: run.requests,
    seconds: round3(window.seconds),
    rps: rps ? Math.round(run.requests / window.seconds) : 0,
    p50_ms: round3(run.latencies.percentileMs(0.5)),
    p99_ms: round3(run.latencies.percentileMs(0.99)),
    p999_ms: round3(run.latencies.percentileMs(0.999)),
    max_ms: round3(run.latencies.percentileMs(1)),
    errors: run.errors,
    cpu_ms: Math.round(window.cpuMs),
    conns,
  };
  if (window.serverCpuMs !== null) out.server_cpu_ms = window.serverCpuMs;
  if (window.machineCpuMs !== null) out.machine_cpu_ms = window.machineCpuMs;
  return out;
}

/** Lets each connection finish its request in flight, then closes what is left. */
async function drain(finished: Promise<unknown>, conns: Deno.Conn[]): Promise<void> {
  await within(finished, DRAIN_MS);
  for (const conn of conns) closeQuietly(conn);
  await finished;
}

/** Keep-alive connections, one request in flight each. */
async function keepalive(options: LoadOptions): Promise<LoadResult> {
  const run = new Run();
  const conns = await connectAll(options.conns, options, run);
  if (conns.length === 0) {
    run.printErrors();
    throw new Error(`no connection to ${HOSTNAME}:${options.port}`);
  }
  const finished = Promise.all(conns.map((conn) => drive(conn, run, options)));
  await sleep(options.warmup * 1000);
  const window = await measureWindow(run, options);
  await drain(finished, conns);
  run.printErrors();
  return result(run, window, conns.length);
}

/** A new connection per request, in `options.conns` slots. */
async function connectMode(options: LoadOptions): Promise<LoadResult> {
  const run = new Run();
  const finished = Promise.all(
    Array.from({ length: options.conns }, () => driveConnect(run, options)),
  );
  let timeWaitMax = -1;
  const sample = async (): Promise<void> => {
    timeWaitMax = Math.max(timeWaitMax, await timeWaitCount() ?? -1);
  };
  const sampler = setInterval(sample, SOCKSTAT_MS);
  await sleep(options.warmup * 1000);
  const window = await measureWindow(run, options);
  clearInterval(sampler);
  await sample();
  await within(finished, DRAIN_MS);
  run.printErrors();
  const whole = Math.floor(window.seconds);
  const seconds = Array.from({ length: whole }, (_, i) => run.perSecond[i] ?? 0);
  return {
    ...result(run, window, options.conns),
    connect_errors: run.connectErrors,
    time_wait_max: timeWaitMax,
    slowest_second: seconds.length === 0 ? -1 : Math.min(...seconds),
  };
}

/** Connections that each send one request and then stay open and idle. */
async function idle(options: LoadOptions, pid: number): Promise<LoadResult> {
  const run = new Run();
  if (options.warmup > 0) {
    const warm = await connectAll(Math.min(options.conns, IDLE_WARMUP_CONNS), options, run);
    const finished = Promise.all(warm.map((conn) => drive(conn, run, options)));
    await sleep(options.warmup * 1000);
    run.phase = STOP;
    await drain(finished, warm);
    await sleep(500);
  }
  const before = await residentKiB(pid);
  run.phase = MEASURE;
  const held: Deno.TcpConn[] = [];
  let next = 0;
  const openStart = performance.now();
  const opening = Promise.all(
    Array.from({ length: Math.min(IDLE_PENDING, options.conns) }, async () => {
      while (next < options.conns && run.phase === MEASURE) {
        next++;
        const done = await oneRequest(run, options);
        if (done === null) continue;
        if (run.phase === MEASURE) held.push(done.conn);
        else closeQuietly(done.conn);
      }
    }),
  );
  await within(opening, IDLE_OPEN_LIMIT_MS);
  const openSeconds = (performance.now() - openStart) / 1000;
  if (held.length + run.errors < options.conns) {
    run.fail(`not all answered within ${IDLE_OPEN_LIMIT_MS} ms`);
  }
  const idleConns = held.length;
  const loaded = await residentKiB(pid);
  // Whatever arrives on a held connection during the hold is an error.
  let open = idleConns;
  const watching = held.slice(0, idleConns).map(async (conn) => {
    try {
      const n = await conn.read(new Uint8Array(1));
      if (run.phase === STOP) return;
      run.fail(
        n === null ? "server closed an idle connection" : "server sent bytes to an idle connection",
      );
    } catch (error) {
      if (run.phase === STOP) return;
      run.fail(`idle connection broken: ${(error as Error).message}`);
    }
    open--;
  });
  const window = await measureWindow(run, options, false);
  const openAtEnd = open;
  const idleRss = await residentKiB(pid);
  run.phase = STOP;
  await opening.catch(() => {});
  for (const conn of held) closeQuietly(conn);
  await Promise.all(watching);
  run.printErrors();
  return {
    ...result(run, window, options.conns, false),
    idle_conns: idleConns,
    open_at_end: openAtEnd,
    rss_before_kib: before ?? -1,
    rss_loaded_kib: loaded ?? -1,
    rss_idle_kib: idleRss ?? -1,
    open_seconds: round3(openSeconds),
  };
}

/** Runs the load described by `options` and returns its result. */
function load(options: LoadOptions): Promise<LoadResult> {
  switch (options.mode) {
    case "keepalive":
      return keepalive(options);
    case "connect":
      return connectMode(options);
    case "idle":
      return idle(options, options.serverPid!);
  }
}

if (import.meta.main) {
  try {
    console.log(JSON.stringify(await load(parseOptions(Deno.args))));
  } catch (error) {
    console.error(`load: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
