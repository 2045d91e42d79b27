/**
 * The `exec` servlet over real TCP, with real programs (`tr`, `cat`, `sh`,
 * `sleep`): a program per line on a persistent connection, failures with the
 * status and standard error in the log (the connection goes on), the time
 * limit that kills, 1 MiB streamed through `cat` both ways at once, what
 * happens to a program whose client leaves or whose host stops, and the init
 * errors (arguments, missing `--allow-run`). Cancellation by `task.signal` is
 * in `cancel_test.ts`.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { Client, path, runCli, spawnCli, startHost, type TestHost, waitForLog } from "./helpers.ts";
import type { GraphSpec } from "../host/mod.ts";
import { pattern } from "./fixtures/exec_bytes.ts";

const TMP = "tests/.tmp";
const USAGE =
  "args are [--timeout S] [--persist] [--cwd DIR] [--env NAME[=VALUE]]... [--max-running N] [--max-waiting N] [--] PROGRAM [ARG...]";

/** `line` -> `exec ARGS`: the program runs once per line. */
function perLine(args: string[], tcp: Record<string, unknown> = {}): GraphSpec {
  return {
    nodes: { split: { servlet: "line" }, run: { servlet: "exec", args } },
    edges: [{ from: "split.out", to: "run.in" }],
    input: "split.in",
    output: "run.out",
    listeners: [{ module: "tcp", options: tcp }],
  };
}

/** `exec ARGS` alone: a request's input is what one read of the connection brought. */
function alone(args: string[]): GraphSpec {
  return {
    nodes: { run: { servlet: "exec", args } },
    input: "run.in",
    output: "run.out",
    listeners: [{ module: "tcp", options: {} }],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh file name under tests/.tmp (absolute), for a program to write its pid to. */
async function pidFile(name: string): Promise<string> {
  await Deno.mkdir(path(TMP), { recursive: true });
  const file = path(`${TMP}/exec-${name}.pid`);
  await Deno.remove(file).catch(() => {});
  return file;
}

/** The pid a program wrote to `file`, once it has. */
async function readPid(file: string): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const text = await Deno.readTextFile(file).catch(() => "");
    if (text.endsWith("\n")) return Number(text);
    await sleep(10);
  }
  throw new Error(`no pid in ${file}`);
}

/**
 * True while process `pid` runs (with `-s`: any process of session `pid`); a
 * zombie, dead but not yet reaped, does not count.
 */
async function alive(pid: number, select: "-p" | "-s" = "-p"): Promise<boolean> {
  const out = await new Deno.Command("ps", { args: ["-o", "stat=", select, String(pid)] })
    .output();
  const stats = new TextDecoder().decode(out.stdout).split("\n").map((s) => s.trim());
  return stats.some((stat) => stat !== "" && !stat.startsWith("Z"));
}

/** Waits up to `ms` for process `pid` (with `-s`: session `pid`) to be gone; true if it went. */
async function gone(pid: number, ms: number, select: "-p" | "-s" = "-p"): Promise<boolean> {
  for (let waited = 0; waited <= ms; waited += 20) {
    if (!(await alive(pid, select))) return true;
    await sleep(20);
  }
  return false;
}

/** Reads exactly `n` bytes (fewer if the server closes first). */
async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(bytes.subarray(got));
    if (read === null) break;
    got += read;
  }
  return bytes.subarray(0, got);
}

/** The host's log line about node `node` failing, with the peer's port made `PORT`. */
async function failureLog(h: TestHost, node: string): Promise<string> {
  const line = await waitForLog(h, `node "${node}" (exec) failed`);
  return line.replace(/127\.0\.0\.1:\d+/, "127.0.0.1:PORT");
}

Deno.test("exec: a program per line on a persistent connection, answered in order", async () => {
  await using h = await startHost(perLine(["--persist", "tr", "a-z", "A-Z"]));
  await using c = await Client.connect(h.port);
  await c.send("hello\nplumb world\n\nlast one, 3\n");
  assertEquals(await c.readLine(), "HELLO\n");
  assertEquals(await c.readLine(), "PLUMB WORLD\n");
  assertEquals(await c.readLine(), "\n");
  assertEquals(await c.readLine(), "LAST ONE, 3\n");
  await c.send("still open\r\n");
  assertEquals(await c.readLine(), "STILL OPEN\n");
});

