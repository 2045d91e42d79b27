/**
 * The HTTP benchmark: plumb serving `examples/http.json` against `Deno.serve`
 * (`bench/deno_serve.ts`) and Node's `node:http` (`bench/node_http_server.mjs`,
 * run with the machine's `node`), both serving the same responses (the same
 * body and `content-type`), all loaded by `wrk` (one thread, keep-alive,
 * `--conns` connections) on `GET --path` (default `/api/hello`,
 * `{"message":"Hello, world!"}`; `/index.html` and such load a file of
 * `examples/www`, `/1mb.bin` a file of 1 MiB). The files are served from
 * `bench/results/www`, a copy of `examples/www` with the 1 MiB file, made at
 * each run, plumb's from `bench/results/http.json`, which is
 * `examples/http.json` with its `http/static` node on that copy.
 *
 * The method:
 *
 * - First a correctness check: each server, started once for it, is asked for
 *   the path with `fetch()`; all must answer 200 with plumb's body (and
 *   `content-type`), else the notes say how they differ. The run goes on
 *   either way.
 * - Then `--rounds` rounds; each round measures every server, the order
 *   rotating from round to round, so that a slow spell of this shared machine
 *   hits all alike. Each measurement starts a fresh server, runs `wrk` for
 *   `--warmup` seconds (not counted), then `wrk --latency` for `--seconds` and
 *   parses its `Requests/sec:`, its request count and the 50 % and 99 % of its
 *   latency distribution, then stops the server (SIGTERM).
 * - The table gives, per server, the median over the rounds of req/s, p50,
 *   p99 and the server's CPU time per request (its utime + stime from
 *   /proc/PID/stat over the measured window, over the requests wrk counted),
 *   and the medians of the per-round ratios to Deno.serve and node:http (each
 *   taken from measurements a few seconds apart). It also gives the CPU taken
 *   in the measured window by the server, by wrk and by everything else on the
 *   machine (from /proc): a high `others` marks a disturbed cell. The report
 *   ends with plumb's CPU per request against the goals of issue 18, met or
 *   missed.
 * - The server runs on processor 0 and wrk on processor 1 (`taskset`) when the
 *   machine allows it; `--no-pin` turns that off.
 * - `--profile` then runs plumb once more with `deno run --cpu-prof
 *   --cpu-prof-dir=bench/results/http-prof` under the same warmup and load,
 *   stops it with SIGINT (plumb stops cleanly and V8 writes the profile as the
 *   process exits), and lists the 25 functions with the most self time, as
 *   percentages of the samples that were not idle. The profile covers the
 *   whole process: start-up and warmup too. Deno writes it without any
 *   `--allow-write` (the runtime writes it, not the program), so plumb gets
 *   only its usual permissions. Profiles pile up in that directory.
 *
 * The tables are printed and saved to `bench/results/http.md` (through
 * `bench/save_results.ts`: the task grants no write access).
 *
 * Flags: `--seconds S` (whole seconds, default 5), `--warmup W` (default 1),
 * `--rounds R` (default 3), `--conns C` (default 50), `--path P` (default
 * `/api/hello`), `--profile`, `--no-pin`.
 *
 * ```sh
 * deno task bench:http
 * deno task bench:http --rounds 3 --seconds 3
 * deno task bench:http --path /index.html
 * deno task bench:http --path /1mb.bin
 * deno task bench:http --rounds 1 --seconds 3 --profile
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { canPin, median, nodeVersion, Notes, runMain } from "./common.ts";
import {
  byPart,
  type CpuProfile,
  newestNew,
  profileFiles,
  profileTable,
  type SelfTimes,
  selfTimes,
  waitExit,
} from "./cpu_profile.ts";
import { MIME_TYPES } from "../servlets/http/mime.ts";
import { numberFlag } from "./flags.ts";
import { cpuModel, cpuTimeMs, machineCpuMs, processorCount } from "./proc.ts";
import { type ServerExit, type ServerProcess, startServer } from "./server_process.ts";

/** The task's command line, for the report. */
const TASK_COMMAND = "deno run --allow-net=127.0.0.1 --allow-read --allow-run bench/http.ts";
/** The repository root: children run there, with paths relative to it. */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
/** Where the report is saved, relative to the repository root. */
const RESULTS_FILE = "bench/results/http.md";
/** Where `--profile` has plumb write its `.cpuprofile`, relative to the repository root. */
const PROFILE_DIR = "bench/results/http-prof";
/** Functions listed from the profile. */
const TOP_FUNCTIONS = 25;
/** What plumb prints on standard error when told to stop (after its code); not worth reporting. */
const STOPPING_MESSAGE = /^plumb: (PLUMB_\w+ )?stopping \(a second signal exits at once\)$/;
/** How long a server may take to exit after its signal before it is killed, in ms. */
const STOP_GRACE_MS = 10000;
/** Extra time a wrk run may take beyond its duration before it is killed, in ms. */
const WRK_SLACK_MS = 30000;
/** How long the correctness check waits for an answer, in ms. */
const FETCH_TIMEOUT_MS = 10000;
/** Processors of the server and of wrk when pinning. */
const SERVER_CPU = 0;
const LOAD_CPU = 1;
/** wrk's threads: one, on its own processor. */
const WRK_THREADS = 1;

