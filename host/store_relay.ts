/**
 * The store across `--workers`: the main side holds the one back end, and
 * each worker gets a relay back end whose operations are messages to the
 * main side, answered by id in whatever order the back end finishes them;
 * the operations (and the answers) of one turn of the event loop travel
 * together, as one message.
 * Nothing here knows how the messages travel (`postMessage`, a pipe): the
 * worker side gives {@linkcode relayStore} a `send`, and hands it each
 * answer; the main side gives each worker's requests to that worker's
 * {@linkcode StoreServer.channel}, which sends the answers back.
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import { PlumbError, toPlumbError } from "../kernel/errors.ts";
import type { KeyValueStore, StoreBackend } from "../kernel/store.ts";

/** The operations of a {@linkcode KeyValueStore}. */
export type StoreOp = "get" | "set" | "create" | "delete";

/** One operation a worker asks of the main side. */
export interface StoreOperation {
  /** The worker's number for this operation; its result carries it back. */
  id: number;
  bucket: string;
  op: StoreOp;
  key: string;
  /** The value, for `set` and `create`. */
  value?: string;
}

/**
 * A worker's operations for the main side: those its servlets started
 * together (in one turn of its event loop) travel as one message. Plain
 * data: it crosses as is, or as JSON.
 */
export interface StoreRequest {
  type: "store";
  ops: StoreOperation[];
}

/** The outcome of one {@linkcode StoreOperation}. */
export interface StoreResult {
  /** The operation's id. */
  id: number;
  /** What it returned: `get`'s value or null, `create`'s and `delete`'s boolean, null for `set`. */
  result: string | boolean | null;
  /** Set when it failed: the code and message to rethrow in the worker. */
  error?: { code: Code; message: string };
}

/** The main side's results, those that finished together in one message, in any order. */
export interface StoreAnswer {
  type: "store";
  results: StoreResult[];
}

/**
 * Collects what is added in one turn of the event loop and hands it on in
 * one call, once the turn's promise callbacks have run: one message for
 * many operations when many connections are busy, and no delay for one.
 */
function batcher<T>(flush: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  const send = (): void => {
    const batch = items;
    items = [];
    flush(batch);
  };
  return (item: T): void => {
    if (items.length === 0) queueMicrotask(send);
    items.push(item);
  };
}

/**
 * The main side: runs the workers' operations on the back end it holds,
 * each bucket opened once. Each worker gets a channel of its own from
 * {@linkcode StoreServer.channel}.
 *
 * @example
 * ```ts
 * import { type StoreAnswer, StoreServer } from "./store_relay.ts";
 * import { memoryStore } from "../kernel/store.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const answers: StoreAnswer[] = [];
 * const toServer = new StoreServer(memoryStore()).channel((answer) => answers.push(answer));
 * toServer({
 *   type: "store",
 *   ops: [
 *     { id: 1, bucket: "b", op: "set", key: "k", value: "v" },
 *     { id: 2, bucket: "b", op: "get", key: "k" },
 *   ],
 * });
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * assertEquals(answers, [{
 *   type: "store",
 *   results: [{ id: 1, result: null }, { id: 2, result: "v" }],
 * }]);
 * ```
 */
export class StoreServer {
  readonly #backend: StoreBackend;
  readonly #buckets = new Map<string, KeyValueStore>();

  /** @param backend the back end every worker's buckets live in */
  constructor(backend: StoreBackend) {
    this.#backend = backend;
  }

  /**
   * A channel for one worker: give it each {@linkcode StoreRequest} the
   * worker sends; `reply` gets the answers to send back. A request's
   * operations start in their order; each result goes back as soon as it
   * is known, with those known at the same time.
   */
  channel(reply: (answer: StoreAnswer) => void): (request: StoreRequest) => void {
    const result = batcher<StoreResult>((results) => reply({ type: "store", results }));
    return (request: StoreRequest): void => {
      for (const operation of request.ops) this.#run(operation).then(result);
    };
  }

