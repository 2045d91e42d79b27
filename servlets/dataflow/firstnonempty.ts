/**
 * `dataflow/firstnonempty`: of N inputs (`in0` ... `inN-1`, N from the first
 * argument, default 2), copies the first, in that order, that carries any
 * bytes (or values, passed on as they are) to `out`, and releases the inputs
 * after it (what their writers write is dropped, so a diamond's other branch
 * never waits on a full pipe). Inputs that were not written in a request read as empty, so
 * after a `demux` it joins the branches back. An input whose producer failed
 * before writing counts as empty, so a branch fed by `__error__` can answer
 * instead. The graph loader inserts one where several outputs feed one input.
 *
 * Ports: `in0` ... (inputs, `$T`), `out` (output, `$T`).
 * @module
 */
import { defineServlet, INPUT, OUTPUT, type Port, type Task } from "../../mod.ts";
import { countArg } from "./dup.ts";

/** The context of a `dataflow/firstnonempty` node. */
export interface FirstNonEmptyContext {
  /** The inputs, in order of preference. */
  inputs: Port[];
  /** The chosen input's bytes. */
  output: Port;
}

/**
 * Copies the first input that carries anything, as written; false when none
 * did. The inputs after it are released first: their writers are not read, so
 * they go on (what they write is dropped) instead of waiting on a full pipe.
 */
async function copyFirst(ctx: FirstNonEmptyContext, task: Task): Promise<boolean> {
  const { inputs } = ctx;
  for (let i = 0; i < inputs.length; i++) {
    // An input whose producer failed before writing anything counts as empty:
    // so an error branch (from __error__) can answer in its place.
    if (await task.eof(inputs[i]).catch(() => true)) continue;
    for (let j = i + 1; j < inputs.length; j++) task.release(inputs[j]);
    await task.forward(inputs[i], ctx.output);
    return true;
  }
  return false;
}

export default defineServlet({
  description: "copies the first non-empty of N inputs",
  init(args, env): FirstNonEmptyContext {
    const n = countArg(args[0], 2, 1, "dataflow/firstnonempty");
    const inputs = Array.from({ length: n }, (_, i) => env.define(`in${i}`, INPUT, "$T"));
    return { inputs, output: env.define("out", OUTPUT, "$T") };
  },
  async exec(ctx, task): Promise<void> {
    // This node runs only when an input was written; if every one is empty (a
    // __null__ signal carries no bytes), pass on that something was written.
    if (!(await copyFirst(ctx, task))) await task.write(ctx.output, new Uint8Array(0));
  },
});