/** A server to measure: its name, and the program and arguments that start it from the root. */
export interface Target {
  name: string;
  program: "deno" | "node";
  args: string[];
}

/**
 * The files every server serves: a copy of `examples/www` and a 1 MiB file
 * (`/1mb.bin`), made by {@linkcode prepareFiles} at each run, under the
 * results directory (the repository keeps no 1 MiB file).
 */
const WWW = "bench/results/www";
/** The big file's name and size. */
const BIG_FILE = "1mb.bin";
const BIG_FILE_BYTES = 1048576;
/** `examples/http.json` with its files node on {@linkcode WWW}, made by {@linkcode prepareFiles}. */
const GRAPH = "bench/results/http.json";

const PLUMB: Target = {
  name: "plumb",
  program: "deno",
  args: ["run", "--allow-net", "--allow-read", "main.ts", GRAPH, "--port", "0"],
};
const DENO_SERVE: Target = {
  name: "Deno.serve",
  program: "deno",
  args: [
    "run",
    "--allow-net=127.0.0.1",
    `--allow-read=${WWW}`,
    "bench/deno_serve.ts",
    "--port",
    "0",
    "--www",
    WWW,
  ],
};
const NODE_HTTP: Target = {
  name: "node:http",
  program: "node",
  args: [
    "bench/node_http_server.mjs",
    "--port",
    "0",
    "--types",
    JSON.stringify(MIME_TYPES),
    "--www",
    WWW,
  ],
};
/** The least a JavaScript server on `Deno.listen` does: a floor row for `/api/hello`. */
const RAW_HTTP: Target = {
  name: "raw Deno.listen",
  program: "deno",
  args: ["run", "--allow-net=127.0.0.1", "bench/raw_http_server.ts", "--port", "0"],
};
/** The path the raw server answers (whatever the request): what plumb's example answers there. */
const HELLO = "/api/hello";
/** The raw server as the floor for the large file: it answers that file, from a buffer it keeps. */
const RAW_FILE: Target = {
  name: "raw Deno.listen",
  program: "deno",
  args: [
    "run",
    "--allow-net=127.0.0.1",
    `--allow-read=${WWW}`,
    "bench/raw_http_server.ts",
    "--port",
    "0",
    "--file",
    `${WWW}/${BIG_FILE}`,
  ],
};
/** The same with a new buffer for each reply, as a server must that hands its bytes on. */
const RAW_FILE_FRESH: Target = {
  name: "raw, new buffers",
  program: "deno",
  args: [...RAW_FILE.args, "--fresh"],
};
/** Every target, in the order of the tables; the baselines after plumb. */
export const TARGETS: readonly Target[] = [PLUMB, DENO_SERVE, NODE_HTTP];

/**
 * The targets measured on `path`: {@linkcode TARGETS}, and the raw floor on
 * `/api/hello` and on the large file.
 */
