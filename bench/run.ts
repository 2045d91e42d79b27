/**
 * The benchmark: plumb's `examples/hello.json` and `examples/pipeline.json`
 * against a plain `Deno.listen` server (`raw_server.ts`), each loaded by
 * `load.ts` in its own process. For each round and each connection count the
 * targets run one after the other (raw, hello, pipeline), each on a fresh
 * server; every cell of the table is the median over the rounds. The table is
 * printed and saved to `bench/results/latest.md`.
 *
 * Flags: `--seconds S` measured per cell (default 5), `--warmup W` (default 1),
 * `--rounds R` (default 2), `--conns C1,C2` (default 16,256). The server runs
 * on processor 0 and the load generator on processor 1 (`taskset`) when the
 * machine allows it, which makes results much steadier; `--no-pin` turns that off.
 *
 * ```sh
 * deno task bench
 * deno task bench --seconds 3 --rounds 1 --conns 16,256
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { numberFlag } from "./flags.ts";
import type { LoadResult } from "./load.ts";
import { cpuModel, processorCount } from "./proc.ts";
import { type ServerExit, startServer } from "./server_process.ts";

/** The task's command line, for the report. */
const TASK_COMMAND =
  "deno run --allow-net=127.0.0.1 --allow-read --allow-run --allow-env bench/run.ts";
/** The repository root: children run there, with paths relative to it. */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
/** Where the table is saved, relative to the repository root. */
const RESULTS_FILE = "bench/results/latest.md";
/** What plumb prints on standard error when told to stop; not worth reporting. */
const STOPPING_MESSAGE = "plumb: stopping (a second signal exits at once)";
/** How long a server may take to exit after SIGTERM before it is killed, in ms. */
const STOP_GRACE_MS = 10000;
/** Extra time a load run may take beyond warmup and measurement before it is killed, in ms. */
const LOAD_SLACK_MS = 30000;

/** A server to measure. */
interface Target {
  /** Its name in the table. */
  name: string;
  /** The script and its arguments, relative to the repository root. */
  script: string[];
  /** The reply line to `Plumber`, without its `\n`. */
  expect: string;
}

const TARGETS: readonly Target[] = [
  { name: "raw", script: ["bench/raw_server.ts"], expect: "Hello, Plumber" },
  { name: "hello", script: ["main.ts", "examples/hello.json"], expect: "Hello, Plumber" },
  { name: "pipeline", script: ["main.ts", "examples/pipeline.json"], expect: "Hello, PLUMBER" },
];

/** The command line of a benchmark run. */
interface BenchOptions {
  seconds: number;
  rounds: number;
  warmup: number;
  conns: number[];
  /** Run servers on processor 0 and the load generator on processor 1 (`taskset`). */
  pin: boolean;
}

/** Processors of the server and of the load generator with `--pin`. */
const SERVER_CPU = 0;
const LOAD_CPU = 1;

/** One measurement of one target at one connection count. */
interface Sample {
  rps: number;
  p99Ms: number;
  /** CPU time as a percentage of one core over the measured window. */
  loadCpu: number;
  serverCpu: number | null;
}

const USAGE = "flags are --seconds S --rounds R --warmup W --conns C1,C2,... --no-pin";

function parseOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      seconds: { type: "string" },
      rounds: { type: "string" },
      warmup: { type: "string" },
      conns: { type: "string" },
      pin: { type: "boolean" },
      "no-pin": { type: "boolean" },
    },
  });
  return {
    seconds: numberFlag(values.seconds, "seconds", 5, { min: 0.1, max: 600 }),
    rounds: numberFlag(values.rounds, "rounds", 2, { min: 1, max: 20, integer: true }),
    warmup: numberFlag(values.warmup, "warmup", 1, { min: 0, max: 60 }),
    conns: (values.conns ?? "16,256").split(",").map((c) =>
      numberFlag(c, "conns", 0, { min: 1, max: 10000, integer: true })
    ),
    pin: !values["no-pin"] && (values.pin || canPin()),
  };
}

