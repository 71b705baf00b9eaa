/** `scalesignal/otel`: the OpenTelemetry Metrics API on scalesignal's per-second ring. */
export { createMeterProvider, type MeterProviderOptions, type ScalesignalMeterProvider } from './meter-provider.js';
export type { RecordingTarget } from './target.js';
