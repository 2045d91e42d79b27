/** The command line (S5): options, permission hints, and a clean stop on signals. */
import denoJson from "../deno.json" with { type: "json" };
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, runCli, spawnCli, startHost } from "./helpers.ts";

Deno.test("cli: --help prints usage and exits 0", async () => {
  const result = await runCli(["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^plumb \d+\.\d+\.\d+: serve a graph of servlets\n/);
  for (const option of ["--host", "--port", "--check", "--log-level", "--help", "--version"]) {
    assert(result.stdout.includes(option), option);
  }
});

Deno.test("cli: --version prints the package version", async () => {
  const result = await runCli(["--version"]);
  assertEquals(result, { code: 0, stdout: `plumb ${denoJson.version}\n`, stderr: "" });
});

Deno.test("cli: an unknown option is refused (strict), exit 2", async () => {
  const result = await runCli(["examples/hello.json", "--prot", "1"]);
  assertEquals(result.code, 2);
  assertEquals(result.stdout, "");
  assertMatch(
    result.stderr,
    /^plumb: PLUMB_CLI_BAD_OPTION Unknown option '--prot'.*; see --help\n$/,
  );
});

Deno.test("cli: a bad --port is refused, exit 2", async () => {
  const result = await runCli(["examples/hello.json", "--port", "http"]);
  assertEquals(result, {
    code: 2,
    stdout: "",
    stderr: `plumb: PLUMB_CLI_PORT --port must be a whole number from 0 to 65535, got "http"\n`,
  });
});

Deno.test("cli: no graph file given", async () => {
  const result = await runCli([]);
  assertEquals(result.code, 2);
  assertEquals(
    result.stderr,
    "plumb: PLUMB_CLI_NO_GRAPH no graph file given; usage: main.ts GRAPH.json [options], see --help\n",
  );
});

Deno.test("cli: --check validates and prints a summary, exit 0", async () => {
  const result = await runCli(["examples/pipeline.json", "--check"]);
  assertEquals(result, {
    code: 0,
    stdout: "examples/pipeline.json: ok: 3 node(s), 2 edge(s), 1 listener(s)\n",
    stderr: "",
  });
});

Deno.test("cli: missing --allow-read prints the flag to add, not a stack trace", async () => {
  const result = await runCli(["examples/hello.json"], ["--allow-net=127.0.0.1"]);
  assertEquals(result, {
    code: 2,
    stdout: "",
    stderr:
      "plumb: PLUMB_PERMISSION_GRAPH cannot read graph file examples/hello.json: permission " +
      "denied; run deno with --allow-read\n",
  });
});

Deno.test("cli: missing --allow-net prints the flag to add, not a stack trace", async () => {
  const result = await runCli(["examples/hello.json"], ["--allow-read"]);
  assertEquals(result, {
    code: 2,
    stdout: "",
    stderr:
      "plumb: PLUMB_PERMISSION_NET cannot listen on tcp://127.0.0.1:12345: permission denied; " +
      "run deno with --allow-net=127.0.0.1:12345\n",
  });
});

Deno.test("cli: serves the hello example on --port 0 and prints the real port", async () => {
  await using host = await spawnCli(["examples/hello.json", "--port", "0"]);
  assert(host.port > 0);
  await using c = await Client.connect(host.port);
  await c.send("Plumber\r\n");
  assertEquals(await c.readLine(), "Hello, Plumber\n");
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`cli: ${signal} stops accepting, closes idle connections, unloads, exits 0`, async () => {
    const host = await spawnCli(["tests/fixtures/graphs/lifecycle.json", "--port", "0"]);
    await using c = await Client.connect(host.port);
    await c.send("hi\n");
    assertEquals(await c.readLine(), "life: hi\n");
    const result = await host.stop(signal);
    assertEquals(result.code, 0);
    assertEquals(
      result.stderr,
      "plumb: PLUMB_STOPPING stopping (a second signal exits at once)\nunload life\n",
    );
    assertEquals(await c.closedByServer(), true, "the idle persistent connection was closed");
  });
}

Deno.test("cli: --dot prints the graph after the rewrite, with ports and types on the edges", async () => {
  const result = await runCli(["examples/pipeline.json", "--dot"]);
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  assertEquals(
    result.stdout,
    [
      `digraph "examples/pipeline.json" {`,
      `  rankdir=LR;`,
      `  node [shape=box, style=rounded, fontname="Helvetica"];`,
      `  edge [fontname="Helvetica", fontsize=10];`,
      `  "(input)" [shape=circle, label="in"];`,
      `  "(output)" [shape=doublecircle, label="out"];`,
      `  "split" [label="split\\nline"];`,
      `  "shout" [label="shout\\ntransform"];`,
      `  "greet" [label="greet\\nhello"];`,
      `  "(input)" -> "split" [label="in\\ntext/line"];`,
      `  "greet" -> "(output)" [label="out\\ntext/line"];`,
      `  "split" -> "shout" [label="out → in\\ntext/line"];`,
      `  "shout" -> "greet" [label="out → in\\ntext/line"];`,
      `}`,
      ``,
    ].join("\n"),
  );
});

Deno.test("cli: --dot shows the dup and join nodes the loader added", async () => {
  const result = await runCli(["examples/router.json", "--dot"]);
  assertEquals(result.code, 0);
  assert(
    result.stdout.includes(`"split~out~dup" [label="split~out~dup\\ndataflow/dup", shape=diamond`),
  );
  assert(result.stdout.includes(`"route" -> "greet" [label="default → in\\ntext/line"];`));
  assert(result.stdout.includes(`"reply~in~join" -> "reply" [label="out → in\\ntext/line"];`));
});

Deno.test("cli: --check warns of an http/render whose head is not wired, and still exits 0", async () => {
  const file = "tests/fixtures/graphs/warn_render_head.json";
  const result = await runCli([file, "--check"]);
  assertEquals(result, {
    code: 0,
    stdout: `${file}: ok: 4 node(s), 3 edge(s), 1 listener(s), 2 warning(s)\n`,
    stderr:
      `plumb warn: PLUMB_CHECK_WARNING ${file}: node "parse": output "head" is read by nothing ` +
      `(no edge, not the graph's output); what the node writes there is dropped\n` +
      `plumb warn: PLUMB_CHECK_WARNING ${file}: node "render": input "head" is written by nothing ` +
      `(no edge, not the graph's input); it reads as empty in every request, and the node ` +
      `runs only when another input is written\n`,
  });
  // Served, the host says the same once, when it starts.
  await using h = await startHost(file);
  assertEquals(
    h.logs.filter((l) => l.includes(`node "render": input "head" is written by nothing`)).length,
    1,
  );
});

Deno.test("cli: --check warns of an output that nothing reads (examples/router.json's audit tap)", async () => {
  const file = "examples/router.json";
  const result = await runCli([file, "--check"]);
  assertEquals(result, {
    code: 0,
    stdout: `${file}: ok: 9 node(s), 10 edge(s), 1 listener(s), 1 warning(s)\n`,
    stderr:
      `plumb warn: PLUMB_CHECK_WARNING ${file}: node "audit": output "out" is read by nothing ` +
      `(no edge, not the graph's output); what the node writes there is dropped\n`,
  });
});

Deno.test("cli: --check warns of PERSIST declared where it cannot act", async () => {
  const file = "tests/fixtures/graphs/warn_persist.json";
  const result = await runCli([file, "--check"]);
  assertEquals(result, {
    code: 0,
    stdout: `${file}: ok: 2 node(s), 1 edge(s), 1 listener(s), 1 warning(s)\n`,
    stderr:
      `plumb warn: PLUMB_CHECK_WARNING ${file}: node "greet": input "in" declares PERSIST, which only the ` +
      `graph's input ("first.in", which does not) acts on: the connection closes after each ` +
      `request unless "first" sets PERSIST on it at exec time\n`,
  });
});
