import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketAccumulator, quantile, quantilesInto } from '../../../src/core/histogram/index.js';
import { DISTRIBUTIONS, exactQuantile, histogramOf, quantileReference, sample } from '../../helpers/exp-histogram.js';

const QS = [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

describe('quantiles from buckets', () => {
  it('equal the nearest rank of the bucket representatives expanded and sorted, zero bucket included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5 }), { maxLength: 40 }),
        fc.nat({ max: 30 }),
        fc.integer({ min: -2000, max: 2000 }),
        fc.constantFrom(0, 4, 6, 8),
        (counts, zeroCount, offset, scale) => {
          const h = { scale, offset, counts, zeroCount };
          const out = new Float64Array(QS.length);
          quantilesInto(h, QS, 0, Infinity, out);
          QS.forEach((q, k) => expect(out[k]).toBe(quantileReference(h, q, 0, Infinity)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('read an accumulator with headroom the same as the trimmed buckets', () => {
    const { buckets, min, max } = histogramOf(sample('lognormal sigma 1.2', 2000, 3));
    const acc = new BucketAccumulator();
    acc.add(buckets);
    const fromAcc = new Float64Array(QS.length);
    const fromWindow = new Float64Array(QS.length);
    quantilesInto(acc, QS, min, max, fromAcc, acc.total);
    quantilesInto(buckets, QS, min, max, fromWindow);
    expect(Array.from(fromAcc)).toEqual(Array.from(fromWindow));
  });

  it('clamp to the recorded [min, max]: one value reads back exactly', () => {
    const { buckets } = histogramOf([7, 7, 7]);
    for (const q of QS) expect(quantile(buckets, q, 7, 7)).toBe(7);
    expect(quantile(histogramOf([0, 0, 5]).buckets, 0.5, 0, 5)).toBe(0);
    expect(quantile(histogramOf([0, 0, 5]).buckets, 0.5, 0.5, 5)).toBe(0.5);
  });

  it('are NaN when nothing was recorded', () => {
    const out = [1, 2];
    quantilesInto(histogramOf([]).buckets, [0.5, 0.99], 0, 1, out);
    expect(out).toEqual([NaN, NaN]);
  });
});

describe('within 1 % of an exact sort of the recordings (scale 6)', () => {
  for (const name of Object.keys(DISTRIBUTIONS)) {
    it(name, () => {
      const values = sample(name, 50_000, 42);
      const { buckets, min, max } = histogramOf(values);
      const qs = [0.5, 0.9, 0.95, 0.99, 0.999];
      const out = new Float64Array(qs.length);
      quantilesInto(buckets, qs, min, max, out);
      qs.forEach((q, k) => {
        const exact = exactQuantile(values, q);
        if (exact === 0) expect(out[k]).toBe(0);
        else expect(Math.abs(out[k] - exact) / exact, `${name} p${q * 100}`).toBeLessThan(0.0055);
      });
    });
  }
});
