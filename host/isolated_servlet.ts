/**
 * An isolated node (`"isolate": {"deadline": 2}` in the graph): its servlet
 * runs in a Web Worker of its own (`host/isolate_worker.ts`). `init` runs
 * there and the ports it declares are declared again here, so the plan sees
 * an ordinary node; each `exec` here sends the request to the worker, whose
 * task's calls come back as messages answered with the request's real task.
 *
 * Requests run one at a time per node, in the order they come. The clock of
 * the deadline runs while the exec computes in the worker and stops while it
 * waits for the host (a read, a write the pipe holds back). When it passes,
 * the worker is terminated, the request fails with `PLUMB_ISOLATE_DEADLINE`
 * (the client gets the error reply), and a fresh worker runs `init` again for
 * the next request. The host's own thread is never blocked, so every other
 * node and connection is served meanwhile.
 * @module
 */
import { GraphError, PlumbError } from "../kernel/errors.ts";
import { ASYNC, DESCRIPTOR_MASK, DISABLED, OUTPUT, PERSIST, SHADOW } from "../kernel/flags.ts";
import { ISOLATE_LIMITS, type IsolateSpec } from "../kernel/graph.ts";
import { UNLOAD_LIMIT_MS } from "../kernel/loader.ts";
import {
  defineServlet,
  type InitEnv,
  type OutputOptions,
  type Port,
  type Servlet,
  type Task,
} from "../kernel/servlet.ts";
import {
  type AsyncOp,
  type ErrorData,
  errorData,
  type FromIsolate,
  type PortData,
  type SyncAnswer,
  type SyncOp,
  toError,
  type ToIsolate,
} from "./_isolate_protocol.ts";

/** Where an isolated node comes from: what its worker loads. */
export interface IsolatedNodeSource {
  /** The graph file's name, for messages. */
  readonly file: string;
  /** The servlet as the graph names it: a built-in name, a path or a URL. */
  readonly specifier: string;
  /** The node's `"isolate"`. */
  readonly isolate: IsolateSpec;
}

/** How long a worker may take to end an exec whose request was aborted, in ms; then it is stopped. */
const ABORT_GRACE_MS = 1000;

/** The request a worker runs, and the clock of its deadline. */
interface Running {
  readonly id: number;
  readonly task: Task;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** Calls of the worker the host has not answered yet: while any is, the clock stops. */
  pending: number;
  /** Milliseconds computed before the clock last stopped. */
  used: number;
  /** When the clock last started, or `undefined` while it is stopped. */
  since: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** One worker of the node: its isolate and the channel of its sync calls. */
interface Isolate {
  readonly worker: Worker;
  readonly signal: Int32Array;
  readonly answers: MessagePort;
}

/** The ports as declared in the worker, to compare a fresh worker's with. */
function shapeOf(ports: readonly PortData[], types: Record<string, string>): string {
  return JSON.stringify([ports, Object.entries(types).sort()]);
}

/** The node's half, in the host: its worker, the queue of requests, the one running. */
class IsolatedNode {
  readonly #name: string;
  readonly #where: string;
  readonly #source: IsolatedNodeSource;
  readonly #args: readonly string[];
  readonly #base: URL;
  readonly #deadline: number;
  #ports: readonly Port[] = [];
  #shape = "";
  #isolate: Isolate | undefined;
  /** Resolves once the current worker's init is done; rejects with its init error. */
  #ready: Promise<FromIsolate & { type: "ready" }> | undefined;
  #onReady: ((message: FromIsolate) => void) | undefined;
  #turn: Promise<unknown> = Promise.resolve();
  #running: Running | undefined;
  #nextId = 0;
  #unloaded: (() => void) | undefined;
  #closed = false;

  constructor(source: IsolatedNodeSource, name: string, args: readonly string[], base: URL) {
    this.#source = source;
    this.#name = name;
    this.#where = `${source.file}: node "${name}"`;
    this.#args = args;
    this.#base = base;
    this.#deadline = source.isolate.deadline ?? ISOLATE_LIMITS.deadline;
  }

  /** Starts the first worker, runs init there, and declares its ports here. */
  async init(env: InitEnv): Promise<void> {
    // The worker loads plumb's modules itself: local files need read permission.
    const root = new URL("../", import.meta.url);
    if (
      root.protocol === "file:" &&
      Deno.permissions.querySync({ name: "read", path: root }).state !== "granted"
    ) {
      throw new GraphError(
        "PLUMB_PERMISSION_ISOLATE",
        `${this.#where}: its worker cannot load plumb's modules: permission denied; run deno ` +
          `with --allow-read=${decodeURIComponent(root.pathname).replace(/\/$/, "")}`,
      );
    }
    const ready = await this.#start();
    const ports: Port[] = [];
    for (const data of ready.ports) ports.push(declare(env, ports, data, ready.pipeTypes));
    this.#ports = ports;
    this.#shape = shapeOf(ready.ports, ready.pipeTypes);
  }

