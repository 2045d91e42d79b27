/**
 * The reference pages of `docs/` against the code:
 *
 * - `docs/modules.md`: each module's option table lists exactly the options
 *   its declaration has, in its order, with their types, ranges and defaults
 *   as declared; the `mem` figures are the pipe's own.
 * - `docs/graph-format.md`: the built-in servlet and type tables name what
 *   `host/servlet_registry.ts` and `kernel/pipe_types.ts` have; so does the
 *   servlet table of `docs/servlets.md`.
 * - `docs/pipes-and-flags.md`: the flag table has the names, values and
 *   shared/private kinds of `kernel/flags.ts`; each servlet block of the page
 *   (a `ts` block starting `// NAME.ts:`) is served (in memory, by the
 *   testing kit's `simulate`) and answers as the page says, and so does its
 *   `__error__` graph.
 *
 * That `parseOptions` applies a declaration's checks and defaults is for
 * `tests/options_test.ts` to show.
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { codeBlocks } from "./docs/markdown.ts";
import { path } from "./helpers.ts";
import { simulate, type SimulateOptions, type Simulation } from "../testing/mod.ts";
import { BUILTIN_SERVLETS } from "../host/servlet_registry.ts";
import { DEFAULT_MAX_LINE_BYTES } from "../kernel/byte_reader.ts";
import * as flags from "../kernel/flags.ts";
import { BUILTIN_TYPES } from "../kernel/pipe_types.ts";
import { HTTP_PIPE_TYPES } from "../servlets/http/types.ts";
import type { GraphSpec } from "../host/mod.ts";
import { MEM_HIGH_WATER_MARK } from "../kernel/mem_pipe.ts";
import type { OptionSpec } from "../modules/options.ts";
import { BUILTIN_MODULES, IO_MODULES } from "../modules/registry.ts";

// --- Markdown tables -------------------------------------------------------

/** The cells of a table row, trimmed (`\|` is a pipe inside a cell). */
function cells(line: string): string[] {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) =>
    c.trim().replaceAll("\\|", "|")
  );
}

/** A Markdown table: the heading it is under, its header and its rows. */
interface Table {
  heading: string;
  header: string[];
  rows: string[][];
}

/** The tables of a Markdown file, outside code blocks. */
function tables(file: string): Table[] {
  const lines = Deno.readTextFileSync(path(file)).split("\n");
  const found: Table[] = [];
  let heading = "";
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("```")) fenced = !fenced;
    if (fenced) continue;
    if (lines[i].startsWith("#")) heading = lines[i].replace(/^#+\s*/, "");
    if (!lines[i].startsWith("|") || !/^\|[\s|:-]+\|$/.test(lines[i + 1] ?? "")) continue;
    const header = cells(lines[i]);
    const rows: string[][] = [];
    for (i += 2; i < lines.length && lines[i].startsWith("|"); i++) rows.push(cells(lines[i]));
    found.push({ heading, header, rows });
  }
  return found;
}

/** Text inside one pair of backticks, or undefined. */
function code(cell: string): string | undefined {
  return /^`([^`]*)`$/.exec(cell)?.[1];
}

// --- docs/modules.md -------------------------------------------------------

const MODULES_PAGE = "docs/modules.md";

/** How a doc's type column writes an option's declared type and range. */
function typeText(spec: OptionSpec): string {
  switch (spec.type) {
    case "boolean":
      return "boolean";
    case "string[]":
      return "array of strings";
    case "string": {
      if (spec.values === undefined) return "string";
      const quoted = spec.values.map((v) => `\`${JSON.stringify(v)}\``);
      return quoted.length === 1
        ? quoted[0]
        : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
    }
    case "number": {
      const { min, max } = spec;
      const range = min !== undefined && max !== undefined
        ? ` ${min}–${max}`
        : min !== undefined
        ? ` ≥ ${min}`
        : max !== undefined
        ? ` ≤ ${max}`
        : "";
      return `${spec.integer ? "whole number" : "number"}${range}`;
    }
  }
}

