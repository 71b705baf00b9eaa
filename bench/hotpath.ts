/**
 * Hot-path cost, side by side in one run: scalesignal vs prom-client vs @opentelemetry/sdk-metrics
 * for counter add, gauge set and histogram record, bound and unbound (3 labels in a fresh object per call).
 * Each group has an empty loop of the same shape; every row reports raw p50 and net (raw minus that empty loop).
 * Writes bench/results/hotpath.json (ns/op median and bytes/op per case).
 *
 *   npm run bench:hot
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import client from 'prom-client';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { createMetrics } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const gc = (globalThis as { gc?: () => void }).gc;

// --- scalesignal ------------------------------------------------------------------------------
const ss = createMetrics({ service: 'bench', sinks: [], eventLoop: false });
const ssCounter = ss.counter('requests');
const ssGauge = ss.gauge('inflight');
const ssHistogram = ss.histogram('latency', { unit: 'ms' });
const ssCounterBound = ssCounter.bind({ method: 'GET', route: '/pay', status: '2xx' });
const ssGaugeBound = ssGauge.bind({ route: '/pay' });
const ssHistogramBound = ssHistogram.bind({ method: 'GET', route: '/pay', status: '2xx' });

// --- prom-client ------------------------------------------------------------------------------
const registry = new client.Registry();
const labelNames = ['method', 'route', 'status'];
const promCounter = new client.Counter({ name: 'requests_total', help: 'h', labelNames, registers: [registry] });
const promGauge = new client.Gauge({ name: 'inflight', help: 'h', labelNames: ['route'], registers: [registry] });
const promHistogram = new client.Histogram({
  name: 'latency_ms',
  help: 'h',
  labelNames,
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  registers: [registry],
});
const promCounterBound = promCounter.labels('GET', '/pay', '2xx');
const promGaugeBound = promGauge.labels('/pay');
const promHistogramBound = promHistogram.labels('GET', '/pay', '2xx');

// --- OpenTelemetry ----------------------------------------------------------------------------
// A reader must be registered, or the SDK skips recording altogether and the comparison is meaningless.
class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}
const meter = new MeterProvider({ readers: [new PullReader()] }).getMeter('bench');
const otelCounter = meter.createCounter('requests');
const otelGauge = meter.createGauge('inflight');
const otelHistogram = meter.createHistogram('latency', { unit: 'ms' });
const attributes = { method: 'GET', route: '/pay', status: '2xx' };
const gaugeAttributes = { route: '/pay' };

// Values vary so histograms touch many buckets, as real latencies do.
const values = new Float64Array(1024);
for (let i = 0; i < values.length; i++) values[i] = Math.exp(Math.random() * 6);
let cursor = 0;
const next = () => values[(cursor = (cursor + 1) & 1023)];
const routes = ['/pay', '/users/:id', '/cart'];
const route = () => routes[cursor % 3];

type Case = { group: string; name: string; fn: () => void };

/**
 * The empty loop of each group: the same closure call, the same input selection and the same label object as the
 * measured calls, handed to a function that does nothing with them (returned, so the label object is still built).
 * A record's net cost is its group's raw figure minus this one; a baseline the measured case does not contain
 * (e.g. next() for counter.add(1)) would be subtracted from it for nothing.
 */
const keep = (value: number, labels?: object): unknown => labels ?? value;
const EMPTY = 'empty loop';

const cases: Case[] = [
  { group: 'counter.add bound', name: EMPTY, fn: () => keep(1) as void },
  { group: 'counter.add bound', name: 'scalesignal', fn: () => ssCounterBound.add(1) },
  { group: 'counter.add bound', name: 'prom-client', fn: () => promCounterBound.inc(1) },
  { group: 'counter.add bound', name: 'otel', fn: () => otelCounter.add(1, attributes) },
  { group: 'gauge.set bound', name: EMPTY, fn: () => keep(next()) as void },
  { group: 'gauge.set bound', name: 'scalesignal', fn: () => ssGaugeBound.set(next()) },
  { group: 'gauge.set bound', name: 'prom-client', fn: () => promGaugeBound.set(next()) },
  { group: 'gauge.set bound', name: 'otel', fn: () => otelGauge.record(next(), gaugeAttributes) },
  { group: 'histogram.record bound', name: EMPTY, fn: () => keep(next()) as void },
  { group: 'histogram.record bound', name: 'scalesignal', fn: () => ssHistogramBound.record(next()) },
  { group: 'histogram.record bound', name: 'prom-client', fn: () => promHistogramBound.observe(next()) },
  { group: 'histogram.record bound', name: 'otel', fn: () => otelHistogram.record(next(), attributes) },
  { group: 'counter.add unbound 3 labels', name: EMPTY, fn: () => keep(1, { method: 'GET', route: route(), status: '2xx' }) as void },
  { group: 'counter.add unbound 3 labels', name: 'scalesignal', fn: () => ssCounter.add(1, { method: 'GET', route: route(), status: '2xx' }) },
  { group: 'counter.add unbound 3 labels', name: 'prom-client', fn: () => promCounter.inc({ method: 'GET', route: route(), status: '2xx' }, 1) },
  { group: 'counter.add unbound 3 labels', name: 'otel', fn: () => otelCounter.add(1, { method: 'GET', route: route(), status: '2xx' }) },
  { group: 'gauge.set unbound 3 labels', name: EMPTY, fn: () => keep(next(), { method: 'GET', route: route(), status: '2xx' }) as void },
  { group: 'gauge.set unbound 3 labels', name: 'scalesignal', fn: () => ssGauge.set(next(), { method: 'GET', route: route(), status: '2xx' }) },
  // prom-client's gauge is declared with one label (route): its row carries a smaller label object than the others.
  { group: 'gauge.set unbound 3 labels', name: 'prom-client', fn: () => promGauge.set({ route: route() }, next()) },
  { group: 'gauge.set unbound 3 labels', name: 'otel', fn: () => otelGauge.record(next(), { method: 'GET', route: route(), status: '2xx' }) },
  { group: 'histogram.record unbound 3 labels', name: EMPTY, fn: () => keep(next(), { method: 'GET', route: route(), status: '2xx' }) as void },
  { group: 'histogram.record unbound 3 labels', name: 'scalesignal', fn: () => ssHistogram.record(next(), { method: 'GET', route: route(), status: '2xx' }) },
  { group: 'histogram.record unbound 3 labels', name: 'prom-client', fn: () => promHistogram.observe({ method: 'GET', route: route(), status: '2xx' }, next()) },
  { group: 'histogram.record unbound 3 labels', name: 'otel', fn: () => otelHistogram.record(next(), { method: 'GET', route: route(), status: '2xx' }) },
];

