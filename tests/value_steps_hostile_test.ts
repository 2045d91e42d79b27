/**
 * Hostile tests of value steps (`kernel/value_steps.ts`): a request that
 * arrived whole runs through the nodes' `step`s, all or nothing, and a run
 * thrown away leaves the request to `exec` as if no step had run. A client
 * must not tell the two apart.
 *
 * - `examples/http.json` (and a graph of odd responses) is served twice over
 *   real TCP: counting (`metrics`, what `--admin` turns on, so every request
 *   runs `exec`) and plain; `http/render` is wrapped in both by
 *   `tests/fixtures/value_step_spy.ts`, which counts the runs the steps
 *   answered (none in the counting host). The same bytes sent to both must
 *   give byte-identical replies (the `date:` value aside), close (or keep)
 *   the connection alike, and log the same lines. The CLI is checked the
 *   same way with `--admin`, `--workers 2` and `--stdio`, and curl and socat
 *   talk to both.
 * - `tests/fixtures/value_step_abuse.ts` misbehaves in its step by the
 *   request's line and answers `step: ...` or `exec: ...`, so a test sees
 *   which ran; `tests/fixtures/value_step_tail.ts` stands behind it.
 *
 * Tests marked `ignore` document a bug not fixed yet (see each one).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  CLI_PERMISSIONS,
  Client,
  path,
  ROOT,
  spawnCli,
  startHost,
  type TestHost,
  WORKERS_PERMISSIONS,
} from "./helpers.ts";
import { has, run } from "./tls_fixture.ts";
import type { GraphSpec } from "../host/mod.ts";
import { ServletHarness, simulate } from "../testing/mod.ts";
import { rendered } from "./fixtures/value_step_spy.ts";
import { echoed, late } from "./fixtures/value_step_abuse.ts";

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

/** A string of one char per byte back to its bytes (a char past `\xff` is a test's mistake). */
function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => {
    const code = c.charCodeAt(0);
    if (code > 0xff) {
      throw new Error(`not one byte: ${JSON.stringify(c)} in ${JSON.stringify(text)}`);
    }
    return code;
  });
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
  readonly conn: Deno.TcpConn | Deno.TlsConn;
  #pending = new Uint8Array(0);
  #buffer = new Uint8Array(65536);
  /** Every byte read so far, for a hang's message. */
  seen = "";

  private constructor(conn: Deno.TcpConn | Deno.TlsConn) {
    this.conn = conn;
  }

  /** Connects to 127.0.0.1; with `caFile`, over TLS for `localhost`, trusting that CA. */
  static async open(port: number, caFile?: string): Promise<Wire> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (caFile === undefined) return new Wire(conn);
    const caCerts = [await Deno.readTextFile(caFile)];
    return new Wire(await Deno.startTls(conn, { hostname: "localhost", caCerts }));
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
 * reads `n` replies there; `null` half-closes), and the replies they get.
 */
interface HttpCase {
  readonly name: string;
  readonly writes: readonly (string | Uint8Array | number | null)[];
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
async function exchange(port: number, c: HttpCase, caFile?: string): Promise<string[]> {
  await using wire = await Wire.open(port, caFile);
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
        if (write === null) {
          await wire.conn.closeWrite();
          continue;
        }
        if (typeof write === "number") {
          if (!(await read(write))) return seen.push("<closed>");
          continue;
        }
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 40));
        if (!(await wire.send(write))) break;
      }
      if (!(await read(c.replies - seen.length))) return seen.push("<closed>");
      const sent = !c.writes.includes(null) && await wire.send(PROBE);
      seen.push(sent ? (await readResponse(wire)) ?? "<closed>" : "<closed>");
    })(),
    () => `${c.name}: ${JSON.stringify(wire.seen)}`,
  );
  return seen;
}

/**
 * The host's log lines, sorted, with what differs between two hosts (ports,
 * durations, who closed: the probe says that; the spy's path) taken out: a
 * connection's end says its requests and its bytes in and out, a failure
 * its node and error.
 */
function logShape(h: TestHost): string[] {
  return h.logs.map((line) =>
    line.replace(/127\.0\.0\.1:\d+/g, "*").replace(`(${SPY})`, "(http/render)").replace(
      /ended: .* after \d+\.\d+ s/,
      "ended after * s",
    )
  ).sort();
}

/** Two hosts of one graph: `exec` counts (so every request runs exec), `steps` does not. */
interface Hosts {
  exec: TestHost;
  steps: TestHost;
}

/**
 * Serves `graph` (with relative servlets under `base`) twice, counting and
 * plain, with `http/render` wrapped by the spy, which counts what the steps
 * answered.
 */
async function bothHosts(graph: GraphSpec, base: URL): Promise<Hosts> {
  const spied = structuredClone(graph);
  spied.nodes.render.servlet = SPY;
  // The counting host has the spy too: it must count nothing there.
  const exec = await startHost(spied, { metrics: true, base });
  const steps = await startHost(spied, { base });
  return { exec, steps };
}

