/**
 * Value steps: a request whose bytes are buffered, run through the `step`s of
 * its nodes (see {@linkcode ServletDefinition.step}) as one synchronous call
 * per node in topological order. Each edge carries at most one value, held as
 * it was written (bytes as a copy: the next node may change what it reads,
 * and the step may write the same bytes again); a fan-out hands it to every
 * branch, and a fan-in takes the first branch, in the file's order, that
 * carries one (what `JoinInput` does). No task, pipe, promise or settling per
 * node.
 *
 * A run is all or nothing. The steps' writes, `PERSIST` votes and the
 * request's input are committed only once every step has returned. The run
 * is thrown away, and the request runs through `exec` from its start as if
 * no step had run, when a step declines (returns `false`), throws, or
 * returns anything but `true` or nothing (a promise, say); when it writes a
 * second value on an edge, `undefined`, or anything but text or bytes on the
 * graph's output; or when a value reaches a node without a step. So `exec`
 * alone answers and reports anything unusual. A plan whose runs keep being
 * thrown away ({@linkcode DECLINES_TO_REST} in a row) rests: its next
 * {@linkcode REST_REQUESTS} requests run `exec` without trying.
 *
 * The scheduler tries this path only for a `data` request, with no ports
 * scripted from outside (the testing kit) and no counted pipes (`--admin`),
 * on an input that can show its bytes without taking them
 * ({@linkcode InputHandle.peekReadiness}), and on a connection that keeps
 * no node's state.
 * @module
 */
import { checkNotShadow, STEP_BEFORE_RETURN } from "./_port_checks.ts";
import {
  DUP,
  EXEC,
  fanKind,
  JOIN,
  NODE,
  passFan,
  shadowsOf,
  signalBound,
  StepCalls,
  type StepKind,
} from "./_steps.ts";
import { ASYNC, OUTPUT, PERSIST } from "./flags.ts";
import { copySharedFlags, type InputHandle, type OutputHandle, RESOLVED } from "./pipe.ts";
import { GRAPH_INPUT, GRAPH_OUTPUT, type Plan, type PlanNode } from "./plan.ts";
import { ANSWERED_OK, type FailureReport, type RequestInfo, safeReport } from "./request.ts";
import type { AnyPort, Port, StepTask } from "./servlet.ts";
import { writeTextTo } from "./value_codec.ts";

/** One node of a plan run as value steps. */
interface ValueStep {
  readonly kind: StepKind;
  readonly node: PlanNode;
  /** True for the graph's entry node: when it has run, its input's `PERSIST` is the output's. */
  readonly entry: boolean;
  /** The edges of its input ports (the entry runs anyway). */
  readonly inputs: readonly number[];
  /** Per output port of a step, by descriptor: the descriptors of its shadows. */
  readonly shadows: readonly (readonly number[] | undefined)[];
}

/** Runs thrown away in a row after which a plan's steps rest. */
export const DECLINES_TO_REST = 32;
/** Requests a resting plan runs through exec before its steps are tried again. */
export const REST_REQUESTS = 4096;

/** A plan that can run as value steps: its nodes, in topological order. */
export interface ValueSteps {
  readonly steps: readonly ValueStep[];
  readonly edges: number;
  /** Runs thrown away since the last one kept. */
  declines: number;
  /**
   * Requests left to run through exec without trying the steps: a graph
   * whose requests keep reaching a node without a step (say, every handler
   * written with `exec` only) pays for the attempts only now and then.
   */
  resting: number;
}

/** True when the plan's steps are worth trying on this request (and counts a rest down). */
export function stepsAwake(plan: ValueSteps): boolean {
  if (plan.resting === 0) return true;
  plan.resting--;
  return false;
}

/** Kinds of function that do not answer when called: never taken for a step. */
const NOT_STEPS = new Set(["AsyncFunction", "GeneratorFunction", "AsyncGeneratorFunction"]);

/**
 * The value steps of a plan, or `undefined` when it cannot run as steps:
 * its entry node has no step, a node's `__null__` or `__error__` is bound,
 * or the entry has the shadow of an input or an `ASYNC` output. Other nodes
 * without a step (or with such ports) are allowed: a request that reaches
 * one runs `exec`. Worked out anew at each call: the scheduler keeps them
 * per plan (with their back-off counters).
 */