  /** A fresh worker, with its init run. Rejects with the init's error (the worker is gone then). */
  #start(): Promise<FromIsolate & { type: "ready" }> {
    const worker = new Worker(new URL("./isolate_worker.ts", import.meta.url), {
      type: "module",
      name: `plumb isolate ${this.#name}`,
    });
    const signal = new SharedArrayBuffer(4);
    const channel = new MessageChannel();
    const isolate: Isolate = { worker, signal: new Int32Array(signal), answers: channel.port1 };
    this.#isolate = isolate;
    const ready = new Promise<FromIsolate & { type: "ready" }>((resolve, reject) => {
      this.#onReady = (message) => {
        this.#onReady = undefined;
        if (message.type === "ready") return resolve(message);
        this.#stop(isolate);
        if (message.type === "initFailed") {
          const error = toError(message.error);
          // The worker's loader names the file and node, as the host's would.
          reject(
            error instanceof PlumbError && error.message.startsWith(this.#where)
              ? new GraphError(error.code, error.message)
              : error,
          );
        }
      };
    });
    worker.onmessage = (event: MessageEvent<FromIsolate>) => this.#receive(isolate, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#crashed(isolate, event.message ?? String(event.error));
    };
    this.#post(isolate, {
      type: "init",
      file: this.#source.file,
      base: this.#base.href,
      node: this.#name,
      specifier: this.#source.specifier,
      args: this.#args,
      signal,
      answers: channel.port2,
    }, [channel.port2]);
    return this.#ready = ready;
  }

  #post(isolate: Isolate, message: ToIsolate, transfer: Transferable[] = []): void {
    if (this.#isolate !== isolate) return; // a terminated worker gets nothing more
    isolate.worker.postMessage(message, transfer);
  }

  /** Terminates a worker; the next request starts a fresh one. */
  #stop(isolate: Isolate): void {
    isolate.worker.terminate();
    isolate.answers.close();
    if (this.#isolate === isolate) {
      this.#isolate = undefined;
      this.#ready = undefined;
      this.#unloaded?.(); // an unload waiting for this worker waits no more
    }
  }

  /** The worker died (it could not start, or an error escaped it): the request it ran fails. */
  #crashed(isolate: Isolate, why: string): void {
    if (this.#isolate !== isolate) return;
    const starting = this.#onReady;
    const error = new PlumbError(
      "PLUMB_ISOLATE_CRASHED",
      `${this.#where}: its worker stopped: ${why.split("\n")[0]}`,
    );
    this.#stop(isolate);
    starting?.({ type: "initFailed", error: errorData(error) });
    this.#settle(this.#running, error);
    if (starting === undefined) this.#restart();
  }

  /** Runs one request in the worker, after the requests before it. */
  exec(task: Task): Promise<void> {
    const run = this.#turn.then(() => this.#run(task));
    this.#turn = run.catch(() => {});
    return run;
  }

  async #run(task: Task): Promise<void> {
    if (task.signal.aborted) throw task.signal.reason;
    if (this.#closed) {
      throw new PlumbError(
        "PLUMB_ISOLATE_CRASHED",
        `${this.#where}: its worker stopped: the node was unloaded`,
      );
    }
    if (this.#ready === undefined) this.#restart();
    const ready = await this.#ready!; // an init that failed here fails the request, and is tried again
    if (this.#isolate === undefined) {
      throw new PlumbError(
        "PLUMB_ISOLATE_CRASHED",
        `${this.#where}: its worker stopped: the node was unloaded`,
      );
    }
    const shape = shapeOf(ready.ports, ready.pipeTypes);
    if (shape !== this.#shape) {
      this.#stop(this.#isolate!);
      throw new PlumbError(
        "PLUMB_ISOLATE_PORTS_CHANGED",
        `${this.#where}: init in a fresh worker declared other ports than the first time; ` +
          `an isolated servlet's init must declare the same ports each time it runs`,
      );
    }
    const isolate = this.#isolate!;
    const id = this.#nextId++;
    const done = new Promise<void>((resolve, reject) => {
      this.#running = {
        id,
        task,
        resolve,
        reject,
        pending: 0,
        used: 0,
        since: undefined,
        timer: undefined,
      };
    });
    const running = this.#running!;
    // The request is over for the host (the client left, requestTimeout, the host stops): the
    // worker's task.signal aborts, and a worker that does not end the exec soon is stopped.
    let grace: ReturnType<typeof setTimeout> | undefined;
    const abort = (): void => {
      this.#post(isolate, { type: "abort", id, reason: errorData(task.signal.reason) });
      grace = setTimeout(() => {
        if (this.#running !== running) return;
        this.#stop(isolate);
        this.#settle(running, toError(errorData(task.signal.reason)));
        this.#restart();
      }, ABORT_GRACE_MS);
    };
    task.signal.addEventListener("abort", abort, { once: true });
    this.#post(isolate, {
      type: "exec",
      id,
      event: task.event,
      peer: task.connection?.peer ?? null,
    });
    this.#clockOn(running);
    try {
      await done;
    } finally {
      task.signal.removeEventListener("abort", abort);
      clearTimeout(grace);
    }
  }

  /** After a worker was stopped: a fresh one, whose init runs before the next request comes. */
  #restart(): void {
    if (this.#closed || this.#ready !== undefined) return;
    this.#start().catch(() => {}); // the request that awaits it gets the error
  }

  #clockOn(running: Running): void {
    running.since = performance.now();
    running.timer = setTimeout(() => this.#expired(running), this.#deadline * 1000 - running.used);
  }

  #clockOff(running: Running): void {
    if (running.since !== undefined) running.used += performance.now() - running.since;
    running.since = undefined;
    clearTimeout(running.timer);
    running.timer = undefined;
  }

  /** The deadline passed while the exec computed: the worker is stopped, the request fails. */
  #expired(running: Running): void {
    if (this.#running !== running || running.pending > 0) return;
    this.#stop(this.#isolate!);
    this.#settle(
      running,
      new PlumbError(
        "PLUMB_ISOLATE_DEADLINE",
        `node "${this.#name}": exec computed for ${this.#deadline} s in its worker (the node's ` +
          `"isolate" deadline); the worker was stopped, and a fresh one serves the next request`,
      ),
    );
    this.#restart();
  }

  /** Ends the running request: resolved, or failed with `error`. */
  #settle(running: Running | undefined, error?: Error): void {
    if (running === undefined || this.#running !== running) return;
    this.#clockOff(running);
    this.#running = undefined;
    if (error === undefined) running.resolve();
    else running.reject(error);
  }

  #receive(isolate: Isolate, message: FromIsolate): void {
    if (this.#isolate !== isolate) return;
    switch (message.type) {
      case "ready":
      case "initFailed":
        this.#onReady?.(message);
        return;
      case "call":
        return this.#call(isolate, message);
      case "sync":
        return this.#sync(isolate, message);
      case "done":
      case "failed": {
        const running = this.#running;
        if (running?.id !== message.id) return;
        this.#settle(running, message.type === "failed" ? toError(message.error) : undefined);
        return;
      }
      case "stray": {
        // As a servlet in the host's isolate: the host's handlers of strays see it.
        const error = toError(message.error);
        if (message.rejection) Promise.reject(error);
        else {setTimeout(() => {
            throw error;
          });}
        return;
      }
      case "unloaded":
        this.#unloaded?.();
        return;
    }
  }

  /** The running request's task, if the message is of it. */
  #task(id: number): Task {
    const running = this.#running;
    if (running?.id !== id) {
      throw new PlumbError(
        "PLUMB_PIPE_AFTER_END",
        `node "${this.#name}": a call after its task ended; await every read and write before ` +
          `exec returns`,
      );
    }
    return running.task;
  }

  #call(isolate: Isolate, message: FromIsolate & { type: "call" }): void {
    const running = this.#running?.id === message.id ? this.#running : undefined;
    if (running !== undefined && running.pending++ === 0) this.#clockOff(running);
    let result: Promise<unknown>;
    try {
      result = callTask(this.#task(message.id), this.#ports, message.op, message.port, message.arg);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => {
        // A chunk read is a copy of the host's own (a value read may be shared with a shadow).
        const transfer = message.op === "read" && value instanceof Uint8Array
          ? [value.buffer as ArrayBuffer]
          : [];
        try {
          this.#post(isolate, { type: "answer", call: message.call, ok: true, value }, transfer);
        } catch (error) {
          this.#post(isolate, {
            type: "answer",
            call: message.call,
            ok: false,
            error: this.#uncopyable(error),
          });
        }
      },
      (error) =>
        this.#post(isolate, {
          type: "answer",
          call: message.call,
          ok: false,
          error: errorData(error),
        }),
    ).finally(() => {
      if (running !== undefined && --running.pending === 0 && this.#running === running) {
        this.#clockOn(running);
      }
    });
  }

  #uncopyable(error: unknown): ErrorData {
    return errorData(
      new PlumbError(
        "PLUMB_ISOLATE_UNSUPPORTED",
        `node "${this.#name}": a value that cannot be copied to its worker ` +
          `(${(error as Error).message}) in an isolated servlet (it runs in a worker of its own)`,
      ),
    );
  }

  #sync(isolate: Isolate, message: FromIsolate & { type: "sync" }): void {
    let answer: SyncAnswer;
    try {
      const value = syncTask(
        this.#task(message.id),
        this.#ports,
        message.op,
        message.port,
        message.args,
      );
      answer = { ok: true, value };
    } catch (error) {
      answer = { ok: false, error: errorData(error) };
    }
    try {
      isolate.answers.postMessage(answer);
    } catch (error) {
      isolate.answers.postMessage({ ok: false, error: this.#uncopyable(error) });
    }
    Atomics.store(isolate.signal, 0, 1);
    Atomics.notify(isolate.signal, 0);
  }

  /** Runs the servlet's unload in the worker (bounded in time), then terminates the worker. */
  async unload(): Promise<void> {
    this.#closed = true;
    const isolate = this.#isolate;
    if (isolate === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unloaded = new Promise<void>((resolve) => {
      this.#unloaded = resolve;
      timer = setTimeout(resolve, UNLOAD_LIMIT_MS);
    });
    this.#post(isolate, { type: "unload" });
    await unloaded;
    clearTimeout(timer);
    this.#stop(isolate);
    this.#settle(
      this.#running,
      new PlumbError(
        "PLUMB_ISOLATE_CRASHED",
        `${this.#where}: its worker stopped: the node was unloaded`,
      ),
    );
  }
}

