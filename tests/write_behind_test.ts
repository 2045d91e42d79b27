/**
 * The reply written behind the next read (`Session.#replyBehind`): a
 * request's reply is written while the session already waits for the next
 * request's bytes, and the next request runs only once that reply is out.
 * Each case tries to break it over real connections and asserts the exact
 * bytes the client gets: pipelined requests, replies larger than the socket
 * buffers to a client that reads slowly or not at all, the host stopping
 * mid-reply, a half-close and a reset, the time limits, and the other
 * transports. Where a case waits for the host's writes to stick, it waits
 * for the host's own byte count to stop short of what it replied.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  CLI_PERMISSIONS,
  concat,
  oneNode,
  path,
  ROOT,
  runCli,
  spawnCli,
  startHost,
  type TestHost,
  waitForLog,
  WORKERS_PERMISSIONS,
} from "./helpers.ts";
import behind, { behindReply, behindRuns } from "./fixtures/behind.ts";
import { type ConnectionHandle, defineServlet, INPUT, OUTPUT, PERSIST } from "../mod.ts";
import { simulate } from "../testing/mod.ts";
import { chatHost, joinAs, nextLine } from "./chat_host.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BEHIND = "./tests/fixtures/behind.ts";
/** A reply size under the 64 KiB a write buffers: the whole reply is written behind. */
const SIXTY = 60000;

/** Writes all of `data`; false once the connection was reset or closed. */
async function writeAll(conn: Deno.Conn, data: Uint8Array | string): Promise<boolean> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  try {
    for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
    return true;
  } catch {
    return false;
  }
}

/** Reads exactly `n` bytes (fewer only when the connection ends first). */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) return out.subarray(0, got);
    got += read;
  }
  return out;
}

/** Everything until the end; `reset` when the end was a reset. */
async function readToEnd(conn: Deno.Conn): Promise<{ bytes: Uint8Array; reset: boolean }> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return { bytes: concat(...parts), reset: false };
      parts.push(buffer.slice(0, n));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    return { bytes: concat(...parts), reset: true };
  }
}

/**
 * Asserts `actual` is `expected` byte for byte; on a difference says its
 * length or first differing offset (a diff of megabytes would take minutes).
 */
function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "reply bytes"): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  const at = actual.findIndex((b, i) => b !== expected[i]);
  assertEquals(at, -1, `${what}: first difference at offset ${at}`);
}

/** Polls `ok` every 5 ms; false after `ms`. */
async function within(ms: number, ok: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 5) {
    if (ok()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return ok();
}

/** Bytes the host has written on its first listener (`metrics` on). */
function bytesOut(h: TestHost): number {
  return h.host.metrics()!.listeners[0].bytesOut;
}

/** The replies of requests `from`..`to` of the `behind` fixture, each to `n`. */
function replies(from: number, to: number, n = SIXTY): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let k = from; k <= to; k++) parts.push(behindReply(k, n));
  return concat(...parts);
}

/**
 * Connects to `h` and sends `60000` lines one at a time, each once the last
 * reply is written, until a reply sticks (the client reads nothing: the
 * socket buffers fill). Then the session waits for the next request with
 * that reply written behind. Returns the connection and how many requests ran.
 */
async function stuckConnection(h: TestHost): Promise<{ conn: Deno.Conn; ran: number }> {
  behindRuns.count = 0;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  const start = bytesOut(h);
  for (let k = 1; k <= 1000; k++) {
    assert(await writeAll(conn, `${SIXTY}\n`));
    assert(await within(5000, () => behindRuns.count === k), `request ${k} did not run`);
    // Into socket buffers with room a write ends at once: a second is generous.
    if (!(await within(1000, () => bytesOut(h) - start === k * (SIXTY + 1)))) {
      return { conn, ran: k };
    }
  }
  throw new Error("no reply stuck after 60 MB: the client's socket buffers did not fill");
}

