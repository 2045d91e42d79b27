/**
 * User-space instructions per request, counted by Valgrind: for HTTP the
 * same servers as `bench/http.ts` (plumb on `examples/http.json`,
 * `Deno.serve`, `node:http`, and on `/api/hello` the raw `Deno.listen`
 * floor); with `--line`, the line servers of `bench/run.ts`'s keep-alive
 * section (`hello`, `raw bytes`, `raw strings`, `raw lines`, `node net`, `deno node net`), each request
 * `Plumber\n` and its reply one line. Each server runs under `valgrind
 * --tool=callgrind`, which counts every instruction the process executes in
 * user space (JavaScript, V8, the runtime, the GC's threads), and none of the
 * kernel's.
 *
 * Timings on a shared machine move by 10-30 % from run to run; an
 * instruction count moves by about 1 %. So this is the measure to tell two
 * versions of plumb apart (`--compare DIR`, a second checkout), or to see how
 * much of the gap to a baseline is plumb's own code. It is not CPU time: the
 * system calls' kernel work (on loopback, most of a small request's cost) is
 * left out, and an instruction may cost more in one program than another.
 *
 * Each server serves `--requests` requests twice, in two runs: first `N1`
 * then `N2` (default 10000 and 50000) `GET --path` requests (or lines) over `--conns`
 * keep-alive connections (default 16), sent by a client in this process, one
 * request in flight per connection. Start-up, JIT warm-up and exit are the
 * same in both runs (each server is run once before, not counted, so that
 * neither fills Deno's caches), so the difference of their counts over
 * `N2 - N1` is what a request costs once the server is warm. A server runs 30 to 60 times
 * slower under Valgrind: each run takes tens of seconds. V8 compiles on the
 * server's main thread (see {@linkcode V8_FLAGS}).
 *
 * ```sh
 * deno task bench:instructions
 * deno task bench:instructions --targets plumb --compare ../plumb-before
 * deno task bench:instructions --line --conns 64
 * ```
 *
 * Needs `valgrind` (Debian: `apt-get install valgrind`) and, for `node:http`,
 * `node`. The report is printed and saved to `bench/results/instructions.md`
 * (`instructions_line.md` with `--line`).
 * @module
 */
import { parseArgs } from "node:util";
import { runMain } from "./common.ts";
import { numberFlag } from "./flags.ts";
import { prepareFiles, saveFile, type Target, targetsFor } from "./http.ts";
import { lineServers } from "./run.ts";
import { startServer } from "./server_process.ts";

/** The repository root: the servers run there, with paths relative to it. */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
/** Where the report is saved, relative to the repository root (with `--line`, the second). */
const RESULTS_FILE = "bench/results/instructions.md";
const LINE_RESULTS_FILE = "bench/results/instructions_line.md";
/** How long a server may take to start under Valgrind, in ms. */
const START_MS = 180_000;
/** How long a server may take to exit under Valgrind after SIGTERM, in ms. */
const STOP_MS = 120_000;
/** What callgrind prints at exit: the instructions it counted. */
const COLLECTED = /Collected : (\d+)/;
const USAGE = "flags are --requests N1,N2 --conns C --path /P (or --line) --targets NAME,... " +
  "--compare DIR (repeatable)";

/** What to measure. */
interface Options {
  requests: [number, number];
  conns: number;
  /** The HTTP path requested; `null` with `--line`. */
  path: string | null;
  targets: Target[];
}

