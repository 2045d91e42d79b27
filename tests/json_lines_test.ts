/**
 * JSON lines: `json/parse` and `json/stringify` served in memory by the
 * testing kit's `simulate` (compact round trips, invalid JSON and its column,
 * `--field`, `--pretty`, UTF-8 split across chunks), the typed chain under
 * the CLI's `--check`, and the library's errors (`parseJsonLine`, `toJson`,
 * `writeJsonLine`).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { path, runCli } from "./helpers.ts";
import { type GraphSpec, Host } from "../host/mod.ts";
import { runServlet, simulate, type Simulation } from "../testing/mod.ts";
import type { Port, Task } from "../mod.ts";
import {
  jsonErrorIndex,
  JsonLineError,
  parseJsonLine,
  toJson,
  writeJsonLine,
} from "../servlets/json/lines.ts";

const TMP = "tests/.tmp";
const encoder = new TextEncoder();

/** `json/parse` -> `json/stringify ARGS`. */
function chain(args: string[]): GraphSpec {
  return {
    nodes: { parse: { servlet: "json/parse" }, show: { servlet: "json/stringify", args } },
    edges: [{ from: "parse.out", to: "show.in" }],
    input: "parse.in",
    output: "show.out",
  };
}

/** `json/parse` alone. */
const parseOnly: GraphSpec = {
  nodes: { parse: { servlet: "json/parse" } },
  input: "parse.in",
  output: "parse.out",
};

/** The host's log line about node `node` failing. */
function failureLog(sim: Simulation, node: string): Promise<string> {
  return sim.waitForLog(`node "${node}" (json/`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("json/parse: valid lines come back compact, in order; blank lines write nothing", async () => {
  await using sim = await simulate(parseOnly);
  await using c = await sim.connect();
  await c.send(
    '{ "a" : 1 , "b": [1.50, 2e3, -0.25E-1, "x\\u0041\\n"], "c": {"d": null} }\n' +
      "\n   \t\n" +
      "null\r\n" +
      ' "just a string" \n' +
      "[ ]\n" +
      '{"dup": 1, "dup": 2, "é": "日本"}\n',
  );
  assertEquals(await c.readLine(), '{"a":1,"b":[1.5,2000,-0.025,"xA\\n"],"c":{"d":null}}\n');
  assertEquals(await c.readLine(), "null\n");
  assertEquals(await c.readLine(), '"just a string"\n');
  assertEquals(await c.readLine(), "[]\n");
  assertEquals(await c.readLine(), '{"dup":2,"é":"日本"}\n');
  await c.send("42\n");
  assertEquals(await c.readLine(), "42\n");
});

Deno.test("json/parse: invalid JSON gets the error reply, and the log names the column", async () => {
  await using sim = await simulate(parseOnly);
  await using c = await sim.connect();
  await c.send('{"ok": true}\n{"a": x}\n{"after": "it"}\n');
  assertEquals(await c.readLine(), '{"ok":true}\n');
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(await c.readLine(), '{"after":"it"}\n', "the connection goes on");
  assertEquals(
    await failureLog(sim, "parse"),
    `plumb error: PLUMB_REQUEST_FAILED node "parse" (json/parse) failed a request from memory:1: ` +
      `JsonLineError: PLUMB_JSON_INVALID invalid JSON at column 7: Unexpected token 'x'; the line: {"a": x}`,
  );
});

Deno.test("json/parse: the column counts characters, not bytes; a long line is sampled around it", async () => {
  await using sim = await simulate(parseOnly);
  await using c = await sim.connect();
  await c.send(`{"日本語": 1,, "b": "${"y".repeat(200)}"}\n`);
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(
    await failureLog(sim, "parse"),
    `plumb error: PLUMB_REQUEST_FAILED node "parse" (json/parse) failed a request from memory:1: ` +
      `JsonLineError: PLUMB_JSON_INVALID invalid JSON at column 11: Expected double-quoted property name; ` +
      `the line: {"日本語": 1,, "b": "${"y".repeat(22)}...`,
  );
});

Deno.test("json/parse -> json/stringify: compact lines, in order", async () => {
  await using sim = await simulate(chain([]));
  await using c = await sim.connect();
  await c.send('{"b": [true, false] }\n0.1e1\n\nnull\n');
  assertEquals(await c.readLine(), '{"b":[true,false]}\n');
  assertEquals(await c.readLine(), "1\n");
  assertEquals(await c.readLine(), "null\n");
});

Deno.test("json/stringify --field: one top-level field as JSON; null when missing; not of an array", async () => {
  await using sim = await simulate("examples/jsonl.json");
  await using c = await sim.connect();
  await c.send('{"name": "Plumber", "age": 3}\n');
  assertEquals(await c.readLine(), '"Plumber"\n');
  await c.send('{"age": 1}\nnull\n{"name": {"first": "Zoë", "tags": ["a", 1]}}\n');
  assertEquals(await c.readLine(), "null\n");
  assertEquals(await c.readLine(), "null\n");
  assertEquals(await c.readLine(), '{"first":"Zoë","tags":["a",1]}\n');
  await c.send("[1, 2]\n");
  assertEquals(await c.readLine(), "error: request failed\n");
  assertEquals(
    await failureLog(sim, "name"),
    `plumb error: PLUMB_REQUEST_FAILED node "name" (json/stringify) failed a request from memory:1: ` +
      `PlumbError: PLUMB_JSON_STRINGIFY_NOT_OBJECT json/stringify: cannot take field "name" of an array`,
  );
});

Deno.test("json/stringify --pretty: two-space indent over several lines, then a newline", async () => {
  await using sim = await simulate(chain(["--pretty"]));
  await using c = await sim.connect();
  await c.send('{"a": [1, {"b": 2}], "c": "d", "e": {}}\n"plain"\n');
  const lines: string[] = [];
  for (let i = 0; i < 11; i++) lines.push((await c.readLine()) ?? "(closed)");
  assertEquals(
    lines.join(""),
    '{\n  "a": [\n    1,\n    {\n      "b": 2\n    }\n  ],\n  "c": "d",\n  "e": {}\n}\n"plain"\n',
  );
});

Deno.test("json/stringify --pretty --field=NAME: both at once", async () => {
  await using sim = await simulate(chain(["--pretty", "--field=user"]));
  await using c = await sim.connect();
  await c.send('{"user": {"id": 7, "roles": ["admin"]}, "other": 1}\n');
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) lines.push((await c.readLine()) ?? "(closed)");
  assertEquals(lines.join(""), '{\n  "id": 7,\n  "roles": [\n    "admin"\n  ]\n}\n');
});

Deno.test("JSON lines: a nested UTF-8 string split across chunks arrives whole", async () => {
  await using sim = await simulate(chain([]));
  await using c = await sim.connect();
  const bytes = encoder.encode('{"name": {"first": "Zoë", "city": "東京", "note": "🎉"}}\n');
  // Cut inside "ë" (2 bytes), "東" (3 bytes) and "🎉" (4 bytes), with pauses between.
  const cuts = [bytes.indexOf(0xc3) + 1, bytes.indexOf(0xe6) + 2, bytes.indexOf(0xf0) + 3];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    await c.send(bytes.subarray(at, cut));
    at = cut;
    await sleep(20);
  }
  assertEquals(await c.readLine(), '{"name":{"first":"Zoë","city":"東京","note":"🎉"}}\n');
});

