/**
 * The value a resource keeps across requests for `PUSH_STATE`/`POP_STATE`,
 * with its dispose callback: one implementation for connections and for the
 * testing kit's simulated one.
 * @module
 */
import type { StateSlot } from "./pipe.ts";

/** A {@linkcode StateSlot} holding at most one value. */
export class KeptState implements StateSlot {
  #value: unknown;
  #dispose: ((value: unknown) => void) | undefined;

  /** The value kept now (`undefined` when none), without taking it. */
  get value(): unknown {
    return this.#value;
  }

  /** Keeps `value`; a different value kept before is disposed first. */
  push(value: unknown, dispose?: (value: unknown) => void): void {
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
}
