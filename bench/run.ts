/**
 * The benchmark: plumb against plain servers of the same line protocol, each
 * server a fresh child process per measurement, loaded by `loadgen.c`
 * (compiled on demand with `cc -O2` into `bench/results/loadgen`; without a C
 * compiler `load.ts` stands in, with a note). The baselines: `raw bytes`
 * (`raw_bytes_server.ts`: lines split on bytes, all the replies of one read in
 * one write from a pooled buffer; `raw bytes 1 KiB` the same with a 1 KiB read
 * buffer; `raw strings` the same with each line and reply a string), `raw lines`
 * (`raw_server.ts`: in the style of plumb's tcp module, a string and an
 * awaited write per line), `node net` (`node_net_server.mjs`, Node's `net`,
 * run with the `node` on the machine) and `deno node net` (the same program run
 * by Deno, whose `node:net` reads natively). Rates are compared with the fastest raw
 * Deno server of the same cell (`vs fastest raw`), and the report closes with
 * the targets of issue 18, met or missed. Every cell of every table is
 * the median over the rounds; within a round the targets of each section run
 * one after the other, so that the machine's noise hits them alike. The
 * sections, in the order they run within a round:
 *
 * - `keepalive`: `examples/hello.json` (also with `--admin`, which counts
 *   every request), `examples/pipeline.json` and `examples/router.json`
 *   against `raw bytes`, `raw strings`, `raw lines`, `node net` and `deno node net`; C keep-alive connections
 *   with one `Plumber\n` in flight each.
 * - `connect`: the same baselines and `hello` with a new connection per
 *   request (connect, one line, its reply, close, repeat) in each of C slots.
 *   The client closes
 *   first, so its ports wait in TIME_WAIT: the load generator spreads its
 *   connections over `--sources` source addresses (127.0.0.1, 127.0.0.2, ...;
 *   it still connects to 127.0.0.1 only), so that the rate does not depend on
 *   how full the machine's TIME_WAIT table is (`--sources 1` shows why).
 * - `idle`: the server's resident memory (VmRSS) per idle connection: after a
 *   warmup, `--idle-conns` connections each send one request, read the reply
 *   and stay open for `--seconds`; `raw bytes` (16 KiB and 1 KiB read
 *   buffers), `node net`, `deno node net` and `hello`.
 * - `workers`: `raw bytes`, `hello` and `hello --workers 2` (Web Workers
 *   sharing the port), keep-alive, not pinned to processors, so a server may
 *   use every core.
 * - `eliza`: ELIZA on plumb (`examples/eliza.json`) against the standalone
 *   forking Perl server of Lincoln Stein's "Client-Server Applications"
 *   (`eliza_perl_server.pl`, Chatbot::Eliza, a process per connection), as it
 *   is and with TCP_NODELAY: each connection sends `I am feeling sad today`
 *   after the greeting, any one line counting as the reply; server CPU counts
 *   the processes the server forked too. Needs `perl` with Chatbot::Eliza
 *   (Debian's `libchatbot-eliza-perl`).
 *
 * A target that fails (a server that does not start, a load run that fails)
 * is reported in the notes under the tables and the run goes on. The tables
 * are printed and saved to `bench/results/latest.md`.
 *
 * Flags: `--seconds S` measured per cell (default 5; the idle hold too),
 * `--warmup W` (default 1), `--rounds R` (default 2), `--only
 * keepalive,connect,idle,workers,eliza` (default all), `--no-eliza`,
 * `--conns C1,C2` (keepalive, default 16,256), `--connect-conns` (default
 * 16,256), `--idle-conns` (default 10000), `--workers-conns` (default 16,256),
 * `--eliza-conns` (default 16), `--sources N` (connect section, default 16),
 * `--load c|deno` (default c: `loadgen.c`; deno: `load.ts`), `--targets
 * NAME1,NAME2` (only the targets of these names, in every section), `--profile
 * NAME1,NAME2` (after the rounds, run these keep-alive targets once more under
 * `deno run --cpu-prof` at the first `--conns` and add where their time goes to
 * the report; profiles in `bench/results/prof/`), `--interleave` (keep-alive:
 * start every target's server once and load them in turn each round, so that
 * the runs a ratio pairs are seconds apart on a machine whose speed drifts).
 * Ratios are medians over the rounds of the ratio within each round. Except in the
 * workers section, the server runs on processor 0 and the load generator on
 * processor 1 (`taskset`) when the machine allows it, which makes results
 * much steadier; `--no-pin` turns that off.
 *
 * ```sh
 * deno task bench
 * deno task bench --seconds 3 --rounds 1 --only keepalive
 * deno task bench --no-eliza --only keepalive,connect,idle
 * deno task bench --only keepalive --targets "raw bytes,hello"
 * deno task bench --only keepalive --conns 16 --profile "raw bytes,hello"
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { canPin, median, nodeVersion, Notes, runMain } from "./common.ts";
import { numberFlag } from "./flags.ts";
import type { LoadMode, LoadResult } from "./load.ts";
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
import { cpuModel, openFilesLimit, processorCount, sysctl } from "./proc.ts";
import { type ServerExit, startServer } from "./server_process.ts";

/** The task's command line, for the report. */
const TASK_COMMAND =
  "deno run --allow-net=127.0.0.1 --allow-read --allow-run --allow-env bench/run.ts";
/** The repository root: children run there, with paths relative to it. */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
/** Where the table is saved, relative to the repository root. */
const RESULTS_FILE = "bench/results/latest.md";
/** The C load generator's source and where it is compiled to, relative to the root. */
const LOADGEN_SOURCE = "bench/loadgen.c";
const LOADGEN_BINARY = "bench/results/loadgen";
/** What plumb prints on standard error when told to stop (after its code); not worth reporting. */
const STOPPING_MESSAGE = /^plumb: (PLUMB_\w+ )?stopping \(a second signal exits at once\)$/;
/** How long a server may take to exit after SIGTERM before it is killed, in ms. */
const STOP_GRACE_MS = 10000;
/** Extra time a load run may take beyond warmup and measurement before it is killed, in ms. */
const LOAD_SLACK_MS = 30000;
/** Extra time of an idle run: opening the connections (limited to 20 s) and settling. */
const IDLE_SLACK_MS = 25000;
/**
 * plumb's default idle ttl of a persistent connection in seconds (`DEFAULT_TTL`,
 * now in `modules/session_options.ts`), copied rather than imported so that the
 * benchmark does not break when modules/ moves it; the idle runs check anyway
 * that every held connection stayed open to the end.
 */
const DEFAULT_TTL = 240;
/** Open files the server needs beyond the idle connections (listener, pipes, V8). */
const SPARE_FILES = 64;

/**
 * How to start a server, from the repository root: a Deno script and its
 * arguments (run with `--allow-net=127.0.0.1 --allow-read` and `denoFlags`,
 * and `--port 0` appended), or any program and its arguments.
 */
