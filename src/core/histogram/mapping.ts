/**
 * Value -> bucket index of a base-2 exponential histogram (the OTel ExponentialHistogram layout):
 * base = 2^(2^-scale), bucket i covers (base^i, base^(i+1)], so exact powers of two sit at the top of a bucket.
 *
 * The index comes from the float's exponent and its top mantissa bits plus a small table, never Math.log:
 * the top `scale + 4` mantissa bits select a linear sub-bin narrower than any log bucket, the table gives the
 * log bucket of that sub-bin's lower edge, and one comparison against the next boundary settles it.
 * The recording hot path (core/handles.ts) inlines the same computation from `tables`.
 */

/** Octaves covered by the dense bucket array the lanes record into: values from 2^MIN_EXPONENT to 2^MAX_EXPONENT. */
export const MIN_EXPONENT = -20; // ~9.5e-7: a microsecond in ms, a byte fraction
export const MAX_EXPONENT = 44; // ~1.8e13: an hour in ns, terabytes
export const MIN_SCALE = 0;
/** Also Prometheus' finest native-histogram schema. */
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
  // Integer form of the boundaries: comparing mantissa bits avoids a float round trip through memory,
  // which costs a store-forwarding stall on the hot path.
  const boundaryHigh = new Uint32Array(perOctave + 1);
  const boundaryLow = new Uint32Array(perOctave + 1);
  for (let k = 0; k < perOctave; k++) {
    scratch[0] = boundaries[k];
    boundaryHigh[k] = scratchWords[HI] & 0xfffff;
    boundaryLow[k] = scratchWords[LO];
  }
  boundaryHigh[perOctave] = 0x100000; // 2.0: above every mantissa
  // lowerBucket[j]: the in-octave bucket k with boundaries[k] < (1 + j/subBins) <= boundaries[k+1], or -1 at 1.0.
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
    const hi = scratchWords[HI];
    const mantissa = hi & 0xfffff;
    let k = lowerBucket[mantissa >>> subShift];
    const high = boundaryHigh[k + 1];
    if (mantissa > high || (mantissa === high && scratchWords[LO] > boundaryLow[k + 1])) k++;
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
  };
}

/**
 * Absolute index of any positive finite value (no clamping to the dense range), by the same tables.
 * Subnormals are scaled into the normal range first (their exponent field is 0).
 */
export function indexOf(scale: number, value: number): number {
  const { tables } = bucketMapping(scale);
  let shift = 0;
  if (value < 2.2250738585072014e-308) {
    value *= 2 ** 64;
    shift = 64 * tables.perOctave;
  }
  scratch[0] = value;
  const hi = scratchWords[HI];
  const mantissa = hi & 0xfffff;
  let k = tables.lowerBucket[mantissa >>> tables.subShift];
  const high = tables.boundaryHigh[k + 1];
  if (mantissa > high || (mantissa === high && scratchWords[LO] > tables.boundaryLow[k + 1])) k++;
  return ((hi >>> 20) - 1023) * tables.perOctave + k - shift;
}

export function lowerBound(scale: number, index: number): number {
  return Math.pow(2, index / 2 ** scale);
}

export function upperBound(scale: number, index: number): number {
  return Math.pow(2, (index + 1) / 2 ** scale);
}

/**
 * The value reported for bucket (l, u]: the harmonic mean 2lu/(l+u), whose relative distance to any point of
 * the bucket is at most (base-1)/(base+1) (0.54 % at scale 6). Written l * 2b/(1+b) so l*u cannot overflow.
 */
export function bucketRepresentative(scale: number, index: number): number {
  const base = Math.pow(2, 2 ** -scale);
  return lowerBound(scale, index) * ((2 * base) / (1 + base));
}

/**
 * Representatives of buckets offset..offset+n-1 into `out`, by stepping with the base (one multiply per bucket
 * instead of a Math.pow) and re-anchoring at every octave, so the drift stays under 1e-14.
 */
export function bucketRepresentatives(scale: number, offset: number, n: number, out: Float64Array): void {
  // Below scale 0 a bucket spans several octaves: every bucket is an anchor.
  const mask = scale > 0 ? (1 << scale) - 1 : 0;
  const base = Math.pow(2, 2 ** -scale);
  let value = 0;
  for (let i = 0; i < n; i++) {
    const index = offset + i;
    if (i === 0 || (index & mask) === 0) value = bucketRepresentative(scale, index);
    else value *= base;
    out[i] = value;
  }
}
