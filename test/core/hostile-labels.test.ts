/**
 * Unbound calls with labels of every shape JavaScript allows: the call never throws; each recording either lands in
 * the one series its usable labels name (a bad name or value is left out) or, when the labels cannot be read at all,
 * is dropped and counted in `scalesignal.recordings.dropped{reason=...}`; no two series of a window share a label
 * set. Overflowing sums are dropped and counted, and totals stay finite.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { prometheusSink, type PrometheusSink } from '../../src/sinks/prometheus.js';
import { collectSink, find } from '../helpers/collect.js';
import { parseExposition } from '../helpers/exposition.js';

const open: Metrics[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.shutdown()));
});

function setup(extra: { sinks?: never[] } = {}) {
  const sink = collectSink();
  const metrics = createMetrics({ service: 'hostile', eventLoop: false, logger: { warn() {} }, sinks: [sink], ...extra });
  open.push(metrics);
  return { metrics, sink };
}

/** Every recording of `metric` over all windows: recorded (count) and dropped, by reason. */
function tally(windows: readonly Window[], metric: string) {
  let recorded = 0;
  let sum = 0;
  const dropped: Record<string, number> = {};
  for (const w of windows) {
    for (const s of w.series) {
      if (s.name === metric) {
        recorded += s.count;
        sum += s.sum;
      } else if (s.name === 'scalesignal.recordings.dropped' && s.labels.metric === metric) {
        dropped[s.labels.reason] = (dropped[s.labels.reason] ?? 0) + s.sum;
      }
    }
  }
  return { recorded, sum, dropped, droppedTotal: Object.values(dropped).reduce((a, b) => a + b, 0) };
}

/** The unlabelled series of `metric` in the window where it counted most (a boundary may split a test's calls). */
function busiest(windows: readonly Window[], metric: string) {
  const all = windows.map((w) => find(w, metric)).filter((s) => s !== undefined);
  return all.reduce((a, b) => (b.count > a.count ? b : a));
}

