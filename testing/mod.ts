/**
 * The servlet testing kit: run one servlet against scripted input and see
 * what it wrote, its flags and its state ({@linkcode ServletHarness},
 * {@linkcode runServlet}), or serve a whole graph in memory or over a real
 * socket and talk to it as a client ({@linkcode simulate}). Neither holds a
 * copy of the kernel's rules: the harness runs each request through the
 * kernel's scheduler, and `simulate` serves in memory through the host's own
 * socket-free entry (`Host.load` and `Host.connect` of `@plumb/plumb/host`),
 * with the session code a TCP connection gets.
 *
 * ```ts
 * import { defineServlet, INPUT, OUTPUT, PERSIST } from "@plumb/plumb";
 * import { runServlet, simulate } from "@plumb/plumb/testing";
 * import { assertEquals } from "@std/assert";
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
 * // One request, no graph file, no socket:
 * const result = await runServlet(upper, { in: "plumber\n" });
 * assertEquals([result.outputs.out, result.persist], ["PLUMBER\n", true]);
 *
 * // The servlet as a graph of one node, one connection in memory:
 * await using sim = await simulate(upper);
 * assertEquals(await sim.exchange("a\nb\n"), "A\nB\n");
 * ```
 * @module
 */
export {
  BufferedClient,
  MemoryClient,
  SocketClient,
  TcpClient,
  type TestClient,
} from "./client.ts";
export { simulate, type SimulateOptions, type Simulation } from "./simulate.ts";
export {
  type ExecOptions,
  type ExecResult,
  type HarnessOptions,
  runServlet,
  type ScriptedInput,
  ServletHarness,
} from "./servlet_harness.ts";
