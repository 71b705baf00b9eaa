import type { HistogramBuckets, Labels, MetricKind, SeriesWindow, Window } from '../../src/core/window.js';

/** Builds a SeriesWindow with sensible defaults, for sink tests that do not need the recording core. */
export function series(
  partial: Partial<SeriesWindow> & { name: string; kind: MetricKind; labels?: Labels },
): SeriesWindow {
  const labels = partial.labels ?? {};
  const key =
    partial.key ??
    `${partial.name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join(',')}}`;
  return {
    unit: '',
    description: '',
    count: 0,
    sum: 0,
    min: NaN,
    max: NaN,
    last: NaN,
    rate: 0,
    total: 0,
    p50: NaN,
    p90: NaN,
    p95: NaN,
    p99: NaN,
    ...partial,
    labels,
    key,
  };
}

export function window(start: number, list: SeriesWindow[], intervalMs = 1000): Window {
  return {
    start,
    end: start + intervalMs,
    timestamp: start - (start % intervalMs),
    resource: { service: 'test-service', attributes: { 'service.name': 'test-service' } },
    series: list,
  };
}

export type { HistogramBuckets };
