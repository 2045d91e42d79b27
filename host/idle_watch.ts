/**
 * The idle exit (`--idle-exit`): stop after a while with no open connection.
 * @module
 */

/** Counts open connections and calls `expire` after `ms` with none. */
export class IdleWatch {
  readonly #ms: number | undefined;
  readonly #expire: () => void;
  #open = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(ms: number | undefined, expire: () => void) {
    this.#ms = ms;
    this.#expire = expire;
  }

  /** Starts watching (call once listening). */
  start(): void {
    this.#arm();
  }

  /** A connection opened (+1) or closed (-1). */
  readonly change = (delta: 1 | -1): void => {
    this.#open += delta;
    if (this.#open > 0) this.#disarm();
    else this.#arm();
  };

  /** Stops watching for good. */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(): void {
    if (this.#ms === undefined || this.#stopped || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#open === 0) this.#expire();
    }, this.#ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