Deno.test("pipelined lines to hello.json (line steps): every reply, in order, byte for byte", async () => {
  await using h = await startHost("examples/hello.json");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  const names = Array.from({ length: 2000 }, (_, i) => `name ${i}`);
  const expected = encoder.encode(names.map((n) => `Hello, ${n}\n`).join(""));
  assert(await writeAll(conn, names.map((n) => `${n}\n`).join("")));
  assertEquals(decoder.decode(await readExactly(conn, expected.length)), decoder.decode(expected));
  conn.close();
});

Deno.test("the memory transport (simulate): pipelined lines and replies written behind, every one, in order", async () => {
  await using sim = await simulate(behind);
  behindRuns.count = 0;
  const names = Array.from({ length: 1000 }, (_, i) => `m${i}`);
  await using hello = await simulate("examples/hello.json");
  assertEquals(
    await hello.exchange(names.map((n) => `${n}\n`).join("")),
    names.map((n) => `Hello, ${n}\n`).join(""),
  );
  assertEquals(await sim.exchange(`${SIXTY}\n`.repeat(50)), decoder.decode(replies(1, 50)));
});

Deno.test("pipelined lines to an exec servlet, read 1 KiB at a time: 200 replies of 60000 bytes, in order", async () => {
  await using h = await startHost(oneNode(BEHIND));
  behindRuns.count = 0;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  assert(await writeAll(conn, `${SIXTY}\n`.repeat(200)));
  const expected = replies(1, 200);
  const got = new Uint8Array(expected.length);
  for (let at = 0; at < got.length;) {
    const n = await conn.read(got.subarray(at, Math.min(at + 1024, got.length)));
    assert(n !== null, `the connection ended after ${at} bytes`);
    at += n;
  }
  assertBytes(got, expected);
  // The connection is still served.
  assert(await writeAll(conn, "3\n"));
  assertEquals(await readExactly(conn, 4), behindReply(201, 3));
  conn.close();
});

Deno.test("a client reset while its reply is written behind: the request it pipelined after is not run", async () => {
  await using h = await startHost(oneNode(BEHIND), { metrics: true });
  const { conn, ran } = await stuckConnection(h);
  // The next request comes while the last reply is stuck: the host has read it and waits.
  assert(await writeAll(conn, `${SIXTY}\n`));
  await new Promise((resolve) => setTimeout(resolve, 100));
  conn.close(); // replies unread: a reset
  const ended = await waitForLog(h, "PLUMB_CONN_ENDED");
  assertEquals(behindRuns.count, ran, "a request ran after its connection was reset");
  // Logged as before the reply was written behind: the peer closed, after the requests run.
  assert(new RegExp(`ended: closed by peer after [\\d.]+ s, ${ran} requests, `).test(ended), ended);
  // The host serves others.
  const other = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  assert(await writeAll(other, "2\n"));
  assertEquals(await readExactly(other, 3), behindReply(ran + 1, 2));
  other.close();
});

Deno.test("ttl: a session whose reply is stuck behind its next read is not idle; once the client reads, it is served", async () => {
  await using h = await startHost(oneNode(BEHIND, [], { ttl: 0.2 }), { metrics: true });
  const { conn, ran } = await stuckConnection(h);
  // Five ttls with the reply stuck: the session waits for the next request, but its last
  // reply is not out, so the ttl does not close it (a close would cut that reply).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assertBytes(await readExactly(conn, ran * (SIXTY + 1)), replies(1, ran));
  assert(await writeAll(conn, "4\n"));
  assertEquals(await readExactly(conn, 5), behindReply(ran + 1, 4));
  assert(!h.logs.some((l) => l.includes("(ttl), closing")), h.logs.join("\n"));
  // Idle now: the ttl closes it.
  await waitForLog(h, "(ttl), closing");
  assertEquals(await readToEnd(conn), { bytes: new Uint8Array(0), reset: false });
  conn.close();
});

