/**
 * The shared key-value store through the `kv` servlet (`examples/kv.json`),
 * over real TCP: one host's connections share its keys, keys survive a
 * reload, a store given by the caller is shared and left open, `--store`
 * picks the back end, and under `--workers 2` every connection sees the
 * same keys whichever worker serves it, and a claim has one winner; two
 * hosts given one NATS server (`--store nats://`) share their keys too.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  Client,
  type CliHost,
  runCli,
  spawnCli,
  startHost,
  WORKERS_PERMISSIONS,
} from "./helpers.ts";
import { Host } from "../host/mod.ts";
import { memoryStore, type StoreBackend } from "../kernel/store.ts";
import { openStore } from "../host/store_backends.ts";
import { HAVE_NATS_SERVER, startNatsServer } from "./nats_server.ts";

const KV = "examples/kv.json";

/** Sends `line` on `client` and returns the one-line reply. */
async function ask(client: Client, line: string): Promise<string | null> {
  await client.send(`${line}\n`);
  return await client.readLine();
}

/** `count` connections to `port`, all open at once. */
async function connections(port: number, count: number): Promise<Client[]> {
  return await Promise.all(Array.from({ length: count }, () => Client.connect(port)));
}

function closeAll(clients: readonly Client[]): void {
  for (const c of clients) c.close();
}

Deno.test("kv: each command gets its one-line reply, errors too, and the connection stays", async () => {
  await using h = await startHost(KV);
  await using c = await Client.connect(h.port);
  const transcript: [string, string][] = [
    ["GET greeting", "(nil)"],
    ["SET greeting hello,  world ✓", "OK"],
    ["get greeting", '"hello,  world ✓"'],
    ["SETNX greeting other", "0"],
    ["SETNX fresh x", "1"],
    ['SET quote say "hi" \\o/', "OK"],
    ["GET quote", '"say \\"hi\\" \\\\o/"'],
    ["SET empty ", "OK"],
    ["GET empty", '""'],
    ["SET nil (nil)", "OK"],
    ["GET nil", '"(nil)"'],
    ["DEL greeting", "1"],
    ["DEL greeting", "0"],
    ["GET greeting", "(nil)"],
    ["SET greeting", "ERR SET takes a key and a value: SET key value"],
    ["SETNX  x", "ERR SETNX takes a key and a value: SETNX key value"],
    ["GET", "ERR GET takes one key: GET key"],
    ["DEL a b", "ERR DEL takes one key: DEL key"],
    [
      "INCR n",
      'ERR unknown command "INCR"; commands are SET key value, SETNX key value, GET key, DEL key',
    ],
    ["", "ERR empty line; commands are SET key value, SETNX key value, GET key, DEL key"],
    ["GET fresh", '"x"'],
  ];
  for (const [line, reply] of transcript) assertEquals(await ask(c, line), `${reply}\n`, line);
});

Deno.test("kv: a SET on one connection is seen by GETs on ten others; a DEL by all ten", async () => {
  await using h = await startHost(KV);
  const setter = await Client.connect(h.port);
  const others = await connections(h.port, 10);
  try {
    assertEquals(await ask(setter, "SET motd plumb is up"), "OK\n");
    for (const c of others) assertEquals(await ask(c, "GET motd"), '"plumb is up"\n');
    assertEquals(await ask(others[3], "DEL motd"), "1\n");
    assertEquals(await ask(setter, "GET motd"), "(nil)\n");
    for (const c of others) assertEquals(await ask(c, "GET motd"), "(nil)\n");
  } finally {
    closeAll([setter, ...others]);
  }
});

Deno.test("kv: SETNX is a claim: of 50 connections racing for one key, exactly one wins", async () => {
  await using h = await startHost(KV);
  const clients = await connections(h.port, 50);
  try {
    const replies = await Promise.all(clients.map((c, i) => ask(c, `SETNX owner conn${i}`)));
    assertEquals(replies.filter((r) => r === "1\n").length, 1, replies.join(""));
    assertEquals(replies.filter((r) => r === "0\n").length, 49);
    const winner = replies.indexOf("1\n");
    for (const c of clients) assertEquals(await ask(c, "GET owner"), `"conn${winner}"\n`);
  } finally {
    closeAll(clients);
  }
});

