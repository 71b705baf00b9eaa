/**
 * The AWS rule set both CloudWatch sinks share (src/sinks/aws): dimension text, metric names, namespaces, pod
 * identity, units, merging, and the references the tests check against (the botocore model copy, the EMF schema).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import type { SeriesWindow } from '../../src/core/window.js';
import { dimensionName, dimensionValue } from '../../src/sinks/aws/dimension-text.js';
import { dimensionRules } from '../../src/sinks/aws/dimensions.js';
import { mergeSeries } from '../../src/sinks/aws/merge.js';
import { metricStem } from '../../src/sinks/aws/metric-name.js';
import { FALLBACK_NAMESPACE, namespaceFromService, validateNamespace } from '../../src/sinks/aws/namespace.js';
import { podIdentity } from '../../src/sinks/aws/pod-identity.js';
import { cloudWatchUnit } from '../../src/sinks/aws/units.js';
import { AwsView } from '../../src/sinks/aws/view.js';
import { CLOUDWATCH_MODEL, modelProblems } from '../helpers/cloudwatch-server.js';
import { validateEmf } from '../helpers/emf-validator.js';
import { series, window } from '../helpers/windows.js';

const T0 = Date.UTC(2026, 0, 1);
const printable = /^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$/;

/** Decodes what dimensionValue encoded (percent-encoded UTF-8), to show nothing was lost. */
function decode(text: string): string {
  return decodeURIComponent(text.replace(/%(?![0-9A-F]{2})/g, '%25'));
}

describe('dimension text', () => {
  it('keeps printable ASCII, percent-encodes the rest, so hostile values stay apart and readable', () => {
    const cases: Array<[string, string]> = [
      ['/checkout', '/checkout'],
      [' padded ', ' padded '],
      ['', '(empty)'],
      [' ', '%20'],
      ['   ', '%20%20%20'],
      ['\t', '%09'],
      ['\n', '%0A'],
      ['a\tb', 'a%09b'],
      ['ü', '%C3%BC'],
      ['ö', '%C3%B6'],
      ['Zürich', 'Z%C3%BCrich'],
      ['東京', '%E6%9D%B1%E4%BA%AC'],
      ['大阪', '%E5%A4%A7%E9%98%AA'],
      ['🚀', '%F0%9F%9A%80'],
      ['\u007f', '%7F'],
    ];
    for (const [raw, expected] of cases) {
      const cleaned = dimensionValue(raw);
      expect([raw, cleaned]).toEqual([raw, expected]);
      expect(cleaned).toMatch(printable);
      if (raw !== '') expect(decode(cleaned)).toBe(raw);
    }
    // A lone surrogate (a string cut inside an emoji) is not valid UTF-8: it becomes U+FFFD.
    expect(dimensionValue('x\ud83d')).toBe('x%EF%BF%BD');
  });

  it('cuts at 1024 characters on a character boundary, never inside an escape', () => {
    expect(dimensionValue('v'.repeat(10_000))).toBe('v'.repeat(1024));
    const cjk = dimensionValue('東'.repeat(1000));
    expect(cjk.length).toBeLessThanOrEqual(1024);
    expect(cjk.length % 9).toBe(0); // whole characters of 3 escaped bytes
    const emoji = dimensionValue('a' + '🚀'.repeat(500));
    expect(emoji.length).toBeLessThanOrEqual(1024);
    expect(decode(emoji)).toBe('a' + '🚀'.repeat((emoji.length - 1) / 12));
    // Spaces that would be all that is left after the cut are encoded instead.
    expect(dimensionValue(' '.repeat(1100) + 'x')).toMatch(/^(%20)+$/);
  });

  it('dimension names: at most 250 characters, never starting with ":"; nothing left means the label is dropped', () => {
    expect(dimensionName('n'.repeat(300))).toBe('n'.repeat(250));
    expect(dimensionName(':scheme')).toBe('%3Ascheme');
    expect(dimensionName('')).toBeUndefined();
    expect(dimensionName('région')).toBe('r%C3%A9gion');
  });
});

describe('metric names', () => {
  it('every derived EMF name fits 255 characters, and all metrics of one series share a stem', () => {
    const long = 'm'.repeat(255);
    expect(metricStem(long, 'counter')).toHaveLength(255);
    expect(metricStem(long, 'gauge') + '.max').toHaveLength(255);
    const stem = metricStem(long, 'histogram');
    for (const suffix of ['.count', '.sum', '.min', '.max', '.p50', '.p90', '.p95', '.p99']) expect((stem + suffix).length).toBeLessThanOrEqual(255);
    expect(metricStem('http.server.requests', 'counter')).toBe('http.server.requests');
    expect(metricStem('', 'gauge')).toBe('unnamed');
  });
});

