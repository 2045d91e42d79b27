/**
 * A request's handles of its edges, each making its pipe only when it is
 * first used: a plain edge's output ({@linkcode EdgeOutput}), and fan-out and
 * fan-in, run by the kernel itself. The graph loader adds a
 * `dataflow/dup` node where an output feeds several inputs and a
 * `dataflow/firstnonempty` node where an input is fed by several outputs
 * (`kernel/rewrite.ts`); the plan keeps them, for messages, `--dot` and
 * types, but the scheduler runs neither servlet: the producer of a fan-out
 * writes straight into the pipes of its branches ({@linkcode FanOutput}), and
 * the consumer of a fan-in reads straight from the first of its branches'
 * pipes that carries anything ({@linkcode JoinInput}). The behaviour is the
 * servlets': every branch gets every chunk (the same chunks, no copy) and the
 * writer waits for the slowest; the join prefers its inputs in order, counts
 * a branch that ended empty or failed as empty, and releases the branches
 * after the one it takes. What it saves is a node's start and end, a task and
 * a pipe per fan, and two asynchronous hops per chunk.
 * @module
 */
import { type MemInput, type MemOutput, MemPipe } from "./mem_pipe.ts";
import { type InputHandle, type OutputHandle, RESOLVED } from "./pipe.ts";
import { QueuedValue } from "./value_codec.ts";

/** The pipes of one request, by edge, made on first use. */
export interface RequestPipes {
  /** The pipe of edge `edge` in this request. */
  pipeOf(edge: number): MemPipe;
  /**
   * What a join sees of edge `edge` (see {@linkcode MemPipe.joinState}),
   * without making its pipe: an edge whose producer ended without a write is
   * `"empty"`.
   */
  joinState(edge: number): "data" | "empty" | "pending";
}

/**
 * A producer's handle of an edge: its pipe is made on the first write (or
 * touch), so an output a request never writes (the routes a demux did not
 * take) costs no pipe.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { MemPipe } from "./mem_pipe.ts";
 * import { EdgeOutput } from "./edge_handles.ts";
 *
 * const pipes: MemPipe[] = [];
 * const out = new EdgeOutput({
 *   pipeOf: (edge) => pipes[edge] ??= new MemPipe(),
 *   joinState: () => "pending",
 * }, 0);
 * assertEquals(pipes.length, 0);
 * await out.writeText("made now\n");
 * assertEquals(await pipes[0].input.readLine(), "made now");
 * ```
 */
export class EdgeOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  readonly #pipes: RequestPipes;
  readonly #edge: number;

  /**
   * @param pipes the request's pipes
   * @param edge the edge
   */
  constructor(pipes: RequestPipes, edge: number) {
    this.#pipes = pipes;
    this.#edge = edge;
  }

  /** The pipe's own output handle, which queues a chunk before it starts the reader. */
  #output(): MemOutput {
    return this.#pipes.pipeOf(this.#edge).output;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.written = true;
    return this.#output().write(chunk);
  }

  writeText(text: string): Promise<void> {
    this.written = true;
    return this.#output().writeText(text);
  }

  writeValue(value: unknown): Promise<void> {
    this.written = true;
    return this.#output().writeValue(value);
  }

  touch(): void {
    if (this.written) return;
    this.written = true;
    this.#output().touch();
  }
}

/**
 * A producer's handle of an output that fans out: each write goes to the pipe
 * of every branch, and resolves once every branch has room.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { MemPipe } from "./mem_pipe.ts";
 * import { FanOutput } from "./edge_handles.ts";
 *
 * const pipes = [new MemPipe(), new MemPipe()];
 * const out = new FanOutput({ pipeOf: (edge) => pipes[edge], joinState: () => "pending" }, [
 *   0,
 *   1,
 * ]);
 * await out.writeText!("same\n");
 * assertEquals(await pipes[0].input.readLine(), "same");
 * assertEquals(await pipes[1].input.readLine(), "same");
 * ```
 */
export class FanOutput implements OutputHandle {
  flags = 0;
  touched = 0;
  written = false;
  readonly #pipes: RequestPipes;
  readonly #edges: readonly number[];

  /**
   * @param pipes the request's pipes
   * @param edges the branches' edges
   */
  constructor(pipes: RequestPipes, edges: readonly number[]) {
    this.#pipes = pipes;
    this.#edges = edges;
  }

  write(chunk: Uint8Array): Promise<void> {
    const done = this.#push(chunk);
    this.touch();
    return done;
  }

  writeText(text: string): Promise<void> {
    const done = this.#push(text);
    this.touch();
    return done;
  }

  writeValue(value: unknown): Promise<void> {
    const done = this.#push(new QueuedValue(value));
    this.touch();
    return done;
  }

  touch(): void {
    if (this.written) return;
    this.written = true;
    for (const edge of this.#edges) this.#pipes.pipeOf(edge).output.touch();
  }

  #push(chunk: Uint8Array | string | QueuedValue): Promise<void> {
    let waits: Promise<void>[] | undefined;
    for (const edge of this.#edges) {
      const done = this.#pipes.pipeOf(edge).push(chunk);
      if (done !== RESOLVED) (waits ??= []).push(done);
    }
    if (waits === undefined) return RESOLVED;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => {});
  }
}

