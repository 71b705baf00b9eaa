/**
 * The EMF metrics of one series (after the AWS view: its CloudWatch stem, unit and, when several series
 * collided, their merge). Naming:
 * - counter `name` (the window's increase), gauge `name` (last value) and optionally `name.max`;
 * - histogram `name.count`, `name.sum`, `name.min`, `name.max`, `name.p50` ... `name.p99`, and optionally `name`
 *   as a value array (histogramValues).
 * Values CloudWatch would reject (NaN, infinities) are left out and counted.
 */
import { bucketRepresentative } from '../../core/histogram/index.js';
import type { QuantileName, SeriesWindow } from '../../core/window.js';
import { cloudWatchNumber } from '../aws/numbers.js';
import type { StandardUnit } from '../aws/units.js';
import type { SeriesIdentity } from '../aws/view.js';

/** One EMF metric: a root member `name` holding a number or an array of at most 100 numbers. */
export interface EmfMetric {
  readonly name: string;
  readonly unit: StandardUnit;
  readonly value: number | number[];
}

export interface MetricConfig {
  /** Percentile metrics per histogram, e.g. `['p50', 'p99']` gives `<name>.p50` and `<name>.p99`. */
  readonly percentiles: readonly QuantileName[];
  /** Also publish `<name>.max` for gauges. */
  readonly gaugeMax: boolean;
  /** Also publish the histogram under `<name>` as a value array that CloudWatch computes percentiles from. */
  readonly histogramValues: boolean;
}

/** EMF allows at most 100 values in one metric's array. */
export const MAX_VALUES = 100;

/** Appends the series' metrics to `out`; returns how many values were left out as invalid. */
export function seriesMetrics(identity: SeriesIdentity, s: SeriesWindow, config: MetricConfig, out: EmfMetric[]): number {
  let invalid = 0;
  const stem = identity.name;
  const unit = identity.unit;
  const push = (name: string, metricUnit: StandardUnit, raw: number): void => {
    const value = cloudWatchNumber(raw);
    if (value === undefined) invalid++;
    else out.push({ name, unit: metricUnit, value });
  };
  switch (s.kind) {
    case 'counter':
      push(stem, unit, s.sum);
      return invalid;
    case 'gauge':
      push(stem, unit, s.last);
      if (config.gaugeMax) push(`${stem}.max`, unit, s.max);
      return invalid;
    case 'histogram': {
      push(`${stem}.count`, 'Count', s.count);
      push(`${stem}.sum`, unit, s.sum);
      if (s.count === 0) return invalid;
      push(`${stem}.min`, unit, s.min);
      push(`${stem}.max`, unit, s.max);
      for (const q of config.percentiles) push(`${stem}.${q}`, unit, s[q]);
      if (config.histogramValues) {
        const values = sampleValues(s);
        if (values.length > 0) out.push({ name: stem, unit, value: values });
      }
      return invalid;
    }
    default:
      return invalid;
  }
}

/**
 * Up to 100 values standing for the window's recordings: every recording when there are at most 100 (as its
 * bucket's representative value, within the histogram's relative error), else the values at 100 evenly spaced
 * ranks. CloudWatch then computes percentiles across the fleet from these arrays; beyond 100 recordings a pod's
 * weight in that fleet percentile is capped at 100 samples.
 */
export function sampleValues(s: SeriesWindow): number[] {
  const b = s.buckets;
  if (b === undefined || s.count === 0) return [];
  const total = b.counts.reduce((a, c) => a + c, b.zeroCount);
  if (total === 0) return [];
  const n = Math.min(total, MAX_VALUES);
  const values: number[] = [];
  let bucket = -1; // -1: the zero bucket
  let seen = b.zeroCount;
  for (let k = 0; k < n; k++) {
    const rank = n === total ? k + 1 : Math.ceil(((k + 0.5) * total) / n);
    while (seen < rank) seen += b.counts[++bucket];
    const v = bucket < 0 ? 0 : bucketRepresentative(b.scale, b.offset + bucket);
    values.push(cloudWatchNumber(Math.min(s.max, Math.max(s.min, v))) ?? 0);
  }
  return values;
}
