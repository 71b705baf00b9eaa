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

/** `factor` converts recorded values to the exposed unit (1 when there is no conversion). */
export function nativeHistogram(buckets: BucketsView, factor: number): NativeHistogram {
  const { scale, offset, counts } = buckets;
  const spans: BucketSpan[] = [];
  const deltas: number[] = [];
  let spanStart = 0;
  let spanLength = 0;
  let lastIndex = 0; // Prometheus index of the last bucket written
  let previous = 0;
  let pendingIndex = NaN;
  let pendingCount = 0;

  const write = (index: number, count: number): void => {
    if (spanLength > 0 && index - lastIndex - 1 <= MAX_GAP) {
      for (let gap = lastIndex + 1; gap < index; gap++) {
        deltas.push(-previous);
        previous = 0;
        spanLength++;
      }
    } else {
      if (spanLength > 0) spans.push({ offset: spanStart, length: spanLength });
      spanStart = spans.length === 0 ? index : index - lastIndex - 1;
      spanLength = 0;
    }
    deltas.push(count - previous);
    previous = count;
    spanLength++;
    lastIndex = index;
  };

  const shift = Math.log2(factor) * 2 ** scale;
  const exact = Number.isInteger(shift);
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i];
    if (count === 0) continue;
    if (exact) {
      write(offset + i + shift + 1, count);
      continue;
    }
    // Converted buckets keep their order (factor > 0), so equal targets are adjacent: sum them before writing.
    const target = indexOf(scale, bucketRepresentative(scale, offset + i) * factor) + 1;
    if (target === pendingIndex) pendingCount += count;
    else {
      if (pendingCount > 0) write(pendingIndex, pendingCount);
      pendingIndex = target;
      pendingCount = count;
    }
  }
  if (pendingCount > 0) write(pendingIndex, pendingCount);
  // `spanStart` of the first span is absolute; of later ones, the gap after the previous span.
  if (spanLength > 0) spans.push({ offset: spanStart, length: spanLength });
  if (spans.length === 0) spans.push({ offset: 0, length: 0 });
  return { schema: scale, zeroThreshold: ZERO_THRESHOLD, zeroCount: buckets.zeroCount, spans, deltas };
}
