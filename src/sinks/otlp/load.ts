import type { OTLPMetricExporter, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import type { AggregationTemporality, DataPointType, InstrumentType } from '@opentelemetry/sdk-metrics';
import type { resourceFromAttributes } from '@opentelemetry/resources';
import type { ValueType } from '@opentelemetry/api';
import type { convertLegacyHttpOptions } from '@opentelemetry/otlp-exporter-base/node-http';
import type { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';

/** The runtime values the OTLP sink needs from OpenTelemetry, imported on demand so `import 'scalesignal'` stays light. */
export interface OtelModules {
  readonly OTLPMetricExporter: typeof OTLPMetricExporter;
  readonly AggregationTemporalityPreference: typeof AggregationTemporalityPreference;
  readonly AggregationTemporality: typeof AggregationTemporality;
  readonly DataPointType: typeof DataPointType;
  readonly InstrumentType: typeof InstrumentType;
  readonly ValueType: typeof ValueType;
  readonly resourceFromAttributes: typeof resourceFromAttributes;
  /** The exporter's configuration resolution (options over OTEL_EXPORTER_OTLP_* over defaults). */
  readonly convertLegacyHttpOptions: typeof convertLegacyHttpOptions;
  /** The exporter's own OTLP/JSON serializer, so the bytes are what OTel would send. */
  readonly JsonMetricsSerializer: typeof JsonMetricsSerializer;
}

export async function loadOtel(): Promise<OtelModules> {
  const [exporter, sdk, resources, api, base, transformer] = await Promise.all([
    import('@opentelemetry/exporter-metrics-otlp-http'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/api'),
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
  ]);
  return {
    OTLPMetricExporter: exporter.OTLPMetricExporter,
    AggregationTemporalityPreference: exporter.AggregationTemporalityPreference,
    AggregationTemporality: sdk.AggregationTemporality,
    DataPointType: sdk.DataPointType,
    InstrumentType: sdk.InstrumentType,
    ValueType: api.ValueType,
    resourceFromAttributes: resources.resourceFromAttributes,
    convertLegacyHttpOptions: base.convertLegacyHttpOptions,
    JsonMetricsSerializer: transformer.JsonMetricsSerializer,
  };
}
