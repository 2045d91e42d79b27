/**
 * `dataflow/dup`: copies its input to N outputs (`out0` ... `outN-1`, N from
 * the first argument, default 2). `out1` and up are `SHADOW`s of `out0`, so
 * the kernel copies the bytes and the slowest branch sets the pace. The graph
 * loader inserts one where an output feeds several inputs.
 *
 * Ports: `in` (input, `$T`), `out0` ... (outputs, `$T`).
 * @module
 */
import { defineServlet, PlumbError } from "../../mod.ts";

const EMPTY = new Uint8Array(0);

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
    const first = env.output("out0", { type: "$T" }); // the first copy; the others shadow it
    for (let i = 1; i < n; i++) env.output(`out${i}`, { shadowOf: first });
    return { input, first };
  },
  async exec(ctx, task) {
    // Values and text are passed on as they are: each output's reader gets the same.
    const copied = await task.forward(ctx.input, ctx.first);
    // Written with no bytes (a __null__ signal, say) is still written: pass that on.
    if (!copied) await task.write(ctx.first, EMPTY);
  },
});
