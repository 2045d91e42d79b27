/**
 * plumb: a Deno-native servlet host. Small servlets, joined by Web Streams
 * pipes into a service graph, served over TCP with flag-driven keep-alive,
 * after the model of the Plumber framework.
 *
 * A servlet declares its ports in `init` and handles one request per `exec`:
 *
 * ```ts
 * import { defineServlet } from "@plumb/plumb";
 *
 * export default defineServlet({
 *   init(_args, env) {
 *     return {
 *       input: env.input("in", { persist: true, type: "text/line" }),
 *       output: env.output("out", { type: "text/line" }),
 *     };
 *   },
 *   async exec(ctx, task) {
 *     const line = await task.readLine(ctx.input);
 *     if (line !== null) await task.write(ctx.output, `Hello, ${line}\n`);
 *   },
 * });
 * ```
 *
 * Under the options lies Plumber's wire form, still there for those who
 * think in it: `env.define("in", INPUT | PERSIST, "text/line")`, and
 * `task.cntl(port, CLR_FLAG, PERSIST)` for `task.keepAlive(port, false)`.
 *
 * A host serves a graph, from a `graph.json` file or an object:
 *
 * ```ts
 * import { serve } from "@plumb/plumb/host";
 *
 * const host = await serve({
 *   nodes: { greet: { servlet: "hello" } },
 *   input: "greet.in",
 *   output: "greet.out",
 *   listeners: [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }],
 * }, { logLevel: "warn" });
 * console.log(host.urls[0]); // tcp://127.0.0.1:<a free port>
 * await host.close();
 * ```
 * @module
 */
export {
  type AnyPort,
  type Deadline,
  defineServlet,
  type InitEnv,
  isServlet,
  type LineOutput,
  type OutputOptions,
  type PipeType,
  pipeType,
  type Port,
  type PortOptions,
  type RequestEvent,
  type Servlet,
  type ServletDefinition,
  type StepTask,
  type Task,
} from "./kernel/servlet.ts";
export type { Connection } from "./kernel/connection.ts";
export type { KeyValueStore } from "./kernel/store.ts";
export {
  ASYNC,
  CLR_FLAG,
  type CntlOp,
  DEADLINE,
  DISABLED,
  EOM,
  flagNames,
  GET_FLAGS,
  INPUT,
  type ModuleOp,
  OUTPUT,
  PERSIST,
  POP_STATE,
  PUSH_STATE,
  SET_FLAG,
  SHADOW,
  SHARED_FLAGS,
} from "./kernel/flags.ts";
export {
  GraphError,
  MessageTooLongError,
  PermissionHint,
  PipeError,
  PlumbError,
} from "./kernel/errors.ts";
export { type Code, CODES } from "./kernel/codes.ts";
export type { ConnectionHandle } from "./kernel/connection_handle.ts";
