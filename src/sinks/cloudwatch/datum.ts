/**
 * Window -> MetricDatum[]: one datum per series and second, `StorageResolution: 1`, `Timestamp` = the window's
 * start, so every datum keeps its own second however late it is sent.
 *
 * Dimensions are the series' labels plus a service dimension; there is no per-pod dimension by default, so
 * CloudWatch aggregates the fleet (Sum, SampleCount, percentiles) and the metric count does not grow with pods.
 * Every number is finite and inside CloudWatch's +-2^360 range: the API rejects the whole request otherwise.
 */
import type { SeriesWindow, Window } from '../../core/window.js';
import { histogramValues } from './histogram.js';
import { fixedBytes, valueBytes } from './size.js';
import type { Dimension, MetricDatum, StandardUnit, StatisticSet } from './types.js';
import { cloudWatchUnit } from './units.js';

export const MAX_DIMENSIONS = 30;
export const MAX_DIMENSION_NAME = 255;
export const MAX_DIMENSION_VALUE = 1024;
export const MAX_METRIC_NAME = 255;
const LIMIT = Math.pow(2, 360);
const TINY = Math.pow(2, -360);
/** Series whose names, units and dimensions are cached; cleared when full (label churn). */
const CACHE_SIZE = 10_000;

export interface DatumOptions {
  /** Dimension name carrying `window.resource.service`; null for none. */
  readonly serviceDimension: string | null;
  /** Added to every datum (already validated), e.g. `{ Environment: 'prod' }` or an opt-in pod dimension. */
  readonly staticDimensions: readonly Dimension[];
  readonly storageResolution: 1 | 60;
  /** Series to send; default all. */
  readonly filter?: (series: SeriesWindow) => boolean;
}

/** What conversion had to change or leave out, for `stats()`. */
export interface ConversionCounts {
  dimensionsTruncated: number;
  dimensionsDropped: number;
  datapointsInvalid: number;
}

interface SeriesInfo {
  readonly key: string;
  readonly service: string;
  readonly name: string;
  readonly unit: StandardUnit;
  readonly dimensions: readonly Dimension[];
  /** JSON bytes of everything but the values. */
  readonly bytes: number;
}

export class DatumConverter {
  readonly counts: ConversionCounts = { dimensionsTruncated: 0, dimensionsDropped: 0, datapointsInvalid: 0 };
  private readonly cache = new Map<string, SeriesInfo>();
  private readonly byPosition: Array<SeriesInfo | undefined> = [];

  constructor(private readonly options: DatumOptions) {}

  /** Exactly how many datums `convert` will produce for this window, without building them. */
  countDatums(window: Window): number {
    const { filter } = this.options;
    let n = 0;
    for (const series of window.series) {
      if (filter !== undefined && !safeFilter(filter, series)) continue;
      if (produces(series)) n++;
    }
    return n;
  }

  /** Appends the window's datums to `out` and, when given, their estimated JSON sizes to `sizes`. */
  convert(window: Window, out: MetricDatum[], sizes?: number[]): void {
    const { filter, storageResolution } = this.options;
    // One Date per second, shared by its datums: they are never mutated.
    const timestamp = new Date(window.start);
    const list = window.series;
    const service = window.resource.service;
    for (let i = 0; i < list.length; i++) {
      const series = list[i];
      if (filter !== undefined && !safeFilter(filter, series)) continue;
      if (!produces(series)) continue;
      // Windows list the same series in the same order second after second: try the same position first.
      const known = this.byPosition[i];
      const info = known !== undefined && known.key === series.key && known.service === service ? known : this.info(series, service, i);
      const datum = toDatum(series, info, timestamp, storageResolution);
      if (datum === undefined) {
        this.counts.datapointsInvalid++;
        continue;
      }
      out.push(datum);
      if (sizes !== undefined) sizes.push(info.bytes + valueBytes(datum));
    }
  }

  private info(series: SeriesWindow, service: string, position: number): SeriesInfo {
    const cached = this.cache.get(series.key);
    if (cached !== undefined && cached.service === service) {
      if (position < CACHE_SIZE) this.byPosition[position] = cached;
      return cached;
    }
    if (this.cache.size >= CACHE_SIZE) {
      this.cache.clear();
      this.byPosition.length = 0;
    }
    const name = metricName(series.name);
    const unit = cloudWatchUnit(series.unit, series.kind);
    const dimensions = this.dimensions(series, service);
    const bytes = fixedBytes(name, dimensions, unit, this.options.storageResolution);
    const info: SeriesInfo = { key: series.key, service, name, unit, dimensions, bytes };
    this.cache.set(series.key, info);
    if (position < CACHE_SIZE) this.byPosition[position] = info;
    return info;
  }

