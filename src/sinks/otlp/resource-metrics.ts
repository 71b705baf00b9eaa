import type { DataPoint, ExponentialHistogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Resource } from '../../core/window.js';
import type { OtelModules } from './load.js';
import type { SeriesPoint, TemporalityChoice } from './data-points.js';

const SCOPE = { name: 'scalesignal' };

/**
 * Assembles the data points of one or more windows into a single ResourceMetrics: one MetricData per metric
 * name, holding every series' point of every window, each with its own timestamps.
 */
export function toResourceMetrics(
  otel: OtelModules,
  resource: Resource,
  points: readonly SeriesPoint[],
  temporality: TemporalityChoice,
): ResourceMetrics {
  const { DataPointType, AggregationTemporality } = otel;
  const byName = new Map<string, { kind: string; data: MetricData }>();
  for (const p of points) {
    let entry = byName.get(p.metric.name);
    if (entry === undefined) {
      let metric: MetricData;
      const descriptor = {
        name: p.metric.name,
        unit: p.metric.unit,
        description: p.metric.description,
        valueType: otel.ValueType.DOUBLE,
      };
      switch (p.metric.kind) {
        case 'counter':
          metric = {
            descriptor,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            aggregationTemporality: temporality.counter === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
            dataPoints: [],
          };
          break;
        case 'gauge':
          // Gauges carry no temporality on the wire; the field is required by the SDK type only.
          metric = { descriptor, dataPointType: DataPointType.GAUGE, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPoints: [] };
          break;
        case 'histogram':
          metric = {
            descriptor,
            dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
            aggregationTemporality: temporality.histogram === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
            dataPoints: [],
          };
          break;
      }
      entry = { kind: p.metric.kind, data: metric };
      byName.set(p.metric.name, entry);
    }
    // One name, one instrument: a point of another kind under the same name would make the metric invalid.
    if (entry.kind !== p.metric.kind) continue;
    // The converter pairs numbers with counters and gauges and histograms with histogram points.
    (entry.data.dataPoints as DataPoint<number | ExponentialHistogram>[]).push({
      startTime: p.startTime,
      endTime: p.endTime,
      attributes: p.attributes,
      value: p.value,
    });
  }
  return {
    resource: otel.resourceFromAttributes({ ...resource.attributes, 'service.name': resource.service }),
    scopeMetrics: [{ scope: SCOPE, metrics: [...byName.values()].map((e) => e.data) }],
  };
}