Deno.test("writeTimeout: a client that never reads a reply written behind is closed for writeTimeout, not the shorter ttl", async () => {
  await using h = await startHost(oneNode(BEHIND, [], { ttl: 0.2, writeTimeout: 0.6 }), {
    metrics: true,
  });
  const { conn } = await stuckConnection(h);
  const line = await waitForLog(h, "(writeTimeout), closing");
  assert(line.includes("did not read its reply for 0.6 s"), line);
  assert(!h.logs.some((l) => l.includes("(ttl), closing")), h.logs.join("\n"));
  await waitForLog(h, "timed out (writeTimeout)");
  conn.close();
});

Deno.test("requestTimeout: a reply stuck behind the next read counts as its request's, as when it was awaited", async () => {
  await using h = await startHost(oneNode(BEHIND, [], { ttl: 60, requestTimeout: 0.6 }), {
    metrics: true,
  });
  const { conn } = await stuckConnection(h);
  await waitForLog(h, "(requestTimeout), closing");
  await waitForLog(h, "timed out (request took longer than 0.6 s)");
  conn.close();
});

Deno.test("DEADLINE: one that passes while a reply is stuck behind the next read waits for it; then its reply and the close", async () => {
  await using h = await startHost(oneNode(BEHIND, ["deadline"], { ttl: 60 }), { metrics: true });
  const { conn, ran } = await stuckConnection(h);
  // Past the deadline (0.5 s) with the reply stuck: the connection is not between requests.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert(!h.logs.some((l) => l.includes("deadline passed, closing")), h.logs.join("\n"));
  const { bytes, reset } = await readToEnd(conn);
  conn.close();
  assertEquals(reset, false);
  assertBytes(bytes, concat(replies(1, ran), encoder.encode("late\n")));
  await waitForLog(h, "deadline passed, closing");
});

/**
 * Stops the host while a reply of the `behind` servlet (with `args`) is stuck
 * after its request, with `pipelined` more requests sent behind it; the
 * client then reads slowly at first, and must get every reply written so far
 * whole, then a clean end, and no request may run once the stop began.
 */
async function stopWhileStuck(args: string[], pipelined = 0): Promise<void> {
  const h = await startHost(oneNode(BEHIND, args), { metrics: true });
  const { conn, ran } = await stuckConnection(h);
  if (pipelined > 0) {
    assert(await writeAll(conn, `${SIXTY}\n`.repeat(pipelined)));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const stopped = h.host.close(5000);
  // The stop waits for the reply: read it now, slowly at first.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { bytes, reset } = await readToEnd(conn);
  await stopped;
  conn.close();
  assertEquals(reset, false);
  assertEquals(behindRuns.count, ran, "a request ran after the host started to stop");
  assertBytes(bytes, replies(1, ran));
}

Deno.test("the host stops while a reply is stuck behind the next read: the client gets every reply whole, then a clean end", async () => {
  await stopWhileStuck([]);
});

Deno.test("the host stops while an ASYNC reply is stuck after its request: the client gets every reply whole, then a clean end", async () => {
  await stopWhileStuck(["async"]);
});

Deno.test("the host stops with requests pipelined behind a stuck reply: the replies written so far arrive whole, the rest are not run", async () => {
  await stopWhileStuck([], 5);
});

/**
 * Sends `n` lines of 60,000 bytes pipelined on a new connection to `port`,
 * half-closes it, and returns everything the host wrote back, which must end
 * cleanly (no reset).
 */
async function sendAndHalfClose(port: number, n: number): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  assert(await writeAll(conn, `${SIXTY}\n`.repeat(n)));
  await conn.closeWrite();
  const { bytes, reset } = await readToEnd(conn);
  conn.close();
  assertEquals(reset, false);
  return bytes;
}

Deno.test("a client that half-closes right after its pipelined requests gets every reply, then a clean end", async () => {
  await using h = await startHost(oneNode(BEHIND));
  behindRuns.count = 0;
  assertBytes(await sendAndHalfClose(h.port, 100), replies(1, 100));
});

