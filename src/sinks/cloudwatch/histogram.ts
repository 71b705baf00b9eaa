/**
 * Exponential-histogram buckets -> the `Values`/`Counts` pairs of one MetricDatum, from which CloudWatch computes
 * percentiles across every pod that sends the same metric and dimensions (each value counted Count times).
 *
 * - Each non-empty bucket becomes one value, its representative (core/histogram: within 0.54 % of every point of
 *   the bucket at scale 6), clamped to the window's [min, max].
 * - The window's exact min and max are sent as their own pairs (one count each, taken from the lowest and highest
 *   bucket), so CloudWatch's Minimum / Maximum are exact rather than bucket representatives.
 * - More than 150 pairs: the buckets around the ranks of the quantiles people read (P50, P90, P95, P99, P99.9)
 *   stay unmerged, growing outwards from each rank while the budget allows, and the rest (tails and the gaps
 *   between those neighbourhoods) is merged into groups of even width in log space, as narrow as the budget allows.
 *   A merged group's value is the count-weighted mean of its buckets' values, so Sum stays right.
 *
 * Why (measured by `npm run bench:cloudwatch-values` -> bench/results/cloudwatch-values.json, 8 distributions x
 * 2k/20k/100k values x 3 seeds, CloudWatch's percentile computed from its documented definition): a percentile
 * CloudWatch computes from the pairs is within 1 % only if the pair carrying its rank is one bucket (or a group
 * as narrow as ~2 %). Worst P50/P90/P95/P99 error, one datum / a fleet of 30 datums (3 pods x 10 s):
 *   - downscale the whole histogram evenly until it fits: 8.1 % / 8.5 % (scale 2 over a lognormal of sigma 2.5);
 *   - merge neighbours to even width everywhere (the previous encoding): 5.8 % / 1.8 %;
 *   - keep the quantiles' neighbourhoods whole, 35 % of the pairs for the rest (this): 0.54 % / 0.54 %,
 *     P99.9 0.53 %. With 20 % (coarser gaps) or 50 % (narrower neighbourhoods) for the rest the fleet error
 *     reached 1.1 %; neighbourhoods capped at 2 instead of 4 standard deviations gave 0.57 %.
 * The price: percentiles that are not kept (P25, P75, P80) of very wide distributions are coarser, up to 12-18 %
 * off for a lognormal of sigma 2.5 (previously 4-6 %); no 150-pair encoding of 30 octaves has both.
 * Cost: ~55 us per datum of 1,300 non-empty buckets (the previous heap-based merge took ~400 us).
 */
import { bucketRepresentatives } from '../../core/histogram/index.js';
import type { HistogramBuckets } from '../../core/window.js';

/** PutMetricData accepts at most 150 values per datum. */
export const MAX_VALUES = 150;

/** Quantiles whose buckets are kept unmerged (the ones dashboards and scaling policies read). */
export const KEPT_QUANTILES: readonly number[] = [0.5, 0.9, 0.95, 0.99, 0.999];

/** Share of the pairs left for the tails and gaps when the kept neighbourhoods would take everything. */
export const TAIL_SHARE = 0.35;

/** Largest neighbourhood kept around a quantile, in sampling standard deviations of its rank. */
export const MAX_SPREAD = 4;

export interface ValueCounts {
  readonly values: number[];
  readonly counts: number[];
}

export interface ValuesOptions {
  readonly maxPairs?: number;
  readonly keep?: readonly number[];
  readonly tailShare?: number;
  /** Largest neighbourhood, in sampling standard deviations of each quantile's rank. */
  readonly maxSpread?: number;
}

/**
 * Scratch space reused across calls (conversion is synchronous and single-threaded), so converting a histogram
 * allocates only its output arrays.
 */
let capacity = 0;
let bucketIndex = new Int32Array(0);
let bucketCount = new Float64Array(0);
let bucketValue = new Float64Array(0);
let representative = new Float64Array(0);
let kept = new Uint8Array(0);
let cumulative = new Float64Array(0);
let next = new Int32Array(0);
/** Kept span per quantile (positions in the scratch buckets); at most MAX_KEPT quantiles are kept. */
const MAX_KEPT = 16;
const spanLow = new Int32Array(MAX_KEPT);
const spanHigh = new Int32Array(MAX_KEPT);

function reserve(n: number): void {
  if (n <= capacity) return;
  capacity = Math.max(n, 2 * capacity, 256);
  bucketIndex = new Int32Array(capacity);
  bucketCount = new Float64Array(capacity);
  bucketValue = new Float64Array(capacity);
  representative = new Float64Array(capacity);
  kept = new Uint8Array(capacity);
  cumulative = new Float64Array(capacity);
  next = new Int32Array(capacity);
}

