/**
 * The once-a-second pause sealing puts on the host's event loop: Sealer.seal over 1,000 series (600 counters,
 * 300 gauges, 100 histograms of 20 values each spread over ~3 decades), every series fresh in every round.
 * Median, p99 and minimum over 300 rounds after 100 warm-up rounds. Then `busy2000`: bench:sinks' app, 1,000
 * counters + 1,000 histograms each recorded 100 times a second (values spread over ~7 octaves), 120 rounds after
 * 30 warm-up rounds. Writes bench/results/seal.json.
 *
 *   npm run bench:seal
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricsRegistry } from '../src/core/registry.js';
import { Sealer } from '../src/core/sealer.js';
import { createMetrics } from '../src/index.js';

const WARMUP = 100;
const ROUNDS = 300;
const here = dirname(fileURLToPath(import.meta.url));

const registry = createMetrics({ service: 'bench', sinks: [], eventLoop: false, intervalMs: 60_000 }) as unknown as MetricsRegistry;
const counters = Array.from({ length: 600 }, (_, i) => registry.counter(`seal.counter.${i % 6}`).bind({ i }));
const gauges = Array.from({ length: 300 }, (_, i) => registry.gauge(`seal.gauge.${i % 3}`).bind({ i }));
const histograms = Array.from({ length: 100 }, (_, i) => registry.histogram(`seal.histogram.${i % 2}`, { unit: 'ms' }).bind({ i }));
const values = Array.from({ length: 1024 }, (_, i) => 0.5 * 10 ** (((i * 7919) % 1024) / 341)); // 0.5 .. ~500
const sealer = new Sealer(registry.table, registry.options.histogramScale, { service: 'bench', attributes: {} }, 0);

const times: number[] = [];
let cursor = 0;
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  for (const counter of counters) counter.add(1);
  for (let i = 0; i < gauges.length; i++) gauges[i].set(i + round);
  for (const histogram of histograms) for (let k = 0; k < 20; k++) histogram.record(values[(cursor = (cursor + 1) & 1023)]);
  const slot = Atomics.load(registry.clock.shared, 0);
  const start = performance.now();
  const window = sealer.seal({ sequence: round, start: round * 1000, end: round * 1000 + 1000, timestamp: round * 1000, slot });
  const elapsed = performance.now() - start;
  if (window.series.length !== 1000) throw new Error(`sealed ${window.series.length} series, expected 1000`);
  if (round >= WARMUP) times.push(elapsed);
}
await registry.shutdown();

times.sort((a, b) => a - b);
const at = (q: number, xs = times) => Math.round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] * 1000) / 1000;
const busy = sealBusy2000();
const report = {
  node: process.version,
  date: new Date().toISOString(),
  series: { counters: 600, gauges: 300, histograms: 100, valuesPerHistogram: 20 },
  sealMs: { p50: at(0.5), p99: at(0.99), min: at(0) },
  microsPerSeries: Math.round((at(0.5) / 1000) * 1000 * 1000) / 1000,
  busy2000: {
    series: { counters: 1000, histograms: 1000, recordsPerHistogramPerWindow: 100 },
    sealMs: { p50: at(0.5, busy), p90: at(0.9, busy), min: at(0, busy) },
  },
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'seal.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report));

/** bench:sinks' app at 2,000 series: what its seal costs the host once a second. */
function sealBusy2000(): number[] {
  const busy = createMetrics({ service: 'bench', sinks: [], eventLoop: false, intervalMs: 60_000 }) as unknown as MetricsRegistry;
  const counter = busy.counter('bench.requests');
  const histogram = busy.histogram('bench.latency', { unit: 'ms' });
  const counters = Array.from({ length: 1000 }, (_, i) => counter.bind({ route: `/api/r${i}` }));
  const histograms = Array.from({ length: 1000 }, (_, i) => histogram.bind({ route: `/api/r${i}` }));
  const busySealer = new Sealer(busy.table, busy.options.histogramScale, { service: 'bench', attributes: {} }, 0);
  const out: number[] = [];
  let tick = 0;
  for (let round = 0; round < 150; round++) {
    for (let t = 0; t < 100; t++) {
      tick++;
      for (const c of counters) c.add(1);
      for (let i = 0; i < histograms.length; i++) histograms[i].record(1 + ((i * 7 + tick * 13) % 500) * 0.37);
    }
    const slot = Atomics.load(busy.clock.shared, 0);
    const start = performance.now();
    const window = busySealer.seal({ sequence: round, start: round * 1000, end: round * 1000 + 1000, timestamp: round * 1000, slot });
    const elapsed = performance.now() - start;
    if (window.series.length !== 2000) throw new Error(`sealed ${window.series.length} series, expected 2000`);
    if (round >= 30) out.push(elapsed);
  }
  void busy.shutdown();
  return out.sort((a, b) => a - b);
}
