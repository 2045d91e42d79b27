/**
 * A hostile review of `http/render`'s kept replies (a reply with a text body
 * made twice in a row is written again from its bytes) and of the reply
 * written behind the next read (`SessionOutput.flushBehind`): runs of replies
 * built to look alike (HEAD and GET, bodyless statuses, the renderer's own
 * fields given by the handler, numbers and strings, field order, reason
 * phrases, HTTP/1.0, empty and non-ASCII bodies, a response object changed
 * after it was returned), the failure paths right after a kept reply (500
 * for a line break, a throwing handler, the parser's error replies), the kept
 * bytes seen by a node behind render and by a memory client, and kept
 * replies through a slow reader, a reset and a stopping host. Every reply is
 * checked byte for byte on real connections (without its `date` line, whose
 * form is checked).
 * @module
 */
import { defineServlet } from "../mod.ts";
import { type GraphSpec, Host, type NodeSpec } from "../host/mod.ts";
import { simulate, type TestClient } from "../testing/mod.ts";
import type { HttpRequest, HttpResponse } from "../servlets/http/types.ts";
import { assert, assertEquals } from "./assert.ts";
import { httpGraph } from "./fixtures/http.ts";
import { httpHandler } from "./fixtures/http_handler.ts";
import { path, startHost } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DATE = /date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/g;
/** The length of a `date` line: the form above is of fixed width. */
const DATE_LINE = "date: Sun, 06 Dec 2026 09:00:00 GMT\r\n".length;

/** The object `?shared=` returns each time, changed in place before it is returned. */
const shared: HttpResponse = { status: 200, headers: { "x-s": "" }, body: "" };

/**
 * The handler: the query says what to answer. `say` the text (default
 * `same`), `big` a text of that many `x`, `sur` a text with a lone
 * surrogate, `status` and `reason`, `h` the fields as JSON (in their order),
 * `num` a field `x-n` of the number 7 (`n`) or the string `7` (`s`), `bad` a
 * field with a line break, `throw` to fail, `shared` the one object above,
 * `bin` a body of that many bytes `b` (not text: never kept).
 */
function answer(request: HttpRequest): HttpResponse {
  const query = new URLSearchParams(request.query);
  if (query.has("throw")) throw new Error("the handler failed on purpose");
  if (query.has("shared")) {
    const value = query.get("shared")!;
    (shared.headers as Record<string, string>)["x-s"] = value;
    shared.body = value;
    return shared;
  }
  const headers: Record<string, string | number> = JSON.parse(
    query.get("h") ?? '{"content-type":"text/plain"}',
  );
  const num = query.get("num");
  if (num !== null) headers["x-n"] = num === "n" ? 7 : "7";
  if (query.has("bad")) headers["x-bad"] = "a\r\nx-injected: 1";
  const reason = query.get("reason");
  const bin = query.get("bin");
  if (bin !== null) {
    return { status: 200, headers: {}, body: new Uint8Array(Number(bin)).fill(0x62) };
  }
  const big = query.get("big");
  return {
    status: Number(query.get("status") ?? 200),
    ...(reason === null ? {} : { reason }),
    // A number where a string is expected (as a handler in JavaScript may give it).
    headers: headers as Record<string, string>,
    body: big !== null
      ? "x".repeat(Number(big))
      : query.has("sur")
      ? "a\ud800b"
      : query.get("say") ?? "same",
  };
}

/** The handler as a servlet: given the argument `exec`, its step declines. */
const handler = httpHandler(answer);

function graph(mode: "step" | "exec", parserArgs: string[] = []): GraphSpec {
  const nodes: Record<string, NodeSpec> = { answer: { servlet: handler, args: [mode] } };
  return httpGraph(parserArgs, nodes, ["answer.in", "answer.out"]);
}

/** A request for `target`, in HTTP/1.`minor`, with `fields` (each ending in CRLF). */
function req(target: string, method = "GET", minor = 1, fields = ""): string {
  return `${method} ${target} HTTP/1.${minor}\r\nHost: test\r\n${fields}\r\n`;
}

/** `h=` for these fields, in this order. */
function h(fields: Record<string, string>): string {
  return `h=${encodeURIComponent(JSON.stringify(fields))}`;
}

