/**
 * One servlet under test, without a graph or a socket: its `init` runs once,
 * then each {@linkcode ServletHarness.exec} runs one request with scripted
 * bytes on its input ports and returns what it wrote on each output, its
 * ports' flags, its signal and the state it keeps, like Plumber's simulate
 * module. Requests of one harness behave as requests of one connection: the
 * state pushed with `PUSH_STATE` and the bytes a request left unread (or gave
 * back with `EOM`) carry over to the next.
 * @module
 */
import { ByteReader, concatBytes } from "../kernel/byte_reader.ts";
import type { ConnectionLink } from "../kernel/connection.ts";
import { type LoadedNode, loadNode, unloadNodes } from "../kernel/loader.ts";
import { DESCRIPTOR_MASK, DISABLED, OUTPUT, PERSIST, SHADOW } from "../kernel/flags.ts";
import type { InputHandle, OutputHandle, StateSlot } from "../kernel/pipe.ts";
import { RESOLVED } from "../kernel/pipe.ts";
import { KeptState } from "../kernel/kept_state.ts";
import type { Port, RequestEvent, Servlet } from "../kernel/servlet.ts";
import { type Handle, TaskImpl } from "../kernel/task.ts";
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
  readonly slot: KeptState;
  closed = false;
  /** What the node said with `keepAlive` (or `PERSIST` at exec time) in this request. */
  vote: boolean | undefined;
  constructor(peer: string, slot: KeptState) {
    this.peer = peer;
    this.slot = slot;
  }
  stateOf(_node: string): KeptState {
    return this.slot;
  }
  keepAlive(_node: string, keep: boolean): void {
    this.vote = keep;
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
   * Answers to the module `cntl` operations (`{"tcp/peer": "192.0.2.1:5000"}`);
   * a servlet asking for one that is not here fails as on an in-memory pipe.
   */
  module?: Readonly<Record<string, unknown>>;
  /** Longest line `readLine` accepts, in bytes. Default 65536. */
  maxLineBytes?: number;
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
   * unwritten one. A `SHADOW` output shows its target's text unless it ended
   * the request `DISABLED`.
   */
  outputs: Record<string, string>;
  /** The bytes each output port was written, by port name. */
  bytes: Record<string, Uint8Array>;
  /** The names of the output ports written in this request (even with zero bytes). */
  written: string[];
  /** Each port's flags at the end of the request (declared flags plus what exec changed). */
  flags: Record<string, number>;
  /**
   * Whether a connection would be kept after this request, were the
   * servlet's first input and first output a graph's input and output: what
   * the servlet said with `task.connection.keepAlive` (or by setting or
   * clearing `PERSIST` at exec time), else the `PERSIST` flag that the kernel
   * copies from the input to its output companion.
   */
  persist: boolean;
  /** What exec threw or rejected with; `undefined` when it succeeded. */
  error: unknown;
  /**
   * The signal output the kernel would write: `__error__` when exec failed,
   * `__null__` when it succeeded and wrote no output, else `undefined`.
   */
  signal: "__null__" | "__error__" | undefined;
  /**
   * The bytes of each input port this request did not read (or gave back
   * with `EOM`), as text: the next request of the harness reads them first.
   */
  unread: Record<string, string>;
}

class ScriptedInputHandle implements InputHandle {
  flags = 0;
  touched = 0;
  readonly state: StateSlot;
  readonly module: Readonly<Record<string, unknown>>;
  readonly reader: ByteReader;
  readonly #chunks: Uint8Array[];

