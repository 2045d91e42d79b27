/**
 * Runs one request through a plan: starts a node when one of its inputs is
 * first written, cancels a node none of whose inputs was written (on an
 * `open` request it runs every node not fed only by signals, so that any may
 * greet), joins nodes
 * with mem pipes, fires the `__null__` and `__error__` signals, and copies the
 * shared flags from the request's input handle to its output companion.
 * @module
 */
import { PlumbError } from "./errors.ts";
import { OUTPUT } from "./flags.ts";
import {
  copySharedFlags,
  DiscardOutput,
  EmptyInput,
  type InputHandle,
  type OutputHandle,
} from "./pipe.ts";
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
import { applyTees, type Teed } from "./tee.ts";
import { MemPipe, type WaitMonitor } from "./mem_pipe.ts";
import { EdgeOutput, FanOutput, JoinInput, type RequestPipes } from "./edge_handles.ts";
import { lineStepsOf, runLineSteps } from "./line_steps.ts";
import { perPlan } from "./_steps.ts";
import { runValueSteps, stepsAwake, valueStepsOf } from "./value_steps.ts";
import type { Port } from "./servlet.ts";
import { type FailureReport, type RequestInfo, safeReport } from "./request.ts";

/** A one-line description of a thrown value, whatever it is. */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

const DEFAULT_INFO: RequestInfo = Object.freeze({ peer: "?", event: "data" });

/** What one node of a deadlocked request waits on. */
export interface PipeWait {
  /** The node's name. */
  readonly node: string;
  /** The pipe, `"a.out" -> "b.in"`. */
  readonly pipe: string;
  /** Bytes queued in the pipe when the node writes it (a full pipe); `undefined` when it reads it (an empty one). */
  readonly queued: number | undefined;
}

/** `"b" reads "a.out" -> "b.in" (empty)`, or `"a" writes ... (full, 65536 bytes)`. */
function waitText(wait: PipeWait): string {
  return wait.queued === undefined
    ? `"${wait.node}" reads ${wait.pipe} (empty)`
    : `"${wait.node}" writes ${wait.pipe} (full, ${wait.queued} bytes)`;
}

/**
 * The reason a request fails when every running node waits on a bounded mem
 * pipe: one line naming each node, the pipe it waits on, and how.
 */
export class DeadlockError extends PlumbError {
  /** @param waits what each running node waits on */
  constructor(waits: readonly PipeWait[]) {
    super(
      "PLUMB_REQUEST_DEADLOCK",
      `request deadlocked: every running node waits on a bounded pipe: ${
        waits.map(waitText).join("; ")
      }; read the inputs in the order they are written, or release an input you will not read`,
    );
    this.name = "DeadlockError";
  }
}

/** `"node.port"` of a plan node's slot, for messages. */
function portText(nodes: readonly PlanNode[], index: number, slot: number): string {
  const node = nodes[index];
  const name = slot < node.ports.length
    ? node.ports[slot].name
    : slot === nullSlot(node.ports.length)
    ? "__null__"
    : "__error__";
  return `"${node.name}.${name}"`;
}

/** The reason a downstream read fails after its producer failed. */
export class UpstreamError extends PlumbError {
  /** @param node the node that failed */
  constructor(node: string) {
    super("PLUMB_UPSTREAM_FAILED", `upstream node "${node}" failed in this request`);
    this.name = "UpstreamError";
  }
}

const encoder = new TextEncoder();

/**
 * Gives this request's handle of a declared port that the graph leaves open
 * (no edge, neither the graph's input nor its output), or `undefined` for the
 * default: an input that reads empty, an output that discards. The scheduler
 * gives it the port's declared flags, as any handle. For a module that
 * scripts a node's other ports: the testing kit's `ServletHarness` feeds a
 * servlet's other inputs and captures its other outputs so, while the
 * scheduler's own rules (shadows, signals, shared flags) run as ever.
 */
export type OpenPorts = (node: PlanNode, port: Port) => Handle | undefined;

/** This request's handle for a port no edge or module is bound to, with the port's declared flags. */
function unboundHandle(port: Port, node: PlanNode, open: OpenPorts | undefined): Handle {
  const handle = open?.(node, port) ??
    (port.flags & OUTPUT ? new DiscardOutput() : new EmptyInput());
  handle.flags = port.flags;
  return handle;
}

