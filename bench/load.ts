/**
 * A closed-loop load generator for line servers on 127.0.0.1. Each of C
 * keep-alive connections keeps one request in flight: it writes `Plumber\n`,
 * reads up to the reply's `\n`, records the latency and starts over. After a
 * warmup it measures for a fixed time, stops by itself, closes every
 * connection and prints one JSON line:
 *
 * ```json
 * {"requests":1,"seconds":5,"rps":1,"p50_ms":1,"p99_ms":1,"errors":0,"cpu_ms":1,"conns":16}
 * ```
 *
 * `cpu_ms` is this process's own user+system CPU time during the measured
 * window; with `--server-pid PID` the JSON also holds `server_cpu_ms`, the
 * CPU time of that process in the same window (Linux; needs `--allow-run=cat`).
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/load.ts --port 12345 --conns 16 --seconds 5
 * ```
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { numberFlag } from "./flags.ts";
import { LatencyHistogram } from "./histogram.ts";
import { cpuTimeMs } from "./proc.ts";

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
const REQUEST = encoder.encode("Plumber\n");

/** The command line of a run. */
interface LoadOptions {
  port: number;
  conns: number;
  seconds: number;
  warmup: number;
  /** The reply line expected, with its `\n`. */
  expect: Uint8Array;
  serverPid: number | undefined;
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
  /** CPU time of `--server-pid` in the measured window, in ms (10 ms steps), when known. */
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
      `[--expect "Hello, Plumber"] [--host 127.0.0.1] [--server-pid PID]`,
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
        expect: { type: "string" },
        "server-pid": { type: "string" },
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
    return {
      port: numberFlag(values.port, "port", 0, { min: 1, max: 65535, integer: true }),
      conns,
      seconds: numberFlag(values.seconds, "seconds", 5, { min: 0.1, max: MAX_SECONDS }),
      warmup: numberFlag(values.warmup, "warmup", 1, { min: 0, max: MAX_SECONDS }),
      expect: encoder.encode(`${values.expect ?? "Hello, Plumber"}\n`),
      serverPid: pid === undefined
        ? undefined
        : numberFlag(pid, "server-pid", 0, { min: 1, max: 2 ** 31, integer: true }),
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

/**
 * One connection's closed loop: a request, its whole reply, repeat until the
 * run stops. Every reply must be one line as long as the expected one; the
 * first is also compared byte by byte.
 */
async function drive(conn: Deno.TcpConn, run: Run, expect: Uint8Array): Promise<void> {
  const buffer = new Uint8Array(Math.max(4096, 2 * expect.length));
  let first = true;
  try {
    while (run.phase !== STOP) {
      const start = performance.now();
      await writeAll(conn, REQUEST);
      let got = 0;
      let newline = -1;
      while (newline < 0) {
        if (got === buffer.length) throw new Error(`reply longer than ${buffer.length} bytes`);
        const n = await conn.read(got === 0 ? buffer : buffer.subarray(got));
        if (n === null) throw new Error("server closed the connection");
        for (let i = got; i < got + n; i++) {
          if (buffer[i] === LF) {
            newline = i;
            break;
          }
        }
        got += n;
      }
      const latency = performance.now() - start;
      if (newline !== got - 1) throw new Error("bytes after the reply's newline");
      if (first ? !sameBytes(buffer, expect, got) : got !== expect.length) {
        const reply = JSON.stringify(new TextDecoder().decode(buffer.subarray(0, got)));
        run.fail(`unexpected reply ${reply.length > 80 ? reply.slice(0, 80) + "..." : reply}`);
      }
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
  const loops = conns.map((conn) => drive(conn, run, options.expect));
  const finished = Promise.all(loops);

  await sleep(options.warmup * 1000);
  const serverCpuStart = options.serverPid === undefined
    ? null
    : await cpuTimeMs(options.serverPid);
  run.phase = MEASURE;
  const cpuStart = ownCpuMs();
  const start = performance.now();

  await sleep(options.seconds * 1000);
  run.phase = STOP;
  const seconds = (performance.now() - start) / 1000;
  const cpuMs = ownCpuMs() - cpuStart;
  const serverCpuEnd = options.serverPid === undefined ? null : await cpuTimeMs(options.serverPid);

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
