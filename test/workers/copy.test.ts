/**
 * The main thread's copy of a worker lane, driven deterministically: the worker is played on the main thread one
 * store at a time (fake-lane.ts), so a record can be caught half-written by a seal, a flush or shutdown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import { setCopyProbe, workerLaneStats } from '../../src/workers/link.js';
import { find } from '../helpers/collect.js';
import { fakeLane, mapping } from './fake-lane.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0, 250);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

const lat = (window: Window) => find(window, 'lat');
const inBuckets = (s: SeriesWindow | undefined) => (s?.buckets === undefined ? 0 : s.buckets.zeroCount + s.buckets.counts.reduce((x, y) => x + y, 0));
const total = (windows: Window[], pick: (s: SeriesWindow) => number) => windows.reduce((n, w) => n + (lat(w) ? pick(lat(w)!) : 0), 0);

/** Every window's histogram agrees with itself. */
function expectConsistent(windows: Window[]): void {
  for (const window of windows) {
    const s = lat(window);
    if (s === undefined || s.count === 0) continue;
    expect(inBuckets(s), `count vs buckets at ${window.timestamp}`).toBe(s.count);
    expect(s.min).toBeLessThanOrEqual(s.max);
    expect(s.sum).toBeGreaterThanOrEqual(s.count * s.min * (1 - 1e-12));
    expect(s.sum).toBeLessThanOrEqual(s.count * s.max * (1 + 1e-12));
  }
}

describe('copying a worker lane into the main thread', () => {
  it('a seal waits for a record caught half-written, which then lands whole in its own window', async () => {
    const { metrics, sink, writer, settle } = await fakeLane();
    writer.record(10);
    writer.record(20);
    writer.until('sum');
    // The writer runs again 10 ms into the hold.
    const finished = setTimeout(() => writer.finish(), 750 + 30);
    await vi.advanceTimersByTimeAsync(750 + 100);
    clearTimeout(finished);
    expect(lat(sink.windows[0])).toMatchObject({ count: 3, sum: 31, min: 1, max: 20 });
    await settle(metrics.shutdown());
    expectConsistent(sink.windows);
    expect(workerLaneStats(metrics)).toMatchObject({ records: 3, stragglers: 0, deferred: 0 });
  });

  it('a record still half-written after the hold: that slot moves whole into the next window, nothing torn or lost', async () => {
    const { metrics, sink, writer, settle } = await fakeLane();
    writer.record(10);
    writer.record(20);
    writer.until('bucket'); // value 1: sum, min, max and bucket stored, count not
    await vi.advanceTimersByTimeAsync(750 + 20 + 600);
    const first = lat(sink.windows[0]);
    expect(first === undefined || first.count === 0).toBe(true);
    writer.finish();
    await vi.advanceTimersByTimeAsync(1000);
    expect(lat(sink.windows[1])).toMatchObject({ count: 3, sum: 31, min: 1, max: 20 });
    await settle(metrics.shutdown());
    expectConsistent(sink.windows);
    expect(total(sink.windows, (s) => s.count)).toBe(3);
    expect(workerLaneStats(metrics)).toMatchObject({ records: 3, stragglers: 3, deferred: 1 });
  });

  it('a straggler (clock read before the boundary, stores after the seal) lands in the next window, not `slots` windows later', async () => {
    const { metrics, sink, writer, settle } = await fakeLane();
    writer.record(5);
    writer.until('clock');
    await vi.advanceTimersByTimeAsync(750 + 30);
    expect(lat(sink.windows[0])).toMatchObject({ count: 1, sum: 5 });
    writer.finish(); // value 1, into the slot of the second already sealed
    writer.record(100); // into the open slot
    await vi.advanceTimersByTimeAsync(1000);
    expect(lat(sink.windows[1])).toMatchObject({ count: 2, sum: 101, min: 1, max: 100 });
    expect(sink.windows[1].timestamp).toBe(sink.windows[0].timestamp + 1000);
    await settle(metrics.shutdown());
    expectConsistent(sink.windows);
  });

  it('a bucket outside the copied min / max (a record raced the reset) widens min / max to its bucket bounds', async () => {
    const { metrics, sink, writer, page, buckets, settle } = await fakeLane();
    writer.record(20);
    writer.record(80);
    await vi.advanceTimersByTimeAsync(750 + 30);
    // The slot is sealed and its min / max reset; a straggler of value 50 compared against 20..80 before the
    // reset, skipped both stores, and completes now.
    const slot = Math.floor(T0 / 1000) % 4;
    const at = slot * 256;
    const n = page.count[at] + 1;
    (writer as unknown as { begun: Float64Array }).begun[at] = n;
    page.sum[at] += 50;
    buckets[slot * (mapping.size + 1) + mapping.denseIndex(50)]++;
    page.count[at] = n;
    await vi.advanceTimersByTimeAsync(1000);
    const late = lat(sink.windows[1])!;
    expect(late.count).toBe(1);
    expect(late.sum).toBe(50);
    expect(late.min).toBeLessThanOrEqual(50);
    expect(late.max).toBeGreaterThanOrEqual(50);
    expect(late.min).toBeGreaterThan(50 / 1.011);
    expect(late.max).toBeLessThan(50 * 1.011);
    await settle(metrics.shutdown());
    expectConsistent(sink.windows);
  });

  it('flush() while the open slot is being written: whole records only, the rest in a later window', async () => {
    const { metrics, sink, writer, settle } = await fakeLane((i) => i + 1);
    for (let i = 0; i < 5; i++) writer.record();
    writer.until('sum');
    // The writer keeps going while flush copies: each probe does a few more stores.
    setCopyProbe(metrics, () => {
      for (let k = 0; k < 3; k++) writer.advance();
    });
    await settle(metrics.flush(), 10);
    setCopyProbe(metrics, undefined);
    expectConsistent(sink.windows);
    writer.finish();
    await settle(metrics.shutdown());
    expectConsistent(sink.windows);
    const done = writer.started.filter((r) => r.done);
    expect(total(sink.windows, (s) => s.count)).toBe(done.length);
    expect(total(sink.windows, (s) => s.sum)).toBe(done.reduce((x, r) => x + r.value, 0));
  });

  it('shutdown() with a record stuck half-written (its thread stopped): returns, delivers every finished record, windows agree', async () => {
    const { metrics, sink, writer, settle } = await fakeLane();
    writer.record(3);
    writer.record(4);
    writer.until('bucket');
    await settle(metrics.shutdown(), 5000);
    expectConsistent(sink.windows);
    // The stuck record's bucket was stored, so it counts (its sum and min / max were stored before it).
    expect(total(sink.windows, (s) => s.count)).toBe(3);
    expect(total(sink.windows, (s) => s.sum)).toBe(8);
  });
});
