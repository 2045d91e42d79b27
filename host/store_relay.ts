/**
 * The store across `--workers`: the main side holds the one back end, and
 * each worker gets a relay back end whose operations are messages to the
 * main side, answered by id in whatever order the back end finishes them.
 * Nothing here knows how the messages travel (`postMessage`, a pipe): the
 * worker side gives {@linkcode relayStore} a `send`, and hands it each
 * answer; the main side gives each request to a {@linkcode StoreServer} and
 * sends back what it returns.
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import { PlumbError, toPlumbError } from "../kernel/errors.ts";
import type { KeyValueStore, StoreBackend } from "../kernel/store.ts";

/** The operations of a {@linkcode KeyValueStore}. */
export type StoreOp = "get" | "set" | "create" | "delete";

/** A worker asks the main side for one store operation. Plain data: it crosses as is, or as JSON. */
export interface StoreRequest {
  type: "store";
  /** The worker's number for this request; the answer carries it back. */
  id: number;
  bucket: string;
  op: StoreOp;
  key: string;
  /** The value, for `set` and `create`. */
  value?: string;
}

/** The main side's answer to one {@linkcode StoreRequest}. */
export interface StoreAnswer {
  type: "store";
  /** The request's id. */
  id: number;
  /** What the operation returned: `get`'s value or null, `create`'s and `delete`'s boolean, null for `set`. */
  result: string | boolean | null;
  /** Set when the operation failed: the code and message to rethrow in the worker. */
  error?: { code: Code; message: string };
}

/**
 * The main side: runs each worker's request on the back end the main side
 * holds. Each bucket is opened once.
 *
 * @example
 * ```ts
 * import { StoreServer } from "./store_relay.ts";
 * import { memoryStore } from "../kernel/store.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new StoreServer(memoryStore());
 * const set = { type: "store", id: 1, bucket: "b", op: "set", key: "k", value: "v" } as const;
 * assertEquals(await server.answer(set), { type: "store", id: 1, result: null });
 * const get = { type: "store", id: 2, bucket: "b", op: "get", key: "k" } as const;
 * assertEquals(await server.answer(get), { type: "store", id: 2, result: "v" });
 * ```
 */
export class StoreServer {
  readonly #backend: StoreBackend;
  readonly #buckets = new Map<string, KeyValueStore>();

  /** @param backend the back end every worker's buckets live in */
  constructor(backend: StoreBackend) {
    this.#backend = backend;
  }

  /** Runs `request`; resolves with its answer, never rejects (a failure is the answer's `error`). */
  async answer(request: StoreRequest): Promise<StoreAnswer> {
    const { id, bucket, op, key, value } = request;
    try {
      let store = this.#buckets.get(bucket);
      if (store === undefined) this.#buckets.set(bucket, store = this.#backend.open(bucket));
      let result: string | boolean | null;
      if (op === "get") result = (await store.get(key)) ?? null;
      else if (op === "set") result = (await store.set(key, value ?? ""), null);
      else if (op === "create") result = await store.create(key, value ?? "");
      else if (op === "delete") result = await store.delete(key);
      else throw new Error(`unknown store operation ${JSON.stringify(op)}`);
      return { type: "store", id, result };
    } catch (thrown) {
      const error = toPlumbError(thrown);
      return {
        type: "store",
        id,
        result: null,
        error: { code: error.code, message: error.message },
      };
    }
  }
}

/** A worker's back end: its operations go to the main side as messages. */
export interface RelayBackend extends StoreBackend {
  /** Hands the relay an answer from the main side (one of an unknown id is ignored). */
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
 * const server = new StoreServer(memoryStore());
 * const relay = relayStore((request) => server.answer(request).then((a) => relay.receive(a)));
 * const kv = relay.open("demo");
 * assertEquals(await kv.create("k", "first"), true);
 * assertEquals(await kv.create("k", "second"), false);
 * assertEquals(await kv.get("k"), "first");
 * ```
 */
export function relayStore(send: (request: StoreRequest) => void): RelayBackend {
  const waiting = new Map<number, Waiting>();
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
      send(
        value === undefined
          ? { type: "store", id, bucket, op, key }
          : { type: "store", id, bucket, op, key, value },
      );
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
      const op = waiting.get(answer.id);
      if (op === undefined) return;
      waiting.delete(answer.id);
      if (answer.error === undefined) op.resolve(answer.result);
      else op.reject(new PlumbError(answer.error.code, answer.error.message));
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
