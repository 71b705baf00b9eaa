/** `scalesignal/otel`: an OpenTelemetry MeterProvider that records into scalesignal's one-second windows. */
export * from '../otel/index.js';
