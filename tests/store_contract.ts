/**
 * The contract of a key-value store back end (`kernel/store.ts`), as tests:
 * each back end (in-process, NATS KV) runs the same ones and must give the
 * same answers.
 * @module
 */
import { assertEquals } from "./assert.ts";
import type { StoreBackend } from "../kernel/store.ts";

/** Keys a back end must hold as they are: spaces, dots, wildcards, slashes, UTF-8, controls. */
const ODD_KEYS = ["a b", "a.b", "a.*.>", "nick/Ann", "é🙂", "line\nbreak", "=", "x".repeat(300)];

/**
 * Registers the contract's tests for a back end. `open` makes one back end;
 * `open(true)` a second one sharing the first's data (another host), or
 * the same one when the back end is not shared.
 */
export function storeContract(
  name: string,
  open: () => Promise<StoreBackend>,
  options: { ignore?: boolean } = {},
): void {
  const test = (what: string, fn: (backend: StoreBackend, bucket: string) => Promise<void>) =>
    Deno.test({
      name: `store contract (${name}): ${what}`,
      ignore: options.ignore,
      async fn() {
        const backend = await open();
        try {
          await fn(backend, `t${crypto.randomUUID().slice(0, 8)}`);
        } finally {
          await backend.close();
        }
      },
    });

  test("get, set, create, delete answer as documented", async (backend, bucket) => {
    const kv = backend.open(bucket);
    assertEquals(await kv.get("k"), undefined);
    assertEquals(await kv.delete("k"), false);
    assertEquals(await kv.create("k", "first"), true);
    assertEquals(await kv.create("k", "second"), false);
    assertEquals(await kv.get("k"), "first");
    await kv.set("k", "third");
    assertEquals(await kv.get("k"), "third");
    assertEquals(await kv.delete("k"), true);
    assertEquals(await kv.get("k"), undefined);
    assertEquals(await kv.delete("k"), false);
    assertEquals(await kv.create("k", "again"), true);
    assertEquals(await kv.get("k"), "again");
    await kv.set("empty", "");
    assertEquals(await kv.get("empty"), "");
  });

  test("any string is a key, and keys do not mix", async (backend, bucket) => {
    const kv = backend.open(bucket);
    for (const key of ODD_KEYS) assertEquals(await kv.create(key, `v ${key}`), true, key);
    for (const key of ODD_KEYS) assertEquals(await kv.get(key), `v ${key}`, key);
    assertEquals(await kv.get("a"), undefined);
    assertEquals(await kv.get("a b "), undefined);
  });

  test("buckets are apart; the same name opened twice is one bucket", async (backend, bucket) => {
    await backend.open(bucket).set("k", "one");
    assertEquals(await backend.open(`${bucket}_2`).get("k"), undefined);
    assertEquals(await backend.open(bucket).get("k"), "one");
  });

  test("create is atomic: of 20 claims of one key at once, one wins", async (backend, bucket) => {
    const kv = backend.open(bucket);
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => kv.create("nick/ann", `claim ${i}`)),
    );
    assertEquals(claims.filter((won) => won).length, 1);
    assertEquals(await kv.get("nick/ann"), `claim ${claims.indexOf(true)}`);
  });
}
