/**
 * One dashboard point per Window: the leading indicators as numbers, null where the window has no such series
 * (the chart shows a gap rather than a made-up zero).
 *
 * The default names are those scalesignal's integrations emit (src/integrations: http/names.ts, sse, queues,
 * event-loop.ts); a test keeps them in step. They are repeated here rather than imported so the sink depends
 * on the core only. OpenTelemetry instrumentation recorded through scalesignal/otel uses the same
 * `http.server.request.duration` (in s rather than ms: converted by unit) and `http.server.active_requests`.
 */
import { BucketAccumulator, quantilesInto } from '../../core/histogram/index.js';
import type { SeriesWindow, Window } from '../../core/window.js';

export interface IndicatorNames {
  /** Gauge of requests in flight. Default `http.server.active_requests`. */
  inflight?: string;
  /** Counter of finished requests (labels `outcome` / `status_class` tell errors). Default `http.server.requests`. */
  requests?: string;
  /** Histogram of request durations (ms, s, us or ns). Default `http.server.request.duration`. */
  duration?: string;
  /** Gauge of open SSE connections. Default `sse.active_connections`. */
  sse?: string;
  /** Gauge of queued work, summed over its label sets (one per queue). Default `queue.depth`. */
  queueDepth?: string;
  /** Gauges `<prefix>.p99` and `<prefix>.max` (ms). Default `nodejs.eventloop.delay`. */
  eventLoopDelay?: string;
}

export const DEFAULT_NAMES: Required<IndicatorNames> = {
  inflight: 'http.server.active_requests',
  requests: 'http.server.requests',
  duration: 'http.server.request.duration',
  sse: 'sse.active_connections',
  queueDepth: 'queue.depth',
  eventLoopDelay: 'nodejs.eventloop.delay',
};

/** Column order of a point; the page learns it from the snapshot. */
export const FIELDS = [
  'inflight',
  'inflightPeak',
  'requestRate',
  'errorRate',
  'p50',
  'p99',
  'sse',
  'ssePeak',
  'queueDepth',
  'queuePeak',
  'loopP99',
  'loopMax',
] as const;
export type Field = (typeof FIELDS)[number];

/** [window timestamp in seconds, ...FIELDS]; null where the window had no data. */
export type Point = [number, ...Array<number | null>];

const TO_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, us: 0.001, ns: 0.000001 };

export class Indicators {
  private readonly names: Required<IndicatorNames>;

  constructor(names: IndicatorNames = {}) {
    this.names = { ...DEFAULT_NAMES, ...names };
  }

  point(window: Window): Point {
    const n = this.names;
    const values: Record<Field, number | null> = {
      inflight: null,
      inflightPeak: null,
      requestRate: null,
      errorRate: null,
      p50: null,
      p99: null,
      sse: null,
      ssePeak: null,
      queueDepth: null,
      queuePeak: null,
      loopP99: null,
      loopMax: null,
    };
    const durations: SeriesWindow[] = [];
    let requestsSeen = false;
    let requestRate = 0;
    let errorRate = 0;
    for (const s of window.series) {
      if (s.name === n.inflight) {
        values.inflight = add(values.inflight, s.last);
        values.inflightPeak = add(values.inflightPeak, peak(s));
      } else if (s.name === n.requests && s.kind === 'counter') {
        requestsSeen = true;
        requestRate += s.rate;
        if (isError(s)) errorRate += s.rate;
      } else if (s.name === n.duration && s.kind === 'histogram') {
        durations.push(s);
      } else if (s.name === n.sse) {
        values.sse = add(values.sse, s.last);
        values.ssePeak = add(values.ssePeak, peak(s));
      } else if (s.name === n.queueDepth) {
        values.queueDepth = add(values.queueDepth, s.last);
        values.queuePeak = add(values.queuePeak, peak(s));
      } else if (s.name === `${n.eventLoopDelay}.p99`) {
        values.loopP99 = finite(s.last);
      } else if (s.name === `${n.eventLoopDelay}.max`) {
        values.loopMax = finite(s.last);
      }
    }
    if (requestsSeen) {
      values.requestRate = requestRate;
      values.errorRate = errorRate;
    } else if (durations.length > 0) {
      // No request counter (e.g. only OpenTelemetry's instrumentation-http): every request records a duration.
      values.requestRate = durations.reduce((a, s) => a + s.rate, 0);
      values.errorRate = durations.filter(isError).reduce((a, s) => a + s.rate, 0);
    }
    const quantiles = mergedQuantiles(durations);
    values.p50 = quantiles[0];
    values.p99 = quantiles[1];
    // The timestamp every sink reports the window at: one per window, even when flush() cut a second in two.
    return [window.timestamp / 1000, ...FIELDS.map((f) => values[f])];
  }
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Adds a series' value to a sum that may not have started; a gauge never set (NaN) counts as 0. */
function add(sum: number | null, value: number): number {
  return (sum ?? 0) + (Number.isFinite(value) ? value : 0);
}

/** The largest value a gauge held in the window (its max includes the value at the window's start). */
function peak(s: SeriesWindow): number {
  return Number.isFinite(s.max) ? s.max : s.last;
}

function isError(s: SeriesWindow): boolean {
  const { outcome, status_class: statusClass } = s.labels;
  if (outcome === '5xx' || outcome === 'thrown' || statusClass === '5xx') return true;
  const status = Number(s.labels['http.response.status_code']);
  return status >= 500;
}

/** P50 and P99 in ms over every label set, from the merged exponential buckets (exact merge at one scale). */
function mergedQuantiles(series: readonly SeriesWindow[]): [number | null, number | null] {
  const withData = series.filter((s) => s.count > 0 && s.buckets !== undefined);
  if (withData.length === 0) return [null, null];
  const scale = withData[0].buckets!.scale;
  const toMs = TO_MS[withData[0].unit] ?? 1;
  if (withData.some((s) => s.buckets!.scale !== scale || (TO_MS[s.unit] ?? 1) !== toMs)) {
    // Mixed layouts cannot be merged bucket by bucket: the slowest series' quantiles bound the truth from above.
    const max = (q: 'p50' | 'p99') => Math.max(...withData.map((s) => s[q] * (TO_MS[s.unit] ?? 1)));
    return [finite(max('p50')), finite(max('p99'))];
  }
  const merged = new BucketAccumulator();
  let min = Infinity;
  let max = -Infinity;
  for (const s of withData) {
    merged.add(s.buckets!);
    min = Math.min(min, s.min);
    max = Math.max(max, s.max);
  }
  const out = [NaN, NaN];
  quantilesInto(merged, [0.5, 0.99], min, max, out, merged.total);
  return [finite(out[0] * toMs), finite(out[1] * toMs)];
}
