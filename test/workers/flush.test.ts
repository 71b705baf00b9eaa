/**
 * flush() with real worker threads: exact after the workers finished, never a torn window while they record.
 * The OTLP side is checked in what left the process: the OTLP sink's requests, decoded by the loopback receiver
 * (test/helpers/otlp-receiver.ts; no collector can run here), where every exponential-histogram point must have
 * count == zero_count + sum(bucket_counts), as a collector requires.
 */
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, otlpSink } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import { createWorkerLink } from '../../src/workers/index.js';
import { workerLaneStats } from '../../src/workers/link.js';
import { collectSink, find } from '../helpers/collect.js';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import type { BusyReport } from './fixtures/busy.js';
import { nextMessage, tsWorker } from './spawn.js';

const UNIT = 3;
const busy = new URL('./fixtures/busy.ts', import.meta.url);

let receiver: OtlpReceiver;
let metrics: Metrics | undefined;
const workers: Worker[] = [];
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
  await metrics?.shutdown();
  metrics = undefined;
});

function start(m: Metrics, worker: string, data: Record<string, unknown>): Worker {
  const link = createWorkerLink(m);
  const thread = tsWorker(busy, { workerData: { scalesignal: link, worker, ...data }, transferList: [link.port] });
  workers.push(thread);
  return thread;
}

const inBuckets = (s: SeriesWindow) => (s.buckets === undefined ? 0 : s.buckets.zeroCount + s.buckets.counts.reduce((x, y) => x + y, 0));

function expectWholeWindows(windows: Window[]): void {
  for (const window of windows) {
    for (const s of window.series) {
      if (s.name === 'test.units') expect(s.sum % UNIT, `torn counter window ${s.key} at ${window.timestamp}`).toBe(0);
      if (s.name !== 'test.values' || s.count === 0) continue;
      expect(inBuckets(s), `count vs buckets of ${s.key} at ${window.timestamp}`).toBe(s.count);
      expect(s.min).toBeGreaterThanOrEqual(1 / 1.011);
      expect(s.max).toBeLessThanOrEqual(7 * 1.011);
      expect(Number.isInteger(s.sum), `torn histogram sum of ${s.key} at ${window.timestamp}`).toBe(true);
      expect(s.sum).toBeGreaterThanOrEqual(s.count);
      expect(s.sum).toBeLessThanOrEqual(7 * s.count);
    }
  }
}

const totalOf = (windows: Window[], name: string, worker: string, pick: (s: SeriesWindow) => number) =>
  windows.reduce((sum, w) => sum + (find(w, name, { worker }) ? pick(find(w, name, { worker })!) : 0), 0);

describe('flush() with worker lanes', () => {
  it('12 busy workers on 2 cores across many boundaries, all finish, then flush(): every total exact, every run', async () => {
    const RECORDS = 100_000;
    for (let run = 0; run < 3; run++) {
      const sink = collectSink();
      const m = createMetrics({ service: 'test', intervalMs: 100, slots: 4, eventLoop: false, seriesIdleSeconds: 0, sinks: [sink] });
      metrics = m;
      const names = Array.from({ length: 12 }, (_, i) => `w${i}`);
      const threads = names.map((name) => start(m, name, { mode: 'count', records: RECORDS }));
      const reports = await Promise.all(threads.map((thread) => nextMessage<BusyReport>(thread, 'done')));
      // The workers stay connected and idle: only flush() can collect what they left in unsealed slots.
      await m.flush();
      const windows = [...sink.windows];
      expectWholeWindows(windows);
      for (const report of reports) {
        expect(totalOf(windows, 'test.units', report.worker, (s) => s.sum), `run ${run}, ${report.worker}`).toBe(RECORDS * UNIT);
        expect(totalOf(windows, 'test.values', report.worker, (s) => s.count), `run ${run}, ${report.worker}`).toBe(RECORDS);
        expect(totalOf(windows, 'test.values', report.worker, (s) => s.sum), `run ${run}, ${report.worker}`).toBe(report.valueSum);
      }
      console.log(`run ${run}: ${windows.length} windows, copies ${JSON.stringify(workerLaneStats(m))}`);
      await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
      await m.shutdown();
      metrics = undefined;
    }
  }, 120_000);

  it('flushes while 3 workers record: no torn window, in the Windows and in the OTLP points that left the process; shutdown exact', async () => {
    const sink = collectSink();
    const m = createMetrics({
      service: 'test',
      eventLoop: false,
      seriesIdleSeconds: 0,
      sinks: [sink, otlpSink({ url: receiver.url, temporality: 'delta' })],
    });
    metrics = m;
    const stop = new SharedArrayBuffer(4);
    const threads = ['a', 'b', 'c'].map((name) => start(m, name, { mode: 'until', stop }));
    await Promise.all(threads.map((thread) => nextMessage(thread, 'ready')));
    const reports = threads.map((thread) => nextMessage<BusyReport>(thread, 'done'));
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 40 + 15 * i));
      await m.flush();
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    const done = await Promise.all(reports);
    await m.shutdown();
    metrics = undefined;

    const windows = sink.windows;
    expect(windows.length).toBeGreaterThanOrEqual(8);
    expectWholeWindows(windows);
    const points = receiver.requests.flatMap((r) => decodePoints(r.body));
    const histograms = points.filter((p) => p.name === 'test.values' && p.type === 'exponentialHistogram');
    expect(histograms.length).toBeGreaterThanOrEqual(8);
    for (const p of histograms) {
      const h = p.histogram!;
      expect(h.zeroCount + h.positive.bucketCounts.reduce((x, y) => x + y, 0), 'OTLP count == zero_count + sum(bucket_counts)').toBe(h.count);
      if (h.count > 0) expect(h.min! <= h.max!).toBe(true);
    }
    const counters = points.filter((p) => p.name === 'test.units' && p.type === 'sum');
    for (const p of counters) expect(p.temporality).toBe('delta');
    for (const p of counters) expect(p.value! % UNIT, 'torn counter point').toBe(0);
    for (const report of done) {
      const mine = (name: string) => points.filter((p) => p.name === name && p.attributes.worker === report.worker);
      expect(mine('test.units').reduce((sum, p) => sum + p.value!, 0)).toBe(report.iterations * UNIT);
      expect(mine('test.values').reduce((sum, p) => sum + p.histogram!.count, 0)).toBe(report.iterations);
      expect(mine('test.values').reduce((sum, p) => sum + p.histogram!.sum!, 0)).toBe(report.valueSum);
      expect(totalOf(windows, 'test.values', report.worker, (s) => s.count)).toBe(report.iterations);
    }
  }, 60_000);
});
