/**
 * Exponential-histogram buckets -> the `Values`/`Counts` pairs of one MetricDatum, from which CloudWatch computes
 * percentiles across every pod that sends the same metric and dimensions.
 *
 * - Each non-empty bucket (l, u] becomes one value: the harmonic mean 2lu/(l+u), whose relative distance to any
 *   point of the bucket is at most (b-1)/(b+1) (0.54 % at scale 6), clamped to the window's [min, max].
 * - The window's exact min and max are sent as their own pairs (one count each, taken from the lowest and highest
 *   bucket), so CloudWatch's Minimum / Maximum are exact rather than bucket representatives.
 * - More than 150 pairs: neighbouring groups are merged, the pair whose merged span (in bucket widths, empty
 *   buckets included) is narrowest first, ties to the smaller count. The widest group, which bounds every
 *   quantile's error, stays as narrow as the limit allows, and where spans tie the dense middle of the
 *   distribution keeps the finer groups. A merged group's value is the count-weighted mean of its buckets' values.
 */
import type { HistogramBuckets } from '../../core/window.js';

/** PutMetricData accepts at most 150 values per datum. */
export const MAX_VALUES = 150;

const SPAN_UNIT = 2 ** 36;

export interface ValueCounts {
  readonly values: number[];
  readonly counts: number[];
}

/**
 * Scratch space reused across calls (conversion is synchronous and single-threaded), so converting a histogram
 * allocates only its output arrays.
 */
let capacity = 0;
let bucketIndex = new Int32Array(0);
let bucketCount = new Float64Array(0);
let bucketValue = new Float64Array(0);
let next = new Int32Array(0);
let prev = new Int32Array(0);
let version = new Int32Array(0);
let high = new Int32Array(0);
let total = new Float64Array(0);
let candLeft = new Int32Array(0);
let candLeftVersion = new Int32Array(0);
let candRight = new Int32Array(0);
let candRightVersion = new Int32Array(0);
let heapKey = new Float64Array(0);
let heapEntry = new Int32Array(0);

function reserve(n: number): void {
  if (n <= capacity) return;
  capacity = Math.max(n, 2 * capacity, 256);
  bucketIndex = new Int32Array(capacity);
  bucketCount = new Float64Array(capacity);
  bucketValue = new Float64Array(capacity);
  next = new Int32Array(capacity);
  prev = new Int32Array(capacity);
  version = new Int32Array(capacity);
  high = new Int32Array(capacity);
  total = new Float64Array(capacity);
  // Every merge adds at most two candidates to the n - 1 initial ones.
  candLeft = new Int32Array(3 * capacity);
  candLeftVersion = new Int32Array(3 * capacity);
  candRight = new Int32Array(3 * capacity);
  candRightVersion = new Int32Array(3 * capacity);
  heapKey = new Float64Array(3 * capacity);
  heapEntry = new Int32Array(3 * capacity);
}

export function histogramValues(buckets: HistogramBuckets, min: number, max: number, maxPairs = MAX_VALUES): ValueCounts | undefined {
  const source = buckets.counts;
  let zero = buckets.zeroCount > 0 ? buckets.zeroCount : 0;
  let sum = zero;
  let first = -1;
  let last = -1;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c > 0) {
      sum += c;
      if (first < 0) first = i;
      last = i;
    }
  }
  if (sum === 0) return undefined;

  const bounded = Number.isFinite(min) && Number.isFinite(max) && min <= max;
  // Recorded values are non-negative: a zero count means the true minimum is 0.
  if (bounded && zero > 0 && min > 0) min = 0;
  // One count moves from the lowest and from the highest bucket to the exact extremes.
  let takeFirst = 0;
  let takeLast = 0;
  const minPair = bounded;
  const maxPair = bounded && sum >= 2;
  if (minPair) {
    if (zero > 0) zero--;
    else takeFirst = 1;
  }
  if (maxPair) {
    if (last >= 0 && (last !== first || source[last] - takeFirst > 0)) takeLast = 1;
    else zero--;
  }

  // Non-empty buckets in order: index, count, representative value.
  reserve(last - first + 1);
  const inv = Math.pow(2, -buckets.scale);
  const base = Math.pow(2, inv);
  let n = 0;
  if (first >= 0) {
    // l * 2b/(1+b) equals 2lu/(l+u) without forming l*u (which overflows for huge values); stepping by the base
    // avoids a Math.pow per bucket and drifts by under 1e-12 over thousands of buckets.
    let value = Math.pow(2, (buckets.offset + first) * inv) * ((2 * base) / (1 + base));
    for (let i = first; i <= last; i++, value *= base) {
      let c = source[i];
      if (i === first) c -= takeFirst;
      if (i === last) c -= takeLast;
      if (!(c > 0)) continue;
      bucketIndex[n] = buckets.offset + i;
      bucketCount[n] = c;
      bucketValue[n] = bounded ? (value < min ? min : value > max ? max : value) : value;
      n++;
    }
  }

  const budget = Math.max(1, maxPairs - (minPair ? 1 : 0) - (maxPair ? 1 : 0) - (zero > 0 ? 1 : 0));
  if (n > budget) merge(n, budget);

  const out: ValueCounts = { values: [], counts: [] };
  if (minPair) append(out, min, 1);
  if (zero > 0) append(out, 0, zero);
  if (n > budget) {
    for (let g = 0; g < n; g = next[g]) {
      let c = 0;
      let weighted = 0;
      for (let i = g; i < next[g]; i++) {
        c += bucketCount[i];
        weighted += bucketValue[i] * bucketCount[i];
      }
      append(out, weighted / c, c);
    }
  } else {
    for (let i = 0; i < n; i++) append(out, bucketValue[i], bucketCount[i]);
  }
  if (maxPair) append(out, max, 1);
  return out;
}