  /** Runs one operation; resolves with its result, never rejects (a failure is the result's `error`). */
  async #run({ id, bucket, op, key, value }: StoreOperation): Promise<StoreResult> {
    try {
      let store = this.#buckets.get(bucket);
      if (store === undefined) this.#buckets.set(bucket, store = this.#backend.open(bucket));
      let result: string | boolean | null;
      if (op === "get") result = (await store.get(key)) ?? null;
      else if (op === "set") result = (await store.set(key, value ?? ""), null);
      else if (op === "create") result = await store.create(key, value ?? "");
      else if (op === "delete") result = await store.delete(key);
      else throw new Error(`unknown store operation ${JSON.stringify(op)}`);
      return { id, result };
    } catch (thrown) {
      const error = toPlumbError(thrown);
      return { id, result: null, error: { code: error.code, message: error.message } };
    }
  }
}

/** A worker's back end: its operations go to the main side as messages. */
export interface RelayBackend extends StoreBackend {
  /** Hands the relay an answer from the main side (a result of an unknown id is ignored). */
  receive(answer: StoreAnswer): void;
  /**
   * The main side is gone (its thread ended, the pipe closed): every
   * operation waiting, and every one after, fails with
   * `PLUMB_STORE_RELAY_GONE` and `reason`.
   */
  gone(reason: string): void;
  /** Operations sent and not answered yet. */
  readonly pending: number;
}

/** An operation waiting for its answer. */
interface Waiting {
  resolve(result: string | boolean | null): void;
  reject(error: Error): void;
  /** For the message when the main side is gone: `get "k" in bucket "b"`. */
  what: string;
}

function goneError(what: string, reason: string): PlumbError {
  return new PlumbError(
    "PLUMB_STORE_RELAY_GONE",
    `cannot ${what}: the store is held by the main side of --workers, which is gone (${reason})`,
  );
}

/**
 * The worker side: a back end that sends each operation with `send` and
 * settles it when {@linkcode RelayBackend.receive} gets its answer.
 *
 * @param send passes a request to the main side
 *
 * @example
 * ```ts
 * import { relayStore, StoreServer } from "./store_relay.ts";
 * import { memoryStore } from "../kernel/store.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // Here the "main side" is in the same isolate; --workers puts a message channel between.
 * const toServer = new StoreServer(memoryStore()).channel((answer) => relay.receive(answer));
 * const relay = relayStore(toServer);
 * const kv = relay.open("demo");
 * assertEquals(await kv.create("k", "first"), true);
 * assertEquals(await kv.create("k", "second"), false);
 * assertEquals(await kv.get("k"), "first");
 * ```
 */
export function relayStore(send: (request: StoreRequest) => void): RelayBackend {
  const waiting = new Map<number, Waiting>();
  const request = batcher<StoreOperation>((ops) => send({ type: "store", ops }));
  let nextId = 1;
  let goneReason: string | undefined;
  const call = (
    bucket: string,
    op: StoreOp,
    key: string,
    value?: string,
  ): Promise<string | boolean | null> => {
    const what = `${op} ${JSON.stringify(key)} in store bucket "${bucket}"`;
    if (goneReason !== undefined) return Promise.reject(goneError(what, goneReason));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject, what });
      request(value === undefined ? { id, bucket, op, key } : { id, bucket, op, key, value });
    });
  };
  return {
    name: "relay to the main side",
    open(bucket: string): KeyValueStore {
      return {
        get: async (key) => {
          const result = await call(bucket, "get", key);
          return typeof result === "string" ? result : undefined;
        },
        set: async (key, value) => {
          await call(bucket, "set", key, value);
        },
        create: async (key, value) => (await call(bucket, "create", key, value)) === true,
        delete: async (key) => (await call(bucket, "delete", key)) === true,
      };
    },
    receive(answer: StoreAnswer): void {
      for (const { id, result, error } of answer.results) {
        const op = waiting.get(id);
        if (op === undefined) continue;
        waiting.delete(id);
        if (error === undefined) op.resolve(result);
        else op.reject(new PlumbError(error.code, error.message));
      }
    },
    gone(reason: string): void {
      goneReason ??= reason;
      for (const op of waiting.values()) op.reject(goneError(op.what, goneReason));
      waiting.clear();
    },
    get pending(): number {
      return waiting.size;
    },
    close(): Promise<void> {
      this.gone("the worker's host closed its store");
      return Promise.resolve();
    },
  };
}