/** How a doc's default column writes an option's declared default (or that it is required). */
function defaultText(spec: OptionSpec): string {
  if (spec.required !== undefined) return "required";
  return spec.default === undefined ? "none" : `\`${JSON.stringify(spec.default)}\``;
}

/** The option table under the heading `` `module` ``. */
function optionTable(module: string): Table {
  const table = tables(MODULES_PAGE).find((t) =>
    t.heading === `\`${module}\`` && t.header[0] === "option"
  );
  assert(table !== undefined, `${MODULES_PAGE}: no option table under "## \`${module}\`"`);
  assertEquals(table.header.slice(0, 3), ["option", "type", "default"]);
  return table;
}

Deno.test("docs/modules.md: a table of options for each module there is, and for no other", () => {
  const documented = tables(MODULES_PAGE)
    .filter((t) => t.header[0] === "option")
    .map((t) => code(t.heading));
  assertEquals(documented.sort(), Object.keys(IO_MODULES).sort());
});

for (const [module, { options: specs }] of Object.entries(BUILTIN_MODULES)) {
  Deno.test(`docs/modules.md: the ${module} table has every option, with its type and default`, () => {
    const rows = optionTable(module).rows;
    const documented = rows.map((row) => [code(row[0]) ?? row[0], row[1], row[2]]);
    const declared = Object.entries(specs).map(([name, spec]: [string, OptionSpec]) => [
      name,
      typeText(spec),
      defaultText(spec),
    ]);
    assertEquals(documented, declared, "the table's names, types and defaults, in order");
  });
}

Deno.test("docs/modules.md: mem's bound and line limit are the pipe's", () => {
  const table = tables(MODULES_PAGE).find((t) => t.heading === "`mem`");
  assert(table !== undefined, "no table under ## `mem`");
  const value = (property: string): number => {
    const row = table.rows.find((r) => r[0].startsWith(property));
    assert(row !== undefined, `no "${property}" row`);
    return Number(code(row[1]));
  };
  assertEquals(value("bound"), MEM_HIGH_WATER_MARK);
  assertEquals(value("longest line"), DEFAULT_MAX_LINE_BYTES);
});

// --- docs/pipes-and-flags.md: the flag table --------------------------------

const FLAGS_PAGE = "docs/pipes-and-flags.md";

Deno.test("docs/pipes-and-flags.md: the flag table has every flag, with its value and kind", () => {
  const table = tables(FLAGS_PAGE).find((t) => t.header[0] === "flag");
  assert(table !== undefined, `${FLAGS_PAGE}: no flag table`);
  assertEquals(table.header.slice(0, 3), ["flag", "value", "kind"]);
  // The flags proper: INPUT and one constant per bit; not the masks made of them.
  const codeFlags = Object.entries(flags).filter(([name, value]) =>
    typeof value === "number" && !/_FLAGS$|_MASK$/.test(name)
  ) as [string, number][];
  const documented = table.rows.map((row) => code(row[0]));
  assertEquals(documented.sort(), codeFlags.map(([name]) => name).sort());
  let bits = 0;
  for (const row of table.rows) {
    const name = code(row[0])!;
    const value = (flags as unknown as Record<string, number>)[name];
    assertEquals(row[1], `\`0x${value.toString(16).padStart(5, "0")}\``, `value of ${name}`);
    assertEquals(row[2], value & flags.SHARED_FLAGS ? "shared" : "private", `kind of ${name}`);
    bits |= value;
  }
  assertEquals(bits, flags.KNOWN_FLAGS, "every flag bit is in the table");
});

// --- docs/graph-format.md: the built-in servlets and types -------------------

const GRAPH_PAGE = "docs/graph-format.md";

Deno.test("docs/graph-format.md: the built-in servlet table names every built-in, and only those", () => {
  const table = tables(GRAPH_PAGE).find((t) => t.header[0] === "servlet");
  assert(table !== undefined, `${GRAPH_PAGE}: no built-in servlet table`);
  assertEquals(
    table.rows.map((row) => code(row[0])).sort(),
    Object.keys(BUILTIN_SERVLETS).sort(),
  );
});

