/**
 * PutMetricData Values/Counts (<= 150 pairs per datum): how far the percentiles CloudWatch computes from them are
 * from the exact percentiles of what was recorded, for three ways of fitting a wide histogram into 150 pairs:
 *   - greedy: merge the narrowest neighbouring buckets everywhere (the previous encoding);
 *   - downscale: coarsen the whole histogram evenly (scale - 1 at a time) until it fits;
 *   - keep quantiles: keep the buckets around the P50/P90/P95/P99/P99.9 ranks whole, merge the rest (chosen),
 *     with several shares of the budget left to the tails.
 * Scenarios: one datum (one pod, one second) and a fleet (3 pods x 10 seconds, 30 datums merged by CloudWatch),
 * over the distributions of test/helpers/exp-histogram.ts. CloudWatch's percentile is computed from its documented
 * definition (test/helpers/cloudwatch-percentile.ts). Also the conversion cost per datum.
 * Writes bench/results/cloudwatch-values.json.
 *
 *   npm run bench:cloudwatch-values
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BucketAccumulator } from '../src/core/histogram/index.js';
import type { HistogramBuckets } from '../src/core/window.js';
import { histogramValues, MAX_VALUES, type ValueCounts } from '../src/sinks/cloudwatch/histogram.js';
import { cloudWatchPercentiles, exactPercentiles, percentileError } from '../test/helpers/cloudwatch-percentile.js';
import { DISTRIBUTIONS, histogramOf, sample } from '../test/helpers/exp-histogram.js';

const here = dirname(fileURLToPath(import.meta.url));
const TARGET = [50, 90, 95, 99];
const OTHER = [10, 25, 75, 80, 99.9];

type Encode = (buckets: HistogramBuckets, min: number, max: number) => ValueCounts | undefined;

function downscaled(buckets: HistogramBuckets, min: number, max: number): ValueCounts | undefined {
  const acc = new BucketAccumulator();
  acc.add(buckets);
  const nonEmpty = (): number => {
    let k = 0;
    for (let i = 0; i < acc.counts.length; i++) if (acc.counts[i] > 0) k++;
    return k;
  };
  while (nonEmpty() > MAX_VALUES - 3) acc.downscaleTo(acc.scale - 1);
  return histogramValues(acc.toBuckets(), min, max);
}

const strategies: Record<string, Encode> = {
  greedy: (b, min, max) => histogramValues(b, min, max, { keep: [] }),
  downscale: downscaled,
  'keep quantiles, tails 20 %': (b, min, max) => histogramValues(b, min, max, { tailShare: 0.2 }),
  'keep quantiles, tails 35 % (chosen)': (b, min, max) => histogramValues(b, min, max),
  'keep quantiles, tails 50 %': (b, min, max) => histogramValues(b, min, max, { tailShare: 0.5 }),
  'keep quantiles, tails 35 %, k <= 2': (b, min, max) => histogramValues(b, min, max, { maxSpread: 2 }),
  'keep P50-P99 only, tails 35 %': (b, min, max) => histogramValues(b, min, max, { keep: [0.5, 0.9, 0.95, 0.99] }),
};

interface Row {
  strategy: string;
  scenario: string;
  distribution: string;
  samplesPerDatum: number;
  pairs: number;
  /** Worst relative error over P50/P90/P95/P99, percent. */
  worstTargetPct: number;
  errorsPct: Record<string, number>;
  sumErrorPct: number;
}

const rows: Row[] = [];
const sizes = [2_000, 20_000, 100_000];

