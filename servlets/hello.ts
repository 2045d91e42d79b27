/**
 * `hello`: the interactive greeter of Plumber's tutorial. Reads one line and
 * replies `Hello, <line>`. Its input is declared with `PERSIST`, so over TCP
 * the connection stays open and each line is a new request.
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PERSIST, type Port } from "../mod.ts";

/** The context of a `hello` node. */
export interface HelloContext {
  /** The line to greet (`PERSIST`). */
  input: Port;
  /** The greeting. */
  output: Port;
}

export default defineServlet({
  description: "replies Hello, <line> to each line; keeps the connection open",
  init(_args, env): HelloContext {
    return {
      input: env.define("in", INPUT | PERSIST, "text/line"),
      output: env.define("out", OUTPUT, "text/line"),
    };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line !== null) await task.write(ctx.output, `Hello, ${line}\n`);
  },
});
