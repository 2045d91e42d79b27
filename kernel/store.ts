/**
 * The key-value store servlets share beyond one node: `env.store(bucket)` in
 * `init` gives a {@linkcode KeyValueStore}, and the host picks the back end
 * that holds it (in-process by default, shared by every node of the host).
 *
 * One interface, several back ends: a servlet written against it gives the
 * same answers whichever the operator chooses.
 * @module
 */
import { PlumbError } from "./errors.ts";

/**
 * A bucket of string keys to string values. Keys are any non-empty string
 * of at most {@linkcode MAX_KEY_BYTES} bytes of UTF-8; a back end that
 * restricts its keys (NATS KV) encodes them.
 *
 * @example
 * ```ts
 * import { memoryStore } from "./store.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const kv = memoryStore().open("demo");
 * assertEquals(await kv.create("nick/ada", "conn 1"), true);
 * assertEquals(await kv.create("nick/ada", "conn 2"), false);
 * assertEquals(await kv.get("nick/ada"), "conn 1");
 * assertEquals(await kv.delete("nick/ada"), true);
 * assertEquals(await kv.get("nick/ada"), undefined);
 * ```
 */
export interface KeyValueStore {
  /** The value of `key`, or `undefined` when it has none. */
  get(key: string): Promise<string | undefined>;
  /** Sets `key` to `value`, whatever it held. */
  set(key: string, value: string): Promise<void>;
  /**
   * Sets `key` only when it has no value: `true` when this call set it. The
   * claim is atomic across everyone sharing the bucket (a nickname, a lock).
   */
  create(key: string, value: string): Promise<boolean>;
  /** Removes `key`: `true` when it had a value. */
  delete(key: string): Promise<boolean>;
}

/**
 * Where buckets live: the host holds one back end and gives each node the
 * buckets it opens. `close` is called once, when the host stops.
 */
export interface StoreBackend {
  /** The back end's name for messages, for example `"memory"` or `"nats://127.0.0.1:4222"`. */
  readonly name: string;
  /** The bucket named `bucket` (made on first use). */
  open(bucket: string): KeyValueStore;
  /** Releases what the back end holds (connections, timers). */
  close(): Promise<void>;
}

/** What a bucket's name may be: letters, digits, `-` and `_` (so NATS KV can hold it too). */
export const BUCKET_NAME: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks a bucket's name, naming the node that asked for it.
 *
 * @example
 * ```ts
 * import { checkBucketName } from "./store.ts";
 * import { assertThrows } from "@std/assert";
 * checkBucketName("chat", "node \"room\"");
 * assertThrows(() => checkBucketName("a b", "node \"room\""));
 * ```
 */
export function checkBucketName(bucket: string, where: string): void {
  if (!BUCKET_NAME.test(bucket)) {
    throw new PlumbError(
      "PLUMB_STORE_BUCKET_NAME",
      `${where}: store bucket ${JSON.stringify(bucket)} is not a name ` +
        `(1-64 letters, digits, "-" or "_")`,
    );
  }
}

/**
 * The longest key, in bytes of UTF-8. NATS KV carries a key (in base64) in
 * a message's subject, and a NATS server drops a connection whose command
 * line passes 4 KiB: the connection every node of the host shares. Every
 * back end refuses a longer key alike, so that a servlet's answers do not
 * depend on the back end.
 */
export const MAX_KEY_BYTES = 2048;

const encoder = new TextEncoder();

/**
 * Checks a key, naming the bucket it was meant for (`where`): it throws a
 * one-line `PLUMB_STORE_KEY` error for an empty key or one longer than
 * {@linkcode MAX_KEY_BYTES}.
 *
 * @example
 * ```ts
 * import { checkKey } from "./store.ts";
 * import { assertThrows } from "@std/assert";
 * checkKey("nick/ada", 'store memory: bucket "kv"');
 * assertThrows(() => checkKey("k".repeat(3000), 'store memory: bucket "kv"'));
 * ```
 */
export function checkKey(key: string, where: string): void {
  // A UTF-8 key has at least as many bytes as UTF-16 units, at most three times as many.
  const bytes = key.length * 3 <= MAX_KEY_BYTES ? key.length : encoder.encode(key).length;
  if (bytes === 0 || bytes > MAX_KEY_BYTES) {
    throw new PlumbError(
      "PLUMB_STORE_KEY",
      `${where}: a key of ${bytes} bytes; keys are 1 to ${MAX_KEY_BYTES} bytes ` +
        `(store a long one by its hash)`,
    );
  }
}

/** `body`'s value, settled: a rejection when `key` is not one or `body` throws. */
function keyed<T>(key: string, where: string, body: () => T): Promise<T> {
  try {
    checkKey(key, where);
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The in-process back end: buckets are `Map`s in this process, shared by
 * every node that opens the same bucket name from it.
 *
 * @example
 * ```ts
 * import { memoryStore } from "./store.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const backend = memoryStore();
 * await backend.open("a").set("k", "v");
 * assertEquals(await backend.open("a").get("k"), "v");
 * assertEquals(await backend.open("b").get("k"), undefined);
 * ```
 */
export function memoryStore(): StoreBackend {
  const buckets = new Map<string, Map<string, string>>();
  return {
    name: "memory",
    open(bucket: string): KeyValueStore {
      let map = buckets.get(bucket);
      if (map === undefined) buckets.set(bucket, map = new Map());
      const values = map;
      const where = `store memory: bucket ${JSON.stringify(bucket)}`;
      return {
        get: (key) => keyed(key, where, () => values.get(key)),
        set: (key, value) => keyed(key, where, () => void values.set(key, value)),
        create: (key, value) =>
          keyed(key, where, () => {
            if (values.has(key)) return false;
            values.set(key, value);
            return true;
          }),
        delete: (key) => keyed(key, where, () => values.delete(key)),
      };
    },
    close(): Promise<void> {
      buckets.clear();
      return Promise.resolve();
    },
  };
}
