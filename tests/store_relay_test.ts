/**
 * The store across `--workers`, without the workers: a relay back end and a
 * `StoreServer` joined by hand, so that answers can be held back, reordered
 * or never come.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  relayStore,
  type StoreAnswer,
  type StoreRequest,
  StoreServer,
} from "../host/store_relay.ts";
import { memoryStore, type StoreBackend } from "../kernel/store.ts";
import { lineOf, PlumbError } from "../kernel/errors.ts";

/** The line (`CODE message`) of the plumb error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert(error instanceof PlumbError, `not a PlumbError: ${error}`);
    return lineOf(error);
  }
  throw new Error("it did not fail");
}

Deno.test("relay: answers settle their own operations, in whatever order they come", async () => {
  const sent: StoreRequest[] = [];
  const relay = relayStore((request) => sent.push(request));
  const kv = relay.open("b");
  const get = kv.get("a");
  const created = kv.create("b", "x");
  const deleted = kv.delete("c");
  assertEquals(sent.map((r) => [r.id, r.op, r.key]), [[1, "get", "a"], [2, "create", "b"], [
    3,
    "delete",
    "c",
  ]]);
  assertEquals(relay.pending, 3);
  relay.receive({ type: "store", id: 3, result: false });
  relay.receive({ type: "store", id: 1, result: "one" });
  relay.receive({ type: "store", id: 99, result: "nobody asked" }); // ignored
  relay.receive({ type: "store", id: 2, result: true });
  assertEquals(await Promise.all([get, created, deleted]), ["one", true, false]);
  assertEquals(relay.pending, 0);
});

Deno.test("relay: a failure on the main side is rethrown in the worker with its code", async () => {
  const failing: StoreBackend = {
    name: "down",
    open: () => ({
      get: () => Promise.reject(new PlumbError("PLUMB_STORE_URL", "the store is down")),
      set: () => Promise.reject(new Error("boom")),
      create: () => Promise.resolve(false),
      delete: () => Promise.resolve(false),
    }),
    close: () => Promise.resolve(),
  };
  const server = new StoreServer(failing);
  const relay = relayStore((request) => server.answer(request).then((a) => relay.receive(a)));
  const kv = relay.open("b");
  assertEquals(await failure(kv.get("k")), "PLUMB_STORE_URL the store is down");
  assertEquals(await failure(kv.set("k", "v")), "PLUMB_UNEXPECTED unexpected failure: boom");
});

Deno.test("relay: when the main side is gone, waiting and later operations fail at once", async () => {
  const relay = relayStore(() => {});
  const waiting = relay.open("b").get("k");
  relay.gone("the pipe closed");
  assertEquals(
    await failure(waiting),
    'PLUMB_STORE_RELAY_GONE cannot get "k" in store bucket "b": the store is held by the main ' +
      "side of --workers, which is gone (the pipe closed)",
  );
  assertEquals(
    await failure(relay.open("b").set("k", "v")),
    'PLUMB_STORE_RELAY_GONE cannot set "k" in store bucket "b": the store is held by the main ' +
      "side of --workers, which is gone (the pipe closed)",
  );
  assertEquals(relay.pending, 0);
});

Deno.test("relay: many concurrent claims through the relay, answered out of order: one wins", async () => {
  const server = new StoreServer(memoryStore());
  const held: StoreRequest[] = [];
  const relay = relayStore((request) => held.push(request));
  const claims = Array.from({ length: 50 }, (_, i) => relay.open("locks").create("job", `w${i}`));
  // The main side runs them in reverse order of sending: the last sent wins.
  const answers: StoreAnswer[] = [];
  for (const request of held.reverse()) answers.push(await server.answer(request));
  for (const answer of answers.reverse()) relay.receive(answer);
  const won = await Promise.all(claims);
  assertEquals(won.filter((w) => w).length, 1);
  assertEquals(won.indexOf(true), 49);
  const get: StoreRequest = { type: "store", id: 0, bucket: "locks", op: "get", key: "job" };
  assertEquals((await server.answer(get)).result, "w49");
});
