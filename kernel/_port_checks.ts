/**
 * The checks a servlet's call on a port goes through, and their messages:
 * one place for a task's calls (`task.ts`) and a line step's (`line_steps.ts`).
 * @module
 */
import { PipeError } from "./errors.ts";
import { OUTPUT, SHADOW } from "./flags.ts";
import type { AnyPort } from "./servlet.ts";

/** What a task's call after its exec returned should have done. */
export const AWAIT_BEFORE_RETURN = "await every read and write before exec returns";
/** What a line step's `out` used after the step returned should have done. */
export const WRITE_BEFORE_RETURN = "write through out before the line step returns";
/** What a value step's task used after the step returned should have done. */
export const STEP_BEFORE_RETURN = "use the task before the step returns";

/**
 * Throws unless node `node` may `verb` `port` now: the call is still allowed
 * (`ended` undefined; else what to do instead), the port is one of `ports`,
 * and it is an output when `output` is true, an input when false (either
 * when undefined).
 */
export function checkPort(
  node: string,
  ports: readonly AnyPort[],
  port: AnyPort | undefined,
  output: boolean | undefined,
  verb: string,
  ended: string | undefined,
): asserts port is AnyPort {
  if (ended !== undefined) {
    throw new PipeError(
      "PLUMB_PIPE_AFTER_END",
      `node "${node}": ${verb} on port "${port?.name}" after its task ended; ${ended}`,
    );
  }
  if (port == null || ports[port.id] !== port) {
    throw new PipeError(
      "PLUMB_PIPE_UNKNOWN_PORT",
      `node "${node}": ${verb} on a port this node did not declare; ` +
        `use the descriptors that init's env.define returned`,
    );
  }
  if (output !== undefined && ((port.flags & OUTPUT) !== 0) !== output) {
    throw new PipeError(
      "PLUMB_PIPE_WRONG_DIRECTION",
      `node "${node}": cannot ${verb} port "${port.name}", it is an ${
        output ? "input" : "output"
      } port`,
    );
  }
}

/** Throws when node `node` would `verb` a SHADOW port itself. */
export function checkNotShadow(node: string, port: AnyPort, verb: string): void {
  if (!(port.flags & SHADOW)) return;
  throw new PipeError(
    "PLUMB_PIPE_WRITE_SHADOW",
    `node "${node}": cannot ${verb} SHADOW port "${port.name}"; write its target, and the ` +
      `shadow carries the same bytes`,
  );
}

/** Throws when node `node` would enable a port that is not a shadow. */
export function checkShadow(node: string, port: AnyPort): void {
  if (port.flags & SHADOW) return;
  throw new PipeError(
    "PLUMB_PIPE_ENABLE_NOT_SHADOW",
    `node "${node}": enable on port "${port.name}", which is not a shadow; ` +
      `declare it with env.output(name, { shadowOf, disabled: true })`,
  );
}