/** A reply as render frames it, without `date`: status line, `fields`, the framing, the body. */
function rep(
  body: string,
  {
    status = "200 OK",
    fields = "content-type: text/plain\r\n",
    head = false,
    length = true,
    connection,
  }: {
    status?: string;
    fields?: string;
    head?: boolean;
    length?: boolean;
    connection?: string;
  } = {},
): string {
  const size = length ? `content-length: ${encoder.encode(body).length}\r\n` : "";
  const close = connection === undefined ? "" : `connection: ${connection}\r\n`;
  return `HTTP/1.1 ${status}\r\n${fields}${size}${close}\r\n${head ? "" : body}`;
}

/** Strips the `date` lines of `raw`, checking there are `count` of them. */
function undated(raw: string, count: number, what: string): string {
  assertEquals((raw.match(DATE) ?? []).length, count, `${what}: date lines`);
  return raw.replace(DATE, "");
}

/** Sends `sent` and reads exactly the bytes of `expected` and its date line. */
async function one(client: TestClient, sent: string, expected: string): Promise<void> {
  await client.send(sent);
  const got = decoder.decode(await client.readBytes(encoder.encode(expected).length + DATE_LINE));
  assertEquals(undated(got, 1, sent), expected, sent);
}

/**
 * Runs the cases one at a time on one connection (each reply written behind
 * the next read), then all pipelined in one write on another: every reply
 * byte-exact, in order. The last case may close the connection.
 */
async function runCases(
  sim: Awaited<ReturnType<typeof simulate>>,
  cases: readonly [string, string][],
): Promise<void> {
  {
    await using client = await sim.connect();
    for (const [sent, expected] of cases) await one(client, sent, expected);
  }
  const raw = await sim.exchange(cases.map(([sent]) => sent).join(""));
  assertEquals(
    undated(raw, cases.length, "pipelined"),
    cases.map(([, expected]) => expected).join(""),
  );
}

/** `n` times the same case. */
function times(n: number, c: [string, string]): [string, string][] {
  return Array.from({ length: n }, () => c);
}

