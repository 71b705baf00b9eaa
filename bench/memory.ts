/**
 * Memory, measured as heap + external (typed arrays) growth after two full GCs:
 * - perSeries: bytes per series by kind at the default ring (W = 4, scale 6): counters, gauges, idle histograms
 *   (bound, never recorded), busy histograms (recorded 1 ms .. 10 s in every slot), and counters created by
 *   unbound calls (3 labels, lookup cache included);
 * - lookupCache: heap growth of 1e5 distinct unbound inputs that all resolve to one series (long values differing
 *   after the cut, keys with undefined values, rejected label names) and of key orders past the cache cap;
 * - runs: 1,000 series (100 of them busy histograms) at W = 4 and W = 16, target <= 32 MB.
 * Writes bench/results/memory.json.
 *
 *   npm run bench:memory
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '../src/index.js';
import type { Metrics } from '../src/core/api.js';
import type { MetricsRegistry } from '../src/core/registry.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const here = dirname(fileURLToPath(import.meta.url));

function usage(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external; // external already includes arrayBuffers
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fresh = (slots = 4): Metrics =>
  createMetrics({ service: 'mem', sinks: [{ name: 'discard', export() {} }], eventLoop: false, logger: { warn() {} }, slots, intervalMs: 100 });

type Kind = 'counter' | 'gauge' | 'idle histogram' | 'busy histogram' | 'counter, unbound 3 labels';

/** Bytes per series of one kind: 2,000 series in a fresh registry (pages of 256 amortised), minus the empty registry. */
async function perSeries(kind: Kind, count = 2000) {
  const metrics = fresh();
  const instrument =
    kind === 'counter' || kind === 'counter, unbound 3 labels' ? metrics.counter('m') : kind === 'gauge' ? metrics.gauge('m') : metrics.histogram('m', { unit: 'ms' });
  await tick(250); // let the registry's own series (self-metrics) appear before the baseline
  const before = usage();
  const keep: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const labels = { route: `/route/${i}`, method: 'GET', status: '2xx' };
    if (kind === 'counter, unbound 3 labels') (instrument as ReturnType<Metrics['counter']>).add(1, labels);
    else keep.push((instrument as ReturnType<Metrics['counter']>).bind(labels));
  }
  if (kind === 'busy histogram') {
    // Through every slot, values from 1 ms to 10 s: the buckets exist and are written.
    for (let window = 0; window < 6; window++) {
      for (const handle of keep as Array<{ record(v: number): void }>) for (let v = 1; v < 1e4; v *= 1.5) handle.record(v);
      await tick(100);
    }
  }
  if (kind === 'counter' || kind === 'gauge') {
    for (const handle of keep as Array<{ add?(v: number): void; set?(v: number): void }>) (handle.add ?? handle.set)!.call(handle, 1);
  }
  const after = usage();
  await metrics.shutdown();
  return { kind, series: count, bytesPerSeries: Math.round((after - before) / count) };
}

/** Heap growth after `n` unbound calls whose inputs are all distinct; the family's cache size alongside. */
async function lookupCache(name: string, make: (i: number) => Record<string, unknown>, n = 100_000) {
  const metrics = fresh() as MetricsRegistry;
  const counter = metrics.counter('c');
  counter.add(1, make(0) as never);
  const before = usage();
  for (let i = 1; i < n; i++) counter.add(1, make(i) as never);
  const after = usage();
  const family = metrics.table.families.get('c')!;
  const result = { inputs: name, calls: n, heapGrowthBytes: after - before, cacheNodes: family.cacheSize, series: family.byLabels.size };
  await metrics.shutdown();
  return result;
}

async function measure(slots: number) {
  const before = usage();
  const metrics = fresh(slots);
  const counters = Array.from({ length: 450 }, (_, i) => metrics.counter(`c${i % 45}`).bind({ route: `/r${i}` }));
  const gauges = Array.from({ length: 450 }, (_, i) => metrics.gauge(`g${i % 45}`).bind({ queue: `q${i}` }));
  const histograms = Array.from({ length: 100 }, (_, i) => metrics.histogram(`h${i % 10}`, { unit: 'ms' }).bind({ route: `/r${i}` }));
  // Record through several windows so every slot and a wide bucket range have been touched.
  for (let window = 0; window < 3 * slots; window++) {
    for (let i = 0; i < 2000; i++) {
      counters[i % 450].add(1);
      gauges[i % 450].set(i);
      histograms[i % 100].record(Math.exp((i % 200) / 10));
    }
    await tick(100);
  }
  const after = usage();
  await metrics.shutdown();
  return { slots, series: 1000, histograms: 100, bytes: after - before, megabytes: Math.round(((after - before) / 2 ** 20) * 100) / 100 };
}

const kinds: Kind[] = ['counter', 'gauge', 'idle histogram', 'busy histogram', 'counter, unbound 3 labels'];
const perSeriesRows = [];
for (const kind of kinds) perSeriesRows.push(await perSeries(kind));

const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const cacheRows = [
  await lookupCache('long values differing after the 1,024-unit cut', (i) => ({ route: 'x'.repeat(1024) + i })),
  await lookupCache('keys with undefined values', (i) => ({ route: '/a', [`k${i}`]: undefined })),
  await lookupCache('rejected label names (left out)', (i) => ({ route: '/a', [`bad name ${i}`]: 'x' })),
  await lookupCache('7 labels in random key orders over 100 series (cache cap)', (i) => {
    const labels: Record<string, string> = {};
    for (const name of [...names].sort(() => Math.random() - 0.5)) labels[name] = String(i % 100);
    return labels;
  }),
];

const runs = [await measure(4), await measure(16)];
const report = {
  node: process.version,
  date: new Date().toISOString(),
  method: 'heapUsed + external after two gc() calls, before and after; perSeries over 2,000 series of one kind in a fresh registry (W = 4, histogram scale 6)',
  perSeries: perSeriesRows,
  lookupCache: cacheRows,
  targetMegabytes: 32,
  runs,
  ok: runs.every((r) => r.megabytes <= 32),
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'memory.json'), `${JSON.stringify(report, null, 2)}\n`);
console.table(perSeriesRows);
console.table(cacheRows);
console.log(JSON.stringify(runs));
