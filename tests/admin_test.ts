/**
 * The admin listener (`--admin`): `/metrics` counts what real connections
 * did, exactly, and passes `promtool check metrics` (Debian `prometheus`);
 * `/health` answers 503 while the host stops; a loopback address is the
 * default and any other must be asked for; reloads and refusals are counted;
 * a host without it counts nothing.
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import {
  CLI_PERMISSIONS,
  Client,
  path,
  runCli,
  startHost,
  WORKERS_PERMISSIONS,
} from "./helpers.ts";
import { defineServlet, INPUT, OUTPUT, PERSIST, type Port } from "../mod.ts";
import type { GraphSpec } from "../host/mod.ts";

/** The value of the sample `name{labels}` in an exposition; undefined when there is none. */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const match = line.match(/^([a-z_:]+)(?:\{(.*)\})? (\S+)$/);
    if (match === null || match[1] !== name) continue;
    const have = match[2] === undefined ? [] : match[2].split(/,(?=[a-z_]+=")/);
    if (wanted.length === have.length && wanted.every((w) => have.includes(w))) {
      return Number(match[3]);
    }
  }
  return undefined;
}

function assertStringIncludes(text: string, part: string): void {
  assert(text.includes(part), `no ${JSON.stringify(part)} in:\n${text}`);
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    body: await response.text(),
  };
}

/** Runs `promtool check metrics` on `text`: its exit code and what it said. */
async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("admin: /metrics counts requests per node, bytes per edge and listener, and passes promtool", async () => {
  await using h = await startHost("examples/pipeline.json", { admin: { port: 0 } });
  const admin = h.host.adminUrl!;
  assertMatch(admin, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const client = await Client.connect(h.port);
  for (const name of ["ada", "bob", "cy"]) {
    await client.send(`${name}\n`);
    assertEquals(await client.readLine(), `Hello, ${name.toUpperCase()}\n`);
  }
  client.close();
  // The connection's end is counted once the host has seen it.
  for (let i = 0; i < 500 && h.host.metrics()!.listeners[0].open !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const { status, type, body } = await get(`${admin}metrics`);
  assertEquals(status, 200);
  assertEquals(type, "text/plain; version=0.0.4; charset=utf-8");
  const listener = { listener: h.host.urls[0] };
  assertEquals(sample(body, "plumb_connections_open", listener), 0);
  assertEquals(sample(body, "plumb_connections_accepted_total", listener), 1);
  assertEquals(
    sample(body, "plumb_connections_refused_total", { ...listener, reason: "deny" }),
    0,
  );
  assertEquals(sample(body, "plumb_listener_received_bytes_total", listener), 11);
  // "Hello, ADA\n" "Hello, BOB\n" "Hello, CY\n"
  assertEquals(sample(body, "plumb_listener_sent_bytes_total", listener), 32);
  for (const node of ["split", "shout", "greet"]) {
    assertEquals(sample(body, "plumb_node_requests_total", { node }), 3, node);
    assertEquals(sample(body, "plumb_node_failures_total", { node }), 0, node);
    assertEquals(sample(body, "plumb_node_exec_seconds_count", { node }), 3, node);
    assertEquals(sample(body, "plumb_node_exec_seconds_bucket", { node, le: "+Inf" }), 3, node);
  }
  // "ada" "bob" "cy" as lines, then upper-cased: 4 + 4 + 3 units each way.
  const split = { from: "split.out", to: "shout.in" };
  assertEquals(sample(body, "plumb_edge_bytes_total", split), 11);
  assertEquals(sample(body, "plumb_edge_writes_total", split), 3);
  assertEquals(sample(body, "plumb_edge_bytes_total", { from: "shout.out", to: "greet.in" }), 11);
  assert(sample(body, "plumb_edge_queue_peak_bytes", split)! <= 4);
  assertEquals(sample(body, "plumb_reloads_total", { result: "ok" }), 0);
  assertEquals(sample(body, "plumb_graph_generation"), 1);
  assert(sample(body, "process_resident_memory_bytes")! > 0);
  const check = await promtool(body);
  assertEquals(check, { code: 0, output: "" }, body);
});

/** A servlet that fails on `boom`, and a node after it whose read of that failure fails too. */
const failing = defineServlet({
  init(_args, env): { input: Port; output: Port } {
    return { input: env.define("in", INPUT | PERSIST), output: env.define("out", OUTPUT) };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line === "boom") throw new Error(`boom requested`);
    await task.write(ctx.output, `${line}\n`);
  },
});

const relay = defineServlet({
  init(_args, env): { input: Port; output: Port } {
    return { input: env.define("in", INPUT), output: env.define("out", OUTPUT | PERSIST) };
  },
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    if (line !== null) await task.write(ctx.output, `got ${line}\n`);
  },
});

