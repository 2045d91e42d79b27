/**
 * `json/stringify`: writes each JSON value of its input (JSON lines, as
 * `json/parse` writes them) as text. With no arguments each value is one
 * compact line; `--pretty` indents it by two spaces over several lines
 * (`JSON.stringify(value, null, 2)` and `\n`); `--field NAME` writes only that
 * top-level field of an object, as JSON (`null` when the object has no such
 * field or the value is `null`; any other value fails the request).
 *
 * The output's type is `text/line` (one line per value), or `text` with
 * `--pretty`, whose values span several lines. Its input is declared with
 * `PERSIST`, so as the first node of a graph it answers what each read of the
 * connection brought and keeps the connection.
 *
 * Ports: `in` (input, `json`, `PERSIST`), `out` (output, `text/line`, or `text` with `--pretty`).
 * @module
 */
import { defineServlet, PlumbError, type Port, type Task } from "../../mod.ts";
import { readJsonLine, toJson } from "./lines.ts";

const USAGE = "args are [--pretty] [--field NAME]";

/** The kind of a JSON value, for messages: `an array`, `a string`, ... */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  const kind = typeof value;
  return kind === "object" ? "an object" : `a ${kind}`;
}

/** The field `name` of `value`: `null` when it has none; a value that is no object fails. */
export function fieldOf(value: unknown, name: string): unknown {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new PlumbError(
      "PLUMB_JSON_STRINGIFY_NOT_OBJECT",
      `json/stringify: cannot take field "${name}" of ${kindOf(value)}`,
    );
  }
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : null;
}

/** What `exec` needs of the node's context to write a value. */
interface Rendering {
  readonly indent: number;
  readonly field: string | undefined;
  readonly input: Port<unknown>;
  readonly output: Port<string>;
}

/** A value as the node writes it: the value or its field, as JSON, and `\n`. */
function render(ctx: Rendering, value: unknown): string {
  const picked = ctx.field === undefined ? value : fieldOf(value, ctx.field);
  return `${toJson(picked, ctx.indent)}\n`;
}

/** The values after the second of a request, each written. */
async function rest(ctx: Rendering, task: Task, second: unknown): Promise<void> {
  for (let value = second; value !== undefined; value = await readJsonLine(task, ctx.input)) {
    await task.write(ctx.output, render(ctx, value));
  }
}

/** The `json/stringify` servlet: each JSON value as text, compact, pretty or one field. */
export default defineServlet({
  description: "writes each JSON value as text: compact, --pretty, or one --field",
  init(args, env) {
    let indent = 0;
    let field: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--pretty") indent = 2;
      else if (arg === "--field" || arg.startsWith("--field=")) {
        const name = arg === "--field" ? args[++i] : arg.slice("--field=".length);
        if (name === undefined || name === "") {
          throw new PlumbError(
            "PLUMB_JSON_STRINGIFY_FIELD",
            `json/stringify: --field needs a field name; ${USAGE}`,
          );
        }
        field = name;
      } else {
        throw new PlumbError(
          "PLUMB_JSON_STRINGIFY_ARG",
          `json/stringify: unknown argument ${JSON.stringify(arg)}; ${USAGE}`,
        );
      }
    }
    return {
      indent, // spaces to indent by: 0 writes one compact line per value
      field, // the top-level field to write instead of the whole value, if any
      input: env.input("in", { type: "json", persist: true }),
      output: env.output("out", { type: indent === 0 ? "text/line" : "text" }),
    };
  },
  async exec(ctx, task) {
    // One value then the end without a loop, more in a loop of their own: a loop
    // round an await in a short-lived async function costs V8 much more garbage
    // collection under many connections (see transform).
    const value = await readJsonLine(task, ctx.input);
    if (value === undefined) return;
    await task.write(ctx.output, render(ctx, value));
    const next = await readJsonLine(task, ctx.input);
    if (next !== undefined) await rest(ctx, task, next);
  },
});
