/**
 * `transform`: rewrites each line of its input. The argument picks how:
 * `upper` (default), `lower`, `reverse` (by characters) or `trim`. Its input
 * is declared with `PERSIST`, so on a connection it answers what each read
 * brought, line by line, and the connection stays open.
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 * @module
 */
import { defineServlet, PlumbError } from "../mod.ts";

const TRANSFORMS: Record<string, (line: string) => string> = {
  upper: (line) => line.toUpperCase(),
  lower: (line) => line.toLowerCase(),
  reverse: (line) => [...line].reverse().join(""),
  trim: (line) => line.trim(),
};

export default defineServlet({
  description: "rewrites each line: upper, lower, reverse or trim",
  init(args, env) {
    const name = args[0] ?? "upper";
    const apply = Object.hasOwn(TRANSFORMS, name) ? TRANSFORMS[name] : undefined;
    if (apply === undefined) {
      throw new PlumbError(
        "PLUMB_TRANSFORM_UNKNOWN",
        `unknown transform "${name}"; use one of ${Object.keys(TRANSFORMS).join(", ")}`,
      );
    }
    return {
      apply,
      input: env.input("in", { type: "text/line", persist: true }),
      output: env.output("out", { type: "text/line" }), // rewritten lines, each ending "\n"
    };
  },
  async exec(ctx, task) {
    // A readLine loop, not task.lines: this is on the hot path, and the
    // iterator costs about a microsecond more per request.
    for (
      let line = await task.readLine(ctx.input);
      line !== null;
      line = await task.readLine(ctx.input)
    ) {
      await task.write(ctx.output, `${ctx.apply(line)}\n`);
    }
  },
});
