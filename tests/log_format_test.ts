/**
 * The host's log as operators want it: `--log-format json` writes every line
 * (the host's, the listeners' connection lines, the CLI's own, a worker's) as
 * one JSON object with `time`, `level`, `code`, `node`, `peer` and `message`
 * first; `--log-file` appends them to a file; and `--stdio` under inetd, where
 * standard error is the client's socket, writes no line to the client.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  CLI_PERMISSIONS,
  Client,
  path,
  runCli,
  spawnCli,
  startHost,
  waitForLog,
  WORKERS_PERMISSIONS,
} from "./helpers.ts";
import { createLogger } from "../host/mod.ts";

const FAIL = "tests/fixtures/graphs/fail.json";
const TMP = "tests/.tmp";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const FIRST = ["time", "level", "code", "node", "peer", "message"];

type Row = Record<string, unknown>;

/** The JSON lines of `text`, each checked to start with the six fields, without `time`. */
function records(text: string): Row[] {
  return text.trimEnd().split("\n").map((line) => {
    const row = JSON.parse(line) as Row;
    assertEquals(Object.keys(row).slice(0, 6), FIRST, line);
    assertMatch(String(row.time), ISO);
    const { time: _, ...rest } = row;
    return rest;
  });
}

/** A connection line's duration, which varies, as 0. */
function untimed(row: Row): Row {
  if (typeof row.seconds !== "number") return row;
  return {
    ...row,
    seconds: 0,
    message: String(row.message).replace(/ after \d+\.\d{3} s,/, " after 0.000 s,"),
  };
}

async function has(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${command}`] }).output())
      .success;
  } catch {
    return false;
  }
}

const SOCAT = await has("socat");

Deno.test("--log-format json: each line one JSON object, the six fields first, connection lines too", async () => {
  const cli = await spawnCli([FAIL, "--log-format", "json"]);
  const url = `tcp://127.0.0.1:${cli.port}`;
  let peer = "";
  {
    await using client = await Client.connect(cli.port);
    peer = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
    await client.send("boom\n");
    assertEquals(await client.readToEnd(), "error: request failed\n");
  }
  await cli.waitForStderr("PLUMB_CONN_ENDED");
  const { code, stderr } = await cli.stop("SIGTERM");
  assertEquals(code, 0, stderr);
  assertEquals(records(stderr).map(untimed), [
    {
      level: "error",
      code: "PLUMB_REQUEST_FAILED",
      node: "f",
      peer,
      message: `node "f" (../fail.ts) failed a request from ${peer}: Error: boom requested`,
    },
    {
      level: "info",
      code: "PLUMB_CONN_ENDED",
      node: null,
      peer,
      message: `connection from ${peer} to ${url} ended: request failed after 0.000 s, ` +
        "1 request, 5 bytes in, 22 bytes out",
      listener: url,
      end: "error",
      seconds: 0,
      requests: 1,
      bytesIn: 5,
      bytesOut: 22,
    },
    {
      level: "info",
      code: "PLUMB_STOPPING",
      node: null,
      peer: null,
      message: "stopping (a second signal exits at once)",
    },
  ]);
});

Deno.test("--log-format json: the last line of a failed run is JSON too, with the exit status", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, "main.ts", `${TMP}/no_such_graph.json`, "--log-format=json"],
    cwd: path("."),
    stdin: "null",
  }).output();
  assertEquals(out.code, 2);
  assertEquals(records(new TextDecoder().decode(out.stderr)), [{
    level: "error",
    code: "PLUMB_FILE_NOT_FOUND",
    node: null,
    peer: null,
    message: `${TMP}/no_such_graph.json: no such graph file`,
    exit: 2,
  }]);
});