export function histogramValues(buckets: HistogramBuckets, min: number, max: number, options: ValuesOptions = {}): ValueCounts | undefined {
  const maxPairs = options.maxPairs ?? MAX_VALUES;
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
  let n = 0;
  if (first >= 0) {
    reserve(last - first + 1);
    bucketRepresentatives(buckets.scale, buckets.offset + first, last - first + 1, representative);
    for (let i = first; i <= last; i++) {
      let c = source[i];
      if (i === first) c -= takeFirst;
      if (i === last) c -= takeLast;
      if (!(c > 0)) continue;
      const value = representative[i - first];
      bucketIndex[n] = buckets.offset + i;
      bucketCount[n] = c;
      bucketValue[n] = bounded ? (value < min ? min : value > max ? max : value) : value;
      n++;
    }
  }

  const budget = Math.max(1, maxPairs - (minPair ? 1 : 0) - (maxPair ? 1 : 0) - (zero > 0 ? 1 : 0));
  const merging = n > budget;
  if (merging) {
    const below = (minPair ? 1 : 0) + (zero > 0 ? zero : 0);
    keepQuantileBuckets(n, budget, below, sum, options.keep ?? KEPT_QUANTILES, options.tailShare ?? TAIL_SHARE, options.maxSpread ?? MAX_SPREAD);
    merge(n, budget);
  }

  const out: ValueCounts = { values: [], counts: [] };
  if (minPair) append(out, min, 1);
  if (zero > 0) append(out, 0, zero);
  if (merging) {
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
 * Marks in `kept` the buckets to send unmerged. Around each quantile q of the N values, the buckets holding the
 * ranks within qN +- k * sqrt(q(1-q)N) (k sampling standard deviations of that rank, so P50's neighbourhood is
 * wider in ranks than P99's), with the largest k <= maxSpread that fits the budget; always at least the buckets
 * holding ranks ceil(qN) and floor(qN) + 1 (CloudWatch may take either). Another pod's or second's quantile
 * differs from this datum's by about that sampling noise, so a fleet's quantile usually lands in kept buckets too.
 * `below` counts the values under the first bucket (the min pair and the zeros); `all` every value.
 */
function keepQuantileBuckets(n: number, budget: number, below: number, all: number, quantiles: readonly number[], tailShare: number, maxSpread: number): void {
  kept.fill(0, 0, n);
  const m = Math.min(quantiles.length, MAX_KEPT);
  if (m === 0) return;
  // Each run of unkept buckets needs a group; beyond that, the rest gets `tailShare` of the budget.
  const keepBudget = Math.min(budget - (m + 1), Math.floor(budget * (1 - tailShare)));
  if (keepBudget <= 0) return;
  let seen = below;
  for (let i = 0; i < n; i++) cumulative[i] = seen += bucketCount[i];
  const spans = (k: number): number => {
    for (let j = 0; j < m; j++) {
      const q = quantiles[j];
      const centre = q * all;
      const spread = k * Math.sqrt(q * (1 - q) * all);
      const from = Math.min(Math.ceil(centre), Math.ceil(centre - spread));
      const to = Math.max(Math.floor(centre) + 1, Math.floor(centre + spread));
      // Ranks on the min pair, the zeros or the max pair have no bucket to keep.
      const inside = to > below && from <= seen;
      spanLow[j] = inside ? positionOfRank(n, from > below ? from : below + 1) : 0;
      spanHigh[j] = inside ? positionOfRank(n, to < seen ? to : seen) : -1;
    }
    return unionSize(m);
  };
  let fits = 0;
  if (spans(0) > keepBudget) {
    // Not even the quantiles' own buckets fit (a tiny maxPairs): keep what fits, lowest quantile first.
    let count = 0;
    for (let j = 0; j < m; j++) {
      for (let i = spanLow[j]; i <= spanHigh[j] && count < keepBudget; i++) {
        if (kept[i] === 0) count++;
        kept[i] = 1;
      }
    }
    return;
  }
  if (spans(maxSpread) <= keepBudget) fits = maxSpread;
  else {
    let fails = maxSpread;
    for (let step = 0; step < 12; step++) {
      const k = (fits + fails) / 2;
      if (spans(k) <= keepBudget) fits = k;
      else fails = k;
    }
  }
  spans(fits);
  for (let j = 0; j < m; j++) kept.fill(1, spanLow[j], spanHigh[j] + 1);
}

/** Buckets covered by the union of the spans [spanLow[j], spanHigh[j]] (empty when high < low). */
function unionSize(m: number): number {
  // Few spans: pick the next lowest start each round instead of sorting.
  let size = 0;
  let end = -1;
  let done = 0;
  for (let round = 0; round < m; round++) {
    let pick = -1;
    for (let j = 0; j < m; j++) if ((done & (1 << j)) === 0 && (pick < 0 || spanLow[j] < spanLow[pick])) pick = j;
    done |= 1 << pick;
    const from = Math.max(spanLow[pick], end + 1);
    if (spanHigh[pick] >= from) {
      size += spanHigh[pick] - from + 1;
      end = spanHigh[pick];
    }
  }
  return size;
}

/** Position of the bucket holding the 1-based rank (binary search over `cumulative`), or -1 beyond the buckets. */
function positionOfRank(n: number, rank: number): number {
  let a = 0;
  let b = n - 1;
  if (n === 0 || cumulative[b] < rank) return -1;
  while (a < b) {
    const m = (a + b) >> 1;
    if (cumulative[m] >= rank) b = m;
    else a = m + 1;
  }
  return a;
}

/**
 * Groups the buckets that are not kept into runs of at most W bucket widths (empty buckets included, never across
 * a kept bucket), with the smallest W that brings the pairs within `budget`: a left-to-right sweep makes the
 * fewest groups for a given W, so a binary search on W finds the narrowest widest group, i.e. the even log-scale
 * resolution the budget allows. O(n log range), no allocation. On return `next[g]` is the end (exclusive) of
 * group g and the start of the following one.
 */
function merge(n: number, budget: number): void {
  let lo = 1;
  let hi = bucketIndex[n - 1] - bucketIndex[0] + 1;
  while (lo < hi) {
    const width = lo + ((hi - lo) >> 1);
    if (sweep(n, width, false) <= budget) hi = width;
    else lo = width + 1;
  }
  sweep(n, lo, true);
}

function sweep(n: number, width: number, link: boolean): number {
  const index = bucketIndex;
  const keep = kept;
  let groups = 0;
  let i = 0;
  while (i < n) {
    const start = i++;
    if (keep[start] === 0) {
      const limit = index[start] + width;
      while (i < n && keep[i] === 0 && index[i] < limit) i++;
    }
    if (link) next[start] = i;
    groups++;
  }
  return groups;
}
