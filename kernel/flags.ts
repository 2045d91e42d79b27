/**
 * Pipe flags and `cntl` operation codes, with the same bit values as Plumber so
 * that a flag reads the same in both.
 *
 * The low 16 bits of a flag word carry a port descriptor (the target of a
 * `SHADOW` output); the bits above carry the flags proper.
 *
 * @example
 * ```ts
 * import { INPUT, PERSIST } from "@plumb/plumb";
 * const flags = INPUT | PERSIST; // 0x20000
 * ```
 * @module
 */

/** The port is read by the servlet (the direction bit is clear). */
export const INPUT = 0x00000;
/** The port is written by the servlet. */
export const OUTPUT = 0x10000;
/**
 * Suggest that the module keep the underlying resource (TCP keep-alive). The
 * only *shared* flag: it travels from a request's input handle to its output
 * companion when the input ends.
 */
export const PERSIST = 0x20000;
/** Output only: writes complete asynchronously; the task may end before the bytes are flushed. */
export const ASYNC = 0x40000;
/** Output only: carries the bytes of another port of the same node, whose descriptor is in the low 16 bits. */
export const SHADOW = 0x80000;
/** Shadow only: the shadow carries nothing unless the flag is cleared at exec time. */
export const DISABLED = 0x100000;

/** The flags that travel between companions (input to output of one resource). */
export const SHARED_FLAGS: number = PERSIST;
/** The flags an exec task may not change: direction and `SHADOW`. */
export const FIXED_FLAGS: number = OUTPUT | SHADOW;
/** Mask of the port descriptor kept in the low 16 bits of a flag word. */
export const DESCRIPTOR_MASK = 0xffff;
/** Every flag bit this version knows. */
export const KNOWN_FLAGS: number = OUTPUT | PERSIST | ASYNC | SHADOW | DISABLED;

/** `cntl` operation: read the handle's flags for this request. */
export const GET_FLAGS = "GET_FLAGS";
/** `cntl` operation: set one or more flag bits on the handle for this request. */
export const SET_FLAG = "SET_FLAG";
/** `cntl` operation: clear one or more flag bits on the handle for this request. */
export const CLR_FLAG = "CLR_FLAG";

/** `cntl` operation: keep a value with the resource under the port (a connection's session state). */
export const PUSH_STATE = "PUSH_STATE";
/** `cntl` operation: take back the value kept with the resource under the port. */
export const POP_STATE = "POP_STATE";

/**
 * `cntl` operation: end of message. The bytes of a buffer from an offset on
 * are given back to the input, unread: they start the next request.
 */
export const EOM = "EOM";

/**
 * `cntl` operation: a deadline on the request's connection (on any port of
 * any node), given as a `Deadline` (or `null` to clear it). It holds across
 * requests until set again or cleared; if it passes while the connection
 * waits for bytes, the module logs its reason, writes its reply and closes
 * the connection. Where the request has no connection (a file) it does
 * nothing.
 */
export const DEADLINE = "DEADLINE";

/** A module-specific `cntl` operation, addressed by module path: `tcp/peer`, `tcp/local`, `unix/path`. */
export type ModuleOp = `${string}/${string}`;

/** The `cntl` operations a task understands. */
export type CntlOp =
  | typeof GET_FLAGS
  | typeof SET_FLAG
  | typeof CLR_FLAG
  | typeof PUSH_STATE
  | typeof POP_STATE
  | typeof EOM
  | typeof DEADLINE
  | ModuleOp;

/**
 * Names the flag bits set in `flags`, for messages and logs.
 *
 * @example
 * ```ts
 * import { flagNames, OUTPUT, PERSIST } from "@plumb/plumb";
 * flagNames(OUTPUT | PERSIST); // "OUTPUT|PERSIST"
 * ```
 */
export function flagNames(flags: number): string {
  const names: string[] = [(flags & OUTPUT) ? "OUTPUT" : "INPUT"];
  if (flags & PERSIST) names.push("PERSIST");
  if (flags & ASYNC) names.push("ASYNC");
  if (flags & SHADOW) names.push(`SHADOW(${flags & DESCRIPTOR_MASK})`);
  if (flags & DISABLED) names.push("DISABLED");
  return names.join("|");
}