for (const mode of ["step", "exec"] as const) {
  Deno.test(`kept replies (${mode}): HEAD and GET, 204/304/1xx with a text, empty and non-ASCII bodies, a long reply`, async () => {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const noType = { fields: "" };
    await runCases(sim, [
      ...times(3, [req("/"), rep("same")]),
      ...times(3, [req("/", "HEAD"), rep("same", { head: true })]),
      ...times(2, [req("/"), rep("same")]),
      [req("/", "HEAD"), rep("same", { head: true })],
      // Bodyless statuses with a text: never a body, never a length, HEAD or GET.
      ...times(3, [
        req("/?status=204"),
        rep("same", { status: "204 No Content", length: false, head: true }),
      ]),
      ...times(2, [
        req("/?status=204", "HEAD"),
        rep("same", { status: "204 No Content", length: false, head: true }),
      ]),
      ...times(2, [
        req("/?status=304"),
        rep("same", { status: "304 Not Modified", length: false, head: true }),
      ]),
      ...times(2, [
        req("/?status=199"),
        rep("same", { status: "199 Unknown", length: false, head: true }),
      ]),
      ...times(3, [req("/"), rep("same")]),
      // Empty, non-ASCII, a lone surrogate (written as U+FFFD: 3 bytes).
      ...times(3, [req("/?say="), rep("")]),
      ...times(3, [req("/?say=%C3%A9t%C3%A9%F0%9F%98%80"), rep("été😀")]),
      ...times(3, [req("/?sur=1"), rep("a\ufffdb")]),
      // One unit over the longest kept reply and one under it.
      ...times(3, [req("/?big=16384&h=%7B%7D"), rep("x".repeat(16384), noType)]),
      ...times(3, [req("/?big=16000&h=%7B%7D"), rep("x".repeat(16000), noType)]),
      [req("/?big=16000&h=%7B%7D", "HEAD"), rep("x".repeat(16000), { ...noType, head: true })],
      ...times(2, [req("/?big=16000&h=%7B%7D"), rep("x".repeat(16000), noType)]),
    ]);
  });

  Deno.test(`kept replies (${mode}): render's own fields from the handler, numbers and strings, field order, reason phrases, a changed object`, async () => {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const ab = { fields: "x-a: 1\r\nx-b: 2\r\n" };
    await runCases(sim, [
      // content-length, connection, date and transfer-encoding given by the handler are render's own: dropped.
      ...times(3, [
        req(`/?${h({ "Content-Length": "999", connection: "close", date: "x", "x-a": "1" })}`),
        rep("same", { fields: "x-a: 1\r\n" }),
      ]),
      ...times(2, [req(`/?${h({ "x-a": "1" })}`), rep("same", { fields: "x-a: 1\r\n" })]),
      ...times(2, [
        req(`/?${h({ "x-a": "1", "transfer-encoding": "chunked" })}`),
        rep("same", { fields: "x-a: 1\r\n" }),
      ]),
      // The number 7 and the string "7": the same line.
      ...times(2, [
        req("/?num=n"),
        rep("same", { fields: "content-type: text/plain\r\nx-n: 7\r\n" }),
      ]),
      ...times(2, [
        req("/?num=s"),
        rep("same", { fields: "content-type: text/plain\r\nx-n: 7\r\n" }),
      ]),
      // The same fields in another order: written in that order.
      ...times(2, [req(`/?${h({ "x-a": "1", "x-b": "2" })}`), rep("same", ab)]),
      ...times(2, [
        req(`/?${h({ "x-b": "2", "x-a": "1" })}`),
        rep("same", { fields: "x-b: 2\r\nx-a: 1\r\n" }),
      ]),
      [req(`/?${h({ "x-a": "1", "x-b": "2" })}`), rep("same", ab)],
      // A field whose value moves into the next one's.
      ...times(2, [
        req(`/?${h({ "x-a": "1 x-b: 2" })}`),
        rep("same", { fields: "x-a: 1 x-b: 2\r\n" }),
      ]),
      // Reason phrases: given, standard, the standard one given.
      ...times(2, [req("/?reason=Fine"), rep("same", { status: "200 Fine" })]),
      ...times(2, [req("/"), rep("same")]),
      ...times(2, [req("/?reason=OK%20"), rep("same", { status: "200 OK " })]),
      ...times(2, [req("/?status=404&reason=OK"), rep("same", { status: "404 OK" })]),
      // One object returned each time, changed in place in between.
      ...times(2, [req("/?shared=one"), rep("one", { fields: "x-s: one\r\n" })]),
      ...times(3, [req("/?shared=two"), rep("two", { fields: "x-s: two\r\n" })]),
      [req("/?shared=one"), rep("one", { fields: "x-s: one\r\n" })],
    ]);
  });

  Deno.test(`kept replies (${mode}): HTTP/1.0 with and without keep-alive, Connection: close after a kept reply`, async () => {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const keep = "Connection: keep-alive\r\n";
    await runCases(sim, [
      ...times(3, [req("/"), rep("same")]),
      ...times(3, [req("/", "GET", 0, keep), rep("same", { connection: "keep-alive" })]),
      ...times(2, [
        req("/", "HEAD", 0, keep),
        rep("same", { connection: "keep-alive", head: true }),
      ]),
      ...times(2, [req("/"), rep("same")]),
      [req("/", "GET", 1, "Connection: close\r\n"), rep("same", { connection: "close" })],
    ]);
    // A connection each: the kept reply, then one that must close.
    for (const last of [req("/", "GET", 0), req("/", "GET", 1, "Connection: close\r\n")]) {
      for (let i = 0; i < 3; i++) {
        const raw = await sim.exchange(req("/") + req("/") + last);
        const closing = rep("same", last.includes("1.0") ? {} : { connection: "close" });
        assertEquals(undated(raw, 3, last), rep("same") + rep("same") + closing);
      }
    }
  });
}

Deno.test("kept replies: a field with a line break right after kept replies gets the 500 and the close; others still get the kept reply", async () => {
  for (const mode of ["step", "exec"] as const) {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const raw = await sim.exchange(req("/").repeat(3) + req("/?bad=1") + req("/"));
    const error = rep("500 Internal Server Error\n", {
      status: "500 Internal Server Error",
      fields: "content-type: text/plain; charset=utf-8\r\n",
      connection: "close",
    });
    assertEquals(undated(raw, 4, mode), rep("same").repeat(3) + error);
    assert(!raw.includes("x-injected"), raw);
    const headRaw = await sim.exchange(req("/").repeat(3) + req("/?bad=1", "HEAD"));
    assertEquals(
      undated(headRaw, 4, mode),
      rep("same").repeat(3) + rep("500 Internal Server Error\n", {
        status: "500 Internal Server Error",
        fields: "content-type: text/plain; charset=utf-8\r\n",
        connection: "close",
        head: true,
      }),
    );
    assertEquals(undated(await sim.exchange(req("/").repeat(3)), 3, mode), rep("same").repeat(3));
    await sim.waitForLog("PLUMB_HTTP_RENDER_HEADER");
  }
});