Deno.test("json/parse and json/stringify: bad arguments are init errors", async () => {
  const cases: [GraphSpec, string][] = [
    [
      { ...parseOnly, nodes: { parse: { servlet: "json/parse", args: ["--pretty"] } } },
      `graph: node "parse": init of servlet "json/parse" failed: PLUMB_JSON_PARSE_ARGS json/parse takes no arguments, ` +
      `got ["--pretty"]; to pick a field or indent, use json/stringify`,
    ],
    [
      chain(["--field"]),
      `graph: node "show": init of servlet "json/stringify" failed: PLUMB_JSON_STRINGIFY_FIELD json/stringify: --field ` +
      `needs a field name; args are [--pretty] [--field NAME]`,
    ],
    [
      chain(["--compact"]),
      `graph: node "show": init of servlet "json/stringify" failed: PLUMB_JSON_STRINGIFY_ARG json/stringify: unknown ` +
      `argument "--compact"; args are [--pretty] [--field NAME]`,
    ],
  ];
  for (const [graph, message] of cases) {
    await assertRejects(() => Host.load(graph), { name: "GraphError", message });
  }
});

Deno.test("typed pipes: json/parse -> json/stringify -> a text/line servlet checks; --pretty's text does not", async () => {
  await Deno.mkdir(path(TMP), { recursive: true });
  const graph = (args: string[]): string =>
    JSON.stringify({
      nodes: {
        parse: { servlet: "json/parse" },
        show: { servlet: "json/stringify", args },
        greet: { servlet: "hello" },
      },
      edges: [{ from: "parse.out", to: "show.in" }, { from: "show.out", to: "greet.in" }],
      input: "parse.in",
      output: "greet.out",
      listeners: [{ module: "tcp", options: { port: 0 } }],
    });
  const good = `${TMP}/json-chain.json`;
  await Deno.writeTextFile(path(good), graph(["--field", "name"]));
  const ok = await runCli([good, "--check"]);
  assertEquals(ok.stdout, `${good}: ok: 3 node(s), 2 edge(s), 1 listener(s)\n`);
  assertEquals(ok.code, 0);

  const bad = `${TMP}/json-chain-pretty.json`;
  await Deno.writeTextFile(path(bad), graph(["--pretty"]));
  const refused = await runCli([bad, "--check"]);
  assertEquals(
    refused.stderr,
    `plumb: PLUMB_TYPE_MISMATCH ${bad}: edge 2 ("show.out" -> "greet.in"): type "text" of "show.out" does not ` +
      `convert to type "text/line" of "greet.in"\n`,
  );
  assertEquals(refused.code, 2);
});

