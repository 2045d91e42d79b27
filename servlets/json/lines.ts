/**
 * JSON lines on a port: one JSON value per line, written compact (no line
 * break inside) and ending `\n`. {@linkcode readJsonLine} reads and parses
 * one line, {@linkcode writeJsonLine} writes one; the `json/parse` and
 * `json/stringify` servlets are made of them. They are not part of the
 * package's API: a servlet of your own speaks the `json` pipe type with
 * `task.readValue` and `task.writeValue`.
 *
 * An invalid line throws a {@linkcode JsonLineError} that says where (the
 * column, counted in characters from 1) and what was wrong, with the line
 * (or the part of it around the column when it is long):
 *
 * ```text
 * invalid JSON at column 7: Unexpected token 'x'; the line: {"a": x}
 * ```
 *
 * @example
 * ```ts
 * import { defineServlet } from "../../mod.ts";
 * import { readJsonLine, writeJsonLine } from "./lines.ts";
 *
 * // Replies to {"a": 1, "b": 2} with {"sum":3}.
 * export default defineServlet({
 *   init(_args, env) {
 *     return {
 *       input: env.input("in", { persist: true, type: "json" }),
 *       output: env.output("out", { type: "json" }),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     const value = await readJsonLine<{ a: number; b: number }>(task, ctx.input);
 *     if (value !== undefined) await writeJsonLine(task, ctx.output, { sum: value.a + value.b });
 *   },
 * });
 * ```
 * @module
 */
import { PlumbError, type Port, type Task } from "../../mod.ts";

// The API types the signatures here refer to (PlumbError: JsonLineError's base), for the docs.
export type { Port, RequestEvent, Task } from "../../mod.ts";
export type { PlumbError };

/** Longest line quoted whole in a {@linkcode JsonLineError}, in characters. */
const SAMPLE_CHARS = 80;
/** Characters quoted before and after the column of an error in a longer line. */
const SAMPLE_BEFORE = 50;
const SAMPLE_AFTER = 30;

/** A line that is not one JSON value. */
export class JsonLineError extends PlumbError {
  /** Where the error is: the column, in characters (code points) from 1. */
  readonly column: number;
  /**
   * The line, or the part of it around the column (cut ends marked `...`),
   * with control characters written `\u0001`, so that it stays one line.
   */
  readonly sample: string;

  /**
   * Makes the error; the message is `invalid JSON at column C: REASON; the line: SAMPLE`
   * (the sample left out when it is blank).
   * @param reason what was wrong, for example `Unexpected token 'x'`
   * @param column where, in characters from 1
   * @param sample the line or the part of it around the column
   */
  constructor(reason: string, column: number, sample: string) {
    super(
      "PLUMB_JSON_INVALID",
      `invalid JSON at column ${column}: ${reason}${
        sample.trim() === "" ? "" : `; the line: ${sample}`
      }`,
    );
    this.name = "JsonLineError";
    this.column = column;
    this.sample = sample;
  }
}

const NOTHING = -1;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** The end of the string starting at `i` (a `"`), or `~index` of its first error. */
function scanString(s: string, i: number): number {
  for (let j = i + 1; j < s.length;) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20) return ~j;
    if (c !== 0x5c) {
      j++;
      continue;
    }
    const e = s.charCodeAt(j + 1);
    if (e === 0x75) {
      for (let k = j + 2; k < j + 6; k++) {
        if (!isHex(s.charCodeAt(k))) return ~Math.min(k, s.length);
      }
      j += 6;
    } else if ('"\\/bfnrt'.includes(s[j + 1] ?? "x")) j += 2;
    else return ~Math.min(j + 1, s.length);
  }
  return ~s.length;
}

/** The end of the number starting at `i`, or `~index` of its first error. */
function scanNumber(s: string, i: number): number {
  let j = i;
  if (s.charCodeAt(j) === 0x2d) j++;
  if (s.charCodeAt(j) === 0x30) j++;
  else if (isDigit(s.charCodeAt(j))) { while (isDigit(s.charCodeAt(j))) j++; }
  else return ~j;
  if (s.charCodeAt(j) === 0x2e) {
    j++;
    if (!isDigit(s.charCodeAt(j))) return ~j;
    while (isDigit(s.charCodeAt(j))) j++;
  }
  if (s.charCodeAt(j) === 0x65 || s.charCodeAt(j) === 0x45) {
    j++;
    if (s.charCodeAt(j) === 0x2b || s.charCodeAt(j) === 0x2d) j++;
    if (!isDigit(s.charCodeAt(j))) return ~j;
    while (isDigit(s.charCodeAt(j))) j++;
  }
  return j;
}

const VALUE = 0;
const KEY = 1;
const AFTER = 2;

/**
 * The index (UTF-16) of the first character that keeps `s` from being one
 * JSON value (`s.length` when it ends too soon), or -1 when it is one. Not
 * recursive, so any depth of nesting is fine.
 */
