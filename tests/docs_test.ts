/**
 * Every example of the README and `docs/` is run, so none can go stale: the
 * `ts` blocks by `deno test --doc` (the test task passes the Markdown files),
 * every other block by the test its annotation names (`tests/docs/markdown.ts`
 * lists the kinds). The kinds run here: `file`, `graph`, `listener`,
 * `telnet`, `shell`, `log`, `usage` and `schema`.
 */
import { assert, assertEquals } from "./assert.ts";
import { path, ROOT, runCli, spawnCli } from "./helpers.ts";
import { allBlocks, type CodeBlock, EXAMPLE_KINDS, where } from "./docs/markdown.ts";
import { assertDocumented, PREFIX, readEntries } from "./docs/troubleshooting.ts";
import { CODES } from "../kernel/codes.ts";
import { checkGraph, type GraphSpec } from "../host/mod.ts";
import { simulate } from "../testing/mod.ts";
import { IO_MODULES } from "../modules/registry.ts";

const blocks = allBlocks();

Deno.test("every example block is run by a test: ts, or annotated with a kind a test runs", () => {
  const runByKind = (b: CodeBlock): boolean => b.kind !== undefined && b.kind in EXAMPLE_KINDS;
  const unrun = blocks.filter((b) =>
    b.lang === "ts" && !/\bignore\b/.test(b.info) ? false : !runByKind(b)
  ).map((b) => `${where(b)} (${b.lang || "no language"}${b.kind ? `, kind ${b.kind}` : ""})`);
  assertEquals(unrun, [], "blocks no test runs; annotate them with <!-- example: KIND -->");
  assert(blocks.length > 20, `only ${blocks.length} blocks found`);
});

/** Runs `check` on each block of `kind`, naming the block in a failure. */
function eachBlock(kind: string, check: (block: CodeBlock) => void | Promise<void>): void {
  Deno.test(`docs examples: ${kind}`, async () => {
    const mine = blocks.filter((b) => b.kind === kind);
    for (const block of mine) {
      try {
        await check(block);
      } catch (error) {
        throw new Error(`${where(block)}: ${(error as Error).message}`, { cause: error });
      }
    }
  });
}

eachBlock("file", (block) => {
  const file = block.args;
  assertEquals(block.body, Deno.readTextFileSync(path(file)), `differs from ${file}`);
});

eachBlock("graph", async (block) => {
  const spec = JSON.parse(block.body) as GraphSpec;
  const base = block.args === "" ? ROOT : new URL(block.args, ROOT);
  await checkGraph(spec, { base });
});

eachBlock("listener", (block) => {
  const name = block.args;
  const module = IO_MODULES[name];
  assert(module !== undefined, `no module ${name}`);
  const value = JSON.parse(block.body) as Record<string, unknown>;
  const options = "module" in value ? value.options as Record<string, unknown> ?? {} : value;
  if ("module" in value) assertEquals(value.module, name);
  module.parseOptions(options, where(block));
});

eachBlock("schema", (block) => {
  const schema = JSON.parse(Deno.readTextFileSync(path("graph.schema.json")));
  const pointer = block.args.replace(/^#\/?/, "");
  const part = pointer === "" ? schema : pointer.split("/").reduce(
    (node: Record<string, unknown>, key) => node[key] as Record<string, unknown>,
    schema,
  );
  assertEquals(JSON.parse(block.body), part);
});

/** telnet's own lines, which the host never sends (`Connection closed.`: the client quit). */
const TELNET_CHATTER =
  /^(Trying |Connected to |Escape character is|\^\]|telnet> |Connection closed\.$)/;

/** `promise`, or a failure naming `what` after 5 s: a transcript that goes wrong must not hang. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`no ${what} in 5 s`)), 5000)
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
const CLOSED = "Connection closed by foreign host.";

eachBlock("telnet", async (block) => {
  const [graph, sendList] = block.args.split(/\s+send:\s*/);
  const sends = sendList.split("|").map((s) => s.trim());
  const lines = block.body.trimEnd().split("\n");
  const command = lines.shift() ?? "";
  assert(/^\$ (telnet|nc) /.test(command), `a transcript starts with "$ telnet" or "$ nc"`);
  await using sim = await simulate(graph.trim(), { transport: "tcp" });
  await using client = await sim.connect();
  let sent = 0;
  for (const line of lines) {
    if (TELNET_CHATTER.test(line)) continue;
    if (line === CLOSED) {
      assert(
        await within(client.closedByServer(), "close"),
        "the host did not close the connection",
      );
      continue;
    }
    if (sent < sends.length && line === sends[sent]) {
      await client.send(`${line}\n`);
      sent++;
      continue;
    }
    assertEquals(
      await within(client.readLine(), `reply "${line}"`),
      `${line}\n`,
      "a reply differs",
    );
  }
  assertEquals(sent, sends.length, "not every line of send: appears in the transcript");
});

