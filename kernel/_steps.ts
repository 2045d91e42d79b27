/**
 * What line steps (`line_steps.ts`) and value steps (`value_steps.ts`) share:
 * a plan's steps worked out once, the fans' moves between edges, and the
 * shadows of a step's output ports.
 * @module
 */
import { DESCRIPTOR_MASK, DISABLED, OUTPUT, SHADOW } from "./flags.ts";
import { errorSlot, nullSlot, type Plan, type PlanNode, UNBOUND } from "./plan.ts";
import type { AnyPort } from "./servlet.ts";

/** The kind of a step: a node's own step, a fan-out, a fan-in, a node only `exec` runs. */
export const NODE = 0;
export const DUP = 1;
export const JOIN = 2;
export const EXEC = 3;
/** One of the kinds above. */
export type StepKind = typeof NODE | typeof DUP | typeof JOIN | typeof EXEC;

/**
 * A function that works out the steps of a plan on its first call for that
 * plan and keeps them (`undefined`: the plan has none).
 */
export function perPlan<S>(compute: (plan: Plan) => S | undefined): (plan: Plan) => S | undefined {
  const known = new WeakMap<Plan, S | null>();
  return (plan) => {
    let steps = known.get(plan);
    if (steps === undefined) known.set(plan, steps = compute(plan) ?? null);
    return steps ?? undefined;
  };
}

/** The kind of a fan node, `undefined` for any other. */
export function fanKind(node: PlanNode): typeof DUP | typeof JOIN | undefined {
  return node.fan === undefined ? undefined : node.fan === "dup" ? DUP : JOIN;
}

/** True when the node's `__null__` or `__error__` is bound: a signal edge carries no value. */
export function signalBound(node: PlanNode): boolean {
  const n = node.ports.length;
  return node.slots[nullSlot(n)] !== UNBOUND || node.slots[errorSlot(n)] !== UNBOUND;
}

/**
 * Per output port of a node, by descriptor: the descriptors of its shadows;
 * `undefined` when a shadow's target is not an output (only `exec` may run such a node).
 */
export function shadowsOf(node: PlanNode): (number[] | undefined)[] | undefined {
  const shadows: (number[] | undefined)[] = new Array(node.ports.length);
  for (const port of node.ports) {
    if (!(port.flags & SHADOW)) continue;
    const target = node.ports[port.flags & DESCRIPTOR_MASK];
    if (target === undefined || !(target.flags & OUTPUT)) return undefined;
    (shadows[target.id] ??= []).push(port.id);
  }
  return shadows;
}

/**
 * Moves what a fan node's edges carry (`undefined`: nothing): a fan-out hands
 * its input's value to every branch, a fan-in takes the first branch, in the
 * file's order, that carries one (what `JoinInput` does).
 */
export function passFan(node: PlanNode, values: unknown[]): void {
  if (node.fan === "dup") {
    const value = values[node.inputEdges[0]];
    if (value !== undefined) { for (const edge of node.outputEdges) values[edge] = value; }
    return;
  }
  for (const edge of node.inputEdges) {
    const value = values[edge];
    if (value === undefined) continue;
    values[node.outputEdges[0]] = value;
    return;
  }
}

/**
 * Calls `deliver` with each shadow of an output port that is on for this
 * request: as `enable` left it (`enabled`, by descriptor), else as declared.
 */
export function eachShadowOn(
  node: PlanNode,
  ids: readonly number[] | undefined,
  enabled: readonly (boolean | undefined)[] | undefined,
  deliver: (shadow: AnyPort) => void,
): void {
  if (ids === undefined) return;
  for (const id of ids) {
    const shadow = node.ports[id];
    if (enabled?.[id] ?? !(shadow.flags & DISABLED)) deliver(shadow);
  }
}
