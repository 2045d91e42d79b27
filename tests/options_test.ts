/**
 * Option declarations (`modules/options.ts`): `parseOptions` checks what a
 * declaration says with the one-line messages of the loader and fills in its
 * defaults; `optionsSchema` writes the same checks as JSON Schema; the
 * types `OptionsOf` and `OptionsInputOf` are what the declaration says (the
 * `@ts-expect-error` lines fail the type check if they are not).
 */
import { assertEquals, assertThrows } from "./assert.ts";
import { GraphError } from "../kernel/errors.ts";
import {
  type OptionsInputOf,
  type OptionsOf,
  type OptionSpecs,
  optionsSchema,
  parseOptions,
} from "../modules/options.ts";
import { BUILTIN_MODULES } from "../modules/registry.ts";
import { TCP_OPTIONS, type TcpOptions } from "../modules/tcp.ts";

const SAMPLE = {
  port: {
    type: "number",
    integer: true,
    min: 0,
    max: 65535,
    default: 0,
    what: "TCP port",
    doc: "The port.",
  },
  rate: { type: "number", min: 0.5, what: "per second", doc: "A rate." },
  mode: {
    type: "string",
    values: ["plain", "loud"],
    default: "plain",
    what: "how",
    doc: "How it speaks.",
  },
  path: { type: "string", required: true, what: "the socket file", doc: "The socket file." },
  quiet: { type: "boolean", default: false, what: "say nothing", doc: "Say nothing." },
  names: {
    type: "string[]",
    what: "who",
    doc: "Who may.",
    check(names: readonly string[], where: string, name: string): void {
      if (names.includes("root")) {
        throw new GraphError("PLUMB_OPTION_BAD_ADDRESS", `${where}: option "${name}": not root`);
      }
    },
  },
} as const satisfies OptionSpecs;

