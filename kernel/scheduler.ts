/**
 * Runs one request through a plan: starts a node when one of its inputs is
 * first written, cancels a node none of whose inputs was written (on an
 * `open` request it runs every node instead, so that any may greet), joins nodes
 * with mem pipes, fires the `__null__` and `__error__` signals, and copies the
 * shared flags from the request's input handle to its output companion.
 * @module
 */
import { PlumbError } from "./errors.ts";
import { OUTPUT, SHARED_FLAGS } from "./flags.ts";
import { DiscardOutput, EmptyInput, type InputHandle, type OutputHandle } from "./pipe.ts";
import {
  errorSlot,
  GRAPH_INPUT,
  GRAPH_OUTPUT,
  nullSlot,
  type Plan,
  type PlanNode,
  UNBOUND,
} from "./plan.ts";
import { type Handle, TaskImpl } from "./task.ts";
import { TeeOutput } from "./tee.ts";
import { MemPipe, type WaitMonitor } from "./mem_pipe.ts";
import type { Port } from "./servlet.ts";
import type { RequestInfo } from "./request.ts";

/** A one-line description of a thrown value, whatever it is. */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** Called when a node's exec fails: the node, the reason, and the request. */
export type FailureReport = (node: PlanNode, error: unknown, info: RequestInfo) => void;

const DEFAULT_INFO: RequestInfo = Object.freeze({ peer: "?", event: "data" });

/** The reason a downstream read fails after its producer failed. */
export class UpstreamError extends PlumbError {
  /** @param node the node that failed */
  constructor(node: string) {
    super(`upstream node "${node}" failed in this request`);
    this.name = "UpstreamError";
  }
}

const encoder = new TextEncoder();

/** This request's handle for a port no edge or module is bound to, with the port's declared flags. */
function unboundHandle(port: Port): Handle {
  const handle = port.flags & OUTPUT ? new DiscardOutput() : new EmptyInput();
  handle.flags = port.flags;
  return handle;
}

/** Gives a pipe handle the flags of the port it is bound to, for this request. */
function bind<H extends Handle>(handle: H, port: Port): H {
  handle.flags = port.flags;
  handle.touched = 0;
  return handle;
}

/** Puts each output that has shadows behind a tee that feeds its enabled shadows too. */
function applyTees(node: PlanNode, handles: Handle[]): void {
  for (const { target, shadows } of node.tees) {
    handles[target] = new TeeOutput(
      node.name,
      handles[target] as OutputHandle,
      shadows.map((s) => handles[s] as OutputHandle),
      shadows.map((s) => node.ports[s]),
    );
  }
}

/** Reports a failure without letting a report that throws (an odd thrown value) escape. */
function safeReport(
  report: FailureReport,
  node: PlanNode,
  error: unknown,
  info: RequestInfo,
): void {
  try {
    report(node, error, info);
  } catch {
    // The failure is still handled: outputs errored, request failed.
  }
}

/** Copies the shared flags of a request's input handle to its output companion, unless exec set them there. */
export function copySharedFlags(input: InputHandle, output: OutputHandle): void {
  const copy = SHARED_FLAGS & ~output.touched;
  output.flags = (output.flags & ~copy) | (input.flags & copy);
}

interface Outcome {
  failed: boolean;
  error: unknown;
}

const SUCCESS: Outcome = { failed: false, error: undefined };

/**
 * Runs a node's exec on a task over `handles` and calls `done` with how it
 * went, once, after ending the task. Not an async function: the request path
 * pays for one promise reaction per node, no more.
 */
function exec(
  node: PlanNode,
  handles: Handle[],
  info: RequestInfo,
  done: (outcome: Outcome) => void,
): void {
  const task = new TaskImpl(node.name, node.ports, handles, info.event, info);
  let running: void | Promise<void>;
  try {
    running = node.servlet.exec(node.ctx, task);
  } catch (error) {
    running = Promise.reject(error);
  }
  Promise.resolve(running).then(
    () => {
      task.end();
      done(SUCCESS);
    },
    (error) => {
      task.end();
      done({ failed: true, error });
    },
  );
}