export function targetsFor(path: string): readonly Target[] {
  if (path === HELLO) return [...TARGETS, RAW_HTTP];
  if (path === `/${BIG_FILE}`) return [...TARGETS, RAW_FILE, RAW_FILE_FRESH];
  return TARGETS;
}
/** The baselines every target is compared with. */
const BASES: readonly Target[] = [DENO_SERVE, NODE_HTTP];
/** plumb with the CPU profiler on. */
const PLUMB_PROFILED: Target = {
  name: "plumb --cpu-prof",
  program: "deno",
  args: ["run", "--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, ...PLUMB.args.slice(1)],
};

/**
 * The most server CPU per request plumb may take, as a multiple of each
 * baseline's (issue 18): `GET /api/hello` at most 1.25x Deno.serve's and
 * 0.6x node:http's; a file at most 1.25x Deno.serve's.
 */
function cpuGoals(path: string): { base: Target; max: number }[] {
  return path.startsWith("/api/")
    ? [{ base: DENO_SERVE, max: 1.25 }, { base: NODE_HTTP, max: 0.6 }]
    : [{ base: DENO_SERVE, max: 1.25 }];
}

/** The command line of a run. */
interface HttpBenchOptions {
  seconds: number;
  warmup: number;
  rounds: number;
  conns: number;
  /** The request path, with its query if any. */
  path: string;
  /** The servers measured, in the order of the tables. */
  targets: readonly Target[];
  /** Server on processor 0, wrk on processor 1. */
  pin: boolean;
  profile: boolean;
}

const USAGE = "flags are --seconds S --warmup W --rounds R --conns C --path /P --profile --no-pin";

function parseOptions(args: string[]): HttpBenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      seconds: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      conns: { type: "string" },
      path: { type: "string" },
      profile: { type: "boolean" },
      pin: { type: "boolean" },
      "no-pin": { type: "boolean" },
    },
  });
  const path = values.path ?? "/api/hello";
  if (!/^\/[\x21-\x7e]*$/.test(path)) {
    throw new Error(`--path must start with / and hold no spaces, got "${path}"`);
  }
  return {
    // wrk takes whole seconds only.
    seconds: numberFlag(values.seconds, "seconds", 5, { min: 1, max: 600, integer: true }),
    warmup: numberFlag(values.warmup, "warmup", 1, { min: 0, max: 60, integer: true }),
    rounds: numberFlag(values.rounds, "rounds", 3, { min: 1, max: 20, integer: true }),
    conns: numberFlag(values.conns, "conns", 50, { min: 1, max: 10000, integer: true }),
    path,
    targets: targetsFor(path),
    pin: !values["no-pin"] && (values.pin || canPin()),
    profile: values.profile ?? false,
  };
}

/** The command and arguments that run `program` with `args`, on processor `cpu` when pinning. */
function pinned(program: string, args: string[], pin: boolean, cpu: number): [string, string[]] {
  return pin ? ["taskset", ["-c", String(cpu), program, ...args]] : [program, args];
}

/** Starts `target` from the repository root, on processor 0 when pinning. */
function start(target: Target, options: HttpBenchOptions): Promise<ServerProcess> {
  const program = target.program === "deno" ? Deno.execPath() : target.program;
  return startServer(...pinned(program, target.args, options.pin, SERVER_CPU), ROOT);
}

/** How a target is started, for the report. */
function commandOf(target: Target): string {
  return `\`${target.program} ${
    target.args.map((a) => a.startsWith("{") ? "'{...}'" : a).join(" ")
  }\``;
}

/** Reports what a server said on standard error and how it ended, when unusual. */
function noteExit(target: Target, exit: ServerExit, signal: string, notes: Notes): void {
  for (const line of exit.stderr.split("\n")) {
    if (line.trim() !== "" && !STOPPING_MESSAGE.test(line)) {
      notes.add(`${target.name} server said: ${line}`);
    }
  }
  if (exit.killed) {
    notes.add(
      `${target.name} server did not stop within ${STOP_GRACE_MS / 1000} s of ${signal} ` +
        "and was killed",
    );
  } else if (exit.code !== 0) {
    notes.add(`${target.name} server exited with status ${exit.code} after ${signal}`);
  }
}

/** One line or the whole of an error's message, on one line, at most 300 characters. */
function oneLine(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split("\n")
    .map((line) => line.trim()).filter((line) => line !== "").join(" / ");
  return message.length > 300 ? `${message.slice(0, 300)}...` : message;
}

// --- correctness -----------------------------------------------------------

/** What a server answered to one `fetch()`. */
interface Answer {
  status: number;
  contentType: string | null;
  body: Uint8Array;
}

/** Starts `target`, fetches the path once, stops it. */
async function fetchOnce(target: Target, options: HttpBenchOptions, notes: Notes): Promise<Answer> {
  const server = await start(target, options);
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}${options.path}`, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      body: await response.bytes(),
    };
  } finally {
    noteExit(target, await server.stop(STOP_GRACE_MS), "SIGTERM", notes);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A body for the notes: its text, shortened. */
function shown(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, 80));
  return `${body.length} bytes ${JSON.stringify(text)}${body.length > 80 ? "..." : ""}`;
}

/**
 * Fetches the path from each server and says in the notes whether all
 * answered 200 with plumb's body and content type; returns true when they did.
 */
async function checkCorrectness(options: HttpBenchOptions, notes: Notes): Promise<boolean> {
  const answers: Answer[] = [];
  for (const target of options.targets) {
    try {
      answers.push(await fetchOnce(target, options, notes));
    } catch (error) {
      notes.add(
        `correctness: MISMATCH: GET ${options.path} from ${target.name} failed: ` +
          oneLine(error),
      );
      return false;
    }
  }
  const plumb = answers[0];
  const problems: string[] = [];
  options.targets.forEach((target, i) => {
    const answer = answers[i];
    if (answer.status !== 200) problems.push(`${target.name} answered ${answer.status}`);
    if (i === 0) return;
    if (!sameBytes(plumb.body, answer.body)) {
      problems.push(
        `the bodies differ: plumb ${shown(plumb.body)}, ${target.name} ${shown(answer.body)}`,
      );
    }
    if (plumb.contentType !== answer.contentType) {
      problems.push(
        `content-type: plumb ${JSON.stringify(plumb.contentType)}, ` +
          `${target.name} ${JSON.stringify(answer.contentType)}`,
      );
    }
  });
  if (problems.length > 0) {
    notes.add(`correctness: MISMATCH on GET ${options.path}: ${problems.join("; ")}`);
    return false;
  }
  notes.add(
    `correctness: GET ${options.path} (\`fetch()\`): ${
      options.targets.map((t) => t.name).join(", ")
    } ` +
      `answered 200 with identical bodies (${plumb.body.length} bytes) and content-type ` +
      `\`${plumb.contentType}\``,
  );
  return true;
}

