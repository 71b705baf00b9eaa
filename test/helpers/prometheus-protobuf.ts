/**
 * Decodes a protobuf exposition (delimited io.prometheus.client.MetricFamily) with protobufjs from
 * prometheus/client_model's metrics.proto (commit 10dc9dfb541a117fe0a6457192564ec609c78615, copied unchanged to
 * test/fixtures), so tests read what Prometheus would read, not what our encoder meant.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO = fileURLToPath(new URL('../fixtures/prometheus-client-metrics.proto', import.meta.url));
const root = protobuf.loadSync(PROTO);
const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');

export interface DecodedSpan {
  offset: number;
  length: number;
}

export interface DecodedHistogram {
  sampleCount: number;
  sampleSum: number;
  bucket: { cumulativeCount: number; upperBound: number }[];
  schema?: number;
  zeroThreshold?: number;
  zeroCount?: number;
  positiveSpan: DecodedSpan[];
  positiveDelta: number[];
}

export interface DecodedMetric {
  label: { name: string; value: string }[];
  gauge?: { value: number };
  counter?: { value: number };
  histogram?: DecodedHistogram;
}

export interface DecodedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'UNTYPED' | 'HISTOGRAM' | 'GAUGE_HISTOGRAM';
  metric: DecodedMetric[];
}

export function decodeExposition(body: Uint8Array): DecodedFamily[] {
  const reader = protobuf.Reader.create(body);
  const out: DecodedFamily[] = [];
  while (reader.pos < reader.len) {
    const message = MetricFamily.decodeDelimited(reader);
    out.push(
      MetricFamily.toObject(message, { longs: Number, enums: String, defaults: false, arrays: true }) as DecodedFamily,
    );
  }
  return out;
}

/** Absolute Prometheus bucket index -> count, from spans and deltas as the native-histogram spec defines them. */
export function nativeBuckets(h: DecodedHistogram): Map<number, number> {
  const out = new Map<number, number>();
  let index = 0;
  let delta = 0;
  let count = 0;
  for (const span of h.positiveSpan) {
    index += span.offset; // the first span's offset is absolute, later ones the gap after the previous span
    for (let i = 0; i < span.length; i++) {
      count += h.positiveDelta[delta++];
      if (count !== 0) out.set(index, count);
      index++;
    }
  }
  if (delta !== h.positiveDelta.length) throw new Error(`spans cover ${delta} buckets, ${h.positiveDelta.length} deltas`);
  return out;
}

export function labelsOf(metric: DecodedMetric): Record<string, string> {
  return Object.fromEntries(metric.label.map((l) => [l.name, l.value]));
}
