/**
 * The Prometheus sink's protobuf exposition with native histograms, decoded with protobufjs from client_model's
 * metrics.proto and compared with what was recorded (and with the text exposition of the same state).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BucketAccumulator } from '../../src/core/histogram/index.js';
import { prometheusSink, type PrometheusSink, type PrometheusSinkOptions } from '../../src/sinks/prometheus.js';
import { negotiate } from '../../src/sinks/prometheus/http.js';
import { nativeHistogram, ZERO_THRESHOLD } from '../../src/sinks/prometheus/native.js';
import { exactQuantile, histogramOf, sample } from '../helpers/exp-histogram.js';
import { parseExposition, sampleValue } from '../helpers/exposition.js';
import { decodeExposition, labelsOf, nativeBuckets, type DecodedFamily, type DecodedHistogram } from '../helpers/prometheus-protobuf.js';
import { series, window } from '../helpers/windows.js';
import { startPrometheusSink } from '../helpers/prometheus-sink.js';

/** What Prometheus 2.42 sends with --enable-feature=native-histograms (scrape/scrape.go). */
const PROMETHEUS_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROTOBUF_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const open: PrometheusSink[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.shutdown()));
});

const start = (options: PrometheusSinkOptions = {}) => startPrometheusSink(open, options);

function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrapeProtobuf(sink: PrometheusSink): Promise<DecodedFamily[]> {
  const res = await get(sink.url!, { accept: PROMETHEUS_NATIVE_ACCEPT, 'accept-encoding': 'gzip' });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe(PROTOBUF_TYPE);
  return decodeExposition(res.body);
}

function family(families: DecodedFamily[], name: string): DecodedFamily {
  const found = families.find((f) => f.name === name);
  if (found === undefined) throw new Error(`no family ${name} in ${families.map((f) => f.name).join(', ')}`);
  return found;
}

/** The histogram's recorded buckets in Prometheus' indexing (OTel index + 1). */
function expectedNative(values: readonly number[], scale = 6): Map<number, number> {
  const { buckets } = histogramOf(values, scale);
  const out = new Map<number, number>();
  buckets.counts.forEach((c, i) => c > 0 && out.set(buckets.offset + i + 1, c));
  return out;
}

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const at = (second: number) => T0 + second * 1000;