Deno.test("exec: as the first node, --persist keeps the connection; without it, one reply (nowait)", async () => {
  {
    await using h = await startHost(alone(["--persist", "tr", "a-z", "A-Z"]));
    await using c = await Client.connect(h.port);
    await c.send("one\n");
    assertEquals(await c.readLine(), "ONE\n");
    await c.send("two\n");
    assertEquals(await c.readLine(), "TWO\n");
  }
  {
    await using h = await startHost(alone(["tr", "a-z", "A-Z"]));
    await using c = await Client.connect(h.port);
    await c.send("only\n");
    assertEquals(await c.readToEnd(), "ONLY\n", "the connection closes after the reply");
  }
});

Deno.test("exec: -- ends the options; --timeout=S and --cwd DIR (relative to the graph)", async () => {
  await using h = await startHost(
    perLine([
      "--timeout=2.5",
      "--cwd",
      "tests/fixtures",
      "--",
      "sh",
      "-c",
      'pwd; echo "$0" "$1"',
      "sh",
      "--persist",
    ]),
  );
  await using c = await Client.connect(h.port);
  await c.send("x\n");
  assertEquals(await c.readLine(), `${path("tests/fixtures")}\n`);
  assertEquals(await c.readLine(), "sh --persist\n");
});

Deno.test("exec: standard error goes to the err port", async () => {
  await using h = await startHost({
    nodes: {
      split: { servlet: "line" },
      run: { servlet: "exec", args: ["sh", "-c", 'echo out; read l; echo "err: $l" >&2'] },
    },
    edges: [{ from: "split.out", to: "run.in" }],
    input: "split.in",
    output: "run.err",
    listeners: [{ module: "tcp", options: {} }],
  });
  await using c = await Client.connect(h.port);
  await c.send("oops\n");
  assertEquals(await c.readLine(), "err: oops\n");
});