Deno.test("examples/jsonl.json checks, with the built-ins loaded from the CLI", async () => {
  const result = await runCli(["examples/jsonl.json", "--check"], [
    "--allow-read=examples/jsonl.json",
  ]);
  assertEquals(result.stdout, "examples/jsonl.json: ok: 2 node(s), 1 edge(s), 1 listener(s)\n");
  assertEquals(result.code, 0);
});

Deno.test("parseJsonLine: the error says where and what, on one line", () => {
  const cases: [string, string, number][] = [
    ['{"a": x}', `invalid JSON at column 7: Unexpected token 'x'; the line: {"a": x}`, 7],
    ["", "invalid JSON at column 1: empty line; a JSON line holds one value", 1],
    [
      "[1, 2",
      "invalid JSON at column 6: Expected ',' or ']' after array element; the line: [1, 2",
      6,
    ],
    [
      '"a\u0001"',
      `invalid JSON at column 3: Bad control character in string literal; the line: "a\\u0001"`,
      3,
    ],
    ["tru", "invalid JSON at column 4: Unexpected end of JSON input; the line: tru", 4],
    [
      '{"k": 1} 2',
      `invalid JSON at column 10: Unexpected non-whitespace character after JSON; the line: {"k": 1} 2`,
      10,
    ],
    ["🎉 1", "invalid JSON at column 1: Unexpected token '🎉'; the line: 🎉 1", 1],
    ['["🎉", nul]', `invalid JSON at column 10: Unexpected token ']'; the line: ["🎉", nul]`, 10],
  ];
  for (const [line, message, column] of cases) {
    let error: unknown;
    try {
      parseJsonLine(line);
    } catch (thrown) {
      error = thrown;
    }
    assert(error instanceof JsonLineError, line);
    assertEquals([error.name, error.message, error.column], ["JsonLineError", message, column]);
  }
  assertEquals(parseJsonLine(' {"x": [1, "y"]} '), { x: [1, "y"] });
  assertEquals(parseJsonLine("null"), null);
});

Deno.test("jsonErrorIndex agrees with JSON.parse on what is valid, at any depth", () => {
  for (
    const text of [
      "[]",
      '{"a":{"b":[1,-2.5e+3,"\\u00e9",true,false,null]}}',
      "[".repeat(5000) + "]".repeat(5000),
    ]
  ) {
    JSON.parse(text);
    assertEquals(jsonErrorIndex(text), -1, text.slice(0, 40));
  }
  assertEquals(jsonErrorIndex("[".repeat(5000) + "]".repeat(4999)), 9999);
  assertEquals(jsonErrorIndex('{"a":01}'), 6);
  assertEquals(jsonErrorIndex('"\\x"'), 2);
});

Deno.test("toJson and writeJsonLine: a value with no JSON form is a clear error; others are one line", async () => {
  const cycle: Record<string, unknown> = { name: "loop" };
  cycle.self = cycle;
  const cases: [unknown, string][] = [
    [undefined, "cannot write undefined as JSON; it has no JSON form"],
    [() => 1, "cannot write a function as JSON; it has no JSON form"],
    [Symbol("s"), "cannot write a symbol as JSON; it has no JSON form"],
    [{ n: 10n }, "cannot write a BigInt as JSON; convert it to a number or a string first"],
    [
      cycle,
      "cannot write a value that contains itself as JSON (a cycle: starting at object with " +
      "constructor 'Object', property 'self' closes the circle)",
    ],
  ];
  const written: string[] = [];
  const port = { id: 0, name: "out", flags: 0, type: undefined } as Port;
  const task = {
    write(_port: Port, data: Uint8Array | string): Promise<void> {
      written.push(typeof data === "string" ? data : new TextDecoder().decode(data));
      return Promise.resolve();
    },
  } as unknown as Task;
  for (const [value, message] of cases) {
    assertThrows(() => toJson(value), { name: "TypeError", message });
    await assertRejects(() => writeJsonLine(task, port, value), { name: "TypeError", message });
  }
  await writeJsonLine(task, port, { a: [1, undefined, () => 2], b: undefined, s: "line\nbreak" });
  await writeJsonLine(task, port, "\u2028\ud800");
  assertEquals(written, ['{"a":[1,null,null],"s":"line\\nbreak"}\n', '"\u2028\\ud800"\n']);
});

Deno.test("json/stringify: every value of a request in order, one, two or more", async () => {
  for (const values of [[1], [{ a: 1 }, [2]], [{ a: 1 }, "b", 3, null]]) {
    const text = values.map((v) => `${JSON.stringify(v)}\n`).join("");
    const r = await runServlet("json/stringify", { in: text });
    assertEquals(r.outputs.out, text);
  }
});
