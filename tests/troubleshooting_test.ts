/**
 * `docs/troubleshooting.md` against the source: every message the host can
 * print (as `tests/docs/messages.ts` reads them) has an entry, every entry is
 * a message of the source, and real runs print lines that match both.
 *
 * An entry is a list item whose first line is only the message in backticks,
 * written as printed (a log line with its `plumb LEVEL: ` prefix), words in
 * capitals standing for what plumb fills in; the lines after it say what it
 * means and what to do.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, path, runCli, spawnCli } from "./helpers.ts";
import { findMessages, type MessageTemplate, scanMessages } from "./docs/messages.ts";

const DOC = "docs/troubleshooting.md";
const GRAPHS = "tests/fixtures/graphs";

/**
 * Places whose message the scanner cannot read, each with the reason it need
 * not be read (keyed `file: expression`).
 */
const UNPARSED_ALLOWED: Record<string, string> = {
  "modules/address_rules.ts: parsed":
    "the reason parse128() returns for an entry that is no address, one of several written in " +
    'its helpers; it is printed inside `option "allow": entry …: …`, whose entry lists them',
  "modules/connection_log.ts: line":
    'a connection\'s JSON line ("logFormat": "json"): JSON.stringify of its fields, no words ' +
    "of its own to look up",
};

/** One entry of the page. */
interface Entry {
  /** 1-based line of the message. */
  line: number;
  /** The heading it is under. */
  section: string;
  /** `plumb error: ` and the like, when the entry shows one. */
  prefix?: string;
  /** The message without the prefix. */
  message: string;
  /** What it means and what to do. */
  explanation: string;
}

const PREFIX = /^plumb(?: (?:error|warn|info|debug))?: /;