Deno.test("kv: keys survive a reload, and connections on the old graph share them with the new", async () => {
  await using h = await startHost(KV);
  await using before = await Client.connect(h.port);
  assertEquals(await ask(before, "SET kept 1"), "OK\n");
  const result = await h.host.reload();
  assertEquals(result.reloaded, true, result.message);
  await using after = await Client.connect(h.port);
  assertEquals(await ask(after, "GET kept"), '"1"\n');
  assertEquals(await ask(after, "SET later 2"), "OK\n");
  // `before` is still served by graph 1's node, `after` by graph 2's: one store.
  assertEquals(await ask(before, "GET later"), '"2"\n');
});

Deno.test("kv: a host in memory (Host.load) keeps its keys across reloads too", async () => {
  await using host = await Host.load(KV, { logLevel: "error" });
  const say = async (text: string): Promise<string> =>
    new TextDecoder().decode(await host.request(text));
  assertEquals(await say("SET a 1\n"), "OK\n");
  assertEquals((await host.reload()).reloaded, true);
  assertEquals(await say("GET a\nDEL a\nGET a\n"), '"1"\n1\n(nil)\n');
});

Deno.test("kv: a store given to two hosts is shared by both and left open when they stop", async () => {
  let closes = 0;
  const memory = memoryStore();
  const store: StoreBackend = { ...memory, close: () => (closes++, memory.close()) };
  const one = await startHost(KV, { store });
  const two = await startHost(KV, { store });
  try {
    await using a = await Client.connect(one.port);
    await using b = await Client.connect(two.port);
    assertEquals(await ask(a, "SET shared yes"), "OK\n");
    assertEquals(await ask(b, "GET shared"), '"yes"\n');
  } finally {
    await one.host.close();
    await two.host.close();
  }
  assertEquals(closes, 0);
  assertEquals(await store.open("kv").get("shared"), "yes");
  await store.close();
});

Deno.test("kv: --bucket keeps a node's keys apart from the default bucket's", async () => {
  const spec = {
    nodes: { kv: { servlet: "kv", args: ["--bucket", "other"] } },
    input: "kv.in",
    output: "kv.out",
  };
  const store = memoryStore();
  await store.open("kv").set("k", "default bucket");
  await using host = await Host.load(spec, { logLevel: "error", store });
  assertEquals(new TextDecoder().decode(await host.request("GET k\nSET k mine\n")), "(nil)\nOK\n");
  assertEquals(await store.open("other").get("k"), "mine");
  assertEquals(await store.open("kv").get("k"), "default bucket");
});

Deno.test("--store memory (or memory:) serves as the default does; other URLs are refused", async () => {
  for (const url of ["memory", "memory:"]) {
    const cli = await spawnCli([KV, "--port", "0", "--store", url]);
    try {
      await using a = await Client.connect(cli.port);
      await using b = await Client.connect(cli.port);
      assertEquals(await ask(a, "SET k v"), "OK\n");
      assertEquals(await ask(b, "GET k"), '"v"\n');
    } finally {
      const { code, stderr } = await cli.stop();
      assertEquals(code, 0, stderr);
    }
  }
  const bad = await runCli([KV, "--store", "not a url"]);
  assertEquals(bad.code, 2);
  assertEquals(
    bad.stderr,
    'plumb: PLUMB_STORE_URL --store "not a url": not a URL; back ends are memory:, nats:\n',
  );
  assertEquals((await openStore("MEMORY")).name, "memory");
});

// --- --workers 2: the supervisor holds the store, every worker relays to it ---------

const UNSTABLE = WORKERS_PERMISSIONS;

/**
 * The worker that served each connection, by the client's address, from the
 * `PLUMB_CONN_ENDED` debug lines the workers log as connections end.
 */
function servedBy(stderr: string): Map<string, number> {
  const served = new Map<string, number>();
  for (
    const [, worker, peer] of stderr.matchAll(
      /PLUMB_CONN_ENDED worker (\d+): connection from (\S+) /g,
    )
  ) {
    served.set(peer, Number(worker));
  }
  return served;
}

