/**
 * Queue depth in its own second: an observed gauge whose callback answers within its timeout lands in the window
 * of the second it was polled for, not one window late. Fake time (timers, Date and performance), so the
 * callbacks' answer times are exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { collectSink, find } from '../helpers/collect.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0, 250);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

const secondOf = (ms: number) => Math.floor(ms / 1000);

describe('observed gauges land in the second they were polled for', () => {
  it.each([0, 50, 400])('an async callback answering after %i ms', async (answerMs) => {
    const sink = collectSink();
    const metrics = createMetrics({ service: 'test', eventLoop: false, sinks: [sink] });
    // The callback reports the second it was called in: a window holding another second's value is late.
    metrics.gauge('queue.depth', {
      observe: () => {
        // At the boundary instant the clock already reads the next second: a poll then is for the closing one.
        const polledIn = secondOf(Date.now() - 1);
        return new Promise<number>((resolve) => setTimeout(() => resolve(polledIn), answerMs));
      },
    });
    await vi.advanceTimersByTimeAsync(750 + 8000);
    await metrics.shutdown();
    const windows = sink.windows.filter((w) => w.end - w.start === 1000);
    expect(windows.length).toBeGreaterThanOrEqual(7);
    // The first poll learns the callback is asynchronous; from the second window on, every value is on time.
    const late = windows.slice(1).filter((w) => find(w, 'queue.depth')?.last !== secondOf(w.timestamp));
    expect(late.map((w) => [secondOf(w.timestamp), find(w, 'queue.depth')?.last])).toEqual([]);
    expect(find(windows.at(-1)!, 'scalesignal.observe.failures')?.sum ?? 0).toBe(0);
  });

  it('a synchronous callback is polled at the boundary, with the window it closes', async () => {
    const sink = collectSink();
    const metrics = createMetrics({ service: 'test', eventLoop: false, sinks: [sink] });
    const polledAt: number[] = [];
    metrics.gauge('in.flight', {
      observe: () => {
        polledAt.push(Date.now() % 1000);
        return secondOf(Date.now() - 1);
      },
    });
    await vi.advanceTimersByTimeAsync(750 + 3000);
    await metrics.shutdown();
    expect(polledAt.slice(0, 3)).toEqual([0, 0, 0]);
    for (const w of sink.windows.filter((w) => w.end - w.start === 1000)) {
      expect(find(w, 'in.flight')?.last).toBe(secondOf(w.timestamp));
    }
  });
});
