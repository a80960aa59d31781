/**
 * Counting garbage collections from V8's `--trace-gc` lines, as
 * bench/gc.ts reads them from a server's output.
 *
 * @module
 */

/**
 * One line of V8's `--trace-gc`: the collector, then the pause, and for an
 * incremental mark-compact the marking steps taken before it.
 */
const TRACE_LINE =
  /\b(Mark-Compact|Scavenge|Minor Mark-Sweep)\b.*? MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms(?: \(\+ ([\d.]+) ms in \d+ steps)?/;

/**
 * Collections counted from `--trace-gc` lines: full ones (mark-compact),
 * young ones (scavenges, minor mark-sweeps), and the main thread's time in
 * them (each pause, and an incremental mark-compact's marking steps).
 *
 * @example
 * ```ts
 * import { GcTally } from "./gc_trace.ts";
 *
 * const tally = new GcTally();
 * tally.add(
 *   "[7721:0x55f478e78000]       39 ms: Scavenge 3.8 (5.7) -> 3.5 (5.7) MB, pooled: 0.0 MB, 1.37 / 0.00 ms (average mu = 0.822, current mu = 0.822) allocation failure;",
 * );
 * tally.add("listening on 8000"); // not a collection: ignored
 * console.log(tally.young, tally.ms); // 1 1.37
 * ```
 */
export class GcTally {
  /** Full collections (mark-compact) so far. */
  full = 0;
  /** Young-generation collections so far. */
  young = 0;
  /** Milliseconds the main thread spent in them so far. */
  ms = 0;

  /** Counts `line` if it reports a collection; other lines are ignored. */
  add(line: string): void {
    const match = line.match(TRACE_LINE);
    if (!match) return;
    if (match[1] === "Mark-Compact") this.full++;
    else this.young++;
    this.ms += Number(match[2]) + Number(match[3] ?? 0);
  }

  /** A copy of the counts so far. */
  snapshot(): { full: number; young: number; ms: number } {
    return { full: this.full, young: this.young, ms: this.ms };
  }
}
