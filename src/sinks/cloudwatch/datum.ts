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
  readonly service: string;
  readonly name: string;
  readonly unit: StandardUnit;
  readonly dimensions: readonly Dimension[];
}

export class DatumConverter {
  readonly counts: ConversionCounts = { dimensionsTruncated: 0, dimensionsDropped: 0, datapointsInvalid: 0 };
  private readonly cache = new Map<string, SeriesInfo>();

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

  convert(window: Window, out: MetricDatum[]): void {
    const { filter, storageResolution } = this.options;
    // One Date per second, shared by its datums: they are never mutated.
    const timestamp = new Date(window.start);
    for (const series of window.series) {
      if (filter !== undefined && !safeFilter(filter, series)) continue;
      if (!produces(series)) continue;
      const info = this.info(series, window.resource.service);
      const datum = toDatum(series, info, timestamp, storageResolution);
      if (datum === undefined) this.counts.datapointsInvalid++;
      else out.push(datum);
    }
  }

  private info(series: SeriesWindow, service: string): SeriesInfo {
    const cached = this.cache.get(series.key);
    if (cached !== undefined && cached.service === service) return cached;
    if (this.cache.size >= CACHE_SIZE) this.cache.clear();
    const info: SeriesInfo = {
      service,
      name: metricName(series.name),
      unit: cloudWatchUnit(series.unit, series.kind),
      dimensions: this.dimensions(series, service),
    };
    this.cache.set(series.key, info);
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

function toDatum(s: SeriesWindow, info: SeriesInfo, timestamp: Date, resolution: 1 | 60): MetricDatum | undefined {
  const head = {
    MetricName: info.name,
    Dimensions: info.dimensions,
    Timestamp: timestamp,
    Unit: info.unit,
    StorageResolution: resolution,
  };
  switch (s.kind) {
    case 'counter': {
      const sum = clampValue(s.sum);
      if (s.count > 0 && Number.isFinite(s.min) && Number.isFinite(s.max)) {
        const stats = statisticSet(s.count, sum, s.min, s.max);
        if (stats !== undefined) return { ...head, StatisticValues: stats };
      }
      return { ...head, Value: sum };
    }
    case 'gauge': {
      const last = clampValue(s.last);
      if (Number.isFinite(s.min) && Number.isFinite(s.max) && (s.min < last || s.max > last)) {
        // SampleCount 1 per pod: fleet Sum = total across pods, Average = per pod, Maximum = the spike.
        const stats = statisticSet(1, last, Math.min(s.min, last), Math.max(s.max, last));
        if (stats !== undefined) return { ...head, StatisticValues: stats };
      }
      return { ...head, Value: last };
    }
    case 'histogram': {
      if (s.buckets !== undefined) {
        const pairs = histogramValues(s.buckets, s.min, s.max);
        if (pairs !== undefined) {
          const values = pairs.values;
          for (let i = 0; i < values.length; i++) values[i] = clampValue(values[i]);
          return { ...head, Values: values, Counts: pairs.counts };
        }
      }
      if (Number.isFinite(s.min) && Number.isFinite(s.max)) {
        const stats = statisticSet(s.count, clampValue(s.sum), s.min, s.max);
        if (stats !== undefined) return { ...head, StatisticValues: stats };
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