// --- wrk ---------------------------------------------------------------------

/** What one wrk run reported. */
interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** `Non-2xx or 3xx responses:` (0 when absent). */
  non2xx: number;
  /** wrk's `Socket errors:` line, when it printed one. */
  socketErrors: string | null;
}

/** The wrk arguments of a run of `seconds` against `port`. */
function wrkArgs(options: HttpBenchOptions, port: number | string, seconds: number): string[] {
  return [
    `-t${WRK_THREADS}`,
    `-c${options.conns}`,
    `-d${seconds}s`,
    "--latency",
    `http://127.0.0.1:${port}${options.path}`,
  ];
}

/** A latency of wrk (`152.00us`, `1.23ms`, `2.00s`, `1.00m`) in ms. */
function latencyMs(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000 };
  if (!(unit in scale)) throw new Error(`wrk printed a latency in unknown unit "${unit}"`);
  return Number(value) * scale[unit];
}

/** Parses the output of `wrk --latency`. */
function parseWrk(out: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const requests = /^\s*(\d+) requests in /m.exec(out);
  if (rps === null || p50 === null || p99 === null || requests === null) {
    throw new Error(`could not parse wrk's output: ${out.trim().split("\n").join(" / ")}`);
  }
  return {
    rps: Number(rps[1]),
    p50Ms: latencyMs(p50[1], p50[2]),
    p99Ms: latencyMs(p99[1], p99[2]),
    requests: Number(requests[1]),
    non2xx: Number(/^\s*Non-2xx or 3xx responses:\s+(\d+)/m.exec(out)?.[1] ?? 0),
    socketErrors: /^\s*Socket errors:\s*(.+)$/m.exec(out)?.[1].trim() ?? null,
  };
}

