/**
 * What reached a backend, decoded from the bytes that left the process and normalised so one set of scenarios can
 * judge every sink: one Arrival per series (as the backend names it) and timestamp.
 */
export interface HistogramArrival {
  readonly count: number;
  readonly sum: number;
  /** The backend received representative values, not the sum: it is then within the histogram's relative error. */
  readonly sumIsEstimate?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** The quantile as this backend computes it from what it received. */
  quantile(q: 0.5 | 0.9 | 0.99): number;
}

export interface Arrival {
  /** The canonical metric name (`conf.requests`), recovered from the backend's name. */
  readonly metric: string;
  /** Labels as they arrived (backend dimensions or attributes, minus the service's own). */
  readonly labels: Readonly<Record<string, string>>;
  /** Epoch ms of the second the backend files it under; NaN for pull backends (cumulative state). */
  readonly timestamp: number;
  /** Counters: the increase this arrival carries (push) or the running total (pull). */
  readonly counter?: number;
  /** Gauges: the value. */
  readonly gauge?: number;
  readonly histogram?: HistogramArrival;
}

export interface Delivery {
  readonly arrivals: readonly Arrival[];
  /** Series the sink merged because the backend cannot hold their labels apart (its own self-metric). */
  readonly merged: number;
  /** Pull backends hold cumulative state: counters are totals, not per-window increases. */
  readonly cumulative: boolean;
  /** Points the backend got twice for one series and timestamp (it would count them twice). */
  readonly duplicates?: readonly string[];
}

/** Nearest-rank quantile of an expanded sample (the definition CloudWatch and the SDK use). */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * CloudWatch's percentile of a datum sent as Values/Counts: each value stands for Count identical samples
 * (PutMetricData API reference, "Values" and "Counts"), then the nearest rank over that expanded sample.
 */
export function cloudWatchPercentile(values: readonly number[], counts: readonly number[] | undefined, q: number): number {
  const pairs = values.map((value, i) => [value, counts?.[i] ?? 1] as const).sort((a, b) => a[0] - b[0]);
  const total = pairs.reduce((n, [, c]) => n + c, 0);
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [value, count] of pairs) {
    seen += count;
    if (seen >= rank) return value;
  }
  return NaN;
}
