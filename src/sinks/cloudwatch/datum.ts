/**
 * AWS view of a window (sinks/aws: names, units, dimensions, collisions merged) -> one MetricDatum per series:
 * - counter: a StatisticSet. SampleCount = the adds in the second, Sum = the increase, so CloudWatch's fleet Sum
 *   is the total increase and SampleCount the total adds; Minimum / Maximum = the smallest / largest add when the
 *   window carries them, else the mean add (exact for the usual `add(1)`, and then CloudWatch can even compute
 *   percentiles: Min = Max and Sum = Min x SampleCount). A second without adds sends `Value: 0` (a StatisticSet
 *   needs SampleCount > 0), so rates read 0 rather than "no data";
 * - gauge: `Value` = last; when the gauge moved during the second, a StatisticSet with SampleCount 1, Sum = last
 *   and the second's Minimum / Maximum, so the fleet Sum is the total over pods and Maximum keeps the spike;
 * - histogram: Values/Counts from the exponential buckets (histogram.ts); a second without recordings sends no
 *   datum, not a zero latency.
 */
import type { SeriesWindow } from '../../core/window.js';
import { clampMagnitude, cloudWatchNumber } from '../aws/numbers.js';
import type { AwsSeries, SeriesIdentity } from '../aws/view.js';
import { histogramValues } from './histogram.js';
import { fixedBytes, valueBytes } from './size.js';
import type { MetricDatum, StatisticSet } from './types.js';

export interface ConversionCounts {
  /** Series that had a value CloudWatch cannot take (NaN, infinities) and were left out. */
  datapointsInvalid: number;
}

export class DatumConverter {
  readonly counts: ConversionCounts = { datapointsInvalid: 0 };
  /** JSON bytes of everything but the values, per identity (identities are interned and long-lived). */
  private readonly fixed = new WeakMap<SeriesIdentity, number>();

  constructor(private readonly storageResolution: 1 | 60) {}

  /** Exactly how many datums `convert` will produce for this view, without building them. */
  countDatums(view: readonly AwsSeries[]): number {
    let n = 0;
    for (const { series } of view) if (produces(series)) n++;
    return n;
  }

  /** Appends the datums of one second to `out` and their estimated JSON sizes to `sizes`. */
  /** Converts `view[from..to)` (all of it by default), appending to `out` and `sizes`. */
  convert(view: readonly AwsSeries[], timestamp: number, out: MetricDatum[], sizes: number[], from = 0, to = view.length): void {
    // One Date per call, shared by its datums: they are never mutated.
    const date = new Date(timestamp);
    for (let i = from; i < to; i++) {
      const { identity, series } = view[i];
      if (!produces(series)) continue;
      const datum = toDatum(series, identity, date, this.storageResolution);
      if (datum === undefined) {
        this.counts.datapointsInvalid++;
        continue;
      }
      let fixed = this.fixed.get(identity);
      if (fixed === undefined) {
        fixed = fixedBytes(identity.name, identity.dimensions, identity.unit, this.storageResolution);
        this.fixed.set(identity, fixed);
      }
      out.push(datum);
      sizes.push(fixed + valueBytes(datum));
    }
  }
}

/** Whether a series yields a datum for its window; shared by countDatums and convert so they always agree. */
export function produces(s: SeriesWindow): boolean {
  switch (s.kind) {
    case 'counter':
      return Number.isFinite(s.sum);
    case 'gauge':
      return Number.isFinite(s.last);
    case 'histogram':
      return s.count > 0 && (Number.isFinite(s.sum) || hasBuckets(s));
    default:
      return false;
  }
}

function hasBuckets(s: SeriesWindow): boolean {
  const b = s.buckets;
  if (b === undefined) return false;
  if (b.zeroCount > 0) return true;
  for (const c of b.counts) if (c > 0) return true;
  return false;
}

/** Object literals of one shape per case (no spreading): this runs once per series and second. */
function toDatum(s: SeriesWindow, identity: SeriesIdentity, timestamp: Date, resolution: 1 | 60): MetricDatum | undefined {
  const name = identity.name;
  const dimensions = identity.dimensions;
  const unit = identity.unit;
  switch (s.kind) {
    case 'counter': {
      const sum = cloudWatchNumber(s.sum);
      if (sum === undefined) return undefined;
      if (s.count > 0) {
        const mean = sum / s.count;
        const stats = statisticSet(s.count, sum, Number.isFinite(s.min) ? s.min : mean, Number.isFinite(s.max) ? s.max : mean);
        if (stats !== undefined) return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, StatisticValues: stats, Unit: unit, StorageResolution: resolution };
      }
      return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, Value: sum, Unit: unit, StorageResolution: resolution };
    }
    case 'gauge': {
      const last = cloudWatchNumber(s.last);
      if (last === undefined) return undefined;
      if (Number.isFinite(s.min) && Number.isFinite(s.max) && (s.min < last || s.max > last)) {
        // SampleCount 1 per pod: fleet Sum = total across pods, Average = per pod, Maximum = the spike.
        const stats = statisticSet(1, last, Math.min(s.min, last), Math.max(s.max, last));
        if (stats !== undefined) return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, StatisticValues: stats, Unit: unit, StorageResolution: resolution };
      }
      return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, Value: last, Unit: unit, StorageResolution: resolution };
    }
    case 'histogram': {
      if (s.buckets !== undefined) {
        const pairs = histogramValues(s.buckets, s.min, s.max);
        if (pairs !== undefined) {
          const values = pairs.values;
          for (let i = 0; i < values.length; i++) values[i] = clampMagnitude(values[i]);
          return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, Values: values, Counts: pairs.counts, Unit: unit, StorageResolution: resolution };
        }
      }
      const sum = cloudWatchNumber(s.sum);
      if (sum !== undefined && Number.isFinite(s.min) && Number.isFinite(s.max)) {
        const stats = statisticSet(s.count, sum, s.min, s.max);
        if (stats !== undefined) return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, StatisticValues: stats, Unit: unit, StorageResolution: resolution };
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** A StatisticSet CloudWatch accepts: positive SampleCount, Minimum <= Sum/SampleCount <= Maximum. */
function statisticSet(count: number, sum: number, min: number, max: number): StatisticSet | undefined {
  if (!(count > 0) || !Number.isFinite(count) || !Number.isFinite(sum)) return undefined;
  const mean = sum / count;
  let lo = clampMagnitude(min);
  let hi = clampMagnitude(max);
  if (lo > mean) lo = clampMagnitude(mean);
  if (hi < mean) hi = clampMagnitude(mean);
  if (lo > hi) return undefined;
  return { SampleCount: count, Sum: sum, Minimum: lo, Maximum: hi };
}
