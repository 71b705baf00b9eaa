/**
 * Two series that end up with the same CloudWatch name, unit and dimensions (labels that clean to the same text,
 * a label dropped for clashing with a base dimension, a value cut at 1024 characters) are one metric to
 * CloudWatch. Sending both would make one overwrite or double the other (EMF cannot even hold two root members
 * of one name); skipping one loses what it counted. So they are merged, as CloudWatch would aggregate them:
 * - counters: counts, sums, totals and rates add;
 * - gauges add up, as the core adds a gauge's parts across threads (in-flight requests of two routes that
 *   merge are the in-flight total); min and max become the sums of the parts' min and max, which bound the
 *   merged gauge's range in the window;
 * - histograms: counts and sums add, min/max are the smaller/larger, buckets add bucket-wise (at the coarser scale
 *   when the two differ), and P50..P99 are recomputed from the merged buckets.
 */
import { mergeWindowHistograms } from '../../core/histogram/index.js';
import type { SeriesWindow } from '../../core/window.js';

export function mergeSeries(a: SeriesWindow, b: SeriesWindow): SeriesWindow {
  switch (a.kind) {
    case 'counter':
      return {
        ...a,
        count: a.count + b.count,
        sum: a.sum + b.sum,
        total: a.total + b.total,
        rate: a.rate + b.rate,
        min: lower(a.min, b.min),
        max: higher(a.max, b.max),
        last: Number.isNaN(b.last) ? a.last : b.last,
      };
    case 'gauge':
      return {
        ...a,
        count: a.count + b.count,
        sum: a.sum + b.sum,
        rate: a.rate + b.rate,
        last: add(a.last, b.last),
        min: add(a.min, b.min),
        max: add(a.max, b.max),
        total: add(a.total, b.total),
      };
    default:
      return mergeHistograms(a, b);
  }
}

function mergeHistograms(a: SeriesWindow, b: SeriesWindow): SeriesWindow {
  const min = lower(a.min, b.min);
  const max = higher(a.max, b.max);
  const merged: SeriesWindow = { ...a, count: a.count + b.count, sum: a.sum + b.sum, rate: a.rate + b.rate, min, max, last: NaN };
  if (a.buckets === undefined || b.buckets === undefined) {
    // Without buckets on both sides no quantile can be computed honestly.
    return { ...merged, buckets: undefined, p50: NaN, p90: NaN, p95: NaN, p99: NaN };
  }
  return { ...merged, ...mergeWindowHistograms(a.buckets, b.buckets, min, max) };
}

/** NaN means "none" (an empty histogram's min): the other side wins. */
function lower(x: number, y: number): number {
  return Number.isNaN(x) ? y : Number.isNaN(y) ? x : Math.min(x, y);
}

function higher(x: number, y: number): number {
  return Number.isNaN(x) ? y : Number.isNaN(y) ? x : Math.max(x, y);
}

function add(x: number, y: number): number {
  return Number.isNaN(x) ? y : Number.isNaN(y) ? x : x + y;
}
