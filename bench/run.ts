/**
 * The benchmark: plumb's `examples/hello.json`, `examples/pipeline.json` and `examples/router.json`
 * against a plain `Deno.listen` server (`raw_server.ts`), each loaded by
 * `load.ts` in its own process. For each round and each connection count the
 * targets run one after the other (raw, hello, pipeline, router), each on a fresh
 * server; every cell of the table is the median over the rounds.
 *
 * A second table, in the same run, compares ELIZA on plumb
 * (`examples/eliza.json`) with the standalone forking Perl server of Lincoln
 * Stein's "Client-Server Applications" (`eliza_perl_server.pl`, Chatbot::Eliza,
 * a process per connection), as it is and with TCP_NODELAY: the same closed
 * loop, each connection sending `I am feeling sad today` after the greeting,
 * any one line counting as the reply. In each round these targets run after
 * the others, one after the other (perl, perl nodelay, plumb). Their server
 * CPU counts the processes the server forked too. Both tables are printed and
 * saved to `bench/results/latest.md`.
 *
 * Flags: `--seconds S` measured per cell (default 5), `--warmup W` (default 1),
 * `--rounds R` (default 2), `--conns C1,C2` (default 16,256), `--eliza-conns
 * C1,...` (default 16), `--no-eliza` to leave out the ELIZA table (which needs
 * `perl` with Chatbot::Eliza, Debian's `libchatbot-eliza-perl`). The server
 * runs on processor 0 and the load generator on processor 1 (`taskset`) when
 * the machine allows it, which makes results much steadier; `--no-pin` turns
 * that off.
 *
 * ```sh
 * deno task bench
 * deno task bench --seconds 3 --rounds 1 --conns 16,256
 * deno task bench --no-eliza
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

/**
 * How to start a server, from the repository root: a Deno script and its
 * arguments (run with `--allow-net=127.0.0.1 --allow-read`, and `--port 0`
 * appended), or any program and its arguments.
 */
type ServerCommand = { script: string[] } | { program: string; args: string[] };

/** A server to measure. */
interface Target {
  /** Its name in the table. */
  name: string;
  server: ServerCommand;
  /** The request line, without its `\n`; default `Plumber`. */
  line?: string;
  /** The reply line to it, without its `\n`; empty when any one line will do. */
  expect: string;
  /** The server greets each connection with one line. */
  greeting?: boolean;
  /** Count the CPU time of the processes the server forks too. */
  children?: boolean;
}

const TARGETS: readonly Target[] = [
  { name: "raw", server: { script: ["bench/raw_server.ts"] }, expect: "Hello, Plumber" },
  {
    name: "hello",
    server: { script: ["main.ts", "examples/hello.json"] },
    expect: "Hello, Plumber",
  },
  {
    name: "pipeline",
    server: { script: ["main.ts", "examples/pipeline.json"] },
    expect: "Hello, PLUMBER",
  },
  {
    // A dup (fan-out to an audit branch), a demux and a join: the dataflow machinery.
    name: "router",
    server: { script: ["main.ts", "examples/router.json"] },
    expect: "Hello, Plumber",
  },
];

/** What each ELIZA connection says, over and over. */
const ELIZA_LINE = "I am feeling sad today";

/** An ELIZA server: greets, answers each line with one line that varies, may fork. */
function elizaTarget(name: string, server: ServerCommand): Target {
  return { name, server, line: ELIZA_LINE, expect: "", greeting: true, children: true };
}

/** The article's server, as it is. */
const ELIZA_PERL = elizaTarget("eliza perl", {
  program: "perl",
  args: ["bench/eliza_perl_server.pl", "0"],
});
/** The article's server with TCP_NODELAY on each connection. */
const ELIZA_PERL_NODELAY = elizaTarget("eliza perl nodelay", {
  program: "perl",
  args: ["bench/eliza_perl_server.pl", "--nodelay", "0"],
});
/** ELIZA on plumb. */
const ELIZA_PLUMB = elizaTarget("eliza plumb", { script: ["main.ts", "examples/eliza.json"] });
/** The ELIZA servers; the first is the base of the ratios. */
const ELIZA_TARGETS: readonly Target[] = [ELIZA_PERL, ELIZA_PERL_NODELAY, ELIZA_PLUMB];