const NULL: Promise<null> = Promise.resolve(null);
const TRUE: Promise<boolean> = Promise.resolve(true);

/**
 * A consumer's handle of an input that several outputs feed: it reads the
 * first of the branches, in order, that carries anything; a branch that
 * ended empty (it did not run, or wrote nothing) or failed is passed over;
 * the branches after the one taken are released, so their writers never wait
 * on a full pipe. When every branch is empty it reads as empty.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { MemPipe } from "./mem_pipe.ts";
 * import { JoinInput } from "./edge_handles.ts";
 *
 * const pipes = [new MemPipe(), new MemPipe()];
 * const input = new JoinInput({
 *   pipeOf: (edge) => pipes[edge],
 *   joinState: (edge) => pipes[edge].joinState,
 * }, [0, 1]);
 * pipes[0].close(); // the first branch did not run
 * await pipes[1].output.writeText!("second\n");
 * assertEquals(await input.readLine(), "second");
 * ```
 */
export class JoinInput implements InputHandle {
  flags = 0;
  touched = 0;
  readonly #pipes: RequestPipes;
  readonly #edges: readonly number[];
  /** The branch taken; `null` when every branch was empty; `undefined` while not known. */
  #taken: MemInput | null | undefined;
  /** The first branch not known to be empty. */
  #next = 0;
  /** Bytes given back before a branch was taken. */
  #unread: Uint8Array[] | undefined;

  /**
   * @param pipes the request's pipes
   * @param edges the branches' edges, in order of preference
   */
  constructor(pipes: RequestPipes, edges: readonly number[]) {
    this.#pipes = pipes;
    this.#edges = edges;
  }

  /** The branch to read, found without waiting when it can be: `undefined` when a branch is pending. */
  #input(): MemInput | null | undefined {
    if (this.#taken !== undefined) return this.#taken;
    const edges = this.#edges;
    for (; this.#next < edges.length; this.#next++) {
      const state = this.#pipes.joinState(edges[this.#next]);
      if (state === "pending") return undefined;
      if (state === "data") return this.#take(this.#pipes.pipeOf(edges[this.#next]));
    }
    return this.#unread === undefined ? this.#taken = null : this.#giveBack();
  }

  /** Every branch was empty, but bytes were given back: they are what is read. */
  #giveBack(): MemInput {
    const pipe = new MemPipe();
    pipe.close();
    return this.#take(pipe);
  }

  #take(pipe: MemPipe): MemInput {
    const edges = this.#edges;
    for (let j = this.#next + 1; j < edges.length; j++) this.#pipes.pipeOf(edges[j]).cancel();
    const input = this.#taken = pipe.input;
    const unread = this.#unread;
    if (unread !== undefined) {
      this.#unread = undefined;
      for (let i = unread.length - 1; i >= 0; i--) input.unread(unread[i]);
    }
    return input;
  }

  /** The branch to read, once it is known. */
  #wait(): Promise<MemInput | null> {
    const pipe = this.#pipes.pipeOf(this.#edges[this.#next]);
    return pipe.ready().then(() => {
      const input = this.#input();
      return input === undefined ? this.#wait() : input;
    });
  }

  read(): Promise<Uint8Array | null> {
    const input = this.#input();
    if (input === null) return NULL;
    if (input !== undefined) return input.read();
    return this.#wait().then((taken) => taken === null ? null : taken.read());
  }

  readLine(): Promise<string | null> {
    const input = this.#input();
    if (input === null) return NULL;
    if (input !== undefined) return input.readLine();
    return this.#wait().then((taken) => taken === null ? null : taken.readLine());
  }

  readValue(): Promise<QueuedValue | string | null> {
    const input = this.#input();
    if (input === null) return NULL;
    if (input !== undefined) return input.readValue();
    return this.#wait().then((taken) => taken === null ? null : taken.readValue());
  }

  readChunk(): Promise<Uint8Array | string | QueuedValue | null> {
    const input = this.#input();
    if (input === null) return NULL;
    if (input !== undefined) return input.readChunk();
    return this.#wait().then((taken) => taken === null ? null : taken.readChunk());
  }

  eof(): Promise<boolean> {
    const input = this.#input();
    if (input === null) return TRUE;
    if (input !== undefined) return input.eof();
    return this.#wait().then((taken) => taken === null || taken.eof());
  }

  unread(bytes: Uint8Array): void {
    const input = this.#taken === null ? this.#giveBack() : this.#taken;
    if (input !== undefined) input.unread(bytes);
    else (this.#unread ??= []).push(bytes);
  }

  release(): void {
    if (this.#taken) this.#taken.release();
    else if (this.#taken === undefined) {
      const edges = this.#edges;
      for (let j = this.#next; j < edges.length; j++) this.#pipes.pipeOf(edges[j]).cancel();
    }
    this.#unread = undefined;
  }
}
