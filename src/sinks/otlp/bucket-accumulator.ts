import type { HistogramBuckets } from '../../core/window.js';

/**
 * Running sum of base-2 exponential histogram buckets, for cumulative ExponentialHistogram points.
 * Windows normally share one scale; if a window arrives at a different scale, both sides are brought to the
 * coarser one (bucket i at scale s is bucket i >> d at scale s - d), as the OTel merge rule prescribes.
 */
export class BucketAccumulator {
  scale: number;
  offset = 0;
  counts: number[] = [];
  zeroCount = 0;

  constructor(scale: number) {
    this.scale = scale;
  }

  add(buckets: HistogramBuckets): void {
    this.zeroCount += buckets.zeroCount;
    if (buckets.scale < this.scale) this.downscaleTo(buckets.scale);
    const shift = buckets.scale - this.scale;
    const src = buckets.counts;
    if (src.length === 0) return;
    const lo = (buckets.offset >> shift);
    const hi = ((buckets.offset + src.length - 1) >> shift);
    this.ensureRange(lo, hi);
    for (let i = 0; i < src.length; i++) {
      const c = src[i];
      if (c !== 0) this.counts[((buckets.offset + i) >> shift) - this.offset] += c;
    }
  }

  /** A copy for a data point: the accumulator keeps changing after the point is built. */
  snapshot(): { scale: number; offset: number; counts: number[]; zeroCount: number } {
    return { scale: this.scale, offset: this.offset, counts: this.counts.slice(), zeroCount: this.zeroCount };
  }

  private ensureRange(lo: number, hi: number): void {
    if (this.counts.length === 0) {
      this.offset = lo;
      this.counts = new Array<number>(hi - lo + 1).fill(0);
      return;
    }
    const end = this.offset + this.counts.length - 1;
    if (lo < this.offset) {
      this.counts = new Array<number>(this.offset - lo).fill(0).concat(this.counts);
      this.offset = lo;
    }
    if (hi > end) {
      for (let i = end; i < hi; i++) this.counts.push(0);
    }
  }

  private downscaleTo(scale: number): void {
    const shift = this.scale - scale;
    this.scale = scale;
    if (this.counts.length === 0) return;
    const lo = this.offset >> shift;
    const hi = (this.offset + this.counts.length - 1) >> shift;
    const merged = new Array<number>(hi - lo + 1).fill(0);
    for (let i = 0; i < this.counts.length; i++) merged[((this.offset + i) >> shift) - lo] += this.counts[i];
    this.offset = lo;
    this.counts = merged;
  }
}
