/**
 * PutMetricData Values/Counts from exponential buckets, judged by what CloudWatch computes from what it receives:
 * its documented percentile definition over every value repeated Count times (test/helpers/cloudwatch-percentile.ts),
 * compared with the exact percentile of the recorded values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { histogramValues, KEPT_QUANTILES, MAX_VALUES, type ValueCounts } from '../../src/sinks/cloudwatch/histogram.js';
import { cloudWatchPercentile, cloudWatchPercentiles, exactPercentiles, percentileError } from '../helpers/cloudwatch-percentile.js';
import { DISTRIBUTIONS, histogramOf, sample } from '../helpers/exp-histogram.js';

const TARGETS = [50, 90, 95, 99, 99.9];

function sent(values: readonly number[]): ValueCounts {
  const h = histogramOf(values);
  return histogramValues(h.buckets, h.min, h.max)!;
}

function wellFormed(pairs: ValueCounts, recorded: readonly number[]): void {
  expect(pairs.values.length).toBeLessThanOrEqual(MAX_VALUES);
  expect(pairs.counts).toHaveLength(pairs.values.length);
  expect(pairs.counts.reduce((a, b) => a + b, 0)).toBe(recorded.length);
  for (const c of pairs.counts) expect(Number.isInteger(c) && c > 0).toBe(true);
  for (let i = 1; i < pairs.values.length; i++) expect(pairs.values[i]).toBeGreaterThan(pairs.values[i - 1]);
  // CloudWatch's Minimum and Maximum are the exact ones.
  expect(pairs.values[0]).toBe(recorded.reduce((a, b) => Math.min(a, b)));
  expect(pairs.values.at(-1)).toBe(recorded.reduce((a, b) => Math.max(a, b)));
}

describe('percentiles CloudWatch computes from one datum', () => {
  for (const distribution of Object.keys(DISTRIBUTIONS)) {
    it(`${distribution}: P50, P90, P95, P99 and P99.9 within 1 % of the recorded values'`, () => {
      for (const n of [500, 5_000, 50_000]) {
        for (const seed of [1, 2]) {
          const recorded = sample(distribution, n, seed * 7919 + n);
          const pairs = sent(recorded);
          wellFormed(pairs, recorded);
          const got = cloudWatchPercentiles([pairs], TARGETS);
          const exact = exactPercentiles(recorded, TARGETS);
          TARGETS.forEach((p, k) => expect(percentileError(got[k], exact[k]), `${distribution} n=${n} seed=${seed} p${p}`).toBeLessThan(0.01));
          // Sum (Values x Counts) stays within the bucket error too.
          const sum = recorded.reduce((a, b) => a + b, 0);
          const received = pairs.values.reduce((a, v, i) => a + v * pairs.counts[i], 0);
          expect(Math.abs(received - sum) / sum).toBeLessThan(0.01);
        }
      }
    });
  }

  it('needs the merge: the wide distributions really have more than 150 non-empty buckets', () => {
    const h = histogramOf(sample('lognormal sigma 2.5', 50_000, 3));
    expect(h.buckets.counts.filter((c) => c > 0).length).toBeGreaterThan(1000);
  });
});

describe('percentiles CloudWatch computes over a fleet (3 pods x 10 seconds, 30 datums)', () => {
  for (const distribution of Object.keys(DISTRIBUTIONS)) {
    it(`${distribution}: P50 to P99.9 within 1 %`, () => {
      const recorded: number[] = [];
      const datums: ValueCounts[] = [];
      for (let d = 0; d < 30; d++) {
        const values = sample(distribution, 10_000, 100 + d);
        for (const v of values) recorded.push(v);
        datums.push(sent(values));
      }
      const got = cloudWatchPercentiles(datums, TARGETS);
      const exact = exactPercentiles(recorded, TARGETS);
      TARGETS.forEach((p, k) => expect(percentileError(got[k], exact[k]), `${distribution} p${p}`).toBeLessThan(0.01));
    });
  }
});

describe('merging never moves a kept quantile', () => {
  it('CloudWatch reads the same P50..P99.9 from the 150 pairs as from every bucket unmerged', () => {
    const histogram = fc
      .record({
        scale: fc.constantFrom(3, 6, 8),
        offset: fc.integer({ min: -3000, max: 3000 }),
        counts: fc.array(fc.oneof(fc.constant(0), fc.nat({ max: 40 })), { minLength: 1, maxLength: 1200 }),
        zeroCount: fc.oneof(fc.constant(0), fc.nat({ max: 5000 })),
      })
      .filter((h) => h.counts.some((c) => c > 0));
    fc.assert(
      fc.property(histogram, (h) => {
        const first = h.counts.findIndex((c) => c > 0);
        const last = h.counts.length - 1 - [...h.counts].reverse().findIndex((c) => c > 0);
        // A min and max inside the lowest and highest buckets, as a recording would have.
        const min = h.zeroCount > 0 ? 0 : Math.pow(2, (h.offset + first + 0.3) / 2 ** h.scale);
        const max = Math.pow(2, (h.offset + last + 0.7) / 2 ** h.scale);
        const merged = histogramValues(h, min, max)!;
        const whole = histogramValues(h, min, max, { maxPairs: Infinity })!;
        expect(merged.values.length).toBeLessThanOrEqual(MAX_VALUES);
        expect(merged.counts.reduce((a, b) => a + b, 0)).toBe(whole.counts.reduce((a, b) => a + b, 0));
        for (const q of KEPT_QUANTILES) {
          expect(cloudWatchPercentile([merged], q * 100)).toEqual(cloudWatchPercentile([whole], q * 100));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('pairs', () => {
  it('use the harmonic mean of the bucket bounds as the representative value', () => {
    // One bucket (2^(10/64), 2^(11/64)] with five values: min and max pairs take one each.
    const l = Math.pow(2, 10 / 64);
    const u = Math.pow(2, 11 / 64);
    const pairs = histogramValues({ scale: 6, offset: 10, counts: [5], zeroCount: 0 }, l * 1.001, u * 0.999);
    const expected = [l * 1.001, (2 * l * u) / (l + u), u * 0.999];
    expect(pairs?.values).toHaveLength(3);
    pairs?.values.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    expect(pairs?.counts).toEqual([1, 3, 1]);
  });

  it('keep zero values as their own pair', () => {
    const pairs = sent([0, 0, 0, 1, 2, 3]);
    expect(pairs.values[0]).toBe(0);
    expect(pairs.counts[0]).toBe(3);
    expect(pairs.counts.reduce((a, b) => a + b, 0)).toBe(6);
  });

  it('are nothing for an empty histogram, one pair for a single value', () => {
    expect(histogramValues({ scale: 6, offset: 0, counts: [], zeroCount: 0 }, NaN, NaN)).toBeUndefined();
    expect(sent([42])).toEqual({ values: [42], counts: [1] });
  });

  it('fit any budget, down to one pair', () => {
    const h = histogramOf(sample('lognormal sigma 2.5', 5_000, 9));
    for (const maxPairs of [1, 3, 8, 20]) {
      const pairs = histogramValues(h.buckets, h.min, h.max, { maxPairs })!;
      expect(pairs.values.length).toBeLessThanOrEqual(Math.max(maxPairs, 3));
      expect(pairs.counts.reduce((a, b) => a + b, 0)).toBe(5_000);
    }
  });
});
