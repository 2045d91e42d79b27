/**
 * `docs/troubleshooting.md` against the table of codes (`kernel/codes.ts`):
 * every code has its entry and every entry's code is in the table; and the
 * messages are provoked for real (a bad graph, an unknown servlet, a missing
 * file, a port in use, a servlet that misuses its task, ...), each printed or
 * thrown with its code and matching the entry of that code. A code no case
 * below provokes is listed with the reason, so a new code is provoked here or
 * says why not.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, path, ROOT, runCli, spawnCli } from "./helpers.ts";
import { assertDocumented, readEntries, TROUBLESHOOTING } from "./docs/troubleshooting.ts";
import { type Code, CODES } from "../kernel/codes.ts";
import { lineOf, PlumbError } from "../kernel/errors.ts";
import {
  checkGraph,
  createLogger,
  graph,
  type GraphSpec,
  serve,
  type ServeOptions,
  serveWorkers,
} from "../host/mod.ts";
import {
  type CntlOp,
  defineServlet,
  DISABLED,
  EOM,
  type InitEnv,
  INPUT,
  OUTPUT,
  PERSIST,
  type PipeType,
  pipeType,
  type Port,
  type Servlet,
  SET_FLAG,
  SHADOW,
  type Task,
} from "../mod.ts";
import {
  ServletHarness,
  simulate,
  type SimulateOptions,
  type Simulation,
  type TestClient,
} from "../testing/mod.ts";
import type { IoModule } from "../modules/module.ts";
import { ConnectionLog } from "../modules/connection_log.ts";
import { relayStore } from "../host/store_relay.ts";
import { generateKeyPairSync } from "node:crypto";

const ENTRIES = readEntries();
const GRAPHS = "tests/fixtures/graphs";
const TMP = "tests/.tmp";

Deno.test("troubleshooting: every entry starts with a code of the table, once, and says what to do", () => {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const e of ENTRIES) {
    const at = `${TROUBLESHOOTING}:${e.line}`;
    if (e.code === undefined) problems.push(`${at}: no code: ${e.message}`);
    else if (!(e.code in CODES)) problems.push(`${at}: ${e.code} is not in kernel/codes.ts`);
    else if (seen.has(e.code)) {
      problems.push(`${at}: ${e.code} has an entry at line ${seen.get(e.code)}`);
    }
    if (e.code !== undefined) seen.set(e.code, e.line);
    if (e.explanation.length < 20) problems.push(`${at}: says too little: ${e.message}`);
  }
  assertEquals(problems, []);
});

Deno.test("troubleshooting: every code of the table has its entry", () => {
  const documented = new Set(ENTRIES.map((e) => e.code));
  assertEquals(Object.keys(CODES).filter((code) => !documented.has(code)), []);
});

Deno.test("troubleshooting: the page's links lead somewhere", () => {
  const text = Deno.readTextFileSync(path(TROUBLESHOOTING));
  const slug = (heading: string): string =>
    heading.toLowerCase().replace(/[^\w\s-]/g, "").trim().replace(/\s/g, "-");
  const anchors = [...text.matchAll(/^#+\s+(.*)$/gm)].map((m) => slug(m[1]));
  const broken: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^https?:/.test(target)) continue;
    const [file, anchor] = target.split("#");
    if (file !== "" && !Deno.statSync(path(`docs/${file}`)).isFile) broken.push(target);
    if (file === "" && !anchors.includes(anchor)) broken.push(target);
  }
  assertEquals(broken, []);
});

// ---------------------------------------------------------------------------
// Provoking the messages.

/** One message provoked for real: its code, and how to get the line it is printed (or thrown) as. */
interface Case {
  code: Code;
  what: string;
  /** The line: a printed one, or `CODE message` of a thrown plumb error (see lineOf). */
  line(): Promise<string>;
}

/**
 * The line of what `run` throws (or rejects with), which must be a plumb
 * error with a one-line message: `CODE message`.
 */
async function thrown(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    assert(error instanceof PlumbError, `not a PlumbError: ${error}`);
    assert(!error.message.includes("\n"), `not one line: ${error.message}`);
    return lineOf(error);
  }
  throw new Error("it did not fail");
}

/** The part of `line` after the first `marker` (an inner message with its own code). */
function after(marker: string | RegExp, line: string): string {
  const match = typeof marker === "string"
    ? { index: line.indexOf(marker), 0: marker }
    : marker.exec(line);
  assert(match !== null && match.index >= 0, `no ${marker} in ${line}`);
  return line.slice(match.index + match[0].length);
}

/** A graph of one node `n` (in, out), with `over` over it. */
function oneNode(
  servlet: string | Servlet<unknown>,
  args: string[] = [],
  over: Partial<GraphSpec> = {},
): GraphSpec {
  return { nodes: { n: { servlet, args } }, input: "n.in", output: "n.out", ...over };
}

/** A graph of one node with a `tcp` listener on port 0 and `options`. */
function listening(options: Record<string, unknown>, servlet = "echo"): GraphSpec {
  return oneNode(servlet, [], {
    listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0, ...options } }],
  });
}

/** A graph of one echo node with a tcp listener and a `nats` listener with `options`. */
function natsListening(options: Record<string, unknown>): GraphSpec {
  return oneNode("echo", [], {
    listeners: [
      { module: "tcp", options: { host: "127.0.0.1", port: 0 } },
      { module: "nats", options: { subject: "plumb.echo", ...options } },
    ],
  });
}

/** The line of a graph that does not check. */
function checks(spec: unknown, options: ServeOptions = {}): Promise<string> {
  return thrown(() => checkGraph(spec as GraphSpec, { base: ROOT, ...options }));
}

/** The line of a graph that cannot be served (a host that did start is closed, and fails). */
function serves(spec: unknown, options: ServeOptions = {}): Promise<string> {
  return thrown(async () => {
    const host = await serve(spec as GraphSpec, {
      base: ROOT,
      logger: createLogger("error", () => {}),
      ...options,
    });
    await host.close();
  });
}

/** The inner line of a servlet's init error: what follows `init of servlet "..." failed: `. */
async function initError(servlet: string | Servlet<unknown>, args: string[]): Promise<string> {
  const line = await checks(oneNode(servlet, args));
  assertMatch(line, /^PLUMB_SERVLET_INIT_FAILED /);
  return after(/init of servlet "[^"]*" failed: /, line);
}

/** The first log line with `code` once `run` has run against `graph` served in memory (or over TCP). */
async function logged(
  code: Code,
  graph: string | GraphSpec | Servlet<unknown>,
  run: (client: TestClient, sim: Simulation) => Promise<unknown>,
  options: SimulateOptions = {},
): Promise<string> {
  await using sim = await simulate(graph, { base: ROOT, ...options });
  {
    await using client = await sim.connect();
    await run(client, sim);
  }
  return await sim.waitForLog(` ${code} `);
}

/** The error of a request, as the line logged for it shows it: `CODE message`. */
async function requestError(
  graph: string | GraphSpec | Servlet<unknown>,
  input: string,
  options: SimulateOptions = {},
): Promise<string> {
  const line = await logged("PLUMB_REQUEST_FAILED", graph, async (client) => {
    await client.send(input);
    await client.closeWrite();
    await client.readToEnd();
  }, options);
  return after(/ failed a request from \S+: \w+: /, line);
}

/** The ports of a misusing servlet. */
interface Ports {
  input: Port;
  output: Port;
  copy: Port;
  env: InitEnv;
}

/** A servlet whose exec reads a line and then does `misuse`. */
function misusing(misuse: (ctx: Ports, task: Task) => unknown): Servlet<Ports> {
  return defineServlet({
    init(_args, env): Ports {
      const input = env.define("in", INPUT | PERSIST);
      const output = env.define("out", OUTPUT);
      return { input, output, copy: env.define("copy", OUTPUT | SHADOW | output.id), env };
    },
    async exec(ctx, task): Promise<void> {
      await task.readLine(ctx.input);
      await misuse(ctx, task);
    },
  });
}

/** The line of the error a servlet's `init` throws when it defines ports as `define` does. */
function defining(define: (env: InitEnv) => unknown): Promise<string> {
  return checks(oneNode(defineServlet({
    init(_args, env): void {
      define(env);
    },
    exec(): void {},
  })));
}

/** A servlet whose ports are typed: by a type name, or by a pipe type it registers. */
function typed(
  input: string | PipeType<unknown> | undefined,
  output: string | PipeType<unknown> | undefined,
): Servlet<Ports> {
  return defineServlet({
    init(_args, env): Ports {
      const ports = {
        input: env.input("in", { type: input }),
        output: env.output("out", { type: output }),
      };
      return { ...ports, copy: ports.output, env };
    },
    exec(): void {},
  });
}

/** What a CLI run printed: its one line on standard error, with the exit status asserted. */
async function cliLine(args: string[], permissions?: string[], status = 2): Promise<string> {
  const result = await runCli(args, permissions);
  assertEquals(result.stdout, "");
  assertEquals(result.code, status, result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, result.stderr);
  return lines[0];
}

/** Writes `spec` as `tests/.tmp/NAME.json` and returns its path. */
async function tmpGraph(name: string, spec: unknown): Promise<string> {
  await Deno.mkdir(path(TMP), { recursive: true });
  const file = `${TMP}/${name}.json`;
  await Deno.writeTextFile(path(file), JSON.stringify(spec));
  return file;
}

/** Runs `make` once, on first use, for the cases that share one run. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => made ??= make();
}

/** A module whose listen fails as `fail` does: what no plumb module does on purpose. */
function failingModule(fail: () => never | Promise<never>): IoModule<unknown> {
  return { name: "failing", parseOptions: (options) => options, listen: async () => await fail() };
}