function parse(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      requests: { type: "string" },
      conns: { type: "string" },
      path: { type: "string" },
      line: { type: "boolean" },
      targets: { type: "string" },
      compare: { type: "string", multiple: true },
    },
    strict: true,
  });
  const counts = (values.requests ?? "10000,50000").split(",").map(Number);
  if (counts.length !== 2 || !counts.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`--requests takes two counts, N1,N2 (${USAGE})`);
  }
  if (counts[1] <= counts[0]) throw new Error("--requests: N2 must be more than N1");
  if (values.line && values.path !== undefined) throw new Error("--path is for HTTP, not --line");
  const path = values.line ? null : values.path ?? "/api/hello";
  const all = path === null ? lineServers() : targetsFor(path);
  const names = values.targets?.split(",").map((name) => name.trim());
  const targets = all.filter((target) => names === undefined || names.includes(target.name));
  const unknown = names?.filter((name) => !all.some((target) => target.name === name)) ?? [];
  if (unknown.length > 0) {
    throw new Error(`--targets: no target ${unknown.join(", ")} (${all.map((t) => t.name)})`);
  }
  const plumb = all[0];
  for (const dir of values.compare ?? []) {
    // The other checkout's host, on this checkout's graph and files.
    const main = `${dir.replace(/\/$/, "")}/main.ts`;
    const args = plumb.args.map((arg) => arg === "main.ts" ? main : arg);
    targets.push({ ...plumb, name: `plumb ${dir}`, args });
  }
  return {
    requests: [counts[0], counts[1]],
    conns: numberFlag(values.conns, "conns", 16, { min: 1, max: 1000, integer: true }),
    path,
    targets,
  };
}

/** The program a target's `program` names: this Deno, or the `node` on the PATH. */
function programOf(target: Target): string {
  return target.program === "deno" ? Deno.execPath() : "node";
}

/**
 * V8 compiles on the thread that runs the program, not on threads of its
 * own: under Valgrind, which runs one thread at a time, a background
 * compiler falls behind, and code runs unoptimised for longer than it would
 * natively: a change to plumb counted -3 % with these flags, -0.7 % without.
 * Both programs take V8's flags on the command line.
 */
const V8_FLAGS = ["--no-concurrent-recompilation", "--no-concurrent-sparkplug"];

/** A target's arguments with {@linkcode V8_FLAGS}: `deno run --v8-flags=...`, or first for `node`. */
function argsOf(target: Target): string[] {
  const [first, ...rest] = target.args;
  return target.program === "deno"
    ? [first, `--v8-flags=${V8_FLAGS.join(",")}`, ...rest]
    : [...V8_FLAGS, ...target.args];
}

/**
 * Sends `total` requests (`GET path`, or with `path` null the line
 * `Plumber\n`) over `conns` keep-alive connections; resolves once all are
 * answered.
 */