/** Declares a port the worker's init declared, with the same options. */
function declare(
  env: InitEnv,
  ports: readonly Port[],
  data: PortData,
  pipeTypes: Record<string, string>,
): Port {
  const { name, alias, flags, type } = data;
  const typed = type !== undefined && Object.hasOwn(pipeTypes, type)
    ? { name: type, extends: pipeTypes[type] }
    : type;
  const options: OutputOptions<unknown> = {
    type: typed,
    persist: (flags & PERSIST) !== 0,
    alias,
    async: (flags & ASYNC) !== 0,
    disabled: (flags & DISABLED) !== 0,
    shadowOf: flags & SHADOW ? ports[flags & DESCRIPTOR_MASK] : undefined,
  };
  return flags & OUTPUT ? env.output(name, options) : env.input(name, options);
}

/** Runs an async call of the worker on the real task. */
function callTask(
  task: Task,
  ports: readonly Port[],
  op: AsyncOp,
  id: number,
  arg: unknown,
): Promise<unknown> {
  const port = ports[id] as Port<never>;
  switch (op) {
    case "read":
      return task.read(port as Port<Uint8Array>).then((chunk) => chunk?.slice() ?? null);
    case "readLine":
      return task.readLine(port as Port<string>);
    case "eof":
      return task.eof(port);
    case "more":
      return task.more(port as Port<Uint8Array>);
    case "readValue":
      return task.readValue(port);
    case "write":
      return task.write(port as Port<Uint8Array | string>, arg as Uint8Array | string);
    case "writeValue":
      return task.writeValue(port as Port<unknown>, arg);
    case "forward":
      return task.forward(port, ports[arg as number] as Port<never>);
    case "drain":
      return task.drain(port);
  }
}

