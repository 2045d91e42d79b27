/**
 * The store back ends `--store URL` can name, by the URL's scheme, and the
 * one function that opens the back end a URL names.
 * @module
 */
import { GraphError, PlumbError } from "../kernel/errors.ts";
import { createLogger, type Logger } from "../kernel/log.ts";
import { memoryStore, type StoreBackend } from "../kernel/store.ts";
import { natsStore } from "../modules/nats_store.ts";

/**
 * Makes the back end a `--store` URL names (it may connect first). It throws
 * a `PlumbError` with a code of its own for a failure past the URL (a server
 * that does not answer), or any other error, whose message says what is
 * wrong with the URL, for one it cannot use.
 */
export type StoreFactory = (url: URL, log: Logger) => StoreBackend | Promise<StoreBackend>;

/**
 * The back ends by scheme (without its `:`): `memory` holds the buckets in
 * this process (the default); `nats` in NATS KV, shared by every host that
 * names the same server (`nats://HOST:PORT`).
 */
export const STORE_BACKENDS: Readonly<Record<string, StoreFactory>> = Object.freeze({
  memory: (url: URL): StoreBackend => {
    if (url.href !== "memory:") {
      throw new Error("the memory back end takes no address; write memory:");
    }
    return memoryStore();
  },
  nats: (url: URL, log: Logger): Promise<StoreBackend> => natsStore(url.href, { log }),
});

/**
 * Opens the back end `text` names: a URL whose scheme is in
 * {@linkcode STORE_BACKENDS}, or the scheme alone (`memory` is `memory:`);
 * `log` gets what the back end reports later (a server lost, found again).
 * Throws a `GraphError` naming the URL and the schemes known.
 *
 * @example
 * ```ts
 * import { openStore } from "./store_backends.ts";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const store = await openStore("memory");
 * assertEquals(store.name, "memory");
 * await store.close();
 * await assertRejects(() => openStore("redis://127.0.0.1"), Error, 'unknown scheme "redis:"');
 * ```
 */
export async function openStore(
  text: string,
  log: Logger = createLogger("warn"),
): Promise<StoreBackend> {
  const known = Object.keys(STORE_BACKENDS).map((scheme) => `${scheme}:`).join(", ");
  const bad = (problem: string): GraphError =>
    new GraphError("PLUMB_STORE_URL", `--store ${JSON.stringify(text)}: ${problem}`);
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*$/i.test(text) ? `${text}:` : text);
  } catch {
    throw bad(`not a URL; back ends are ${known}`);
  }
  const scheme = url.protocol.slice(0, -1);
  const factory = Object.hasOwn(STORE_BACKENDS, scheme) ? STORE_BACKENDS[scheme] : undefined;
  if (factory === undefined) {
    throw new GraphError(
      "PLUMB_STORE_SCHEME",
      `--store ${JSON.stringify(text)}: unknown scheme "${url.protocol}"; back ends are ${known}`,
    );
  }
  try {
    return await factory(url, log);
  } catch (error) {
    if (error instanceof PlumbError) throw error;
    throw bad(error instanceof Error ? error.message : String(error));
  }
}
