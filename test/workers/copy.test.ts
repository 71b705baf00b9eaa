/**
 * The main thread's copy of a worker lane, driven deterministically: this test plays the worker on the main
 * thread (a shared page and bucket array announced over the link's port, written by the core's own handle or
 * by hand to reproduce a record caught mid-way by the copy).
 */
import type { MessagePort } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { bucketMapping, bucketRepresentative } from '../../src/core/histogram/index.js';
import { BoundHistogramHandle } from '../../src/core/handles.js';
import { allocateBuckets, allocatePage, PAGE_SIZE, type Page } from '../../src/core/pages.js';
import type { MetricsRegistry } from '../../src/core/registry.js';
import type { Window } from '../../src/core/window.js';
import { createWorkerLink } from '../../src/workers/index.js';
import type { LaneMessage } from '../../src/workers/protocol.js';
import { collectSink, find } from '../helpers/collect.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0, 250);
const SLOTS = 4;
const mapping = bucketMapping(6);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Round trip over the port: every message sent before it has been handled by the main thread. */
function sync(port: MessagePort): Promise<void> {
  return new Promise((resolve) => {
    port.once('message', () => resolve());
    port.postMessage({ type: 'sync', id: 1 } satisfies LaneMessage);
  });
}

async function fakeWorker() {
  const sink = collectSink();
  const metrics = createMetrics({ service: 'test', eventLoop: false, slots: SLOTS, sinks: [sink] }) as MetricsRegistry;
  const link = createWorkerLink(metrics);
  const page: Page = allocatePage(SLOTS, true);
  const buckets = allocateBuckets(SLOTS, mapping.size, true);
  link.port.postMessage({ type: 'page', page: 0, buffer: page.buffer as SharedArrayBuffer } satisfies LaneMessage);
  link.port.postMessage({
    type: 'series',
    page: 0,
    index: 0,
    buckets: buckets.buffer as SharedArrayBuffer,
    name: 'lat',
    kind: 'histogram',
    unit: 'ms',
    description: '',
    labels: {},
    overflow: false,
  } satisfies LaneMessage);
  await sync(link.port);
  const handle = new BoundHistogramHandle(metrics.clock.shared, page, 0, buckets, mapping.tables, mapping.size, 'lat', { drop: () => {} });
  const o = () => metrics.clock.shared[0] * PAGE_SIZE;
  const bucket = (value: number) => metrics.clock.shared[0] * (mapping.size + 1) + mapping.denseIndex(value);
  return { metrics, sink, link, page, buckets, handle, o, bucket };
}

const lat = (window: Window) => find(window, 'lat');
const bucketTotal = (window: Window) => {
  const b = lat(window)?.buckets;
  return b === undefined ? 0 : b.zeroCount + b.counts.reduce((x, y) => x + y, 0);
};

describe('copying a worker lane into the main thread', () => {
  it('reads by difference: the worker slot is never cleared, a record caught mid-way splits across windows, totals stay exact', async () => {
    const { metrics, sink, page, buckets, handle, o, bucket } = await fakeWorker();
    handle.record(10);
    handle.record(20);
    handle.record(30);
    // A record caught by the copy after its sum and bucket stores, before its min / max / count stores.
    const slotA = o();
    page.sum[slotA] += 40;
    buckets[bucket(40)]++;
    await vi.advanceTimersByTimeAsync(750 + 25);
    const a = lat(sink.windows[0])!;
    expect(a.count).toBe(3);
    expect(a.sum).toBe(100);
    expect([a.min, a.max]).toEqual([10, 30]);
    // The worker's own memory keeps its cumulative count: the main thread never clears it.
    expect(page.count[slotA]).toBe(3);
    expect(page.min[slotA]).toBe(Infinity);

    // The record finishes in the same slot, now in the next window of that slot.
    if (40 < page.min[slotA]) page.min[slotA] = 40;
    if (40 > page.max[slotA]) page.max[slotA] = 40;
    page.count[slotA]++;
    await vi.advanceTimersByTimeAsync(4000);
    await metrics.shutdown();
    const windows = sink.windows;
    expect(windows.reduce((n, w) => n + (lat(w)?.count ?? 0), 0)).toBe(4);
    expect(windows.reduce((n, w) => n + (lat(w)?.sum ?? 0), 0)).toBe(100);
    expect(windows.reduce((n, w) => n + bucketTotal(w), 0)).toBe(4);
    const late = windows.find((w, i) => i > 0 && (lat(w)?.count ?? 0) > 0)!;
    expect(late.start).toBe(T0 + 750 + 3 * 1000);
    expect([lat(late)!.min, lat(late)!.max, lat(late)!.sum]).toEqual([40, 40, 0]);
  });

  it('finds the bucket of a record that missed its min / max store (it raced the reset) and widens min to it', async () => {
    const { metrics, sink, page, buckets, handle, o, bucket } = await fakeWorker();
    handle.record(20);
    handle.record(80);
    const slot = o();
    const fifty = bucket(50);
    await vi.advanceTimersByTimeAsync(775);
    // A late record of that slot that compared against the old min / max (20..80), so stored neither.
    page.sum[slot] += 50;
    buckets[fifty]++;
    page.count[slot]++;
    await vi.advanceTimersByTimeAsync(3000);
    // Back in the slot: a record far from 50.
    expect(o()).toBe(slot);
    handle.record(1000);
    await vi.advanceTimersByTimeAsync(1000);
    await metrics.shutdown();
    const window = sink.windows.find((w) => lat(w)?.max === 1000)!;
    const series = lat(window)!;
    expect(series.count).toBe(2);
    expect(series.sum).toBe(1050);
    expect(bucketTotal(window)).toBe(2);
    expect(series.min).toBe(bucketRepresentative(mapping.scale, mapping.offset + mapping.denseIndex(50)));
    expect(Math.abs(series.min - 50) / 50).toBeLessThan(0.0055);
    expect(sink.windows.reduce((n, w) => n + bucketTotal(w), 0)).toBe(4);
    expect(sink.windows.reduce((n, w) => n + (lat(w)?.count ?? 0), 0)).toBe(4);
  });
});
