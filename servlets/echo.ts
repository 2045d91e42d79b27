/**
 * `echo`: copies its input to its output, chunk by chunk, as written (text
 * as text, values as values, bytes as bytes). Its input is
 * declared with `PERSIST`, so over TCP it is a keep-alive echo server; the
 * argument `close` declares it without, closing after each reply.
 *
 * Ports: `in` (input), `out` (output).
 * @module
 */
import { defineServlet } from "../mod.ts";

export default defineServlet({
  description: "copies its input to its output",
  init(args, env) {
    return {
      input: env.input("in", { persist: !args.includes("close"), type: "$T" }),
      output: env.output("out", { type: "$T" }),
    };
  },
  async exec(ctx, task) {
    // As written, not a read loop: text stays text and values stay values from
    // pipe to pipe, encoded once where they leave the graph (the hot path).
    await task.forward(ctx.input, ctx.output);
  },
  line(ctx, _line, out) {
    out.forward(ctx.output);
  },
});
