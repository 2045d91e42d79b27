/**
 * The key-value store's back ends against one contract: in-process
 * (`memoryStore`) and NATS KV (`natsStore`, against a real `nats-server`
 * started here), and NATS KV shared by two hosts.
 */
import { assertEquals, assertMatch } from "./assert.ts";
import { storeContract } from "./store_contract.ts";
import { HAVE_NATS_SERVER, startNatsServer } from "./nats_server.ts";
import { memoryStore, type StoreBackend } from "../kernel/store.ts";
import { natsStore } from "../modules/nats_store.ts";
import { createLogger } from "../kernel/log.ts";
import { PlumbError } from "../kernel/errors.ts";
import { assertDocumented, readEntries } from "./docs/troubleshooting.ts";

storeContract("memory", () => Promise.resolve(memoryStore()));

const quiet = { log: createLogger("error", () => {}) };

/** A NATS KV back end on a nats-server of its own, stopped as the back end closes. */
async function natsBackend(): Promise<StoreBackend> {
  const server = await startNatsServer();
  const backend = await natsStore(server.url, quiet);
  return {
    name: backend.name,
    open: (bucket) => backend.open(bucket),
    async close(): Promise<void> {
      await backend.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

storeContract("nats", natsBackend, { ignore: !HAVE_NATS_SERVER });

Deno.test({
  name: "nats store: two back ends (two hosts) share buckets, and one create wins between them",
  ignore: !HAVE_NATS_SERVER,
  async fn() {
    await using server = await startNatsServer();
    const url = server.url;
    const a = await natsStore(url, quiet);
    const b = await natsStore(url, quiet);
    try {
      const bucket = `shared_${crypto.randomUUID().slice(0, 8)}`;
      await a.open(bucket).set("greeting", "from a");
      assertEquals(await b.open(bucket).get("greeting"), "from a");
      const claims = await Promise.all([
        ...Array.from({ length: 10 }, () => a.open(bucket).create("nick", "a")),
        ...Array.from({ length: 10 }, () => b.open(bucket).create("nick", "b")),
      ]);
      assertEquals(claims.filter((won) => won).length, 1);
      assertEquals(await b.open(bucket).delete("nick"), true);
      assertEquals(await a.open(bucket).get("nick"), undefined);
      assertEquals(a.name, url);
    } finally {
      await a.close();
      await b.close();
    }
  },
});

Deno.test({
  name: "nats store: with the server away, an operation fails with its code; after, it works",
  ignore: !HAVE_NATS_SERVER,
  async fn() {
    await using s = await startNatsServer();
    const lines: string[] = [];
    const backend = await natsStore(s.url, { log: createLogger("info", (l) => lines.push(l)) });
    try {
      const kv = backend.open("outage");
      await kv.set("k", "before");
      await s.stop();
      let error: PlumbError | undefined;
      await kv.get("k").catch((e) => error = e);
      if (!(error instanceof PlumbError)) throw new Error(`not a PlumbError: ${error}`);
      assertEquals(error.code, "PLUMB_STORE_NATS_FAILED");
      assertDocumented(readEntries(), `${error.code} ${error.message}`, error.code);
      assertMatch(error.message, /^store nats:\/\/127\.0\.0\.1:\d+: bucket "outage": get failed: /);
      await s.start();
      for (let i = 0; i < 200 && !lines.some((l) => l.includes("PLUMB_NATS_RECONNECTED")); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assertEquals(await kv.get("k"), "before");
      const entries = readEntries();
      for (const line of lines) assertDocumented(entries, line, line.split(" ")[2]);
      assertEquals(lines.map((l) => l.split(" ").slice(0, 3).join(" ")), [
        "plumb warn: PLUMB_NATS_DISCONNECTED",
        "plumb info: PLUMB_NATS_RECONNECTED",
      ]);
    } finally {
      await backend.close();
    }
  },
});