type ServerCommand =
  | { script: string[]; denoFlags?: string[] }
  | { program: string; args: string[] };

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
  /**
   * A raw Deno server: rates are compared with the fastest of these in the
   * same cell (`vs fastest raw`).
   */
  baseline?: boolean;
}

/**
 * The strongest `Deno.listen` baseline: lines split on bytes, never a string,
 * all the replies of one read in one write, from a pooled buffer (`raw_bytes_server.ts`).
 */
const RAW_BYTES: Target = {
  name: "raw bytes",
  server: { script: ["bench/raw_bytes_server.ts"] },
  expect: "Hello, Plumber",
  baseline: true,
};
/** The same with a 1 KiB read buffer per connection (for the idle section). */
const RAW_BYTES_1K: Target = {
  name: "raw bytes 1 KiB",
  server: { script: ["bench/raw_bytes_server.ts", "--read-buffer", "1024"] },
  expect: "Hello, Plumber",
  baseline: true,
};
/**
 * `raw bytes` with each line decoded to a string and its reply made as one
 * and encoded: the least a server of text handlers (as plumb's) adds to it.
 * A row to compare with, not a base: slower by design.
 */
const RAW_STRINGS: Target = {
  name: "raw strings",
  server: { script: ["bench/raw_bytes_server.ts", "--strings"] },
  expect: "Hello, Plumber",
};
/** The baseline in the style of plumb's tcp module: a string and an awaited write per line. */
const RAW_LINES: Target = {
  name: "raw lines",
  server: { script: ["bench/raw_server.ts"] },
  expect: "Hello, Plumber",
  baseline: true,
};
/** Node's `net` (the `node` on the machine), bytes, one write per `data` event. */
const NODE_NET: Target = {
  name: "node net",
  server: { program: "node", args: ["bench/node_net_server.mjs", "--port", "0"] },
  expect: "Hello, Plumber",
};
/**
 * The same program as `node net`, run by Deno: Deno's `node:net`, whose
 * sockets are read and written natively (no async op per read, unlike
 * `conn.read`). A raw Deno server, so a base of `vs fastest raw`.
 */
const DENO_NODE_NET: Target = {
  name: "deno node net",
  server: { script: ["bench/node_net_server.mjs"] },
  expect: "Hello, Plumber",
  baseline: true,
};
const HELLO: Target = {
  name: "hello",
  server: { script: ["main.ts", "examples/hello.json"] },
  expect: "Hello, Plumber",
};
/** The admin listener on: every exec timed, every request counted (docs/operating.md). */
const HELLO_ADMIN: Target = {
  name: "hello --admin",
  server: { script: ["main.ts", "examples/hello.json", "--admin", "127.0.0.1:0"] },
  expect: "Hello, Plumber",
};
const PIPELINE: Target = {
  name: "pipeline",
  server: { script: ["main.ts", "examples/pipeline.json"] },
  expect: "Hello, PLUMBER",
};
/** A dup (fan-out to an audit branch), a demux and a join: the dataflow machinery. */
const ROUTER: Target = {
  name: "router",
  server: { script: ["main.ts", "examples/router.json"] },
  expect: "Hello, Plumber",
};

const KEEPALIVE_TARGETS: readonly Target[] = [
  RAW_BYTES,
  RAW_STRINGS,
  RAW_LINES,
  NODE_NET,
  DENO_NODE_NET,
  HELLO,
  HELLO_ADMIN,
  PIPELINE,
  ROUTER,
];

const CONNECT_TARGETS: readonly Target[] = [RAW_BYTES, RAW_LINES, NODE_NET, DENO_NODE_NET, HELLO];

const IDLE_TARGETS: readonly Target[] = [RAW_BYTES, RAW_BYTES_1K, NODE_NET, DENO_NODE_NET, HELLO];

/** How many workers the multi-core section gives plumb. */
const WORKERS = 2;
const WORKER_TARGETS: readonly Target[] = [RAW_BYTES, HELLO, {
  name: `hello ${WORKERS} workers`,
  server: {
    script: ["main.ts", "examples/hello.json", "--workers", String(WORKERS)],
    denoFlags: [`--allow-run=${Deno.execPath()}`],
  },
  expect: "Hello, Plumber",
  // The workers are processes of their own: count their CPU and memory with the supervisor's.
  children: true,
}];

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

/** The sections, in the order they run within a round. */
const SECTION_IDS = ["keepalive", "connect", "idle", "workers", "eliza"] as const;
type SectionId = typeof SECTION_IDS[number];

/** One table of the report: its targets and connection counts and how the load runs. */
interface Section {
  id: SectionId;
  targets: readonly Target[];
  conns: number[];
  mode: LoadMode;
  /** Pin the server and the load generator to a processor each, when `--pin`. */
  pinned: boolean;
}

/** The command line of a benchmark run. */
interface BenchOptions {
  seconds: number;
  rounds: number;
  warmup: number;
  /** The sections to run, in order, each with its connection counts. */
  sections: Section[];
  /** Source addresses of the connect section. */
  sources: number;
  /** Run servers on processor 0 and the load generator on processor 1 (`taskset`). */
  pin: boolean;
  /** Use the C load generator when it can be compiled. */
  loadC: boolean;
  /** Targets of the keep-alive section to run once more under `--cpu-prof`. */
  profile: Target[];
  /** Keep-alive: all servers at once, loaded in turn each round ({@linkcode measureInterleaved}). */
  interleave: boolean;
}

/** Processors of the server and of the load generator with `--pin`. */
const SERVER_CPU = 0;
const LOAD_CPU = 1;

