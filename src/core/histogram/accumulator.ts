/**
 * A running sum of base-2 exponential histograms (positive buckets plus a zero bucket): add a window, subtract one
 * that ages out (counts are integers, so the subtraction is exact), downscale to a coarser scale. It backs
 * Prometheus' sliding-window quantiles and cumulative histograms and OTLP's cumulative points.
 *
 * Histograms of different scales meet at the coarser one: bucket i at scale s is bucket i >> d at scale s - d
 * (the OTel merge rule; `>>` floors, which keeps the upper-inclusive layout). An accumulator holding no positive
 * bucket takes the scale of the next histogram that has one, so a sliding window regains the fine scale once a
 * coarse window ages out, and a histogram without positive buckets never coarsens it.
 */
import type { HistogramBuckets } from '../window.js';

/** What the accumulator reads: a Window's buckets or another accumulator. */
export interface BucketsView {
  readonly scale: number;
  /** Absolute index of counts[0]. */
  readonly offset: number;
  readonly counts: ArrayLike<number>;
  readonly zeroCount: number;
}

export class BucketAccumulator implements BucketsView {
  scale: number;
  /** Absolute index of counts[0]; `counts` keeps zero headroom on both sides so a drifting range rarely reallocates. */
  offset = 0;
  counts = new Float64Array(0);
  zeroCount = 0;
  /** zeroCount + every bucket count. */
  total = 0;

  /** `scale` is where an accumulator starts before it is given anything, and never refines past. */
  constructor(readonly maxScale = 20) {
    this.scale = maxScale;
  }

  add(buckets: BucketsView): void {
    this.apply(buckets, 1);
  }

  /** Removes a histogram added before (a window leaving a sliding window). */
  subtract(buckets: BucketsView): void {
    this.apply(buckets, -1);
  }

  /** Coarsens to `scale` (no-op when already at or below it). */
  downscaleTo(scale: number): void {
    if (scale >= this.scale) return;
    const shift = this.scale - scale;
    this.scale = scale;
    if (this.counts.length === 0) return;
    const lo = this.offset >> shift;
    const next = new Float64Array(((this.offset + this.counts.length - 1) >> shift) - lo + 1);
    for (let i = 0; i < this.counts.length; i++) next[((this.offset + i) >> shift) - lo] += this.counts[i];
    this.counts = next;
    this.offset = lo;
  }

  clear(): void {
    this.counts.fill(0);
    this.zeroCount = 0;
    this.total = 0;
    this.scale = this.maxScale;
  }

  /** Absolute index of the lowest / highest non-empty bucket; first > last when there is none. */
  range(): { first: number; last: number } {
    let lo = 0;
    let hi = this.counts.length - 1;
    while (lo <= hi && this.counts[lo] === 0) lo++;
    while (hi >= lo && this.counts[hi] === 0) hi--;
    return { first: this.offset + lo, last: this.offset + hi };
  }

  /** A trimmed copy in the Window's layout: the accumulator keeps changing after it is read. */
  toBuckets(): HistogramBuckets & { readonly counts: number[] } {
    const { first, last } = this.range();
    const counts: number[] = [];
    for (let i = first; i <= last; i++) counts.push(this.counts[i - this.offset]);
    return { scale: this.scale, offset: counts.length > 0 ? first : 0, counts, zeroCount: this.zeroCount };
  }

  private apply(b: BucketsView, sign: 1 | -1): void {
    this.zeroCount += sign * b.zeroCount;
    this.total += sign * b.zeroCount;
    const src = b.counts;
    let first = 0;
    let last = src.length - 1;
    while (first <= last && src[first] === 0) first++;
    while (last >= first && src[last] === 0) last--;
    // No positive buckets coming: nothing to place, and no reason to coarsen.
    if (first > last) return;
    if (sign === 1 && this.total === this.zeroCount) {
      // No positive buckets held: any scale is exact, so take the incoming one (capped) and start fresh.
      this.counts.fill(0);
      this.scale = Math.min(b.scale, this.maxScale);
    } else if (b.scale < this.scale) {
      this.downscaleTo(b.scale);
    }
    const shift = b.scale - this.scale;
    this.ensure((b.offset + first) >> shift, (b.offset + last) >> shift);
    const counts = this.counts;
    const base = this.offset;
    let added = 0;
    if (shift === 0) {
      const at = b.offset - base;
      for (let i = first; i <= last; i++) {
        const c = src[i];
        counts[at + i] += sign * c;
        added += c;
      }
    } else {
      for (let i = first; i <= last; i++) {
        const c = src[i];
        if (c === 0) continue;
        counts[((b.offset + i) >> shift) - base] += sign * c;
        added += c;
      }
    }
    this.total += sign * added;
  }

  /** Makes absolute indexes lo..hi addressable, with an octave of headroom each side. */
  private ensure(lo: number, hi: number): void {
    const end = this.offset + this.counts.length;
    const empty = this.counts.length === 0;
    if (!empty && lo >= this.offset && hi < end) return;
    const margin = this.scale > 0 ? 1 << Math.min(this.scale, 8) : 1;
    const newLo = empty ? lo - margin : Math.min(lo - margin, this.offset);
    const newHi = empty ? hi + margin : Math.max(hi + margin, end - 1);
    const next = new Float64Array(newHi - newLo + 1);
    if (!empty) next.set(this.counts, this.offset - newLo);
    this.counts = next;
    this.offset = newLo;
  }
}
