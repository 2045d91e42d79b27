/**
 * `echo`: copies its input to its output, chunk by chunk. Its input is
 * declared with `PERSIST`, so over TCP it is a keep-alive echo server; the
 * argument `close` declares it without, closing after each reply.
 *
 * Ports: `in` (input), `out` (output).
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PERSIST, type Port } from "../mod.ts";

/** The context of an `echo` node. */
export interface EchoContext {
  /** What to copy. */
  input: Port;
  /** The copy. */
  output: Port;
}

export default defineServlet({
  description: "copies its input to its output",
  init(args, env): EchoContext {
    const persist = args.includes("close") ? 0 : PERSIST;
    return {
      input: env.define("in", INPUT | persist, "$T"),
      output: env.define("out", OUTPUT, "$T"),
    };
  },
  async exec(ctx, task): Promise<void> {
    for (
      let chunk = await task.read(ctx.input);
      chunk !== null;
      chunk = await task.read(ctx.input)
    ) {
      await task.write(ctx.output, chunk);
    }
  },
});
