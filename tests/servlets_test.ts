/**
 * The built-in servlets, each run alone through the testing kit's harness:
 * the exact bytes on each output, the flags and the kept state, request by
 * request. (The graphs that use them are tested over TCP elsewhere.)
 */
import { assert, assertEquals } from "./assert.ts";
import { INPUT, OUTPUT, PERSIST } from "../mod.ts";
import { runServlet, ServletHarness } from "../testing/mod.ts";
import hello from "../servlets/hello.ts";
import echo from "../servlets/echo.ts";
import line from "../servlets/line.ts";
import transform from "../servlets/transform.ts";
import eliza from "../servlets/eliza.ts";

Deno.test("hello greets each line and keeps the connection", async () => {
  await using h = await ServletHarness.start(hello);
  for (const name of ["Plumber", "world", "世界"]) {
    const r = await h.exec({ in: `${name}\r\n` });
    assertEquals([r.outputs.out, r.persist], [`Hello, ${name}\n`, true]);
  }
});

Deno.test("echo copies every chunk; with close it does not keep the connection", async () => {
  const kept = await runServlet(echo, { in: ["ab", new Uint8Array([0, 255]), "c"] });
  assertEquals([...kept.bytes.out], [97, 98, 0, 255, 99]);
  assertEquals(kept.persist, true);
  const closing = await runServlet(echo, { in: "x" }, { args: ["close"] });
  assertEquals([closing.outputs.out, closing.persist], ["x", false]);
});

Deno.test("line takes one line per request and leaves the rest for the next", async () => {
  await using h = await ServletHarness.start(line);
  const first = await h.exec({ in: ["one\r\ntw", "o\nthree"] });
  assertEquals([first.outputs.out, first.unread.in], ["one\n", "two\nthree"]);
  // The kernel copies the input's PERSIST to the graph's output.
  assertEquals(first.flags, { in: INPUT | PERSIST, out: OUTPUT | PERSIST });
  assertEquals((await h.exec()).outputs.out, "two\n");
  assertEquals((await h.exec()).outputs.out, "three\n");
  assertEquals((await h.exec()).signal, "__null__");
});

Deno.test("transform applies its rewrite to each line", async () => {
  const cases: [string, string, string][] = [
    ["upper", "Plumber 世界", "PLUMBER 世界\n"],
    ["lower", "PLUMBER", "plumber\n"],
    ["reverse", "abc世", "世cba\n"],
    ["trim", "  x  ", "x\n"],
  ];
  for (const [arg, input, output] of cases) {
    const r = await runServlet(transform, { in: `${input}\n` }, { args: [arg] });
    assertEquals(r.outputs.out, output, arg);
  } // Several lines in one request: each rewritten, in order (one, two, then the rest).
  for (const lines of [["a", "b"], ["a", "b", "c", "d"]]) {
    const r = await runServlet(transform, { in: lines.map((l) => `${l}\n`).join("") });
    assertEquals(r.outputs.out, lines.map((l) => `${l.toUpperCase()}\n`).join(""));
  }
});

Deno.test("eliza: greeting on open, replies, per-connection memory, bye clears PERSIST", async () => {
  await using doctor = await ServletHarness.start(eliza);
  const open = await doctor.exec({}, { event: "open" });
  assertEquals(open.outputs.out, "How do you do. Please tell me your problem.\n");
  const r = await doctor.exec({ in: "I am a human being.\n" });
  assertEquals([r.outputs.out, r.persist], ["How long have you been a human being?\n", true]);
  await doctor.exec({ in: "my mother is getting on my nerves\n" });
  assert(doctor.state !== undefined, "the conversation is kept with the connection");
  const bye = await doctor.exec({ in: "bye\n" });
  assertEquals([bye.outputs.out, bye.persist], ["Goodbye. It was nice talking to you.\n", false]);
});

Deno.test("dataflow/dup writes its input to every output; firstnonempty copies the first written input", async () => {
  const dup = await runServlet("dataflow/dup", { in: "x\n" }, { args: ["3"] });
  assertEquals(dup.outputs, { out0: "x\n", out1: "x\n", out2: "x\n" });
  const chunks = await runServlet("dataflow/dup", { in: ["x\n", "y\n", "z\n"] });
  assertEquals(chunks.outputs, { out0: "x\ny\nz\n", out1: "x\ny\nz\n" });
  const first = await runServlet("dataflow/firstnonempty", { in1: "b\n", in2: "c\n" }, {
    args: ["3"],
  });
  assertEquals(first.outputs.out, "b\n");
  const later = await runServlet("dataflow/firstnonempty", { in2: ["c\n", "d\n", "e\n"] }, {
    args: ["3"],
  });
  assertEquals(later.outputs.out, "c\nd\ne\n");
  const none = await runServlet("dataflow/firstnonempty", {}, { args: ["2"] });
  assertEquals([none.written, none.outputs.out], [["out"], ""]);
});