/** The message `parseOptions` refuses `raw` with. */
function refusal(raw: Record<string, unknown>): string {
  try {
    parseOptions(SAMPLE, raw, "g.json: listener 1 (x)");
  } catch (error) {
    if (error instanceof GraphError) return error.message;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

Deno.test("options: parseOptions fills in the defaults and leaves absent optional options undefined", () => {
  const parsed = parseOptions(SAMPLE, { path: "s.sock", rate: 2 }, "x");
  assertEquals(parsed, {
    port: 0,
    rate: 2,
    mode: "plain",
    path: "s.sock",
    quiet: false,
    names: undefined,
  });
});

Deno.test("options: each way an option is wrong is one line naming where, the option and why", () => {
  const where = "g.json: listener 1 (x)";
  const cases: [Record<string, unknown>, string][] = [
    [
      { path: "p", prot: 1 },
      `${where}: unknown option "prot" (did you mean "port"?); options are port, rate, mode, ` +
      `path, quiet, names`,
    ],
    [{ path: "p", port: "80" }, `${where}: option "port" must be a number, got "80" (TCP port)`],
    [
      { path: "p", port: 1.5 },
      `${where}: option "port" must be a whole number, got 1.5 (TCP port)`,
    ],
    [{ path: "p", port: -1 }, `${where}: option "port" must be at least 0, got -1 (TCP port)`],
    [
      { path: "p", port: 65536 },
      `${where}: option "port" must be at most 65535, got 65536 (TCP port)`,
    ],
    [
      { path: "p", rate: 0.1 },
      `${where}: option "rate" must be at least 0.5, got 0.1 (per second)`,
    ],
    [
      { path: "p", mode: "shout" },
      `${where}: option "mode" must be one of "plain", "loud", got "shout" (how)`,
    ],
    [
      { path: "p", quiet: "yes" },
      `${where}: option "quiet" must be a boolean, got "yes" (say nothing)`,
    ],
    [
      { path: "p", names: ["a", 1] },
      `${where}: option "names" must be an array of strings, got ["a",1] (who)`,
    ],
    [{}, `${where}: option "path" is required: the socket file`],
    [{ path: "" }, `${where}: option "path" is required: the socket file`],
    [{ path: "p", names: ["root"] }, `${where}: option "names": not root`],
    [
      { path: "p", constructor: 1 },
      `${where}: unknown option "constructor"; options are port, rate, mode, path, quiet, names`,
    ],
  ];
  for (const [raw, message] of cases) assertEquals(refusal(raw), message, JSON.stringify(raw));
});

Deno.test("options: a required option's own hint is its message", () => {
  assertThrows(
    () => parseOptions(BUILTIN_MODULES.unix.options, {}, "g.json: listener 1 (unix)"),
    GraphError,
    'g.json: listener 1 (unix): option "path" is required: the socket file, for example "eliza.sock"',
  );
});

Deno.test("options: optionsSchema writes the declaration as JSON Schema, descriptions and all", () => {
  assertEquals(optionsSchema(SAMPLE), {
    type: "object",
    additionalProperties: false,
    required: ["path"],
    properties: {
      port: {
        type: "integer",
        minimum: 0,
        maximum: 65535,
        default: 0,
        description: "The port.",
      },
      rate: { type: "number", minimum: 0.5, description: "A rate." },
      mode: { enum: ["plain", "loud"], default: "plain", description: "How it speaks." },
      path: { type: "string", minLength: 1, description: "The socket file." },
      quiet: { type: "boolean", default: false, description: "Say nothing." },
      names: { type: "array", items: { type: "string" }, description: "Who may." },
    },
  });
});

Deno.test("options: every built-in module's defaults pass its own checks, and parsing applies them", () => {
  for (const [name, module] of Object.entries(BUILTIN_MODULES)) {
    const declared: OptionSpecs = module.options;
    const required = Object.entries(declared).filter(([, spec]) => spec.required !== undefined);
    const given = Object.fromEntries(required.map(([option]) => [option, "x"]));
    const parsed: Record<string, unknown> = module.parseOptions(given, name);
    for (const [option, spec] of Object.entries(declared)) {
      if (spec.required !== undefined) continue;
      assertEquals(parsed[option], spec.default, `${name}: ${option}`);
      if (spec.default !== undefined) {
        parseOptions(declared, { ...given, [option]: spec.default }, name);
      }
    }
  }
});

Deno.test("options: OptionsOf and OptionsInputOf are the declaration's types", () => {
  type Sample = OptionsOf<typeof SAMPLE>;
  const parsed: Sample = { port: 1, mode: "loud", path: "p", quiet: true };
  // @ts-expect-error: "mode" is one of "plain" and "loud"
  const badMode: Sample = { port: 1, mode: "shout", path: "p", quiet: true };
  // @ts-expect-error: "port" has a default, so a parsed Sample always has it
  const noPort: Sample = { mode: "loud", path: "p", quiet: true };
  type Input = OptionsInputOf<typeof SAMPLE>;
  const input: Input = { path: "p" };
  // @ts-expect-error: "path" is required
  const noPath: Input = {};
  // @ts-expect-error: there is no option "prot"
  const typo: Input = { path: "p", prot: 1 };
  // @ts-expect-error: "names" is an array of strings
  const names: Input = { path: "p", names: "root" };
  const tcp: TcpOptions = parseOptions(TCP_OPTIONS, {}, "x");
  const fd: number | undefined = tcp.fd;
  const overflow: "wait" | "refuse" = tcp.overflow;
  assertEquals([parsed.port, input.path, fd, overflow], [1, "p", undefined, "wait"]);
  assertEquals([badMode, noPort, noPath, typo, names].length, 5);
});

Deno.test("options: a misdeclared option is a type error", () => {
  const misdeclared = {
    // @ts-expect-error: a misspelt setting
    port: { type: "number", defualt: 0, what: "TCP port", doc: "The port." },
    // @ts-expect-error: a default of another type than the option's
    ttl: { type: "number", default: "60", what: "seconds", doc: "Seconds." },
  } as const satisfies OptionSpecs;
  assertEquals(Object.keys(misdeclared), ["port", "ttl"]);
});