/** The log lines of one CLI run: a servlet's stray rejection and exception, then a stop. */
const strayRun = once(async (): Promise<string[]> => {
  const graph = await tmpGraph("stray", {
    ...oneNode("../fixtures/stray.ts"),
    listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }],
  });
  const host = await spawnCli([graph]);
  {
    await using client = await Client.connect(host.port);
    await client.send("stray\n");
    assertEquals(await client.readLine(), "ok: stray\n");
  }
  await host.waitForStderr(/uncaught exception.*\n/);
  await host.waitForStderr(/unhandled rejection.*\n/);
  const { stderr } = await host.stop();
  return stderr.trimEnd().split("\n");
});

/** The lines of one host's reloads: a good one, one with changed listeners, a bad one. */
const reloadRun = once(async (): Promise<string[]> => {
  const lines: string[] = [];
  const spec = listening({});
  const host = await serve(spec, {
    base: ROOT,
    logger: createLogger("info", (l) => lines.push(l)),
  });
  try {
    await host.reload(spec);
    await host.reload(listening({ ttl: 60 }));
    await host.reload({ ...spec, output: "n.outt" });
  } finally {
    await host.close();
  }
  return lines;
});

/**
 * The log of `--workers 2` serving `worker_name.json` while worker 1 is
 * killed with SIGKILL and comes back, then closing (each `unload` writes on
 * its worker's standard error).
 */
const workerKillRun = once(async (): Promise<string[]> => {
  const lines: string[] = [];
  const host = await serveWorkers("tests/fixtures/graphs/worker_name.json", 2, {
    logger: createLogger("info", (l) => lines.push(l)),
  });
  try {
    const ps = await new Deno.Command("ps", {
      args: ["--ppid", String(Deno.pid), "-o", "pid=,args="],
    }).output();
    const pid = new TextDecoder().decode(ps.stdout).match(/^\s*(\d+) .*worker_entry\.ts 1$/m);
    assert(pid !== null, "no worker 1");
    Deno.kill(Number(pid[1]), "SIGKILL");
    while (!lines.some((l) => l.includes("PLUMB_WORKER_RESTARTED"))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await host.close();
  }
  return lines;
});

/** The first of `lines` that carries `code`. */
function withCode(lines: readonly string[], code: Code): string {
  const line = lines.find((l) => l.includes(` ${code} `));
  assert(line !== undefined, `no ${code} in:\n${lines.join("\n")}`);
  return line;
}

const SPEC = oneNode("echo");

const ISOLATED_SPIN = "./tests/fixtures/isolate/spin.ts";

/** A graph of one isolated node `n` (in, out). */
function isolatedNode(
  servlet: string | Servlet<unknown>,
  isolate: Record<string, unknown> = {},
): GraphSpec {
  return { nodes: { n: { servlet, isolate } }, input: "n.in", output: "n.out" };
}

/** The demo certificate and key of the examples, from the repository root. */
const DEMO_CERT = "examples/tls/localhost.crt";
const DEMO_KEY = "examples/tls/localhost.key";

/** A graph of one echo node with a `tls` listener on port 0 and `options` (certificate paths from the root). */
function tlsListening(options: Record<string, unknown>): GraphSpec {
  return oneNode("echo", [], {
    listeners: [{
      module: "tls",
      options: { host: "127.0.0.1", port: 0, cert: DEMO_CERT, key: DEMO_KEY, ...options },
    }],
  });
}

/** Writes `text` as `tests/.tmp/NAME` and returns its path from the root. */
async function tmpFile(name: string, text: string): Promise<string> {
  await Deno.mkdir(path(TMP), { recursive: true });
  await Deno.writeTextFile(path(`${TMP}/${name}`), text);
  return `${TMP}/${name}`;
}

/** A fresh EC private key as PEM, encrypted with `passphrase` if given. */
function freshKey(passphrase?: string): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export(
    passphrase === undefined
      ? { type: "pkcs8", format: "pem" }
      : { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase },
  ) as string;
}

