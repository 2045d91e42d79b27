/**
 * `transform`: rewrites each line of its input. The argument picks how:
 * `upper` (default), `lower`, `reverse` (by characters) or `trim`.
 *
 * Ports: `in` (input), `out` (output).
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PlumbError, type Port } from "../mod.ts";

/** The context of a `transform` node. */
export interface TransformContext {
  /** Rewrites one line. */
  apply: (line: string) => string;
  /** Lines to rewrite. */
  input: Port;
  /** Rewritten lines, each ending `\n`. */
  output: Port;
}

const TRANSFORMS: Record<string, (line: string) => string> = {
  upper: (line) => line.toUpperCase(),
  lower: (line) => line.toLowerCase(),
  reverse: (line) => [...line].reverse().join(""),
  trim: (line) => line.trim(),
};

export default defineServlet({
  description: "rewrites each line: upper, lower, reverse or trim",
  init(args, env): TransformContext {
    const name = args[0] ?? "upper";
    const apply = TRANSFORMS[name];
    if (apply === undefined) {
      throw new PlumbError(
        "PLUMB_TRANSFORM_UNKNOWN",
        `unknown transform "${name}"; use one of ${Object.keys(TRANSFORMS).join(", ")}`,
      );
    }
    return {
      apply,
      input: env.define("in", INPUT, "text/line"),
      output: env.define("out", OUTPUT, "text/line"),
    };
  },
  async exec(ctx, task): Promise<void> {
    for (
      let line = await task.readLine(ctx.input);
      line !== null;
      line = await task.readLine(ctx.input)
    ) {
      await task.write(ctx.output, `${ctx.apply(line)}\n`);
    }
  },
});