Deno.test("admin: a node's failures and recent errors are counted, not its followers' upstream failures", async () => {
  const spec: GraphSpec = {
    nodes: { first: { servlet: failing }, second: { servlet: relay } },
    edges: [{ from: "first.out", to: "second.in" }],
    input: "first.in",
    output: "second.out",
    listeners: [{ module: "tcp", options: { errorReply: "failed\n" } }],
  };
  await using h = await startHost(spec, { metrics: true });
  assertEquals(h.host.adminUrl, undefined);
  const client = await Client.connect(h.port);
  await client.send("fine\n");
  assertEquals(await client.readLine(), "got fine\n");
  await client.send("boom\n");
  assertEquals(await client.readLine(), "failed\n");
  client.close();
  const nodes = Object.fromEntries(h.host.metrics()!.nodes.map((n) => [n.name, n]));
  assertEquals(nodes.first.requests, 2);
  assertEquals(nodes.first.failures, 1);
  assertEquals(nodes.first.errors.map((e) => e.message), ["boom requested"]);
  assertEquals(nodes.second.failures, 0);
  assertEquals(nodes.second.errors, []);
});

Deno.test("admin: refusals are counted by the option that refused them", async () => {
  await using h = await startHost(
    {
      nodes: { n: { servlet: "hello" } },
      input: "n.in",
      output: "n.out",
      listeners: [{ module: "tcp", options: { deny: ["127.0.0.1"] } }],
    },
    { admin: { port: 0 } },
  );
  const client = await Client.connect(h.port);
  assertEquals(await client.closedByServer(), true);
  client.close();
  const { body } = await get(`${h.host.adminUrl}metrics`);
  const listener = h.host.urls[0];
  assertEquals(sample(body, "plumb_connections_refused_total", { listener, reason: "deny" }), 1);
  assertEquals(sample(body, "plumb_connections_refused_total", { listener, reason: "allow" }), 0);
  assertEquals(sample(body, "plumb_connections_accepted_total", { listener }), 0);
});

Deno.test("admin: reloads are counted, and the counters of a node go on across them", async () => {
  await using h = await startHost("examples/hello.json", { admin: { port: 0 } });
  const ask = async (): Promise<void> => {
    const client = await Client.connect(h.port);
    await client.send("x\n");
    assertEquals(await client.readLine(), "Hello, x\n");
    client.close();
  };
  await ask();
  assertEquals((await h.host.reload()).reloaded, true);
  assertEquals((await h.host.reload({ nodes: {} } as unknown as GraphSpec)).reloaded, false);
  await ask();
  const { body } = await get(`${h.host.adminUrl}metrics`);
  assertEquals(sample(body, "plumb_reloads_total", { result: "ok" }), 1);
  assertEquals(sample(body, "plumb_reloads_total", { result: "failed" }), 1);
  assertEquals(sample(body, "plumb_graph_generation"), 2);
  assertEquals(sample(body, "plumb_node_requests_total", { node: "greet" }), 2);
  const view = JSON.parse((await get(`${h.host.adminUrl}graph.json`)).body);
  assertEquals(view.generation, 2);
});