/** `GET target` as HTTP/1.1, with `extra` header lines. */
function get(target: string, extra = ""): string {
  return `GET ${target} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
}

/** The response of examples/http.json to `GET /api/hello?name=NAME`, without its date. */
function helloResponse(name: string, extra = ""): string {
  const body = `{"message":"Hello, ${name}!"}`;
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
    `${extra}\r\n${body}`;
}

Deno.test("examples/http.json: 300 requests pipelined in one write, the last with Connection: close: 300 responses, exact", async () => {
  await using h = await startHost("examples/http.json");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  const names = Array.from({ length: 300 }, (_, i) => `n${i}`);
  const requests = names.map((n, i) =>
    get(`/api/hello?name=${n}`, i === names.length - 1 ? "Connection: close\r\n" : "")
  );
  assert(await writeAll(conn, requests.join("")));
  const { bytes, reset } = await readToEnd(conn);
  conn.close();
  assertEquals(reset, false);
  const expected = names.map((n, i) =>
    helloResponse(n, i === names.length - 1 ? "connection: close\r\n" : "")
  );
  assertEquals(decoder.decode(bytes).replace(/date: [^\r]*\r\n/g, ""), expected.join(""));
});

Deno.test("ASYNC output: pipelined replies of 2, 1 and 3 MiB read slowly arrive whole and in order", async () => {
  const { bulkEvents } = await import("./fixtures/bulk.ts");
  for (const mode of [["async"], []]) {
    await using h = await startHost(oneNode("./tests/fixtures/bulk.ts", mode));
    bulkEvents.length = 0;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
    assert(await writeAll(conn, "2\n1\n3\n"));
    const mib = 1 << 20;
    const expected = concat(
      ...[2, 1, 3].map((n, i) => {
        const part = new Uint8Array(n * mib + 1).fill(0x31 + i);
        part[n * mib] = 10;
        return part;
      }),
    );
    const got = new Uint8Array(expected.length);
    for (let at = 0, reads = 0; at < got.length; reads++) {
      const n = await conn.read(got.subarray(at, Math.min(at + 16384, got.length)));
      assert(n !== null, `${mode}: the connection ended after ${at} bytes`);
      at += n;
      // A pause now and then: the host's writes wait on full socket buffers.
      if (reads % 64 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assertBytes(got, expected, mode.join("") || "not ASYNC");
    assertEquals(bulkEvents, ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
    conn.close();
  }
});

Deno.test("unix socket: 100 pipelined replies of 60000 bytes to a client that half-closes after sending", async () => {
  const socket = "/tmp/plumb-test.sock";
  await using h = await startHost({
    nodes: { n: { servlet: BEHIND } },
    input: "n.in",
    output: "n.out",
    listeners: [{ module: "unix", options: { path: socket } }],
  }, { port: undefined, host: undefined });
  assertEquals(h.host.urls, [`unix://${socket}`]);
  behindRuns.count = 0;
  const conn = await Deno.connect({ transport: "unix", path: socket });
  assert(await writeAll(conn, `${SIXTY}\n`.repeat(100)));
  await conn.closeWrite();
  const { bytes, reset } = await readToEnd(conn);
  conn.close();
  assertEquals(reset, false);
  assertBytes(bytes, replies(1, 100));
});

const BEHIND_GRAPH = "tests/fixtures/graphs/behind.json";

/** Whole replies of the `behind` fixture to `60000`, their digits counting up by one from `first`'s. */
function assertCountingReplies(bytes: Uint8Array, count: number, what: string): void {
  assertEquals(bytes.length, count * (SIXTY + 1), `${what}: length`);
  const first = bytes[0] - 0x30;
  assertBytes(
    bytes,
    concat(...Array.from({ length: count }, (_, i) => behindReply(first + i, SIXTY))),
    what,
  );
}

