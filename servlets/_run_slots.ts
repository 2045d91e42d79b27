/**
 * How many of something may run at once, and how many may wait for a turn:
 * the limit `exec` puts on the programs one node runs.
 * @module
 */

/** Why a turn was not given. */
export type NoTurn = "full" | "timeout" | "cancelled";

/**
 * Turns to run: at most `running` at once; past that at most `waiting`
 * callers wait, in order, each for at most its own time; more are turned
 * away at once.
 *
 * @example
 * ```ts
 * import { RunSlots } from "./_run_slots.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const slots = new RunSlots(1, 0);
 * const first = await slots.take(1000);
 * assertEquals(typeof first, "function");
 * assertEquals(await slots.take(1000), "full"); // one running, no room to wait
 * if (typeof first === "function") first();
 * const again = await slots.take(1000);
 * assertEquals(typeof again, "function");
 * if (typeof again === "function") again();
 *
 * // One running, one waiting: the waiting one leaves when its signal aborts.
 * const one = new RunSlots(1, 1);
 * const holder = await one.take(1000);
 * const abort = new AbortController();
 * const waiting = one.take(1000, abort.signal);
 * abort.abort();
 * assertEquals(await waiting, "cancelled");
 * assertEquals(one.queued, 0);
 * if (typeof holder === "function") holder();
 * ```
 */
export class RunSlots {
  /** Most running at once. */
  readonly running: number;
  /** Most waiting at once. */
  readonly waiting: number;
  #busy = 0;
  readonly #queue: Array<(release: () => void) => void> = [];

  /**
   * @param running most running at once
   * @param waiting most waiting for a turn at once
   */
  constructor(running: number, waiting: number) {
    this.running = running;
    this.waiting = waiting;
  }

  /** Running now. */
  get busy(): number {
    return this.#busy;
  }

  /** Waiting now. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * A turn: resolves to the function that ends it (call it once), or says
   * why there is none: `full` (as many wait already), `timeout` (no turn
   * came within `timeoutMs`), `cancelled` (`signal` aborted first: the
   * request that waited has gone).
   */
  take(timeoutMs: number, signal?: AbortSignal): Promise<(() => void) | NoTurn> {
    if (signal?.aborted) return Promise.resolve("cancelled");
    if (this.#busy < this.running) {
      this.#busy++;
      return Promise.resolve(this.#release());
    }
    if (this.#queue.length >= this.waiting) return Promise.resolve("full");
    return new Promise((resolve) => {
      const leave = (why: NoTurn): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", cancel);
        const at = this.#queue.indexOf(turn);
        if (at >= 0) this.#queue.splice(at, 1);
        resolve(why);
      };
      const cancel = (): void => leave("cancelled");
      const turn = (release: () => void): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", cancel);
        resolve(release);
      };
      const timer = setTimeout(() => leave("timeout"), timeoutMs);
      signal?.addEventListener("abort", cancel, { once: true });
      this.#queue.push(turn);
    });
  }

  /** The end of a turn: hands it to the first waiting, if any. */
  #release(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#queue.shift();
      if (next !== undefined) next(this.#release());
      else this.#busy--;
    };
  }
}
