/**
 * Merging two consecutive windows' series into one, as if one longer window had been sealed: counts and sums
 * add, min and max combine, histograms add bucket-wise and their quantiles are computed again, and a gauge's or
 * counter's state (last value, running total) is the later window's.
 */
import { mergeWindowHistograms } from './histogram/window-histograms.js';
import type { SeriesWindow } from './window.js';

export function mergeSeriesWindows(
  earlier: readonly SeriesWindow[],
  later: readonly SeriesWindow[],
  seconds: number,
): readonly SeriesWindow[] {
  const byKey = new Map<string, SeriesWindow>();
  for (const series of later) byKey.set(series.key, series);
  const merged: SeriesWindow[] = [];
  const seen = new Set<string>();
  for (const a of earlier) {
    const b = byKey.get(a.key);
    seen.add(a.key);
    merged.push(Object.freeze(b === undefined ? rated(a, seconds) : mergeSeries(a, b, seconds)));
  }
  for (const b of later) if (!seen.has(b.key)) merged.push(Object.freeze(rated(b, seconds)));
  return Object.freeze(merged);
}

function rated(series: SeriesWindow, seconds: number): SeriesWindow {
  return { ...series, rate: (series.kind === 'counter' ? series.sum : series.count) / Math.max(seconds, 0.001) };
}

function minOf(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.min(a, b);
}

function maxOf(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.max(a, b);
}

function mergeSeries(a: SeriesWindow, b: SeriesWindow, seconds: number): SeriesWindow {
  const count = a.count + b.count;
  const sum = a.sum + b.sum;
  const rate = (a.kind === 'counter' ? sum : count) / Math.max(seconds, 0.001);
  if (a.kind !== 'histogram' || a.buckets === undefined || b.buckets === undefined) {
    return {
      ...b,
      count,
      sum,
      min: a.kind === 'counter' ? NaN : minOf(a.min, b.min),
      max: a.kind === 'counter' ? NaN : maxOf(a.max, b.max),
      last: b.count > 0 || a.kind === 'gauge' ? b.last : a.last,
      rate,
    };
  }
  const min = minOf(a.min, b.min);
  const max = maxOf(a.max, b.max);
  return { ...b, count, sum, min, max, rate, total: count, ...mergeWindowHistograms(a.buckets, b.buckets, min, max) };
}
