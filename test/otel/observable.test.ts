/**
 * Observable instruments and batch callbacks on real one-window-per-100-ms ticks: each callback runs once per
 * window, synchronous observations land in the window that is closing, async ones when they resolve (or never,
 * past the timeout), and failures are counted in `scalesignal.observe.failures` rather than thrown.
 */
import type { Attributes, ObservableResult } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import { createMeterProvider } from '../../src/otel/index.js';
import { sdkReference, sleep } from './support.js';

const INTERVAL = 100;

function setup(): { metrics: Metrics; windows: Window[] } {
  const windows: Window[] = [];
  const metrics = createMetrics({
    sinks: [{ name: 'collect', export: (batch) => void windows.push(...batch) }],
    eventLoop: false,
    intervalMs: INTERVAL,
    logger: { warn() {} },
  });
  return { metrics, windows };
}

function seriesIn(windows: readonly Window[], name: string, labels: Record<string, string> = {}): SeriesWindow[] {
  const out: SeriesWindow[] = [];
  for (const w of windows) {
    for (const s of w.series) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) out.push(s);
    }
  }
  return out;
}

const failures = (windows: readonly Window[], metric: string, reason: string) =>
  seriesIn(windows, 'scalesignal.observe.failures', { metric, reason }).reduce((a, s) => a + s.sum, 0);

async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let open: Metrics | undefined;
afterEach(async () => {
  await open?.shutdown();
  open = undefined;
});

