/**
 * The sink conformance suite (in the spirit of Micrometer's MeterRegistryCompatibilityKit): one set of scenarios,
 * recorded through the public API, that every sink must pass as judged by what really left the process, decoded
 * by each adapter (exposition text through Prometheus' expfmt parser, OTLP/JSON bodies, EMF documents,
 * PutMetricData requests through the official SDK client, the console's text, a custom sink's Windows):
 * - counters: exact totals; gauges: the last value;
 * - histograms: count and sum exact (where the backend carries them), min/max, and P50/P90/P99 within 1 % of an
 *   exact sort as the backend itself computes them, on lognormal (sigma 2.5), Pareto, uniform, bimodal and
 *   half-zero samples;
 * - hostile label values arriving as distinct series, or merged and summed with the merge counted, never lost;
 * - one point per series and second, even across flush(); windows with nothing recorded; a restarted process.
 * Real time (one-second windows), about 4 s per sink.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/index.js';
import type { SinkAdapter } from './adapters/adapter.js';
import { cloudWatchAdapter } from './adapters/cloudwatch.js';
import { consoleAdapter } from './adapters/console.js';
import { customAdapter } from './adapters/custom.js';
import { emfAdapter } from './adapters/emf.js';
import { otlpAdapter } from './adapters/otlp.js';
import { prometheusAdapter } from './adapters/prometheus.js';
import { nearestRank, type Arrival, type Delivery } from './arrivals.js';
import { COUNTER, DISTRIBUTIONS, GAUGE, HISTOGRAM, HOSTILE, HOSTILE_VALUES, newTruth, recordBurst, recordMore, type Truth } from './scenarios.js';

const HISTOGRAMS = new Set([HISTOGRAM]);
const MAX_LABEL_UNITS = 1024;
const ADAPTERS: ReadonlyArray<readonly [string, () => Promise<SinkAdapter>]> = [
  ['custom', customAdapter],
  ['console', consoleAdapter],
  ['prometheus', () => prometheusAdapter(HISTOGRAMS)],
  ['otlp', otlpAdapter],
  ['emf', () => emfAdapter(HISTOGRAMS)],
  ['cloudwatch', () => cloudWatchAdapter(HISTOGRAMS)],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const untilMsIntoSecond = (ms: number) => sleep(((ms - (Date.now() % 1000)) + 1000) % 1000 || 1000);

/** The core's documented label rule: at most 1,024 UTF-16 units, cut on a code-point boundary. */
function expectedLabel(value: string): string {
  if (value.length <= MAX_LABEL_UNITS) return value;
  const cut = value.slice(0, MAX_LABEL_UNITS);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

const hasLoneSurrogate = (s: string) => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

interface Run {
  readonly adapter: SinkAdapter;
  readonly truth: Truth;
  readonly first: Delivery;
  /** After a second process recorded into the same backend. */
  readonly restarted: Delivery;
  readonly restartTruth: Truth;
}

async function lifetime(adapter: SinkAdapter, record: (metrics: Metrics) => Promise<void>): Promise<Delivery> {
  const metrics = createMetrics({ service: 'conformance', eventLoop: false, sinks: [adapter.sink()], logger: { warn: () => undefined } });
  await record(metrics);
  let delivery: Delivery | undefined;
  if (adapter.cumulative) {
    await metrics.flush();
    delivery = await adapter.delivered();
  }
  await metrics.shutdown();
  return delivery ?? adapter.delivered();
}

async function run(makeAdapter: () => Promise<SinkAdapter>): Promise<Run> {
  const adapter = await makeAdapter();
  const truth = newTruth();
  const first = await lifetime(adapter, async (metrics) => {
    await untilMsIntoSecond(100);
    recordBurst(metrics, truth, 0);
    await sleep(200);
    // Cuts the second: the rest of it must not become a second point with the same timestamp.
    await metrics.flush();
    recordMore(metrics, truth, 3);
    // Three boundaries: the carried rest of the cut second, then a second with nothing recorded.
    await sleep(2900);
    recordMore(metrics, truth, 5);
  });
  const restartTruth = newTruth();
  const restarted = await lifetime(adapter, async (metrics) => {
    recordMore(metrics, restartTruth, 11);
  });
  return { adapter, truth, first, restarted, restartTruth };
}

const of = (delivery: Delivery, metric: string) => delivery.arrivals.filter((a) => a.metric === metric);
const total = (arrivals: readonly Arrival[]) => arrivals.reduce((n, a) => n + (a.counter ?? 0), 0);

for (const [sinkName, makeAdapter] of ADAPTERS) {
  describe.sequential(`sink conformance: ${sinkName}`, () => {
    let result: Run;
    beforeAll(async () => {
      result = await run(makeAdapter);
    }, 60_000);
    afterAll(async () => {
      await result?.adapter.close();
    });

    it(`${sinkName}: counter totals are exact`, () => {
      const { first, truth, adapter } = result;
      for (const [route, expected] of truth.counters) {
        const arrived = of(first, COUNTER).filter((a) => a.labels.route === route);
        expect(arrived.length, `${adapter.name}: ${COUNTER}{route=${route}} arrived`).toBeGreaterThan(0);
        expect(first.cumulative ? Math.max(...arrived.map((a) => a.counter ?? 0)) : total(arrived), `${adapter.name} route ${route}`).toBe(expected);
      }
    });

    it(`${sinkName}: the gauge's last value arrives`, () => {
      const { first, truth } = result;
      const arrived = of(first, GAUGE);
      expect(arrived.length).toBeGreaterThan(0);
      const last = first.cumulative ? arrived.at(-1)! : arrived.reduce((a, b) => (b.timestamp > a.timestamp ? b : a));
      expect(last.gauge).toBe(truth.gauge);
    });

    it(`${sinkName}: histograms arrive whole, quantiles within 1 % as the backend computes them`, () => {
      const { first, truth, adapter } = result;
      for (const [dist, values] of truth.histograms) {
        const arrived = of(first, HISTOGRAM).filter((a) => a.labels.dist === dist && (a.histogram?.count ?? 0) !== 0);
        expect(arrived, `${adapter.name} ${dist}: one point with the burst`).toHaveLength(1);
        const h = arrived[0].histogram!;
        if (!Number.isNaN(h.count)) expect(h.count).toBe(values.length);
        const exactSum = values.reduce((a, b) => a + b, 0);
        if (!Number.isNaN(h.sum)) expect(Math.abs(h.sum - exactSum) / exactSum).toBeLessThan(h.sumIsEstimate ? 0.01 : 1e-9);
        if (h.min !== undefined) expect(h.min).toBeCloseTo(values[0], 9);
        if (h.max !== undefined) expect(h.max).toBeCloseTo(values.at(-1)!, 9);
        for (const q of [0.5, 0.9, 0.99] as const) {
          const got = h.quantile(q);
          if (Number.isNaN(got) && adapter.name === 'console' && q === 0.9) continue; // the table shows P50 and P99
          const exact = nearestRank(values, q);
          const error = exact === 0 ? Math.abs(got) : Math.abs(got - exact) / exact;
          errors.push({ sink: adapter.name, dist, q, error });
          expect(error, `${adapter.name} ${dist} p${q * 100}: got ${got}, exact ${exact}`).toBeLessThanOrEqual(0.01);
        }
      }
    });

    it(`${sinkName}: hostile label values arrive distinct, or merged and summed with the merge counted`, () => {
      const { first, truth, adapter } = result;
      if (adapter.name === 'console') return; // the console view filters this metric out: it is not a backend
      const arrived = of(first, HOSTILE);
      const expectedTotal = [...truth.hostile.values()].reduce((a, b) => a + b, 0);
      expect(first.cumulative ? arrived.reduce((n, a) => n + (a.counter ?? 0), 0) : total(arrived), `${adapter.name}: nothing lost`).toBe(expectedTotal);
      const values = new Set(arrived.map((a) => a.labels.v ?? ''));
      for (const value of values) expect(hasLoneSurrogate(value), `${adapter.name}: ${JSON.stringify(value.slice(-4))} is valid UTF-8`).toBe(false);
      if (values.size < HOSTILE_VALUES.length) {
        expect(first.merged, `${adapter.name}: ${HOSTILE_VALUES.length - values.size} merges must be counted`).toBeGreaterThan(0);
      } else if (['custom', 'prometheus', 'otlp'].includes(adapter.name)) {
        // Backends that hold any UTF-8 value get each one intact, with its own total.
        HOSTILE_VALUES.forEach((value, i) => {
          const series = arrived.filter((a) => (a.labels.v ?? '') === expectedLabel(value));
          const sum = first.cumulative ? Math.max(...series.map((a) => a.counter ?? 0)) : total(series);
          expect(sum, `${adapter.name}: ${JSON.stringify(value.slice(0, 12))}`).toBe(truth.hostile.get(i));
        });
      }
    });

    it(`${sinkName}: one point per series and second, even across flush(); nothing non-finite`, () => {
      const { first } = result;
      if (first.cumulative) return;
      const seen = new Map<string, number>();
      for (const a of first.arrivals) {
        const key = `${a.metric}|${JSON.stringify(a.labels)}|${a.timestamp}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        for (const v of [a.counter, a.gauge]) if (v !== undefined) expect(Number.isFinite(v), `${key} is finite`).toBe(true);
      }
      expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
      expect(first.duplicates ?? []).toEqual([]);
      // Seconds with nothing recorded still carry the live counters (a rate of 0, not "no data").
      const zeroes = of(first, COUNTER).filter((a) => a.counter === 0);
      expect(zeroes.length).toBeGreaterThan(0);
    });

    it(`${sinkName}: a restarted process starts from zero and loses nothing`, () => {
      const { restarted, restartTruth, truth, first } = result;
      for (const [route, expected] of restartTruth.counters) {
        const arrived = of(restarted, COUNTER).filter((a) => a.labels.route === route);
        if (restarted.cumulative) {
          // A new process exposes its own totals (Prometheus sees a counter reset).
          expect(Math.max(...arrived.map((a) => a.counter ?? 0))).toBe(expected);
        } else {
          expect(total(arrived)).toBe((truth.counters.get(route) ?? 0) + expected);
        }
      }
      expect(first.arrivals.length).toBeGreaterThan(0);
    });
  });
}

const errors: Array<{ sink: string; dist: string; q: number; error: number }> = [];
afterAll(() => {
  const worst = new Map<string, { error: number; at: string }>();
  for (const e of errors) {
    const current = worst.get(e.sink);
    if (current === undefined || e.error > current.error) worst.set(e.sink, { error: e.error, at: `${e.dist} p${e.q * 100}` });
  }
  for (const [sink, { error, at }] of worst) console.log(`conformance: worst quantile error on ${sink}: ${(error * 100).toFixed(3)} % (${at})`);
});
