/**
 * The value a resource keeps across requests for `PUSH_STATE`/`POP_STATE`,
 * with its dispose callback: one implementation for connections and for the
 * testing kit's simulated one.
 * @module
 */
import type { StateSlot } from "./pipe.ts";

/**
 * A {@linkcode StateSlot} holding at most one value: one node's state on one
 * connection.
 *
 * @example
 * ```ts
 * import { KeptState } from "./kept_state.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const disposed: string[] = [];
 * const slot = new KeptState();
 * slot.push("first", (v) => disposed.push(String(v)));
 * slot.push("second"); // replaces, and disposes, the first
 * slot.close(); // the connection closed: the second goes too, and nothing is kept after
 * slot.push("late", (v) => disposed.push(String(v)));
 * assertEquals([disposed, slot.value], [["first", "late"], undefined]);
 * ```
 */
export class KeptState implements StateSlot {
  #value: unknown;
  #dispose: ((value: unknown) => void) | undefined;
  #closed = false;

  /** The value kept now (`undefined` when none), without taking it. */
  get value(): unknown {
    return this.#value;
  }

  /**
   * Keeps `value`; a different value kept before is disposed first. Once the
   * slot is closed, `value` is disposed at once: there is nothing to keep it with.
   */
  push(value: unknown, dispose?: (value: unknown) => void): void {
    if (this.#closed) {
      try {
        dispose?.(value);
      } catch {
        // As in dispose(): a failing dispose changes nothing.
      }
      return;
    }
    if (this.#value !== undefined && this.#value !== value) this.dispose();
    this.#value = value;
    this.#dispose = dispose;
  }

  /** Takes the kept value back; the slot is then empty. */
  pop(): unknown {
    const value = this.#value;
    this.#value = undefined;
    this.#dispose = undefined;
    return value;
  }

  /**
   * Empties the slot and calls the dispose callback with the value it held.
   * A callback that throws changes nothing: the resource still closes.
   */
  dispose(): void {
    const dispose = this.#dispose;
    const value = this.pop();
    try {
      dispose?.(value);
    } catch {
      // A failing dispose must not keep the resource from closing.
    }
  }

  /** Disposes the value held and keeps nothing from now on (the resource has closed). */
  close(): void {
    this.#closed = true;
    this.dispose();
  }
}
