/**
 * The messages plumb can print, read from its source: every place that makes
 * a message a user sees becomes a {@linkcode MessageTemplate}, its text with
 * a placeholder (`…`) for each part only known when it is printed. The
 * troubleshooting page (`docs/troubleshooting.md`) is tested against them,
 * and a `<!-- example: log -->` block's lines must each match one.
 *
 * The places are found in `main.ts`, `testing.ts` and every `.ts` file under
 * `kernel/`, `modules/`, `servlets/`, `host/` and `testing/`:
 *
 * - `new X(...)` of the project's error classes (`PlumbError` and every class
 *   that extends `Error` in those files); a class whose constructor builds the
 *   message (`PermissionHint`, `MessageTooLongError`) has its `super(...)`
 *   text filled in with the arguments of each `new`;
 * - a logger's `.log(level, message)`, `console.log/error/warn(...)`, a
 *   `report(...)` with a literal message, and a worker's
 *   `post({ type: "log", message })`.
 *
 * A message is read by a small scanner that knows quotes, template literals
 * (with nested `${}`), comments and regular expressions: strings, templates
 * and `+` make its text; `c ? a : b` as a whole makes two messages; a name
 * is followed to the `const` or `let` that sets it (and `parts.join(sep)` to
 * the array `parts` and its `push`es), and a `${NAME}` set to a string
 * literal is that text. A placeholder naming a parameter of a function of
 * the same file is filled in with each call's argument, when some call passes
 * a string literal: how the listener option checks are built
 * (`const bad = (why) => ...; bad("must be a whole number")`).
 *
 * A message that is only a value passed on (`error.message`, a parameter,
 * `describeError(error)`) is a relay, not a template of its own. Anything
 * else is reported as unparsed, never skipped.
 * @module
 */
import { path } from "../helpers.ts";

/** One message the host can print, as written in the source. */
export interface MessageTemplate {
  /** The source file, relative to the repository root (`kernel/graph.ts`). */
  file: string;
  /** 1-based line of the place that makes it (or of the call that fills it in). */
  line: number;
  /** The message with each placeholder written `…`, without a `plumb LEVEL: ` prefix. */
  text: string;
  /**
   * Matches a printed line that carries the message: anchored at its end, and
   * at its start or after a `: ` (a `plumb: `, `plumb error: ` or `worker 2: `
   * prefix, or a message that wraps it). Each placeholder is `.*?`.
   */
  pattern: RegExp;
  /** Matches exactly the message (`^…$`): a documented form of it, with placeholders filled in. */
  exact: RegExp;
  /** The prefix it is printed with when the source says so (`plumb error: `), else undefined. */
  prefix?: string;
}

/** A place that makes a message the scanner could not read. */
export interface UnparsedSite {
  /** The source file. */
  file: string;
  /** 1-based line. */
  line: number;
  /** The expression (or call) as written, on one line. */
  source: string;
  /** Why it could not be read. */
  reason: string;
}

/** A place that only passes on a message made elsewhere (`plumb: ${error.message}`). */
export interface RelaySite {
  /** The source file. */
  file: string;
  /** 1-based line. */
  line: number;
  /** The expression as written, on one line. */
  source: string;
}

/** Everything a scan of the source found. */
export interface MessageScan {
  /** The messages, one per place (and per alternative), in file order. */
  templates: MessageTemplate[];
  /** Places that pass on another message. */
  relays: RelaySite[];
  /** Places the scanner could not read. */
  unparsed: UnparsedSite[];
}

// ---------------------------------------------------------------------------
// The character scanner.

/** A token of source text: one character of code, a word, or a whole literal or comment. */
interface Token {
  kind: "word" | "punct" | "space" | "string" | "template" | "comment" | "regex";
  start: number;
  end: number;
}

/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORD = new Set(
  "return typeof case do else in of new delete void throw yield await".split(" "),
);

/** Index after the quoted string that starts at `i`. */
function endOfString(src: string, i: number): number {
  const quote = src[i];
  let j = i + 1;
  while (j < src.length && src[j] !== quote && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
  return j + 1;
}

/** Index after the template literal that starts at `i` (a backtick), `${}` and all. */
function endOfTemplate(src: string, i: number): number {
  let j = i + 1;
  while (j < src.length && src[j] !== "`") {
    if (src[j] === "\\") j += 2;
    else if (src[j] === "$" && src[j + 1] === "{") j = closing(src, j + 2, "}") + 1;
    else j++;
  }
  return j + 1;
}

/** Index after the regular expression literal that starts at `i`. */
function endOfRegex(src: string, i: number): number {
  let j = i + 1;
  let inClass = false;
  while (j < src.length && src[j] !== "\n") {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) break;
    j++;
  }
  j++;
  while (/[a-z]/.test(src[j] ?? "")) j++;
  return j;
}