export function valueStepsOf(plan: Plan): ValueSteps | undefined {
  const steps: ValueStep[] = [];
  for (const node of plan.nodes) {
    const fan = fanKind(node);
    if (fan !== undefined) {
      steps.push({ kind: fan, node, entry: false, inputs: [], shadows: [] });
      continue;
    }
    // A signal edge carries no value: such a graph runs exec.
    if (signalBound(node)) return undefined;
    const entry = node.index === plan.entry;
    const inputs = node.ports.filter((port) => !(port.flags & OUTPUT) && node.slots[port.id] >= 0)
      .map((port) => node.slots[port.id]);
    const step = node.servlet.step;
    const kind = typeof step === "function" ? step.constructor.name : undefined;
    const shadows = shadowsOf(node);
    // An async step could not answer in time: such a node runs exec, as do the requests that
    // reach it; so does one with a port only exec honours.
    const stepped = kind !== undefined && !NOT_STEPS.has(kind) &&
      shadows !== undefined && node.ports.every((port) => !(port.flags & ASYNC));
    if (!stepped && entry) return undefined;
    steps.push({ kind: stepped ? NODE : EXEC, node, entry, inputs, shadows: shadows ?? [] });
  }
  return { steps, edges: plan.edges.length, declines: 0, resting: 0 };
}

/** Thrown inside a run to throw it away: the request runs exec. */
const DECLINED = Symbol("declined");

/** What one request's steps wrote: each edge's value, the replies, the `PERSIST` votes. */
class StepRun {
  /** Each edge's value; `undefined` while nothing is on it. */
  readonly values: unknown[];
  readonly input: InputHandle;
  readonly output: OutputHandle;
  /** The entry's bytes. */
  readonly bytes: Uint8Array;
  /** The first reply written to the request's output (most runs write one). */
  reply: string | Uint8Array | undefined;
  /** The replies after the first, in order. */
  more: (string | Uint8Array)[] | undefined;
  /** The node that wrote them. */
  replier: PlanNode | undefined;
  /** Nodes that set `PERSIST` at exec time, and their word. */
  votes: [string, boolean][] | undefined;
  /** Set when a write was exec's to make: the run is thrown away, even if the step caught why. */
  declined = false;

  constructor(edges: number, input: InputHandle, output: OutputHandle, bytes: Uint8Array) {
    this.values = new Array(edges);
    this.input = input;
    this.output = output;
    this.bytes = bytes;
  }

  /** Throws the run away: the write that says so throws, and the run stays declined. */
  decline(): never {
    this.declined = true;
    throw DECLINED;
  }

  /** A value on a port's slot: an edge's, or a reply. */
  deliver(node: PlanNode, port: AnyPort, value: unknown): void {
    const slot = node.slots[port.id];
    if (slot >= 0) {
      // A second value (exec carries a stream of them), or none (exec refuses null and
      // undefined): exec's to write.
      if (this.values[slot] !== undefined || value == null) this.decline();
      // Bytes go on as a copy: the node behind may change what it reads, and a step may
      // write bytes it keeps and writes again (http/render's last reply).
      this.values[slot] = value instanceof Uint8Array ? value.slice() : value;
    } else if (slot === GRAPH_OUTPUT) {
      if (typeof value !== "string" && !(value instanceof Uint8Array)) this.decline();
      this.replier = node;
      if (this.reply === undefined) this.reply = value;
      else (this.more ??= []).push(value);
    }
  }
}

/** The task of one step: refused once the step has returned, as a task after its exec. */
class StepTaskImpl extends StepCalls<unknown> implements StepTask {
  readonly #run: StepRun;
  /** Per port bound to an edge, when `keepAlive` changed it: its `PERSIST`. */
  #persist: (boolean | undefined)[] | undefined;

  constructor(run: StepRun, step: ValueStep) {
    super(step.node, step.shadows, STEP_BEFORE_RETURN);
    this.#run = run;
  }

  protected deliver(port: AnyPort, value: unknown): void {
    this.#run.deliver(this.node, port, value);
  }

  value<T>(port: Port<T>): T | undefined {
    this.check(port as AnyPort, false, "read");
    const slot = this.node.slots[port.id];
    if (slot >= 0) return this.#run.values[slot] as T | undefined;
    return slot === GRAPH_INPUT ? this.#run.bytes as T : undefined;
  }

  write<T>(port: Port<T>, value: T): void {
    this.check(port as AnyPort, true, "write");
    checkNotShadow(this.node.name, port as AnyPort, "write");
    this.send(port as AnyPort, value);
  }

