/**
 * `--workers N`: N isolates share the port (reusePort), each with its own
 * servlet instances; a connection and its state stay on one worker; a signal
 * closes every worker and calls every `unload`.
 */
import { assert, assertEquals } from "./assert.ts";
import { CLI_PERMISSIONS, Client, path, runCli, spawnCli } from "./helpers.ts";

const GRAPH = "tests/fixtures/graphs/worker_name.json";
const UNSTABLE = ["--unstable-net", ...CLI_PERMISSIONS];

Deno.test("--workers 2 spreads connections over two workers; each keeps its connections", async () => {
  const cli = await spawnCli([GRAPH, "--workers", "2"], UNSTABLE);
  const seen = new Set<string>();
  const clients: Client[] = [];
  try {
    for (let i = 0; i < 40; i++) clients.push(await Client.connect(cli.port));
    for (const c of clients) {
      await c.send("a\n");
      const first = await c.readLine();
      const worker = first?.match(/^(plumb worker \d) 1\n$/)?.[1];
      assert(worker !== undefined, `unexpected reply ${JSON.stringify(first)}`);
      seen.add(worker);
      // The same connection stays on its worker, with its state.
      await c.send("b\nc\n");
      assertEquals(await c.readLine(), `${worker} 2\n`);
      assertEquals(await c.readLine(), `${worker} 3\n`);
    }
  } finally {
    for (const c of clients) c.close();
  }
  // 40 connections all hashed to one worker would happen once in 2^39 runs.
  assertEquals([...seen].sort(), ["plumb worker 1", "plumb worker 2"]);
  const { code, stderr } = await cli.stop("SIGTERM");
  assertEquals(code, 0, stderr);
  const unloads = stderr.split("\n").filter((l) => l.startsWith("unload ")).sort();
  assertEquals(unloads, ["unload plumb worker 1", "unload plumb worker 2"], stderr);
});

Deno.test("--workers names the missing --unstable-net flag and exits 2", async () => {
  const { code, stderr } = await runCli([GRAPH, "--workers", "2"]);
  assertEquals(code, 2);
  assertEquals(
    stderr,
    "plumb: PLUMB_WORKERS_UNSTABLE_NET --workers needs deno run --unstable-net: the workers share the port with reusePort\n",
  );
});

Deno.test("--workers refuses what cannot be shared, and bad counts", async () => {
  const stdio = await runCli([GRAPH, "--workers", "2", "--stdio"], UNSTABLE);
  assertEquals(stdio.code, 2);
  assertEquals(
    stdio.stderr,
    "plumb: PLUMB_WORKERS_EXCLUSIVE --workers shares listening TCP ports; it cannot be used with --stdio, --listen-fd " +
      "or --idle-exit\n",
  );
  const zero = await runCli([GRAPH, "--workers", "0"], UNSTABLE);
  assertEquals(zero.code, 2);
  assertEquals(
    zero.stderr,
    'plumb: PLUMB_CLI_WORKERS --workers must be a whole number from 1 to 64, got "0"\n',
  );
});

Deno.test("--workers reports a bad graph as serve does, and nothing listens", async () => {
  const { code, stdout, stderr } = await runCli(
    ["tests/fixtures/graphs/unknown_servlet.json", "--workers", "2"],
    UNSTABLE,
  );
  assertEquals(code, 2, stderr);
  assertEquals(stdout, "");
  const alone = await runCli(["tests/fixtures/graphs/unknown_servlet.json"]);
  assertEquals(stderr, alone.stderr);
});

Deno.test("--workers without read permission for plumb's modules names the flag", async () => {
  const { code, stderr } = await runCli(
    [GRAPH, "--workers", "2"],
    ["--unstable-net", "--allow-net=127.0.0.1", `--allow-read=${GRAPH}`],
  );
  assertEquals(code, 2);
  assertEquals(
    stderr,
    `plumb: PLUMB_PERMISSION_WORKERS --workers cannot load plumb's modules in its workers: permission denied; run deno ` +
      `with --allow-read=${path(".").replace(/\/$/, "")}\n`,
  );
});

Deno.test("--workers: a reload with a servlet given in code is refused with the reason", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...UNSTABLE, path("tests/fixtures/workers_in_code.ts")],
    cwd: path("."),
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assertEquals(JSON.parse(stdout), {
    reloaded: false,
    reason: "a graph with servlets given in code cannot be sent to workers; " +
      "name each servlet by its specifier",
  });
});