/** examples/http.json, served by {@linkcode bothHosts}; its parser with `parserArgs`, if given. */
async function exampleHosts(parserArgs?: string[]): Promise<Hosts> {
  const graph = JSON.parse(await Deno.readTextFile(path("examples/http.json")));
  delete graph.$schema;
  if (parserArgs !== undefined) graph.nodes.parse.args = parserArgs;
  return await bothHosts(graph, new URL("examples/", ROOT));
}

/**
 * Sends each case to both hosts and asserts byte-identical replies, the
 * same close, the same log codes and the steps' count; returns the exec
 * host's transcripts, by name.
 */
async function differential(
  hosts: Hosts,
  cases: readonly HttpCase[],
  caFile?: string,
): Promise<Map<string, string[]>> {
  const { exec, steps } = hosts;
  const out = new Map<string, string[]>();
  try {
    for (const c of cases) {
      const count = rendered.count;
      const byExec = await exchange(exec.port, c, caFile);
      assertEquals(rendered.count, count, `${c.name}: the counting host ran steps`);
      const bySteps = await exchange(steps.port, c, caFile);
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
  // The same log lines: each failure reported once, each connection's requests and bytes.
  assertEquals(logShape(steps), logShape(exec));
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
    name: "chunked twice",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked, chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
    ],
    replies: 1,
  },
  {
    name: "identity, then chunked",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ntransfer-encoding: identity\r\ntransfer-encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
    ],
    replies: 1,
  },
  {
    name: "length listed twice",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: a\r\ncontent-length: 2, 2\r\n\r\n[]"],
    replies: 1,
  },
  {
    name: "chunk size with leading zeros and upper case",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n000A\r\n[1,2,3,45]\r\n0\r\n\r\n",
    ],
    replies: 1,
  },
  { name: "whole, then EOF", writes: [get("/api/hello?name=eof"), null], replies: 1 },
  {
    name: "pipelined, then EOF",
    writes: [get("/api/hello?name=1") + get("/api/hello?name=2"), null],
    replies: 2,
  },
  {
    name: "head cut, then EOF",
    writes: ["GET /api/hello HTTP/1.1\r\nHost: a\r\n", null],
    replies: 0,
  },
  {
    name: "body short, then EOF",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: a\r\ncontent-length: 9\r\n\r\n[1]", null],
    replies: 1,
  },
  {
    name: "chunks short, then EOF",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n3\r\n[1]\r\n",
      null,
    ],
    replies: 1,
  },
  {
    name: "pipelined 50",
    writes: [Array.from({ length: 50 }, (_, i) => get(`/api/hello?name=${i}`)).join("")],
    replies: 50,
    // Not `stepped`: the host's first read takes 1 KiB, and a request that ends there is alone.
  },
  {
    name: "pipelined, HEAD and static between",
    writes: [
      get("/api/hello?name=a") + "HEAD /api/hello HTTP/1.1\r\nHost: a\r\n\r\n" + get("/style.css") +
      "HEAD /style.css HTTP/1.1\r\nHost: a\r\n\r\n" + post("/api/echo", "[9]"),
    ],
    replies: 5,
    heads: [1, 3],
    stepped: 2,
  },
  {
    name: "a request in the body",
    writes: [post("/api/echo", JSON.stringify(get("/api/hello?name=inner")))],
    replies: 1,
    stepped: 2,
  },
  {
    name: "Upgrade asked",
    writes: [get("/api/hello", "Connection: Upgrade\r\nUpgrade: websocket\r\n")],
    replies: 1,
    stepped: 2,
  },
  { name: "empty Host", writes: ["GET /api/hello HTTP/1.1\r\nHost:\r\n\r\n"], replies: 1 },
  { name: "fragment in the target", writes: [get("/api/hello?name=f#frag")], replies: 1 },
  { name: "? alone", writes: [get("/api/hello?")], replies: 1 },
  { name: "%00 in the path", writes: [get("/api/hello%00")], replies: 1 },
  { name: "lower-case method", writes: ["get /api/hello HTTP/1.1\r\nHost: a\r\n\r\n"], replies: 1 },
  { name: "unknown method", writes: ["BREW /api/hello HTTP/1.1\r\nHost: a\r\n\r\n"], replies: 1 },
  {
    name: "500 header fields",
    writes: [get("/api/hello", Array.from({ length: 500 }, (_, i) => `x-${i}: ${i}\r\n`).join(""))],
    replies: 1,
  },
  {
    name: "Expect with another case",
    writes: [
      "POST /api/echo HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\ncontent-length: 2\r\n\r\n",
      "[]",
    ],
    replies: 2,
  },
  {
    name: "Expect something else",
    writes: ["POST /api/echo HTTP/1.1\r\nHost: a\r\nExpect: 42-tea\r\ncontent-length: 2\r\n\r\n[]"],
    replies: 1,
  },
  {
    name: "Connection: close, then more",
    writes: [get("/api/hello?name=1", "Connection: close\r\n") + get("/api/hello?name=2")],
    replies: 1,
  },
  {
    name: "HTTP/1.0 keep-alive, pipelined",
    writes: [
      get("/api/hello?name=1", "Connection: keep-alive\r\n", "1.0") +
      get("/api/hello?name=2", "", "1.0"),
    ],
    replies: 2,
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
  const seen = await differential(await exampleHosts(), HTTP_CASES);
  assertEquals(seen.get("plain GET"), [
    'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{"message":"Hello, world!"}',
    PROBE_REPLY,
  ]);
});