describe('namespace', () => {
  it('explicit namespaces are validated at configuration with a clear error', () => {
    expect(validateNamespace('Shop/Checkout', 'x')).toBe('Shop/Checkout');
    for (const bad of ['', '   ', 'AWS/EC2', ':x', 'a'.repeat(256), 'café', 'a*b']) {
      expect(() => validateNamespace(bad, 'x')).toThrow(ConfigError);
    }
  });

  it('from the service name: invalid characters become "_", one fallback for both sinks', () => {
    expect(namespaceFromService('checkout')).toBe('checkout');
    expect(namespaceFromService('unknown_service:node')).toBe('unknown_service:node');
    expect(namespaceFromService('checkout@v2 (canary)')).toBe('checkout_v2 _canary_');
    expect(namespaceFromService('AWS/fake')).toBe('fake');
    expect(namespaceFromService(':x')).toBe('x');
    expect(namespaceFromService('   ')).toBe(FALLBACK_NAMESPACE);
    expect(FALLBACK_NAMESPACE).toBe('ScaleSignal');
  });
});

describe('pod identity', () => {
  it('the resource first, then POD_NAME, K8S_POD_NAME, HOSTNAME, then host.name', () => {
    expect(podIdentity({ 'k8s.pod.name': 'from-resource' }, { POD_NAME: 'env' })).toBe('from-resource');
    expect(podIdentity({}, { POD_NAME: 'pod-a', HOSTNAME: 'h' })).toBe('pod-a');
    expect(podIdentity({}, { K8S_POD_NAME: 'pod-b', HOSTNAME: 'h' })).toBe('pod-b');
    expect(podIdentity({ 'host.name': 'host' }, { HOSTNAME: 'h' })).toBe('h');
    expect(podIdentity({ 'host.name': 'host' }, {})).toBe('host');
    expect(podIdentity(undefined, {}).length).toBeGreaterThan(0);
  });
});

describe('dimension options', () => {
  it('are checked at configuration: bad names, values, repeats and more than 30 are ConfigErrors', () => {
    expect(() => dimensionRules({ dimensions: { Env: '' } }, 'x')).toThrow(ConfigError);
    expect(() => dimensionRules({ dimensions: { Env: 'pröd' } }, 'x')).toThrow(ConfigError);
    expect(() => dimensionRules({ dimensions: { ':Env': 'prod' } }, 'x')).toThrow(ConfigError);
    expect(() => dimensionRules({ dimensions: { ServiceName: 'a' } }, 'x')).toThrow(/repeat/);
    expect(() => dimensionRules({ podDimension: '_aws' }, 'x')).toThrow(ConfigError);
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`d${i}`, 'v']));
    expect(() => dimensionRules({ dimensions: many }, 'x')).toThrow(/at most 30/);
    expect(dimensionRules({ podDimension: true }, 'x').pod).toBe('PodName');
  });
});

describe('units', () => {
  it('maps UCUM to the CloudWatch enum, the same for both sinks', () => {
    const cases: Array<[string, 'counter' | 'gauge' | 'histogram', string]> = [
      ['ms', 'histogram', 'Milliseconds'],
      ['s', 'histogram', 'Seconds'],
      ['us', 'histogram', 'Microseconds'],
      ['By', 'counter', 'Bytes'],
      ['MiBy', 'gauge', 'Megabytes'],
      ['{request}', 'counter', 'Count'],
      ['1', 'gauge', 'None'],
      ['1', 'counter', 'Count'],
      ['', 'counter', 'Count'],
      ['', 'gauge', 'None'],
      ['%', 'gauge', 'Percent'],
      ['By/s', 'gauge', 'Bytes/Second'],
      ['{request}/s', 'gauge', 'Count/Second'],
      ['1/s', 'gauge', 'Count/Second'],
      ['ns', 'histogram', 'None'],
      ['furlong', 'gauge', 'None'],
    ];
    const enumeration = (CLOUDWATCH_MODEL.StandardUnit.enum as readonly string[]) ?? [];
    for (const [ucum, kind, expected] of cases) {
      expect([ucum, kind, cloudWatchUnit(ucum, kind)]).toEqual([ucum, kind, expected]);
      expect(enumeration).toContain(expected);
    }
  });
});

