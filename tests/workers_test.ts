/**
 * `--workers N`: N worker processes share the port (reusePort), each with its
 * own servlet instances; a connection and its state stay on one worker; a
 * signal closes every worker and calls every `unload`; a worker that dies is
 * logged and restarted while the others serve.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import { Client, path, runCli, spawnCli, WORKERS_PERMISSIONS } from "./helpers.ts";

const GRAPH = "tests/fixtures/graphs/worker_name.json";
const UNSTABLE = WORKERS_PERMISSIONS;

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
  // Each worker's standard error is a line of the supervisor's log.
  const unloads = stderr.match(/(?<=^plumb warn: PLUMB_WORKER_STDERR worker \d: )unload .*$/gm);
  assertEquals(unloads?.sort(), ["unload plumb worker 1", "unload plumb worker 2"], stderr);
  assert(!stderr.includes("PLUMB_WORKER_EXITED"), stderr);
});

Deno.test("--workers names the missing --allow-run flag and exits 2", async () => {
  const { code, stderr } = await runCli([GRAPH, "--workers", "2"]);
  assertEquals(code, 2);
  assertEquals(
    stderr,
    "plumb: PLUMB_PERMISSION_WORKERS_RUN --workers cannot start its worker processes: permission " +
      `denied; run deno with --allow-run=${Deno.execPath()}\n`,
  );
});

Deno.test("--worker-heap: a whole number of MiB, with --workers", async () => {
  const alone = await runCli([GRAPH, "--worker-heap", "64"], UNSTABLE);
  assertEquals([alone.code, alone.stderr], [
    2,
    "plumb: PLUMB_CLI_WORKER_HEAP --worker-heap goes with --workers N\n",
  ]);
  const small = await runCli([GRAPH, "--workers", "2", "--worker-heap", "8"], UNSTABLE);
  assertEquals([small.code, small.stderr], [
    2,
    'plumb: PLUMB_CLI_WORKER_HEAP --worker-heap must be a whole number of MiB from 16 to 1048576, got "8"\n',
  ]);
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
    ["--allow-net=127.0.0.1", `--allow-read=${GRAPH}`, `--allow-run=${Deno.execPath()}`],
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

const HOG = "tests/fixtures/graphs/hog.json";

/** Why each probe that failed did, for the message of a failed test. */
const failures: string[] = [];

/** One probe request: a new connection, `ping`, its reply; null when it ended without one. */
async function probe(port: number): Promise<string | null> {
  try {
    await using client = await Client.connect(port);
    await client.send("ping\n");
    const reply = await client.readLine();
    if (reply === null) failures.push("the connection ended with no reply");
    return reply;
  } catch (error) {
    failures.push(String(error)); // reset by a worker that died with the connection in its queue
    return null;
  }
}

/** Most probes made while waiting for a worker to die and come back. */
const MAX_PROBES = 50_000;

/** Most probes that may fail while a worker dies (see {@linkcode probeThroughout}). */
const MAX_FAILED = 2;
/** Longest time between the first and the last failed probe, in ms: one death's. */
const ONE_DEATH_MS = 500;

/**
 * Probes `port` one request after another, each on a new connection, until
 * `logged` is on the host's standard error, then 20 more, and checks that the
 * workers served throughout. "Throughout" means: every probe is answered by a
 * worker, except the probes whose connection the dying worker had accepted or
 * queued, which end without a reply when it dies. As the probes go one at a
 * time, that is the probe in flight when it dies and, at most, one more (seen
 * here about one run in five: a dying process's sockets do not all close at
 * once, and a probe lands on its listening socket in that moment, sometimes
 * after the other worker answered a few; on a loaded machine, four): at most
 * {@linkcode MAX_FAILED} failures, within {@linkcode ONE_DEATH_MS} of each
 * other, and every probe after them is answered. Each of the last 20 is answered, by both workers between them:
 * the restarted one serves again.
 */
