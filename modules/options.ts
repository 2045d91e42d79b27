/**
 * Checking of a listener's `options` object against what its module accepts.
 * @module
 */
import type { Code } from "../kernel/codes.ts";
import { GraphError } from "../kernel/errors.ts";
import { didYouMean } from "../kernel/suggest.ts";

/** How one option is checked. */
export interface OptionRule {
  /** The JSON type of the value (`string[]`: an array of strings). */
  type: "string" | "number" | "boolean" | "string[]";
  /** For strings: the only values allowed. */
  values?: readonly string[];
  /** For numbers: the smallest value allowed. */
  min?: number;
  /** For numbers: the largest value allowed. */
  max?: number;
  /** For numbers: only whole numbers. */
  integer?: boolean;
  /** What the option means, for messages. */
  description: string;
}

/**
 * Checks `options` against `rules`: unknown names (with a "did you mean"),
 * wrong types and out-of-range numbers are one-line {@linkcode GraphError}s.
 */
export function checkOptions(
  options: Record<string, unknown>,
  rules: Readonly<Record<string, OptionRule>>,
  where: string,
): void {
  const names = Object.keys(rules);
  for (const [name, value] of Object.entries(options)) {
    const rule = rules[name];
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
        `${where}: option "${name}" ${why}, got ${JSON.stringify(value)} (${rule.description})`,
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