/** A servlet that holds each request until `release` is called. */
function holding(): {
  servlet: ReturnType<typeof defineServlet>;
  started: Promise<void>;
  release: () => void;
} {
  let started: () => void = () => {};
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const startedPromise = new Promise<void>((resolve) => started = resolve);
  const servlet = defineServlet({
    init(_args, env): { input: Port; output: Port } {
      return { input: env.define("in", INPUT), output: env.define("out", OUTPUT) };
    },
    async exec(ctx, task): Promise<void> {
      await task.readLine(ctx.input);
      started();
      await gate;
      await task.write(ctx.output, "done\n");
    },
  });
  return { servlet, started: startedPromise, release };
}

Deno.test("admin: /health is 200 while serving and 503 while stopping", async () => {
  const hold = holding();
  const h = await startHost(
    {
      nodes: { n: { servlet: hold.servlet } },
      input: "n.in",
      output: "n.out",
      listeners: [{ module: "tcp" }],
    },
    { admin: { port: 0 } },
  );
  const health = `${h.host.adminUrl}health`;
  assertEquals(await get(health), { status: 200, type: "text/plain; charset=utf-8", body: "ok\n" });
  const client = await Client.connect(h.port);
  await client.send("x\n");
  await hold.started;
  const closed = h.host.close(5000);
  assertEquals((await get(health)).status, 503);
  assertEquals((await get(health)).body, "stopping\n");
  hold.release();
  assertEquals(await client.readLine(), "done\n");
  client.close();
  await closed;
  await assertRejects(() => fetch(health));
});

Deno.test("admin: the page, the graph and its drawing are served; other paths are 404", async () => {
  await using h = await startHost("examples/pipeline.json", { admin: { port: 0 } });
  const page = await get(h.host.adminUrl!);
  assertEquals(page.status, 200);
  assertStringIncludes(page.body, "<title>plumb admin</title>");
  const view = JSON.parse((await get(`${h.host.adminUrl}graph.json`)).body);
  assertEquals(view.nodes.map((n: { name: string }) => n.name), ["split", "shout", "greet"]);
  assertEquals(view.nodes[1].args, ["upper"]);
  assertEquals(view.edges, [
    { from: "split.out", to: "shout.in" },
    { from: "shout.out", to: "greet.in" },
  ]);
  assertEquals([view.input, view.output], ["split.in", "greet.out"]);
  const svg = await get(`${h.host.adminUrl}graph.svg`);
  assertEquals(svg.type, "image/svg+xml");
  for (const id of ["n0", "n1", "n2", "e0", "e1", "in", "out"]) {
    assertStringIncludes(svg.body, `id="${id}"`);
  }
  assertEquals((await get(`${h.host.adminUrl}nothing`)).status, 404);
  const post = await fetch(`${h.host.adminUrl}metrics`, { method: "POST" });
  await post.body?.cancel();
  assertEquals(post.status, 405);
});