/** Series identity as a backend sees it: name plus the sorted label pairs. */
function duplicates(window: Window): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const s of window.series) {
    const id = `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (seen.has(id)) twice.push(id);
    seen.add(id);
  }
  return twice;
}

const boom = () => {
  throw new Error('boom');
};

const hostileLabels = fc.oneof(
  fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withDate: true, withSparseArray: true, withBoxedValues: true }),
  fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a.b', 'x/y')), fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.boolean(), fc.constant(undefined), fc.constant(null)), { maxKeys: 4 }),
  fc.constantFrom<unknown>(
    new Proxy({ a: '1' }, { ownKeys: boom }),
    new Proxy({ a: '1' }, { get: boom }),
    new Proxy({ a: '1' }, { getOwnPropertyDescriptor: boom }),
    new Proxy({ a: '1' }, { getPrototypeOf: boom }),
    Object.defineProperty({}, 'route', { enumerable: true, get: boom }),
    { route: { toString: boom } },
    { route: { [Symbol.toPrimitive]: boom } },
    { route: Object.create(null) },
    { route: Symbol('s') },
    { [Symbol('k')]: 'v', route: '/a' },
    JSON.parse('{"__proto__":"x","route":"/a"}'),
    Object.assign(Object.create({ inherited: 'yes' }), { route: '/a' }),
    Object.assign(Object.create(null), { route: '/a' }),
    ['a', 'b'],
    'route',
    42,
    null,
    () => 'x',
  ),
);

describe('unbound calls with hostile labels', () => {
  it('never throw: every recording lands in one series or is dropped and counted, and no label set appears twice', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    const g = metrics.gauge('g');
    const h = metrics.histogram('h');
    let attempts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(hostileLabels, { minLength: 1, maxLength: 8 }), async (batch) => {
        for (const labels of batch) {
          expect(() => c.add(1, labels as never)).not.toThrow();
          expect(() => g.set(1, labels as never)).not.toThrow();
          expect(() => h.record(1, labels as never)).not.toThrow();
          attempts++;
        }
      }),
      { numRuns: 200 },
    );
    await metrics.flush();
    for (const metric of ['c', 'g', 'h']) {
      const { recorded, droppedTotal } = tally(sink.windows, metric);
      expect(recorded + droppedTotal).toBe(attempts);
    }
    for (const w of sink.windows) {
      expect(duplicates(w)).toEqual([]);
      for (const s of w.series) {
        for (const value of Object.values(s.labels)) {
          expect(typeof value).toBe('string');
          expect(value.length).toBeLessThanOrEqual(1024);
          expect((value as string & { isWellFormed(): boolean }).isWellFormed()).toBe(true);
        }
      }
    }
  });

  it.each<[string, () => unknown]>([
    ['a throwing getter', () => Object.defineProperty({}, 'route', { enumerable: true, get: boom })],
    ['a Proxy whose ownKeys trap throws', () => new Proxy({ route: '/a' }, { ownKeys: boom })],
    ['a Proxy whose get trap throws', () => new Proxy({ route: '/a' }, { get: boom })],
    ['an array', () => ['/a']],
    ['a string', () => 'route'],
    ['a number', () => 7],
    ['a function', () => () => '/a'],
  ])('drops and counts a recording with %s', async (_what, make) => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    c.add(2, make() as never);
    c.add(2, make() as never); // the second call goes through the lookup cache, if anything was cached
    c.add(5, { route: '/a' });
    await metrics.flush();
    const { recorded, sum, dropped } = tally(sink.windows, 'c');
    expect(dropped).toEqual({ invalid_labels: 2 });
    expect(recorded).toBe(1);
    expect(sum).toBe(5);
  });

  it.each<[string, unknown, Record<string, string>]>([
    ['null as no labels', null, {}],
    ['an empty object as no labels', {}, {}],
    ['a null-prototype object', Object.assign(Object.create(null), { route: '/a', n: 1 }), { route: '/a', n: '1' }],
    ['a constructor key', { constructor: 'c', route: '/a' }, { constructor: 'c', route: '/a' }],
    ['a Symbol key, ignored', { [Symbol('k')]: 'v', route: '/a' }, { route: '/a' }],
    ['inherited keys, ignored', Object.assign(Object.create({ inherited: 'x' }), { route: '/a' }), { route: '/a' }],
    ['undefined and null values as absent labels', { route: '/a', user: undefined, tenant: null }, { route: '/a' }],
    ['a bigint value', { id: 12n }, { id: '12' }],
    ['a Proxy that reads fine', new Proxy({ route: '/a' }, {}), { route: '/a' }],
    ['a value with a throwing toString, left out', { route: { toString: boom }, method: 'GET' }, { method: 'GET' }],
    ['an Object.create(null) value, left out', { route: Object.create(null), method: 'GET' }, { method: 'GET' }],
    ['a Symbol value, left out', { route: Symbol('x'), method: 'GET' }, { method: 'GET' }],
    ['a __proto__ key, left out', JSON.parse('{"__proto__":"x","route":"/a"}'), { route: '/a' }],
    ['an invalid label name, left out', { 'bad name': 'x', route: '/a' }, { route: '/a' }],
  ])('uses %s', async (_what, labels, expected) => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    c.add(1, labels as never);
    c.add(2, labels as never);
    await metrics.flush();
    // A window boundary may fall between the calls: add up by label set.
    const byLabels = new Map<string, number>();
    for (const x of sink.windows.flatMap((w) => w.series.filter((s) => s.name === 'c'))) {
      const id = JSON.stringify(Object.entries(x.labels).sort());
      byLabels.set(id, (byLabels.get(id) ?? 0) + x.sum);
    }
    expect(byLabels).toEqual(new Map([[JSON.stringify(Object.entries(expected).sort()), 3]]));
    expect(tally(sink.windows, 'c').droppedTotal).toBe(0);
  });

  it('a getter whose value changes between reads: every recording lands in a series of a value it returned', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    let n = 0;
    const shifty = Object.defineProperty({}, 'route', { enumerable: true, get: () => `/r${n++ % 2}` });
    for (let i = 0; i < 10; i++) c.add(1, shifty as never);
    await metrics.flush();
    const series = sink.windows.flatMap((w) => w.series.filter((s) => s.name === 'c'));
    expect(series.every((s) => s.labels.route === '/r0' || s.labels.route === '/r1')).toBe(true);
    expect(series.reduce((a, s) => a + s.sum, 0)).toBe(10);
    expect(duplicates(sink.windows[0])).toEqual([]);
  });

  it('bind() refuses what an unbound call would drop, with a coded ConfigError', () => {
    const { metrics } = setup();
    const c = metrics.counter('c');
    for (const labels of [JSON.parse('{"__proto__":"x"}'), { route: Symbol('x') }, { route: { toString: boom } }, new Proxy({}, { ownKeys: boom }), 5, ['a']]) {
      expect(() => c.bind(labels as never)).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'ERR_SCALESIGNAL_LABELS' }));
    }
    expect(() => c.bind(null as never)).not.toThrow();
  });

  it('a __proto__ key never makes a second series with the same labels at the Prometheus endpoint: merged and summed', async () => {
    const prometheus: PrometheusSink = prometheusSink({ port: 0, host: '127.0.0.1', onError() {} });
    const metrics = createMetrics({ service: 'hostile', eventLoop: false, logger: { warn() {} }, sinks: [prometheus] });
    open.push(metrics);
    await prometheus.ready;
    const c = metrics.counter('requests');
    for (let i = 0; i < 5; i++) c.add(1, { route: '/a' });
    for (let i = 0; i < 7; i++) c.add(1, JSON.parse('{"route":"/a","__proto__":"x"}'));
    await metrics.flush();
    const text = await (await fetch(prometheus.url as string)).text();
    const samples = parseExposition(text).samples;
    const requests = samples.filter((s) => s.name === 'requests_total');
    expect(requests).toEqual([{ name: 'requests_total', labels: { route: '/a' }, value: 12 }]);
  });
});

describe('overflowing sums', () => {
  it('counter.add(1e308) twice keeps the first, drops and counts the second; the total stays finite', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    c.add(1e308);
    c.add(1e308);
    c.add(1e308, { route: '/a' });
    await metrics.flush();
    const s = busiest(sink.windows, 'c');
    expect(s.sum).toBe(1e308);
    expect(s.total).toBe(1e308);
    expect(tally(sink.windows, 'c').dropped).toEqual({ overflow: 1 });
  });

  it('a counter total that would overflow across windows drops that window\'s records, counted', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    c.add(1e308);
    await metrics.flush();
    c.add(1e308);
    c.add(1e308); // same window: dropped by the handle already
    await metrics.flush();
    c.add(1);
    await metrics.flush();
    const totals = sink.windows.map((w) => find(w, 'c')?.total).filter((t) => t !== undefined);
    expect(totals.every((t) => Number.isFinite(t))).toBe(true);
    expect(totals.at(-1)).toBe(1e308 + 1);
    expect(tally(sink.windows, 'c').dropped).toEqual({ overflow: 2 });
  });

  it('histograms and gauges drop a record whose sum would overflow', async () => {
    const { metrics, sink } = setup();
    const h = metrics.histogram('h').bind();
    const g = metrics.gauge('g').bind();
    h.record(1e308);
    h.record(1e308);
    h.record(2);
    g.set(-1e308);
    g.set(-1e308);
    g.set(3);
    await metrics.flush();
    const hs = busiest(sink.windows, 'h');
    expect([hs.count, hs.sum, hs.max]).toEqual([2, 1e308 + 2, 1e308]);
    expect(hs.buckets!.counts.reduce((a, b) => a + b, 0) + hs.buckets!.zeroCount).toBe(2);
    const gs = busiest(sink.windows, 'g');
    expect([gs.count, gs.sum, gs.last, gs.min]).toEqual([2, -1e308 + 3, 3, -1e308]);
    expect(tally(sink.windows, 'h').dropped).toEqual({ overflow: 1 });
    expect(tally(sink.windows, 'g').dropped).toEqual({ overflow: 1 });
  });
});
