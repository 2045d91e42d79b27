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

/** Lets the microtasks and timers of this turn run (the relay sends at the end of a turn). */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("relay: operations started together go as one message; answers settle them in any order", async () => {
  const sent: StoreRequest[] = [];
  const relay = relayStore((request) => sent.push(request));
  const kv = relay.open("b");
  const get = kv.get("a");
  const created = kv.create("b", "x");
  const deleted = kv.delete("c");
  assertEquals(sent, []);
  await turn();
  assertEquals(sent, [{
    type: "store",
    ops: [
      { id: 1, bucket: "b", op: "get", key: "a" },
      { id: 2, bucket: "b", op: "create", key: "b", value: "x" },
      { id: 3, bucket: "b", op: "delete", key: "c" },
    ],
  }]);
  assertEquals(relay.pending, 3);
  relay.receive({ type: "store", results: [{ id: 3, result: false }] });
  relay.receive({
    type: "store",
    results: [{ id: 1, result: "one" }, { id: 99, result: "nobody asked" }],
  });
  relay.receive({ type: "store", results: [{ id: 2, result: true }] });
  assertEquals(await Promise.all([get, created, deleted]), ["one", true, false]);
  assertEquals(relay.pending, 0);
  // One operation alone is its own message.
  const alone = kv.set("k", "v");
  await turn();
  assertEquals(sent.at(-1), {
    type: "store",
    ops: [{ id: 4, bucket: "b", op: "set", key: "k", value: "v" }],
  });
  relay.receive({ type: "store", results: [{ id: 4, result: null }] });
  assertEquals(await alone, undefined);
});

Deno.test("relay: the main side answers each result when it is known, not when the slowest is", async () => {
  let release: () => void = () => {};
  const slow = new Promise<void>((resolve) => release = resolve);
  const memory = memoryStore();
  const backend: StoreBackend = {
    name: "slow sets",
    open: (bucket) => {
      const kv = memory.open(bucket);
      return { ...kv, set: (key, value) => slow.then(() => kv.set(key, value)) };
    },
    close: () => memory.close(),
  };
  const answers: StoreAnswer[] = [];
  const toServer = new StoreServer(backend).channel((answer) => answers.push(answer));
  toServer({
    type: "store",
    ops: [
      { id: 1, bucket: "b", op: "set", key: "k", value: "v" },
      { id: 2, bucket: "b", op: "get", key: "k" },
    ],
  });
  await turn();
  assertEquals(answers, [{ type: "store", results: [{ id: 2, result: null }] }]);
  release();
  await turn();
  assertEquals(answers.at(-1), { type: "store", results: [{ id: 1, result: null }] });
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
  const toServer = new StoreServer(failing).channel((answer) => relay.receive(answer));
  const relay = relayStore(toServer);
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

Deno.test("relay: of 50 claims from two relays, each answered out of order, one wins", async () => {
  const server = new StoreServer(memoryStore());
  const held: { request: StoreRequest; to: number }[] = [];
  const relays = [0, 1].map((to) => relayStore((request) => held.push({ request, to })));
  const channels = relays.map((relay) => server.channel((answer) => relay.receive(answer)));
  const claims = Array.from(
    { length: 50 },
    (_, i) => relays[i % 2].open("locks").create("job", `claim ${i}`),
  );
  await turn();
  assertEquals(held.length, 2); // one message from each relay
  // The main side gets the second relay's message first.
  for (const { request, to } of held.reverse()) channels[to](request);
  const won = await Promise.all(claims);
  assertEquals(won.filter((w) => w).length, 1);
  const winner = won.indexOf(true);
  assertEquals(winner, 1); // the first claim of the relay heard first
  const direct = server.channel((answer) => reader.receive(answer));
  const reader = relayStore(direct);
  assertEquals(await reader.open("locks").get("job"), `claim ${winner}`);
});
