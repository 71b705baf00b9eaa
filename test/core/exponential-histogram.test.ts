import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketMapping,
  MAX_EXPONENT,
  MIN_EXPONENT,
  mergeBuckets,
  quantileFromBuckets,
  quantilesFromBuckets,
} from '../../src/core/exponential-histogram.js';

const inRange = fc.double({ min: 2 ** MIN_EXPONENT * 1.0001, max: 2 ** MAX_EXPONENT * 0.9999, noNaN: true });

describe('bucket index', () => {
  it.each([0, 3, 6, 8])('matches the definition (base^i, base^(i+1)] at scale %i', (scale) => {
    const mapping = bucketMapping(scale);
    fc.assert(
      fc.property(inRange, (value) => {
        const index = mapping.denseIndex(value) + mapping.offset;
        // Bounds with a hair of tolerance: Math.pow itself rounds.
        expect(value).toBeGreaterThan(mapping.lowerBound(index) * (1 - 1e-12));
        expect(value).toBeLessThanOrEqual(mapping.upperBound(index) * (1 + 1e-12));
      }),
      { numRuns: 5000 },
    );
  });

  it('is monotone in the value', () => {
    const mapping = bucketMapping(6);
    fc.assert(
      fc.property(inRange, inRange, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(mapping.denseIndex(lo)).toBeLessThanOrEqual(mapping.denseIndex(hi));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts exact powers of two at the top of the lower bucket, as OTel does', () => {
    const mapping = bucketMapping(6);
    expect(mapping.denseIndex(1) + mapping.offset).toBe(-1);
    expect(mapping.denseIndex(2) + mapping.offset).toBe(63);
    expect(mapping.denseIndex(1024) + mapping.offset).toBe(10 * 64 - 1);
  });

  it('clamps values outside the covered range to the edge buckets', () => {
    const mapping = bucketMapping(6);
    expect(mapping.denseIndex(1e-300)).toBe(0);
    expect(mapping.denseIndex(Number.MIN_VALUE)).toBe(0);
    expect(mapping.denseIndex(1e300)).toBe(mapping.size - 1);
  });

  it('rejects scales outside 0..8', () => {
    expect(() => bucketMapping(9)).toThrow(/scale must be an integer from 0 to 8/);
    expect(() => bucketMapping(-1)).toThrow(RangeError);
  });
});

describe('merge', () => {
  const histogram = fc
    .array(fc.double({ min: 1e-3, max: 1e6, noNaN: true }), { maxLength: 200 })
    .map((values) => build(values));

  it('equals the histogram of the concatenated samples, and is commutative', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-3, max: 1e6, noNaN: true }), { maxLength: 200 }),
        fc.array(fc.double({ min: 1e-3, max: 1e6, noNaN: true }), { maxLength: 200 }),
        (a, b) => {
          const merged = trim(mergeBuckets(build(a), build(b)));
          expect(merged).toEqual(trim(build([...a, ...b])));
          expect(trim(mergeBuckets(build(b), build(a)))).toEqual(merged);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(histogram, histogram, histogram, (a, b, c) => {
        expect(trim(mergeBuckets(mergeBuckets(a, b), c))).toEqual(trim(mergeBuckets(a, mergeBuckets(b, c))));
      }),
      { numRuns: 300 },
    );
  });
});

describe('several quantiles in one pass', () => {
  it('give what quantileFromBuckets gives for each, zero bucket included', () => {
    const mapping = bucketMapping(6);
    const quantiles = [0.5, 0.9, 0.95, 0.99];
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5 }), { minLength: 0, maxLength: 40 }),
        fc.nat({ max: 30 }),
        fc.integer({ min: 0, max: 2000 }),
        (counts, zeroCount, offset) => {
          const min = 0;
          const max = mapping.upperBound(mapping.offset + offset + counts.length);
          const out = new Float64Array(quantiles.length);
          quantilesFromBuckets(mapping, mapping.offset + offset, counts, zeroCount, quantiles, min, max, out);
          quantiles.forEach((q, k) => {
            expect(out[k]).toBe(quantileFromBuckets(mapping, mapping.offset + offset, counts, zeroCount, q, min, max));
          });
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('quantiles within 1 % of an exact sort', () => {
  const random = mulberry32(42);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const distributions: Record<string, () => number> = {
    lognormal: () => Math.exp(3 + 1.2 * normal()),
    pareto: () => 5 / Math.pow(1 - random(), 1 / 1.5),
    bimodal: () => (random() < 0.8 ? 20 + 5 * normal() ** 2 : 900 + 100 * random()),
    uniform: () => 1 + random() * 999,
  };
  const mapping = bucketMapping(6);

  for (const [name, sample] of Object.entries(distributions)) {
    it(name, () => {
      const values = Array.from({ length: 50_000 }, sample);
      const { offset, counts } = build(values);
      const sorted = [...values].sort((a, b) => a - b);
      const min = sorted[0];
      const max = sorted[sorted.length - 1];
      for (const q of [0.5, 0.9, 0.95, 0.99]) {
        const exact = sorted[Math.ceil(q * sorted.length) - 1];
        const estimate = quantileFromBuckets(mapping, offset, counts, 0, q, min, max);
        expect(Math.abs(estimate - exact) / exact, `${name} p${q * 100}`).toBeLessThan(0.01);
      }
    });
  }
});

function build(values: number[]): { offset: number; counts: number[] } {
  const mapping = bucketMapping(6);
  if (values.length === 0) return { offset: 0, counts: [] };
  const dense = new Map<number, number>();
  for (const v of values) {
    const i = mapping.denseIndex(v) + mapping.offset;
    dense.set(i, (dense.get(i) ?? 0) + 1);
  }
  const low = Math.min(...dense.keys());
  const high = Math.max(...dense.keys());
  const counts = new Array<number>(high - low + 1).fill(0);
  for (const [i, c] of dense) counts[i - low] = c;
  return { offset: low, counts };
}

function trim(h: { offset: number; counts: ArrayLike<number> }): { offset: number; counts: number[] } {
  const counts = Array.from(h.counts);
  let offset = h.offset;
  while (counts.length > 0 && counts[0] === 0) {
    counts.shift();
    offset++;
  }
  while (counts.length > 0 && counts[counts.length - 1] === 0) counts.pop();
  return counts.length === 0 ? { offset: 0, counts } : { offset, counts };
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
