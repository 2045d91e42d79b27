/**
 * Graceful shutdown of the CLI (S5): on SIGTERM a request in flight finishes
 * and is answered, an idle persistent connection is closed, nothing new is
 * accepted, every `unload` is called and the exit status is 0; a second
 * signal exits at once.
 */
import { assert, assertEquals } from "./assert.ts";
import { Client, spawnCli } from "./helpers.ts";

const GRAPH = "tests/fixtures/graphs/delay.json";

Deno.test("cli: SIGTERM lets the request in flight finish, closes the idle connection, unloads, exits 0", async () => {
  const cli = await spawnCli([GRAPH, "--port", "0"]);
  await using idle = await Client.connect(cli.port);
  await idle.send("0\n");
  assertEquals(await idle.readLine(), "slept 0\n");
  await using busy = await Client.connect(cli.port);
  await busy.send("400\n");
  await cli.waitForStderr("start 400\n");

  const stopped = cli.stop("SIGTERM");
  assertEquals(await idle.closedByServer(), true, "the idle persistent connection was closed");
  // Stopped accepting: a new connection is refused (or, had it come in the instant
  // before the listening socket closed, dropped unserved).
  const late = await Client.connect(cli.port).catch(() => undefined);
  if (late !== undefined) {
    await late.send("0\n").catch(() => {});
    assertEquals(await late.readToEnd(), "", "a connection after SIGTERM was served");
    late.close();
  }
  assertEquals(await busy.readLine(), "slept 400\n", "the request in flight was answered");
  assertEquals(await busy.closedByServer(), true);

  const result = await stopped;
  assertEquals(result.code, 0, result.stderr);
  assertEquals(
    result.stderr,
    "start 0\nstart 400\nplumb: PLUMB_STOPPING stopping (a second signal exits at once)\nunload delay\n",
  );
});

Deno.test("cli: a second signal exits at once, without waiting for the request in flight", async () => {
  const cli = await spawnCli([GRAPH, "--port", "0"]);
  await using busy = await Client.connect(cli.port);
  await busy.send("60000\n");
  await cli.waitForStderr("start 60000\n");
  cli.process.kill("SIGTERM");
  await cli.waitForStderr("plumb: PLUMB_STOPPING stopping");
  const started = performance.now();
  const result = await cli.stop("SIGINT");
  const took = performance.now() - started;
  assertEquals(result.code, 130, result.stderr);
  // The first signal's grace is 5 s; the second must not wait for it.
  assert(took < 2000, `the second signal took ${took.toFixed(0)} ms to stop the process`);
  assertEquals(
    result.stderr,
    "start 60000\nplumb: PLUMB_STOPPING stopping (a second signal exits at once)\n",
  );
});
