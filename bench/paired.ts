/**
 * Paired ratios: each run of a server compared with the baseline's runs
 * taken just before and just after it, rather than a median with a median.
 *
 * The machines this bench runs on change speed by up to a quarter for tens
 * of seconds at a time (a neighbour on the host). A median taken over a
 * figure's rounds then compares runs from different phases whenever a change
 * falls between the baseline's runs and another server's, and a ratio of two
 * medians moves by as much as the change. A run's ratio to the baseline runs
 * next to it in time holds within a phase; the median of those ratios
 * discards the few that straddle a change.
 *
 * @module
 */

/** One measurement, in the order measurements were taken. */
export interface Sample {
  /** Which server: an index into the caller's list. */
  server: number;
  /** The figures measured, by name. */
  values: Record<string, number>;
}

/** Whether more of a figure is better (a rate) or less (CPU time). */
export type Better = "higher" | "lower";

/**
 * The middle of `values` (the mean of the two middle ones for an even count).
 *
 * @example
 * ```ts
 * import { median } from "./paired.ts";
 *
 * console.log(median([3, 1, 2]), median([4, 1, 3, 2])); // 2 2.5
 * ```
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * For every server but the baseline, the median over its samples of its
 * ratio to the baseline's nearest samples in time (the mean of the one
 * before and the one after; either alone at the ends), oriented so that
 * above 1 is better: this ÷ baseline for a `higher` figure, baseline ÷ this
 * for a `lower` one. Servers with no samples, or a timeline without the
 * baseline, get no entry.
 *
 * @example
 * ```ts
 * import { pairedRatios } from "./paired.ts";
 *
 * // The machine slows by a quarter after the second baseline run: the
 * // medians say 0.8, the paired ratios 0.95.
 * const timeline = [
 *   { server: 0, values: { rate: 100 } },
 *   { server: 1, values: { rate: 95 } },
 *   { server: 0, values: { rate: 100 } },
 *   { server: 1, values: { rate: 71 } },
 *   { server: 0, values: { rate: 75 } },
 *   { server: 1, values: { rate: 71 } },
 *   { server: 0, values: { rate: 75 } },
 * ];
 * const ratios = pairedRatios(timeline, 0, { rate: "higher" });
 * console.log(ratios.get(1)?.rate.toFixed(2)); // "0.95"
 * ```
 */
export function pairedRatios(
  timeline: readonly Sample[],
  baseline: number,
  figures: Record<string, Better>,
): Map<number, Record<string, number>> {
  const ratios = new Map<number, Record<string, number[]>>();
  timeline.forEach((sample, i) => {
    if (sample.server === baseline) return;
    const before = findBaseline(timeline, baseline, i, -1);
    const after = findBaseline(timeline, baseline, i, 1);
    if (!before && !after) return;
    let perFigure = ratios.get(sample.server);
    if (!perFigure) ratios.set(sample.server, perFigure = {});
    for (const [name, better] of Object.entries(figures)) {
      const refs = [before, after].filter((s) => s !== undefined)
        .map((s) => s.values[name]);
      const ref = refs.reduce((a, b) => a + b, 0) / refs.length;
      const value = sample.values[name];
      if (!(value > 0) || !(ref > 0)) continue;
      (perFigure[name] ??= []).push(
        better === "higher" ? value / ref : ref / value,
      );
    }
  });
  const result = new Map<number, Record<string, number>>();
  for (const [server, perFigure] of ratios) {
    const medians: Record<string, number> = {};
    for (const [name, values] of Object.entries(perFigure)) {
      medians[name] = median(values);
    }
    result.set(server, medians);
  }
  return result;
}

/** The nearest baseline sample from `from` in `step`'s direction. */
function findBaseline(
  timeline: readonly Sample[],
  baseline: number,
  from: number,
  step: 1 | -1,
): Sample | undefined {
  for (let i = from + step; i >= 0 && i < timeline.length; i += step) {
    if (timeline[i].server === baseline) return timeline[i];
  }
  return undefined;
}
