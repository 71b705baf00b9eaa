/**
 * The scenarios every sink must pass, recorded through the public API as an application would. Ground truth is
 * kept here, beside the recordings; adapters never see it.
 */
import type { Metrics } from '../../src/index.js';
import { rng } from '../helpers/exp-histogram.js';

export const COUNTER = 'conf.requests';
export const GAUGE = 'conf.inflight';
export const HISTOGRAM = 'conf.latency';
export const HOSTILE = 'conf.hostile';

const MAX_LABEL_CHARS = 1024;

/** Label values a backend may mangle: each must arrive as its own series, or merged and summed, never lost. */
export const HOSTILE_VALUES: readonly string[] = [
  '',
  ' ',
  '\t',
  '\n',
  'quote"d',
  'back\\slash',
  'new\nline',
  'ü',
  'ö',
  '東京',
  '大阪',
  'Ελληνικά',
  'עברית',
  'हिन्दी',
  '😀',
  '😃',
  // An emoji across the 1,024-character cut: the cut must not split its surrogate pair.
  'a'.repeat(MAX_LABEL_CHARS - 1) + '😀',
  'x'.repeat(10_240),
  'ctl\u0001\u007f',
];

/** Distributions whose quantiles must arrive within 1 %. */
export const DISTRIBUTIONS: Readonly<Record<string, (random: () => number) => number>> = {
  lognormal: (random) => Math.exp(Math.log(50) + 2.5 * gaussian(random)),
  pareto: (random) => 10 / Math.pow(1 - random(), 1 / 1.5),
  uniform: (random) => random() * 1000,
  bimodal: (random) => (random() < 0.7 ? 20 + random() * 10 : 800 + random() * 400),
  halfzero: (random) => (random() < 0.5 ? 0 : random() * 500),
};

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export interface Truth {
  /** Counter totals by label value key (`route` or hostile index). */
  readonly counters: Map<string, number>;
  readonly hostile: Map<number, number>;
  readonly histograms: Map<string, number[]>;
  gauge: number;
}

export function newTruth(): Truth {
  return { counters: new Map(), hostile: new Map(), histograms: new Map(), gauge: NaN };
}

const ROUTES = ['/pay', '/orders/:id', '/health'];
const SAMPLES = 2000;

/** Phase A: everything at once in one synchronous burst, so each histogram lands whole in one window. */
export function recordBurst(metrics: Metrics, truth: Truth, seed: number): void {
  const requests = metrics.counter(COUNTER, { unit: '{request}' });
  const hostile = metrics.counter(HOSTILE, { unit: '{request}' });
  const inflight = metrics.gauge(GAUGE, { unit: '{request}' });
  const latency = metrics.histogram(HISTOGRAM, { unit: 'ms' });
  ROUTES.forEach((route, i) => {
    const n = (i + 1) * 7 + seed;
    for (let k = 0; k < n; k++) requests.add(1, { route });
    truth.counters.set(route, (truth.counters.get(route) ?? 0) + n);
  });
  HOSTILE_VALUES.forEach((value, i) => {
    hostile.add(i + 1, { v: value });
    truth.hostile.set(i, (truth.hostile.get(i) ?? 0) + i + 1);
  });
  inflight.set(7 + seed);
  truth.gauge = 7 + seed;
  const random = rng(1234 + seed);
  for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
    const values: number[] = [];
    for (let k = 0; k < SAMPLES; k++) {
      const value = draw(random);
      values.push(value);
      latency.record(value, { dist: name });
    }
    truth.histograms.set(name, values.sort((a, b) => a - b));
  }
}

/** Later phases: counters and gauges only, so the histograms' windows stay whole. */
export function recordMore(metrics: Metrics, truth: Truth, amount: number): void {
  const requests = metrics.counter(COUNTER, { unit: '{request}' });
  const hostile = metrics.counter(HOSTILE, { unit: '{request}' });
  for (const route of ROUTES) {
    requests.add(amount, { route });
    truth.counters.set(route, (truth.counters.get(route) ?? 0) + amount);
  }
  HOSTILE_VALUES.forEach((value, i) => {
    hostile.add(amount, { v: value });
    truth.hostile.set(i, (truth.hostile.get(i) ?? 0) + amount);
  });
  metrics.gauge(GAUGE, { unit: '{request}' }).set(20 + amount);
  truth.gauge = 20 + amount;
}
