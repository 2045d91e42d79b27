/**
 * What `--check` warns of: parts of a graph that load and run but will have
 * no effect. Each warning is one line naming the file, the node and the port.
 * @module
 */
import { DESCRIPTOR_MASK, DISABLED, OUTPUT, PERSIST, SHADOW } from "./flags.ts";
import { GRAPH_INPUT, type Plan, UNBOUND } from "./plan.ts";

/** Nodes the graph loader adds for a fan-out or fan-in (`node~port~dup`): every port of theirs is wired. */
function added(name: string): boolean {
  return name.includes("~");
}

/**
 * The warnings of a compiled plan, in node order:
 *
 * - an output that nothing reads (no edge, not the graph's output): what the
 *   node writes there is dropped;
 * - an input that nothing writes (no edge, not the graph's input): it reads as
 *   empty in every request, and the node runs only when another input is
 *   written (an `http/render` whose `head` is not wired never answers a
 *   request that no route takes or that the parser refused);
 * - `PERSIST` declared on an input that is not the graph's input while the
 *   graph's input does not declare it: only the graph's input keeps the
 *   connection, so it closes after each request.
 *
 * Not warned of: signal outputs (`__null__`, `__error__`) left unwired; a
 * `DISABLED` shadow left unwired (a route the node takes per request: what it
 * routes there is dropped, as the node may choose); and an output whose
 * shadows are wired (`dataflow/demux`'s `data`, written only to feed them).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { planWarnings } from "./plan_warnings.ts";
 * import { compilePlan } from "./plan.ts";
 * import { loadNodes } from "./loader.ts";
 * import { defineServlet } from "./servlet.ts";
 * import { INPUT, OUTPUT } from "./flags.ts";
 *
 * const tee = defineServlet({
 *   init: (_args, env) => ({
 *     input: env.define("in", INPUT),
 *     output: env.define("out", OUTPUT),
 *     log: env.define("log", OUTPUT),
 *   }),
 *   exec: () => {},
 * });
 * const graph = { nodes: { t: { servlet: tee } }, input: "t.in", output: "t.out" };
 * const plan = compilePlan("g.json", graph, await loadNodes("g.json", new URL("file:///"), graph));
 * assertEquals(planWarnings(plan), [
 *   `g.json: node "t": output "log" is read by nothing (no edge, not the graph's output); ` +
 *   `what the node writes there is dropped`,
 * ]);
 * ```
 */
export function planWarnings(plan: Plan): string[] {
  const warnings: string[] = [];
  const { file, inputPort } = plan;
  const entry = plan.nodes[plan.entry].name;
  const persistent = (inputPort.flags & PERSIST) !== 0;
  for (const node of plan.nodes) {
    if (added(node.name)) continue;
    for (const port of node.ports) {
      const slot = node.slots[port.id];
      const where = `${file}: node "${node.name}"`;
      if (port.flags & OUTPUT) {
        const fedShadow = node.ports.some((p) =>
          (p.flags & SHADOW) && (p.flags & DESCRIPTOR_MASK) === port.id &&
          node.slots[p.id] !== UNBOUND
        );
        const route = (port.flags & (SHADOW | DISABLED)) === (SHADOW | DISABLED);
        if (slot === UNBOUND && !fedShadow && !route) {
          warnings.push(
            `${where}: output "${port.name}" is read by nothing (no edge, not the graph's output); ` +
              `what the node writes there is dropped`,
          );
        }
        continue;
      }
      if (slot === UNBOUND) {
        warnings.push(
          `${where}: input "${port.name}" is written by nothing (no edge, not the graph's input); ` +
            `it reads as empty in every request, and the node runs only when another input is written`,
        );
      } else if ((port.flags & PERSIST) && slot !== GRAPH_INPUT && !persistent) {
        warnings.push(
          `${where}: input "${port.name}" declares PERSIST, which only the graph's input ` +
            `("${entry}.${inputPort.name}", which does not) acts on: the connection closes after ` +
            `each request unless "${entry}" sets PERSIST on it at exec time`,
        );
      }
    }
  }
  return warnings;
}