for (const name of new Set(cases.map((c) => c.group))) {
  group(name, () => {
    summary(() => {
      for (const c of cases.filter((x) => x.group === name)) {
        bench(c.name, () => do_not_optimize(c.fn()));
      }
    });
  });
}

/** Bytes allocated per call: heap growth over a run that fits in a large young generation, median of 5. */
function bytesPerOp(fn: () => void, n = 200_000): number {
  if (!gc) return NaN;
  const samples: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 10_000; i++) fn();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) fn();
    const after = process.memoryUsage().heapUsed;
    samples.push(Math.max(0, (after - before) / n));
  }
  samples.sort((a, b) => a - b);
  return Math.round(samples[2] * 10) / 10;
}

const result = await run({ format: 'mitata', colors: false });
const rows = cases.map((c) => {
  const trial = result.benchmarks.find((b) => b.alias === c.name && b.runs[0]?.stats && groupOf(b) === c.group);
  const stats = trial?.runs[0]?.stats;
  return { group: c.group, library: c.name, nsRaw: stats ? round(stats.p50) : NaN, nsAvg: stats ? round(stats.avg) : NaN };
});
const emptyNs = (group: string) => rows.find((r) => r.group === group && r.library === EMPTY)?.nsRaw ?? NaN;
// Net may come out slightly negative when a call costs less than the noise of its empty loop: reported as measured.
const netRows = rows.map((row) => ({ ...row, nsEmpty: emptyNs(row.group), nsPerOp: round(row.nsRaw - emptyNs(row.group)) }));
function groupOf(trial: unknown): string | undefined {
  // mitata keeps benchmarks in declaration order; map by position instead of relying on internals.
  return cases[result.benchmarks.indexOf(trial as (typeof result.benchmarks)[number])]?.group;
}
const withBytes = netRows.map((row, i) => ({ ...row, bytesPerOp: bytesPerOp(cases[i].fn) }));

const ns = (group: string, library: string) => withBytes.find((r) => r.group === group && r.library === library)?.nsPerOp ?? NaN;
const bytes = (group: string, library: string) => withBytes.find((r) => r.group === group && r.library === library)?.bytesPerOp ?? NaN;
const targets = {
  boundHistogramNs: { value: ns('histogram.record bound', 'scalesignal'), target: '<= 10', ok: ns('histogram.record bound', 'scalesignal') <= 10 },
  boundHistogramVsOtel: {
    value: round(ns('histogram.record bound', 'otel') / ns('histogram.record bound', 'scalesignal')),
    target: '>= 5x faster',
    ok: ns('histogram.record bound', 'otel') / ns('histogram.record bound', 'scalesignal') >= 5,
  },
  boundCounterNs: { value: ns('counter.add bound', 'scalesignal'), target: '<= 5', ok: ns('counter.add bound', 'scalesignal') <= 5 },
  unboundHistogramVsOtel: {
    value: round(ns('histogram.record unbound 3 labels', 'otel') / ns('histogram.record unbound 3 labels', 'scalesignal')),
    target: '>= 2x faster',
    ok: ns('histogram.record unbound 3 labels', 'otel') / ns('histogram.record unbound 3 labels', 'scalesignal') >= 2,
  },
  boundBytesPerOp: {
    value: Math.max(bytes('counter.add bound', 'scalesignal'), bytes('gauge.set bound', 'scalesignal'), bytes('histogram.record bound', 'scalesignal')),
    target: '0',
    ok: Math.max(bytes('counter.add bound', 'scalesignal'), bytes('gauge.set bound', 'scalesignal'), bytes('histogram.record bound', 'scalesignal')) < 1,
  },
};
const report = {
  node: process.version,
  date: new Date().toISOString(),
  method:
    'mitata p50 per call (nsRaw); nsEmpty = p50 of the same group\'s empty loop (same closure call, input selection and label object, no record); nsPerOp = nsRaw - nsEmpty; bytesPerOp = heap growth per call, median of 5 runs of 200k. OTel has a MetricReader registered.',
  results: withBytes,
  targets,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'hotpath.json'), `${JSON.stringify(report, null, 2)}\n`);
await ss.shutdown();
console.table(withBytes);
console.log(JSON.stringify(targets));

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
