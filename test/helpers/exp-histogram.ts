import { bucketMapping, bucketRepresentative } from '../../src/core/histogram/index.js';
import type { HistogramBuckets } from '../../src/core/window.js';

/** The exponential histogram the core would seal for these values (positive range plus a zero bucket). */
export function histogramOf(
  values: readonly number[],
  scale = 6,
): { buckets: HistogramBuckets; count: number; sum: number; min: number; max: number } {
  const mapping = bucketMapping(scale);
  const dense = new Float64Array(mapping.size);
  let zeroCount = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let lo = mapping.size;
  let hi = -1;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zeroCount++;
    else {
      const i = mapping.denseIndex(v);
      dense[i]++;
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
  }
  const counts = Array.from(dense.subarray(lo, hi + 1));
  return {
    buckets: { scale, offset: counts.length > 0 ? mapping.offset + lo : 0, counts, zeroCount },
    count: values.length,
    sum,
    min: values.length > 0 ? min : NaN,
    max: values.length > 0 ? max : NaN,
  };
}

/** Nearest rank: the value of rank ceil(q * n) in sorted order, what a user means by "the P99 of these samples". */
export function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latency-like samples: log-normal around `median`, a heavy tail. */
export function latencies(n: number, median: number, seed: number): number[] {
  const next = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u1 = next() || 1e-12;
    const u2 = next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    out.push(median * Math.exp(0.8 * z));
  }
  return out;
}

// --- Reference implementations: deliberately the plainest code, for tests to compare the module with. ---

/** Bucket index straight from the definition (base^i, base^(i+1)]: log2, then a correction against Math.pow bounds. */
export function referenceIndex(scale: number, value: number): number {
  const perOctave = 2 ** scale;
  let i = Math.ceil(Math.log2(value) * perOctave) - 1;
  while (value <= Math.pow(2, i / perOctave)) i--;
  while (value > Math.pow(2, (i + 1) / perOctave)) i++;
  return i;
}

export interface PlainBuckets {
  scale: number;
  offset: number;
  counts: number[];
  zeroCount: number;
}

/** A fresh merge of several histograms at the coarsest scale among them, trimmed (offset 0 when empty). */
export function mergeReference(list: readonly { scale: number; offset: number; counts: ArrayLike<number>; zeroCount: number }[]): PlainBuckets {
  const scale = Math.min(...list.map((h) => h.scale));
  const byIndex = new Map<number, number>();
  let zeroCount = 0;
  for (const h of list) {
    zeroCount += h.zeroCount;
    for (let i = 0; i < h.counts.length; i++) {
      if (h.counts[i] === 0) continue;
      const index = Math.floor((h.offset + i) / 2 ** (h.scale - scale));
      byIndex.set(index, (byIndex.get(index) ?? 0) + h.counts[i]);
    }
  }
  return trimmed(scale, byIndex, zeroCount);
}

/** Quantile from buckets by expanding every bucket into its representative repeated `count` times and sorting. */
export function quantileReference(h: { scale: number; offset: number; counts: ArrayLike<number>; zeroCount: number }, q: number, min: number, max: number): number {
  const values: number[] = new Array<number>(h.zeroCount).fill(0);
  for (let i = 0; i < h.counts.length; i++) for (let k = 0; k < h.counts[i]; k++) values.push(bucketRepresentative(h.scale, h.offset + i));
  if (values.length === 0) return NaN;
  const v = exactQuantile(values, q);
  return Math.min(max, Math.max(min, v));
}

/** Drops leading and trailing zero counts, so histograms built different ways compare equal. */
export function trim(h: { scale: number; offset: number; counts: ArrayLike<number>; zeroCount: number }): PlainBuckets {
  const byIndex = new Map<number, number>();
  for (let i = 0; i < h.counts.length; i++) if (h.counts[i] !== 0) byIndex.set(h.offset + i, h.counts[i]);
  return trimmed(h.scale, byIndex, h.zeroCount);
}

function trimmed(scale: number, byIndex: Map<number, number>, zeroCount: number): PlainBuckets {
  if (byIndex.size === 0) return { scale, offset: 0, counts: [], zeroCount };
  const lo = Math.min(...byIndex.keys());
  const hi = Math.max(...byIndex.keys());
  const counts: number[] = [];
  for (let i = lo; i <= hi; i++) counts.push(byIndex.get(i) ?? 0);
  return { scale, offset: lo, counts, zeroCount };
}

/** Samples of the distributions every histogram consumer is held to (seeded, so failures reproduce). */
export const DISTRIBUTIONS: Readonly<Record<string, (next: () => number) => number>> = {
  'lognormal sigma 0.5': (next) => Math.exp(Math.log(40) + 0.5 * normal(next)),
  'lognormal sigma 1.2': (next) => Math.exp(Math.log(20) + 1.2 * normal(next)),
  'lognormal sigma 2.5': (next) => Math.exp(Math.log(50) + 2.5 * normal(next)),
  'pareto alpha 1.5': (next) => 5 / Math.pow(1 - next(), 1 / 1.5),
  'pareto alpha 1.1': (next) => 1 / Math.pow(1 - next(), 1 / 1.1),
  'uniform 0..1000': (next) => next() * 1000,
  bimodal: (next) => (next() < 0.7 ? Math.exp(Math.log(3) + 0.3 * normal(next)) : Math.exp(Math.log(800) + 0.4 * normal(next))),
  'half zero': (next) => (next() < 0.5 ? 0 : Math.exp(Math.log(10) + 1.5 * normal(next))),
};

export function sample(distribution: string, n: number, seed: number): number[] {
  const draw = DISTRIBUTIONS[distribution];
  const next = rng(seed);
  return Array.from({ length: n }, () => draw(next));
}

function normal(next: () => number): number {
  const u1 = next() || 1e-12;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * next());
}