  constructor(
    chunks: Uint8Array[],
    state: StateSlot,
    module: Readonly<Record<string, unknown>>,
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

class CapturingOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  readonly state: StateSlot;
  readonly module: Readonly<Record<string, unknown>>;
  readonly chunks: Uint8Array[] = [];
  constructor(state: StateSlot, module: Readonly<Record<string, unknown>>) {
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

/**
 * A servlet's node under test.
 *
 * @example
 * ```ts
 * import { ServletHarness } from "./servlet_harness.ts";
 * import hello from "../servlets/hello.ts";
 *
 * await using greeter = await ServletHarness.start(hello);
 * const result = await greeter.exec({ in: "Plumber\n" });
 * console.log(result.outputs.out); // "Hello, Plumber\n"
 * console.log(result.persist); // true: the connection would stay open
 * ```
 */
export class ServletHarness<C> implements AsyncDisposable {
  readonly #node: LoadedNode;
  readonly #options: HarnessOptions;
  readonly #slot = new KeptState();
  readonly #connection: HarnessConnection;
  readonly #rest = new Map<string, Uint8Array>();
  #closed = false;

  private constructor(node: LoadedNode, options: HarnessOptions) {
    this.#node = node;
    this.#options = options;
    const peer = options.module?.["tcp/peer"];
    this.#connection = new HarnessConnection(
      typeof peer === "string" ? peer : "harness",
      this.#slot,
    );
  }

  /**
   * Runs the servlet's `init` and returns the harness.
   *
   * @param servlet a servlet made with `defineServlet`, or a specifier as a
   *   graph's node would give it (a built-in name, `./path.ts` relative to
   *   `options.base`, a URL)
   * @throws {GraphError} when `init` fails or declares a bad port, with the message the host would print
   */
  static async start<C>(
    servlet: Servlet<C> | string,
    options: HarnessOptions = {},
  ): Promise<ServletHarness<C>> {
    const base = options.base ?? new URL(`file://${Deno.cwd()}/`);
    const node = await loadNode(
      "test",
      base,
      options.node ?? "servlet",
      servlet as Servlet<unknown> | string,
      options.args ?? [],
      resolveServlet,
    );
    return new ServletHarness<C>(node, options);
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
   * (after what the previous request left unread), the others read as empty.
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
    const module = this.#options.module ?? {};
    const handles: Handle[] = this.#node.ports.map((port) => {
      const handle = port.flags & OUTPUT
        ? new CapturingOutput(this.#slot, module)
        : new ScriptedInputHandle(
          options.event === "open"
            ? []
            : [this.#rest.get(port.name) ?? EMPTY, ...toChunks(inputs[port.name])]
              .filter((chunk) => chunk.length > 0),
          this.#slot,
          module,
          this.#options.maxLineBytes,
        );
      handle.flags = port.flags;
      return handle;
    });
    if (options.event !== "open") this.#rest.clear();
    const connection = this.#connection;
    connection.vote = undefined;
    const event = options.event ?? "data";
    const task = new TaskImpl(this.#node.name, this.#node.ports, handles, event, {
      peer: connection.peer,
      event,
      connection,
    });
    let error: unknown;
    let failed = false;
    try {
      await this.#node.servlet.exec(this.#node.ctx, task);
    } catch (thrown) {
      failed = true;
      error = thrown;
    } finally {
      task.end();
    }
    const result: ExecResult = {
      outputs: {},
      bytes: {},
      written: [],
      flags: {},
      persist: false,
      error,
      signal: undefined,
      unread: {},
    };
    let firstInput: ScriptedInputHandle | undefined;
    let firstOutput: CapturingOutput | undefined;
    this.#node.ports.forEach((port, i) => {
      const handle = handles[i];
      result.flags[port.name] = handle.flags;
      if (handle instanceof CapturingOutput) {
        firstOutput ??= handle;
        // A shadow carries its target's bytes, unless it is (still) DISABLED.
        const shadowed = port.flags & SHADOW;
        const source = shadowed ? handles[port.flags & DESCRIPTOR_MASK] as CapturingOutput : handle;
        const carries = !shadowed || !(handle.flags & DISABLED);
        const bytes = carries ? source.bytes() : EMPTY;
        result.bytes[port.name] = bytes;
        result.outputs[port.name] = decoder.decode(bytes);
        if (carries && source.written) result.written.push(port.name);
      } else if (handle instanceof ScriptedInputHandle) {
        firstInput ??= handle;
        const rest = concatBytes(this.#rest.get(port.name) ?? EMPTY, handle.rest());
        result.unread[port.name] = decoder.decode(rest);
        if (rest.length > 0) this.#rest.set(port.name, rest);
        else this.#rest.delete(port.name);
      }
    });
    if (connection.vote !== undefined) result.persist = connection.vote;
    else if (firstInput !== undefined && firstOutput !== undefined) {
      const own = firstOutput.touched & PERSIST;
      result.persist = Boolean(own ? firstOutput.flags & PERSIST : firstInput.flags & PERSIST);
    }
    result.signal = failed ? "__error__" : result.written.length === 0 ? "__null__" : undefined;
    return result;
  }

  /**
   * Ends the simulated connection: disposes the kept state and forgets the
   * unread bytes, as when a connection closes. The next request starts afresh.
   */
  reset(): void {
    this.#slot.dispose();
    this.#rest.clear();
  }

  /** Ends the connection (see {@linkcode ServletHarness.reset}) and runs the servlet's `unload`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.reset();
    const failures: string[] = [];
    await unloadNodes([this.#node], (message) => failures.push(message));
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
 * import { runServlet } from "./servlet_harness.ts";
 * import echo from "../servlets/echo.ts";
 *
 * const { outputs } = await runServlet(echo, { in: "ping\n" });
 * console.log(outputs.out); // "ping\n"
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
