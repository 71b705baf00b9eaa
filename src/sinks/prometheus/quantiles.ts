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

/**
 * Running sum of the exponential buckets of the last few windows: a window is added when it arrives and
 * subtracted when it ages out (counts are integers, so the subtraction is exact), so a scrape reads the merged
 * histogram in one pass instead of re-merging every window. A window at a coarser scale folds the sum onto it.
 */
export class SlidingHistogram implements MergedBuckets {
  scale = 0;
  offset = 0;
  counts = new Float64Array(0);
  zeroCount = 0;
  total = 0;

  add(buckets: HistogramBuckets): void {
    this.apply(buckets, 1);
  }

  remove(buckets: HistogramBuckets): void {
    this.apply(buckets, -1);
  }

  private apply(b: HistogramBuckets, sign: 1 | -1): void {
    if (this.total === 0 && sign === 1) this.reset(b.scale);
    else if (b.scale < this.scale) this.fold(b.scale);
    const shift = b.scale - this.scale;
    this.zeroCount += sign * b.zeroCount;
    this.total += sign * b.zeroCount;
    if (b.counts.length > 0) {
      this.ensure(b.offset >> shift, (b.offset + b.counts.length - 1) >> shift);
      for (let i = 0; i < b.counts.length; i++) {
        const c = b.counts[i];
        if (c === 0) continue;
        this.counts[((b.offset + i) >> shift) - this.offset] += sign * c;
        this.total += sign * c;
      }
    }
  }

  private reset(scale: number): void {
    this.scale = scale;
    this.counts.fill(0);
    this.zeroCount = 0;
    this.total = 0;
  }

  /** Makes absolute indexes lo..hi addressable, with an octave of headroom so a drifting range rarely reallocates. */
  private ensure(lo: number, hi: number): void {
    const end = this.offset + this.counts.length;
    const empty = this.counts.length === 0;
    if (!empty && lo >= this.offset && hi < end) return;
    const margin = 1 << this.scale;
    const newLo = empty ? lo - margin : Math.min(lo - margin, this.offset);
    const newHi = empty ? hi + margin : Math.max(hi + margin, end - 1);
    const next = new Float64Array(newHi - newLo + 1);
    if (!empty) next.set(this.counts, this.offset - newLo);
    this.counts = next;
    this.offset = newLo;
  }

  private fold(scale: number): void {
    const shift = this.scale - scale;
    const lo = this.offset >> shift;
    const next = new Float64Array(((this.offset + this.counts.length - 1) >> shift) - lo + 1);
    for (let i = 0; i < this.counts.length; i++) next[((this.offset + i) >> shift) - lo] += this.counts[i];
    this.counts = next;
    this.offset = lo;
    this.scale = scale;
  }
}

/** Several quantiles in one pass; `qs` ascending. Same definition as `quantileOf`. */
export function quantilesOf(merged: MergedBuckets, qs: readonly number[], min: number, max: number): number[] {
  const out = new Array<number>(qs.length).fill(NaN);
  if (merged.total === 0) return out;
  const rank = (q: number): number => Math.max(1, Math.ceil(q * merged.total));
  const clamp = (v: number): number => (v < min ? min : v > max ? max : v);
  let k = 0;
  let seen = merged.zeroCount;
  while (k < qs.length && rank(qs[k]) <= seen) out[k++] = clamp(0);
  for (let i = 0; i < merged.counts.length && k < qs.length; i++) {
    const c = merged.counts[i];
    if (c === 0) continue;
    seen += c;
    if (rank(qs[k]) > seen) continue;
    const value = clamp(bucketRepresentative(merged.scale, merged.offset + i));
    while (k < qs.length && rank(qs[k]) <= seen) out[k++] = value;
  }
  while (k < qs.length) out[k++] = clamp(max);
  return out;
}