const USAGE = "flags are --seconds S --rounds R --warmup W " +
  `--only ${SECTION_IDS.join(",")} --no-eliza --conns C1,C2,... --connect-conns C1,... ` +
  "--idle-conns C1,... --workers-conns C1,... --eliza-conns C1,... --sources N " +
  "--load c|deno --no-pin --targets NAME1,NAME2,... --profile NAME1,NAME2,... --interleave";

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
      only: { type: "string" },
      conns: { type: "string" },
      "connect-conns": { type: "string" },
      "idle-conns": { type: "string" },
      "workers-conns": { type: "string" },
      "eliza-conns": { type: "string" },
      "no-eliza": { type: "boolean" },
      sources: { type: "string" },
      load: { type: "string" },
      pin: { type: "boolean" },
      "no-pin": { type: "boolean" },
      targets: { type: "string" },
      profile: { type: "string" },
      interleave: { type: "boolean" },
    },
  });
  const picked = values.targets?.split(",").map((name) => name.trim());
  const only = values.only?.split(",").map((id) => id.trim()) ?? [...SECTION_IDS];
  for (const id of only) {
    if (!(SECTION_IDS as readonly string[]).includes(id)) {
      throw new Error(`--only takes ${SECTION_IDS.join(", ")}; got "${id}"`);
    }
  }
  if (values.load !== undefined && values.load !== "c" && values.load !== "deno") {
    throw new Error(`--load must be c or deno, got "${values.load}"`);
  }
  const wanted = (id: SectionId): boolean =>
    only.includes(id) && !(id === "eliza" && values["no-eliza"]);
  const all: Section[] = [
    {
      id: "keepalive",
      targets: KEEPALIVE_TARGETS,
      conns: connsFlag(values.conns ?? "16,256", "conns"),
      mode: "keepalive",
      pinned: true,
    },
    {
      id: "connect",
      targets: CONNECT_TARGETS,
      conns: connsFlag(values["connect-conns"] ?? "16,256", "connect-conns"),
      mode: "connect",
      pinned: true,
    },
    {
      id: "idle",
      targets: IDLE_TARGETS,
      conns: connsFlag(values["idle-conns"] ?? "10000", "idle-conns"),
      mode: "idle",
      pinned: true,
    },
    {
      id: "workers",
      targets: WORKER_TARGETS,
      conns: connsFlag(values["workers-conns"] ?? "16,256", "workers-conns"),
      mode: "keepalive",
      pinned: false,
    },
    {
      id: "eliza",
      targets: ELIZA_TARGETS,
      conns: connsFlag(values["eliza-conns"] ?? "16", "eliza-conns"),
      mode: "keepalive",
      pinned: true,
    },
  ];
  const names = new Set(all.flatMap((section) => section.targets.map((t) => t.name)));
  for (const name of picked ?? []) {
    if (!names.has(name)) {
      throw new Error(`--targets takes ${[...names].join(", ")}; got "${name}"`);
    }
  }
  const profile = (values.profile?.split(",") ?? []).map((name) => {
    const target = KEEPALIVE_TARGETS.find((t) => t.name === name.trim());
    if (target === undefined || !("script" in target.server)) {
      const names = KEEPALIVE_TARGETS.filter((t) => "script" in t.server).map((t) => t.name);
      throw new Error(`--profile takes ${names.join(", ")}; got "${name}"`);
    }
    return target;
  });
  return {
    profile,
    interleave: values.interleave ?? false,
    seconds: numberFlag(values.seconds, "seconds", 5, { min: 0.1, max: 600 }),
    rounds: numberFlag(values.rounds, "rounds", 2, { min: 1, max: 20, integer: true }),
    warmup: numberFlag(values.warmup, "warmup", 1, { min: 0, max: 60 }),
    sections: all.filter((section) => wanted(section.id)).map((section) =>
      picked === undefined
        ? section
        : { ...section, targets: section.targets.filter((t) => picked.includes(t.name)) }
    ).filter((section) => section.targets.length > 0),
    sources: numberFlag(values.sources, "sources", 16, { min: 1, max: 250, integer: true }),
    pin: !values["no-pin"] && (values.pin || canPin()),
    loadC: values.load !== "deno",
  };
}

/** The load generator of this run: the compiled `loadgen.c`, or `load.ts`. */
interface LoadGenerator {
  /** Absolute path of the compiled `loadgen.c`; `null` for `load.ts`. */
  binary: string | null;
  /** What it is, for the report. */
  description: string;
}

