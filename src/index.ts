/**
 * `scalesignal`: createMetrics and the contract (Window, Sink, errors). Sinks and integrations are exported here
 * too for convenience; each also has its own subpath (`scalesignal/prometheus`, `/otlp`, `/emf`, `/cloudwatch`,
 * `/console`, `/express`, `/fastify`, `/workers`, `/queues`) and none is in a bundle that does not use it.
 */
export { createMetrics } from './create-metrics.js';
export { ConfigError, ConfigErrorCode } from './core/errors.js';
export { SinkError, type ExportContext, type Sink, type SinkContext } from './core/sink.js';
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
  ShutdownOptions,
  StopTimer,
} from './core/api.js';
export type { HistogramBuckets, Labels, MetricKind, Resource, SeriesWindow, Window } from './core/window.js';
export * from './entries/console.js';
export * from './entries/prometheus.js';
export * from './entries/otlp.js';
export * from './entries/emf.js';
export * from './entries/cloudwatch.js';
export * from './integrations/index.js';
export * from './entries/workers.js';