Deno.test("exec: a non-zero exit fails the request: error reply, and the log has the status and stderr", async () => {
  await using h = await startHost(
    perLine(["sh", "-c", "echo 'boom: disk on fire' >&2; echo second line >&2; exit 3"]),
  );
  await using c = await Client.connect(h.port);
  await c.send("go\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(
    await failureLog(h, "run"),
    `plumb error: PLUMB_REQUEST_FAILED node "run" (exec) failed a request from 127.0.0.1:PORT: ` +
      `PlumbError: PLUMB_EXEC_STATUS exec: sh exited with status 3: boom: disk on fire`,
  );
  // The connection and the host go on serving.
  await c.send("go\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  await using again = await Client.connect(h.port);
  await again.send("go\n");
  assertEquals(await again.readLine(), "error: request failed\n");
});

Deno.test("exec: death by a signal, and a program with nothing on stderr, are said so", async () => {
  await using h = await startHost(perLine(["sh", "-c", "kill -KILL $$"]));
  await using c = await Client.connect(h.port);
  await c.send("go\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(
    await failureLog(h, "run"),
    `plumb error: PLUMB_REQUEST_FAILED node "run" (exec) failed a request from 127.0.0.1:PORT: ` +
      `PlumbError: PLUMB_EXEC_SIGNAL exec: sh was killed by SIGKILL; it wrote nothing on standard error`,
  );
});

Deno.test("exec: what a program wrote before failing is delivered, and the connection goes on", async () => {
  await using h = await startHost(perLine(["--persist", "sh", "-c", "echo partial; exit 1"]));
  await using c = await Client.connect(h.port);
  await c.send("go\n");
  assertEquals(await c.readLine(), "partial\n");
  await c.send("again\n");
  assertEquals(await c.readLine(), "partial\n");
  await c.closeWrite();
  assertEquals(await c.readToEnd(), "");
});

Deno.test("exec: a program that does not exist fails its request with the reason", async () => {
  await using h = await startHost(perLine(["no-such-program-plumb"]));
  await using c = await Client.connect(h.port);
  await c.send("go\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  const line = await failureLog(h, "run");
  assert(
    line.startsWith(
      `plumb error: PLUMB_REQUEST_FAILED node "run" (exec) failed a request from 127.0.0.1:PORT: ` +
        `PlumbError: PLUMB_EXEC_SPAWN exec: cannot run no-such-program-plumb: `,
    ),
    line,
  );
});

Deno.test("exec: a program past --timeout is killed, its request fails, and it is gone", async () => {
  const file = await pidFile("timeout");
  await using h = await startHost(
    perLine(["--timeout", "0.3", "sh", "-c", `echo $$ > '${file}'; exec sleep 30`]),
  );
  await using c = await Client.connect(h.port);
  const started = performance.now();
  await c.send("go\n");
  const pid = await readPid(file);
  assertEquals(await c.readLine(), "error: request failed\n");
  const took = performance.now() - started;
  // Not before the timeout (no upper bound: machines are shared and slow).
  assert(took >= 250, `failed after ${took} ms, before the timeout`);
  assertEquals(
    await failureLog(h, "run"),
    `plumb error: PLUMB_REQUEST_FAILED node "run" (exec) failed a request from 127.0.0.1:PORT: ` +
      `PlumbError: PLUMB_EXEC_TIMEOUT exec: sh did not finish in 0.3 s; killed it`,
  );
  assertEquals(await alive(pid), false, `process ${pid} still runs`);
});

Deno.test("exec: a program that ignores SIGTERM gets SIGKILL a second later, with what it started", async () => {
  const file = await pidFile("ignores-term");
  await using h = await startHost("tests/fixtures/exec_sleep.json");
  await using c = await Client.connect(h.port);
  const started = performance.now();
  await c.send(`${file}\n`);
  const pid = await readPid(file);
  assertEquals(await c.readLine(), "error: request failed\n");
  const took = performance.now() - started;
  // Not before the timeout and the second of grace (no upper bound: machines are shared).
  assert(took >= 1250, `failed after ${took} ms, before the timeout and the grace second`);
  assertEquals(
    await failureLog(h, "stuck"),
    `plumb error: PLUMB_REQUEST_FAILED node "stuck" (exec) failed a request from 127.0.0.1:PORT: ` +
      `PlumbError: PLUMB_EXEC_TIMEOUT exec: sh did not finish in 0.3 s; killed it`,
  );
  assertEquals(await alive(pid), false, `process ${pid} still runs`);
  // Its process group (a session of its own) went with it: no `sleep` it started is left.
  assert(await gone(pid, 1000, "-s"), `processes of session ${pid} still run`);
});

/** A graph where `exec` with `args` reads the bytes `tests/fixtures/exec_bytes.ts` generates. */
function generatedInto(args: string[]): GraphSpec {
  return {
    nodes: {
      gen: { servlet: "./tests/fixtures/exec_bytes.ts" },
      run: { servlet: "exec", args },
    },
    edges: [{ from: "gen.out", to: "run.in" }],
    input: "gen.in",
    output: "run.out",
    listeners: [{ module: "tcp", options: {} }],
  };
}

Deno.test("exec: 1 MiB through cat comes back byte-exact, input and output streamed at once", async () => {
  const size = 1 << 20;
  await using h = await startHost(generatedInto(["cat"]));
  await using c = await Client.connect(h.port);
  await c.send(`${size}\n`);
  const got = await readBytes(c.conn, size + 1);
  assertEquals(got.length, size, "exactly 1 MiB, then the connection closes");
  assertEquals(got, pattern(size));
});

Deno.test("exec: a program that writes 1 MiB before reading its input does not deadlock", async () => {
  const size = 1 << 20;
  await using h = await startHost(
    generatedInto(["sh", "-c", `head -c ${size} /dev/zero; wc -c`]),
  );
  await using c = await Client.connect(h.port);
  await c.send(`${size}\n`);
  const got = await readBytes(c.conn, size + 100);
  assertEquals(got.length, size + `${size}\n`.length);
  assertEquals(got.subarray(0, size), new Uint8Array(size));
  assertEquals(new TextDecoder().decode(got.subarray(size)), `${size}\n`);
});

Deno.test("exec: a program that exits without reading its input succeeds", async () => {
  await using h = await startHost({
    nodes: {
      gen: { servlet: "./tests/fixtures/exec_bytes.ts" },
      run: { servlet: "exec", args: ["echo", "done early"] },
    },
    edges: [{ from: "gen.out", to: "run.in" }],
    input: "gen.in",
    output: "run.out",
    listeners: [{ module: "tcp", options: {} }],
  });
  await using c = await Client.connect(h.port);
  await c.send(`${1 << 20}\n`);
  assertEquals(await c.readToEnd(), "done early\n");
});

Deno.test("exec: a client that closes (not resets) mid-request: its program is still never left running", async () => {
  const file = await pidFile("disconnect");
  await using h = await startHost(
    perLine(["--timeout", "1", "sh", "-c", `echo $$ > '${file}'; exec sleep 30`]),
  );
  const c = await Client.connect(h.port);
  await c.send("go\n");
  const pid = await readPid(file);
  c.close();
  // A close reads as a half-close, which is still answered: the time limit ends the
  // program. (A reset cancels the request at once: cancel_test.ts.)
  assert(await gone(pid, 3000), `process ${pid} still runs`);
  assertEquals(
    await failureLog(h, "run"),
    `plumb error: PLUMB_REQUEST_FAILED node "run" (exec) failed a request from 127.0.0.1:PORT: ` +
      `PlumbError: PLUMB_EXEC_TIMEOUT exec: sh did not finish in 1 s; killed it`,
  );
});

Deno.test("exec: the host stopping mid-request kills the program (unload)", async () => {
  const file = await pidFile("unload");
  const h = await startHost(
    perLine(["--timeout", "60", "sh", "-c", `echo $$ > '${file}'; exec sleep 30`]),
  );
  await using c = await Client.connect(h.port);
  await c.send("go\n");
  const pid = await readPid(file);
  const started = performance.now();
  await h.host.close(100);
  assert(performance.now() - started < 3000);
  assertEquals(await alive(pid), false, `process ${pid} still runs`);
  assertEquals(await c.readToEnd(), "");
  await h[Symbol.asyncDispose]();
});

Deno.test("exec: bad arguments are init errors that say what is wrong", async () => {
  const cases: [string[], string][] = [
    [[], `PLUMB_EXEC_NO_PROGRAM exec: no program given; ${USAGE}`],
    [["--persist"], `PLUMB_EXEC_NO_PROGRAM exec: no program given; ${USAGE}`],
    [["--timeout"], `PLUMB_EXEC_NO_VALUE exec: --timeout needs a value; ${USAGE}`],
    [
      ["--timeout", "soon", "tr"],
      `PLUMB_EXEC_BAD_TIMEOUT exec: --timeout "soon" is not a number of seconds above 0 and at most 2147483 (for example 5 or 0.5); ${USAGE}`,
    ],
    [
      ["--timeout=0", "tr"],
      `PLUMB_EXEC_BAD_TIMEOUT exec: --timeout "0" is not a number of seconds above 0 and at most 2147483 (for example 5 or 0.5); ${USAGE}`,
    ],
    [
      ["--frobnicate", "tr"],
      `PLUMB_EXEC_UNKNOWN_OPTION exec: unknown option "--frobnicate"; ${USAGE}`,
    ],
    [
      ["--cwd", "tests/no-such-dir", "pwd"],
      `PLUMB_EXEC_NO_CWD exec: --cwd ${path("tests/no-such-dir")}: no such directory`,
    ],
    [
      ["--cwd", "README.md", "pwd"],
      `PLUMB_EXEC_CWD_NOT_DIR exec: --cwd ${path("README.md")}: not a directory`,
    ],
  ];
  for (const [args, message] of cases) {
    await assertRejects(
      () => startHost(perLine(args)),
      {
        name: "GraphError",
        message: `graph: node "run": init of servlet "exec" failed: ${message}`,
      },
      JSON.stringify(args),
    );
  }
});

Deno.test("exec: without --allow-run for the program, the CLI names the flag to add (exit 2)", async () => {
  const file = "tests/fixtures/exec_upper.json";
  for (const permissions of [["--allow-read"], ["--allow-read", "--allow-run=cat"]]) {
    const result = await runCli([file, "--check"], permissions);
    assertEquals(
      result.stderr,
      `plumb: PLUMB_SERVLET_INIT_FAILED ${file}: node "up": init of servlet "exec" failed: ` +
        `PLUMB_PERMISSION_RUN exec: cannot run tr: ` +
        `permission denied; run deno with --allow-run=tr\n`,
    );
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
  }
});

Deno.test("exec: under --allow-run=PROGRAM only, the CLI serves and the time limit still kills", async () => {
  {
    await using cli = await spawnCli(["tests/fixtures/exec_upper.json"], [
      "--allow-net=127.0.0.1",
      "--allow-read=tests/fixtures/exec_upper.json",
      "--allow-run=tr",
    ]);
    await using c = await Client.connect(cli.port);
    await c.send("narrow\n");
    assertEquals(await c.readLine(), "NARROW\n");
  }
  const file = await pidFile("narrow");
  await using cli = await spawnCli(["tests/fixtures/exec_sleep.json"], [
    "--allow-net=127.0.0.1",
    "--allow-read=tests/fixtures/exec_sleep.json",
    "--allow-run=sh",
  ]);
  await using c = await Client.connect(cli.port);
  await c.send(`${file}\n`);
  const pid = await readPid(file);
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(await alive(pid), false, `process ${pid} still runs`);
  await cli.waitForStderr("exec: sh did not finish in 0.3 s; killed it");
});

Deno.test("exec: a program gets an empty environment plus what --env names; the host's secrets stay home", async () => {
  Deno.env.set("PLUMB_TEST_SECRET", "s3cret");
  try {
    {
      await using h = await startHost(alone(["env"]));
      await using c = await Client.connect(h.port);
      await c.send("go\n");
      assertEquals(await c.readToEnd(), "", "the host's environment reached the program");
    }
    await using h = await startHost(
      alone([
        "--env",
        "PLUMB_TEST_SECRET",
        "--env=GREETING=hi there",
        "--env",
        "UNSET_HERE",
        "env",
      ]),
    );
    await using c = await Client.connect(h.port);
    await c.send("go\n");
    assertEquals((await c.readToEnd()).split("\n").sort(), [
      "",
      "GREETING=hi there",
      "PLUMB_TEST_SECRET=s3cret",
    ]);
  } finally {
    Deno.env.delete("PLUMB_TEST_SECRET");
  }
});

Deno.test("exec: --env NAME needs --allow-env=NAME, and the CLI names the flag (exit 2); a bad NAME is refused", async () => {
  const file = "tests/fixtures/exec_env.json";
  const result = await runCli([file, "--check"], ["--allow-read", "--allow-run=env"]);
  assertEquals(
    result.stderr,
    `plumb: PLUMB_SERVLET_INIT_FAILED ${file}: node "show": init of servlet "exec" failed: ` +
      `PLUMB_PERMISSION_ENV exec: cannot read HOME for --env HOME: permission denied; ` +
      `run deno with --allow-env=HOME\n`,
  );
  assertEquals(result.code, 2);
  for (
    const [args, message] of [
      [
        ["--env", "1X=a", "env"],
        `PLUMB_EXEC_BAD_ENV exec: --env "1X=a" is not NAME or NAME=VALUE; ${USAGE}`,
      ],
      [
        ["--env", "", "env"],
        `PLUMB_EXEC_BAD_ENV exec: --env "" is not NAME or NAME=VALUE; ${USAGE}`,
      ],
      [
        ["--max-running", "0", "env"],
        `PLUMB_EXEC_BAD_COUNT exec: --max-running needs a whole number, 1 or more; ${USAGE}`,
      ],
      [
        ["--max-waiting", "-1", "env"],
        `PLUMB_EXEC_BAD_COUNT exec: --max-waiting needs a whole number, 0 or more; ${USAGE}`,
      ],
    ]
  ) {
    await assertRejects(() => startHost(perLine(args as string[])), {
      name: "GraphError",
      message: `graph: node "run": init of servlet "exec" failed: ${message}`,
    });
  }
});

Deno.test("exec: --max-running programs at once; requests past it wait their turn, past --max-waiting they get the error reply", async () => {
  await Deno.mkdir(path(TMP), { recursive: true });
  const release = path(`${TMP}/exec-turns.go`);
  const journal = path(`${TMP}/exec-turns.log`);
  await Deno.remove(release).catch(() => {});
  await Deno.writeTextFile(journal, "");
  // Each program notes its start, waits for the release file, notes its end.
  const script = `echo start >> '${journal}'; while [ ! -e '${release}' ]; do sleep 0.02; done; ` +
    `echo end >> '${journal}'; echo ran`;
  await using h = await startHost(
    alone(["--max-running", "2", "--max-waiting", "1", "--timeout", "20", "sh", "-c", script]),
  );
  const starts = async (n: number): Promise<void> => {
    for (let waited = 0; waited < 5000; waited += 10) {
      if ((await Deno.readTextFile(journal)).split("start").length - 1 >= n) return;
      await sleep(10);
    }
    throw new Error(`fewer than ${n} programs started`);
  };
  await using first = await Client.connect(h.port);
  await using second = await Client.connect(h.port);
  await first.send("go\n");
  await second.send("go\n");
  await starts(2);
  // Two more: one waits for a turn, the other finds the queue full and is told at once.
  await using third = await Client.connect(h.port);
  await using fourth = await Client.connect(h.port);
  await third.send("go\n");
  await fourth.send("go\n");
  const replies = [third, fourth].map((c) => c.readToEnd());
  const refused = await Promise.race(replies);
  assertEquals(refused, "error: request failed\n");
  await waitForLog(
    h,
    /exec: sh: 2 running and 1 waiting already \(--max-running 2, --max-waiting 1\); try again later$/,
  );
  await Deno.writeTextFile(release, "");
  assertEquals(await first.readToEnd(), "ran\n");
  assertEquals(await second.readToEnd(), "ran\n");
  assertEquals((await Promise.all(replies)).sort(), ["error: request failed\n", "ran\n"]);
  // Never more than two at once: the journal's starts and ends, counted in order.
  let running = 0;
  let most = 0;
  for (const line of (await Deno.readTextFile(journal)).split("\n")) {
    running += line === "start" ? 1 : line === "end" ? -1 : 0;
    most = Math.max(most, running);
  }
  assertEquals(most, 2);
  assertEquals((await Deno.readTextFile(journal)).split("start").length - 1, 3);
});

Deno.test("exec: a flood of 100 requests at once runs at most --max-running programs; every request is answered", async () => {
  await Deno.mkdir(path(TMP), { recursive: true });
  const journal = path(`${TMP}/exec-flood.log`);
  await Deno.writeTextFile(journal, "");
  const script = `echo start >> '${journal}'; sleep 0.05; echo end >> '${journal}'; echo ran`;
  await using h = await startHost(
    alone(["--max-running", "4", "--max-waiting", "200", "--timeout", "20", "sh", "-c", script]),
  );
  const replies = await Promise.all(Array.from({ length: 100 }, async () => {
    await using c = await Client.connect(h.port);
    await c.send("go\n");
    return await c.readToEnd();
  }));
  assertEquals(replies.filter((r) => r === "ran\n").length, 100);
  let running = 0;
  let most = 0;
  for (const line of (await Deno.readTextFile(journal)).split("\n")) {
    running += line === "start" ? 1 : line === "end" ? -1 : 0;
    most = Math.max(most, running);
  }
  assert(most <= 4, `${most} programs ran at once`);
});
