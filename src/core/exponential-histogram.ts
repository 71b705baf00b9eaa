/**
 * Base-2 exponential histogram at a fixed scale (the OTel ExponentialHistogram layout):
 * base = 2^(2^-scale), bucket i covers (base^i, base^(i+1)].
 *
 * The index comes from the float's exponent and its top mantissa bits plus a small table, never Math.log:
 * the top `scale + 4` mantissa bits select a linear sub-bin narrower than any log bucket, the table gives the
 * log bucket of that sub-bin's lower edge, and one comparison against the next boundary settles it.
 */

/** Octaves covered by the dense bucket array: values from 2^MIN_EXPONENT to 2^MAX_EXPONENT. */
export const MIN_EXPONENT = -20; // ~9.5e-7: a microsecond in ms, a byte fraction
export const MAX_EXPONENT = 44; // ~1.8e13: an hour in ns, terabytes
export const MIN_SCALE = 0;
export const MAX_SCALE = 8;

export interface BucketMapping {
  readonly scale: number;
  /** Buckets per octave, 2^scale. */
  readonly perOctave: number;
  /** Dense bucket count, excluding the zero bucket. */
  readonly size: number;
  /** Absolute OTel index of dense bucket 0. */
  readonly offset: number;
  /** Dense index (0..size-1) of a positive finite value; out-of-range values clamp to the edges. */
  denseIndex(value: number): number;
  /** The tables behind denseIndex, for the hot path to inline the same computation. */
  readonly tables: IndexTables;
  /** Lower / upper bound of the absolute bucket index. */
  lowerBound(index: number): number;
  upperBound(index: number): number;
}

export interface IndexTables {
  /** In-octave bucket of each linear sub-bin's lower edge (-1 for the sub-bin starting at exactly 1.0). */
  readonly lowerBucket: Int16Array;
  /** Mantissa bits of boundary k = 2^(k / perOctave), split in the high 20 bits and the low 32 bits. */
  readonly boundaryHigh: Uint32Array;
  readonly boundaryLow: Uint32Array;
  readonly subShift: number;
  readonly perOctave: number;
  readonly expBias: number;
  readonly maxDense: number;
}

/** Scratch for reading a double's bits; one per thread (module instance), so lanes never share it. */
export const scratch = new Float64Array(1);
export const scratchWords = new Uint32Array(scratch.buffer);
const scratchHi = scratchWords;
/** Index of the high word (sign, exponent, top 20 mantissa bits): 1 on little-endian machines. */
export const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
export const LO = 1 - HI;

const mappings = new Map<number, BucketMapping>();

export function bucketMapping(scale: number): BucketMapping {
  let mapping = mappings.get(scale);
  if (mapping === undefined) {
    mapping = createMapping(scale);
    mappings.set(scale, mapping);
  }
  return mapping;
}

function createMapping(scale: number): BucketMapping {
  if (!Number.isInteger(scale) || scale < MIN_SCALE || scale > MAX_SCALE) {
    throw new RangeError(`histogram scale must be an integer from ${MIN_SCALE} to ${MAX_SCALE}, got ${scale}`);
  }
  const perOctave = 1 << scale;
  const subBits = scale + 4;
  const subShift = 20 - subBits;
  const subBins = 1 << subBits;
  // boundaries[k] = 2^(k / perOctave), k = 0..perOctave; the significand of bucket k's upper bound is boundaries[k+1].
  const boundaries = new Float64Array(perOctave + 1);
  for (let k = 0; k <= perOctave; k++) boundaries[k] = Math.pow(2, k / perOctave);
  boundaries[perOctave] = 2;
  // lowerBucket[j]: the in-octave bucket k with boundaries[k] < (1 + j/subBins) <= boundaries[k+1], or -1 at 1.0.
  // Integer form of the boundaries: comparing mantissa bits avoids a float round trip through memory,
  // which costs a store-forwarding stall on the hot path.
  const boundaryHigh = new Uint32Array(perOctave + 1);
  const boundaryLow = new Uint32Array(perOctave + 1);
  for (let k = 0; k < perOctave; k++) {
    scratch[0] = boundaries[k];
    boundaryHigh[k] = scratchHi[HI] & 0xfffff;
    boundaryLow[k] = scratchHi[LO];
  }
  boundaryHigh[perOctave] = 0x100000; // 2.0: above every mantissa
  const lowerBucket = new Int16Array(subBins);
  for (let j = 0; j < subBins; j++) {
    const edge = 1 + j / subBins;
    let k = -1;
    while (k + 1 < perOctave && boundaries[k + 1] < edge) k++;
    lowerBucket[j] = k;
  }
  const offset = MIN_EXPONENT * perOctave;
  const size = (MAX_EXPONENT - MIN_EXPONENT) * perOctave;
  const maxDense = size - 1;
  const expBias = 1023 + MIN_EXPONENT;

  const denseIndex = (value: number): number => {
    scratch[0] = value;
    const hi = scratchHi[HI];
    const mantissa = hi & 0xfffff;
    let k = lowerBucket[mantissa >>> subShift];
    const high = boundaryHigh[k + 1];
    if (mantissa > high || (mantissa === high && scratchHi[LO] > boundaryLow[k + 1])) k++;
    const dense = ((hi >>> 20) - expBias) * perOctave + k; // sign is 0: callers pass positive values only
    return dense < 0 ? 0 : dense > maxDense ? maxDense : dense;
  };

  return {
    scale,
    perOctave,
    size,
    offset,
    denseIndex,
    tables: { lowerBucket, boundaryHigh, boundaryLow, subShift, perOctave, expBias, maxDense },
    lowerBound: (index) => Math.pow(2, index / perOctave),
    upperBound: (index) => Math.pow(2, (index + 1) / perOctave),
  };
}

