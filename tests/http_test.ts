/**
 * The HTTP servlets over real TCP: `examples/http.json` with curl and a raw
 * client (keep-alive, pipelining, `Connection: close`, partial reads, bodies,
 * limits, garbage), `http/static` (types, conditional requests, ranges, path
 * escapes), and failures that leave the host serving everyone else.
 * @module
 */
import { simulate, type Simulation } from "../testing/mod.ts";
import { defineServlet, INPUT, OUTPUT, type Port } from "../mod.ts";
import type { GraphSpec } from "../host/mod.ts";
import { compileRoute, matchRoute } from "../servlets/http/mod.ts";
import { parseRange } from "../servlets/http/static.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { fetchRaw, get, httpGraph, readReply } from "./fixtures/http.ts";
import { path } from "./helpers.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const TMP = path("tests/.tmp/http");

async function example(): Promise<Simulation> {
  return await simulate(path("examples/http.json"), { transport: "tcp", logLevel: "info" });
}

/** Runs curl with `args`; its output and standard error. */
async function curl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr), code: out.code };
}

Deno.test("http: curl reuses one connection for several requests (keep-alive)", async () => {
  await using sim = await example();
  const base = `http://127.0.0.1:${sim.port}`;
  const { stdout, stderr, code } = await curl([
    "-v",
    `${base}/api/hello?name=one`,
    `${base}/api/hello?name=two`,
  ]);
  assertEquals(code, 0);
  assertEquals(stdout, '{"message":"Hello, one!"}{"message":"Hello, two!"}');
  assertMatch(stderr, /Re-using existing connection|Reusing existing/);
  assertEquals(stderr.match(/Connected to/g)?.length, 1);
});

Deno.test("http: curl with Connection: close gets connection: close and the host closes", async () => {
  await using sim = await example();
  const { stdout, stderr } = await curl([
    "-v",
    "-H",
    "Connection: close",
    `http://127.0.0.1:${sim.port}/api/hello`,
  ]);
  assertEquals(stdout, '{"message":"Hello, world!"}');
  assertMatch(stderr, /< connection: close/i);
  await using client = await sim.connect();
  await client.send(get("/api/hello", "Connection: close\r\n"));
  const reply = await readReply(client);
  assertEquals(reply.headers.connection, "close");
  assert(await client.closedByServer(), "the host kept the connection");
});

Deno.test("http: two requests pipelined in one write get two responses, in order, on one connection", async () => {
  await using sim = await example();
  await using client = await sim.connect();
  await client.send(get("/api/hello?name=first") + get("/api/hello?name=second"));
  assertEquals((await readReply(client)).text, '{"message":"Hello, first!"}');
  assertEquals((await readReply(client)).text, '{"message":"Hello, second!"}');
  // Still open: a third request on the same connection.
  await client.send(get("/style.css"));
  const css = await readReply(client);
  assertEquals(css.status, "HTTP/1.1 200 OK");
  assertEquals(css.text, await Deno.readTextFile(path("examples/www/style.css")));
});

Deno.test("http: curl pipelining through nc-style one write, exact bytes", async () => {
  await using sim = await example();
  const raw = await sim.exchange(
    get("/api/hello") + get("/api/hello?name=b", "Connection: close\r\n"),
  );
  assertEquals(
    raw.replace(/date: [^\r]*\r\n/g, ""),
    'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{"message":"Hello, world!"}' +
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 23\r\nconnection: close\r\n\r\n{"message":"Hello, b!"}',
  );
});

Deno.test("http: a request split over many reads is one request (PUSH_STATE across reads)", async () => {
  await using sim = await example();
  await using client = await sim.connect();
  const body = JSON.stringify({ split: "across reads", n: [1, 2, 3] });
  const request =
    `POST /api/echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  for (let i = 0; i < request.length; i += 7) {
    await client.send(request.slice(i, i + 7));
    await new Promise((r) => setTimeout(r, 2));
  }
  const reply = await readReply(client);
  assertEquals(reply.status, "HTTP/1.1 200 OK");
  assertEquals(JSON.parse(reply.text), {
    method: "POST",
    path: "/api/echo",
    body: JSON.parse(body),
  });
});

Deno.test("http: a chunked body is de-chunked; curl POST with a body", async () => {
  await using sim = await example();
  const chunked = "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
    '4;ext=1\r\n{"a"\r\n5\r\n:[1]}\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const reply = await fetchRaw(sim, chunked);
  assertEquals(JSON.parse(reply.text), { method: "POST", path: "/api/echo", body: { a: [1] } });
  const posted = await curl([
    "-X",
    "POST",
    "--data",
    '{"x":"é😀\\ud800"}',
    `http://127.0.0.1:${sim.port}/api/echo`,
  ]);
  assertEquals(JSON.parse(posted.stdout).body, { x: "é😀\ud800" });
  const bad = await curl([
    "-i",
    "-X",
    "POST",
    "--data",
    "not json",
    `http://127.0.0.1:${sim.port}/api/echo`,
  ]);
  assertMatch(bad.stdout, /^HTTP\/1.1 400 Bad Request\r\n/);
});

