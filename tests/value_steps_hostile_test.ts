/**
 * Hostile tests of value steps (`kernel/value_steps.ts`): a request that
 * arrived whole runs through the nodes' `step`s, all or nothing, and a run
 * thrown away leaves the request to `exec` as if no step had run. A client
 * must not tell the two apart.
 *
 * - `examples/http.json` is served twice over real TCP: counting (`metrics`,
 *   so every request runs `exec`) and plain (with `http/render` wrapped by
 *   `tests/fixtures/value_step_spy.ts`, which counts the runs the steps
 *   answered), and the same bytes sent to both must give byte-identical
 *   replies (the `date:` value aside), closing (or keeping) the connection
 *   alike, with the same log codes.
 * - `tests/fixtures/value_step_abuse.ts` misbehaves in its step by the
 *   request's line and answers `step: ...` or `exec: ...`, so a test sees
 *   which ran; `tests/fixtures/value_step_tail.ts` stands behind it.
 *
 * Tests marked `ignore` document a bug not fixed yet (see each one).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { path, ROOT, startHost, type TestHost } from "./helpers.ts";
import { has } from "./tls_fixture.ts";
import type { GraphSpec } from "../host/mod.ts";
import { ServletHarness } from "../testing/mod.ts";
import { rendered } from "./fixtures/value_step_spy.ts";
import { late } from "./fixtures/value_step_abuse.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const ABUSE = path("tests/fixtures/value_step_abuse.ts");
const TAIL = path("tests/fixtures/value_step_tail.ts");
const SPY = path("tests/fixtures/value_step_spy.ts");

/** Bytes as a string of one char per byte: exact, and readable in a diff. */
function latin(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/** A string of one char per byte back to its bytes. */
function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Fails with `what` (and what was read so far) when `promise` takes more than 10 s: a hang guard. */
async function guard<T>(promise: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no end in 10 s: ${what()}`)), 10_000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A raw TCP connection that reads exact bytes: no line decoding. */
class Wire implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  #pending = new Uint8Array(0);
  #buffer = new Uint8Array(65536);
  /** Every byte read so far, for a hang's message. */
  seen = "";

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async open(port: number): Promise<Wire> {
    return new Wire(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends all of `data`; false when the host had closed. */
  async send(data: string | Uint8Array): Promise<boolean> {
    const bytes = typeof data === "string" ? bytesOf(data) : data;
    try {
      for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
      return true;
    } catch {
      return false;
    }
  }

  async #fill(): Promise<boolean> {
    let n: number | null;
    try {
      n = await this.conn.read(this.#buffer);
    } catch {
      return false; // a reset is the end
    }
    if (n === null) return false;
    const next = new Uint8Array(this.#pending.length + n);
    next.set(this.#pending);
    next.set(this.#buffer.subarray(0, n), this.#pending.length);
    this.#pending = next;
    this.seen += latin(this.#buffer.subarray(0, n));
    return true;
  }

  #take(n: number): Uint8Array {
    const taken = this.#pending.slice(0, n);
    this.#pending = this.#pending.slice(n);
    return taken;
  }

  /** The bytes up to and with `end`; `null` when the host closed first (what came stays). */
  async until(end: string): Promise<Uint8Array | null> {
    const mark = bytesOf(end);
    for (;;) {
      const at = indexOf(this.#pending, mark);
      if (at >= 0) return this.#take(at + mark.length);
      if (!(await this.#fill())) return null;
    }
  }

  /** The next `n` bytes, or fewer when the host closed first. */
  async exactly(n: number): Promise<Uint8Array> {
    while (this.#pending.length < n && await this.#fill());
    return this.#take(n);
  }

  /** Every byte until the host closes. */
  async rest(): Promise<Uint8Array> {
    while (await this.#fill());
    return this.#take(this.#pending.length);
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    return Promise.resolve();
  }
}

function indexOf(bytes: Uint8Array, mark: Uint8Array): number {
  outer: for (let i = 0; i + mark.length <= bytes.length; i++) {
    for (let j = 0; j < mark.length; j++) if (bytes[i + j] !== mark[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * One HTTP response off `wire`, exact, with the `date:` value made `*`:
 * framed by its status, `content-length` or chunks, else to the close;
 * `head` for the answer to a `HEAD`. `null` when the host closed first.
 */
async function readResponse(wire: Wire, head = false): Promise<string | null> {
  const headBytes = await wire.until("\r\n\r\n");
  if (headBytes === null) {
    const rest = latin(await wire.rest());
    return rest === "" ? null : `<cut>${rest}`;
  }
  const text = latin(headBytes).replace(/\r\ndate: [^\r]*\r\n/i, "\r\ndate: *\r\n");
  const status = Number(text.slice(9, 12));
  const field = (name: string): string | undefined =>
    text.match(new RegExp(`\r\n${name}: *([^\r]*)\r\n`, "i"))?.[1];
  if (head || status < 200 || status === 204 || status === 304) return text;
  const length = field("content-length");
  if (length !== undefined) return text + latin(await wire.exactly(Number(length)));
  if (field("transfer-encoding") === "chunked") {
    let body = "";
    for (;;) {
      const size = await wire.until("\r\n");
      if (size === null) return `${text}${body}<cut>`;
      body += latin(size);
      const n = parseInt(latin(size), 16);
      if (n === 0) {
        body += latin(await wire.until("\r\n") ?? new Uint8Array(0));
        return text + body;
      }
      body += latin(await wire.exactly(n + 2));
    }
  }
  return text + latin(await wire.rest());
}

/** A request that, if the connection is still open, gets a reply of its own. */
const PROBE = "GET /api/hello?name=probe HTTP/1.1\r\nHost: probe\r\n\r\n";
const PROBE_REPLY = "HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\n" +
  'content-length: 27\r\n\r\n{"message":"Hello, probe!"}';

/**
 * One exchange: the bytes sent (one write each, a moment apart; a number `n`
 * reads `n` replies there), and the replies they get.
 */
interface HttpCase {
  readonly name: string;
  readonly writes: readonly (string | Uint8Array | number)[];
  /** How many responses the writes get (a `100 Continue` counts). */
  readonly replies: number;
  /** Indexes of the replies that answer a `HEAD`. */
  readonly heads?: readonly number[];
  /**
   * How many of the requests the steps answered in the plain host, the
   * probe's too; not asserted when it depends on how the host's reads cut
   * the writes (the replies are asserted anyway).
   */
  readonly stepped?: number;
}

/**
 * What a client sees for `c` on `port`: each response, then the answer to
 * {@linkcode PROBE} (or `<closed>`, when the host closed the connection).
 */
async function exchange(port: number, c: HttpCase): Promise<string[]> {
  await using wire = await Wire.open(port);
  const seen: string[] = [];
  await guard(
    (async () => {
      const read = async (n: number): Promise<boolean> => {
        for (let i = 0; i < n; i++) {
          const reply = await readResponse(wire, c.heads?.includes(seen.length));
          if (reply === null) return false;
          seen.push(reply);
        }
        return true;
      };
      for (const [i, write] of c.writes.entries()) {
        if (typeof write === "number") {
          if (!(await read(write))) return seen.push("<closed>");
          continue;
        }
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 40));
        if (!(await wire.send(write))) break;
      }
      if (!(await read(c.replies - seen.length))) return seen.push("<closed>");
      const sent = await wire.send(PROBE);
      seen.push(sent ? (await readResponse(wire)) ?? "<closed>" : "<closed>");
    })(),
    () => `${c.name}: ${JSON.stringify(wire.seen)}`,
  );
  return seen;
}

/**
 * The host's log lines, sorted, with what differs between two hosts (ports,
 * durations, who closed: the probe says that) taken out: a connection's
 * end says its requests and its bytes in and out.
 */
function connectionEnds(h: TestHost): string[] {
  return h.logs.map((line) =>
    line.replace(/127\.0\.0\.1:\d+/g, "*").replace(/ended: .* after \d+\.\d+ s/, "ended after * s")
  ).sort();
}

/** examples/http.json, as the plain host serves it: render counts what the steps answered. */
async function httpGraph(): Promise<GraphSpec> {
  const graph = JSON.parse(await Deno.readTextFile(path("examples/http.json")));
  graph.nodes.render.servlet = SPY;
  delete graph.$schema;
  return graph;
}

/** examples/http.json served through exec (counting) and through steps: `[exec, steps]`. */
async function httpHosts(): Promise<[TestHost, TestHost]> {
  const exec = await startHost("examples/http.json", { metrics: true });
  const steps = await startHost(await httpGraph(), { base: new URL("examples/", ROOT) });
  return [exec, steps];
}

/**
 * Sends each case to both hosts and asserts byte-identical replies, the
 * same close, the same log codes and the steps' count; returns the exec
 * host's transcripts, by name.
 */
async function differential(cases: readonly HttpCase[]): Promise<Map<string, string[]>> {
  const [exec, steps] = await httpHosts();
  const out = new Map<string, string[]>();
  try {
    for (const c of cases) {
      const byExec = await exchange(exec.port, c);
      const count = rendered.count;
      const bySteps = await exchange(steps.port, c);
      if (Deno.env.get("DUMP")) {
        console.log(`STEPPED ${c.name}: ${rendered.count - count}`);
        console.log(JSON.stringify(byExec));
        console.log(JSON.stringify(bySteps));
        continue;
      }
      assertEquals(bySteps, byExec, c.name);
      if (c.stepped !== undefined) {
        assertEquals(rendered.count - count, c.stepped, `${c.name}: requests stepped`);
      }
      out.set(c.name, byExec);
    }
  } finally {
    await exec.host.close(1000);
    await steps.host.close(1000);
  }
  // Each connection's end alike: its requests and its bytes in and out.
  assertEquals(connectionEnds(steps), connectionEnds(exec));
  return out;
}

/** A `GET` of `target` with a `Host` field and `fields` (each ending in CRLF). */
function get(target: string, fields = "", version = "1.1"): string {
  return `GET ${target} HTTP/${version}\r\nHost: test\r\n${fields}\r\n`;
}

/** A `POST` of `body` to `target`, framed by its length. */
function post(target: string, body: string, fields = ""): string {
  return `POST ${target} HTTP/1.1\r\nHost: test\r\ncontent-length: ${body.length}\r\n${fields}\r\n${body}`;
}

/** A `POST` of `pieces` to `target`, chunked. */
function chunked(target: string, pieces: string[], trailer = ""): string {
  const chunks = pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join("");
  return `POST ${target} HTTP/1.1\r\nHost: test\r\ntransfer-encoding: chunked\r\n\r\n${chunks}0\r\n${trailer}\r\n`;
}

const JSON_BODY = '{"a":[1,2,{"b":"c"}],"n":null}';

const HTTP_CASES: HttpCase[] = [
  { name: "plain GET", writes: [get("/api/hello")], replies: 1, stepped: 2 },
  { name: "?name=", writes: [get("/api/hello?name=Ann%20B&x=1")], replies: 1, stepped: 2 },
  {
    name: "?name= UTF-8",
    writes: [get("/api/hello?name=%E2%9C%93%F0%9F%98%80")],
    replies: 1,
    stepped: 2,
  },
  { name: "?name= empty", writes: [get("/api/hello?name=")], replies: 1, stepped: 2 },
  { name: "?name= bad escape", writes: [get("/api/hello?name=%E2%9C")], replies: 1, stepped: 2 },
  {
    name: "HEAD",
    writes: ["HEAD /api/hello HTTP/1.1\r\nHost: test\r\n\r\n"],
    replies: 1,
    heads: [0],
    stepped: 2,
  },
  {
    name: "HEAD static",
    writes: ["HEAD /index.html HTTP/1.1\r\nHost: test\r\n\r\n"],
    replies: 1,
    heads: [0],
    stepped: 1,
  },
  { name: "404 static", writes: [get("/nope")], replies: 1, stepped: 1 },
  {
    name: "no route (DELETE)",
    writes: ["DELETE /api/hello HTTP/1.1\r\nHost: test\r\n\r\n"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "no route (PUT, body)",
    writes: ["PUT /api/echo HTTP/1.1\r\nHost: test\r\ncontent-length: 3\r\n\r\nabc"],
    replies: 1,
    stepped: 2,
  },
  { name: "/index.html", writes: [get("/index.html")], replies: 1, stepped: 1 },
  { name: "/", writes: [get("/")], replies: 1, stepped: 1 },
  { name: "dot segments", writes: [get("/api/./x/../hello?name=dots")], replies: 1, stepped: 2 },
  { name: "empty segments", writes: [get("//api//hello")], replies: 1, stepped: 2 },
  { name: "escaped slash", writes: [get("/api%2Fhello")], replies: 1, stepped: 0 },
  { name: "upper case path", writes: [get("/API/hello")], replies: 1, stepped: 1 },
  {
    name: "absolute form",
    writes: ["GET http://test/api/hello?name=abs HTTP/1.1\r\nHost: test\r\n\r\n"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "OPTIONS *",
    writes: ["OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "GET with a body",
    writes: ["GET /api/hello HTTP/1.1\r\nHost: test\r\ncontent-length: 4\r\n\r\nbody"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "POST echo JSON",
    writes: [post("/api/echo", JSON_BODY, "content-type: application/json\r\n")],
    replies: 1,
    stepped: 2,
  },
  { name: "POST echo non-JSON", writes: [post("/api/echo", "not json")], replies: 1, stepped: 2 },
  { name: "POST echo empty", writes: [post("/api/echo", "")], replies: 1, stepped: 2 },
  {
    name: "POST echo no length",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: test\r\n\r\n"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "POST echo chunked",
    writes: [chunked("/api/echo", ['{"a":', '"chunked"}'])],
    replies: 1,
    stepped: 2,
  },
  {
    name: "POST echo chunked ext+trailer",
    writes: [chunked("/api/echo", ["[1,", "2]"], "x-t: 1\r\n").replace("4\r\n", "4;ext=1\r\n")],
    replies: 1,
    stepped: 2,
  },
  { name: "POST upload", writes: [post("/api/upload", "hello upload")], replies: 1, stepped: 2 },
  { name: "POST upload empty", writes: [post("/api/upload", "")], replies: 1, stepped: 2 },
  {
    name: "POST upload chunked",
    writes: [chunked("/api/upload", ["abc", "def"])],
    replies: 1,
    stepped: 2,
  },
  {
    name: "POST echo body split from head",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: test\r\ncontent-length: 7\r\n\r\n", "[1,2,3]"],
    replies: 1,
  },
  {
    name: "POST echo body cut",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: test\r\ncontent-length: 7\r\n\r\n[1,", "2,3]"],
    replies: 1,
  },
  {
    name: "chunked cut mid-chunk",
    writes: [
      chunked("/api/echo", ["[10,", "20]"]).slice(0, -9),
      chunked("/api/echo", ["[10,", "20]"]).slice(-9),
    ],
    replies: 1,
  },
  {
    name: "Connection: close",
    writes: [get("/api/hello", "Connection: close\r\n")],
    replies: 1,
    stepped: 1,
  },
  {
    name: "Connection: close, static",
    writes: [get("/index.html", "Connection: close\r\n")],
    replies: 1,
    stepped: 0,
  },
  { name: "HTTP/1.0", writes: [get("/api/hello", "", "1.0")], replies: 1, stepped: 1 },
  {
    name: "HTTP/1.0 keep-alive",
    writes: [get("/api/hello", "Connection: keep-alive\r\n", "1.0")],
    replies: 1,
    stepped: 2,
  },
  {
    name: "HTTP/1.0 keep-alive, static",
    writes: [get("/style.css", "Connection: keep-alive\r\n", "1.0")],
    replies: 1,
    stepped: 1,
  },
  {
    name: "HTTP/1.0 POST echo",
    writes: ["POST /api/echo HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}"],
    replies: 1,
    stepped: 1,
  },
  {
    name: "HTTP/1.1 keep-alive and close",
    writes: [get("/api/hello", "Connection: keep-alive, close\r\n")],
    replies: 1,
    stepped: 1,
  },
  {
    name: "pipelined 3",
    writes: [get("/api/hello?name=1") + post("/api/echo", "[2]") + get("/api/hello?name=3")],
    replies: 3,
    stepped: 2,
  },
  {
    name: "pipelined, then close",
    writes: [
      get("/api/hello?name=1") + get("/api/hello?name=2", "Connection: close\r\n") +
      get("/api/hello?name=3"),
    ],
    replies: 2,
    stepped: 0,
  },
  {
    name: "pipelined, static first",
    writes: [get("/style.css") + get("/api/hello?name=after")],
    replies: 2,
    stepped: 2,
  },
  {
    name: "one after another",
    writes: [get("/api/hello?name=a"), 1, get("/api/hello?name=b"), 1, post("/api/echo", "[3]")],
    replies: 3,
    stepped: 4,
  },
  {
    name: "cut into pieces",
    writes: ["GET /api/he", "llo?name=cut HTTP/1.1\r\nHo", "st: a\r\n", "\r\n"],
    replies: 1,
  },
  {
    name: "cut, then whole",
    writes: ["GET /api/hello?name=x HTTP/1.1\r\n", "Host: a\r\n\r\n", get("/api/hello?name=whole")],
    replies: 2,
  },
  {
    name: "one and a half, then the rest",
    writes: [get("/api/hello?name=1") + "GET /api/hello?na", "me=2 HTTP/1.1\r\nHost: a\r\n\r\n"],
    replies: 2,
  },
  {
    name: "100-continue, body later",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\ncontent-length: 2\r\n\r\n",
      "{}",
    ],
    replies: 2,
  },
  {
    name: "100-continue, body with it",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\ncontent-length: 2\r\n\r\n{}",
    ],
    replies: 1,
    stepped: 2,
  },
  {
    name: "100-continue, no body",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\ncontent-length: 0\r\n\r\n",
    ],
    replies: 1,
    stepped: 2,
  },
  {
    name: "100-continue on a GET",
    writes: [get("/api/hello", "Expect: 100-continue\r\n")],
    replies: 1,
    stepped: 2,
  },
  { name: "malformed request line", writes: ["GARBAGE\r\n\r\n"], replies: 1, stepped: 0 },
  {
    name: "request line with two spaces",
    writes: ["GET  /api/hello HTTP/1.1\r\nHost: a\r\n\r\n"],
    replies: 1,
    stepped: 0,
  },
  {
    name: "header too large",
    writes: [get("/api/hello", `x-big: ${"b".repeat(20000)}\r\n`)],
    replies: 1,
    stepped: 0,
  },
  {
    name: "request line too long",
    writes: [get(`/api/hello?name=${"n".repeat(20000)}`)],
    replies: 1,
    stepped: 0,
  },
  { name: "505", writes: ["GET /api/hello HTTP/2.0\r\nHost: a\r\n\r\n"], replies: 1, stepped: 0 },
  { name: "HTTP/0.9", writes: ["GET /api/hello\r\n\r\n"], replies: 1, stepped: 0 },
  {
    name: "garbage bytes",
    writes: [
      Uint8Array.from({ length: 300 }, (_, i) => i < 296 ? (i * 37 + 11) & 255 : 13 - (i & 1) * 3),
    ],
    replies: 1,
    stepped: 0,
  },
  {
    name: "garbage then CRLFCRLF",
    writes: ["\x00\x01\x02\xff\xfe\r\n\r\n"],
    replies: 1,
    stepped: 0,
  },
  {
    name: "non-UTF-8 in the query",
    writes: [get("/api/hello?name=\xff\xfe\xc3")],
    replies: 1,
    stepped: 0,
  },
  { name: "non-UTF-8 in the path", writes: [get("/api/\xffhello")], replies: 1, stepped: 0 },
  { name: "non-UTF-8 escaped in the path", writes: [get("/api/hello%ff")], replies: 1, stepped: 0 },
  {
    name: "non-UTF-8 in a header",
    writes: [get("/api/hello", "x-odd: \xff\xfe\x80\r\n")],
    replies: 1,
    stepped: 2,
  },
  {
    name: "non-UTF-8 JSON body",
    writes: [post("/api/echo", '"\xff\xfe"')],
    replies: 1,
    stepped: 2,
  },
  {
    name: "NUL in a header",
    writes: [get("/api/hello", "x-nul: a\x00b\r\n")],
    replies: 1,
    stepped: 0,
  },
  {
    name: "lone LF line ends",
    writes: ["GET /api/hello?name=lf HTTP/1.1\nHost: a\n\n"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "lone LF, POST",
    writes: ["POST /api/echo HTTP/1.1\nHost: a\ncontent-length: 2\n\n[]"],
    replies: 1,
    stepped: 2,
  },
  {
    name: "lone CR line ends",
    writes: ["GET /api/hello HTTP/1.1\rHost: a\r\r\n\r\n"],
    replies: 1,
    stepped: 0,
  },
  {
    name: "duplicate Host",
    writes: ["GET /api/hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
    replies: 1,
    stepped: 0,
  },
  { name: "no Host", writes: ["GET /api/hello HTTP/1.1\r\n\r\n"], replies: 1, stepped: 0 },
  {
    name: "empty lines first",
    writes: ["\r\n\r\n" + get("/api/hello?name=empty")],
    replies: 1,
    stepped: 2,
  },
  {
    name: "space before colon",
    writes: [get("/api/hello", "x-a : 1\r\n")],
    replies: 1,
    stepped: 0,
  },
  { name: "obs-fold", writes: [get("/api/hello", "x-a: 1\r\n  2\r\n")], replies: 1, stepped: 0 },
  {
    name: "length and chunked",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    replies: 1,
    stepped: 0,
  },
  {
    name: "two lengths",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n[1]",
    ],
    replies: 1,
    stepped: 0,
  },
  {
    name: "bad length",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: a\r\ncontent-length: +2\r\n\r\n[]"],
    replies: 1,
    stepped: 0,
  },
  {
    name: "unknown coding",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: a\r\ntransfer-encoding: gzip\r\n\r\n"],
    replies: 1,
    stepped: 0,
  },
  {
    name: "bad chunk size",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
    ],
    replies: 1,
    stepped: 0,
  },
  {
    name: "a request then garbage",
    writes: [get("/api/hello?name=g") + "\x01\x02 nonsense\r\n\r\n"],
    replies: 2,
    stepped: 0,
  },
  {
    name: "a request then a lone CRLF",
    writes: [get("/api/hello?name=crlf") + "\r\n"],
    replies: 1,
    stepped: 0,
  },
  {
    name: "streamed upload",
    writes: [post("/api/upload", "u".repeat(1_100_000))],
    replies: 1,
    stepped: 1,
  },
  {
    name: "streamed echo (413)",
    writes: [post("/api/echo", "e".repeat(1_100_000))],
    replies: 1,
    stepped: 0,
  },
  {
    name: "streamed upload, then a GET",
    writes: [post("/api/upload", "u".repeat(1_100_000)), get("/api/hello?name=after")],
    replies: 2,
  },
];

Deno.test("value steps vs exec: examples/http.json answers every byte sequence alike", async () => {
  const seen = await differential(HTTP_CASES);
  assertEquals(seen.get("plain GET"), [
    'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{"message":"Hello, world!"}',
    PROBE_REPLY,
  ]);
});