Deno.test("docs/servlets.md: the servlet table names every built-in, and only those", () => {
  const table = tables("docs/servlets.md").find((t) => t.header[0] === "name");
  assert(table !== undefined, "docs/servlets.md: no servlet table");
  assertEquals(
    table.rows.map((row) => code(row[0])).sort(),
    Object.keys(BUILTIN_SERVLETS).sort(),
  );
});

Deno.test("docs/graph-format.md: the built-in type table is the kernel's", () => {
  const table = tables(GRAPH_PAGE).find((t) => t.header[0] === "type");
  assert(table !== undefined, `${GRAPH_PAGE}: no built-in type table`);
  const documented = Object.fromEntries(
    table.rows.map((row) => [code(row[0]), row[1] === "nothing" ? null : code(row[1])]),
  );
  assertEquals(documented, { ...BUILTIN_TYPES, ...HTTP_PIPE_TYPES });
});

// --- docs/pipes-and-flags.md: the servlets of the page, served --------------

/** Where a servlet of the page is written while its scenario runs, to be loaded as a node. */
const SNIPPETS = "tests/.tmp/docs_servlets";

/** Each `// NAME.ts:` servlet block of the page: NAME to its source. */
function pageServlets(): Map<string, string> {
  const servlets = new Map<string, string>();
  for (const block of codeBlocks(FLAGS_PAGE)) {
    const name = /^\/\/ ([\w-]+)\.ts:/.exec(block.body)?.[1];
    if (block.lang === "ts" && name !== undefined) servlets.set(name, block.body);
  }
  return servlets;
}

/**
 * Writes the servlet `name` of the page to a file for `run`, which gets its
 * graph path, and removes the file afterwards (so that no test run finds it).
 */
async function withServlet(name: string, run: (servlet: string) => Promise<void>): Promise<void> {
  const source = pageServlets().get(name);
  assert(source !== undefined, `${FLAGS_PAGE}: no "// ${name}.ts:" block`);
  Deno.mkdirSync(path(SNIPPETS), { recursive: true });
  const file = `${SNIPPETS}/${name}.ts`;
  Deno.writeTextFileSync(path(file), source);
  try {
    await run(`./${file}`);
  } finally {
    Deno.removeSync(path(file));
  }
}

/** A graph of the one servlet at `servlet`, its `in` and `out` the graph's, served in memory. */
function alone(
  servlet: string,
  session: SimulateOptions["session"] = {},
): Promise<Simulation> {
  const spec: GraphSpec = { nodes: { n: { servlet } }, input: "n.in", output: "n.out" };
  return simulate(spec, { session });
}