Deno.test("CLI, SIGTERM while replies are stuck behind the next read: every reply written arrives whole, then a clean end; exit 0", async () => {
  const cli = await spawnCli([BEHIND_GRAPH]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: cli.port });
  // 150 requests in 900 bytes, all in the host's first read (1 KiB): a request left unread
  // in the socket when the host closes makes the kernel reset the connection, and the reset
  // drops what it had not sent yet (see docs/command-line.md, Signals).
  assert(await writeAll(conn, `${SIXTY}\n`.repeat(150)));
  // 9 MB of replies the client does not read: the host's writes stick.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stopping = cli.stop("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { bytes, reset } = await readToEnd(conn);
  conn.close();
  const { code, stderr } = await stopping;
  assertEquals(code, 0, stderr);
  assertEquals(reset, false);
  const count = Math.floor(bytes.length / (SIXTY + 1));
  assert(count > 0 && count < 150, `${count} replies`);
  assertBytes(bytes, replies(1, count));
});

Deno.test("--workers 2: pipelined replies written behind, on connection after connection, whole and in order", async () => {
  await using cli = await spawnCli([BEHIND_GRAPH, "--workers", "2"], WORKERS_PERMISSIONS);
  for (let c = 0; c < 6; c++) {
    assertCountingReplies(await sendAndHalfClose(cli.port, 50), 50, `connection ${c}`);
  }
  const { code, stderr } = await cli.stop("SIGTERM");
  assertEquals(code, 0, stderr);
});

Deno.test("stdio: lines piped into the CLI (printf | plumb --stdio) get every reply on standard output", async () => {
  const names = Array.from({ length: 5000 }, (_, i) => `s${i}`);
  const hello = await runCli(
    ["examples/hello.json", "--stdio"],
    CLI_PERMISSIONS,
    names.map((n) => `${n}\n`).join(""),
  );
  assertEquals(hello.code, 0, hello.stderr);
  assertEquals(hello.stdout, names.map((n) => `Hello, ${n}\n`).join(""));
  // Replies larger than the pipe's buffer, written behind the next read.
  const big = await runCli([BEHIND_GRAPH, "--stdio"], CLI_PERMISSIONS, `${SIXTY}\n`.repeat(100));
  assertEquals(big.code, 0, big.stderr);
  assertBytes(encoder.encode(big.stdout), replies(1, 100));
});

