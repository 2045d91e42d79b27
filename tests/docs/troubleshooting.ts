/**
 * The entries of `docs/troubleshooting.md`, keyed by the code of their
 * message, and the check that a line plumb printed is one of them.
 *
 * An entry is a list item whose first line is only the message in backticks,
 * as printed: a `plumb: ` or `plumb LEVEL: ` prefix when it is always
 * printed with one, the code (`PLUMB_...`), then the message, words in
 * capitals standing for what plumb fills in. The lines after it say what it
 * means and what to do.
 * @module
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { path } from "../helpers.ts";

/** The troubleshooting page, relative to the repository root. */
export const TROUBLESHOOTING = "docs/troubleshooting.md";

/** One entry of the page. */
export interface Entry {
  /** 1-based line of the message. */
  line: number;
  /** `plumb: `, `plumb error: ` and the like, when the entry shows one. */
  prefix?: string;
  /** The code, or undefined when the item starts with none. */
  code?: string;
  /** The message after the code. */
  message: string;
  /** What it means and what to do. */
  explanation: string;
}

/** The prefix of a line on standard error: `plumb: ` (the CLI's last line) or `plumb LEVEL: `. */
export const PREFIX = /^plumb(?: (?:error|warn|info|debug))?: /;

const CODE = /^(PLUMB_[A-Z0-9_]+) (.*)$/;

/** Reads the entries of the page. */
export function readEntries(): Entry[] {
  const lines = Deno.readTextFileSync(path(TROUBLESHOOTING)).split("\n");
  const entries: Entry[] = [];
  for (const [i, text] of lines.entries()) {
    const item = /^- (`+)(.+?)\1\s*$/.exec(text);
    if (item === null) continue;
    const shown = item[2];
    const prefix = PREFIX.exec(shown)?.[0];
    const rest = shown.slice(prefix?.length ?? 0);
    const coded = CODE.exec(rest);
    const explanation: string[] = [];
    for (let j = i + 1; j < lines.length && !/^(- `|#)/.test(lines[j]); j++) {
      explanation.push(lines[j]);
    }
    entries.push({
      line: i + 1,
      ...(prefix === undefined ? {} : { prefix }),
      ...(coded === null ? {} : { code: coded[1] }),
      message: coded === null ? rest : coded[2],
      explanation: explanation.join(" ").trim(),
    });
  }
  return entries;
}

/**
 * An entry's message as a pattern for the message of a printed line: each
 * word in capitals is a placeholder, and a ` (did you mean "X"?)` may be
 * there or not.
 */
export function entryPattern(entry: Entry): RegExp {
  const body = entry.message
    .split(/((?<![A-Za-z])[A-Z][A-Z0-9_]*(?![A-Za-z]))/)
    .map((piece, i) => i % 2 === 1 ? "(.+?)" : piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("")
    .replace(/ \\\(did you mean "[^"]*"\\\?\\\)/g, '(?: \\(did you mean ".+?"\\?\\))?');
  return new RegExp(`^${body}$`);
}

/**
 * Asserts that `printed` is one line that carries `code` (after a `plumb: `
 * or `plumb LEVEL: ` prefix, if any) and that its message matches the entry
 * of `code`, printed with that entry's prefix when the entry shows one.
 */
export function assertDocumented(entries: readonly Entry[], printed: string, code: string): void {
  const line = printed.replace(/\n$/, "");
  assert(!line.includes("\n"), `not one line: ${JSON.stringify(printed)}`);
  const prefix = PREFIX.exec(line)?.[0];
  const rest = line.slice(prefix?.length ?? 0);
  assert(rest.startsWith(`${code} `), `${line}\ndoes not carry ${code}`);
  const entry = entries.find((e) => e.code === code);
  assert(entry !== undefined, `${line}\n${code} has no entry in ${TROUBLESHOOTING}`);
  if (entry.prefix !== undefined && prefix !== undefined) {
    assertEquals(prefix, entry.prefix, `${line}\nis printed with another prefix than its entry's`);
  }
  assertMatch(
    rest.slice(code.length + 1),
    entryPattern(entry),
    `${line}\ndoes not match its entry, ${TROUBLESHOOTING}:${entry.line}`,
  );
}