/**
 * Runs one request. The module owns `input` and `output`; their flags are set
 * to the declarations of the graph's input and output ports first.
 *
 * @returns false when the output is errored (a node that writes it failed)
 */
export function runRequest(
  plan: Plan,
  input: InputHandle,
  output: OutputHandle,
  report: FailureReport,
  info: RequestInfo = DEFAULT_INFO,
): Promise<boolean> {
  input.flags = plan.inputPort.flags;
  input.touched = 0;
  output.flags = plan.outputPort.flags;
  output.touched = 0;
  if (plan.single) return runSingle(plan.nodes[0], input, output, report, info);
  return new RequestRun(plan, input, output, report, info).start();
}

async function runSingle(
  node: PlanNode,
  input: InputHandle,
  output: OutputHandle,
  report: FailureReport,
  info: RequestInfo,
): Promise<boolean> {
  const handles: Handle[] = new Array(node.ports.length);
  for (let i = 0; i < handles.length; i++) {
    const slot = node.slots[i];
    handles[i] = slot === GRAPH_INPUT
      ? input
      : slot === GRAPH_OUTPUT
      ? output
      : unboundHandle(node.ports[i]);
  }
  if (node.tees.length > 0) applyTees(node, handles);
  // The hot path of a one-node graph: exec inline, no outcome object.
  const task = new TaskImpl(node.name, node.ports, handles, info.event, info);
  let ok = true;
  try {
    await node.servlet.exec(node.ctx, task);
  } catch (error) {
    ok = false;
    safeReport(report, node, error, info);
  } finally {
    task.end();
    input.release();
    copySharedFlags(input, output);
  }
  return ok;
}

const WAITING = 0;
const RUNNING = 1;
const SETTLED = 2;

class RequestRun implements WaitMonitor {
  readonly #plan: Plan;
  readonly #input: InputHandle;
  readonly #output: OutputHandle;
  readonly #report: FailureReport;
  readonly #info: RequestInfo;
  readonly #state: number[];
  readonly #pipes: (MemPipe | undefined)[];
  readonly #closed: boolean[];
  #pending: number;
  #running = 0;
  #waiting = 0;
  #ok = true;
  #done: (ok: boolean) => void = () => {};

  constructor(
    plan: Plan,
    input: InputHandle,
    output: OutputHandle,
    report: FailureReport,
    info: RequestInfo,
  ) {
    this.#plan = plan;
    this.#info = info;
    this.#input = input;
    this.#output = output;
    this.#report = report;
    this.#state = new Array(plan.nodes.length).fill(WAITING);
    this.#pipes = new Array(plan.edges.length);
    this.#closed = new Array(plan.edges.length).fill(false);
    this.#pending = plan.nodes.length;
  }

