/**
 * The protobuf exposition (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 * encoding=delimited`): each family is one length-prefixed `io.prometheus.client.MetricFamily`
 * (/work/shared/protocols/prometheus-client-metrics.proto, from prometheus/client_model). It is the only format
 * that carries native histograms; Prometheus asks for it first when started with
 * `--enable-feature=native-histograms`. Histograms carry both the classic `le` buckets and the native buckets.
 * Family and label names are the text format's; label pairs are sorted by name.
 */
import type { Family, HistogramSeries, Sample } from './families.js';
import type { NativeHistogram } from './native.js';
import { ProtoWriter } from './protobuf.js';
import type { Slicer } from './slicer.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

// MetricType enum values.
const COUNTER = 0;
const GAUGE = 1;
const HISTOGRAM = 4;

/** Encoded in slices (a turn of the event loop whenever `slicer` says so, between two series). */
export async function encodeFamilies(families: readonly Family[], slicer: Slicer): Promise<Buffer> {
  const w = new ProtoWriter();
  for (const family of families) {
    w.begin(0);
    w.stringField(1, family.name);
    w.stringField(2, family.help);
    w.enumField(3, family.type === 'counter' ? COUNTER : family.type === 'gauge' ? GAUGE : HISTOGRAM);
    if (family.type === 'histogram') {
      for (const series of family.series) {
        histogramMetric(w, series);
        if (slicer.due()) await slicer.pause();
      }
    } else {
      const field = family.type === 'counter' ? 3 : 2;
      for (const sample of family.samples) {
        valueMetric(w, sample, field);
        if (slicer.due()) await slicer.pause();
      }
    }
    w.end();
  }
  return w.finish();
}

/** Metric with a counter (field 3) or gauge (field 2) value. */
function valueMetric(w: ProtoWriter, sample: Sample, field: number): void {
  w.begin(4);
  labels(w, sample.sharedLabels, sample.labels);
  w.begin(field);
  w.doubleField(1, sample.value);
  w.end();
  w.end();
}

function histogramMetric(w: ProtoWriter, series: HistogramSeries): void {
  w.begin(4);
  labels(w, series.labels, undefined);
  w.begin(7);
  w.uint64Field(1, series.count);
  w.doubleField(2, series.sum);
  for (let i = 0; i < series.bounds.length; i++) {
    w.begin(3);
    w.uint64Field(1, series.cumulative[i]);
    w.doubleField(2, series.bounds[i]);
    w.end();
  }
  // Absent only in a snapshot taken for the text formats: classic buckets alone then.
  if (series.native !== undefined) nativeFields(w, series.native);
  w.end();
  w.end();
}

function nativeFields(w: ProtoWriter, native: NativeHistogram): void {
  w.sintField(5, native.schema);
  w.doubleField(6, native.zeroThreshold);
  w.uint64Field(7, native.zeroCount);
  for (const span of native.spans) {
    w.begin(12);
    w.sintField(1, span.offset);
    w.uint32Field(2, span.length);
    w.end();
  }
  if (native.deltas.length > 0) {
    // Packed (one tag and length for every delta): parsers accept packed and unpacked repeated scalars alike.
    w.begin(13);
    const deltas = native.deltas;
    for (let i = 0; i < deltas.length; i++) w.sint(deltas[i]);
    w.end();
  }
}

/**
 * A series' label pairs, sorted by name and encoded once per label object: the sink keeps one frozen object per
 * series for its lifetime, so a scrape copies bytes instead of sorting and encoding strings (prom-client caches
 * its formatted label strings the same way).
 */
const encodedLabels = new WeakMap<object, Buffer>();

function labels(w: ProtoWriter, shared: Readonly<Record<string, string>>, own: Readonly<Record<string, string>> | undefined): void {
  const hasOwn = own !== undefined && Object.keys(own).length > 0;
  let bytes = hasOwn ? undefined : encodedLabels.get(shared);
  if (bytes === undefined) {
    const names = Object.keys(shared);
    if (hasOwn) for (const name of Object.keys(own)) names.push(name);
    names.sort();
    const scratch = new ProtoWriter(256);
    for (const name of names) {
      scratch.begin(1);
      scratch.stringField(1, name);
      scratch.stringField(2, own?.[name] ?? shared[name]);
      scratch.end();
    }
    bytes = scratch.finish();
    if (!hasOwn) encodedLabels.set(shared, bytes);
  }
  w.raw(bytes);
}
