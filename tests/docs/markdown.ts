/**
 * The fenced code blocks of the README and `docs/*.md`, with the annotation
 * that says how a test runs each one. Every block must be run by a test:
 *
 * - a `ts` block is run by `deno test --doc` (the test task passes the
 *   Markdown files); `ts ignore` is allowed only on a block whose annotation
 *   names a kind that a test runs (a file of the other project of
 *   `docs/embedding.md`, which runs there, not here);
 * - every other block has an HTML comment on the line before it (after at
 *   most one blank line), `<!-- example: KIND ARGS -->`, and the test that
 *   owns KIND runs it (see {@linkcode EXAMPLE_KINDS}).
 *
 * `tests/docs_test.ts` fails on a block with neither, so no example can be
 * added that nothing runs.
 * @module
 */
import { path } from "../helpers.ts";

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The file, relative to the repository root (`docs/modules.md`). */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's language (`ts`, `json`, `sh`, `text`, `ini`), or `""`. */
  lang: string;
  /** The rest of the fence's info string (`ignore`). */
  info: string;
  /** The text between the fences, ending with `\n` (empty block: `""`). */
  body: string;
  /** The annotation's kind (`graph`, `telnet`, ...), if the block has one. */
  kind?: string;
  /** The annotation after its kind, trimmed. */
  args: string;
}

/**
 * Which test runs each annotation kind:
 * - `file PATH`: the block is the file PATH of the repository, byte for byte
 *   (the file itself is run by other tests or blocks).
 * - `graph [PATH]`: a graph (JSON) that `checkGraph` loads and checks, with
 *   relative servlets resolved from the repository root (or from PATH's
 *   directory, as if the block were saved at PATH).
 * - `listener MODULE`: a JSON object of MODULE's listener options (or a whole
 *   `{"module", "options"}` listener) that the module accepts.
 * - `telnet GRAPH send: A | B | ...`: a telnet (or nc) transcript, replayed
 *   against GRAPH served in-process on a free port: the lines A, B, ... are
 *   sent in order, every other line must be the next line the host replied;
 *   telnet's own lines (`Trying`, `Connected`, `Escape character`, `^]`,
 *   `telnet> q`) are skipped, `Connection closed by foreign host.` asserts
 *   that the host closed the connection.
 * - `shell`: each command is run (see `tests/docs_test.ts`).
 * - `log`: each line is one the host can print: it carries a code of
 *   `kernel/codes.ts` and matches that code's entry in
 *   `docs/troubleshooting.md` (a JSON connection line has the code in its
 *   `"code"` field).
 * - `systemd`, `inetd`, `xinetd`, `tcpserver`: deployment configuration,
 *   run by `tests/deploying_test.ts`.
 * - `usage`: a command synopsis: its options are those `main.ts --help` lists.
 * - `schema POINTER`: a JSON Schema fragment that must equal the part of
 *   `graph.schema.json` at the JSON pointer (`#/properties/listeners`).
 * - `diagram`: a drawing in text; every file or folder it names
 *   (`kernel/scheduler.ts`, `host/`, `main.ts`) exists, and every entry point
 *   (`./host`, `.`) is one of `deno.json`'s exports.
 * - `haproxy PART`: a part of the HAProxy deployment of `docs/deploying.md`
 *   (`graph`, `hosts`, `haproxy.cfg`, `restart`, `tls-graph`, `tls-hosts`,
 *   `haproxy-tls.cfg`), run by `tests/haproxy_test.ts` with two plumb hosts
 *   behind a real HAProxy.
 * - `prometheus`: a Prometheus configuration scraping a host's admin listener
 *   at `127.0.0.1:9180`; `prometheus-rules`: its rule file.
 *   `tests/admin_prometheus_test.ts` starts Prometheus with both.
 * - `project FILE`: the file FILE of the project of `docs/embedding.md` that
 *   uses plumb from outside; `project-shell`: the command run in that
 *   project. `tests/embedding_test.ts` makes the project outside the
 *   repository and runs both.
 */
export const EXAMPLE_KINDS: Readonly<Record<string, string>> = {
  file: "tests/docs_test.ts",
  graph: "tests/docs_test.ts",
  listener: "tests/docs_test.ts",
  telnet: "tests/docs_test.ts",
  shell: "tests/docs_test.ts",
  log: "tests/docs_test.ts",
  usage: "tests/docs_test.ts",
  schema: "tests/docs_test.ts",
  diagram: "tests/docs_test.ts",
  systemd: "tests/deploying_test.ts",
  inetd: "tests/deploying_test.ts",
  xinetd: "tests/deploying_test.ts",
  tcpserver: "tests/deploying_test.ts",
  haproxy: "tests/haproxy_test.ts",
  prometheus: "tests/admin_prometheus_test.ts",
  "prometheus-rules": "tests/admin_prometheus_test.ts",
  project: "tests/embedding_test.ts",
  "project-shell": "tests/embedding_test.ts",
};

const ANNOTATION = /^<!--\s*example:\s*([\w-]+)\s*(.*?)\s*-->\s*$/;

/** The fenced blocks of one Markdown file, with their annotations. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = Deno.readTextFileSync(path(file)).split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)\s*(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const fence = open[1];
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith(fence)) end++;
    const body = lines.slice(i + 1, end).map((l) => `${l}\n`).join("");
    let before = i - 1;
    if (before >= 0 && lines[before].trim() === "") before--;
    const note = before >= 0 ? ANNOTATION.exec(lines[before].trim()) : null;
    blocks.push({
      file,
      line: i + 1,
      lang: open[2],
      info: open[3].trim(),
      body,
      kind: note?.[1],
      args: note?.[2] ?? "",
    });
    i = end;
  }
  return blocks;
}

/** The Markdown files whose examples are tested: the README and every page of `docs/`. */
export function markdownFiles(): string[] {
  const docs = [...Deno.readDirSync(path("docs"))]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`)
    .sort();
  return ["README.md", ...docs];
}

/** Every fenced block of the README and `docs/`, optionally only those of one kind. */
export function allBlocks(kind?: string): CodeBlock[] {
  const blocks = markdownFiles().flatMap(codeBlocks);
  return kind === undefined ? blocks : blocks.filter((b) => b.kind === kind);
}

/** `docs/x.md:12`: where a block is, for messages. */
export function where(block: CodeBlock): string {
  return `${block.file}:${block.line}`;
}
