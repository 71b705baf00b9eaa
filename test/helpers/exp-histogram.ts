import { bucketMapping } from '../../src/core/exponential-histogram.js';
import type { HistogramBuckets } from '../../src/core/window.js';

/** The exponential histogram the core would seal for these values (positive range plus a zero bucket). */
export function histogramOf(
  values: readonly number[],
  scale = 6,
): { buckets: HistogramBuckets; count: number; sum: number; min: number; max: number } {
  const mapping = bucketMapping(scale);
  const dense = new Map<number, number>();
  let zeroCount = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zeroCount++;
    else {
      const i = mapping.denseIndex(v);
      dense.set(i, (dense.get(i) ?? 0) + 1);
    }
  }
  const keys = [...dense.keys()];
  const lo = keys.length > 0 ? Math.min(...keys) : 0;
  const hi = keys.length > 0 ? Math.max(...keys) : -1;
  const counts: number[] = [];
  for (let i = lo; i <= hi; i++) counts.push(dense.get(i) ?? 0);
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