describe('content negotiation', () => {
  it('serves protobuf to Prometheus with native histograms enabled, OpenMetrics or text otherwise', () => {
    expect(negotiate(PROMETHEUS_NATIVE_ACCEPT)).toBe('protobuf');
    expect(negotiate('application/vnd.google.protobuf; proto="io.prometheus.client.MetricFamily"; encoding=delimited')).toBe('protobuf');
    // Prometheus' default header (no native histograms): OpenMetrics first.
    expect(negotiate('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe('openmetrics');
    // Another protobuf message or encoding is not ours to serve.
    expect(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text,text/plain;q=0.5')).toBe('text');
    expect(negotiate('application/vnd.google.protobuf;proto=other.Message;encoding=delimited')).toBe('text');
    expect(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4,text/plain')).toBe('text');
    expect(negotiate(undefined)).toBe('text');
  });
});

describe('protobuf exposition', () => {
  it('carries counters, gauges and histograms with classic and native buckets, equal to what was recorded', async () => {
    const sink = await start({ quantiles: [0.5, 0.99] });
    const a = sample('lognormal sigma 1.2', 3000, 1);
    const b = [0, 0, 0, ...sample('pareto alpha 1.5', 2000, 2)];
    const hostile = 'ü "quoted" \\ back\nslash 🎉';
    sink.export([
      window(at(0), [
        series({ name: 'jobs', kind: 'counter', unit: '{job}', total: 41, sum: 41, count: 3, labels: { queue: hostile } }),
        series({ name: 'inflight', kind: 'gauge', last: 7, min: 2, max: 9, count: 4 }),
        series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: '/a' }, ...histogramOf(a.slice(0, 1000)) }),
        series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: '/b' }, ...histogramOf(b) }),
      ]),
      window(at(1), [
        series({ name: 'jobs', kind: 'counter', unit: '{job}', total: 42, sum: 1, count: 1, labels: { queue: hostile } }),
        series({ name: 'inflight', kind: 'gauge', last: 5, min: 5, max: 5, count: 1 }),
        series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: '/a' }, ...histogramOf(a.slice(1000)) }),
        series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: '/b' }, ...histogramOf([]) }),
      ]),
    ]);
    const families = await scrapeProtobuf(sink);
    const text = parseExposition((await get(sink.url!, { accept: 'text/plain' })).body.toString('utf8'));

    const jobs = family(families, 'jobs_total');
    expect(jobs.type).toBe('COUNTER');
    expect(jobs.metric).toHaveLength(1);
    expect(labelsOf(jobs.metric[0])).toEqual({ queue: hostile });
    expect(jobs.metric[0].counter?.value).toBe(42);

    expect(family(families, 'inflight').metric[0].gauge?.value).toBe(5);
    // `_max` covers every window of one export call (both here).
    expect(family(families, 'inflight_max').metric[0].gauge?.value).toBe(9);
    expect(family(families, 'lat_milliseconds_p99').type).toBe('GAUGE');

    const lat = family(families, 'lat_milliseconds');
    expect(lat.type).toBe('HISTOGRAM');
    for (const [route, values] of [['/a', a], ['/b', b]] as const) {
      const metric = lat.metric.find((m) => labelsOf(m).route === route)!;
      const h = metric.histogram!;
      expect(h.sampleCount).toBe(values.length);
      expect(h.sampleSum).toBeCloseTo(values.reduce((x, y) => x + y, 0), 6);
      // Classic buckets: the text exposition's `_bucket` samples, number for number.
      for (const bucket of h.bucket) {
        const le = text.samples.find((s) => s.name === 'lat_milliseconds_bucket' && s.labels.route === route && Number(s.labels.le) === bucket.upperBound);
        expect(le?.value, `le=${bucket.upperBound}`).toBe(bucket.cumulativeCount ?? 0);
      }
      expect(h.bucket.length).toBe(text.samples.filter((s) => s.name === 'lat_milliseconds_bucket' && s.labels.route === route).length - 1);
      // Native: schema 6, the zero bucket and every bucket exactly as recorded.
      expect(h.schema).toBe(6);
      expect(h.zeroThreshold).toBe(ZERO_THRESHOLD);
      expect(h.zeroCount ?? 0).toBe(values.filter((v) => v === 0).length);
      expect(nativeBuckets(h)).toEqual(expectedNative(values));
      expect(sampleValue(text, 'lat_milliseconds_count', { route })).toBe(values.length);
    }
  });

  it('marks a histogram with nothing recorded yet as native (no-op span, zero threshold above 0)', async () => {
    const sink = await start();
    sink.export([window(at(0), [series({ name: 'idle', unit: 's', kind: 'histogram', ...histogramOf([]) })])]);
    const h = family(await scrapeProtobuf(sink), 'idle_seconds').metric[0].histogram!;
    expect(h.sampleCount ?? 0).toBe(0);
    expect(h.positiveSpan).toEqual([{ offset: 0, length: 0 }]);
    expect(h.positiveDelta).toEqual([]);
    expect(h.zeroThreshold).toBeGreaterThan(0);
  });

  it('takes the coarser schema when a window comes at a coarser scale, and never a schema above 8', async () => {
    const sink = await start();
    const fine = sample('lognormal sigma 0.5', 500, 3);
    const coarse = sample('lognormal sigma 0.5', 500, 4);
    sink.export([window(at(0), [series({ name: 'lat', kind: 'histogram', ...histogramOf(fine, 8) })])]);
    expect(family(await scrapeProtobuf(sink), 'lat').metric[0].histogram!.schema).toBe(8);
    sink.export([window(at(1), [series({ name: 'lat', kind: 'histogram', ...histogramOf(coarse, 3) })])]);
    const h = family(await scrapeProtobuf(sink), 'lat').metric[0].histogram!;
    expect(h.schema).toBe(3);
    expect(nativeBuckets(h)).toEqual(expectedNative([...fine, ...coarse], 3));
  });

  it('converts to base units: ms -> s moves each bucket by its representative (one bucket of error at most)', async () => {
    const sink = await start({ baseUnits: true });
    const values = sample('lognormal sigma 1.2', 5000, 5);
    sink.export([window(at(0), [series({ name: 'lat', unit: 'ms', kind: 'histogram', ...histogramOf(values) })])]);
    const h = family(await scrapeProtobuf(sink), 'lat_seconds').metric[0].histogram!;
    expect(h.sampleCount).toBe(5000);
    expect(h.sampleSum).toBeCloseTo(values.reduce((x, y) => x + y, 0) / 1000, 9);
    // The quantile Prometheus would read (upper bound of the bucket holding the rank) within two buckets.
    const buckets = [...nativeBuckets(h)].sort((x, y) => x[0] - y[0]);
    for (const q of [0.5, 0.99]) {
      let seen = 0;
      const rank = Math.ceil(q * 5000);
      const [index] = buckets.find(([, c]) => (seen += c) >= rank)!;
      const upper = Math.pow(2, index / 64);
      const exact = exactQuantile(values, q) / 1000;
      expect(upper / exact).toBeGreaterThan(1 / 1.0109 ** 1);
      expect(upper / exact).toBeLessThan(1.0109 ** 2);
    }
  });

  it('is decoded by protobufjs for large families: many metrics, wide histograms, labels past 127 bytes', async () => {
    const sink = await start();
    const list = [];
    for (let i = 0; i < 300; i++) list.push(series({ name: 'c', kind: 'counter', total: 2 ** 40 + i, labels: { id: `${i}-${'x'.repeat(i)}` } }));
    const wide = sample('lognormal sigma 2.5', 20_000, 6);
    list.push(series({ name: 'wide', kind: 'histogram', ...histogramOf(wide, 8) }));
    sink.export([window(at(0), list)]);
    const families = await scrapeProtobuf(sink);
    const counters = family(families, 'c_total').metric;
    expect(counters).toHaveLength(300);
    for (const m of counters) expect(m.counter?.value).toBe(2 ** 40 + Number(labelsOf(m).id.split('-')[0]));
    const h = family(families, 'wide').metric[0].histogram!;
    expect(nativeBuckets(h)).toEqual(expectedNative(wide, 8));
  });
});

