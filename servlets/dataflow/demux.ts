/**
 * `dataflow/demux`: reads one line and routes it to one of its outputs
 * through `DISABLED` shadows: `out0` ... `outN-1` for the N arguments, and
 * `default` when none matches. An argument `/regex/flags` matches by regular
 * expression; any other argument matches a line equal to it. Only the chosen
 * output is written, so the nodes behind the others do not run in that
 * request.
 *
 * Ports: `in` (input, `PERSIST`, `text/line`), `out0` ..., `default`
 * (outputs, `text/line`, each the line with `\n`).
 *
 * @example
 * ```json
 * { "servlet": "dataflow/demux", "args": ["/^GET /", "/^PUT /"] }
 * ```
 * @module
 */
import {
  CLR_FLAG,
  defineServlet,
  DISABLED,
  type InitEnv,
  INPUT,
  OUTPUT,
  PERSIST,
  PlumbError,
  type Port,
  SHADOW,
} from "../../mod.ts";

/** The context of a `dataflow/demux` node. */
export interface DemuxContext {
  /** The line to route. */
  input: Port;
  /** The target every route shadows. */
  data: Port;
  /** One test per argument. */
  tests: ((line: string) => boolean)[];
  /** One output per argument, then `default`. */
  routes: Port[];
}

function test(arg: string): (line: string) => boolean {
  const regex = arg.match(/^\/(.*)\/([a-z]*)$/s);
  if (regex === null) return (line) => line === arg;
  try {
    const re = new RegExp(regex[1], regex[2]);
    return (line) => re.test(line);
  } catch (error) {
    throw new PlumbError(
      "PLUMB_DATAFLOW_REGEXP",
      `dataflow/demux: ${arg} is not a regular expression: ${(error as Error).message}`,
    );
  }
}

/**
 * Declares `count` routes, `out0` ..., then `default`: each a `DISABLED`
 * shadow of `data`, so that exec enables the one it picks. Shared by
 * `dataflow/demux` and `http/router`.
 */
export function defineRoutes(env: InitEnv, data: Port, count: number, type: string): Port[] {
  const routes = Array.from(
    { length: count },
    (_, i) => env.define(`out${i}`, OUTPUT | SHADOW | DISABLED | data.id, type),
  );
  routes.push(env.define("default", OUTPUT | SHADOW | DISABLED | data.id, type));
  return routes;
}

export default defineServlet({
  description: "routes each line to the first output whose test it passes",
  init(args, env): DemuxContext {
    const input = env.define("in", INPUT | PERSIST, "text/line");
    const data = env.define("data", OUTPUT, "text/line");
    const routes = defineRoutes(env, data, args.length, "text/line");
    return { input, data, tests: args.map(test), routes };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line === null) return;
    const index = ctx.tests.findIndex((matches) => matches(line));
    task.cntl(ctx.routes[index < 0 ? ctx.routes.length - 1 : index], CLR_FLAG, DISABLED);
    await task.write(ctx.data, `${line}\n`);
  },
});
