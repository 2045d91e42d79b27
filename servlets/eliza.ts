/**
 * `eliza`: the ELIZA psychotherapist as a servlet. Each line gets one reply;
 * a quit word (`bye`, `goodbye`, `quit`, `exit`) gets a farewell and ends the
 * session by clearing `PERSIST`. On a listener with the `open` option the
 * client is greeted before it types anything.
 *
 * Each connection has its own conversation (its memory and where each rule's
 * replies stand), kept with the connection by `PUSH_STATE`/`POP_STATE` and
 * released when the connection closes: two sessions never hear each other's
 * topics.
 *
 * Argument: an optional script file (JSON, relative to the graph file) in the
 * shape of {@linkcode ElizaScript}; the default is the DOCTOR script.
 *
 * Ports: `in` (input, `PERSIST`), `out` (output).
 * @module
 */
import { defineServlet, PlumbError } from "../mod.ts";
import { DOCTOR } from "./eliza/doctor.ts";
import { Eliza, type ElizaSession } from "./eliza/engine.ts";
import { checkScript, type ElizaScript } from "./eliza/script.ts";

export type { ElizaScript };

async function loadScript(file: string): Promise<ElizaScript> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new PlumbError(
      "PLUMB_ELIZA_READ",
      `cannot read the ELIZA script ${file}: ${(error as Error).message}`,
    );
  }
  try {
    return checkScript(JSON.parse(text));
  } catch (error) {
    throw new PlumbError("PLUMB_ELIZA_SCRIPT", `ELIZA script ${file}: ${(error as Error).message}`);
  }
}

export default defineServlet({
  description: "the ELIZA psychotherapist: one reply per line, a memory per connection",
  async init(args, env) {
    const script = args[0] === undefined
      ? DOCTOR
      : await loadScript(env.path(args[0], "eliza: script"));
    let eliza: Eliza;
    try {
      eliza = new Eliza(script);
    } catch (error) {
      throw new PlumbError(
        "PLUMB_ELIZA_SCRIPT",
        `ELIZA script ${args[0] ?? "DOCTOR"}: ${(error as Error).message}`,
      );
    }
    return {
      eliza,
      input: env.input("in", { persist: true, type: "text/line" }), // lines from the client
      output: env.output("out", { type: "text/line" }), // replies
    };
  },
  async exec(ctx, task) {
    if (task.event === "open") {
      task.pushState(ctx.input, ctx.eliza.newSession());
      await task.write(ctx.output, `${ctx.eliza.greeting()}\n`);
      return;
    }
    const line = await task.readLine(ctx.input);
    if (line === null) return;
    const session = task.popState<ElizaSession>(ctx.input) ?? ctx.eliza.newSession();
    const reply = ctx.eliza.respond(session, line);
    if (reply.quit) task.keepAlive(ctx.input, false);
    else task.pushState(ctx.input, session);
    await task.write(ctx.output, `${reply.text}\n`);
  },
});