Deno.test("kept replies: a handler that throws after kept replies gets the 500 and the close, every time; then the kept reply again", async () => {
  for (const mode of ["step", "exec"] as const) {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const error = rep("500 Internal Server Error\n", {
      status: "500 Internal Server Error",
      fields: "content-type: text/plain; charset=utf-8\r\n",
      connection: "close",
    });
    // Three 500s in a row, each after two kept replies: the 500 is kept too, and still closes.
    for (let i = 0; i < 3; i++) {
      const raw = await sim.exchange(req("/").repeat(2) + req("/?throw=1") + req("/"));
      assertEquals(undated(raw, 3, `${mode} ${i}`), rep("same").repeat(2) + error);
    }
    assertEquals(undated(await sim.exchange(req("/").repeat(3)), 3, mode), rep("same").repeat(3));
  }
});

Deno.test("kept replies: the parser's error replies (400, 431, 413) between kept replies are its own, and close", async () => {
  const bad = [
    "BOGUS\r\n\r\n",
    `GET / HTTP/1.1\r\nHost: test\r\nx-big: ${"y".repeat(300)}\r\n\r\n`,
    "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 500\r\n\r\n" + "z".repeat(500),
  ];
  const args = ["--max-header-bytes", "256", "--max-body-bytes", "100"];
  // Each error reply as a host that never made a kept reply writes it.
  const alone: string[] = [];
  for (const sent of bad) {
    await using fresh = await simulate(graph("exec", args), { transport: "tcp" });
    alone.push(undated(await fresh.exchange(sent), 1, sent));
  }
  assert(
    alone[0].startsWith("HTTP/1.1 400 ") && alone[1].startsWith("HTTP/1.1 431 "),
    alone.join(),
  );
  assert(alone[2].startsWith("HTTP/1.1 413 "), alone[2]);
  for (const mode of ["step", "exec"] as const) {
    await using sim = await simulate(graph(mode, args), { transport: "tcp" });
    for (let round = 0; round < 3; round++) {
      for (const [i, sent] of bad.entries()) {
        const raw = await sim.exchange(req("/").repeat(3) + sent + req("/"));
        assertEquals(
          undated(raw, 4, `${mode}: ${sent.slice(0, 20)}`),
          rep("same").repeat(3) + alone[i],
        );
        // The same error three times in a row on connections of its own: kept, the same bytes.
        assertEquals(undated(await sim.exchange(sent), 1, sent), alone[i]);
      }
    }
  }
});

Deno.test("kept replies: two hosts in one process, connections interleaved, each answering its own", async () => {
  await using one = await simulate(graph("step"), { transport: "tcp" });
  await using two = await simulate(graph("exec"), { transport: "tcp" });
  const a = req(`/?say=one&${h({ "x-h": "1" })}`);
  const b = req(`/?say=two&${h({ "x-h": "2" })}`);
  const c = req(`/?say=one&${h({ "x-h": "2" })}`);
  const ra = rep("one", { fields: "x-h: 1\r\n" });
  const rb = rep("two", { fields: "x-h: 2\r\n" });
  const rc = rep("one", { fields: "x-h: 2\r\n" });
  const runs = await Promise.all(
    Array.from(
      { length: 16 },
      (_, i) => (i % 2 === 0 ? one : two).exchange((i % 4 < 2 ? a + b + c : c + c + a).repeat(20)),
    ),
  );
  for (const [i, raw] of runs.entries()) {
    assertEquals(
      undated(raw, 60, `run ${i}`),
      (i % 4 < 2 ? ra + rb + rc : rc + rc + ra).repeat(20),
    );
  }
});

Deno.test("kept replies: a memory client (Host.connect) that overwrites every chunk it reads does not change later replies", async () => {
  await using host = await Host.load(graph("step"));
  for (let round = 0; round < 3; round++) {
    await using conn = host.connect();
    await conn.write(req("/").repeat(4));
    await conn.closeWrite();
    const parts: Uint8Array[] = [];
    for (let chunk = await conn.read(); chunk !== null; chunk = await conn.read()) {
      parts.push(chunk.slice());
      chunk.fill(0x21); // the client's own buffer now: written over
    }
    const raw = decoder.decode(new Uint8Array(parts.flatMap((p) => [...p])));
    assertEquals(undated(raw, 4, `round ${round}`), rep("same").repeat(4));
  }
});

