/**
 * Connection logging (xinetd log_on_success/log_on_failure) over real TCP:
 * one line per connection as it ends, with the peer, the duration, the
 * requests, the bytes each way and how it ended; at the listener's `log`
 * level, as text or JSON lines; refused and denied connections get a line.
 */
import { ConnectionLog, FAILURE_LINES_PER_SECOND } from "../modules/connection_log.ts";
import { createLogger, type LogLevel } from "../host/mod.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { Client, oneNode, startHost, waitForLog } from "./helpers.ts";

/** The text line's parts: level, peer, listener, how it ended, seconds, requests, bytes in and out. */
const ENDED = new RegExp(
  "^plumb (\\w+): PLUMB_CONN_ENDED connection from (127\\.0\\.0\\.1:\\d+) to (tcp://127\\.0\\.0\\.1:\\d+) ended: " +
    "(.+) after (\\d+\\.\\d{3}) s, (\\d+) requests?, (\\d+) bytes in, (\\d+) bytes out$",
);

function ended(line: string): { level: string; how: string; counts: number[]; seconds: number } {
  const m = line.match(ENDED);
  if (m === null) throw new Error(`not a connection line: ${line}`);
  return {
    level: m[1],
    how: m[4],
    seconds: Number(m[5]),
    counts: [Number(m[6]), Number(m[7]), Number(m[8])],
  };
}

Deno.test("connection log: closed by peer, with duration, requests and bytes each way", async () => {
  await using h = await startHost(oneNode("hello", [], { log: "info" }));
  const c = await Client.connect(h.port);
  const local = `127.0.0.1:${(c.conn.localAddr as Deno.NetAddr).port}`;
  await c.send("a\n");
  assertEquals(await c.readLine(), "Hello, a\n");
  await c.send("bb\n");
  assertEquals(await c.readLine(), "Hello, bb\n");
  c.close();
  const line = await waitForLog(h, "ended:");
  const fields = ended(line);
  assertEquals(fields.level, "info");
  assertEquals(fields.how, "closed by peer");
  assertEquals(fields.counts, [2, 5, 19], "2 requests, 5 bytes in, 19 bytes out");
  assert(fields.seconds >= 0 && fields.seconds < 60, line);
  assert(line.includes(`connection from ${local} to ${h.host.urls[0]} ended`), line);
  assertEquals(h.logs.filter((l) => l.includes("ended:")).length, 1, "one line per connection");
});

Deno.test("connection log: closed by server (PERSIST off), idle past the ttl, a failed request, a time limit", async () => {
  {
    await using h = await startHost(oneNode("echo", ["close"], { log: "info" }));
    await using c = await Client.connect(h.port);
    await c.send("once\n");
    assertEquals(await c.readToEnd(), "once\n");
    const fields = ended(await waitForLog(h, "ended:"));
    assertEquals([fields.how, ...fields.counts], ["closed by server", 1, 5, 5]);
  }
  {
    await using h = await startHost(oneNode("hello", [], { log: "info", ttl: 0.1 }));
    await using c = await Client.connect(h.port);
    await c.send("x\n");
    assertEquals(await c.readLine(), "Hello, x\n");
    assertEquals(await c.closedByServer(), true);
    const fields = ended(await waitForLog(h, "ended:"));
    assertEquals([fields.how, ...fields.counts], ["idle (ttl)", 1, 2, 9]);
  }
  {
    await using h = await startHost(
      oneNode("./tests/fixtures/fail.ts", [], { log: "info", errorReply: "", onError: "close" }),
    );
    await using c = await Client.connect(h.port);
    await c.send("ok\nboom\n");
    assertEquals(await c.readToEnd(), "ok: ok\n");
    const fields = ended(await waitForLog(h, "ended:"));
    assertEquals([fields.how, ...fields.counts], ["request failed", 2, 8, 7]);
  }
  {
    await using h = await startHost(oneNode("hello", [], { log: "info", requestTimeout: 0.2 }));
    await using c = await Client.connect(h.port);
    await c.send("no end of line"); // a line that never ends: the request runs out of time
    await c.readToEnd();
    const fields = ended(await waitForLog(h, "ended:"));
    assertEquals([fields.how, ...fields.counts.slice(0, 2)], [
      "timed out (request took longer than 0.2 s)",
      1,
      14,
    ]);
  }
});

Deno.test("connection log: a connection open when the host stops", async () => {
  const h = await startHost(oneNode("hello", [], { log: "warn" }));
  try {
    await using c = await Client.connect(h.port);
    await c.send("x\n");
    assertEquals(await c.readLine(), "Hello, x\n");
    await h.host.close(1000);
    const fields = ended(await waitForLog(h, "ended:"));
    assertEquals([fields.level, fields.how, ...fields.counts], ["warn", "host stopping", 1, 2, 9]);
  } finally {
    await h.host.close(1000);
  }
});