/** The value reported for a bucket: the harmonic mean 2lu/(l+u) keeps relative error <= (base-1)/(base+1). */
export function bucketRepresentative(mapping: BucketMapping, index: number): number {
  const lower = mapping.lowerBound(index);
  const upper = mapping.upperBound(index);
  return (2 * lower * upper) / (lower + upper);
}

/**
 * Quantile (nearest rank: the value of rank ceil(q * n)) from dense counts, clamped to [min, max].
 * `counts[i]` is absolute bucket `offset + i`.
 */
export function quantileFromBuckets(
  mapping: BucketMapping,
  offset: number,
  counts: ArrayLike<number>,
  zeroCount: number,
  q: number,
  min: number,
  max: number,
): number {
  let total = zeroCount;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  if (rank <= zeroCount) return clamp(0, min, max);
  let seen = zeroCount;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= rank) return clamp(bucketRepresentative(mapping, offset + i), min, max);
  }
  return max;
}

/**
 * Several quantiles in two passes, as quantileFromBuckets() gives each: `quantiles` ascending, results in `out`.
 * The sealer asks for P50/P90/P95/P99 of every histogram once a second.
 */
export function quantilesFromBuckets(
  mapping: BucketMapping,
  offset: number,
  counts: ArrayLike<number>,
  zeroCount: number,
  quantiles: readonly number[],
  min: number,
  max: number,
  out: Float64Array,
): void {
  let total = zeroCount;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  let k = 0;
  if (total === 0) {
    for (; k < quantiles.length; k++) out[k] = NaN;
    return;
  }
  let rank = Math.max(1, Math.ceil(quantiles[0] * total));
  for (; k < quantiles.length && rank <= zeroCount; ) {
    out[k] = clamp(0, min, max);
    if (++k < quantiles.length) rank = Math.max(1, Math.ceil(quantiles[k] * total));
  }
  let seen = zeroCount;
  for (let i = 0; i < counts.length && k < quantiles.length; i++) {
    seen += counts[i];
    if (seen < rank) continue;
    const value = clamp(bucketRepresentative(mapping, offset + i), min, max);
    while (k < quantiles.length && seen >= rank) {
      out[k] = value;
      if (++k < quantiles.length) rank = Math.max(1, Math.ceil(quantiles[k] * total));
    }
  }
  for (; k < quantiles.length; k++) out[k] = max;
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/** Merges histograms of one scale: returns a dense array spanning both. */
export function mergeBuckets(
  a: { offset: number; counts: ArrayLike<number> },
  b: { offset: number; counts: ArrayLike<number> },
): { offset: number; counts: number[] } {
  if (a.counts.length === 0) return { offset: b.offset, counts: Array.from(b.counts) };
  if (b.counts.length === 0) return { offset: a.offset, counts: Array.from(a.counts) };
  const offset = Math.min(a.offset, b.offset);
  const end = Math.max(a.offset + a.counts.length, b.offset + b.counts.length);
  const counts = new Array<number>(end - offset).fill(0);
  for (let i = 0; i < a.counts.length; i++) counts[a.offset - offset + i] += a.counts[i];
  for (let i = 0; i < b.counts.length; i++) counts[b.offset - offset + i] += b.counts[i];
  return { offset, counts };
}
