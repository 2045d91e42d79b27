/**
 * Reload without stopping (SIGHUP, `Host.reload`): new connections get the
 * re-read graph while open sessions finish on theirs, whose nodes are
 * unloaded once the last of them ends; a graph that does not check leaves the
 * old one serving and is logged with the message `--check` prints; the
 * listening sockets are kept, and listener changes are reported as needing a
 * restart.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, path, runCli, spawnCli, startHost, WORKERS_PERMISSIONS } from "./helpers.ts";
import { events } from "./fixtures/lifecycle.ts";
import type { GraphSpec } from "../host/mod.ts";

const TMP = "tests/.tmp";

/**
 * A graph of one `lifecycle` node named `node` (it answers `NODE: LINE`), on a
 * tcp listener; `servlet` is the fixture's path relative to the graph file.
 */
function lifecycleGraph(
  node: string,
  tcpOptions: Record<string, unknown> = {},
  servlet = "../fixtures/lifecycle.ts",
): GraphSpec {
  return {
    nodes: { [node]: { servlet } },
    input: `${node}.in`,
    output: `${node}.out`,
    listeners: [{ module: "tcp", options: { port: 0, ...tcpOptions } }],
  };
}

/** Writes a graph file under tests/.tmp and returns its path relative to the repository. */
async function writeGraph(name: string, graph: GraphSpec | string): Promise<string> {
  await Deno.mkdir(path(TMP), { recursive: true });
  const file = `${TMP}/${name}.json`;
  await Deno.writeTextFile(
    path(file),
    typeof graph === "string" ? graph : JSON.stringify(graph, null, 2),
  );
  return file;
}

/** Sends one line and returns the reply line. */
async function ask(client: Client, line: string): Promise<string | null> {
  await client.send(`${line}\n`);
  return await client.readLine();
}

Deno.test("SIGHUP: open sessions keep the old graph until they close, new ones get the new graph, old nodes unloaded after the last", async () => {
  const file = await writeGraph("reload_sessions", lifecycleGraph("old"));
  const cli = await spawnCli([file, "--port", "0"]);
  const first = await Client.connect(cli.port);
  const second = await Client.connect(cli.port);
  try {
    assertEquals(await ask(first, "a"), "old: a\n");
    assertEquals(await ask(second, "a"), "old: a\n");

    await writeGraph("reload_sessions", lifecycleGraph("new"));
    cli.process.kill("SIGHUP");
    const reloaded = await cli.waitForStderr("reloaded");
    assertEquals(
      reloaded.split("\n").at(-2),
      `plumb info: PLUMB_RELOADED reloaded ${file}: new connections get graph 2 (1 node(s), 0 edge(s)); ` +
        `2 open connection(s) finish on the graph they started with`,
    );

    await using fresh = await Client.connect(cli.port);
    assertEquals(await ask(fresh, "x"), "new: x\n", "a new connection gets the new graph");
    assertEquals(await ask(first, "b"), "old: b\n", "an open session keeps its graph");

    first.close();
    assertEquals(await ask(second, "c"), "old: c\n", "the other old session is still served");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const meanwhile = await cli.waitForStderr("reloaded");
    assert(!meanwhile.includes("unload old"), `unloaded while a session used it:\n${meanwhile}`);

    second.close();
    const unloaded = await cli.waitForStderr("unload old\n");
    assertEquals(unloaded.split("\n").slice(-3), [
      "plumb info: PLUMB_GRAPH_UNUSED graph 1 is no longer used; unloading its nodes",
      "unload old",
      "",
    ]);
    assertEquals(await ask(fresh, "y"), "new: y\n");
  } finally {
    first.close();
    second.close();
  }
  const result = await cli.stop();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stderr.match(/^unload .*$/gm), ["unload old", "unload new"]);
});

Deno.test("SIGHUP: a graph that does not check leaves the old one serving and logs why, as --check says it", async () => {
  const file = await writeGraph("reload_invalid", lifecycleGraph("old"));
  const cli = await spawnCli([file, "--port", "0"]);
  await using before = await Client.connect(cli.port);
  assertEquals(await ask(before, "a"), "old: a\n");

  // Its nodes load (and are unloaded again, "unload broken"), but its output names no port.
  const broken = lifecycleGraph("broken");
  broken.output = "broken.outt";
  await writeGraph("reload_invalid", broken);
  const check = await runCli([file, "--check"]);
  assertEquals(check.code, 2);
  const checkLine = check.stderr.split("\n").find((line) => line.startsWith("plumb: "));
  assertMatch(
    checkLine ?? "",
    /^plumb: PLUMB_REF_NO_PORT tests\/\.tmp\/reload_invalid\.json: "output" "broken\.outt": /,
  );
  cli.process.kill("SIGHUP");
  const logged = await cli.waitForStderr("failed");
  assertEquals(
    logged,
    [
      "unload broken",
      `plumb error: PLUMB_RELOAD_FAILED reload of ${file} failed, still serving graph 1: ${
        checkLine?.slice(7)
      }`,
      "",
    ].join("\n"),
  );

  await using after = await Client.connect(cli.port);
  assertEquals(await ask(after, "b"), "old: b\n", "a new connection still gets the old graph");
  assertEquals(await ask(before, "c"), "old: c\n");

  // A file that is not JSON at all is refused the same way.
  await writeGraph("reload_invalid", "{ not json");
  cli.process.kill("SIGHUP");
  await cli.waitForStderr(/failed, still serving graph 1: .*not valid JSON/);
  const result = await cli.stop();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stderr.match(/^unload .*$/gm), ["unload broken", "unload old"]);
});

