/**
 * The NATS KV back end of the key-value store: each bucket of `env.store`
 * is a NATS KV bucket of the same name (made on first use, keeping one
 * value per key), so every host connected to that NATS server shares it.
 * `create` is NATS KV's own create, atomic across hosts: two hosts claiming
 * one key at once get one `true` and one `false`.
 *
 * NATS KV keys are restricted to a few characters, so each key is stored
 * as its UTF-8 bytes in base64url: any string is a key, as in memory.
 *
 * @example
 * ```ts ignore
 * import { natsStore } from "@plumb/plumb/modules";
 * const backend = await natsStore("nats://127.0.0.1:4222");
 * const nicks = backend.open("chat");
 * await nicks.create("ann", "host a"); // true, on this host or any other
 * await backend.close();
 * ```
 * @module
 */
import type { KV } from "@nats-io/kv";
import { PlumbError } from "../kernel/errors.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import { checkKey, type KeyValueStore, type StoreBackend } from "../kernel/store.ts";
import { natsConnect } from "./nats_connection.ts";

/**
 * The npm package, imported when first needed. Named in a variable, not
 * written in the `import()`, so that Deno does not fetch it as every host
 * starts: a host whose graph uses no NATS never loads it.
 */
const NATS_KV = "@nats-io/kv";

const encoder = new TextEncoder();

/**
 * A key as NATS KV can hold it: its UTF-8 bytes in base64url, no padding.
 *
 * @example
 * ```ts
 * import { natsKey } from "./nats_store.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(natsKey("nick/Ann é"), "bmljay9Bbm4gw6k");
 * ```
 */
export function natsKey(key: string): string {
  let binary = "";
  for (const byte of encoder.encode(key)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Options of {@linkcode natsStore}. */
export interface NatsStoreOptions {
  /** Where the connection's outages are logged. Default: standard error, at `info`. */
  log?: Logger;
}

/**
 * Connects to the NATS server at `url` (with JetStream on: `nats-server
 * -js`) and returns the back end whose buckets are NATS KV buckets there.
 * Rejects with `PLUMB_NATS_CONNECT` when no server answers; later outages
 * are logged and survived, the operations made meanwhile failing with
 * `PLUMB_STORE_NATS_FAILED`.
 *
 * @param url `nats://HOST:PORT`, or several separated by commas
 */
export async function natsStore(
  url: string,
  options: NatsStoreOptions = {},
): Promise<StoreBackend> {
  const name = url.replace(/^(?!nats:\/\/)/, "nats://");
  const link = await natsConnect(url, `store ${name}`, options.log ?? createLogger());
  const { Kvm } = await import(NATS_KV) as typeof import("@nats-io/kv");
  const kvm = new Kvm(link.nc);
  const buckets = new Map<string, Promise<KV>>();
  const bucketOf = (bucket: string): Promise<KV> => {
    let opened = buckets.get(bucket);
    if (opened === undefined) {
      opened = kvm.create(bucket, { history: 1 });
      // A failure (the server away) is not kept: the next operation tries again.
      opened.catch(() => buckets.delete(bucket));
      buckets.set(bucket, opened);
    }
    return opened;
  };
  const failed = (bucket: string, operation: string, error: unknown): PlumbError =>
    new PlumbError(
      "PLUMB_STORE_NATS_FAILED",
      `store ${name}: bucket "${bucket}": ${operation} failed: ${(error as Error).message}`,
      { cause: error },
    );
  return {
    name,
    open(bucket: string): KeyValueStore {
      /** Runs `operation` on the bucket, its failures named. */
      const run = async <T>(
        operation: string,
        key: string,
        body: (kv: KV) => Promise<T>,
      ): Promise<T> => {
        // Before the server sees it: a key too long for a subject would drop the connection.
        checkKey(key, `store ${name}: bucket "${bucket}"`);
        try {
          return await body(await bucketOf(bucket));
        } catch (error) {
          throw failed(bucket, operation, error);
        }
      };
      const get = (key: string): Promise<string | undefined> =>
        run("get", key, async (kv) => {
          const entry = await kv.get(natsKey(key));
          return entry === null || entry.operation !== "PUT" ? undefined : entry.string();
        });
      return {
        get,
        set: (key, value) => run("set", key, async (kv) => void await kv.put(natsKey(key), value)),
        create: (key, value) =>
          run("create", key, async (kv) => {
            try {
              await kv.create(natsKey(key), value);
              return true;
            } catch (error) {
              // The key holds a value: the server refused the write at its expected revision.
              if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
              throw error;
            }
          }),
        delete: (key) =>
          run("delete", key, async (kv) => {
            const entry = await kv.get(natsKey(key));
            if (entry === null || entry.operation !== "PUT") return false;
            await kv.delete(natsKey(key));
            return true;
          }),
      };
    },
    close: () => link.close(),
  };
}
