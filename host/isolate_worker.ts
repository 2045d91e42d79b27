/**
 * The code an isolated node's worker runs: it loads the node's servlet and
 * runs its `init` (the kernel's loader, as the host does), then each `exec`
 * the host sends, on a task whose every call is a message the host answers
 * with the request's real task. See `host/isolated_servlet.ts`.
 * @module
 */
import { type MessagePort as NodeMessagePort, receiveMessageOnPort } from "node:worker_threads";
import { PipeError, PlumbError } from "../kernel/errors.ts";
import { SHADOW } from "../kernel/flags.ts";
import { type LoadedNode, loadNode, resolvePath, type ServletResolver } from "../kernel/loader.ts";
import type { Connection } from "../kernel/connection.ts";
import type { AnyPort, Port, RequestEvent, Task } from "../kernel/servlet.ts";
import type { KeyValueStore, StoreBackend } from "../kernel/store.ts";
import { readableFrom, writableTo } from "../kernel/stream_util.ts";
import {
  type AsyncOp,
  errorData,
  type FromIsolate,
  type SyncAnswer,
  type SyncOp,
  toError,
  type ToIsolate,
} from "./_isolate_protocol.ts";

/** The worker's global scope, as far as this module uses it. */
interface WorkerScope {
  postMessage(message: FromIsolate, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToIsolate>) => void) | null;
  addEventListener(
    type: "unhandledrejection" | "error",
    listener: (event: Event & { reason?: unknown; error?: unknown }) => void,
  ): void;
}

const scope = globalThis as unknown as WorkerScope;

/** What cannot cross between the worker and the host, as the error the servlet gets. */
function unsupported(what: string): PlumbError {
  return new PlumbError(
    "PLUMB_ISOLATE_UNSUPPORTED",
    `node "${node?.name ?? "?"}": ${what} in an isolated servlet (it runs in a worker of its own)`,
  );
}

/** Posts `message`; a value that cannot be copied to the host is the servlet's error. */
function post(message: FromIsolate, transfer: Transferable[] = []): void {
  try {
    scope.postMessage(message, transfer);
  } catch (error) {
    if (error instanceof DOMException && error.name === "DataCloneError") {
      throw unsupported(`a value that cannot be copied to the host (${error.message})`);
    }
    throw error;
  }
}

/** The store of an isolated node: none, said when `init` asks for a bucket. */
const NO_STORE: StoreBackend = {
  name: "none",
  open(): KeyValueStore {
    throw unsupported("env.store is not available");
  },
  close: () => Promise.resolve(),
};

/** A specifier that is a path or a URL, not a built-in name (as `host/servlet_registry.ts` tells). */
const PATH_OR_URL = /^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i;

let node: LoadedNode | undefined;
let signal: Int32Array | undefined;
let answers: MessagePort | undefined;
let nextCall = 0;
const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
const running = new Map<number, IsolatedTask>();

/** A copy of `bytes` with a buffer of its own, to transfer. */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.slice();
}

/** One exec's task: each call is a message to the host, which runs it on the real task. */
class IsolatedTask implements Task {
  readonly event: RequestEvent;
  readonly connection: Connection | null;
  readonly #id: number;
  readonly #abort = new AbortController();
  #ended = false;

  constructor(id: number, event: RequestEvent, peer: string | null) {
    this.#id = id;
    this.event = event;
    this.connection = peer === null ? null : this.#connection(peer);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  abort(reason: Error): void {
    this.#abort.abort(reason);
  }

  end(): void {
    this.#ended = true;
  }