const SEEDS = [1, 2, 3];
for (const distribution of Object.keys(DISTRIBUTIONS)) {
  for (const n of sizes) {
   for (const seed of SEEDS) {
    for (const scenario of ['one datum', 'fleet 3 pods x 10 s'] as const) {
      const datums = scenario === 'one datum' ? 1 : 30;
      const perDatum = scenario === 'one datum' ? n : Math.round(n / 10);
      const all: number[] = [];
      const windows = Array.from({ length: datums }, (_, d) => {
        const values = sample(distribution, perDatum, 1_000_000 * seed + 1000 * n + d + 1);
        for (const v of values) all.push(v);
        return histogramOf(values);
      });
      const ps = [...TARGET, ...OTHER];
      const exact = exactPercentiles(all, ps);
      for (const [strategy, encode] of Object.entries(strategies)) {
        const received = windows.map((w) => encode(w.buckets, w.min, w.max)!);
        const errorsPct: Record<string, number> = {};
        const got = cloudWatchPercentiles(received, ps);
        ps.forEach((p, k) => (errorsPct[`p${p}`] = round(100 * percentileError(got[k], exact[k]))));
        const sum = all.reduce((a, b) => a + b, 0);
        const receivedSum = received.reduce((a, r) => a + r.values.reduce((s, v, i) => s + v * r.counts[i], 0), 0);
        rows.push({
          strategy,
          scenario,
          distribution,
          samplesPerDatum: perDatum,
          pairs: Math.max(...received.map((r) => r.values.length)),
          worstTargetPct: Math.max(...TARGET.map((p) => errorsPct[`p${p}`])),
          errorsPct,
          sumErrorPct: round((100 * Math.abs(receivedSum - sum)) / sum),
        });
      }
    }
   }
  }
}

// Conversion cost per datum (lognormal sigma 2.5, 20,000 values: ~1,700 non-empty buckets), median of 200 runs.
const wide = histogramOf(sample('lognormal sigma 2.5', 20_000, 5));
const cost: Record<string, number> = {};
for (const [strategy, encode] of Object.entries(strategies)) {
  for (let i = 0; i < 50; i++) encode(wide.buckets, wide.min, wide.max);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const start = performance.now();
    encode(wide.buckets, wide.min, wide.max);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  cost[strategy] = round(times[100] * 1000);
}

const summary = Object.keys(strategies).map((strategy) => {
  const mine = rows.filter((r) => r.strategy === strategy);
  const worst = (scenario: string, key: (r: Row) => number): number => Math.max(...mine.filter((r) => r.scenario === scenario).map(key));
  return {
    strategy,
    worstTargetOneDatumPct: worst('one datum', (r) => r.worstTargetPct),
    worstTargetFleetPct: worst('fleet 3 pods x 10 s', (r) => r.worstTargetPct),
    worstP25OneDatumPct: worst('one datum', (r) => r.errorsPct.p25),
    worstP75OneDatumPct: worst('one datum', (r) => r.errorsPct.p75),
    worstP80OneDatumPct: worst('one datum', (r) => r.errorsPct.p80),
    worstP999OneDatumPct: worst('one datum', (r) => r.errorsPct['p99.9']),
    worstSumPct: worst('one datum', (r) => r.sumErrorPct),
    microsPerDatum: cost[strategy],
  };
});
console.table(summary);
for (const strategy of Object.keys(strategies)) {
  console.log(`\n${strategy}: worst P50-P99 error (%) per distribution; per seed (3): one datum, then the fleet`);
  const mine = rows.filter((r) => r.strategy === strategy);
  const table: Record<string, Record<string, string>> = {};
  for (const r of mine) {
    table[r.distribution] ??= {};
    const key = `n=${r.scenario === 'one datum' ? r.samplesPerDatum : r.samplesPerDatum * 10}`;
    const prior = table[r.distribution][key];
    table[r.distribution][key] = prior === undefined ? `${r.worstTargetPct}` : `${prior} ${r.worstTargetPct}`;
  }
  console.table(table);
}

mkdirSync(join(here, 'results'), { recursive: true });
// Summary pretty-printed, one row per line: the file stays reviewable.
const header = {
  node: process.version,
  date: new Date().toISOString(),
  loadAverage: (await import('node:os')).loadavg()[0],
  method:
    'percent error of CloudWatch percentiles (documented definition, over Values repeated Counts times) vs the exact percentile of every recorded value; fleet = 30 datums (3 pods x 10 s) of n/10 values each; microsPerDatum = median conversion time of a 20,000-value lognormal sigma 2.5 window',
};
writeFileSync(
  join(here, 'results', 'cloudwatch-values.json'),
  `${JSON.stringify({ ...header, summary }, null, 2).slice(0, -2)},\n  "rows": [\n${rows.map((r) => `    ${JSON.stringify(r)}`).join(',\n')}\n  ]\n}\n`,
);

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
