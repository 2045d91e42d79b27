/**
 * The servlet testing kit: run one servlet against scripted input and see
 * what it wrote, its flags and its state ({@linkcode ServletHarness},
 * {@linkcode runServlet}), or serve a whole graph in memory or over a real
 * socket and talk to it as a client ({@linkcode simulate}).
 *
 * ```ts
 * import { defineServlet, INPUT, OUTPUT, PERSIST } from "../mod.ts";
 * import { runServlet, simulate } from "./mod.ts";
 *
 * const upper = defineServlet({
 *   init(_args, env) {
 *     return {
 *       input: env.define("in", INPUT | PERSIST),
 *       output: env.define("out", OUTPUT),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     const line = await task.readLine(ctx.input);
 *     if (line !== null) await task.write(ctx.output, line.toUpperCase() + "\n");
 *   },
 * });
 *
 * // One request, no graph, no socket:
 * const result = await runServlet(upper, { in: "plumber\n" });
 * console.log(result.outputs.out, result.persist); // "PLUMBER\n" true
 *
 * // The servlet as a graph of one node, one connection in memory:
 * await using sim = await simulate(upper);
 * console.log(await sim.exchange("a\nb\n")); // "A\nB\n"
 * ```
 * @module
 */
export { BufferedClient, MemoryClient, TcpClient, type TestClient } from "./client.ts";
export { simulate, type SimulateOptions, type Simulation } from "./simulate.ts";
export {
  type ExecOptions,
  type ExecResult,
  type HarnessOptions,
  runServlet,
  type ScriptedInput,
  ServletHarness,
} from "./servlet_harness.ts";
