/**
 * End to end against a real Prometheus. Everything here is real: the recording core (`createMetrics`, real timers,
 * wall-clock-aligned one-second windows), the Prometheus sink (prom-client rendering, its own HTTP server on an
 * ephemeral loopback port), and /usr/bin/prometheus (Debian's 2.42) scraping it every second — it negotiates
 * OpenMetrics, so its parser validates that format — and answering PromQL over /api/v1/query.
 * The only test-side instrument is a second sink that notes when each window was sealed, to time
 * "sealed window -> visible in PromQL". The truth for P99 is an exact sort of the recorded samples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import type { Sink } from '../../src/core/sink.js';
import { prometheusSink, type PrometheusSink } from '../../src/sinks/prometheus.js';
import { exactQuantile, latencies, rng } from '../helpers/exp-histogram.js';
import { PROMETHEUS, PROMETHEUS_INSTALL as INSTALL, prometheusAvailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.js';

const required = process.env.SCALESIGNAL_E2E_REQUIRED === '1';
const available = prometheusAvailable();
const VISIBLE_WITHIN_MS = 3000;

if (!available && required) {
  describe('prometheus e2e', () => {
    it('needs a Prometheus binary', () => {
      expect.fail(`SCALESIGNAL_E2E_REQUIRED=1 but ${PROMETHEUS} is missing: ${INSTALL}`);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sealed {
  readonly window: Window;
  readonly at: number;
}

describe.skipIf(!available)(`prometheus e2e${available ? '' : ` (skipped: ${PROMETHEUS} missing; ${INSTALL})`}`, () => {
  let prometheus: PrometheusServer | undefined;
  let api: string;
  let sink: PrometheusSink;
  let metrics: Metrics;
  const sealed: Sealed[] = [];
  const observer: Sink = {
    name: 'sealed-at',
    export(windows) {
      const at = Date.now();
      for (const window of windows) sealed.push({ window, at });
    },
  };

  async function query(promql: string): Promise<number[]> {
    if (prometheus === undefined) throw new Error('prometheus not started');
    return prometheus.query(promql);
  }

  /** Polls PromQL every 50 ms until `accept` holds for its single result; returns the value and when it was seen. */
  async function waitFor(promql: string, accept: (v: number) => boolean, timeoutMs = 15_000): Promise<{ value: number; at: number }> {
    const deadline = Date.now() + timeoutMs;
    let last: number[] = [];
    while (Date.now() < deadline) {
      last = await query(promql);
      if (last.length === 1 && accept(last[0])) return { value: last[0], at: Date.now() };
      await sleep(50);
    }
    throw new Error(`${promql}: still ${JSON.stringify(last)} after ${timeoutMs} ms\n${prometheus?.log().slice(-2000) ?? ''}`);
  }

  /** When the first window satisfying `holds` was sealed (waits for it). */
  async function sealedAt(holds: (w: Window) => boolean): Promise<number> {
    for (let i = 0; i < 100; i++) {
      const hit = sealed.find((s) => holds(s.window));
      if (hit) return hit.at;
      await sleep(50);
    }
    throw new Error('no sealed window matched');
  }

  const latency: Record<string, number> = {};

  beforeAll(async () => {
    sink = prometheusSink({ port: 0, host: '127.0.0.1' });
    metrics = createMetrics({ service: 'e2e', sinks: [observer, sink] });
    await sink.ready;
    expect(sink.port).toBeGreaterThan(0);

    // Scrapes every second (timeout 900 ms); resolves once a scrape of the sink succeeded.
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${sink.port}`] });
    api = prometheus.api;
  }, 60_000);

  afterAll(async () => {
    await metrics?.shutdown();
    await prometheus?.stop();
    if (Object.keys(latency).length > 0) console.log('sealed window -> visible in PromQL (ms):', latency);
  }, 30_000);

  it('scrapes succeed in OpenMetrics, with no errors on the target', async () => {
    const res = await fetch(`${api}/api/v1/targets`);
    const body = (await res.json()) as { data: { activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }> } };
    const target = body.data.activeTargets.find((t) => t.scrapeUrl === sink.url);
    expect(target?.health).toBe('up');
    expect(target?.lastError).toBe('');
    expect((await query('scrape_samples_scraped{job="scalesignal"}'))[0]).toBeGreaterThan(0);
  });

  it('a counter: the exact total, visible within 3 s of its sealed window', async () => {
    const requests = metrics.counter('e2e.requests', { unit: '{request}' });
    const next = rng(11);
    let expected = 0;
    for (let i = 0; i < 2500; i++) {
      const n = 1 + Math.floor(next() * 5);
      requests.add(n, { route: i % 2 === 0 ? '/pay' : '/cart' });
      if (i % 2 === 0) expected += n;
    }
    const seen = await waitFor('e2e_requests_total{route="/pay"}', (v) => v === expected);
    expect(seen.value).toBe(expected);
    const at = await sealedAt((w) => w.series.some((s) => s.name === 'e2e.requests' && s.labels.route === '/pay' && s.total === expected));
    latency.counter = seen.at - at;
    expect(latency.counter).toBeLessThanOrEqual(VISIBLE_WITHIN_MS);
  });

  it('a gauge step visible within 3 s; a spike between window ends shows in `_max` only', async () => {
    const depth = metrics.gauge('e2e.queue.depth', { unit: '{message}' });
    depth.set(5);
    await waitFor('e2e_queue_depth', (v) => v === 5);
    depth.set(37);
    const seen = await waitFor('e2e_queue_depth', (v) => v === 37);
    const at = await sealedAt((w) => w.series.some((s) => s.name === 'e2e.queue.depth' && s.last === 37));
    latency.gauge = seen.at - at;
    expect(latency.gauge).toBeLessThanOrEqual(VISIBLE_WITHIN_MS);
    // Spikes that last microseconds, in three consecutive seconds (so a scrape cannot miss all of them).
    for (let i = 0; i < 3; i++) {
      depth.set(420);
      depth.set(37);
      await sleep(1000);
    }
    await waitFor('max_over_time(e2e_queue_depth_max[1m])', (v) => v === 420);
    expect(await query('max_over_time(e2e_queue_depth[1m])')).toEqual([37]);
  });

  it('P99 from the quantile gauge within 1 % of an exact sort; histogram_quantile lands in the right le bucket', async () => {
    const duration = metrics.histogram('e2e.request.duration', { unit: 'ms' });
    const values = latencies(20_000, 25, 5);
    for (const v of values) duration.record(v);
    const truth = exactQuantile(values, 0.99);
    const seen = await waitFor('e2e_request_duration_milliseconds_count', (v) => v === values.length);
    const p99 = await waitFor('e2e_request_duration_milliseconds_p99', () => true);
    const error = Math.abs(p99.value - truth) / truth;
    console.log(`p99 from PromQL ${p99.value} ms, exact sort ${truth} ms, relative error ${(error * 100).toFixed(3)} %`);
    expect(error, `p99 ${p99.value} vs exact ${truth}`).toBeLessThan(0.01);
    const at = await sealedAt((w) =>
      w.series.some((s) => s.name === 'e2e.request.duration' && s.count > 0 && Number.isFinite(s.p99)),
    );
    // Counting from the last window that carried samples of this burst.
    const lastWindow = sealed.filter((s) => s.window.series.some((x) => x.name === 'e2e.request.duration' && x.count > 0)).at(-1);
    latency.p99 = Math.max(seen.at, p99.at) - (lastWindow?.at ?? at);
    expect(latency.p99).toBeLessThanOrEqual(VISIBLE_WITHIN_MS);
    // Classic buckets: the same data through PromQL's own estimator lands in the power-of-two bucket holding the truth.
    const [estimate] = await query('histogram_quantile(0.99, sum by (le) (e2e_request_duration_milliseconds_bucket))');
    const k = Math.ceil(Math.log2(truth));
    expect(estimate).toBeGreaterThanOrEqual(2 ** (k - 1));
    expect(estimate).toBeLessThanOrEqual(2 ** k);
    const [sum] = await query('e2e_request_duration_milliseconds_sum');
    expect(sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 3);
  });

  it('the sink reports its own scrapes and renders through the core', async () => {
    const { value: scrapes } = await waitFor('scalesignal_sink_scrapes{sink="prometheus"}', (v) => v > 0);
    expect(scrapes).toBeGreaterThan(0);
    const stats = sink.stats();
    // One render per window at most, however often it was scraped (Prometheus scrapes once a second here).
    expect(stats.renders).toBeLessThanOrEqual(sealed.length + 1);
    expect(stats.scrape_errors).toBe(0);
  });
});
