/**
 * `line`: the line framer. Reads one line (ending `\n` or `\r\n`) and writes
 * it on with a plain `\n`. Its input is declared with `PERSIST`, so as the
 * first node of a graph it makes every line on a connection one request.
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 * @module
 */
import { defineServlet } from "../mod.ts";

export default defineServlet({
  description: "reads one line per request and passes it on",
  init(_args, env) {
    return {
      input: env.input("in", { persist: true, type: "text/line" }), // a line per request
      output: env.output("out", { type: "text/line" }), // the line, ending "\n"
    };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line !== null) await task.write(ctx.output, `${line}\n`);
  },
  line(ctx, line, out) {
    out.write(ctx.output, `${line}\n`);
  },
});