/** Swaps the case of every ASCII letter of `bytes`, in place. */
function swapCase(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] | 0x20;
    if (c >= 0x61 && c <= 0x7a) bytes[i] ^= 0x20;
  }
  return bytes;
}

/**
 * A node behind render that swaps the case of the bytes it reads, in place,
 * and passes them on: in exec only, or with a step that does the same.
 */
function swapper(stepped: boolean) {
  return defineServlet({
    description: "swaps the case of ASCII letters, in the chunk it read",
    init: (_args, env) => ({
      input: env.input("in", { type: "bytes" }),
      output: env.output("out", { type: "bytes" }),
    }),
    async exec(ctx, task) {
      for await (const chunk of task.chunks(ctx.input)) {
        await task.write(ctx.output, swapCase(chunk));
      }
    },
    step(ctx, task) {
      const chunk = task.value(ctx.input);
      if (!stepped || !(chunk instanceof Uint8Array)) return false;
      task.write(ctx.output, swapCase(chunk));
    },
  });
}

for (const stepped of [false, true]) {
  Deno.test(`kept replies: a node behind render (${stepped ? "step" : "exec"}) that changes the chunks it reads in place changes nothing for later clients`, async () => {
    const spec = graph("step");
    spec.nodes.swap = { servlet: swapper(stepped) };
    spec.edges = [...spec.edges!, { from: "render.out", to: "swap.in" }];
    spec.output = "swap.out";
    await using sim = await simulate(spec, { transport: "tcp" });
    for (let i = 0; i < 4; i++) {
      await using client = await sim.connect();
      await client.send(req("/"));
      // Through a node behind render the connection is not kept: each reply closes.
      const expected = rep("same", { connection: "close" });
      const got = await client.readBytes(encoder.encode(expected).length + DATE_LINE);
      const raw = decoder.decode(swapCase(got.slice()));
      assertEquals(
        undated(raw, 1, `reply ${i}`),
        expected,
        `reply ${i}: ${JSON.stringify(decoder.decode(got))}`,
      );
    }
  });
}

// The reply written behind the next read, with kept bytes, on real sockets.

/** Reads exactly `n` bytes off `conn`, `step` at a time (fewer only when it ends first). */
async function readExactly(conn: Deno.Conn, n: number, step = n): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got, Math.min(n, got + step)));
    if (read === null) return out.subarray(0, got);
    got += read;
  }
  return out;
}

/** Everything until the end; `reset` when the end was a reset. */
async function readToEnd(conn: Deno.Conn): Promise<{ bytes: Uint8Array; reset: boolean }> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(65536);
  let reset = false;
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      parts.push(buffer.slice(0, n));
      size += n;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    reset = true;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { bytes, reset };
}

async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
}

const BIG = req(`/?big=16000&${h({})}`);
const BIG_REPLY = rep("x".repeat(16000), { fields: "" });
const BIG_LENGTH = encoder.encode(BIG_REPLY).length + DATE_LINE;

Deno.test("written behind: 400 kept replies of 16 KB pipelined to a client that reads 1 KiB at a time arrive whole, in order", async () => {
  await using sim = await simulate(graph("step"), { transport: "tcp" });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
  try {
    const sending = send(conn, BIG.repeat(400));
    const bytes = await readExactly(conn, 400 * BIG_LENGTH, 1024);
    await sending;
    assertEquals(bytes.length, 400 * BIG_LENGTH);
    const text = decoder.decode(bytes);
    assertEquals(undated(text, 400, "slow reader"), BIG_REPLY.repeat(400));
  } finally {
    conn.close();
  }
});

Deno.test("written behind: clients that reset with kept replies in flight and requests pipelined behind leave the kept bytes whole for the next", async () => {
  for (const mode of ["step", "exec"] as const) {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    for (let i = 0; i < 6; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
      await send(conn, BIG.repeat(200));
      // Some of the replies read, the rest left unread: closing now answers them with a reset.
      await readExactly(conn, BIG_LENGTH * (i + 1) + 17);
      conn.close();
    }
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
    try {
      await send(conn, BIG.repeat(5) + req("/", "GET", 1, "Connection: close\r\n"));
      const { bytes, reset } = await readToEnd(conn);
      assertEquals(reset, false);
      const text = decoder.decode(bytes);
      assertEquals(
        undated(text, 6, mode),
        BIG_REPLY.repeat(5) + rep("same", { connection: "close" }),
      );
    } finally {
      conn.close();
    }
  }
});

