/**
 * Event-loop indicators on real timers: a 200 ms busy-wait right after a window boundary shows up as ~200 ms delay
 * (p99 and max) and a utilisation near 1 in exactly that window, and not in the next one or any later: the delay
 * histogram is reset every window. 200 ms windows keep the test short.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Window } from '../../src/core/window.js';

const INTERVAL = 200;
const value = (window: Window, name: string) => window.series.find((s) => s.name === name)?.last ?? NaN;

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin: the event loop is blocked
  }
}

describe('event-loop gauges', () => {
  it('show a blocked window and reset for the idle ones after it', async () => {
    const windows: Window[] = [];
    let blockedAfter = -1;
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const metrics = createMetrics({
      intervalMs: INTERVAL,
      logger: { warn() {} },
      sinks: [
        {
          name: 'collect',
          export(batch) {
            windows.push(...batch);
            // The third window just sealed: block the loop at the start of the next one.
            if (blockedAfter < 0 && windows.length >= 3) {
              blockedAfter = windows.length;
              setImmediate(() => busyWait(INTERVAL));
            }
            if (blockedAfter > 0 && windows.length >= blockedAfter + 4) resolveDone();
          },
        },
      ],
    });
    try {
      await done;
      const blocked = windows[blockedAfter];
      expect(value(blocked, 'nodejs.eventloop.delay.max')).toBeGreaterThanOrEqual(150);
      expect(value(blocked, 'nodejs.eventloop.delay.p99')).toBeGreaterThanOrEqual(150);
      expect(value(blocked, 'nodejs.eventloop.utilization')).toBeGreaterThan(0.7);
      expect(value(blocked, 'nodejs.eventloop.utilization')).toBeLessThanOrEqual(1);
      // The block shows in its own window only: the window before and every window after it, the very next one
      // included, are idle again (the delay histogram was reset, the overdue lag was not carried over).
      for (const idle of [windows[blockedAfter - 1], windows[blockedAfter + 1], windows[blockedAfter + 2], windows[blockedAfter + 3]]) {
        expect(value(idle, 'nodejs.eventloop.delay.p99')).toBeLessThan(100);
        expect(value(idle, 'nodejs.eventloop.delay.max')).toBeLessThan(100);
      }
      for (const idle of [windows[blockedAfter - 1], windows[blockedAfter + 2], windows[blockedAfter + 3]]) {
        expect(value(idle, 'nodejs.eventloop.utilization')).toBeLessThan(0.5);
      }
      // Every window's figures are ordered as a dashboard reads them: p50 <= p99 <= max.
      for (const window of windows.slice(blockedAfter - 1, blockedAfter + 4)) {
        expect(value(window, 'nodejs.eventloop.delay.p50')).toBeLessThanOrEqual(value(window, 'nodejs.eventloop.delay.p99'));
        expect(value(window, 'nodejs.eventloop.delay.p99')).toBeLessThanOrEqual(value(window, 'nodejs.eventloop.delay.max'));
      }
    } finally {
      await metrics.shutdown();
    }
  });

  it('are on by default and absent with eventLoop: false', async () => {
    const seen = (eventLoop: boolean | undefined) => {
      const windows: Window[] = [];
      const metrics = createMetrics({
        ...(eventLoop === undefined ? {} : { eventLoop }),
        intervalMs: 100,
        logger: { warn() {} },
        sinks: [{ name: 'collect', export: (batch) => void windows.push(...batch) }],
      });
      return { metrics, windows };
    };
    const on = seen(undefined);
    const off = seen(false);
    // Observed gauges are read at window boundaries (not by flush()): wait for two full windows.
    while (on.windows.length < 3 || off.windows.length < 3) await new Promise((r) => setTimeout(r, 20));
    const names = (windows: Window[]) => new Set(windows.flatMap((w) => w.series.map((s) => s.name)));
    expect([...names(on.windows)].filter((n) => n.startsWith('nodejs.eventloop.')).sort()).toEqual([
      'nodejs.eventloop.delay.max',
      'nodejs.eventloop.delay.p50',
      'nodejs.eventloop.delay.p99',
      'nodejs.eventloop.utilization',
    ]);
    expect([...names(off.windows)].filter((n) => n.startsWith('nodejs.'))).toEqual([]);
    await on.metrics.shutdown();
    await off.metrics.shutdown();
  });
});
