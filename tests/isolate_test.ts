/**
 * A node run in a Web Worker of its own (`"isolate": {"deadline": S}`), over
 * real TCP: a servlet that spins forever (or holds memory and spins) fails
 * its request with the error reply once its deadline passes, while a probe
 * client on another connection is answered all along; then the node serves
 * again from a fresh worker. Init errors and missing modules name the node;
 * an isolated echo serves a keep-alive connection; the task's calls cross.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, path, ROOT, spawnCli, startHost, waitForLog } from "./helpers.ts";
import { checkGraph, type GraphSpec, serve } from "../host/mod.ts";
import { GraphError } from "../kernel/errors.ts";
import { defineServlet } from "../mod.ts";

const SPIN = "./tests/fixtures/isolate/spin.ts";

/**
 * `route` sends lines starting with `probe` to `shout` (in the host) and the
 * rest to `calc` (isolated, with `deadline`); both answer through `reply`.
 */
function probed(deadline: number): GraphSpec {
  return {
    nodes: {
      route: { servlet: "dataflow/demux", args: ["probe=/^probe/"] },
      shout: { servlet: "transform", args: ["upper"] },
      calc: { servlet: SPIN, isolate: { deadline } },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: "route.probe", to: "shout.in" },
      { from: "route.default", to: "calc.in" },
      { from: "shout.out", to: "reply.in" },
      { from: "calc.out", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
    listeners: [{ module: "tcp", options: {} }],
  };
}

/** The GraphError `run` rejects with. */
async function rejection(run: () => Promise<unknown>): Promise<GraphError> {
  try {
    await run();
  } catch (error) {
    assert(error instanceof GraphError, `not a GraphError: ${error}`);
    return error;
  }
  throw new Error("it did not fail");
}

/** One isolated node `n` with a tcp listener. */
function isolated(servlet: string, deadline = 5, args: string[] = []): GraphSpec {
  return {
    nodes: { n: { servlet, args, isolate: { deadline } } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp", options: {} }],
  };
}

/**
 * Sends `line` on one connection and probes on another until its reply
 * comes: returns that reply, and the probe replies that came before it.
 */
async function whileBusy(port: number, line: string): Promise<{ reply: string; probes: string[] }> {
  await using busy = await Client.connect(port);
  await using probe = await Client.connect(port);
  await busy.send(`${line}\n`);
  let reply: string | undefined;
  const replied = busy.readLine().then((l) => reply = l ?? "(closed)");
  const probes: string[] = [];
  for (let i = 0; reply === undefined; i++) {
    await probe.send(`probe ${i}\n`);
    const answer = await probe.readLine();
    if (reply === undefined) probes.push(answer ?? "(closed)");
  }
  await replied;
  // The busy connection goes on after its failed request, from a fresh worker.
  await busy.send("again\n");
  assertEquals(await busy.readLine(), "ok: again 1\n");
  return { reply: reply!, probes };
}

Deno.test("isolate: a spinning exec fails with the error reply at its deadline; probes are answered meanwhile", async () => {
  await using h = await startHost(probed(0.5));
  await using client = await Client.connect(h.port);
  await client.send("first\n");
  assertEquals(await client.readLine(), "ok: first 1\n");
  const { reply, probes } = await whileBusy(h.port, "spin");
  assertEquals(reply, "error: request failed\n");
  assert(probes.length > 0, "no probe was answered while the worker spun");
  assertEquals(probes, probes.map((_, i) => `PROBE ${i}\n`));
  const line = await waitForLog(h, "PLUMB_ISOLATE_DEADLINE");
  assertMatch(
    line,
    / PLUMB_REQUEST_FAILED node "calc" \(\.\/tests\/fixtures\/isolate\/spin\.ts\) failed a request from 127\.0\.0\.1:\d+: PlumbError: PLUMB_ISOLATE_DEADLINE node "calc": exec computed for 0\.5 s in its worker \(the node's "isolate" deadline\); the worker was stopped, and a fresh one serves the next request$/,
  );
  assertEquals(h.logs.filter((l) => l.includes("PLUMB_ISOLATE_DEADLINE")).length, 1);
  // The first connection is served by the fresh worker too, and so is a new one.
  await client.send("second\n");
  assertEquals(await client.readLine(), "ok: second 2\n");
  await using later = await Client.connect(h.port);
  await later.send("later\n");
  assertEquals(await later.readLine(), "ok: later 3\n");
});

Deno.test("isolate: a worker that allocates (up to 100 MiB, then spins) is stopped the same way; the host serves on", async () => {
  await using h = await startHost(probed(0.5));
  const { reply, probes } = await whileBusy(h.port, "hold 100");
  assertEquals(reply, "error: request failed\n");
  assert(probes.length > 0, "no probe was answered while the worker allocated");
  assertEquals(probes, probes.map((_, i) => `PROBE ${i}\n`));
  await waitForLog(h, "PLUMB_ISOLATE_DEADLINE");
});

Deno.test("isolate: each spin kills only its own worker; the node recovers every time", async () => {
  await using h = await startHost(isolated(SPIN, 1));
  await using client = await Client.connect(h.port);
  for (let i = 0; i < 3; i++) {
    await client.send("spin\n");
    assertEquals(await client.readLine(), "error: request failed\n");
    await client.send(`after ${i}\n`);
    assertEquals(await client.readLine(), `ok: after ${i} 1\n`, h.logs.join("\n"));
  }
  assertEquals(h.logs.filter((l) => l.includes("PLUMB_ISOLATE_DEADLINE")).length, 3);
});

Deno.test("isolate: the servlet runs in a worker, not in the host", async () => {
  await using h = await startHost(isolated(SPIN));
  await using client = await Client.connect(h.port);
  await client.send("where\n");
  assertEquals(await client.readLine(), "worker\n");
});

Deno.test("isolate: an isolated echo serves many requests over one keep-alive connection, and several at once", async () => {
  await using h = await startHost(isolated("echo"));
  await using a = await Client.connect(h.port);
  await using b = await Client.connect(h.port);
  for (let i = 0; i < 200; i++) {
    await a.send(`a${i}\n`);
    await b.send(`b${i}\n`);
    assertEquals(await a.readLine(), `a${i}\n`);
    assertEquals(await b.readLine(), `b${i}\n`);
  }
  // A request of many lines at once, and bytes that are not UTF-8.
  const many = Array.from({ length: 500 }, (_, i) => `line ${i}\n`).join("");
  await a.send(many);
  assertEquals((await a.readLines(500)).join(""), many);
  await b.send(new Uint8Array([0xff, 0xfe, 0x0a]));
  assertEquals(await b.readBytes(3), new Uint8Array([0xff, 0xfe, 0x0a]));
});

Deno.test("isolate: the task's calls cross to the worker: state, flags, module operations, values, streams, keepAlive", async () => {
  await using h = await startHost(isolated("./tests/fixtures/isolate/task_api.ts"));
  await using client = await Client.connect(h.port);
  const ask = async (line: string): Promise<string | null> => {
    await client.send(`${line}\n`);
    return await client.readLine();
  };
  assertEquals(await ask("count"), "count 1\n");
  assertEquals(await ask("count"), "count 2\n");
  assertEquals(await ask("state"), "state 3\n"); // the same slot as pushState
  assertEquals(await ask("peer"), "peer same\n");
  assertEquals(await ask("persist"), "persist true\n");
  assertEquals(await ask("value"), '{"answer":42,"bytes":{"$bytes":"AQI="}}\n');
  assertEquals(await ask("stream"), "streamed\n");
  assertEquals(await ask("signal"), "signal false\n");
  assertEquals(await ask("dispose"), "error: request failed\n");
  assertMatch(
    await waitForLog(h, "PLUMB_ISOLATE_UNSUPPORTED"),
    /PlumbError: PLUMB_ISOLATE_UNSUPPORTED node "n": a PUSH_STATE dispose function is not supported in an isolated servlet \(it runs in a worker of its own\)$/,
  );
  assertEquals(await ask("count"), "count 4\n"); // the state is kept in the host
  assertEquals(await ask("bye"), "bye\n");
  assertEquals(await client.readLine(), null);
});

Deno.test("isolate: an init that throws fails the graph with one line naming the node", async () => {
  const error = await rejection(
    () => checkGraph(isolated("./tests/fixtures/isolate/init_throws.ts"), { base: ROOT }),
  );
  assertEquals(error.code, "PLUMB_SERVLET_INIT_FAILED");
  assertEquals(
    error.message,
    'graph: node "n": init of servlet "./tests/fixtures/isolate/init_throws.ts" failed: no configuration here',
  );
});

Deno.test("isolate: a servlet that imports a missing module fails the graph with one line naming the node", async () => {
  // Written at run time: a file with a missing import would fail the type check of tests/.
  const servlet = "tests/.tmp/isolate_missing_import.ts";
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  await Deno.writeTextFile(
    path(servlet),
    'import { defineServlet } from "../../mod.ts";\n' +
      'import { nothing } from "./no_such_module.ts";\n' +
      "export default defineServlet({ init: () => nothing, exec() {} });\n",
  );
  const error = await rejection(() => checkGraph(isolated(`./${servlet}`), { base: ROOT }));
  assertEquals(error.code, "PLUMB_SERVLET_LOAD_FAILED");
  assertMatch(
    error.message,
    /^graph: node "n": cannot load servlet "\.\/tests\/\.tmp\/isolate_missing_import\.ts" \(file:\/\/\/.*\): Module not found "file:\/\/\/.*\/tests\/\.tmp\/no_such_module\.ts"\.$/,
  );
});

Deno.test("isolate: an unknown servlet name is refused before any worker starts", async () => {
  const error = await rejection(
    () => checkGraph(isolated("eho"), { base: ROOT }),
  );
  assertEquals(error.code, "PLUMB_SERVLET_UNKNOWN");
  assertMatch(error.message, /^graph: node "n": unknown servlet "eho" \(did you mean "echo"\?\)/);
});

Deno.test("isolate: a bad isolate, and a servlet given in code, are refused with one line", async () => {
  for (const isolate of [true, { deadline: 0 }, { deadline: "2" }, { deadlin: 2 }]) {
    const spec = { ...isolated("echo"), nodes: { n: { servlet: "echo", isolate } } };
    const error = await rejection(
      () => checkGraph(spec as unknown as GraphSpec, { base: ROOT }),
    );
    assertEquals(error.code, "PLUMB_NODE_BAD_ISOLATE", error.message);
    assertMatch(error.message, /^graph: node "n"( "isolate")?: /);
  }
  const inCode = defineServlet({ init: () => ({}), exec(): void {} });
  const error = await rejection(
    () => serve({ nodes: { n: { servlet: inCode, isolate: {} } }, input: "n.in", output: "n.out" }),
  );
  assertEquals(error.code, "PLUMB_ISOLATE_IN_CODE");
});

Deno.test("isolate: a fresh worker whose init declares other ports fails each request, naming the node", async () => {
  const runs = "tests/.tmp/isolate_ports_runs.txt";
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  await Deno.writeTextFile(path(runs), "0");
  await using h = await startHost(
    isolated("./tests/fixtures/isolate/ports_change.ts", 0.2, [runs]),
  );
  await using client = await Client.connect(h.port);
  await client.send("spin\n");
  assertEquals(await client.readLine(), "error: request failed\n");
  await client.send("next\n");
  assertEquals(await client.readLine(), "error: request failed\n");
  assertMatch(
    await waitForLog(h, "PLUMB_ISOLATE_PORTS_CHANGED"),
    /PLUMB_ISOLATE_PORTS_CHANGED graph: node "n": init in a fresh worker declared other ports than the first time/,
  );
});

Deno.test("isolate: a request aborted by requestTimeout stops a worker that does not end its exec", async () => {
  const spec = isolated(SPIN, 60);
  // Long enough for the next request to wait for the fresh worker's init.
  spec.listeners = [{ module: "tcp", options: { requestTimeout: 2 } }];
  await using h = await startHost(spec);
  {
    await using spinning = await Client.connect(h.port);
    await spinning.send("spin\n");
    assertEquals(await spinning.readLine(), "error: request took longer than 2 s\n");
    assertEquals(await spinning.readLine(), null);
  }
  // Long before the 60 s deadline: the worker was stopped a second after the abort.
  assertMatch(
    await waitForLog(h, / PLUMB_REQUEST_FAILED node "n" /),
    /failed a request from 127\.0\.0\.1:\d+: TimeoutError: request took longer than 2 s/,
  );
  await using client = await Client.connect(h.port);
  await client.send("next\n");
  assertEquals(await client.readLine(), "ok: next 1\n");
  assertEquals(h.logs.filter((l) => l.includes("PLUMB_ISOLATE_DEADLINE")), []);
});

Deno.test("isolate: a servlet's stray rejection and exception in its worker are logged as the host logs its own; the worker goes on", async () => {
  await Deno.mkdir(path("tests/.tmp"), { recursive: true });
  const graph = "tests/.tmp/isolate_stray.json";
  const spec = isolated("../fixtures/stray.ts");
  spec.listeners = [{ module: "tcp", options: { host: "127.0.0.1", port: 0 } }];
  await Deno.writeTextFile(path(graph), JSON.stringify(spec));
  const cli = await spawnCli([graph]);
  {
    await using client = await Client.connect(cli.port);
    await client.send("stray\n");
    assertEquals(await client.readLine(), "ok: stray\n");
    await cli.waitForStderr(/PLUMB_UNCAUGHT_EXCEPTION .*thrown from a timer\n/);
    await cli.waitForStderr(/PLUMB_UNHANDLED_REJECTION .*nobody waits for this\n/);
    await client.send("again\n");
    assertEquals(await client.readLine(), "ok: again\n");
  }
  const { code, stderr } = await cli.stop();
  assertEquals(code, 0, stderr);
  assert(!stderr.includes("PLUMB_ISOLATE"), stderr);
});

Deno.test("isolate: a value that cannot be copied to the host (a function written, a function kept as state) fails that request with PLUMB_ISOLATE_UNSUPPORTED; the worker serves on", async () => {
  await using h = await startHost(isolated("./tests/fixtures/isolate/uncopyable.ts"));
  await using c = await Client.connect(h.port);
  await using other = await Client.connect(h.port);
  await c.send("one\n");
  assertEquals(await c.readLine(), "ok: one 1\n");
  for (const [line, what] of [["fn", "writeValue"], ["state", "setState"]]) {
    await c.send(`${line}\n`);
    assertEquals(await c.readLine(), "error: request failed\n", what);
    await other.send(`after ${line}\n`);
    assertMatch((await other.readLine())!, new RegExp(`^ok: after ${line} \\d\\n$`));
  }
  const failures = h.logs.filter((l) => l.includes(" PLUMB_ISOLATE_UNSUPPORTED "));
  assertEquals(failures.length, 2, h.logs.join("\n"));
  for (const line of failures) {
    assertMatch(
      line,
      /PLUMB_ISOLATE_UNSUPPORTED node "n": a value that cannot be copied to the host \(.+\) in an isolated servlet \(it runs in a worker of its own\)$/,
    );
  }
  // The same worker served on: its count went on from 1, not from a fresh worker's 1.
  await c.send("two\n");
  assertEquals(await c.readLine(), "ok: two 4\n");
});
