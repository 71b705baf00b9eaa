/**
 * scalesignal/otel against the official SDK: every call goes through a tee to both scalesignal's MeterProvider and
 * @opentelemetry/sdk-metrics' (cumulative reader), and what arrives in scalesignal's windows must equal what the
 * SDK aggregated, per attribute set: counter sums, up-down counter values, gauge last values, histogram count,
 * sum, min and max. Plus the documented conversions (attribute values -> label strings), the identity cache's
 * safety against mutated attribute objects, refused declarations, and advice.
 */
import type { Attributes, Counter, Gauge, Histogram, MeterProvider, UpDownCounter } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { createMeterProvider } from '../../src/otel/index.js';
import { rng } from '../integrations/support.js';
import { expectedLabels, labelsOf, sdkReference, sleep, teeMeterProvider, totals } from './support.js';

const INT = 0; // ValueType.INT

function setup(intervalMs = 100): { metrics: Metrics; windows: Window[]; warnings: string[] } {
  const windows: Window[] = [];
  const warnings: string[] = [];
  const metrics = createMetrics({
    sinks: [{ name: 'collect', export: (batch) => void windows.push(...batch) }],
    eventLoop: false,
    intervalMs,
    logger: { warn: (m) => warnings.push(m) },
  });
  return { metrics, windows, warnings };
}

let open: Metrics | undefined;
afterEach(async () => {
  await open?.shutdown();
  open = undefined;
});

