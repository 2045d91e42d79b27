/**
 * Checking of the numeric command-line flags of the bench tools.
 * @module
 */

/** Limits of a numeric flag. */
export interface NumberRule {
  /** Smallest value allowed. */
  min: number;
  /** Largest value allowed. */
  max: number;
  /** Whole numbers only. Default false. */
  integer?: boolean;
}

/**
 * The value of flag `--name`, or `fallback` when it was not given.
 * @throws {Error} naming the flag and its limits when the value breaks them
 */
export function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const kind = rule.integer ? "whole number" : "number";
  if (
    value.trim() === "" || !Number.isFinite(n) || n < rule.min || n > rule.max ||
    (rule.integer && !Number.isInteger(n))
  ) {
    throw new Error(`--${name} must be a ${kind} from ${rule.min} to ${rule.max}, got "${value}"`);
  }
  return n;
}
