import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Metrics, MetricsOptions } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { acceptMetricsPort, connectMetrics, createPoolLink, createWorkerLink } from '../../src/workers/index.js';
import { workerLaneCount } from '../../src/workers/link.js';
import { collectSink, find } from '../helpers/collect.js';
import { exited, nextMessage, tsWorker, until } from './spawn.js';

const scenarios = new URL('./fixtures/scenarios.ts', import.meta.url);

let metrics: Metrics | undefined;
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
  await metrics?.shutdown();
  metrics = undefined;
});

function setup(options: MetricsOptions = {}) {
  const sink = collectSink();
  const warnings: string[] = [];
  const registry = createMetrics({
    service: 'test',
    intervalMs: 100,
    eventLoop: false,
    sinks: [sink],
    logger: { warn: (message) => warnings.push(message) },
    ...options,
  });
  metrics = registry;
  return { metrics: registry, sink, warnings };
}

function start(m: Metrics, scenario: string, worker = 'w'): Worker {
  const link = createWorkerLink(m);
  const thread = tsWorker(scenarios, { workerData: { scalesignal: link, scenario, worker }, transferList: [link.port] });
  workers.push(thread);
  return thread;
}

/** Waits for `count` more windows than the sink holds now. */
async function windowsLater(sink: { windows: Window[] }, count: number): Promise<void> {
  const target = sink.windows.length + count;
  await until(() => sink.windows.length >= target);
}

const total = (windows: Window[], name: string, labels: Record<string, string> = {}, field: 'sum' | 'count' = 'sum') =>
  windows.reduce((sum, window) => sum + (find(window, name, labels)?.[field] ?? 0), 0);

