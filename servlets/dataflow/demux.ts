/**
 * `dataflow/demux`: reads one line and routes it to one of its outputs
 * through `DISABLED` shadows: `out0` ... `outN-1` for the N arguments, and
 * `default` when none matches. An argument `/regex/flags` matches by regular
 * expression; any other argument matches a line equal to it. Only the chosen
 * output is written, so the nodes behind the others do not run in that
 * request. A regular expression may be named, `NAME=/regex/flags`: its
 * output is then the port `NAME`, which the graph may still call `outI`.
 *
 * Ports: `in` (input, `PERSIST`, `text/line`), `data` (output, `text/line`:
 * the target every route shadows), `out0` ... or their names, `default`
 * (outputs, `text/line`, each the line with `\n`).
 *
 * @example
 * ```json
 * { "servlet": "dataflow/demux", "args": ["get=/^GET /", "put=/^PUT /"] }
 * ```
 * @module
 */
import { defineServlet, type InitEnv, PlumbError, type Port } from "../../mod.ts";

const REGEX = /^\/(.*)\/([a-z]*)$/s;

function test(arg: string): (line: string) => boolean {
  const regex = arg.match(REGEX);
  if (regex === null) return (line) => line === arg;
  try {
    const re = new RegExp(regex[1], regex[2]);
    // A g or y flag makes test() go on from the last match: each line is tested from its start.
    return (line) => {
      re.lastIndex = 0;
      return re.test(line);
    };
  } catch (error) {
    throw new PlumbError(
      "PLUMB_DATAFLOW_REGEXP",
      `dataflow/demux: ${arg} is not a regular expression: ${(error as Error).message}`,
    );
  }
}

/** `NAME=` before a route argument: the name the graph gives the route. */
const NAMED = /^([A-Za-z_][A-Za-z0-9_-]*)=(.*)$/s;
/** The names of the ports of a router node that are not routes. */
const TAKEN = /^(?:in|data|default|out\d+)$/;

/** Route arguments split into the names the graph gave (if any) and the routes themselves. */
export interface RouteArgs {
  /** Per route, its name (`"api"` of `"api=GET /api/*"`), or `undefined`. */
  readonly names: readonly (string | undefined)[];
  /** Per route, the argument without its name. */
  readonly routes: readonly string[];
}

/**
 * Splits `NAME=` off each route argument that has one, and checks the names:
 * not twice, and none a name of the node's other ports. Shared by
 * `dataflow/demux` (which names only a regular expression, `shout=/^!/`, so
 * that a literal line with `=` in it still matches itself) and `http/router`.
 *
 * @param what the servlet, for messages
 * @param args the node's arguments
 * @param nameable whether the rest of an argument may be named
 *
 * @example
 * ```ts
 * import { splitRouteNames } from "./demux.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { names, routes } = splitRouteNames("demo", ["shout=/^!/", "plain"], () => true);
 * assertEquals(names, ["shout", undefined]);
 * assertEquals(routes, ["/^!/", "plain"]);
 * ```
 */
export function splitRouteNames(
  what: string,
  args: readonly string[],
  nameable: (route: string) => boolean,
): RouteArgs {
  const names: (string | undefined)[] = [];
  const routes: string[] = [];
  for (const arg of args) {
    const named = NAMED.exec(arg);
    if (named === null || !nameable(named[2])) {
      names.push(undefined);
      routes.push(arg);
      continue;
    }
    const name = named[1];
    if (TAKEN.test(name)) {
      throw new PlumbError(
        "PLUMB_DATAFLOW_ROUTE_NAME_TAKEN",
        `${what}: route name "${name}" (in "${arg}") is a port the node has anyway ` +
          `(in, data, default, out0 ...); pick another`,
      );
    }
    if (names.includes(name)) {
      throw new PlumbError(
        "PLUMB_DATAFLOW_ROUTE_NAME_TWICE",
        `${what}: route name "${name}" is given twice; names are unique`,
      );
    }
    names.push(name);
    routes.push(named[2]);
  }
  return { names, routes };
}

/**
 * Declares a route per name, then `default`: each a disabled shadow of `data`
 * (of its type), so that exec enables the one it picks. A route the graph
 * named is a port of that name, which the graph may also call by position
 * (`out0`, its alias); the others are `out0` .... Shared by `dataflow/demux`
 * and `http/router`.
 */
export function defineRoutes<T>(
  env: InitEnv,
  data: Port<T>,
  names: readonly (string | undefined)[],
): Port<T>[] {
  const routes = names.map((name, i) =>
    name === undefined
      ? env.output(`out${i}`, { shadowOf: data, disabled: true })
      : env.output(name, { shadowOf: data, disabled: true, alias: `out${i}` })
  );
  routes.push(env.output("default", { shadowOf: data, disabled: true }));
  return routes;
}

export default defineServlet({
  description: "routes each line to the first output whose test it passes",
  init(args, env) {
    const { names, routes } = splitRouteNames(
      "dataflow/demux",
      args,
      (route) => REGEX.test(route),
    );
    const input = env.input("in", { persist: true, type: "text/line" });
    const data = env.output("data", { type: "text/line" }); // the target every route shadows
    return { input, data, tests: routes.map(test), routes: defineRoutes(env, data, names) };
  },
  async exec(ctx, task) {
    const line = await task.readLine(ctx.input);
    if (line === null) return;
    const index = ctx.tests.findIndex((matches) => matches(line));
    task.enable(ctx.routes[index < 0 ? ctx.routes.length - 1 : index]);
    await task.write(ctx.data, `${line}\n`);
  },
  line(ctx, line, out) {
    const index = ctx.tests.findIndex((matches) => matches(line));
    out.enable(ctx.routes[index < 0 ? ctx.routes.length - 1 : index]);
    out.write(ctx.data, `${line}\n`);
  },
});