/** What the page says each servlet does, run against it. */
const SCENARIOS: Record<string, (servlet: string) => Promise<void>> = {
  async greet_once(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    await c.send("Plumber\n");
    assertEquals(await c.readLine(), "Hello, Plumber\n");
    assert(await c.closedByServer(), "without PERSIST the connection closes");
  },
  async hello(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    for (const name of ["Plumber", "world", "世界"]) {
      await c.send(`${name}\r\n`);
      assertEquals(await c.readLine(), `Hello, ${name}\n`);
    }
  },
  async flags(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    for (let i = 0; i < 2; i++) {
      await c.send("x\n");
      assertEquals(await c.readLine(), "in INPUT|PERSIST, out OUTPUT\n");
    }
  },
  async bye(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    await c.send("hi\n");
    assertEquals(await c.readLine(), "You said: hi\n");
    await c.send("bye\n");
    assertEquals(await c.readLine(), "Goodbye.\n");
    assert(await c.closedByServer(), "clearing PERSIST closes the connection");
  },
  async ask(servlet): Promise<void> {
    await using sim = await simulate({
      nodes: {
        ask: { servlet },
        shout: { servlet: "transform", args: ["upper"] },
        greet: { servlet: "hello" },
        reply: { servlet: "echo" },
      },
      edges: [
        { from: "ask.question", to: "shout.in" },
        { from: "ask.other", to: "greet.in" },
        { from: "shout.out", to: "reply.in" },
        { from: "greet.out", to: "reply.in" },
      ],
      input: "ask.in",
      output: "reply.out",
    });
    await using c = await sim.connect();
    await c.send("why?\nPlumber\n");
    assertEquals(await c.readLine(), "WHY?\n");
    assertEquals(await c.readLine(), "Hello, Plumber\n");
  },
  async big(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    await c.send("3\n2\n");
    for (let i = 0; i < 5; i++) assertEquals(await c.readLine(), ".".repeat(1023) + "\n");
    await c.send("1\n");
    assertEquals(await c.readLine(), ".".repeat(1023) + "\n");
  },
  async framer(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    const bytes = (...parts: (number | string)[]): Uint8Array =>
      new Uint8Array(
        parts.flatMap((p) => typeof p === "number" ? [p] : [...new TextEncoder().encode(p)]),
      );
    await c.send(bytes(0, 2, "hi", 0, 3, "you"));
    assertEquals(await c.readLine(), "got hi\n");
    assertEquals(await c.readLine(), "got you\n");
    await c.send(bytes(0, 5, "he"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await c.send("llo");
    assertEquals(await c.readLine(), "got hello\n");
  },
  async counter(servlet): Promise<void> {
    await using sim = await alone(servlet, { open: true });
    await using one = await sim.connect();
    await using two = await sim.connect();
    for (const c of [one, two]) {
      assertEquals(await c.readLine(), "Send lines; each gets its number.\n");
    }
    await one.send("a\n");
    assertEquals(await one.readLine(), "1: a\n");
    await one.send("b\n");
    assertEquals(await one.readLine(), "2: b\n");
    await two.send("x\n");
    assertEquals(await two.readLine(), "1: x\n", "each connection counts on its own");
  },
  async memo(servlet): Promise<void> {
    await using sim = await simulate({
      nodes: { split: { servlet: "line" }, memo: { servlet } },
      edges: [{ from: "split.out", to: "memo.in" }],
      input: "split.in",
      output: "memo.out",
    });
    await using c = await sim.connect();
    await using other = await sim.connect();
    await c.send("a\n");
    assertEquals(await c.readLine(), `${c.peer} said nothing, now a\n`);
    await other.send("x\n");
    assertEquals(await other.readLine(), `${other.peer} said nothing, now x\n`);
    await c.send("b\n");
    assertEquals(await c.readLine(), `${c.peer} said a, now b\n`);
    await c.send("bye\n");
    assertEquals(await c.readLine(), `${c.peer} said b, now bye\n`);
    assert(await c.closedByServer(), "keepAlive(false) behind line closes the connection");
  },
  async shout(servlet): Promise<void> {
    await using sim = await alone(servlet);
    await using c = await sim.connect();
    await c.send("abc\n");
    assertEquals(await c.readLine(), "ABC\n");
    await c.send("plumb\n");
    assertEquals(await c.readLine(), "PLUMB\n");
  },
};

Deno.test("docs/pipes-and-flags.md: every servlet block of the page has a scenario here", () => {
  assertEquals([...pageServlets().keys()].sort(), Object.keys(SCENARIOS).sort());
});

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  Deno.test(`docs/pipes-and-flags.md: ${name}.ts answers as the page says`, async () => {
    await withServlet(name, scenario);
  });
}

Deno.test("docs/pipes-and-flags.md: the __error__ graph answers a failed line and keeps the connection", async () => {
  const block = codeBlocks(FLAGS_PAGE).find((b) =>
    b.kind === "graph" && b.body.includes(".__error__")
  );
  assert(block !== undefined, `${FLAGS_PAGE}: no graph block wiring __error__`);
  await using sim = await simulate(JSON.parse(block.body));
  await using c = await sim.connect();
  await c.send("fine\nboom\nagain\n");
  assertEquals(await c.readLine(), "ok: fine\n");
  assertEquals(await c.readLine(), "sorry, that failed (work: boom requested)\n");
  assertEquals(await c.readLine(), "ok: again\n");
});