describe('synchronous instruments', () => {
  it('arrive per attribute set exactly as the SDK aggregates the same calls', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const sdk = sdkReference();
    const provider = teeMeterProvider(createMeterProvider(metrics), sdk.provider);
    const meter = provider.getMeter('workload', '1.0.0');
    const counter = meter.createCounter('jobs.done', { unit: '{job}' });
    const intCounter = meter.createCounter('bytes.sent', { unit: 'By', valueType: INT });
    const upDown = meter.createUpDownCounter('queue.items', { unit: '{item}' });
    const gauge = meter.createGauge('pool.size', { unit: '{connection}' });
    const histogram = meter.createHistogram('op.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 1] } });

    const random = rng(12);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
    // Type-stable keys: the SDK tells {n: 1} from {n: "1"}, scalesignal's string labels cannot.
    const valueOf: Record<string, () => Attributes[string]> = {
      route: () => pick(['/pay', '/users/:id', 'quote"d', 'new\nline', 'ünï']),
      code: () => pick([200, 404, 500, 1.5, -0, 1e21]),
      ok: () => pick([true, false]),
      tags: () => pick([['a', 'b'], ['a', null], [], ['x,y']]),
      ids: () => pick([[1, 2], [3, null, 4.5]]),
      flags: () => pick([[true], [false, null]]),
    };
    const frozenSets = [
      Object.freeze({ route: '/pay', code: 200 }),
      Object.freeze({ ok: true, tags: Object.freeze(['a', 'b']) }),
      Object.freeze({}),
    ];
    const attributes = (): Attributes | undefined => {
      const shape = random();
      if (shape < 0.1) return undefined;
      if (shape < 0.3) return pick(frozenSets);
      const names = Object.keys(valueOf).filter(() => random() < 0.45);
      if (random() < 0.5) names.reverse(); // another key order of the same set
      const out: Attributes = {};
      for (const name of names) out[name] = valueOf[name]();
      return out;
    };
    const value = () => Math.floor(random() * 64) / 16; // exact in binary: sums compare exactly
    const record: Array<() => void> = [
      () => (counter as Counter).add(value(), attributes()),
      () => (intCounter as Counter).add(value() * 3, attributes()),
      () => (counter as Counter).add(-1, attributes()), // refused by both
      () => (upDown as UpDownCounter).add(value() - 2, attributes()),
      () => (gauge as Gauge).record(value() - 1, attributes()),
      () => (histogram as Histogram).record(value(), attributes()),
      () => (histogram as Histogram).record(-value() - 1, attributes()), // refused by both
    ];
    // Several windows, with records in each.
    for (let batch = 0; batch < 5; batch++) {
      for (let i = 0; i < 400; i++) pick(record)();
      await sleep(120);
    }
    await metrics.flush();
    const reference = await sdk.collect();

    const compare = (name: string, field: 'sum' | 'last' | 'histogram') => {
      const ours = totals(windows, name);
      const theirs = reference.get(name)!;
      expect(theirs.size).toBeGreaterThan(5);
      // Same label sets. A refused record (a negative add) still creates its series in scalesignal, with nothing in it.
      const recorded = [...ours].filter(([, t]) => t.count > 0).map(([labels]) => labels);
      expect(recorded.sort()).toEqual([...theirs.keys()].sort());
      for (const [labels, point] of theirs) {
        const t = ours.get(labels)!;
        if (field === 'sum') expect({ labels, value: t.sum }).toEqual({ labels, value: point.value });
        if (field === 'last') expect({ labels, value: t.last }).toEqual({ labels, value: point.value });
        if (field === 'histogram') {
          expect({ labels, count: t.count, sum: t.sum, min: t.min, max: t.max }).toEqual({
            labels,
            count: point.count,
            sum: point.sum,
            min: point.min,
            max: point.max,
          });
        }
      }
    };
    compare('jobs.done', 'sum');
    compare('bytes.sent', 'sum');
    compare('queue.items', 'last');
    compare('pool.size', 'last');
    compare('op.duration', 'histogram');
    expect(windows.filter((w) => w.series.some((s) => s.name === 'op.duration' && s.count > 0)).length).toBeGreaterThanOrEqual(3);
  });

  it('turns attribute values of every type the API allows into label strings', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const counter = createMeterProvider(metrics).getMeter('m').createCounter('c');
    counter.add(1, {
      s: 'x',
      i: 200,
      f: 1.5,
      neg: -3,
      big: 1e21,
      nan: NaN,
      t: true,
      no: false,
      strings: ['a', null, 'b"q'],
      numbers: [1, null, 2.5],
      booleans: [true, false, undefined],
      empty: [],
      u: undefined,
      n: null as unknown as string,
      // Outside the API's types: left out rather than written as "[object Object]".
      object: { a: 1 } as unknown as string,
      fn: (() => 1) as unknown as string,
    });
    await metrics.flush();
    const series = windows.flatMap((w) => w.series).find((s) => s.name === 'c')!;
    expect(series.labels).toEqual({
      s: 'x',
      i: '200',
      f: '1.5',
      neg: '-3',
      big: '1e+21',
      nan: 'NaN',
      t: 'true',
      no: 'false',
      strings: '["a",null,"b\\"q"]',
      numbers: '[1,null,2.5]',
      booleans: '[true,false,null]',
      empty: '[]',
    });
    expect(series.sum).toBe(1);
  });

  it('follows an attributes object that the caller changes between records', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const histogram = createMeterProvider(metrics).getMeter('m').createHistogram('d');
    // One scratch object, rewritten per request (as instrumentation-http's Object.assign does).
    const scratch: Attributes = { route: '/a', status: 200 };
    const tags = ['x'];
    const frozenWithMutableArray = Object.freeze({ tags });
    for (let i = 0; i < 30; i++) {
      scratch.status = i % 3 === 0 ? 500 : 200;
      histogram.record(1, scratch);
      tags[0] = i % 2 === 0 ? 'even' : 'odd';
      histogram.record(2, frozenWithMutableArray);
    }
    scratch.extra = 'added';
    histogram.record(1, scratch);
    delete scratch.extra;
    histogram.record(1, scratch);
    await metrics.flush();
    const byLabels = totals(windows, 'd');
    const count = (attributes: Attributes) => byLabels.get(expectedLabels(attributes))?.count;
    expect(count({ route: '/a', status: 500 })).toBe(10);
    expect(count({ route: '/a', status: 200 })).toBe(21);
    expect(count({ route: '/a', status: 200, extra: 'added' })).toBe(1);
    expect(count({ tags: ['even'] })).toBe(15);
    expect(count({ tags: ['odd'] })).toBe(15);
  });

  it('caches frozen attribute objects without mixing their series', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const counter = createMeterProvider(metrics).getMeter('m').createCounter('c');
    const a = Object.freeze({ route: '/a' });
    const b = Object.freeze({ route: '/b' });
    const invalidName = Object.freeze({ 'bad name': 'x', ok: 'y' }); // the core refuses to bind "bad name"
    for (let i = 0; i < 100; i++) {
      counter.add(1, a);
      counter.add(2, b);
      counter.add(3, invalidName);
    }
    await metrics.flush();
    const byLabels = totals(windows, 'c');
    expect(byLabels.get(expectedLabels(a))?.sum).toBe(100);
    expect(byLabels.get(expectedLabels(b))?.sum).toBe(200);
    // As for scalesignal's own unbound calls, a label name the core rejects is dropped, the record kept.
    expect(byLabels.get(expectedLabels({ ok: 'y' }))?.sum).toBe(300);
  });

  it('drops and counts what the SDK refuses, and truncates INT values as the SDK does', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const meter = createMeterProvider(metrics).getMeter('m');
    const counter = meter.createCounter('c', { valueType: INT });
    const histogram = meter.createHistogram('h');
    counter.add(2.9);
    counter.add(-1);
    counter.add(NaN);
    counter.add('7' as unknown as number);
    histogram.record(-0.5);
    histogram.record(Infinity);
    histogram.record(0.25);
    await metrics.flush();
    const all = windows.flatMap((w) => w.series);
    expect(all.find((s) => s.name === 'c')?.sum).toBe(2);
    expect(all.find((s) => s.name === 'h')).toMatchObject({ count: 1, sum: 0.25 });
    const dropped = totals(windows, 'scalesignal.recordings.dropped');
    expect(dropped.get(expectedLabels({ metric: 'c', reason: 'negative' }))?.sum).toBe(1);
    expect(dropped.get(expectedLabels({ metric: 'c', reason: 'non_finite' }))?.sum).toBe(1);
    expect(dropped.get(expectedLabels({ metric: 'c', reason: 'not_a_number' }))?.sum).toBe(1);
    expect(dropped.get(expectedLabels({ metric: 'h', reason: 'negative' }))?.sum).toBe(1);
    expect(dropped.get(expectedLabels({ metric: 'h', reason: 'non_finite' }))?.sum).toBe(1);
  });

  it('refuses declarations it cannot honour with a no-op instrument and one warning, never a throw', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const warnings: string[] = [];
    const meter = createMeterProvider(metrics, { logger: { warn: (m) => warnings.push(m) } }).getMeter('m');
    // scalesignal's own HTTP integration declares this histogram in ms; instrumentation-http's is in s.
    metrics.histogram('http.server.request.duration', { unit: 'ms' });
    const seconds = meter.createHistogram('http.server.request.duration', { unit: 's' });
    const counter = meter.createCounter('work');
    const sameNameGauge = meter.createGauge('work');
    meter.createGauge('work');
    const badName = meter.createCounter('1-starts-with-a-digit');
    const badOptions = meter.createCounter('odd.options', null as unknown as undefined);
    expect(() => {
      seconds.record(1);
      sameNameGauge.record(5);
      badName.add(1);
      counter.add(1);
      badOptions.add(4);
    }).not.toThrow();
    await metrics.flush();
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/http\.server\.request\.duration.*unit/);
    expect(warnings[1]).toMatch(/"work" is already a Counter/);
    expect(warnings[2]).toMatch(/1-starts-with-a-digit/);
    const all = windows.flatMap((w) => w.series);
    expect(all.filter((s) => s.name === 'http.server.request.duration' && s.count > 0)).toEqual([]);
    // 100 ms windows: a window boundary may fall inside the test, and a counter reports 0 in windows after its add.
    const work = all.filter((s) => s.name === 'work');
    expect(new Set(work.map((s) => s.kind))).toEqual(new Set(['counter']));
    expect(work.reduce((total, s) => total + s.sum, 0)).toBe(1);
    expect(all.find((s) => s.name === 'odd.options')?.sum).toBe(4);
  });

  it('accepts explicit-bucket advice and records an exponential histogram instead', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const histogram = createMeterProvider(metrics)
      .getMeter('m')
      .createHistogram('latency', { unit: 's', advice: { explicitBucketBoundaries: [0.005, 0.01, 0.1, 1] } });
    const random = rng(3);
    const values = Array.from({ length: 5000 }, () => Math.exp(random() * 8) / 1000);
    for (const v of values) histogram.record(v);
    await metrics.flush();
    const series = windows.flatMap((w) => w.series).find((s) => s.name === 'latency' && s.count > 0)!;
    expect(series.count).toBe(values.length);
    expect(series.buckets?.scale).toBe(6);
    const sorted = [...values].sort((a, b) => a - b);
    const exactP99 = sorted[Math.ceil(0.99 * sorted.length) - 1];
    expect(Math.abs(series.p99 - exactP99) / exactP99).toBeLessThan(0.01);
  });
});