/** Runs wrk for `seconds` against `port` (on processor 1 when pinning) and parses its report. */
async function runWrk(
  options: HttpBenchOptions,
  port: number,
  seconds: number,
): Promise<WrkResult> {
  const [command, args] = pinned("wrk", wrkArgs(options, port, seconds), options.pin, LOAD_CPU);
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: "null",
    signal: AbortSignal.timeout(seconds * 1000 + WRK_SLACK_MS),
  }).output();
  const out = new TextDecoder().decode(stdout);
  if (!success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(stderr).trim()} ${out.trim()}`);
  }
  return parseWrk(out);
}

/** wrk's version line, or `null` when wrk cannot be run. */
async function wrkVersion(): Promise<string | null> {
  try {
    // `wrk -v` prints its version and usage and exits 1.
    const { stdout } = await new Deno.Command("wrk", { args: ["-v"], stdin: "null" }).output();
    return new TextDecoder().decode(stdout).split("\n")[0].replace(/\s*Copyright.*$/, "").trim();
  } catch {
    return null;
  }
}

// --- measuring ---------------------------------------------------------------

/**
 * User plus system CPU time, in ms, of the child processes this process has
 * reaped (`cutime` and `cstime` of `/proc/PID/stat`, read by `cat`, whose own
 * time lands in the next reading): wrk's time once it has exited.
 */
async function reapedChildrenCpuMs(): Promise<number | null> {
  try {
    const { success, stdout } = await new Deno.Command("cat", {
      args: [`/proc/${Deno.pid}/stat`],
      stdin: "null",
      stderr: "null",
    }).output();
    if (!success) return null;
    const stat = new TextDecoder().decode(stdout);
    // Fields after the command name: state is field 3, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
    return Number.isFinite(ticks) ? ticks * 10 : null;
  } catch {
    return null;
  }
}

/** One measurement: wrk's report and CPU shares of the window, as percentages of one core. */
interface Measurement extends WrkResult {
  serverCpu: number | null;
  /** The server's CPU time in the window over the requests wrk counted, in µs. */
  cpuPerRequestUs: number | null;
  wrkCpu: number | null;
  othersCpu: number | null;
}

/** Differences of CPU readings over a window of `ms`, as a percentage of one core. */
function share(before: number | null, after: number | null, ms: number): number | null {
  return before === null || after === null ? null : (100 * (after - before)) / ms;
}

/** Warms up and measures one fresh server of `target` under wrk. */
async function measure(
  target: Target,
  options: HttpBenchOptions,
  notes: Notes,
): Promise<Measurement> {
  const server = await start(target, options);
  let result: Measurement;
  try {
    if (options.warmup > 0) await runWrk(options, server.port, options.warmup);
    const [server0, machine0, wrk0] = await Promise.all([
      cpuTimeMs(server.pid),
      machineCpuMs(),
      reapedChildrenCpuMs(),
    ]);
    const t0 = performance.now();
    const wrk = await runWrk(options, server.port, options.seconds);
    const window = performance.now() - t0;
    const [server1, machine1, wrk1] = await Promise.all([
      cpuTimeMs(server.pid),
      machineCpuMs(),
      reapedChildrenCpuMs(),
    ]);
    const serverCpu = share(server0, server1, window);
    const wrkCpu = share(wrk0, wrk1, window);
    const machine = share(machine0, machine1, window);
    result = {
      ...wrk,
      serverCpu,
      cpuPerRequestUs: server0 === null || server1 === null || wrk.requests === 0
        ? null
        : (1000 * (server1 - server0)) / wrk.requests,
      wrkCpu,
      othersCpu: machine === null || serverCpu === null || wrkCpu === null
        ? null
        : Math.max(0, machine - serverCpu - wrkCpu),
    };
  } finally {
    noteExit(target, await server.stop(STOP_GRACE_MS), "SIGTERM", notes);
  }
  if (result.non2xx > 0) {
    notes.add(`${target.name}: ${result.non2xx} response(s) not 2xx or 3xx in a measurement`);
  }
  if (result.socketErrors !== null) {
    notes.add(`${target.name}: wrk reported socket errors: ${result.socketErrors}`);
  }
  return result;
}

/** What a measurement is compared on. */
type Metric = "rps" | "p99" | "cpu";

/** The measurements of each target, by name, and the per-round ratios to each baseline. */
interface Samples {
  runs: Map<string, Measurement[]>;
  /** `target metric base` to the ratios target / base of that metric, one per round. */
  ratios: Map<string, number[]>;
}

function ratioKey(target: Target, metric: Metric, base: Target): string {
  return `${target.name} ${metric} ${base.name}`;
}

/** A measurement's value of `metric`, or `null` when unknown or not positive. */
function metricOf(m: Measurement, metric: Metric): number | null {
  const value = metric === "rps" ? m.rps : metric === "p99" ? m.p99Ms : m.cpuPerRequestUs;
  return value !== null && value > 0 ? value : null;
}

/** Runs the rounds, rotating the order of the targets from round to round. */
async function runRounds(options: HttpBenchOptions, notes: Notes): Promise<Samples> {
  const samples: Samples = { runs: new Map(), ratios: new Map() };
  for (let round = 1; round <= options.rounds; round++) {
    const shift = (round - 1) % options.targets.length;
    const order = [...options.targets.slice(shift), ...options.targets.slice(0, shift)];
    const got = new Map<string, Measurement>();
    for (const target of order) {
      const where = `round ${round}/${options.rounds} ${target.name}`;
      try {
        const result = await measure(target, options, notes);
        got.set(target.name, result);
        samples.runs.set(target.name, [...(samples.runs.get(target.name) ?? []), result]);
        console.error(`  ${where}: ${progress(result)}`);
      } catch (error) {
        console.error(`  ${where}: failed: ${oneLine(error)}`);
        notes.add(`${target.name} failed: ${oneLine(error)}`);
      }
    }
    for (const target of options.targets) {
      for (const base of BASES) {
        const a = got.get(target.name);
        const b = got.get(base.name);
        if (a === undefined || b === undefined) continue;
        for (const metric of ["rps", "p99", "cpu"] as const) {
          const [x, y] = [metricOf(a, metric), metricOf(b, metric)];
          if (x === null || y === null) continue;
          const key = ratioKey(target, metric, base);
          samples.ratios.set(key, [...(samples.ratios.get(key) ?? []), x / y]);
        }
      }
    }
  }
  return samples;
}

function percent(value: number | null): string {
  return value === null ? "?" : `${value.toFixed(0)} %`;
}

/** One line of progress on stderr for a measurement. */
function progress(result: Measurement): string {
  return `${Math.round(result.rps)} req/s, p50 ${result.p50Ms.toFixed(3)} ms, ` +
    `p99 ${result.p99Ms.toFixed(3)} ms, server CPU ${percent(result.serverCpu)} ` +
    `(${result.cpuPerRequestUs === null ? "?" : result.cpuPerRequestUs.toFixed(1)} µs/req), ` +
    `wrk CPU ${percent(result.wrkCpu)}, others CPU ${percent(result.othersCpu)}`;
}

// --- the report ----------------------------------------------------------------

/** A median of CPU shares, or `null` when any is unknown. */
function medianShare(values: (number | null)[]): number | null {
  return values.length > 0 && values.every((v) => v !== null) ? median(values as number[]) : null;
}

function ratio(values: number[]): string {
  return values.length === 0 ? "n/a" : `${median(values).toFixed(2)}x`;
}

/** The rate table: medians over the rounds, ratios as medians of per-round ratios. */
function rateTable(samples: Samples, targets: readonly Target[]): string[] {
  const rows = [
    "| target | req/s | range | p50 ms | p99 ms | req/s vs Deno.serve | p99 vs Deno.serve | " +
    "server µs/req | µs/req vs Deno.serve | µs/req vs node:http | server CPU % | wrk CPU % | " +
    "others CPU % |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const of = (target: Target, metric: Metric, base: Target): string =>
    ratio(samples.ratios.get(ratioKey(target, metric, base)) ?? []);
  for (const target of targets) {
    const runs = samples.runs.get(target.name) ?? [];
    if (runs.length === 0) {
      rows.push(`| ${target.name} | failed | | | | | | | | | | | |`);
      continue;
    }
    const rates = runs.map((r) => r.rps);
    const cpu = medianShare(runs.map((r) => r.cpuPerRequestUs));
    rows.push(
      `| ${target.name} | ${Math.round(median(rates))} | ` +
        `${Math.round(Math.min(...rates))}-${Math.round(Math.max(...rates))} | ` +
        `${median(runs.map((r) => r.p50Ms)).toFixed(3)} | ` +
        `${median(runs.map((r) => r.p99Ms)).toFixed(3)} | ` +
        `${of(target, "rps", DENO_SERVE)} | ${of(target, "p99", DENO_SERVE)} | ` +
        `${cpu === null ? "?" : cpu.toFixed(1)} | ` +
        `${of(target, "cpu", DENO_SERVE)} | ${of(target, "cpu", NODE_HTTP)} | ` +
        `${percent(medianShare(runs.map((r) => r.serverCpu)))} | ` +
        `${percent(medianShare(runs.map((r) => r.wrkCpu)))} | ` +
        `${percent(medianShare(runs.map((r) => r.othersCpu)))} |`,
    );
  }
  return rows;
}

/** plumb's server CPU per request against the goals of {@linkcode cpuGoals}, met or missed. */
function goalLines(options: HttpBenchOptions, samples: Samples): string[] {
  return cpuGoals(options.path).flatMap(({ base, max }) => {
    const ratios = samples.ratios.get(ratioKey(PLUMB, "cpu", base)) ?? [];
    if (ratios.length === 0) return [];
    const value = median(ratios);
    return [
      `- GET ${options.path}: plumb's server CPU per request ${value.toFixed(2)}x ${base.name}'s ` +
      `(at most ${max}x): ${value <= max ? "met" : "MISSED"} ` +
      `(per round: ${ratios.map((r) => r.toFixed(2)).join(", ")})`,
    ];
  });
}

/** The title, what ran where, and the method. */
async function header(
  options: HttpBenchOptions,
  args: string[],
  wrk: string,
  samples: Samples,
): Promise<string[]> {
  const command = [TASK_COMMAND, ...args].join(" ");
  const where = options.pin
    ? `each server on processor ${SERVER_CPU}, wrk on processor ${LOAD_CPU} (\`taskset -c\`)`
    : "not pinned to processors (`--no-pin` or no `taskset`)";
  const perRound = (samples.ratios.get(ratioKey(PLUMB, "rps", DENO_SERVE)) ?? [])
    .map((r) => r.toFixed(2)).join(", ");
  return [
    "# plumb HTTP benchmark: examples/http.json against Deno.serve and node:http",
    "",
    `- Machine: nproc ${await processorCount()}, ${await cpuModel()}, ` +
    `deno ${Deno.version.deno} (V8 ${Deno.version.v8}), node ${
      await nodeVersion() ?? "missing"
    }, ` +
    `${Deno.build.os} ${Deno.build.arch}, ${wrk}; ${new Date().toISOString()}`,
    `- Command: \`${command}\``,
    `- Load: \`wrk ${wrkArgs(options, "PORT", options.seconds).join(" ")}\` (keep-alive), ` +
    `after a \`wrk\` warmup of ${options.warmup} s on the same server; ${where}.`,
    `- Servers: ${options.targets.map((t) => `${t.name} ${commandOf(t)}`).join("; ")}; from the ` +
    "repository root, a fresh process per measurement, stopped with SIGTERM. `Deno.serve` " +
    "(`bench/deno_serve.ts`) and `node:http` (`bench/node_http_server.mjs`, Node's own HTTP " +
    "server, run with the machine's `node`) answer what `examples/http.json` answers: the " +
    "same JSON, and files streamed from the file with `content-length` and `last-modified`. " +
    `The files are \`${WWW}\`: a copy of \`examples/www\` and a 1 MiB file, \`/${BIG_FILE}\`, ` +
    `made at each run, with \`${GRAPH}\`, \`examples/http.json\` serving them.`,
    `- ${options.rounds} round(s), each measuring every server, the order rotating from round ` +
    "to round. req/s, p50 and p99 are medians over the rounds (range: the lowest " +
    "and highest req/s); the ratios are medians of the per-round ratios" +
    (perRound === "" ? "." : ` (plumb / Deno.serve req/s per round: ${perRound}).`),
    "- `server µs/req`: the server's CPU time over the measured window (utime + stime of " +
    "/proc/PID/stat, 10 ms steps) divided by the requests wrk counted in it. One wrk core " +
    "cannot always keep a fast server busy, so req/s alone understates the difference; CPU " +
    "per request does not.",
    "- Noise: this machine is shared and noisy; absolute numbers vary from run to run, compare " +
    "only the ratios of one run. CPU % is of one core over the measured window (from /proc): " +
    "`server` the server process, `wrk` the load generator, `others` the rest of the " +
    "machine's busy time, that is other processes of the shared machine; a high `others` " +
    "marks a disturbed measurement. A server pinned to one processor can use at most 100 %.",
    "",
  ];
}