  start(): Promise<boolean> {
    const promise = new Promise<boolean>((resolve) => this.#done = resolve);
    const { nodes, entry } = this.#plan;
    this.#startNode(entry);
    for (const node of nodes) {
      if (node.index !== entry && node.inputEdges.length === 0) this.#cancel(node.index);
    }
    return promise;
  }

  #pipe(edge: number): MemPipe {
    let pipe = this.#pipes[edge];
    if (pipe === undefined) {
      const to = this.#plan.edges[edge].to;
      pipe = this.#pipes[edge] = new MemPipe({
        onFirstWrite: () => this.#startNode(to),
        monitor: this,
      });
      // Its producer may have settled already (cancelled, or done without writing): then it is empty.
      if (this.#closed[edge]) pipe.close();
    }
    return pipe;
  }

  wait(_pipe: MemPipe, _writer: boolean): void {
    this.#waiting++;
    this.#checkStall();
  }

  /**
   * When every running node waits on a pipe, bounded pipes have deadlocked (a
   * diamond whose join reads its branches in another order than they are
   * written): let a stalled pipe grow past its bound so the request goes on.
   * Checked when a node starts waiting and when a node ends (the others may
   * all be waiting by then).
   */
  #checkStall(): void {
    if (this.#running === 0 || this.#waiting < this.#running) return;
    this.#pipes.find((p) => p?.stalled)?.overflow();
  }

  resume(_pipe: MemPipe, _writer: boolean): void {
    this.#waiting--;
  }

  #startNode(index: number): void {
    if (this.#state[index] !== WAITING) return;
    this.#state[index] = RUNNING;
    this.#running++;
    const node = this.#plan.nodes[index];
    const handles: Handle[] = new Array(node.ports.length);
    for (let i = 0; i < handles.length; i++) {
      const slot = node.slots[i];
      const port = node.ports[i];
      if (slot >= 0) {
        const pipe = this.#pipe(slot);
        handles[i] = bind(port.flags & OUTPUT ? pipe.output : pipe.input, port);
      } else if (slot === GRAPH_INPUT) handles[i] = this.#input;
      else if (slot === GRAPH_OUTPUT) handles[i] = this.#output;
      else handles[i] = unboundHandle(port);
    }
    if (node.tees.length > 0) applyTees(node, handles);
    exec(node, handles, this.#info, (outcome) => {
      this.#running--;
      this.#finish(node, handles, outcome);
      this.#checkStall();
    });
  }

  #finish(node: PlanNode, handles: Handle[], outcome: Outcome): void {
    const n = node.ports.length;
    if (outcome.failed) {
      safeReport(this.#report, node, outcome.error, this.#info);
      const reason = new UpstreamError(node.name);
      for (let i = 0; i < n; i++) {
        const slot = node.slots[i];
        if (slot >= 0 && this.#plan.edges[slot].from === node.index) {
          this.#pipes[slot]?.error(reason);
        } else if (slot === GRAPH_OUTPUT) this.#ok = false;
      }
      const errorEdge = node.slots[errorSlot(n)];
      // A failure nobody handles fails the request: the module tells the client
      // (its errorReply), and goes on or closes as its listener says (onError).
      if (errorEdge === UNBOUND) this.#ok = false;
      else {
        const message = describeError(outcome.error);
        this.#pipe(errorEdge).output.write(encoder.encode(`${node.name}: ${message}\n`));
      }
    } else {
      let wrote = false;
      for (let i = 0; i < n; i++) {
        if ((node.ports[i].flags & OUTPUT) && (handles[i] as OutputHandle).written) wrote = true;
      }
      const nullEdge = node.slots[nullSlot(n)];
      if (!wrote && nullEdge !== UNBOUND) this.#pipe(nullEdge).output.touch();
    }
    for (let i = 0; i < n; i++) {
      if (!(node.ports[i].flags & OUTPUT)) (handles[i] as InputHandle).release();
    }
    if (node.index === this.#plan.entry) copySharedFlags(this.#input, this.#output);
    this.#settle(node);
  }

  #cancel(index: number): void {
    if (this.#state[index] !== WAITING) return;
    // A connection's opening reaches every node, written to or not: any of them may greet.
    if (this.#info.event === "open") this.#startNode(index);
    else this.#settle(this.#plan.nodes[index]);
  }

  #settle(node: PlanNode): void {
    this.#state[node.index] = SETTLED;
    for (const edge of node.outputEdges) {
      this.#pipes[edge]?.close();
      this.#closed[edge] = true;
    }
    for (const edge of node.outputEdges) {
      const to = this.#plan.nodes[this.#plan.edges[edge].to];
      if (this.#state[to.index] === WAITING && to.inputEdges.every((e) => this.#closed[e])) {
        this.#cancel(to.index);
      }
    }
    if (--this.#pending === 0) this.#done(this.#ok);
  }
}
