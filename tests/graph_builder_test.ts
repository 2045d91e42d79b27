// deno-lint-ignore-file explicit-function-return-type -- servlets written as a user would: the context type is inferred from init
/**
 * The typed graph builder: it builds the same graph as each example file,
 * refuses what a graph file is refused for with the same message, and what
 * it builds serves like the file.
 */
import { assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { path } from "./helpers.ts";
import { checkGraph, graph, type GraphBuilder, type GraphSpec } from "../host/mod.ts";
import {
  type DeclaredModule,
  type OptionSpecs,
  parseOptions,
  SESSION_OPTIONS,
} from "../modules/mod.ts";
import { defineServlet, GraphError, INPUT, OUTPUT, PERSIST } from "../mod.ts";
import { simulate } from "../testing/mod.ts";
import { parseGraph } from "../kernel/graph.ts";

/** An example file as parsed, without `$schema` (an editor's hint, which the builder has no use for). */
function example(name: string): GraphSpec {
  const file = `examples/${name}.json`;
  const spec = parseGraph(file, Deno.readTextFileSync(path(file)));
  delete spec.$schema;
  return spec;
}

const describe = (name: string): string => example(name).description ?? "";

const BUILT: Record<string, () => GraphSpec> = {
  hello: () =>
    graph(describe("hello"))
      .node("greet", "hello")
      .input("greet.in")
      .output("greet.out")
      .listen("tcp", { host: "127.0.0.1", port: 12345 })
      .build(),
  echo: () =>
    graph(describe("echo"))
      .node("echo", "echo")
      .input("echo.in")
      .output("echo.out")
      .listen("tcp", { host: "127.0.0.1", port: 12346 })
      .build(),
  pipeline: () =>
    graph(describe("pipeline"))
      .node("split", "line")
      .node("shout", "transform", ["upper"])
      .node("greet", "hello")
      .edge("split.out", "shout.in")
      .edge("shout.out", "greet.in")
      .input("split.in")
      .output("greet.out")
      .listen("tcp", { host: "127.0.0.1", port: 12347 })
      .build(),
  typed: () =>
    graph(describe("typed"))
      .node("split", "line")
      .node("shout", "transform", ["upper"])
      .node("greet", "hello")
      .node("quiet", "transform", ["lower"])
      .edge("split.out", "shout.in")
      .edge("shout.out", "greet.in")
      .edge("shout.out", "quiet.in")
      .input("split.in")
      .output("greet.out")
      .listen("tcp", { host: "127.0.0.1", port: 12348 })
      .build(),
  router: () =>
    graph(describe("router"))
      .node("split", "line")
      .node("audit", "transform", ["lower"])
      .node("route", "dataflow/demux", ["/^!/", "/^\\?/"])
      .node("shout", "transform", ["upper"])
      .node("flip", "transform", ["reverse"])
      .node("greet", "hello")
      .node("reply", "echo")
      .edge("split.out", "route.in")
      .edge("split.out", "audit.in")
      .edge("route.out0", "shout.in")
      .edge("route.out1", "flip.in")
      .edge("route.default", "greet.in")
      .edge("shout.out", "reply.in")
      .edge("flip.out", "reply.in")
      .edge("greet.out", "reply.in")
      .input("split.in")
      .output("reply.out")
      .listen("tcp", { host: "127.0.0.1", port: 12349 })
      .build(),
  upper: () =>
    graph(describe("upper"))
      .node("shout", "./upper.ts")
      .input("shout.in")
      .output("shout.out")
      .listen("tcp", { host: "127.0.0.1", port: 12351 })
      .build(),
  zero_copy_echo: () =>
    graph(describe("zero_copy_echo"))
      .node("echo", "./zero_copy_echo.ts")
      .input("echo.in")
      .output("echo.out")
      .listen("tcp", { host: "127.0.0.1", port: 12352 })
      .build(),
  jsonl: () =>
    graph(describe("jsonl"))
      .node("parse", "json/parse")
      .node("name", "json/stringify", ["--field", "name"])
      .edge("parse.out", "name.in")
      .input("parse.in")
      .output("name.out")
      .listen("tcp", { host: "127.0.0.1", port: 12350, open: false })
      .build(),
  eliza: () =>
    graph(describe("eliza"))
      .node("doctor", "eliza")
      .input("doctor.in")
      .output("doctor.out")
      .listen("tcp", { host: "127.0.0.1", port: 12000, open: true })
      .build(),
  http: () =>
    graph(describe("http"))
      .node("parse", "http/parser", ["--max-stream-bytes", "1073741824"])
      .node("route", "http/router", [
        "GET /api/hello",
        "POST /api/echo",
        "POST /api/upload",
        "GET /*",
      ])
      .node("hello", "./http_api.ts", ["hello"])
      .node("echo", "./http_api.ts", ["echo"])
      .node("upload", "./http_api.ts", ["upload"])
      .node("files", "http/static", ["./www"])
      .node("render", "http/render")
      .edge("parse.out", "route.in")
      .edge("parse.head", "render.head")
      .edge("route.out0", "hello.in")
      .edge("route.out1", "echo.in")
      .edge("route.out2", "upload.in")
      .edge("route.out3", "files.in")
      .edge("hello.out", "render.in")
      .edge("echo.out", "render.in")
      .edge("upload.out", "render.in")
      .edge("files.out", "render.in")
      .input("parse.in")
      .output("render.out")
      .listen("tcp", { host: "127.0.0.1", port: 8080 })
      .build(),
  chat: () =>
    graph(describe("chat"))
      .node("room", "chat", ["--idle", "600"])
      .input("room.in")
      .output("room.out")
      .listen("tcp", { host: "127.0.0.1", port: 12300, open: true })
      .listen("tcp", { host: "127.0.0.1", port: 12380 })
      .build(),
  kv: () =>
    graph(describe("kv"))
      .node("kv", "kv")
      .input("kv.in")
      .output("kv.out")
      .listen("tcp", { host: "127.0.0.1", port: 12360 })
      .build(),
  eliza_tls: () =>
    graph(describe("eliza_tls"))
      .node("doctor", "eliza")
      .input("doctor.in")
      .output("doctor.out")
      .listen("tls", {
        host: "127.0.0.1",
        port: 12443,
        cert: "tls/localhost.crt",
        key: "tls/localhost.key",
        open: true,
      })
      .build(),
  https: () =>
    graph(describe("https"))
      .node("parse", "http/parser")
      .node("route", "http/router", ["GET /api/hello", "POST /api/echo", "GET /*"])
      .node("hello", "./http_api.ts", ["hello"])
      .node("echo", "./http_api.ts", ["echo"])
      .node("files", "http/static", ["./www"])
      .node("render", "http/render")
      .edge("parse.out", "route.in")
      .edge("parse.head", "render.head")
      .edge("route.out0", "hello.in")
      .edge("route.out1", "echo.in")
      .edge("route.out2", "files.in")
      .edge("hello.out", "render.in")
      .edge("echo.out", "render.in")
      .edge("files.out", "render.in")
      .input("parse.in")
      .output("render.out")
      .listen("tls", {
        host: "127.0.0.1",
        port: 8443,
        cert: "tls/localhost.crt",
        key: "tls/localhost.key",
        alpn: ["http/1.1"],
      })
      .build(),
};

Deno.test("the builder builds the same graph as each example file", () => {
  for (const [name, build] of Object.entries(BUILT)) {
    assertEquals(build(), example(name), name);
  }
});

Deno.test("every example file has a builder twin in this test", () => {
  const files = [...Deno.readDirSync(path("examples"))]
    .filter((e) => e.name.endsWith(".json"))
    .map((e) => e.name.replace(/\.json$/, "")).sort();
  assertEquals(Object.keys(BUILT).sort(), files);
});

Deno.test("the builder refuses what a graph file is refused for, with the same message", () => {
  const fromFile = (json: string): string => {
    try {
      parseGraph("graph", json);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`accepted: ${json}`);
  };
  const fromBuilder = (build: () => unknown): string => {
    try {
      build();
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("accepted");
  };
  assertEquals(
    fromBuilder(() => graph().node("1st", "hello").input("1st.in").output("1st.out").build()),
    fromFile(`{"nodes": {"1st": {"servlet": "hello"}}, "input": "1st.in", "output": "1st.out"}`),
  );
  assertEquals(
    fromBuilder(() => graph().node("greet", "hello").output("greet.out").build()),
    fromFile(`{"nodes": {"greet": {"servlet": "hello"}}, "output": "greet.out"}`),
  );
  assertEquals(
    fromBuilder(() => graph().build()),
    fromFile(`{"nodes": {}, "input": "a.in", "output": "a.out"}`),
  );
  assertThrows(
    () => graph().node("greet", "hello").node("greet", "echo"),
    (error: unknown) =>
      error instanceof GraphError &&
      error.message === 'graph: node "greet" is added twice; node names are unique',
  );
});

Deno.test("checkGraph gives a built graph the checks of a file: ports, with a did-you-mean", async () => {
  const built = graph()
    .node("split", "line")
    .node("greet", "hello")
    .edge("split.outt", "greet.in")
    .input("split.in")
    .output("greet.out")
    .build();
  await assertRejects(
    () => checkGraph(built),
    (error: unknown) =>
      error instanceof GraphError &&
      error.message ===
        'graph: edge 1 ("split.outt" -> "greet.in") "from" "split.outt": node "split" has no port "outt" ' +
          '(did you mean "out"?); its ports are in, out, __null__, __error__',
  );
});

Deno.test("a built graph can hold a servlet written in code, and serves it", async () => {
  const shout = defineServlet({
    init(_args, env) {
      return { input: env.define("in", INPUT | PERSIST), output: env.define("out", OUTPUT) };
    },
    async exec(ctx, task): Promise<void> {
      const line = await task.readLine(ctx.input);
      if (line !== null) await task.write(ctx.output, `${line.toUpperCase()}!\n`);
    },
  });
  const spec = graph("in-code servlet behind a greeter")
    .node("shout", shout)
    .node("greet", "hello")
    .edge("shout.out", "greet.in")
    .input("shout.in")
    .output("greet.out")
    .listen("tcp", { host: "127.0.0.1", port: 0 })
    .build();
  assertEquals((await checkGraph(spec)).nodes, ["shout", "greet"]);
  for (const transport of ["memory", "tcp"] as const) {
    await using sim = await simulate(spec, { transport });
    assertEquals(await sim.exchange("plumber\nworld\n"), "Hello, PLUMBER!\nHello, WORLD!\n");
  }
});

Deno.test("a port of a node that was never added is a type error, and checkGraph refuses it", async () => {
  const built = graph()
    .node("greet", "hello")
    // @ts-expect-error: "great" is not a node of this graph
    .input("great.in")
    .output("greet.out")
    .build();
  await assertRejects(() => checkGraph(built), GraphError, 'no node "great"');
});

/** A graph of one greeter, to add a listener to. */
const greeter = (): GraphBuilder<"greet"> =>
  graph().node("greet", "hello").input("greet.in").output("greet.out");

Deno.test("a built-in module's options are typed: a wrong one is a type error, and checkGraph refuses it", async () => {
  const refusals: [GraphSpec, string][] = [];
  const refused = (builder: GraphBuilder<"greet">, message: string): void => {
    refusals.push([builder.build(), `graph: listener 1${message}`]);
  };
  // @ts-expect-error: "ttl" takes a number of seconds
  refused(greeter().listen("tcp", { ttl: "60" }), ' (tcp): option "ttl" must be a number');
  // @ts-expect-error: tcp has no option "prot"
  refused(greeter().listen("tcp", { prot: 1 }), ' (tcp): unknown option "prot"');
  // @ts-expect-error: "overflow" is "wait" or "refuse"
  refused(greeter().listen("tcp", { overflow: "drop" }), ' (tcp): option "overflow" must be one');
  // @ts-expect-error: a unix listener needs its "path"
  refused(greeter().listen("unix", {}), ' (unix): option "path" is required');
  // @ts-expect-error: a file listener needs "input" and "output"
  refused(greeter().listen("file"), ' (file): option "input" is required');
  // @ts-expect-error: "tpc" is no built-in module
  refused(greeter().listen("tpc"), ': unknown module "tpc"');
  // @ts-expect-error: a built-in module goes through listen, where its options are typed
  refused(greeter().listenWith("tcp", { prot: 1 }), ' (tcp): unknown option "prot"');
  for (const [built, message] of refusals) {
    await assertRejects(() => checkGraph(built), GraphError, message);
  }
});

/** A module of one's own that declares its options; checking a graph never starts it. */
const GREETING_OPTIONS = {
  ...SESSION_OPTIONS,
  greeting: { type: "string", required: true, what: "first line", doc: "The first line." },
} as const satisfies OptionSpecs;

const greetingModule: DeclaredModule<typeof GREETING_OPTIONS> = {
  name: "greeting",
  options: GREETING_OPTIONS,
  parseOptions: (options, where) => parseOptions(GREETING_OPTIONS, options, where),
  listen: () => Promise.reject(new Error("not started by checkGraph")),
};

Deno.test("a module of your own is added with listenWith: typed by its declaration, or by name", async () => {
  const modules = { greeting: greetingModule };
  const typed = greeter().listenWith(greetingModule, { greeting: "hi", ttl: 5 }).build();
  const named = greeter().listenWith("greeting", { greeting: "hi", ttl: 5 }).build();
  assertEquals(typed, named);
  assertEquals(typed.listeners, [{ module: "greeting", options: { greeting: "hi", ttl: 5 } }]);
  assertEquals((await checkGraph(typed, { modules })).listeners, ["greeting"]);
  // @ts-expect-error: the module declares "greeting" as required
  const missing = greeter().listenWith(greetingModule, { ttl: 5 }).build();
  await assertRejects(
    () => checkGraph(missing, { modules }),
    GraphError,
    'graph: listener 1 (greeting): option "greeting" is required: first line',
  );
  const untyped = greeter().listenWith("greeting", { greting: "hi" }).build();
  await assertRejects(
    () => checkGraph(untyped, { modules }),
    GraphError,
    'unknown option "greting" (did you mean "greeting"?)',
  );
});
