/**
 * Connection limits of a listener, provoked over real sockets: maxConnections
 * (new connections wait in the backlog, or are refused with a message),
 * maxPerSource and maxRatePerSource, on tcp, unix and an adopted socket.
 * Each limit that bites says so in the log.
 */
import { calls, spy } from "./fixtures/spy.ts";
import { assert, assertEquals } from "./assert.ts";
import { Client, oneNode, path, runCli, startHost, waitForLog } from "./helpers.ts";

/**
 * Connects, sends `line` and returns the first reply line, or what the server
 * sent before it closed (`""` for nothing): a refused connection.
 */
async function attempt(port: number, line: string): Promise<string> {
  await using c = await Client.connect(port);
  try {
    await c.send(line);
  } catch {
    // Refused before the line went out: what was read says so.
  }
  return await c.readLine() ?? await c.readToEnd();
}

/** Tries `line` until it is answered with `reply` (the server may take a moment to see a close). */
async function servedAgain(port: number, line: string, reply: string): Promise<void> {
  let last = "";
  for (let i = 0; i < 200; i++) {
    last = await attempt(port, line);
    if (last === reply) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never served again; last answer ${JSON.stringify(last)}`);
}

Deno.test("maxConnections, overflow wait: the next connection waits in the backlog until one closes", async () => {
  await using h = await startHost(oneNode("hello", [], { maxConnections: 2 }));
  await using a = await Client.connect(h.port);
  await using b = await Client.connect(h.port);
  await a.send("a\n");
  assertEquals(await a.readLine(), "Hello, a\n");
  await b.send("b\n");
  assertEquals(await b.readLine(), "Hello, b\n");
  await waitForLog(
    h,
    "2 connections open (maxConnections 2); new connections wait until one closes",
  );

  await using c = await Client.connect(h.port); // the kernel completes it: the backlog
  await c.send("c\n");
  let answered = false;
  const reply = c.readLine().then((line) => {
    answered = true;
    return line;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEquals(answered, false, "not served while two connections are open");
  await b.send("b again\n");
  assertEquals(await b.readLine(), "Hello, b again\n", "the open ones are served meanwhile");

  a.close();
  assertEquals(await reply, "Hello, c\n", "served once one closed");
  assertEquals(h.logs.some((l) => l.includes("refused")), false, "nothing was refused");
});

Deno.test("maxConnections, overflow refuse: the next connection gets refuseMessage and is closed, no servlet runs", async () => {
  calls.length = 0;
  await using h = await startHost({
    nodes: { n: spy("limited") },
    input: "n.in",
    output: "n.out",
    listeners: [{
      module: "tcp",
      options: { maxConnections: 1, overflow: "refuse", refuseMessage: "busy, try again later\n" },
    }],
  });
  // The spy does not keep its connection (no PERSIST): this one stays open by saying nothing yet.
  await using a = await Client.connect(h.port);
  assertEquals(await attempt(h.port, "two\n"), "busy, try again later\n");
  const line = await waitForLog(h, "refused: 1 connection open (maxConnections 1)");
  assert(
    /^plumb info: PLUMB_CONN_REFUSED connection from 127\.0\.0\.1:\d+ to tcp:\/\/127\.0\.0\.1:\d+ refused: 1 connection open \(maxConnections 1\)$/
      .test(line),
    line,
  );
  assertEquals(calls, [], "the refused connection ran no servlet");
  await a.send("one\n");
  assertEquals(await a.readToEnd(), "limited saw one\n");

  await servedAgain(h.port, "three\n", "limited saw three\n");
  assertEquals(calls, ["limited: one\n", "limited: three\n"]);
});

Deno.test("maxPerSource: a third connection from 127.0.0.1 is closed at once while two are open", async () => {
  await using h = await startHost(oneNode("hello", [], { maxPerSource: 2 }));
  await using a = await Client.connect(h.port);
  await using b = await Client.connect(h.port);
  await a.send("a\n");
  assertEquals(await a.readLine(), "Hello, a\n");
  await b.send("b\n");
  assertEquals(await b.readLine(), "Hello, b\n");

  assertEquals(await attempt(h.port, "c\n"), "", "closed without a word (no refuseMessage)");
  await waitForLog(h, "refused: 2 connections from 127.0.0.1 open already (maxPerSource 2)");
  await b.send("b again\n");
  assertEquals(await b.readLine(), "Hello, b again\n", "the open ones are untouched");

  a.close();
  await servedAgain(h.port, "d\n", "Hello, d\n");
});

Deno.test("maxRatePerSource: past the rate, new connections from 127.0.0.1 are refused", async () => {
  await using h = await startHost(
    oneNode("hello", [], { maxRatePerSource: 2, refuseMessage: "slow down\n" }),
  );
  const answers: string[] = [];
  for (let i = 0; i < 8; i++) answers.push(await attempt(h.port, `c${i}\n`));
  // A burst of two is served; then about two a second, far fewer than 8 in this short time.
  assertEquals(answers.slice(0, 2), ["Hello, c0\n", "Hello, c1\n"]);
  const refused = answers.filter((a) => a === "slow down\n").length;
  assert(refused >= 1, `none refused: ${JSON.stringify(answers)}`);
  assertEquals(
    answers.every((a) => a === "slow down\n" || /^Hello, c\d\n$/.test(a)),
    true,
    JSON.stringify(answers),
  );
  await waitForLog(
    h,
    "refused: over 2 new connections a second from 127.0.0.1 (maxRatePerSource 2)",
  );
});

Deno.test("unix: maxConnections refuse on a Unix socket", async () => {
  const socket = "/tmp/plumb-test.sock";
  await using h = await startHost({
    nodes: { n: { servlet: "hello" } },
    input: "n.in",
    output: "n.out",
    listeners: [{
      module: "unix",
      options: { path: socket, maxConnections: 1, overflow: "refuse", refuseMessage: "full\n" },
    }],
  }, { host: undefined, port: undefined });
  const read = async (conn: Deno.Conn): Promise<string> => {
    const buffer = new Uint8Array(100);
    const n = await conn.read(buffer);
    return n === null ? "" : new TextDecoder().decode(buffer.subarray(0, n));
  };
  const a = await Deno.connect({ transport: "unix", path: socket });
  try {
    await a.write(new TextEncoder().encode("a\n"));
    assertEquals(await read(a), "Hello, a\n");
    const b = await Deno.connect({ transport: "unix", path: socket });
    try {
      assertEquals(await read(b), "full\n");
      assertEquals(await read(b), "", "then closed");
    } finally {
      b.close();
    }
    await waitForLog(h, "refused: 1 connection open (maxConnections 1)");
  } finally {
    a.close();
  }
});

Deno.test("--check: a bad allow entry names the listener and the entry", async () => {
  const file = "tests/fixtures/graphs/bad_address_rule.json";
  const result = await runCli([file, "--check"]);
  assertEquals(
    result.stderr,
    `plumb: PLUMB_OPTION_BAD_ADDRESS ${file}: listener 2 (tcp): option "allow": entry ` +
      `"10.0.0.0/33": PLUMB_ADDRESS_PREFIX_TOO_LONG prefix length 33 ` +
      `is more than the 32 bits of an IPv4 address\n`,
  );
  assertEquals(result.code, 2);
});

Deno.test("socket activation: limits and rules apply to an adopted listening socket", async () => {
  const child = new Deno.Command("python3", {
    args: [
      "tests/tools/activate.py",
      "inetd",
      Deno.execPath(),
      "run",
      "--allow-read",
      "main.ts",
      "tests/fixtures/deny_loopback.json",
      "--listen-fd",
      "0",
    ],
    cwd: path("."),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  while (!/\n.*\n/.test(printed)) {
    const { value, done } = await stdout.read();
    if (done) break;
    printed += value;
  }
  const port = Number(printed.split("\n")[0]);
  assertEquals(printed.split("\n")[1], `listening on tcp://127.0.0.1:${port}`);
  assertEquals(await attempt(port, "hi\n"), "", "denied: closed without a reply");
  child.kill("SIGTERM");
  assertEquals((await child.status).code, 0);
  while (!(await stdout.read()).done) { /* drain */ }
  const stderr = await new Response(child.stderr).text();
  assert(
    /connection from 127\.0\.0\.1:\d+ to tcp:\/\/127\.0\.0\.1:\d+ denied: matches deny rule "127\.0\.0\.0\/8"/
      .test(stderr),
    stderr,
  );
});

