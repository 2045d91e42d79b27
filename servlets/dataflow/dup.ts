/**
 * `dataflow/dup`: copies its input to N outputs (`out0` ... `outN-1`, N from
 * the first argument, default 2). Every output is a `SHADOW` of the input, as
 * in Plumber: the servlet only reads its input (`task.drain`), the kernel
 * hands what it read to each output (the same chunks, values and text, no
 * copy), and the slowest branch sets the pace. The graph loader inserts one
 * where an output feeds several inputs.
 *
 * Ports: `in` (input, `$T`), `out0` ... (outputs, `$T`).
 * @module
 */
import { defineServlet, PlumbError } from "../../mod.ts";

/** Reads a count argument: a whole number from `min`, default `fallback`. */
export function countArg(
  arg: string | undefined,
  fallback: number,
  min: number,
  what: string,
): number {
  if (arg === undefined) return fallback;
  const n = Number(arg);
  if (!Number.isInteger(n) || n < min || n > 1000) {
    throw new PlumbError(
      "PLUMB_DATAFLOW_COUNT",
      `${what}: the count must be a whole number from ${min} to 1000, got "${arg}"`,
    );
  }
  return n;
}

export default defineServlet({
  description: "copies its input to N outputs",
  init(args, env) {
    const n = countArg(args[0], 2, 1, "dataflow/dup");
    const input = env.input("in", { type: "$T" });
    // Every output is a shadow of the input: it carries what exec reads.
    for (let i = 0; i < n; i++) env.output(`out${i}`, { shadowOf: input });
    return { input };
  },
  async exec(ctx, task) {
    // The shadows carry what is read, values and text as they are: each
    // output's reader gets the same. Reading marks them written, so an input
    // written with no bytes (a __null__ signal, say) is passed on as such.
    await task.drain(ctx.input);
  },
});