describe('worker metrics API', () => {
  it('merges equal series of several workers and the main thread; close() drops the lane after its records are sealed', async () => {
    const { metrics: m, sink } = setup();
    m.counter('jobs.done', { unit: '{job}' }).add(1, { queue: 'q1' });
    const a = start(m, 'records', 'a');
    const b = start(m, 'records', 'b');
    await Promise.all([nextMessage(a, 'done'), nextMessage(b, 'done')]);
    expect(workerLaneCount(m)).toBe(2);
    await windowsLater(sink, 2);
    expect(find(sink.windows.at(-1)!, 'jobs.active')?.last).toBe(6);

    a.postMessage({ type: 'close' });
    const closed = await nextMessage<{ type: 'done'; reconnectError: string }>(a, 'done');
    expect(closed.reconnectError).toMatch(/lane was closed/);
    await until(() => workerLaneCount(m) === 1);
    await windowsLater(sink, 2);
    // a's gauge part is gone; its counts stay in the totals.
    expect(find(sink.windows.at(-1)!, 'jobs.active')?.last).toBe(3);
    await m.shutdown();

    const windows = sink.windows;
    expect(total(windows, 'jobs.done', { queue: 'q1' })).toBe(20_001);
    expect(find(windows.at(-1)!, 'jobs.done', { queue: 'q1' })?.total).toBe(20_001);
    expect(total(windows, 'jobs.done', { worker: 'a' })).toBe(5);
    expect(total(windows, 'jobs.done', { worker: 'b' })).toBe(5);
    expect(total(windows, 'jobs.duration', { queue: 'q1' }, 'count')).toBe(20_000);
    expect(total(windows, 'jobs.duration', { queue: 'q1' })).toBe(2 * 100 * 4950);
    // One series per name and label set in every window: worker series merge into the main thread's.
    for (const window of windows) expect(new Set(window.series.map((s) => s.key)).size).toBe(window.series.length);
    const busiest = windows.find((w) => (find(w, 'jobs.duration', { queue: 'q1' })?.count ?? 0) > 0)!;
    const histogram = find(busiest, 'jobs.duration', { queue: 'q1' })!;
    expect(histogram.min).toBe(0);
    expect(histogram.max).toBe(99);
    expect(histogram.buckets!.zeroCount + histogram.buckets!.counts.reduce((x, y) => x + y, 0)).toBe(histogram.count);
  });

  it('counts records made before the main thread has seen the series, and those of a worker that exits at once', async () => {
    const { metrics: m, sink } = setup();
    const threads = ['x', 'y', 'z'].map((name) => start(m, 'late-series', name));
    await Promise.all(threads.map(exited));
    await until(() => workerLaneCount(m) === 0);
    await windowsLater(sink, 1);
    await m.shutdown();
    for (const name of ['x', 'y', 'z']) expect(total(sink.windows, 'late.series', { worker: name })).toBe(2000);
  });

  it('refuses a worker series that conflicts with the main thread, observed gauges in workers and foreign links', async () => {
    const { metrics: m, sink, warnings } = setup();
    m.histogram('shared.name', { unit: 'ms' }).record(3);
    const worker = start(m, 'conflict');
    const result = await nextMessage<{ type: 'done'; observeError: string; redeclareError: string; linkError: string; same: boolean }>(worker, 'done');
    expect(result.observeError).toMatch(/observed gauges are polled by the main thread/);
    expect(result.redeclareError).toMatch(/already a counter/);
    expect(result.linkError).toMatch(/createWorkerLink\(\) or createPoolLink\(\)/);
    expect(result.same).toBe(true);
    await windowsLater(sink, 2);
    await m.shutdown();
    expect(warnings.join('\n')).toMatch(/a worker's counter "shared\.name" is ignored/);
    const histogram = sink.windows.map((w) => find(w, 'shared.name')).filter((s) => s !== undefined);
    expect(histogram.every((s) => s!.kind === 'histogram')).toBe(true);
    expect(histogram.reduce((sum, s) => sum + s!.count, 0)).toBe(1);
    expect(total(sink.windows, 'fine.counter')).toBe(2);
    // Drops in a worker are counted in the same series as the main thread's.
    expect(total(sink.windows, 'scalesignal.recordings.dropped', { metric: 'dropped.test', reason: 'negative' })).toBe(1);
  });

  it("a worker's overflow series joins the main thread's overflow series", async () => {
    const { metrics: m, sink } = setup({ maxSeriesPerMetric: 3 });
    const hits = m.counter('hits');
    for (let i = 0; i < 5; i++) hits.add(1, { user: `m${i}` });
    await nextMessage(start(m, 'overflow'), 'done');
    await windowsLater(sink, 2);
    await m.shutdown();
    const last = sink.windows.at(-1)!;
    const series = last.series.filter((s) => s.name === 'hits');
    expect(series.filter((s) => s.labels['otel.metric.overflow'] === 'true')).toHaveLength(1);
    expect(series.reduce((sum, s) => sum + s.total, 0)).toBe(15);
    expect(new Set(series.map((s) => s.key)).size).toBe(series.length);
  });

  it('connectMetrics() refuses to run on the main thread', () => {
    const { metrics: m } = setup();
    expect(() => connectMetrics(createPoolLink(m))).toThrow(/runs in a worker thread/);
  });

  it('createWorkerLink() needs a registry from createMetrics()', () => {
    expect(() => createWorkerLink({} as Metrics)).toThrow(/must be the object returned by createMetrics/);
  });

  it('a piscina pool shares one pool link; each worker hands its lane port over through pool messages', async () => {
    const { metrics: m, sink } = setup();
    const pool = new Piscina({
      filename: new URL('./fixtures/piscina-task.mjs', import.meta.url).href,
      minThreads: 3,
      maxThreads: 3,
      workerData: { scalesignal: createPoolLink(m) },
    });
    const other: unknown[] = [];
    pool.on('message', (message: unknown) => {
      if (!acceptMetricsPort(message)) other.push(message);
    });
    const sizes = Array.from({ length: 3000 }, (_, i) => i % 10);
    await Promise.all(sizes.map((size) => pool.run({ size })));
    await until(() => workerLaneCount(m) === 3);
    await windowsLater(sink, 2);
    await pool.destroy();
    await until(() => workerLaneCount(m) === 0);
    await m.shutdown();
    expect(other).toEqual([]);
    expect(total(sink.windows, 'pool.tasks')).toBe(3000);
    expect(total(sink.windows, 'pool.task.size', {}, 'count')).toBe(3000);
    expect(total(sink.windows, 'pool.task.size')).toBe(3000 * 4.5);
  });
});
