/**
 * `hello`: the interactive greeter of Plumber's tutorial. Reads one line and
 * replies `Hello, <line>`. Its input is declared with `PERSIST`, so over TCP
 * the connection stays open and each line is a new request.
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 * @module
 */
import { defineServlet } from "../mod.ts";

export default defineServlet({
  description: "replies Hello, <line> to each line; keeps the connection open",
  init(_args, env) {
    return {
      input: env.input("in", { persist: true, type: "text/line" }),
      output: env.output("out", { type: "text/line" }),
    };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line !== null) await task.write(ctx.output, `Hello, ${line}\n`);
  },
  line(ctx, line, out) {
    out.write(ctx.output, `Hello, ${line}\n`);
  },
});
