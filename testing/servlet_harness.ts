/**
 * One servlet under test, without a socket: its `init` runs once, then each
 * {@linkcode ServletHarness.exec} runs one request with scripted bytes on its
 * input ports and returns what it wrote on each output, its ports' flags, its
 * signal and the state it keeps, like Plumber's simulate module.
 *
 * The request is run by the kernel's own scheduler, on the servlet as a
 * graph of one node: its first input is the graph's input and its first
 * output the graph's output, and the harness is the I/O module that gives
 * them (like a connection's, each with the kept state and the module's
 * `cntl` answers), scripts the node's other inputs and captures its other
 * outputs. Shadows, the `__null__` and `__error__` signals (carried on real
 * edges to two probe nodes) and the `PERSIST` flag copied to the output are
 * the scheduler's doing, not the harness's. Requests of one harness behave
 * as requests of one connection: the state pushed with `PUSH_STATE` and the
 * bytes a request left unread (or gave back with `EOM`) carry over to the
 * next.
 * @module
 */
import { ByteReader, concatBytes } from "../kernel/byte_reader.ts";
import type { ConnectionLink } from "../kernel/connection.ts";
import { GraphError } from "../kernel/errors.ts";
import { INPUT, OUTPUT, PERSIST } from "../kernel/flags.ts";
import type { GraphSpec } from "../kernel/graph.ts";
import { type LoadedNode, loadNode, SIGNAL_PORTS, unloadNodes } from "../kernel/loader.ts";
import { KeptState } from "../kernel/kept_state.ts";
import type { InputHandle, OutputHandle, StateSlot } from "../kernel/pipe.ts";
import { RESOLVED } from "../kernel/pipe.ts";
import { compilePlan, type Plan } from "../kernel/plan.ts";
import { type OpenPorts, runRequest } from "../kernel/scheduler.ts";
import { defineServlet, type Port, type RequestEvent, type Servlet } from "../kernel/servlet.ts";
import type { Handle } from "../kernel/task.ts";
import { resolveServlet } from "../host/servlet_registry.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/**
 * The harness's simulated connection, as `task.connection` reaches it: the
 * node's state, and its word on keeping the connection in the current request.
 */
class HarnessConnection implements ConnectionLink {
  readonly peer: string;
  closed = false;
  /** Each node's state, by node name (the servlet's is the harness's `state`). */
  readonly slots = new Map<string, KeptState>();
  /** The nodes' words with `keepAlive` (or `PERSIST` at exec time) in this request. */
  readonly votes = new Map<string, boolean>();
  constructor(peer: string) {
    this.peer = peer;
  }
  stateOf(node: string): KeptState {
    let slot = this.slots.get(node);
    if (slot === undefined) this.slots.set(node, slot = new KeptState());
    return slot;
  }
  keepAlive(node: string, keep: boolean): void {
    this.votes.set(node, keep);
  }
  /** What the nodes said in this request: one saying `false` closes; `undefined` when none spoke. */
  get vote(): boolean | undefined {
    if (this.votes.size === 0) return undefined;
    for (const keep of this.votes.values()) if (!keep) return false;
    return true;
  }
  /** The connection ends: every node's state is disposed, and the next request starts afresh. */
  reset(): void {
    for (const slot of this.slots.values()) slot.dispose();
  }
}

/** What a request's input port reads: text (as UTF-8), bytes, or chunks in order. */
export type ScriptedInput = string | Uint8Array | readonly (string | Uint8Array)[];

/** Options of {@linkcode ServletHarness.start}. */
export interface HarnessOptions {
  /** The arguments `init` receives. Default none. */
  args?: readonly string[];
  /** The node's name, as `init` sees it in `env.node`. Default `servlet`. */
  node?: string;
  /** The URL relative paths in the arguments resolve against. Default: the current directory. */
  base?: URL;
  /**
   * Answers to the module `cntl` operations on the servlet's first input and
   * first output, which stand for a connection's
   * (`{"tcp/peer": "192.0.2.1:5000"}`); a servlet asking for one that is not
   * here fails as it would on that connection. Its other ports are in-memory
   * pipes, as in a graph, with no answers.
   */
  module?: Readonly<Record<string, unknown>>;
  /** Longest line `readLine` accepts, in bytes. Default 65536. */
  maxLineBytes?: number;
  /**
   * Pipe types the servlet's ports use that neither plumb nor the servlet
   * registers, as a graph's `"types"` declares them (`{"chat/line": "text/line"}`).
   */
  types?: Readonly<Record<string, string>>;
}

/** Options of one {@linkcode ServletHarness.exec}. */
export interface ExecOptions {
  /** What started the request: `data` (default) or `open` (inputs read as empty). */
  event?: RequestEvent;
}

