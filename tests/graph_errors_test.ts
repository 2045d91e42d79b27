/**
 * Every graph error of S3 is one line naming the file, the node and the port
 * (with a "did you mean" for near names), exit status 2, and nothing listens.
 */
import { assert, assertEquals } from "./assert.ts";
import { runCli } from "./helpers.ts";
import type { Code } from "../kernel/codes.ts";
import { GraphError } from "../kernel/errors.ts";
import { checkGraph, createLogger, Host, serve } from "../host/mod.ts";

const DIR = "tests/fixtures/graphs";

/** Each graph file, with the code and the message (after `FILE: `) it fails with. */
const CASES: Record<string, [Code, string]> = {
  unknown_servlet: [
    "PLUMB_SERVLET_UNKNOWN",
    `node "greet": unknown servlet "helo" (did you mean "hello"?); built-ins are ` +
    `hello, echo, line, transform, eliza, dataflow/dup, dataflow/firstnonempty, dataflow/demux, ` +
    `exec, json/parse, json/stringify, http/parser, http/render, http/router, http/static, chat, kv, nats/publish, a ` +
    `file is written "./name.ts" relative to the graph file`,
  ],
  missing_module: [
    "PLUMB_SERVLET_LOAD_FAILED",
    `node "greet": cannot load servlet "./no_such_servlet.ts": Module not found ` +
    `"${new URL(`../${DIR}/no_such_servlet.ts`, import.meta.url).href}".`,
  ],
  not_servlet: [
    "PLUMB_SERVLET_NOT_SERVLET",
    `node "odd": "../not_servlet.ts" is not a servlet module; its default export must be ` +
    `made with defineServlet`,
  ],
  unknown_port: [
    "PLUMB_REF_NO_PORT",
    `edge 1 ("split.outt" -> "greet.in") "from" "split.outt": node "split" has no port ` +
    `"outt" (did you mean "out"?); its ports are in, out, __null__, __error__`,
  ],
  unknown_node: [
    "PLUMB_REF_NO_NODE",
    `edge 1 ("split.out" -> "gret.in") "to" "gret.in": no node "gret" ` +
    `(did you mean "greet"?)`,
  ],
  wrong_direction: [
    "PLUMB_REF_WRONG_DIRECTION",
    `edge 1 ("split.out" -> "greet.out") "to" "greet.out": port "out" of node ` +
    `"greet" is an output port, but this place needs an input port`,
  ],
  input_is_output: [
    "PLUMB_REF_WRONG_DIRECTION",
    `"input" "greet.out": port "out" of node "greet" is an output port, but this ` +
    `place needs an input port`,
  ],
  used_twice: [
    "PLUMB_REF_USED_TWICE",
    `edge 2 ("greet.out" -> "shout.in"): port "out" of node "greet" is used twice ` +
    `(also by "output"); the graph's output port cannot also be the end of an edge`,
  ],
  cycle: [
    "PLUMB_GRAPH_CYCLE",
    `cycle through node "a": "a.out" -> "b.in", "b.out" -> "a.in"; a graph must not feed ` +
    `a node's output back into its own input`,
  ],
  missing_input: [
    "PLUMB_GRAPH_NO_INPUT",
    `the graph has no "input"; name the port that receives each request, for ` +
    `example "input": "greet.in"`,
  ],
  missing_output: [
    "PLUMB_GRAPH_NO_OUTPUT",
    `the graph has no "output"; name the port that carries the reply, for example ` +
    `"output": "greet.out"`,
  ],
  bad_json: [
    "PLUMB_FILE_NOT_JSON",
    `not valid JSON: Expected double-quoted property name in JSON at position 46 ` +
    `(line 1 column 47)`,
  ],
  unknown_key: [
    "PLUMB_NODE_UNKNOWN_KEY",
    `node "greet": unknown key "servelt" (did you mean "servlet"?); allowed: servlet, args, isolate`,
  ],
  unknown_module: [
    "PLUMB_MODULE_UNKNOWN",
    `listener 1: unknown module "tpc" (did you mean "tcp"?); modules are tcp, tls, unix, stdio, file, nats`,
  ],
  unknown_option: [
    "PLUMB_OPTION_UNKNOWN",
    `listener 1 (tcp): unknown option "prot" (did you mean "port"?); options are ` +
    `host, port, ttl, maxMessageSize, open, requestTimeout, writeTimeout, errorReply, onError, pushBuffer, fd, ` +
    `reusePort, maxConnections, overflow, evictAfter, refuseMessage, allow, deny, maxPerSource, ` +
    `maxRatePerSource, proxyProtocol, log, logFormat`,
  ],
  bad_address_rule: [
    "PLUMB_OPTION_BAD_ADDRESS",
    `listener 2 (tcp): option "allow": entry "10.0.0.0/33": PLUMB_ADDRESS_PREFIX_TOO_LONG prefix length 33 ` +
    `is more than the 32 bits of an IPv4 address`,
  ],
  bad_overflow: [
    "PLUMB_OPTION_CHOICE",
    `listener 1 (tcp): option "overflow" must be one of "wait", "refuse", got ` +
    `"drop" (what a connection over maxConnections gets: wait in the backlog, or refused)`,
  ],
  init_fails: [
    "PLUMB_SERVLET_INIT_FAILED",
    `node "shout": init of servlet "transform" failed: PLUMB_TRANSFORM_UNKNOWN unknown transform "sideways"; ` +
    `use one of upper, lower, reverse, trim`,
  ],
  type_mismatch: [
    "PLUMB_TYPE_MISMATCH",
    `edge 1 ("parse.out" -> "greet.in"): type "json" of "parse.out" does not ` +
    `convert to type "text/line" of "greet.in"`,
  ],
  type_generic_mismatch: [
    "PLUMB_TYPE_MISMATCH",
    `edge 1 ("parse.out" -> "greet.in"): type "json" of "parse.out" ` +
    `(through the dup for its fan-out) does not convert to type "text/line" of "greet.in"`,
  ],
  type_unknown: [
    "PLUMB_TYPE_UNKNOWN",
    `node "parse": port "out" has unknown type "jsn" (did you mean "json"?); declare it ` +
    `in the graph's "types", for example {"jsn": "bytes"}`,
  ],
  type_bad_parent: [
    "PLUMB_TYPE_UNKNOWN_PARENT",
    `"types": "chat/line" extends unknown type "text/lines" (did you mean "text/line"?)`,
  ],
  type_fan_in: [
    "PLUMB_TYPE_MISMATCH",
    `edge 3 ("j.out" -> "h.in"): type "json" of "j.out" does not convert to type ` +
    `"text/line" of "h.in"`,
  ],
  duplicate_edge: [
    "PLUMB_EDGE_REPEATED",
    `edge 2 ("s.out" -> "h.in") repeats edge 1 ("s.out" -> "h.in"); remove one`,
  ],
  no_listeners: [
    "PLUMB_GRAPH_NO_LISTENERS",
    `the graph has no "listeners"; add {"module": "tcp", "options": {"port": 12345}} ` +
    `or pass --port`,
  ],
};

