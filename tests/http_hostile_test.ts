/**
 * The attacks of issue 20 on the HTTP servlets, each bounded and on
 * 127.0.0.1 only, so that none can come back: slow heads and bodies (408,
 * a log line, the connection closed; others served meanwhile), empty lines
 * before a request, header whitespace that a proxy might read otherwise,
 * bodies that pin memory (503 past `--max-buffered-bytes`), and route rules
 * bypassed by a path written another way.
 * @module
 */
import { defineServlet, INPUT, OUTPUT, type Port } from "../mod.ts";
import type { GraphSpec } from "../host/mod.ts";
import { simulate, type Simulation, type TestClient } from "../testing/mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { fetchRaw, get, httpGraph, readReply } from "./fixtures/http.ts";
import { path } from "./helpers.ts";

const TMP = path("tests/.tmp/http_hostile");

/** Answers 200 with the method, the path the router saw and the body's size. */
const answer = defineServlet({
  init(_args, env): { input: Port; output: Port } {
    return {
      input: env.define("in", INPUT, "http/request"),
      output: env.define("out", OUTPUT, "http/response"),
    };
  },
  async exec(ctx, task): Promise<void> {
    const request = await task.readValue<{ method: string; path: string; body: Uint8Array }>(
      ctx.input,
    );
    if (request === null) return;
    await task.writeValue(ctx.output, {
      status: 200,
      body: `${request.method} ${request.path} ${request.body.length}\n`,
    });
  },
});

/** parser (with `args`) → answer → render, on TCP; `session` over the listener's options. */
async function serveAnswer(
  args: string[],
  session: Record<string, unknown> = {},
): Promise<Simulation> {
  return await simulate(
    httpGraph(args, { answer: { servlet: answer } }, ["answer.in", "answer.out"]),
    {
      transport: "tcp",
      logLevel: "info",
      session,
    },
  );
}

/** Reads one reply, and whether the host then closed the connection. */
async function replyAndClose(client: TestClient): Promise<[string, string, boolean]> {
  const reply = await readReply(client);
  return [reply.status, reply.text, await client.closedByServer()];
}

Deno.test("slow head: a head not all here within --head-timeout gets 408, a log line and a close; others are served", async () => {
  // A short tick (a quarter of requestTimeout) so that the deadline bites soon after it passes.
  await using sim = await serveAnswer(["--head-timeout", "0.3"], { requestTimeout: 0.4 });
  await using silent = await sim.connect();
  await silent.send("GET /slow HTTP/1.1\r\nHost: a\r\n");
  // A probe served while the slow head waits.
  assertEquals((await fetchRaw(sim, get("/probe"))).text, "GET /probe 0\n");
  assertEquals(await replyAndClose(silent), [
    "HTTP/1.1 408 Request Timeout",
    "408 Request Timeout: request head took longer than 0.3 s\n",
    true,
  ]);
  await sim.waitForLog(
    /: request head took longer than 0\.3 s \(http\/parser --head-timeout\), 408, closing$/,
  );
});