/** What one request did. */
export interface ExecResult {
  /**
   * The text each output port was written (UTF-8), by port name; `""` for an
   * unwritten one. A `SHADOW` output carries its target's text when it was
   * enabled (not `DISABLED`) as the target was written.
   */
  outputs: Record<string, string>;
  /** The bytes each output port was written, by port name. */
  bytes: Record<string, Uint8Array>;
  /** The names of the output ports written in this request (even with zero bytes). */
  written: string[];
  /**
   * Each port's flags at the end of the request: declared flags plus what
   * exec changed, and, on the first output (the graph's output), the shared
   * flags (`PERSIST`) the kernel copied from the first input unless exec set
   * them there itself.
   */
  flags: Record<string, number>;
  /**
   * Whether a connection would be kept after this request, the servlet's
   * first input and first output being a graph's input and output: what the
   * servlet said with `task.connection.keepAlive` (or by setting or clearing
   * `PERSIST` at exec time, on any port), else the `PERSIST` flag the kernel
   * left on that output (copied from the input unless exec set it on the
   * output itself). False when the servlet has no output and said nothing.
   */
  persist: boolean;
  /** What exec threw or rejected with; `undefined` when it succeeded. */
  error: unknown;
  /**
   * The signal output the kernel fired: `__error__` when exec failed,
   * `__null__` when it succeeded and wrote no output, else `undefined`.
   */
  signal: "__null__" | "__error__" | undefined;
  /**
   * The bytes of each input port this request did not read (or gave back
   * with `EOM`), as text: the next request of the harness reads them first.
   */
  unread: Record<string, string>;
}

/** An input handle that reads scripted chunks, then ends; what it did not read is kept. */
class ScriptedInputHandle implements InputHandle {
  flags = 0;
  touched = 0;
  readonly state: StateSlot | undefined;
  readonly module: Readonly<Record<string, unknown>> | undefined;
  readonly reader: ByteReader;
  readonly #chunks: Uint8Array[];

  constructor(
    chunks: Uint8Array[],
    state: StateSlot | undefined,
    module: Readonly<Record<string, unknown>> | undefined,
    maxLineBytes: number | undefined,
  ) {
    this.#chunks = chunks;
    this.state = state;
    this.module = module;
    this.reader = new ByteReader(() => Promise.resolve(this.#chunks.shift() ?? null), {
      maxLineBytes,
    });
  }
  read(): Promise<Uint8Array | null> {
    return this.reader.read();
  }
  readLine(): Promise<string | null> {
    return this.reader.readLine();
  }
  eof(): Promise<boolean> {
    return this.reader.eof();
  }
  unread(bytes: Uint8Array): void {
    this.reader.unread(bytes.slice());
  }
  release(): void {}
  /** What was not read: the reader's buffer, then the chunks it never pulled. */
  rest(): Uint8Array {
    let rest = this.reader.takeBuffered() ?? EMPTY;
    for (const chunk of this.#chunks.splice(0)) rest = concatBytes(rest, chunk);
    return rest;
  }
}

/** An output handle that keeps what is written. */
class CapturingOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  readonly state: StateSlot | undefined;
  readonly module: Readonly<Record<string, unknown>> | undefined;
  readonly chunks: Uint8Array[] = [];
  constructor(
    state: StateSlot | undefined,
    module: Readonly<Record<string, unknown>> | undefined,
  ) {
    this.state = state;
    this.module = module;
  }
  write(chunk: Uint8Array): Promise<void> {
    this.written = true;
    this.chunks.push(chunk.slice());
    return RESOLVED;
  }
  touch(): void {
    this.written = true;
  }
  bytes(): Uint8Array {
    return this.chunks.reduce(concatBytes, EMPTY);
  }
}

function toChunks(input: ScriptedInput | undefined): Uint8Array[] {
  if (input === undefined) return [];
  const list = typeof input === "string" || input instanceof Uint8Array ? [input] : input;
  return list.map((c) => typeof c === "string" ? encoder.encode(c) : c.slice());
}

/** Which signal probes ran in the current request. */
type Fired = Set<string>;

/** A node that the kernel starts when the signal output it is wired to fires; it notes that it ran. */
function signalProbe(signal: string, fired: Fired): Servlet<unknown> {
  return defineServlet({
    init(_args, env): { input: Port; output: Port } {
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
    },
    async exec(ctx, task): Promise<void> {
      let carried = false;
      for (let chunk; (chunk = await task.read(ctx.input)) !== null;) {
        if (chunk.length > 0) carried = true;
      }
      // An open request runs every node, fired or not: there only `__error__`'s message
      // tells (the harness works out `__null__` of an open request itself).
      if (task.event !== "open" || carried) fired.add(signal);
    },
  });
}