/** The tokens of `src` from `from` to `to`. */
function* tokens(src: string, from = 0, to = src.length): Generator<Token> {
  let i = from;
  let last: Token | undefined; // the last token that is not space or comment
  while (i < to) {
    const c = src[i];
    let kind: Token["kind"];
    let end: number;
    if (/\s/.test(c)) {
      kind = "space";
      end = i + 1;
      while (end < to && /\s/.test(src[end])) end++;
    } else if (c === "/" && src[i + 1] === "/") {
      kind = "comment";
      end = src.indexOf("\n", i);
      if (end < 0) end = src.length;
    } else if (c === "/" && src[i + 1] === "*") {
      kind = "comment";
      end = src.indexOf("*/", i + 2) + 2;
      if (end < 2) end = src.length;
    } else if (c === "/" && regexMayStart(src, last)) {
      kind = "regex";
      end = endOfRegex(src, i);
    } else if (c === '"' || c === "'") {
      kind = "string";
      end = endOfString(src, i);
    } else if (c === "`") {
      kind = "template";
      end = endOfTemplate(src, i);
    } else if (/[\w$#]/.test(c)) {
      kind = "word";
      end = i + 1;
      while (end < to && /[\w$]/.test(src[end])) end++;
    } else {
      kind = "punct";
      end = i + (OPERATOR.exec(src.slice(i, i + 3))?.[0].length ?? 1);
    }
    const token = { kind, start: i, end: Math.min(end, src.length) };
    if (kind !== "space" && kind !== "comment") last = token;
    yield token;
    i = token.end;
  }
}

/** Operators of more than one character that the parser tells apart from `?`, `+`, `:`. */
const OPERATOR = /^(?:\?\?|\?\.|\|\||&&|=>|\.\.\.|[=!]==?|[<>]=|\+\+|--)/;

function regexMayStart(src: string, last: Token | undefined): boolean {
  if (last === undefined) return true;
  const text = src.slice(last.start, last.end);
  if (last.kind === "punct") return "(,=:[!&|?{};+-*%<>~^".includes(text.at(-1)!);
  if (last.kind === "word") return REGEX_AFTER_WORD.has(text);
  return false;
}

/** Index of the `closer` that closes the bracket opened just before `from`. */
function closing(src: string, from: number, closer: string): number {
  let depth = 0;
  for (const t of tokens(src, from)) {
    if (t.kind !== "punct") continue;
    const c = src[t.start];
    if (depth === 0 && c === closer) return t.start;
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    if (depth < 0) return -1;
  }
  return -1;
}

/** The tokens of `src[from, to)` at bracket depth 0, without space and comments. */
function topLevel(src: string, from: number, to: number): Token[] {
  const out: Token[] = [];
  let depth = 0;
  for (const t of tokens(src, from, to)) {
    if (t.kind === "space" || t.kind === "comment") continue;
    const c = src[t.start];
    if (t.kind === "punct" && ")]}".includes(c)) depth--;
    if (depth === 0) out.push(t);
    if (t.kind === "punct" && "([{".includes(c)) depth++;
  }
  return out;
}

/** `src[from, to)` split at its top-level commas, each piece trimmed (empty pieces dropped). */
function splitArgs(src: string, from: number, to: number): Range[] {
  const pieces: Range[] = [];
  let start = from;
  for (const t of topLevel(src, from, to)) {
    if (t.kind === "punct" && src[t.start] === ",") {
      pieces.push(trim(src, start, t.start));
      start = t.end;
    }
  }
  pieces.push(trim(src, start, to));
  return pieces.filter((r) => r.end > r.start);
}

interface Range {
  start: number;
  end: number;
}

/** The range without the space and comments around it. */
function trim(src: string, start: number, end: number): Range {
  const inner = [...tokens(src, start, end)].filter((t) =>
    t.kind !== "space" && t.kind !== "comment"
  );
  return inner.length === 0 ? { start, end: start } : {
    start: inner[0].start,
    end: inner[inner.length - 1].end,
  };
}

/** The source with comments, strings, templates and regular expressions blanked out. */
function codeOnly(src: string): string {
  let out = "";
  for (const t of tokens(src)) {
    const text = src.slice(t.start, t.end);
    out += t.kind === "comment" || t.kind === "string" || t.kind === "template" ||
        t.kind === "regex"
      ? text.replace(/[^\n]/g, " ")
      : text;
  }
  return out;
}

/** The value of a string literal or of a template literal's text between substitutions. */
function unescape(raw: string): string {
  return raw.replace(
    /\\(u\{([0-9a-fA-F]+)\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|\r?\n|[\s\S])/g,
    (_, all: string, cp?: string, u4?: string, x2?: string) => {
      const hex = cp ?? u4 ?? x2;
      if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
      if (all.startsWith("\n") || all.startsWith("\r")) return "";
      return { n: "\n", r: "\r", t: "\t", "0": "\0", b: "\b", f: "\f", v: "\v" }[all] ?? all;
    },
  );
}

// ---------------------------------------------------------------------------
// Messages: a message is a list of literal text and placeholders.

type Part = string | { expr: string };

/** One way a message can read, and the line that decided it. */
interface Alternative {
  parts: Part[];
  line?: number;
}

/** A source file, with what lookups need. */
interface SourceFile {
  name: string;
  src: string;
  code: string;
  /** Every `{ }` pair of code. */
  blocks: Range[];
}

/** What a parse may not be able to do: it says why instead. */
class Unreadable extends Error {}

/**
 * A value that is not text written here: one passed on (`error.message`, a
 * parameter), which makes a relay, or one computed (a call), which is unparsed.
 */
class NotText extends Error {
  constructor(readonly source: string, readonly passed: boolean) {
    super(source);
  }
}

const MAX_DEPTH = 4;

function lineOf(file: SourceFile, pos: number): number {
  return file.src.slice(0, pos).split("\n").length;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** How to read names while parsing: parameters bound to arguments (a class constructor's). */
interface Scope {
  file: SourceFile;
  /** The position the expression is at, for name lookups. */
  at: number;
  /** A class constructor's parameters, bound to the arguments of a `new`. */
  bindings?: Map<string, { file: SourceFile; range: Range }>;
  depth: number;
}

const WORD = /^[A-Za-z_$][\w$]*$/;

/** Parses the message expression `range` of `scope.file` into its alternatives. */
function parseMessage(scope: Scope, range: Range): Alternative[] {
  const { src } = scope.file;
  if (scope.depth > MAX_DEPTH) throw new Unreadable("names lead too deep");
  const top = topLevel(src, range.start, range.end);
  if (top.length === 0) throw new Unreadable("empty expression");
  const is = (t: Token | undefined, text: string): boolean =>
    t?.kind === "punct" && src.slice(t.start, t.end) === text;

  // c ? a : b: both messages.
  const q = top.findIndex((t) => is(t, "?"));
  if (q >= 0) {
    let nested = 0;
    let colon = -1;
    for (let i = q + 1; i < top.length && colon < 0; i++) {
      if (is(top[i], "?")) nested++;
      else if (is(top[i], ":") && nested-- === 0) colon = i;
    }
    if (colon < 0) throw new Unreadable("a ? with no :");
    const yes = trim(src, top[q].end, top[colon].start);
    const no = trim(src, top[colon].end, range.end);
    return [...parseOrPlaceholder(scope, yes), ...parseOrPlaceholder(scope, no)];
  }
  // a ?? b, a || b, a && b: a value known only when printed.
  if (top.some((t) => is(t, "??") || is(t, "||") || is(t, "&&"))) {
    return [{ parts: [{ expr: oneLine(src.slice(range.start, range.end)) }] }];
  }
  // a + b + c: the parts in order.
  const plus = top.filter((t, i) =>
    is(t, "+") && i > 0 &&
    (top[i - 1].kind !== "punct" || is(top[i - 1], ")") || is(top[i - 1], "]"))
  );
  if (plus.length > 0) {
    let alternatives: Alternative[] = [{ parts: [] }];
    let start = range.start;
    for (const cut of [...plus, undefined]) {
      const piece = trim(src, start, cut?.start ?? range.end);
      alternatives = cross(alternatives, parseOrPlaceholder(scope, piece));
      if (cut !== undefined) start = cut.end;
    }
    return alternatives;
  }
  const text = src.slice(range.start, range.end);
  const only = top.length === 1 ? top[0] : undefined;
  if (only?.kind === "string") return [{ parts: [unescape(text.slice(1, -1))] }];
  if (only?.kind === "template") return parseTemplate(scope, range);
  if (is(top[0], "(") && closing(src, top[0].end, ")") === range.end - 1) {
    return parseMessage(scope, trim(src, top[0].end, range.end - 1));
  }
  // parts.join("; "): the elements of the array `parts`, and any it is given by push.
  const join = /^([A-Za-z_$][\w$]*)\.join\(\s*("[^"]*"|'[^']*')\s*\)$/.exec(text);
  if (join) return parseJoin(scope, join[1], unescape(join[2].slice(1, -1)));
  if (WORD.test(text)) return parseName(scope, text);
  // error.message, or a call that describes a caught error (describeError(error)): passed on.
  throw new NotText(text, /(^|\.)message$|^[\w$.]+\(\s*[\w$.]*(error|reason)\s*\)$/i.test(text));
}

/** Like {@linkcode parseMessage}, but a value that is not text is one placeholder. */
function parseOrPlaceholder(scope: Scope, range: Range): Alternative[] {
  try {
    return parseMessage(scope, range);
  } catch (error) {
    if (!(error instanceof NotText)) throw error;
    return [{ parts: [{ expr: oneLine(scope.file.src.slice(range.start, range.end)) }] }];
  }
}

function cross(a: Alternative[], b: Alternative[]): Alternative[] {
  return a.flatMap((x) =>
    b.map((y) => ({ parts: [...x.parts, ...y.parts], line: y.line ?? x.line }))
  );
}

/** A template literal's text, each `${}` a placeholder (or filled in: see {@linkcode fillName}). */
function parseTemplate(scope: Scope, range: Range): Alternative[] {
  const { src } = scope.file;
  let alternatives: Alternative[] = [{ parts: [] }];
  let text = "";
  let j = range.start + 1;
  while (j < range.end - 1) {
    if (src[j] === "\\") {
      text += src.slice(j, j + 2);
      j += 2;
    } else if (src[j] === "$" && src[j + 1] === "{") {
      const close = closing(src, j + 2, "}");
      if (close < 0) throw new Unreadable("an unclosed ${");
      alternatives = cross(alternatives, [{ parts: [unescape(text)] }]);
      text = "";
      const inner = trim(src, j + 2, close);
      const expr = src.slice(inner.start, inner.end);
      alternatives = cross(
        alternatives,
        (WORD.test(expr) ? fillName(scope, expr) ?? constantText(scope, expr) : undefined) ??
          [{ parts: [{ expr: oneLine(expr) }] }],
      );
      j = close + 1;
    } else text += src[j++];
  }
  return cross(alternatives, [{ parts: [unescape(text)] }]);
}

/** A name used as a whole message: its binding, the `const` that sets it, or a parameter filled in. */
function parseName(scope: Scope, name: string): Alternative[] {
  const bound = bindingOf(scope, name);
  if (bound) return bound;
  const declared = declaration(scope.file, scope.at, name);
  if (declared !== undefined) {
    return parseMessage({ ...scope, at: declared.start, depth: scope.depth + 1 }, declared);
  }
  const filled = fillName(scope, name);
  if (filled) return filled;
  throw new NotText(name, true);
}

/** A name set to a string literal (`const USAGE = "..."`): its text. */
function constantText(scope: Scope, name: string): Alternative[] | undefined {
  const declared = declaration(scope.file, scope.at, name);
  const text = declared && scope.file.src.slice(declared.start, declared.end);
  return text && /^(["'])[^]*\1$/.test(text)
    ? [{ parts: [unescape(text.slice(1, -1))] }]
    : undefined;
}

function bindingOf(scope: Scope, name: string): Alternative[] | undefined {
  const bound = scope.bindings?.get(name);
  if (bound === undefined) return undefined;
  return parseOrPlaceholder(
    { file: bound.file, at: bound.range.start, depth: scope.depth + 1 },
    bound.range,
  );
}

/**
 * A placeholder naming a parameter: the bound argument, or, for a parameter
 * of a function of the file (`const bad = (why: string) => ...`), one
 * alternative per call of it there with that call's argument. Undefined when
 * no call passes a string literal: then the parameter is a name, not words.
 */
function fillName(scope: Scope, name: string): Alternative[] | undefined {
  const bound = bindingOf(scope, name);
  if (bound) return bound;
  const file = scope.file;
  const arrow = enclosingFunction(file, scope.at, name);
  if (arrow === undefined) return undefined;
  const alternatives: Alternative[] = [];
  let written = false; // some call passes a string literal: the words of the message
  const call = new RegExp(`(?<![\\w$.#])${arrow.name}\\s*\\(`, "g");
  for (const m of file.code.matchAll(call)) {
    if (m.index === arrow.nameAt) continue;
    const open = m.index + m[0].length;
    const close = closing(file.src, open, ")");
    const arg = splitArgs(file.src, open, close)[arrow.index];
    if (close < 0 || arg === undefined) continue;
    const line = lineOf(file, m.index);
    if (/^(["'])[^]*\1$/.test(file.src.slice(arg.start, arg.end))) written = true;
    for (
      const alt of parseOrPlaceholder({ file, at: m.index, depth: scope.depth + 1 }, arg)
    ) alternatives.push({ parts: alt.parts, line: alt.line ?? line });
  }
  return written ? alternatives : undefined;
}

/** The function of the file around `at` that has a parameter `name` (arrow `const`s too). */
function enclosingFunction(
  file: SourceFile,
  at: number,
  name: string,
): { name: string; nameAt: number; index: number } | undefined {
  const { src, code } = file;
  let found: { name: string; nameAt: number; index: number } | undefined;
  const header =
    /\b(?:(?:const|let)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s*)?|function\s+([A-Za-z_$][\w$]*)\s*)\(/g;
  for (const m of code.matchAll(header)) {
    if (m.index > at) break;
    const open = m.index + m[0].length;
    const close = closing(src, open, ")");
    if (close < 0) continue;
    const params = splitArgs(src, open, close).map((r) =>
      /^\s*(?:\.\.\.)?([A-Za-z_$][\w$]*)/.exec(src.slice(r.start, r.end))?.[1]
    );
    const index = params.indexOf(name);
    if (index < 0) continue;
    // An arrow's body follows `=>`; a function's is its first `{`.
    const bodyAt = m[1] !== undefined ? code.indexOf("=>", close) + 2 : code.indexOf("{", close);
    if (bodyAt < close) continue;
    const bodyStart = trim(src, bodyAt, src.length).start;
    const bodyEnd = src[bodyStart] === "{"
      ? closing(src, bodyStart + 1, "}")
      : statementEnd(src, bodyStart);
    if (bodyStart <= at && at <= bodyEnd) {
      const fn = m[1] ?? m[2];
      found = { name: fn, nameAt: m.index + m[0].indexOf(fn, m[0].indexOf(" ")), index };
    }
  }
  return found;
}

/** The end of the expression statement that starts at `from`: its `;`, or the bracket that closes around it. */
function statementEnd(src: string, from: number): number {
  let depth = 0;
  for (const t of tokens(src, from)) {
    if (t.kind !== "punct") continue;
    const c = src[t.start];
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c) && --depth < 0) return t.start;
    else if (c === ";" && depth === 0) return t.start;
  }
  return src.length;
}

/** The initializer of the `const`/`let` `name` in scope at `at`, nearest first. */
function declaration(file: SourceFile, at: number, name: string): Range | undefined {
  const { src, code } = file;
  let found: Range | undefined;
  const decl = new RegExp(
    `\\b(?:const|let)\\s+${name.replace("$", "\\$")}\\s*(?::[^=;]+)?=(?!=)`,
    "g",
  );
  for (const m of code.matchAll(decl)) {
    if (m.index > at) break;
    const block = file.blocks.filter((b) => b.start < m.index && m.index < b.end)
      .sort((a, b) => b.start - a.start)[0];
    if (block !== undefined && !(block.start < at && at < block.end)) continue;
    const start = m.index + m[0].length;
    found = trim(src, start, statementEnd(src, start));
  }
  return found;
}

/** `parts.join(sep)`: the elements of `const parts = [...]` joined, with and without each `parts.push(x)`. */
function parseJoin(scope: Scope, name: string, separator: string): Alternative[] {
  const { file } = scope;
  const array = declaration(file, scope.at, name);
  if (array === undefined || file.src[array.start] !== "[") {
    throw new Unreadable(`${name} is not an array literal`);
  }
  const inner = { ...scope, depth: scope.depth + 1 };
  const join = (items: Range[]): Alternative[] =>
    items.reduce<Alternative[]>(
      (acc, item, i) =>
        cross(
          i === 0 ? acc : cross(acc, [{ parts: [separator] }]),
          parseOrPlaceholder(inner, item),
        ),
      [{ parts: [] }],
    );
  const elements = splitArgs(file.src, array.start + 1, array.end - 1);
  const pushes: Range[] = [];
  for (const m of file.code.matchAll(new RegExp(`\\b${name}\\.push\\s*\\(`, "g"))) {
    if (m.index < array.start || m.index > scope.at) continue;
    const open = m.index + m[0].length;
    pushes.push(...splitArgs(file.src, open, closing(file.src, open, ")")));
  }
  const all = [join(elements)];
  for (let n = 1; n <= pushes.length; n++) all.push(join([...elements, ...pushes.slice(0, n)]));
  return all.flat();
}

// ---------------------------------------------------------------------------
// The places that make messages.

/** The `.ts` files scanned, relative to the repository root, sorted. */
export function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(path(dir))];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const e of entries) {
      if (e.isDirectory) walk(`${dir}/${e.name}`);
      else if (e.isFile && e.name.endsWith(".ts")) files.push(`${dir}/${e.name}`);
    }
  };
  for (const dir of ["kernel", "modules", "servlets", "host", "testing"]) walk(dir);
  for (const file of ["main.ts", "testing.ts"]) {
    try {
      if (Deno.statSync(path(file)).isFile) files.push(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return files.sort();
}

function readSource(name: string): SourceFile {
  const src = Deno.readTextFileSync(path(name));
  const code = codeOnly(src);
  const blocks: Range[] = [];
  const open: number[] = [];
  for (let i = 0; i < code.length; i++) {
    if (code[i] === "{") open.push(i);
    else if (code[i] === "}" && open.length > 0) blocks.push({ start: open.pop()!, end: i });
  }
  return { name, src, code, blocks };
}

/** An error class: how its constructor makes the message from its arguments. */
interface ErrorClass {
  name: string;
  parent: string;
  file: SourceFile;
  /** The constructor's parameter names, when it has one. */
  params?: string[];
  /** The first argument of its `super(...)`. */
  superArg?: Range;
}

function errorClasses(files: SourceFile[]): Map<string, ErrorClass> {
  const classes = new Map<string, ErrorClass>();
  for (const file of files) {
    for (const m of file.code.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)[^{]*\{/g)) {
      const bodyStart = m.index + m[0].length;
      const bodyEnd = closing(file.src, bodyStart, "}");
      const body = file.code.slice(bodyStart, bodyEnd);
      const info: ErrorClass = { name: m[1], parent: m[2], file };
      const ctor = /\bconstructor\s*\(/.exec(body);
      if (ctor) {
        const open = bodyStart + ctor.index + ctor[0].length;
        const close = closing(file.src, open, ")");
        info.params = splitArgs(file.src, open, close).map((r) =>
          /^\s*(?:(?:readonly|private|public|protected)\s+)*([A-Za-z_$][\w$]*)/.exec(
            file.src.slice(r.start, r.end),
          )?.[1] ?? ""
        );
        const sup = /\bsuper\s*\(/.exec(file.code.slice(close, bodyEnd));
        if (sup) {
          const supOpen = close + sup.index + sup[0].length;
          info.superArg = splitArgs(file.src, supOpen, closing(file.src, supOpen, ")"))[0];
        }
      }
      classes.set(m[1], info);
    }
  }
  const isError = (name: string, seen = 0): boolean =>
    /^(Type|Range)?Error$/.test(name) ||
    (seen < 10 && classes.has(name) && isError(classes.get(name)!.parent, seen + 1));
  for (const name of [...classes.keys()]) if (!isError(name)) classes.delete(name);
  return classes;
}

/** The class, or the nearest ancestor, whose constructor says how the message is made. */
function messageMaker(classes: Map<string, ErrorClass>, name: string): ErrorClass | undefined {
  let c = classes.get(name);
  while (c !== undefined && c.superArg === undefined) c = classes.get(c.parent);
  return c;
}

/** One place that makes a message: where it is, and the expression that makes the text. */
interface Site {
  /** The file and position of the place (the `new`, the `.log`). */
  file: SourceFile;
  at: number;
  /** The file of the expression: the place's, or the error class's for a `super(...)`. */
  exprFile: SourceFile;
  range: Range;
  /** More arguments printed after it, each after a space (`console.error(a, b)`). */
  more?: Range[];
  /** The class constructor's parameters, bound to this `new`'s arguments. */
  bindings?: Map<string, { file: SourceFile; range: Range }>;
  prefix?: string;
}

const LEVELS = ["error", "warn", "info", "debug"];

function findSites(
  file: SourceFile,
  classes: Map<string, ErrorClass>,
  unparsed: UnparsedSite[],
): Site[] {
  const { src, code } = file;
  const sites: Site[] = [];
  const argsAt = (open: number): Range[] | undefined => {
    const close = closing(src, open, ")");
    return close < 0 ? undefined : splitArgs(src, open, close);
  };
  const fail = (at: number, source: string, reason: string): void => {
    unparsed.push({ file: file.name, line: lineOf(file, at), source: oneLine(source), reason });
  };
  const pattern =
    /(?<![\w$.#])new\s+([A-Z][\w$]*)\s*\(|(?<![\w$#])console\.(log|error|warn|info)\s*\(|\.log\s*\(|(?<![\w$.#])report\s*\(|(?<![\w$.#])post\s*\(\s*\{/g;
  for (const m of code.matchAll(pattern)) {
    const open = m.index + m[0].length;
    const call = src.slice(m.index, open + 60).split("\n")[0];
    if (m[1] !== undefined) {
      if (!classes.has(m[1])) continue; // not an error class of the project
      const maker = messageMaker(classes, m[1]);
      const args = argsAt(open);
      if (args === undefined) {
        fail(m.index, call, "unbalanced parentheses");
        continue;
      }
      if (maker?.superArg === undefined || maker.params === undefined) {
        fail(m.index, call, `class ${m[1]} has no constructor with super(message)`);
        continue;
      }
      const superText = maker.file.src.slice(maker.superArg.start, maker.superArg.end);
      const passed = maker.params.findIndex((p) =>
        new RegExp(`^${p}\\b(?!\\s*\\()`).test(superText)
      );
      if (passed >= 0) {
        // super(message) or super(message.replace(...)): the message is that argument.
        if (args[passed] === undefined) fail(m.index, call, "no message argument");
        else sites.push({ file, at: m.index, exprFile: file, range: args[passed] });
      } else {
        // super(`${what}: ...`): the class's text, its parameters bound to the arguments.
        const bindings = new Map<string, { file: SourceFile; range: Range }>();
        maker.params.forEach((p, i) => {
          if (args[i] !== undefined) bindings.set(p, { file, range: args[i] });
        });
        sites.push({ file, at: m.index, exprFile: maker.file, range: maker.superArg, bindings });
      }
    } else if (m[2] !== undefined) {
      const args = argsAt(open);
      if (args === undefined || args.length === 0) {
        fail(m.index, call, "no arguments");
        continue;
      }
      // console.error(a, b) prints its arguments joined with a space.
      sites.push({ file, at: m.index, exprFile: file, range: args[0], more: args.slice(1) });
    } else if (m[0].startsWith(".log")) {
      if (/console\s*$/.test(code.slice(Math.max(0, m.index - 8), m.index))) continue;
      const args = argsAt(open);
      if (args === undefined || args.length < 2) {
        fail(m.index, call, "a log call without level and message");
        continue;
      }
      const level = /^["'](\w+)["']$/.exec(src.slice(args[0].start, args[0].end))?.[1];
      sites.push({
        file,
        at: m.index,
        exprFile: file,
        range: args[1],
        prefix: level !== undefined && LEVELS.includes(level) ? `plumb ${level}: ` : undefined,
      });
    } else if (m[0].startsWith("report")) {
      const first = argsAt(open)?.[0];
      // Only a report with a written message: other reports pass on a failure.
      if (first !== undefined && "`\"'".includes(src[first.start])) {
        sites.push({ file, at: m.index, exprFile: file, range: first, prefix: "plumb error: " });
      }
    } else {
      // post({ type: "log", level, message }): a worker's log line.
      const braceAt = code.indexOf("{", m.index);
      const props = splitArgs(src, braceAt + 1, closing(src, braceAt + 1, "}"));
      const prop = (name: string): Range | undefined => {
        for (const r of props) {
          if (src.slice(r.start, r.end) === name) return r; // { message }
          const p = new RegExp(`^${name}\\s*:`).exec(src.slice(r.start, r.end));
          if (p) return trim(src, r.start + p[0].length, r.end);
        }
        return undefined;
      };
      const type = prop("type");
      if (type === undefined || src.slice(type.start, type.end) !== '"log"') continue;
      const message = prop("message");
      if (message === undefined) fail(m.index, call, "a log message with no message property");
      else sites.push({ file, at: m.index, exprFile: file, range: message });
    }
  }
  return sites;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const PREFIX = /^plumb(?: (error|warn|info|debug))?: /;

/** Reads every place of the source that makes a message. */
export function scanMessages(): MessageScan {
  const files = sourceFiles().map(readSource);
  const classes = errorClasses(files);
  const scan: MessageScan = { templates: [], relays: [], unparsed: [] };
  for (const file of files) {
    for (const site of findSites(file, classes, scan.unparsed)) {
      const where = { file: file.name, line: lineOf(file, site.at) };
      const { exprFile, range } = site;
      const source = oneLine(exprFile.src.slice(range.start, range.end));
      let alternatives: Alternative[];
      try {
        const scope = { file: exprFile, at: range.start, bindings: site.bindings, depth: 0 };
        alternatives = parseMessage(scope, range);
        for (const arg of site.more ?? []) {
          alternatives = cross(alternatives, [{ parts: [" "] }]);
          alternatives = cross(alternatives, parseOrPlaceholder(scope, arg));
        }
      } catch (error) {
        if (error instanceof NotText) {
          if (error.passed) {
            scan.relays.push({ ...where, source });
          } else {
            scan.unparsed.push({
              ...where,
              source,
              reason: "the message is computed (a call or other expression), not written here",
            });
          }
          continue;
        }
        if (error instanceof Unreadable) {
          scan.unparsed.push({ ...where, source, reason: error.message });
          continue;
        }
        throw error;
      }
      const seen = new Set<string>();
      for (const alt of alternatives) {
        const template = toTemplate(alt, site.prefix);
        const key = `${alt.line}\u0000${template.prefix}\u0000${template.text}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const line = alt.line !== undefined && site.bindings === undefined ? alt.line : where.line;
        if (template.relay) scan.relays.push({ ...where, source });
        else {
          scan.templates.push({
            file: where.file,
            line,
            text: template.text,
            pattern: template.pattern,
            exact: template.exact,
            ...(template.prefix === undefined ? {} : { prefix: template.prefix }),
          });
        }
      }
    }
  }
  return scan;
}

function toTemplate(
  alt: Alternative,
  prefix: string | undefined,
): { text: string; pattern: RegExp; exact: RegExp; prefix?: string; relay: boolean } {
  // Merge neighbouring literals and placeholders.
  const parts: Part[] = [];
  for (const p of alt.parts) {
    const last = parts[parts.length - 1];
    if (typeof p === "string") {
      if (p === "") continue;
      if (typeof last === "string") parts[parts.length - 1] = last + p;
      else parts.push(p);
    } else if (last === undefined || typeof last === "string") parts.push(p);
  }
  let printed = prefix;
  if (typeof parts[0] === "string") {
    const written = PREFIX.exec(parts[0]);
    if (written) {
      printed = written[0];
      parts[0] = parts[0].slice(written[0].length);
      if (parts[0] === "") parts.shift();
    }
  }
  const text = parts.map((p) => typeof p === "string" ? p : "…").join("");
  const body = parts.map((p) => typeof p === "string" ? escapeRegExp(p) : "(.*?)").join("");
  const literal = parts.filter((p) => typeof p === "string").join("");
  return {
    text,
    pattern: new RegExp(`(?:^|: )${body}$`),
    exact: new RegExp(`^${body}$`),
    ...(printed === undefined ? {} : { prefix: printed }),
    relay: !/[A-Za-z]/.test(literal),
  };
}

let cached: MessageTemplate[] | undefined;

/** Every message template of the source (scanned once, then cached). */
export function messageTemplates(): MessageTemplate[] {
  return cached ??= scanMessages().templates;
}

/** How specific a template is: its literal characters. */
function specificity(t: MessageTemplate): number {
  return t.text.replaceAll("…", "").length;
}

/**
 * Every template a printed line carries, the most specific first (a line
 * that wraps another message matches both).
 */
export function findMessages(printed: string): MessageTemplate[] {
  const line = printed.replace(/\r?\n$/, "");
  return messageTemplates().filter((t) => t.pattern.test(line))
    .sort((a, b) => specificity(b) - specificity(a));
}

/**
 * The template a printed line (`plumb: graph.json: ...`, `plumb error: ...`)
 * came from: the most specific that matches it, or undefined when none does.
 */
export function findMessage(printed: string): MessageTemplate | undefined {
  return findMessages(printed)[0];
}
