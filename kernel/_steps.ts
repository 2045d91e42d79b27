/**
 * What line steps (`line_steps.ts`) and value steps (`value_steps.ts`) share:
 * a plan's steps worked out once, the fans' moves between edges, the
 * shadows of a step's output ports, and the calls a step makes.
 * @module
 */
import { DESCRIPTOR_MASK, DISABLED, OUTPUT, SHADOW } from "./flags.ts";
import { errorSlot, nullSlot, type Plan, type PlanNode, UNBOUND } from "./plan.ts";
import type { AnyPort } from "./servlet.ts";
import { checkPort, checkShadow } from "./_port_checks.ts";

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
 * What a line step's `out` and a value step's `task` share: the checks each
 * call goes through (refused once the step has returned, as a task after its
 * exec), `enable`, and a write that reaches the shadows of its port that are
 * on for this request.
 */
export abstract class StepCalls<V> {
  /** The step's node. */
  protected readonly node: PlanNode;
  /** Per output port, by descriptor: the descriptors of its shadows. */
  readonly #shadows: readonly (readonly number[] | undefined)[];
  /** What a call made after the step returned should have done, for its message. */
  readonly #late: string;
  #ended = false;
  /** Per port, when `enable` changed it: true for enabled. */
  #enabled: (boolean | undefined)[] | undefined;

  constructor(node: PlanNode, shadows: readonly (readonly number[] | undefined)[], late: string) {
    this.node = node;
    this.#shadows = shadows;
    this.#late = late;
  }

  /** The step has returned: every later call is refused. */
  end(): void {
    this.#ended = true;
  }

  /** Puts `value` on the port's slot, wherever the run keeps it. */
  protected abstract deliver(port: AnyPort, value: V): void;

  /** Throws unless the node may `verb` `port` now (an output when `output`, an input when false). */
  protected check(port: AnyPort, output: boolean | undefined, verb: string): void {
    const node = this.node;
    // The usual call, a declared port in its direction during the step, in a few comparisons.
    if (
      !this.#ended && port != null && node.ports[port.id] === port &&
      (output === undefined || ((port.flags & OUTPUT) !== 0) === output)
    ) return;
    checkPort(node.name, node.ports, port, output, verb, this.#ended ? this.#late : undefined);
  }

  /** Delivers `value` on `port` and on each of its shadows that is on for this request. */
  protected send(port: AnyPort, value: V): void {
    this.deliver(port, value);
    const ids = this.#shadows[port.id];
    if (ids === undefined) return;
    for (const id of ids) {
      const shadow = this.node.ports[id];
      if (this.#enabled?.[id] ?? !(shadow.flags & DISABLED)) this.deliver(shadow, value);
    }
  }

  enable(port: AnyPort, enabled = true): void {
    this.check(port, undefined, "enable");
    checkShadow(this.node.name, port);
    // Sized once: an empty array grown to a port's index would take twice the room.
    (this.#enabled ??= new Array(this.node.ports.length))[port.id] = enabled;
  }
}