// --- the profile -----------------------------------------------------------

/** What the profiled run gave. */
interface ProfileResult {
  file: string;
  wrk: WrkResult;
  times: SelfTimes;
}

/**
 * Runs plumb with the CPU profiler under warmup and load, stops it with
 * SIGINT, and reads the profile it wrote.
 */
async function runProfile(options: HttpBenchOptions, notes: Notes): Promise<ProfileResult> {
  const dir = `${ROOT}${PROFILE_DIR}`;
  const before = await profileFiles(dir);
  const server = await start(PLUMB_PROFILED, options);
  let wrk: WrkResult;
  try {
    if (options.warmup > 0) await runWrk(options, server.port, options.warmup);
    wrk = await runWrk(options, server.port, options.seconds);
  } finally {
    // SIGINT, then wait: a second signal (stop()'s SIGTERM) would exit at once, maybe
    // before the profile is written.
    try {
      Deno.kill(server.pid, "SIGINT");
    } catch {
      // Already gone; its status says how.
    }
    if (!(await waitExit(server.pid, STOP_GRACE_MS))) {
      notes.add(`${PLUMB_PROFILED.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGINT`);
    }
    noteExit(PLUMB_PROFILED, await server.stop(STOP_GRACE_MS), "SIGINT", notes);
  }
  const name = newestNew(before, await profileFiles(dir));
  if (name === null) throw new Error(`plumb wrote no .cpuprofile to ${PROFILE_DIR}`);
  const file = `${PROFILE_DIR}/${name}`;
  const profile = JSON.parse(await Deno.readTextFile(`${ROOT}${file}`)) as CpuProfile;
  return { file, wrk, times: selfTimes(profile, ROOT) };
}

