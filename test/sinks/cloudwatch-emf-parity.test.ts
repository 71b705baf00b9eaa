/**
 * One series, one CloudWatch identity: the EMF sink and the PutMetricData sink (through the real AWS SDK against
 * the loopback CloudWatch endpoint, test/helpers/cloudwatch-server.ts, which checks every body against the
 * botocore model) receive the same windows from the real recording core and must show every series under the same
 * metric name and dimensions, with hostile label values either kept apart or merged and summed: what arrives adds up
 * to what was recorded on both. EMF documents are checked against the EMF schema and, as a whole, re-serialized by
 * aws-embedded-metrics (the reference serializer) to the same content.
 */
import { LogSerializer } from 'aws-embedded-metrics/lib/serializers/LogSerializer.js';
import { MetricsContext } from 'aws-embedded-metrics/lib/logger/MetricsContext.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { cloudWatchSink } from '../../src/sinks/cloudwatch.js';
import { emfSink } from '../../src/sinks/emf.js';
import { loopbackSinkOptions, startCloudWatchServer, type CloudWatchServer, type ReceivedDatum } from '../helpers/cloudwatch-server.js';
import { validateEmf, type EmfDocument } from '../helpers/emf-validator.js';

const servers: CloudWatchServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const quiet = { warn: () => undefined, info: () => undefined };
const cjkA = '東京都'.repeat(5);
const cjkB = '大阪府'.repeat(5);
const tenKb = 'v'.repeat(10_240);
/** Label sets chosen to collide or nearly collide after CloudWatch's rules. */
const LABEL_SETS: Array<Record<string, string>> = [
  { route: '' },
  { route: ' ' },
  { route: '\t' },
  { route: '\n' },
  { route: 'ü' },
  { route: 'ö' },
  { route: '%C3%BC' }, // what 'ü' encodes to: the two merge
  { route: cjkA },
  { route: cjkB },
  { route: '🚀' },
  { route: '👩‍👩‍👧' },
  { route: tenKb + 'a' },
  { route: tenKb + 'b' }, // the same series as the line above once the core cuts values at 1024
  { route: 'plain' },
  { route: 'plain', ServiceName: 'spoofed' }, // the service dimension wins: merges with the line above
];

interface Arrival {
  readonly name: string;
  readonly dims: string;
  readonly value: number;
}

function dimsKey(dims: ReadonlyArray<{ Name: string; Value: string }>): string {
  return dims.map((d) => `${d.Name}=${d.Value}`).join(',');
}

function emfArrivals(docs: readonly EmfDocument[]): Arrival[] {
  const out: Arrival[] = [];
  for (const doc of docs) {
    for (const directive of doc._aws.CloudWatchMetrics) {
      const keys = directive.Dimensions[0];
      const dims = dimsKey(keys.map((k) => ({ Name: k, Value: String(doc[k]) })));
      for (const m of directive.Metrics) out.push({ name: m.Name, dims, value: doc[m.Name] as number });
    }
  }
  return out;
}