Deno.test("file module: a request per line, every reply appended to the output file", async () => {
  const dir = path("tests/.tmp/write_behind");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/in.txt`, `${SIXTY}\n`.repeat(100) + "5\n");
  await Deno.writeTextFile(
    `${dir}/graph.json`,
    JSON.stringify({
      nodes: { n: { servlet: "../../fixtures/behind.ts" } },
      input: "n.in",
      output: "n.out",
      listeners: [{ module: "file", options: { input: "in.txt", output: "out.txt" } }],
    }),
  );
  const { code, stderr } = await runCli(
    [`${dir}/graph.json`],
    [...CLI_PERMISSIONS, "--allow-write=tests/.tmp"],
  );
  assertEquals(code, 0, stderr);
  assertBytes(await Deno.readFile(`${dir}/out.txt`), concat(replies(1, 100), behindReply(101, 5)));
});

Deno.test("TLS (examples/https.json): 200 requests pipelined in one write get 200 responses, exact", async () => {
  const graph = JSON.parse(await Deno.readTextFile(path("examples/https.json")));
  delete graph.$schema;
  await using h = await startHost(graph, { base: new URL("examples/", ROOT) });
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: h.port });
  const conn = await Deno.startTls(tcp, {
    hostname: "localhost",
    caCerts: [await Deno.readTextFile(path("examples/tls/ca.crt"))],
  });
  const names = Array.from({ length: 200 }, (_, i) => `t${i}`);
  const last = names.length - 1;
  assert(
    await writeAll(
      conn,
      names.map((n, i) => get(`/api/hello?name=${n}`, i === last ? "Connection: close\r\n" : ""))
        .join(""),
    ),
  );
  const { bytes } = await readToEnd(conn);
  conn.close();
  assertEquals(
    decoder.decode(bytes).replace(/date: [^\r]*\r\n/g, ""),
    names.map((n, i) => helloResponse(n, i === last ? "connection: close\r\n" : "")).join(""),
  );
});

Deno.test("examples/chat.json: 300 pipelined commands while 300 long lines are pushed: every line whole, both in order", async () => {
  await using h = await chatHost();
  await using ann = await joinAs(h.port, "ann");
  await using bob = await joinAs(h.port, "bob");
  assertEquals(await nextLine(ann), "* bob has joined");
  const text = "z".repeat(1000);
  // Bob's 300 requests (each a reply to him) in one write while 300 of ann's lines are
  // pushed to him.
  await Promise.all([
    bob.send("/who\r\n".repeat(300)),
    ann.send(Array.from({ length: 300 }, (_, i) => `${i} ${text}\r\n`).join("")),
  ]);
  const who: string[] = [];
  const said: string[] = [];
  while (who.length < 300 || said.length < 300) {
    const line = await nextLine(bob);
    if (line === null) throw new Error(`bob closed after ${who.length} + ${said.length} lines`);
    if (line.startsWith("<ann> ")) said.push(line);
    else who.push(line);
  }
  assertEquals(who, Array(300).fill("* in the room: ann, bob"));
  assertEquals(said, Array.from({ length: 300 }, (_, i) => `<ann> ${i} ${text}`));
});

/** The connections of {@linkcode pusher}, by peer. */
const pushTo = new Map<string, ConnectionHandle>();
/**
 * `push N` writes `p 0` .. `p N-1` to every other connection of the host
 * (server push, not awaited); any other line gets a reply of 60000 "r".
 */
const pusher = defineServlet({
  init: (_args, env) => ({
    input: env.define("in", INPUT | PERSIST),
    output: env.define("out", OUTPUT),
  }),
  async exec(ctx, task): Promise<void> {
    const line = await task.readLine(ctx.input);
    const connection = task.connection!;
    if (connection.state<boolean>() === undefined) {
      connection.setState(true);
      pushTo.set(connection.peer, connection.handle());
    }
    const push = line?.match(/^push (\d+)\n?$/);
    if (push === null || push === undefined) {
      await task.write(ctx.output, `${"r".repeat(SIXTY)}\n`);
      return;
    }
    for (let i = 0; i < Number(push[1]); i++) {
      for (const [peer, handle] of pushTo) if (peer !== connection.peer) handle.write(`p ${i}\n`);
    }
  },
});

Deno.test("server push (task.connection) while replies are written behind: no pushed byte inside a reply, nothing lost", async () => {
  await using sim = await simulate(pusher, { transport: "tcp" });
  pushTo.clear();
  const bob = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
  const ann = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
  // Both connections known to the servlet before the pushes.
  assert(await writeAll(bob, "hi\n"));
  assertEquals((await readExactly(bob, SIXTY + 1)).length, SIXTY + 1);
  assert(await writeAll(ann, "hi\n"));
  assertEquals((await readExactly(ann, SIXTY + 1)).length, SIXTY + 1);
  // Bob's 100 requests of 60000-byte replies in one write, as 5 x 200 lines are pushed to him.
  const sending = Promise.all([
    writeAll(bob, "big\n".repeat(100)),
    writeAll(ann, "push 200\n".repeat(5)),
  ]);
  const expectedBytes = 100 * (SIXTY + 1) + 5 * Array.from({ length: 200 }, (_, i) => `p ${i}\n`)
        .join("").length;
  const bytes = await readExactly(bob, expectedBytes);
  assertEquals(await sending, [true, true]);
  const lines = decoder.decode(bytes).split("\n").slice(0, -1);
  const reply = "r".repeat(SIXTY);
  const pushed = lines.filter((l) => l !== reply);
  assertEquals(lines.length - pushed.length, 100, "whole replies");
  assertEquals(
    pushed,
    Array.from({ length: 5 }, () => Array.from({ length: 200 }, (_, i) => `p ${i}`)).flat(),
  );
  bob.close();
  ann.close();
});
