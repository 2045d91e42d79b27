/**
 * A fixed-size latency histogram in microseconds: exact below 1024 µs, then
 * 512 buckets per power of two (about 0.2 % error). Recording allocates
 * nothing, so the load generator can record every request.
 * @module
 */

/** Buckets per power of two above the exact range. */
const SUB_BUCKETS = 512;
/** Values below this are counted exactly, one bucket per microsecond. */
const EXACT_LIMIT = 2 * SUB_BUCKETS;
/** Largest value recorded as itself; larger ones count as this (about 35 minutes). */
const MAX_MICROS = 0x7fffffff;
/** Bucket count: the exact range (two blocks) plus one block for each of 21 higher powers of two. */
const BUCKETS = 23 * SUB_BUCKETS;

function bucketOf(micros: number): number {
  const v = micros >= MAX_MICROS ? MAX_MICROS : micros > 0 ? Math.floor(micros) : 0;
  if (v < EXACT_LIMIT) return v;
  const shift = 31 - Math.clz32(v) - 9;
  return shift * SUB_BUCKETS + (v >>> shift);
}

function lowestOf(bucket: number): number {
  if (bucket < EXACT_LIMIT) return bucket;
  const shift = Math.floor(bucket / SUB_BUCKETS) - 1;
  return (bucket - shift * SUB_BUCKETS) * 2 ** shift;
}

/** Counts latencies and answers percentiles. */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #total = 0;

  /** Number of values recorded. */
  get count(): number {
    return this.#total;
  }

  /** Records one latency given in milliseconds. */
  recordMs(ms: number): void {
    this.#counts[bucketOf(ms * 1000)]++;
    this.#total++;
  }

  /**
   * The latency in milliseconds at or below which `fraction` of the values
   * lie (0.5 for the median), as the middle of its bucket; 0 when empty.
   */
  percentileMs(fraction: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.#total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket];
      if (seen >= rank) {
        const low = lowestOf(bucket);
        const width = lowestOf(bucket + 1) - low;
        return (low + (width - 1) / 2) / 1000;
      }
    }
    return MAX_MICROS / 1000;
  }
}
