/**
 * `echo`: copies its input to its output, chunk by chunk. Its input is
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
    // A read loop, not task.chunks: this is on the hot path.
    for (
      let chunk = await task.read(ctx.input);
      chunk !== null;
      chunk = await task.read(ctx.input)
    ) {
      await task.write(ctx.output, chunk);
    }
  },
});