export function jsonErrorIndex(s: string): number {
  const open: number[] = []; // 0x7b "{" or 0x5b "["
  let mode = VALUE;
  let i = 0;
  for (;;) {
    i = skipSpace(s, i);
    const c = s.charCodeAt(i);
    if (mode === VALUE) {
      if (c === 0x7b || c === 0x5b) {
        i = skipSpace(s, i + 1);
        if (s.charCodeAt(i) === c + 2) { // "}" or "]"
          i++;
          mode = AFTER;
        } else {
          open.push(c);
          mode = c === 0x7b ? KEY : VALUE;
        }
        continue;
      }
      let end: number;
      if (c === 0x22) end = scanString(s, i);
      else if (c === 0x2d || isDigit(c)) end = scanNumber(s, i);
      else {
        const word = c === 0x74 ? "true" : c === 0x66 ? "false" : c === 0x6e ? "null" : "";
        if (word === "") return i;
        let k = 0;
        while (k < word.length && s[i + k] === word[k]) k++;
        end = k === word.length ? i + k : ~(i + k);
      }
      if (end < 0) return ~end;
      i = end;
      mode = AFTER;
    } else if (mode === KEY) {
      if (c !== 0x22) return i;
      const end = scanString(s, i);
      if (end < 0) return ~end;
      i = skipSpace(s, end);
      if (s.charCodeAt(i) !== 0x3a) return i;
      i++;
      mode = VALUE;
    } else {
      const top = open.at(-1);
      if (top === undefined) return i < s.length ? i : NOTHING;
      if (c === 0x2c) {
        i++;
        mode = top === 0x7b ? KEY : VALUE;
      } else if (c === top + 2) {
        open.pop();
        i++;
      } else return i;
    }
  }
}

/** The column of UTF-16 index `index`, in code points from 1. */
function columnOf(s: string, index: number): number {
  let column = 1;
  for (let i = 0; i < index && i < s.length; i++) {
    const c = s.charCodeAt(i);
    // The high half of a surrogate pair counts; the low half does not.
    if (c < 0xdc00 || c > 0xdfff || i === 0 || !isHighSurrogate(s.charCodeAt(i - 1))) column++;
  }
  return column;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Control characters, line separators and lone surrogates, written `\u0001` in a sample. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;

function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The line, or the part of it around `column` when it is long, made printable. */
function sampleOf(line: string, column: number): string {
  const chars = [...line];
  if (chars.length <= SAMPLE_CHARS) return printable(line);
  const from = Math.max(0, column - 1 - SAMPLE_BEFORE);
  const to = Math.min(chars.length, column - 1 + SAMPLE_AFTER);
  const part = printable(chars.slice(from, to).join(""));
  return `${from > 0 ? "..." : ""}${part}${to < chars.length ? "..." : ""}`;
}

/** V8's reason without the position and the copy of the text it appends. */
function reasonOf(error: unknown, line: string, index: number): string {
  if (/^[ \t\r\n]*$/.test(line)) return "empty line; a JSON line holds one value";
  const text = error instanceof Error ? error.message : String(error);
  if (text.startsWith("Unexpected token")) {
    const at = line.codePointAt(index);
    if (at === undefined) return "Unexpected end of JSON input";
    const char = String.fromCodePoint(at);
    return /^[\p{C}\p{Z}]$/u.test(char)
      ? `Unexpected token U+${at.toString(16).toUpperCase().padStart(4, "0")}`
      : `Unexpected token '${char}'`;
  }
  return text.replace(/(?: in JSON)? at position \d+(?: \(line \d+ column \d+\))?$/, "")
    .replace(/, ".*" is not valid JSON$/s, "");
}

/**
 * Parses one line as one JSON value.
 *
 * @param line the line, without its end of line
 * @returns the value
 * @throws {JsonLineError} when the line is not one JSON value (an empty line is not)
 */
export function parseJsonLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    const found = jsonErrorIndex(line);
    const index = found === NOTHING ? line.length : found;
    const column = columnOf(line, index);
    throw new JsonLineError(reasonOf(error, line, index), column, sampleOf(line, column));
  }
}

/**
 * Reads one line of a port and parses it as one JSON value.
 *
 * The end of the input is `undefined`, not `null`: a line `null` is the
 * JSON value `null`, and no line parses to `undefined`.
 *
 * @param task the request's task
 * @param port an input port
 * @returns the value (typed as the caller says, unchecked), or `undefined` at the end of the input
 * @throws {JsonLineError} when the line is not one JSON value (an empty line is not)
 */
export async function readJsonLine<T = unknown>(task: Task, port: Port): Promise<T | undefined> {
  const line = await task.readLine(port);
  if (line === null) return undefined;
  return parseJsonLine(line) as T;
}

/**
 * `JSON.stringify(value, null, indent)`, with a clear error for a value that
 * has no JSON form. As with `JSON.stringify`, members of an object that are
 * `undefined`, functions or symbols are left out, and in an array they are
 * `null`.
 *
 * @param value the value
 * @param indent spaces to indent by; 0 (the default) writes one compact line
 * @returns the JSON text
 * @throws {TypeError} for `undefined`, a function, a symbol, a BigInt or a cycle
 */
export function toJson(value: unknown, indent = 0): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, indent);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (/BigInt/i.test(why)) {
      throw new TypeError(
        `cannot write a BigInt as JSON; convert it to a number or a string first`,
        { cause: error },
      );
    }
    if (/circular/i.test(why)) {
      const detail = why.split("\n").slice(1).map((l) => l.replace(/^\s*(-->|---|\|)\s*/, ""))
        .filter((l) => l !== "").join(", ");
      throw new TypeError(
        `cannot write a value that contains itself as JSON (a cycle${
          detail === "" ? "" : `: ${detail}`
        })`,
        { cause: error },
      );
    }
    throw new TypeError(`cannot write the value as JSON: ${why}`, { cause: error });
  }
  if (text === undefined) {
    const kind = value === undefined ? "undefined" : `a ${typeof value}`;
    throw new TypeError(`cannot write ${kind} as JSON; it has no JSON form`);
  }
  return text;
}

/**
 * Writes one value as one compact JSON line (`JSON.stringify(value)` and `\n`).
 *
 * @param task the request's task
 * @param port an output port
 * @param value the value
 * @throws {TypeError} for `undefined`, a function, a symbol, a BigInt or a cycle
 */
export async function writeJsonLine(task: Task, port: Port, value: unknown): Promise<void> {
  await task.write(port, `${toJson(value)}\n`);
}
