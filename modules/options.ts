/**
 * Listener options, declared once. A group of options is a plain object
 * (`{...} as const satisfies OptionSpecs`): each option's JSON type, range,
 * default and documentation. From it come the TypeScript type of the options
 * ({@linkcode OptionsOf}, and {@linkcode OptionsInputOf} for what a graph
 * writes), their checking with one-line messages and their defaults
 * ({@linkcode parseOptions}), and their part of `graph.schema.json`
 * ({@linkcode optionsSchema}). Being data, a declaration needs no type
 * written beside it, even in a package's public API.
 *
 * @example
 * ```ts
 * import { type OptionSpecs, type OptionsOf, parseOptions } from "./options.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const ECHO_OPTIONS = {
 *   port: { type: "number", integer: true, min: 0, default: 0, what: "TCP port", doc: "Port." },
 *   mode: { type: "string", values: ["plain", "loud"], default: "plain", what: "how", doc: "How." },
 *   banner: { type: "string", what: "first line", doc: "First line written." },
 * } as const satisfies OptionSpecs;
 * // { port: number; mode: "plain" | "loud" } & { banner?: string }
 * type EchoOptions = OptionsOf<typeof ECHO_OPTIONS>;
 *
 * const parsed: EchoOptions = parseOptions(ECHO_OPTIONS, { port: 7 }, "echo");
 * assertEquals(parsed, { port: 7, mode: "plain", banner: undefined });
 * assertThrows(
 *   () => parseOptions(ECHO_OPTIONS, { prot: 7 }, "echo"),
 *   Error,
 *   'echo: unknown option "prot" (did you mean "port"?); options are port, mode, banner',
 * );
 * ```
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import { GraphError } from "../kernel/errors.ts";
import { shortJson } from "../kernel/graph.ts";
import { didYouMean } from "../kernel/suggest.ts";

/** The JSON type of an option's value (`string[]`: an array of strings). */
export type OptionType = "string" | "number" | "boolean" | "string[]";

/** A JSON Schema fragment, as `graph.schema.json` holds it. */
export type JsonSchema = { [key: string]: unknown };

/**
 * One option, declared. It has a `default` (then it is always set once
 * parsed), or is `required` (a listener must give it; a string must not be
 * empty), or neither (absent means off). A `default` is of the option's type.
 */
export type OptionSpec =
  & OptionFields
  & (
    | { readonly type: "string"; readonly default?: string }
    | { readonly type: "number"; readonly default?: number }
    | { readonly type: "boolean"; readonly default?: boolean }
    | { readonly type: "string[]"; readonly default?: never }
  );

/** What every {@linkcode OptionSpec} may say, beside its `type` and `default`. */
export interface OptionFields {
  /** What the option means, in a few words, for messages: `TCP port, 0 = any free port`. */
  readonly what: string;
  /** What the option does, in sentences: the JSON Schema's `description`. */
  readonly doc: string;
  /** The option must be given: `true`, or what to give, for its message (else `what`). */
  readonly required?: true | string;
  /** For strings: the only values allowed. */
  readonly values?: readonly string[];
  /** For numbers: only whole numbers. */
  readonly integer?: boolean;
  /** For numbers: the smallest value allowed. */
  readonly min?: number;
  /** For numbers: the largest value allowed. */
  readonly max?: number;
  /** What the schema says beyond the checks above, for a {@linkcode OptionFields.check} written as code. */
  readonly schema?: JsonSchema;
  /**
   * A further check of a given value, once every option's type and range
   * were checked; throws a one-line `GraphError` naming `where` and `name`.
   */
  check?(value: never, where: string, name: string): void;
}

/** Options by name, in the order messages and the schema list them. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The type of an option's value: from its `type`, and its `values` for a string. */
export type ValueOf<O> = O extends
  { readonly type: "string"; readonly values: readonly (infer V)[] } ? V
  : O extends { readonly type: "string" } ? string
  : O extends { readonly type: "number" } ? number
  : O extends { readonly type: "boolean" } ? boolean
  : O extends { readonly type: "string[]" } ? string[]
  : never;

/** The names of the options of `D` that have a default. */
export type DefaultedNames<D> = {
  [K in keyof D]: D[K] extends { readonly default: unknown } ? K : never;
}[keyof D];

/** The names of the options of `D` that are required. */
export type RequiredNames<D> = {
  [K in keyof D]: D[K] extends { readonly default: unknown } ? never
    : D[K] extends { readonly required: true | string } ? K
    : never;
}[keyof D];

/** The names of the options of `D` that may be absent once parsed. */
export type OptionalNames<D> = Exclude<keyof D, DefaultedNames<D> | RequiredNames<D>>;

/**
 * The options declared as `D`, parsed: `type TcpOptions = OptionsOf<typeof TCP_OPTIONS>`.
 * Those with a default or required are always set.
 */