/** Closes `clients` and waits until the workers have logged each one's end: who served each. */
async function workersOf(cli: CliHost, clients: readonly Client[]): Promise<number[]> {
  const peers = clients.map((c) => c.peer);
  closeAll(clients);
  for (let waited = 0;; waited += 20) {
    const served = servedBy(cli.stderrSoFar());
    if (peers.every((p) => served.has(p))) return peers.map((p) => served.get(p)!);
    if (waited > 10_000) {
      throw new Error(`not every connection's end was logged:\n${cli.stderrSoFar()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("--workers 2: a SET on one connection is seen on every other, whichever worker serves it", async () => {
  const cli = await spawnCli(
    [KV, "--port", "0", "--workers", "2", "--log-level", "debug"],
    UNSTABLE,
  );
  try {
    const setter = await Client.connect(cli.port);
    assertEquals(await ask(setter, "SET motd served by both"), "OK\n");
    const readers = await connections(cli.port, 40);
    for (const c of readers) assertEquals(await ask(c, "GET motd"), '"served by both"\n');
    // SIGHUP: every worker reloads its nodes; the keys are the supervisor's and stay.
    cli.process.kill("SIGHUP");
    await cli.waitForStderr(
      /PLUMB_RELOADED worker 1:[^]*PLUMB_RELOADED worker 2:|PLUMB_RELOADED worker 2:[^]*PLUMB_RELOADED worker 1:/,
    );
    const late = await connections(cli.port, 10);
    for (const c of late) assertEquals(await ask(c, "DEL motd"), c === late[0] ? "1\n" : "0\n");
    assertEquals(await ask(readers[0], "GET motd"), "(nil)\n");
    const workers = await workersOf(cli, [setter, ...readers, ...late]);
    const [setBy, ...rest] = workers;
    // 50 connections all hashed to one worker would happen once in 2^49 runs.
    assertEquals([...new Set(workers)].sort(), [1, 2]);
    assert(rest.some((w) => w !== setBy), "no connection of the other worker read the SET");
  } finally {
    const { code, stderr } = await cli.stop();
    assertEquals(code, 0, stderr);
  }
});

Deno.test("--workers 2: of 60 connections racing SETNX on both workers, exactly one wins", async () => {
  const cli = await spawnCli(
    [KV, "--port", "0", "--workers", "2", "--log-level", "debug"],
    UNSTABLE,
  );
  try {
    const clients = await connections(cli.port, 60);
    const replies = await Promise.all(clients.map((c, i) => ask(c, `SETNX lock conn${i}`)));
    assertEquals(replies.filter((r) => r === "1\n").length, 1, replies.join(""));
    assertEquals(replies.filter((r) => r === "0\n").length, 59);
    const winner = replies.indexOf("1\n");
    for (const c of clients) assertEquals(await ask(c, "GET lock"), `"conn${winner}"\n`);
    const workers = await workersOf(cli, clients);
    assertEquals([...new Set(workers)].sort(), [1, 2]);
  } finally {
    const { code, stderr } = await cli.stop();
    assertEquals(code, 0, stderr);
  }
});

// --- two hosts, one store: --store nats://... (NATS KV) -------------------------------------

Deno.test({
  name: "two hosts with --store nats://: a SET on one is read on the other, and one claim wins",
  ignore: !HAVE_NATS_SERVER,
  fn: async () => {
    await using nats = await startNatsServer();
    const hosts = [
      await spawnCli([KV, "--port", "0", "--store", nats.url]),
      await spawnCli([KV, "--port", "0", "--store", nats.url]),
    ];
    try {
      await using a = await Client.connect(hosts[0].port);
      await using b = await Client.connect(hosts[1].port);
      assertEquals(await ask(a, "GET city"), "(nil)\n");
      assertEquals(await ask(a, "SET city Zürich am See"), "OK\n");
      assertEquals(await ask(b, "GET city"), '"Zürich am See"\n');
      assertEquals(await ask(b, "DEL city"), "1\n");
      assertEquals(await ask(a, "GET city"), "(nil)\n");
      assertEquals(await ask(a, "DEL city"), "0\n");
      // Twenty connections on each host race for one key: exactly one is told 1.
      const racers = [
        ...await connections(hosts[0].port, 20),
        ...await connections(hosts[1].port, 20),
      ];
      try {
        const answers = await Promise.all(racers.map((c, i) => ask(c, `SETNX lock racer${i}`)));
        assertEquals(answers.filter((x) => x === "1\n").length, 1, answers.join(""));
        assertEquals(answers.filter((x) => x === "0\n").length, racers.length - 1);
        const winner = racers[answers.indexOf("1\n")];
        assertEquals(await ask(b, "GET lock"), `"racer${racers.indexOf(winner)}"\n`);
      } finally {
        for (const c of racers) c.close();
      }
    } finally {
      for (const host of hosts) {
        const { code, stderr } = await host.stop();
        assertEquals(code, 0, stderr);
      }
    }
  },
});