describe('observable instruments', () => {
  it('set a gauge once per window from the last observation of each run, whatever object the callback reuses', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const meter = createMeterProvider(metrics).getMeter('m');
    const depth = meter.createObservableGauge('queue.depth', { unit: '{job}' });
    const pending = meter.createObservableUpDownCounter('queue.pending', { unit: '{job}' });
    let run = 0;
    const scratch: Attributes = {};
    depth.addCallback((result) => {
      run++;
      scratch.queue = 'a';
      result.observe(-1, scratch); // replaced below: the last observation per label set wins
      result.observe(run * 10, scratch);
      scratch.queue = 'b';
      result.observe(run, scratch);
    });
    pending.addCallback((result) => result.observe(run * 2));
    const observed = (name: string, labels?: Record<string, string>) => seriesIn(windows, name, labels).filter((s) => s.count > 0);
    await until(() => observed('queue.depth', { queue: 'a' }).length >= 6, 'six windows');
    const a = observed('queue.depth', { queue: 'a' });
    const b = observed('queue.depth', { queue: 'b' });
    const p = observed('queue.pending');
    // One observation per run (a window after a stalled loop may have none: one run per tick), each the run's
    // value; a and b come from the same run.
    expect(a.every((s) => s.count === 1)).toBe(true);
    expect(a.map((s) => s.last)).toEqual(b.map((s) => s.last * 10));
    expect(a.map((s) => s.last)).toEqual(a.map((_, i) => (i + 1) * 10));
    expect(p.slice(0, a.length).map((s) => s.last)).toEqual(a.map((s) => s.last / 5));
  });

  it('add an ObservableCounter\'s increases after a baseline, and treat a drop as a reset', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const meter = createMeterProvider(metrics).getMeter('m');
    const cumulative = [100, 150, 150, 400, 30, 50];
    let run = 0;
    meter.createObservableCounter('bytes.read', { unit: 'By' }).addCallback((result) => {
      if (run < cumulative.length) result.observe(cumulative[run++], { disk: 'sda' });
    });
    await until(() => run === cumulative.length && seriesIn(windows, 'bytes.read', { disk: 'sda' }).filter((s) => s.count > 0).length === 6, 'six runs');
    const increases = seriesIn(windows, 'bytes.read', { disk: 'sda' }).filter((s) => s.count > 0);
    expect(increases.map((s) => s.sum)).toEqual([0, 50, 0, 250, 30, 20]);
    expect(increases.at(-1)!.total).toBe(350);
  });

  it('run batch callbacks once per window for every instrument they were registered with', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const meter = createMeterProvider(metrics).getMeter('m');
    const connections = meter.createObservableGauge('pool.connections');
    const acquired = meter.createObservableCounter('pool.acquired');
    const unregistered = meter.createObservableGauge('pool.unregistered');
    const foreign = sdkReference().provider.getMeter('sdk').createObservableGauge('foreign');
    let run = 0;
    meter.addBatchObservableCallback(
      (result) => {
        run++;
        result.observe(connections, run % 4, { pool: 'main' });
        result.observe(acquired, run * 3, { pool: 'main' });
        result.observe(unregistered, 1);
        result.observe(foreign, 1);
      },
      [connections, acquired, foreign],
    );
    await until(() => seriesIn(windows, 'pool.acquired', { pool: 'main' }).filter((s) => s.count > 0).length >= 5, 'five runs');
    const gauge = seriesIn(windows, 'pool.connections', { pool: 'main' }).filter((s) => s.count > 0);
    const counter = seriesIn(windows, 'pool.acquired', { pool: 'main' }).filter((s) => s.count > 0);
    expect(gauge.slice(0, 5).map((s) => s.last)).toEqual([1, 2, 3, 0, 1]);
    expect(counter.slice(0, 5).map((s) => s.sum)).toEqual([0, 3, 3, 3, 3]);
    expect(seriesIn(windows, 'pool.unregistered')).toEqual([]);
    // Two refused observations per run (the unregistered gauge and the SDK's instrument).
    await metrics.flush();
    const invalid = failures(windows, 'pool.acquired,pool.connections', 'invalid');
    expect(invalid).toBe(2 * run);
  });

  it('apply async observations when they resolve, discard late ones and count every failure', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const meter = createMeterProvider(metrics, { callbackTimeoutMs: 50 }).getMeter('m');
    let fastRuns = 0;
    let slowRuns = 0;
    meter.createObservableGauge('async.fast').addCallback(async (result) => {
      const run = ++fastRuns;
      await sleep(10);
      result.observe(run);
    });
    meter.createObservableGauge('async.slow').addCallback(async (result) => {
      slowRuns++;
      await sleep(80);
      result.observe(1);
    });
    meter.createObservableGauge('sync.throws').addCallback(() => {
      throw new Error('boom');
    });
    meter.createObservableGauge('async.rejects').addCallback(async () => {
      throw new Error('boom');
    });
    meter.createObservableGauge('bad.values').addCallback((result: ObservableResult) => {
      result.observe('3' as unknown as number);
      result.observe(Infinity);
      result.observe(2);
    });
    await until(() => slowRuns >= 4 && fastRuns >= 4, 'four runs');
    await sleep(2 * INTERVAL);
    await metrics.flush();
    const fast = seriesIn(windows, 'async.fast').filter((s) => s.count > 0);
    expect(fast.length).toBeGreaterThanOrEqual(3);
    // Each run's own value, in order (a loaded machine may merge two resolutions into one window).
    const values = fast.map((s) => s.last);
    expect(values.every((v, i) => Number.isInteger(v) && v >= 1 && v <= fastRuns && (i === 0 || v > values[i - 1]))).toBe(true);
    expect(seriesIn(windows, 'async.slow').filter((s) => s.count > 0)).toEqual([]);
    expect(failures(windows, 'async.slow', 'timeout')).toBeGreaterThanOrEqual(4);
    expect(failures(windows, 'sync.throws', 'error')).toBeGreaterThanOrEqual(4);
    expect(failures(windows, 'async.rejects', 'error')).toBeGreaterThanOrEqual(4);
    const bad = seriesIn(windows, 'bad.values').filter((s) => s.count > 0);
    expect(bad.every((s) => s.last === 2 && s.count === 1)).toBe(true);
    expect(failures(windows, 'bad.values', 'invalid')).toBe(2 * bad.length);
  });

  it('stop with removeCallback and with the provider\'s shutdown; a callback added twice runs once', async () => {
    const { metrics, windows } = setup();
    open = metrics;
    const provider = createMeterProvider(metrics);
    const meter = provider.getMeter('m');
    const gauge = meter.createObservableGauge('g');
    let runsA = 0;
    let runsB = 0;
    const a = (result: ObservableResult) => result.observe(++runsA, { cb: 'a' });
    const b = (result: ObservableResult) => result.observe(++runsB, { cb: 'b' });
    gauge.addCallback(a);
    gauge.addCallback(a);
    gauge.addCallback(b);
    await until(() => runsA >= 3, 'three runs');
    await sleep(5);
    expect(seriesIn(windows, 'scalesignal.otel.callbacks').at(-1)?.last).toBe(2);
    gauge.removeCallback(a);
    const stoppedAt = runsA;
    await until(() => runsB >= stoppedAt + 3, 'three more runs of b');
    expect(runsA).toBe(stoppedAt);
    expect(seriesIn(windows, 'g', { cb: 'a' }).filter((s) => s.count > 0).map((s) => s.last)).toEqual(
      Array.from({ length: stoppedAt }, (_, i) => i + 1),
    );
    await provider.shutdown();
    const shutdownAt = runsB;
    await sleep(3 * INTERVAL);
    expect(runsB).toBe(shutdownAt);
  });
});
