/**
 * Classic `le` buckets for Prometheus histograms, derived from exponential buckets.
 *
 * `histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m])))` across pods needs the SAME `le` set on every pod and
 * on every scrape, so the set is fixed per metric, never derived from data. The default is powers of two (or
 * 2^(1/k) steps) over a range chosen from the unit: those bounds coincide with exponential bucket boundaries at any
 * scale >= log2(k), so the cumulative counts are exact, not interpolated.
 */
import { indexOf } from '../../core/histogram/index.js';
import type { HistogramBuckets } from '../../core/window.js';

/** Octave ranges [2^lo, 2^hi] in the recorded unit: a few dozen bounds covering what that unit usually measures. */
const DEFAULT_OCTAVES: Readonly<Record<string, readonly [number, number]>> = {
  s: [-14, 7], // 61 us .. 128 s
  ms: [-4, 17], // 62.5 us .. 131 s
  us: [6, 27], // 64 us .. 134 s
  ns: [16, 37], // 65 us .. 137 s
  By: [0, 30], // 1 B .. 1 GiB
  '1': [-10, 0], // ratios 0.001 .. 1
};
const FALLBACK_OCTAVES: readonly [number, number] = [-10, 20]; // 0.001 .. 1,048,576

/** Bounds 2^(i / perOctave) for i from minExponent*perOctave to maxExponent*perOctave. */
export function powerOfTwoBuckets(minExponent: number, maxExponent: number, perOctave = 1): number[] {
  if (!Number.isInteger(minExponent) || !Number.isInteger(maxExponent) || minExponent > maxExponent) {
    throw new RangeError(`powerOfTwoBuckets: need integers minExponent <= maxExponent, got ${minExponent}, ${maxExponent}`);
  }
  if (![1, 2, 4, 8, 16].includes(perOctave)) {
    throw new RangeError(`powerOfTwoBuckets: perOctave must be 1, 2, 4, 8 or 16, got ${perOctave}`);
  }
  const out: number[] = [];
  for (let i = minExponent * perOctave; i <= maxExponent * perOctave; i++) out.push(Math.pow(2, i / perOctave));
  return out;
}

export function defaultBuckets(unit: string, perOctave = 1): number[] {
  const stripped = unit.replace(/\{[^}]*\}/g, '').trim();
  const [lo, hi] = DEFAULT_OCTAVES[stripped] ?? FALLBACK_OCTAVES;
  return powerOfTwoBuckets(lo, hi, perOctave);
}

/** Why a user-supplied bound list is unusable, or undefined when it is fine (finite, >= 0, strictly increasing). */
export function invalidBuckets(bounds: readonly number[]): string | undefined {
  if (bounds.length === 0) return 'empty';
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i];
    if (!Number.isFinite(b) || b < 0) return `bound ${b} is not a finite number >= 0`;
    if (i > 0 && !(b > bounds[i - 1])) return `bounds must increase strictly (${bounds[i - 1]}, ${b})`;
  }
  return undefined;
}

/**
 * For each bound, the largest absolute exponential index at `scale` whose bucket's upper edge 2^((i+1)/2^scale) is
 * at or below the bound: computed once per metric and scale, so adding a window compares integers only.
 * Exact for power-of-two bounds; a custom bound inside a bucket sends that bucket to the next bound (one bucket,
 * 0.54 % wide at scale 6, of error).
 */
export function boundThresholds(bounds: readonly number[], scale: number): Float64Array {
  // A bound on a bucket's upper edge (up to pow's rounding, e.g. 2^(1/2)) is nudged into the next bucket, so the
  // bucket below it counts as fully under the bound; a bound inside a bucket leaves that bucket to the next bound.
  return Float64Array.from(bounds, (b) => (b <= 0 ? -Infinity : indexOf(scale, b * (1 + 1e-12)) - 1));
}

/**
 * Adds one window's exponential buckets to per-bound (non-cumulative) counts: `into[j]` counts values in
 * (bounds[j-1], bounds[j]]; values above the last bound are not stored (they are count - sum(into)).
 * `thresholds` comes from `boundThresholds(bounds, buckets.scale)`.
 */
export function addToBounds(thresholds: Float64Array, into: Float64Array, buckets: HistogramBuckets): void {
  if (buckets.zeroCount > 0) into[0] += buckets.zeroCount;
  let j = 0;
  const n = thresholds.length;
  const counts = buckets.counts;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    const index = buckets.offset + i;
    while (j < n && index > thresholds[j]) j++;
    if (j === n) return;
    into[j] += c;
  }
}
