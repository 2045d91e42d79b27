/**
 * `json/parse`: the JSON lines framer. Reads one line per request, checks
 * that it is one JSON value and writes it on in compact canonical form
 * (`JSON.stringify(JSON.parse(line))`: no spaces, numbers as JavaScript
 * writes them, key order kept, the last of duplicate keys kept). A line that
 * is not JSON fails the request with a `JsonLineError` (from `./lines.ts`) naming the
 * column; an empty or blank line writes nothing. Its input is declared with
 * `PERSIST`, so as the first node of a graph it makes every line on a
 * connection one request.
 *
 * Numbers are JavaScript numbers: integers past 2^53 lose precision.
 *
 * Ports: `in` (input, `PERSIST`, `text/line`), `out` (output, `json`).
 * @module
 */
import { defineServlet, PlumbError } from "../../mod.ts";
import { parseJsonLine, writeJsonLine } from "./lines.ts";

/** A line of JSON whitespace only (or nothing). */
const BLANK = /^[ \t\r\n]*$/;

/** The `json/parse` servlet: one JSON line per request, checked and written on compact. */
export default defineServlet({
  description: "reads one JSON line per request and writes it on compact; invalid JSON fails",
  init(args, env) {
    if (args.length > 0) {
      throw new PlumbError(
        "PLUMB_JSON_PARSE_ARGS",
        `json/parse takes no arguments, got ${JSON.stringify(args)}; ` +
          `to pick a field or indent, use json/stringify`,
      );
    }
    return {
      input: env.input("in", { persist: true, type: "text/line" }), // a line to parse per request
      output: env.output("out", { type: "json" }), // each value as one compact JSON line
    };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line === null || BLANK.test(line)) return;
    await writeJsonLine(task, ctx.output, parseJsonLine(line));
  },
});
