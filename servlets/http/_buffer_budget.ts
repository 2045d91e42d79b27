/**
 * A budget of bytes shared by every connection of one `http/parser` node:
 * what requests that are not all here yet may hold in memory together, so
 * that thousands of idle clients, each with a body nearly sent, cannot pin
 * the host's memory.
 * @module
 */

/** Bytes that incomplete requests may hold, all connections of a node together. */
export class BufferBudget {
  /** Most bytes held at once. */
  readonly limit: number;
  /** Bytes held now. */
  used = 0;

  /** @param limit most bytes held at once */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes `n` bytes; false (and nothing taken) when that would go over the limit. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  /** Gives back `n` bytes taken earlier. */
  give(n: number): void {
    this.used -= n;
  }
}