Deno.test("logFormat json in ServeOptions' logger: a listener's text connection lines come as JSON", async () => {
  const lines: string[] = [];
  await using h = await startHost(FAIL, {
    logger: createLogger("info", (l) => lines.push(l), "json"),
  });
  let peer = "";
  {
    await using client = await Client.connect(h.port);
    peer = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
    await client.send("fine\n");
    assertEquals(await client.readLine(), "ok: fine\n");
  }
  for (let i = 0; i < 500 && !lines.some((l) => l.includes("PLUMB_CONN_ENDED")); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assertEquals(records(lines.join("\n")).map(untimed), [{
    level: "info",
    code: "PLUMB_CONN_ENDED",
    node: null,
    peer,
    message: `connection from ${peer} to ${h.host.urls[0]} ended: closed by peer after 0.000 s, ` +
      "1 request, 5 bytes in, 9 bytes out",
    listener: h.host.urls[0],
    end: "peer",
    seconds: 0,
    requests: 1,
    bytesIn: 5,
    bytesOut: 9,
  }]);
  // The text logger of the same host says it in the message alone.
  await using t = await startHost(FAIL);
  {
    await using client = await Client.connect(t.port);
    await client.send("boom\n");
    await client.readToEnd();
  }
  assertMatch(
    await waitForLog(t, "PLUMB_REQUEST_FAILED"),
    /^plumb error: PLUMB_REQUEST_FAILED node "f" \(\.\.\/fail\.ts\) failed a request from 127\.0\.0\.1:\d+: Error: boom requested$/,
  );
});

Deno.test("--log-format json with --workers: a worker's line says which worker", async () => {
  const cli = await spawnCli([FAIL, "--workers", "2", "--log-format", "json"], WORKERS_PERMISSIONS);
  let peer = "";
  {
    await using client = await Client.connect(cli.port);
    peer = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
    await client.send("boom\n");
    assertEquals(await client.readToEnd(), "error: request failed\n");
  }
  await cli.waitForStderr("PLUMB_CONN_ENDED");
  const { code, stderr } = await cli.stop("SIGTERM");
  assertEquals(code, 0, stderr);
  const failed = records(stderr).find((r) => r.code === "PLUMB_REQUEST_FAILED");
  assert(failed !== undefined, stderr);
  const worker = Number(failed.worker);
  assert(worker === 1 || worker === 2, stderr);
  assertEquals(failed, {
    level: "error",
    code: "PLUMB_REQUEST_FAILED",
    node: "f",
    peer,
    message: `worker ${worker}: node "f" (../fail.ts) failed a request from ${peer}: ` +
      "Error: boom requested",
    worker,
  });
});

// ---------------------------------------------------------------------------
// --stdio: standard error may be the client.

/** A free port on 127.0.0.1. */
function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/**
 * Runs plumb with `args` as inetd "nowait" runs it: one connection handed
 * over as descriptors 0, 1 and 2 (socat's `EXEC:...,nofork,stderr`, where
 * plumb replaces socat). Sends `input`; returns all the client read and
 * plumb's exit status.
 */
async function underInetd(
  args: string[],
  permissions: string[],
  input: string,
): Promise<{ read: string; code: number }> {
  const port = freePort();
  const exec = [Deno.execPath(), "run", ...permissions, "main.ts", ...args].join(" ");
  const socat = new Deno.Command("socat", {
    args: [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `EXEC:${exec},nofork,stderr`],
    cwd: path("."),
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let client: Client | undefined;
  try {
    for (let waited = 0; client === undefined; waited += 10) {
      try {
        client = await Client.connect(port);
      } catch (error) {
        if (waited > 5000) throw error; // a guard against a socat that never listens
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await client.send(input);
    const read = await client.readToEnd();
    return { read, code: (await socat.status).code };
  } finally {
    client?.close();
    if (client === undefined) socat.kill();
    await socat.status;
  }
}

Deno.test({
  name:
    "--stdio under inetd (socat, the connection on fds 0, 1 and 2): no log line reaches the client",
  ignore: !SOCAT,
  fn: async () => {
    const run = await underInetd(
      [FAIL, "--stdio", "--log-level", "debug"],
      ["--allow-read"],
      "fine\nboom\n",
    );
    assertEquals(run, { read: "ok: fine\nerror: request failed\n", code: 0 });
  },
});

Deno.test({
  name: "--stdio under inetd with --log-file: the client reads its replies, the file the log",
  ignore: !SOCAT,
  fn: async () => {
    const log = `${TMP}/inetd.log`;
    await Deno.mkdir(path(TMP), { recursive: true });
    await Deno.remove(path(log)).catch(() => {});
    const permissions = ["--allow-read", `--allow-write=${log}`];
    const run = await underInetd(
      [FAIL, "--stdio", "--log-file", log, "--log-format", "json"],
      permissions,
      "fine\nboom\n",
    );
    assertEquals(run, { read: "ok: fine\nerror: request failed\n", code: 0 });
    assertEquals(records(await Deno.readTextFile(path(log))), [{
      level: "error",
      code: "PLUMB_REQUEST_FAILED",
      node: "f",
      peer: "stdio",
      message: 'node "f" (../fail.ts) failed a request from stdio: Error: boom requested',
    }]);
    // A graph that cannot be served: the client reads nothing, the file says why.
    const missing = await underInetd(
      [`${TMP}/no_such_graph.json`, "--stdio", "--log-file", log],
      permissions,
      "fine\n",
    );
    assertEquals(missing, { read: "", code: 2 });
    const last = (await Deno.readTextFile(path(log))).trimEnd().split("\n").at(-1);
    assertEquals(last, `plumb: PLUMB_FILE_NOT_FOUND ${TMP}/no_such_graph.json: no such graph file`);
  },
});

Deno.test("--stdio with standard error apart from the conversation (a terminal, tcpserver): errors are written there", async () => {
  const out = await runCli([FAIL, "--stdio"], ["--allow-read"], "boom\n");
  assertEquals(out.stdout, "error: request failed\n");
  assertEquals(
    out.stderr,
    'plumb error: PLUMB_REQUEST_FAILED node "f" (../fail.ts) failed a request from stdio: ' +
      "Error: boom requested\n",
  );
});