/** Modification time of `path` in ms, or `null` when it does not exist. */
async function modified(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/**
 * Compiles `loadgen.c` when its binary is missing or older than the source
 * (`cc` writes the binary itself: the bench task grants no write access) and
 * returns it; `load.ts` with a note when it cannot be compiled.
 */
async function prepareLoadGenerator(options: BenchOptions, notes: Notes): Promise<LoadGenerator> {
  const fallback = (why: string): LoadGenerator => {
    const message = `${why}: the load generator is bench/load.ts, which needs most of a core ` +
      "at the top rates, so there the client, not the server, may set the pace";
    console.error(`bench: ${message}`);
    notes.add(message);
    return { binary: null, description: "`bench/load.ts` (Deno)" };
  };
  if (!options.loadC) return fallback("--load deno");
  const description = "`bench/loadgen.c` (C, epoll, one thread; `cc -O2`)";
  const binary = `${ROOT}${LOADGEN_BINARY}`;
  const [sourceTime, binaryTime] = await Promise.all([
    modified(`${ROOT}${LOADGEN_SOURCE}`),
    modified(binary),
  ]);
  if (sourceTime === null) return fallback(`${LOADGEN_SOURCE} is missing`);
  if (binaryTime !== null && binaryTime >= sourceTime) return { binary, description };
  const args = ["-O2", "-o", LOADGEN_BINARY, LOADGEN_SOURCE];
  console.error(`bench: cc ${args.join(" ")}`);
  try {
    await new Deno.Command("mkdir", { args: ["-p", "bench/results"], cwd: ROOT }).output();
    const { success, stderr } = await new Deno.Command("cc", {
      args,
      cwd: ROOT,
      stdin: "null",
    }).output();
    if (!success) {
      const errors = new TextDecoder().decode(stderr).trim();
      console.error(errors);
      return fallback(`cc could not compile ${LOADGEN_SOURCE} (${errors.split("\n")[0]})`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return fallback("no C compiler (cc) found");
    throw error;
  }
  return { binary, description };
}

/** The command and arguments that run `program` with `args`, on processor `cpu` when pinning. */
function pinned(
  program: string,
  args: string[],
  pin: boolean,
  cpu: number,
): [string, string[]] {
  return pin ? ["taskset", ["-c", String(cpu), program, ...args]] : [program, args];
}

/**
 * The command and arguments that start `target`'s server, on processor 0 when
 * pinning; `denoFlags` go to `deno run` (a Deno script only).
 */
function serverCommand(target: Target, pin: boolean, denoFlags: string[] = []): [string, string[]] {
  const server = target.server;
  return "script" in server
    ? pinned(
      Deno.execPath(),
      [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        ...(server.denoFlags ?? []),
        ...denoFlags,
        ...server.script,
        "--port",
        "0",
      ],
      pin,
      SERVER_CPU,
    )
    : pinned(server.program, server.args, pin, SERVER_CPU);
}

/**
 * The keep-alive line servers as `bench:instructions --line` runs them, plumb's
 * `hello` first (the one `--compare` swaps for another checkout's), each as
 * the program to start (this Deno or `node`) and its arguments.
 */
export function lineServers(): { name: string; program: "deno" | "node"; args: string[] }[] {
  return [HELLO, RAW_BYTES, RAW_STRINGS, RAW_LINES, NODE_NET, DENO_NODE_NET].map((target) => {
    const [program, args] = serverCommand(target, false);
    return { name: target.name, program: program === Deno.execPath() ? "deno" : "node", args };
  });
}

/** One load run: what to load and how. */
interface LoadRun {
  section: Section;
  target: Target;
  conns: number;
  port: number;
  pid: number;
}

/** Runs the load generator against a server and parses its JSON line. */
async function runLoad(
  options: BenchOptions,
  loadgen: LoadGenerator,
  run: LoadRun,
  pin: boolean,
): Promise<LoadResult> {
  const { section, target, conns } = run;
  const args = [
    ...["--port", String(run.port), "--conns", String(conns), "--expect", target.expect],
    ...["--seconds", String(options.seconds), "--warmup", String(options.warmup)],
    ...["--server-pid", String(run.pid), "--mode", section.mode],
    ...(target.line === undefined ? [] : ["--line", target.line]),
    ...(target.greeting ? ["--greeting"] : []),
    ...(target.children ? ["--server-tree"] : []),
    ...(section.mode === "connect" && loadgen.binary !== null
      ? ["--sources", String(options.sources)]
      : []),
  ];
  const limitMs = (options.warmup + options.seconds) * 1000 + LOAD_SLACK_MS +
    (section.mode === "idle" ? IDLE_SLACK_MS : 0);
  const [command, commandArgs] = loadgen.binary === null
    ? pinned(
      Deno.execPath(),
      ["run", "--allow-net=127.0.0.1", "--allow-run=cat", "bench/load.ts", ...args],
      pin,
      LOAD_CPU,
    )
    : pinned(loadgen.binary, args, pin, LOAD_CPU);
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args: commandArgs,
    cwd: ROOT,
    stdin: "null",
    signal: AbortSignal.timeout(limitMs),
  }).output();
  const errors = new TextDecoder().decode(stderr).trim();
  const where = `${section.id} ${target.name} C=${conns}`;
  if (errors !== "") console.error(errors.replace(/^/gm, `  ${where}: `));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  if (!success) throw new Error(`the load generator failed: ${errors.split("\n").at(-1)}`);
  return JSON.parse(lines[lines.length - 1]) as LoadResult;
}

/** Reports what a server said on standard error and how it ended, when unusual. */
function noteExit(target: Target, exit: ServerExit, notes: Notes): void {
  for (const line of exit.stderr.split("\n")) {
    if (line.trim() !== "" && !STOPPING_MESSAGE.test(line)) {
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

/** Loads a running server once; load errors go to the notes. */
async function loadServer(
  options: BenchOptions,
  loadgen: LoadGenerator,
  run: { section: Section; target: Target; conns: number; server: { port: number; pid: number } },
  pin: boolean,
  notes: Notes,
): Promise<LoadResult> {
  const { section, target, conns, server } = run;
  const result = await runLoad(options, loadgen, {
    section,
    target,
    conns,
    port: server.port,
    pid: server.pid,
  }, pin);
  if (result.errors > 0) {
    notes.add(
      `${section.id}: ${target.name} C=${conns}: ${result.errors} load error(s) (see stderr)`,
    );
  }
  return result;
}

/** Measures one target at one connection count on a fresh server. */
async function measure(
  options: BenchOptions,
  loadgen: LoadGenerator,
  section: Section,
  target: Target,
  conns: number,
  notes: Notes,
): Promise<LoadResult> {
  const pin = options.pin && section.pinned;
  const server = await startServer(...serverCommand(target, pin), ROOT);
  let result: LoadResult;
  try {
    if (section.mode === "idle") {
      const limit = await openFilesLimit(server.pid);
      if (limit !== null && limit < conns + SPARE_FILES) {
        notes.add(
          `idle: the ${target.name} server may open ${limit} files (ulimit -n), ` +
            `fewer than ${conns} connections need`,
        );
      }
    }
    result = await loadServer(options, loadgen, { section, target, conns, server }, pin, notes);
  } finally {
    noteExit(target, await server.stop(STOP_GRACE_MS), notes);
  }
  if (section.mode === "idle" && (result.idle_conns ?? 0) < conns) {
    notes.add(
      `idle: ${target.name}: only ${result.idle_conns} of ${conns} connections were answered`,
    );
  }
  if (section.mode === "idle" && result.open_at_end !== result.idle_conns) {
    notes.add(
      `idle: ${target.name}: ${(result.idle_conns ?? 0) - (result.open_at_end ?? 0)} ` +
        "idle connection(s) closed or written to during the hold",
    );
  }
  return result;
}

/**
 * `--interleave`: every target of a section serves at once (each on a fresh
 * server, started once), and each round loads them one after another, so
 * that the runs a ratio pairs are seconds apart, not a whole round.
 */
async function measureInterleaved(
  options: BenchOptions,
  loadgen: LoadGenerator,
  section: Section,
  conns: number,
  notes: Notes,
  done: (target: Target, round: number, result: LoadResult | Error) => void,
): Promise<void> {
  const pin = options.pin && section.pinned;
  const servers: { target: Target; server: Awaited<ReturnType<typeof startServer>> }[] = [];
  try {
    for (const target of section.targets) {
      try {
        servers.push({ target, server: await startServer(...serverCommand(target, pin), ROOT) });
      } catch (error) {
        for (let round = 1; round <= options.rounds; round++) done(target, round, error as Error);
      }
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const { target, server } of servers) {
        try {
          const run = { section, target, conns, server };
          done(target, round, await loadServer(options, loadgen, run, pin, notes));
        } catch (error) {
          done(target, round, error as Error);
        }
      }
    }
  } finally {
    for (const { target, server } of servers) {
      noteExit(target, await server.stop(STOP_GRACE_MS), notes);
    }
  }
}

/** The medians of a cell's runs. */
interface Cell {
  rps: number;
  p99: number;
  /** The 99.9th percentile latency and the slowest request, in ms (medians over the rounds). */
  p999: number;
  max: number;
  /** CPU time as a percentage of one core over the measured window. */
  loadCpu: number;
  serverCpu: number | null;
  /** What other processes took of the machine's processors, as a percentage of one core. */
  othersCpu: number | null;
  /** The server's CPU time per request (per connection, in the connect section), in µs. */
  cpuPerRequestUs: number | null;
}

function cellOf(runs: LoadResult[]): Cell {
  const serverCpus = runs.map((r) => r.server_cpu_ms);
  const others = runs.map((r) =>
    r.server_cpu_ms === undefined || r.machine_cpu_ms === undefined
      ? null
      : Math.max(0, (100 * (r.machine_cpu_ms - r.server_cpu_ms - r.cpu_ms)) / (r.seconds * 1000))
  );
  return {
    rps: median(runs.map((r) => r.rps)),
    p99: median(runs.map((r) => r.p99_ms)),
    p999: median(runs.map((r) => r.p999_ms)),
    max: median(runs.map((r) => r.max_ms)),
    loadCpu: median(runs.map((r) => (100 * r.cpu_ms) / (r.seconds * 1000))),
    serverCpu: serverCpus.every((ms) => ms !== undefined)
      ? median(runs.map((r) => (100 * r.server_cpu_ms!) / (r.seconds * 1000)))
      : null,
    othersCpu: others.every((v) => v !== null) ? median(others as number[]) : null,
    cpuPerRequestUs: serverCpus.every((ms) => ms !== undefined) && runs.every((r) => r.requests > 0)
      ? median(runs.map(cpuPerRequest))
      : null,
  };
}

/** A ratio of {@linkcode pairedRatio}, or `n/a`. */
function formatPaired(ratio: number | null): string {
  return ratio === null ? "n/a" : `${ratio.toFixed(2)}x`;
}

function formatRatio(value: number, base: number): string {
  return base > 0 ? `${(value / base).toFixed(2)}x` : "n/a";
}

function formatPercent(value: number | null): string {
  return value === null ? "n/a" : `${value.toFixed(0)} %`;
}

/** The lowest and highest rate of a cell's runs, short: `110k-269k`. */
function range(runs: LoadResult[]): string {
  const short = (n: number): string => n >= 10000 ? `${Math.round(n / 1000)}k` : String(n);
  const rates = runs.map((r) => r.rps);
  return `${short(Math.min(...rates))}-${short(Math.max(...rates))}`;
}

/** The runs of a target at a connection count, by section. */
/** A load run, with the round it was measured in. */
type RoundResult = LoadResult & { round: number };
type Samples = Map<string, RoundResult[]>;

/**
 * The median over the rounds of `pick(run) / pick(base run)`, each run paired
 * with the base's run of the same round: a machine that is slower in one
 * round than in another (a shared machine's neighbours) slows both sides of
 * a pair. `null` when no round has both.
 */
function pairedRatio(
  runs: readonly RoundResult[],
  baseRuns: readonly RoundResult[],
  pick: (run: LoadResult) => number,
): number | null {
  const ratios: number[] = [];
  for (const run of runs) {
    const base = baseRuns.find((b) => b.round === run.round);
    if (base !== undefined && pick(base) > 0) ratios.push(pick(run) / pick(base));
  }
  return ratios.length === 0 ? null : median(ratios);
}

/** The server's CPU time per request of a run, in µs (0 when not measured). */
function cpuPerRequest(run: LoadResult): number {
  return run.server_cpu_ms === undefined || run.requests === 0
    ? 0
    : (1000 * run.server_cpu_ms) / run.requests;
}

function sampleKey(section: Section, target: Target, conns: number): string {
  return `${section.id} ${target.name} ${conns}`;
}

/**
 * The base of a section's ratios at `conns` connections: the fastest (by
 * median rate) of its `baseline` targets, or its first target when it has
 * none; `null` when none of them was measured.
 */
function baseOf(section: Section, samples: Samples, conns: number): Target | null {
  const bases = section.targets.some((t) => t.baseline)
    ? section.targets.filter((t) => t.baseline)
    : section.targets.slice(0, 1);
  let best: Target | null = null;
  let bestRps = -1;
  for (const target of bases) {
    const runs = samples.get(sampleKey(section, target, conns)) ?? [];
    if (runs.length === 0) continue;
    const rps = median(runs.map((r) => r.rps));
    if (rps > bestRps) [best, bestRps] = [target, rps];
  }
  return best;
}

/** What the ratio columns of a section's table are taken against. */
function baseName(section: Section): string {
  return section.targets.some((t) => t.baseline) ? "fastest raw" : section.targets[0].name;
}

/**
 * A markdown table of request rates: one row per connection count and
 * target, medians over the rounds (and the range of the rates), with ratios
 * to the base of each connection count ({@linkcode baseOf}). The
 * connect section adds the slowest whole second, the connect errors and the
 * most sockets in TIME_WAIT.
 */
function rateTable(section: Section, samples: Samples): string[] {
  const targets = section.targets;
  const base = baseName(section);
  const connect = section.mode === "connect";
  const rows = [
    `| target | C | ${
      connect ? "conn/s" : "req/s"
    } | range | p99 ms | p99.9 ms | max ms | ratio vs ${base} (req/s) | ` +
    `p99 vs ${base} | server CPU % | server µs/req | load CPU % | others CPU % |` +
    (connect ? " slowest 1 s | connect errors | TIME_WAIT max |" : ""),
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" +
    (connect ? " ---: | ---: | ---: |" : ""),
  ];
  for (const conns of section.conns) {
    const of = (target: Target): RoundResult[] =>
      samples.get(sampleKey(section, target, conns)) ?? [];
    const baseTarget = baseOf(section, samples, conns);
    for (const target of targets) {
      const runs = of(target);
      if (runs.length === 0) {
        rows.push(
          `| ${target.name} | ${conns} | failed | | | | | | | | | | |` + (connect ? " | | |" : ""),
        );
        continue;
      }
      const cell = cellOf(runs);
      const extra = connect
        ? ` ${Math.round(median(runs.map((r) => r.slowest_second ?? 0)))} | ` +
          `${runs.reduce((sum, r) => sum + (r.connect_errors ?? 0), 0)} | ` +
          `${Math.max(...runs.map((r) => r.time_wait_max ?? -1))} |`
        : "";
      const baseRuns = baseTarget === null ? [] : of(baseTarget);
      rows.push(
        `| ${target.name} | ${conns} | ${Math.round(cell.rps)} | ${range(runs)} | ` +
          `${cell.p99.toFixed(3)} | ${cell.p999.toFixed(3)} | ${cell.max.toFixed(1)} | ` +
          `${formatPaired(pairedRatio(runs, baseRuns, (r) => r.rps))} | ` +
          `${formatPaired(pairedRatio(runs, baseRuns, (r) => r.p99_ms))} | ` +
          `${formatPercent(cell.serverCpu)} | ` +
          `${cell.cpuPerRequestUs === null ? "n/a" : cell.cpuPerRequestUs.toFixed(1)} | ` +
          `${formatPercent(cell.loadCpu)} | ${formatPercent(cell.othersCpu)} |${extra}`,
      );
    }
  }
  return rows;
}

/** A target of issue 18 on a rate: `name` at least `min` times `base` (and p99 at most `maxP99`). */
interface Goal {
  section: SectionId;
  target: Target;
  /** The target to compare with; `null`: the fastest raw server of the cell. */
  base: Target | null;
  min: number;
  maxP99?: number;
}

/** The goals the tables are read against, checked in the report. */
const GOALS: readonly Goal[] = [
  { section: "keepalive", target: HELLO, base: null, min: 0.95, maxP99: 1.5 },
  { section: "keepalive", target: PIPELINE, base: null, min: 0.85 },
  { section: "keepalive", target: ROUTER, base: HELLO, min: 0.7 },
  { section: "connect", target: HELLO, base: null, min: 0.9 },
];

/** One line per goal and connection count: the ratios and whether they meet it. */
function goalLines(sections: Section[], samples: Samples): string[] {
  const lines: string[] = [];
  for (const goal of GOALS) {
    const section = sections.find((s) => s.id === goal.section);
    if (section === undefined) continue;
    for (const conns of section.conns) {
      const base = goal.base ?? baseOf(section, samples, conns);
      const runs = samples.get(sampleKey(section, goal.target, conns)) ?? [];
      const baseRuns = base === null ? [] : samples.get(sampleKey(section, base, conns)) ?? [];
      if (base === null || runs.length === 0 || baseRuns.length === 0) continue;
      if (goal.base === null && !base.baseline) {
        // Without a raw server in the run, a goal against "the fastest raw" cannot be checked.
        lines.push(
          `- ${section.id} C=${conns}: ${goal.target.name}: not checked (no raw server in ` +
            `this run; its goal is against the fastest of them)`,
        );
        continue;
      }
      const cell = cellOf(runs);
      const rps = pairedRatio(runs, baseRuns, (r) => r.rps);
      const p99 = pairedRatio(runs, baseRuns, (r) => r.p99_ms);
      const cpu = pairedRatio(runs, baseRuns, cpuPerRequest);
      if (rps === null || p99 === null) continue;
      const met = rps >= goal.min && (goal.maxP99 === undefined || p99 <= goal.maxP99);
      lines.push(
        `- ${section.id} C=${conns}: ${goal.target.name} ${rps.toFixed(2)}x ${base.name} ` +
          `(at least ${goal.min}x)` +
          (goal.maxP99 === undefined ? "" : `, p99 ${p99.toFixed(2)}x (at most ${goal.maxP99}x)`) +
          `: ${met ? "met" : "MISSED"}` +
          (cpu === null || cell.cpuPerRequestUs === null
            ? ""
            : ` (server CPU per request ${cpu.toFixed(2)}x; others CPU ${
              formatPercent(cell.othersCpu)
            })`),
      );
    }
  }
  return lines;
}

/** KiB of server memory per idle connection in one idle run, or `null` when not measured. */
function kibPerConn(run: LoadResult): number | null {
  const { rss_before_kib: before, rss_idle_kib: after, idle_conns: conns } = run;
  if (before === undefined || after === undefined || !conns || before < 0 || after < 0) return null;
  return (after - before) / conns;
}

/** The idle section's table: resident memory per idle connection, medians over the rounds. */
function idleTable(section: Section, samples: Samples): string[] {
  const base = section.targets[0].name;
  const rows = [
    `| target | connections | held to the end | VmRSS before MiB | VmRSS all answered MiB | ` +
    `VmRSS after hold MiB | KiB per idle connection | ratio vs ${base} |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const mib = (values: (number | undefined)[]): string => {
    const known = values.filter((v): v is number => v !== undefined && v >= 0);
    return known.length === 0 ? "n/a" : (median(known) / 1024).toFixed(1);
  };
  const perConn = (runs: LoadResult[]): number | null => {
    const values = runs.map(kibPerConn).filter((v): v is number => v !== null);
    return values.length === 0 ? null : median(values);
  };
  for (const conns of section.conns) {
    const of = (target: Target): RoundResult[] =>
      samples.get(sampleKey(section, target, conns)) ?? [];
    const basePerConn = perConn(of(section.targets[0]));
    for (const target of section.targets) {
      const runs = of(target);
      if (runs.length === 0) {
        rows.push(`| ${target.name} | ${conns} | failed | | | | | |`);
        continue;
      }
      const kib = perConn(runs);
      const held = Math.min(...runs.map((r) => r.open_at_end ?? 0));
      rows.push(
        `| ${target.name} | ${conns} | ${held} | ${mib(runs.map((r) => r.rss_before_kib))} | ` +
          `${mib(runs.map((r) => r.rss_loaded_kib))} | ${mib(runs.map((r) => r.rss_idle_kib))} | ` +
          `${kib === null ? "n/a" : kib.toFixed(1)} | ` +
          `${kib === null || basePerConn === null ? "n/a" : formatRatio(kib, basePerConn)} |`,
      );
    }
  }
  return rows;
}

/** Most memory per idle connection of the hello graph, in kB (1000 bytes). */
const IDLE_GOAL_KB = 12;

/** The idle memory goal: hello's memory per idle connection against {@linkcode IDLE_GOAL_KB}. */
function idleGoalLines(options: BenchOptions, samples: Samples): string[] {
  const section = options.sections.find((s) => s.id === "idle");
  if (section === undefined) return [];
  return section.conns.flatMap((conns) => {
    const values = (samples.get(sampleKey(section, HELLO, conns)) ?? []).map(kibPerConn)
      .filter((v): v is number => v !== null);
    if (values.length === 0) return [];
    const kb = median(values) * 1.024;
    return [
      `- idle C=${conns}: hello ${kb.toFixed(1)} kB per idle connection ` +
      `(at most ${IDLE_GOAL_KB} kB): ${kb <= IDLE_GOAL_KB ? "met" : "MISSED"}`,
    ];
  });
}

/** What the run was told and where it ran, for the sections' texts. */
interface Context {
  options: BenchOptions;
  loadgen: LoadGenerator;
  /** Perl and Chatbot::Eliza versions, when the ELIZA section runs. */
  perl: string;
  /** Kernel settings that bear on the connect section. */
  kernel: { twReuse: string; portRange: string; maxTwBuckets: string };
}

function pinning(options: BenchOptions, section: Section): string {
  return options.pin && section.pinned
    ? `server on processor ${SERVER_CPU}, load generator on ${LOAD_CPU} (taskset)`
    : "not pinned to processors";
}

/** The title, the text and the table of one section. */
function sectionReport(section: Section, samples: Samples, context: Context): string[] {
  const { options } = context;
  const conns = (list: number[]): string => list.map((c) => `C=${c}`).join(", ");
  switch (section.id) {
    case "keepalive":
      return [
        "## Keep-alive connections",
        "",
        `- Closed loop, one \`Plumber\\n\` in flight per connection, ${conns(section.conns)}; ` +
        `${pinning(options, section)}.`,
        "",
        ...rateTable(section, samples),
      ];
    case "connect": {
      const { twReuse, portRange, maxTwBuckets } = context.kernel;
      const [low, high] = portRange.split(" ").map(Number);
      const ports = Number.isFinite(high - low) ? ` (${high - low + 1} ports)` : "";
      const sources = context.loadgen.binary === null
        ? "`load.ts` connects from 127.0.0.1 only, so these rows may be limited by that"
        : options.sources === 1
        ? "here (`--sources 1`) every connection comes from 127.0.0.1"
        : `here the connections come from ${options.sources} source addresses in turn, ` +
          `127.0.0.1 to 127.0.0.${options.sources} (all loopback; the only destination is ` +
          "127.0.0.1), each socket bound to its address before `connect` " +
          "(IP_BIND_ADDRESS_NO_PORT, so the kernel still picks the port): " +
          `${options.sources} times the ports, and a rate that does not depend on the table`;
      return [
        "",
        "## A new connection per request",
        "",
        `- Each of C slots: connect, write \`Plumber\\n\`, read the reply line, close, repeat; ` +
        `the latency runs from \`connect\` to the reply; ${conns(section.conns)}; ` +
        `${pinning(options, section)}.`,
        `- The client closes first, so each of its ports waits in TIME_WAIT. Kernel: ` +
        `net.ipv4.tcp_tw_reuse = ${twReuse} (2: on for loopback), ip_local_port_range ` +
        `${portRange}${ports}, tcp_max_tw_buckets ${maxTwBuckets}. tw_reuse lets \`connect\` ` +
        "take a port whose TIME_WAIT is over 1 s old, but it has to search for one: from a " +
        "single source address the client's `connect` calls, not the server, set the rate, " +
        "until the machine's TIME_WAIT table is full and the kernel stops keeping new " +
        `entries (\`--sources 1\` shows it). So ${sources}.`,
        "- `slowest 1 s` is the fewest connections served in a whole second of the window (did " +
        "the rate hold to the end); `TIME_WAIT max` the most TCP sockets in TIME_WAIT seen " +
        "(/proc/net/sockstat, the whole machine): at tcp_max_tw_buckets the kernel stops keeping " +
        "new ones and closes those sockets at once.",
        "",
        ...rateTable(section, samples),
      ];
    }
    case "idle":
      return [
        "",
        "## Memory per idle connection",
        "",
        `- Each server first gets ${options.warmup} s of keep-alive load over 16 connections ` +
        "(compiled code, pools), then its VmRSS is read (/proc/PID/status); then the connections " +
        "open (at most 128 at a time), each sends `Plumber\\n` and reads the reply, and all are " +
        `held idle for ${options.seconds} s. KiB per idle connection = (VmRSS after the hold - ` +
        `VmRSS before) / connections held. plumb's default idle ttl (DEFAULT_TTL, ` +
        `${DEFAULT_TTL} s) is longer than the hold, and \`held to the end\` counts the ` +
        `connections still open, with nothing received, when it ended; ` +
        `${pinning(options, section)}.`,
        "",
        ...idleTable(section, samples),
      ];
    case "workers":
      return [
        "",
        `## Multi-core: plumb on 1 and ${WORKERS} workers`,
        "",
        `- Keep-alive as above, ${conns(section.conns)}, but not pinned: the server and the ` +
        "load generator share every processor. `hello " + `${WORKERS} workers\` is \`main.ts ` +
        `examples/hello.json --workers ${WORKERS}\` (worker processes sharing the port with ` +
        "reusePort, under a supervisor; their CPU counted with it). CPU % is of one core: a server on two cores " +
        "can show up to 200 %, and what the load generator takes is not the server's.",
        "",
        ...rateTable(section, samples),
      ];
    case "eliza":
      return elizaSection(section, samples, context.perl);
  }
}

/** The title and the lines naming the machine, the command and the settings. */
async function header(context: Context, args: string[]): Promise<string[]> {
  const { options } = context;
  const command = [TASK_COMMAND, ...args].join(" ");
  const date = new Date().toISOString();
  return [
    "# plumb benchmark",
    "",
    `- Machine: nproc ${await processorCount()}, ${await cpuModel()}, ` +
    `deno ${Deno.version.deno} (V8 ${Deno.version.v8}), node ${
      await nodeVersion() ?? "missing"
    }, ` +
    `${Deno.build.os} ${Deno.build.arch}`,
    `- Command: \`${command}\``,
    `- Run: ${options.warmup} s warmup + ${options.seconds} s measured per cell, ` +
    `${options.rounds} round(s), each cell the median over rounds, ` +
    (options.interleave
      ? "keep-alive interleaved (every target's server started once and loaded in turn each " +
        "round; the other sections on a fresh server per measurement)"
      : "each measurement on a fresh server") +
    `; load generator ${context.loadgen.description}; CPU % is of one core (server and ` +
    `load generator are separate processes); ${date}`,
    "- `others CPU %`: the busy time of all processors in the window (/proc/stat) less the " +
    "server's and the load generator's, that is what other processes of this shared machine " +
    "took (as a percentage of one core); cells where it is high were disturbed. `range`: the " +
    "lowest and the highest rate over the rounds. `server µs/req`: the server's CPU time in " +
    "the window over the requests answered in it (10 ms steps of /proc), which the other " +
    "processes of the machine disturb less than the rate.",
    "- Baselines: `raw bytes` (`bench/raw_bytes_server.ts`: lines split on bytes, never a " +
    "string, all the replies of one read in one write; `raw bytes 1 KiB` with a 1 KiB read " +
    "buffer instead of 16 KiB), `raw lines` (`bench/raw_server.ts`: in the style of plumb's tcp " +
    "module, each line decoded to a string and its reply awaited in a write of its own), " +
    "`node net` (`bench/node_net_server.mjs`, Node's `net`, bytes, one write per `data` event, " +
    "run with the machine's `node`) and `deno node net` (the same program run by Deno, whose " +
    "`node:net` reads and writes natively). `vs fastest raw`: against whichever of the raw Deno " +
    "servers had the highest median rate in that row group; each ratio is the median over the " +
    "rounds of the ratio within a round (a round's two runs paired), as are the ratios of the " +
    "targets below.",
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
function elizaSection(section: Section, samples: Samples, versions: string): string[] {
  const medians = (target: Target, conns: number): [number, number] => {
    const runs = samples.get(sampleKey(section, target, conns)) ?? [];
    return [median(runs.map((s) => s.rps)), median(runs.map((s) => s.p99_ms))];
  };
  const ratios = section.conns.map((conns) => {
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
    ...rateTable(section, samples),
  ];
}

/** Where `--profile` has servers write their `.cpuprofile`, relative to the repository root. */
const PROFILE_DIR = "bench/results/prof";
/** Functions listed per profile. */
const PROFILE_TOP = 15;

/** What one `--profile` run gave. */
interface ProfileRun {
  target: Target;
  conns: number;
  load: LoadResult;
  /** The profile, relative to the repository root. */
  file: string;
  times: SelfTimes;
}

/**
 * Runs `target` once more under `deno run --cpu-prof` with the keep-alive
 * load at `conns` connections (warmup and measured window as in the tables),
 * stops it with SIGINT so that it writes its profile, and reads it.
 */
async function runProfile(
  options: BenchOptions,
  loadgen: LoadGenerator,
  target: Target,
  conns: number,
  notes: Notes,
): Promise<ProfileRun> {
  const dir = `${ROOT}${PROFILE_DIR}`;
  const before = await profileFiles(dir);
  const flags = ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`];
  const server = await startServer(...serverCommand(target, options.pin, flags), ROOT);
  const section: Section = {
    id: "keepalive",
    targets: [target],
    conns: [conns],
    mode: "keepalive",
    pinned: true,
  };
  let load: LoadResult;
  try {
    load = await runLoad(options, loadgen, {
      section,
      target,
      conns,
      port: server.port,
      pid: server.pid,
    }, options.pin);
  } finally {
    // SIGINT, then wait: a second signal would exit at once, maybe before the profile is written.
    try {
      Deno.kill(server.pid, "SIGINT");
    } catch {
      // Already gone; its status says how.
    }
    if (!(await waitExit(server.pid, STOP_GRACE_MS))) {
      notes.add(`profile: ${target.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGINT`);
    }
    noteExit(target, await server.stop(STOP_GRACE_MS), notes);
  }
  const name = newestNew(before, await profileFiles(dir));
  if (name === null) throw new Error(`${target.name} wrote no .cpuprofile to ${PROFILE_DIR}`);
  const file = `${PROFILE_DIR}/${name}`;
  const profile = JSON.parse(await Deno.readTextFile(`${ROOT}${file}`)) as CpuProfile;
  return { target, conns, load, file, times: selfTimes(profile, ROOT) };
}

/** The `--profile` section: per target, its time by part of the program and its top functions. */
function profileSection(options: BenchOptions, runs: ProfileRun[]): string[] {
  if (runs.length === 0) return [];
  const lines = [
    "",
    "## Where the time goes (`--profile`)",
    "",
    `- Each target once more under \`deno run --cpu-prof --cpu-prof-dir=${PROFILE_DIR}\`, ` +
    `keep-alive, ${options.warmup} s warmup + ${options.seconds} s measured, stopped with ` +
    "SIGINT; the profile covers the whole process, start-up included. self % is of the " +
    "samples that were not idle; `busy µs per request` is the profile's busy time over the " +
    "requests of warmup and window together (the window's rate times their length), to " +
    "compare targets. `(program)` is V8 and Deno's native code outside JavaScript, " +
    "`Deno ops` mostly the system calls (`op_write`, `op_read`) and text encoding.",
  ];
  for (const run of runs) {
    const { samples, idle, top } = run.times;
    const busy = samples - idle;
    const busyMs = top.reduce((sum, f) => sum + f.selfMs, 0);
    const requests = run.load.rps * (options.warmup + options.seconds);
    lines.push(
      "",
      `### ${run.target.name}, C=${run.conns}`,
      "",
      `- ${run.load.rps} req/s under the profiler; \`${run.file}\`: ${samples} samples, ` +
        `${idle} idle; busy µs per request ${
          requests > 0 ? (1000 * busyMs / requests).toFixed(2) : "n/a"
        }.`,
      "",
      ...profileTable(byPart(run.times), busy, "part"),
      "",
      ...profileTable(top.slice(0, PROFILE_TOP), busy, "function"),
    );
  }
  return lines;
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

/** One line of progress on stderr for a measurement. */
function progress(section: Section, result: LoadResult): string {
  if (section.mode === "idle") {
    const kib = kibPerConn(result);
    return `${result.open_at_end}/${result.conns} held, ` +
      `${kib === null ? "?" : kib.toFixed(1)} KiB per idle connection`;
  }
  const window = result.seconds * 1000;
  const serverCpu = result.server_cpu_ms === undefined
    ? "?"
    : (100 * result.server_cpu_ms / window).toFixed(0);
  return `${result.rps} req/s, p99 ${result.p99_ms} ms, server CPU ${serverCpu} %, ` +
    `load CPU ${(100 * result.cpu_ms / window).toFixed(0)} %`;
}

async function main(args: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(args);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}; ${USAGE}`);
    return 2;
  }
  const elizaRuns = options.sections.some((section) => section.id === "eliza");
  const perl = elizaRuns ? await perlVersions() : "";
  if (perl === null) {
    console.error(
      "bench: the ELIZA table needs perl with Chatbot::Eliza (Debian: libchatbot-eliza-perl); " +
        "--no-eliza leaves it out",
    );
    return 1;
  }
  const notes = new Notes();
  const loadgen = await prepareLoadGenerator(options, notes);
  const [twReuse, portRange, maxTwBuckets] = await Promise.all(
    ["net.ipv4.tcp_tw_reuse", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_max_tw_buckets"]
      .map(async (name) => await sysctl(name) ?? "unknown"),
  );
  const context: Context = {
    options,
    loadgen,
    perl,
    kernel: { twReuse, portRange, maxTwBuckets },
  };
  if (options.sections.some((s) => s.mode === "idle") && options.seconds + 30 >= DEFAULT_TTL) {
    notes.add(
      `idle: the hold (${options.seconds} s) comes close to plumb's default idle ttl ` +
        `(${DEFAULT_TTL} s): plumb may close idle connections during it`,
    );
  }
  const cells = options.rounds *
    options.sections.reduce((sum, s) => sum + s.targets.length * s.conns.length, 0);
  const estimate = Math.ceil(cells * (options.warmup + options.seconds + 1.5));
  console.error(`bench: ${cells} runs, about ${estimate} s`);
  const samples: Samples = new Map();
  const record = (section: Section, target: Target, conns: number, result: RoundResult): void => {
    const key = sampleKey(section, target, conns);
    samples.set(key, [...(samples.get(key) ?? []), result]);
  };
  const failed = (
    where: string,
    section: Section,
    target: Target,
    conns: number,
    error: unknown,
  ) => {
    const message = (error as Error).message.split("\n").map((line) => line.trim())
      .filter((line) => line !== "").join(" / ");
    const short = message.length > 300 ? `${message.slice(0, 300)}...` : message;
    console.error(`  ${where}: failed: ${short}`);
    notes.add(`${section.id}: ${target.name} C=${conns} failed: ${short}`);
  };
  const interleaved = options.sections.filter((s) => options.interleave && s.id === "keepalive");
  for (const section of interleaved) {
    for (const conns of section.conns) {
      await measureInterleaved(options, loadgen, section, conns, notes, (target, round, result) => {
        const where = `round ${round}/${options.rounds} ${section.id} C=${conns} ${target.name}`;
        if (result instanceof Error) return failed(where, section, target, conns, result);
        record(section, target, conns, { ...result, round });
        console.error(`  ${where}: ${progress(section, result)}`);
      });
    }
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const section of options.sections) {
      if (interleaved.includes(section)) continue;
      for (const conns of section.conns) {
        for (const target of section.targets) {
          const where = `round ${round}/${options.rounds} ${section.id} C=${conns} ${target.name}`;
          try {
            const result = await measure(options, loadgen, section, target, conns, notes);
            record(section, target, conns, { ...result, round });
            console.error(`  ${where}: ${progress(section, result)}`);
          } catch (error) {
            failed(where, section, target, conns, error);
          }
        }
      }
    }
  }
  const profiles: ProfileRun[] = [];
  const profileConns = options.sections.find((s) => s.id === "keepalive")?.conns[0] ?? 16;
  for (const target of options.profile) {
    try {
      const run = await runProfile(options, loadgen, target, profileConns, notes);
      profiles.push(run);
      console.error(
        `  profile ${target.name} C=${profileConns}: ${run.load.rps} req/s, ${run.file}`,
      );
    } catch (error) {
      const message = (error as Error).message.split("\n")[0];
      console.error(`  profile ${target.name}: failed: ${message}`);
      notes.add(`profile: ${target.name} failed: ${message}`);
    }
  }
  const noteLines = notes.lines();
  const goals = [...goalLines(options.sections, samples), ...idleGoalLines(options, samples)];
  const report = [
    ...(await header(context, args)),
    ...options.sections.flatMap((section) => sectionReport(section, samples, context)),
    ...(goals.length > 0 ? ["", "## Targets (issue 18)", "", ...goals] : []),
    ...profileSection(options, profiles),
    ...(noteLines.length > 0 ? ["", "Notes:", "", ...noteLines] : []),
  ].join("\n") + "\n";
  console.log(report);
  await save(report);
  console.error(`bench: wrote ${RESULTS_FILE}`);
  return 0;
}

if (import.meta.main) await runMain("bench", main);