describe('nativeHistogram', () => {
  const buckets = fc.record({
    scale: fc.integer({ min: 0, max: 8 }),
    offset: fc.integer({ min: -5000, max: 5000 }),
    counts: fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.nat({ max: 1000 })), { maxLength: 300 }),
    zeroCount: fc.nat({ max: 50 }),
  });

  it('spans and deltas give back every bucket at index + 1, shifted exactly by a power-of-two unit factor', () => {
    fc.assert(
      fc.property(buckets, fc.constantFrom(1, 1024, 1 / 8), (b, factor) => {
        const acc = new BucketAccumulator(8);
        acc.add(b);
        const native = nativeHistogram(acc, factor);
        const shift = Math.log2(factor) * 2 ** acc.scale;
        const expected = new Map<number, number>();
        b.counts.forEach((c, i) => c > 0 && expected.set(((b.offset + i) >> (b.scale - acc.scale)) + shift + 1, (expected.get(((b.offset + i) >> (b.scale - acc.scale)) + shift + 1) ?? 0) + c));
        const decoded: DecodedHistogram = { sampleCount: 0, sampleSum: 0, bucket: [], positiveSpan: [...native.spans], positiveDelta: [...native.deltas] };
        expect(nativeBuckets(decoded)).toEqual(expected);
        if (b.counts.some((c) => c > 0)) expect(native.schema).toBe(b.scale);
        expect(native.zeroCount).toBe(b.zeroCount);
        // Spans after the first start after a gap (never overlapping); no span is empty unless it is the no-op one.
        native.spans.forEach((s, k) => {
          if (k > 0) expect(s.offset).toBeGreaterThanOrEqual(0);
          if (native.spans.length > 1) expect(s.length).toBeGreaterThan(0);
        });
      }),
      { numRuns: 500 },
    );
  });
});
