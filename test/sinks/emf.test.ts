import { LogSerializer } from 'aws-embedded-metrics/lib/serializers/LogSerializer.js';
import { MetricsContext } from 'aws-embedded-metrics/lib/logger/MetricsContext.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HistogramBuckets, SeriesWindow, Window } from '../../src/core/window.js';
import { emfSink, type EmfSinkOptions } from '../../src/sinks/emf.js';
import { cloudWatchUnit } from '../../src/sinks/aws/units.js';
import { emfMetrics, validateEmf, type EmfDocument } from '../helpers/emf-validator.js';
import { series, window } from '../helpers/windows.js';

const T0 = Math.floor(Date.now() / 1000) * 1000 - 30_000;

/** Exports windows through a sink writing to an array; validates every document. */
async function run(windows: Window[], options: EmfSinkOptions = {}, env: NodeJS.ProcessEnv = {}) {
  const lines: string[] = [];
  const sink = emfSink({ ...options, write: (doc) => void lines.push(doc) }, env);
  await sink.export(windows);
  const docs = lines.map((l) => validateEmf(l));
  return { lines, docs, sink, metrics: emfMetrics(docs) };
}

/** Buckets computed here from raw values with Math.log2, independently of the core's index function. */
function histogram(name: string, values: number[], labels: Record<string, string> = {}, unit = 'ms', scale = 6): SeriesWindow {
  const perOctave = 2 ** scale;
  const idx = values.filter((v) => v > 0).map((v) => Math.ceil(Math.log2(v) * perOctave) - 1);
  const offset = idx.length ? Math.min(...idx) : 0;
  const counts = idx.length ? new Array<number>(Math.max(...idx) - offset + 1).fill(0) : [];
  for (const i of idx) counts[i - offset]++;
  const buckets: HistogramBuckets = { scale, offset, counts, zeroCount: values.filter((v) => v === 0).length };
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => (sorted.length ? sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1] : NaN);
  return series({
    name,
    kind: 'histogram',
    unit,
    labels,
    count: values.length,
    sum: values.reduce((a, v) => a + v, 0),
    min: sorted.length ? sorted[0] : NaN,
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    buckets,
  });
}