/** The profile's section of the report. */
function profileReport(options: HttpBenchOptions, result: ProfileResult): string[] {
  const { samples, idle, top } = result.times;
  const busy = samples - idle;
  return [
    "",
    `## Where plumb spends its time: top ${TOP_FUNCTIONS} functions by self time`,
    "",
    `- ${commandOf(PLUMB_PROFILED)}, ${options.warmup} s of warmup and ` +
    `${options.seconds} s of the same wrk load (${Math.round(result.wrk.rps)} req/s under the ` +
    "profiler), stopped with SIGINT; the profile covers the whole process, start-up included.",
    `- \`${result.file}\`: ${samples} samples, ${idle} idle ` +
    `(${(100 * idle / Math.max(1, samples)).toFixed(0)} %); self % is of ` +
    `the ${busy} samples that were not idle. \`(program)\` is V8 and Deno's native code ` +
    "outside JavaScript (the event loop, the network ops), `(garbage collector)` the GC.",
    "",
    ...profileTable(byPart(result.times), busy, "part"),
    "",
    ...profileTable(top.slice(0, TOP_FUNCTIONS), busy, "function"),
  ];
}

// --- main ------------------------------------------------------------------

/** Writes `bytes` to `path` (under `bench/results/`) through a child process allowed to write there only. */
export async function saveFile(path: string, bytes: Uint8Array): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-write=bench/results", "bench/save_results.ts", path],
    cwd: ROOT,
    stdin: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(bytes);
  await writer.close();
  if (!(await child.status).success) throw new Error(`could not write ${path}`);
}

