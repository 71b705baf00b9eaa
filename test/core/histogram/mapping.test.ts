import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketMapping,
  bucketRepresentative,
  bucketRepresentatives,
  indexOf,
  lowerBound,
  MAX_EXPONENT,
  MIN_EXPONENT,
  upperBound,
} from '../../../src/core/histogram/index.js';
import { referenceIndex } from '../../helpers/exp-histogram.js';

const inRange = fc.double({ min: 2 ** MIN_EXPONENT * 1.0001, max: 2 ** MAX_EXPONENT * 0.9999, noNaN: true });
const anyPositive = fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true });

describe('bucket index', () => {
  it.each([0, 3, 6, 8])('matches the definition (base^i, base^(i+1)] at scale %i', (scale) => {
    const mapping = bucketMapping(scale);
    fc.assert(
      fc.property(inRange, (value) => {
        const index = mapping.denseIndex(value) + mapping.offset;
        // Bounds with a hair of tolerance: Math.pow itself rounds.
        expect(value).toBeGreaterThan(lowerBound(scale, index) * (1 - 1e-12));
        expect(value).toBeLessThanOrEqual(upperBound(scale, index) * (1 + 1e-12));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([0, 4, 6, 8])('indexOf agrees with a log2 reference over the whole double range, subnormals included (scale %i)', (scale) => {
    fc.assert(
      fc.property(anyPositive, (value) => {
        const reference = referenceIndex(scale, value);
        // The reference decides by Math.pow, which may differ from the tables by an ulp right at an edge.
        const i = indexOf(scale, value);
        if (i !== reference) {
          const edge = i < reference ? upperBound(scale, i) : lowerBound(scale, i);
          expect(Math.abs(value - edge) / edge).toBeLessThan(1e-15);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('indexOf equals denseIndex + offset inside the dense range', () => {
    const mapping = bucketMapping(6);
    fc.assert(
      fc.property(inRange, (value) => {
        expect(indexOf(6, value)).toBe(mapping.denseIndex(value) + mapping.offset);
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
    expect(indexOf(6, 2 ** -1074)).toBe(-1074 * 64 - 1);
    expect(indexOf(0, 2 ** 1023)).toBe(1022);
  });

  it('coarser scales nest: the index at scale s - d is the index at scale s shifted right by d', () => {
    fc.assert(
      fc.property(anyPositive, fc.integer({ min: 1, max: 8 }), (value, d) => {
        expect(indexOf(8 - d, value)).toBe(indexOf(8, value) >> d);
      }),
      { numRuns: 5000 },
    );
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

describe('representative', () => {
  it('is the harmonic mean of the bounds, within (base-1)/(base+1) of every point of the bucket', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.integer({ min: -1000, max: 1000 }), fc.nat({ max: 255 }), (scale, octave, k) => {
        const index = octave * 2 ** scale + (k % 2 ** scale);
        const l = lowerBound(scale, index);
        const u = upperBound(scale, index);
        const r = bucketRepresentative(scale, index);
        expect(r / (2 / (1 / l + 1 / u)) - 1).toBeCloseTo(0, 13);
        const base = Math.pow(2, 2 ** -scale);
        const bound = (base - 1) / (base + 1);
        expect((r - l) / l).toBeLessThanOrEqual(bound * (1 + 1e-9));
        expect((u - r) / u).toBeLessThanOrEqual(bound * (1 + 1e-9));
      }),
    );
  });

  it('stepping by the base gives what one Math.pow per bucket gives', () => {
    for (const scale of [0, 3, 6, 8]) {
      // 40 octaves from 2^-20, starting mid-octave.
      const out = new Float64Array(40 * 2 ** scale);
      const offset = -20 * 2 ** scale - 7;
      bucketRepresentatives(scale, offset, out.length, out);
      for (let i = 0; i < out.length; i++) expect(out[i] / bucketRepresentative(scale, offset + i) - 1).toBeCloseTo(0, 13);
    }
  });

  it('stays finite at the top of the double range', () => {
    expect(Number.isFinite(bucketRepresentative(6, indexOf(6, Number.MAX_VALUE)))).toBe(true);
  });
});