/** A reply of 200000 bytes given as bytes: its head and first bytes are written during its request. */
const BIN = req(`/?bin=200000&${h({})}`);
const BIN_REPLY = rep("b".repeat(200000), { fields: "" });
const BIN_LENGTH = BIN_REPLY.length + DATE_LINE;

Deno.test("written behind: kept replies and large byte bodies (a write still under way when the reply goes behind) to a slow reader, whole and in order", async () => {
  for (const mode of ["step", "exec"] as const) {
    await using sim = await simulate(graph(mode), { transport: "tcp" });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
    try {
      const sending = send(conn, (BIG + BIN + BIG + BIG).repeat(15));
      const n = 15 * (BIN_LENGTH + 3 * BIG_LENGTH);
      const bytes = await readExactly(conn, n, 4096);
      await sending;
      assertEquals(bytes.length, n);
      assertEquals(
        undated(decoder.decode(bytes), 60, mode),
        (BIG_REPLY + BIN_REPLY + BIG_REPLY + BIG_REPLY).repeat(15),
      );
    } finally {
      conn.close();
    }
  }
});

Deno.test("written behind: the host stops while kept replies are stuck behind the next read, more pipelined: every reply written arrives whole, then a clean end", async () => {
  for (const more of [BIG, BIN]) {
    const sim = await simulate(graph("step"), { transport: "tcp" });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: sim.port });
    try {
      // More replies than the socket buffers hold: the host is stuck writing when it stops,
      // with requests pipelined behind (the stop runs none of those it has not started).
      await send(conn, BIG.repeat(400));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await send(conn, more.repeat(200));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stopping = sim.close(5000);
      const { bytes, reset } = await readToEnd(conn);
      await stopping;
      assertEquals(reset, false);
      // The kept replies first, then (perhaps) some of the others.
      const text = decoder.decode(bytes);
      const dates = (text.match(DATE) ?? []).length;
      const kept = Math.min(dates, 400);
      const others = dates - kept;
      const expected = BIG_REPLY.repeat(kept) +
        (more === BIG ? BIG_REPLY : BIN_REPLY).repeat(others);
      assertEquals(
        bytes.length,
        dates * DATE_LINE + encoder.encode(expected).length,
        "whole replies",
      );
      assertEquals(text.replace(DATE, ""), expected);
      assert(dates >= 1, "no reply");
    } finally {
      conn.close();
    }
  }
});

Deno.test("written behind: one kept reply written at once to TCP, TLS and unix clients, pipelined, every byte right on each", async () => {
  const socket = "/tmp/plumb-test.sock";
  const spec = graph("step");
  spec.listeners = [
    { module: "tcp", options: { host: "127.0.0.1", port: 0 } },
    {
      module: "tls",
      options: {
        host: "127.0.0.1",
        port: 0,
        cert: "examples/tls/localhost.crt",
        key: "examples/tls/localhost.key",
      },
    },
    { module: "unix", options: { path: socket } },
  ];
  await using h = await startHost(spec, { port: undefined, host: undefined });
  const portOf = (scheme: string): number =>
    Number(new URL(h.host.urls.find((u) => u.startsWith(scheme))!.replace(/^\w+:/, "http:")).port);
  const caCerts = [await Deno.readTextFile(path("examples/tls/ca.crt"))];
  const conns: Deno.Conn[] = [
    await Deno.connect({ hostname: "127.0.0.1", port: portOf("tcp:") }),
    await Deno.startTls(await Deno.connect({ hostname: "127.0.0.1", port: portOf("tls:") }), {
      hostname: "localhost",
      caCerts,
    }),
    await Deno.connect({ transport: "unix", path: socket }),
  ];
  const sent = (BIG + req("/") + BIG + BIG + req("/?say=other") + BIG).repeat(30) +
    req("/", "GET", 1, "Connection: close\r\n");
  const expected =
    (BIG_REPLY + rep("same") + BIG_REPLY + BIG_REPLY + rep("other") + BIG_REPLY).repeat(30) +
    rep("same", { connection: "close" });
  const results = await Promise.all(conns.map(async (conn) => {
    try {
      const [, got] = await Promise.all([send(conn, sent), readToEnd(conn)]);
      return got;
    } finally {
      conn.close();
    }
  }));
  for (const [i, { bytes, reset }] of results.entries()) {
    assertEquals(reset, false, `client ${i}`);
    assertEquals(undated(decoder.decode(bytes), 181, `client ${i}`), expected, `client ${i}`);
  }
});
