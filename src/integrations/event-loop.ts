/**
 * Event-loop indicators, on by default: `nodejs.eventloop.delay.p50|p99|max` (ms, reset every window and never by
 * a scrape) and `nodejs.eventloop.utilization` (0..1 over the window). Both are sampled synchronously just before
 * the window seals.
 *
 * The delay is sampled here rather than read from perf_hooks.monitorEventLoopDelay: resetting that histogram
 * also forgets when it last sampled, so the first interval after every reset is never recorded, and a block
 * that starts right after a window boundary (a stalled request right after the tick) vanished from every window.
 * Here an unref'd 10 ms interval records how late it fired into a perf_hooks histogram; resetting the histogram
 * keeps the last sample time, and a sampler still overdue when the window closes has its lag so far counted in
 * the closing window. 100 timer callbacks a second, each a clock read and a histogram record.
 */
import { createHistogram, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Metrics } from '../core/api.js';

const RESOLUTION_MS = 10;

/** Returns a function that stops sampling. */
export function installEventLoopMetrics(metrics: Metrics): () => void {
  const histogram = createHistogram({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });
  let last = performance.now();
  const lag = (now: number) => Math.max(0, now - last - RESOLUTION_MS);
  const record = (ms: number) => histogram.record(Math.max(1, Math.round(ms * 1e6)));
  const timer = setInterval(() => {
    const now = performance.now();
    record(lag(now));
    last = now;
  }, RESOLUTION_MS);
  timer.unref();

  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const p50 = metrics.gauge('nodejs.eventloop.delay.p50', { unit: 'ms', description: 'Median event-loop delay over the window' });
  const max = metrics.gauge('nodejs.eventloop.delay.max', { unit: 'ms', description: 'Largest event-loop delay over the window' });
  metrics.gauge('nodejs.eventloop.delay.p99', {
    unit: 'ms',
    description: '99th percentile event-loop delay over the window',
    observe: () => {
      const now = performance.now();
      // The sampler is overdue (the loop is or was just blocked): count the lag so far in this window.
      if (now - last > 2 * RESOLUTION_MS) {
        record(lag(now));
        last = now - RESOLUTION_MS;
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
  return () => clearInterval(timer);
}
