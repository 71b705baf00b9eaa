/**
 * What a histogram SeriesWindow carries beyond its buckets: P50, P90, P95 and P99, clamped to [min, max]. One
 * definition for the sealer and for every place that merges two windows' histograms (a second cut by flush(), two
 * series a backend cannot hold apart).
 */
import type { HistogramBuckets } from '../window.js';
import { BucketAccumulator } from './accumulator.js';
import { quantilesInto } from './quantiles.js';

/** The quantiles of every histogram window, in the order of its p50, p90, p95, p99 fields. */
export const WINDOW_QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;

export interface MergedHistogram {
  readonly buckets: HistogramBuckets;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
}

/** Adds two windows' buckets (at the coarser scale: base-2 buckets nest) and computes the quantiles of the sum. */
export function mergeWindowHistograms(a: HistogramBuckets, b: HistogramBuckets, min: number, max: number): MergedHistogram {
  const accumulated = new BucketAccumulator(Math.max(a.scale, b.scale));
  accumulated.add(a);
  accumulated.add(b);
  const buckets = accumulated.toBuckets();
  const q = new Float64Array(WINDOW_QUANTILES.length);
  quantilesInto(buckets, WINDOW_QUANTILES, min, max, q);
  return {
    buckets: Object.freeze({ ...buckets, counts: Object.freeze(buckets.counts) }),
    p50: q[0],
    p90: q[1],
    p95: q[2],
    p99: q[3],
  };
}
