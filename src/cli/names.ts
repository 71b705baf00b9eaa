/**
 * What each leading indicator is called where an autoscaler reads it. Every name comes from the SDK's own code: the
 * integrations' instrument names, the Prometheus sink's naming rules, and the EMF and PutMetricData converters run
 * on a one-series window, so a manifest can never ask for a name the SDK does not emit.
 */
import type { MetricKind, SeriesWindow, Window } from '../core/window.js';
import { ACTIVE_REQUESTS, REQUEST_DURATION, SSE_CONNECTIONS } from '../integrations/http/names.js';
import { dimensionRules } from '../sinks/aws/dimensions.js';
import { AwsView } from '../sinks/aws/view.js';
import { DatumConverter } from '../sinks/cloudwatch/datum.js';
import type { MetricDatum } from '../sinks/cloudwatch/types.js';
import { windowDocuments } from '../sinks/emf/documents.js';
import { familyNames, quantileSuffix } from '../sinks/prometheus/naming.js';
import type { Indicator } from './targets.js';

/** The instrument behind an indicator, as the integration (or the queue recipe's documented call) declares it. */
export interface InstrumentSpec {
  readonly name: string;
  readonly unit: string;
  readonly kind: MetricKind;
}

/** The queue recipes document `metrics.gauge('queue.depth', { unit: '{message}', observe })`. */
export const QUEUE_DEPTH = 'queue.depth';

export function instrumentOf(indicator: Indicator, queueMetric = QUEUE_DEPTH): InstrumentSpec {
  switch (indicator) {
    case 'inflight':
      return { name: ACTIVE_REQUESTS, unit: '{request}', kind: 'gauge' };
    case 'p99':
      return { name: REQUEST_DURATION, unit: 'ms', kind: 'histogram' };
    case 'sse':
      return { name: SSE_CONNECTIONS, unit: '{connection}', kind: 'gauge' };
    case 'queue':
      return { name: queueMetric, unit: '{message}', kind: 'gauge' };
  }
}

/** A route's latency series: the HTTP integrations label the duration histogram with `method` and `route`. */
export interface RouteRef {
  readonly method: string;
  readonly route: string;
}
export const routeLabels = (r: RouteRef): Record<string, string> => ({ method: r.method, route: r.route });
/** The queue recipes label each queue's depth with `queue`. */
export const queueLabels = (queue: string): Record<string, string> => ({ queue });

/** Prometheus family names as `prometheusSink()` (no prefix, no base-unit conversion) exposes them. */
export interface PrometheusNames {
  /** Gauges: the value at the window's end. Histograms: the family (`_bucket`, `_sum`, `_count` hang off it). */
  readonly family: string;
  /** Gauges: `<family>_max`, the largest value of the latest window, which a scrape between spikes still sees. */
  readonly max: string;
  /** Histograms: the classic cumulative buckets. */
  readonly bucket: string;
  /** Histograms: the per-pod P99 gauge over the sink's quantile window. */
  readonly p99: string;
}

export function prometheusNames(spec: InstrumentSpec): PrometheusNames {
  const { family } = familyNames(spec.name, spec.unit, spec.kind, { prefix: '', baseUnits: false });
  return { family, max: `${family}_max`, bucket: `${family}_bucket`, p99: `${family}_${quantileSuffix(0.99)}` };
}

/** One CloudWatch metric as GetMetricData names it: namespace, name and the full dimension set. */
export interface CloudWatchMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: ReadonlyArray<{ readonly name: string; readonly value: string }>;
}

/** Defaults of `emfSink()` and `cloudWatchSink()` that decide names: the `ServiceName` dimension, no pod dimension. */
const SERVICE_DIMENSION = 'ServiceName';

/**
 * The metric `emfSink()` publishes for an indicator: gauges under their own name (the window's last value),
 * histograms' P99 as `<name>.p99`. Found by running the sink's document builder on a one-series window.
 */
export function emfMetric(spec: InstrumentSpec, service: string, namespace: string, labels: Readonly<Record<string, string>>): CloudWatchMetric {
  const window = syntheticWindow(spec, service, labels);
  const view = new AwsView(dimensionRules({ serviceDimension: SERVICE_DIMENSION }, 'emfSink'), {});
  const docs = windowDocuments(
    view.series(window),
    window.timestamp,
    namespace,
    { rollup: false, baseDimensions: 1, percentiles: ['p99'], gaugeMax: false, histogramValues: false, meta: {}, maxBytes: 1_000_000 },
    { metricsSkipped: 0, valuesInvalid: 0 },
  );
  const wanted = spec.kind === 'histogram' ? /\.p99$/ : /^/;
  for (const text of docs) {
    const doc = JSON.parse(text) as { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } } & Record<string, unknown>;
    for (const directive of doc._aws.CloudWatchMetrics) {
      const metric = directive.Metrics.find((m) => wanted.test(m.Name));
      if (metric === undefined) continue;
      const keys = directive.Dimensions[0] ?? [];
      return { namespace: directive.Namespace, metricName: metric.Name, dimensions: keys.map((k) => ({ name: k, value: String(doc[k]) })) };
    }
  }
  throw new Error(`emfSink publishes no metric for ${spec.name}`);
}

/**
 * The datum `cloudWatchSink()` sends for an indicator: gauges as `Value` or `StatisticValues` (Sum across pods is
 * the fleet total), histograms as `Values`/`Counts` under their own name (CloudWatch computes p99 across pods).
 */
export function putMetricDataMetric(spec: InstrumentSpec, service: string, namespace: string, labels: Readonly<Record<string, string>>): CloudWatchMetric {
  const window = syntheticWindow(spec, service, labels);
  const view = new AwsView(dimensionRules({ serviceDimension: SERVICE_DIMENSION }, 'cloudWatchSink'), {});
  const out: MetricDatum[] = [];
  new DatumConverter(1).convert(view.series(window), window.timestamp, out, []);
  const datum = out[0];
  if (datum === undefined || datum.MetricName === undefined) throw new Error(`cloudWatchSink sends no datum for ${spec.name}`);
  return {
    namespace,
    metricName: datum.MetricName,
    dimensions: (datum.Dimensions ?? []).map((d) => ({ name: String(d.Name), value: String(d.Value) })),
  };
}

/** A window holding one recorded series of the instrument, enough for the converters to name it. */
function syntheticWindow(spec: InstrumentSpec, service: string, labels: Readonly<Record<string, string>>): Window {
  const key = `${spec.name}${JSON.stringify(labels)}`;
  const series: SeriesWindow = {
    name: spec.name,
    unit: spec.unit,
    description: '',
    kind: spec.kind,
    labels,
    key,
    count: 1,
    sum: 1,
    min: 1,
    max: 1,
    last: 1,
    rate: 1,
    total: 1,
    p50: 1,
    p90: 1,
    p95: 1,
    p99: 1,
    ...(spec.kind === 'histogram' ? { buckets: { scale: 0, offset: 0, counts: [1], zeroCount: 0 } } : {}),
  };
  // `timestamp` is the interval start the core stamps windows with; harmless where the core does not know it yet.
  const window = { start: 0, end: 1000, timestamp: 0, resource: { service, attributes: { 'service.name': service } }, series: [series] };
  return window;
}