function readEntries(): Entry[] {
  const lines = Deno.readTextFileSync(path(DOC)).split("\n");
  const entries: Entry[] = [];
  let section = "";
  for (const [i, text] of lines.entries()) {
    const heading = /^#+\s+(.*)$/.exec(text);
    if (heading) section = heading[1];
    const item = /^- (`+)(.+?)\1\s*$/.exec(text);
    if (item === null) continue;
    const shown = item[2];
    const prefix = PREFIX.exec(shown)?.[0];
    const rest: string[] = [];
    for (let j = i + 1; j < lines.length && !/^(- `|#)/.test(lines[j]); j++) rest.push(lines[j]);
    entries.push({
      line: i + 1,
      section,
      ...(prefix === undefined ? {} : { prefix }),
      message: shown.slice(prefix?.length ?? 0),
      explanation: rest.join(" ").trim(),
    });
  }
  return entries;
}

const ENTRIES = readEntries();
const SCAN = scanMessages();

function where(t: { file: string; line: number }): string {
  return `${t.file}:${t.line}`;
}

/** The templates an entry's message is a filled-in form of. */
function templatesOf(entry: Entry): MessageTemplate[] {
  return SCAN.templates.filter((t) => t.exact.test(entry.message));
}

/**
 * An entry as a pattern for printed lines: each word in capitals is a
 * placeholder, a ` (did you mean "X"?)` may be there or not, and the line may
 * have a prefix (as a template's pattern).
 */
function entryPattern(entry: Entry): RegExp {
  const body = entry.message
    .split(/((?<![A-Za-z])[A-Z][A-Z0-9_]*(?![A-Za-z]))/)
    .map((piece, i) => i % 2 === 1 ? "(.+?)" : piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("")
    .replace(/ \\\(did you mean "[^"]*"\\\?\\\)/g, '(?: \\(did you mean ".+?"\\?\\))?');
  return new RegExp(`(?:^|: )${body}$`);
}

Deno.test("troubleshooting: the scanner reads every place that makes a message", () => {
  const unread = SCAN.unparsed.filter((u) => !(`${u.file}: ${u.source}` in UNPARSED_ALLOWED));
  assertEquals(
    unread.map((u) => `${where(u)}: ${u.source}: ${u.reason}`),
    [],
    "places the scanner cannot read: make the message readable, or allow it with a reason",
  );
  const stale = Object.keys(UNPARSED_ALLOWED).filter((key) =>
    !SCAN.unparsed.some((u) => `${u.file}: ${u.source}` === key)
  );
  assertEquals(stale, [], "allowed unparsed places that are gone: remove them from the list");
});

Deno.test("troubleshooting: the scanner finds each kind of place", () => {
  const has = (text: string, prefix?: string): void => {
    const found = SCAN.templates.find((t) => t.text === text);
    assert(found, `no template "${text}"`);
    assertEquals(found.prefix, prefix, `prefix of "${text}"`);
  };
  // new GraphError(`...` + `...`), with `${}` placeholders.
  has(
    `…: the graph has no "listeners"; add {"module": "tcp", "options": {"port": 12345}} or pass --port`,
  );
  // A class that makes its message from its arguments (PermissionHint, MessageTooLongError).
  has("cannot read graph file …: permission denied; run deno with --allow-read");
  has(
    `line longer than … bytes with no end of line; raise the listener's "maxMessageSize" option ` +
      `if such lines are expected`,
  );
  // The listener option checks, one message per rule (`bad(why)` filled in by each call).
  has(`…: option "…" must be at least …, got … (…)`);
  has(`…: option "…" must be an array of strings, got … (…)`);
  // A logger's line, with the level's prefix; console.error with the CLI's.
  has(`node "…" (…) failed a request from …: …`, "plumb error: ");
  has("stopping (a second signal exits at once)", "plumb: ");
  // A conditional makes two messages; a joined array one per `push`.
  has("no graph file given; usage: main.ts GRAPH.json [options], see --help");
  has("one graph file expected, got …: …");
  has(
    `reloaded …: new connections get graph … (… node(s), … edge(s)…); … open connection(s) ` +
      `finish on the graph they started with; listener changes need a restart, the old ` +
      `listeners are kept: …`,
  );
  // A message passed on as it is is a relay, no template of its own.
  assert(SCAN.relays.some((r) => r.file === "main.ts" && r.source.includes("error.message")));
  assert(!SCAN.templates.some((t) => t.text === "…"));
});

Deno.test("troubleshooting: findMessage takes the most specific template of a printed line", () => {
  const line = `plumb error: node "n" (./fail.ts) failed a request from 127.0.0.1:5000: ` +
    `PipeError: node "n": EOM on output port "out"; it ends what an input read`;
  const found = findMessages(line).map((t) => t.text);
  assertEquals(found[0], `node "…": EOM on output port "…"; it ends what an input read`);
  assert(found.includes(`node "…" (…) failed a request from …: …`));
  assertEquals(findMessages("plumb: something plumb never says"), []);
});

Deno.test("troubleshooting: every message of the source has an entry", () => {
  const missing = new Map<string, string[]>();
  for (const t of SCAN.templates) {
    if (ENTRIES.some((e) => t.exact.test(e.message))) continue;
    missing.set(t.text, [...(missing.get(t.text) ?? []), where(t)]);
  }
  assertEquals(
    [...missing].map(([text, at]) => `${at.join(", ")}: ${text}`),
    [],
    `messages with no entry in ${DOC}`,
  );
});

Deno.test("troubleshooting: every entry is a message of the source, said what to do about", () => {
  const stale: string[] = [];
  for (const e of ENTRIES) {
    const templates = templatesOf(e);
    if (templates.length === 0) stale.push(`${DOC}:${e.line}: ${e.message}`);
    else if (
      e.prefix !== undefined &&
      !templates.some((t) => t.prefix === undefined || t.prefix === e.prefix)
    ) {
      stale.push(
        `${DOC}:${e.line}: printed with ${templates.map((t) => JSON.stringify(t.prefix))}, ` +
          `not "${e.prefix}"`,
      );
    }
    if (e.explanation.length < 20) stale.push(`${DOC}:${e.line}: says too little: ${e.message}`);
  }
  assertEquals(stale, [], "entries that match no message of the source, or explain nothing");
  const shown = ENTRIES.map((e) => `${e.prefix ?? ""}${e.message}`);
  assertEquals(shown.filter((m, i) => shown.indexOf(m) !== i), [], "entries written twice");
});

Deno.test("troubleshooting: the page's links lead somewhere", () => {
  const text = Deno.readTextFileSync(path(DOC));
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

/**
 * Asserts that `printed` (one line) carries the template `text` and matches an
 * entry written for it.
 */
function assertDocumented(printed: string, text: string): void {
  const line = printed.replace(/\n$/, "");
  const templates = findMessages(line);
  const template = templates.find((t) => t.text === text);
  assert(
    template,
    `${line}\nmatches no template "${text}"; it matches:\n${
      templates.map((t) => `  ${where(t)}: ${t.text}`).join("\n")
    }`,
  );
  const entry = ENTRIES.find((e) =>
    template.exact.test(e.message) && entryPattern(e).test(line) &&
    (e.prefix === undefined || line.startsWith(e.prefix))
  );
  assert(entry, `${line}\nmatches no entry of ${DOC} for "${text}"`);
}

/** The one line a failed CLI run printed on standard error, and its exit status. */
async function failure(
  args: string[],
  permissions?: string[],
): Promise<{ line: string; code: number }> {
  const result = await runCli(args, permissions);
  assertEquals(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, result.stderr);
  return { line: lines[0], code: result.code };
}

/** Runs that fail at once: the arguments, and the template of the line they print. */
const FAILURES: { name: string; args: string[]; permissions?: string[]; text: string }[] = [
  {
    name: "an unknown servlet, with a did-you-mean",
    args: [`${GRAPHS}/unknown_servlet.json`],
    text: `…: unknown servlet "…"…; built-ins are …, a file is written "./name.ts" relative to ` +
      `the graph file`,
  },
  {
    name: "an unknown port, with a did-you-mean",
    args: [`${GRAPHS}/unknown_port.json`, "--check"],
    text: `…: … "…": node "…" has no port "…"…; its ports are …`,
  },
  {
    name: "a cycle",
    args: [`${GRAPHS}/cycle.json`],
    text: `…: cycle through node "…": …; a graph must not feed a node's output back into its ` +
      `own input`,
  },
  {
    name: "a type mismatch",
    args: [`${GRAPHS}/type_mismatch.json`],
    text: `…: …: type "…" of … does not convert to type "…" of "…"`,
  },
  {
    name: "a listener option that is not one of its values",
    args: [`${GRAPHS}/bad_overflow.json`],
    text: `…: option "…" must be one of …, got … (…)`,
  },
  {
    name: "a listener option below its smallest value",
    args: [`${GRAPHS}/troubleshooting_ttl.json`],
    text: `…: option "…" must be at least …, got … (…)`,
  },
  {
    name: "a listener option of the wrong type",
    args: [`${GRAPHS}/troubleshooting_port_type.json`],
    text: `…: option "…" must be a …, got … (…)`,
  },
  {
    name: "an address rule that is no range",
    args: [`${GRAPHS}/bad_address_rule.json`],
    text: `prefix length … is more than the … bits of an … address`,
  },
  {
    name: "an unknown module",
    args: [`${GRAPHS}/unknown_module.json`],
    text: `…: listener …: unknown module "…"…; modules are …`,
  },
  {
    name: "a servlet's init that fails",
    args: [`${GRAPHS}/init_fails.json`],
    text: `unknown transform "…"; use one of …`,
  },
  {
    name: "a missing graph file",
    args: ["tests/.tmp/troubleshooting_no_such_graph.json"],
    text: "…: no such graph file",
  },
  {
    name: "a graph file that is not JSON",
    args: [`${GRAPHS}/bad_json.json`],
    text: "…: not valid JSON: …",
  },
  {
    name: "no --allow-net: the permission hint",
    args: ["examples/hello.json"],
    permissions: ["--allow-read"],
    text: "cannot listen on tcp://…: permission denied; run deno with --allow-net=…",
  },
  {
    name: "no --allow-read: the permission hint",
    args: ["examples/hello.json"],
    permissions: ["--allow-net=127.0.0.1"],
    text: "cannot read graph file …: permission denied; run deno with --allow-read",
  },
  {
    name: "--workers without --unstable-net",
    args: ["examples/hello.json", "--workers", "2"],
    text: "--workers needs deno run --unstable-net: the workers share the port with reusePort",
  },
  {
    name: "an unknown command-line option",
    args: ["examples/hello.json", "--prot", "1"],
    text: "…; see --help",
  },
  {
    name: "a port that is not a number",
    args: ["examples/hello.json", "--port", "http"],
    text: `--port must be a whole number from 0 to 65535, got "…"`,
  },
  {
    name: "no graph file given",
    args: [],
    text: "no graph file given; usage: main.ts GRAPH.json [options], see --help",
  },
];

for (const { name, args, permissions, text } of FAILURES) {
  Deno.test(`troubleshooting: real run: ${name}`, async () => {
    const { line, code } = await failure(args, permissions);
    assertEquals(code, 2, line);
    assertDocumented(line, text);
  });
}

Deno.test("troubleshooting: real run: --check's line when all is well", async () => {
  const result = await runCli(["examples/hello.json", "--check"]);
  assertEquals(result.code, 0);
  assertDocumented(result.stdout, "…: ok: … node(s), … edge(s), … listener(s)");
});

Deno.test("troubleshooting: real run: a servlet that throws, a line too long, stopping", async () => {
  await using host = await spawnCli([`${GRAPHS}/troubleshooting_fail.json`, "--port", "0"]);
  {
    await using client = await Client.connect(host.port);
    await client.send("boom\n");
    assertEquals(await client.readLine(), "error: request failed\n");
  }
  const failed = (await host.waitForStderr(/failed a request.*\n/)).split("\n")
    .find((l) => l.includes("failed a request"))!;
  assertDocumented(failed, `node "…" (…) failed a request from …: …`);
  {
    await using client = await Client.connect(host.port);
    await client.send("x".repeat(200));
    assertEquals(await client.readToEnd(), "error: line longer than 64 bytes\n");
  }
  const long = (await host.waitForStderr(/MessageTooLongError.*\n/)).split("\n")
    .find((l) => l.includes("MessageTooLongError"))!;
  assertDocumented(long, `node "…" (…) failed a request from …: …`);
  assertDocumented(
    long,
    `line longer than … bytes with no end of line; raise the listener's "maxMessageSize" option ` +
      `if such lines are expected`,
  );
  const stopped = await host.stop();
  assertDocumented(stopped.stdout.split("\n")[0], "listening on …");
  const stopping = stopped.stderr.split("\n").find((l) => l.includes("stopping"))!;
  assertDocumented(stopping, "stopping (a second signal exits at once)");
});
