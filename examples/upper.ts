/**
 * `upper.ts`: the servlet of the README. It answers each line upper-cased and
 * keeps the connection open for the next one, until the client says `quit`.
 * @module
 */
import { defineServlet } from "@plumb/plumb";

export default defineServlet({
  description: "answers each line upper-cased",
  init(_args, env) {
    return {
      input: env.input("in", { persist: true, type: "text/line" }), // persist: keep the connection
      output: env.output("out", { type: "text/line" }),
    };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line === null) return;
    if (line === "quit") task.keepAlive(ctx.input, false); // close after this reply
    await task.write(ctx.output, `${line.toUpperCase()}\n`);
  },
});