/** Runs a sync call of the worker on the real task. */
function syncTask(
  task: Task,
  ports: readonly Port[],
  op: SyncOp,
  id: number,
  args: unknown[],
): unknown {
  const port = ports[id] as Port<never>;
  switch (op) {
    case "cntl":
      return (task.cntl as (port: Port<never>, ...args: unknown[]) => unknown)(port, ...args);
    case "keepAlive":
      return task.keepAlive(port, args[0] as boolean | undefined);
    case "enable":
      return task.enable(port, args[0] as boolean);
    case "release":
      return task.release(port);
    case "unread":
      return task.cntl(port, "EOM", args[0] as Uint8Array, 0);
    case "closed":
      return task.connection?.closed ?? true;
    case "state":
      return task.connection?.state();
    case "setState":
      return task.connection?.setState(args[0]);
    case "connectionKeepAlive":
      return task.connection?.keepAlive(args[0] as boolean);
  }
}

/**
 * The servlet that stands for an isolated node in the host: its `init` starts
 * the node's worker, its `exec` runs each request there under the node's
 * deadline, its `unload` stops the worker.
 *
 * @param source the graph file, the servlet's specifier and the node's `"isolate"`
 * @returns a servlet for the host's loader, in place of the one it names
 *
 * @example
 * ```ts
 * import { isolatedServlet } from "./isolated_servlet.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const servlet = isolatedServlet({ file: "g.json", specifier: "echo", isolate: { deadline: 2 } });
 * assertEquals(typeof servlet.exec, "function");
 * ```
 */
export function isolatedServlet(source: IsolatedNodeSource): Servlet<IsolatedNode> {
  return defineServlet({
    description: `${source.specifier}, in a worker of its own`,
    async init(args, env): Promise<IsolatedNode> {
      const node = new IsolatedNode(source, env.node, args, env.base);
      await node.init(env);
      return node;
    },
    exec: (node, task) => node.exec(task),
    unload: (node) => node.unload(),
  });
}