/** The lines of one host's certificate reloads: a good one, then one with a broken key. */
const tlsReloadRun = once(async (): Promise<string[]> => {
  const cert = await tmpFile("reload.crt", await Deno.readTextFile(path(DEMO_CERT)));
  const key = await tmpFile("reload.key", await Deno.readTextFile(path(DEMO_KEY)));
  const lines: string[] = [];
  const host = await serve(tlsListening({ cert, key }), {
    base: ROOT,
    logger: createLogger("info", (l) => lines.push(l)),
  });
  try {
    await host.reload();
    await Deno.writeTextFile(
      path(key),
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    await host.reload();
  } finally {
    await host.close();
  }
  return lines;
});

/** The debug lines of a tls listener that a plain-TCP client talked to. */
const plainOnTlsRun = once(async (): Promise<string[]> => {
  const lines: string[] = [];
  const host = await serve(tlsListening({}), {
    base: ROOT,
    logger: createLogger("debug", (l) => lines.push(l)),
  });
  try {
    const port = Number(new URL(host.urls[0].replace(/^tls:/, "http:")).port);
    await using client = await Client.connect(port);
    await client.send("hello\n");
    await client.readToEnd();
    for (
      let waited = 0;
      waited < 5000 && !lines.some((l) => l.includes("handshake"));
      waited += 10
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await host.close();
  }
  return lines;
});

const CASES: Case[] = [
  // Starting and stopping.
  {
    code: "PLUMB_STOPPING",
    what: "SIGTERM",
    line: async () => withCode(await strayRun(), "PLUMB_STOPPING"),
  },
  {
    code: "PLUMB_IDLE_EXIT",
    what: "--idle-exit",
    line: async () => {
      const lines: string[] = [];
      const host = await serve(listening({}), {
        idleExitMs: 20,
        logger: createLogger("info", (l) => lines.push(l)),
      });
      await host.finished;
      return withCode(lines, "PLUMB_IDLE_EXIT");
    },
  },
  {
    code: "PLUMB_UNEXPECTED",
    what: "a module that throws a TypeError",
    line: () =>
      serves({ ...SPEC, listeners: [{ module: "failing" }] }, {
        modules: {
          failing: failingModule(() => {
            throw new TypeError("x is not a function");
          }),
        },
      }),
  },

  // The graph file.
  {
    code: "PLUMB_FILE_NOT_FOUND",
    what: "a missing file",
    line: () => checks(`${TMP}/no_such_graph.json`),
  },
  { code: "PLUMB_FILE_UNREADABLE", what: "a directory", line: () => checks("tests/fixtures") },
  { code: "PLUMB_FILE_NOT_JSON", what: "bad JSON", line: () => checks(`${GRAPHS}/bad_json.json`) },
  { code: "PLUMB_GRAPH_NOT_OBJECT", what: "an array", line: () => checks([]) },
  { code: "PLUMB_GRAPH_UNKNOWN_KEY", what: '"edge"', line: () => checks({ ...SPEC, edge: [] }) },
  {
    code: "PLUMB_NODE_UNKNOWN_KEY",
    what: '"servelt"',
    line: () => checks({ ...SPEC, nodes: { n: { servelt: "echo" } } }),
  },
  {
    code: "PLUMB_EDGE_UNKNOWN_KEY",
    what: '"form"',
    line: () => checks({ ...SPEC, edges: [{ form: "n.out", to: "n.in" }] }),
  },
  {
    code: "PLUMB_LISTENER_UNKNOWN_KEY",
    what: '"port" outside "options"',
    line: () => checks({ ...SPEC, listeners: [{ module: "tcp", port: 1 }] }),
  },
  {
    code: "PLUMB_GRAPH_TOO_DEEP",
    what: "33 levels of arrays",
    line: () => {
      let deep: unknown = [];
      for (let i = 0; i < 40; i++) deep = [deep];
      return checks({ ...SPEC, description: deep });
    },
  },
  {
    code: "PLUMB_GRAPH_TOO_LARGE",
    what: "10001 nodes",
    line: () => {
      const nodes: Record<string, unknown> = {};
      for (let i = 0; i <= 10000; i++) nodes[`n${i}`] = { servlet: "echo" };
      return checks({ ...SPEC, nodes });
    },
  },
  { code: "PLUMB_GRAPH_NO_NODES", what: "no nodes", line: () => checks({ ...SPEC, nodes: {} }) },
  {
    code: "PLUMB_GRAPH_NO_INPUT",
    what: "no input",
    line: () => checks({ ...SPEC, input: undefined }),
  },
  {
    code: "PLUMB_GRAPH_NO_OUTPUT",
    what: "no output",
    line: () => checks({ ...SPEC, output: undefined }),
  },
  { code: "PLUMB_GRAPH_NO_LISTENERS", what: "served without a listener", line: () => serves(SPEC) },

  // Nodes and servlets.
  {
    code: "PLUMB_NODE_BAD_NAME",
    what: '"a.b"',
    line: () => checks({ ...SPEC, nodes: { "a.b": { servlet: "echo" } } }),
  },
  {
    code: "PLUMB_NODE_NOT_OBJECT",
    what: "a string",
    line: () => checks({ ...SPEC, nodes: { n: "echo" } }),
  },
  {
    code: "PLUMB_NODE_NO_SERVLET",
    what: "no servlet",
    line: () => checks({ ...SPEC, nodes: { n: {} } }),
  },
  {
    code: "PLUMB_NODE_BAD_ARGS",
    what: "a number",
    line: () => checks({ ...SPEC, nodes: { n: { servlet: "echo", args: [3] } } }),
  },
  {
    code: "PLUMB_NODE_TWICE",
    what: "the graph builder",
    line: () => thrown(() => graph().node("a", "echo").node("a", "echo")),
  },
  {
    code: "PLUMB_SERVLET_SCHEME",
    what: "data:",
    line: () => checks(oneNode("data:text/javascript,export default 1")),
  },
  { code: "PLUMB_SERVLET_UNKNOWN", what: '"helo"', line: () => checks(oneNode("helo")) },
  {
    code: "PLUMB_SERVLET_LOAD_FAILED",
    what: "no such file",
    line: () => checks(oneNode("./tests/fixtures/no_such_servlet.ts")),
  },
  {
    code: "PLUMB_SERVLET_NOT_SERVLET",
    what: "not_servlet.ts",
    line: () => checks(oneNode("./tests/fixtures/not_servlet.ts")),
  },
  {
    code: "PLUMB_SERVLET_INIT_FAILED",
    what: "transform sideways",
    line: () => checks(oneNode("transform", ["sideways"])),
  },
  {
    code: "PLUMB_SERVLET_UNLOAD_FAILED",
    what: "an unload that throws",
    line: async () => {
      const sim = await simulate(
        defineServlet({
          init(_args, env): void {
            env.define("in", INPUT);
            env.define("out", OUTPUT);
          },
          exec(): void {},
          unload(): void {
            throw new RangeError("cannot let go");
          },
        }),
      );
      await sim.close();
      return withCode(sim.logs, "PLUMB_SERVLET_UNLOAD_FAILED");
    },
  },

  // Ports and flags at init.
  { code: "PLUMB_PORT_NO_NAME", what: '""', line: () => defining((env) => env.define("", INPUT)) },
  {
    code: "PLUMB_PORT_RESERVED",
    what: "__error__",
    line: () => defining((env) => env.define("__error__", OUTPUT)),
  },
  {
    code: "PLUMB_PORT_TWICE",
    what: "in, in",
    line: () => defining((env) => [env.define("in", INPUT), env.define("in", INPUT)]),
  },
  {
    code: "PLUMB_PORT_ALIAS_NO_NAME",
    what: 'alias ""',
    line: () => defining((env) => env.output("out", { alias: "" })),
  },
  {
    code: "PLUMB_PORT_ALIAS_RESERVED",
    what: "alias __null__",
    line: () => defining((env) => env.output("out", { alias: "__null__" })),
  },
  {
    code: "PLUMB_PORT_NAME_TAKEN",
    what: "out0 after an alias out0",
    line: () => defining((env) => [env.output("shout", { alias: "out0" }), env.output("out0")]),
  },
  {
    code: "PLUMB_PORT_ALIAS_TAKEN",
    what: "alias out of another port's name",
    line: () => defining((env) => [env.output("out"), env.output("copy", { alias: "out" })]),
  },
  {
    code: "PLUMB_PORT_BAD_SHADOW_OF",
    what: "a shadow of a shadow",
    line: () =>
      defining((env) => {
        const out = env.output("out");
        env.output("copy", { shadowOf: env.output("first", { shadowOf: out }) });
      }),
  },
  {
    code: "PLUMB_PORT_TYPE_CONFLICT",
    what: "x/order as json and as bytes",
    line: () =>
      defining((env) => [
        env.input("in", { type: pipeType("x/order", "json") }),
        env.output("out", { type: pipeType("x/order", "bytes") }),
      ]),
  },
  {
    code: "PLUMB_PORT_BAD_FLAGS",
    what: "0.5",
    line: () => defining((env) => env.define("in", 0.5)),
  },
  {
    code: "PLUMB_PORT_INPUT_FLAGS",
    what: "an ASYNC input",
    line: () => defining((env) => env.define("in", SHADOW)),
  },
  {
    code: "PLUMB_PORT_STRAY_TARGET",
    what: "OUTPUT | 1",
    line: () => defining((env) => env.define("out", OUTPUT | 1)),
  },
  {
    code: "PLUMB_PORT_DISABLED_NOT_SHADOW",
    what: "OUTPUT | DISABLED",
    line: () => defining((env) => env.define("out", OUTPUT | DISABLED)),
  },
  {
    code: "PLUMB_PORT_BAD_SHADOW_TARGET",
    what: "a shadow of itself",
    line: () => defining((env) => env.define("copy", OUTPUT | SHADOW)),
  },
  {
    code: "PLUMB_PORT_BAD_TYPE",
    what: "a number",
    line: () => defining((env) => env.define("in", INPUT, 3 as unknown as string)),
  },
  {
    code: "PLUMB_PORT_LATE",
    what: "env.define in exec",
    line: () => requestError(misusing((ctx) => ctx.env.define("late", OUTPUT)), "x\n"),
  },

  {
    code: "PLUMB_STORE_BUCKET_NAME",
    what: "a bucket name with a space",
    line: () => defining((env) => env.store("a b")),
  },

  // Edges and types.
  { code: "PLUMB_EDGES_NOT_ARRAY", what: "an object", line: () => checks({ ...SPEC, edges: {} }) },
  {
    code: "PLUMB_EDGE_NOT_OBJECT",
    what: "a string",
    line: () => checks({ ...SPEC, edges: ["n.out"] }),
  },
  { code: "PLUMB_REF_NOT_STRING", what: "a number", line: () => checks({ ...SPEC, input: 1 }) },
  { code: "PLUMB_REF_MALFORMED", what: '"n"', line: () => checks({ ...SPEC, input: "n" }) },
  { code: "PLUMB_REF_NO_NODE", what: '"m.in"', line: () => checks({ ...SPEC, input: "m.in" }) },
  { code: "PLUMB_REF_NO_PORT", what: '"n.inn"', line: () => checks({ ...SPEC, input: "n.inn" }) },
  {
    code: "PLUMB_REF_WRONG_DIRECTION",
    what: '"n.out" as input',
    line: () => checks({ ...SPEC, input: "n.out" }),
  },
  {
    code: "PLUMB_REF_SIGNAL_OUTPUT",
    what: '"n.__error__"',
    line: () => checks({ ...SPEC, output: "n.__error__" }),
  },
  {
    code: "PLUMB_REF_USED_TWICE",
    what: "the output also feeds an edge",
    line: () =>
      checks({
        nodes: { a: { servlet: "echo" }, b: { servlet: "echo" } },
        edges: [{ from: "a.out", to: "b.in" }],
        input: "a.in",
        output: "a.out",
      }),
  },
  {
    code: "PLUMB_EDGE_REPEATED",
    what: "one edge twice",
    line: () =>
      checks({
        nodes: { a: { servlet: "echo" }, b: { servlet: "echo" } },
        edges: [{ from: "a.out", to: "b.in" }, { from: "a.out", to: "b.in" }],
        input: "a.in",
        output: "b.out",
      }),
  },
  { code: "PLUMB_GRAPH_CYCLE", what: "a -> b -> a", line: () => checks(`${GRAPHS}/cycle.json`) },
  {
    code: "PLUMB_TYPES_NOT_OBJECT",
    what: "an array",
    line: () => checks({ ...SPEC, types: ["x"] }),
  },
  {
    code: "PLUMB_TYPE_BUILT_IN",
    what: '"json"',
    line: () => checks({ ...SPEC, types: { json: "text" } }),
  },
  {
    code: "PLUMB_TYPE_REGISTERED",
    what: '"http/request"',
    line: () => checks({ ...oneNode("http/parser"), types: { "http/request": "json" } }),
  },
  {
    code: "PLUMB_TYPE_CONFLICT",
    what: "two servlets, one name",
    line: () =>
      checks({
        nodes: {
          a: { servlet: typed(undefined, pipeType("chat/line", "text/line")) },
          b: { servlet: typed(pipeType("chat/line", "bytes"), undefined) },
        },
        edges: [{ from: "a.out", to: "b.in" }],
        input: "a.in",
        output: "b.out",
      }),
  },
  {
    code: "PLUMB_TYPE_UNKNOWN_PARENT",
    what: '"text/lines"',
    line: () => checks({ ...SPEC, types: { "chat/line": "text/lines" } }),
  },
  {
    code: "PLUMB_TYPE_LOOP",
    what: "a -> b -> a",
    line: () => checks({ ...SPEC, types: { "x/a": "x/b", "x/b": "x/a" } }),
  },
  {
    code: "PLUMB_TYPE_UNKNOWN",
    what: '"jsn"',
    line: () => checks(oneNode(typed("jsn", undefined))),
  },
  {
    code: "PLUMB_TYPE_MISMATCH",
    what: "json into text/line",
    line: () => checks(`${GRAPHS}/type_mismatch.json`),
  },

  // Listeners and their options.
  {
    code: "PLUMB_LISTENERS_NOT_ARRAY",
    what: "an object",
    line: () => checks({ ...SPEC, listeners: {} }),
  },
  {
    code: "PLUMB_LISTENER_NOT_OBJECT",
    what: '"tcp"',
    line: () => checks({ ...SPEC, listeners: ["tcp"] }),
  },
  {
    code: "PLUMB_LISTENER_NO_MODULE",
    what: "no module",
    line: () => checks({ ...SPEC, listeners: [{}] }),
  },
  {
    code: "PLUMB_LISTENER_BAD_OPTIONS",
    what: "a number",
    line: () => checks({ ...SPEC, listeners: [{ module: "tcp", options: 1 }] }),
  },
  {
    code: "PLUMB_MODULE_UNKNOWN",
    what: '"tpc"',
    line: () => checks(`${GRAPHS}/unknown_module.json`),
  },
  { code: "PLUMB_OPTION_UNKNOWN", what: '"prot"', line: () => checks(listening({ prot: 1 })) },
  {
    code: "PLUMB_OPTION_TYPE",
    what: 'port "12345"',
    line: () => checks(listening({ port: "12345" })),
  },
  {
    code: "PLUMB_OPTION_CHOICE",
    what: "overflow drop",
    line: () => checks(listening({ overflow: "drop" })),
  },
  {
    code: "PLUMB_OPTION_NOT_WHOLE",
    what: "port 1.5",
    line: () => checks(listening({ port: 1.5 })),
  },
  { code: "PLUMB_OPTION_TOO_SMALL", what: "ttl 0", line: () => checks(listening({ ttl: 0 })) },
  {
    code: "PLUMB_OPTION_TOO_LARGE",
    what: "port 70000",
    line: () => checks(listening({ port: 70000 })),
  },
  {
    code: "PLUMB_OPTION_REQUIRED",
    what: "a file listener without output",
    line: () => checks({ ...SPEC, listeners: [{ module: "file", options: { input: "a.txt" } }] }),
  },
  {
    code: "PLUMB_OPTION_BAD_ADDRESS",
    what: '"10.0.0.0/33"',
    line: () => checks(listening({ allow: ["10.0.0.0/33"] })),
  },
  ...([
    ["PLUMB_ADDRESS_EMPTY", ""],
    ["PLUMB_ADDRESS_INVALID", "localhost"],
    ["PLUMB_ADDRESS_ZONE", "fe80::1%eth0"],
    ["PLUMB_ADDRESS_PREFIX_NOT_NUMBER", "10.0.0.0/x"],
    ["PLUMB_ADDRESS_PREFIX_TOO_LONG", "::/129"],
    ["PLUMB_ADDRESS_HOST_BITS", "10.1.2.3/8"],
  ] as const).map(([code, entry]): Case => ({
    code,
    what: JSON.stringify(entry),
    line: async () => after(/ entry "[^"]*": /, await checks(listening({ deny: [entry] }))),
  })),
  {
    code: "PLUMB_NATS_URL",
    what: "an http URL",
    line: () => checks(natsListening({ servers: "http://127.0.0.1:4222" })),
  },
  {
    code: "PLUMB_NATS_SUBJECT",
    what: "an empty token",
    line: () => checks(natsListening({ subject: "plumb..upper" })),
  },
  {
    code: "PLUMB_NATS_SUBJECT_LONG",
    what: "a subject of 5,000 bytes",
    line: () => checks(natsListening({ subject: "s".repeat(5000) })),
  },
  {
    code: "PLUMB_NATS_QUEUE",
    what: "a queue group with a space",
    line: () => checks(natsListening({ queue: "a b" })),
  },
  {
    code: "PLUMB_NATS_CONNECT",
    what: "no server on the port",
    line: () => {
      const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (free.addr as Deno.NetAddr).port;
      free.close();
      return serves(natsListening({ servers: `nats://127.0.0.1:${port}` }));
    },
  },
  {
    code: "PLUMB_LISTEN_REUSE_PORT",
    what: "without --unstable-net",
    line: () => serves(listening({ reusePort: true })),
  },
  {
    code: "PLUMB_OPTION_BAD_ALPN",
    what: "an empty protocol name",
    line: () => checks(tlsListening({ alpn: [""] })),
  },
  {
    code: "PLUMB_TLS_FILE_MISSING",
    what: "no certificate file",
    line: () => serves(tlsListening({ cert: `${TMP}/no-such.crt` })),
  },
  {
    code: "PLUMB_TLS_FILE_UNREADABLE",
    what: "a directory as the certificate",
    line: () => serves(tlsListening({ cert: "tests" })),
  },
  {
    code: "PLUMB_TLS_CERT_NOT_PEM",
    what: "a text file as the certificate",
    line: () => serves(tlsListening({ cert: "tests/fixtures/lines.txt" })),
  },
  {
    code: "PLUMB_TLS_CERT_INVALID",
    what: "a PEM block that is no certificate",
    line: async () =>
      serves(tlsListening({
        cert: await tmpFile(
          "bad.crt",
          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ),
      })),
  },
  {
    code: "PLUMB_TLS_KEY_NOT_PEM",
    what: "a text file as the key",
    line: () => serves(tlsListening({ key: "tests/fixtures/lines.txt" })),
  },
  {
    code: "PLUMB_TLS_KEY_ENCRYPTED",
    what: "a key with a passphrase",
    line: async () =>
      serves(tlsListening({ key: await tmpFile("sealed.key", freshKey("secret")) })),
  },
  {
    code: "PLUMB_TLS_KEY_INVALID",
    what: "a PEM block that is no key",
    line: async () =>
      serves(tlsListening({
        key: await tmpFile(
          "bad.key",
          "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ),
      })),
  },
  {
    code: "PLUMB_TLS_KEY_MISMATCH",
    what: "the key of another certificate",
    line: async () => serves(tlsListening({ key: await tmpFile("other.key", freshKey()) })),
  },
  {
    code: "PLUMB_LISTEN_IN_USE",
    what: "a port taken",
    line: async () => {
      using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      return await serves(listening({ port: taken.addr.port }));
    },
  },
  {
    code: "PLUMB_UNIX_NOT_SOCKET",
    what: "a file at the path",
    line: async () => {
      const file = await tmpGraph("unix_not_socket", {
        ...SPEC,
        listeners: [{ module: "unix", options: { path: "unix_not_socket.json" } }],
      });
      const socket = path(file);
      return await cliLine([file], [
        `--allow-net=unix:${socket}`,
        "--allow-read",
        `--allow-write=${socket}`,
      ], 1);
    },
  },
  {
    code: "PLUMB_LISTEN_FD_BAD",
    what: "--listen-fd 9999",
    line: () => serves(listening({}), { listenFd: 9999 }),
  },
  {
    code: "PLUMB_FILE_LISTENER_OPEN",
    what: "no input file",
    line: () =>
      serves({
        ...SPEC,
        listeners: [{
          module: "file",
          options: { input: `${TMP}/no_such_input.txt`, output: `${TMP}/out.txt` },
        }],
      }),
  },

  // Command line and permissions.
  {
    code: "PLUMB_CLI_BAD_OPTION",
    what: "--prot",
    line: () => cliLine(["examples/hello.json", "--prot", "1"]),
  },
  { code: "PLUMB_CLI_NO_GRAPH", what: "no graph", line: () => cliLine([]) },
  {
    code: "PLUMB_CLI_GRAPHS",
    what: "two graphs",
    line: () => cliLine(["examples/hello.json", "examples/echo.json"]),
  },
  {
    code: "PLUMB_CLI_PORT",
    what: "--port http",
    line: () => cliLine(["examples/hello.json", "--port", "http"]),
  },
  {
    code: "PLUMB_CLI_LISTEN_FD",
    what: "--listen-fd x",
    line: () => cliLine(["examples/hello.json", "--listen-fd", "x"]),
  },
  {
    code: "PLUMB_CLI_IDLE_EXIT",
    what: "--idle-exit soon",
    line: () => cliLine(["examples/hello.json", "--idle-exit", "soon"]),
  },
  {
    code: "PLUMB_CLI_LOG_LEVEL",
    what: "--log-level loud",
    line: () => cliLine(["examples/hello.json", "--log-level", "loud"]),
  },
  {
    code: "PLUMB_CLI_WORKERS",
    what: "--workers 0",
    line: () => cliLine(["examples/hello.json", "--workers", "0"]),
  },
  {
    code: "PLUMB_CLI_NOT_TCP",
    what: "--port with a unix listener",
    line: () =>
      checks({ ...SPEC, listeners: [{ module: "unix", options: { path: "x.sock" } }] }, {
        port: 1,
      }),
  },
  {
    code: "PLUMB_CLI_LOG_FORMAT",
    what: "--log-format xml",
    line: () => cliLine(["examples/hello.json", "--log-format", "xml"]),
  },
  {
    code: "PLUMB_STORE_URL",
    what: "--store memory://x",
    line: () => cliLine(["examples/kv.json", "--store", "memory://x"]),
  },
  {
    code: "PLUMB_STORE_SCHEME",
    what: "--store redis://127.0.0.1",
    line: () => cliLine(["examples/kv.json", "--store", "redis://127.0.0.1"]),
  },
  {
    code: "PLUMB_PERMISSION_LOG_FILE",
    what: "no --allow-write",
    line: () => cliLine(["examples/hello.json", "--log-file", `${TMP}/plumb.log`]),
  },
  {
    code: "PLUMB_LOG_FILE_OPEN",
    what: "no such directory",
    line: () =>
      cliLine(
        ["examples/hello.json", "--log-file", `${TMP}/no_such_dir/plumb.log`],
        ["--allow-read", "--allow-net=127.0.0.1", `--allow-write=${TMP}`],
        1,
      ),
  },
  {
    code: "PLUMB_ADMIN_LISTENING",
    what: "--stdio --admin",
    line: async () => {
      const { code, stderr } = await runCli([
        "examples/hello.json",
        "--stdio",
        "--admin",
        "127.0.0.1:0",
      ]);
      assertEquals(code, 0, stderr);
      return withCode(stderr.trimEnd().split("\n"), "PLUMB_ADMIN_LISTENING");
    },
  },
  {
    code: "PLUMB_CLI_ADMIN",
    what: "--admin 9090",
    line: () => cliLine(["examples/hello.json", "--admin", "9090"]),
  },
  {
    code: "PLUMB_CLI_ADMIN_PUBLIC",
    what: "--admin-public alone",
    line: () => cliLine(["examples/hello.json", "--admin-public"]),
  },
  {
    code: "PLUMB_ADMIN_NOT_LOOPBACK",
    what: "admin on 0.0.0.0",
    line: () => serves(listening({}), { admin: { host: "0.0.0.0", port: 0 } }),
  },
  {
    code: "PLUMB_ADMIN_LISTEN",
    what: "an admin port taken",
    line: async () => {
      using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      return await serves(listening({}), { admin: { port: taken.addr.port } });
    },
  },
  {
    code: "PLUMB_PERMISSION_ADMIN",
    what: "admin on 127.0.0.2, not allowed",
    line: () => serves(listening({}), { admin: { host: "127.0.0.2", port: 9180 } }),
  },
  {
    code: "PLUMB_PERMISSION_GRAPH",
    what: "no --allow-read",
    line: () => cliLine(["examples/hello.json"], ["--allow-net=127.0.0.1"]),
  },
  {
    code: "PLUMB_PERMISSION_NET",
    what: "no --allow-net",
    line: () => cliLine(["examples/hello.json"], ["--allow-read"]),
  },
  {
    code: "PLUMB_PERMISSION_UNIX",
    what: "no --allow-net=unix:",
    line: () =>
      serves({ ...SPEC, listeners: [{ module: "unix", options: { path: `${TMP}/codes.sock` } }] }),
  },
  {
    code: "PLUMB_PERMISSION_FILE_READ",
    what: "the input not readable",
    line: async () => {
      const file = await tmpGraph("file_read", {
        ...SPEC,
        listeners: [{
          module: "file",
          options: { input: "../fixtures/lines.txt", output: "out.txt" },
        }],
      });
      return await cliLine([file], [`--allow-read=${file}`]);
    },
  },
  {
    code: "PLUMB_PERMISSION_TLS_FILE",
    what: "the certificate not readable",
    line: async () => {
      const file = await tmpGraph("tls_read", {
        ...SPEC,
        listeners: [{
          module: "tls",
          options: {
            host: "127.0.0.1",
            port: 0,
            cert: "../../examples/tls/localhost.crt",
            key: "../../examples/tls/localhost.key",
          },
        }],
      });
      return await cliLine([file], ["--allow-net=127.0.0.1", `--allow-read=${file}`]);
    },
  },
  {
    code: "PLUMB_PERMISSION_FILE_WRITE",
    what: "the output not writable",
    line: () =>
      serves({
        ...SPEC,
        listeners: [{
          module: "file",
          options: { input: "tests/fixtures/lines.txt", output: "README.out" },
        }],
      }),
  },
  {
    code: "PLUMB_PERMISSION",
    what: "a module that listens on 0.0.0.0",
    line: () =>
      serves({ ...SPEC, listeners: [{ module: "failing" }] }, {
        modules: {
          failing: failingModule(() => {
            Deno.listen({ hostname: "0.0.0.0", port: 0 });
            throw new Error("it listened");
          }),
        },
      }),
  },

  // While serving.
  {
    code: "PLUMB_REQUEST_FAILED",
    what: "boom",
    line: () =>
      logged("PLUMB_REQUEST_FAILED", oneNode("./tests/fixtures/fail.ts"), (c) => c.send("boom\n")),
  },
  {
    code: "PLUMB_NODE_STOPPED",
    what: "a node after a failed one",
    line: () =>
      logged("PLUMB_NODE_STOPPED", {
        nodes: { f: { servlet: "./tests/fixtures/fail.ts" }, e: { servlet: "echo" } },
        edges: [{ from: "f.out", to: "e.in" }],
        input: "f.in",
        output: "e.out",
      }, async (c) => {
        await c.send("half\n");
        // What f wrote before it failed ("partial "); the connection goes on (onError: continue).
        await c.readBytes("partial ".length);
      }),
  },
  {
    code: "PLUMB_UPSTREAM_FAILED",
    what: "what the node after a failed one read",
    line: async () => {
      const line = await CASES.find((c) => c.code === "PLUMB_NODE_STOPPED")!.line();
      return after("UpstreamError: ", line);
    },
  },
  {
    code: "PLUMB_LINE_TOO_LONG",
    what: "maxMessageSize 8",
    line: () =>
      requestError(oneNode("./tests/fixtures/fail.ts"), "x".repeat(20), {
        session: { maxMessageSize: 8 },
      }),
  },
  {
    code: "PLUMB_UNHANDLED_REJECTION",
    what: "a stray rejection",
    line: async () => withCode(await strayRun(), "PLUMB_UNHANDLED_REJECTION"),
  },
  {
    code: "PLUMB_UNCAUGHT_EXCEPTION",
    what: "a throw from a timer",
    line: async () => withCode(await strayRun(), "PLUMB_UNCAUGHT_EXCEPTION"),
  },
  {
    code: "PLUMB_TIMEOUT_REQUEST",
    what: "requestTimeout 0.05",
    line: () =>
      logged("PLUMB_TIMEOUT_REQUEST", oneNode("./tests/fixtures/misbehave.ts"), async (c) => {
        await c.send("hang\n");
        await c.readToEnd();
      }, { session: { requestTimeout: 0.05 } }),
  },
  {
    code: "PLUMB_DEADLINE",
    what: "http/parser --head-timeout 0.05",
    line: () =>
      logged(
        "PLUMB_DEADLINE",
        {
          nodes: {
            parse: { servlet: "http/parser", args: ["--head-timeout", "0.05"] },
            render: { servlet: "http/render" },
          },
          edges: [{ from: "parse.head", to: "render.head" }],
          input: "parse.in",
          output: "render.out",
        },
        async (c) => {
          await c.send("GET / HTTP/1.1\r\n");
          await c.readToEnd();
        },
        { session: { requestTimeout: 0.05 } },
      ),
  },
  {
    code: "PLUMB_TIMEOUT_IDLE",
    what: "ttl 0.05",
    line: () =>
      logged("PLUMB_TIMEOUT_IDLE", oneNode("./tests/fixtures/misbehave.ts"), async (c) => {
        await c.send("x\n");
        await c.readToEnd();
      }, { session: { ttl: 0.05 } }),
  },
  {
    code: "PLUMB_CONN_ENDED",
    what: 'log "info"',
    line: () =>
      logged("PLUMB_CONN_ENDED", listening({ log: "info" }), async (c) => {
        await c.send("x\n");
        await c.readLine();
      }, { transport: "tcp" }),
  },
  {
    code: "PLUMB_PROXY_UNTRUSTED",
    what: "proxyProtocol 10.0.0.0/8",
    line: () =>
      logged(
        "PLUMB_PROXY_UNTRUSTED",
        listening({ proxyProtocol: ["10.0.0.0/8"] }),
        (c) => c.readToEnd(),
        { transport: "tcp" },
      ),
  },
  {
    code: "PLUMB_PROXY_NO_HEADER",
    what: "a line where a PROXY header belongs",
    line: () =>
      logged("PLUMB_PROXY_NO_HEADER", listening({ proxyProtocol: ["127.0.0.1"] }), async (c) => {
        await c.send("hello\n");
        await c.readToEnd();
      }, { transport: "tcp" }),
  },
  {
    code: "PLUMB_PROXY_MALFORMED",
    what: "an address out of range",
    line: () =>
      logged("PLUMB_PROXY_MALFORMED", listening({ proxyProtocol: ["127.0.0.1"] }), async (c) => {
        await c.send("PROXY TCP4 300.0.0.1 192.0.2.1 1 2\r\n");
        await c.readToEnd();
      }, { transport: "tcp" }),
  },
  {
    code: "PLUMB_PROXY_CLOSED",
    what: "half a header, then the end",
    line: () =>
      logged("PLUMB_PROXY_CLOSED", listening({ proxyProtocol: ["127.0.0.1"] }), async (c) => {
        await c.send("PROXY TCP4 ");
        await c.closeWrite();
        await c.readToEnd();
      }, { transport: "tcp" }),
  },
  {
    code: "PLUMB_TLS_HANDSHAKE_FAILED",
    what: "a plain-TCP client on a tls port",
    line: async () => withCode(await plainOnTlsRun(), "PLUMB_TLS_HANDSHAKE_FAILED"),
  },
  {
    code: "PLUMB_CONN_DENIED",
    what: "deny 127.0.0.1",
    line: () =>
      logged("PLUMB_CONN_DENIED", listening({ deny: ["127.0.0.1"] }), (c) => c.readToEnd(), {
        transport: "tcp",
      }),
  },
  {
    code: "PLUMB_CONN_REFUSED",
    what: "maxPerSource 1",
    line: () =>
      logged("PLUMB_CONN_REFUSED", listening({ maxPerSource: 1 }), async (c, sim) => {
        await c.send("x\n");
        await c.readLine();
        await using second = await sim.connect();
        assertEquals(await second.readToEnd(), "");
      }, { transport: "tcp" }),
  },
  {
    code: "PLUMB_CONN_EVICTED",
    what: "maxConnections 1, evictAfter 0.05",
    line: () =>
      logged(
        "PLUMB_CONN_EVICTED",
        listening({ maxConnections: 1, evictAfter: 0.05 }),
        async (c, sim) => {
          await using second = await sim.connect();
          await second.send("y\n");
          assertEquals(await second.readLine(), "y\n");
          assertEquals(await c.readToEnd(), "");
        },
        { transport: "tcp" },
      ),
  },
  {
    code: "PLUMB_CONN_WAITING",
    what: "maxConnections 1",
    line: () =>
      logged("PLUMB_CONN_WAITING", listening({ maxConnections: 1 }), async (c, sim) => {
        await c.send("x\n");
        await c.readLine();
        await using second = await sim.connect();
        await sim.waitForLog(" PLUMB_CONN_WAITING ");
        c.close();
        await second.send("y\n");
        assertEquals(await second.readLine(), "y\n");
      }, { transport: "tcp" }),
  },
  {
    code: "PLUMB_CONN_NOT_LOGGED",
    what: "250 denied at once (over 100 in one second however the seconds fall)",
    line: () => {
      const lines: string[] = [];
      const log = new ConnectionLog(
        "tcp://127.0.0.1:1",
        createLogger("info", (l) => lines.push(l)),
      );
      const channel = {
        peer: "10.0.0.1:5",
        read: () => Promise.resolve(null),
        write: () => Promise.resolve(0),
        close: () => {},
      };
      for (let i = 0; i < 250; i++) {
        log.refused(channel, "denied", 'matches deny rule "10.0.0.0/8"');
      }
      log.flush();
      return Promise.resolve(withCode(lines, "PLUMB_CONN_NOT_LOGGED"));
    },
  },

  // Reload.
  {
    code: "PLUMB_RELOADED",
    what: "the same graph",
    line: async () => withCode(await reloadRun(), "PLUMB_RELOADED"),
  },
  {
    code: "PLUMB_RELOADED_LISTENERS_KEPT",
    what: "a new ttl",
    line: async () => withCode(await reloadRun(), "PLUMB_RELOADED_LISTENERS_KEPT"),
  },
  {
    code: "PLUMB_GRAPH_UNUSED",
    what: "the old graph",
    line: async () => withCode(await reloadRun(), "PLUMB_GRAPH_UNUSED"),
  },
  {
    code: "PLUMB_TLS_RELOADED",
    what: "a reload of a tls listener",
    line: async () => withCode(await tlsReloadRun(), "PLUMB_TLS_RELOADED"),
  },
  {
    code: "PLUMB_TLS_RELOAD_KEPT",
    what: "a reload with a broken key",
    line: async () => withCode(await tlsReloadRun(), "PLUMB_TLS_RELOAD_KEPT"),
  },
  {
    code: "PLUMB_RELOAD_FAILED",
    what: "no port outt",
    line: async () => withCode(await reloadRun(), "PLUMB_RELOAD_FAILED"),
  },

  // Workers.
  {
    code: "PLUMB_WORKERS_EXCLUSIVE",
    what: "with stdio",
    line: () => thrown(() => serveWorkers("examples/hello.json", 2, { stdio: true })),
  },
  {
    code: "PLUMB_PERMISSION_WORKERS_RUN",
    what: "without --allow-run",
    line: () => cliLine(["examples/hello.json", "--workers", "2"]),
  },
  {
    code: "PLUMB_STORE_RELAY_GONE",
    what: "a worker's relay whose main side went away with a get waiting",
    line: () =>
      thrown(() => {
        const relay = relayStore(() => {});
        const waiting = relay.open("sessions").get("ada");
        relay.gone("the pipe to the main process closed");
        return waiting;
      }),
  },
  {
    code: "PLUMB_PERMISSION_WORKERS",
    what: "no read permission for plumb",
    line: () =>
      cliLine(["examples/hello.json", "--workers", "2"], [
        "--allow-net=127.0.0.1",
        "--allow-read=examples/hello.json",
        `--allow-run=${Deno.execPath()}`,
      ]),
  },
  {
    code: "PLUMB_CLI_WORKER_HEAP",
    what: "8 MiB",
    line: () => cliLine(["examples/hello.json", "--workers", "2", "--worker-heap", "8"]),
  },
  {
    code: "PLUMB_CLI_WORKER_WATCHDOG",
    what: "soon",
    line: () => cliLine(["examples/hello.json", "--workers", "2", "--worker-watchdog", "soon"]),
  },
  {
    code: "PLUMB_WORKER_EXITED",
    what: "a worker killed",
    line: async () => withCode(await workerKillRun(), "PLUMB_WORKER_EXITED"),
  },
  {
    code: "PLUMB_WORKER_RESTARTED",
    what: "a worker killed",
    line: async () => withCode(await workerKillRun(), "PLUMB_WORKER_RESTARTED"),
  },
  {
    code: "PLUMB_WORKER_STDERR",
    what: "unload writes on standard error",
    line: async () => withCode(await workerKillRun(), "PLUMB_WORKER_STDERR"),
  },

  // Exec-time API misuse.
  {
    code: "PLUMB_PIPE_AFTER_END",
    what: "a write from a timer",
    line: async () => {
      const { promise, resolve } = Promise.withResolvers<unknown>();
      const servlet = misusing((ctx, task) => {
        setTimeout(() => task.write(ctx.output, "late\n").catch(resolve), 1);
      });
      await using sim = await simulate(servlet);
      await sim.exchange("x\n");
      const error = await promise;
      return await thrown(() => {
        throw error;
      });
    },
  },
  {
    code: "PLUMB_PIPE_KEEPALIVE_AFTER_END",
    what: "keepAlive from a timer",
    line: async () => {
      const { promise, resolve } = Promise.withResolvers<unknown>();
      const servlet = misusing((_ctx, task) => {
        const connection = task.connection!;
        setTimeout(() => {
          try {
            connection.keepAlive(false);
            resolve("keepAlive did not throw");
          } catch (error) {
            resolve(error);
          }
        }, 1);
      });
      await using sim = await simulate(servlet);
      await sim.exchange("x\n");
      const error = await promise;
      return await thrown(() => {
        throw error;
      });
    },
  },
  {
    code: "PLUMB_PIPE_NO_PUSH",
    what: "a handle to a connection the servlet harness replays",
    line: async () => {
      const servlet = misusing((_ctx, task) => task.connection!.handle());
      await using harness = await ServletHarness.start(servlet);
      const result = await harness.exec({ in: "x\n" });
      return await thrown(() => {
        throw result.error;
      });
    },
  },
  {
    code: "PLUMB_PIPE_UNKNOWN_PORT",
    what: "a port of its own making",
    line: () =>
      requestError(
        misusing((_ctx, task) => task.read({ id: 7, name: "x", flags: 0 } as Port)),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_WRONG_DIRECTION",
    what: "write an input",
    line: () => requestError(misusing((ctx, task) => task.write(ctx.input, "x")), "x\n"),
  },
  {
    code: "PLUMB_PIPE_WRITE_SHADOW",
    what: "write a shadow",
    line: () => requestError(misusing((ctx, task) => task.write(ctx.copy, "x")), "x\n"),
  },
  {
    code: "PLUMB_LINE_STEP",
    what: "a line step that writes two lines",
    line: () =>
      requestError(
        defineServlet({
          init: (_args, env) => ({
            input: env.define("in", INPUT | PERSIST),
            output: env.define("out", OUTPUT),
          }),
          exec(): void {},
          line(ctx, line, out): void {
            out.write(ctx.output, `${line}\n${line}\n`);
          },
        }),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_NOT_JSON",
    what: "readValue of text",
    line: () => requestError(misusing((ctx, task) => task.readValue(ctx.input)), "x\nnot json\n"),
  },
  {
    code: "PLUMB_PIPE_NULL_VALUE",
    what: "writeValue null",
    line: () => requestError(misusing((ctx, task) => task.writeValue(ctx.output, null)), "x\n"),
  },
  {
    code: "PLUMB_VALUE_NOT_JSON",
    what: "a function as the reply",
    line: () =>
      requestError(misusing((ctx, task) => task.writeValue(ctx.output, { f: () => 1 })), "x\n"),
  },
  {
    code: "PLUMB_VALUE_TYPE",
    what: "a symbol as the reply",
    line: () =>
      requestError(misusing((ctx, task) => task.writeValue(ctx.output, Symbol("s"))), "x\n"),
  },
  {
    code: "PLUMB_PIPE_EOM_OUTPUT",
    what: "EOM on out",
    line: () =>
      requestError(
        misusing((ctx, task) => task.cntl(ctx.output, EOM, new Uint8Array(0), 0)),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_EOM_ARGS",
    what: "EOM without bytes",
    line: () =>
      requestError(
        misusing((ctx, task) => task.cntl(ctx.input, EOM, "x" as unknown as Uint8Array, 0)),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_DEADLINE_ARGS",
    what: "DEADLINE with seconds 0",
    line: () =>
      requestError(
        misusing((ctx, task) =>
          task.cntl(ctx.input, "DEADLINE", { seconds: 0, reason: "none" } as never)
        ),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_NO_OPERATION",
    what: '"tcp/nope"',
    line: () => requestError(misusing((ctx, task) => task.cntl(ctx.input, "tcp/nope")), "x\n"),
  },
  {
    code: "PLUMB_PIPE_UNKNOWN_CNTL",
    what: '"FROB"',
    line: () =>
      requestError(
        misusing((ctx, task) => task.cntl(ctx.input, "FROB" as CntlOp as "GET_FLAGS")),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_FIXED_FLAG",
    what: "SET_FLAG OUTPUT",
    line: () =>
      requestError(misusing((ctx, task) => task.cntl(ctx.input, SET_FLAG, OUTPUT)), "x\n"),
  },
  {
    code: "PLUMB_PIPE_DISABLE_NOT_SHADOW",
    what: "SET_FLAG DISABLED on out",
    line: () =>
      requestError(misusing((ctx, task) => task.cntl(ctx.output, SET_FLAG, DISABLED)), "x\n"),
  },
  {
    code: "PLUMB_PIPE_ENABLE_NOT_SHADOW",
    what: "task.enable(out)",
    line: () => requestError(misusing((ctx, task) => task.enable(ctx.output)), "x\n"),
  },
  {
    code: "PLUMB_PIPE_UNKNOWN_FLAGS",
    what: "SET_FLAG 1",
    line: () => requestError(misusing((ctx, task) => task.cntl(ctx.output, SET_FLAG, 1)), "x\n"),
  },
  {
    code: "PLUMB_PIPE_SHADOW_DISABLED_LATE",
    what: "disabled after it carried bytes",
    line: () =>
      requestError(
        misusing(async (ctx, task) => {
          await task.write(ctx.output, "a");
          task.cntl(ctx.copy, SET_FLAG, DISABLED);
          await task.write(ctx.output, "b");
        }),
        "x\n",
      ),
  },
  {
    code: "PLUMB_PIPE_SHADOW_ENABLED_LATE",
    what: "late_shadow.ts",
    line: () => requestError(oneNode("./tests/fixtures/late_shadow.ts"), "x\n"),
  },
  {
    code: "PLUMB_PIPE_READ_PENDING",
    what: "a read left waiting",
    line: async () => {
      const { promise, resolve } = Promise.withResolvers<unknown>();
      const servlet = misusing(async (ctx, task) => {
        task.readLine(ctx.input).catch(resolve);
        await task.write(ctx.output, "ok\n");
      });
      await using sim = await simulate(servlet);
      await using client = await sim.connect();
      // The second line is cut in two: its read waits for the rest, which the exec does not
      // await; the rest arrives after the task ended.
      await client.send("one\ntw");
      assertEquals(await client.readLine(), "ok\n");
      await client.send("o\n");
      const error = await promise;
      return await thrown(() => {
        throw error;
      });
    },
  },

  // Servlets' own init errors.
  {
    code: "PLUMB_PATH_RELATIVE",
    what: "exec ./prog from a URL",
    line: async () =>
      after(
        / failed: /,
        await checks(oneNode("exec", ["./prog"]), { base: new URL("https://example.com/g/") }),
      ),
  },
  {
    code: "PLUMB_TRANSFORM_UNKNOWN",
    what: "sideways",
    line: () => initError("transform", ["sideways"]),
  },
  { code: "PLUMB_DATAFLOW_COUNT", what: "0", line: () => initError("dataflow/dup", ["0"]) },
  { code: "PLUMB_DATAFLOW_REGEXP", what: "/(/", line: () => initError("dataflow/demux", ["/(/"]) },
  {
    code: "PLUMB_ELIZA_READ",
    what: "no such script",
    line: () => initError("eliza", ["./tests/.tmp/no_such_script.json"]),
  },
  {
    code: "PLUMB_ELIZA_SCRIPT",
    what: "bad JSON",
    line: () => initError("eliza", [`./${GRAPHS}/bad_json.json`]),
  },
  {
    code: "PLUMB_JSON_PARSE_ARGS",
    what: "--pretty",
    line: () => initError("json/parse", ["--pretty"]),
  },
  {
    code: "PLUMB_JSON_STRINGIFY_ARG",
    what: "--compact",
    line: () => initError("json/stringify", ["--compact"]),
  },
  {
    code: "PLUMB_JSON_STRINGIFY_FIELD",
    what: "--field",
    line: () => initError("json/stringify", ["--field"]),
  },
  { code: "PLUMB_KV_ARGS", what: "--bucket alone", line: () => initError("kv", ["--bucket"]) },
  {
    code: "PLUMB_STORE_KEY",
    what: "a kv GET of a 3000-byte key",
    line: async () => {
      await using sim = await simulate(oneNode("kv"), { base: ROOT });
      await using client = await sim.connect();
      await client.send(`GET ${"k".repeat(3000)}\n`);
      return after("ERR ", (await client.readLine() ?? "(closed)").trimEnd());
    },
  },
  {
    code: "PLUMB_NATS_PUBLISH_ARGS",
    what: "no subject",
    line: () => initError("nats/publish", ["--servers", "nats://127.0.0.1:4222"]),
  },
  {
    code: "PLUMB_CHAT_ARGS",
    what: "--idle soon",
    line: () => initError("chat", ["--idle", "soon"]),
  },
  { code: "PLUMB_EXEC_NO_PROGRAM", what: "[]", line: () => initError("exec", []) },
  {
    code: "PLUMB_EXEC_UNKNOWN_OPTION",
    what: "--frobnicate",
    line: () => initError("exec", ["--frobnicate", "tr"]),
  },
  { code: "PLUMB_EXEC_NO_VALUE", what: "--timeout", line: () => initError("exec", ["--timeout"]) },
  {
    code: "PLUMB_EXEC_BAD_TIMEOUT",
    what: "--timeout soon",
    line: () => initError("exec", ["--timeout", "soon", "tr"]),
  },
  {
    code: "PLUMB_EXEC_EMPTY_CWD",
    what: "--cwd=",
    line: () => initError("exec", ["--cwd=", "pwd"]),
  },
  {
    code: "PLUMB_EXEC_NO_CWD",
    what: "no such dir",
    line: () => initError("exec", ["--cwd", "tests/no-such-dir", "pwd"]),
  },
  {
    code: "PLUMB_EXEC_CWD_NOT_DIR",
    what: "README.md",
    line: () => initError("exec", ["--cwd", "README.md", "pwd"]),
  },
  {
    code: "PLUMB_PERMISSION_RUN",
    what: "no --allow-run",
    line: async () =>
      after(
        / failed: /,
        await cliLine(["tests/fixtures/exec_upper.json", "--check"], ["--allow-read"]),
      ),
  },
  {
    code: "PLUMB_EXEC_BAD_COUNT",
    what: "--max-running 0",
    line: () => initError("exec", ["--max-running", "0", "env"]),
  },
  {
    code: "PLUMB_EXEC_BAD_ENV",
    what: "--env 1X",
    line: () => initError("exec", ["--env", "1X", "env"]),
  },
  {
    code: "PLUMB_PERMISSION_ENV",
    what: "no --allow-env",
    line: async () =>
      after(
        / failed: /,
        await cliLine(["tests/fixtures/exec_env.json", "--check"], [
          "--allow-read",
          "--allow-run=env",
        ]),
      ),
  },
  {
    code: "PLUMB_DATAFLOW_ROUTE_NAME_TAKEN",
    what: "data=/x/",
    line: () => initError("dataflow/demux", ["data=/x/"]),
  },
  {
    code: "PLUMB_DATAFLOW_ROUTE_NAME_TWICE",
    what: "a=/x/ a=/y/",
    line: () => initError("dataflow/demux", ["a=/x/", "a=/y/"]),
  },
  { code: "PLUMB_HTTP_PARSER_ARG", what: "--max", line: () => initError("http/parser", ["--max"]) },
  {
    code: "PLUMB_HTTP_PARSER_LIMIT",
    what: "--max-body-bytes 0",
    line: () => initError("http/parser", ["--max-body-bytes", "0"]),
  },
  {
    code: "PLUMB_HTTP_PARSER_TIMEOUT",
    what: "--head-timeout 0",
    line: () => initError("http/parser", ["--head-timeout", "0"]),
  },
  {
    code: "PLUMB_HTTP_ROUTER_PATH",
    what: "/../x",
    line: () => initError("http/router", ["GET /../x"]),
  },
  { code: "PLUMB_HTTP_ROUTER_ROUTE", what: "GET", line: () => initError("http/router", ["GET"]) },
  {
    code: "PLUMB_HTTP_STATIC_NO_VALUE",
    what: "--index",
    line: () => initError("http/static", ["./examples/www", "--index"]),
  },
  {
    code: "PLUMB_HTTP_STATIC_INDEX",
    what: "--index a/b",
    line: () => initError("http/static", ["./examples/www", "--index", "a/b"]),
  },
  {
    code: "PLUMB_HTTP_STATIC_MAX_AGE",
    what: "--max-age -1",
    line: () => initError("http/static", ["./examples/www", "--max-age", "-1"]),
  },
  {
    code: "PLUMB_HTTP_STATIC_ARG",
    what: "two roots",
    line: () => initError("http/static", ["./a", "./b"]),
  },
  { code: "PLUMB_HTTP_STATIC_NO_ROOT", what: "[]", line: () => initError("http/static", []) },
  {
    code: "PLUMB_HTTP_STATIC_NOT_DIR",
    what: "README.md",
    line: () => initError("http/static", ["./README.md"]),
  },
  {
    code: "PLUMB_PERMISSION_STATIC",
    what: "the root not readable",
    line: async () => {
      const file = await tmpGraph("static_read", oneNode("http/static", ["../fixtures"]));
      return after(/ failed: /, await cliLine([file, "--check"], [`--allow-read=${file}`]));
    },
  },

  // Servlets' own request failures.
  ...([
    ["PLUMB_HTTP_RENDER_STATUS", '{"status": 42}\n'],
    ["PLUMB_HTTP_RENDER_REASON", '{"status": 200, "reason": "a\\nb"}\n'],
    ["PLUMB_HTTP_RENDER_HEADER", '{"status": 200, "headers": {"x-note": "a\\r\\nb"}}\n'],
    ["PLUMB_HTTP_RENDER_LENGTH", '{"status": 200, "length": 5}\nab'],
  ] as const).map(([code, input]): Case => ({
    code,
    what: input.trim(),
    line: () => requestError(oneNode("http/render"), input),
  })),
  {
    code: "PLUMB_JSON_INVALID",
    what: '{"a": x}',
    line: () => requestError(oneNode("json/parse"), '{"a": x}\n'),
  },
  {
    code: "PLUMB_JSON_STRINGIFY_NOT_OBJECT",
    what: "--field of an array",
    line: () => requestError("examples/jsonl.json", "[1, 2]\n"),
  },
  {
    code: "PLUMB_EXEC_STATUS",
    what: "exit 3",
    line: () => requestError(oneNode("exec", ["sh", "-c", "echo boom >&2; exit 3"]), "x\n"),
  },
  {
    code: "PLUMB_EXEC_SIGNAL",
    what: "kill -9",
    line: () => requestError(oneNode("exec", ["sh", "-c", "kill -9 $$"]), "x\n"),
  },
  {
    code: "PLUMB_EXEC_TIMEOUT",
    what: "--timeout 0.1",
    line: () => requestError(oneNode("exec", ["--timeout", "0.1", "sleep", "5"]), "x\n"),
  },
  {
    code: "PLUMB_EXEC_FULL",
    what: "--max-running 1 --max-waiting 0",
    line: async () => {
      await using sim = await simulate(
        oneNode("exec", ["--max-running", "1", "--max-waiting", "0", "sleep", "1"]),
        { base: ROOT },
      );
      await using first = await sim.connect();
      await first.send("x\n");
      await using second = await sim.connect();
      await second.send("y\n");
      return after(
        / failed a request from \S+: \w+: /,
        await sim.waitForLog(" PLUMB_EXEC_FULL "),
      );
    },
  },
  {
    code: "PLUMB_EXEC_CANCELLED",
    what: "requestTimeout 0.1 while the program sleeps",
    line: () =>
      requestError(oneNode("exec", ["sleep", "5"]), "x\n", {
        session: { requestTimeout: 0.1 },
      }),
  },
  {
    code: "PLUMB_EXEC_SPAWN",
    what: "no such program",
    line: () => requestError(oneNode("exec", ["no-such-program-plumb"]), "x\n"),
  },

  // Isolated nodes.
  {
    code: "PLUMB_NODE_BAD_ISOLATE",
    what: '"isolate": {"deadline": 0}',
    line: () => checks(isolatedNode("echo", { deadline: 0 })),
  },
  {
    code: "PLUMB_ISOLATE_IN_CODE",
    what: "a servlet object, isolated",
    line: () => checks(isolatedNode(defineServlet({ init: () => ({}), exec(): void {} }))),
  },
  {
    code: "PLUMB_ISOLATE_DEADLINE",
    what: "spin, with a deadline of 0.2 s",
    line: () => requestError(isolatedNode(ISOLATED_SPIN, { deadline: 0.2 }), "spin\n"),
  },
  {
    code: "PLUMB_ISOLATE_UNSUPPORTED",
    what: "env.store in an isolated init",
    line: async () =>
      after(
        /init of servlet "[^"]*" failed: /,
        await checks(isolatedNode("./tests/fixtures/isolate/store.ts")),
      ),
  },
  {
    code: "PLUMB_PERMISSION_ISOLATE",
    what: "no read permission for plumb's directory",
    line: async () => {
      const file = await tmpGraph("isolate_read", isolatedNode("echo"));
      return await cliLine([file, "--check"], [`--allow-read=${file}`]);
    },
  },
  {
    code: "PLUMB_ISOLATE_PORTS_CHANGED",
    what: "a fresh worker's init declares another output",
    line: async () => {
      const runs = `${TMP}/troubleshooting_ports_runs.txt`;
      await Deno.mkdir(path(TMP), { recursive: true });
      await Deno.writeTextFile(path(runs), "0");
      const spec = isolatedNode("./tests/fixtures/isolate/ports_change.ts", { deadline: 0.2 });
      spec.nodes.n.args = [runs];
      await using sim = await simulate(spec, { base: ROOT });
      await using client = await sim.connect();
      await client.send("spin\n");
      assertEquals(await client.readLine(), "error: request failed\n");
      await client.send("next\n");
      assertEquals(await client.readLine(), "error: request failed\n");
      return after(
        / failed a request from \S+: \w+: /,
        await sim.waitForLog(" PLUMB_ISOLATE_PORTS_CHANGED "),
      );
    },
  },
];

/**
 * Codes no case above provokes, and why: each is asserted by the test named,
 * or cannot be made to happen in a test without waiting or breaking the machine.
 */
const NOT_PROVOKED: Partial<Record<Code, string>> = {
  PLUMB_CHECK_WARNING: "tests/cli_test.ts runs --check on graphs with each kind of warning",
  PLUMB_SERVLET_TYPE_ERROR:
    "tests/check_types_test.ts runs --check on a servlet file with type errors (deno check, from a directory without deno.json)",
  PLUMB_SERVLET_NOT_TYPE_CHECKED: "tests/check_types_test.ts runs --check without --allow-run",
  PLUMB_SERVLET_CHECK_EXCLUDED:
    "tests/check_types_test.ts runs --check on a servlet file this repository's deno.json excludes",
  PLUMB_REQUEST_DEADLOCK: "tests/dataflow_test.ts provokes it with a 400000-byte diamond",
  PLUMB_PIPE_EOM_SHADOWED:
    "needs a servlet that gives back with EOM more than its last read took while a shadow copies that input; no test provokes it yet",
  PLUMB_HOST_CLOSED: "tests/host_load_test.ts connects to a closed host",
  PLUMB_HARNESS_NO_INPUT: "tests/testing_kit_test.ts starts a servlet with no input port",
  PLUMB_SERVLET_UNLOAD_LATE: "takes the 5 s an unload may take",
  PLUMB_UNIX_IN_USE: "needs a second server on a socket the tests may use",
  PLUMB_UNIX_UNSURE: "needs a socket that neither accepts nor refuses",
  PLUMB_CONN_PUSH_OVERFLOW:
    "needs a client that fills the socket buffers: tests/chat_test.ts drops one over TCP",
  PLUMB_CHAT_NO_CONNECTION:
    "every module and the servlet harness give requests a connection; no request lacks one",
  PLUMB_CONN_WRITE_FAILED: "needs a client that goes away while an ASYNC reply is written",
  PLUMB_CONN_FAILED: "needs a connection reset while it is served",
  PLUMB_TIMEOUT_WRITE: "needs a client that fills the socket buffers (tests/limits_test.ts)",
  PLUMB_ACCEPT_FAILED: "needs a process out of file descriptors",
  PLUMB_ACCEPT_GONE: "tests/tcp_test.ts resets a connection while it waits in the backlog",
  PLUMB_PROXY_LATE:
    "takes the 5 s a PROXY header may take (tests/proxy_protocol_test.ts runs the reader with 50 ms)",
  PLUMB_TLS_EXPIRED: "needs an expired certificate, which tests/tls_test.ts makes with openssl",
  PLUMB_LISTEN_FAILED: "needs an address this machine does not have, which the tests may not use",
  PLUMB_RELOAD_UNEXPECTED: "main.ts logs it only when Host.reload rejects, which is a bug",
  PLUMB_WORKERS_NOT_TCP: "starts worker processes (tests/workers_test.ts)",
  PLUMB_WORKER_FAILED: "needs a worker process that dies as it starts",
  PLUMB_WORKER_UNRESPONSIVE:
    "needs a worker that spins for the watchdog's time (tests/workers_test.ts spins one)",
  PLUMB_WORKER_GAVE_UP:
    "needs a worker killed six times in a minute (tests/workers_test.ts kills one so)",
  PLUMB_ADMIN_NO_WORKER: "needs every worker process of --workers gone while --admin serves",
  PLUMB_ISOLATE_CRASHED:
    "needs an isolated node's worker that dies outside the servlet's code, or a host unloaded while a request waits for the node",
  PLUMB_NATS_DISCONNECTED:
    "needs a nats-server stopped under a host: tests/store_test.ts and tests/chat_nats_test.ts do it and check the line here",
  PLUMB_NATS_RECONNECTED:
    "needs a nats-server started again: tests/store_test.ts and tests/chat_nats_test.ts do it and check the line here",
  PLUMB_NATS_REPLY_TOO_LONG:
    "needs a nats-server and a reply past its max_payload: tests/nats_test.ts does it and checks the line here",
  PLUMB_NATS_REQUEST_FAILED:
    "needs a nats-server with no one serving the subject: tests/nats_test.ts does it and checks the line here",
  PLUMB_STORE_NATS_FAILED:
    "needs a nats-server stopped under a NATS KV store: tests/store_test.ts does it and checks the line here",
  PLUMB_HTTP_BODY_STREAM:
    "tests/http_upload_test.ts ends a streamed body early and checks the line the host logs",
  PLUMB_EXEC_PASS_ON: "needs the program's output to fail while it runs",
  PLUMB_EXEC_UNLOADING: "needs the host to stop while a program runs (tests/exec_test.ts)",
  PLUMB_EXEC_NO_TURN:
    "needs a request to wait its program's whole --timeout while the programs before it run on, which the same --timeout ends first",
};

for (const c of CASES) {
  Deno.test(`troubleshooting: ${c.code}: ${c.what}`, async () => {
    assertDocumented(ENTRIES, await c.line(), c.code);
  });
}

Deno.test("troubleshooting: every code is provoked by a case above, or says why not", () => {
  const provoked = new Set(CASES.map((c) => c.code));
  const unprovoked = Object.keys(CODES).filter((code) => !provoked.has(code as Code));
  assertEquals(
    unprovoked.filter((code) => !(code in NOT_PROVOKED)),
    [],
    "provoke these, or say why not",
  );
  assertEquals(
    Object.keys(NOT_PROVOKED).filter((code) => provoked.has(code as Code)),
    [],
    "provoked after all",
  );
});