/** Gives a pipe handle the flags of the port it is bound to, for this request. */
function bind<H extends Handle>(handle: H, port: Port): H {
  handle.flags = port.flags;
  handle.touched = 0;
  return handle;
}

/** Runs a node's exec on a task over `handles`: its promise, a rejected one if it threw. */
function exec(
  node: PlanNode,
  task: TaskImpl,
  teed: Teed | undefined,
): void | Promise<void> {
  let running: void | Promise<void>;
  try {
    running = node.servlet.exec(node.ctx, task);
  } catch (error) {
    running = Promise.reject(error);
  }
  return teed === undefined ? running : endTees(running, teed);
}

/** After an exec: its input tees carry what its last reads took (or, if it failed, give it back). */
function endTees(running: void | Promise<void>, teed: Teed): Promise<void> {
  return Promise.resolve(running).then(() => teed.finish(), (error) => {
    teed.giveBack();
    throw error;
  });
}

/**
 * Runs one request. The module owns `input` and `output`; their flags are set
 * to the declarations of the graph's input and output ports first.
 *
 * @param open handles for the ports the graph leaves open, if the module has any
 * @returns false when the output is errored (a node that writes it failed)
 */
export function runRequest(
  plan: Plan,
  input: InputHandle,
  output: OutputHandle,
  report: FailureReport,
  info: RequestInfo = DEFAULT_INFO,
  open?: OpenPorts,
): Promise<boolean> {
  input.flags = plan.inputPort.flags;
  input.touched = 0;
  output.flags = plan.outputPort.flags;
  output.touched = 0;
  // A request that arrived whole may run as plain calls: not one scripted from outside (the
  // testing kit), nor one whose pipes are counted (--admin).
  if (info.event === "data" && open === undefined && plan.newPipe === undefined) {
    const { line: lines, value: values } = stepsOf(plan)!;
    // One whole line through nodes that all have a line step (kernel/line_steps.ts).
    const line = lines === undefined || input.wholeLine === undefined
      ? undefined
      : input.wholeLine();
    if (line !== undefined) {
      const ran = runLineSteps(lines!, line, input, output, report, info);
      copySharedFlags(input, output);
      return ran;
    }
    // All the request's bytes through nodes with a value step, all or nothing
    // (kernel/value_steps.ts): a run thrown away leaves the request to exec.
    const bytes = values === undefined || input.peekReadiness === undefined ||
        !stepsAwake(values) || keepsState(plan, info)
      ? undefined
      : input.peekReadiness();
    if (bytes !== undefined) {
      const ran = runValueSteps(values!, bytes, input, output, report, info);
      if (ran !== undefined) return ran;
    }
  }
  if (plan.single) return runSingle(plan.nodes[0], input, output, report, info, open);
  return new RequestRun(plan, input, output, report, info, open).start();
}

/** A plan's line steps and value steps, worked out at its first request: one lookup per request. */
const stepsOf = perPlan((plan) => ({ line: lineStepsOf(plan), value: valueStepsOf(plan) }));

/** True when the request's connection keeps a state for a node of the plan (`PUSH_STATE`). */
function keepsState(plan: Plan, info: RequestInfo): boolean {
  const connection = info.connection;
  if (connection === undefined) return false;
  if (connection.keepsState !== undefined) return connection.keepsState();
  return plan.nodes.some((node) => connection.stateOf(node.name).value !== undefined);
}

function runSingle(
  node: PlanNode,
  input: InputHandle,
  output: OutputHandle,
  report: FailureReport,
  info: RequestInfo,
  open: OpenPorts | undefined,
): Promise<boolean> {
  const handles: Handle[] = new Array(node.ports.length);
  for (let i = 0; i < handles.length; i++) {
    const slot = node.slots[i];
    handles[i] = slot === GRAPH_INPUT
      ? input
      : slot === GRAPH_OUTPUT
      ? output
      : unboundHandle(node.ports[i], node, open);
  }
  const teed = node.tees.length > 0
    ? applyTees(node.name, node.ports, node.tees, handles)
    : undefined;
  // The hot path of a one-node graph: exec inline, no outcome object, no async frame.
  const task = new TaskImpl(node.name, node.ports, handles, info.event, info);
  const ended = (ok: boolean): boolean => {
    task.end();
    input.release();
    copySharedFlags(input, output);
    return ok;
  };
  const failed = (error: unknown): boolean => {
    safeReport(report, node, error, info);
    return ended(false);
  };
  let running: void | Promise<void>;
  try {
    running = node.servlet.exec(node.ctx, task);
  } catch (error) {
    if (teed === undefined) return Promise.resolve(failed(error));
    running = Promise.reject(error);
  }
  const done = teed === undefined ? Promise.resolve(running) : endTees(running, teed);
  return done.then(() => ended(true), failed);
}