export type OptionsOf<D extends OptionSpecs> =
  & {
    -readonly [K in keyof D as K extends OptionalNames<D> ? never : K]: ValueOf<D[K]>;
  }
  & { [K in OptionalNames<D>]?: ValueOf<D[K]> };

/** The options declared as `D` as a graph writes them: only the required ones must be there. */
export type OptionsInputOf<D extends OptionSpecs> =
  & {
    [K in RequiredNames<D>]: ValueOf<D[K]>;
  }
  & { [K in Exclude<keyof D, RequiredNames<D>>]?: ValueOf<D[K]> };

/**
 * Checks a listener's `options` against the declaration `specs` and fills
 * in the defaults. Unknown names (with a "did you mean"), wrong types, values
 * out of range and missing required options are one-line `GraphError`s
 * naming `where` and the option; then each option's own `check` runs.
 * @param specs the options declared
 * @param raw the options as written in the graph
 * @param where for messages, for example `graph.json: listener 1 (tcp)`
 */
export function parseOptions<D extends OptionSpecs>(
  specs: D,
  raw: Readonly<Record<string, unknown>>,
  where: string,
): OptionsOf<D> {
  checkOptions(raw, specs, where);
  const parsed: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw[name];
    if (spec.required !== undefined && (value === undefined || value === "")) {
      const hint = spec.required === true ? spec.what : spec.required;
      throw new GraphError(
        "PLUMB_OPTION_REQUIRED",
        `${where}: option "${name}" is required: ${hint}`,
      );
    }
    parsed[name] = value ?? spec.default;
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.check !== undefined && raw[name] !== undefined) {
      spec.check(raw[name] as never, where, name);
    }
  }
  return parsed as OptionsOf<D>;
}

/** The JSON Schema of a group of options: an object of exactly these options, each described. */
export function optionsSchema(specs: OptionSpecs): JsonSchema {
  const required = Object.keys(specs).filter((name) => specs[name].required !== undefined);
  return {
    type: "object",
    additionalProperties: false,
    ...(required.length > 0 ? { required } : {}),
    properties: Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, optionSchema(spec)]),
    ),
  };
}

/** The JSON Schema of one option. */
function optionSchema(spec: OptionSpec): JsonSchema {
  const schema: JsonSchema = {};
  switch (spec.type) {
    case "string":
      if (spec.values !== undefined) schema.enum = [...spec.values];
      else schema.type = "string";
      if (spec.required !== undefined) schema.minLength = 1;
      break;
    case "number":
      schema.type = spec.integer ? "integer" : "number";
      if (spec.min !== undefined) schema.minimum = spec.min;
      if (spec.max !== undefined) schema.maximum = spec.max;
      break;
    case "boolean":
      schema.type = "boolean";
      break;
    case "string[]":
      schema.type = "array";
      schema.items = { type: "string" };
      break;
  }
  Object.assign(schema, spec.schema);
  if (spec.default !== undefined) schema.default = spec.default;
  schema.description = spec.doc;
  return schema;
}

/**
 * Checks the type and range of each option given: unknown names (with a
 * "did you mean"), wrong types and out-of-range numbers are one-line
 * {@linkcode GraphError}s.
 */
function checkOptions(
  options: Readonly<Record<string, unknown>>,
  rules: OptionSpecs,
  where: string,
): void {
  const names = Object.keys(rules);
  for (const [name, value] of Object.entries(options)) {
    const rule = Object.hasOwn(rules, name) ? rules[name] : undefined;
    if (rule === undefined) {
      throw new GraphError(
        "PLUMB_OPTION_UNKNOWN",
        `${where}: unknown option "${name}"${didYouMean(name, names)}; options are ${
          names.join(", ")
        }`,
      );
    }
    const bad = (code: Code, why: string): never => {
      throw new GraphError(
        code,
        `${where}: option "${name}" ${why}, got ${shortJson(value)} (${rule.what})`,
      );
    };
    const actual: string = Array.isArray(value)
      ? value.every((item) => typeof item === "string") ? "string[]" : "array"
      : typeof value;
    if (actual !== rule.type) {
      bad(
        "PLUMB_OPTION_TYPE",
        rule.type === "string[]" ? "must be an array of strings" : `must be a ${rule.type}`,
      );
    }
    if (rule.values !== undefined && !rule.values.includes(value as string)) {
      bad(
        "PLUMB_OPTION_CHOICE",
        `must be one of ${rule.values.map((v) => JSON.stringify(v)).join(", ")}`,
      );
    }
    if (typeof value === "number") {
      if (rule.integer && !Number.isInteger(value)) {
        bad("PLUMB_OPTION_NOT_WHOLE", "must be a whole number");
      }
      if (rule.min !== undefined && value < rule.min) {
        bad("PLUMB_OPTION_TOO_SMALL", `must be at least ${rule.min}`);
      }
      if (rule.max !== undefined && value > rule.max) {
        bad("PLUMB_OPTION_TOO_LARGE", `must be at most ${rule.max}`);
      }
    }
  }
}
