/**
 * A Prometheus native histogram from the sink's cumulative exponential buckets (core/histogram's accumulator).
 *
 * - schema = the buckets' scale (the accumulator caps it at 8, Prometheus' finest; a coarser window downscales it).
 * - Prometheus' bucket index j covers (base^(j-1), base^j]; OTel's (and ours) i covers (base^i, base^(i+1)], so
 *   j = i + 1.
 * - The zero bucket holds the recorded zeros. Its threshold is client_golang's default 2^-128, far below the
 *   smallest bucket the lanes record (2^-20): a threshold above 0 also tells Prometheus 2.42, which decides by
 *   zero threshold, zero count and buckets, that a histogram with no recording yet is native, not classic.
 * - Spans bridge gaps of up to two empty buckets (a zero delta is cheaper than a new span); deltas run across spans.
 * - A unit conversion (`baseUnits`) by a power of two shifts the indexes exactly; any other factor (ms -> s) moves
 *   each bucket's count to the bucket holding its converted representative, which adds up to one bucket of error.
 */
import { bucketRepresentative, indexOf, type BucketsView } from '../../core/histogram/index.js';

/** client_golang's DefNativeHistogramZeroThreshold. */
export const ZERO_THRESHOLD = 2 ** -128;

export interface BucketSpan {
  readonly offset: number;
  readonly length: number;
}

export interface NativeHistogram {
  readonly schema: number;
  readonly zeroThreshold: number;
  readonly zeroCount: number;
  /** Never empty: a histogram without buckets has the no-op span {0, 0}. */
  readonly spans: readonly BucketSpan[];
  readonly deltas: readonly number[];
}

const MAX_GAP = 2;

/** Scratch for the histogram being converted: Prometheus index and count of each non-empty bucket. */
let indexes = new Int32Array(1024);
let values = new Float64Array(1024);

/** `factor` converts recorded values to the exposed unit (1 when there is no conversion). */
export function nativeHistogram(buckets: BucketsView, factor: number): NativeHistogram {
  const { scale, offset, counts } = buckets;
  if (counts.length > indexes.length) {
    indexes = new Int32Array(counts.length);
    values = new Float64Array(counts.length);
  }
  // 1. Non-empty buckets in Prometheus' indexing.
  let n = 0;
  const shift = Math.log2(factor) * 2 ** scale;
  if (Number.isInteger(shift)) {
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      indexes[n] = offset + i + shift + 1;
      values[n++] = counts[i];
    }
  } else {
    // Converted buckets keep their order (factor > 0), so equal targets are adjacent: sum them.
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      const target = indexOf(scale, bucketRepresentative(scale, offset + i) * factor) + 1;
      if (n > 0 && indexes[n - 1] === target) values[n - 1] += counts[i];
      else {
        indexes[n] = target;
        values[n++] = counts[i];
      }
    }
  }
  // 2. Spans (bridging gaps of up to MAX_GAP empty buckets) and deltas.
  const spans: BucketSpan[] = [];
  const deltas: number[] = [];
  let previous = 0;
  let spanStart = 0;
  let spanLength = 0;
  for (let k = 0; k < n; k++) {
    const index = indexes[k];
    if (k > 0 && index - indexes[k - 1] - 1 <= MAX_GAP) {
      for (let gap = indexes[k - 1] + 1; gap < index; gap++) {
        deltas.push(-previous);
        previous = 0;
        spanLength++;
      }
    } else if (k > 0) {
      spans.push({ offset: spanStart, length: spanLength });
      spanStart = index - indexes[k - 1] - 1; // later spans: the gap after the previous one
      spanLength = 0;
    } else {
      spanStart = index; // the first span: absolute
    }
    deltas.push(values[k] - previous);
    previous = values[k];
    spanLength++;
  }
  if (spanLength > 0) spans.push({ offset: spanStart, length: spanLength });
  if (spans.length === 0) spans.push({ offset: 0, length: 0 });
  return { schema: scale, zeroThreshold: ZERO_THRESHOLD, zeroCount: buckets.zeroCount, spans, deltas };
}
