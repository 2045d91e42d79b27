/**
 * Writes `graph.schema.json` (`deno task schema`): the graph format's JSON
 * Schema, its listener options made from each built-in module's option
 * declaration (`modules/options.ts`), its lists of built-in servlets and
 * types from their registries. `tests/schema_test.ts` fails when the
 * committed file is not what this makes.
 *
 * Run: `deno run --allow-read --allow-write=graph.schema.json tools/gen_schema.ts`
 * @module
 */
import { ISOLATE_LIMITS, NODE_NAME } from "../kernel/graph.ts";
import { BUILTIN_TYPES } from "../kernel/pipe_types.ts";
import { BUILTIN_SERVLETS } from "../host/servlet_registry.ts";
import { type JsonSchema, optionsSchema } from "../modules/options.ts";
import { BUILTIN_MODULES } from "../modules/registry.ts";

/** Where the schema is written, from the repository root. */
export const SCHEMA_FILE = "graph.schema.json";

/** The graph format's JSON Schema. */
export function graphSchema(): JsonSchema {
  const name = NODE_NAME.source;
  const modules = Object.entries(BUILTIN_MODULES);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://jsr.io/@plumb/plumb/graph.schema.json",
    title: "plumb service graph",
    description: "Servlet nodes joined by edges between node.port pairs, the graph's input and " +
      "output ports, and the listeners that turn outside events into requests.",
    type: "object",
    additionalProperties: false,
    required: ["nodes", "input", "output"],
    properties: {
      $schema: { type: "string" },
      description: { type: "string", description: "What the service does." },
      types: {
        type: "object",
        description: "The graph's own pipe types, each naming the type it extends (built-ins: " +
          `${Object.keys(BUILTIN_TYPES).join(", ")}).`,
        additionalProperties: { type: "string" },
      },
      nodes: {
        type: "object",
        description: "The servlet nodes, by node name.",
        minProperties: 1,
        propertyNames: { pattern: name },
        additionalProperties: { $ref: "#/$defs/node" },
      },
      edges: {
        type: "array",
        description: "The pipes between nodes: each output port feeds one input port.",
        items: { $ref: "#/$defs/edge" },
      },
      input: {
        $ref: "#/$defs/portRef",
        description: "The input port that receives each request, node.port.",
      },
      output: {
        $ref: "#/$defs/portRef",
        description: "The output port whose bytes are the reply, node.port.",
      },
      listeners: {
        type: "array",
        description: "Where requests come from.",
        items: { $ref: "#/$defs/listener" },
      },
    },
    $defs: {
      portRef: {
        type: "string",
        pattern: `${name.replace(/\$$/, "")}\\..+$`,
        examples: ["greet.in", "split.out", "greet.__error__"],
      },
      node: {
        type: "object",
        additionalProperties: false,
        required: ["servlet"],
        properties: {
          servlet: {
            type: "string",
            minLength: 1,
            description: `A built-in name (${Object.keys(BUILTIN_SERVLETS).join(", ")}), a path ` +
              "relative to the graph file (./upper.ts), or a file:, https:, jsr: or npm: " +
              "specifier.",
          },
          args: {
            type: "array",
            items: { type: "string" },
            description: "Arguments given to the servlet's init.",
          },
          isolate: {
            type: "object",
            description: "Run the servlet in a Web Worker of its own, each exec stopped (and the " +
              "request failed) when it computes past the deadline.",
            additionalProperties: false,
            properties: {
              deadline: {
                type: "number",
                minimum: ISOLATE_LIMITS.min,
                maximum: ISOLATE_LIMITS.max,
                default: ISOLATE_LIMITS.deadline,
                description: "Seconds one exec may compute in the worker, not counting its " +
                  "waits for the host (reads, writes).",
              },
            },
          },
        },
      },
      edge: {
        type: "object",
        additionalProperties: false,
        required: ["from", "to"],
        properties: {
          from: { $ref: "#/$defs/portRef", description: "The producing output port." },
          to: { $ref: "#/$defs/portRef", description: "The consuming input port." },
        },
      },
      listener: {
        type: "object",
        required: ["module"],
        oneOf: modules.map(([module]) => ({
          properties: {
            module: { const: module },
            options: { $ref: `#/$defs/${module}Options` },
          },
          additionalProperties: false,
        })),
      },
      ...Object.fromEntries(
        modules.map(([module, { options }]) => [`${module}Options`, optionsSchema(options)]),
      ),
    },
  };
}

/** The text of `graph.schema.json`, as the file is committed. */
export function schemaText(): string {
  return `${JSON.stringify(graphSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  const file = new URL(`../${SCHEMA_FILE}`, import.meta.url);
  await Deno.writeTextFile(file, schemaText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
