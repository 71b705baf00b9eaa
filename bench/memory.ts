/**
 * Memory for 1,000 series (100 of them histograms) at the default ring size and at W = 16:
 * heap + external (typed arrays) growth after the series exist and have recorded through several windows.
 * Target: <= 32 MB. Writes bench/results/memory.json.
 *
 *   npm run bench:memory
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const here = dirname(fileURLToPath(import.meta.url));

function usage(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external; // external already includes arrayBuffers
}

async function measure(slots: number) {
  const before = usage();
  const metrics = createMetrics({ service: 'mem', sinks: [{ name: 'discard', export() {} }], eventLoop: false, slots, intervalMs: 100 });
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
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const after = usage();
  await metrics.shutdown();
  return { slots, series: 1000, histograms: 100, bytes: after - before, megabytes: Math.round(((after - before) / 2 ** 20) * 100) / 100 };
}

const runs = [await measure(4), await measure(16)];
const report = { node: process.version, date: new Date().toISOString(), targetMegabytes: 32, runs, ok: runs.every((r) => r.megabytes <= 32) };
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'memory.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report));
