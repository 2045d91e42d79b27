/**
 * Per-source connection limits of a listener (xinetd's `per_source` and
 * `cps`): how many connections one peer address may hold open at once, and
 * how many new ones it may open per second (a token bucket: a burst of up to
 * one second's worth, then the rate). Memory stays bounded: an address is
 * forgotten once it holds no connection and its bucket is full again, and the
 * table never keeps more than a fixed number of such idle addresses.
 * @module
 */

/** The limits a {@linkcode SourceTable} enforces; an absent one does not apply. */
export interface SourceLimits {
  /** Connections one address may hold open at once. */
  readonly maxPerSource?: number;
  /** New connections one address may open per second. */
  readonly maxRatePerSource?: number;
}

/** Which limit refused a connection. */
export type SourceLimit = "maxPerSource" | "maxRatePerSource";

interface Entry {
  /** Connections open from this address. */
  open: number;
  /** Connections it may still open now (the token bucket). */
  tokens: number;
  /** When `tokens` was last brought up to date, in milliseconds. */
  stamp: number;
}

/** Addresses kept at most, beyond those holding a connection open. */
export const MAX_IDLE_SOURCES = 65536;
/** How often, at most, the table forgets idle addresses, in milliseconds. */
const SWEEP_MS = 1000;

/** The open connections and the recent connection rate of each peer address. */
export class SourceTable {
  readonly #maxOpen: number | undefined;
  readonly #rate: number | undefined;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #capacity: number;
  readonly #entries = new Map<string, Entry>();
  #lastSweep: number;

  /**
   * @param limits the limits to enforce
   * @param now the clock, in milliseconds (tests give their own)
   * @param capacity idle addresses kept at most
   */
  constructor(
    limits: SourceLimits,
    now: () => number = () => performance.now(),
    capacity: number = MAX_IDLE_SOURCES,
  ) {
    this.#maxOpen = limits.maxPerSource;
    this.#rate = limits.maxRatePerSource;
    this.#burst = Math.max(1, this.#rate ?? 1);
    this.#now = now;
    this.#capacity = capacity;
    this.#lastSweep = now();
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#entries.size;
  }

  /** True when {@linkcode release} must be called as each admitted connection ends. */
  get countsOpen(): boolean {
    return this.#maxOpen !== undefined;
  }

  /**
   * Admits a new connection from `source`, or says which limit it is over (and
   * then counts nothing). An admitted connection takes one token of the
   * address's rate, and counts as open until {@linkcode release}.
   */
  admit(source: string): SourceLimit | undefined {
    const now = this.#now();
    if (now - this.#lastSweep >= SWEEP_MS) this.#sweep(now);
    let entry = this.#entries.get(source);
    if (entry === undefined) {
      if (this.#entries.size >= this.#capacity) this.#evict(now);
      entry = { open: 0, tokens: this.#burst, stamp: now };
      this.#entries.set(source, entry);
    }
    if (this.#maxOpen !== undefined && entry.open >= this.#maxOpen) return "maxPerSource";
    if (this.#rate !== undefined) {
      this.#refill(entry, now);
      if (entry.tokens < 1) return "maxRatePerSource";
      entry.tokens -= 1;
    }
    if (this.#maxOpen !== undefined) entry.open++;
    return undefined;
  }

  /** A connection {@linkcode admit} let in from `source` has ended. */
  release(source: string): void {
    const entry = this.#entries.get(source);
    if (entry === undefined || entry.open === 0) return;
    entry.open--;
    if (entry.open === 0 && this.#rate === undefined) this.#entries.delete(source);
  }

  #refill(entry: Entry, now: number): void {
    const rate = this.#rate ?? 0;
    entry.tokens = Math.min(this.#burst, entry.tokens + ((now - entry.stamp) / 1000) * rate);
    entry.stamp = now;
  }

  /** True when the address holds nothing and its bucket is full: nothing is lost by forgetting it. */
  #forgettable(entry: Entry, now: number): boolean {
    if (entry.open > 0) return false;
    this.#refill(entry, now);
    return entry.tokens >= this.#burst;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [source, entry] of this.#entries) {
      if (this.#forgettable(entry, now)) this.#entries.delete(source);
    }
  }

  /**
   * Makes room for one more address: forgets the idle ones, then, if still
   * full, the oldest addresses holding no connection (their rate is
   * forgotten early, the price of bounded memory).
   */
  #evict(now: number): void {
    this.#sweep(now);
    for (const [source, entry] of this.#entries) {
      if (this.#entries.size < this.#capacity) return;
      if (entry.open === 0) this.#entries.delete(source);
    }
  }
}
