/**
 * Quantiles from exponential buckets: nearest rank (the value of rank ceil(q * n), what an exact sort of the
 * recordings returns), reported as the bucket's representative and clamped to the recorded [min, max], so a
 * quantile never leaves the range that was really seen. The zero bucket reports 0 (clamped the same way).
 */
import type { BucketsView } from './accumulator.js';
import { bucketRepresentative } from './mapping.js';

/**
 * Several quantiles in one pass: `qs` ascending, results in `out` (NaN for all when nothing was recorded).
 * `total` may be passed when the caller already knows it (zeroCount + every count).
 */
export function quantilesInto(
  h: BucketsView,
  qs: readonly number[],
  min: number,
  max: number,
  out: { [k: number]: number; length: number },
  total = -1,
): void {
  const counts = h.counts;
  if (total < 0) {
    total = h.zeroCount;
    for (let i = 0; i < counts.length; i++) total += counts[i];
  }
  let k = 0;
  if (!(total > 0)) {
    for (; k < qs.length; k++) out[k] = NaN;
    return;
  }
  let rank = rankOf(qs[0], total);
  let seen = h.zeroCount;
  if (k < qs.length && rank <= seen) {
    const zero = clamp(0, min, max);
    while (k < qs.length && rank <= seen) {
      out[k] = zero;
      if (++k < qs.length) rank = rankOf(qs[k], total);
    }
  }
  for (let i = 0; i < counts.length && k < qs.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    seen += c;
    if (seen < rank) continue;
    const value = clamp(bucketRepresentative(h.scale, h.offset + i), min, max);
    while (k < qs.length && rank <= seen) {
      out[k] = value;
      if (++k < qs.length) rank = rankOf(qs[k], total);
    }
  }
  // Only reachable when counts were inconsistent with total: the largest recorded value is the honest answer.
  for (; k < qs.length; k++) out[k] = clamp(max, min, max);
}

/** One quantile; see quantilesInto. */
export function quantile(h: BucketsView, q: number, min: number, max: number): number {
  const out = [NaN];
  quantilesInto(h, [q], min, max, out);
  return out[0];
}

/** 1-based rank of quantile q among n values; q outside [0, 1] is clamped. */
function rankOf(q: number, n: number): number {
  const r = Math.ceil((q > 1 ? 1 : q) * n);
  return r < 1 ? 1 : r;
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