/** The files of `dir` (relative to the root), recursively, as paths relative to `dir`. */
async function filesOf(dir: string, under = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}${dir}/${under}`)) {
    const path = `${under}${entry.name}`;
    if (entry.isDirectory) files.push(...await filesOf(dir, `${path}/`));
    else if (entry.isFile) files.push(path);
  }
  return files;
}

/**
 * Makes what the servers serve: {@linkcode WWW}, a copy of `examples/www`
 * with a 1 MiB file of fixed pseudo-random bytes, and {@linkcode GRAPH},
 * `examples/http.json` with its `http/static` node on that copy (and its
 * servlet files where they are).
 */
export async function prepareFiles(): Promise<void> {
  for (const file of await filesOf("examples/www")) {
    await saveFile(`${WWW}/${file}`, await Deno.readFile(`${ROOT}examples/www/${file}`));
  }
  const big = new Uint8Array(BIG_FILE_BYTES);
  let x = 2463534242;
  for (let i = 0; i < big.length; i++) {
    // xorshift32: the same bytes every run, not compressible.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    big[i] = x & 0xff;
  }
  await saveFile(`${WWW}/${BIG_FILE}`, big);
  const graph = JSON.parse(await Deno.readTextFile(`${ROOT}examples/http.json`)) as {
    $schema?: string;
    nodes: Record<string, { servlet: string; args?: string[] }>;
  };
  delete graph.$schema;
  for (const node of Object.values(graph.nodes)) {
    // Paths in a graph are relative to its file: bench/results/ is two folders down.
    if (node.servlet.startsWith("./")) node.servlet = `../../examples/${node.servlet.slice(2)}`;
    if (node.servlet === "http/static") node.args = ["./www"];
  }
  await saveFile(GRAPH, new TextEncoder().encode(JSON.stringify(graph, null, 2) + "\n"));
}

/** Saves the report. */
async function save(text: string): Promise<void> {
  await saveFile(RESULTS_FILE, new TextEncoder().encode(text));
}

async function main(args: string[]): Promise<number> {
  let options: HttpBenchOptions;
  try {
    options = parseOptions(args);
  } catch (error) {
    console.error(`bench:http: ${(error as Error).message}; ${USAGE}`);
    return 2;
  }
  const wrk = await wrkVersion();
  if (wrk === null) {
    console.error("bench:http: needs wrk (Debian: apt-get install wrk)");
    return 1;
  }
  const notes = new Notes();
  if (!options.pin) notes.add("not pinned to processors: server and wrk share both");
  const runs = options.targets.length * options.rounds + (options.profile ? 1 : 0);
  console.error(
    `bench:http: correctness check, then ${runs} runs, about ` +
      `${Math.ceil(runs * (options.warmup + options.seconds + 1.5) + 4)} s`,
  );
  await prepareFiles();
  await checkCorrectness(options, notes);
  const samples = await runRounds(options, notes);
  let profile: ProfileResult | null = null;
  if (options.profile) {
    try {
      profile = await runProfile(options, notes);
      console.error(`  profile: ${Math.round(profile.wrk.rps)} req/s, ${profile.file}`);
    } catch (error) {
      console.error(`  profile: failed: ${oneLine(error)}`);
      notes.add(`profile failed: ${oneLine(error)}`);
    }
  }
  const noteLines = notes.lines();
  const goals = goalLines(options, samples);
  const report = [
    ...(await header(options, args, wrk, samples)),
    ...rateTable(samples, options.targets),
    ...(goals.length > 0 ? ["", "## Targets (issue 18)", "", ...goals] : []),
    ...(profile === null ? [] : profileReport(options, profile)),
    ...(noteLines.length > 0 ? ["", "Notes:", "", ...noteLines] : []),
  ].join("\n") + "\n";
  console.log(report);
  await save(report);
  console.error(`bench:http: wrote ${RESULTS_FILE}`);
  return 0;
}

if (import.meta.main) await runMain("bench:http", main);
