export { createMetrics } from './core/metrics.js';
export { ConfigError } from './core/options.js';
export { consoleSink, type ConsoleSinkOptions } from './sinks/console.js';
export { SinkError, type Sink } from './sinks/sink.js';
export {
  prometheusSink,
  powerOfTwoBuckets,
  type BucketsContext,
  type PrometheusSink,
  type PrometheusSinkOptions,
  type ScrapeHandler,
} from './sinks/prometheus.js';
export { otlpSink, type OtlpSinkOptions, type OtlpTemporality } from './sinks/otlp.js';
export { emfSink, type EmfSinkOptions } from './sinks/emf.js';
export {
  cloudWatchSink,
  type CloudWatchClientLike,
  type CloudWatchSink,
  type CloudWatchSinkOptions,
  type CloudWatchTransport,
  type MetricDatum,
  type PutMetricDataInput,
  type StandardUnit,
} from './sinks/cloudwatch.js';
export * from './integrations/index.js';
export {
  acceptMetricsPort,
  connectMetrics,
  createPoolLink,
  createWorkerLink,
  WORKER_SEAL_GRACE_MS,
  type WorkerLink,
  type WorkerMetrics,
} from './workers/index.js';
export type {
  BoundCounter,
  BoundGauge,
  BoundHistogram,
  Counter,
  Gauge,
  GaugeOptions,
  Histogram,
  InstrumentOptions,
  LabelInput,
  Logger,
  Metrics,
  MetricsOptions,
  ObservedValue,
  StopTimer,
} from './core/api.js';
export type { HistogramBuckets, Labels, MetricKind, Resource, SeriesWindow, Window } from './core/window.js';