const latencies = Array.from({ length: 40 }, (_, i) => 5 + ((i * 37) % 200) + i / 10);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('emfSink documents', () => {
  it('counter, gauge and histogram: spec-valid, high resolution, timestamp = window start, values and units', async () => {
    const h = histogram('http.server.request.duration', latencies, { route: '/checkout' });
    const w = window(T0, [
      series({ name: 'http.server.requests', kind: 'counter', unit: '{request}', labels: { route: '/checkout' }, count: 40, sum: 40, total: 900 }),
      series({ name: 'queue.depth', kind: 'gauge', unit: '{message}', labels: { queue: 'jobs' }, count: 3, last: 17, min: 4, max: 25 }),
      h,
    ]);
    const { docs, metrics } = await run([w]);
    // Series with the same label values share a document: route=/checkout and queue=jobs.
    expect(docs).toHaveLength(2);
    for (const d of docs) {
      expect(d._aws.Timestamp).toBe(w.start);
      expect(d._aws.CloudWatchMetrics[0].Namespace).toBe('test-service');
      expect(d.ServiceName).toBe('test-service');
    }
    const at = (name: string, dims: string) => metrics.get(`${name}{${dims}}@${T0}`);
    const route = 'ServiceName=test-service,route=/checkout';
    expect(at('http.server.requests', route)).toMatchObject({ value: 40, unit: 'Count', dimensions: [['ServiceName', 'route']] });
    expect(at('queue.depth', 'ServiceName=test-service,queue=jobs')).toMatchObject({ value: 17, unit: 'Count' });
    expect(at('http.server.request.duration.count', route)).toMatchObject({ value: h.count, unit: 'Count' });
    for (const [suffix, value] of [['sum', h.sum], ['min', h.min], ['max', h.max], ['p50', h.p50], ['p90', h.p90], ['p95', h.p95], ['p99', h.p99]] as const) {
      expect(at(`http.server.request.duration.${suffix}`, route)).toMatchObject({ value, unit: 'Milliseconds' });
    }
    // Nothing else: no value array by default, no gauge max, no pod.
    expect(metrics.size).toBe(1 + 1 + 8);
  });

  it('no per-pod dimension by default, so CloudWatch aggregates the fleet; podDimension adds one', async () => {
    const w: Window = {
      ...window(T0, [series({ name: 'inflight', kind: 'gauge', last: 3 })]),
      resource: { service: 'api', attributes: { 'service.name': 'api', 'k8s.pod.name': 'api-5f7c-x2' } },
    };
    const plain = await run([w]);
    expect(plain.docs[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['ServiceName']]);
    expect(JSON.stringify(plain.docs)).not.toContain('api-5f7c-x2');

    const perPod = await run([w], { podDimension: true });
    expect(perPod.docs[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['ServiceName', 'PodName']]);
    expect(perPod.docs[0].PodName).toBe('api-5f7c-x2');
  });

  it('a window with 250 series splits into documents of at most 100 metrics, none lost', async () => {
    const list = Array.from({ length: 250 }, (_, i) => series({ name: `jobs.${i}`, kind: 'counter', count: 1, sum: i * 3, total: i * 3 }));
    const { docs, metrics } = await run([window(T0, list)]);
    expect(docs).toHaveLength(Math.ceil(250 / 100));
    for (const d of docs) expect(d._aws.CloudWatchMetrics[0].Metrics.length).toBeLessThanOrEqual(100);
    expect(metrics.size).toBe(250);
    for (const s of list) expect(metrics.get(`${s.name}{ServiceName=test-service}@${T0}`)?.value).toBe(s.sum);
  });

  it('250 histogram series: 8 metrics each, still <= 100 metrics per document and every value present', async () => {
    const list = Array.from({ length: 250 }, (_, i) => histogram(`h.${i}`, latencies.map((v) => v + i)));
    const { docs, metrics } = await run([window(T0, list)]);
    expect(docs.length).toBe(Math.ceil((250 * 8) / 100));
    expect(metrics.size).toBe(250 * 8);
    expect(metrics.get(`h.249.p99{ServiceName=test-service}@${T0}`)?.value).toBe(list[249].p99);
  });

  it('documents match what aws-embedded-metrics serializes for the same content', async () => {
    const h = histogram('http.server.request.duration', latencies, { route: '/a', method: 'GET' });
    const c = series({ name: 'http.server.requests', kind: 'counter', unit: '{request}', labels: { route: '/a', method: 'GET' }, count: 9, sum: 9 });
    const { docs } = await run([window(T0, [c, h])], { histogramValues: true });
    expect(docs).toHaveLength(1);
    const ours = docs[0];
    const directive = ours._aws.CloudWatchMetrics[0];

    const ctx = MetricsContext.empty();
    ctx.setNamespace(directive.Namespace);
    ctx.setDimensions([{ ServiceName: 'test-service', method: 'GET', route: '/a' }], false);
    ctx.setTimestamp(T0);
    for (const m of directive.Metrics) {
      const value = ours[m.Name] as number | number[];
      for (const v of Array.isArray(value) ? value : [value]) ctx.putMetric(m.Name, v, m.Unit, 1);
    }
    const [reference, ...more] = new LogSerializer().serialize(ctx).map((s) => JSON.parse(s) as EmfDocument);
    expect(more).toEqual([]);
    const sortMetrics = (d: EmfDocument) => ({
      ...d,
      _aws: { ...d._aws, CloudWatchMetrics: d._aws.CloudWatchMetrics.map((x) => ({ ...x, Metrics: [...x.Metrics].sort((a, b) => a.Name.localeCompare(b.Name)) })) },
    });
    expect(sortMetrics(ours)).toEqual(sortMetrics(reference));
  });

  it('histogramValues: a value array CloudWatch can take percentiles from (<= 100 values, within the bucket error)', async () => {
    const few = histogram('small', latencies);
    const many = histogram('big', Array.from({ length: 5000 }, (_, i) => 1 + (i % 997) * 0.37));
    const { metrics } = await run([window(T0, [few, many])], { histogramValues: true });
    const small = metrics.get(`small{ServiceName=test-service}@${T0}`)!.value as number[];
    const sorted = [...latencies].sort((a, b) => a - b);
    expect(small).toHaveLength(latencies.length);
    small.forEach((v, i) => expect(Math.abs(v / sorted[i] - 1)).toBeLessThan(0.0055)); // scale 6: 0.54 %
    const big = metrics.get(`big{ServiceName=test-service}@${T0}`)!.value as number[];
    expect(big).toHaveLength(100);
    // The median of the sample is the median of the 5000 values, within the bucket error.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];
    expect(Math.abs(median(big) / many.p50 - 1)).toBeLessThan(0.02);
  });

  it('units: UCUM mapped to CloudWatch (ms, s, By, {x}, 1, %, rates)', () => {
    const cases: Array<[string, 'counter' | 'gauge' | 'histogram', string]> = [
      ['ms', 'histogram', 'Milliseconds'],
      ['s', 'histogram', 'Seconds'],
      ['us', 'histogram', 'Microseconds'],
      ['By', 'counter', 'Bytes'],
      ['MiBy', 'gauge', 'Megabytes'],
      ['{request}', 'counter', 'Count'],
      ['{connection}', 'gauge', 'Count'],
      ['1', 'gauge', 'None'],
      ['1', 'counter', 'Count'],
      ['', 'counter', 'Count'],
      ['', 'gauge', 'None'],
      ['%', 'gauge', 'Percent'],
      ['By/s', 'gauge', 'Bytes/Second'],
      ['{request}/s', 'gauge', 'Count/Second'],
      ['ns', 'histogram', 'None'],
      ['Cel', 'gauge', 'None'],
    ];
    for (const [ucum, kind, expected] of cases) expect([ucum, kind, cloudWatchUnit(ucum, kind)]).toEqual([ucum, kind, expected]);
  });

  it('several windows in one call: documents in order, each with its own timestamp', async () => {
    const ws = [0, 1, 2].map((i) => window(T0 + i * 1000, [series({ name: 'rps', kind: 'counter', count: 1, sum: 10 + i })]));
    const { docs } = await run(ws);
    expect(docs.map((d) => [d._aws.Timestamp, d.rps])).toEqual(ws.map((w, i) => [w.start, 10 + i]));
  });

  it('an empty histogram reports count 0 and sum 0, nothing that would be NaN', async () => {
    const { metrics } = await run([window(T0, [histogram('idle', [])])]);
    expect([...metrics.keys()].sort()).toEqual([`idle.count{ServiceName=test-service}@${T0}`, `idle.sum{ServiceName=test-service}@${T0}`]);
    expect([...metrics.values()].map((m) => m.value)).toEqual([0, 0]);
  });

  it('gaugeMax, percentiles, namespace, rollup and constant dimensions', async () => {
    const w = window(T0, [
      series({ name: 'inflight', kind: 'gauge', labels: { route: '/a' }, last: 3, max: 9 }),
      histogram('lat', latencies, { route: '/a' }),
    ]);
    const { docs, metrics } = await run([w], { gaugeMax: true, percentiles: ['p99'], namespace: 'Shop/Checkout', rollup: true, dimensions: { Cluster: 'eu-1' } });
    expect(docs[0]._aws.CloudWatchMetrics[0].Namespace).toBe('Shop/Checkout');
    expect(docs[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([
      ['ServiceName', 'Cluster', 'route'],
      ['ServiceName', 'Cluster'],
    ]);
    const names = [...metrics.keys()].map((k) => k.slice(0, k.indexOf('{'))).sort();
    expect(names).toEqual(['inflight', 'inflight.max', 'lat.count', 'lat.max', 'lat.min', 'lat.p99', 'lat.sum']);
    expect(metrics.get(`inflight.max{Cluster=eu-1,ServiceName=test-service,route=/a}@${T0}`)?.value).toBe(9);
  });

  it('AWS_EMF_NAMESPACE sets the namespace when no option does; service names are made namespace-safe', async () => {
    const w = window(T0, [series({ name: 'x', kind: 'gauge', last: 1 })]);
    expect((await run([w], {}, { AWS_EMF_NAMESPACE: 'Team/Jobs' })).docs[0]._aws.CloudWatchMetrics[0].Namespace).toBe('Team/Jobs');
    const odd: Window = { ...w, resource: { service: 'checkout@v2 (canary)', attributes: {} } };
    expect((await run([odd])).docs[0]._aws.CloudWatchMetrics[0].Namespace).toBe('checkout_v2 _canary_');
  });

  it('labels CloudWatch would reject are encoded or dropped, and counted', async () => {
    const w = window(T0, [
      series({ name: 'a', kind: 'gauge', last: 1, labels: { tenant: '', region: 'é-west', ServiceName: 'spoof' } }),
      // A metric named like a dimension cannot be a root member next to it.
      series({ name: 'region', kind: 'gauge', last: 2, labels: { region: 'x' } }),
    ]);
    const { docs, sink } = await run([w]);
    expect(docs[0].tenant).toBe('(empty)');
    expect(docs[0].region).toBe('%C3%A9-west');
    expect(docs[0].ServiceName).toBe('test-service');
    expect(sink.stats()).toMatchObject({ labels_dropped: 1, metrics_skipped: 1 }); // the ServiceName label; the metric "region"
  });

  it('NaN and infinite values are left out rather than producing an invalid document, and counted', async () => {
    const { metrics, sink } = await run([
      window(T0, [series({ name: 'g', kind: 'gauge', last: NaN }), series({ name: 'c', kind: 'counter', sum: Infinity }), series({ name: 'ok', kind: 'gauge', last: 0 })]),
    ]);
    expect([...metrics.keys()]).toEqual([`ok{ServiceName=test-service}@${T0}`]);
    expect(sink.stats().values_invalid).toBe(2);
  });

  it('stdout by default: one JSON line per document', async () => {
    const chunks: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string, cb?: (e?: Error | null) => void) => {
      chunks.push(String(chunk));
      cb?.();
      return true;
    }) as typeof process.stdout.write);
    const list = Array.from({ length: 150 }, (_, i) => series({ name: `m${i}`, kind: 'counter', sum: i }));
    await emfSink({}, {}).export([window(T0, list)]);
    const text = chunks.join('');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(validateEmf(line)._aws.LogGroupName).toBeUndefined();
  });

  it('a stdout that fails never throws an error event at the process; the window is counted failed', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(((_chunk: string, cb?: (e?: Error | null) => void) => {
      cb?.(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      return false;
    }) as typeof process.stdout.write);
    const sink = emfSink({ logger: { warn: () => undefined } }, {});
    await expect(sink.export([window(T0, [series({ name: 'm', kind: 'counter', sum: 1 })])])).resolves.toBeUndefined();
    expect(sink.stats()).toMatchObject({ windows_failed: 1, windows_sent: 0, documents_failed: 1 });
  });
});
