/**
 * The OpenTelemetry Metrics API, side by side in one run: scalesignal/otel's MeterProvider vs
 * @opentelemetry/sdk-metrics' (with a reader registered, or the SDK records nothing), through the same API calls
 * an instrumented library makes. Per record, for a histogram and a counter:
 *   - reused attributes: one 3-attribute object passed on every call (instrumentation keeping its attributes);
 *   - frozen attributes: the same, frozen (scalesignal/otel caches its bound handle by identity);
 *   - fresh attributes: a new 3-attribute object per call (the common instrumentation pattern);
 *   - no attributes.
 * Writes bench/results/otel-api.json (ns/op p50 net of the harness, bytes/op, ratios and the >= 5x targets).
 *
 *   npm run bench:otel
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attributes, Meter } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { createMetrics } from '../src/index.js';
import { createMeterProvider } from '../src/otel/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const gc = (globalThis as { gc?: () => void }).gc;

class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}
const metrics = createMetrics({ service: 'bench', sinks: [], eventLoop: false });
const meters: Record<string, Meter> = {
  scalesignal: createMeterProvider(metrics).getMeter('bench'),
  sdk: new MeterProvider({ readers: [new PullReader()] }).getMeter('bench'),
};

// Values vary so histograms touch many buckets, as real latencies do.
const values = new Float64Array(1024);
for (let i = 0; i < values.length; i++) values[i] = Math.exp(Math.random() * 6) / 1000;
let cursor = 0;
const next = () => values[(cursor = (cursor + 1) & 1023)];
const routes = ['/pay', '/users/:id', '/cart'];
const route = () => routes[cursor % 3];
const reused: Attributes = { 'http.request.method': 'GET', 'http.route': '/pay', 'http.response.status_code': 200 };
const frozen: Attributes = Object.freeze({ ...reused });
const fresh = (): Attributes => ({ 'http.request.method': 'GET', 'http.route': route(), 'http.response.status_code': 200 });

type Case = { group: string; library: string; fn: () => void };
const cases: Case[] = [{ group: 'harness', library: 'baseline', fn: () => do_not_optimize(fresh()) as unknown as void }];
for (const [library, meter] of Object.entries(meters)) {
  const histogram = meter.createHistogram('http.server.request.duration', { unit: 's' });
  const counter = meter.createCounter('http.server.requests', { unit: '{request}' });
  cases.push(
    { group: 'histogram reused attributes', library, fn: () => histogram.record(next(), reused) },
    { group: 'histogram frozen attributes', library, fn: () => histogram.record(next(), frozen) },
    { group: 'histogram fresh 3 attributes', library, fn: () => histogram.record(next(), fresh()) },
    { group: 'histogram no attributes', library, fn: () => histogram.record(next()) },
    { group: 'counter reused attributes', library, fn: () => counter.add(1, reused) },
    { group: 'counter fresh 3 attributes', library, fn: () => counter.add(1, fresh()) },
  );
}
cases.sort((a, b) => (a.group === 'harness' ? -1 : b.group === 'harness' ? 1 : a.group.localeCompare(b.group)));

for (const name of new Set(cases.map((c) => c.group))) {
  group(name, () => {
    summary(() => {
      for (const c of cases.filter((x) => x.group === name)) bench(c.library, () => do_not_optimize(c.fn()));
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
    samples.push(Math.max(0, (process.memoryUsage().heapUsed - before) / n));
  }
  samples.sort((a, b) => a - b);
  return round(samples[2]);
}

const result = await run({ format: 'mitata', colors: false });
const rows = cases.map((c, i) => {
  const stats = result.benchmarks[i]?.runs[0]?.stats;
  return { group: c.group, library: c.library, nsRaw: stats ? round(stats.p50) : NaN };
});
const harnessNs = rows[0].nsRaw;
// The harness case builds a fresh object; only the "fresh" groups pay it, the others pay a closure call and next().
const results = rows.map((row, i) => ({
  ...row,
  nsPerOp: round(Math.max(0, row.nsRaw - (row.group.includes('fresh') ? harnessNs : 0))),
  bytesPerOp: bytesPerOp(cases[i].fn),
}));
const ns = (group: string, library: string) => results.find((r) => r.group === group && r.library === library)?.nsRaw ?? NaN;
const ratios = Object.fromEntries(
  [...new Set(cases.map((c) => c.group))]
    .filter((g) => g !== 'harness')
    .map((g) => [g, round(ns(g, 'sdk') / ns(g, 'scalesignal'))]),
);
const target = (group: string) => ({ value: ratios[group], target: '>= 5x faster', ok: ratios[group] >= 5 });
const report = {
  node: process.version,
  date: new Date().toISOString(),
  // The machine is shared: absolute ns move with its load, the side-by-side ratios much less.
  loadAverage1m: round(loadavg()[0]),
  method:
    'mitata p50 per call (nsRaw, harness included); ratios = sdk nsRaw / scalesignal nsRaw, the whole call an instrumented library makes ' +
    '(for fresh attributes, building the object is included on both sides: nsPerOp subtracts it); bytesPerOp = heap growth per call, median of 5 runs of 200k',
  harnessFreshObjectNs: harnessNs,
  results,
  ratios,
  targets: {
    histogramReused: target('histogram reused attributes'),
    histogramFresh: target('histogram fresh 3 attributes'),
    counterReused: target('counter reused attributes'),
    counterFresh: target('counter fresh 3 attributes'),
  },
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'otel-api.json'), `${JSON.stringify(report, null, 2)}\n`);
await metrics.shutdown();
console.table(results);
console.log(JSON.stringify(report.targets));

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