function pmdValue(d: ReceivedDatum, field: 'Sum' | 'SampleCount'): number {
  if (d.StatisticValues !== undefined) return d.StatisticValues[field];
  if (d.Values !== undefined) {
    const counts = d.Counts ?? d.Values.map(() => 1);
    return field === 'SampleCount' ? counts.reduce((a, c) => a + c, 0) : d.Values.reduce((a, v, i) => a + v * counts[i], 0);
  }
  return field === 'SampleCount' ? 1 : (d.Value as number);
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('EMF and PutMetricData: one identity per series, hostile labels merged and summed', () => {
  it('the same names and dimensions on both, and totals at both receivers equal what was recorded', async () => {
    const cw = await startCloudWatchServer();
    servers.push(cw);
    const lines: string[] = [];
    const emf = emfSink({ write: (d) => void lines.push(d), logger: quiet }, {});
    const pmd = cloudWatchSink({
      ...loopbackSinkOptions(cw.url),
      logger: quiet,
      filter: (s) => !s.name.startsWith('scalesignal.'),
    });
    const metrics = createMetrics({ service: 'checkout', sinks: [emf, pmd], eventLoop: false });
    const requests = metrics.counter('http.server.requests', { unit: '{request}' });
    const duration = metrics.histogram('http.server.request.duration', { unit: 'ms' });
    const inflight = metrics.gauge('http.server.active_requests', { unit: '{request}' });
    let adds = 0;
    let records = 0;
    let recordedSum = 0;
    let inflightTotal = 0;
    LABEL_SETS.forEach((labels, i) => {
      for (let k = 0; k <= i; k++) {
        requests.add(1, labels);
        adds++;
        const v = 1 + ((i * 37 + k * 11) % 400);
        duration.record(v, labels);
        records++;
        recordedSum += v;
      }
      inflight.set(i + 1, labels);
    });
    // A gauge keeps its last value per series: merged series add up (the two 10 KB values are one core series).
    const coreSeries = new Map<string, number>();
    LABEL_SETS.forEach((labels, i) => coreSeries.set(JSON.stringify({ ...labels, route: labels.route.slice(0, 1024) }), i + 1));
    inflightTotal = sum([...coreSeries.values()]);
    await metrics.shutdown();

    // EMF: valid documents, totals exact.
    const docs = lines.map((l) => validateEmf(l));
    const arrivals = emfArrivals(docs);
    const emfOf = (name: string) => arrivals.filter((a) => a.name === name);
    expect(sum(emfOf('http.server.requests').map((a) => a.value))).toBe(adds);
    expect(sum(emfOf('http.server.request.duration.count').map((a) => a.value))).toBe(records);
    expect(sum(emfOf('http.server.request.duration.sum').map((a) => a.value))).toBeCloseTo(recordedSum, 6);
    const lastGauge = new Map<string, number>();
    for (const a of emfOf('http.server.active_requests')) lastGauge.set(a.dims, a.value);
    expect(sum([...lastGauge.values()])).toBe(inflightTotal);

    // PutMetricData: every accepted body satisfied the botocore model; totals exact.
    const datums = cw.accepted.filter((d) => d.MetricName.startsWith('http.server.'));
    const pmdOf = (name: string) => datums.filter((d) => d.MetricName === name);
    expect(sum(pmdOf('http.server.requests').map((d) => pmdValue(d, 'Sum')))).toBe(adds);
    // StatisticSets: SampleCount across the fleet is the number of adds (idle seconds add a Value 0 each).
    expect(sum(pmdOf('http.server.requests').filter((d) => d.StatisticValues).map((d) => pmdValue(d, 'SampleCount')))).toBe(adds);
    expect(sum(pmdOf('http.server.request.duration').map((d) => pmdValue(d, 'SampleCount')))).toBe(records);
    const pmdGauge = new Map<string, number>();
    for (const d of pmdOf('http.server.active_requests')) pmdGauge.set(dimsKey(d.Dimensions), pmdValue(d, 'Sum'));
    expect(sum([...pmdGauge.values()])).toBe(inflightTotal);

    // The same identities on both sinks.
    const emfIds = new Set(arrivals.filter((a) => !a.name.startsWith('scalesignal.')).map((a) => `${a.name.replace(/\.(count|sum|min|max|p50|p90|p95|p99)$/, '')}{${a.dims}}`));
    const pmdIds = new Set(datums.map((d) => `${d.MetricName}{${dimsKey(d.Dimensions)}}`));
    expect([...pmdIds].sort()).toEqual([...emfIds].sort());
    // Kept apart: '', ' ', '\t', '\n', 'ü'+'%C3%BC', 'ö', two CJK, two emoji, the 10 KB value, 'plain': 12 routes.
    const routes = new Set(datums.map((d) => d.Dimensions.find((x) => x.Name === 'route')?.Value));
    expect(routes.size).toBe(12);
    for (const route of routes) expect(route).toMatch(/^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$/);
    expect(datums.every((d) => !d.Dimensions.some((x) => x.Name === 'ServiceName' && x.Value !== 'checkout'))).toBe(true);

    // Merges counted on both sinks: 'ü' with '%C3%BC' and 'plain' with its ServiceName twin, per metric and window.
    expect(emf.stats().series_merged).toBeGreaterThanOrEqual(6);
    expect(pmd.stats().series_merged).toBe(emf.stats().series_merged);
    expect(emf.stats()).toMatchObject({ windows_failed: 0, windows_dropped: 0, windows_pending: 0 });
    expect(pmd.stats()).toMatchObject({ windows_failed: 0, windows_dropped: 0, windows_pending: 0 });
  }, 20_000);

  it('aws-embedded-metrics, given the same content, serializes the same documents', async () => {
    const lines: string[] = [];
    const emf = emfSink({ write: (d) => void lines.push(d), logger: quiet, histogramValues: true }, {});
    const metrics = createMetrics({ service: 'checkout', sinks: [emf], eventLoop: false });
    const h = metrics.histogram('job.duration', { unit: 's' });
    const c = metrics.counter('jobs', { unit: '{job}' });
    for (let i = 0; i < 30; i++) {
      h.record(0.01 * (i + 1), { queue: 'emails', region: 'Zürich' });
      c.add(2, { queue: 'emails', region: 'Zürich' });
    }
    await metrics.shutdown();
    const docs = lines.map((l) => validateEmf(l)).filter((d) => d.queue === 'emails' && (d.jobs as number) > 0);
    expect(docs.length).toBeGreaterThan(0);
    for (const ours of docs) {
      const directive = ours._aws.CloudWatchMetrics[0];
      const ctx = MetricsContext.empty();
      ctx.setNamespace(directive.Namespace);
      ctx.setDimensions([Object.fromEntries(directive.Dimensions[0].map((k) => [k, String(ours[k])]))], false);
      ctx.setTimestamp(ours._aws.Timestamp);
      for (const m of directive.Metrics) {
        const value = ours[m.Name] as number | number[];
        for (const v of Array.isArray(value) ? value : [value]) ctx.putMetric(m.Name, v, m.Unit, 1);
      }
      const [reference, ...more] = new LogSerializer().serialize(ctx).map((s) => validateEmf(s));
      expect(more).toEqual([]);
      const sorted = (d: EmfDocument) => ({
        ...d,
        _aws: { ...d._aws, CloudWatchMetrics: d._aws.CloudWatchMetrics.map((x) => ({ ...x, Metrics: [...x.Metrics].sort((a, b) => a.Name.localeCompare(b.Name)) })) },
      });
      expect(sorted(ours)).toEqual(sorted(reference));
      expect(ours.region).toBe('Z%C3%BCrich');
    }
  });
});