/** Arrays of zeros and of falses by length, to copy: a copy costs a fraction of a `fill`. */
const zeroArrays: number[][] = [];
const falseArrays: boolean[][] = [];

/** A new array of `n` zeros. */
function zeros(n: number): number[] {
  return (zeroArrays[n] ??= new Array<number>(n).fill(0)).slice();
}

/** A new array of `n` falses. */
function falses(n: number): boolean[] {
  return (falseArrays[n] ??= new Array<boolean>(n).fill(false)).slice();
}

const WAITING = 0;
const RUNNING = 1;
const SETTLED = 2;

class RequestRun implements WaitMonitor, RequestPipes {
  readonly #plan: Plan;
  readonly #input: InputHandle;
  readonly #output: OutputHandle;
  readonly #report: FailureReport;
  readonly #info: RequestInfo;
  readonly #open: OpenPorts | undefined;
  readonly #state: number[];
  readonly #pipes: (MemPipe | undefined)[];
  readonly #closed: boolean[];
  /** Pending mem pipe waits of each node. */
  readonly #waits: number[];
  /** What each node last waited on: an edge it reads, or -1 - an edge it writes. */
  readonly #waitingOn: number[];
  #pending: number;
  #running = 0;
  /** Running nodes with no pending mem pipe wait. */
  #free = 0;
  /** Node starts and ends so far: a deadlock is confirmed only if none happened meanwhile. */
  #changes = 0;
  #deadlockCheck: ReturnType<typeof setTimeout> | undefined;
  #deadlock: DeadlockError | undefined;
  #ok = true;
  #done: (ok: boolean) => void = () => {};
  #pipeOptions: { monitor: WaitMonitor; id: number } | undefined;

  constructor(
    plan: Plan,
    input: InputHandle,
    output: OutputHandle,
    report: FailureReport,
    info: RequestInfo,
    open: OpenPorts | undefined,
  ) {
    this.#plan = plan;
    this.#info = info;
    this.#open = open;
    this.#input = input;
    this.#output = output;
    this.#report = report;
    const nodes = plan.nodes.length;
    const edges = plan.edges.length;
    this.#state = zeros(nodes); // WAITING
    this.#pipes = new Array(edges);
    this.#closed = falses(edges);
    this.#waits = zeros(nodes);
    this.#waitingOn = zeros(nodes);
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

  pipeOf(edge: number): MemPipe {
    return this.#pipe(edge);
  }

  joinState(edge: number): "data" | "empty" | "pending" {
    const pipe = this.#pipes[edge];
    if (pipe !== undefined) return pipe.joinState;
    return this.#closed[edge] ? "empty" : "pending";
  }

  /** The producer's handle of an edge: one that makes its pipe on the first write, or a fan-out's. */
  #outputOf(edge: number): OutputHandle {
    const fan = this.#plan.edges[edge].fan;
    return fan < 0
      ? new EdgeOutput(this, edge)
      : new FanOutput(this, this.#plan.nodes[fan].outputEdges);
  }

  /** The consumer's handle of an edge: its pipe's, or a fan-in's over its branches' pipes. */
  #inputOf(edge: number): InputHandle {
    const fan = this.#plan.edges[edge].fan;
    return fan < 0 ? this.#pipe(edge).input : new JoinInput(this, this.#plan.nodes[fan].inputEdges);
  }

  /** Fails what a producer's edge carries: its pipe, or a fan-out's branches. */
  #failEdge(edge: number, reason: unknown): void {
    const fan = this.#plan.edges[edge].fan;
    if (fan < 0) this.#pipes[edge]?.error(reason);
    else for (const branch of this.#plan.nodes[fan].outputEdges) this.#pipes[branch]?.error(reason);
  }

