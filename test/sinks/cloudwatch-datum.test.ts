import { describe, expect, it } from 'vitest';
import type { SeriesWindow } from '../../src/core/window.js';
import { dimensionRules, type DimensionOptions } from '../../src/sinks/aws/dimensions.js';
import { AwsView } from '../../src/sinks/aws/view.js';
import { DatumConverter } from '../../src/sinks/cloudwatch/datum.js';
import { MAX_VALUES } from '../../src/sinks/cloudwatch/histogram.js';
import type { MetricDatum } from '../../src/sinks/cloudwatch/types.js';
import { series, window, type HistogramBuckets } from '../helpers/windows.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

interface Converter {
  readonly view: AwsView;
  readonly datums: DatumConverter;
  readonly filter?: (s: SeriesWindow) => boolean;
}

function converter(options: DimensionOptions & { filter?: (s: SeriesWindow) => boolean } = {}): Converter {
  const view = new AwsView(dimensionRules({ serviceDimension: 'Service', ...options }, 'test'), {});
  return { view, datums: new DatumConverter(1), filter: options.filter };
}

function convert(c: Converter, w: ReturnType<typeof window>): MetricDatum[] {
  const view = c.view.series(w, c.filter);
  const out: MetricDatum[] = [];
  c.datums.convert(view, w.start, out, []);
  expect(c.datums.countDatums(view)).toBe(out.length);
  return out;
}

/** Exponential histogram at `scale` from raw samples, the core's layout: bucket i covers (b^i, b^(i+1)]. */
function bucketsOf(samples: readonly number[], scale = 6): { buckets: HistogramBuckets; min: number; max: number; sum: number } {
  const factor = Math.pow(2, scale);
  const indexes = new Map<number, number>();
  let zero = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of samples) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    if (v === 0) {
      zero++;
      continue;
    }
    const i = Math.ceil(Math.log2(v) * factor) - 1;
    indexes.set(i, (indexes.get(i) ?? 0) + 1);
  }
  const keys = [...indexes.keys()];
  const offset = keys.length > 0 ? Math.min(...keys) : 0;
  const top = keys.length > 0 ? Math.max(...keys) : -1;
  const counts: number[] = [];
  for (let i = offset; i <= top; i++) counts.push(indexes.get(i) ?? 0);
  return { buckets: { scale, offset, counts, zeroCount: zero }, min, max, sum };
}

/** Nearest-rank quantile of a Values/Counts distribution. */
function quantileOf(values: readonly number[], counts: readonly number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < values.length; i++) {
    seen += counts[i];
    if (seen >= rank) return values[i];
  }
  return values[values.length - 1];
}

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** Deterministic log-normal samples (Box-Muller over a seeded LCG). */
function lognormal(n: number, mu: number, sigma: number, seed = 7): number[] {
  let s = seed;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())));
  return out;
}

