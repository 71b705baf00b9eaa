/**
 * Pure functions over base-2 exponential histograms (the Window's `HistogramBuckets` layout): exact merge of
 * several windows and quantiles re-derived from the merged counts. Kept free of sink state so the core can share them.
 */
import type { HistogramBuckets } from '../../core/window.js';

export interface MergedBuckets {
  readonly scale: number;
  /** Absolute index of counts[0]; bucket i covers (base^(offset+i), base^(offset+i+1)]. */
  readonly offset: number;
  readonly counts: Float64Array;
  readonly zeroCount: number;
  /** zeroCount + every count. */
  readonly total: number;
}

/**
 * Sums histograms bucket by bucket. At one scale this is exact; a finer histogram is first folded to the coarsest
 * scale present (index >> d keeps the upper-inclusive layout), which is exact at that coarser scale.
 */
export function mergeExponential(list: readonly HistogramBuckets[]): MergedBuckets | undefined {
  if (list.length === 0) return undefined;
  let scale = Infinity;
  for (const h of list) scale = Math.min(scale, h.scale);
  let lo = Infinity;
  let hi = -Infinity;
  let zeroCount = 0;
  for (const h of list) {
    zeroCount += h.zeroCount;
    if (h.counts.length === 0) continue;
    const shift = h.scale - scale;
    lo = Math.min(lo, h.offset >> shift);
    hi = Math.max(hi, (h.offset + h.counts.length - 1) >> shift);
  }
  const counts = new Float64Array(hi >= lo ? hi - lo + 1 : 0);
  let total = zeroCount;
  for (const h of list) {
    const shift = h.scale - scale;
    for (let i = 0; i < h.counts.length; i++) {
      const c = h.counts[i];
      if (c === 0) continue;
      counts[((h.offset + i) >> shift) - lo] += c;
      total += c;
    }
  }
  return { scale, offset: counts.length === 0 ? 0 : lo, counts, zeroCount, total };
}

export function lowerBound(scale: number, index: number): number {
  return Math.pow(2, index / 2 ** scale);
}

export function upperBound(scale: number, index: number): number {
  return Math.pow(2, (index + 1) / 2 ** scale);
}

/** Harmonic mean 2lu/(l+u): its relative error against any value in (l, u] is at most (base-1)/(base+1). */
export function bucketRepresentative(scale: number, index: number): number {
  const l = lowerBound(scale, index);
  const u = upperBound(scale, index);
  return (2 * l * u) / (l + u);
}

/**
 * Nearest-rank quantile (the value of rank ceil(q * n), what an exact sort returns) from merged buckets,
 * clamped to the observed [min, max]. NaN when there is nothing to rank.
 */
export function quantileOf(merged: MergedBuckets, q: number, min: number, max: number): number {
  if (merged.total === 0 || !(q >= 0 && q <= 1)) return NaN;
  const rank = Math.max(1, Math.ceil(q * merged.total));
  let value = max;
  if (rank <= merged.zeroCount) {
    value = 0;
  } else {
    let seen = merged.zeroCount;
    for (let i = 0; i < merged.counts.length; i++) {
      seen += merged.counts[i];
      if (seen >= rank) {
        value = bucketRepresentative(merged.scale, merged.offset + i);
        break;
      }
    }
  }
  if (value < min) return min;
  if (value > max) return max;
  return value;
}
