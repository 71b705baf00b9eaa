import type { HrTime } from '@opentelemetry/api';
import type { ExponentialHistogram } from '@opentelemetry/sdk-metrics';
import type { MetricKind, SeriesWindow, Window } from '../../core/window.js';
import { BucketAccumulator } from '../../core/histogram/index.js';

export type Temporality = 'delta' | 'cumulative';

/** Temporality per instrument kind (gauges have none in OTLP). */
export interface TemporalityChoice {
  readonly counter: Temporality;
  readonly histogram: Temporality;
}

export interface MetricIdentity {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: MetricKind;
}

export interface SeriesPoint {
  readonly metric: MetricIdentity;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly attributes: Readonly<Record<string, string>>;
  readonly value: number | ExponentialHistogram;
}

/** Scale reported by an empty point that has no buckets to take it from: mergers take the minimum scale, so the finest one never coarsens anybody. */
const EMPTY_SCALE = 20;

interface CounterState {
  startMs: number;
  lastTotal: number;
}

interface HistogramState {
  startMs: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets: BucketAccumulator | undefined;
}

export function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/**
 * Turns Windows into OTLP data points. Delta points are a pure function of the window; cumulative ones carry a
 * fixed start time per series (reset when the series is evicted or its total goes backwards) and, for
 * histograms, buckets accumulated by this sink since that start.
 */
export class DataPointConverter {
  private readonly counters = new Map<string, CounterState>();
  private readonly histograms = new Map<string, HistogramState>();

  constructor(readonly temporality: TemporalityChoice) {}

  /** Series that currently hold cumulative state. */
  get trackedSeries(): number {
    return this.counters.size + this.histograms.size;
  }

  convert(window: Window): SeriesPoint[] {
    const points: SeriesPoint[] = [];
    const end = toHrTime(window.end);
    const start = toHrTime(window.start);
    const seen = new Set<string>();
    for (const s of window.series) {
      seen.add(s.key);
      const point = this.point(s, window, start, end);
      if (point !== undefined) points.push(point);
    }
    // A live series appears in every window; one that is missing was evicted and starts over if it returns.
    for (const key of this.counters.keys()) if (!seen.has(key)) this.counters.delete(key);
    for (const key of this.histograms.keys()) if (!seen.has(key)) this.histograms.delete(key);
    return points;
  }

  private point(s: SeriesWindow, w: Window, start: HrTime, end: HrTime): SeriesPoint | undefined {
    const metric: MetricIdentity = { name: s.name, unit: s.unit, description: s.description, kind: s.kind };
    const attributes = s.labels;
    switch (s.kind) {
      case 'gauge':
        if (!Number.isFinite(s.last)) return undefined;
        return { metric, startTime: start, endTime: end, attributes, value: s.last };
      case 'counter': {
        if (this.temporality.counter === 'delta') {
          return { metric, startTime: start, endTime: end, attributes, value: s.sum };
        }
        let state = this.counters.get(s.key);
        if (state === undefined || s.total < state.lastTotal) {
          state = { startMs: w.start, lastTotal: s.total };
          this.counters.set(s.key, state);
        }
        state.lastTotal = s.total;
        return { metric, startTime: toHrTime(state.startMs), endTime: end, attributes, value: s.total };
      }
      case 'histogram':
        return this.temporality.histogram === 'delta'
          ? { metric, startTime: start, endTime: end, attributes, value: deltaHistogram(s) }
          : this.cumulativeHistogram(s, w, metric, end);
    }
  }

  private cumulativeHistogram(s: SeriesWindow, w: Window, metric: MetricIdentity, end: HrTime): SeriesPoint {
    let state = this.histograms.get(s.key);
    if (state === undefined) {
      state = { startMs: w.start, count: 0, sum: 0, min: Infinity, max: -Infinity, buckets: undefined };
      this.histograms.set(s.key, state);
    }
    if (s.count > 0) {
      state.count += s.count;
      state.sum += s.sum;
      if (s.min < state.min) state.min = s.min;
      if (s.max > state.max) state.max = s.max;
    }
    if (s.buckets !== undefined) {
      state.buckets ??= new BucketAccumulator();
      state.buckets.add(s.buckets);
    }
    // A copy: the accumulator keeps changing after the point is built.
    const b = state.buckets?.toBuckets();
    const value: ExponentialHistogram = {
      count: state.count,
      sum: state.sum,
      scale: b?.scale ?? EMPTY_SCALE,
      zeroCount: b?.zeroCount ?? 0,
      positive: { offset: b?.offset ?? 0, bucketCounts: b?.counts ?? [] },
      negative: { offset: 0, bucketCounts: [] },
      ...(state.count > 0 ? { min: state.min, max: state.max } : {}),
    };
    return { metric, startTime: toHrTime(state.startMs), endTime: end, attributes: s.labels, value };
  }
}

function deltaHistogram(s: SeriesWindow): ExponentialHistogram {
  const b = s.buckets;
  return {
    count: s.count,
    sum: s.sum,
    scale: b?.scale ?? EMPTY_SCALE,
    zeroCount: b?.zeroCount ?? 0,
    positive: { offset: b?.offset ?? 0, bucketCounts: b === undefined ? [] : Array.from(b.counts) },
    negative: { offset: 0, bucketCounts: [] },
    // OTLP min/max are optional and describe recorded values only: an empty window has none.
    ...(s.count > 0 ? { min: s.min, max: s.max } : {}),
  };
}
