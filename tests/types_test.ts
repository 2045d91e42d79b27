/**
 * The typed context: what init returns flows into exec and unload with no
 * casts, so a wrong use fails `deno check`.
 */
import { defineServlet, INPUT, OUTPUT, type Task } from "../mod.ts";
import { assertEquals, assertMatch } from "./assert.ts";
import { path } from "./helpers.ts";

Deno.test("typed context: a servlet that misuses its context fails deno check", async () => {
  // deno.json excludes the fixture so that the project's own `deno check` stays clean;
  // --no-config checks it anyway.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--no-config", path("tests/fixtures/type_error.ts")],
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, stderr);
  assertMatch(
    stderr,
    /TS2551 \[ERROR\]: Property 'inptu' does not exist on type .*Did you mean 'input'\?/,
  );
  assertMatch(stderr, /TS2322 \[ERROR\]: Type 'number' is not assignable to type 'string'/);
  assertMatch(stderr, /TS2339 \[ERROR\]: Property 'toUpperCase' does not exist on type 'number'/);
  assertMatch(stderr, /Found 3 errors/);
});

Deno.test("typed context: the inferred type is what init returned, async or not", () => {
  const servlet = defineServlet({
    // deno-lint-ignore explicit-function-return-type -- the point: the type is inferred
    async init(_args, env) {
      await Promise.resolve();
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT), greeting: "Hi" };
    },
    exec(ctx, _task: Task): void {
      const greeting: string = ctx.greeting;
      const id: number = ctx.input.id;
      void greeting, id;
    },
  });
  assertEquals(typeof servlet.exec, "function");
});
