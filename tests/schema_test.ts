/**
 * graph.schema.json describes the format the loader accepts: every example
 * validates, and every fixture the loader refuses for its shape is refused
 * by the schema too. Ajv, from the npm registry, is the validator.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { validateGraph } from "../kernel/graph.ts";
import { BUILTIN_SERVLETS } from "../host/servlet_registry.ts";
import { IO_MODULES } from "../modules/registry.ts";
import { assertEquals, assertThrows } from "./assert.ts";
import { path } from "./helpers.ts";

const schema = JSON.parse(await Deno.readTextFile(path("graph.schema.json")));
const validate = new Ajv2020({ allErrors: true }).compile(schema);

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path(file)));
}

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

/** The option names a module accepts, as its "unknown option" message lists them. */
function optionNames(module: string): string[] {
  try {
    IO_MODULES[module].parseOptions({ "no such option": 1 }, "x");
  } catch (error) {
    return (error as Error).message.split("; options are ")[1].split(", ").sort();
  }
  throw new Error(`${module} accepted an unknown option`);
}

Deno.test("schema: each module's options are exactly the ones the module accepts", () => {
  const defs = schema.$defs as Record<string, { properties: Record<string, unknown> }>;
  const byModule: Record<string, string> = {
    tcp: "tcpOptions",
    unix: "unixOptions",
    stdio: "sessionOptions",
    file: "fileOptions",
  };
  assertEquals(Object.keys(byModule).sort(), Object.keys(IO_MODULES).sort());
  for (const [module, def] of Object.entries(byModule)) {
    assertEquals(Object.keys(defs[def].properties).sort(), optionNames(module), module);
  }
});

Deno.test("schema: the servlet description names every built-in", () => {
  const text = (schema.$defs.node.properties.servlet as { description: string }).description;
  for (const name of Object.keys(BUILTIN_SERVLETS)) {
    assertEquals(new RegExp(`[ (]${name}[,)]`).test(text), true, name);
  }
});
