/**
 * graph.schema.json describes the format the loader accepts: it is made from
 * the option declarations by `deno task schema` (so the committed file must
 * be what that makes), every example validates, and every fixture the loader
 * refuses for its shape is refused by the schema too. Ajv, from the npm
 * registry, is the validator.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { validateGraph } from "../kernel/graph.ts";
import { BUILTIN_SERVLETS } from "../host/servlet_registry.ts";
import { parseOptions } from "../modules/options.ts";
import { BUILTIN_MODULES, IO_MODULES } from "../modules/registry.ts";
import { SCHEMA_FILE, schemaText } from "../tools/gen_schema.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { path } from "./helpers.ts";

const text = await Deno.readTextFile(path(SCHEMA_FILE));
const schema = JSON.parse(text);
const validate = new Ajv2020({ allErrors: true }).compile(schema);

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path(file)));
}

Deno.test("schema: the committed file is the one the declarations make (else run deno task schema)", () => {
  assert(text === schemaText(), `${SCHEMA_FILE} is stale: run deno task schema and commit it`);
});

Deno.test("schema: every example graph is valid", async () => {
  for await (const entry of Deno.readDir(path("examples"))) {
    if (!entry.name.endsWith(".json")) continue;
    const graph = await readJson(`examples/${entry.name}`);
    assertEquals(validate(graph), true, `${entry.name}: ${JSON.stringify(validate.errors)}`);
    validateGraph(entry.name, graph);
  }
});

Deno.test("schema: graphs the loader refuses for their shape are refused by the schema", async () => {
  for (const name of ["unknown_key", "missing_input", "missing_output", "unknown_option"]) {
    const graph = await readJson(`tests/fixtures/graphs/${name}.json`);
    assertEquals(validate(graph), false, name);
  }
  for (const name of ["unknown_key", "missing_input", "missing_output"]) {
    const graph = await readJson(`tests/fixtures/graphs/${name}.json`);
    assertThrows(() => validateGraph(name, graph));
  }
});

/** A graph of one node with one listener of `module` with `options`. */
function withListener(module: string, options: Record<string, unknown>): unknown {
  return {
    nodes: { greet: { servlet: "hello" } },
    input: "greet.in",
    output: "greet.out",
    listeners: [{ module, options }],
  };
}

/** Values of each JSON type, to try on every option. */
const PROBES: readonly unknown[] = [
  "",
  "x",
  "wait",
  "debug",
  "json",
  "10.0.0.0/8",
  -1,
  0,
  0.0005,
  0.5,
  1,
  65535,
  65536,
  true,
  null,
  [],
  ["10.0.0.0/8"],
  [""],
  [1],
  {},
];

Deno.test("schema: for every option of every module, the schema and the loader agree on each value", () => {
  assertEquals(Object.keys(BUILTIN_MODULES), Object.keys(IO_MODULES));
  for (const [module, { options: specs }] of Object.entries(BUILTIN_MODULES)) {
    const required = Object.fromEntries(
      Object.entries(specs).filter(([, spec]) => "required" in spec).map(([name]) => [name, "x"]),
    );
    for (const name of [...Object.keys(specs), "no such option"]) {
      for (const value of PROBES) {
        const options = { ...required, [name]: value };
        let loader = true;
        try {
          parseOptions(specs, options, "x");
        } catch {
          loader = false;
        }
        const label = `${module}: ${name}: ${JSON.stringify(value)}`;
        assertEquals(validate(withListener(module, options)), loader, label);
      }
    }
  }
});

Deno.test("schema: the servlet description names every built-in", () => {
  const servlet = schema.$defs.node.properties.servlet as { description: string };
  for (const name of Object.keys(BUILTIN_SERVLETS)) {
    assertEquals(new RegExp(`[ (]${name}[,)]`).test(servlet.description), true, name);
  }
});
