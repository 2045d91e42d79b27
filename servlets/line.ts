/**
 * `line`: the line framer. Reads one line (ending `\n` or `\r\n`) and writes
 * it on with a plain `\n`. Its input is declared with `PERSIST`, so as the
 * first node of a graph it makes every line on a connection one request.
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PERSIST, type Port } from "../mod.ts";

/** The context of a `line` node. */
export interface LineContext {
  /** The byte stream to take one line from (`PERSIST`). */
  input: Port;
  /** The line, ending `\n`. */
  output: Port;
}

export default defineServlet({
  description: "reads one line per request and passes it on",
  init(_args, env): LineContext {
    return {
      input: env.define("in", INPUT | PERSIST, "text/line"),
      output: env.define("out", OUTPUT, "text/line"),
    };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line !== null) await task.write(ctx.output, `${line}\n`);
  },
});
