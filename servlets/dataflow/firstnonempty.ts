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
import { type AnyPort, defineServlet, type Task } from "../../mod.ts";
import { countArg } from "./dup.ts";

/**
 * Copies the first of `inputs` that carries anything, as written; false when
 * none did. The inputs after it are released first: their writers are not
 * read, so they go on (what they write is dropped) instead of waiting on a
 * full pipe.
 */
async function copyFirst(
  task: Task,
  inputs: readonly AnyPort[],
  output: AnyPort,
  from = 0,
): Promise<boolean> {
  // Input by input, each in a call of its own rather than a loop round an
  // await: V8 keeps much more of each request alive through a garbage
  // collection when a short-lived async function's loop goes round.
  if (from === inputs.length) return false;
  // An input whose producer failed before writing anything counts as empty:
  // so an error branch (from __error__) can answer in its place.
  // (A try around the await, not a catch handler: no promise more per input.)
  let empty: boolean;
  try {
    empty = await task.eof(inputs[from]);
  } catch {
    empty = true;
  }
  if (empty) return copyFirst(task, inputs, output, from + 1);
  for (let j = from + 1; j < inputs.length; j++) task.release(inputs[j]);
  await task.forward(inputs[from], output);
  return true;
}

export default defineServlet({
  description: "copies the first non-empty of N inputs",
  init(args, env) {
    const n = countArg(args[0], 2, 1, "dataflow/firstnonempty");
    // The inputs, in order of preference.
    const inputs = Array.from({ length: n }, (_, i) => env.input(`in${i}`, { type: "$T" }));
    return { inputs, output: env.output("out", { type: "$T" }) };
  },
  async exec(ctx, task) {
    // This node runs only when an input was written; if every one is empty (a
    // __null__ signal carries no bytes), pass on that something was written.
    if (!(await copyFirst(task, ctx.inputs, ctx.output))) {
      await task.write(ctx.output, new Uint8Array(0));
    }
  },
});
