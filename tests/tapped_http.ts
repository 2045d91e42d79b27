/**
 * `examples/http.json` for the browser tests, with a `tap` node before its
 * `http/router` that sees each request the host parsed (and may fail it).
 * @module
 */
import { assert } from "./assert.ts";
import { path } from "./helpers.ts";
import { defineServlet, INPUT, OUTPUT, type Port } from "../mod.ts";
import type { GraphSpec } from "../host/mod.ts";
import { readGraphFile } from "../host/graph_file.ts";
import type { HttpRequest } from "../servlets/http/types.ts";

/** The tapped graph, its base, and the names of the example's own nodes. */
export interface TappedGraph {
  spec: GraphSpec;
  base: URL;
  names: string[];
}

/** The context of the tap node. */
interface TapContext {
  input: Port;
  output: Port;
}

/**
 * `examples/http.json` with a pass-through node `tap` before its
 * `http/router`, which calls `see` with each request and then passes it on;
 * when `see` throws, the request fails at the tap.
 */
export async function tappedHttpGraph(see: (request: HttpRequest) => void): Promise<TappedGraph> {
  const { spec, base } = await readGraphFile(path("examples/http.json"));
  const router = Object.entries(spec.nodes).find(([, node]) => node.servlet === "http/router");
  assert(router !== undefined, "examples/http.json has no http/router node");
  const routerIn = `${router[0]}.in`;
  const tap = defineServlet({
    description: "shows each request to the test, then passes it on",
    init(_args, env): TapContext {
      return {
        input: env.define("in", INPUT, "http/request"),
        output: env.define("out", OUTPUT, "http/request"),
      };
    },
    async exec(ctx, task): Promise<void> {
      const request = await task.readValue<HttpRequest>(ctx.input);
      if (request === null) return;
      see(request);
      await task.writeValue(ctx.output, request);
    },
  });
  const edges = spec.edges ?? [];
  assert(edges.some((e) => e.to === routerIn), `no edge into ${routerIn}`);
  return {
    base,
    names: Object.keys(spec.nodes),
    spec: {
      ...spec,
      nodes: { ...spec.nodes, tap: { servlet: tap } },
      edges: [
        ...edges.map((e) => e.to === routerIn ? { ...e, to: "tap.in" } : e),
        { from: "tap.out", to: routerIn },
      ],
    },
  };
}