/** A graph of the abuse fixture alone, or with `edges`/`nodes` behind it; replies `oops` on a failure. */
function abuseGraph(
  nodes: GraphSpec["nodes"] = {},
  edges: GraphSpec["edges"] = [],
  output = "a.out",
): GraphSpec {
  return {
    nodes: { a: { servlet: ABUSE }, ...nodes },
    edges,
    input: "a.in",
    output,
    listeners: [{ module: "tcp", options: { errorReply: "oops\n" } }],
  };
}

/** Sends each line on `client` and reads its one-line reply. */
async function ask(client: Client, lines: readonly string[]): Promise<string[]> {
  const replies: string[] = [];
  for (const line of lines) {
    await client.send(`${line}\n`);
    replies.push((await client.readLine()) ?? "<closed>");
  }
  return replies;
}

/** The log lines that report a failure: any but the debug lines of connections and the graph's warnings. */
function failures(h: TestHost): string[] {
  return h.logs.filter((line) =>
    !line.startsWith("plumb debug:") && !line.includes("PLUMB_CHECK_WARNING")
  );
}

Deno.test("value steps: a step that declines, throws an odd value or misuses a port leaves the request to exec, unreported", async () => {
  await using h = await startHost(abuseGraph());
  await using c = await Client.connect(h.port);
  await using other = await Client.connect(h.port);
  const lines = [
    "ok",
    "decline",
    "throw-null",
    "throw-undefined",
    "throw-string",
    "throw-getter",
    "object",
    "write-input",
    "unknown-port",
    "shadow",
    "enable-out",
    // `side` is bound to nothing: a second write there is no second value on an edge.
    "twice",
    "ok",
  ];
  const replies = await ask(c, lines);
  assertEquals(replies, [
    "step: ok\n",
    "exec: decline\n",
    "exec: throw-null\n",
    "exec: throw-undefined\n",
    "exec: throw-string\n",
    "exec: throw-getter\n",
    "exec: object\n",
    "exec: write-input\n",
    "exec: unknown-port\n",
    "exec: shadow\n",
    "exec: enable-out\n",
    "step: twice\n",
    "step: ok\n",
  ]);
  assertEquals(await ask(other, ["ok"]), ["step: ok\n"]);
  assertEquals(failures(h), []);
});

Deno.test("value steps: a step that returns a promise, a rejected one or a thenable is thrown away; exec answers", async () => {
  await using h = await startHost(abuseGraph());
  await using c = await Client.connect(h.port);
  late.length = 0;
  assertEquals(await ask(c, ["promise", "reject", "then-throws", "then-late", "ok"]), [
    "exec: promise\n",
    "exec: reject\n",
    "exec: then-throws\n",
    "exec: then-late\n",
    "step: ok\n",
  ]);
  // The thenable's then ran after the run was thrown away: its write was refused.
  assertEquals(late, ["PLUMB_PIPE_AFTER_END"]);
  assertEquals(failures(h), []);
});

Deno.test({
  name:
    "value steps: a step that returns an object whose then getter (or a promise whose own then) throws is thrown away; exec answers",
  fn: async () => {
    await using h = await startHost(abuseGraph());
    await using c = await Client.connect(h.port);
    await using other = await Client.connect(h.port);
    assertEquals(await ask(c, ["then-getter", "ok"]), ["exec: then-getter\n", "step: ok\n"]);
    await using d = await Client.connect(h.port);
    assertEquals(await ask(d, ["then-own", "ok"]), ["exec: then-own\n", "step: ok\n"]);
    assertEquals(await ask(other, ["ok"]), ["step: ok\n"]);
    assertEquals(failures(h), []);
  },
});

/** True when the host closed `client`: a request more gets no reply. */
async function closed(client: Client): Promise<boolean> {
  try {
    await client.send("ok\n");
    return (await client.readLine()) === null;
  } catch {
    return true; // the host had closed: the write or the read failed
  }
}

