/**
 * The unbound calls' label lookup cache stays bounded: inputs that all resolve to one series (values differing
 * after the 1,024-unit cut, keys with undefined values, rejected names), dropped inputs and the overflow series add nothing, and
 * key orders are capped. Heap itself is measured in `npm run bench:memory` (lookupCache); here, the cache's size.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { MetricsRegistry } from '../../src/core/registry.js';
import { CACHE_NODES_PER_SERIES, type Family } from '../../src/core/series.js';
import { collectSink } from '../helpers/collect.js';

const open: MetricsRegistry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.shutdown()));
});

function setup(maxSeriesPerMetric = 2000) {
  const sink = collectSink();
  const metrics = createMetrics({ service: 'cache', eventLoop: false, logger: { warn() {} }, sinks: [sink], maxSeriesPerMetric }) as MetricsRegistry;
  open.push(metrics);
  const family = (name: string) => metrics.table.families.get(name) as Family;
  return { metrics, sink, family };
}

const sumOf = (sink: ReturnType<typeof collectSink>, name: string) =>
  sink.windows.flatMap((w) => w.series).filter((s) => s.name === name).reduce((a, s) => a + s.sum, 0);

const N = 100_000;

describe('label lookup cache', () => {
  it('caches an exact label set once per key order, and a hit records into the same series', async () => {
    const { metrics, sink, family } = setup();
    const c = metrics.counter('c');
    for (let i = 0; i < 1000; i++) c.add(1, { method: 'GET', route: '/a' });
    expect(family('c').cacheSize).toBe(2);
    c.add(1, { route: '/a', method: 'GET' });
    expect(family('c').cacheSize).toBe(4);
    await metrics.flush();
    expect(family('c').byLabels.size).toBe(1);
    expect(sumOf(sink, 'c')).toBe(1001);
  });

  it.each<[string, (i: number) => Record<string, unknown>]>([
    ['long values differing after the cut', (i) => ({ route: 'x'.repeat(1024) + i })],
    ['keys with undefined values', (i) => ({ route: '/a', [`k${i}`]: undefined })],
    ['a lone surrogate replaced by U+FFFD', (i) => ({ route: '/a\uD800', n: i % 2 })],
  ])('stays empty for %s (1e5 distinct inputs, one series)', async (_what, make) => {
    const { metrics, sink, family } = setup();
    const c = metrics.counter('c');
    for (let i = 0; i < N; i++) c.add(1, make(i) as never);
    expect(family('c').cacheSize).toBe(0);
    expect(family('c').byLabels.size).toBeLessThanOrEqual(2);
    await metrics.flush();
    expect(sumOf(sink, 'c')).toBe(N);
  });

  it('stays empty for 1e5 distinct rejected label names (left out, the recording kept)', async () => {
    const { metrics, sink, family } = setup();
    const c = metrics.counter('c');
    for (let i = 0; i < N; i++) c.add(1, { route: '/a', [`bad name ${i}`]: 'x' });
    expect(family('c').cacheSize).toBe(0);
    expect([...family('c').byLabels.keys()]).toEqual(['route="/a"']);
    await metrics.flush();
    expect(sumOf(sink, 'c')).toBe(N);
  });

  it('never caches the overflow series', async () => {
    const { metrics, sink, family } = setup(10);
    const c = metrics.counter('c');
    for (let i = 0; i < N; i++) c.add(1, { id: i });
    expect(family('c').byLabels.size).toBe(10);
    expect(family('c').cacheSize).toBe(10);
    await metrics.flush();
    expect(sumOf(sink, 'c')).toBe(N);
  });

  it('is capped when key orders and value types multiply the paths of live series', async () => {
    const { metrics, sink, family } = setup(100);
    const c = metrics.counter('c');
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const cap = Math.max(1024, CACHE_NODES_PER_SERIES * 100);
    let max = 0;
    // 7! orders of 7 labels over 100 series: far more paths than the cap allows.
    for (let i = 0; i < 20_000; i++) {
      const order = [...names].sort(() => Math.random() - 0.5);
      const labels: Record<string, string | number> = {};
      for (const name of order) labels[name] = i % 2 === 0 ? i % 100 : String(i % 100);
      c.add(1, labels);
      max = Math.max(max, family('c').cacheSize);
    }
    expect(max).toBeLessThanOrEqual(cap);
    expect(family('c').byLabels.size).toBe(100);
    await metrics.flush();
    expect(sumOf(sink, 'c')).toBe(20_000);
  });
});

describe('histogram buckets', () => {
  it('are not allocated until a series records, and then hold what it recorded', async () => {
    const { metrics, sink, family } = setup();
    const h = metrics.histogram('h', { unit: 'ms' });
    const idle = h.bind({ route: '/idle' });
    const busy = h.bind({ route: '/busy' });
    const location = (route: string) => family('h').byLabels.get(`route=${JSON.stringify(route)}`)!.local;
    expect(location('/idle').buckets).toBeNull();
    expect(location('/busy').buckets).toBeNull();
    busy.record(3);
    busy.record(0);
    busy.record(1500);
    expect(location('/busy').buckets).toBeInstanceOf(Uint32Array);
    expect(location('/idle').buckets).toBeNull();
    await metrics.flush();
    void idle;
    const windows = sink.windows.flatMap((w) => w.series).filter((s) => s.name === 'h' && s.labels.route === '/busy' && s.count > 0);
    expect(windows).toHaveLength(1);
    const [s] = windows;
    expect([s.count, s.sum, s.min, s.max, s.buckets!.zeroCount]).toEqual([3, 1503, 0, 1500, 1]);
    expect(s.buckets!.counts.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