/** True when `taskset` exists and there are at least 2 processors to pin to. */
function canPin(): boolean {
  try {
    const out = new Deno.Command("taskset", { args: ["-c", "0,1", "true"] }).outputSync();
    return out.success;
  } catch {
    return false;
  }
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Counts messages, for the notes under the table. */
class Notes {
  readonly #counts = new Map<string, number>();

  add(message: string): void {
    this.#counts.set(message, (this.#counts.get(message) ?? 0) + 1);
  }

  lines(): string[] {
    return [...this.#counts].map(([message, count]) =>
      `- ${count > 1 ? `${count} x ` : ""}${message}`
    );
  }
}

/** The command and arguments that run `deno` with `args`, on processor `cpu` when pinning. */
function deno(args: string[], options: BenchOptions, cpu: number): [string, string[]] {
  return options.pin
    ? ["taskset", ["-c", String(cpu), Deno.execPath(), ...args]]
    : [Deno.execPath(), args];
}

/** Runs `load.ts` against a server and parses its JSON line. */
async function runLoad(
  options: BenchOptions,
  target: Target,
  conns: number,
  port: number,
  pid: number,
): Promise<LoadResult> {
  const args = [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-run=cat",
    "bench/load.ts",
    ...["--port", String(port), "--conns", String(conns), "--expect", target.expect],
    ...["--seconds", String(options.seconds), "--warmup", String(options.warmup)],
    ...["--server-pid", String(pid)],
  ];
  const limitMs = (options.warmup + options.seconds) * 1000 + LOAD_SLACK_MS;
  const [command, commandArgs] = deno(args, options, LOAD_CPU);
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args: commandArgs,
    cwd: ROOT,
    stdin: "null",
    signal: AbortSignal.timeout(limitMs),
  }).output();
  const errors = new TextDecoder().decode(stderr).trim();
  if (errors !== "") console.error(errors.replace(/^/gm, `  ${target.name} C=${conns}: `));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  if (!success) throw new Error(`load.ts failed for ${target.name} C=${conns}: ${errors}`);
  return JSON.parse(lines[lines.length - 1]) as LoadResult;
}

/** Reports what a server said on standard error and how it ended, when unusual. */
function noteExit(target: Target, exit: ServerExit, notes: Notes): void {
  for (const line of exit.stderr.split("\n")) {
    if (line.trim() !== "" && line !== STOPPING_MESSAGE) {
      notes.add(`${target.name} server said: ${line}`);
    }
  }
  const grace = STOP_GRACE_MS / 1000;
  if (exit.killed) {
    notes.add(`${target.name} server did not stop within ${grace} s of SIGTERM and was killed`);
  } else if (exit.code !== 0) {
    notes.add(`${target.name} server exited with status ${exit.code} after SIGTERM`);
  }
}

/** Measures one target at one connection count on a fresh server. */
async function measure(
  options: BenchOptions,
  target: Target,
  conns: number,
  notes: Notes,
): Promise<Sample> {
  const args = ["run", "--allow-net=127.0.0.1", "--allow-read", ...target.script, "--port", "0"];
  const server = await startServer(...deno(args, options, SERVER_CPU), ROOT);
  let result: LoadResult;
  try {
    result = await runLoad(options, target, conns, server.port, server.pid);
  } finally {
    noteExit(target, await server.stop(STOP_GRACE_MS), notes);
  }
  if (result.errors > 0) {
    notes.add(`${target.name} C=${conns}: ${result.errors} load error(s) (see stderr)`);
  }
  const windowMs = result.seconds * 1000;
  return {
    rps: result.rps,
    p99Ms: result.p99_ms,
    loadCpu: (100 * result.cpu_ms) / windowMs,
    serverCpu: result.server_cpu_ms === undefined ? null : (100 * result.server_cpu_ms) / windowMs,
  };
}

function formatRatio(value: number, base: number): string {
  return base > 0 ? `${(value / base).toFixed(2)}x` : "n/a";
}

function formatPercent(values: (number | null)[]): string {
  return values.every((v) => v !== null) ? `${median(values as number[]).toFixed(0)} %` : "n/a";
}

