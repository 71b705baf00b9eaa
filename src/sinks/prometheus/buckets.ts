/**
 * Classic `le` buckets for Prometheus histograms, derived from exponential buckets.
 *
 * `histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m])))` across pods needs the SAME `le` set on every pod and
 * on every scrape, so the set is fixed per metric, never derived from data. The default is powers of two (or
 * 2^(1/k) steps) over a range chosen from the unit: those bounds coincide with exponential bucket boundaries at any
 * scale >= log2(k), so the cumulative counts are exact, not interpolated.
 */
import type { HistogramBuckets } from '../../core/window.js';
import { upperBound } from './quantiles.js';

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

const EPSILON = 1e-12;

/**
 * Adds one window's exponential buckets to per-bound (non-cumulative) counts: `into[j]` counts values in
 * (bounds[j-1], bounds[j]]; values above the last bound are not stored (they are count - sum(into)).
 * An exponential bucket goes to the first bound at or above its upper edge, which is exact for power-of-two bounds;
 * a custom bound that falls inside a bucket is off by at most that one bucket (0.54 % wide at scale 6).
 */
export function addToBounds(bounds: readonly number[], into: Float64Array, buckets: HistogramBuckets): void {
  if (buckets.zeroCount > 0) into[0] += buckets.zeroCount;
  let j = 0;
  const n = bounds.length;
  for (let i = 0; i < buckets.counts.length; i++) {
    const c = buckets.counts[i];
    if (c === 0) continue;
    const upper = upperBound(buckets.scale, buckets.offset + i);
    while (j < n && upper > bounds[j] * (1 + EPSILON)) j++;
    if (j === n) return;
    into[j] += c;
  }
}