async function probeThroughout(
  cli: Awaited<ReturnType<typeof spawnCli>>,
  logged: RegExp,
): Promise<void> {
  failures.length = 0;
  const replies: (string | null)[] = [];
  /** When each failed probe ended (ms). */
  const failedAt: number[] = [];
  while (!logged.test(cli.stderrSoFar())) {
    assert(replies.length < MAX_PROBES, `no ${logged} after ${MAX_PROBES} probes`);
    const reply = await probe(cli.port);
    if (reply === null) failedAt.push(performance.now());
    replies.push(reply);
  }
  const after: (string | null)[] = [];
  for (let i = 0; i < 20; i++) after.push(await probe(cli.port));
  const failed = replies.flatMap((reply, i) => reply === null ? [i] : []);
  const why = `failed probes ${failed.join(", ")} of ${replies.length}: ${failures.join("; ")}\n` +
    cli.stderrSoFar();
  assert(failed.length <= MAX_FAILED, why);
  // Around one death: the one in flight, and one that landed on the dying socket while it
  // closed (the other worker may answer a few probes in between).
  assert(
    failedAt.length === 0 || failedAt[failedAt.length - 1] - failedAt[0] <= ONE_DEATH_MS,
    `not around one death (${failedAt.length > 0 ? failedAt.at(-1)! - failedAt[0] : 0} ms): ${why}`,
  );
  for (const [i, reply] of replies.entries()) {
    if (reply !== null) assert(/^plumb worker [12] ok\n$/.test(reply), `probe ${i}: ${reply}`);
  }
  for (const reply of after) assert(reply !== null && /^plumb worker [12] ok\n$/.test(reply));
  // 20 new connections all hashed to one worker would happen once in 2^19 runs.
  assertEquals(new Set(after).size, 2, after.join(""));
}

Deno.test("--workers 2 --worker-heap 64: a worker out of memory dies, is logged and restarted; the probe is served throughout", async () => {
  const cli = await spawnCli([HOG, "--workers", "2", "--worker-heap", "64"], UNSTABLE);
  try {
    const trigger = await Client.connect(cli.port);
    await trigger.send("alloc\n");
    await probeThroughout(cli, /PLUMB_WORKER_RESTARTED worker \d restarted/);
    // The connection that allocated ends with its worker, unanswered.
    assertEquals(await trigger.readToEnd(), "");
    trigger.close();
    const stderr = cli.stderrSoFar();
    const exited = stderr.match(
      /^plumb error: PLUMB_WORKER_EXITED worker (\d) exited with signal SIGTRAP \(out of memory\); restarting it in 100 ms$/m,
    );
    assert(exited !== null, stderr);
    assert(
      stderr.includes(`PLUMB_WORKER_STDERR worker ${exited[1]}: # Fatal JavaScript out of memory`),
    );
    assert(stderr.includes(`PLUMB_WORKER_RESTARTED worker ${exited[1]} restarted`), stderr);
    assertEquals(stderr.match(/PLUMB_WORKER_EXITED/g)?.length, 1, stderr);
  } finally {
    const { code, stderr } = await cli.stop("SIGTERM");
    assertEquals(code, 0, stderr);
  }
});

/** The process id of each worker process of the host `cli`, by worker number. */
async function workerPids(cli: Awaited<ReturnType<typeof spawnCli>>): Promise<Map<number, number>> {
  const out = await new Deno.Command("ps", {
    args: ["--ppid", String(cli.process.pid), "-o", "pid=,args="],
  }).output();
  const pids = new Map<number, number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const match = line.match(/^\s*(\d+) .*worker_entry\.ts (\d+)$/);
    if (match) pids.set(Number(match[2]), Number(match[1]));
  }
  return pids;
}

Deno.test("--workers 2: a worker killed with SIGKILL is logged and restarted; the probe is served throughout", async () => {
  const cli = await spawnCli([HOG, "--workers", "2"], UNSTABLE);
  try {
    const before = await workerPids(cli);
    assertEquals([...before.keys()].sort(), [1, 2]);
    Deno.kill(before.get(1)!, "SIGKILL");
    await probeThroughout(cli, /PLUMB_WORKER_RESTARTED worker 1 restarted/);
    const stderr = cli.stderrSoFar();
    assert(
      stderr.includes(
        "plumb error: PLUMB_WORKER_EXITED worker 1 exited with signal SIGKILL; restarting it in 100 ms\n" +
          "plumb info: PLUMB_WORKER_RESTARTED worker 1 restarted\n",
      ),
      stderr,
    );
    const after = await workerPids(cli);
    assertEquals(after.get(2), before.get(2), "worker 2 was left alone");
    assert(after.get(1) !== before.get(1), "worker 1 is a new process");
  } finally {
    const { code, stderr } = await cli.stop("SIGTERM");
    assertEquals(code, 0, stderr);
    assert(!/PLUMB_WORKER_EXITED worker 2/.test(stderr), stderr);
  }
});