Deno.test("connection log: JSON lines, for a served and for a refused connection", async () => {
  await using h = await startHost(
    oneNode("hello", [], { log: "info", logFormat: "json", maxPerSource: 1 }),
  );
  await using a = await Client.connect(h.port);
  await a.send("a\n");
  assertEquals(await a.readLine(), "Hello, a\n");
  await using b = await Client.connect(h.port);
  assertEquals(await b.readToEnd(), "", "refused: a second connection from 127.0.0.1");
  a.close();
  const refusedLine = await waitForLog(h, '"end":"limit"');
  const servedLine = await waitForLog(h, '"end":"peer"');
  const refused = JSON.parse(refusedLine);
  const served = JSON.parse(servedLine);
  const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
  assert(iso.test(refused.time) && iso.test(served.time), `${refused.time} ${served.time}`);
  assert(typeof served.seconds === "number" && served.seconds >= 0, servedLine);
  const servedPeer = `127.0.0.1:${(a.conn.localAddr as Deno.NetAddr).port}`;
  const refusedPeer = `127.0.0.1:${(b.conn.localAddr as Deno.NetAddr).port}`;
  // The fields every log line has come first, as with --log-format json.
  assertEquals(Object.keys(served).slice(0, 6), [
    "time",
    "level",
    "code",
    "node",
    "peer",
    "message",
  ]);
  assertEquals({ ...served, time: "", seconds: 0, message: "" }, {
    time: "",
    level: "info",
    code: "PLUMB_CONN_ENDED",
    node: null,
    peer: servedPeer,
    message: "",
    listener: h.host.urls[0],
    end: "peer",
    seconds: 0,
    requests: 1,
    bytesIn: 2,
    bytesOut: 9,
  });
  assertMatch(
    served.message,
    new RegExp(`^connection from ${servedPeer} to ${h.host.urls[0]} ended: closed by peer after `),
  );
  assertEquals({ ...refused, time: "" }, {
    time: "",
    level: "info",
    code: "PLUMB_CONN_REFUSED",
    node: null,
    peer: refusedPeer,
    message: `connection from ${refusedPeer} to ${h.host.urls[0]} refused: ` +
      "1 connection from 127.0.0.1 open already (maxPerSource 1)",
    listener: h.host.urls[0],
    end: "limit",
    reason: "1 connection from 127.0.0.1 open already (maxPerSource 1)",
    seconds: 0,
    requests: 0,
    bytesIn: 0,
    bytesOut: 0,
  });
});

Deno.test("connection log: by default at debug, so a host logging at info writes no line", async () => {
  const lines: string[] = [];
  await using h = await startHost(oneNode("hello"), {
    logger: createLogger("info", (line) => lines.push(line)),
  });
  {
    await using c = await Client.connect(h.port);
    await c.send("x\n");
    assertEquals(await c.readLine(), "Hello, x\n");
  }
  // The same at debug, to know when the connection has ended on the server.
  await using d = await startHost(oneNode("hello"));
  {
    await using c = await Client.connect(d.port);
    await c.send("x\n");
    assertEquals(await c.readLine(), "Hello, x\n");
  }
  assertEquals(ended(await waitForLog(d, "ended:")).level, "debug");
  await h.host.close(1000);
  assertEquals(lines.filter((l) => l.includes("connection from")), []);
});

Deno.test("connection log: refused and denied lines are bounded to 100 a second, the rest counted", () => {
  const lines: string[] = [];
  const log = new ConnectionLog(
    "tcp://127.0.0.1:1",
    createLogger("info", (line) => lines.push(line)),
    { log: "debug" as LogLevel },
  );
  assertEquals(log.enabled, false, "end lines at debug are off when the host logs at info");
  const channel = {
    peer: "10.0.0.1:5",
    read: () => Promise.resolve(null),
    write: () => Promise.resolve(0),
    close: () => {},
  };
  const start = Math.floor(performance.now() / 1000);
  for (let i = 0; i < 150; i++) log.refused(channel, "denied", 'matches deny rule "10.0.0.0/8"');
  log.flush();
  if (Math.floor(performance.now() / 1000) !== start) return; // crossed a second boundary: inconclusive
  assertEquals(lines.length, FAILURE_LINES_PER_SECOND + 1);
  assertEquals(
    lines[0],
    'plumb info: PLUMB_CONN_DENIED connection from 10.0.0.1:5 to tcp://127.0.0.1:1 denied: matches deny rule "10.0.0.0/8"',
  );
  assertEquals(
    lines.at(-1),
    "plumb info: PLUMB_CONN_NOT_LOGGED tcp://127.0.0.1:1: 50 more refused or denied connections not logged " +
      "(over 100 lines a second)",
  );
});
