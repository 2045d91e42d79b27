/**
 * The servlet API's sugar over the wire form, served: `task.lines` and
 * `task.chunks` to the end of a request's input, `env.input`/`env.output`
 * options for keep-alive and shadows, `task.keepAlive` and `task.enable`,
 * routes by name (`NAME=`) in `dataflow/demux` and `http/router` with the
 * positional `out0` still there, and the pipe types a `pipeType` port
 * registers. The types these give the compiler are in `typed_ports_test.ts`.
 */
import { defineServlet, pipeType } from "../mod.ts";
import { checkGraph, type GraphSpec } from "../host/mod.ts";
import { HTTP_REQUEST, HTTP_RESPONSE, jsonResponse } from "../servlets/http/mod.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { Client, startHost, waitForLog } from "./helpers.ts";

const encoder = new TextEncoder();

/** Replies `<line>` to each line of its input, with a connection kept open. */
const bracket = defineServlet({
  init(_args, env) {
    return {
      input: env.input("in", { persist: true }),
      output: env.output("out"),
    };
  },
  async exec(ctx, task) {
    for await (const line of task.lines(ctx.input)) await task.write(ctx.output, `<${line}>\n`);
  },
});

Deno.test("task.lines: each line of a connection, a character split across TCP sends whole", async () => {
  await using h = await startHost({
    nodes: { n: { servlet: bracket } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  const bytes = encoder.encode("a\r\nhé日\n");
  const split = bytes.indexOf(0xc3) + 1; // inside "é"
  await c.send(bytes.subarray(0, split));
  await c.send(bytes.subarray(split));
  assertEquals(await c.readLines(2), ["<a>\n", "<hé日>\n"]);
});

Deno.test("task.lines and task.chunks end with the request's input: the loop ends, exec goes on", async () => {
  /** Writes three lines for each line it reads, splitting a character across two writes. */
  const three = defineServlet({
    init(_args, env) {
      return { input: env.input("in", { persist: true }), output: env.output("out") };
    },
    async exec(ctx, task) {
      const line = await task.readLine(ctx.input);
      if (line === null) return;
      const bytes = encoder.encode(`${line} é\n${line} 2\n${line} 日本\n`);
      const split = bytes.indexOf(0xc3) + 1;
      await task.write(ctx.output, bytes.subarray(0, split));
      await task.write(ctx.output, bytes.subarray(split));
    },
  });
  /** Joins the lines of its input in one reply, then says how many bytes it saw in chunks. */
  const collect = defineServlet({
    init(_args, env) {
      return { input: env.input("in"), output: env.output("out") };
    },
    async exec(ctx, task) {
      const seen: string[] = [];
      for await (const line of task.lines(ctx.input)) seen.push(`[${line}]`);
      let rest = 0;
      for await (const chunk of task.chunks(ctx.input)) rest += chunk.length;
      await task.write(ctx.output, `${seen.join("")} ${rest} left|end\n`);
    },
  });
  await using h = await startHost({
    nodes: { three: { servlet: three }, collect: { servlet: collect } },
    edges: [{ from: "three.out", to: "collect.in" }],
    input: "three.in",
    output: "collect.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("x\ny\n");
  assertEquals(await c.readLines(2), [
    "[x é][x 2][x 日本] 0 left|end\n",
    "[y é][y 2][y 日本] 0 left|end\n",
  ]);
});

Deno.test("task.values: the values a node wrote, as the objects themselves, to the end", async () => {
  const marker = new Uint8Array([1, 2, 3]);
  const write = defineServlet({
    init(_args, env) {
      return { input: env.input("in", { persist: true }), output: env.output("out") };
    },
    async exec(ctx, task) {
      const line = await task.readLine(ctx.input);
      if (line === null) return;
      for (const n of [1, 2, 3]) await task.writeValue(ctx.output, { line, n, marker });
    },
  });
  const read = defineServlet({
    init(_args, env) {
      return { input: env.input("in"), output: env.output("out") };
    },
    async exec(ctx, task) {
      const seen: string[] = [];
      for await (const v of task.values<{ line: string; n: number; marker: unknown }>(ctx.input)) {
        seen.push(`${v.line}${v.n}${v.marker === marker ? "" : "(a copy)"}`);
      }
      await task.write(ctx.output, `${seen.join(",")}|end\n`);
    },
  });
  await using h = await startHost({
    nodes: { write: { servlet: write }, read: { servlet: read } },
    edges: [{ from: "write.out", to: "read.in" }],
    input: "write.in",
    output: "read.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("a\nb\n");
  assertEquals(await c.readLines(2), ["a1,a2,a3|end\n", "b1,b2,b3|end\n"]);
});

Deno.test("task.keepAlive: reads PERSIST, and sets or clears it for one request", async () => {
  /** Declared with persist: closes after "bye". Declared without: stays for "stay". */
  const door = defineServlet({
    init(args, env) {
      return {
        input: env.input("in", { persist: args[0] === "persist" }),
        output: env.output("out"),
      };
    },
    async exec(ctx, task) {
      const line = await task.readLine(ctx.input);
      if (line === null) return;
      const before = task.keepAlive(ctx.input);
      const after = line === "bye"
        ? task.keepAlive(ctx.input, false)
        : line === "stay"
        ? task.keepAlive(ctx.input, true)
        : task.keepAlive(ctx.input);
      await task.write(ctx.output, `${line}: ${before} -> ${after}\n`);
    },
  });
  for (
    const [args, script] of [
      [["persist"], [["hi", "hi: true -> true"], ["bye", "bye: true -> false"]]],
      [[], [["stay", "stay: false -> true"], ["go", "go: false -> false"]]],
    ] as const
  ) {
    await using h = await startHost({
      nodes: { n: { servlet: door, args: [...args] } },
      input: "n.in",
      output: "n.out",
      listeners: [{ module: "tcp" }],
    });
    await using c = await Client.connect(h.port);
    for (const [send, reply] of script) {
      await c.send(`${send}\n`);
      assertEquals(await c.readLine(), `${reply}\n`);
    }
    assert(await c.closedByServer(), "the last request closed the connection");
  }
});

Deno.test("env.output shadowOf + disabled, task.enable: the shadow carries its target's bytes when enabled", async () => {
  /** Writes each line to `out`; its shadow `loud` carries it too when the line starts with "!". */
  const fork = defineServlet({
    init(_args, env) {
      const out = env.output("out", { type: "text/line" });
      return {
        input: env.input("in", { persist: true, type: "text/line" }),
        out,
        loud: env.output("loud", { shadowOf: out, disabled: true }),
      };
    },
    async exec(ctx, task) {
      const line = await task.readLine(ctx.input);
      if (line === null) return;
      if (line.startsWith("!")) task.enable(ctx.loud);
      await task.write(ctx.out, `${line}\n`);
    },
  });
  await using h = await startHost({
    nodes: {
      fork: { servlet: fork },
      up: { servlet: "transform", args: ["upper"] },
      low: { servlet: "transform", args: ["lower"] },
      reply: { servlet: "echo" },
    },
    // The join prefers its inputs in the order of these edges: the loud branch when it ran.
    edges: [
      { from: "fork.loud", to: "up.in" },
      { from: "fork.out", to: "low.in" },
      { from: "up.out", to: "reply.in" },
      { from: "low.out", to: "reply.in" },
    ],
    input: "fork.in",
    output: "reply.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("Quiet Words\n!Loud Words\nQuiet Again\n");
  assertEquals(await c.readLines(3), ["quiet words\n", "!LOUD WORDS\n", "quiet again\n"]);
});

Deno.test("env.output shadowOf an input: the output carries the bytes exec reads, as they came", async () => {
  /** Echoes by a shadow of its input: exec only drains it. */
  const mirror = defineServlet({
    init(_args, env) {
      const input = env.input("in", { persist: true });
      env.output("out", { shadowOf: input });
      return { input };
    },
    async exec(ctx, task) {
      await task.drain(ctx.input);
    },
  });
  await using h = await startHost({
    nodes: { n: { servlet: mirror } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  const bytes = new Uint8Array([0x61, 0x0d, 0x0a, 0xff, 0xfe, 0x0a]); // "a\r\n", invalid UTF-8
  await c.send(bytes);
  assertEquals(await c.readBytes(bytes.length), bytes);
  await c.send("again\n");
  assertEquals(await c.readLines(1), ["again\n"]);
});

Deno.test("task.enable on a port that is no shadow fails that request, naming node and port", async () => {
  const wrong = defineServlet({
    init(_args, env) {
      return { input: env.input("in", { persist: true }), output: env.output("out") };
    },
    async exec(ctx, task) {
      const line = await task.readLine(ctx.input);
      if (line === "wrong") task.enable(ctx.output);
      await task.write(ctx.output, `${line}\n`);
    },
  });
  await using h = await startHost({
    nodes: { n: { servlet: wrong } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "tcp", options: { errorReply: "failed\n" } }],
  });
  await using c = await Client.connect(h.port);
  await c.send("right\n");
  assertEquals(await c.readLine(), "right\n");
  await c.send("wrong\n");
  assertEquals(await c.readLine(), "failed\n");
  await waitForLog(
    h,
    `node "n": enable on port "out", which is not a shadow; ` +
      `declare it with env.output(name, { shadowOf, disabled: true })`,
  );
});

/** examples/router.json with its first route named `shout`, reached as `shoutRef`. */
function namedRouter(args: string[], shoutRef: string): GraphSpec {
  return {
    nodes: {
      route: { servlet: "dataflow/demux", args },
      shout: { servlet: "transform", args: ["upper"] },
      flip: { servlet: "transform", args: ["reverse"] },
      greet: { servlet: "hello" },
      reply: { servlet: "echo" },
    },
    edges: [
      { from: shoutRef, to: "shout.in" },
      { from: "route.out1", to: "flip.in" },
      { from: "route.default", to: "greet.in" },
      { from: "shout.out", to: "reply.in" },
      { from: "flip.out", to: "reply.in" },
      { from: "greet.out", to: "reply.in" },
    ],
    input: "route.in",
    output: "reply.out",
    listeners: [{ module: "tcp" }],
  };
}

Deno.test("dataflow/demux: a route named NAME=/regex/ is the port NAME, and still out0", async () => {
  for (const ref of ["route.shout", "route.out0"]) {
    await using h = await startHost(namedRouter(["shout=/^!/", "/^\\?/"], ref));
    await using c = await Client.connect(h.port);
    await c.send("!hey\n?abc\nPlumber\n");
    assertEquals(await c.readLines(3), ["!HEY\n", "cba?\n", "Hello, Plumber\n"], ref);
  }
});

Deno.test("dataflow/demux: a literal argument with = in it still matches a line equal to it", async () => {
  await using h = await startHost(namedRouter(["k=v", "/^\\?/"], "route.out0"));
  await using c = await Client.connect(h.port);
  await c.send("k=v\nk=w\n");
  assertEquals(await c.readLines(2), ["K=V\n", "Hello, k=w\n"]);
});

Deno.test("routes by name: a wrong name is one line naming the node, the name and the ports", async () => {
  await assertRejects(
    () => checkGraph(namedRouter(["shout=/^!/", "/^\\?/"], "route.shuot")),
    {
      message: `graph: edge 1 ("route.shuot" -> "shout.in") "from" "route.shuot": node "route" ` +
        `has no port "shuot" (did you mean "shout"?); its ports are in, data, shout (out0), ` +
        `out1, default, __null__, __error__`,
    },
  );
  await assertRejects(
    () => checkGraph(namedRouter(["data=/^!/", "/^\\?/"], "route.out0")),
    {
      message: `graph: node "route": init of servlet "dataflow/demux" failed: ` +
        `PLUMB_DATAFLOW_ROUTE_NAME_TAKEN dataflow/demux: route name "data" (in "data=/^!/") is a port the node has anyway ` +
        `(in, data, default, out0 ...); pick another`,
    },
  );
  await assertRejects(
    () => checkGraph(namedRouter(["a=/^!/", "a=/^\\?/"], "route.out0")),
    {
      message: `graph: node "route": init of servlet "dataflow/demux" failed: ` +
        `PLUMB_DATAFLOW_ROUTE_NAME_TWICE dataflow/demux: route name "a" is given twice; names are unique`,
    },
  );
});

Deno.test("http/router: a route named NAME= feeds the edge from route.NAME", async () => {
  await using h = await startHost({
    nodes: {
      parse: { servlet: "http/parser" },
      route: { servlet: "http/router", args: ["hello=GET /api/hello", "POST /api/echo"] },
      hello: { servlet: "./examples/http_api.ts", args: ["hello"] },
      render: { servlet: "http/render" },
    },
    edges: [
      { from: "parse.out", to: "route.in" },
      { from: "parse.head", to: "render.head" },
      { from: "route.hello", to: "hello.in" },
      { from: "hello.out", to: "render.in" },
    ],
    input: "parse.in",
    output: "render.out",
    listeners: [{ module: "tcp" }],
  });
  await using c = await Client.connect(h.port);
  await c.send("GET /api/hello?name=route HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const reply = await c.readToEnd();
  assert(reply.startsWith("HTTP/1.1 200 OK\r\n"), reply);
  assert(reply.endsWith('\r\n\r\n{"message":"Hello, route!"}'), reply);
});

Deno.test("env.input/env.output options: a wrong shadowOf or alias is one line at init", async () => {
  const cases: [(env: Parameters<typeof bracket.init>[1]) => unknown, string][] = [
    [
      (env) => {
        const copy = env.output("copy", { shadowOf: env.input("in") });
        env.output("again", { shadowOf: copy });
      },
      `port "again": shadowOf must be a port this node declared before it (an input or an output), not itself a shadow`,
    ],
    [(env) => {
      env.output("out0");
      env.output("shout", { alias: "out0" });
    }, `port alias "out0" is taken by port "out0"; port names and aliases are unique in a node`],
    [(env) => {
      env.output("shout", { alias: "out0" });
      env.output("out0");
    }, `port name "out0" is taken by port "shout"; port names and aliases are unique in a node`],
    [
      (env) => env.output("out", { alias: "__error__" }),
      `port alias "__error__" is reserved for the kernel's signal output`,
    ],
  ];
  for (const [declare, message] of cases) {
    const servlet = defineServlet({
      init(_args, env) {
        declare(env);
        return {};
      },
      exec() {},
    });
    await assertRejects(
      () =>
        checkGraph({
          nodes: { n: { servlet }, m: { servlet: "echo" } },
          input: "m.in",
          output: "m.out",
          listeners: [{ module: "tcp" }],
        }),
      { message: `graph: node "n": ${message}` },
    );
  }
});

/** A handler on typed ports, and nothing else of the HTTP family in its graph. */
const handler = defineServlet({
  init(_args, env) {
    return {
      input: env.input("in", { type: HTTP_REQUEST }),
      output: env.output("out", { type: HTTP_RESPONSE }),
    };
  },
  async exec(ctx, task) {
    const request = await task.readValue(ctx.input);
    if (request !== null) await task.writeValue(ctx.output, jsonResponse({ path: request.path }));
  },
});

Deno.test("pipeType: a node whose ports are declared with one registers its type", async () => {
  const checked = await checkGraph({
    nodes: { front: { servlet: "line" }, h: { servlet: handler }, sink: { servlet: "echo" } },
    edges: [{ from: "h.out", to: "sink.in" }, { from: "front.out", to: "sink.in" }],
    input: "h.in",
    output: "sink.out",
    listeners: [{ module: "tcp" }],
  });
  assertEquals(checked.nodes.includes("h"), true);
  // A servlet that calls the same name something else is refused, naming both nodes.
  const odd = defineServlet({
    init(_args, env) {
      return { output: env.output("out", { type: pipeType<string>("http/request", "text") }) };
    },
    exec() {},
  });
  await assertRejects(
    () =>
      checkGraph({
        nodes: { h: { servlet: handler }, odd: { servlet: odd } },
        input: "h.in",
        output: "h.out",
        listeners: [{ module: "tcp" }],
      }),
    {
      message: `graph: node "odd" registers type "http/request" extending "text", ` +
        `but node "h" has it extend "json"`,
    },
  );
});

Deno.test("env.log writes a line to the host's log, naming the node, in init and after", async () => {
  let later: (() => void) | undefined;
  const bus = defineServlet({
    init(_args, env) {
      env.log("warn", "PLUMB_NATS_DISCONNECTED", "lost the bus");
      later = () => env.log("info", "PLUMB_NATS_RECONNECTED", "found the bus again");
      return { input: env.input("in"), output: env.output("out") };
    },
    async exec(ctx, task) {
      await task.forward(ctx.input, ctx.output);
    },
  });
  await using h = await startHost({
    nodes: { bus: { servlet: bus } },
    input: "bus.in",
    output: "bus.out",
    listeners: [{ module: "tcp", options: {} }],
  });
  assertEquals(
    await waitForLog(h, "PLUMB_NATS_DISCONNECTED"),
    'plumb warn: PLUMB_NATS_DISCONNECTED node "bus": lost the bus',
  );
  later!();
  assertEquals(
    await waitForLog(h, "PLUMB_NATS_RECONNECTED"),
    'plumb info: PLUMB_NATS_RECONNECTED node "bus": found the bus again',
  );
});