  private dimensions(series: SeriesWindow, service: string): Dimension[] {
    const list: Dimension[] = [];
    const names = new Set<string>();
    const add = (rawName: string, rawValue: string): void => {
      const name = cleanName(rawName);
      const value = cleanValue(rawValue);
      if (name === undefined || value === undefined || names.has(name) || list.length >= MAX_DIMENSIONS) {
        this.counts.dimensionsDropped++;
        return;
      }
      if (name !== rawName || value !== rawValue) this.counts.dimensionsTruncated++;
      names.add(name);
      list.push({ Name: name, Value: value });
    };
    // Service and static dimensions first: they are what dashboards and KEDA triggers select on.
    if (this.options.serviceDimension !== null && service !== '') add(this.options.serviceDimension, service);
    for (const d of this.options.staticDimensions) add(d.Name, d.Value);
    const keys = Object.keys(series.labels).sort();
    for (const key of keys) add(key, series.labels[key]);
    return list;
  }
}

function safeFilter(filter: (series: SeriesWindow) => boolean, series: SeriesWindow): boolean {
  try {
    return filter(series) !== false;
  } catch {
    return false;
  }
}

/** Whether a series yields a datum for this window; shared by countDatums and convert so they always agree. */
function produces(s: SeriesWindow): boolean {
  switch (s.kind) {
    case 'counter':
      return Number.isFinite(s.sum);
    case 'gauge':
      return Number.isFinite(s.last);
    case 'histogram':
      // An empty histogram second is "no observations", not a zero latency that would drag percentiles down.
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
function toDatum(s: SeriesWindow, info: SeriesInfo, timestamp: Date, resolution: 1 | 60): MetricDatum | undefined {
  const name = info.name;
  const dimensions = info.dimensions;
  const unit = info.unit;
  switch (s.kind) {
    case 'counter': {
      const sum = clampValue(s.sum);
      if (s.count > 0 && Number.isFinite(s.min) && Number.isFinite(s.max)) {
        const stats = statisticSet(s.count, sum, s.min, s.max);
        if (stats !== undefined) return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, StatisticValues: stats, Unit: unit, StorageResolution: resolution };
      }
      return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, Value: sum, Unit: unit, StorageResolution: resolution };
    }
    case 'gauge': {
      const last = clampValue(s.last);
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
          for (let i = 0; i < values.length; i++) values[i] = clampValue(values[i]);
          return { MetricName: name, Dimensions: dimensions, Timestamp: timestamp, Values: values, Counts: pairs.counts, Unit: unit, StorageResolution: resolution };
        }
      }
      if (Number.isFinite(s.min) && Number.isFinite(s.max)) {
        const stats = statisticSet(s.count, clampValue(s.sum), s.min, s.max);
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
  let lo = clampValue(min);
  let hi = clampValue(max);
  if (lo > mean) lo = clampValue(mean);
  if (hi < mean) hi = clampValue(mean);
  if (lo > hi) return undefined;
  return { SampleCount: count, Sum: sum, Minimum: lo, Maximum: hi };
}

/** Into CloudWatch's accepted range; magnitudes below 2^-360 are rejected too, so they become 0. */
export function clampValue(v: number): number {
  if (v > LIMIT) return LIMIT;
  if (v < -LIMIT) return -LIMIT;
  if (v !== 0 && v > -TINY && v < TINY) return 0;
  return v;
}

function metricName(name: string): string {
  const trimmed = name.length > MAX_METRIC_NAME ? name.slice(0, MAX_METRIC_NAME) : name;
  return trimmed === '' ? 'unnamed' : trimmed;
}

/** CloudWatch dimension text: printable ASCII only, at least one non-space character. */
function ascii(text: string, max: number): string {
  let out = '';
  const n = Math.min(text.length, max);
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    out += code >= 0x20 && code <= 0x7e ? text[i] : '_';
  }
  return out;
}

function cleanName(name: string): string | undefined {
  let out = ascii(name, MAX_DIMENSION_NAME);
  if (out.startsWith(':')) out = '_' + out.slice(1);
  return out.trim() === '' ? undefined : out;
}

function cleanValue(value: string): string | undefined {
  const out = ascii(value, MAX_DIMENSION_VALUE);
  return out.trim() === '' ? undefined : out;
}