Deno.test("SIGHUP: changed listeners need a restart; the socket is kept and the graph still swapped", async () => {
  const file = await writeGraph("reload_listeners", lifecycleGraph("old"));
  const cli = await spawnCli([file, "--port", "0"]);
  await writeGraph("reload_listeners", lifecycleGraph("new", { ttl: 30, host: "127.0.0.2" }));
  cli.process.kill("SIGHUP");
  const logged = await cli.waitForStderr("unload old\n");
  assertEquals(
    logged,
    `plumb warn: PLUMB_RELOADED_LISTENERS_KEPT reloaded ${file}: new connections get graph 2 (1 node(s), 0 edge(s)); no ` +
      `connection was open on graph 1; listener changes need a restart, the old listeners are ` +
      `kept: listener 1 (tcp): host "127.0.0.1" -> "127.0.0.2", ttl 240 -> 30\n` +
      `plumb info: PLUMB_GRAPH_UNUSED graph 1 is no longer used; unloading its nodes\nunload old\n`,
  );
  await using client = await Client.connect(cli.port);
  assertEquals(await ask(client, "a"), "new: a\n", "the same port, the new graph");
  const result = await cli.stop();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stderr.match(/^unload .*$/gm), ["unload old", "unload new"]);
});

Deno.test("SIGHUP with --workers: every worker reloads", async () => {
  const file = await writeGraph("reload_workers", lifecycleGraph("old"));
  const cli = await spawnCli([file, "--port", "0", "--workers", "2"], WORKERS_PERMISSIONS);
  await using before = await Client.connect(cli.port);
  assertEquals(await ask(before, "a"), "old: a\n");
  await writeGraph("reload_workers", lifecycleGraph("new"));
  cli.process.kill("SIGHUP");
  await cli.waitForStderr(
    /worker 1: reloaded[^]*worker 2: reloaded|worker 2: reloaded[^]*worker 1/,
  );
  // Whichever worker the kernel hands each connection to, it gets the new graph.
  for (let i = 0; i < 8; i++) {
    await using client = await Client.connect(cli.port);
    assertEquals(await ask(client, `x${i}`), `new: x${i}\n`);
  }
  assertEquals(await ask(before, "b"), "old: b\n");
  before.close();
  const result = await cli.stop();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(
    result.stderr.match(/(?<=^plumb warn: PLUMB_WORKER_STDERR worker \d: )unload .*$/gm)?.sort(),
    ["unload new", "unload new", "unload old", "unload old"],
  );
});

Deno.test("Host.reload: reports what it did, updates host.graph, unloads the old nodes once", async () => {
  const fixture = "./tests/fixtures/lifecycle.ts";
  await using served = await startHost(lifecycleGraph("one", {}, fixture));
  const { host } = served;
  const start = events.length;
  await using client = await Client.connect(served.port);
  assertEquals(await ask(client, "a"), "one: a\n");

  const same = await host.reload();
  assertEquals(same.reloaded, true);
  assertEquals(same.graphChanged, false, same.message);
  assertEquals(same.listenersChanged, false);
  assertEquals(same.draining, 1);
  assertMatch(same.message, /nodes and edges unchanged/);

  const changed = await host.reload(lifecycleGraph("two", {}, fixture));
  assertEquals(changed.reloaded, true);
  assertEquals(changed.graphChanged, true);
  assertEquals(changed.graph.nodes, ["two"]);
  assertEquals(host.graph.nodes, ["two"]);
  // Graph 2 was never used by a connection: unloaded at once. Graph 1 waits for `client`.
  assertEquals(events.slice(start), ["init one", "init two", "unload one"]);

  const bad = await host.reload({ nodes: {}, input: "x.in", output: "x.out" });
  assertEquals(bad.reloaded, false);
  assertMatch(
    bad.reason ?? "",
    /^PLUMB_GRAPH_NO_NODES graph: "nodes" must be an object with at least one node/,
  );
  assertEquals(host.graph.nodes, ["two"]);

  assertEquals(await ask(client, "b"), "one: b\n");
  client.close();
  const deadline = Date.now() + 2000;
  while (events.length - start < 4 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assertEquals(events.slice(start), ["init one", "init two", "unload one", "unload one"]);
  await host.close();
  assertEquals(events.slice(start).at(-1), "unload two");
  const late = await host.reload();
  assertEquals(late.reloaded, false);
  assertEquals(late.reason, "the host is stopping");
  assertEquals(events.length - start, 5, "a reload after close loads nothing");
});