describe('merging series that collide', () => {
  const hist = (values: number[], labels: Record<string, string>): SeriesWindow => {
    const idx = values.filter((v) => v > 0).map((v) => Math.ceil(Math.log2(v) * 64) - 1);
    const offset = Math.min(...idx);
    const counts = new Array<number>(Math.max(...idx) - offset + 1).fill(0);
    for (const i of idx) counts[i - offset]++;
    return series({
      name: 'lat',
      kind: 'histogram',
      unit: 'ms',
      labels,
      count: values.length,
      sum: values.reduce((a, b) => a + b, 0),
      min: Math.min(...values),
      max: Math.max(...values),
      buckets: { scale: 6, offset, counts, zeroCount: 0 },
    });
  };

  it('counters add; gauges add up with min/max as sums; histograms merge bucket-wise and recompute quantiles', () => {
    const c = mergeSeries(series({ name: 'c', kind: 'counter', count: 3, sum: 7, total: 70, rate: 7 }), series({ name: 'c', kind: 'counter', count: 2, sum: 5, total: 50, rate: 5 }));
    expect(c).toMatchObject({ count: 5, sum: 12, total: 120, rate: 12 });
    const g = mergeSeries(series({ name: 'g', kind: 'gauge', count: 1, last: 4, min: 1, max: 6 }), series({ name: 'g', kind: 'gauge', count: 0, last: 10, min: 10, max: 10 }));
    expect(g).toMatchObject({ last: 14, min: 11, max: 16 });
    const a = Array.from({ length: 300 }, (_, i) => 1 + i);
    const b = Array.from({ length: 700 }, (_, i) => 500 + i * 2);
    const h = mergeSeries(hist(a, { r: 'a' }), hist(b, { r: 'b' }));
    expect(h.count).toBe(1000);
    expect(h.buckets?.counts.reduce((x, y) => x + y, 0)).toBe(1000);
    expect(h.min).toBe(1);
    expect(h.max).toBe(1898);
    const all = [...a, ...b].sort((x, y) => x - y);
    for (const [q, key] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99']] as const) {
      const exact = all[Math.ceil(q * all.length) - 1];
      expect(Math.abs(h[key] / exact - 1), key).toBeLessThan(0.0055);
    }
  });

  it('histograms of different scales merge at the coarser one, counts kept', () => {
    const fine = { ...hist([3, 5, 7], {}), buckets: { scale: 6, offset: 100, counts: [1, 0, 2], zeroCount: 1 } };
    const coarse = { ...hist([3], {}), buckets: { scale: 4, offset: 25, counts: [4], zeroCount: 0 } };
    const m = mergeSeries(fine, coarse);
    expect(m.buckets).toEqual({ scale: 4, offset: 25, counts: [7], zeroCount: 1 });
  });

  it('the view merges series that end up with one identity and counts each merge', () => {
    const view = new AwsView(dimensionRules({}, 'x'), {});
    const w = window(T0, [
      series({ name: 'req', kind: 'counter', labels: { route: '%C3%BC' }, count: 1, sum: 1 }),
      series({ name: 'req', kind: 'counter', labels: { route: 'ü' }, count: 2, sum: 2 }),
      series({ name: 'req', kind: 'counter', labels: { route: 'ö' }, count: 4, sum: 4 }),
      series({ name: 'req', kind: 'counter', labels: { route: 'x', ServiceName: 'spoof' }, count: 8, sum: 8 }),
      series({ name: 'req', kind: 'counter', labels: { route: 'x' }, count: 16, sum: 16 }),
    ]);
    const out = view.series(w);
    expect(out.map((s) => [s.identity.dimensions.map((d) => d.Value).join('|'), s.series.sum])).toEqual([
      ['test-service|%C3%BC', 3],
      ['test-service|%C3%B6', 4],
      ['test-service|x', 24],
    ]);
    expect(view.counts).toEqual({ seriesMerged: 2, labelsDropped: 1 });
    // Next window: the same identities, counted again per window.
    view.series(w);
    expect(view.counts.seriesMerged).toBe(4);
  });
});

describe('references the tests rely on', () => {
  it('the CloudWatch model copy in test/helpers equals botocore\'s (apt-get install python3-botocore)', () => {
    const path = process.env.BOTOCORE_CLOUDWATCH_MODEL ?? '/usr/lib/python3/dist-packages/botocore/data/cloudwatch/2010-08-01/service-2.json';
    expect(existsSync(path), `${path} missing: apt-get install -y python3-botocore`).toBe(true);
    const shapes = (JSON.parse(readFileSync(path, 'utf8')) as { shapes: Record<string, Record<string, unknown>> }).shapes;
    const strip = (shape: Record<string, unknown>): unknown =>
      JSON.parse(
        JSON.stringify(shape, (key, value: unknown) => (key === 'documentation' || key === 'xmlOrder' ? undefined : value)),
      );
    for (const [name, copy] of Object.entries(CLOUDWATCH_MODEL)) expect([name, copy]).toEqual([name, strip(shapes[name])]);
  });

  it('the model check and the EMF validator reject what CloudWatch would', () => {
    expect(modelProblems({ Namespace: ':x', MetricData: [{ MetricName: 'm'.repeat(256), Dimensions: [{ Name: 'a' }] }] }, 'PutMetricDataInput')).toEqual([
      'PutMetricDataInput.Namespace: does not match [^:].*',
      'PutMetricDataInput.MetricData[0].MetricName: longer than 255',
      'PutMetricDataInput.MetricData[0].Dimensions[0].Value: required',
    ]);
    const doc = (extra: Record<string, unknown>, name = 'm') =>
      JSON.stringify({ _aws: { Timestamp: T0, CloudWatchMetrics: [{ Namespace: 'ns', Dimensions: [['d']], Metrics: [{ Name: name, Unit: 'Count', StorageResolution: 1 }] }] }, d: 'v', m: 1, ...extra });
    expect(() => validateEmf(doc({}))).not.toThrow();
    expect(() => validateEmf(doc({ d: 'ü' }))).toThrow(/dimension value/);
    expect(() => validateEmf(doc({}, 'x'.repeat(256)))).toThrow(/metric name/);
    expect(() => validateEmf(doc({ _aws: { CloudWatchMetrics: [] } }))).toThrow(/schema/);
  });
});