Deno.test("admin: the event stream sends the live counters", async () => {
  await using h = await startHost("examples/hello.json", { admin: { port: 0 } });
  const client = await Client.connect(h.port);
  await client.send("x\n");
  assertEquals(await client.readLine(), "Hello, x\n");
  client.close();
  const response = await fetch(`${h.host.adminUrl}events`);
  assertEquals(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
  await reader.cancel();
  const event = JSON.parse(text.slice("data: ".length, text.indexOf("\n\n")));
  assertEquals(event.nodes.greet.requests, 1);
  assertEquals(event.workers, 1);
  assertEquals(event.listeners[0].url, h.host.urls[0]);
});

Deno.test("admin: a host without --admin counts nothing", async () => {
  await using h = await startHost("examples/hello.json");
  assertEquals(h.host.metrics(), undefined);
  assertEquals(h.host.adminUrl, undefined);
});

Deno.test("admin: an address that is not loopback must be asked for", async () => {
  await assertRejects(
    () => startHost("examples/hello.json", { admin: { host: "0.0.0.0", port: 0 } }),
    /--admin 0\.0\.0\.0:0: 0\.0\.0\.0 is not a loopback address/,
  );
  // Asked for, it needs the permission this test does not have, and says which.
  await assertRejects(
    () => startHost("examples/hello.json", { admin: { host: "0.0.0.0", port: 0, public: true } }),
    /--allow-net=0\.0\.0\.0/,
  );
  const cli = await runCli(["examples/hello.json", "--admin", "0.0.0.0:9090"]);
  assertEquals(cli.code, 2);
  assertStringIncludes(
    cli.stderr,
    "plumb: PLUMB_ADMIN_NOT_LOOPBACK --admin 0.0.0.0:9090: 0.0.0.0 is not a loopback address",
  );
  assertStringIncludes(cli.stderr, "add --admin-public");
  const bad = await runCli(["examples/hello.json", "--admin", "9090"]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "--admin takes HOST:PORT");
});

Deno.test("admin: the CLI prints the admin address and serves /health there", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CLI_PERMISSIONS,
      path("main.ts"),
      "examples/hello.json",
      "--port",
      "0",
      "--admin",
      "127.0.0.1:0",
    ],
    cwd: path("."),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  while (!/\nadmin on .*\n/.test(stdout)) {
    const { value, done } = await lines.read();
    if (done) break;
    stdout += value;
  }
  const url = stdout.match(
    /^listening on tcp:\/\/127\.0\.0\.1:\d+\nadmin on (http:\/\/127\.0\.0\.1:\d+\/)\n/,
  )
    ?.[1];
  try {
    assert(url !== undefined, stdout);
    assertEquals((await get(`${url}health`)).body, "ok\n");
  } finally {
    child.kill("SIGTERM");
    await lines.cancel();
    await child.status;
  }
});

Deno.test("admin: with --workers 2, /metrics has each worker's counts and the page their sum", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...WORKERS_PERMISSIONS,
      path("main.ts"),
      "examples/hello.json",
      "--port",
      "0",
      "--workers",
      "2",
      "--admin",
      "127.0.0.1:0",
    ],
    cwd: path("."),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  while (!/\nadmin on .*\n/.test(stdout)) {
    const { value, done } = await lines.read();
    if (done) break;
    stdout += value;
  }
  try {
    const match = stdout.match(
      /^listening on tcp:\/\/127\.0\.0\.1:(\d+)\nadmin on (http:\/\/127\.0\.0\.1:\d+\/)\n/,
    );
    assert(match !== null, stdout);
    const [, port, admin] = match;
    // Connections one after the other: the kernel spreads them over the workers.
    const connections = 8;
    for (let i = 0; i < connections; i++) {
      const client = await Client.connect(Number(port));
      await client.send("x\n");
      assertEquals(await client.readLine(), "Hello, x\n");
      client.close();
    }
    const { body } = await get(`${admin}metrics`);
    const perWorker = ["1", "2"].map((worker) =>
      sample(body, "plumb_node_requests_total", { worker, node: "greet" })
    );
    assert(perWorker.every((n) => n !== undefined), body);
    assertEquals(perWorker[0]! + perWorker[1]!, connections);
    assertEquals(sample(body, "plumb_node_requests_total", { node: "greet" }), undefined);
    assertEquals((await promtool(body)).code, 0);
    const response = await fetch(`${admin}events`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
    await reader.cancel();
    const event = JSON.parse(text.slice("data: ".length, text.indexOf("\n\n")));
    assertEquals([event.workers, event.nodes.greet.requests], [2, connections]);
    const view = JSON.parse((await get(`${admin}graph.json`)).body);
    assertEquals(view.nodes.map((n: { name: string }) => n.name), ["greet"]);
  } finally {
    child.kill("SIGTERM");
    await lines.cancel();
    await child.status;
  }
});