/** The markdown table: one row per connection count and target, medians over the rounds. */
function table(options: BenchOptions, samples: Map<string, Sample[]>): string[] {
  const rows = [
    "| target | C | req/s | p99 ms | ratio vs raw (req/s) | p99 vs raw | server CPU % | load CPU % |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const conns of options.conns) {
    const of = (target: Target): Sample[] => samples.get(`${target.name} ${conns}`) ?? [];
    const raw = of(TARGETS[0]);
    const rawRps = median(raw.map((s) => s.rps));
    const rawP99 = median(raw.map((s) => s.p99Ms));
    for (const target of TARGETS) {
      const runs = of(target);
      const rps = median(runs.map((s) => s.rps));
      const p99 = median(runs.map((s) => s.p99Ms));
      const serverCpu = formatPercent(runs.map((s) => s.serverCpu));
      const loadCpu = formatPercent(runs.map((s) => s.loadCpu));
      rows.push(
        `| ${target.name} | ${conns} | ${Math.round(rps)} | ${p99.toFixed(3)} | ` +
          `${formatRatio(rps, rawRps)} | ${formatRatio(p99, rawP99)} | ${serverCpu} | ${loadCpu} |`,
      );
    }
  }
  return rows;
}

/** The title and the lines naming the machine, the command and the settings. */
async function header(options: BenchOptions, args: string[]): Promise<string[]> {
  const command = [TASK_COMMAND, ...args].join(" ");
  const date = new Date().toISOString();
  return [
    "# plumb benchmark",
    "",
    `- Machine: nproc ${await processorCount()}, ${await cpuModel()}, ` +
    `deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.os} ${Deno.build.arch}`,
    `- Command: \`${command}\``,
    `- Run: ${options.warmup} s warmup + ${options.seconds} s measured per cell, ${options.rounds} round(s), ` +
    `each cell the median over rounds; closed loop, one \`Plumber\\n\` in flight per connection; ` +
    `CPU % is of one core (server and load generator are separate processes); ` +
    (options.pin
      ? `server pinned to processor ${SERVER_CPU}, load generator to ${LOAD_CPU} (taskset); `
      : "not pinned to processors; ") +
    date,
    "",
  ];
}

/** Saves the report through a child process allowed to write `bench/results/` only. */
async function save(text: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-write=bench/results", "bench/save_results.ts", RESULTS_FILE],
    cwd: ROOT,
    stdin: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  if (!(await child.status).success) throw new Error(`could not write ${RESULTS_FILE}`);
}

async function main(args: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(args);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}; ${USAGE}`);
    return 2;
  }
  const cells = options.rounds * options.conns.length * TARGETS.length;
  const estimate = Math.ceil(cells * (options.warmup + options.seconds + 1));
  console.error(`bench: ${cells} runs, about ${estimate} s`);
  const samples = new Map<string, Sample[]>();
  const notes = new Notes();
  for (let round = 1; round <= options.rounds; round++) {
    for (const conns of options.conns) {
      for (const target of TARGETS) {
        const sample = await measure(options, target, conns, notes);
        const key = `${target.name} ${conns}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        console.error(
          `  round ${round}/${options.rounds} C=${conns} ${target.name}: ${sample.rps} req/s, ` +
            `p99 ${sample.p99Ms} ms, server CPU ${sample.serverCpu?.toFixed(0) ?? "?"} %, ` +
            `load CPU ${sample.loadCpu.toFixed(0)} %`,
        );
      }
    }
  }
  const noteLines = notes.lines();
  const report = [
    ...(await header(options, args)),
    ...table(options, samples),
    ...(noteLines.length > 0 ? ["", "Notes:", "", ...noteLines] : []),
  ].join("\n") + "\n";
  console.log(report);
  await save(report);
  console.error(`bench: wrote ${RESULTS_FILE}`);
  return 0;
}

if (import.meta.main) {
  let status: number;
  try {
    status = await main(Deno.args);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    status = 1;
  }
  Deno.exit(status);
}