Deno.test("--workers 2: a worker that exits six times in a minute is left stopped; the other serves on", async () => {
  const cli = await spawnCli([HOG, "--workers", "2"], UNSTABLE);
  try {
    for (let kill = 1; kill <= 6; kill++) {
      const pid = (await workerPids(cli)).get(1);
      assert(pid !== undefined, `worker 1 before kill ${kill}: ${cli.stderrSoFar()}`);
      Deno.kill(pid, "SIGKILL");
      const logged = kill < 6
        ? new RegExp(`(PLUMB_WORKER_RESTARTED worker 1 restarted\n[^]*){${kill}}`)
        : /PLUMB_WORKER_GAVE_UP/;
      await cli.waitForStderr(logged, 30_000);
    }
    const stderr = cli.stderrSoFar();
    const delays = [
      ...stderr.matchAll(/worker 1 exited with signal SIGKILL; restarting it in (\d+) ms/g),
    ]
      .map((m) => Number(m[1]));
    assertEquals(delays, [100, 200, 400, 800, 1600], stderr);
    assert(
      stderr.includes(
        "plumb error: PLUMB_WORKER_GAVE_UP worker 1 exited with signal SIGKILL, 6 times within " +
          "60 s; it is not restarted; workers left: 1\n",
      ),
      stderr,
    );
    assertEquals([...(await workerPids(cli)).keys()], [2]);
    for (let i = 0; i < 10; i++) assertEquals(await probe(cli.port), "plumb worker 2 ok\n");
  } finally {
    const { code, stderr } = await cli.stop("SIGTERM");
    assertEquals(code, 0, stderr);
  }
});

Deno.test("--workers 2 --worker-watchdog 1s: a worker that spins is killed and restarted; the probe is served throughout", async () => {
  const cli = await spawnCli([HOG, "--workers", "2", "--worker-watchdog", "1s"], UNSTABLE);
  try {
    const trigger = await Client.connect(cli.port);
    await trigger.send("spin\n");
    await probeThroughout(cli, /PLUMB_WORKER_RESTARTED worker \d restarted/);
    assertEquals(await trigger.readToEnd(), "");
    trigger.close();
    const stderr = cli.stderrSoFar();
    const killed = stderr.match(
      /^plumb error: PLUMB_WORKER_UNRESPONSIVE worker (\d) has not answered for 1 s \(a servlet that never yields\?\); killing it$/m,
    );
    assert(killed !== null, stderr);
    assert(
      stderr.includes(
        `plumb error: PLUMB_WORKER_EXITED worker ${killed[1]} exited with signal SIGKILL; ` +
          `restarting it in 100 ms\nplumb info: PLUMB_WORKER_RESTARTED worker ${
            killed[1]
          } restarted\n`,
      ),
      stderr,
    );
  } finally {
    const { code, stderr } = await cli.stop("SIGTERM");
    assertEquals(code, 0, stderr);
  }
});

Deno.test("--worker-watchdog: a duration, with --workers", async () => {
  const alone = await runCli([GRAPH, "--worker-watchdog", "5s"], UNSTABLE);
  assertEquals([alone.code, alone.stderr], [
    2,
    "plumb: PLUMB_CLI_WORKER_WATCHDOG --worker-watchdog goes with --workers N\n",
  ]);
  const bad = await runCli([GRAPH, "--workers", "2", "--worker-watchdog", "soon"], UNSTABLE);
  assertEquals([bad.code, bad.stderr], [
    2,
    'plumb: PLUMB_CLI_WORKER_WATCHDOG --worker-watchdog takes a duration such as 30s, 5m or 500ms, got "soon"\n',
  ]);
});

Deno.test("--workers passes the supervisor's permissions on: a full one as it is, of a partial one what the graph names", async () => {
  const root = path(".").replace(/\/$/, "");
  const cli = await spawnCli([GRAPH, "--workers", "2"], [
    "--allow-net=127.0.0.1",
    `--allow-read=${root}`,
    `--allow-run=${Deno.execPath()}`,
    "--allow-env",
  ]);
  try {
    const out = await new Deno.Command("ps", {
      args: ["--ppid", String(cli.process.pid), "-o", "args="],
    }).output();
    const workers = new TextDecoder().decode(out.stdout).trim().split("\n").sort();
    // Not --allow-run: the graph names no program.
    const flags =
      `--allow-read=${root} --allow-net=127.0.0.1 --allow-env --unstable-net --no-prompt`;
    assertEquals(workers, [
      `${Deno.execPath()} run ${flags} ${root}/host/worker_entry.ts 1`,
      `${Deno.execPath()} run ${flags} ${root}/host/worker_entry.ts 2`,
    ]);
  } finally {
    await cli.stop();
  }
});

