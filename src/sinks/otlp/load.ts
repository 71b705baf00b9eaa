import type { OTLPMetricExporter, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import type { AggregationTemporality, DataPointType, InstrumentType } from '@opentelemetry/sdk-metrics';
import type { resourceFromAttributes } from '@opentelemetry/resources';
import type { ValueType } from '@opentelemetry/api';

/** The runtime values the OTLP sink needs from OpenTelemetry, imported on demand so `import 'scalesignal'` stays light. */
export interface OtelModules {
  readonly OTLPMetricExporter: typeof OTLPMetricExporter;
  readonly AggregationTemporalityPreference: typeof AggregationTemporalityPreference;
  readonly AggregationTemporality: typeof AggregationTemporality;
  readonly DataPointType: typeof DataPointType;
  readonly InstrumentType: typeof InstrumentType;
  readonly ValueType: typeof ValueType;
  readonly resourceFromAttributes: typeof resourceFromAttributes;
}

export async function loadOtel(): Promise<OtelModules> {
  const [exporter, sdk, resources, api] = await Promise.all([
    import('@opentelemetry/exporter-metrics-otlp-http'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/api'),
  ]);
  return {
    OTLPMetricExporter: exporter.OTLPMetricExporter,
    AggregationTemporalityPreference: exporter.AggregationTemporalityPreference,
    AggregationTemporality: sdk.AggregationTemporality,
    DataPointType: sdk.DataPointType,
    InstrumentType: sdk.InstrumentType,
    ValueType: api.ValueType,
    resourceFromAttributes: resources.resourceFromAttributes,
  };
}
