/**
 * CloudWatch metric names of a series, the same on EMF and PutMetricData. The core allows names of 255
 * characters, and EMF derives `<name>.p99`, `<name>.count`, `<name>.max` from a series: the stem is cut so that
 * every derived name fits the API's 255, and all metrics of one series share that stem. Counters keep all 255.
 * Text other than printable ASCII is percent-encoded as dimension text is (the core never produces it).
 */
import type { MetricKind } from '../../core/window.js';
import { dimensionValue } from './dimension-text.js';
import { MAX_METRIC_NAME_LENGTH } from './limits.js';

/** Longest suffix EMF appends per kind: `.count` for histograms, `.max` for gauges. */
const SUFFIX_ROOM: Readonly<Record<MetricKind, number>> = { counter: 0, gauge: 4, histogram: 6 };

export function metricStem(name: string, kind: MetricKind): string {
  const room = MAX_METRIC_NAME_LENGTH - (SUFFIX_ROOM[kind] ?? 6);
  const clean = name === '' ? 'unnamed' : dimensionValue(name);
  return clean.length <= room ? clean : clean.slice(0, room);
}