  #pipe(edge: number): MemPipe {
    let pipe = this.#pipes[edge];
    if (pipe === undefined) {
      // One options object for the request's pipes: a pipe reads it only as it is made.
      const options = this.#pipeOptions ??= { monitor: this, id: edge };
      options.id = edge;
      const newPipe = this.#plan.newPipe;
      pipe = this.#pipes[edge] = newPipe === undefined
        ? new MemPipe(options)
        : newPipe(edge, { monitor: this, id: edge });
      // Its producer may have settled already (cancelled, or done without writing): then it is empty.
      if (this.#closed[edge]) pipe.close();
    }
    return pipe;
  }

  /** A pipe's first write starts the node that reads it. */
  firstWrite(pipe: MemPipe): void {
    this.#startNode(this.#plan.edges[pipe.id].reader);
  }

  wait(pipe: MemPipe, writer: boolean): void {
    const edge = this.#plan.edges[pipe.id];
    const node = writer ? edge.writer : edge.reader;
    this.#waitingOn[node] = writer ? -1 - pipe.id : pipe.id;
    if (this.#waits[node]++ === 0 && this.#state[node] === RUNNING && --this.#free === 0) {
      this.#checkDeadlock();
    }
  }

  resume(pipe: MemPipe, writer: boolean): void {
    const edge = this.#plan.edges[pipe.id];
    const node = writer ? edge.writer : edge.reader;
    if (--this.#waits[node] === 0 && this.#state[node] === RUNNING) this.#free++;
  }

  /**
   * Every running node waits on a mem pipe: the request cannot go on (a
   * diamond whose join reads its branches in another order than they are
   * written, say), and no pipe may grow past its bound to get it out. Checked
   * when a node starts waiting and when a node ends; confirmed a macrotask
   * later (a wait that a promise reaction was about to end is not a deadlock),
   * then every pipe of the request is aborted with one {@linkcode DeadlockError}.
   */
  #checkDeadlock(): void {
    if (this.#free !== 0 || this.#running === 0 || this.#deadlockCheck !== undefined) return;
    const seen = this.#changes;
    this.#deadlockCheck = setTimeout(() => {
      this.#deadlockCheck = undefined;
      if (this.#free !== 0 || this.#running === 0) return;
      if (this.#changes !== seen) return this.#checkDeadlock();
      this.#abort();
    }, 0);
  }

  /** Fails the request: one report names the nodes and pipes, every pipe is aborted. */
  #abort(): void {
    const { nodes, edges } = this.#plan;
    const waits: PipeWait[] = [];
    let first: PlanNode | undefined;
    for (const node of nodes) {
      if (this.#state[node.index] !== RUNNING) continue;
      first ??= node;
      const at = this.#waitingOn[node.index];
      const edge = edges[at < 0 ? -1 - at : at];
      waits.push({
        node: node.name,
        pipe: `${portText(nodes, edge.from, edge.fromSlot)} -> ${
          portText(nodes, edge.to, edge.toPort)
        }`,
        queued: at < 0 ? this.#pipes[-1 - at]?.queued ?? 0 : undefined,
      });
    }
    const error = this.#deadlock = new DeadlockError(waits);
    this.#ok = false;
    safeReport(this.#report, first!, error, this.#info);
    for (const pipe of this.#pipes) pipe?.abort(error);
  }

  #startNode(index: number): void {
    if (this.#state[index] !== WAITING) return;
    this.#state[index] = RUNNING;
    this.#running++;
    this.#changes++;
    if (this.#waits[index] === 0) this.#free++;
    const node = this.#plan.nodes[index];
    const handles: Handle[] = new Array(node.ports.length);
    for (let i = 0; i < handles.length; i++) {
      const slot = node.slots[i];
      const port = node.ports[i];
      if (slot >= 0) {
        handles[i] = bind(port.flags & OUTPUT ? this.#outputOf(slot) : this.#inputOf(slot), port);
      } else if (slot === GRAPH_INPUT) handles[i] = this.#input;
      else if (slot === GRAPH_OUTPUT) handles[i] = this.#output;
      else handles[i] = unboundHandle(port, node, this.#open);
    }
    const teed = node.tees.length > 0
      ? applyTees(node.name, node.ports, node.tees, handles)
      : undefined;
    const info = this.#info;
    const task = new TaskImpl(node.name, node.ports, handles, info.event, info);
    // One promise reaction per node, no async frame.
    Promise.resolve(exec(node, task, teed)).then(
      () => this.#ended(node, handles, task, false, undefined),
      (error) => this.#ended(node, handles, task, true, error),
    );
  }

  /** A node's exec is over: its task ends, its outputs end (or fail), its signals fire. */
  #ended(node: PlanNode, handles: Handle[], task: TaskImpl, failed: boolean, error: unknown): void {
    task.end();
    this.#state[node.index] = SETTLED; // its pipe waits no longer count
    this.#running--;
    this.#changes++;
    if (this.#waits[node.index] === 0) this.#free--;
    this.#finish(node, handles, failed, error);
    this.#checkDeadlock();
  }

  #finish(node: PlanNode, handles: Handle[], failed: boolean, error: unknown): void {
    const n = node.ports.length;
    if (failed) {
      // A deadlock was reported once, for the whole request.
      if (error !== this.#deadlock) safeReport(this.#report, node, error, this.#info);
      const reason = new UpstreamError(node.name);
      for (let i = 0; i < n; i++) {
        const slot = node.slots[i];
        if (slot >= 0 && this.#plan.edges[slot].from === node.index) this.#failEdge(slot, reason);
        else if (slot === GRAPH_OUTPUT) this.#ok = false;
      }
      const errorEdge = node.slots[errorSlot(n)];
      // A failure nobody handles fails the request: the module tells the client
      // (its errorReply), and goes on or closes as its listener says (onError).
      if (errorEdge === UNBOUND) this.#ok = false;
      else {
        const message = describeError(error);
        this.#outputOf(errorEdge).write(encoder.encode(`${node.name}: ${message}\n`));
      }
    } else {
      const nullEdge = node.slots[nullSlot(n)];
      if (nullEdge !== UNBOUND) {
        let wrote = false;
        for (let i = 0; i < n; i++) {
          if ((node.ports[i].flags & OUTPUT) && (handles[i] as OutputHandle).written) wrote = true;
        }
        if (!wrote) this.#outputOf(nullEdge).touch();
      }
    }
    for (let i = 0; i < n; i++) {
      if (!(node.ports[i].flags & OUTPUT)) (handles[i] as InputHandle).release();
    }
    if (node.index === this.#plan.entry) copySharedFlags(this.#input, this.#output);
    this.#settle(node);
  }

  #cancel(index: number): void {
    if (this.#state[index] !== WAITING) return;
    // A fan node never runs: its producer writes, or its consumer reads, the branches.
    if (this.#plan.nodes[index].fan !== undefined) return this.#settle(this.#plan.nodes[index]);
    // A connection's opening reaches every node, written to or not, so that any may greet;
    // but a node fed only by signals (`__null__`, `__error__`) runs only when one fires.
    if (this.#info.event === "open" && !this.#signalsOnly(index)) this.#startNode(index);
    else this.#settle(this.#plan.nodes[index]);
  }

  /** True when every edge into the node comes from another node's signal output. */
  #signalsOnly(index: number): boolean {
    const { nodes, edges } = this.#plan;
    const inputs = nodes[index].inputEdges;
    return inputs.length > 0 &&
      inputs.every((e) => edges[e].fromSlot >= nodes[edges[e].from].ports.length);
  }

  /** True when every one of `edges` is closed. */
  #allClosed(edges: readonly number[]): boolean {
    for (const edge of edges) if (!this.#closed[edge]) return false;
    return true;
  }

  #settle(node: PlanNode): void {
    this.#state[node.index] = SETTLED;
    for (const edge of node.outputEdges) {
      this.#pipes[edge]?.close();
      this.#closed[edge] = true;
    }
    for (const edge of node.outputEdges) {
      const to = this.#plan.nodes[this.#plan.edges[edge].to];
      if (this.#state[to.index] === WAITING && this.#allClosed(to.inputEdges)) {
        this.#cancel(to.index);
      }
    }
    if (--this.#pending === 0) {
      if (this.#deadlockCheck !== undefined) clearTimeout(this.#deadlockCheck);
      this.#done(this.#ok);
    }
  }
}