Deno.test("http: HTTP/1.0 closes unless it asks for keep-alive", async () => {
  await using sim = await example();
  {
    await using client = await sim.connect();
    await client.send("GET /api/hello HTTP/1.0\r\n\r\n");
    const reply = await readReply(client);
    assertEquals(reply.status, "HTTP/1.1 200 OK");
    assertEquals(reply.headers.connection, undefined);
    assert(await client.closedByServer());
  }
  await using client = await sim.connect();
  await client.send("GET /api/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assertEquals((await readReply(client)).headers.connection, "keep-alive");
  await client.send("GET /api/hello?name=again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assertEquals((await readReply(client)).text, '{"message":"Hello, again!"}');
});

Deno.test("http: malformed, oversized and garbage requests get 400/413/414/431/501/505 and a close; others are served", async () => {
  await using sim = await example();
  await using bystander = await sim.connect();
  await bystander.send(get("/api/hello?name=before"));
  assertEquals((await readReply(bystander)).text, '{"message":"Hello, before!"}');
  const cases: [string | Uint8Array, string, string][] = [
    ["GARBAGE\r\n\r\n", "400 Bad Request", "malformed request line"],
    [
      new Uint8Array([0xff, 0x00, 0x81, 0x0d, 0x0a, 0x0d, 0x0a]),
      "400 Bad Request",
      "malformed request line",
    ],
    ["GET / HTTP/1.1\r\n\r\n", "400 Bad Request", "missing Host header"],
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", "400 Bad Request", "folded header line"],
    [
      "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
      "400 Bad Request",
      "malformed header line",
    ],
    [
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "400 Bad Request",
      "both Transfer-Encoding and Content-Length",
    ],
    [
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n",
      "400 Bad Request",
      "malformed Content-Length",
    ],
    [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "400 Bad Request",
      "malformed chunk size",
    ],
    [
      // examples/http.json streams a body up to 1 GiB (--max-stream-bytes): over it, 413.
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000000\r\n\r\n",
      "413 Content Too Large",
      "body of 2000000000 bytes, more than 1073741824",
    ],
    [`GET /${"a".repeat(20000)}`, "414 URI Too Long", "request line longer than 16384 bytes"],
    [
      `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(20000)}\r\n`,
      "431 Request Header Fields Too Large",
      "header longer than 16384 bytes",
    ],
    [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
      "501 Not Implemented",
      'transfer coding "gzip"',
    ],
    ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", "505 HTTP Version Not Supported", "HTTP/2.0"],
  ];
  for (const [request, status, detail] of cases) {
    await using client = await sim.connect();
    await client.send(request);
    const reply = await readReply(client);
    assertEquals([reply.status, reply.headers.connection, reply.text], [
      `HTTP/1.1 ${status}`,
      "close",
      `${status}: ${detail}\n`,
    ]);
    assert(await client.closedByServer(), `kept open after ${status}`);
  }
  await bystander.send(get("/api/hello?name=after"));
  assertEquals((await readReply(bystander)).text, '{"message":"Hello, after!"}');
});

Deno.test("http: a larger limit is taken from the parser's arguments", async () => {
  const graph = sizerGraph(["--max-body-bytes", "10"]);
  await using sim = await simulate(graph, { transport: "tcp" });
  const ok = await fetchRaw(
    sim,
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
  );
  assertEquals(ok.text, "10 bytes\n");
  const big = await fetchRaw(
    sim,
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890",
  );
  assertEquals(big.status, "HTTP/1.1 413 Content Too Large");
});

/** A handler that answers with the size of the body, or fails on `/fail`. */
const sizer = defineServlet({
  init(_args, env): { input: Port; output: Port } {
    return {
      input: env.define("in", INPUT, "http/request"),
      output: env.define("out", OUTPUT, "http/response"),
    };
  },
  async exec(ctx, task): Promise<void> {
    const request = await task.readValue<{ path: string; body: Uint8Array }>(ctx.input);
    if (request === null) return;
    if (request.path === "/fail") throw new Error("the handler failed on purpose");
    if (request.path === "/split") {
      await task.writeValue(ctx.output, {
        status: 200,
        headers: { "x-a": "1\r\nset-cookie: evil=1" },
      });
      return;
    }
    if (request.path === "/reason") {
      await task.writeValue(ctx.output, { status: 200, reason: "OK\r\nx-evil: 1", body: "" });
      return;
    }
    if (request.path === "/big" || request.path === "/big-stream") {
      // 300000 bytes, numbered: past the connection's high-water mark, so written apart from the head.
      const big = new Uint8Array(300000).map((_, i) => i % 251);
      if (request.path === "/big") {
        await task.writeValue(ctx.output, { status: 200, body: big });
        return;
      }
      await task.writeValue(ctx.output, { status: 200, length: big.length });
      await task.write(ctx.output, big.subarray(0, 200000));
      await task.write(ctx.output, big.subarray(200000));
      return;
    }
    if (request.path === "/stream") {
      await task.writeValue(ctx.output, { status: 200 });
      for (const part of ["one ", "two ", "three"]) await task.write(ctx.output, part);
      return;
    }
    await task.writeValue(ctx.output, { status: 200, body: `${request.body.length} bytes\n` });
  },
});

/** parser → sizer → render. */
function sizerGraph(parserArgs: string[]): GraphSpec {
  return httpGraph(parserArgs, { size: { servlet: sizer } }, ["size.in", "size.out"]);
}

Deno.test("http: a large body, given whole or streamed, arrives whole and in order after its head (written in a write of its own, uncopied)", async () => {
  await using sim = await simulate(sizerGraph([]), { transport: "tcp" });
  const expected = new Uint8Array(300000).map((_, i) => i % 251);
  await using client = await sim.connect();
  for (const path of ["/big", "/big-stream", "/big"]) {
    await client.send(get(path));
    const reply = await readReply(client);
    assertEquals([reply.status, reply.headers["content-length"]], ["HTTP/1.1 200 OK", "300000"]);
    assertEquals(reply.body, expected, path);
  }
});

Deno.test("http: chunk framing is bounded too: tiny chunks with long extensions get 413", async () => {
  await using sim = await simulate(sizerGraph(["--max-body-bytes", "100"]), { transport: "tcp" });
  await using client = await sim.connect();
  // 65 chunks of 1007 bytes of framing and a piece of the next: one byte past the bound, so that
  // the host has read everything when it answers (closing with bytes unread would reset).
  const chunks = `1;${"e".repeat(1000)}\r\nx\r\n`.repeat(65) + `1;${"e".repeat(280)}`;
  assertEquals(chunks.length, 65737);
  await client.send(`POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`);
  const reply = await readReply(client);
  assertEquals(reply?.status, "HTTP/1.1 413 Content Too Large");
  assertEquals(
    reply?.text,
    "413 Content Too Large: chunked body framing longer than 65736 bytes\n",
  );
});

Deno.test("http: a handler that throws gets 500 and a close; a streamed body is chunked", async () => {
  await using sim = await simulate(sizerGraph([]), { transport: "tcp", logLevel: "error" });
  await using bystander = await sim.connect();
  const failed = await fetchRaw(sim, get("/fail"));
  assertEquals([failed.status, failed.headers.connection], [
    "HTTP/1.1 500 Internal Server Error",
    "close",
  ]);
  await sim.waitForLog("the handler failed on purpose");
  for (const target of ["/split", "/reason"]) {
    const split = await fetchRaw(sim, get(target));
    assertEquals(
      [split.status, split.headers.connection, Object.keys(split.headers).includes("set-cookie")],
      ["HTTP/1.1 500 Internal Server Error", "close", false],
    );
  }
  await sim.waitForLog('http/render: header "x-a" holds a line break');
  await sim.waitForLog("http/render: the reason phrase of status 200 holds a line break");
  await bystander.send(get("/stream"));
  const streamed = await readReply(bystander);
  assertEquals([streamed.headers["transfer-encoding"], streamed.text], [
    "chunked",
    "one two three",
  ]);
  await bystander.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const closeDelimited = await readReply(bystander);
  assertEquals([closeDelimited.headers.connection, closeDelimited.text], [
    undefined,
    "one two three",
  ]);
});

Deno.test("http/static: content types, HEAD, directory redirect, 405 and unknown routes", async () => {
  await using sim = await example();
  const png = await fetchRaw(sim, get("/images/red.png"));
  assertEquals(png.headers["content-type"], "image/png");
  assertEquals(png.body, await Deno.readFile(path("examples/www/images/red.png")));
  assertEquals(
    (await fetchRaw(sim, get("/images/pipe.svg"))).headers["content-type"],
    "image/svg+xml",
  );
  const index = await fetchRaw(sim, get("/"));
  assertEquals(index.headers["content-type"], "text/html; charset=utf-8");
  assertEquals(index.text, await Deno.readTextFile(path("examples/www/index.html")));
  const head = await fetchRaw(sim, "HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
  assertEquals(
    head.headers["content-length"],
    String((await Deno.stat(path("examples/www/style.css"))).size),
  );
  const redirect = await fetchRaw(sim, get("/images?x=1"));
  assertEquals([redirect.status, redirect.headers.location], [
    "HTTP/1.1 301 Moved Permanently",
    "/images/?x=1",
  ]);
  assertEquals(
    (await fetchRaw(sim, "DELETE /style.css HTTP/1.1\r\nHost: t\r\n\r\n")).status,
    "HTTP/1.1 404 Not Found",
  );
  assertEquals((await fetchRaw(sim, get("/nothing.html"))).status, "HTTP/1.1 404 Not Found");
});

/** A static root under tests/.tmp with a secret beside it and links in and out. */
async function staticRoot(): Promise<string> {
  await Deno.remove(TMP, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${TMP}/root/sub`, { recursive: true });
  await Deno.writeTextFile(`${TMP}/secret.txt`, "outside the root\n");
  await Deno.writeTextFile(`${TMP}/root/.hidden`, "hidden\n");
  await Deno.writeTextFile(`${TMP}/root/sub/page.txt`, "inside\n");
  await Deno.writeFile(
    `${TMP}/root/big.bin`,
    Uint8Array.from({ length: 300000 }, (_, i) => i % 251),
  );
  // ln, as Deno.symlink needs unscoped read and write permissions.
  for (
    const [target, link] of [["../secret.txt", "escape.txt"], ["..", "up"], [
      "sub/page.txt",
      "link.txt",
    ]]
  ) {
    const ln = await new Deno.Command("ln", { args: ["-s", target, `${TMP}/root/${link}`] })
      .output();
    assert(ln.success, `ln -s ${target} failed`);
  }
  return `${TMP}/root`;
}

async function staticServer(root: string): Promise<Simulation> {
  return await simulate(
    httpGraph(
      [],
      {
        route: { servlet: "http/router", args: ["* /files/*"] },
        files: { servlet: "http/static", args: [root] },
      },
      ["route.in", "files.out"],
      [{ from: "route.out0", to: "files.in" }],
    ),
    { transport: "tcp" },
  );
}

Deno.test("http/static: no path escapes: .., encoded dots and slashes, NUL, hidden files, symlinks out of the root", async () => {
  await using sim = await staticServer(await staticRoot());
  for (
    const [target, status] of [
      ["/files/../secret.txt", "404 Not Found"], // /secret.txt: no route
      ["/files/%2e%2e/secret.txt", "404 Not Found"],
      ["/files/%2E%2E/secret.txt", "404 Not Found"],
      ["/files/sub/%2e%2e/%2e%2e/secret.txt", "404 Not Found"],
      ["/files/.hidden", "404 Not Found"],
      ["/files/escape.txt", "404 Not Found"],
      ["/files/up/secret.txt", "404 Not Found"],
      ["/files/..%2fsecret.txt", "400 Bad Request"], // the parser refuses an encoded "/"
      ["/files/sub/..%2F..%2Fsecret.txt", "400 Bad Request"],
      ["/files/%00", "400 Bad Request"],
      ["/files/%zz", "400 Bad Request"],
      ["/../secret.txt", "400 Bad Request"], // above the root
    ]
  ) {
    const reply = await fetchRaw(sim, get(target));
    assertEquals(reply.status, `HTTP/1.1 ${status}`, target);
    assert(!reply.text.includes("outside"), target);
  }
  assertEquals((await fetchRaw(sim, get("/files/sub/page.txt"))).text, "inside\n");
  assertEquals((await fetchRaw(sim, get("/files/link.txt"))).text, "inside\n");
  assertEquals((await fetchRaw(sim, get("/files/sub/%70age.txt"))).text, "inside\n");
  assertEquals(
    (await fetchRaw(
      sim,
      "POST /files/sub/page.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    )).headers.allow,
    "GET, HEAD",
  );
  const curled = await curl([
    "--path-as-is",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    `http://127.0.0.1:${sim.port}/files/../secret.txt`,
  ]);
  assertEquals(curled.stdout, "404");
});

Deno.test("http/static: ETag and If-Modified-Since give 304; ranges give 206 or 416; a large file streams whole", async () => {
  await using sim = await staticServer(await staticRoot());
  const first = await fetchRaw(sim, get("/files/sub/page.txt"));
  const etag = first.headers.etag;
  assertMatch(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  const byTag = await fetchRaw(
    sim,
    get("/files/sub/page.txt", `If-None-Match: W/"x", ${etag}\r\n`),
  );
  assertEquals([byTag.status, byTag.headers.etag, byTag.text], [
    "HTTP/1.1 304 Not Modified",
    etag,
    "",
  ]);
  const byDate = await fetchRaw(
    sim,
    get("/files/sub/page.txt", `If-Modified-Since: ${first.headers["last-modified"]}\r\n`),
  );
  assertEquals(byDate.status, "HTTP/1.1 304 Not Modified");
  const stale = await fetchRaw(
    sim,
    get("/files/sub/page.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"),
  );
  assertEquals(stale.status, "HTTP/1.1 200 OK");
  const part = await fetchRaw(sim, get("/files/sub/page.txt", "Range: bytes=1-3\r\n"));
  assertEquals([part.status, part.headers["content-range"], part.text], [
    "HTTP/1.1 206 Partial Content",
    "bytes 1-3/7",
    "nsi",
  ]);
  assertEquals(
    (await fetchRaw(sim, get("/files/sub/page.txt", "Range: bytes=-2\r\n"))).text,
    "e\n",
  );
  const none = await fetchRaw(sim, get("/files/sub/page.txt", "Range: bytes=7-\r\n"));
  assertEquals([none.status, none.headers["content-range"]], [
    "HTTP/1.1 416 Range Not Satisfiable",
    "bytes */7",
  ]);
  const ignored = await fetchRaw(
    sim,
    get("/files/sub/page.txt", 'Range: bytes=1-3\r\nIf-Range: "other"\r\n'),
  );
  assertEquals([ignored.status, ignored.text], ["HTTP/1.1 200 OK", "inside\n"]);
  const expected = await Deno.readFile(`${TMP}/root/big.bin`);
  const big = await fetchRaw(sim, get("/files/big.bin"));
  assertEquals([big.headers["content-length"], big.headers["content-type"]], [
    "300000",
    "application/octet-stream",
  ]);
  assertEquals(big.body, expected);
  const tail = await fetchRaw(sim, get("/files/big.bin", "Range: bytes=100000-\r\n"));
  assertEquals(tail.body, expected.subarray(100000));
  const curled = await curl(["-r", "5-9", `http://127.0.0.1:${sim.port}/files/big.bin`]);
  assertEquals(encoder.encode(curled.stdout), expected.subarray(5, 10));
});

Deno.test("http/static: a client that disconnects mid-file leaves the host serving", async () => {
  await using sim = await staticServer(await staticRoot());
  for (let i = 0; i < 5; i++) {
    await using client = await sim.connect();
    await client.send(get("/files/big.bin"));
    await client.readLine();
    client.close();
  }
  assertEquals((await fetchRaw(sim, get("/files/sub/page.txt"))).text, "inside\n");
});

Deno.test("http/router: methods, exact paths, :params and /prefix/*", () => {
  const route = compileRoute("GET,POST /users/:id/files/*");
  assertEquals(matchRoute(route, "GET", "/users/7/files/a/b.txt"), { id: "7", "*": "a/b.txt" });
  assertEquals(matchRoute(route, "HEAD", "/users/7/files"), { id: "7", "*": "" });
  assertEquals(matchRoute(route, "DELETE", "/users/7/files/x"), undefined);
  assertEquals(matchRoute(compileRoute("/a.b"), "PUT", "/a.b"), {});
  assertEquals(matchRoute(compileRoute("/a.b"), "PUT", "/axb"), undefined);
  assertEquals(parseRange("bytes=0-", 10), [0, 9]);
  assertEquals(parseRange("bytes=5-2", 10), undefined);
  assertEquals(parseRange("bytes=0-1,3-4", 10), undefined);
});