describe('cloudwatch datum conversion', () => {
  it('turns a counter into one datum at the window start with the service dimension and sorted labels', () => {
    const w = window(T0, [series({ name: 'http.server.requests', kind: 'counter', unit: '{request}', labels: { route: '/a', method: 'GET' }, count: 5, sum: 5, total: 12 })]);
    const [d] = convert(converter(), w);
    expect(d).toEqual({
      MetricName: 'http.server.requests',
      Dimensions: [
        { Name: 'Service', Value: 'test-service' },
        { Name: 'method', Value: 'GET' },
        { Name: 'route', Value: '/a' },
      ],
      Timestamp: new Date(T0),
      Unit: 'Count',
      StorageResolution: 1,
      // Five adds of 1: Minimum = Maximum = the mean add, so CloudWatch can also take percentiles of it.
      StatisticValues: { SampleCount: 5, Sum: 5, Minimum: 1, Maximum: 1 },
    });
  });

  it('sends a counter that did not move as 0, so rates read 0 rather than missing', () => {
    const [d] = convert(converter(), window(T0, [series({ name: 'c', kind: 'counter', count: 0, sum: 0 })]));
    expect(d.Value).toBe(0);
    expect(d.StatisticValues).toBeUndefined();
  });

  it('sends a counter as a StatisticSet: SampleCount = adds, Sum = increase, Min/Max = the mean add without per-add extremes', () => {
    const [d] = convert(converter(), window(T0, [series({ name: 'bytes', kind: 'counter', unit: 'By', count: 4, sum: 1000, min: NaN, max: NaN })]));
    expect(d.StatisticValues).toEqual({ SampleCount: 4, Sum: 1000, Minimum: 250, Maximum: 250 });
    expect(d.Value).toBeUndefined();
  });

  it('uses StatisticValues for a counter whose window carries min and max of the adds', () => {
    const [d] = convert(converter(), window(T0, [series({ name: 'c', kind: 'counter', count: 4, sum: 10, min: 1, max: 4 })]));
    expect(d.StatisticValues).toEqual({ SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4 });
    expect(d.Value).toBeUndefined();
  });

  it('sends a gauge as last with its spike in StatisticValues (SampleCount 1 per pod), a flat gauge as Value', () => {
    const w = window(T0, [
      series({ name: 'inflight', kind: 'gauge', unit: '{request}', count: 9, last: 7, min: 3, max: 42 }),
      series({ name: 'queue.depth', kind: 'gauge', count: 0, last: 5, min: 5, max: 5 }),
    ]);
    const [spiky, flat] = convert(converter(), w);
    expect(spiky.StatisticValues).toEqual({ SampleCount: 1, Sum: 7, Minimum: 3, Maximum: 42 });
    expect(spiky.Value).toBeUndefined();
    expect(flat.Value).toBe(5);
    expect(flat.StatisticValues).toBeUndefined();
    expect(flat.Unit).toBe('None');
  });

  it('reconstructs histogram percentiles within 1 % and keeps min, max and the count exact', () => {
    const samples = lognormal(20_000, Math.log(40), 0.6);
    const sorted = [...samples].sort((a, b) => a - b);
    const h = bucketsOf(samples);
    const w = window(T0, [series({ name: 'http.server.request.duration', kind: 'histogram', unit: 'ms', count: samples.length, sum: h.sum, min: h.min, max: h.max, buckets: h.buckets })]);
    const [d] = convert(converter(), w);
    const values = d.Values as number[];
    const counts = d.Counts as number[];
    expect(d.Unit).toBe('Milliseconds');
    expect(values.length).toBeLessThanOrEqual(MAX_VALUES);
    expect(counts.length).toBe(values.length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(samples.length);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
    expect(values[0]).toBe(h.min);
    expect(values[values.length - 1]).toBe(h.max);
    for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
      const estimate = quantileOf(values, counts, q);
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(estimate - exact) / exact, `p${q * 100}`).toBeLessThan(0.01);
    }
    // The sum CloudWatch derives from Values x Counts is within the same bound.
    const derived = values.reduce((a, v, i) => a + v * counts[i], 0);
    expect(Math.abs(derived - h.sum) / h.sum).toBeLessThan(0.01);
  });

  it('skips an empty histogram second instead of sending a zero latency', () => {
    const out = convert(converter(), window(T0, [series({ name: 'h', kind: 'histogram', count: 0, buckets: { scale: 6, offset: 0, counts: [], zeroCount: 0 } })]));
    expect(out).toEqual([]);
  });

  it('never emits NaN or Infinity and clamps magnitudes to what CloudWatch accepts', () => {
    const c = converter();
    const out = convert(
      c,
      window(T0, [
        series({ name: 'never.set', kind: 'gauge', last: NaN }),
        series({ name: 'bad.counter', kind: 'counter', count: 1, sum: Infinity }),
        series({ name: 'huge', kind: 'gauge', last: 1e300 }),
        series({ name: 'tiny', kind: 'gauge', last: 1e-200 }),
        series({ name: 'h.no.buckets', kind: 'histogram', count: 2, sum: 3, min: 1, max: 2 }),
      ]),
    );
    expect(out.map((d) => d.MetricName)).toEqual(['huge', 'tiny', 'h.no.buckets']);
    expect(out[0].Value).toBe(Math.pow(2, 360));
    expect(out[1].Value).toBe(0);
    expect(out[2].StatisticValues).toEqual({ SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2 });
    const json = JSON.stringify(out);
    expect(json).not.toMatch(/NaN|Infinity|null/);
  });

  it('enforces dimension limits: 30 per datum, name 250 and value 1024 chars, ASCII, counted', () => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < 40; i++) labels[`l${String(i).padStart(2, '0')}`] = `v${i}`;
    labels['x'.repeat(300)] = 'y'.repeat(2000);
    labels.empty = '   ';
    labels.unicode = 'café';
    const c = converter({ dimensions: { Environment: 'prod' } });
    const [d] = convert(c, window(T0, [series({ name: 'g', kind: 'gauge', last: 1, labels })]));
    const dims = d.Dimensions ?? [];
    expect(dims.length).toBe(30);
    expect(dims[0]).toEqual({ Name: 'Service', Value: 'test-service' });
    expect(dims[1]).toEqual({ Name: 'Environment', Value: 'prod' });
    for (const dim of dims) {
      expect(dim.Name.length).toBeLessThanOrEqual(250);
      expect(dim.Value.length).toBeLessThanOrEqual(1024);
      expect(dim.Value).toMatch(/^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$/);
    }
    // 2 fixed + the first 28 of 43 labels in key order; the 15 past the limit dropped and counted.
    expect(c.view.counts.labelsDropped).toBe(15);
    expect(dims[2]).toEqual({ Name: 'empty', Value: '%20%20%20' });
    expect(dims[3]).toEqual({ Name: 'l00', Value: 'v0' });
    const c2 = converter();
    const [e] = convert(c2, window(T0, [series({ name: 'g', kind: 'gauge', last: 1, labels: { ['n'.repeat(300)]: 'v'.repeat(2000), city: 'Zürich', blank: '   ' } })]));
    expect(e.Dimensions?.find((x) => x.Name.startsWith('n'))).toEqual({ Name: 'n'.repeat(250), Value: 'v'.repeat(1024) });
    // Not ASCII: percent-encoded UTF-8, so Zürich and Zarich stay two series; blank: encoded spaces.
    expect(e.Dimensions?.find((x) => x.Name === 'city')?.Value).toBe('Z%C3%BCrich');
    expect(e.Dimensions?.find((x) => x.Name === 'blank')?.Value).toBe('%20%20%20');
    expect(c2.view.counts.labelsDropped).toBe(0);
  });

  it('has no per-pod dimension unless asked, and can drop the service dimension', () => {
    const w = window(T0, [series({ name: 'g', kind: 'gauge', last: 1 })]);
    expect(convert(converter({ serviceDimension: false }), w)[0].Dimensions).toEqual([]);
    const podded: ReturnType<typeof window> = { ...w, resource: { service: 'test-service', attributes: { 'k8s.pod.name': 'api-0' } } };
    const pod = convert(converter({ podDimension: 'Pod' }), podded)[0];
    expect(pod.Dimensions).toEqual([
      { Name: 'Service', Value: 'test-service' },
      { Name: 'Pod', Value: 'api-0' },
    ]);
  });

  it('applies the filter', () => {
    const c = converter({ filter: (s) => !s.name.startsWith('scalesignal.') });
    const out = convert(c, window(T0, [series({ name: 'scalesignal.sink.sent', kind: 'gauge', last: 1 }), series({ name: 'kept', kind: 'gauge', last: 2 })]));
    expect(out.map((d) => d.MetricName)).toEqual(['kept']);
  });
});