  #connection(peer: string): Connection {
    const sync = (op: SyncOp, args: unknown[] = []): unknown => this.#sync(op, 0, args);
    return {
      peer,
      get closed(): boolean {
        return sync("closed") as boolean;
      },
      state<S>(): S | undefined {
        return sync("state") as S | undefined;
      },
      setState<S>(state: S | undefined, dispose?: (state: S) => void): void {
        if (dispose !== undefined) throw unsupported("a dispose function is not supported");
        sync("setState", [state]);
      },
      keepAlive(keep: boolean): void {
        sync("connectionKeepAlive", [keep]);
      },
      handle(): never {
        throw unsupported("task.connection.handle() (a push to the connection) is not supported");
      },
    };
  }

  /** The port's descriptor, once the port is checked to be this node's. */
  #port(port: AnyPort | Port, verb: string): number {
    if (this.#ended) {
      throw new PipeError(
        "PLUMB_PIPE_AFTER_END",
        `node "${node!.name}": ${verb} on port "${port?.name}" after its task ended; ` +
          `await every read and write before exec returns`,
      );
    }
    if (node!.ports[port?.id] !== port) {
      throw new PipeError(
        "PLUMB_PIPE_UNKNOWN_PORT",
        `node "${node!.name}": ${verb} on a port this node did not declare; ` +
          `use the descriptors that init's env.define returned`,
      );
    }
    return port.id;
  }

  #call<T>(
    op: AsyncOp,
    port: AnyPort | Port,
    arg?: unknown,
    transfer?: Transferable[],
  ): Promise<T> {
    try {
      const id = this.#port(port, op);
      const call = nextCall++;
      const answer = new Promise<unknown>((resolve, reject) =>
        waiting.set(call, { resolve, reject })
      );
      try {
        post({ type: "call", id: this.#id, call, op, port: id, arg }, transfer);
      } catch (error) {
        waiting.delete(call);
        throw error;
      }
      return answer as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #sync(op: SyncOp, port: number, args: unknown[]): unknown {
    Atomics.store(signal!, 0, 0);
    post({ type: "sync", id: this.#id, op, port, args });
    Atomics.wait(signal!, 0, 0);
    const answer = receiveMessageOnPort(answers as unknown as NodeMessagePort)?.message as
      | SyncAnswer
      | undefined;
    if (answer === undefined) throw new Error("isolated servlet: the host did not answer");
    if (!answer.ok) throw toError(answer.error);
    return answer.value;
  }

  #syncOn(op: SyncOp, port: AnyPort | Port, args: unknown[] = []): unknown {
    return this.#sync(op, this.#port(port, op), args);
  }

  read(port: Port<Uint8Array>): Promise<Uint8Array | null> {
    return this.#call("read", port);
  }

  readLine(port: Port<string>): Promise<string | null> {
    return this.#call("readLine", port);
  }

  eof(port: AnyPort): Promise<boolean> {
    return this.#call("eof", port);
  }

  more(port: Port<Uint8Array>): Promise<boolean> {
    return this.#call("more", port);
  }

  write(port: Port<Uint8Array | string>, data: Uint8Array | string): Promise<void> {
    if (typeof data === "string") return this.#call("write", port, data);
    const bytes = own(data);
    return this.#call("write", port, bytes, [bytes.buffer]);
  }

  readValue<T = unknown>(port: Port<T>): Promise<T | null> {
    return this.#call("readValue", port);
  }

  writeValue<T>(port: Port<T>, value: T): Promise<void> {
    return this.#call("writeValue", port, value);
  }

  forward(from: AnyPort, to: AnyPort): Promise<boolean> {
    try {
      return this.#call("forward", from, this.#port(to, "forward"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  drain(port: AnyPort): Promise<boolean> {
    return this.#call("drain", port);
  }

  release(port: AnyPort): void {
    this.#syncOn("release", port);
  }

  readable(port: Port<Uint8Array>): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#port(port, "readable");
    return readableFrom(
      () => this.read(port),
      (rest) => this.#syncOn("unread", port, [own(rest)]),
      () => this.release(port),
    );
  }

  writable(port: Port<Uint8Array>): WritableStream<Uint8Array> {
    this.#port(port, "writable");
    return writableTo((chunk) => this.write(port as Port<Uint8Array | string>, chunk));
  }

  cntl(port: AnyPort, op: string, arg?: unknown, extra?: unknown): never {
    if (typeof extra === "function") {
      throw unsupported("a PUSH_STATE dispose function is not supported");
    }
    return this.#syncOn("cntl", port, [op, arg, extra]) as never;
  }

  pushState<S>(port: AnyPort, state: S, dispose?: (state: S) => void): void {
    this.cntl(port, "PUSH_STATE", state, dispose);
  }

  popState<S>(port: AnyPort): S | undefined {
    return this.cntl(port, "POP_STATE") as S | undefined;
  }

  async *lines(port: Port<string>): AsyncGenerator<string, void, undefined> {
    while (!(await this.eof(port))) {
      const line = await this.readLine(port);
      if (line === null) return;
      yield line;
    }
  }

  async *chunks(port: Port<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
    for (let chunk = await this.read(port); chunk !== null; chunk = await this.read(port)) {
      yield chunk;
    }
  }

  async *values<T>(port: Port<T>): AsyncGenerator<T, void, undefined> {
    while (!(await this.eof(port))) {
      const value = await this.readValue<T>(port);
      if (value === null) return;
      yield value;
    }
  }

  keepAlive(port: AnyPort, keep?: boolean): boolean {
    return this.#syncOn("keepAlive", port, [keep]) as boolean;
  }

  enable(port: AnyPort, enabled = true): void {
    if (node!.ports[port?.id] === port && !(port.flags & SHADOW)) {
      throw new PipeError(
        "PLUMB_PIPE_ENABLE_NOT_SHADOW",
        `node "${node!.name}": enable on port "${port.name}", which is not a shadow; ` +
          `declare it with env.output(name, { shadowOf, disabled: true })`,
      );
    }
    this.#syncOn("enable", port, [enabled]);
  }
}

async function init(message: Extract<ToIsolate, { type: "init" }>): Promise<void> {
  signal = new Int32Array(message.signal);
  answers = message.answers;
  try {
    // The built-ins are imported only for a built-in: a worker starts sooner without them.
    const resolve: ServletResolver = PATH_OR_URL.test(message.specifier)
      ? resolvePath
      : (await import("./servlet_registry.ts")).resolveServlet;
    node = await loadNode(
      message.file,
      new URL(message.base),
      message.node,
      message.specifier,
      message.args,
      resolve,
      NO_STORE,
    );
  } catch (error) {
    post({ type: "initFailed", error: errorData(error) });
    return;
  }
  post({
    type: "ready",
    ports: node.ports.map(({ name, alias, flags, type }) =>
      alias === undefined ? { name, flags, type } : { name, alias, flags, type }
    ),
    pipeTypes: { ...node.pipeTypes },
  });
}

async function exec(id: number, event: RequestEvent, peer: string | null): Promise<void> {
  const task = new IsolatedTask(id, event, peer);
  running.set(id, task);
  try {
    await node!.servlet.exec(node!.ctx, task);
    post({ type: "done", id });
  } catch (error) {
    post({ type: "failed", id, error: errorData(error) });
  } finally {
    task.end();
    running.delete(id);
  }
}

async function unload(): Promise<void> {
  try {
    await node?.servlet.unload?.(node.ctx);
    post({ type: "unloaded" });
  } catch (error) {
    post({ type: "unloaded", error: errorData(error) });
  }
}

scope.onmessage = (event: MessageEvent<ToIsolate>): void => {
  const message = event.data;
  switch (message.type) {
    case "init":
      init(message);
      break;
    case "exec":
      exec(message.id, message.event, message.peer);
      break;
    case "answer": {
      const call = waiting.get(message.call);
      if (call === undefined) break;
      waiting.delete(message.call);
      if (message.ok) call.resolve(message.value);
      else call.reject(toError(message.error));
      break;
    }
    case "abort":
      running.get(message.id)?.abort(toError(message.reason));
      break;
    case "unload":
      unload();
      break;
  }
};

// A servlet's stray rejection or exception goes to the host, which treats it
// as it treats one of a servlet that is not isolated; the worker goes on.
scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  post({ type: "stray", rejection: true, error: errorData(event.reason) });
});
scope.addEventListener("error", (event) => {
  event.preventDefault();
  post({ type: "stray", rejection: false, error: errorData(event.error) });
});