/**
 * A servlet's node under test.
 *
 * @example
 * ```ts
 * import { ServletHarness } from "@plumb/plumb/testing";
 * import { assertEquals } from "@std/assert";
 *
 * await using greeter = await ServletHarness.start("hello"); // a built-in, by name
 * const result = await greeter.exec({ in: "Plumber\n" });
 * assertEquals(result.outputs.out, "Hello, Plumber\n");
 * assertEquals(result.persist, true); // the connection would stay open
 * ```
 */
export class ServletHarness<C> implements AsyncDisposable {
  readonly #node: LoadedNode;
  readonly #nodes: readonly LoadedNode[];
  readonly #plan: Plan;
  readonly #input: Port;
  readonly #output: Port | undefined;
  readonly #fired: Fired;
  readonly #options: HarnessOptions;
  readonly #slot: KeptState;
  readonly #connection: HarnessConnection;
  readonly #rest = new Map<string, Uint8Array>();
  #closed = false;

  private constructor(
    node: LoadedNode,
    nodes: readonly LoadedNode[],
    plan: Plan,
    fired: Fired,
    options: HarnessOptions,
  ) {
    this.#node = node;
    this.#nodes = nodes;
    this.#plan = plan;
    this.#input = plan.inputPort;
    this.#output = node.ports.includes(plan.outputPort) ? plan.outputPort : undefined;
    this.#fired = fired;
    this.#options = options;
    const peer = options.module?.["tcp/peer"];
    this.#connection = new HarnessConnection(typeof peer === "string" ? peer : "test");
    this.#slot = this.#connection.stateOf(node.name);
  }

  /**
   * Runs the servlet's `init` and returns the harness.
   *
   * @param servlet a servlet made with `defineServlet`, or a specifier as a
   *   graph's node would give it (a built-in name, `./path.ts` relative to
   *   `options.base`, a URL)
   * @throws {GraphError} when `init` fails or declares a bad port, with the
   *   message the host would print, or when the servlet declares no input
   *   port (a graph never runs such a node)
   */
  static async start<C>(
    servlet: Servlet<C> | string,
    options: HarnessOptions = {},
  ): Promise<ServletHarness<C>> {
    const base = options.base ?? new URL(`file://${Deno.cwd()}/`);
    const name = options.node ?? "servlet";
    const node = await loadNode(
      "test",
      base,
      name,
      servlet as Servlet<unknown> | string,
      options.args ?? [],
      resolveServlet,
    );
    const fired: Fired = new Set();
    const nodes: LoadedNode[] = [node];
    try {
      // Each signal output feeds a probe node, so the kernel's own rule fires it or not.
      const probes = SIGNAL_PORTS.map((signal) => `${name}~${signal}`);
      for (const [i, probe] of probes.entries()) {
        nodes.push(await loadNode("test", base, probe, signalProbe(SIGNAL_PORTS[i], fired), []));
      }
      const input = node.ports.find((p) => !(p.flags & OUTPUT));
      if (input === undefined) {
        throw new GraphError(
          "PLUMB_HARNESS_NO_INPUT",
          `test: node "${name}": the servlet declares no input port; a graph runs a node only ` +
            `when one of its inputs is written, so no request can reach it`,
        );
      }
      const output = node.ports.find((p) => p.flags & OUTPUT);
      const spec: GraphSpec = {
        nodes: Object.fromEntries(nodes.map((n) => [n.name, { servlet: n.servlet }])),
        input: `${name}.${input.name}`,
        // A servlet with no output (a sink): the graph's output is a probe's, never written.
        output: output ? `${name}.${output.name}` : `${probes[0]}.out`,
        edges: probes.map((probe, i) => ({
          from: `${name}.${SIGNAL_PORTS[i]}`,
          to: `${probe}.in`,
        })),
        types: { ...options.types },
      };
      const plan = compilePlan("test", spec, nodes);
      return new ServletHarness<C>(node, nodes, plan, fired, options);
    } catch (error) {
      await unloadNodes(nodes);
      throw error;
    }
  }

  /** The context `init` returned. */
  get ctx(): C {
    return this.#node.ctx as C;
  }

  /** The declared ports, by descriptor. */
  get ports(): readonly Port[] {
    return this.#node.ports;
  }

  /** The value kept with `PUSH_STATE` now (`undefined` when none), without taking it. */
  get state(): unknown {
    return this.#slot.value;
  }

