/**
 * Percentiles as CloudWatch computes them from what it received, written from its documented definition
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html): "p95 is the 95th
 * percentile and means that 95 percent of the data within the period is lower than this value and 5 percent of
 * the data is higher than this value". The data are every datum's Values, each repeated Count times
 * (PutMetricData API reference: "Counts ... the number of times each value occurred during the period").
 *
 * The definition does not say which value wins when several satisfy it (p * N a whole number): with the values
 * sorted x1 <= ... <= xN, x_r qualifies when r - 1 <= p * N and N - r <= (1 - p) * N, i.e. r in
 * [ceil(pN), floor(pN) + 1]. Both ends are returned, and tests hold both to the bound.
 */
export interface Received {
  readonly values: readonly number[];
  readonly counts: readonly number[];
}

export function cloudWatchPercentile(data: readonly Received[], p: number): { low: number; high: number } {
  return cloudWatchPercentiles(data, [p])[0];
}

/** Several percentiles with one sort. */
export function cloudWatchPercentiles(data: readonly Received[], ps: readonly number[]): { low: number; high: number }[] {
  const pairs: [number, number][] = [];
  for (const d of data) {
    if (d.values.length !== d.counts.length) throw new Error('Values and Counts differ in length');
    d.values.forEach((v, i) => pairs.push([v, d.counts[i]]));
  }
  pairs.sort((a, b) => a[0] - b[0]);
  const n = pairs.reduce((s, [, c]) => s + c, 0);
  const at = (rank: number): number => {
    let seen = 0;
    for (const [v, c] of pairs) {
      seen += c;
      if (seen >= rank) return v;
    }
    return pairs[pairs.length - 1][0];
  };
  return ps.map((p) => {
    if (n === 0) return { low: NaN, high: NaN };
    const pn = (p / 100) * n;
    return { low: at(Math.max(1, Math.ceil(pn))), high: at(Math.min(n, Math.floor(pn) + 1)) };
  });
}

/** The same definition over raw recordings: what CloudWatch would report had it received every value. */
export function exactPercentiles(values: readonly number[], ps: readonly number[]): { low: number; high: number }[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return ps.map((p) => {
    if (n === 0) return { low: NaN, high: NaN };
    const pn = (p / 100) * n;
    return { low: sorted[Math.max(1, Math.ceil(pn)) - 1], high: sorted[Math.min(n, Math.floor(pn) + 1) - 1] };
  });
}

export function exactPercentile(values: readonly number[], p: number): { low: number; high: number } {
  return exactPercentiles(values, [p])[0];
}

/**
 * Relative error of a received percentile against the exact one: the largest distance from either admissible
 * received answer to the interval of admissible exact answers (0 inside it), relative to that interval's end.
 */
export function percentileError(got: { low: number; high: number }, exact: { low: number; high: number }): number {
  const distance = (v: number): number => {
    if (v >= exact.low && v <= exact.high) return 0;
    const end = v < exact.low ? exact.low : exact.high;
    return Math.abs(v - end) / (end === 0 ? Number.MIN_VALUE : Math.abs(end));
  };
  return Math.max(distance(got.low), distance(got.high));
}