Deno.test("slowloris: 50 clients trickling a head one byte at a time are all cut at the head deadline; a probe is served throughout", async () => {
  await using sim = await serveAnswer(["--head-timeout", "0.5"], { requestTimeout: 0.4 });
  const head = "GET /trickle HTTP/1.1\r\nHost: a\r\nX-Padding: " + "p".repeat(200);
  const clients = await Promise.all(Array.from({ length: 50 }, () => sim.connect()));
  let stop = false;
  // Each client sends one more byte every 50 ms until it sees its reply (bounded by the head).
  const trickles = clients.map(async (client) => {
    for (let i = 0; i < head.length && !stop; i++) {
      try {
        await client.send(head[i]);
      } catch {
        return; // the host closed it
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  try {
    for (let i = 0; i < 5; i++) {
      assertEquals((await fetchRaw(sim, get(`/probe${i}`))).text, `GET /probe${i} 0\n`);
    }
    for (const client of clients) {
      const reply = await readReply(client);
      assertEquals(reply.status, "HTTP/1.1 408 Request Timeout");
      assert(await client.closedByServer(), "a trickling client was kept");
    }
  } finally {
    stop = true;
    await Promise.all(trickles);
    for (const client of clients) client.close();
  }
  assertEquals(
    sim.logs.filter((line) => line.includes("request head took longer than 0.5 s")).length,
    50,
  );
});

Deno.test("slow body: a body not all here within --body-timeout gets 408; a complete request clears the deadline", async () => {
  await using sim = await serveAnswer(["--head-timeout", "0.3", "--body-timeout", "0.3"], {
    requestTimeout: 0.4,
  });
  // Served in two pieces: its deadline is cleared once it is all here.
  await using kept = await sim.connect();
  await kept.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
  await kept.send("cd");
  assertEquals((await readReply(kept)).text, "POST /x 4\n");
  await using slow = await sim.connect();
  await slow.send("POST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345");
  assertEquals(await replyAndClose(slow), [
    "HTTP/1.1 408 Request Timeout",
    "408 Request Timeout: request body took longer than 0.3 s\n",
    true,
  ]);
  await sim.waitForLog("request body took longer than 0.3 s (http/parser --body-timeout), 408");
  // The first connection's deadline was set before the second's: had it not been
  // cleared, it would have been closed by now. It is still served.
  await kept.send(get("/again"));
  assertEquals((await readReply(kept)).text, "GET /again 0\n");
});

Deno.test("empty lines before a request count against the head limit (431), however many", async () => {
  await using sim = await serveAnswer([]);
  await using client = await sim.connect();
  // One line past the limit: the host has read all of it when it answers.
  await client.send("\r\n".repeat(8193));
  assertEquals(await replyAndClose(client), [
    "HTTP/1.1 431 Request Header Fields Too Large",
    "431 Request Header Fields Too Large: header longer than 16384 bytes " +
    "(empty lines before the request count)\n",
    true,
  ]);
  // A few empty lines are still skipped (RFC 9112 2.2).
  assertEquals((await fetchRaw(sim, "\r\n\r\n" + get("/after"))).text, "GET /after 0\n");
});

Deno.test("header whitespace is SP and HTAB only; framing a proxy might read otherwise is refused", async () => {
  await using sim = await serveAnswer([]);
  const post = (fields: string, body = ""): string =>
    `POST /x HTTP/1.1\r\nHost: a\r\n${fields}\r\n${body}`;
  const cases: [string, string, string][] = [
    [
      post("Transfer-Encoding: \x0bchunked\r\n"),
      "400 Bad Request",
      'control character in header "Transfer-Encoding"',
    ],
    [
      post("Transfer-Encoding: chunked\x0b\r\n"),
      "400 Bad Request",
      'control character in header "Transfer-Encoding"',
    ],
    [
      post("Transfer-Encoding: \u00a0chunked\r\n"),
      "501 Not Implemented",
      'transfer coding "\u00a0chunked"',
    ],
    [
      post("Transfer-Encoding: \ufeffchunked\r\n"),
      "501 Not Implemented",
      'transfer coding "\ufeffchunked"',
    ],
    [
      post("Content-Length: \x0b2\r\n", "ab"),
      "400 Bad Request",
      'control character in header "Content-Length"',
    ],
    [post("Content-Length: \u00a02\r\n", "ab"), "400 Bad Request", "malformed Content-Length"],
    [post("Content-Length: +2\r\n", "ab"), "400 Bad Request", "malformed Content-Length"],
    [
      post("Content-Length: 2\r\nContent-Length: 2\r\n", "ab"),
      "400 Bad Request",
      "malformed Content-Length",
    ],
    [post("Transfer-Encoding : chunked\r\n"), "400 Bad Request", "malformed header line"],
    [
      "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "400 Bad Request",
      "Transfer-Encoding in an HTTP/1.0 request",
    ],
    [
      post("Transfer-Encoding: chunked\r\n", "1\nx\r\n0\r\n\r\n"),
      "400 Bad Request",
      "malformed chunk size",
    ],
    [
      post("Transfer-Encoding: chunked\r\n", "1\r\nxy\r\n0\r\n\r\n"),
      "400 Bad Request",
      "chunk data longer than its size",
    ],
    ["GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "malformed request line"],
    ["GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "malformed request line"],
    // A byte order mark is no empty line: what it starts is no request line.
    ["\ufeffGET / HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "malformed request line"],
  ];
  for (const [request, status, detail] of cases) {
    await using client = await sim.connect();
    await client.send(request);
    assertEquals(await replyAndClose(client), [
      `HTTP/1.1 ${status}`,
      `${status}: ${detail}\n`,
      true,
    ]);
  }
  // Space and tab around a value are whitespace, and only they.
  assertEquals(
    (await fetchRaw(sim, post("Content-Length: \t2 \t\r\n", "ab"))).text,
    "POST /x 2\n",
  );
});

Deno.test("bodies that pin memory: past --max-buffered-bytes a request gets 503; a closed connection gives its bytes back", async () => {
  await using sim = await serveAnswer(
    ["--max-buffered-bytes", "20000", "--max-body-bytes", "30000", "--body-timeout", "0.3"],
    { requestTimeout: 0.4 },
  );
  const head = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 15000\r\n\r\n";
  // Holding 12000 bytes, then cut by its body deadline.
  await using holder = await sim.connect();
  await holder.send(head + "h".repeat(12000));
  assertEquals((await replyAndClose(holder))[0], "HTTP/1.1 408 Request Timeout");
  // Its bytes went back when it closed. Two more may not both hold 12000 bytes: whichever
  // comes second is refused, and the other goes on.
  await using second = await sim.connect();
  await using third = await sim.connect();
  await second.send(head + "s".repeat(12000));
  await third.send(head + "t".repeat(12000));
  const replies = [second, third].map((client) =>
    readReply(client).then((reply) => ({ client, reply }))
  );
  const refused = await Promise.race(replies);
  assertEquals([refused.reply.status, refused.reply.text], [
    "HTTP/1.1 503 Service Unavailable",
    "503 Service Unavailable: too many requests are arriving at once; try again later\n",
  ]);
  assert(await refused.client.closedByServer(), "a refused request's connection was kept");
  const held = refused.client === second ? 1 : 0;
  await [second, third][held].send("x".repeat(3000));
  assertEquals((await replies[held]).reply.text, "POST /x 15000\n");
});

/** A root with a public file, a private one and an `evil.example` directory. */
async function siteRoot(): Promise<string> {
  await Deno.remove(TMP, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${TMP}/www/private`, { recursive: true });
  await Deno.mkdir(`${TMP}/www/evil.example`, { recursive: true });
  await Deno.mkdir(`${TMP}/www/images`, { recursive: true });
  await Deno.writeTextFile(`${TMP}/www/private/secret.txt`, "the secret\n");
  await Deno.writeTextFile(`${TMP}/www/public.txt`, "public\n");
  await Deno.writeTextFile(`${TMP}/www/images/index.html`, "images\n");
  await Deno.writeTextFile(`${TMP}/www/evil.example/index.html`, "evil\n");
  return `${TMP}/www`;
}

/** Answers 403 to whatever it is given. */
const forbid = defineServlet({
  init(_args, env): { input: Port; output: Port } {
    return {
      input: env.define("in", INPUT, "http/request"),
      output: env.define("out", OUTPUT, "http/response"),
    };
  },
  async exec(ctx, task): Promise<void> {
    if (await task.readValue(ctx.input) === null) return;
    await task.writeValue(ctx.output, { status: 403, body: "403 Forbidden\n" });
  },
});

/** `/private/*` routed to a 403, everything else to the files. */
function guardedSite(root: string): GraphSpec {
  const graph = httpGraph(
    [],
    {
      route: { servlet: "http/router", args: ["* /private/*", "GET /*"] },
      deny: { servlet: forbid },
      files: { servlet: "http/static", args: [root] },
      join: { servlet: "dataflow/firstnonempty" },
    },
    ["route.in", "join.out"],
    [
      { from: "route.out0", to: "deny.in" },
      { from: "route.out1", to: "files.in" },
      { from: "deny.out", to: "join.in0" },
      { from: "files.out", to: "join.in1" },
    ],
  );
  return graph;
}

Deno.test("one path for rules and files: /private/* written another way is still routed away; redirects are never protocol-relative", async () => {
  await using sim = await simulate(guardedSite(await siteRoot()), { transport: "tcp" });
  assertEquals((await fetchRaw(sim, get("/public.txt"))).text, "public\n");
  for (
    const target of [
      "/private/secret.txt",
      "/%70rivate/secret.txt",
      "/%70%72%69%76%61%74%65/secret.txt",
      "//private/secret.txt",
      "/./private/secret.txt",
      "/images/../private/secret.txt",
      "/images/%2e%2e/private/secret.txt",
      "/private//secret.txt",
      "http://a//private/secret.txt",
    ]
  ) {
    const reply = await fetchRaw(sim, get(target));
    assertEquals([reply.status, reply.text], ["HTTP/1.1 403 Forbidden", "403 Forbidden\n"], target);
  }
  for (
    const [target, location] of [
      ["//images", "/images/"],
      ["//evil.example", "/evil.example/"],
      ["///evil.example?x=1", "/evil.example/?x=1"],
      ["/images/.", "/images/"], // normalised to "/images/": served, no redirect
    ]
  ) {
    const reply = await fetchRaw(sim, get(target));
    if (target.endsWith(".")) {
      assertEquals([reply.status, reply.text], ["HTTP/1.1 200 OK", "images\n"]);
    } else {
      assertEquals([reply.status, reply.headers.location], [
        "HTTP/1.1 301 Moved Permanently",
        location,
      ], target);
    }
  }
});

Deno.test("maxConnections: connections with no reply after evictAfter go first; an answered one stays", async () => {
  const graph = httpGraph([], { answer: { servlet: answer } }, ["answer.in", "answer.out"]);
  graph.listeners![0].options = {
    ...graph.listeners![0].options,
    maxConnections: 5,
    evictAfter: 0.3,
  };
  await using sim = await simulate(graph, { transport: "tcp", logLevel: "info" });
  await using answered = await sim.connect();
  await answered.send(get("/first"));
  assertEquals((await readReply(answered)).text, "GET /first 0\n");
  // Four that say nothing (or a piece of a head): the listener is full.
  const silent = await Promise.all(Array.from({ length: 4 }, () => sim.connect()));
  await silent[0].send("GET /never-fin");
  try {
    // The probe waits in the backlog until the silent ones are closed to make room.
    assertEquals((await fetchRaw(sim, get("/probe"))).text, "GET /probe 0\n");
    for (const client of silent) assert(await client.closedByServer(), "a silent client was kept");
    await sim.waitForLog(
      /: closed \d connections? with no reply after 0\.3 s to make room \(maxConnections 5\)$/,
    );
    // The one that had its reply was kept, and is served still.
    await answered.send(get("/again"));
    assertEquals((await readReply(answered)).text, "GET /again 0\n");
  } finally {
    for (const client of silent) client.close();
  }
});
