/**
 * `http/router`: routes each {@linkcode HttpRequest} by method and path to
 * one of its outputs, as `dataflow/demux` routes lines: every route is a
 * `DISABLED` shadow of one target, and only the chosen one is enabled, so
 * only the handler behind it runs. The request's `params` get the values of
 * the route's `:name` segments and, for a `/prefix/*` route, `*`: the rest of
 * the path.
 *
 * Routes match the request's `path` as `http/parser` normalised it
 * (percent-decoded, no `.`, `..` or empty segments), the same path
 * `http/static` serves: `/%70rivate/x` and `//private/x` are `/private/x`
 * to both. A route's own path is normalised the same way when it is read.
 *
 * Arguments: one route per output, `out0` ... in order, each
 * `[NAME=][METHODS] PATH`: NAME names the route's output (the graph may
 * still call it `outI`); METHODS is a comma-separated list (`GET,HEAD`) or
 * `*` (the default: any); PATH is `/exact`, `/users/:id` (one segment) or
 * `/static/*` (the prefix and everything under it). The first route that
 * matches wins; a request that none matches goes to `default` (leave it
 * unconnected and `http/render` answers 404). A route for `GET` also takes
 * `HEAD`.
 *
 * Ports: `in` (input, `http/request`), `data` (output, `http/request`: the
 * target that every route shadows), `out0` ... or the routes' names,
 * `default` (outputs, `http/request`).
 *
 * @example
 * ```json
 * { "servlet": "http/router", "args": ["api=GET /api/hello", "files=GET /*"] }
 * ```
 * @module
 */
import { defineServlet, PlumbError } from "../../mod.ts";
import { defineRoutes, splitRouteNames } from "../dataflow/demux.ts";
import { normalizePath } from "./path.ts";
import { HTTP_REQUEST, type HttpRequest } from "./types.ts";

/** One route: the methods it takes and its path as a regular expression. */
export interface Route {
  /** The methods, or `undefined` for any. */
  methods: ReadonlySet<string> | undefined;
  /** Matches the path; its groups are the parameters. */
  pattern: RegExp;
  /** The parameter name of each group (`*` for the rest). */
  names: readonly string[];
}

/**
 * Compiles one route argument.
 *
 * @example
 * ```ts
 * import { compileRoute, matchRoute } from "@plumb/plumb/http";
 *
 * const route = compileRoute("GET /users/:id");
 * console.log(matchRoute(route, "GET", "/users/7")); // { id: "7" }
 * ```
 */
export function compileRoute(arg: string): Route {
  const parts = arg.trim().split(/\s+/);
  if (
    parts.length > 2 || parts[parts.length - 1] === "" || !parts[parts.length - 1].startsWith("/")
  ) {
    throw new PlumbError(
      "PLUMB_HTTP_ROUTER_ROUTE",
      `http/router: route "${arg}" is not [METHODS] PATH; write for example "GET /api/hello", ` +
        `"GET,POST /users/:id" or "/static/*"`,
    );
  }
  let path: string;
  try {
    // Written as a request's path is seen: decoded, no dot or empty segments.
    path = normalizePath(parts[parts.length - 1]);
  } catch (error) {
    throw new PlumbError(
      "PLUMB_HTTP_ROUTER_PATH",
      `http/router: route "${arg}": ${(error as Error).message}`,
    );
  }
  const methods = parts.length === 2 && parts[0] !== "*"
    ? new Set(parts[0].split(",").map((m) => m.toUpperCase()))
    : undefined;
  if (methods?.has("GET")) methods.add("HEAD");
  const names: string[] = [];
  let source = "^";
  const segments = path.split("/").slice(1);
  segments.forEach((segment, i) => {
    if (segment === "*" && i === segments.length - 1) {
      names.push("*");
      source += "(?:/(.*))?";
    } else if (segment.startsWith(":") && segment.length > 1) {
      names.push(segment.slice(1));
      source += "/([^/]+)";
    } else {
      source += "/" + segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
  });
  return { methods, pattern: new RegExp(source + "$"), names };
}

/** The parameters when the route takes the method and path, else `undefined`. */
export function matchRoute(
  route: Route,
  method: string,
  path: string,
): Record<string, string> | undefined {
  if (route.methods !== undefined && !route.methods.has(method)) return undefined;
  const match = route.pattern.exec(path);
  if (match === null) return undefined;
  if (route.names.length === 0) return {};
  // Own properties, "__proto__" included: a route's ":__proto__" is a parameter like any other.
  return Object.fromEntries(route.names.map((name, i) => [name, match[i + 1] ?? ""]));
}

/** True when `params` is an object with no own property. */
function emptyParams(params: Record<string, string> | undefined): boolean {
  if (typeof params !== "object" || params === null) return false;
  for (const name in params) if (Object.hasOwn(params, name)) return false;
  return true;
}

/** The path of a route without parameters (matched by comparison), else `undefined`. */
function exactPath(route: Route): string | undefined {
  if (route.names.length > 0) return undefined;
  // The pattern of a route without parameters is its path, escaped, between ^ and $.
  const path = route.pattern.source.slice(1, -1).replace(/\\(.)/g, "$1");
  return route.pattern.test(path) ? path : undefined;
}

/** What a router node routes by: its routes, compiled, and each one's exact path, if it has one. */
interface RouterContext {
  routes: readonly Route[];
  exact: readonly (string | undefined)[];
  outputs: readonly unknown[];
}

/** The output a request goes to (the last, `default`, when no route takes it), and the request as routed. */
function route(ctx: RouterContext, request: HttpRequest): [number, HttpRequest] {
  for (let i = 0; i < ctx.routes.length; i++) {
    const exact = ctx.exact[i];
    const candidate = ctx.routes[i];
    if (exact !== undefined) {
      if (exact !== request.path) continue;
      if (candidate.methods !== undefined && !candidate.methods.has(request.method)) continue;
      // A value read is shared, so it is not changed: a copy when it has parameters to drop.
      return [i, emptyParams(request.params) ? request : { ...request, params: {} }];
    }
    const params = matchRoute(candidate, request.method, request.path);
    if (params !== undefined) return [i, { ...request, params }];
  }
  return [ctx.outputs.length - 1, request];
}

export default defineServlet({
  description: "routes HTTP requests by method and path to DISABLED shadows",
  init(args, env) {
    const { names, routes } = splitRouteNames("http/router", args, () => true);
    const input = env.input("in", { type: HTTP_REQUEST });
    const data = env.output("data", { type: HTTP_REQUEST }); // the target every route shadows
    // One output per route, then `default`.
    const outputs = defineRoutes(env, data, names);
    const compiled = routes.map(compileRoute);
    return { input, data, routes: compiled, exact: compiled.map(exactPath), outputs };
  },
  async exec(ctx, task) {
    const request = await task.readValue(ctx.input);
    if (request === null) return;
    const [chosen, routed] = route(ctx, request);
    task.enable(ctx.outputs[chosen]);
    await task.writeValue(ctx.data, routed);
  },
  step(ctx, task) {
    const request = task.value(ctx.input);
    if (request === undefined) return false;
    const [chosen, routed] = route(ctx, request);
    task.enable(ctx.outputs[chosen]);
    task.write(ctx.data, routed);
  },
});