Deno.test("value steps: a vote to close that the step then declines does not stick; exec's word counts", async () => {
  await using h = await startHost(abuseGraph());
  for (const line of ["vote-decline", "vote-out-decline"]) {
    await using c = await Client.connect(h.port);
    assertEquals(await ask(c, [line, "ok"]), [`exec: ${line}\n`, "step: ok\n"], line);
    assertEquals(await closed(c), false, line);
  }
  // A vote the steps commit closes the connection, as exec's does.
  await using c = await Client.connect(h.port);
  assertEquals(await ask(c, ["vote"]), ["step: vote\n"]);
  assertEquals(await closed(c), true);
  assertEquals(failures(h), []);
});

Deno.test("value steps: a task kept past its step is refused, and the next requests are not spoiled", async () => {
  await using h = await startHost(abuseGraph());
  await using c = await Client.connect(h.port);
  await using other = await Client.connect(h.port);
  late.length = 0;
  assertEquals(await ask(c, ["keep"]), ["step: keep\n"]);
  await guard(
    (async () => {
      while (late.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    () => `late: ${late}`,
  );
  // write, value, keepAlive and enable, each after the step returned.
  assertEquals(late, Array(4).fill("PLUMB_PIPE_AFTER_END"));
  assertEquals(await ask(c, ["ok", "decline"]), ["step: ok\n", "exec: decline\n"]);
  assertEquals(await ask(other, ["ok"]), ["step: ok\n"]);
  assertEquals(await closed(c), false);
  assertEquals(failures(h), []);
});

Deno.test("value steps: a reply of the request's own bytes stays intact while the read buffer is reused", async () => {
  const graphs = [
    abuseGraph(),
    // The bytes go on an edge first, and the node behind replies them.
    abuseGraph({ t: { servlet: TAIL, args: ["t: "] } }, [{ from: "a.side", to: "t.in" }], "t.out"),
  ];
  for (const graph of graphs) {
    await using h = await startHost(graph);
    await using c = await Client.connect(h.port);
    await using other = await Client.connect(h.port);
    const prefix = graph.output === "t.out" ? "t: " : "";
    // `sub` replies with its bytes: a reply that kept a view would show the next request's.
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      seen.push(...await ask(c, ["sub", "alternate"]));
      seen.push(...await ask(other, [`ok${"!".repeat(i)}`]));
    }
    seen.sort((a, b) => a.includes("ok") === b.includes("ok") ? 0 : a.includes("ok") ? 1 : -1);
    assertEquals(seen, [
      `${prefix}step: sub\n`,
      `${prefix}step: alternate\n`,
      `${prefix}step: sub\n`,
      `${prefix}exec: alternate\n`,
      `${prefix}step: sub\n`,
      `${prefix}step: alternate\n`,
      `${prefix}step: ok\n`,
      `${prefix}step: ok!\n`,
      `${prefix}step: ok!!\n`,
    ]);
    assertEquals(failures(h), []);
  }
});

Deno.test("value steps: replies that are views of the read buffer come out intact under backpressure", async () => {
  await using h = await startHost({
    ...abuseGraph(),
    nodes: { a: { servlet: ABUSE, args: ["echo"] } },
  });
  // Two clients each send 2 MiB of their own pattern at once and read only when all is sent:
  // the host's replies queue while it reads on into the same buffers.
  const pattern = (seed: number): Uint8Array =>
    Uint8Array.from({ length: 2 << 20 }, (_, i) => (i * seed + (i >> 8)) & 255);
  const run = async (seed: number): Promise<void> => {
    const sent = pattern(seed);
    await using wire = await Wire.open(h.port);
    const reading = wire.exactly(sent.length);
    for (let at = 0; at < sent.length; at += 65536) await wire.send(sent.subarray(at, at + 65536));
    const echoed = await guard(reading, () => `seed ${seed}`);
    assertEquals(echoed.length, sent.length);
    const first = echoed.findIndex((b, i) => b !== sent[i]);
    assertEquals(first, -1, `seed ${seed}: first differing byte`);
  };
  const before = echoed.steps;
  await Promise.all([run(7), run(13)]);
  assert(echoed.steps > before, "the steps answered none of the reads");
  assertEquals(failures(h), []);
});

Deno.test("value steps: a step and exec that both throw: the failure is reported once, by exec", async () => {
  await using h = await startHost(abuseGraph());
  await using c = await Client.connect(h.port);
  await using other = await Client.connect(h.port);
  assertEquals(await ask(c, ["both-throw", "ok"]), ["oops\n", "step: ok\n"]);
  assertEquals(await ask(other, ["ok"]), ["step: ok\n"]);
  const reported = failures(h);
  assertEquals(reported.length, 1, reported.join("\n"));
  assert(
    reported[0].includes("PLUMB_REQUEST_FAILED") && reported[0].includes(`node "a"`),
    reported[0],
  );
});

Deno.test("value steps: a connection that keeps a node's state runs exec; once exec pops it, the steps answer again", async () => {
  await using h = await startHost(abuseGraph());
  await using c = await Client.connect(h.port);
  await using other = await Client.connect(h.port);
  assertEquals(await ask(c, ["push"]), ["exec: push\n"]);
  // Another connection keeps no state: its requests run the steps meanwhile.
  assertEquals(await ask(other, ["ok"]), ["step: ok\n"]);
  assertEquals(await ask(c, ["ok", "ok"]), ["exec: ok (kept state)\n", "step: ok\n"]);
  assertEquals(failures(h), []);
});

/** The abuse fixture with the tail fixture behind it on `side`, answered by the tail. */
function tailGraph(tailArgs: string[] = ["t: "]): GraphSpec {
  return abuseGraph(
    { t: { servlet: TAIL, args: tailArgs } },
    [{ from: "a.side", to: "t.in" }],
    "t.out",
  );
}

Deno.test("value steps: an edge written twice, or a node behind that declines, sends the whole request to exec", async () => {
  await using h = await startHost(tailGraph());
  await using c = await Client.connect(h.port);
  assertEquals(await ask(c, ["ok", "twice", "decline", "throw-null", "ok"]), [
    "t: step: ok\n",
    "t: exec: twice\n",
    "t: exec: decline\n",
    "t: exec: throw-null\n",
    "t: step: ok\n",
  ]);
  await using declining = await startHost(tailGraph(["t: ", "--decline"]));
  await using d = await Client.connect(declining.port);
  // The entry's step answered, but the node behind declined: nothing of the entry's step is kept.
  assertEquals(await ask(d, ["ok", "vote"]), ["t: exec: ok\n", "t: exec: vote\n"]);
  assertEquals(await closed(d), true);
  assertEquals([...failures(h), ...failures(declining)], []);
});

Deno.test("value steps: a fan-out to two steps joined again takes the first branch, as exec's join does", async () => {
  const fan = (second: string[]): GraphSpec =>
    abuseGraph(
      {
        t1: { servlet: TAIL, args: ["1:", "--value"] },
        t2: { servlet: TAIL, args: second },
        r: { servlet: TAIL, args: ["r:"] },
      },
      [
        { from: "a.side", to: "t1.in" },
        { from: "a.side", to: "t2.in" },
        { from: "t1.out", to: "r.in" },
        { from: "t2.out", to: "r.in" },
      ],
      "r.out",
    );
  await using h = await startHost(fan(["2:", "--value"]));
  await using c = await Client.connect(h.port);
  assertEquals(await ask(c, ["ok", "decline", "ok"]), [
    "r:1:step: ok\n",
    "r:1:exec: decline\n",
    "r:1:step: ok\n",
  ]);
  // A branch that declines (the one not taken) sends the request to exec all the same.
  await using declining = await startHost(fan(["2:", "--value", "--decline"]));
  await using d = await Client.connect(declining.port);
  assertEquals(await ask(d, ["ok"]), ["r:1:exec: ok\n"]);
  assertEquals([...failures(h), ...failures(declining)], []);
});

Deno.test("value steps: the testing kit's ServletHarness runs exec, simulate's connections run the steps", async () => {
  await using harness = await ServletHarness.start(ABUSE);
  for (const line of ["ok", "twice", "vote"]) {
    const result = await harness.exec({ in: `${line}\n` });
    // `side` carries a value: the harness shows it as a line of JSON.
    assertEquals(result.outputs, {
      out: `exec: ${line}\n`,
      side: `${JSON.stringify(`exec: ${line}\n`)}\n`,
      mirror: "",
    });
  }
  // A simulated connection, in memory, is served by the session code: the steps answer.
  await using sim = await simulate(abuseGraph(), { logLevel: "error" });
  await using c = await sim.connect();
  await c.send("ok\n");
  assertEquals(await c.readLine(), "step: ok\n");
  await c.send("decline\n");
  assertEquals(await c.readLine(), "exec: decline\n");
});

/** parser → router (`GET /r/:kind`) → the responder fixture → render. */
const RESPONDER_GRAPH: GraphSpec = {
  nodes: {
    parse: { servlet: "http/parser" },
    route: { servlet: "http/router", args: ["GET /r/:kind"] },
    answer: { servlet: path("tests/fixtures/value_step_responder.ts") },
    render: { servlet: "http/render" },
  },
  edges: [
    { from: "parse.out", to: "route.in" },
    { from: "parse.head", to: "render.head" },
    { from: "route.out0", to: "answer.in" },
    { from: "answer.out", to: "render.in" },
  ],
  input: "parse.in",
  output: "render.out",
  listeners: [{ module: "tcp", options: {} }],
};

const RESPONSE_KINDS = [
  "text",
  "bytes",
  "big",
  "big-text",
  "edge-bytes",
  "empty",
  "empty-bytes",
  "204",
  "304",
  "101",
  "999",
  "reason",
  "bad-reason",
  "bad-header",
  "bad-name",
  "status-0",
  "status-text",
  "status-float",
  "own-fields",
  "number-header",
  "many-headers",
  "a-string",
  "a-number",
  "no-status",
  "nothing",
  "throw",
  "length",
  "chunked",
];

/** Each kind asked with GET, HEAD, HTTP/1.0 and HTTP/1.0 keep-alive. */
function responseCases(kinds: readonly string[]): HttpCase[] {
  return kinds.flatMap((kind) => [
    { name: `GET ${kind}`, writes: [get(`/r/${kind}`)], replies: 1 },
    {
      name: `HEAD ${kind}`,
      writes: [`HEAD /r/${kind} HTTP/1.1\r\nHost: test\r\n\r\n`],
      replies: 1,
      heads: [0],
    },
    { name: `1.0 ${kind}`, writes: [get(`/r/${kind}`, "", "1.0")], replies: 1 },
    {
      name: `1.0 keep-alive ${kind}`,
      writes: [get(`/r/${kind}`, "Connection: keep-alive\r\n", "1.0")],
      replies: 1,
    },
  ]);
}

Deno.test("value steps vs exec: http/render frames every kind of response alike, for GET, HEAD and HTTP/1.0", async () => {
  await differential(await bothHosts(RESPONDER_GRAPH, ROOT), responseCases(RESPONSE_KINDS));
});

Deno.test({
  name: "value steps vs exec: a handler that writes null or undefined as its response fails alike",
  fn: async () => {
    await differential(
      await bothHosts(RESPONDER_GRAPH, ROOT),
      responseCases(["null", "undefined"]),
    );
  },
});

Deno.test("value steps vs exec: the parser's size limits bite alike", async () => {
  const cases: HttpCase[] = [
    {
      name: "head at the limit",
      writes: [get("/api/hello", `x-p: ${"p".repeat(150)}\r\n`)],
      replies: 1,
    },
    {
      name: "head over the limit",
      writes: [get("/api/hello", `x-p: ${"p".repeat(300)}\r\n`)],
      replies: 1,
    },
    { name: "body at the limit", writes: [post("/api/echo", `"${"b".repeat(98)}"`)], replies: 1 },
    { name: "body over the limit", writes: [post("/api/echo", `"${"b".repeat(99)}"`)], replies: 1 },
    {
      name: "chunked over the limit",
      writes: [chunked("/api/echo", ['"', "c".repeat(99), '"'])],
      replies: 1,
    },
  ];
  await differential(
    await exampleHosts(["--max-header-bytes", "200", "--max-body-bytes", "100"]),
    cases,
  );
  // A body over --max-body-bytes but within --max-stream-bytes is streamed, whole or not.
  await differential(
    await exampleHosts(["--max-body-bytes", "100", "--max-stream-bytes", "100000"]),
    [
      {
        name: "upload streamed",
        writes: [post("/api/upload", "s".repeat(500))],
        replies: 1,
        stepped: 1,
      },
      {
        name: "echo streamed (413)",
        writes: [post("/api/echo", `"${"s".repeat(500)}"`)],
        replies: 1,
      },
      {
        name: "chunked upload streamed",
        writes: [chunked("/api/upload", ["a".repeat(80), "b".repeat(80)])],
        replies: 1,
        stepped: 1,
      },
      {
        name: "upload streamed, pipelined",
        writes: [post("/api/upload", "s".repeat(500)) + get("/api/hello")],
        replies: 2,
      },
    ],
  );
});

Deno.test({
  name:
    "value steps vs exec: a whole chunked request under a small --max-buffered-bytes gets the same answer",
  fn: async () => {
    await differential(await exampleHosts(["--max-buffered-bytes", "10000"]), [
      { name: "chunked, whole", writes: [chunked("/api/echo", ["[1,", "2]"])], replies: 1 },
    ]);
  },
});

const CURL = await has("curl");
const SOCAT = await has("socat");

/** Makes the `date:` values of `text` `*`. */
function undated(text: string): string {
  return text.replace(/^date: .*$/gim, "date: *");
}

Deno.test({
  name: "value steps vs exec: curl and socat see the same bytes from both",
  ignore: !CURL || !SOCAT,
  fn: async () => {
    const { exec, steps } = await exampleHosts();
    const seen: string[][] = [];
    try {
      for (const h of [exec, steps]) {
        const base = `http://127.0.0.1:${h.port}`;
        const out: string[] = [];
        // One connection, kept alive between the requests (curl says so on standard error).
        const curl = await run("curl", [
          "-sS",
          "-i",
          "-v",
          `${base}/api/hello?name=curl`,
          "--next",
          "-i",
          "--data-binary",
          '{"x":[1,"\u00e9"]}',
          "-H",
          "content-type: application/json",
          `${base}/api/echo`,
          "--next",
          "-i",
          "-H",
          "Transfer-Encoding: chunked",
          "--data-binary",
          "chunked upload",
          `${base}/api/upload`,
          "--next",
          "-i",
          "-I",
          `${base}/api/hello`,
          "--next",
          "-i",
          "--http1.0",
          `${base}/api/hello?name=ten`,
        ]);
        assertEquals(curl.code, 0, curl.stderr);
        out.push(undated(curl.stdout));
        out.push(String(curl.stderr.match(/Re-using existing connection/g)?.length));
        // Three requests in one write, then the end of input: socat prints the replies.
        const socat = await run(
          "socat",
          ["-t", "10", "-", `TCP:127.0.0.1:${h.port}`],
          get("/api/hello?name=s1") + post("/api/echo", "[1]") + get("/api/hello?name=s3"),
        );
        assertEquals(socat.code, 0, socat.stderr);
        out.push(undated(socat.stdout));
        seen.push(out);
      }
    } finally {
      await exec.host.close(1000);
      await steps.host.close(1000);
    }
    assertEquals(seen[1], seen[0]);
    const [curled, reused, socatted] = seen[1];
    assertEquals(reused, "4"); // every request after the first on the first connection
    assert(curled.includes('{"message":"Hello, curl!"}'), curled);
    assert(
      curled.includes('{"method":"POST","path":"/api/echo","body":{"x":[1,"\u00e9"]}}'),
      curled,
    );
    assert(curled.includes('"bytes":14,'), curled);
    assertEquals(
      socatted,
      [
        'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 24\r\n\r\n{"message":"Hello, s1!"}',
        'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 47\r\n\r\n{"method":"POST","path":"/api/echo","body":[1]}',
        'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 24\r\n\r\n{"message":"Hello, s3!"}',
      ].join(""),
    );
  },
});

Deno.test({
  name:
    "value steps: a step that is an async generator function (a user's mistake) is not taken for a step",
  fn: async () => {
    await using h = await startHost({
      nodes: { g: { servlet: path("tests/fixtures/value_step_generator.ts") } },
      input: "g.in",
      output: "g.out",
      listeners: [{ module: "tcp", options: {} }],
    });
    await using c = await Client.connect(h.port);
    // Guarded: the step that "answered" wrote nothing, so no reply would ever come.
    const replies = await guard(ask(c, ["one", "two"]), () => "no reply to one");
    assertEquals(replies, ["exec: one\n", "exec: two\n"]);
  },
});

Deno.test("value steps vs exec: 30 connections at once, steps and exec interleaved, each sees the same bytes", async () => {
  const cases: HttpCase[] = Array.from({ length: 30 }, (_, i) => ({
    name: `connection ${i}`,
    writes: [
      get(`/api/hello?name=c${i}`),
      1,
      post("/api/echo", `[${i},"${"x".repeat(i * 20)}"]`),
      1,
      get(i % 3 === 0 ? "/style.css" : `/api/hello?name=d${i}`) + get(`/api/hello?name=e${i}`),
      2,
      chunked("/api/upload", [`u${i}`, "v".repeat(i * 30)]),
    ],
    replies: 5,
  }));
  const { exec, steps } = await exampleHosts();
  try {
    let count = rendered.count;
    const byExec = await Promise.all(cases.map((c) => exchange(exec.port, c)));
    assertEquals(rendered.count, count, "the counting host ran steps");
    count = rendered.count;
    const bySteps = await Promise.all(cases.map((c) => exchange(steps.port, c)));
    assertEquals(bySteps, byExec);
    // Each connection's first request and its probe, at least, were the steps'.
    assert(rendered.count - count >= 60, `${rendered.count - count} stepped`);
    assertEquals(
      byExec[7][1].replace(/^.*\r\n\r\n/s, ""),
      `{"method":"POST","path":"/api/echo","body":[7,"${"x".repeat(140)}"]}`,
    );
  } finally {
    await exec.host.close(1000);
    await steps.host.close(1000);
  }
  assertEquals(logShape(steps), logShape(exec));
});

Deno.test({
  name: "value steps: a step that catches what its write threw still sends the request to exec",
  fn: async () => {
    await using h = await startHost(tailGraph());
    await using c = await Client.connect(h.port);
    const replies = await guard(ask(c, ["catch-twice"]), () => "no reply to catch-twice");
    assertEquals(replies, ["t: exec: catch-twice\n"]);
    await using single = await startHost(abuseGraph());
    await using d = await Client.connect(single.port);
    const reply = await guard(ask(d, ["catch-object"]), () => "no reply to catch-object");
    assertEquals(reply, [`${JSON.stringify({ reply: "exec: catch-object\n" })}\n`]);
  },
});

Deno.test("value steps vs exec: an isolated handler (run in a worker, no step) leaves its requests to exec", async () => {
  const graph = JSON.parse(await Deno.readTextFile(path("examples/http.json")));
  delete graph.$schema;
  graph.nodes.hello.isolate = { deadline: 2 };
  await differential(await bothHosts(graph, new URL("examples/", ROOT)), [
    { name: "isolated hello", writes: [get("/api/hello?name=iso")], replies: 1, stepped: 0 },
    {
      name: "echo beside it",
      writes: [post("/api/echo", "[1]"), 1, get("/api/hello")],
      replies: 2,
      stepped: 1,
    },
  ]);
});

Deno.test("value steps: a connection's opening runs exec; its data then runs the steps", async () => {
  const graph = abuseGraph();
  graph.listeners = [{ module: "tcp", options: { open: true } }];
  await using h = await startHost(graph);
  await using c = await Client.connect(h.port);
  // The opening reads nothing: exec greets with an empty line.
  assertEquals(await c.readLine(), "exec: \n");
  assertEquals(await ask(c, ["ok", "decline", "ok"]), [
    "step: ok\n",
    "exec: decline\n",
    "step: ok\n",
  ]);
  assertEquals(failures(h), []);
});

Deno.test("value steps vs exec: the CLI with --admin (exec only), plain, and with --workers 2 answer alike", async () => {
  const names = new Set([
    "plain GET",
    "HEAD",
    "/index.html",
    "POST echo JSON",
    "POST echo chunked",
    "Connection: close",
    "HTTP/1.0",
    "pipelined 3",
    "cut into pieces",
    "100-continue, body later",
    "malformed request line",
    "non-UTF-8 in a header",
  ]);
  const cases = HTTP_CASES.filter((c) => names.has(c.name));
  assertEquals(cases.length, names.size);
  const runs = [
    { args: ["--admin", "127.0.0.1:0"], permissions: CLI_PERMISSIONS },
    { args: [], permissions: CLI_PERMISSIONS },
    { args: ["--workers", "2"], permissions: WORKERS_PERMISSIONS },
  ];
  const seen: string[][][] = [];
  for (const { args, permissions } of runs) {
    await using cli = await spawnCli(["examples/http.json", "--port", "0", ...args], permissions);
    const transcripts: string[][] = [];
    for (const c of cases) transcripts.push(await exchange(cli.port, c));
    seen.push(transcripts);
  }
  assertEquals(seen[1], seen[0]);
  assertEquals(seen[2], seen[0]);
  assertEquals(seen[0][0], [
    'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{"message":"Hello, world!"}',
    PROBE_REPLY,
  ]);
});

Deno.test("value steps vs exec: --stdio (a pipe, not a socket) answers alike with and without --admin", async () => {
  const input = get("/api/hello?name=pipe") + post("/api/echo", "[1]") + get("/style.css") +
    chunked("/api/upload", ["ab", "cd"]) + get("/api/hello?name=last", "Connection: close\r\n");
  const outputs: string[] = [];
  for (const admin of [["--admin", "127.0.0.1:0"], []]) {
    const out = await run(Deno.execPath(), [
      "run",
      ...CLI_PERMISSIONS,
      path("main.ts"),
      path("examples/http.json"),
      "--stdio",
      ...admin,
    ], input);
    assertEquals(out.code, 0, out.stderr);
    outputs.push(undated(out.stdout));
  }
  assertEquals(outputs[1], outputs[0]);
  assert(
    outputs[0].startsWith(
      'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 26\r\n\r\n{"message":"Hello, pipe!"}',
    ),
    outputs[0],
  );
  assert(outputs[0].endsWith('connection: close\r\n\r\n{"message":"Hello, last!"}'), outputs[0]);
});

Deno.test("value steps vs exec: examples/https.json over TLS answers alike", async () => {
  const graph = JSON.parse(await Deno.readTextFile(path("examples/https.json")));
  delete graph.$schema;
  const names = new Set([
    "plain GET",
    "HEAD",
    "/index.html",
    "POST echo JSON",
    "POST echo chunked",
    "Connection: close",
    "HTTP/1.0 keep-alive",
    "pipelined 3",
    "cut into pieces",
    "one after another",
    "malformed request line",
    "header too large",
  ]);
  // TLS records cut the bytes their own way: how many the steps answered is not asserted.
  const cases = HTTP_CASES.filter((c) => names.has(c.name)).map((c) => ({
    ...c,
    stepped: undefined,
  }));
  assertEquals(cases.length, names.size);
  const count = rendered.count;
  const seen = await differential(
    await bothHosts(graph, new URL("examples/", ROOT)),
    cases,
    path("examples/tls/ca.crt"),
  );
  assert(rendered.count - count >= 10, `${rendered.count - count} stepped over TLS`);
  assertEquals(seen.get("plain GET"), [
    'HTTP/1.1 200 OK\r\ndate: *\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{"message":"Hello, world!"}',
    PROBE_REPLY,
  ]);
});
