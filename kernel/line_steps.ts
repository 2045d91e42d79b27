/**
 * Line steps: a request whose input is one whole line, run through a graph
 * whose every node has a `line` step (see {@linkcode ServletDefinition.line}),
 * as one synchronous call per node in topological order. No task, pipe,
 * promise or settling per node: each edge carries at most one line, held as
 * a string; a fan-out hands its line to every branch, and a fan-in takes the
 * first branch, in the file's order, that carries one (what `JoinInput`
 * does). The same request through `exec` would write the same lines, which
 * is the promise a servlet makes when it defines `line`.
 *
 * The scheduler takes this path only for a `data` request, with no ports
 * scripted from outside (the testing kit) and no counted pipes (`--admin`),
 * when the request's input hands over exactly one whole line
 * ({@linkcode InputHandle.wholeLine}); anything else runs the nodes' `exec`.
 * @module
 */
import { MessageTooLongError, PlumbError } from "./errors.ts";
import { checkNotShadow, WRITE_BEFORE_RETURN } from "./_port_checks.ts";
import { DEFAULT_MAX_LINE_BYTES } from "./byte_reader.ts";
import { DESCRIPTOR_MASK, DISABLED, OUTPUT, PERSIST, SHADOW } from "./flags.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "./pipe.ts";
import { GRAPH_INPUT, GRAPH_OUTPUT, type Plan, type PlanNode, UNBOUND } from "./plan.ts";
import {
  ANSWERED_FAILED,
  ANSWERED_OK,
  type FailureReport,
  type RequestInfo,
  safeReport,
} from "./request.ts";
import type { AnyPort, LineOutput, Port } from "./servlet.ts";
import { writeTextTo } from "./value_codec.ts";
import {
  fanKind,
  NODE,
  passFan,
  shadowsOf,
  signalBound,
  StepCalls,
  type StepKind,
} from "./_steps.ts";

/** Flags a port of a line step may carry: none that `exec` alone can honour (`ASYNC`). */
const STEP_FLAGS = OUTPUT | PERSIST | SHADOW | DISABLED | DESCRIPTOR_MASK;

/** One node of a plan run as line steps. */
interface Step {
  /** `NODE`, `DUP` or `JOIN` (never `EXEC`: such a plan has no line steps). */
  readonly kind: StepKind;
  readonly node: PlanNode;
  /** A line step's input slot: an edge, or `GRAPH_INPUT` (a fan's edges are its node's). */
  readonly input: number;
  /** Per output port of a line step, by descriptor: the descriptors of its shadows. */
  readonly shadows: readonly (readonly number[] | undefined)[];
}

/** A plan that can run as line steps: its steps, in topological order. */
export interface LineSteps {
  readonly steps: readonly Step[];
  readonly edges: number;
}

/**
 * The line steps of a plan, or `undefined` when a node cannot run as one: a
 * servlet without `line`, more or less than one input, a bound `__null__` or
 * `__error__`, the shadow of an input, or a flag only `exec` honours.
 * Worked out anew at each call: the scheduler keeps them per plan.
 */
export function lineStepsOf(plan: Plan): LineSteps | undefined {
  const steps: Step[] = [];
  for (const node of plan.nodes) {
    const fan = fanKind(node);
    if (fan !== undefined) {
      steps.push({ kind: fan, node, input: UNBOUND, shadows: [] });
      continue;
    }
    const line = node.servlet.line;
    // An async line step could not fail its request in time: such a node runs exec.
    if (typeof line !== "function" || line.constructor.name === "AsyncFunction") return undefined;
    const shadows = shadowsOf(node);
    if (signalBound(node) || shadows === undefined) return undefined;
    let input = -1;
    for (const port of node.ports) {
      if ((port.flags & ~STEP_FLAGS) !== 0) return undefined;
      if (port.flags & OUTPUT) continue;
      if (input >= 0) return undefined;
      input = port.id;
    }
    if (input < 0) return undefined;
    steps.push({ kind: NODE, node, input: node.slots[input], shadows });
  }
  // No signal edges (refused above): every edge is written by a step.
  return { steps, edges: plan.edges.length };
}

/** What a line step may write, for messages. */
const RULE = `a line step writes one line, ending "\\n", per port, before it returns ` +
  `(or the servlet writes in exec only)`;

/** True when `text` is one line: ends `\n`, with no other `\n`. */
function isOneLine(text: string): boolean {
  const last = text.length - 1;
  return last >= 0 && text.charCodeAt(last) === 0x0a && text.indexOf("\n") === last;
}

/** A line taken off an edge, as `readLine` would hand it: without `\n` or `\r\n`. */
function lineOf(text: string): string {
  const end = text.length > 1 && text.charCodeAt(text.length - 2) === 0x0d
    ? text.length - 2
    : text.length - 1;
  return text.slice(0, end);
}

/** True when `text` is over the line limit in UTF-8 bytes (counted only when its length leaves doubt). */
function tooLong(text: string): boolean {
  if (text.length * 3 <= DEFAULT_MAX_LINE_BYTES) return false;
  return new TextEncoder().encode(text).length > DEFAULT_MAX_LINE_BYTES;
}