Deno.test("schema: the limit, access and connection log options validate, bad values do not", async () => {
  const { Ajv2020 } = await import("ajv/dist/2020.js");
  const schema = JSON.parse(await Deno.readTextFile(path("graph.schema.json")));
  const validate = new Ajv2020({ allErrors: true }).compile(schema);
  const graph = (module: string, options: Record<string, unknown>): unknown => ({
    nodes: { n: { servlet: "hello" } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module, options }],
  });
  const tcp = {
    maxConnections: 100,
    overflow: "refuse",
    refuseMessage: "busy\n",
    allow: ["10.0.0.0/8", "::1"],
    deny: ["10.9.0.0/16"],
    maxPerSource: 4,
    maxRatePerSource: 0.5,
    log: "info",
    logFormat: "json",
  };
  assertEquals(validate(graph("tcp", tcp)), true, JSON.stringify(validate.errors));
  const unix = {
    path: "x.sock",
    maxConnections: 2,
    overflow: "wait",
    log: "warn",
    logFormat: "text",
  };
  assertEquals(validate(graph("unix", unix)), true, JSON.stringify(validate.errors));
  for (
    const bad of [
      { overflow: "drop" },
      { maxConnections: 0 },
      { allow: "10.0.0.0/8" },
      { deny: [""] },
      { maxPerSource: 1.5 },
      { maxRatePerSource: 0 },
      { log: "trace" },
      { logFormat: "xml" },
    ]
  ) assertEquals(validate(graph("tcp", bad)), false, JSON.stringify(bad));
  assertEquals(validate(graph("unix", { path: "x.sock", allow: ["::1"] })), false, "tcp only");
});
