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

  it('measure a stall that begins in a calm stretch (the sampler at its longest period) at its full length', async () => {
    const windows: Window[] = [];
    const metrics = createMetrics({ intervalMs: 500, logger: { warn() {} }, sinks: [{ name: 'collect', export: (batch) => void windows.push(...batch) }] });
    const nextWindow = async () => {
      const seen = windows.length;
      while (windows.length === seen) await new Promise((resolve) => setTimeout(resolve, 5));
      return windows[windows.length - 1];
    };
    try {
      const stalls: number[] = [];
      for (const offset of [3, 13, 23, 33]) {
        await nextWindow();
        // Calm for 300 ms (the period has backed off to 30 ms), then a 120 ms stall at an offset across that period,
        // over by 460 ms: inside this window, which the next seal reports.
        await new Promise((resolve) => setTimeout(resolve, 300 + offset));
        busyWait(120);
        stalls.push(value(await nextWindow(), 'nodejs.eventloop.delay.max'));
      }
      // Measured from the sampler's due time: never more than the stall, at most 30 ms short.
      for (const measured of stalls) {
        expect(measured).toBeGreaterThanOrEqual(85);
        expect(measured).toBeLessThan(200);
      }
    } finally {
      await metrics.shutdown();
    }
  });

  it('do not count steady background work as stall: short stalls amid traffic read as short', async () => {
    const windows: Window[] = [];
    const metrics = createMetrics({ intervalMs: 500, logger: { warn() {} }, sinks: [{ name: 'collect', export: (batch) => void windows.push(...batch) }] });
    // Traffic: the loop busy ~0.5 ms of every millisecond or two, each turn short enough to keep the sampler calm;
    // and a 6 ms stall every 100 ms.
    const traffic = setInterval(() => busyWait(0.5), 1);
    const stalls = setInterval(() => busyWait(6), 100);
    try {
      const seen = windows.length;
      while (windows.length < seen + 3) await new Promise((resolve) => setTimeout(resolve, 20));
      const maxima = windows.slice(seen + 1).map((w) => value(w, 'nodejs.eventloop.delay.max'));
      // A 10 ms sampler reads ~6 ms; counting the traffic's busy time as stall would read ~20 ms or more.
      for (const max of maxima) {
        expect(max).toBeGreaterThanOrEqual(4);
        expect(max).toBeLessThan(16);
      }
    } finally {
      clearInterval(traffic);
      clearInterval(stalls);
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
