/**
 * {@linkcode LatencyHistogram}: latencies counted in buckets, so a load run
 * of any length keeps percentiles in fixed memory.
 *
 * @module
 */

/** Values below twice this are counted exactly; above, in SUB parts per octave. */
const SUB = 512;
/** The largest octave counted: 2^40 µs is about 12 days. */
const TOP = 40;
const EXACT = 2 * SUB;
const BUCKETS = EXACT + (TOP - 10 + 1) * SUB;

/** The bucket a value (whole microseconds, ≥ 0) falls in. */
function bucketOf(value: number): number {
  if (value < EXACT) return value;
  const octave = Math.min(Math.floor(Math.log2(value)), TOP);
  const shift = octave - 9;
  const part = Math.min(Math.floor(value / 2 ** shift), 2 * SUB - 1) - SUB;
  return EXACT + (octave - 10) * SUB + part;
}

/** The highest value that falls in `bucket`. */
function highestIn(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const octave = 10 + Math.floor((bucket - EXACT) / SUB);
  const part = (bucket - EXACT) % SUB;
  const shift = octave - 9;
  return (SUB + part + 1) * 2 ** shift - 1;
}

/**
 * Counts latencies in microseconds: exactly below 1,024 µs, within 0.2%
 * above (512 buckets per doubling, up to 2^41 µs), in about 130 KiB whatever
 * the count.
 * The largest value is kept exactly.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./latency_histogram.ts";
 *
 * const latencies = new LatencyHistogram();
 * for (const us of [40, 45, 50, 900, 12_000]) latencies.record(us);
 * latencies.percentile(0.5); // 50
 * latencies.max; // 12000
 * ```
 */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;

  /** How many values were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The largest value recorded (0 when none were). */
  get max(): number {
    return this.#max;
  }

  /** Records one latency, in microseconds (rounded to a whole number). */
  record(microseconds: number): void {
    const value = Math.max(0, Math.round(microseconds));
    this.#counts[bucketOf(value)]++;
    this.#count++;
    if (value > this.#max) this.#max = value;
  }

  /**
   * The value at or below which a fraction `p` (0 to 1) of the recorded
   * values fall: the top of its bucket, never above the maximum. 0 when
   * nothing was recorded.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(p * this.#count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket];
      if (seen >= rank) {
        // The last bucket also holds everything past the top: say the max.
        return bucket === BUCKETS - 1
          ? this.#max
          : Math.min(highestIn(bucket), this.#max);
      }
    }
    return this.#max;
  }
}
