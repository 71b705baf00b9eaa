/** `scalesignal/otlp`: OTLP/HTTP push to a collector (ADOT, the OpenTelemetry Collector). */
export { otlpSink, type OtlpSinkOptions, type OtlpTemporality } from '../sinks/otlp.js';