/** What one request's steps wrote: each edge's line, and the reply. */
class StepRun {
  readonly values: (string | undefined)[];
  readonly output: OutputHandle;
  /** The replies written to the request's output, in order. */
  reply: Promise<void> | undefined;
  /** The node that wrote them. */
  replier: PlanNode | undefined;

  constructor(edges: number, output: OutputHandle) {
    this.values = new Array(edges);
    this.output = output;
  }

  /** A line on a port's slot: an edge's value, or the request's reply. */
  deliver(node: PlanNode, port: AnyPort, line: string): void {
    const slot = node.slots[port.id];
    if (slot >= 0) this.values[slot] = line;
    else if (slot === GRAPH_OUTPUT) {
      const output = this.output;
      this.replier = node;
      this.reply = this.reply === undefined
        ? writeTextTo(output, line)
        : this.reply.then(() => writeTextTo(output, line));
    }
  }
}

/** The `out` of one step: refused once the step has returned, as a task after its exec. */
class StepOutput extends StepCalls<string> implements LineOutput {
  readonly #run: StepRun;
  /** The step's input line, with its end. */
  readonly #input: string;
  /**
   * The ports written, by descriptor, a bit each below 31 (a step's usual
   * ports: no array to make per step), past that in `#wroteHigh`: a second
   * write is refused.
   */
  #wrote = 0;
  #wroteHigh: boolean[] | undefined;

  constructor(run: StepRun, step: Step, input: string) {
    super(step.node, step.shadows, WRITE_BEFORE_RETURN);
    this.#run = run;
    this.#input = input;
  }

  protected deliver(port: AnyPort, line: string): void {
    this.#run.deliver(this.node, port, line);
  }

  write(port: Port<string>, line: string): void {
    this.#write(port, line, "write");
  }

  forward(port: Port<string>): void {
    this.#write(port, this.#input, "forward");
  }

  #write(port: AnyPort, line: string, verb: string): void {
    const node = this.node;
    this.check(port, true, verb);
    checkNotShadow(node.name, port, verb);
    if (typeof line !== "string" || !isOneLine(line)) {
      throw new PlumbError(
        "PLUMB_LINE_STEP",
        `node "${node.name}": its line step wrote ${
          typeof line === "string" ? JSON.stringify(line.slice(0, 40)) : typeof line
        } (not one line) on port "${port.name}"; ${RULE}`,
      );
    }
    if (!this.#mark(port.id)) {
      throw new PlumbError(
        "PLUMB_LINE_STEP",
        `node "${node.name}": its line step wrote a second line on port "${port.name}"; ${RULE}`,
      );
    }
    this.send(port, line);
  }

  /** Records a write on port `id`: false when the step wrote on it already. */
  #mark(id: number): boolean {
    if (id < 31) {
      const bit = 1 << id;
      if (this.#wrote & bit) return false;
      this.#wrote |= bit;
      return true;
    }
    const high = this.#wroteHigh ??= [];
    if (high[id]) return false;
    high[id] = true;
    return true;
  }
}

/**
 * Runs one request as line steps: `line` is the request's input, one line
 * with its end, already taken off it. Resolves false when a step failed (each failure reported
 * once, as `exec`'s would be), after the replies were written.
 */
export function runLineSteps(
  plan: LineSteps,
  line: string,
  input: InputHandle,
  output: OutputHandle,
  report: FailureReport,
  info: RequestInfo,
): Promise<boolean> {
  const run = new StepRun(plan.edges, output);
  const values = run.values;
  let ok = true;
  for (const step of plan.steps) {
    const node = step.node;
    if (step.kind !== NODE) {
      passFan(node, values);
      continue;
    }
    const value = step.input === GRAPH_INPUT
      ? line
      : step.input >= 0
      ? values[step.input]
      : undefined;
    if (value === undefined) continue; // nothing reached it: it does not run
    const out = new StepOutput(run, step, value);
    try {
      const text = lineOf(value);
      // The entry's line was measured against the input's own limit.
      if (step.input !== GRAPH_INPUT && tooLong(text)) {
        throw new MessageTooLongError(DEFAULT_MAX_LINE_BYTES);
      }
      const returned: unknown = node.servlet.line!(node.ctx, text, out);
      if (typeof (returned as PromiseLike<unknown> | undefined)?.then === "function") {
        Promise.resolve(returned).catch(() => {}); // this step's failure, reported below
        throw new PlumbError(
          "PLUMB_LINE_STEP",
          `node "${node.name}": its line step returned a promise; ${RULE}`,
        );
      }
    } catch (error) {
      // What it wrote before it threw stays written, as exec's writes reach their pipes.
      ok = false;
      safeReport(report, node, error, info);
    }
    out.end();
  }
  input.release();
  const reply = run.reply;
  // The usual reply, taken by the output at once: no promise of its own.
  if (reply === undefined || reply === RESOLVED) return ok ? ANSWERED_OK : ANSWERED_FAILED;
  // A reply that cannot be written (the client went) fails its writer, as in exec.
  return reply.then(() => ok, (error) => {
    safeReport(report, run.replier!, error, info);
    return false;
  });
}
