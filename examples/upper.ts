// deno-lint-ignore-file explicit-function-return-type -- a servlet as users write it: the context type is inferred from init
/**
 * `upper.ts`: the servlet of the README. It answers each line upper-cased and
 * keeps the connection open for the next one, until the client says `quit`.
 * @module
 */
import { CLR_FLAG, defineServlet, INPUT, OUTPUT, PERSIST } from "@plumb/plumb";

export default defineServlet({
  description: "answers each line upper-cased",
  init(_args, env) {
    return {
      input: env.define("in", INPUT | PERSIST, "text/line"), // PERSIST: keep the connection
      output: env.define("out", OUTPUT, "text/line"),
    };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line === null) return;
    if (line === "quit") task.cntl(ctx.input, CLR_FLAG, PERSIST); // close after this reply
    await task.write(ctx.output, `${line.toUpperCase()}\n`);
  },
});