/** Splits a shell command line into words (quotes kept together, not expanded). */
function words(line: string): string[] {
  return [...line.matchAll(/'[^']*'|"[^"]*"|\S+/g)].map((m) =>
    m[0].replace(/^(['"])(.*)\1$/, "$2")
  );
}

function denoVersion(): string {
  const ci = Deno.readTextFileSync(path(".ci/run"));
  return /^DENO_VERSION=(\S+)$/m.exec(ci)?.[1] ?? "?";
}

/**
 * Runs one documented command: `npx -y deno@V` must name the version CI
 * installs and becomes this Deno; `deno task test` must be what CI runs
 * (this test is part of it); `deno task NAME` runs the task's `deno run`;
 * `deno run FLAGS main.ts GRAPH [OPTIONS]` serves the graph under exactly
 * those flags until it listens, then stops it, and must exit 0 (with
 * `--check`, `--dot` or `--stdio` it runs to its end instead).
 */
async function runCommand(line: string): Promise<void> {
  let argv = words(line);
  if (argv[0] === "npx") {
    assertEquals(argv.slice(0, 2), ["npx", "-y"]);
    assertEquals(argv[2], `deno@${denoVersion()}`, "npx fetches the Deno version CI uses");
    argv = ["deno", ...argv.slice(3)];
  }
  assertEquals(argv[0], "deno", `not a deno command: ${line}`);
  if (argv[1] === "task") {
    const tasks = JSON.parse(Deno.readTextFileSync(path("deno.json"))).tasks;
    assert(argv[2] in tasks, `no task ${argv[2]}`);
    if (argv[2] === "test") {
      const ci = Deno.readTextFileSync(path(".ci/run"));
      assert(/"deno@\$\{DENO_VERSION\}" task test\b/.test(ci), "CI runs deno task test");
      return;
    }
    return runCommand(`${tasks[argv[2]]} ${argv.slice(3).join(" ")}`.trim());
  }
  assertEquals(argv[1], "run", `not deno run or deno task: ${line}`);
  const main = argv.indexOf("main.ts");
  assert(main > 1, `not a run of main.ts: ${line}`);
  const permissions = argv.slice(2, main);
  const args = argv.slice(main + 1);
  if (args.some((a) => ["--check", "--dot", "--stdio", "--help", "--version"].includes(a))) {
    const result = await runCli(args, permissions);
    assertEquals(result.code, 0, result.stderr);
    return;
  }
  const cli = await spawnCli(args, permissions);
  const { code, stderr } = await cli.stop();
  assertEquals(code, 0, stderr);
}

eachBlock("shell", async (block) => {
  const lines = block.body.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  assert(lines.length > 0, "no command");
  for (const line of lines) await runCommand(line);
});

eachBlock("usage", async (block) => {
  const help = (await runCli(["--help"])).stdout;
  const options = [...block.body.matchAll(/--[a-z-]+/g)].map((m) => m[0])
    .filter((o) => !o.startsWith("--allow"));
  for (const option of new Set(options)) {
    assert(help.includes(`  ${option}`), `--help does not list ${option}`);
  }
  const listed = [...help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1])
    .filter((o) => o !== "--help" && o !== "--version");
  for (const option of listed) assert(options.includes(option), `the usage lacks ${option}`);
});

eachBlock("diagram", (block) => {
  const paths = [
    ...block.body.matchAll(/(?<![\w./-])((?:[a-z_]+\/)+(?:[a-z_]+\.ts)?|[a-z_]+\.ts)(?!\w)/g),
  ]
    .map((m) => m[1]);
  assert(paths.length > 0, "a diagram names the files it draws");
  for (const file of paths) {
    assert(existsSync(path(file)), `no ${file} in the repository`);
  }
  const exports = JSON.parse(Deno.readTextFileSync(path("deno.json"))).exports;
  for (const [, entry] of block.body.matchAll(/(?<![\w./])(\.\/[a-z]+|\.)(?= )/g)) {
    assert(entry in exports, `no entry point ${entry} in deno.json's exports`);
  }
});

function existsSync(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}

eachBlock("log", (block) => {
  const entries = readEntries();
  for (const line of block.body.split("\n").filter((l) => l.trim() !== "")) {
    if (line.startsWith("{")) {
      // A JSON log line: the six fields first, and its message that of its code's entry.
      const record = JSON.parse(line) as Record<string, unknown>;
      assertEquals(
        Object.keys(record).slice(0, 6),
        ["time", "level", "code", "node", "peer", "message"],
        line,
      );
      assert(String(record.code) in CODES, `no code of kernel/codes.ts: ${line}`);
      assertDocumented(entries, `${record.code} ${record.message}`, String(record.code));
      continue;
    }
    const code = /^PLUMB_[A-Z0-9_]+/.exec(line.replace(PREFIX, ""))?.[0];
    assert(code !== undefined && code in CODES, `no code of kernel/codes.ts: ${line}`);
    assertDocumented(entries, line, code);
  }
});