Deno.test("--workers 1 --worker-heap 64: one worker process; when it is left stopped, plumb exits 1", async () => {
  const cli = await spawnCli([HOG, "--workers", "1", "--worker-heap", "64"], UNSTABLE);
  assertEquals(await probe(cli.port), "plumb worker 1 ok\n");
  for (let kill = 1; kill <= 6; kill++) {
    const pid = (await workerPids(cli)).get(1);
    assert(pid !== undefined, `worker 1 before kill ${kill}: ${cli.stderrSoFar()}`);
    Deno.kill(pid, "SIGKILL");
    const logged = kill < 6
      ? new RegExp(`(PLUMB_WORKER_RESTARTED worker 1 restarted\n[^]*){${kill}}`)
      : /PLUMB_WORKER_GAVE_UP/;
    await cli.waitForStderr(logged, 30_000);
  }
  // It stops by itself; stop() sends no signal then, and reads what it printed.
  assertEquals((await cli.process.status).code, 1);
  const { code, stderr } = await cli.stop("SIGTERM");
  assertEquals(code, 1, stderr);
  assert(
    stderr.endsWith(
      "plumb error: PLUMB_WORKER_GAVE_UP worker 1 exited with signal SIGKILL, 6 times within 60 s; " +
        "it is not restarted; workers left: 0\n",
    ),
    stderr,
  );
});

Deno.test("--workers: when the supervisor is killed, its workers stop too and free the port", async () => {
  const cli = await spawnCli([GRAPH, "--workers", "2"], UNSTABLE);
  const pids = [...(await workerPids(cli)).values()];
  assertEquals(pids.length, 2);
  assertEquals((await running(pids)).sort(), pids.sort());
  cli.process.kill("SIGKILL");
  await cli.stop();
  // Each worker sees the end of its standard input, closes its host and exits.
  let left = pids;
  for (let round = 0; left.length > 0; round++) {
    assert(round < 1000, `workers ${left} still run`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    left = await running(pids);
  }
  await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port: cli.port }));
});

/** Those of `pids` that run (zombies, which have exited, aside), as `ps` tells. */
async function running(pids: number[]): Promise<number[]> {
  const out = await new Deno.Command("ps", { args: ["-o", "pid=,stat=", "-p", pids.join(",")] })
    .output();
  return [...new TextDecoder().decode(out.stdout).matchAll(/^\s*(\d+) ([A-Z])/gm)]
    .filter((m) => m[2] !== "Z").map((m) => Number(m[1]));
}

Deno.test("--workers: what a servlet prints on standard output reaches the supervisor's, and the workers' messages still flow", async () => {
  const cli = await spawnCli([HOG, "--workers", "2"], UNSTABLE);
  const said: string[] = [];
  for (let i = 0; i < 4; i++) {
    await using client = await Client.connect(cli.port);
    await client.send("say\n");
    const reply = await client.readLine();
    assert(reply !== null && /^plumb worker [12] ok\n$/.test(reply), String(reply));
    said.push(`said by ${reply.replace(" ok\n", "")}\n`);
  }
  const { code, stdout, stderr } = await cli.stop("SIGTERM");
  assertEquals(code, 0, stderr);
  // The workers' messages went on: the close of each was answered, none was killed.
  assert(!stderr.includes("PLUMB_WORKER"), stderr);
  // After the listening line, the servlet's lines and nothing else (no message of a worker).
  const [listening, ...printed] = stdout.split(/(?<=\n)/);
  assertEquals(listening, `listening on ${cli.url}\n`);
  assertEquals(printed.sort(), said.sort());
});

Deno.test("--workers: a servlet that loads in the supervisor but throws as a worker imports it is one line naming the node, and plumb exits", async () => {
  const graph = "tests/fixtures/graphs/worker_only_crash.json";
  const { code, stdout, stderr } = await runCli([graph, "--workers", "2"], UNSTABLE);
  assertEquals(stdout, "");
  const lines = stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, stderr);
  assertMatch(
    lines[0],
    /^plumb: PLUMB_SERVLET_LOAD_FAILED .*node "n": cannot load servlet "\.\.\/worker_only_crash\.ts" .*libfoo\.so: cannot open shared object file/,
  );
  assertEquals(code, 2);
});
