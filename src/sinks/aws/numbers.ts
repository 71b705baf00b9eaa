/** Metric values CloudWatch accepts (+-2^360, no NaN or infinities), the same rule for EMF and PutMetricData. */
import { MAX_MAGNITUDE, MIN_MAGNITUDE } from './limits.js';

/**
 * The value to send, or undefined when it cannot be sent (NaN, +-Infinity: left out and counted by the caller).
 * Finite magnitudes beyond 2^360 are clamped to it and those below 2^-360 become 0, which CloudWatch would store
 * with the same precision anyway.
 */
export function cloudWatchNumber(value: number): number | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (value > MAX_MAGNITUDE) return MAX_MAGNITUDE;
  if (value < -MAX_MAGNITUDE) return -MAX_MAGNITUDE;
  if (value !== 0 && value > -MIN_MAGNITUDE && value < MIN_MAGNITUDE) return 0;
  return value;
}

/** As cloudWatchNumber, for values already known to be finite (histogram representatives). */
export function clampMagnitude(value: number): number {
  return cloudWatchNumber(value) ?? 0;
}