describe('the provider', () => {
  it('validates its options at creation', () => {
    const { metrics } = setup();
    open = metrics;
    expect(() => createMeterProvider({} as Metrics)).toThrow(/createMetrics/);
    expect(() => createMeterProvider(metrics, { callbackTimeoutMs: 0 })).toThrow(/callbackTimeoutMs/);
    expect(() => createMeterProvider(metrics, { callbackTimeoutMs: 101 })).toThrow(/1 to 100/);
    expect(() => createMeterProvider(metrics, { nope: 1 } as never)).toThrow(/unknown option "nope"/);
    expect(() => createMeterProvider(metrics, { logger: {} as never })).toThrow(/logger/);
  });

  it('is a MeterProvider the API accepts, with meters per scope sharing series by name', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const provider: MeterProvider = createMeterProvider(metrics);
    const a = provider.getMeter('lib-a', '1.0.0');
    const b = provider.getMeter('lib-b');
    expect(provider.getMeter('lib-a', '1.0.0')).toBe(a);
    a.createCounter('shared').add(1, { k: 'v' });
    b.createCounter('shared').add(2, { k: 'v' });
    await metrics.flush();
    expect(totals(windows, 'shared').get(labelsOf({ labels: { k: 'v' } } as never))?.sum).toBe(3);
  });
});