async function load(
  port: number,
  path: string | null,
  total: number,
  conns: number,
): Promise<void> {
  const request = new TextEncoder().encode(
    path === null ? "Plumber\n" : `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
  );
  const whole = path === null ? wholeLine : wholeResponse;
  let sent = 0;
  const connection = async (): Promise<void> => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const buffer = new Uint8Array(65536);
      while (sent < total) {
        sent++;
        await conn.write(request);
        await readUntil(conn, buffer, whole);
      }
    } finally {
      conn.close();
    }
  };
  await Promise.all(Array.from({ length: conns }, connection));
}

/**
 * Reads one reply: bytes as Latin-1 text (which keeps byte offsets) until
 * `whole(text)` says the reply is complete; it throws on a wrong reply.
 */
async function readUntil(
  conn: Deno.Conn,
  buffer: Uint8Array,
  whole: (text: string) => boolean,
): Promise<void> {
  let text = "";
  do {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the server closed the connection");
    for (let i = 0; i < n; i++) text += String.fromCharCode(buffer[i]);
  } while (!whole(text));
}

/** True once `text` is the reply line `Hello, Plumber\n`; throws on anything else. */
function wholeLine(text: string): boolean {
  if (!text.includes("\n")) return false;
  if (text !== "Hello, Plumber\n") throw new Error(`unexpected reply ${JSON.stringify(text)}`);
  return true;
}

/** True once `text` is one response with a `content-length` (the servers' replies all have one). */
function wholeResponse(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  if (length === null) throw new Error("a response without content-length");
  const whole = end + 4 + Number(length[1]);
  if (text.length > whole) throw new Error("more bytes than one response");
  return text.length === whole;
}

/**
 * Runs a target once, not counted, for a few requests: what its first start
 * does once (Deno fetching npm packages and caching the modules it
 * transpiled) is then not in either counted run. Two counts of one tree
 * differed by 6 % without it on a machine where Deno was new.
 */
async function warm(target: Target, options: Options): Promise<void> {
  const server = await startServer(programOf(target), argsOf(target), ROOT, START_MS);
  try {
    await load(server.port, options.path, 100, 1);
  } finally {
    await server.stop(STOP_MS);
  }
}

/** The instructions a target's process executed serving `requests` requests. */
async function count(target: Target, options: Options, requests: number): Promise<number> {
  // The total is all that is read, from standard error: the profile itself goes nowhere.
  const server = await startServer(
    "valgrind",
    ["--tool=callgrind", "--callgrind-out-file=/dev/null", programOf(target), ...argsOf(target)],
    ROOT,
    START_MS,
  );
  const loaded = load(server.port, options.path, requests, options.conns).then(
    () => undefined,
    (error: unknown) => error,
  );
  const failed = await loaded;
  const exit = await server.stop(STOP_MS);
  if (failed !== undefined) throw new Error(`${target.name}: ${(failed as Error).message}`);
  const collected = COLLECTED.exec(exit.stderr);
  if (collected === null) {
    throw new Error(`${target.name}: no instruction count (exit ${exit.code})`);
  }
  return Number(collected[1]);
}

/** A target's counts for the two runs, and the instructions per request between them. */
interface Row {
  target: Target;
  counts: [number, number];
  perRequest: number;
}

function report(options: Options, rows: Row[]): string {
  const [n1, n2] = options.requests;
  const base = (name: string): number | undefined =>
    rows.find((row) => row.target.name === name)?.perRequest;
  // The strongest Deno baseline and Node's, for the protocol measured.
  const [first, second] = options.path === null
    ? ["raw bytes", "node net"]
    : ["Deno.serve", "node:http"];
  const deno = base(first);
  const node = base(second);
  const ratio = (value: number, of: number | undefined): string =>
    of === undefined ? "-" : `${(value / of).toFixed(2)}x`;
  return [
    `# User-space instructions per request (callgrind)`,
    "",
    `- \`${["deno task bench:instructions", ...Deno.args].join(" ")}\`, ${
      new Date().toISOString()
    }`,
    `- ${
      options.path === null ? "the line `Plumber`" : `GET ${options.path}`
    }, ${options.conns} keep-alive connections; each server run twice, ` +
    `for ${n1} and ${n2} requests; per request: the difference over ${n2 - n1}`,
    "",
    `| server | instructions, N1 | instructions, N2 | per request | vs ${first} | vs ${second} |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((row) =>
      `| ${row.target.name} | ${row.counts[0]} | ${row.counts[1]} | ${
        Math.round(row.perRequest)
      } | ${ratio(row.perRequest, deno)} | ${ratio(row.perRequest, node)} |`
    ),
    "",
  ].join("\n");
}

async function main(args: string[]): Promise<number> {
  const options = parse(args);
  await prepareFiles();
  const rows: Row[] = [];
  for (const target of options.targets) {
    // The two runs at once, on the two processors a machine has at least: counting does not
    // depend on timing.
    await warm(target, options);
    console.error(`${target.name}: ${options.requests.join(" and ")} requests under valgrind`);
    const counts = await Promise.all(options.requests.map((n) => count(target, options, n))) as [
      number,
      number,
    ];
    const perRequest = (counts[1] - counts[0]) / (options.requests[1] - options.requests[0]);
    rows.push({ target, counts, perRequest });
  }
  const text = report(options, rows);
  console.log(text);
  const file = options.path === null ? LINE_RESULTS_FILE : RESULTS_FILE;
  await saveFile(file, new TextEncoder().encode(text));
  console.error(`bench:instructions: wrote ${file}`);
  return 0;
}

if (import.meta.main) await runMain("bench:instructions", main);