for (const [name, [code, message]] of Object.entries(CASES)) {
  Deno.test(`graph error: ${name.replaceAll("_", " ")}`, async () => {
    const file = `${DIR}/${name}.json`;
    const result = await runCli([file]);
    assertEquals(result.stderr, `plumb: ${code} ${file}: ${message}\n`);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "", "nothing listens");
  });
}

Deno.test("graph error: serve, Host.start and checkGraph fail with the CLI's line, code apart", async () => {
  const calls = {
    serve: (file: string) => serve(file, { logger: createLogger("error", () => {}) }),
    "Host.start": (file: string) => Host.start(file, { logger: createLogger("error", () => {}) }),
    checkGraph: (file: string) => checkGraph(file),
  };
  for (const [name, [code, message]] of Object.entries(CASES)) {
    const file = `${DIR}/${name}.json`;
    for (const [call, run] of Object.entries(calls)) {
      if (call === "checkGraph" && code === "PLUMB_GRAPH_NO_LISTENERS") continue; // checks need none
      const error = await run(file).then(() => undefined, (e) => e);
      assert(error instanceof GraphError, `${call}(${file}): ${error}`);
      assertEquals([error.code, error.message], [code, `${file}: ${message}`], `${call}(${file})`);
    }
  }
});

Deno.test("graph error: --check reports the same line and status", async () => {
  const file = `${DIR}/unknown_port.json`;
  const result = await runCli([file, "--check"]);
  const [code, message] = CASES.unknown_port;
  assertEquals(result.stderr, `plumb: ${code} ${file}: ${message}\n`);
  assertEquals(result.code, 2);
});

Deno.test("graph error: a graph file that does not exist", async () => {
  const result = await runCli(["examples/nope.json"]);
  assertEquals(
    result.stderr,
    "plumb: PLUMB_FILE_NOT_FOUND examples/nope.json: no such graph file\n",
  );
  assertEquals(result.code, 2);
});
