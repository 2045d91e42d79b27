// deno-lint-ignore-file explicit-function-return-type -- a servlet as users write it: the context type is inferred from init
/**
 * `zero_copy_echo.ts`: an echo server that copies nothing. Its output is a
 * `SHADOW` of its input (`OUTPUT | SHADOW | input.id`), so the kernel hands
 * the bytes exec reads to the output as they are: the same chunks, byte for
 * byte (`\r\n`, invalid UTF-8 and all), with no copy. Exec only reads. The
 * input is declared with `PERSIST`: the connection stays open for the next
 * request.
 * @module
 */
import { defineServlet, INPUT, OUTPUT, PERSIST, SHADOW } from "@plumb/plumb";

export default defineServlet({
  description: "echoes each request by a SHADOW of its input, copying nothing",
  init(_args, env) {
    const input = env.define("in", INPUT | PERSIST);
    env.define("out", OUTPUT | SHADOW | input.id); // carries exactly what exec reads from "in"
    return { input };
  },
  async exec(ctx, task) {
    await task.drain(ctx.input); // read this request's bytes: the shadow carries them
  },
});