function append(out: ValueCounts, value: number, count: number): void {
  if (!(count > 0)) return;
  const { values, counts } = out;
  const k = values.length;
  // Clamping can make neighbours equal; CloudWatch expects each value once.
  if (k > 0 && values[k - 1] === value) counts[k - 1] += count;
  else {
    values.push(value);
    counts.push(count);
  }
}

/**
 * Greedy adjacent merging of the n scratch buckets down to `budget` groups. Groups are runs of buckets named by
 * their first bucket; on return `next[g]` is the end (exclusive) of group g and the start of the following one.
 * A binary heap of candidate pairs keyed by one double (span * 2^36 + count, exact while counts stay below 2^36)
 * and invalidated lazily by version numbers: O(n log n), no allocation.
 */
function merge(n: number, budget: number): void {
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    version[i] = 0;
    high[i] = bucketIndex[i];
    total[i] = bucketCount[i];
  }
  let entries = 0;
  let size = 0;
  const keyOf = (l: number, r: number): number => (high[r] - bucketIndex[l] + 1) * SPAN_UNIT + Math.min(total[l] + total[r], SPAN_UNIT - 1);
  const record = (l: number, r: number): number => {
    const e = entries++;
    candLeft[e] = l;
    candLeftVersion[e] = version[l];
    candRight[e] = r;
    candRightVersion[e] = version[r];
    return e;
  };
  const siftDown = (start: number, key: number, entry: number): void => {
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heapKey[child + 1] < heapKey[child]) child++;
      if (heapKey[child] >= key) break;
      heapKey[i] = heapKey[child];
      heapEntry[i] = heapEntry[child];
      i = child;
    }
    heapKey[i] = key;
    heapEntry[i] = entry;
  };
  const add = (l: number, r: number): void => {
    const e = record(l, r);
    const key = keyOf(l, r);
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heapKey[parent] <= key) break;
      heapKey[i] = heapKey[parent];
      heapEntry[i] = heapEntry[parent];
      i = parent;
    }
    heapKey[i] = key;
    heapEntry[i] = e;
  };

  // Initial candidates, heapified in O(n).
  for (let i = 0; i + 1 < n; i++) {
    heapKey[size] = keyOf(i, i + 1);
    heapEntry[size] = record(i, i + 1);
    size++;
  }
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i, heapKey[i], heapEntry[i]);

  let groups = n;
  while (groups > budget && size > 0) {
    const e = heapEntry[0];
    size--;
    if (size > 0) siftDown(0, heapKey[size], heapEntry[size]);
    const a = candLeft[e];
    const b = candRight[e];
    // Stale when either side changed since the candidate was made: a group only ever absorbs its right
    // neighbour, and both the survivor and the absorbed group get a new version.
    if (version[a] !== candLeftVersion[e] || version[b] !== candRightVersion[e] || next[a] !== b) continue;
    high[a] = high[b];
    total[a] += total[b];
    version[a]++;
    version[b]++;
    next[a] = next[b];
    if (next[b] < n) prev[next[b]] = a;
    groups--;
    if (prev[a] >= 0) add(prev[a], a);
    if (next[a] < n) add(a, next[a]);
  }
}
