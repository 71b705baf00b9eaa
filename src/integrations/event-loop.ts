/**
 * Event-loop indicators, on by default: `nodejs.eventloop.delay.p50|p99|max` (ms, reset every window and never by
 * a scrape) and `nodejs.eventloop.utilization` (0..1 over the window). Both are sampled synchronously just before
 * the window seals.
 *
 * The delay is sampled here rather than read from perf_hooks.monitorEventLoopDelay: resetting that histogram
 * also forgets when it last sampled, so the first interval after every reset is never recorded, and a block
 * that starts right after a window boundary (a stalled request right after the tick) vanished from every window.
 * Here an unref'd timer records how late it fired into a perf_hooks histogram; resetting the histogram keeps the
 * last sample time, and a sampler still overdue when the window closes has its lag so far counted in the
 * closing window.
 *
 * The period adapts to an idle loop: 10 ms whenever the loop did work since the last tick or the tick was late,
 * backing off to 20, then 30 ms while it stays idle. Each wake-up of an idle loop costs ~0.1 ms of CPU on a microVM
 * (Firecracker, as on EKS Fargate): a fixed 10 ms timer cost an idle server 11 ms of CPU a second. Under traffic
 * the period stays 10 ms, so no stall of 10 ms or more is missed there. An on-time tick stands for the 10 ms
 * samples it replaces (recorded that many times), so p50 and p99 keep their meaning. A stall that begins in an
 * idle stretch is measured from the due time, so up to one idle period (30 ms) short; one shorter than 30 ms may go
 * unseen. (At 40 ms a stall could read 40 ms short, more than the documented bound.)
 */
import { createHistogram, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Metrics } from '../core/api.js';

/** The delay's resolution, and the period whenever the loop is not idle. */
const MIN_PERIOD_MS = 10;
/** The period of an idle loop, reached after two idle ticks in a row; also how short a stall can read. */
const MAX_PERIOD_MS = 30;
/** A tick later than this is a stall. */
const LATE_MS = 2;
/** Less busy time than this since the last tick (the sampler's own is ~0.1 ms) means the loop is idle. */
const IDLE_BUSY_MS = 1;

/** Returns a function that stops sampling. */
export function installEventLoopMetrics(metrics: Metrics): () => void {
  const histogram = createHistogram({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });
  const record = (ms: number, times = 1) => {
    const ns = Math.max(1, Math.round(ms * 1e6));
    for (let i = 0; i < times; i++) histogram.record(ns);
  };
  const timing = performance.nodeTiming;
  let period = MIN_PERIOD_MS;
  let lastTick = performance.now();
  let lastIdle = timing.idleTime;
  let due = lastTick + period;
  let stopped = false;
  let timer: NodeJS.Timeout;

  /** The loop's busy time since the last tick, ms. */
  const busySince = (now: number, idle: number) => now - lastTick - (idle - lastIdle);
  /**
   * A stall that ended now, `lag` past the due time. After an idle period it may have begun up to 30 ms before
   * the due time, but busy time cannot tell one stall from many short callbacks: the lag (a lower bound) is
   * recorded, never more (an inflated delay is worse for an autoscaler than one read short).
   */
  const stallLength = (lag: number, _busy: number) => lag;
  const arm = () => {
    timer = setTimeout(tick, period);
    timer.unref();
  };
  function tick(): void {
    if (stopped) return;
    const now = performance.now();
    const idle = timing.idleTime;
    const lag = now - due;
    const busy = busySince(now, idle);
    if (lag > LATE_MS) {
      record(stallLength(lag, busy));
      period = MIN_PERIOD_MS;
    } else {
      record(Math.max(0, lag), period / MIN_PERIOD_MS);
      period = busy < IDLE_BUSY_MS ? Math.min(MAX_PERIOD_MS, period * 2) : MIN_PERIOD_MS;
    }
    lastTick = now;
    lastIdle = idle;
    due = now + period;
    arm();
  }
  arm();

  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const p50 = metrics.gauge('nodejs.eventloop.delay.p50', { unit: 'ms', description: 'Median event-loop delay over the window' });
  const max = metrics.gauge('nodejs.eventloop.delay.max', { unit: 'ms', description: 'Largest event-loop delay over the window' });
  metrics.gauge('nodejs.eventloop.delay.p99', {
    unit: 'ms',
    description: '99th percentile event-loop delay over the window',
    observe: () => {
      const now = performance.now();
      // The sampler is overdue (the loop was just blocked): count the stall so far in this window; its next tick
      // counts only what comes after.
      if (now - due > MIN_PERIOD_MS) {
        const idle = timing.idleTime;
        record(stallLength(now - due, busySince(now, idle)));
        lastTick = now;
        lastIdle = idle;
        due = now;
        period = MIN_PERIOD_MS;
      }
      const ready = histogram.count > 0;
      const toMs = (ns: number) => (ready && Number.isFinite(ns) ? ns / 1e6 : 0);
      p50.set(toMs(histogram.percentile(50)));
      max.set(toMs(histogram.max));
      const p99 = toMs(histogram.percentile(99));
      histogram.reset();
      return p99;
    },
  });
  metrics.gauge('nodejs.eventloop.utilization', {
    unit: '1',
    description: 'Fraction of the window the event loop was busy',
    observe: () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, previous);
      previous = now;
      return delta.utilization;
    },
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
