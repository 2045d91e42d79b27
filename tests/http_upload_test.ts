/**
 * Request bodies over real TCP: `Expect: 100-continue` (curl, and raw bytes),
 * a body longer than `--max-body-bytes` streamed to a handler
 * (`request.stream`: `examples/http.json`'s `/api/upload`, 100 MB from curl,
 * chunked, pipelined), and a streamed body that ends early or that nobody
 * reads.
 * @module
 */
import { createHash } from "node:crypto";
import { simulate, type Simulation, type TestClient } from "../testing/mod.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { get, httpGraph, readReply } from "./fixtures/http.ts";
import { concat, path } from "./helpers.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const TMP = path("tests/.tmp/http_upload");
const UPLOAD = { servlet: path("examples/http_api.ts"), args: ["upload"] };

async function example(): Promise<Simulation> {
  return await simulate(path("examples/http.json"), { transport: "tcp", logLevel: "info" });
}

/** `n` bytes that are not all alike (xorshift), the same at every run. */
function bytesOf(n: number, seed = 0x2545f491): Uint8Array {
  const bytes = new Uint8Array(n);
  const words = new Uint32Array(bytes.buffer, 0, n >>> 2);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** What `/api/upload` answers for `bytes`. */
function uploaded(bytes: Uint8Array): string {
  return JSON.stringify({ bytes: bytes.length, sha256: sha256(bytes) });
}

/** `bytes` as a chunked body in chunks of `size`. */
function chunked(bytes: Uint8Array, size: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    const chunk = bytes.subarray(i, i + size);
    parts.push(encoder.encode(`${chunk.length.toString(16)}\r\n`), chunk, encoder.encode("\r\n"));
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  return concat(...parts);
}

/** The next line, which must be `line` (CRLF included). */
async function expectLine(client: TestClient, line: string): Promise<void> {
  assertEquals(await client.readLine(), line);
}

Deno.test("upload: curl sends 100 MB to /api/upload; Expect: 100-continue is answered, the body streams to the handler, counted and hashed", async () => {
  await Deno.mkdir(TMP, { recursive: true });
  const file = `${TMP}/100mb.bin`;
  const bytes = bytesOf(100 * 1048576);
  await Deno.writeFile(file, bytes);
  try {
    await using sim = await example();
    const out = await new Deno.Command("curl", {
      args: ["-sS", "-v", "--data-binary", `@${file}`, `http://127.0.0.1:${sim.port}/api/upload`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = decoder.decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    // curl asks (a body over 1 MiB), and is told to go on before it sends the body.
    assertMatch(stderr, /> Expect: 100-continue\r?\n/);
    assertMatch(stderr, /< HTTP\/1.1 100 Continue\r?\n/);
    assertMatch(stderr, /< HTTP\/1.1 200 OK\r?\n/);
    assertEquals(decoder.decode(out.stdout), uploaded(bytes));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("upload: Expect: 100-continue in raw bytes: 100 Continue before the body, then the response, on a connection kept", async () => {
  await using sim = await example();
  await using client = await sim.connect();
  const body = '{"a":[1,2]}';
  await client.send(
    "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
  );
  await expectLine(client, "HTTP/1.1 100 Continue\r\n");
  await expectLine(client, "\r\n");
  await client.send(body);
  const reply = await readReply(client);
  assertEquals(reply.status, "HTTP/1.1 200 OK");
  assertEquals(reply.text, '{"method":"POST","path":"/api/echo","body":{"a":[1,2]}}');
  await client.send(get("/api/hello"));
  assertEquals((await readReply(client)).text, '{"message":"Hello, world!"}');
});

Deno.test("upload: no 100 Continue when the body came with the head, for HTTP/1.0, or for a body refused as too long", async () => {
  await using sim = await simulate(
    httpGraph(["--max-body-bytes", "1000"], { upload: UPLOAD }, ["upload.in", "upload.out"]),
    { transport: "tcp" },
  );
  {
    // The body is here already: the final response is the first line.
    await using client = await sim.connect();
    await client.send(
      "POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    );
    const reply = await readReply(client);
    assertEquals(reply.status, "HTTP/1.1 200 OK");
    assertEquals(reply.text, uploaded(encoder.encode("abc")));
  }
  {
    // HTTP/1.0: the expectation is ignored (RFC 9110 §10.1.1); the body is waited for.
    await using client = await sim.connect();
    await client.send("POST /u HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    await client.send("xyz");
    const reply = await readReply(client);
    assertEquals(reply.status, "HTTP/1.1 200 OK");
    assertEquals(reply.text, uploaded(encoder.encode("xyz")));
  }
  {
    // Too long: refused at once with its final status, the body never asked for.
    await using client = await sim.connect();
    await client.send(
      "POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
    );
    const reply = await readReply(client);
    assertEquals(reply.status, "HTTP/1.1 413 Content Too Large");
    assertEquals(reply.text, "413 Content Too Large: body of 1001 bytes, more than 1000\n");
    assertEquals(reply.headers.connection, "close");
    assert(await client.closedByServer(), "the host kept the connection");
  }
});

Deno.test("upload: a chunked body over --max-body-bytes is streamed, and the request pipelined after it is answered", async () => {
  await using sim = await simulate(
    httpGraph(
      ["--max-body-bytes", "4096", "--max-stream-bytes", "1000000"],
      { upload: UPLOAD },
      ["upload.in", "upload.out"],
    ),
    { transport: "tcp" },
  );
  await using client = await sim.connect();
  const body = bytesOf(300000, 7);
  const head = encoder.encode("POST /u HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  const next = encoder.encode("POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
  const framed = chunked(body, 1000);
  const all = new Uint8Array(head.length + framed.length + next.length);
  all.set(head);
  all.set(framed, head.length);
  all.set(next, head.length + framed.length);
  await client.send(all);
  const first = await readReply(client);
  assertEquals(first.status, "HTTP/1.1 200 OK");
  assertEquals(first.text, uploaded(body));
  assertEquals(first.headers.connection, undefined); // kept
  const second = await readReply(client);
  assertEquals(second.text, uploaded(encoder.encode("ok")));
  // Over --max-stream-bytes: 413, as the chunks add up to more.
  await using big = await sim.connect();
  await big.send(head);
  await big.send(chunked(bytesOf(1000001, 9), 65536));
  const refused = await readReply(big);
  assertEquals(refused.status, "HTTP/1.1 413 Content Too Large");
  assertEquals(refused.text, "413 Content Too Large: chunked body of more than 1000000 bytes\n");
});

Deno.test("upload: a streamed body the client ends early fails its handler with PLUMB_HTTP_BODY_STREAM; the host serves on", async () => {
  await using sim = await example();
  {
    await using client = await sim.connect();
    await client.send(
      "POST /api/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n",
    );
    await client.send(bytesOf(2000000));
    await client.close();
  }
  const line = await sim.waitForLog(" PLUMB_HTTP_BODY_STREAM ");
  assertMatch(
    line,
    /node "upload" .* failed a request from .*: PLUMB_HTTP_BODY_STREAM http\/parser: the body of POST \/api\/upload could not be read to its end: the client ended it early \(400\)/,
  );
  await using other = await sim.connect();
  await other.send(get("/api/hello"));
  assertEquals((await readReply(other)).text, '{"message":"Hello, world!"}');
});

Deno.test("upload: a streamed body no route takes is answered 404 at once (not left to --body-timeout), and the connection closed", async () => {
  await using sim = await example();
  await using client = await sim.connect();
  const body = bytesOf(2 * 1048576);
  await client.send(`POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`);
  await client.send(body);
  const reply = await readReply(client);
  // Had nobody told the parser, it would have waited out --body-timeout and answered 408.
  assertEquals(reply.status, "HTTP/1.1 404 Not Found");
  assertEquals(reply.headers.connection, "close");
  // /api/echo takes no streamed body: it says so, and reads none of it.
  await using echo = await sim.connect();
  await echo.send(`POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`);
  const refused = await readReply(echo);
  assertEquals(refused.status, "HTTP/1.1 413 Content Too Large");
  assertEquals(refused.headers.connection, "close");
});

Deno.test("upload: a chunked body past --max-body-bytes with a garbage chunk size mid-stream is answered 400 and closed; the host serves on", async () => {
  await using sim = await simulate(
    httpGraph(
      ["--max-body-bytes", "4096", "--max-stream-bytes", "1000000"],
      { upload: UPLOAD },
      ["upload.in", "upload.out"],
    ),
    { transport: "tcp", logLevel: "info" },
  );
  {
    await using client = await sim.connect();
    await client.send("POST /u HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    // Past --max-body-bytes in good chunks (so the body streams), then a size that is not hex.
    const good = chunked(bytesOf(8000, 3), 1000);
    await client.send(good.subarray(0, good.length - 5)); // without the last chunk "0\r\n\r\n"
    await client.send("zz\r\nmore garbage\r\n");
    const reply = await readReply(client);
    assertEquals(reply.status, "HTTP/1.1 400 Bad Request");
    assertEquals(reply.headers.connection, "close");
    assert(await client.closedByServer(), "the host kept the connection");
  }
  // Whether the handler had begun to read the body (then PLUMB_HTTP_BODY_STREAM is logged) or
  // the parser met the garbage first depends on how the bytes arrived: the reply is the same.
  for (const line of sim.logs.filter((l) => l.includes(" PLUMB_HTTP_BODY_STREAM "))) {
    assertMatch(line, /the body of POST \/u could not be read to its end: .*malformed chunk size/);
  }
  await using other = await sim.connect();
  await other.send("POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
  assertEquals((await readReply(other)).text, uploaded(encoder.encode("ok")));
});
