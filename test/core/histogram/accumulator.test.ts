import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketAccumulator } from '../../../src/core/histogram/index.js';
import { histogramOf, mergeReference, trim, type PlainBuckets } from '../../helpers/exp-histogram.js';

const values = fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 1e6, noNaN: true })), { maxLength: 120 });
const scale = fc.constantFrom(0, 3, 4, 6, 8);

/** Without positive buckets any scale is exact: compare what the histograms hold. */
function same(actual: PlainBuckets, expected: PlainBuckets): void {
  if (expected.counts.length === 0) expect({ ...actual, scale: 0 }).toEqual({ ...expected, scale: 0 });
  else expect(actual).toEqual(expected);
}

function accumulate(list: ReturnType<typeof histogramOf>['buckets'][]): BucketAccumulator {
  const acc = new BucketAccumulator();
  for (const h of list) acc.add(h);
  return acc;
}

describe('add', () => {
  it('equals the histogram of the concatenated samples, in any order', () => {
    fc.assert(
      fc.property(values, values, scale, (a, b, s) => {
        const expected = trim(histogramOf([...a, ...b], s).buckets);
        const ab = accumulate([histogramOf(a, s).buckets, histogramOf(b, s).buckets]);
        const ba = accumulate([histogramOf(b, s).buckets, histogramOf(a, s).buckets]);
        same(ab.toBuckets(), expected);
        same(ba.toBuckets(), expected);
        expect(ab.total).toBe(a.length + b.length);
      }),
      { numRuns: 300 },
    );
  });

  it('meets a coarser histogram at its scale, as a fresh merge does', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(values, scale), { minLength: 1, maxLength: 6 }), (windows) => {
        const list = windows.map(([v, s]) => histogramOf(v, s).buckets);
        const acc = accumulate(list);
        if (acc.total === 0) return;
        const fresh = mergeReference(list);
        // Only histograms with positive buckets set the scale: zeros and empty windows fit any scale.
        const positive = list.filter((h) => h.counts.some((c) => c > 0));
        const expected = mergeReference(positive.length > 0 ? [...positive, { ...fresh, counts: [], offset: 0, scale: 20 }] : [fresh]);
        expect(acc.toBuckets()).toEqual(positive.length > 0 ? { ...expected, zeroCount: fresh.zeroCount } : { ...fresh, scale: acc.scale });
        expect(acc.total).toBe(fresh.zeroCount + fresh.counts.reduce((x, y) => x + y, 0));
      }),
      { numRuns: 300 },
    );
  });

  it('never refines past maxScale', () => {
    const acc = new BucketAccumulator(4);
    acc.add(histogramOf([1.5, 3, 700], 8).buckets);
    expect(acc.scale).toBe(4);
    expect(acc.toBuckets()).toEqual(trim(histogramOf([1.5, 3, 700], 4).buckets));
  });
});

describe('subtract', () => {
  it('a sliding sum (add each window, subtract the oldest) equals a fresh merge of the windows still inside', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(values, fc.constantFrom(4, 6)), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 5 }), (windows, keep) => {
        const sliding = new BucketAccumulator();
        const inside: ReturnType<typeof histogramOf>['buckets'][] = [];
        for (const [v, s] of windows) {
          const { buckets } = histogramOf(v, s);
          if (buckets.counts.length === 0 && buckets.zeroCount === 0) continue;
          inside.push(buckets);
          sliding.add(buckets);
          while (inside.length > keep) sliding.subtract(inside.shift()!);
          const fresh = mergeReference(inside);
          expect(sliding.total).toBe(fresh.zeroCount + fresh.counts.reduce((x, y) => x + y, 0));
          // The sum keeps the coarsest scale seen since it last held no positive bucket: compare at that scale
          // (a window without positive buckets fits any scale).
          const placed = inside.map((h) => (h.counts.some((c) => c > 0) ? h : { ...h, scale: 20 }));
          const atSliding = mergeReference([...placed, { scale: sliding.scale, offset: 0, counts: [], zeroCount: 0 }]);
          expect(sliding.scale).toBeLessThanOrEqual(Math.min(...placed.map((h) => h.scale)));
          same(sliding.toBuckets(), atSliding);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an emptied accumulator takes the next window at its own (finer) scale', () => {
    const acc = new BucketAccumulator();
    const coarse = histogramOf([5, 50], 2).buckets;
    acc.add(coarse);
    acc.subtract(coarse);
    expect(acc.total).toBe(0);
    acc.add(histogramOf([5, 50], 6).buckets);
    expect(acc.scale).toBe(6);
    expect(acc.toBuckets()).toEqual(trim(histogramOf([5, 50], 6).buckets));
  });
});

describe('downscale', () => {
  it('equals the histogram recorded at the coarser scale', () => {
    fc.assert(
      fc.property(values, fc.integer({ min: 1, max: 8 }), (v, d) => {
        const acc = accumulate([histogramOf(v, 8).buckets]);
        acc.downscaleTo(8 - d);
        same(acc.toBuckets(), trim(histogramOf(v, 8 - d).buckets));
        expect(acc.total).toBe(v.length);
      }),
      { numRuns: 300 },
    );
  });

  it('goes below scale 0 (one bucket per 2^(2^-scale) octaves) and ignores a finer target', () => {
    const acc = accumulate([histogramOf([1.5, 3, 5, 700], 0).buckets]);
    acc.downscaleTo(-2);
    // Index i >> 2 at scale -2: bucket 0 covers (1, 16], bucket 2 covers (256, 4096].
    expect(acc.toBuckets()).toEqual({ scale: -2, offset: 0, counts: [3, 0, 1], zeroCount: 0 });
    acc.downscaleTo(3);
    expect(acc.scale).toBe(-2);
  });
});