/** The command line of a benchmark run. */
interface BenchOptions {
  seconds: number;
  rounds: number;
  warmup: number;
  conns: number[];
  /** Connection counts of the ELIZA table; empty with `--no-eliza`. */
  elizaConns: number[];
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

const USAGE = "flags are --seconds S --rounds R --warmup W --conns C1,C2,... " +
  "--eliza-conns C1,... --no-eliza --no-pin";

function connsFlag(value: string, name: string): number[] {
  return value.split(",").map((c) => numberFlag(c, name, 0, { min: 1, max: 10000, integer: true }));
}

function parseOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      seconds: { type: "string" },
      rounds: { type: "string" },
      warmup: { type: "string" },
      conns: { type: "string" },
      "eliza-conns": { type: "string" },
      "no-eliza": { type: "boolean" },
      pin: { type: "boolean" },
      "no-pin": { type: "boolean" },
    },
  });
  return {
    seconds: numberFlag(values.seconds, "seconds", 5, { min: 0.1, max: 600 }),
    rounds: numberFlag(values.rounds, "rounds", 2, { min: 1, max: 20, integer: true }),
    warmup: numberFlag(values.warmup, "warmup", 1, { min: 0, max: 60 }),
    conns: connsFlag(values.conns ?? "16,256", "conns"),
    elizaConns: values["no-eliza"] ? [] : connsFlag(values["eliza-conns"] ?? "16", "eliza-conns"),
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

/** The command and arguments that run `program` with `args`, on processor `cpu` when pinning. */
function pinned(
  program: string,
  args: string[],
  options: BenchOptions,
  cpu: number,
): [string, string[]] {
  return options.pin ? ["taskset", ["-c", String(cpu), program, ...args]] : [program, args];
}

/** The command and arguments that run `deno` with `args`, on processor `cpu` when pinning. */
function deno(args: string[], options: BenchOptions, cpu: number): [string, string[]] {
  return pinned(Deno.execPath(), args, options, cpu);
}

/** The command and arguments that start `target`'s server on processor 0 when pinning. */
function serverCommand(target: Target, options: BenchOptions): [string, string[]] {
  const server = target.server;
  return "script" in server
    ? deno(
      ["run", "--allow-net=127.0.0.1", "--allow-read", ...server.script, "--port", "0"],
      options,
      SERVER_CPU,
    )
    : pinned(server.program, server.args, options, SERVER_CPU);
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
    ...(target.line === undefined ? [] : ["--line", target.line]),
    ...(target.greeting ? ["--greeting"] : []),
    ...(target.children ? ["--server-tree"] : []),
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
  const server = await startServer(...serverCommand(target, options), ROOT);
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

/**
 * A markdown table: one row per connection count and target, medians over the
 * rounds, with ratios to the first target.
 */
function table(
  targets: readonly Target[],
  connsList: number[],
  samples: Map<string, Sample[]>,
): string[] {
  const base = targets[0].name;
  const rows = [
    `| target | C | req/s | p99 ms | ratio vs ${base} (req/s) | p99 vs ${base} | server CPU % | ` +
    "load CPU % |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const conns of connsList) {
    const of = (target: Target): Sample[] => samples.get(`${target.name} ${conns}`) ?? [];
    const baseRuns = of(targets[0]);
    const baseRps = median(baseRuns.map((s) => s.rps));
    const baseP99 = median(baseRuns.map((s) => s.p99Ms));
    for (const target of targets) {
      const runs = of(target);
      const rps = median(runs.map((s) => s.rps));
      const p99 = median(runs.map((s) => s.p99Ms));
      const serverCpu = formatPercent(runs.map((s) => s.serverCpu));
      const loadCpu = formatPercent(runs.map((s) => s.loadCpu));
      rows.push(
        `| ${target.name} | ${conns} | ${Math.round(rps)} | ${p99.toFixed(3)} | ` +
          `${formatRatio(rps, baseRps)} | ${
            formatRatio(p99, baseP99)
          } | ${serverCpu} | ${loadCpu} |`,
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
    `each cell the median over rounds; closed loop, one \`Plumber\\n\` in flight per connection ` +
    `(ELIZA: below); ` +
    `CPU % is of one core (server and load generator are separate processes); ` +
    (options.pin
      ? `server pinned to processor ${SERVER_CPU}, load generator to ${LOAD_CPU} (taskset); `
      : "not pinned to processors; ") +
    date,
    "",
  ];
}

/** The versions of perl and Chatbot::Eliza, or `null` when either is missing. */
async function perlVersions(): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command("perl", {
      args: [
        "-MChatbot::Eliza",
        "-e",
        'printf "perl %vd, Chatbot::Eliza %s", $^V, $Chatbot::Eliza::VERSION',
      ],
      stdin: "null",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout) : null;
  } catch {
    return null;
  }
}

/** The ELIZA section: what it compares, the ratios to the Perl server without Nagle, the table. */
function elizaSection(
  options: BenchOptions,
  samples: Map<string, Sample[]>,
  versions: string,
): string[] {
  const medians = (target: Target, conns: number): [number, number] => {
    const runs = samples.get(`${target.name} ${conns}`) ?? [];
    return [median(runs.map((s) => s.rps)), median(runs.map((s) => s.p99Ms))];
  };
  const ratios = options.elizaConns.map((conns) => {
    const [rps, p99] = medians(ELIZA_PLUMB, conns);
    const [baseRps, baseP99] = medians(ELIZA_PERL_NODELAY, conns);
    const rpsRatio = formatRatio(rps, baseRps);
    return `C=${conns}: ${rpsRatio} the req/s, ${formatRatio(p99, baseP99)} the p99`;
  });
  return [
    "",
    "## ELIZA: plumb versus the article's forking Perl server",
    "",
    `- \`eliza plumb\` serves \`examples/eliza.json\`; \`eliza perl\` is \`bench/eliza_perl_server.pl\`, ` +
    `the standalone forking server of Lincoln Stein's "Client-Server Applications" (Listing 2): ` +
    `a process per connection running Chatbot::Eliza's \`command_interface\` (${versions}); ` +
    `\`eliza perl nodelay\` is the same with TCP_NODELAY on each connection.`,
    `- Same closed loop: each connection reads the greeting, then sends ` +
    `\`${ELIZA_LINE}\\n\` and takes any one line as the reply (Chatbot::Eliza's \`you:\` ` +
    `prompt included). Server CPU % counts the server and the processes it forked (from /proc).`,
    `- \`eliza plumb\` versus \`eliza perl nodelay\`, ${ratios.join("; ")}.`,
    "",
    ...table(ELIZA_TARGETS, options.elizaConns, samples),
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
  const versions = options.elizaConns.length > 0 ? await perlVersions() : "";
  if (versions === null) {
    console.error(
      "bench: the ELIZA table needs perl with Chatbot::Eliza (Debian: libchatbot-eliza-perl); " +
        "--no-eliza leaves it out",
    );
    return 1;
  }
  const plan: [readonly Target[], number[]][] = [
    [TARGETS, options.conns],
    [ELIZA_TARGETS, options.elizaConns],
  ];
  const cells = options.rounds *
    plan.reduce((sum, [targets, connsList]) => sum + targets.length * connsList.length, 0);
  const estimate = Math.ceil(cells * (options.warmup + options.seconds + 1));
  console.error(`bench: ${cells} runs, about ${estimate} s`);
  const samples = new Map<string, Sample[]>();
  const notes = new Notes();
  for (let round = 1; round <= options.rounds; round++) {
    for (const [targets, connsList] of plan) {
      for (const conns of connsList) {
        for (const target of targets) {
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
  }
  const noteLines = notes.lines();
  const report = [
    ...(await header(options, args)),
    ...table(TARGETS, options.conns, samples),
    ...(options.elizaConns.length > 0 ? elizaSection(options, samples, versions) : []),
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
