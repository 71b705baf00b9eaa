/**
 * Helpers for the OTel API tests: a reference @opentelemetry/sdk-metrics provider, a tee that sends every API call
 * to two providers (so the SDK aggregates exactly what scalesignal records), and per-label-set totals over windows.
 */
import type {
  Attributes,
  BatchObservableCallback,
  Meter,
  MeterProvider,
  MetricOptions,
  Observable,
  ObservableCallback,
} from '@opentelemetry/api';
import { DataPointType, MeterProvider as SdkMeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import type { SeriesWindow, Window } from '../../src/core/window.js';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface SdkPoint {
  readonly labels: string;
  /** Counter / up-down counter: the cumulative sum. Gauge: the last value. */
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  readonly min?: number;
  readonly max?: number;
}

/** The official SDK with a cumulative reader: what the OTel SDK would have exported for the same calls. */
export function sdkReference(): { provider: SdkMeterProvider; collect(): Promise<Map<string, Map<string, SdkPoint>>> } {
  const reader = new TestReader();
  const provider = new SdkMeterProvider({ readers: [reader] });
  return {
    provider,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new Error(`SDK collection errors: ${errors.join('; ')}`);
      const out = new Map<string, Map<string, SdkPoint>>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) out.set(metric.descriptor.name, points(metric, out.get(metric.descriptor.name)));
      }
      return out;
    },
  };
}

function points(metric: MetricData, into = new Map<string, SdkPoint>()): Map<string, SdkPoint> {
  for (const point of metric.dataPoints) {
    const labels = expectedLabels(point.attributes);
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      const v = point.value as { count: number; sum?: number; min?: number; max?: number };
      into.set(labels, { labels, count: v.count, sum: v.sum, min: v.min, max: v.max });
    } else {
      into.set(labels, { labels, value: point.value as number });
    }
  }
  return into;
}

/**
 * The label set scalesignal should file OTel attributes under, written independently of src/otel: null and
 * undefined left out, arrays as JSON, everything else String(); sorted by name. Same format as `labelsOf`.
 */
export function expectedLabels(attributes: Attributes): string {
  const entries: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    entries.push([name, Array.isArray(value) ? JSON.stringify(value) : String(value)]);
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

export function labelsOf(series: SeriesWindow): string {
  return JSON.stringify(Object.entries(series.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export interface Totals {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** The value at the end of the latest window (gauges). */
  last: number;
}

/** Per label set of one metric: counts and sums added over every window, min/max over all, the latest `last`. */
export function totals(windows: readonly Window[], name: string): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const window of windows) {
    for (const s of window.series) {
      if (s.name !== name) continue;
      const key = labelsOf(s);
      const t = out.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity, last: NaN };
      t.count += s.count;
      t.sum += s.sum;
      if (s.min < t.min) t.min = s.min;
      if (s.max > t.max) t.max = s.max;
      t.last = s.last;
      out.set(key, t);
    }
  }
  return out;
}

/** A MeterProvider sending every call to each of `providers`, so each aggregates the very same measurements. */
export function teeMeterProvider(...providers: MeterProvider[]): MeterProvider {
  return {
    getMeter(name, version, options) {
      return teeMeter(providers.map((p) => p.getMeter(name, version, options)));
    },
  };
}

const underlying = new WeakMap<Observable, Observable[]>();

function teeMeter(meters: Meter[]): Meter {
  const sync =
    <K extends 'createCounter' | 'createUpDownCounter' | 'createGauge' | 'createHistogram'>(kind: K) =>
    (name: string, options?: MetricOptions) => {
      const parts = meters.map((m) => m[kind](name, options) as { add?: Function; record?: Function });
      return {
        add: (value: number, attributes?: Attributes) => parts.forEach((p) => p.add!(value, attributes)),
        record: (value: number, attributes?: Attributes) => parts.forEach((p) => p.record!(value, attributes)),
      };
    };
  const observable =
    (kind: 'createObservableCounter' | 'createObservableUpDownCounter' | 'createObservableGauge') =>
    (name: string, options?: MetricOptions): Observable => {
      const parts = meters.map((m) => m[kind](name, options));
      const tee: Observable = {
        addCallback: (cb: ObservableCallback) => parts.forEach((p) => p.addCallback(cb)),
        removeCallback: (cb: ObservableCallback) => parts.forEach((p) => p.removeCallback(cb)),
      };
      underlying.set(tee, parts);
      return tee;
    };
  return {
    createCounter: sync('createCounter'),
    createUpDownCounter: sync('createUpDownCounter'),
    createGauge: sync('createGauge'),
    createHistogram: sync('createHistogram'),
    createObservableCounter: observable('createObservableCounter'),
    createObservableUpDownCounter: observable('createObservableUpDownCounter'),
    createObservableGauge: observable('createObservableGauge'),
    addBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]) {
      meters.forEach((m, i) => m.addBatchObservableCallback(mapped(callback, i), observables.map((o) => underlying.get(o)?.[i] ?? o)));
    },
    removeBatchObservableCallback() {
      throw new Error('not used by the tests');
    },
  } as Meter;
}

function mapped(callback: BatchObservableCallback, i: number): BatchObservableCallback {
  return (result) =>
    callback({ observe: (o: Observable, value: number, attributes?: Attributes) => result.observe(underlying.get(o)?.[i] ?? o, value, attributes) });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
