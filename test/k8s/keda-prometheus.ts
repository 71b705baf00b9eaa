/**
 * How KEDA's `prometheus` scaler turns an instant-query answer into a number (kedacore/keda
 * pkg/scalers/prometheus_scaler.go `ExecutePromQuery`, 8b4f083): no element -> 0 (ignoreNullValues defaults to
 * true), more than one element -> error, NaN or +-Inf -> 0 (again ignoreNullValues).
 */
import type { InstantResult } from './prometheus.js';

export function kedaPrometheusValue(result: readonly InstantResult[], ignoreNullValues = true): number {
  if (result.length === 0) {
    if (ignoreNullValues) return 0;
    throw new Error("prometheus metrics 'prometheus' target may be lost, the result is empty");
  }
  if (result.length > 1) throw new Error(`query returned multiple elements (${result.length})`);
  const v = Number(result[0].value[1]);
  if (!Number.isFinite(v)) {
    if (ignoreNullValues) return 0;
    throw new Error(`prometheus query returns ${v}`);
  }
  return v;
}

/**
 * Prometheus' `bucketQuantile` (promql/quantile.go) on classic buckets: linear interpolation inside the bucket
 * holding rank q * count, 0 as the lower bound of the first bucket (when its bound is positive), the upper bound
 * of the second-highest bucket when the rank falls into +Inf. Buckets are cumulative, ascending by bound.
 */
export function bucketQuantile(q: number, buckets: ReadonlyArray<{ upperBound: number; count: number }>): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const b = [...buckets].sort((x, y) => x.upperBound - y.upperBound);
  if (b.length === 0 || b[b.length - 1].upperBound !== Infinity) return NaN;
  // ensureMonotonic, then coalesce equal bounds
  for (let i = 1; i < b.length; i++) if (b[i].count < b[i - 1].count) b[i] = { ...b[i], count: b[i - 1].count };
  if (b.length < 2) return NaN;
  const observations = b[b.length - 1].count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let i = b.findIndex((x) => x.count >= rank);
  if (i < 0) i = b.length - 1;
  if (i === b.length - 1) return b[b.length - 2].upperBound;
  if (i === 0 && b[0].upperBound <= 0) return b[0].upperBound;
  let start = 0;
  const end = b[i].upperBound;
  let count = b[i].count;
  if (i > 0) {
    start = b[i - 1].upperBound;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}