  keepAlive(port: AnyPort, keep?: boolean): boolean {
    this.check(port, undefined, "keepAlive");
    const node = this.node;
    const slot = node.slots[port.id];
    const run = this.#run;
    const handle = slot === GRAPH_INPUT
      ? run.input
      : slot === GRAPH_OUTPUT
      ? run.output
      : undefined;
    if (keep === undefined) {
      if (handle !== undefined) return (handle.flags & PERSIST) !== 0;
      return this.#persist?.[port.id] ?? (port.flags & PERSIST) !== 0;
    }
    if (handle !== undefined) {
      handle.flags = keep ? handle.flags | PERSIST : handle.flags & ~PERSIST;
      handle.touched |= PERSIST;
    } else (this.#persist ??= [])[port.id] = keep;
    // As with exec: PERSIST set at exec time, on any port, is the node's word on the connection.
    (run.votes ??= []).push([node.name, keep]);
    return keep;
  }
}

/** True when a value reached one of the step's inputs: the entry, or an edge written. */
function reached(values: readonly unknown[], step: ValueStep): boolean {
  if (step.entry) return true;
  for (const edge of step.inputs) if (values[edge] !== undefined) return true;
  return false;
}

/** Runs a step; throws `DECLINED` when it declines, throws, or returns anything but `true` or nothing. */
function runStep(run: StepRun, step: ValueStep): void {
  const node = step.node;
  const task = new StepTaskImpl(run, step);
  let returned: unknown;
  try {
    returned = node.servlet.step!(node.ctx, task);
  } catch {
    // exec will run the request, and report what it throws.
    throw DECLINED;
  } finally {
    task.end();
  }
  // A write declined the run, whatever the step made of its throw.
  if (run.declined) throw DECLINED;
  if (returned === undefined || returned === true) return;
  // false declines; anything else (a promise, say) is no step's answer, and declines too.
  try {
    const then = (returned as PromiseLike<unknown> | null)?.then;
    // Thrown away with the run: a rejection must not go unhandled.
    if (typeof then === "function") Promise.resolve(returned).catch(() => {});
  } catch {
    // A `then` that throws when read: nothing to wait for.
  }
  throw DECLINED;
}

/**
 * Runs one request as value steps, over `bytes`, the request's input as
 * {@linkcode InputHandle.peekReadiness} showed it. Returns `undefined` when
 * the run was thrown away: nothing was taken or written, and the handles'
 * flags are as the steps found them; the caller runs `exec`. Otherwise the
 * input is taken and the replies written: resolves false when a reply could
 * not be written.
 */
export function runValueSteps(
  plan: ValueSteps,
  bytes: Uint8Array,
  input: InputHandle,
  output: OutputHandle,
  report: FailureReport,
  info: RequestInfo,
): Promise<boolean> | undefined {
  // The handles' flags as the steps found them: put back if the run is thrown away.
  const inFlags = input.flags, inTouched = input.touched;
  const outFlags = output.flags, outTouched = output.touched;
  const run = new StepRun(plan.edges, input, output, bytes);
  const values = run.values;
  try {
    for (const step of plan.steps) {
      const node = step.node;
      if (step.kind === DUP || step.kind === JOIN) {
        passFan(node, values);
        continue;
      }
      if (!reached(values, step)) continue; // nothing reached it: it does not run
      if (step.kind === EXEC) throw DECLINED;
      runStep(run, step);
      // The entry has ended: its input's PERSIST is the output's, as in exec.
      if (step.entry) copySharedFlags(input, output);
    }
  } catch (error) {
    if (error !== DECLINED) throw error;
    input.flags = inFlags;
    input.touched = inTouched;
    output.flags = outFlags;
    output.touched = outTouched;
    if (++plan.declines >= DECLINES_TO_REST) {
      plan.declines = 0;
      plan.resting = REST_REQUESTS;
    }
    return undefined;
  }
  plan.declines = 0;
  return commit(run, report, info);
}

/**
 * Writes one reply to the output; a throw is a rejection (it fails its writer).
 * A reply of the input's bytes (`buffer`) is copied: the buffer is read into
 * again once the request ends.
 */
function writeReply(
  output: OutputHandle,
  chunk: string | Uint8Array,
  buffer: ArrayBufferLike,
): Promise<void> {
  try {
    if (typeof chunk === "string") return writeTextTo(output, chunk);
    return output.write(chunk.buffer === buffer ? chunk.slice() : chunk);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Takes the request's input, tells the connection the nodes' words, and writes the replies. */
function commit(run: StepRun, report: FailureReport, info: RequestInfo): Promise<boolean> {
  const { input, output } = run;
  input.takeReadiness!();
  if (run.votes !== undefined) {
    for (const [node, keep] of run.votes) info.connection?.keepAlive(node, keep);
  }
  const buffer = run.bytes.buffer;
  let reply = run.reply === undefined ? undefined : writeReply(output, run.reply, buffer);
  if (run.more !== undefined) {
    for (const chunk of run.more) reply = reply!.then(() => writeReply(output, chunk, buffer));
  }
  input.release();
  // The usual reply, taken by the output at once: no promise of its own.
  if (reply === undefined || reply === RESOLVED) return ANSWERED_OK;
  // A reply that cannot be written (the client went) fails its writer, as in exec.
  return reply.then(() => true, (error) => {
    safeReport(report, run.replier!, error, info);
    return false;
  });
}
