/**
 * `dataflow/dup`: copies its input to N outputs (`out0` ... `outN-1`, N from
 * the first argument, default 2). `out1` and up are `SHADOW`s of `out0`, so
 * the kernel copies the bytes and the slowest branch sets the pace. The graph
 * loader inserts one where an output feeds several inputs.
 *
 * Ports: `in` (input, `$T`), `out0` ... (outputs, `$T`).
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PlumbError, type Port, SHADOW } from "../../mod.ts";

const EMPTY = new Uint8Array(0);

/** The context of a `dataflow/dup` node. */
export interface DupContext {
  /** What to copy. */
  input: Port;
  /** The first copy; the others shadow it. */
  first: Port;
}

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
  init(args, env): DupContext {
    const n = countArg(args[0], 2, 1, "dataflow/dup");
    const input = env.define("in", INPUT, "$T");
    const first = env.define("out0", OUTPUT, "$T");
    for (let i = 1; i < n; i++) env.define(`out${i}`, OUTPUT | SHADOW | first.id, "$T");
    return { input, first };
  },
  async exec(ctx, task): Promise<void> {
    // Values and text are passed on as they are: each output's reader gets the same.
    const copied = await task.forward(ctx.input, ctx.first);
    // Written with no bytes (a __null__ signal, say) is still written: pass that on.
    if (!copied) await task.write(ctx.first, EMPTY);
  },
});