  #port(name: string): Port {
    const port = this.#node.ports.find((p) => p.name === name);
    if (port === undefined) {
      const names = this.#node.ports.map((p) => p.name).join(", ");
      throw new Error(`the servlet has no port "${name}"; its ports are ${names}`);
    }
    return port;
  }

  /**
   * Runs one request: each input port named in `inputs` reads what is given
   * (after what the previous request left unread), then its end; the others
   * read only what was left unread.
   *
   * @example
   * ```ts ignore
   * const result = await harness.exec({ in: ["Plu", "mber\n"] });
   * ```
   */
  async exec(
    inputs: Readonly<Record<string, ScriptedInput>> = {},
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    if (this.#closed) throw new Error("exec on a closed harness");
    for (const name of Object.keys(inputs)) {
      if (this.#port(name).flags & OUTPUT) {
        throw new Error(`port "${name}" is an output; give inputs for input ports only`);
      }
    }
    const open = options.event === "open";
    const scripted = (port: Port, connection: boolean): ScriptedInputHandle =>
      new ScriptedInputHandle(
        open ? [] : [this.#rest.get(port.name) ?? EMPTY, ...toChunks(inputs[port.name])]
          .filter((chunk) => chunk.length > 0),
        connection ? this.#slot : undefined,
        connection ? this.#options.module ?? {} : undefined,
        this.#options.maxLineBytes,
      );
    // The graph's input and output stand for a connection's: the kept state and the module's answers.
    const handles = new Map<Port, Handle>();
    const input = scripted(this.#input, true);
    handles.set(this.#input, input);
    const output = new CapturingOutput(this.#slot, this.#options.module ?? {});
    if (this.#output) handles.set(this.#output, output);
    // The node's other ports are left open by the graph: the kernel asks the harness for them.
    const openPorts: OpenPorts = (node, port) => {
      if (node.name !== this.#node.name) return undefined;
      const handle = port.flags & OUTPUT
        ? new CapturingOutput(undefined, undefined)
        : scripted(port, false);
      handles.set(port, handle);
      return handle;
    };
    if (!open) this.#rest.clear();
    this.#fired.clear();
    const connection = this.#connection;
    connection.votes.clear();
    let error: unknown;
    await runRequest(
      this.#plan,
      input,
      output,
      (node, thrown) => {
        if (node.name === this.#node.name) error = thrown;
      },
      { peer: connection.peer, event: options.event ?? "data", connection },
      openPorts,
    );
    const result: ExecResult = {
      outputs: {},
      bytes: {},
      written: [],
      flags: {},
      persist: connection.vote ?? (this.#output !== undefined && (output.flags & PERSIST) !== 0),
      error,
      signal: undefined,
      unread: {},
    };
    for (const port of this.#node.ports) {
      const handle = handles.get(port);
      if (handle === undefined) continue;
      result.flags[port.name] = handle.flags;
      if (handle instanceof CapturingOutput) {
        const bytes = handle.bytes();
        result.bytes[port.name] = bytes;
        result.outputs[port.name] = decoder.decode(bytes);
        if (handle.written) result.written.push(port.name);
      } else if (handle instanceof ScriptedInputHandle) {
        const rest = concatBytes(this.#rest.get(port.name) ?? EMPTY, handle.rest());
        result.unread[port.name] = decoder.decode(rest);
        if (rest.length > 0) this.#rest.set(port.name, rest);
        else this.#rest.delete(port.name);
      }
    }
    // The kernel's rule for `__null__`, which an open request's probe cannot see fire.
    if (open && error === undefined && result.written.length === 0) this.#fired.add("__null__");
    result.signal = this.#fired.has("__error__")
      ? "__error__"
      : this.#fired.has("__null__")
      ? "__null__"
      : undefined;
    return result;
  }

  /**
   * Ends the simulated connection: disposes the kept state and forgets the
   * unread bytes, as when a connection closes. The next request starts afresh.
   */
  reset(): void {
    this.#connection.reset();
    this.#rest.clear();
  }

  /** Ends the connection (see {@linkcode ServletHarness.reset}) and runs the servlet's `unload`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.reset();
    const failures: string[] = [];
    await unloadNodes(this.#nodes, (code, message) => failures.push(`${code} ${message}`));
    if (failures.length > 0) throw new Error(failures.join("; "));
  }

  /** Closes the harness: `await using harness = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Runs one request through a servlet: `init`, one `exec`, `unload`.
 *
 * @example
 * ```ts
 * import { runServlet } from "@plumb/plumb/testing";
 * import { assertEquals } from "@std/assert";
 *
 * const { outputs, signal } = await runServlet("echo", { in: "ping\n" });
 * assertEquals(outputs.out, "ping\n");
 * assertEquals(signal, undefined); // it wrote: no __null__
 * ```
 */
export async function runServlet<C>(
  servlet: Servlet<C> | string,
  inputs: Readonly<Record<string, ScriptedInput>> = {},
  options: HarnessOptions & ExecOptions = {},
): Promise<ExecResult> {
  await using harness = await ServletHarness.start(servlet, options);
  return await harness.exec(inputs, options);
}
