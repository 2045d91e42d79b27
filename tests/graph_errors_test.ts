/**
 * Every graph error of S3 is one line naming the file, the node and the port
 * (with a "did you mean" for near names), exit status 2, and nothing listens.
 */
import { assertEquals } from "./assert.ts";
import { runCli } from "./helpers.ts";

const DIR = "tests/fixtures/graphs";

const CASES: Record<string, string> = {
  unknown_servlet: `node "greet": unknown servlet "helo" (did you mean "hello"?); built-ins are ` +
    `hello, echo, line, transform, eliza, dataflow/dup, dataflow/firstnonempty, dataflow/demux, ` +
    `exec, json/parse, json/stringify, http/parser, http/render, http/router, http/static, a ` +
    `file is written "./name.ts" relative to the graph file`,
  missing_module: `node "greet": cannot load servlet "./no_such_servlet.ts": Module not found ` +
    `"${new URL(`../${DIR}/no_such_servlet.ts`, import.meta.url).href}".`,
  not_servlet:
    `node "odd": "../not_servlet.ts" is not a servlet module; its default export must be ` +
    `made with defineServlet`,
  unknown_port:
    `edge 1 ("split.outt" -> "greet.in") "from" "split.outt": node "split" has no port ` +
    `"outt" (did you mean "out"?); its ports are in, out, __null__, __error__`,
  unknown_node: `edge 1 ("split.out" -> "gret.in") "to" "gret.in": no node "gret" ` +
    `(did you mean "greet"?)`,
  wrong_direction: `edge 1 ("split.out" -> "greet.out") "to" "greet.out": port "out" of node ` +
    `"greet" is an output port, but this place needs an input port`,
  input_is_output: `"input" "greet.out": port "out" of node "greet" is an output port, but this ` +
    `place needs an input port`,
  used_twice: `edge 2 ("greet.out" -> "shout.in"): port "out" of node "greet" is used twice ` +
    `(also by "output"); the graph's output port cannot also be the end of an edge`,
  cycle: `cycle through node "a": "a.out" -> "b.in", "b.out" -> "a.in"; a graph must not feed ` +
    `a node's output back into its own input`,
  missing_input: `the graph has no "input"; name the port that receives each request, for ` +
    `example "input": "greet.in"`,
  missing_output: `the graph has no "output"; name the port that carries the reply, for example ` +
    `"output": "greet.out"`,
  bad_json: `not valid JSON: Expected double-quoted property name in JSON at position 46 ` +
    `(line 1 column 47)`,
  unknown_key:
    `node "greet": unknown key "servelt" (did you mean "servlet"?); allowed: servlet, args`,
  unknown_module:
    `listener 1: unknown module "tpc" (did you mean "tcp"?); modules are tcp, unix, stdio, file`,
  unknown_option: `listener 1 (tcp): unknown option "prot" (did you mean "port"?); options are ` +
    `host, port, ttl, maxMessageSize, open, requestTimeout, writeTimeout, errorReply, onError, fd, ` +
    `reusePort, maxConnections, overflow, refuseMessage, allow, deny, maxPerSource, ` +
    `maxRatePerSource, log, logFormat`,
  bad_address_rule: `listener 2 (tcp): option "allow": entry "10.0.0.0/33": prefix length 33 ` +
    `is more than the 32 bits of an IPv4 address`,
  bad_overflow: `listener 1 (tcp): option "overflow" must be one of "wait", "refuse", got ` +
    `"drop" (what a connection over maxConnections gets: wait in the backlog, or refused)`,
  init_fails: `node "shout": init of servlet "transform" failed: unknown transform "sideways"; ` +
    `use one of upper, lower, reverse, trim`,
  type_mismatch: `edge 1 ("parse.out" -> "greet.in"): type "json" of "parse.out" does not ` +
    `convert to type "text/line" of "greet.in"`,
  type_generic_mismatch: `edge 1 ("parse.out" -> "greet.in"): type "json" of "parse.out" ` +
    `(through the dup for its fan-out) does not convert to type "text/line" of "greet.in"`,
  type_unknown:
    `node "parse": port "out" has unknown type "jsn" (did you mean "json"?); declare it ` +
    `in the graph's "types", for example {"jsn": "bytes"}`,
  type_bad_parent:
    `"types": "chat/line" extends unknown type "text/lines" (did you mean "text/line"?)`,
  type_fan_in: `edge 3 ("j.out" -> "h.in"): type "json" of "j.out" does not convert to type ` +
    `"text/line" of "h.in"`,
  duplicate_edge: `edge 2 ("s.out" -> "h.in") repeats edge 1 ("s.out" -> "h.in"); remove one`,
  no_listeners: `the graph has no "listeners"; add {"module": "tcp", "options": {"port": 12345}} ` +
    `or pass --port`,
};

for (const [name, message] of Object.entries(CASES)) {
  Deno.test(`graph error: ${name.replaceAll("_", " ")}`, async () => {
    const file = `${DIR}/${name}.json`;
    const result = await runCli([file]);
    assertEquals(result.stderr, `plumb: ${file}: ${message}\n`);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "", "nothing listens");
  });
}

Deno.test("graph error: --check reports the same line and status", async () => {
  const file = `${DIR}/unknown_port.json`;
  const result = await runCli([file, "--check"]);
  assertEquals(result.stderr, `plumb: ${file}: ${CASES.unknown_port}\n`);
  assertEquals(result.code, 2);
});

Deno.test("graph error: a graph file that does not exist", async () => {
  const result = await runCli(["examples/nope.json"]);
  assertEquals(result.stderr, "plumb: examples/nope.json: no such graph file\n");
  assertEquals(result.code, 2);
});
